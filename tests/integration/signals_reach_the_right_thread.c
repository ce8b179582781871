/*
 * Signals and threads: pthread_kill runs the handler on the target thread
 * (its pthread_self and __thread variables); a process-directed signal
 * goes to the one thread that has it unblocked; sigwait in a thread
 * receives a signal sent to it; a signal blocked in a thread stays pending
 * there until unblocked; a handler without SA_RESTART interrupts nanosleep
 * with EINTR and a remaining time; errno is preserved across handlers.
 */
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>

#define NTHREADS	8

static __thread volatile sig_atomic_t got_usr1;
static pthread_t handled_on[NTHREADS + 1];
static atomic_int handled_count;
static struct t_barrier barrier;

static void usr1_handler(int sig)
{
	int saved = errno;

	(void)sig;
	errno = 12345;	/* restored below, as handlers must */
	got_usr1 = 1;
	handled_on[atomic_fetch_add(&handled_count, 1)] = pthread_self();
	errno = saved;
}

static void *target(void *arg)
{
	(void)arg;
	t_barrier_wait(&barrier);
	errno = 777;
	while (!got_usr1)
		sched_yield();	/* cannot fail, so errno stays ours */
	CHECK_INT(errno, ==, 777);
	t_barrier_wait(&barrier);	/* main checks */
	return NULL;
}

static void targeted(void)
{
	pthread_t tids[NTHREADS];

	t_barrier_init(&barrier, NTHREADS + 1);
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&tids[i], NULL, target, NULL));
	t_barrier_wait(&barrier);
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_kill(tids[i], SIGUSR1));
	while (handled_count < NTHREADS)
		usleep(1000);
	CHECK_INT(got_usr1, ==, 0);	/* main's copy */
	for (int i = 0; i < NTHREADS; i++) {
		int found = 0;

		for (int j = 0; j < NTHREADS; j++)
			found += pthread_equal(handled_on[j], tids[i]);
		CHECK_INT(found, ==, 1);
	}
	t_barrier_wait(&barrier);
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(tids[i], NULL));
	t_barrier_destroy(&barrier);
}

static pthread_t usr2_on;
static atomic_int usr2_count;

static void usr2_handler(int sig)
{
	(void)sig;
	usr2_on = pthread_self();
	usr2_count++;
}

static void *unblocked_receiver(void *arg)
{
	sigset_t set;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	CHECK_OK(pthread_sigmask(SIG_UNBLOCK, &set, NULL));
	t_barrier_wait(&barrier);
	while (usr2_count == 0)
		usleep(1000);
	return NULL;
}

static void *blocked_bystander(void *arg)
{
	(void)arg;
	t_barrier_wait(&barrier);
	while (usr2_count == 0)
		usleep(1000);
	return NULL;
}

static void process_directed(void)
{
	sigset_t set, old;
	pthread_t rcv, by[3];

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	CHECK_OK(pthread_sigmask(SIG_BLOCK, &set, &old));
	CHECK(!sigismember(&old, SIGUSR2));
	t_barrier_init(&barrier, 5);
	for (int i = 0; i < 3; i++)	/* inherit main's blocked mask */
		CHECK_OK(pthread_create(&by[i], NULL, blocked_bystander,
					NULL));
	CHECK_OK(pthread_create(&rcv, NULL, unblocked_receiver, NULL));
	t_barrier_wait(&barrier);
	CHECK_SYS(kill(getpid(), SIGUSR2));
	CHECK_OK(pthread_join(rcv, NULL));
	for (int i = 0; i < 3; i++)
		CHECK_OK(pthread_join(by[i], NULL));
	CHECK_INT(usr2_count, ==, 1);
	CHECK(pthread_equal(usr2_on, rcv));
	t_barrier_destroy(&barrier);
	CHECK_OK(pthread_sigmask(SIG_SETMASK, &old, NULL));
}

static void *waiter(void *arg)
{
	sigset_t set;
	int sig = 0;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN);
	CHECK_OK(pthread_sigmask(SIG_BLOCK, &set, NULL));
	t_barrier_wait(&barrier);
	CHECK_OK(sigwait(&set, &sig));
	return (void *)(intptr_t)sig;
}

static void waited(void)
{
	pthread_t t;
	void *ret;

	t_barrier_init(&barrier, 2);
	CHECK_OK(pthread_create(&t, NULL, waiter, NULL));
	t_barrier_wait(&barrier);
	usleep(10000);
	CHECK_OK(pthread_kill(t, SIGRTMIN));
	CHECK_OK(pthread_join(t, &ret));
	CHECK_INT((intptr_t)ret, ==, SIGRTMIN);
	t_barrier_destroy(&barrier);
}

static void *pending_holder(void *arg)
{
	sigset_t set, pend;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	CHECK_OK(pthread_sigmask(SIG_BLOCK, &set, NULL));
	t_barrier_wait(&barrier);	/* main sends */
	t_barrier_wait(&barrier);
	for (int i = 0; i < 20; i++) {
		usleep(500);
		CHECK_INT(got_usr1, ==, 0);
	}
	CHECK_SYS(sigpending(&pend));
	CHECK(sigismember(&pend, SIGUSR1));
	CHECK_OK(pthread_sigmask(SIG_UNBLOCK, &set, NULL));
	CHECK_INT(got_usr1, ==, 1);	/* delivered on unblock */
	CHECK_SYS(sigpending(&pend));
	CHECK(!sigismember(&pend, SIGUSR1));
	return NULL;
}

static void pending(void)
{
	pthread_t t;

	t_barrier_init(&barrier, 2);
	CHECK_OK(pthread_create(&t, NULL, pending_holder, NULL));
	t_barrier_wait(&barrier);
	CHECK_OK(pthread_kill(t, SIGUSR1));
	t_barrier_wait(&barrier);
	CHECK_OK(pthread_join(t, NULL));
	t_barrier_destroy(&barrier);
}

static void *sleeper(void *arg)
{
	struct timespec req = { 10, 0 }, rem = { 0, 0 };

	(void)arg;
	t_barrier_wait(&barrier);
	CHECK_ERRNO(nanosleep(&req, &rem), EINTR);
	CHECK(got_usr1);
	CHECK(rem.tv_sec > 0 || rem.tv_nsec > 0);
	CHECK(rem.tv_sec <= 10);
	return NULL;
}

static void interrupted_sleep(void)
{
	pthread_t t;

	t_barrier_init(&barrier, 2);
	CHECK_OK(pthread_create(&t, NULL, sleeper, NULL));
	t_barrier_wait(&barrier);
	usleep(20000);
	CHECK_OK(pthread_kill(t, SIGUSR1));
	CHECK_OK(pthread_join(t, NULL));
	t_barrier_destroy(&barrier);
}

int main(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = usr1_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART */
	CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
	sa.sa_handler = usr2_handler;
	CHECK_SYS(sigaction(SIGUSR2, &sa, NULL));

	targeted();
	process_directed();
	waited();
	pending();
	interrupted_sleep();
	CHECK_OK(pthread_kill(pthread_self(), 0));
	return T_PASS;
}
