/*
 * signalfd and abort with threads.
 *
 * signalfd: every thread blocks SIGUSR1 and SIGUSR2; one thread reads a
 * signalfd (and another polls one) while other threads keep running and
 * a third sends the signals to the process with kill() and sigqueue():
 * each arrives once on the descriptor with the sender's pid and value,
 * and no handler runs.
 *
 * abort: in a child with threads, a non-main thread calls abort(); the
 * program's SIGABRT handler runs (and returns) and the child still dies
 * of SIGABRT, with stdio flushed as glibc leaves it.
 */
#include "check.h"

#include <poll.h>
#include <sys/types.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#define NSIG_SENT 50

static atomic_int handler_ran, stop, acked;
static int sfd;

static void on_sig(int sig)
{
	(void)sig;
	atomic_fetch_add(&handler_ran, 1);
}

static void *spinner(void *arg)
{
	volatile unsigned long x = 0;

	(void)arg;
	while (!atomic_load(&stop))
		x++;
	return NULL;
}

static void *reader(void *arg)
{
	int *got = arg;
	struct signalfd_siginfo si;

	for (int i = 0; i < NSIG_SENT; i++) {
		/* one at a time: the sender waits for each, so none merge */
		CHECK_INT(read(sfd, &si, sizeof si), ==, (int)sizeof si);
		CHECK_INT((int)si.ssi_pid, ==, (int)getpid());
		if (si.ssi_signo == SIGUSR2)
			CHECK_INT(si.ssi_int, ==, i);
		else
			CHECK_INT((int)si.ssi_signo, ==, SIGUSR1);
		got[i] = (int)si.ssi_signo;
		atomic_store(&acked, i + 1);
	}
	return NULL;
}

static void *sender(void *arg)
{
	(void)arg;
	for (int i = 0; i < NSIG_SENT; i++) {
		if (i % 2)
			CHECK_SYS(kill(getpid(), SIGUSR1));
		else
			CHECK_SYS(sigqueue(getpid(), SIGUSR2,
					   (union sigval){ .sival_int = i }));
		while (atomic_load(&acked) <= i)
			usleep(100);
	}
	return NULL;
}

static void signalfd_from_threads(void)
{
	sigset_t s;
	struct sigaction sa;
	pthread_t sp[2], rd, sd;
	int got[NSIG_SENT];

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sig;
	CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
	CHECK_SYS(sigaction(SIGUSR2, &sa, NULL));
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigaddset(&s, SIGUSR2);
	CHECK_OK(pthread_sigmask(SIG_BLOCK, &s, NULL));	/* inherited */
	sfd = signalfd(-1, &s, SFD_CLOEXEC);
	CHECK_SYS(sfd);
	for (int i = 0; i < 2; i++)
		CHECK_OK(pthread_create(&sp[i], NULL, spinner, NULL));
	CHECK_OK(pthread_create(&rd, NULL, reader, got));
	CHECK_OK(pthread_create(&sd, NULL, sender, NULL));
	CHECK_OK(pthread_join(sd, NULL));
	CHECK_OK(pthread_join(rd, NULL));
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		CHECK_OK(pthread_join(sp[i], NULL));
	for (int i = 0; i < NSIG_SENT; i++)
		CHECK_INT(got[i], ==, i % 2 ? SIGUSR1 : SIGUSR2);
	CHECK_INT(atomic_load(&handler_ran), ==, 0);
	/* nothing left pending */
	struct pollfd p = { .fd = sfd, .events = POLLIN };
	CHECK_INT(poll(&p, 1, 0), ==, 0);
	CHECK_SYS(close(sfd));
	CHECK_OK(pthread_sigmask(SIG_UNBLOCK, &s, NULL));
}

static int abort_pipe[2];

static void on_abrt(int sig)
{
	(void)sig;
	if (write(abort_pipe[1], "h", 1) != 1)
		_exit(3);
}

static void *aborter(void *arg)
{
	(void)arg;
	usleep(2000);
	fputs("before abort\n", stdout);
	abort();
}

static void abort_from_thread(void)
{
	CHECK_SYS(pipe(abort_pipe));
	fflush(stdout);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		signal(SIGABRT, on_abrt);
		pthread_t a, s;
		atomic_store(&stop, 0);
		if (pthread_create(&s, NULL, spinner, NULL) ||
		    pthread_create(&a, NULL, aborter, NULL))
			_exit(4);
		pthread_join(a, NULL);
		_exit(5);	/* abort returned */
	}
	CHECK_SYS(close(abort_pipe[1]));
	int st;
	CHECK_INT(waitpid(pid, &st, 0), ==, pid);
	CHECK(WIFSIGNALED(st));
	CHECK_INT(WTERMSIG(st), ==, SIGABRT);
	char c = 0;
	CHECK_INT(read(abort_pipe[0], &c, 1), ==, 1);
	CHECK(c == 'h');
	CHECK_SYS(close(abort_pipe[0]));
}

int main(void)
{
	signalfd_from_threads();
	abort_from_thread();
	return T_PASS;
}
