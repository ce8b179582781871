/*
 * Once a second thread exists, glibc's __libc_single_threaded is false
 * (glibc and libstdc++ skip atomic operations while it is true), seen from
 * every thread, and stays false after the thread is joined.
 */
#include "check.h"

#include <pthread.h>
#include <sys/single_threaded.h>

static void *worker(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)__libc_single_threaded;
}

int main(void)
{
	pthread_t t;
	void *ret;

	CHECK_OK(pthread_create(&t, NULL, worker, NULL));
	CHECK_INT(__libc_single_threaded, ==, 0);
	CHECK_OK(pthread_join(t, &ret));
	CHECK_INT((intptr_t)ret, ==, 0);
	CHECK_INT(__libc_single_threaded, ==, 0);
	return T_PASS;
}
