/* 8 named threads take turns on a mutex and a condvar, then exit: the
 * counters libgmp reports must match (9 threads created with main). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define N 8
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn, total;

static void *worker(void *arg)
{
	int id = (int)(long)arg;

	for (int r = 0; r < 50; r++) {
		pthread_mutex_lock(&mu);
		while (turn % N != id)
			pthread_cond_wait(&cv, &mu);
		turn++;
		total++;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[N];
	int ms = argc > 1 ? atoi(argv[1]) : 0;

	for (long i = 0; i < N; i++) {
		char name[16];
		pthread_create(&t[i], NULL, worker, (void *)i);
		snprintf(name, sizeof name, "worker%ld", i);
		pthread_setname_np(t[i], name);
	}
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	if (ms)
		usleep(ms * 1000);
	printf("total %d\n", total);
	return 0;
}
