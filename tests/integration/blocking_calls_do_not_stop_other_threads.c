/*
 * Many threads blocked at once in different kinds of blocking call: read
 * on a pipe, write to a full pipe, open() of a FIFO with no writer,
 * accept, recv (TCP), recvfrom (UDP), waitpid on a child that does not
 * exit by itself (fork+exec of sleep), flock on a file locked through
 * another open file description, sigwait, poll with a 60 s timeout,
 * select and epoll_wait without one. While all of them are blocked, other
 * threads must run to completion: two threads hand a counter back and
 * forth with a mutex and condvars, a thread sleeps, and main exchanges
 * messages with a thread over a socketpair. Nothing is released until that
 * work is done, so no timing is involved: if a blocked call kept the
 * others from running, the test would hang. Then each blocked call is
 * released in turn and returns what it does natively (the child dies of
 * SIGTERM, sigwait gets SIGUSR1, ...). (Integration tests do not fork as a
 * rule; waitpid needs a child, so this one forks and execs sleep.)
 */
#include "check.h"
#include "sock_helpers.h"

#include <signal.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/wait.h>

enum blk { B_READ, B_WRITE_FULL, B_FIFO_OPEN, B_ACCEPT, B_RECV, B_RECVFROM,
	   B_WAITPID, B_FLOCK, B_SIGWAIT, B_POLL, B_SELECT, B_EPOLL, NB };

static const char *const names[NB] = {
	"read", "write to full pipe", "open fifo", "accept", "recv",
	"recvfrom", "waitpid", "flock", "sigwait", "poll", "select",
	"epoll_wait",
};

static atomic_int entered[NB], done[NB];
static long result[NB];
static int pipe_r[2], pipe_w[2], tcp[2], udp, lfd, lock_a, lock_b, ev, ep;
static int poll_p[2], sel_s[2];
static struct sockaddr_storage laddr, uaddr;
static socklen_t laddr_len, uaddr_len;
static char fifo_path[256], lock_path[256];
static pid_t child;
static sigset_t usr1;

static void *blocker(void *arg)
{
	enum blk b = (enum blk)(intptr_t)arg;
	char buf[16] = { 0 };
	struct pollfd pfd;
	struct epoll_event out;
	fd_set r;
	int st, sig, fd;
	long ret = -1;

	entered[b] = 1;
	switch (b) {
	case B_READ:
		ret = read(pipe_r[0], buf, sizeof(buf));
		break;
	case B_WRITE_FULL:
		ret = write(pipe_w[1], "w", 1);
		break;
	case B_FIFO_OPEN:
		fd = open(fifo_path, O_RDONLY);
		CHECK_SYS(fd);
		ret = read(fd, buf, sizeof(buf));
		CHECK_SYS(close(fd));
		break;
	case B_ACCEPT:
		ret = accept(lfd, NULL, NULL);
		CHECK_SYS(ret);
		CHECK_SYS(close((int)ret));
		ret = 0;
		break;
	case B_RECV:
		ret = recv(tcp[1], buf, sizeof(buf), 0);
		break;
	case B_RECVFROM:
		ret = recvfrom(udp, buf, sizeof(buf), 0, NULL, NULL);
		break;
	case B_WAITPID:
		CHECK_INT(waitpid(child, &st, 0), ==, child);
		CHECK(WIFSIGNALED(st));
		ret = WTERMSIG(st);
		break;
	case B_FLOCK:
		CHECK_SYS(flock(lock_b, LOCK_EX));
		ret = flock(lock_b, LOCK_EX | LOCK_NB);	/* ours already */
		CHECK_SYS(flock(lock_b, LOCK_UN));
		break;
	case B_SIGWAIT:
		CHECK_OK(sigwait(&usr1, &sig));
		ret = sig;
		break;
	case B_POLL:
		pfd = (struct pollfd){ poll_p[0], POLLIN, 0 };
		ret = poll(&pfd, 1, 60000);
		CHECK_REVENTS(pfd.revents, POLLIN);
		break;
	case B_SELECT:
		FD_ZERO(&r);
		FD_SET(sel_s[0], &r);
		ret = select(sel_s[0] + 1, &r, NULL, NULL, NULL);
		CHECK(FD_ISSET(sel_s[0], &r));
		break;
	default:
		ret = epoll_wait(ep, &out, 1, -1);
		CHECK(out.data.u64 == 99);
		break;
	}
	result[b] = ret;
	done[b] = 1;
	return NULL;
}

