/*
 * Helpers shared by the integration tests.
 *
 * Each test is a plain pthread program: exit 0 = pass, 1 = fail (after
 * printing file:line and the failed check on stderr), 77 = skip (after
 * printing why).  Include this header first: it selects _GNU_SOURCE.
 */
#ifndef GMP_TEST_CHECK_H
#define GMP_TEST_CHECK_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define T_PASS	0
#define T_FAIL	1
#define T_SKIP	77

/*
 * A failed check ends the process at once with _exit(): the tests that
 * check exit paths use atexit handlers, which must not run on failure.
 */
static inline void __attribute__((noreturn, format(printf, 3, 4)))
t_fail(const char *file, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	/* One write(), so that failures in several threads do not mix. */
	n = snprintf(msg, sizeof(msg), "%s:%d: ", file, line);
	va_start(ap, fmt);
	n += vsnprintf(msg + n, sizeof(msg) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(msg) - 2)
		n = (int)sizeof(msg) - 2;
	msg[n++] = '\n';
	if (write(STDERR_FILENO, msg, (size_t)n) < 0)
		_exit(T_FAIL);
	_exit(T_FAIL);
}

#define FAIL(...)	t_fail(__FILE__, __LINE__, __VA_ARGS__)

#define CHECK(cond)							\
	do {								\
		if (!(cond))						\
			FAIL("check failed: %s", #cond);		\
	} while (0)

/* Compares two integers and prints both values on failure. */
#define CHECK_INT(a, op, b)						\
	do {								\
		long long _a = (long long)(a), _b = (long long)(b);	\
		if (!(_a op _b))					\
			FAIL("check failed: %s %s %s (%lld vs %lld)",	\
			     #a, #op, #b, _a, _b);			\
	} while (0)

/* For calls that return an error number (the pthread_* style). */
#define CHECK_RET(call, expected)					\
	do {								\
		int _r = (call), _e = (expected);			\
		if (_r != _e)						\
			FAIL("%s returned %d (%s), expected %d (%s)",	\
			     #call, _r, strerror(_r), _e,		\
			     strerror(_e));				\
	} while (0)

#define CHECK_OK(call)	CHECK_RET(call, 0)

/* For calls that return -1 and set errno. */
#define CHECK_ERRNO(call, expected_errno)				\
	do {								\
		errno = 0;						\
		long _r = (long)(call);					\
		int _e = errno;						\
		if (_r != -1 || _e != (expected_errno))			\
			FAIL("%s returned %ld errno %d (%s), "		\
			     "expected -1 errno %d (%s)", #call, _r,	\
			     _e, strerror(_e), (expected_errno),	\
			     strerror(expected_errno));			\
	} while (0)

#define CHECK_SYS(call)							\
	do {								\
		if ((long)(call) == -1)					\
			FAIL("%s failed: %s", #call, strerror(errno));	\
	} while (0)

#define SKIP(...)							\
	do {								\
		fprintf(stderr, "skip: ");				\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		exit(T_SKIP);						\
	} while (0)

/* True when libgmp is preloaded into this process. */
static inline int t_under_libgmp(void)
{
	return dlsym(RTLD_DEFAULT, "gmpsched_version") != NULL;
}

static inline int64_t t_now_ns(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts) != 0)
		FAIL("clock_gettime(%d): %s", (int)clk, strerror(errno));
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline struct timespec t_ts_from_ns(int64_t ns)
{
	struct timespec ts;

	ts.tv_sec = ns / 1000000000;
	ts.tv_nsec = ns % 1000000000;
	return ts;
}

/* An absolute deadline `ms` milliseconds from now on clock `clk`. */
static inline struct timespec t_deadline_ms(clockid_t clk, long ms)
{
	return t_ts_from_ns(t_now_ns(clk) + (int64_t)ms * 1000000);
}

static inline int64_t t_ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static inline void t_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * A barrier made of a mutex and a condition variable, so that a test of
 * something else does not depend on pthread_barrier_* (which has its own
 * test).  Returns 1 in exactly one thread per round, like
 * PTHREAD_BARRIER_SERIAL_THREAD.
 */
struct t_barrier {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned count, waiting;
	unsigned long generation;
};

static inline void t_barrier_init(struct t_barrier *b, unsigned count)
{
	if (pthread_mutex_init(&b->mu, NULL) != 0 ||
	    pthread_cond_init(&b->cv, NULL) != 0)
		FAIL("t_barrier_init failed");
	b->count = count;
	b->waiting = 0;
	b->generation = 0;
}

static inline int t_barrier_wait(struct t_barrier *b)
{
	unsigned long gen;
	int serial = 0;

	pthread_mutex_lock(&b->mu);
	gen = b->generation;
	if (++b->waiting == b->count) {
		b->waiting = 0;
		b->generation++;
		serial = 1;
		pthread_cond_broadcast(&b->cv);
	} else {
		while (gen == b->generation)
			pthread_cond_wait(&b->cv, &b->mu);
	}
	pthread_mutex_unlock(&b->mu);
	return serial;
}

static inline void t_barrier_destroy(struct t_barrier *b)
{
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
}

#endif
