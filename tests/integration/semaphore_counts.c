/*
 * Unnamed semaphores count: sem_getvalue follows posts and waits,
 * sem_trywait on zero fails with EAGAIN, sem_timedwait and sem_clockwait
 * fail with ETIMEDOUT after their deadline (lower bound only) and with
 * EINVAL for a bad tv_nsec, posting past SEM_VALUE_MAX is EOVERFLOW, a
 * blocked sem_wait is woken by a post from another thread, and many
 * waiters consume exactly the posts made.
 */
#include "check.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>

#define WAITERS		8
#define PER_WAITER	2000

static sem_t sem, ping, pong;
static atomic_int woke;

static int value(sem_t *s)
{
	int v;

	CHECK_SYS(sem_getvalue(s, &v));
	return v;
}

static void *blocked_waiter(void *arg)
{
	(void)arg;
	while (sem_wait(&sem) != 0)
		CHECK_INT(errno, ==, EINTR);
	woke = 1;
	return NULL;
}

static void *consumer(void *arg)
{
	(void)arg;
	for (int i = 0; i < PER_WAITER; i++)
		while (sem_wait(&sem) != 0)
			CHECK_INT(errno, ==, EINTR);
	return NULL;
}

static void *ponger(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++) {
		while (sem_wait(&ping) != 0)
			CHECK_INT(errno, ==, EINTR);
		CHECK_SYS(sem_post(&pong));
	}
	return NULL;
}

static void timeouts(clockid_t clk, int use_clockwait)
{
	for (long ms = -1000; ms <= 40; ms += 1040) {
		struct timespec deadline = t_deadline_ms(clk, ms);

		if (use_clockwait)
			CHECK_ERRNO(sem_clockwait(&sem, clk, &deadline),
				    ETIMEDOUT);
		else
			CHECK_ERRNO(sem_timedwait(&sem, &deadline), ETIMEDOUT);
		CHECK_INT(t_now_ns(clk), >=, t_ts_ns(&deadline));
	}
}

int main(void)
{
	pthread_t t, tids[WAITERS];
	struct timespec bad;
	sem_t full;

	CHECK_SYS(sem_init(&sem, 0, 3));
	CHECK_INT(value(&sem), ==, 3);
	CHECK_SYS(sem_trywait(&sem));
	CHECK_SYS(sem_wait(&sem));
	CHECK_SYS(sem_trywait(&sem));
	CHECK_INT(value(&sem), ==, 0);
	CHECK_ERRNO(sem_trywait(&sem), EAGAIN);
	CHECK_SYS(sem_post(&sem));
	CHECK_SYS(sem_post(&sem));
	CHECK_INT(value(&sem), ==, 2);
	CHECK_SYS(sem_trywait(&sem));
	CHECK_SYS(sem_trywait(&sem));

	timeouts(CLOCK_REALTIME, 0);
	timeouts(CLOCK_MONOTONIC, 1);
	timeouts(CLOCK_REALTIME, 1);
	bad = t_deadline_ms(CLOCK_REALTIME, 50);
	bad.tv_nsec = 1000000000;
	CHECK_ERRNO(sem_timedwait(&sem, &bad), EINVAL);
	CHECK_INT(value(&sem), ==, 0);

	CHECK_SYS(sem_init(&full, 0, SEM_VALUE_MAX));
	CHECK_ERRNO(sem_post(&full), EOVERFLOW);
	CHECK_INT(value(&full), ==, SEM_VALUE_MAX);
	CHECK_SYS(sem_destroy(&full));
	CHECK_ERRNO(sem_init(&full, 0, (unsigned)SEM_VALUE_MAX + 1), EINVAL);

	/* A post wakes a thread blocked in sem_wait. */
	CHECK_OK(pthread_create(&t, NULL, blocked_waiter, NULL));
	usleep(20000);
	CHECK_INT(woke, ==, 0);
	CHECK_SYS(sem_post(&sem));
	CHECK_OK(pthread_join(t, NULL));
	CHECK_INT(woke, ==, 1);
	CHECK_INT(value(&sem), ==, 0);

	/* Many waiters consume exactly what was posted. */
	for (int i = 0; i < WAITERS; i++)
		CHECK_OK(pthread_create(&tids[i], NULL, consumer, NULL));
	for (int i = 0; i < WAITERS * PER_WAITER; i++) {
		CHECK_SYS(sem_post(&sem));
		if (i % 256 == 0)
			sched_yield();
	}
	for (int i = 0; i < WAITERS; i++)
		CHECK_OK(pthread_join(tids[i], NULL));
	CHECK_INT(value(&sem), ==, 0);
	CHECK_ERRNO(sem_trywait(&sem), EAGAIN);

	/* Ping-pong between two threads. */
	CHECK_SYS(sem_init(&ping, 0, 0));
	CHECK_SYS(sem_init(&pong, 0, 0));
	CHECK_OK(pthread_create(&t, NULL, ponger, NULL));
	for (int i = 0; i < 1000; i++) {
		CHECK_SYS(sem_post(&ping));
		while (sem_wait(&pong) != 0)
			CHECK_INT(errno, ==, EINTR);
	}
	CHECK_OK(pthread_join(t, NULL));
	CHECK_INT(value(&ping), ==, 0);
	CHECK_INT(value(&pong), ==, 0);

	CHECK_SYS(sem_destroy(&sem));
	CHECK_SYS(sem_destroy(&ping));
	CHECK_SYS(sem_destroy(&pong));
	return T_PASS;
}
