/* Two threads take two mutexes in opposite orders and main joins them:
 * a deadlock. Natively it hangs forever (the test runs it natively under
 * timeout); under libgmp it is reported and the process exits 86. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t b = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both;

static void *left(void *x)
{
	pthread_mutex_lock(&a);
	pthread_barrier_wait(&both);
	pthread_mutex_lock(&b);
	return x;
}

static void *right(void *x)
{
	pthread_mutex_lock(&b);
	pthread_barrier_wait(&both);
	pthread_mutex_lock(&a);
	return x;
}

int main(void)
{
	pthread_t l, r;

	pthread_barrier_init(&both, NULL, 2);
	pthread_create(&l, NULL, left, NULL);
	pthread_setname_np(l, "left");
	pthread_create(&r, NULL, right, NULL);
	pthread_setname_np(r, "right");
	pthread_join(l, NULL);
	pthread_join(r, NULL);
	puts("not reached");
	return 0;
}
