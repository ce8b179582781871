/*
 * sched_yield lets other runnable threads run: two threads that pass a
 * token back and forth by spinning on an atomic flag with sched_yield make
 * progress for thousands of rounds, and a group of threads each spinning
 * with sched_yield until all of them have checked in all get to run.
 * (With one processor, a yield that did not switch would hang here.)
 */
/* timeout: 120 */
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define ROUNDS		5000
#define SPINNERS	16

static atomic_int turn;
static atomic_int checked_in;
static int hits[2];

static void *pinger(void *arg)
{
	int me = (int)(intptr_t)arg;

	for (int i = 0; i < ROUNDS; i++) {
		while (atomic_load(&turn) != me)
			CHECK_INT(sched_yield(), ==, 0);
		hits[me]++;
		CHECK_INT(hits[me], ==, hits[1 - me] + (me == 0 ? 1 : 0));
		atomic_store(&turn, 1 - me);
	}
	return NULL;
}

static void *spinner(void *arg)
{
	(void)arg;
	atomic_fetch_add(&checked_in, 1);
	while (atomic_load(&checked_in) < SPINNERS)
		sched_yield();
	return NULL;
}

int main(void)
{
	pthread_t a, b, s[SPINNERS];

	CHECK_OK(pthread_create(&a, NULL, pinger, (void *)0));
	CHECK_OK(pthread_create(&b, NULL, pinger, (void *)1));
	CHECK_OK(pthread_join(a, NULL));
	CHECK_OK(pthread_join(b, NULL));
	CHECK_INT(hits[0], ==, ROUNDS);
	CHECK_INT(hits[1], ==, ROUNDS);

	for (int i = 0; i < SPINNERS; i++)
		CHECK_OK(pthread_create(&s[i], NULL, spinner, NULL));
	for (int i = 0; i < SPINNERS; i++)
		CHECK_OK(pthread_join(s[i], NULL));
	CHECK_INT(checked_in, ==, SPINNERS);
	return T_PASS;
}
