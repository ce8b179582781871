/* Threads parked on a condvar, a semaphore, a sleep and a pipe; then
 * SIGQUIT (no handler): the process ends with SIGQUIT, as natively, and
 * under libgmp prints every thread first. */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static sem_t sem;
static int pfd[2];

static void *on_cond(void *x)
{
	pthread_mutex_lock(&mu);
	pthread_cond_wait(&cv, &mu);
	return x;
}

static void *on_sem(void *x)
{
	sem_wait(&sem);
	return x;
}

static void *on_sleep(void *x)
{
	sleep(100);
	return x;
}

static void *on_pipe(void *x)
{
	char c;
	if (read(pfd[0], &c, 1) < 0)
		return x;
	return x;
}

int main(void)
{
	void *(*fn[])(void *) = { on_cond, on_sem, on_sleep, on_pipe };
	const char *names[] = { "on-cond", "on-sem", "on-sleep", "on-pipe" };
	pthread_t t;

	sem_init(&sem, 0, 0);
	if (pipe(pfd) != 0)
		return 2;
	for (int i = 0; i < 4; i++) {
		pthread_create(&t, NULL, fn[i], NULL);
		pthread_setname_np(t, names[i]);
	}
	usleep(200000);
	kill(getpid(), SIGQUIT);
	sleep(10);
	puts("not reached");
	return 0;
}
