/*
 * Returning 42 from main ends the process with status 42 even though other
 * threads are still blocked or busy, atexit handlers run once, and
 * buffered stdout is flushed.
 */
/* expect-exit: 42 */
/* expect-stdout: main returns 42 */
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static atomic_int handler_runs;
static atomic_int started;

static void handler(void)
{
	CHECK_INT(atomic_fetch_add(&handler_runs, 1), ==, 0);
}

static void *blocked_in_cond(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	started++;
	for (;;)
		pthread_cond_wait(&never, &mu);
	return NULL;
}

static void *spinning(void *arg)
{
	(void)arg;
	started++;
	for (;;)
		sched_yield();
	return NULL;
}

int main(void)
{
	pthread_t t;

	CHECK_INT(atexit(handler), ==, 0);
	for (int i = 0; i < 4; i++) {
		CHECK_OK(pthread_create(&t, NULL, blocked_in_cond, NULL));
		CHECK_OK(pthread_create(&t, NULL, spinning, NULL));
	}
	while (started < 8)
		sched_yield();
	usleep(10000);
	printf("main returns 42\n");
	return 42;
}
