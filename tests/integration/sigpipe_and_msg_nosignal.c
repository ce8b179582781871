/*
 * Writing to a socket or pipe with no reader, from threads, as natively:
 *
 *  - with a SIGPIPE handler installed, write/send/sendmsg/writev to an
 *    AF_UNIX socket whose peer closed, send on a TCP socket after its own
 *    shutdown(SHUT_WR), send on a TCP socket reset by its peer (we are in
 *    CLOSE_WAIT) and write to a pipe whose read end is closed run the
 *    handler once, in the writing thread (thread-directed, si_code
 *    SI_USER, si_pid our pid), and fail with EPIPE;
 *  - with MSG_NOSIGNAL the call fails with EPIPE and no signal is raised;
 *  - with SIGPIPE blocked in the writing thread the signal stays pending
 *    on that thread only (not on main), and sigtimedwait takes it there;
 *  - with SIGPIPE ignored the call just fails with EPIPE;
 *  - a thread blocked writing to a full pipe is woken by the reader's
 *    close: EPIPE plus SIGPIPE if nothing was written, else the count
 *    written so far, and SIGPIPE all the same; one blocked writing to a
 *    full AF_UNIX stream socket whose peer closes with data unread fails
 *    with ECONNRESET and no signal, the next write with EPIPE and
 *    SIGPIPE.
 */
#include "check.h"
#include "sock_helpers.h"

#include <signal.h>
#include <stdatomic.h>

static atomic_int nsig, bad_info;
static pthread_t sig_thread;

static void on_pipe(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (sig != SIGPIPE || si->si_signo != SIGPIPE ||
	    si->si_code != SI_USER || si->si_pid != getpid())
		bad_info = 1;
	sig_thread = pthread_self();
	nsig++;
}

