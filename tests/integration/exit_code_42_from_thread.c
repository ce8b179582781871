/*
 * The status passed to exit() by a non-main thread is the process's exit
 * status, while main is blocked in pthread_join and other threads are
 * blocked in a condvar, a read, a sleep or busy yielding.  Output written
 * to stdout (a file or pipe, so fully buffered) before exit() is flushed.
 */
/* expect-exit: 42 */
/* expect-stdout: exiting with 42 */
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static atomic_int handler_runs;
static int pipefd[2];

static void handler(void)
{
	CHECK_INT(atomic_fetch_add(&handler_runs, 1), ==, 0);
}

static void *blocked_in_cond(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	for (;;)
		pthread_cond_wait(&never, &mu);
	return NULL;
}

static void *blocked_in_read(void *arg)
{
	char c;

	(void)arg;
	if (read(pipefd[0], &c, 1) >= 0)
		FAIL("read returned: nobody writes to the pipe");
	return NULL;
}

static void *spinning(void *arg)
{
	(void)arg;
	for (;;)
		sched_yield();
	return NULL;
}

static void *sleeping(void *arg)
{
	(void)arg;
	for (;;)
		sleep(10);
	return NULL;
}

static void *exit_thread(void *arg)
{
	(void)arg;
	usleep(20000);
	printf("exiting with 42\n");
	exit(42);
}

int main(void)
{
	void *(*fns[])(void *) = { blocked_in_cond, blocked_in_read,
				   spinning, sleeping, exit_thread };
	pthread_t t, last = pthread_self();

	CHECK_SYS(pipe(pipefd));
	CHECK_INT(atexit(handler), ==, 0);
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		CHECK_OK(pthread_create(&t, NULL, fns[i], NULL));
		last = t;
	}
	pthread_join(last, NULL);
	FAIL("pthread_join returned: the thread called exit()");
}
