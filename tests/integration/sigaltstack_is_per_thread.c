/*
 * sigaltstack is per thread: a handler installed with SA_ONSTACK runs on
 * the alternate stack of the thread it interrupts, and on the ordinary
 * stack of a thread that has none, however the threads share kernel
 * threads. Half the threads set their own alternate stack; all of them
 * signal themselves (raise, pthread_kill) many times, yielding in
 * between so that they take turns on the same kernel threads; the
 * handler checks where it runs and what sigaltstack reports there. Then
 * the threads with a stack disable it, unmap it and exit (as Rust's
 * runtime does for every thread), and signals sent to the process with
 * kill() still find a valid stack.
 */
#include "check.h"

#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sched.h>

#define NTHREADS 8
#define ROUNDS 200
#define ALTSIZE (64 * 1024)

static __thread char *my_alt;		/* NULL: none */
static __thread atomic_int my_hits;
static atomic_int wrong;
static atomic_int handled;
static char *alts[NTHREADS];

static void on_usr1(int sig)
{
	char here;
	stack_t cur;

	(void)sig;
	atomic_fetch_add(&handled, 1);
	if (sigaltstack(NULL, &cur) != 0) {
		atomic_fetch_add(&wrong, 1);
		return;
	}
	if (my_alt) {
		if (&here < my_alt || &here >= my_alt + ALTSIZE ||
		    !(cur.ss_flags & SS_ONSTACK) || cur.ss_sp != my_alt)
			atomic_fetch_add(&wrong, 1);
	} else {
		/* not on anybody's alternate stack */
		for (int i = 0; i < NTHREADS; i++)
			if (alts[i] && &here >= alts[i] &&
			    &here < alts[i] + ALTSIZE)
				atomic_fetch_add(&wrong, 1);
		if (!(cur.ss_flags & SS_DISABLE))
			atomic_fetch_add(&wrong, 1);
	}
	atomic_fetch_add(&my_hits, 1);
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;

	if (id % 2 == 0) {
		char *m = mmap(NULL, ALTSIZE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CHECK(m != MAP_FAILED);
		stack_t ss = { .ss_sp = m, .ss_size = ALTSIZE, .ss_flags = 0 };
		CHECK_SYS(sigaltstack(&ss, NULL));
		my_alt = alts[id] = m;
	}
	stack_t cur;
	CHECK_SYS(sigaltstack(NULL, &cur));
	if (my_alt) {
		CHECK(cur.ss_sp == my_alt && cur.ss_size == ALTSIZE);
		CHECK(!(cur.ss_flags & (SS_DISABLE | SS_ONSTACK)));
	} else {
		CHECK(cur.ss_flags & SS_DISABLE);
	}
	for (int r = 0; r < ROUNDS; r++) {
		if (r % 2)
			CHECK_SYS(raise(SIGUSR1));
		else
			CHECK_OK(pthread_kill(pthread_self(), SIGUSR1));
		sched_yield();
		usleep(r % 10 == 0 ? 100 : 0);
	}
	CHECK_INT(atomic_load(&my_hits), ==, ROUNDS);
	if (my_alt) {
		/* as Rust does at thread exit: disable, then unmap */
		stack_t off = { .ss_flags = SS_DISABLE };
		CHECK_SYS(sigaltstack(&off, NULL));
		CHECK_SYS(sigaltstack(NULL, &cur));
		CHECK(cur.ss_flags & SS_DISABLE);
		alts[id] = NULL;
		CHECK_SYS(munmap(my_alt, ALTSIZE));
		my_alt = NULL;
	}
	return NULL;
}

static void *idler(void *arg)
{
	(void)arg;
	for (int i = 0; i < 50; i++)
		usleep(200);
	return NULL;
}

int main(void)
{
	struct sigaction sa;
	pthread_t t[NTHREADS];

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
	/* bad arguments fail as the kernel says */
	stack_t small = { .ss_sp = alts, .ss_size = 64, .ss_flags = 0 };
	CHECK_ERRNO(sigaltstack(&small, NULL), ENOMEM);
	stack_t bad = { .ss_sp = alts, .ss_size = ALTSIZE, .ss_flags = 99 };
	CHECK_ERRNO(sigaltstack(&bad, NULL), EINVAL);

	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&t[i], NULL, worker,
					(void *)(intptr_t)i));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	CHECK_INT(atomic_load(&wrong), ==, 0);
	CHECK_INT(atomic_load(&handled), ==, NTHREADS * ROUNDS);

	/* every alternate stack is unmapped now: process signals, taken by
	 * whichever thread, must not land on one */
	pthread_t idl[3];
	for (int i = 0; i < 3; i++)
		CHECK_OK(pthread_create(&idl[i], NULL, idler, NULL));
	for (int i = 0; i < 50; i++) {
		CHECK_SYS(kill(getpid(), SIGUSR1));
		usleep(100);
	}
	for (int i = 0; i < 3; i++)
		CHECK_OK(pthread_join(idl[i], NULL));
	CHECK_INT(atomic_load(&wrong), ==, 0);
	return T_PASS;
}
