/*
 * pthread_exit() in main does not end the process: a worker keeps running,
 * can join the main thread (getting main's exit value), and when the last
 * thread returns the process exits with status 0 and runs the atexit
 * handlers and flushes stdout then, not when main left.
 */
/* expect-stdout: worker done */
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>

static pthread_t main_id;
static atomic_int main_left;
static atomic_int worker_done;
static atomic_int handler_runs;

static void handler(void)
{
	/* Runs once, after the worker finished, never at main's exit. */
	if (atomic_fetch_add(&handler_runs, 1) != 0 || !worker_done) {
		fprintf(stderr, "atexit ran too early or twice "
			"(runs %d, worker_done %d)\n", handler_runs,
			worker_done);
		_exit(1);
	}
}

static void *worker(void *arg)
{
	void *ret = NULL;

	(void)arg;
	usleep(100000);
	CHECK_INT(main_left, ==, 1);
	CHECK_INT(handler_runs, ==, 0);
	CHECK_OK(pthread_join(main_id, &ret));
	CHECK(ret == (void *)0x1234);
	CHECK_INT(handler_runs, ==, 0);
	printf("worker done\n");	/* flushed by the implicit exit */
	worker_done = 1;
	return NULL;
}

int main(void)
{
	pthread_t t;

	main_id = pthread_self();
	CHECK_INT(atexit(handler), ==, 0);
	CHECK_OK(pthread_create(&t, NULL, worker, NULL));
	main_left = 1;
	pthread_exit((void *)0x1234);
}
