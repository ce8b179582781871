/*
 * Returning from main while other threads still run calls exit(): atexit
 * handlers and destructors run exactly once, in reverse order, on the main
 * thread, with main's stdio state intact.
 *
 * main returns 3; the last handler turns that into _exit(0) once every
 * check passed, so a skipped handler shows as status 3.
 */
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static atomic_int order;
static atomic_int started;
static pthread_t main_id;
static __thread int main_marker;

static void first_handler(void)	/* registered last, runs first */
{
	CHECK_INT(atomic_fetch_add(&order, 1), ==, 0);
	CHECK(pthread_equal(pthread_self(), main_id));
	CHECK_INT(main_marker, ==, 77);	/* main's TLS */
}

static void second_handler(void)
{
	CHECK_INT(atomic_fetch_add(&order, 1), ==, 1);
	CHECK(pthread_equal(pthread_self(), main_id));
}

static void last_handler(void)
{
	CHECK_INT(atomic_fetch_add(&order, 1), ==, 2);
	CHECK(pthread_equal(pthread_self(), main_id));
	fputs("atexit handlers ran once, in order\n", stderr);
	_exit(0);
}

static void *blocked(void *arg)
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

static void *sleeping(void *arg)
{
	(void)arg;
	started++;
	for (;;)
		usleep(100000);
	return NULL;
}

int main(void)
{
	pthread_t t;

	main_id = pthread_self();
	main_marker = 77;
	CHECK_INT(atexit(last_handler), ==, 0);
	CHECK_INT(atexit(second_handler), ==, 0);
	CHECK_INT(atexit(first_handler), ==, 0);
	CHECK_OK(pthread_create(&t, NULL, blocked, NULL));
	CHECK_OK(pthread_create(&t, NULL, spinning, NULL));
	CHECK_OK(pthread_create(&t, NULL, sleeping, NULL));
	while (started < 3)
		sched_yield();
	for (int i = 0; i < 10; i++)
		sched_yield();
	return 3;
}
