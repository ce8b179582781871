/*
 * test_timer.c: the timer heap (core/timer.c) on its own.
 *
 * This file stands in for the core files timer.c calls out to: sema.c
 * (timer_fire, which here only records what fired, in order), sched.c
 * (the global `sched` and wakep, which here counts its calls),
 * netpoll.c (netpoll_break: no poller here) and sysmon.c (sysmon_kick: no
 * monitor here). With those defined here the linker never pulls sched.o,
 * sema.o, netpoll.o or sysmon.o from the core archive,
 * so no scheduler is needed to watch timers fire.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "core.h"

/* ---- the fakes of sched.c and sema.c ---------------------------------- */

struct sched sched = { .lock = MUTEX_INIT(LOCKRANK_SCHED) };
static int nwakep;

void wakep(void)
{
	nwakep++;
}

void netpoll_break(int64_t when)
{
	(void)when;
}

void sysmon_kick(void)
{
}

/* sched.c's: wakes the M sleeping until a later time; here it records
 * the deadline it was told about and answers whether an M sleeps. */
static int64_t told_when = -1;

bool wake_timer_sleeper(int64_t when)
{
	told_when = when;
	return sched.timer_sleeper != NULL;
}

#define MAXFIRED 20000
static struct {
	g *gp;
	uint64_t gen;
} fired[MAXFIRED];
static int nfired;

void timer_fire(g *gp, uint64_t gen)
{
	if (nfired < MAXFIRED) {
		fired[nfired].gp = gp;
		fired[nfired].gen = gen;
	}
	nfired++;
}

/* ---- helpers ---------------------------------------------------------- */

static g the_g;		/* every test timer wakes it; gen says which timer */

static void timer_init(struct timer *t, int64_t when, uint64_t gen)
{
	t->when = when;
	t->gp = &the_g;
	t->gen = gen;
	t->idx = -1;
}

/* Each test starts with an empty heap and clean fakes, and leaves the heap
 * empty even when it fails (its timers are static: still valid memory). */
static int reset(void **state)
{
	(void)state;
	timers_run(INT64_MAX);
	nfired = 0;
	nwakep = 0;
	told_when = -1;
	sched.timer_sleeper = NULL;
	sched.sleep_until = 0;
	return 0;
}

/* ---- tests ------------------------------------------------------------ */

static void timers_next_is_minus_one_when_empty(void **state)
{
	(void)state;
	assert_int_equal(timers_next(), -1);
	assert_int_equal(timers_run(INT64_MAX), -1);
	assert_int_equal(nfired, 0);
}

static void timers_next_is_the_earliest_deadline(void **state)
{
	static const int64_t when[] = { 50, 10, 30, 20, 40 };
	static struct timer t[5];

	(void)state;
	for (int i = 0; i < 5; i++) {
		timer_init(&t[i], when[i], (uint64_t)i);
		timer_add(&t[i]);
		assert_true(t[i].idx >= 0);
	}
	assert_int_equal(timers_next(), 10);
	assert_int_equal(t[1].idx, 0);
	for (int i = 0; i < 5; i++)
		assert_true(timer_del(&t[i]));
}

static void timer_del_returns_true_once_then_false(void **state)
{
	static struct timer t;

	(void)state;
	timer_init(&t, 100, 0);
	timer_add(&t);
	assert_true(timer_del(&t));
	assert_int_equal(t.idx, -1);
	assert_false(timer_del(&t));
	assert_int_equal(t.idx, -1);
	assert_int_equal(timers_next(), -1);
}

static void deleted_timer_can_be_added_again(void **state)
{
	static struct timer t;

	(void)state;
	timer_init(&t, 100, 0);
	timer_add(&t);
	assert_true(timer_del(&t));
	t.when = 200;
	timer_add(&t);
	assert_int_equal(timers_next(), 200);
	assert_true(timer_del(&t));
}

/* Deleting the head again and again visits the deadlines in order. */
static void deleting_the_head_walks_the_deadlines_in_order(void **state)
{
	enum { N = 100 };
	static struct timer t[N];

	(void)state;
	for (int i = 0; i < N; i++) {
		/* a permutation of 0..N-1, ten apart */
		timer_init(&t[i], (int64_t)((i * 37) % N) * 10, (uint64_t)i);
		timer_add(&t[i]);
	}
	for (int k = 0; k < N; k++) {
		int64_t next = timers_next();
		assert_int_equal(next, k * 10);
		struct timer *head = NULL;
		for (int i = 0; i < N; i++)
			if (t[i].idx == 0)
				head = &t[i];
		assert_non_null(head);
		assert_int_equal(head->when, next);
		assert_true(timer_del(head));
		assert_int_equal(head->idx, -1);
	}
	assert_int_equal(timers_next(), -1);
}

