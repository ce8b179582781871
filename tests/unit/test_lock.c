/*
 * test_lock.c: runtime locks, notes and the raw futex (core/lock.c), used
 * from plain pthreads: they are M-level primitives and need no scheduler.
 * An alarm turns a lost wakeup (a hang) into a failure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "core.h"

#define MS 1000000LL

/* ---- mutual exclusion ------------------------------------------------- */

#define NTHREADS 4
#define NITERS 100000

static struct mutex mu = MUTEX_INIT(LOCKRANK_LEAF);
static volatile long counter;	/* updated without atomics, under mu */
static _Atomic int inside;	/* holders right now */
static _Atomic int overlaps;	/* times two were inside at once */
static pthread_barrier_t go;

static void *incrementer(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&go);
	for (int i = 0; i < NITERS; i++) {
		lock(&mu);
		if (atomic_fetch_add(&inside, 1) != 0)
			atomic_fetch_add(&overlaps, 1);
		long v = counter;
		if (i % 64 == 0)	/* widen the window now and then */
			for (int k = 0; k < 50; k++)
				arch_pause();
		counter = v + 1;
		atomic_fetch_sub(&inside, 1);
		unlock(&mu);
	}
	return NULL;
}

static void lock_excludes_four_threads_incrementing_a_counter(void **state)
{
	pthread_t t[NTHREADS];

	(void)state;
	pthread_barrier_init(&go, NULL, NTHREADS);
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, incrementer,
						NULL), 0);
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	pthread_barrier_destroy(&go);
	assert_int_equal(atomic_load(&overlaps), 0);
	assert_int_equal(counter, (long)NTHREADS * NITERS);
	/* the futex word is back to free, with no sleeper left marked */
	assert_int_equal(atomic_load(&mu.key), 0);
}

/* A holder that sleeps makes the others take the futex path. */
static void *hold_then_release(void *arg)
{
	struct timespec ts = { 0, 20 * MS };

	(void)arg;
	lock(&mu);
	pthread_barrier_wait(&go);
	nanosleep(&ts, NULL);
	counter++;
	unlock(&mu);
	return NULL;
}

static void lock_waits_for_a_holder_that_sleeps(void **state)
{
	pthread_t t;

	(void)state;
	counter = 0;
	pthread_barrier_init(&go, NULL, 2);
	assert_int_equal(pthread_create(&t, NULL, hold_then_release, NULL),
			 0);
	pthread_barrier_wait(&go);	/* t holds mu now */
	lock(&mu);
	assert_int_equal(counter, 1);	/* t's critical section is done */
	unlock(&mu);
	assert_int_equal(pthread_join(t, NULL), 0);
	pthread_barrier_destroy(&go);
	assert_int_equal(atomic_load(&mu.key), 0);
}

/* ---- notes ------------------------------------------------------------ */

static void notetsleep_returns_false_on_timeout(void **state)
{
	struct note n;
	int64_t until;

	(void)state;
	noteclear(&n);
	until = nanotime() + 20 * MS;
	assert_false(notetsleep(&n, until));
	assert_true(nanotime() >= until);	/* not before the deadline */
}

static void notetsleep_past_deadline_returns_false(void **state)
{
	struct note n;

	(void)state;
	noteclear(&n);
	assert_false(notetsleep(&n, nanotime() - MS));
	assert_false(notetsleep(&n, 0));
}

static struct note wake_note;

static void *wake_later(void *arg)
{
	struct timespec ts = { 0, 20 * MS };

	(void)arg;
	nanosleep(&ts, NULL);
	notewakeup(&wake_note);
	return NULL;
}

static void notetsleep_returns_true_when_woken(void **state)
{
	pthread_t t;

	(void)state;
	noteclear(&wake_note);
	assert_int_equal(pthread_create(&t, NULL, wake_later, NULL), 0);
	/* a deadline far beyond the wakeup: only the wakeup can end this */
	assert_true(notetsleep(&wake_note, nanotime() + 30000 * MS));
	assert_int_equal(pthread_join(t, NULL), 0);
}

static void notetsleep_without_deadline_returns_when_woken(void **state)
{
	pthread_t t;

	(void)state;
	noteclear(&wake_note);
	assert_int_equal(pthread_create(&t, NULL, wake_later, NULL), 0);
	assert_true(notetsleep(&wake_note, -1));
	assert_int_equal(pthread_join(t, NULL), 0);
}

static void notetsleep_after_wakeup_returns_true_at_once(void **state)
{
	struct note n;

	(void)state;
	noteclear(&n);
	notewakeup(&n);
	assert_true(notetsleep(&n, -1));
	assert_true(notetsleep(&n, 0));		/* stays woken */
}

static void noteclear_rearms_a_woken_note(void **state)
{
	struct note n;

	(void)state;
	noteclear(&n);
	notewakeup(&n);
	noteclear(&n);
	assert_false(notetsleep(&n, nanotime() + MS));
}

static void notewakeup_twice_is_fatal(void **state)
{
	struct note n;
	int status;
	pid_t pid;

	(void)state;
	noteclear(&n);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(2);	/* keep the child's "fatal" line quiet */
		notewakeup(&n);
		notewakeup(&n);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

/* ---- the raw futex ---------------------------------------------------- */

static void futex_wait_on_a_changed_word_returns_eagain(void **state)
{
	_Atomic uint32_t w = 1;

	(void)state;
	assert_int_equal(futex_wait(&w, 0, -1), -EAGAIN);
}

static void futex_wait_past_its_deadline_returns_etimedout(void **state)
{
	_Atomic uint32_t w = 0;

	(void)state;
	assert_int_equal(futex_wait(&w, 0, nanotime() + MS), -ETIMEDOUT);
}

static void futex_wake_with_no_waiter_wakes_nobody(void **state)
{
	_Atomic uint32_t w = 0;

	(void)state;
	assert_int_equal(futex_wake(&w, 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			lock_excludes_four_threads_incrementing_a_counter),
		cmocka_unit_test(lock_waits_for_a_holder_that_sleeps),
		cmocka_unit_test(notetsleep_returns_false_on_timeout),
		cmocka_unit_test(notetsleep_past_deadline_returns_false),
		cmocka_unit_test(notetsleep_returns_true_when_woken),
		cmocka_unit_test(
			notetsleep_without_deadline_returns_when_woken),
		cmocka_unit_test(notetsleep_after_wakeup_returns_true_at_once),
		cmocka_unit_test(noteclear_rearms_a_woken_note),
		cmocka_unit_test(notewakeup_twice_is_fatal),
		cmocka_unit_test(futex_wait_on_a_changed_word_returns_eagain),
		cmocka_unit_test(
			futex_wait_past_its_deadline_returns_etimedout),
		cmocka_unit_test(futex_wake_with_no_waiter_wakes_nobody),
	};

	alarm(60);	/* a lost wakeup hangs: let it fail instead */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
