/* Every thread waits on a condvar while one more waits on a timer
 * (argv[1] = "timer") or on a pipe a child process writes to later
 * (argv[1] = "fd"): nothing is deadlocked, and the program ends normally
 * after ~300 ms. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int go;
static int pfd[2];
static int use_fd;

static void *waiter(void *x)
{
	pthread_mutex_lock(&mu);
	while (!go)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return x;
}

static void *waker(void *x)
{
	if (use_fd) {
		char c;
		if (read(pfd[0], &c, 1) != 1)
			return x;
	} else {
		usleep(300000);
	}
	pthread_mutex_lock(&mu);
	go = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	return x;
}

int main(int argc, char **argv)
{
	pthread_t t[4], w;
	pid_t child = -1;

	use_fd = argc > 1 && strcmp(argv[1], "fd") == 0;
	if (use_fd) {
		if (pipe(pfd) != 0)
			return 2;
		child = fork();
		if (child == 0) {
			usleep(300000);
			_exit(write(pfd[1], "x", 1) == 1 ? 0 : 1);
		}
	}
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, waiter, NULL);
	pthread_create(&w, NULL, waker, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	pthread_join(w, NULL);
	if (child > 0)
		waitpid(child, NULL, 0);
	puts("woken");
	return 0;
}
