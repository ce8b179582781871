/*
 * demo: an ordinary pthread program of the kind libgmp is for. Nothing in
 * it knows about libgmp; tests/demo/run.sh runs it natively and under
 * gmp-run and checks that stdout is the same.
 *
 * Pipeline. STAGES threads in a chain, each owning a small bounded queue (a
 * mutex and two condvars). A source thread feeds ITEMS numbers into the
 * first queue; stage i takes each number, mixes it with i and passes it to
 * stage i+1; main drains the last queue and folds what arrives, in order,
 * into a checksum. Every item is handed over STAGES times, and a handover
 * between kernel threads costs a futex wake and a context switch: this is
 * where user-level threads win.
 *
 * Compute. WORKERS threads claim chunks of [2, LIMIT) from a shared counter
 * under a mutex, count and sum the primes in each chunk by trial division,
 * and add their totals under the same mutex. CPU-bound: libgmp should be
 * about as fast as native here, and no slower.
 *
 * stdout: the results, identical on every run; stderr: the times.
 *
 *	demo [STAGES [ITEMS [WORKERS [LIMIT]]]]
 *
 * Defaults: 1000 stages, 2000 items, 1000 workers, primes below 5000000.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QCAP	4	/* small, so stages block and hand over often */
#define CHUNK	5000

struct queue {
	pthread_mutex_t mu;
	pthread_cond_t nonempty, nonfull;
	uint64_t buf[QCAP];
	unsigned head, tail;	/* tail - head items, head % QCAP first */
};

struct stage {
	pthread_t tid;
	unsigned id;
	struct queue *in, *out;
};

static unsigned nstages = 1000, nitems = 2000, nworkers = 1000;
static unsigned long limit = 5000000;

static void die(const char *what, int err)
{
	fprintf(stderr, "demo: %s: %s\n", what, strerror(err));
	exit(1);
}

static void queue_init(struct queue *q)
{
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->nonempty, NULL);
	pthread_cond_init(&q->nonfull, NULL);
	q->head = q->tail = 0;
}

static void queue_put(struct queue *q, uint64_t v)
{
	pthread_mutex_lock(&q->mu);
	while (q->tail - q->head == QCAP)
		pthread_cond_wait(&q->nonfull, &q->mu);
	q->buf[q->tail++ % QCAP] = v;
	pthread_cond_signal(&q->nonempty);
	pthread_mutex_unlock(&q->mu);
}

static uint64_t queue_get(struct queue *q)
{
	uint64_t v;

	pthread_mutex_lock(&q->mu);
	while (q->tail == q->head)
		pthread_cond_wait(&q->nonempty, &q->mu);
	v = q->buf[q->head++ % QCAP];
	pthread_cond_signal(&q->nonfull);
	pthread_mutex_unlock(&q->mu);
	return v;
}

/* A 64-bit mixer (splitmix64's finalizer). */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void *stage_main(void *arg)
{
	struct stage *s = arg;

	for (unsigned i = 0; i < nitems; i++)
		queue_put(s->out, mix(queue_get(s->in) + s->id));
	return NULL;
}

static void *source_main(void *arg)
{
	struct queue *first = arg;

	for (unsigned i = 0; i < nitems; i++)
		queue_put(first, i);
	return NULL;
}

static void start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	int err = pthread_create(t, NULL, fn, arg);

	if (err != 0)
		die("pthread_create", err);
}

static void join(pthread_t t)
{
	int err = pthread_join(t, NULL);

	if (err != 0)
		die("pthread_join", err);
}

/* What the pipeline must deliver, computed on one thread. */
static uint64_t expected_item(unsigned i)
{
	uint64_t x = i;

	for (unsigned s = 0; s < nstages; s++)
		x = mix(x + s);
	return x;
}

