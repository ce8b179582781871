/*
 * malloc works from many threads at once, including memory freed by a
 * thread other than the one that allocated it (malloc's per-thread caches
 * and arenas must follow their thread): every block keeps its contents
 * until freed, and realloc/calloc behave.
 */
#include "check.h"

#include <pthread.h>
#include <sched.h>

#define NTHREADS	8
#define BLOCKS		2000

struct batch {
	unsigned char *p[BLOCKS];
	size_t len[BLOCKS];
	int owner;
};

static struct batch batches[NTHREADS];
static struct t_barrier barrier;

static unsigned char pattern(int owner, int i, size_t k)
{
	return (unsigned char)(owner * 37 + i * 11 + (int)k);
}

static void fill(struct batch *b, int owner)
{
	b->owner = owner;
	for (int i = 0; i < BLOCKS; i++) {
		size_t len = (size_t)(16 + (i * 97 + owner * 13) % 3000);

		if (i % 5 == 0) {
			b->p[i] = calloc(1, len);
			CHECK(b->p[i] != NULL);
			for (size_t k = 0; k < len; k++)
				CHECK_INT(b->p[i][k], ==, 0);
		} else {
			b->p[i] = malloc(len);
			CHECK(b->p[i] != NULL);
		}
		for (size_t k = 0; k < len; k++)
			b->p[i][k] = pattern(owner, i, k);
		b->len[i] = len;
		if (i % 200 == 0)
			sched_yield();
	}
}

static void verify_and_free(struct batch *b)
{
	for (int i = 0; i < BLOCKS; i++) {
		for (size_t k = 0; k < b->len[i]; k++)
			if (b->p[i][k] != pattern(b->owner, i, k))
				FAIL("block %d of thread %d corrupted at %zu",
				     i, b->owner, k);
		if (i % 3 == 0) {
			size_t len = b->len[i] * 2;
			unsigned char *q = realloc(b->p[i], len);

			CHECK(q != NULL);
			for (size_t k = 0; k < b->len[i]; k++)
				CHECK_INT(q[k], ==, pattern(b->owner, i, k));
			b->p[i] = q;
		}
		free(b->p[i]);
		b->p[i] = NULL;
	}
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;

	for (int round = 0; round < 3; round++) {
		fill(&batches[id], id);
		t_barrier_wait(&barrier);
		/* Free a neighbour's blocks: cross-thread frees. */
		verify_and_free(&batches[(id + 1 + round) % NTHREADS]);
		t_barrier_wait(&barrier);
	}
	return NULL;
}

int main(void)
{
	pthread_t tids[NTHREADS];

	t_barrier_init(&barrier, NTHREADS);
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&tids[i], NULL, worker,
					(void *)(intptr_t)i));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(tids[i], NULL));
	return T_PASS;
}