/* --- the work that must get done meanwhile --- */

#define HANDOFFS	2000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv[2] = { PTHREAD_COND_INITIALIZER,
				PTHREAD_COND_INITIALIZER };
static int turn, counter;

static void *handoff(void *arg)
{
	int me = (int)(intptr_t)arg;

	for (int i = 0; i < HANDOFFS; i++) {
		pthread_mutex_lock(&mu);
		while (turn != me)
			pthread_cond_wait(&cv[me], &mu);
		counter++;
		turn = !me;
		pthread_cond_signal(&cv[!me]);
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (int i = 0; i < 5; i++)
		t_sleep_ms(5);
	return NULL;
}

static void *echo(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char c;

	while (read(fd, &c, 1) == 1) {
		c++;
		CHECK_INT(write(fd, &c, 1), ==, 1);
	}
	return NULL;
}

static void other_work(void)
{
	pthread_t h[2], s, e;
	int sp[2];

	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
	CHECK_OK(pthread_create(&e, NULL, echo, (void *)(intptr_t)sp[1]));
	CHECK_OK(pthread_create(&s, NULL, sleeper, NULL));
	for (int i = 0; i < 2; i++)
		CHECK_OK(pthread_create(&h[i], NULL, handoff,
					(void *)(intptr_t)i));
	for (int i = 0; i < 200; i++) {
		char c = (char)i, back;

		CHECK_INT(write(sp[0], &c, 1), ==, 1);
		CHECK_INT(read(sp[0], &back, 1), ==, 1);
		CHECK_INT(back, ==, (char)(i + 1));
	}
	for (int i = 0; i < 2; i++)
		CHECK_OK(pthread_join(h[i], NULL));
	CHECK_INT(counter, ==, 2 * HANDOFFS);
	CHECK_OK(pthread_join(s, NULL));
	CHECK_SYS(shutdown(sp[0], SHUT_WR));
	CHECK_OK(pthread_join(e, NULL));
	CHECK_SYS(close(sp[0]));
	CHECK_SYS(close(sp[1]));
}

/* --- setup and release --- */

static void setup(void)
{
	char buf[4096] = { 0 };
	struct epoll_event e = { EPOLLIN, { .u64 = 99 } };

	CHECK_SYS(pipe(pipe_r));
	CHECK_SYS(pipe(pipe_w));
	t_set_nonblock(pipe_w[1], 1);
	while (write(pipe_w[1], buf, sizeof(buf)) > 0)
		;
	CHECK_INT(errno, ==, EAGAIN);
	t_set_nonblock(pipe_w[1], 0);
	snprintf(fifo_path, sizeof(fifo_path), "blocking-calls-%d.fifo",
		 (int)getpid());
	CHECK_SYS(mkfifo(fifo_path, 0600));
	lfd = t_tcp_listener(AF_INET, 4, &laddr, &laddr_len);
	CHECK(lfd >= 0);
	t_tcp_pair(tcp);
	udp = t_bound_socket(AF_INET, SOCK_DGRAM, &uaddr, &uaddr_len);
	CHECK(udp >= 0);

	fflush(NULL);
	child = fork();
	CHECK_SYS(child);
	if (child == 0) {
		execlp("sleep", "sleep", "120", (char *)NULL);
		_exit(127);
	}

	snprintf(lock_path, sizeof(lock_path), "blocking-calls-%d.lock",
		 (int)getpid());
	lock_a = open(lock_path, O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECK_SYS(lock_a);
	lock_b = open(lock_path, O_RDWR);
	CHECK_SYS(lock_b);
	CHECK_SYS(flock(lock_a, LOCK_EX));
	CHECK_ERRNO(flock(lock_b, LOCK_EX | LOCK_NB), EWOULDBLOCK);

	/* SIGUSR1 is blocked everywhere: it is for sigwait */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	CHECK_OK(pthread_sigmask(SIG_BLOCK, &usr1, NULL));

	CHECK_SYS(pipe(poll_p));
	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, sel_s));
	ev = eventfd(0, 0);
	CHECK_SYS(ev);
	ep = epoll_create1(0);
	CHECK_SYS(ep);
	CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e));
}

