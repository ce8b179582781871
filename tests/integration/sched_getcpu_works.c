/*
 * sched_getcpu returns a valid CPU number (>= 0, below the number of
 * configured CPUs, and one the process may run on) from many threads,
 * again and again across yields and sleeps.
 */
#include "check.h"

#include <pthread.h>
#include <sched.h>

#define NTHREADS	16
#define CALLS		500

static cpu_set_t allowed;
static long ncpus;

static void check_cpu(void)
{
	int cpu = sched_getcpu();

	if (cpu < 0)
		FAIL("sched_getcpu: %s", strerror(errno));
	CHECK_INT(cpu, <, ncpus);
	CHECK(CPU_ISSET(cpu, &allowed));
}

static void *worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < CALLS; i++) {
		check_cpu();
		sched_yield();
		if (i % 100 == 0)
			usleep(100);
	}
	return NULL;
}

int main(void)
{
	pthread_t tids[NTHREADS];

	ncpus = sysconf(_SC_NPROCESSORS_CONF);
	CHECK_INT(ncpus, >, 0);
	CHECK_SYS(sched_getaffinity(0, sizeof(allowed), &allowed));
	CHECK_INT(CPU_COUNT(&allowed), >, 0);
	check_cpu();
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&tids[i], NULL, worker, NULL));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(tids[i], NULL));
	check_cpu();
	return T_PASS;
}
