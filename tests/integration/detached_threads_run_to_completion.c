/*
 * Detached threads (created detached, detached by their creator after
 * creation, or detaching themselves) all run to completion: each bumps a
 * counter once and posts a semaphore main waits on.  Many rounds check
 * that exited detached threads give their resources back.
 */
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>

#define PER_ROUND	150
#define ROUNDS		60

static sem_t done;
static atomic_int counter;
static atomic_int hits[PER_ROUND];

enum how { BY_ATTR, BY_CREATOR, BY_SELF };

struct arg {
	int id;
	enum how how;
};

static struct arg args[PER_ROUND];

static void *worker(void *p)
{
	struct arg *a = p;
	pthread_attr_t attr;
	int state;

	if (a->how == BY_SELF)
		CHECK_OK(pthread_detach(pthread_self()));
	if (a->how != BY_CREATOR) {
		/* The thread's own attributes say it is detached. */
		CHECK_OK(pthread_getattr_np(pthread_self(), &attr));
		CHECK_OK(pthread_attr_getdetachstate(&attr, &state));
		CHECK_INT(state, ==, PTHREAD_CREATE_DETACHED);
		CHECK_OK(pthread_attr_destroy(&attr));
	}
	if (a->id % 7 == 0)
		sched_yield();
	atomic_fetch_add(&hits[a->id], 1);
	atomic_fetch_add(&counter, 1);
	CHECK_SYS(sem_post(&done));
	return NULL;
}

int main(void)
{
	pthread_attr_t detached;
	int state;

	CHECK_SYS(sem_init(&done, 0, 0));
	CHECK_OK(pthread_attr_init(&detached));
	CHECK_OK(pthread_attr_setdetachstate(&detached,
					     PTHREAD_CREATE_DETACHED));
	CHECK_OK(pthread_attr_getdetachstate(&detached, &state));
	CHECK_INT(state, ==, PTHREAD_CREATE_DETACHED);

	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < PER_ROUND; i++) {
			pthread_t t;

			args[i].id = i;
			args[i].how = (enum how)(i % 3);
			if (args[i].how == BY_ATTR) {
				CHECK_OK(pthread_create(&t, &detached, worker,
							&args[i]));
			} else {
				CHECK_OK(pthread_create(&t, NULL, worker,
							&args[i]));
				if (args[i].how == BY_CREATOR)
					CHECK_OK(pthread_detach(t));
			}
		}
		for (int i = 0; i < PER_ROUND; i++)
			while (sem_wait(&done) != 0)
				CHECK_INT(errno, ==, EINTR);
		CHECK_INT(counter, ==, (r + 1) * PER_ROUND);
		for (int i = 0; i < PER_ROUND; i++)
			CHECK_INT(hits[i], ==, r + 1);
	}
	CHECK_OK(pthread_attr_destroy(&detached));
	CHECK_INT(counter, ==, ROUNDS * PER_ROUND);
	return T_PASS;
}