static void install(void)
{
	struct sigaction sa = { .sa_sigaction = on_pipe,
				.sa_flags = SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	CHECK_SYS(sigaction(SIGPIPE, &sa, NULL));
}

/* Expects the last call to have raised exactly one SIGPIPE, here. */
static void check_one_signal_here(int before)
{
	CHECK_INT(nsig, ==, before + 1);
	CHECK(pthread_equal(sig_thread, pthread_self()));
	CHECK_INT(bad_info, ==, 0);
}

enum kind { K_UNIX, K_TCP_SHUT, K_TCP_RESET, K_PIPE, NKINDS };

/* An fd whose writes fail with EPIPE; *other is what to close after. */
static int broken(enum kind k, int *other)
{
	struct pollfd pfd;
	int s[2];
	char c;

	switch (k) {
	case K_UNIX:
		CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
		CHECK_SYS(close(s[1]));
		*other = -1;
		return s[0];
	case K_TCP_SHUT:
		t_tcp_pair(s);
		CHECK_SYS(shutdown(s[0], SHUT_WR));
		*other = s[1];
		return s[0];
	case K_TCP_RESET:
		t_tcp_pair(s);
		CHECK_SYS(close(s[1]));
		CHECK_INT(recv(s[0], &c, 1, 0), ==, 0);	/* FIN: CLOSE_WAIT */
		/* the first send succeeds; the closed peer answers RST */
		CHECK_INT(send(s[0], "x", 1, MSG_NOSIGNAL), ==, 1);
		pfd = (struct pollfd){ .fd = s[0], .events = 0 };
		CHECK_INT(poll(&pfd, 1, -1), ==, 1);
		CHECK(pfd.revents & (POLLERR | POLLHUP));
		*other = -1;
		return s[0];
	default:
		CHECK_SYS(pipe(s));
		CHECK_SYS(close(s[0]));
		*other = -1;
		return s[1];
	}
}

static void done_with(int fd, int other)
{
	CHECK_SYS(close(fd));
	if (other >= 0)
		CHECK_SYS(close(other));
}

/* Each call family raises one SIGPIPE in this thread and fails EPIPE. */
static void *writer(void *arg)
{
	(void)arg;
	for (int k = 0; k < NKINDS; k++) {
		for (int how = 0; how < 4; how++) {
			struct iovec iov = { "abc", 3 };
			struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
			int other, fd, before;

			if (k == K_PIPE && (how == 1 || how == 2))
				continue;	/* not a socket */
			fd = broken((enum kind)k, &other);
			before = nsig;
			switch (how) {
			case 0:
				CHECK_ERRNO(write(fd, "abc", 3), EPIPE);
				break;
			case 1:
				CHECK_ERRNO(send(fd, "abc", 3, 0), EPIPE);
				break;
			case 2:
				CHECK_ERRNO(sendmsg(fd, &mh, 0), EPIPE);
				break;
			default:
				CHECK_ERRNO(writev(fd, &iov, 1), EPIPE);
				break;
			}
			check_one_signal_here(before);
			done_with(fd, other);
		}
	}
	return NULL;
}

static void *nosignal_writer(void *arg)
{
	(void)arg;
	for (int k = 0; k < NKINDS; k++) {
		struct iovec iov = { "abc", 3 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		int other, fd, before = nsig;

		if (k == K_PIPE)
			continue;
		fd = broken((enum kind)k, &other);
		CHECK_ERRNO(send(fd, "abc", 3, MSG_NOSIGNAL), EPIPE);
		CHECK_ERRNO(sendmsg(fd, &mh, MSG_NOSIGNAL), EPIPE);
		CHECK_ERRNO(sendto(fd, "abc", 3, MSG_NOSIGNAL, NULL, 0), EPIPE);
		CHECK_INT(nsig, ==, before);
		done_with(fd, other);
	}
	return NULL;
}

static atomic_int masked_pending, main_checked;

/*
 * SIGPIPE blocked here: pending on this thread, not on the process (main,
 * which has it unblocked, checks meanwhile that it neither runs the
 * handler nor sees it pending).
 */
static void *masked_writer(void *arg)
{
	struct timespec zero = { 0, 0 };
	sigset_t set, pend;
	siginfo_t si;
	int other, fd, before = nsig;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	CHECK_OK(pthread_sigmask(SIG_BLOCK, &set, NULL));
	fd = broken(K_PIPE, &other);
	CHECK_ERRNO(write(fd, "abc", 3), EPIPE);
	CHECK_INT(nsig, ==, before);
	CHECK_SYS(sigpending(&pend));
	CHECK(sigismember(&pend, SIGPIPE));
	masked_pending = 1;
	while (!main_checked)
		usleep(1000);
	CHECK_INT(nsig, ==, before);
	CHECK_INT(sigtimedwait(&set, &si, &zero), ==, SIGPIPE);
	CHECK_INT(si.si_code, ==, SI_USER);
	CHECK_SYS(sigpending(&pend));
	CHECK(!sigismember(&pend, SIGPIPE));
	done_with(fd, other);
	return NULL;
}

struct full_writer {
	int fd;
	size_t len;
	atomic_int entered;
	ssize_t ret;
	int err, nsig_before, want_sigs;
};

static void *write_blocked(void *arg)
{
	struct full_writer *fw = arg;
	char *buf = calloc(1, fw->len);

	CHECK(buf != NULL);
	fw->nsig_before = nsig;
	fw->entered = 1;
	fw->ret = write(fw->fd, buf, fw->len);
	fw->err = fw->ret < 0 ? errno : 0;
	CHECK_INT(nsig, ==, fw->nsig_before + fw->want_sigs);
	if (fw->want_sigs)
		CHECK(pthread_equal(sig_thread, pthread_self()));
	free(buf);
	return NULL;
}

/* Fills fd (non-blocking for the moment) until EAGAIN; returns bytes. */
static long fill(int fd)
{
	char buf[4096] = { 0 };
	long total = 0;
	ssize_t w;

	t_set_nonblock(fd, 1);
	while ((w = write(fd, buf, sizeof(buf))) > 0)
		total += w;
	CHECK_INT(w, ==, -1);
	CHECK_INT(errno, ==, EAGAIN);
	t_set_nonblock(fd, 0);
	return total;
}

static void blocked_writer_woken(void)
{
	struct full_writer fw;
	char *buf = malloc(100000);
	pthread_t t;
	int p[2];

	CHECK(buf != NULL);
	/* a full pipe: the blocked 1-byte write gets EPIPE */
	CHECK_SYS(pipe(p));
	CHECK_INT(fill(p[1]), >, 0);
	memset(&fw, 0, sizeof(fw));
	fw.fd = p[1];
	fw.len = 1;
	fw.want_sigs = 1;
	CHECK_OK(pthread_create(&t, NULL, write_blocked, &fw));
	while (!fw.entered)
		usleep(1000);
	usleep(50000);
	CHECK_SYS(close(p[0]));
	CHECK_OK(pthread_join(t, NULL));
	CHECK_INT(fw.ret, ==, -1);
	CHECK_INT(fw.err, ==, EPIPE);
	CHECK_SYS(close(p[1]));

	/* a 1 MiB write: the reader takes 100000 bytes and closes; the
	 * writer gets at least that count, and SIGPIPE */
	CHECK_SYS(pipe(p));
	memset(&fw, 0, sizeof(fw));
	fw.fd = p[1];
	fw.len = 1024 * 1024;
	fw.want_sigs = 1;
	CHECK_OK(pthread_create(&t, NULL, write_blocked, &fw));
	while (!fw.entered)
		usleep(1000);
	CHECK_INT(t_read_full(p[0], buf, 100000), ==, 100000);
	usleep(50000);
	CHECK_SYS(close(p[0]));
	CHECK_OK(pthread_join(t, NULL));
	CHECK_INT(fw.ret, >=, 100000);
	CHECK_INT(fw.ret, <, 1024 * 1024);
	CHECK_SYS(close(p[1]));

	/*
	 * A full AF_UNIX stream socket whose peer closes with data unread:
	 * ECONNRESET and no signal; the next write fails with EPIPE and
	 * SIGPIPE.
	 */
	{
		int s[2], before;

		CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
		CHECK_INT(fill(s[0]), >, 0);
		memset(&fw, 0, sizeof(fw));
		fw.fd = s[0];
		fw.len = 1;
		CHECK_OK(pthread_create(&t, NULL, write_blocked, &fw));
		while (!fw.entered)
			usleep(1000);
		usleep(50000);
		CHECK_SYS(close(s[1]));
		CHECK_OK(pthread_join(t, NULL));
		CHECK_INT(fw.ret, ==, -1);
		CHECK_INT(fw.err, ==, ECONNRESET);
		before = nsig;
		CHECK_ERRNO(write(s[0], "x", 1), EPIPE);
		check_one_signal_here(before);
		CHECK_SYS(close(s[0]));
	}
	free(buf);
}

int main(void)
{
	pthread_t t;
	sigset_t pend;
	int other, fd;

	install();
	CHECK_OK(pthread_create(&t, NULL, writer, NULL));
	CHECK_OK(pthread_join(t, NULL));
	writer(NULL);	/* and from main */
	CHECK_OK(pthread_create(&t, NULL, nosignal_writer, NULL));
	CHECK_OK(pthread_join(t, NULL));
	{
		int before = nsig;

		CHECK_OK(pthread_create(&t, NULL, masked_writer, NULL));
		while (!masked_pending)
			usleep(1000);
		usleep(20000);
		CHECK_SYS(sigpending(&pend));
		CHECK(!sigismember(&pend, SIGPIPE));
		CHECK_INT(nsig, ==, before);
		main_checked = 1;
		CHECK_OK(pthread_join(t, NULL));
	}
	blocked_writer_woken();

	/* ignored: just EPIPE */
	CHECK(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
	fd = broken(K_UNIX, &other);
	CHECK_ERRNO(write(fd, "abc", 3), EPIPE);
	done_with(fd, other);
	fd = broken(K_PIPE, &other);
	CHECK_ERRNO(write(fd, "abc", 3), EPIPE);
	done_with(fd, other);
	return T_PASS;
}
