/*
 * Per-thread kernel state stays with the thread that set it, and only
 * with it, across sleeps, yields and lock handoffs:
 *  - a thread that pins itself to CPU k (pthread_setaffinity_np) runs on
 *    CPU k afterwards (sched_getcpu), every time, for each allowed CPU;
 *  - a thread pinned by another thread (pthread_setaffinity_np(t)) runs
 *    on that CPU once it runs again, and pthread_getaffinity_np reports
 *    the set, from itself and from others;
 *  - pthread_attr_setaffinity_np pins a new thread from its start, and a
 *    pinned thread's children inherit its affinity;
 *  - threads nobody pinned keep the process's whole CPU set;
 *  - unshare(CLONE_FS) then chdir in one thread changes that thread's
 *    working directory only;
 *  - SCHED_FIFO set by a thread (as root) shows in the kernel's view of
 *    the thread (the raw sched_getscheduler system call), and the main
 *    thread stays SCHED_OTHER;
 *  - prctl(PR_SET_NAME) names the calling thread (pthread_getname_np).
 * Every thread checks its state after many waits that natively put it to
 * sleep and under libgmp may move it between kernel threads.
 */
#include "check.h"

#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#define WAITS 50

static cpu_set_t all;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int go;

/* Many waits of different kinds; after each the thread must still be on
 * cpu (if >= 0). */
static void churn(int cpu)
{
	for (int i = 0; i < WAITS; i++) {
		switch (i % 3) {
		case 0:
			t_sleep_ms(1);
			break;
		case 1:
			sched_yield();
			break;
		default:
			pthread_mutex_lock(&mu);
			pthread_mutex_unlock(&mu);
			break;
		}
		if (cpu >= 0)
			CHECK_INT(sched_getcpu(), ==, cpu);
	}
}

static void one_cpu(cpu_set_t *s, int cpu)
{
	CPU_ZERO(s);
	CPU_SET(cpu, s);
}

static void *self_pin(void *arg)
{
	int cpu = (int)(intptr_t)arg;
	cpu_set_t s, got;

	one_cpu(&s, cpu);
	CHECK_OK(pthread_setaffinity_np(pthread_self(), sizeof s, &s));
	churn(cpu);
	CHECK_OK(pthread_getaffinity_np(pthread_self(), sizeof got, &got));
	CHECK(CPU_EQUAL(&got, &s));
	return NULL;
}

static void *wait_go(void *arg)
{
	int cpu = (int)(intptr_t)arg;

	pthread_mutex_lock(&mu);
	while (!go)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	churn(cpu);
	return NULL;
}

static void *child_of_pinned(void *arg)
{
	cpu_set_t *want = arg, got;

	CHECK_OK(pthread_getaffinity_np(pthread_self(), sizeof got, &got));
	CHECK(CPU_EQUAL(&got, want));
	churn(CPU_COUNT(want) == 1 ? sched_getcpu() : -1);
	return NULL;
}

static void *parent_pinned(void *arg)
{
	int cpu = (int)(intptr_t)arg;
	static cpu_set_t s;
	pthread_t c;

	one_cpu(&s, cpu);
	CHECK_OK(pthread_setaffinity_np(pthread_self(), sizeof s, &s));
	CHECK_OK(pthread_create(&c, NULL, child_of_pinned, &s));
	CHECK_OK(pthread_join(c, NULL));
	return NULL;
}

static void *unpinned(void *arg)
{
	cpu_set_t got;

	(void)arg;
	churn(-1);
	CHECK_OK(pthread_getaffinity_np(pthread_self(), sizeof got, &got));
	CHECK(CPU_EQUAL(&got, &all));
	return NULL;
}

static void *own_cwd(void *arg)
{
	char buf[4096];

	(void)arg;
	CHECK_SYS(unshare(CLONE_FS));
	CHECK_SYS(chdir("/"));
	churn(-1);
	CHECK(getcwd(buf, sizeof buf) != NULL);
	CHECK(strcmp(buf, "/") == 0);
	return NULL;
}

