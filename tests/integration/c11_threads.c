/*
 * C11 <threads.h> works: thrd_create/thrd_join pass the result code,
 * thrd_current inside a thread equals the id thrd_create gave, thrd_exit
 * from a nested call ends the thread with its code, thrd_sleep sleeps at
 * least as asked, thrd_yield returns; mtx_plain/recursive/timed mutexes
 * exclude, mtx_trylock is thrd_busy when held, mtx_timedlock times out;
 * cnd_wait/signal/broadcast/timedwait; tss with a destructor; call_once.
 */
#include "check.h"

#include <stdatomic.h>
#include <threads.h>

#define NTHREADS	8
#define INCREMENTS	10000

static mtx_t mu;
static cnd_t cv;
static long counter;
static thrd_t ids[NTHREADS];
static thrd_t seen[NTHREADS];
static int go;
static int arrived;
static once_flag once = ONCE_FLAG_INIT;
static atomic_int once_calls;
static tss_t key;
static atomic_int tss_dtor_calls;
static int tss_vals[NTHREADS];

static void once_fn(void)
{
	once_calls++;
}

static void tss_dtor(void *v)
{
	int *p = v;

	CHECK(p >= tss_vals && p < tss_vals + NTHREADS);
	CHECK_INT(*p, ==, (int)(p - tss_vals) + 100);
	tss_dtor_calls++;
}

static _Noreturn void leave(int code)
{
	thrd_exit(code);
}

static int worker(void *arg)
{
	int id = (int)(intptr_t)arg;

	seen[id] = thrd_current();
	call_once(&once, once_fn);
	CHECK(tss_get(key) == NULL);
	tss_vals[id] = id + 100;
	CHECK_INT(tss_set(key, &tss_vals[id]), ==, thrd_success);

	/* Wait until main has started everyone. */
	CHECK_INT(mtx_lock(&mu), ==, thrd_success);
	arrived++;
	CHECK_INT(cnd_broadcast(&cv), ==, thrd_success);
	while (!go)
		CHECK_INT(cnd_wait(&cv, &mu), ==, thrd_success);
	CHECK_INT(mtx_unlock(&mu), ==, thrd_success);
	CHECK(thrd_equal(thrd_current(), ids[id]));

	for (int i = 0; i < INCREMENTS; i++) {
		CHECK_INT(mtx_lock(&mu), ==, thrd_success);
		long v = counter;
		if (i % 1000 == 0)
			thrd_yield();
		counter = v + 1;
		CHECK_INT(mtx_unlock(&mu), ==, thrd_success);
	}
	CHECK(tss_get(key) == &tss_vals[id]);
	if (id % 2)
		leave(id + 10);
	return id + 10;
}

static int busy_result;

static int try_other(void *arg)
{
	struct timespec deadline;
	int r;

	(void)arg;
	r = mtx_trylock(&mu);
	if (r == thrd_success) {
		mtx_unlock(&mu);
		return r;
	}
	CHECK_INT(r, ==, thrd_busy);
	CHECK(timespec_get(&deadline, TIME_UTC) == TIME_UTC);
	deadline.tv_nsec += 20000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	busy_result = mtx_timedlock(&mu, &deadline);
	CHECK_INT(busy_result, ==, thrd_timedout);
	return r;
}

static int run_other(thrd_start_t fn)
{
	thrd_t t;
	int res;

	CHECK_INT(thrd_create(&t, fn, NULL), ==, thrd_success);
	CHECK_INT(thrd_join(t, &res), ==, thrd_success);
	return res;
}

int main(void)
{
	struct timespec ts = { 0, 20000000 };
	int64_t start;
	int res;

	CHECK_INT(mtx_init(&mu, mtx_timed | mtx_recursive), ==, thrd_success);
	CHECK_INT(cnd_init(&cv), ==, thrd_success);
	CHECK_INT(tss_create(&key, tss_dtor), ==, thrd_success);

	for (int i = 0; i < NTHREADS; i++)
		CHECK_INT(thrd_create(&ids[i], worker, (void *)(intptr_t)i),
			  ==, thrd_success);
	CHECK_INT(mtx_lock(&mu), ==, thrd_success);
	while (arrived < NTHREADS)
		CHECK_INT(cnd_wait(&cv, &mu), ==, thrd_success);
	go = 1;
	CHECK_INT(cnd_broadcast(&cv), ==, thrd_success);
	CHECK_INT(mtx_unlock(&mu), ==, thrd_success);
	for (int i = 0; i < NTHREADS; i++) {
		CHECK_INT(thrd_join(ids[i], &res), ==, thrd_success);
		CHECK_INT(res, ==, i + 10);
		CHECK(thrd_equal(seen[i], ids[i]));
		for (int j = 0; j < i; j++)
			CHECK(!thrd_equal(ids[i], ids[j]));
	}
	CHECK_INT(counter, ==, NTHREADS * INCREMENTS);
	CHECK_INT(once_calls, ==, 1);
	CHECK_INT(tss_dtor_calls, ==, NTHREADS);

	/* Held (recursively) by main: others get busy and time out. */
	CHECK_INT(run_other(try_other), ==, thrd_success);
	CHECK_INT(mtx_lock(&mu), ==, thrd_success);
	CHECK_INT(mtx_trylock(&mu), ==, thrd_success);
	CHECK_INT(run_other(try_other), ==, thrd_busy);
	CHECK_INT(mtx_unlock(&mu), ==, thrd_success);
	CHECK_INT(run_other(try_other), ==, thrd_busy);
	CHECK_INT(mtx_unlock(&mu), ==, thrd_success);
	CHECK_INT(run_other(try_other), ==, thrd_success);

	/* cnd_timedwait times out with the mutex held again. */
	{
		struct timespec deadline;

		CHECK(timespec_get(&deadline, TIME_UTC) == TIME_UTC);
		deadline.tv_sec -= 1;
		CHECK_INT(mtx_lock(&mu), ==, thrd_success);
		CHECK_INT(cnd_timedwait(&cv, &mu, &deadline), ==,
			  thrd_timedout);
		CHECK_INT(run_other(try_other), ==, thrd_busy);
		CHECK_INT(mtx_unlock(&mu), ==, thrd_success);
	}

	start = t_now_ns(CLOCK_MONOTONIC);
	CHECK_INT(thrd_sleep(&ts, NULL), ==, 0);
	CHECK_INT(t_now_ns(CLOCK_MONOTONIC) - start, >=, 20000000);
	thrd_yield();

	tss_delete(key);
	cnd_destroy(&cv);
	mtx_destroy(&mu);
	return T_PASS;
}
