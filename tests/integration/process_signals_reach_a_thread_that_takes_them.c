/*
 * Process-directed signals (kill(getpid(), ...)) reach a thread that does
 * not block them, whatever that thread is doing, and never one that
 * blocks them:
 *  - a thread parked in a condition wait, the only one with SIGUSR1
 *    unblocked, runs the handler (its pthread_self) 50 times in a row
 *    while 3 other threads and main block it;
 *  - a thread computing in a loop that makes no calls, the only one with
 *    SIGUSR2 unblocked, runs the handler, which ends its loop;
 *  - a handler that calls pthread_exit ends the thread it ran on (the one
 *    in pause() with SIGALRM unblocked), with that exit value;
 *  - with every thread blocking SIGRTMIN+3, a thread in sigwaitinfo
 *    receives it with si_code SI_USER and our pid, and no handler runs;
 *  - raise() in a thread that blocks the signal leaves it pending there
 *    (sigpending) until that thread unblocks it, then the handler runs on
 *    it before pthread_sigmask returns.
 */
#include "check.h"

#include <signal.h>
#include <stdatomic.h>

#define ROUNDS 50
#define NOTHERS 3

static pthread_t target;
static atomic_int usr1_count, usr1_wrong, rt_handled;
static volatile sig_atomic_t spin_stop;
static pthread_t usr2_on, alrm_self;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int done;
static _Atomic int ready;

static void on_usr1(int sig)
{
	(void)sig;
	if (!pthread_equal(pthread_self(), target))
		atomic_fetch_add(&usr1_wrong, 1);
	atomic_fetch_add(&usr1_count, 1);
}

static void on_usr2(int sig)
{
	(void)sig;
	usr2_on = pthread_self();
	spin_stop = 1;
}

static void on_alrm(int sig)
{
	(void)sig;
	if (pthread_equal(pthread_self(), alrm_self))
		pthread_exit((void *)42);
}

static void on_rt(int sig)
{
	(void)sig;
	atomic_fetch_add(&rt_handled, 1);
}

static void block(int sig, int how)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, sig);
	CHECK_OK(pthread_sigmask(how, &s, NULL));
}

static void install(int sig, void (*fn)(int))
{
	struct sigaction sa = { .sa_handler = fn };

	sigemptyset(&sa.sa_mask);
	CHECK_SYS(sigaction(sig, &sa, NULL));
}

/* Waits on the condvar until main says done; the signals it takes are
 * the ones main's mask does not block and its own unblock says. */
static void *waiter(void *arg)
{
	int unblock = (int)(intptr_t)arg;

	if (unblock)
		block(unblock, SIG_UNBLOCK);
	atomic_fetch_add(&ready, 1);
	pthread_mutex_lock(&mu);
	while (!done)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void *spinner(void *arg)
{
	(void)arg;
	block(SIGUSR2, SIG_UNBLOCK);
	atomic_fetch_add(&ready, 1);
	while (!spin_stop)
		;	/* no calls: only a signal ends this */
	return NULL;
}

static void *pauser(void *arg)
{
	(void)arg;
	alrm_self = pthread_self();
	block(SIGALRM, SIG_UNBLOCK);
	atomic_fetch_add(&ready, 1);
	for (;;)
		pause();
	return NULL;
}

static void *sigwaiter(void *arg)
{
	sigset_t s;
	siginfo_t si;

	(void)arg;
	sigemptyset(&s);
	sigaddset(&s, SIGRTMIN + 3);
	atomic_fetch_add(&ready, 1);
	int sig = sigwaitinfo(&s, &si);
	CHECK(sig == SIGRTMIN + 3);
	CHECK(si.si_code == SI_USER);
	CHECK(si.si_pid == getpid());
	return NULL;
}

static void *raiser(void *arg)
{
	sigset_t p;

	(void)arg;
	atomic_store(&usr1_count, 0);
	target = pthread_self();	/* for on_usr1 */
	/* SIGUSR1 blocked here, as everywhere but in the first waiter */
	CHECK(raise(SIGUSR1) == 0);
	CHECK_SYS(sigpending(&p));
	CHECK(sigismember(&p, SIGUSR1) == 1);
	CHECK(atomic_load(&usr1_count) == 0);
	block(SIGUSR1, SIG_UNBLOCK);
	CHECK(atomic_load(&usr1_count) == 1);
	return NULL;
}

static void wait_ready(int n)
{
	while (atomic_load(&ready) < n)
		t_sleep_ms(1);
	atomic_store(&ready, 0);
}

int main(void)
{
	pthread_t others[NOTHERS], sp, pa, sw, ra;
	void *ret;
	sigset_t all;

	install(SIGUSR1, on_usr1);
	install(SIGUSR2, on_usr2);
	install(SIGALRM, on_alrm);
	install(SIGRTMIN + 3, on_rt);
	/* every thread starts blocking these four */
	sigemptyset(&all);
	sigaddset(&all, SIGUSR1);
	sigaddset(&all, SIGUSR2);
	sigaddset(&all, SIGALRM);
	sigaddset(&all, SIGRTMIN + 3);
	CHECK_OK(pthread_sigmask(SIG_BLOCK, &all, NULL));

	/* a parked thread, the only one taking SIGUSR1 */
	CHECK_OK(pthread_create(&target, NULL, waiter,
				(void *)(intptr_t)SIGUSR1));
	for (int i = 0; i < NOTHERS; i++)
		CHECK_OK(pthread_create(&others[i], NULL, waiter, NULL));
	wait_ready(NOTHERS + 1);
	pthread_t w1 = target;
	for (int r = 1; r <= ROUNDS; r++) {
		CHECK_SYS(kill(getpid(), SIGUSR1));
		while (atomic_load(&usr1_count) < r)
			t_sleep_ms(1);
	}
	CHECK(atomic_load(&usr1_count) == ROUNDS);
	CHECK(atomic_load(&usr1_wrong) == 0);

	/* a computing thread, the only one taking SIGUSR2 */
	CHECK_OK(pthread_create(&sp, NULL, spinner, NULL));
	wait_ready(1);
	CHECK_SYS(kill(getpid(), SIGUSR2));
	CHECK_OK(pthread_join(sp, NULL));
	CHECK(pthread_equal(usr2_on, sp));

	/* pthread_exit from a handler */
	CHECK_OK(pthread_create(&pa, NULL, pauser, NULL));
	wait_ready(1);
	CHECK_SYS(kill(getpid(), SIGALRM));
	CHECK_OK(pthread_join(pa, &ret));
	CHECK(ret == (void *)42);

	/* everybody blocks it: sigwaitinfo takes it */
	CHECK_OK(pthread_create(&sw, NULL, sigwaiter, NULL));
	wait_ready(1);
	t_sleep_ms(20);	/* most likely in sigwaitinfo by now; either way */
	CHECK_SYS(kill(getpid(), SIGRTMIN + 3));
	CHECK_OK(pthread_join(sw, NULL));
	CHECK(atomic_load(&rt_handled) == 0);

	/* raise in a thread that blocks it */
	CHECK_OK(pthread_create(&ra, NULL, raiser, NULL));
	CHECK_OK(pthread_join(ra, NULL));

	pthread_mutex_lock(&mu);
	done = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < NOTHERS; i++)
		CHECK_OK(pthread_join(others[i], NULL));
	CHECK_OK(pthread_join(w1, NULL));
	puts("ok");
	return 0;
}