static void *fifo(void *arg)
{
	struct sched_param sp = { .sched_priority = 10 };
	int policy;

	(void)arg;
	CHECK_OK(pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp));
	churn(-1);
	CHECK_INT(syscall(SYS_sched_getscheduler, 0), ==, SCHED_FIFO);
	CHECK_INT(sched_getscheduler(0), ==, SCHED_FIFO);
	CHECK_OK(pthread_getschedparam(pthread_self(), &policy, &sp));
	CHECK_INT(policy, ==, SCHED_FIFO);
	CHECK_INT(sp.sched_priority, ==, 10);
	return NULL;
}

static void *named(void *arg)
{
	char name[16];

	(void)arg;
	CHECK_SYS(prctl(PR_SET_NAME, "a-rather-long-thread-name"));
	churn(-1);
	CHECK_OK(pthread_getname_np(pthread_self(), name, sizeof name));
	CHECK(strcmp(name, "a-rather-long-t") == 0);
	return NULL;
}

int main(void)
{
	int cpus[CPU_SETSIZE], ncpu = 0;
	pthread_t t[CPU_SETSIZE], w, u[4];
	char cwd[4096], now[4096];

	CHECK_SYS(sched_getaffinity(0, sizeof all, &all));
	for (int c = 0; c < CPU_SETSIZE && ncpu < 4; c++)
		if (CPU_ISSET(c, &all))
			cpus[ncpu++] = c;
	CHECK(getcwd(cwd, sizeof cwd) != NULL);

	/* self-pinned, one per CPU (up to 4), and unpinned ones beside */
	for (int i = 0; i < ncpu; i++)
		CHECK_OK(pthread_create(&t[i], NULL, self_pin,
					(void *)(intptr_t)cpus[i]));
	for (int i = 0; i < 4; i++)
		CHECK_OK(pthread_create(&u[i], NULL, unpinned, NULL));
	for (int i = 0; i < ncpu; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	for (int i = 0; i < 4; i++)
		CHECK_OK(pthread_join(u[i], NULL));

	/* pinned by main while it waits */
	int last = cpus[ncpu - 1];
	cpu_set_t s, got;
	one_cpu(&s, last);
	CHECK_OK(pthread_create(&w, NULL, wait_go, (void *)(intptr_t)last));
	CHECK_OK(pthread_setaffinity_np(w, sizeof s, &s));
	CHECK_OK(pthread_getaffinity_np(w, sizeof got, &got));
	CHECK(CPU_EQUAL(&got, &s));
	pthread_mutex_lock(&mu);
	go = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	CHECK_OK(pthread_join(w, NULL));

	/* from the attributes */
	pthread_attr_t a;
	CHECK_OK(pthread_attr_init(&a));
	one_cpu(&s, cpus[0]);
	CHECK_OK(pthread_attr_setaffinity_np(&a, sizeof s, &s));
	CHECK_OK(pthread_create(&w, &a, wait_go, (void *)(intptr_t)cpus[0]));
	CHECK_OK(pthread_join(w, NULL));
	CHECK_OK(pthread_attr_destroy(&a));

	/* inherited */
	CHECK_OK(pthread_create(&w, NULL, parent_pinned,
				(void *)(intptr_t)cpus[0]));
	CHECK_OK(pthread_join(w, NULL));

	/* a working directory of its own */
	CHECK_OK(pthread_create(&w, NULL, own_cwd, NULL));
	churn(-1);
	CHECK_OK(pthread_join(w, NULL));
	CHECK(getcwd(now, sizeof now) != NULL);
	CHECK(strcmp(now, cwd) == 0);

	/* a real-time policy, where permitted */
	if (geteuid() == 0) {
		CHECK_OK(pthread_create(&w, NULL, fifo, NULL));
		CHECK_OK(pthread_join(w, NULL));
		CHECK_INT(syscall(SYS_sched_getscheduler, 0), ==, SCHED_OTHER);
	}

	CHECK_OK(pthread_create(&w, NULL, named, NULL));
	CHECK_OK(pthread_join(w, NULL));

	/* main's own view is untouched */
	CHECK_SYS(sched_getaffinity(0, sizeof got, &got));
	CHECK(CPU_EQUAL(&got, &all));
	puts("ok");
	return 0;
}