static void deleting_from_the_middle_keeps_the_order(void **state)
{
	enum { N = 64 };
	static struct timer t[N];

	(void)state;
	for (int i = 0; i < N; i++) {
		timer_init(&t[i], (int64_t)((i * 29) % N), (uint64_t)i);
		timer_add(&t[i]);
	}
	for (int i = 0; i < N; i += 3)
		assert_true(timer_del(&t[i]));
	assert_int_equal(timers_run(INT64_MAX), -1);
	assert_int_equal(nfired, N - (N + 2) / 3);
	for (int k = 1; k < nfired; k++)
		assert_true(t[fired[k - 1].gen].when <= t[fired[k].gen].when);
	for (int k = 0; k < nfired; k++)
		assert_true(fired[k].gen % 3 != 0);
}

static void timers_run_fires_due_timers_in_deadline_order(void **state)
{
	static const int64_t when[] = { 70, 30, 10, 60, 20, 50, 40 };
	static struct timer t[7];

	(void)state;
	for (int i = 0; i < 7; i++) {
		timer_init(&t[i], when[i], (uint64_t)i);
		timer_add(&t[i]);
	}
	/* 10..40 are due at 45; 50 is next */
	assert_int_equal(timers_run(45), 50);
	assert_int_equal(nfired, 4);
	assert_int_equal(fired[0].gen, 2);	/* 10 */
	assert_int_equal(fired[1].gen, 4);	/* 20 */
	assert_int_equal(fired[2].gen, 1);	/* 30 */
	assert_int_equal(fired[3].gen, 6);	/* 40 */
	for (int k = 0; k < 4; k++)
		assert_ptr_equal(fired[k].gp, &the_g);
	for (int i = 0; i < 7; i++)
		assert_int_equal(t[i].idx >= 0, when[i] > 45);
	assert_int_equal(timers_next(), 50);
	assert_false(timer_del(&t[2]));	/* fired: no longer queued */
	assert_int_equal(timers_run(INT64_MAX), -1);
	assert_int_equal(nfired, 7);
	assert_int_equal(fired[4].gen, 5);	/* 50 */
	assert_int_equal(fired[5].gen, 3);	/* 60 */
	assert_int_equal(fired[6].gen, 0);	/* 70 */
}

static void timers_run_fires_a_timer_due_exactly_now(void **state)
{
	static struct timer t;

	(void)state;
	timer_init(&t, 1000, 7);
	timer_add(&t);
	assert_int_equal(timers_run(999), 1000);
	assert_int_equal(nfired, 0);
	assert_int_equal(timers_run(1000), -1);
	assert_int_equal(nfired, 1);
	assert_int_equal(fired[0].gen, 7);
	assert_int_equal(t.idx, -1);
}

/* timers_run pops at most 64 under the lock at a time; all must fire. */
static void timers_run_fires_more_than_one_batch(void **state)
{
	enum { N = 200 };
	static struct timer t[N + 1];

	(void)state;
	for (int i = 0; i < N; i++) {
		timer_init(&t[i], (int64_t)(N - i), (uint64_t)i);
		timer_add(&t[i]);
	}
	timer_init(&t[N], 5000, N);
	timer_add(&t[N]);
	assert_int_equal(timers_run(N), 5000);
	assert_int_equal(nfired, N);
	for (int k = 0; k < N; k++)
		assert_int_equal(fired[k].gen, N - 1 - k);
	assert_int_equal(timers_next(), 5000);
	assert_true(timer_del(&t[N]));
}

static void timers_run_returns_minus_one_after_the_last_fires(void **state)
{
	enum { N = 64 };	/* exactly one full batch */
	static struct timer t[N];

	(void)state;
	for (int i = 0; i < N; i++) {
		timer_init(&t[i], i, (uint64_t)i);
		timer_add(&t[i]);
	}
	assert_int_equal(timers_run(N), -1);
	assert_int_equal(nfired, N);
	assert_int_equal(timers_next(), -1);
}

static void earliest_timer_with_no_sleeping_m_calls_wakep(void **state)
{
	static struct timer a, b;

	(void)state;
	timer_init(&a, 100, 0);
	timer_add(&a);
	assert_int_equal(nwakep, 1);
	timer_init(&b, 200, 1);		/* not the earliest: nobody to tell */
	timer_add(&b);
	assert_int_equal(nwakep, 1);
	assert_true(timer_del(&a));
	assert_true(timer_del(&b));
}

static void earliest_timer_is_told_to_the_sleeping_m(void **state)
{
	static m sleeper;
	static struct timer t;

	(void)state;
	sched.timer_sleeper = &sleeper;
	sched.sleep_until = 1000;
	timer_init(&t, 500, 0);
	timer_add(&t);
	assert_int_equal(told_when, 500);
	assert_int_equal(nwakep, 0);	/* the sleeper re-arms */
	assert_true(timer_del(&t));
}