static void pipeline(void)
{
	struct queue *q = calloc(nstages + 1, sizeof(*q));
	struct stage *st = calloc(nstages, sizeof(*st));
	pthread_t src;
	uint64_t sum = 0;
	unsigned wrong = 0;

	if (q == NULL || st == NULL)
		die("calloc", ENOMEM);
	for (unsigned i = 0; i <= nstages; i++)
		queue_init(&q[i]);
	for (unsigned i = 0; i < nstages; i++) {
		st[i].id = i;
		st[i].in = &q[i];
		st[i].out = &q[i + 1];
		start(&st[i].tid, stage_main, &st[i]);
	}
	start(&src, source_main, &q[0]);
	for (unsigned i = 0; i < nitems; i++) {
		uint64_t v = queue_get(&q[nstages]);

		if (i % 97 == 0 && v != expected_item(i))
			wrong++;
		sum = mix(sum ^ v);	/* order matters */
	}
	join(src);
	for (unsigned i = 0; i < nstages; i++)
		join(st[i].tid);
	printf("pipeline: %u threads passed %u items through %u queues: "
	       "checksum %016" PRIx64 ", %s\n", nstages + 1, nitems,
	       nstages + 1, sum, wrong == 0 ? "all checked items right"
					   : "WRONG ITEMS");
	free(q);
	free(st);
}

static struct {
	pthread_mutex_t mu;
	unsigned long next;	/* first number of the next unclaimed chunk */
	unsigned long count;
	uint64_t sum;
} work = { .mu = PTHREAD_MUTEX_INITIALIZER, .next = 2 };

static bool is_prime(unsigned long n)
{
	if (n < 4)
		return n >= 2;
	if (n % 2 == 0)
		return false;
	for (unsigned long d = 3; d * d <= n; d += 2)
		if (n % d == 0)
			return false;
	return true;
}

static void *worker_main(void *arg)
{
	(void)arg;
	for (;;) {
		unsigned long lo, hi, count = 0;
		uint64_t sum = 0;

		pthread_mutex_lock(&work.mu);
		lo = work.next;
		hi = lo + CHUNK < limit ? lo + CHUNK : limit;
		work.next = hi;
		pthread_mutex_unlock(&work.mu);
		if (lo >= hi)
			return NULL;
		for (unsigned long n = lo; n < hi; n++)
			if (is_prime(n)) {
				count++;
				sum += n;
			}
		pthread_mutex_lock(&work.mu);
		work.count += count;
		work.sum += sum;
		pthread_mutex_unlock(&work.mu);
	}
}

static void compute(void)
{
	pthread_t *t = calloc(nworkers, sizeof(*t));

	if (t == NULL)
		die("calloc", ENOMEM);
	for (unsigned i = 0; i < nworkers; i++)
		start(&t[i], worker_main, NULL);
	for (unsigned i = 0; i < nworkers; i++)
		join(t[i]);
	printf("compute: %u threads found %lu primes below %lu, sum %" PRIu64
	       "\n", nworkers, work.count, limit, work.sum);
	free(t);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned long arg(char **argv, int i, unsigned long min)
{
	char *end;
	unsigned long v = strtoul(argv[i], &end, 10);

	if (*argv[i] == '\0' || *end != '\0' || v < min || v > 100000000) {
		fprintf(stderr, "usage: demo [STAGES [ITEMS [WORKERS "
				"[LIMIT]]]]: bad '%s'\n", argv[i]);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	double t0, t1, t2;

	if (argc > 1)
		nstages = arg(argv, 1, 1);
	if (argc > 2)
		nitems = arg(argv, 2, 1);
	if (argc > 3)
		nworkers = arg(argv, 3, 1);
	if (argc > 4)
		limit = arg(argv, 4, 3);
	t0 = now();
	pipeline();
	t1 = now();
	compute();
	t2 = now();
	fprintf(stderr, "demo: pipeline %.3f s, compute %.3f s, total %.3f s\n",
		t1 - t0, t2 - t1, t2 - t0);
	return 0;
}
