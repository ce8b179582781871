/*
 * A signal handler interrupts a thread's sleep or semaphore wait: with
 * every other thread blocking SIGUSR1, kill(getpid(), SIGUSR1) reaches
 * the main thread, whose nanosleep returns -1/EINTR with the time left,
 * clock_nanosleep returns EINTR, sleep returns the seconds left and
 * sem_wait returns -1/EINTR (the handler has no SA_RESTART: with it,
 * sem_wait restarts); each time the handler ran exactly once.
 * A condvar wait is not interrupted (it times out normally), and a
 * handler installed with signal() is reported back by sigaction.
 */
#include "check.h"

#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>

static atomic_int handled;
static atomic_int go;		/* rounds the sender should fire */
static atomic_int fired;
static sem_t sem;

static void on_usr1(int sig)
{
	(void)sig;
	handled++;
}

static void *sender(void *arg)
{
	sigset_t s;

	(void)arg;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	CHECK_OK(pthread_sigmask(SIG_BLOCK, &s, NULL));
	for (int round = 1; round <= 5; round++) {
		while (atomic_load(&go) < round)
			usleep(1000);
		usleep(50000);	/* let main block */
		CHECK_SYS(kill(getpid(), SIGUSR1));
		fired = round;
	}
	return NULL;
}

/* wait until the handler for this round ran */
static void await_handled(int round)
{
	while (atomic_load(&handled) < round)
		usleep(1000);
	CHECK_INT(handled, ==, round);
}

int main(void)
{
	struct sigaction sa, old;
	pthread_t t;
	struct timespec req = { 30, 0 }, rem = { 0, 0 };

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
	CHECK_SYS(sigaction(SIGUSR1, NULL, &old));
	CHECK(old.sa_handler == on_usr1);
	CHECK(signal(SIGUSR1, on_usr1) == on_usr1);
	CHECK_SYS(sigaction(SIGUSR1, NULL, &old));
	CHECK(old.sa_flags & SA_RESTART);
	/* without SA_RESTART, or sem_wait would restart */
	CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
	CHECK_SYS(sem_init(&sem, 0, 0));
	CHECK_OK(pthread_create(&t, NULL, sender, NULL));

	go = 1;
	errno = 0;
	CHECK_INT(nanosleep(&req, &rem), ==, -1);
	CHECK_INT(errno, ==, EINTR);
	CHECK(rem.tv_sec > 0 && rem.tv_sec < 30);
	await_handled(1);

	go = 2;
	CHECK_INT(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem), ==, EINTR);
	CHECK(rem.tv_sec > 0 && rem.tv_sec < 30);
	await_handled(2);

	go = 3;
	unsigned left = sleep(30);
	CHECK(left > 0 && left <= 30);
	await_handled(3);

	go = 4;
	errno = 0;
	CHECK_INT(sem_wait(&sem), ==, -1);
	CHECK_INT(errno, ==, EINTR);
	await_handled(4);

	/* a condvar wait is never interrupted: it times out */
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	struct timespec dl;
	go = 5;
	CHECK_SYS(clock_gettime(CLOCK_REALTIME, &dl));
	dl.tv_sec += 1;
	CHECK_OK(pthread_mutex_lock(&mu));
	int r;
	while ((r = pthread_cond_timedwait(&cv, &mu, &dl)) == 0)
		;
	CHECK_INT(r, ==, ETIMEDOUT);
	CHECK_OK(pthread_mutex_unlock(&mu));
	await_handled(5);

	CHECK_OK(pthread_join(t, NULL));
	CHECK_INT(fired, ==, 5);
	puts("ok");
	return 0;
}