static void later_timer_tells_nobody(void **state)
{
	static m sleeper;
	static struct timer a, t;

	(void)state;
	sched.timer_sleeper = &sleeper;
	sched.sleep_until = 1000;
	timer_init(&a, 1000, 0);
	timer_add(&a);
	told_when = -1;
	timer_init(&t, 2000, 0);
	timer_add(&t);	/* not the earliest: nothing to re-arm */
	assert_int_equal(told_when, -1);
	assert_int_equal(nwakep, 0);
	assert_true(timer_del(&t));
	assert_true(timer_del(&a));
}

static void adding_a_queued_timer_is_fatal(void **state)
{
	static struct timer t;
	int status;
	pid_t pid;

	(void)state;
	timer_init(&t, 100, 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(2);	/* keep the child's "fatal" line quiet */
		timer_add(&t);
		timer_add(&t);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

/* ---- random operations against a reference ---------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)((rng >> 11) % n);
}

enum { RT = 512, ROPS = 10000 };

static struct timer rt[RT];
static bool rqueued[RT];	/* the reference: which timers are queued */

static int64_t ref_min(void)
{
	int64_t min = -1;

	for (int i = 0; i < RT; i++)
		if (rqueued[i] && (min < 0 || rt[i].when < min))
			min = rt[i].when;
	return min;
}

/* Every queued timer has its own slot in [0, n); the others have -1. */
static void check_indices(void)
{
	static bool used[RT];
	int n = 0;

	for (int i = 0; i < RT; i++)
		n += rqueued[i];
	memset(used, 0, sizeof used);
	for (int i = 0; i < RT; i++) {
		if (!rqueued[i]) {
			assert_int_equal(rt[i].idx, -1);
			continue;
		}
		assert_in_range(rt[i].idx, 0, n - 1);
		assert_false(used[rt[i].idx]);
		used[rt[i].idx] = true;
	}
}

/* Fire everything due at now; it must be exactly the reference's due
 * timers, in deadline order. */
static void run_and_check(int64_t now)
{
	int expect = 0;

	for (int i = 0; i < RT; i++)
		expect += rqueued[i] && rt[i].when <= now;
	nfired = 0;
	int64_t next = timers_run(now);
	assert_int_equal(nfired, expect);
	for (int k = 0; k < nfired; k++) {
		uint64_t i = fired[k].gen;
		assert_true(i < RT);
		assert_true(rqueued[i]);
		assert_true(rt[i].when <= now);
		if (k > 0)
			assert_true(rt[fired[k - 1].gen].when <= rt[i].when);
		rqueued[i] = false;
		assert_int_equal(rt[i].idx, -1);
	}
	assert_int_equal(next, ref_min());
}

static void heap_matches_a_reference_over_random_adds_and_dels(void **state)
{
	int adds = 0, dels = 0, runs = 0;

	(void)state;
	for (int i = 0; i < RT; i++)
		timer_init(&rt[i], 0, (uint64_t)i);
	for (int op = 0; op < ROPS; op++) {
		uint32_t i = rnd(RT);
		uint32_t what = rnd(100);

		if (what < 2) {
			run_and_check((int64_t)rnd(100000));
			runs++;
		} else if (rqueued[i]) {
			assert_true(timer_del(&rt[i]));
			assert_false(timer_del(&rt[i]));
			rqueued[i] = false;
			dels++;
		} else if (what < 10) {
			assert_false(timer_del(&rt[i]));
		} else {
			/* a small range: plenty of equal deadlines */
			rt[i].when = (int64_t)rnd(100000);
			timer_add(&rt[i]);
			rqueued[i] = true;
			adds++;
		}
		assert_int_equal(timers_next(), ref_min());
		if (op % 64 == 0)
			check_indices();
	}
	check_indices();
	run_and_check(INT64_MAX);
	assert_int_equal(timers_next(), -1);
	print_message("%d adds, %d dels, %d runs\n", adds, dels, runs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, reset, reset)
		T(timers_next_is_minus_one_when_empty),
		T(timers_next_is_the_earliest_deadline),
		T(timer_del_returns_true_once_then_false),
		T(deleted_timer_can_be_added_again),
		T(deleting_the_head_walks_the_deadlines_in_order),
		T(deleting_from_the_middle_keeps_the_order),
		T(timers_run_fires_due_timers_in_deadline_order),
		T(timers_run_fires_a_timer_due_exactly_now),
		T(timers_run_fires_more_than_one_batch),
		T(timers_run_returns_minus_one_after_the_last_fires),
		T(earliest_timer_with_no_sleeping_m_calls_wakep),
		T(earliest_timer_is_told_to_the_sleeping_m),
		T(later_timer_tells_nobody),
		T(adding_a_queued_timer_is_fatal),
		T(heap_matches_a_reference_over_random_adds_and_dels),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
