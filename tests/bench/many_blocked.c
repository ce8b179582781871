/*
 * many_blocked: how many threads can exist at once, what each costs to
 * create and how much memory it holds. Main creates N threads that all block
 * on one condvar, waits until every created thread is blocked, reads the
 * peak RSS, then releases and joins them all.
 *
 *	many_blocked [default] [N]	(N default 100k)
 *
 * Threads get stacks of 4 * PTHREAD_STACK_MIN, or with "default" the
 * default attribute's size (RLIMIT_STACK, usually 8 MiB). Natively
 * pthread_create fails with EAGAIN near 32k threads (two mappings each
 * against vm.max_map_count); that is a result, not an error: the program
 * goes on with the threads it has. Prints, with a "defstack_" infix for
 * "default":
 *	RESULT many_blocked_created <n> threads
 *	RESULT many_blocked_create <v> ns/op	  (per pthread_create)
 *	RESULT many_blocked_rss <v> KiB/thread	  (VmHWM growth / created)
 *	RESULT many_blocked_release <v> ns/op	  (broadcast + join, per thread)
 */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <unistd.h>

#include "bench.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t ready_cv = PTHREAD_COND_INITIALIZER;
static long ready;		/* threads blocked or about to; under lock */
static long want = LONG_MAX;	/* set by main once creation ends */
static int go;			/* under lock */

static void *waiter(void *arg)
{
	pthread_mutex_lock(&lock);
	if (++ready >= want)
		pthread_cond_signal(&ready_cv);
	while (!go)
		pthread_cond_wait(&go_cv, &lock);
	pthread_mutex_unlock(&lock);
	return arg;
}

/* A "Key:   123 kB" field of /proc/self/status, in KiB, or -1. No stdio:
 * at the thread limit a malloc may fail. */
static long status_kib(const char *key)
{
	static char buf[8192];
	size_t klen = strlen(key);
	ssize_t len = 0, r;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (len < (ssize_t)sizeof(buf) - 1 &&
	       (r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += r;
	close(fd);
	buf[len] = '\0';
	for (char *s = buf; *s; s++) {
		if (strncmp(s, key, klen) == 0 && s[klen] == ':')
			return strtol(s + klen + 1, NULL, 10);
		s = strchr(s, '\n');
		if (!s)
			break;
	}
	return -1;
}

static void result(const char *infix, const char *name, double v,
		   const char *unit)
{
	char full[64];

	snprintf(full, sizeof(full), "many_blocked_%s%s", infix, name);
	bench_result(full, v, unit);
}

int main(int argc, char **argv)
{
	long n = 100000, created, rss0, hwm;
	int defstack = 0, err = 0;
	pthread_attr_t attr;
	pthread_t *t;
	uint64_t t0, t1, t2, t3;
	size_t stack;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "default") == 0)
			defstack = 1;
		else if (!bench_parse_count(argv[i], &n))
			bench_usage(argv[0], "[default] [N]");
	}
	t = calloc(n, sizeof(*t));
	if (!t)
		bench_check(ENOMEM, "calloc");
	bench_check(pthread_attr_init(&attr), "pthread_attr_init");
	if (!defstack)
		bench_check(pthread_attr_setstacksize(&attr,
						      PTHREAD_STACK_MIN * 4),
			    "pthread_attr_setstacksize");
	bench_check(pthread_attr_getstacksize(&attr, &stack),
		    "pthread_attr_getstacksize");
	rss0 = status_kib("VmRSS");

	t0 = bench_now_ns();
	for (created = 0; created < n; created++) {
		err = pthread_create(&t[created], &attr, waiter, NULL);
		if (err)
			break;
	}
	t1 = bench_now_ns();

	pthread_mutex_lock(&lock);
	want = created;
	while (ready < created)
		pthread_cond_wait(&ready_cv, &lock);
	pthread_mutex_unlock(&lock);
	hwm = status_kib("VmHWM");

	t2 = bench_now_ns();
	pthread_mutex_lock(&lock);
	go = 1;
	pthread_cond_broadcast(&go_cv);
	pthread_mutex_unlock(&lock);
	for (long i = 0; i < created; i++)
		bench_check(pthread_join(t[i], NULL), "pthread_join");
	t3 = bench_now_ns();

	/* Report only now: the threads are gone, stdio can allocate. */
	fprintf(stderr, "many_blocked: %zu KiB stacks, %ld of %ld created",
		stack / 1024, created, n);
	if (err)
		fprintf(stderr, " (pthread_create: %s)", strerror(err));
	fprintf(stderr, ", create %.3f s, release+join %.3f s, "
		"RSS %ld -> peak %ld KiB\n", (t1 - t0) / 1e9,
		(t3 - t2) / 1e9, rss0, hwm);
	if (created == 0)
		return 1;
	const char *infix = defstack ? "defstack_" : "";
	result(infix, "created", created, "threads");
	result(infix, "create", (double)(t1 - t0) / created, "ns/op");
	if (rss0 >= 0 && hwm >= 0)
		result(infix, "rss", (double)(hwm - rss0) / created,
		       "KiB/thread");
	result(infix, "release", (double)(t3 - t2) / created, "ns/op");
	return 0;
}
