/*
 * exit() called by a non-main thread ends the whole process while main is
 * blocked in pthread_join and other threads are blocked or busy: atexit
 * handlers run exactly once, in reverse order of registration, on the
 * calling thread, after the exiting thread's checks passed.
 *
 * The thread calls exit(3); the last handler turns that into _exit(0)
 * once every check passed, so a skipped handler shows as status 3.
 */
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static atomic_int first_runs, last_runs;
static atomic_int exiting;
static pthread_t exiter;
static int pipefd[2];

static void first_handler(void)	/* registered last, runs first */
{
	CHECK_INT(atomic_fetch_add(&first_runs, 1), ==, 0);
	CHECK_INT(last_runs, ==, 0);
	CHECK(pthread_equal(pthread_self(), exiter));
	CHECK_INT(exiting, ==, 1);
}

static void last_handler(void)
{
	CHECK_INT(atomic_fetch_add(&last_runs, 1), ==, 0);
	CHECK_INT(first_runs, ==, 1);
	CHECK(pthread_equal(pthread_self(), exiter));
	fputs("atexit handlers ran once\n", stderr);
	_exit(0);
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
	usleep(20000);	/* let main reach pthread_join */
	CHECK_INT(first_runs + last_runs, ==, 0);
	exiting = 1;
	exit(3);
}

int main(void)
{
	void *(*fns[])(void *) = { blocked_in_cond, blocked_in_read,
				   spinning, sleeping };
	pthread_t t;

	CHECK_SYS(pipe(pipefd));
	CHECK_INT(atexit(last_handler), ==, 0);
	CHECK_INT(atexit(first_handler), ==, 0);
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		CHECK_OK(pthread_create(&t, NULL, fns[i], NULL));
	CHECK_OK(pthread_create(&exiter, NULL, exit_thread, NULL));
	pthread_join(exiter, NULL);
	FAIL("pthread_join returned: the thread called exit()");
}
