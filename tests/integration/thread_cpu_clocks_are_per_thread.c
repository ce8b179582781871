/*
 * A thread's CPU clock counts that thread's CPU time only, even when
 * other threads compute on the same CPU or (under libgmp) on the same
 * kernel thread: a computing thread spins until its own
 * CLOCK_THREAD_CPUTIME_ID shows 40 ms, then waits; a sleeping thread
 * sleeps 1 ms a hundred times meanwhile. Then:
 *  - the computer's clock read by main through pthread_getcpuclockid is
 *    at least 40 ms, and does not move while it waits;
 *  - the sleeper's own clock and getrusage(RUSAGE_THREAD) stay well under
 *    40 ms (they would include the computer's time if they measured a
 *    shared kernel thread);
 *  - the computer's getrusage(RUSAGE_THREAD) user + system time is at
 *    least 40 ms; clock_getres works on a thread clock.
 */
#include "check.h"

#include <sys/resource.h>

#define SPIN_NS 40000000LL

static pthread_barrier_t done, leave;
static int64_t sleeper_cpu, sleeper_ru, spinner_ru;

static int64_t clk_ns(clockid_t c)
{
	struct timespec ts;

	CHECK_SYS(clock_gettime(c, &ts));
	return t_ts_ns(&ts);
}

static int64_t ru_ns(void)
{
	struct rusage ru;

	CHECK_SYS(getrusage(RUSAGE_THREAD, &ru));
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

static void *spinner(void *arg)
{
	volatile uint64_t x = 0;

	(void)arg;
	int64_t t0 = clk_ns(CLOCK_THREAD_CPUTIME_ID);
	while (clk_ns(CLOCK_THREAD_CPUTIME_ID) - t0 < SPIN_NS)
		for (int i = 0; i < 10000; i++)
			x += (uint64_t)i;
	spinner_ru = ru_ns();
	pthread_barrier_wait(&done);
	pthread_barrier_wait(&leave);
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++)
		t_sleep_ms(1);
	sleeper_cpu = clk_ns(CLOCK_THREAD_CPUTIME_ID);
	sleeper_ru = ru_ns();
	pthread_barrier_wait(&done);
	pthread_barrier_wait(&leave);
	return NULL;
}

int main(void)
{
	pthread_t s, z;
	clockid_t sc;
	struct timespec res;

	CHECK_OK(pthread_barrier_init(&done, NULL, 3));
	CHECK_OK(pthread_barrier_init(&leave, NULL, 3));
	CHECK_OK(pthread_create(&s, NULL, spinner, NULL));
	CHECK_OK(pthread_create(&z, NULL, sleeper, NULL));
	pthread_barrier_wait(&done);

	CHECK_OK(pthread_getcpuclockid(s, &sc));
	CHECK_SYS(clock_getres(sc, &res));
	int64_t a = clk_ns(sc);
	CHECK_INT(a, >=, SPIN_NS);
	t_sleep_ms(20);
	int64_t b = clk_ns(sc);
	/* waiting in a barrier costs next to nothing */
	CHECK_INT(b - a, <, SPIN_NS / 4);
	CHECK_INT(spinner_ru, >=, SPIN_NS);
	CHECK_INT(sleeper_cpu, <, SPIN_NS / 2);
	CHECK_INT(sleeper_ru, <, SPIN_NS / 2);

	pthread_barrier_wait(&leave);
	CHECK_OK(pthread_join(s, NULL));
	CHECK_OK(pthread_join(z, NULL));
	puts("ok");
	return 0;
}
