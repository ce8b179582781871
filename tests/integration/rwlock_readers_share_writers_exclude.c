/*
 * Read-write locks: several readers hold the lock at the same time, a
 * writer excludes readers and other writers (a plain counter updated by
 * writers comes out exact and readers never see a half-done update), and
 * the try/timed variants return EBUSY/ETIMEDOUT while the other side
 * holds it.
 */
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define READERS		6
#define WRITERS		3
#define WRITES		3000
#define READS		3000

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static long a, b;	/* writers keep a == b */
static atomic_int readers_in;
static atomic_int max_readers_in;
static atomic_int writers_done;
static struct t_barrier together, start;

static void *reader(void *arg)
{
	(void)arg;
	/* All readers hold the lock together before anyone goes on. */
	CHECK_OK(pthread_rwlock_rdlock(&rw));
	t_barrier_wait(&together);
	CHECK_OK(pthread_rwlock_unlock(&rw));
	t_barrier_wait(&start);

	/* Bounded: glibc's default rwlock lets readers starve writers. */
	for (int i = 0; i < READS && writers_done < WRITERS; i++) {
		if (i % 16 == 0)
			usleep(100);
		CHECK_OK(pthread_rwlock_rdlock(&rw));
		int in = atomic_fetch_add(&readers_in, 1) + 1;
		int max = max_readers_in;
		while (in > max &&
		       !atomic_compare_exchange_weak(&max_readers_in, &max, in))
			;
		long va = a;
		sched_yield();
		CHECK_INT(b, ==, va);
		atomic_fetch_sub(&readers_in, 1);
		CHECK_OK(pthread_rwlock_unlock(&rw));
	}
	return NULL;
}

static void *writer(void *arg)
{
	(void)arg;
	t_barrier_wait(&start);
	for (int i = 0; i < WRITES; i++) {
		CHECK_OK(pthread_rwlock_wrlock(&rw));
		CHECK_INT(readers_in, ==, 0);
		long v = a;
		if (i % 100 == 0)
			sched_yield();
		a = v + 1;
		b = v + 1;
		CHECK_OK(pthread_rwlock_unlock(&rw));
	}
	writers_done++;
	return NULL;
}

static int result;

static void *try_write(void *arg)
{
	struct timespec deadline = t_deadline_ms(CLOCK_REALTIME, 20);

	(void)arg;
	result = pthread_rwlock_trywrlock(&rw);
	if (result == 0) {
		CHECK_OK(pthread_rwlock_unlock(&rw));
		return NULL;
	}
	CHECK_INT(result, ==, EBUSY);
	CHECK_RET(pthread_rwlock_timedwrlock(&rw, &deadline), ETIMEDOUT);
	CHECK_INT(t_now_ns(CLOCK_REALTIME), >=, t_ts_ns(&deadline));
	return NULL;
}

static void *try_read(void *arg)
{
	struct timespec deadline = t_deadline_ms(CLOCK_REALTIME, 20);

	(void)arg;
	result = pthread_rwlock_tryrdlock(&rw);
	if (result == 0) {
		CHECK_OK(pthread_rwlock_unlock(&rw));
		return NULL;
	}
	CHECK_INT(result, ==, EBUSY);
	CHECK_RET(pthread_rwlock_timedrdlock(&rw, &deadline), ETIMEDOUT);
	return NULL;
}

static int in_other(void *(*fn)(void *))
{
	pthread_t t;

	result = -1;
	CHECK_OK(pthread_create(&t, NULL, fn, NULL));
	CHECK_OK(pthread_join(t, NULL));
	return result;
}

int main(void)
{
	pthread_t r[READERS], w[WRITERS];

	t_barrier_init(&together, READERS);
	t_barrier_init(&start, READERS + WRITERS);
	for (int i = 0; i < READERS; i++)
		CHECK_OK(pthread_create(&r[i], NULL, reader, NULL));
	for (int i = 0; i < WRITERS; i++)
		CHECK_OK(pthread_create(&w[i], NULL, writer, NULL));
	for (int i = 0; i < WRITERS; i++)
		CHECK_OK(pthread_join(w[i], NULL));
	for (int i = 0; i < READERS; i++)
		CHECK_OK(pthread_join(r[i], NULL));
	CHECK_INT(a, ==, WRITERS * WRITES);
	CHECK_INT(b, ==, WRITERS * WRITES);
	CHECK_INT(max_readers_in, >=, 1);

	/* Read-held by main: readers get in, writers do not. */
	CHECK_OK(pthread_rwlock_rdlock(&rw));
	CHECK_INT(in_other(try_read), ==, 0);
	CHECK_INT(in_other(try_write), ==, EBUSY);
	CHECK_OK(pthread_rwlock_unlock(&rw));
	/* Write-held by main: nobody gets in. */
	CHECK_OK(pthread_rwlock_wrlock(&rw));
	CHECK_INT(in_other(try_read), ==, EBUSY);
	CHECK_INT(in_other(try_write), ==, EBUSY);
	CHECK_OK(pthread_rwlock_unlock(&rw));
	CHECK_INT(in_other(try_write), ==, 0);
	CHECK_OK(pthread_rwlock_destroy(&rw));
	return T_PASS;
}
