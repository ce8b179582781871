/*
 * pthread_kill runs the handler on the target thread (its pthread_self
 * and __thread variables), whether the target is blocked in a mutex, a
 * condvar wait, a barrier, a semaphore wait, a sleep or a read, or is
 * computing. A mutex, condvar or barrier wait goes on after the handler
 * (the target still needs the wakeup it waited for); a nanosleep or a
 * read returns EINTR when the handler has no SA_RESTART. pthread_kill
 * with signal 0 tests that a thread exists; a bad signal is EINVAL.
 */
#include "check.h"

#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>

static __thread volatile sig_atomic_t got;
static pthread_t ran_on;
static atomic_int handled;
static atomic_int started;
static atomic_int stop;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_barrier_t bar;
static sem_t sem;
static int pipefd[2];

static void on_usr1(int sig)
{
	(void)sig;
	got = 1;
	ran_on = pthread_self();
	handled++;
}

enum where { IN_MUTEX, IN_COND, IN_BARRIER, IN_SEM, IN_SLEEP, IN_READ,
	     COMPUTING, NWHERE };

static void *target(void *arg)
{
	enum where w = (enum where)(intptr_t)arg;
	struct timespec req = { 30, 0 };
	char c;

	got = 0;
	switch (w) {
	case IN_MUTEX:
		started = 1;
		CHECK_OK(pthread_mutex_lock(&mu));	/* main holds it */
		CHECK_OK(pthread_mutex_unlock(&mu));
		break;
	case IN_COND:
		CHECK_OK(pthread_mutex_lock(&mu));
		started = 1;
		while (!stop)
			CHECK_OK(pthread_cond_wait(&cv, &mu));
		CHECK_OK(pthread_mutex_unlock(&mu));
		break;
	case IN_BARRIER:
		started = 1;
		pthread_barrier_wait(&bar);
		break;
	case IN_SEM:
		started = 1;
		while (sem_wait(&sem) != 0)
			CHECK_INT(errno, ==, EINTR);
		break;
	case IN_SLEEP:
		started = 1;
		CHECK_INT(nanosleep(&req, NULL), ==, -1);
		CHECK_INT(errno, ==, EINTR);
		break;
	case IN_READ:
		started = 1;
		CHECK_INT(read(pipefd[0], &c, 1), ==, -1);
		CHECK_INT(errno, ==, EINTR);
		break;
	case COMPUTING:
		started = 1;
		while (!got)
			;	/* no calls at all */
		break;
	default:
		break;
	}
	CHECK_INT(got, ==, 1);
	return NULL;
}

static void kill_while(enum where w)
{
	pthread_t t;

	started = 0;
	stop = 0;
	handled = 0;
	if (w == IN_MUTEX)
		CHECK_OK(pthread_mutex_lock(&mu));
	if (w == IN_BARRIER)
		CHECK_OK(pthread_barrier_init(&bar, NULL, 2));
	CHECK_OK(pthread_create(&t, NULL, target, (void *)(intptr_t)w));
	while (!started)
		usleep(1000);
	usleep(30000);	/* let it block */
	CHECK_OK(pthread_kill(t, SIGUSR1));
	while (!handled)
		usleep(1000);
	CHECK(pthread_equal(ran_on, t));
	CHECK_INT(handled, ==, 1);
	switch (w) {	/* what the target still waits for */
	case IN_MUTEX:
		usleep(10000);
		CHECK_OK(pthread_mutex_unlock(&mu));
		break;
	case IN_COND:
		CHECK_OK(pthread_mutex_lock(&mu));
		stop = 1;
		CHECK_OK(pthread_cond_signal(&cv));
		CHECK_OK(pthread_mutex_unlock(&mu));
		break;
	case IN_BARRIER:
		pthread_barrier_wait(&bar);
		break;
	case IN_SEM:
		CHECK_SYS(sem_post(&sem));
		break;
	default:
		break;
	}
	CHECK_OK(pthread_join(t, NULL));
	if (w == IN_BARRIER)
		CHECK_OK(pthread_barrier_destroy(&bar));
}

int main(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;	/* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
	CHECK_SYS(sem_init(&sem, 0, 0));
	CHECK_SYS(pipe(pipefd));
	for (int w = 0; w < NWHERE; w++) {
		/* one P and a thread that never yields: nothing else runs
		 * until preemption exists (issue 6) */
		const char *p = getenv("GMP_MAXPROCS");
		if (w == COMPUTING && getenv("LD_PRELOAD") && p &&
		    strcmp(p, "1") == 0)
			continue;
		kill_while((enum where)w);
	}
	CHECK_OK(pthread_kill(pthread_self(), 0));
	CHECK_RET(pthread_kill(pthread_self(), 1000), EINVAL);
	puts("ok");
	return 0;
}
