/*
 * Deferred cancellation: a thread cancelled while blocked in
 * pthread_cond_wait, nanosleep, read or sem_wait (cancellation points)
 * ends with PTHREAD_CANCELED, runs its cleanup handlers in reverse order
 * (in cond_wait with the mutex held again) and its key destructors;
 * with cancellation disabled the request waits until it is enabled again
 * and pthread_testcancel is reached.
 */
#include "check.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static pthread_barrier_t barrier;
static pthread_key_t key;
static atomic_int dtor_calls;
static int order[4];
static atomic_int norder;
static int pipefd[2];
static sem_t sem;

static void dtor(void *v)
{
	CHECK(v == (void *)&key);
	dtor_calls++;
}

static void record(void *v)
{
	order[atomic_fetch_add(&norder, 1)] = (int)(intptr_t)v;
}

static void unlock_held(void *v)
{
	(void)v;
	/* The mutex is ours again: an errorcheck unlock proves it. */
	CHECK_OK(pthread_mutex_unlock(&mu));
	record((void *)3);
}

enum point { IN_COND, IN_SLEEP, IN_READ, IN_SEM };

static void *victim(void *arg)
{
	enum point where = (enum point)(intptr_t)arg;
	char c;

	CHECK_OK(pthread_setspecific(key, &key));
	pthread_cleanup_push(record, (void *)1);
	pthread_cleanup_push(record, (void *)2);
	switch (where) {
	case IN_COND:
		CHECK_OK(pthread_mutex_lock(&mu));
		pthread_cleanup_push(unlock_held, NULL);
		pthread_barrier_wait(&barrier);
		for (;;)
			pthread_cond_wait(&never, &mu);
		pthread_cleanup_pop(0);
		break;
	case IN_SLEEP:
		pthread_barrier_wait(&barrier);
		for (;;)
			sleep(10);
		break;
	case IN_READ:
		pthread_barrier_wait(&barrier);
		if (read(pipefd[0], &c, 1) >= 0)
			FAIL("read returned: nobody writes");
		break;
	case IN_SEM:
		pthread_barrier_wait(&barrier);
		sem_wait(&sem);
		break;
	}
	pthread_cleanup_pop(0);
	pthread_cleanup_pop(0);
	FAIL("the thread was not cancelled");
}

static void cancel_at(enum point where)
{
	pthread_t t;
	void *ret = NULL;
	int want_first = where == IN_COND ? 3 : 2;

	norder = 0;
	dtor_calls = 0;
	CHECK_OK(pthread_barrier_init(&barrier, NULL, 2));
	CHECK_OK(pthread_create(&t, NULL, victim, (void *)(intptr_t)where));
	pthread_barrier_wait(&barrier);
	usleep(20000);	/* let it block */
	CHECK_OK(pthread_cancel(t));
	CHECK_OK(pthread_join(t, &ret));
	if (ret != PTHREAD_CANCELED)
		FAIL("cancel point %d: join returned %p", where, ret);
	CHECK_INT(norder, ==, want_first == 3 ? 3 : 2);
	CHECK_INT(order[0], ==, want_first);
	CHECK_INT(order[norder - 2], ==, 2);
	CHECK_INT(order[norder - 1], ==, 1);
	CHECK_INT(dtor_calls, ==, 1);
	CHECK_OK(pthread_barrier_destroy(&barrier));
	if (where == IN_COND) {	/* the handler released the mutex */
		CHECK_OK(pthread_mutex_trylock(&mu));
		CHECK_OK(pthread_mutex_unlock(&mu));
	}
}

static atomic_int may_enable;
static atomic_int passed_disabled_sleep;

static void *disabled_victim(void *arg)
{
	int old;

	(void)arg;
	CHECK_OK(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old));
	CHECK_INT(old, ==, PTHREAD_CANCEL_ENABLE);
	pthread_barrier_wait(&barrier);
	while (!may_enable)
		usleep(1000);	/* a cancellation point, but disabled */
	passed_disabled_sleep = 1;
	CHECK_OK(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old));
	CHECK_INT(old, ==, PTHREAD_CANCEL_DISABLE);
	pthread_testcancel();
	FAIL("pthread_testcancel returned with a cancel pending");
}

static void cancel_disabled(void)
{
	pthread_t t;
	void *ret = NULL;

	CHECK_OK(pthread_barrier_init(&barrier, NULL, 2));
	CHECK_OK(pthread_create(&t, NULL, disabled_victim, NULL));
	pthread_barrier_wait(&barrier);
	CHECK_OK(pthread_cancel(t));
	usleep(20000);
	CHECK_INT(passed_disabled_sleep, ==, 0);
	may_enable = 1;
	CHECK_OK(pthread_join(t, &ret));
	CHECK(ret == PTHREAD_CANCELED);
	CHECK_INT(passed_disabled_sleep, ==, 1);
	CHECK_OK(pthread_barrier_destroy(&barrier));
}

int main(void)
{
	pthread_mutexattr_t ma;

	CHECK_OK(pthread_mutexattr_init(&ma));
	CHECK_OK(pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK));
	CHECK_OK(pthread_mutex_init(&mu, &ma));
	CHECK_OK(pthread_mutexattr_destroy(&ma));
	CHECK_OK(pthread_key_create(&key, dtor));
	CHECK_SYS(pipe(pipefd));
	CHECK_SYS(sem_init(&sem, 0, 0));

	cancel_at(IN_COND);
	cancel_at(IN_SLEEP);
	cancel_at(IN_READ);
	cancel_at(IN_SEM);
	cancel_disabled();
	return T_PASS;
}
