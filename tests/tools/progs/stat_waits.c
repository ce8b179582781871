/* For gmp-stat: named threads parked on a mutex (main holds it), a
 * condvar and a sleep, and argv[1] more sleeping ("idler"); a child of
 * fork whose only thread reads stdin; main prints "ready CHILDPID" and
 * reads stdin until it closes, then exits (the child too, at the same
 * EOF). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static void *locker(void *x)
{
	pthread_mutex_lock(&mu);
	pthread_mutex_unlock(&mu);
	return x;
}

static void *waiter(void *x)
{
	pthread_mutex_lock(&cmu);
	pthread_cond_wait(&cv, &cmu);
	pthread_mutex_unlock(&cmu);
	return x;
}

static void *sleeper(void *x)
{
	sleep(1000);
	return x;
}

static void drain(void)
{
	char buf[256];

	while (read(0, buf, sizeof buf) > 0)
		;
}

int main(int argc, char **argv)
{
	void *(*fn[])(void *) = { locker, waiter, sleeper };
	const char *names[] = { "locker", "waiter", "sleeper" };
	int more = argc > 1 ? atoi(argv[1]) : 0;
	pthread_attr_t small;
	pthread_t t;

	pthread_mutex_lock(&mu);
	for (int i = 0; i < 3; i++) {
		if (pthread_create(&t, NULL, fn[i], NULL) != 0)
			return 2;
		pthread_setname_np(t, names[i]);
	}
	pthread_attr_init(&small);
	pthread_attr_setstacksize(&small, 64 << 10);
	pthread_attr_setdetachstate(&small, PTHREAD_CREATE_DETACHED);
	for (int i = 0; i < more; i++) {
		if (pthread_create(&t, &small, sleeper, NULL) != 0)
			return 2;
		pthread_setname_np(t, "idler");
	}
	usleep(100000);
	fflush(stdout);
	pid_t child = fork();
	if (child < 0)
		return 2;
	if (child == 0) {
		drain();
		_exit(0);
	}
	printf("ready %d\n", (int)child);
	fflush(stdout);
	drain();
	waitpid(child, NULL, 0);
	_exit(0);
}
