/*
 * Up to 100000 threads with small stacks exist at once, all blocked on one
 * condition until main releases them, then each runs exactly once and is
 * joined.  Natively glibc runs out of mappings (EAGAIN) at about 32000
 * threads: that is accepted there, but under libgmp all 100000 must exist.
 * Any error other than EAGAIN fails.
 */
/* timeout: 300 */
#include "check.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#define MAX_THREADS	100000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go = PTHREAD_COND_INITIALIZER;
static pthread_cond_t all_waiting = PTHREAD_COND_INITIALIZER;
static int waiting;
static int target = -1;	/* known once creation stopped */
static int released;
static atomic_int ran[MAX_THREADS];
static pthread_t tids[MAX_THREADS];

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;

	pthread_mutex_lock(&mu);
	waiting++;
	if (waiting == target)
		pthread_cond_signal(&all_waiting);
	while (!released)
		pthread_cond_wait(&go, &mu);
	pthread_mutex_unlock(&mu);
	atomic_fetch_add(&ran[id], 1);
	return (void *)(intptr_t)(id + 1);
}

int main(void)
{
	int strict = t_under_libgmp();
	pthread_attr_t attr;
	int created = 0, err = 0;

	CHECK_OK(pthread_attr_init(&attr));
	CHECK_OK(pthread_attr_setstacksize(&attr, PTHREAD_STACK_MIN * 4));
	for (; created < MAX_THREADS; created++) {
		err = pthread_create(&tids[created], &attr, worker,
				     (void *)(intptr_t)created);
		if (err != 0)
			break;
	}
	CHECK_OK(pthread_attr_destroy(&attr));
	if (err != 0 && err != EAGAIN)
		FAIL("pthread_create #%d: %s", created, strerror(err));
	if (err == EAGAIN && strict)
		FAIL("pthread_create #%d: EAGAIN under libgmp", created);
	if (err == EAGAIN)
		fprintf(stderr, "native: EAGAIN after %d threads\n", created);
	CHECK_INT(created, >, 0);

	/* Every created thread reaches the wait before anyone is released. */
	pthread_mutex_lock(&mu);
	target = created;
	while (waiting < created)
		pthread_cond_wait(&all_waiting, &mu);
	CHECK_INT(waiting, ==, created);
	for (int i = 0; i < created; i++)
		CHECK_INT(ran[i], ==, 0);
	released = 1;
	pthread_cond_broadcast(&go);
	pthread_mutex_unlock(&mu);

	for (int i = 0; i < created; i++) {
		void *ret;

		CHECK_OK(pthread_join(tids[i], &ret));
		CHECK_INT((intptr_t)ret, ==, i + 1);
	}
	for (int i = 0; i < created; i++)
		CHECK_INT(ran[i], ==, 1);
	for (int i = created; i < MAX_THREADS; i++)
		CHECK_INT(ran[i], ==, 0);
	return T_PASS;
}
