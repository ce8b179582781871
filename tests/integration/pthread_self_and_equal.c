/*
 * pthread_self() in a thread equals the id pthread_create returned for it,
 * stays the same across yields and sleeps, and pthread_equal tells apart
 * the ids of all live threads.
 */
#include "check.h"

#include <pthread.h>
#include <sched.h>

#define NTHREADS	24

static pthread_t created[NTHREADS];
static pthread_t seen[NTHREADS];
static pthread_t main_id;
static struct t_barrier barrier;

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	pthread_t me = pthread_self();

	seen[id] = me;
	CHECK(pthread_equal(me, pthread_self()));
	CHECK(!pthread_equal(me, main_id));
	for (int i = 0; i < 200; i++) {
		sched_yield();
		if (i % 40 == 0)
			usleep(100);
		CHECK(pthread_equal(pthread_self(), me));
	}
	t_barrier_wait(&barrier);	/* main has stored every id */
	CHECK(pthread_equal(created[id], me));
	for (int j = 0; j < NTHREADS; j++)
		if (j != id)
			CHECK(!pthread_equal(created[j], me));
	t_barrier_wait(&barrier);
	return (void *)me;
}

int main(void)
{
	void *ret;

	main_id = pthread_self();
	CHECK(pthread_equal(main_id, main_id));
	t_barrier_init(&barrier, NTHREADS + 1);
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&created[i], NULL, worker,
					(void *)(intptr_t)i));
	t_barrier_wait(&barrier);
	for (int i = 0; i < NTHREADS; i++) {
		CHECK(pthread_equal(created[i], seen[i]));
		CHECK(!pthread_equal(created[i], main_id));
		for (int j = i + 1; j < NTHREADS; j++)
			CHECK(!pthread_equal(created[i], created[j]));
	}
	t_barrier_wait(&barrier);
	for (int i = 0; i < NTHREADS; i++) {
		CHECK_OK(pthread_join(created[i], &ret));
		CHECK(pthread_equal((pthread_t)ret, created[i]));
	}
	CHECK(pthread_equal(pthread_self(), main_id));
	return T_PASS;
}