static void release(enum blk b)
{
	char buf[4096];
	uint64_t one = 1;
	int fd;

	switch (b) {
	case B_READ:
		CHECK_INT(write(pipe_r[1], "data", 4), ==, 4);
		break;
	case B_WRITE_FULL:
		CHECK_INT(read(pipe_w[0], buf, sizeof(buf)), ==, sizeof(buf));
		break;
	case B_FIFO_OPEN:
		fd = open(fifo_path, O_WRONLY);
		CHECK_SYS(fd);
		CHECK_INT(write(fd, "fifo", 4), ==, 4);
		CHECK_SYS(close(fd));
		break;
	case B_ACCEPT:
		fd = t_tcp_connect(&laddr, laddr_len);
		CHECK_SYS(close(fd));
		break;
	case B_RECV:
		CHECK_INT(send(tcp[0], "tcp", 3, 0), ==, 3);
		break;
	case B_RECVFROM:
		CHECK_INT(sendto(udp, "udp!!", 5, 0, (struct sockaddr *)&uaddr,
				 uaddr_len), ==, 5);
		break;
	case B_WAITPID:
		CHECK_SYS(kill(child, SIGTERM));
		break;
	case B_FLOCK:
		CHECK_SYS(flock(lock_a, LOCK_UN));
		break;
	case B_SIGWAIT:
		CHECK_SYS(kill(getpid(), SIGUSR1));
		break;
	case B_POLL:
		CHECK_INT(write(poll_p[1], "p", 1), ==, 1);
		break;
	case B_SELECT:
		CHECK_INT(send(sel_s[1], "s", 1, 0), ==, 1);
		break;
	default:
		CHECK_INT(write(ev, &one, sizeof(one)), ==, sizeof(one));
		break;
	}
}

static const long want[NB] = {
	[B_READ] = 4, [B_WRITE_FULL] = 1, [B_FIFO_OPEN] = 4, [B_ACCEPT] = 0,
	[B_RECV] = 3, [B_RECVFROM] = 5, [B_WAITPID] = SIGTERM, [B_FLOCK] = 0,
	[B_SIGWAIT] = SIGUSR1, [B_POLL] = 1, [B_SELECT] = 1, [B_EPOLL] = 1,
};

int main(void)
{
	pthread_t t[NB];

	setup();
	for (int b = 0; b < NB; b++)
		CHECK_OK(pthread_create(&t[b], NULL, blocker,
					(void *)(intptr_t)b));
	for (int b = 0; b < NB; b++)
		while (!entered[b])
			usleep(1000);
	usleep(100000);	/* all of them are in their calls */

	other_work();

	for (int b = 0; b < NB; b++)
		if (done[b])
			FAIL("%s returned before it was released", names[b]);
	/* release them one by one, each returning as natively */
	for (int b = 0; b < NB; b++) {
		release((enum blk)b);
		CHECK_OK(pthread_join(t[b], NULL));
		if (result[b] != want[b])
			FAIL("%s returned %ld, expected %ld", names[b],
			     result[b], want[b]);
	}
	CHECK_SYS(unlink(fifo_path));
	CHECK_SYS(unlink(lock_path));
	return T_PASS;
}
