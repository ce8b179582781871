/*
 * A signal handler that makes system calls (write, waitpid: what a shell's
 * SIGCHLD handler does) while the interrupted thread is blocked in read().
 * The handler's calls run inside the thread's own blocking call; they must
 * work and the read must still complete with the right data. The signal
 * goes with tgkill to the kernel thread sitting in read() (under libgmp,
 * the M running the reader: a G keeps its M during a syscall).
 */
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

static int pipefd[2], logfd[2];
static atomic_int handled, reader_tid;
static pthread_t reader_thread;

static void on_usr1(int sig)
{
	int saved = errno;
	char c = 'h';

	(void)sig;
	atomic_fetch_add(&handled, 1);
	if (write(logfd[1], &c, 1) != 1)
		_exit(3);
	(void)waitpid(-1, NULL, WNOHANG);	/* no children: ECHILD */
	errno = saved;
}

static void *reader(void *arg)
{
	char buf[8];
	ssize_t n;

	(void)arg;
	/* the kernel thread that will sit in read() */
	atomic_store(&reader_tid, (int)gettid());
	do
		n = read(pipefd[0], buf, sizeof buf);
	while (n < 0 && errno == EINTR);
	CHECK_INT((int)n, ==, 3);
	CHECK(memcmp(buf, "abc", 3) == 0);
	return NULL;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
	char c;

	CHECK_OK(pipe(pipefd) == 0 ? 0 : errno);
	CHECK_OK(pipe(logfd) == 0 ? 0 : errno);
	CHECK_OK(sigaction(SIGUSR1, &sa, NULL) == 0 ? 0 : errno);
	CHECK_OK(pthread_create(&reader_thread, NULL, reader, NULL));
	while (!atomic_load(&reader_tid))
		usleep(1000);
	usleep(50000);	/* let the reader block in read() */
	for (int i = 0; i < 5; i++) {
		/* to the kernel thread blocked in read() */
		CHECK_OK(tgkill(getpid(), reader_tid, SIGUSR1) == 0 ? 0
								      : errno);
		CHECK_INT((int)read(logfd[0], &c, 1), ==, 1);
	}
	CHECK_INT(atomic_load(&handled), ==, 5);
	CHECK_INT((int)write(pipefd[1], "abc", 3), ==, 3);
	CHECK_OK(pthread_join(reader_thread, NULL));
	return T_PASS;
}
