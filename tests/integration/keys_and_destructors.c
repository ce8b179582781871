/*
 * Thread-specific data: values are per thread, an unset key reads NULL in
 * every thread, destructors run once per thread at exit with that thread's
 * value (the key already reads NULL inside), a destructor that sets the
 * value again gets another round, up to PTHREAD_DESTRUCTOR_ITERATIONS
 * rounds, NULL values get no call, and a deleted key's destructor never
 * runs.  Many keys (past the first-level table) work too.
 */
#include "check.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define NTHREADS	8
#define NKEYS		100
#define REROUNDS	3

static pthread_key_t k_value, k_rounds, k_forever, k_null, k_deleted;
static pthread_key_t many[NKEYS];
static int slot[NTHREADS];
static atomic_int value_calls[NTHREADS];
static atomic_int rounds_calls[NTHREADS][REROUNDS + 1];
static atomic_int forever_calls[NTHREADS];
static atomic_int null_calls, deleted_calls;
static atomic_int many_calls[NTHREADS][NKEYS];
static struct t_barrier barrier;

struct tagged {
	int thread;
	int round;
};

static struct tagged rounds_tags[NTHREADS][REROUNDS + 1];
static struct tagged forever_tags[NTHREADS];
static int many_vals[NTHREADS][NKEYS];

static void value_dtor(void *v)
{
	int *p = v;

	CHECK(p >= slot && p < slot + NTHREADS);
	CHECK(pthread_getspecific(k_value) == NULL);
	value_calls[p - slot]++;
}

static void rounds_dtor(void *v)
{
	struct tagged *t = v;

	CHECK(pthread_getspecific(k_rounds) == NULL);
	rounds_calls[t->thread][t->round]++;
	if (t->round < REROUNDS) {
		struct tagged *next = &rounds_tags[t->thread][t->round + 1];

		CHECK_OK(pthread_setspecific(k_rounds, next));
	}
}

static void forever_dtor(void *v)
{
	struct tagged *t = v;

	forever_calls[t->thread]++;
	CHECK_OK(pthread_setspecific(k_forever, t));
}

static void null_dtor(void *v)
{
	(void)v;
	null_calls++;
}

static void deleted_dtor(void *v)
{
	(void)v;
	deleted_calls++;
}

static void many_dtor(void *v)
{
	int *p = v;
	int t = (int)((p - &many_vals[0][0]) / NKEYS);
	int k = (int)((p - &many_vals[0][0]) % NKEYS);

	CHECK(t >= 0 && t < NTHREADS);
	CHECK_INT(*p, ==, t * 1000 + k);
	many_calls[t][k]++;
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;

	/* Main set every key; this thread starts with nothing. */
	CHECK(pthread_getspecific(k_value) == NULL);
	CHECK(pthread_getspecific(k_rounds) == NULL);
	CHECK(pthread_getspecific(many[NKEYS - 1]) == NULL);

	CHECK_OK(pthread_setspecific(k_value, &slot[id]));
	CHECK_OK(pthread_setspecific(k_rounds, &rounds_tags[id][0]));
	CHECK_OK(pthread_setspecific(k_forever, &forever_tags[id]));
	CHECK_OK(pthread_setspecific(k_null, &slot[id]));
	CHECK_OK(pthread_setspecific(k_null, NULL));
	CHECK_OK(pthread_setspecific(k_deleted, &slot[id]));
	for (int k = 0; k < NKEYS; k++) {
		many_vals[id][k] = id * 1000 + k;
		CHECK_OK(pthread_setspecific(many[k], &many_vals[id][k]));
	}
	for (int i = 0; i < 50; i++) {
		sched_yield();
		if (i % 10 == 0)
			usleep(100);
		CHECK(pthread_getspecific(k_value) == &slot[id]);
		CHECK(pthread_getspecific(k_null) == NULL);
		for (int k = 0; k < NKEYS; k++)
			CHECK(pthread_getspecific(many[k]) ==
			      &many_vals[id][k]);
	}
	t_barrier_wait(&barrier);	/* main deletes k_deleted */
	t_barrier_wait(&barrier);
	return NULL;
}

int main(void)
{
	pthread_t tids[NTHREADS];
	static int main_val;

	for (int t = 0; t < NTHREADS; t++) {
		for (int r = 0; r <= REROUNDS; r++)
			rounds_tags[t][r] = (struct tagged){ t, r };
		forever_tags[t] = (struct tagged){ t, 0 };
	}
	CHECK_OK(pthread_key_create(&k_value, value_dtor));
	CHECK_OK(pthread_key_create(&k_rounds, rounds_dtor));
	CHECK_OK(pthread_key_create(&k_forever, forever_dtor));
	CHECK_OK(pthread_key_create(&k_null, null_dtor));
	CHECK_OK(pthread_key_create(&k_deleted, deleted_dtor));
	for (int k = 0; k < NKEYS; k++)
		CHECK_OK(pthread_key_create(&many[k], many_dtor));

	CHECK(pthread_getspecific(k_value) == NULL);
	CHECK_OK(pthread_setspecific(k_value, &main_val));
	CHECK_OK(pthread_setspecific(k_rounds, &main_val));
	CHECK_OK(pthread_setspecific(many[NKEYS - 1], &main_val));

	t_barrier_init(&barrier, NTHREADS + 1);
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&tids[i], NULL, worker,
					(void *)(intptr_t)i));
	t_barrier_wait(&barrier);
	CHECK_OK(pthread_key_delete(k_deleted));
	t_barrier_wait(&barrier);
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(tids[i], NULL));

	for (int t = 0; t < NTHREADS; t++) {
		CHECK_INT(value_calls[t], ==, 1);
		for (int r = 0; r <= REROUNDS; r++)
			CHECK_INT(rounds_calls[t][r], ==, 1);
		/* glibc runs exactly PTHREAD_DESTRUCTOR_ITERATIONS rounds. */
		CHECK_INT(forever_calls[t], ==, PTHREAD_DESTRUCTOR_ITERATIONS);
		for (int k = 0; k < NKEYS; k++)
			CHECK_INT(many_calls[t][k], ==, 1);
	}
	CHECK_INT(null_calls, ==, 0);
	CHECK_INT(deleted_calls, ==, 0);
	/* Main's own values were untouched by the threads. */
	CHECK(pthread_getspecific(k_value) == &main_val);
	CHECK(pthread_getspecific(many[NKEYS - 1]) == &main_val);
	CHECK(pthread_getspecific(k_null) == NULL);
	return T_PASS;
}
