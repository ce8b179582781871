/*
 * fork while other threads run (one blocked on a condvar, one sleeping,
 * one holding a mutex), from a thread that is not main. POSIX: the child
 * has only the forking thread; it must be able to create threads and use
 * mutexes, condvars, semaphores and sleeps itself, then exit with its own
 * status, while the parent carries on unaffected.
 */
#include "check.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <sys/wait.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static atomic_int stop, counter;
static sem_t sem;

static void *blocked(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	while (!stop)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	while (!stop)
		usleep(1000);
	return NULL;
}

static void *holder(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&held);
	while (!stop)
		usleep(1000);
	pthread_mutex_unlock(&held);
	return NULL;
}

static void *child_worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++) {
		pthread_mutex_lock(&mu);
		counter++;
		pthread_mutex_unlock(&mu);
		if (i % 100 == 0)
			usleep(100);
	}
	sem_post(&sem);
	return NULL;
}

static int child_main(void)
{
	pthread_t t[8];

	/* the child's copies: nobody else runs here */
	counter = 0;
	CHECK_OK(sem_init(&sem, 0, 0) == 0 ? 0 : errno);
	for (int i = 0; i < 8; i++)
		CHECK_OK(pthread_create(&t[i], NULL, child_worker, NULL));
	for (int i = 0; i < 8; i++)
		CHECK_OK(sem_wait(&sem) == 0 ? 0 : errno);
	for (int i = 0; i < 8; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	CHECK_INT(counter, ==, 8000);
	return 42;
}

static void *forker(void *arg)
{
	int status;

	(void)arg;
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(child_main());
	CHECK_INT((int)waitpid(pid, &status, 0), ==, (int)pid);
	CHECK(WIFEXITED(status));
	CHECK_INT(WEXITSTATUS(status), ==, 42);
	return NULL;
}

int main(void)
{
	pthread_t b, s, h, f;

	CHECK_OK(pthread_create(&b, NULL, blocked, NULL));
	CHECK_OK(pthread_create(&s, NULL, sleeper, NULL));
	CHECK_OK(pthread_create(&h, NULL, holder, NULL));
	usleep(20000);
	CHECK_OK(pthread_create(&f, NULL, forker, NULL));
	CHECK_OK(pthread_join(f, NULL));
	stop = 1;
	pthread_mutex_lock(&mu);
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	CHECK_OK(pthread_join(b, NULL));
	CHECK_OK(pthread_join(s, NULL));
	CHECK_OK(pthread_join(h, NULL));
	return T_PASS;
}
