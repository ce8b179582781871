/*
 * ring: the classic thread ring. 503 threads stand in a ring, each with a
 * mailbox; a token carrying a count goes round, each thread taking it from
 * its own mailbox and putting count-1 in the next one's, until it reaches 0.
 * Only one thread is runnable at a time, so every hop is a wakeup of a
 * different, cold thread. The mailbox is a mutex+condvar, or with "sem" a
 * semaphore.
 *
 *	ring [sem] [N]			(N hops, default 100k)
 *
 * Prints RESULT ring (or ring_sem) in ns per hop. The thread that sees 0
 * sends a stop token round the ring; each passes it on and exits.
 */
#include <pthread.h>
#include <semaphore.h>

#include "bench.h"

#define NTHREADS 503
#define STOP (-1L)

struct node {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	sem_t sem;
	long token;		/* under lock, or handed over by sem */
	int full;		/* under lock; cond mode only */
	int id;
} __attribute__((aligned(64)));

static struct node ring[NTHREADS];
static int use_sem;
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t start_cv = PTHREAD_COND_INITIALIZER;
static int started;		/* under start_lock */
static int winner = -1;		/* written by the winner before STOP goes */
static uint64_t t_end;

static void node_send(struct node *nd, long v)
{
	if (use_sem) {
		nd->token = v;
		if (sem_post(&nd->sem) != 0)
			bench_check(errno, "sem_post");
		return;
	}
	pthread_mutex_lock(&nd->lock);
	nd->token = v;
	nd->full = 1;
	pthread_cond_signal(&nd->cv);
	pthread_mutex_unlock(&nd->lock);
}

static long node_recv(struct node *nd)
{
	long v;

	if (use_sem) {
		while (sem_wait(&nd->sem) != 0)
			if (errno != EINTR)
				bench_check(errno, "sem_wait");
		return nd->token;
	}
	pthread_mutex_lock(&nd->lock);
	while (!nd->full)
		pthread_cond_wait(&nd->cv, &nd->lock);
	nd->full = 0;
	v = nd->token;
	pthread_mutex_unlock(&nd->lock);
	return v;
}

static void *member(void *arg)
{
	struct node *me = arg, *next = &ring[(me->id + 1) % NTHREADS];
	long v;

	pthread_mutex_lock(&start_lock);
	if (++started == NTHREADS)
		pthread_cond_signal(&start_cv);
	pthread_mutex_unlock(&start_lock);

	for (;;) {
		v = node_recv(me);
		if (v == STOP) {
			if (me->id != winner)
				node_send(next, STOP);
			return NULL;
		}
		if (v == 0) {
			t_end = bench_now_ns();
			winner = me->id;
			node_send(next, STOP);
		} else {
			node_send(next, v - 1);
		}
	}
}

int main(int argc, char **argv)
{
	pthread_t t[NTHREADS];
	long n = 100000;
	uint64_t t0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "sem") == 0)
			use_sem = 1;
		else if (!bench_parse_count(argv[i], &n))
			bench_usage(argv[0], "[sem] [N]");
	}

	for (int i = 0; i < NTHREADS; i++) {
		ring[i].id = i;
		bench_check(pthread_mutex_init(&ring[i].lock, NULL),
			    "pthread_mutex_init");
		bench_check(pthread_cond_init(&ring[i].cv, NULL),
			    "pthread_cond_init");
		if (sem_init(&ring[i].sem, 0, 0) != 0)
			bench_check(errno, "sem_init");
	}
	for (int i = 0; i < NTHREADS; i++)
		bench_check(pthread_create(&t[i], NULL, member, &ring[i]),
			    "pthread_create");
	pthread_mutex_lock(&start_lock);
	while (started < NTHREADS)
		pthread_cond_wait(&start_cv, &start_lock);
	pthread_mutex_unlock(&start_lock);

	t0 = bench_now_ns();
	node_send(&ring[0], n);
	for (int i = 0; i < NTHREADS; i++)
		bench_check(pthread_join(t[i], NULL), "pthread_join");

	if (winner != n % NTHREADS) {
		fprintf(stderr, "ring: thread %d saw 0, want %ld\n", winner,
			n % NTHREADS);
		return 1;
	}
	fprintf(stderr, "ring: %d threads, %s, %ld hops in %.3f s\n",
		NTHREADS, use_sem ? "semaphores" : "mutex+cond", n,
		(t_end - t0) / 1e9);
	bench_result(use_sem ? "ring_sem" : "ring", (double)(t_end - t0) / n,
		     "ns/hop");
	return 0;
}
