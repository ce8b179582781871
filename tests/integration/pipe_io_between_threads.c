/*
 * Blocking I/O on pipes between threads: a reader blocked in read() does
 * not stop the writer from running (even with a single processor), data
 * arrives complete and in order through a pipe smaller than the total,
 * EOF is seen after the writer closes, and a read on an O_NONBLOCK pipe
 * still fails with EAGAIN.  The pipe flags read back as the program set
 * them.
 */
#include "check.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>

#define TOTAL		(4 * 1024 * 1024)
#define CHUNK		3000

static int fds[2];
static atomic_int reader_started;

static unsigned char byte_at(long i)
{
	return (unsigned char)(i * 31 + (i >> 11));
}

static void *writer(void *arg)
{
	unsigned char buf[CHUNK];
	long off = 0;

	(void)arg;
	while (!reader_started)
		usleep(1000);
	usleep(10000);	/* the reader is now blocked in read() */
	while (off < TOTAL) {
		long n = TOTAL - off < CHUNK ? TOTAL - off : CHUNK;

		for (long i = 0; i < n; i++)
			buf[i] = byte_at(off + i);
		for (long done = 0; done < n;) {
			ssize_t w = write(fds[1], buf + done,
					  (size_t)(n - done));

			if (w < 0 && errno == EINTR)
				continue;
			CHECK_INT(w, >, 0);
			done += w;
		}
		off += n;
	}
	CHECK_SYS(close(fds[1]));
	return NULL;
}

int main(void)
{
	unsigned char buf[7777];
	long off = 0;
	pthread_t t;
	int pfd[2];
	ssize_t r;

	CHECK_SYS(pipe(fds));
	CHECK_INT(fcntl(fds[0], F_GETFL) & O_NONBLOCK, ==, 0);
	CHECK_OK(pthread_create(&t, NULL, writer, NULL));
	reader_started = 1;
	for (;;) {
		r = read(fds[0], buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		CHECK_INT(r, >=, 0);
		if (r == 0)
			break;
		for (ssize_t i = 0; i < r; i++)
			if (buf[i] != byte_at(off + i))
				FAIL("byte %ld is %d, expected %d", off + i,
				     buf[i], byte_at(off + i));
		off += r;
	}
	CHECK_INT(off, ==, TOTAL);
	CHECK_OK(pthread_join(t, NULL));
	CHECK_SYS(close(fds[0]));

	/* Non-blocking pipes stay non-blocking. */
	CHECK_SYS(pipe2(pfd, O_NONBLOCK));
	CHECK_INT(fcntl(pfd[0], F_GETFL) & O_NONBLOCK, ==, O_NONBLOCK);
	CHECK_ERRNO(read(pfd[0], buf, 1), EAGAIN);
	CHECK_INT(write(pfd[1], "x", 1), ==, 1);
	CHECK_INT(read(pfd[0], buf, sizeof(buf)), ==, 1);
	CHECK_INT(buf[0], ==, 'x');
	CHECK_ERRNO(read(pfd[0], buf, 1), EAGAIN);
	CHECK_SYS(close(pfd[0]));
	CHECK_SYS(close(pfd[1]));
	return T_PASS;
}
