/*
 * syscall(SYS_futex, ...) used directly, as Rust's std and libstdc++'s
 * atomic waits do: WAIT/WAKE counts, EAGAIN on a changed value,
 * relative and absolute timeouts, bitset masks, REQUEUE and CMP_REQUEUE.
 */
#include "check.h"

#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>

static atomic_uint word, word2, parked;

static long futex(atomic_uint *a, int op, unsigned val, const void *ts,
		  atomic_uint *a2, unsigned val3)
{
	return syscall(SYS_futex, a, op | FUTEX_PRIVATE_FLAG, val, ts, a2,
		       val3);
}

static void *waiter(void *arg)
{
	unsigned mask = (unsigned)(uintptr_t)arg;

	atomic_fetch_add(&parked, 1);
	while (atomic_load(&word) == 0) {
		long r = mask ? futex(&word, FUTEX_WAIT_BITSET, 0, NULL, NULL,
				      mask)
			      : futex(&word, FUTEX_WAIT, 0, NULL, NULL, 0);
		CHECK(r == 0 || (r == -1 && errno == EAGAIN));
	}
	return NULL;
}

static void wait_parked(unsigned n)
{
	while (atomic_load(&parked) < n)
		usleep(1000);
	usleep(30000);	/* and inside FUTEX_WAIT */
}

static void errors_and_timeouts(void)
{
	struct timespec rel = { 0, 20 * 1000000 }, abs, bad = { 0, -1 };

	atomic_store(&word, 1);
	CHECK_INT((int)futex(&word, FUTEX_WAIT, 0, NULL, NULL, 0), ==, -1);
	CHECK_INT(errno, ==, EAGAIN);
	atomic_store(&word, 0);
	CHECK_INT((int)futex(&word, FUTEX_WAIT, 0, &rel, NULL, 0), ==, -1);
	CHECK_INT(errno, ==, ETIMEDOUT);
	CHECK_INT((int)futex(&word, FUTEX_WAIT, 0, &bad, NULL, 0), ==, -1);
	CHECK_INT(errno, ==, EINVAL);
	clock_gettime(CLOCK_MONOTONIC, &abs);
	abs.tv_nsec += 20 * 1000000;
	if (abs.tv_nsec >= 1000000000) {
		abs.tv_sec++;
		abs.tv_nsec -= 1000000000;
	}
	CHECK_INT((int)futex(&word, FUTEX_WAIT_BITSET, 0, &abs, NULL, ~0u),
		  ==, -1);
	CHECK_INT(errno, ==, ETIMEDOUT);
	CHECK_INT((int)futex(&word, FUTEX_WAIT_BITSET, 0, NULL, NULL, 0), ==,
		  -1);
	CHECK_INT(errno, ==, EINVAL);	/* empty bitset */
	CHECK_INT((int)futex(&word, FUTEX_WAKE, 1, NULL, NULL, 0), ==, 0);
}

static void wake_counts_and_bitsets(void)
{
	pthread_t t[4];

	atomic_store(&word, 0);
	atomic_store(&parked, 0);
	CHECK_OK(pthread_create(&t[0], NULL, waiter, (void *)(uintptr_t)1));
	CHECK_OK(pthread_create(&t[1], NULL, waiter, (void *)(uintptr_t)1));
	CHECK_OK(pthread_create(&t[2], NULL, waiter, (void *)(uintptr_t)2));
	wait_parked(3);
	/* mask 4 matches nobody, mask 2 the bitset-2 waiter only */
	CHECK_INT((int)futex(&word, FUTEX_WAKE_BITSET, 10, NULL, NULL, 4), ==,
		  0);
	atomic_store(&word, 1);
	CHECK_INT((int)futex(&word, FUTEX_WAKE_BITSET, 10, NULL, NULL, 2), ==,
		  1);
	CHECK_INT((int)futex(&word, FUTEX_WAKE, 10, NULL, NULL, 0), ==, 2);
	for (int i = 0; i < 3; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	/* a plain FUTEX_WAIT is woken by any mask, and counted once */
	atomic_store(&word, 0);
	atomic_store(&parked, 0);
	CHECK_OK(pthread_create(&t[3], NULL, waiter, (void *)(uintptr_t)0));
	wait_parked(1);
	atomic_store(&word, 1);
	CHECK_INT((int)futex(&word, FUTEX_WAKE_BITSET, 10, NULL, NULL, 8), ==,
		  1);
	CHECK_OK(pthread_join(t[3], NULL));
}

static void *requeued(void *arg)
{
	(void)arg;
	atomic_fetch_add(&parked, 1);
	/* parks on word; a requeue moves it to word2 */
	while (atomic_load(&word2) == 0)
		futex(&word, FUTEX_WAIT, 0, NULL, NULL, 0);
	return NULL;
}

static void requeue(void)
{
	pthread_t t[4];

	atomic_store(&word, 0);
	atomic_store(&word2, 0);
	atomic_store(&parked, 0);
	for (int i = 0; i < 4; i++)
		CHECK_OK(pthread_create(&t[i], NULL, requeued, NULL));
	wait_parked(4);
	/* CMP_REQUEUE with a stale value does nothing */
	CHECK_INT((int)futex(&word, FUTEX_CMP_REQUEUE, 1,
			     (void *)(uintptr_t)10, &word2, 5), ==, -1);
	CHECK_INT(errno, ==, EAGAIN);
	/* wake 1, move the other 3: the result counts both */
	atomic_store(&word2, 1);
	CHECK_INT((int)futex(&word, FUTEX_CMP_REQUEUE, 1,
			     (void *)(uintptr_t)10, &word2, 0), ==, 4);
	CHECK_INT((int)futex(&word, FUTEX_WAKE, 10, NULL, NULL, 0), ==, 0);
	CHECK_INT((int)futex(&word2, FUTEX_WAKE, 10, NULL, NULL, 0), ==, 3);
	for (int i = 0; i < 4; i++)
		CHECK_OK(pthread_join(t[i], NULL));
}

int main(void)
{
	errors_and_timeouts();
	wake_counts_and_bitsets();
	requeue();
	return T_PASS;
}
