/*
 * test_runq.c: the per-P run queues, runnext and the global run queue
 * (core/runq.c), linked with the real sched.c for the global `sched`.
 * The Gs are zeroed structs: the queues only look at their addresses and,
 * on the global queue, at g.schedlink.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <cmocka.h>
#include "core.h"

static g *gs_new(size_t n)
{
	g *gs = calloc(n, sizeof(g));

	assert_non_null(gs);
	return gs;
}

/* Every test starts with an empty global queue and one P. */
static int reset_sched(void **state)
{
	(void)state;
	sched.runqhead = NULL;
	sched.runqtail = NULL;
	atomic_store(&sched.runqsize, 0);
	sched.nprocs = 1;
	return 0;
}

static void runqget_returns_gs_in_fifo_order(void **state)
{
	p pp = {0};
	g *gs = gs_new(5);
	bool inherit = true;

	(void)state;
	for (int i = 0; i < 5; i++)
		runqput(&pp, &gs[i], false);
	assert_int_equal(runqlen(&pp), 5);
	for (int i = 0; i < 5; i++) {
		assert_ptr_equal(runqget(&pp, &inherit), &gs[i]);
		assert_false(inherit);
	}
	assert_null(runqget(&pp, &inherit));
	assert_true(runqempty(&pp));
	free(gs);
}

static void runnext_runs_before_the_ring_and_inherits(void **state)
{
	p pp = {0};
	g *gs = gs_new(4);
	bool inherit = false;

	(void)state;
	for (int i = 0; i < 3; i++)
		runqput(&pp, &gs[i], false);
	runqput(&pp, &gs[3], true);
	assert_int_equal(runqlen(&pp), 3);	/* runnext is not in the ring */
	assert_ptr_equal(runqget(&pp, &inherit), &gs[3]);
	assert_true(inherit);
	for (int i = 0; i < 3; i++) {
		assert_ptr_equal(runqget(&pp, &inherit), &gs[i]);
		assert_false(inherit);
	}
	assert_null(runqget(&pp, NULL));
	free(gs);
}

static void runnext_kicks_the_old_runnext_to_the_tail(void **state)
{
	p pp = {0};
	g *gs = gs_new(3);

	(void)state;
	runqput(&pp, &gs[0], false);
	runqput(&pp, &gs[1], true);
	runqput(&pp, &gs[2], true);	/* gs[1] goes behind gs[0] */
	assert_ptr_equal(atomic_load(&pp.runnext), &gs[2]);
	assert_int_equal(runqlen(&pp), 2);
	assert_ptr_equal(runqget(&pp, NULL), &gs[2]);
	assert_ptr_equal(runqget(&pp, NULL), &gs[0]);
	assert_ptr_equal(runqget(&pp, NULL), &gs[1]);
	assert_null(runqget(&pp, NULL));
	free(gs);
}

static void runqempty_is_false_with_only_runnext(void **state)
{
	p pp = {0};
	g one = {0};

	(void)state;
	assert_true(runqempty(&pp));
	runqput(&pp, &one, true);
	assert_int_equal(runqlen(&pp), 0);
	assert_false(runqempty(&pp));
	assert_ptr_equal(runqget(&pp, NULL), &one);
	assert_true(runqempty(&pp));
}

static void runqsteal_takes_half_rounded_up(void **state)
{
	p victim = {0}, thief = {0};
	g *gs = gs_new(5);

	(void)state;
	for (int i = 0; i < 5; i++)
		runqput(&victim, &gs[i], false);
	/* takes the oldest 3, returns the last of them, queues the others */
	assert_ptr_equal(runqsteal(&thief, &victim, false), &gs[2]);
	assert_int_equal(runqlen(&victim), 2);
	assert_int_equal(runqlen(&thief), 2);
	assert_ptr_equal(runqget(&thief, NULL), &gs[0]);
	assert_ptr_equal(runqget(&thief, NULL), &gs[1]);
	assert_ptr_equal(runqget(&victim, NULL), &gs[3]);
	assert_ptr_equal(runqget(&victim, NULL), &gs[4]);
	free(gs);
}

static void runqsteal_of_one_g_returns_it_and_queues_nothing(void **state)
{
	p victim = {0}, thief = {0};
	g one = {0};

	(void)state;
	runqput(&victim, &one, false);
	assert_ptr_equal(runqsteal(&thief, &victim, false), &one);
	assert_true(runqempty(&victim));
	assert_true(runqempty(&thief));
}

static void runqsteal_from_an_empty_p_returns_null(void **state)
{
	p victim = {0}, thief = {0};

	(void)state;
	assert_null(runqsteal(&thief, &victim, true));
	assert_true(runqempty(&thief));
}

static void runqsteal_takes_runnext_only_when_stealnext(void **state)
{
	p victim = {0}, thief = {0};
	g one = {0};

	(void)state;
	runqput(&victim, &one, true);
	assert_null(runqsteal(&thief, &victim, false));
	assert_ptr_equal(atomic_load(&victim.runnext), &one);
	assert_ptr_equal(runqsteal(&thief, &victim, true), &one);
	assert_null(atomic_load(&victim.runnext));
	assert_true(runqempty(&victim));
	assert_true(runqempty(&thief));
}

static void runqsteal_prefers_the_ring_to_runnext(void **state)
{
	p victim = {0}, thief = {0};
	g *gs = gs_new(2);

	(void)state;
	runqput(&victim, &gs[0], false);
	runqput(&victim, &gs[1], true);
	assert_ptr_equal(runqsteal(&thief, &victim, true), &gs[0]);
	assert_ptr_equal(atomic_load(&victim.runnext), &gs[1]);
	free(gs);
}

static void runqsteal_appends_after_the_thiefs_own_gs(void **state)
{
	p victim = {0}, thief = {0};
	g *gs = gs_new(6);

	(void)state;
	runqput(&thief, &gs[0], false);
	for (int i = 1; i < 6; i++)
		runqput(&victim, &gs[i], false);
	assert_ptr_equal(runqsteal(&thief, &victim, false), &gs[3]);
	assert_int_equal(runqlen(&thief), 3);
	assert_ptr_equal(runqget(&thief, NULL), &gs[0]);
	assert_ptr_equal(runqget(&thief, NULL), &gs[1]);
	assert_ptr_equal(runqget(&thief, NULL), &gs[2]);
	free(gs);
}

/* The ring wraps: head and tail keep counting past RUNQ_SIZE. */
static void ring_keeps_fifo_order_across_wraparound(void **state)
{
	p pp = {0};
	g *gs = gs_new(RUNQ_SIZE);
	size_t put = 0, got = 0;

	(void)state;
	for (int round = 0; round < 3 * RUNQ_SIZE; round++) {
		runqput(&pp, &gs[put++ % RUNQ_SIZE], false);
		runqput(&pp, &gs[put++ % RUNQ_SIZE], false);
		assert_ptr_equal(runqget(&pp, NULL), &gs[got++ % RUNQ_SIZE]);
		if (runqlen(&pp) > RUNQ_SIZE / 2)
			while (runqlen(&pp) > 1)
				assert_ptr_equal(runqget(&pp, NULL),
						 &gs[got++ % RUNQ_SIZE]);
	}
	while (got < put)
		assert_ptr_equal(runqget(&pp, NULL), &gs[got++ % RUNQ_SIZE]);
	assert_null(runqget(&pp, NULL));
	assert_int_equal(atomic_load(&sched.runqsize), 0);
	free(gs);
}

static void full_ring_spills_half_and_the_new_g_to_the_global_queue(
	void **state)
{
	p pp = {0};
	g *gs = gs_new(RUNQ_SIZE + 1);
	g *gp;
	int i;

	(void)state;
	for (i = 0; i < RUNQ_SIZE; i++)
		runqput(&pp, &gs[i], false);
	assert_int_equal(runqlen(&pp), RUNQ_SIZE);
	assert_int_equal(atomic_load(&sched.runqsize), 0);

	runqput(&pp, &gs[RUNQ_SIZE], false);
	assert_int_equal(runqlen(&pp), RUNQ_SIZE / 2);
	assert_int_equal(atomic_load(&sched.runqsize), RUNQ_SIZE / 2 + 1);
	/* the global queue: the older half in order, then the new G */
	for (i = 0, gp = sched.runqhead; i < RUNQ_SIZE / 2;
	     i++, gp = gp->schedlink)
		assert_ptr_equal(gp, &gs[i]);
	assert_ptr_equal(gp, &gs[RUNQ_SIZE]);
	assert_null(gp->schedlink);
	assert_ptr_equal(sched.runqtail, &gs[RUNQ_SIZE]);
	/* the ring: the newer half in order */
	for (i = RUNQ_SIZE / 2; i < RUNQ_SIZE; i++)
		assert_ptr_equal(runqget(&pp, NULL), &gs[i]);
	assert_null(runqget(&pp, NULL));
	free(gs);
}

static void globrunqput_links_in_fifo_order(void **state)
{
	g *gs = gs_new(3);

	(void)state;
	lock(&sched.lock);
	for (int i = 0; i < 3; i++)
		globrunqput(&gs[i]);
	unlock(&sched.lock);
	assert_int_equal(atomic_load(&sched.runqsize), 3);
	assert_ptr_equal(sched.runqhead, &gs[0]);
	assert_ptr_equal(gs[0].schedlink, &gs[1]);
	assert_ptr_equal(gs[1].schedlink, &gs[2]);
	assert_null(gs[2].schedlink);
	assert_ptr_equal(sched.runqtail, &gs[2]);
	free(gs);
}

static void globrunqget_takes_a_fair_share_onto_the_local_ring(void **state)
{
	p pp = {0};
	g *gs = gs_new(10);
	g *gp;

	(void)state;
	sched.nprocs = 4;
	lock(&sched.lock);
	for (int i = 0; i < 10; i++)
		globrunqput(&gs[i]);
	gp = globrunqget(&pp, 0);	/* 10 / 4 + 1 = 3 */
	unlock(&sched.lock);
	assert_ptr_equal(gp, &gs[0]);
	assert_int_equal(runqlen(&pp), 2);
	assert_ptr_equal(runqget(&pp, NULL), &gs[1]);
	assert_ptr_equal(runqget(&pp, NULL), &gs[2]);
	assert_int_equal(atomic_load(&sched.runqsize), 7);
	assert_ptr_equal(sched.runqhead, &gs[3]);
	assert_ptr_equal(sched.runqtail, &gs[9]);
	free(gs);
}

static void globrunqget_takes_no_more_than_max(void **state)
{
	p pp = {0};
	g *gs = gs_new(10);
	g *gp;

	(void)state;
	lock(&sched.lock);
	for (int i = 0; i < 10; i++)
		globrunqput(&gs[i]);
	gp = globrunqget(&pp, 1);
	unlock(&sched.lock);
	assert_ptr_equal(gp, &gs[0]);
	assert_int_equal(runqlen(&pp), 0);
	assert_int_equal(atomic_load(&sched.runqsize), 9);
	assert_ptr_equal(sched.runqhead, &gs[1]);
	free(gs);
}

static void globrunqget_takes_at_most_half_a_ring(void **state)
{
	p pp = {0};
	g *gs = gs_new(300);
	g *gp;

	(void)state;
	lock(&sched.lock);
	for (int i = 0; i < 300; i++)
		globrunqput(&gs[i]);
	gp = globrunqget(&pp, 0);	/* nprocs 1: would be all 300 */
	unlock(&sched.lock);
	assert_ptr_equal(gp, &gs[0]);
	assert_int_equal(runqlen(&pp), RUNQ_SIZE / 2 - 1);
	assert_int_equal(atomic_load(&sched.runqsize), 300 - RUNQ_SIZE / 2);
	assert_ptr_equal(sched.runqhead, &gs[RUNQ_SIZE / 2]);
	free(gs);
}

static void globrunqget_emptying_the_queue_clears_its_tail(void **state)
{
	p pp = {0};
	g *gs = gs_new(4);

	(void)state;
	lock(&sched.lock);
	for (int i = 0; i < 3; i++)
		globrunqput(&gs[i]);
	assert_ptr_equal(globrunqget(&pp, 0), &gs[0]);
	assert_null(sched.runqhead);
	assert_null(sched.runqtail);
	assert_int_equal(atomic_load(&sched.runqsize), 0);
	assert_null(globrunqget(&pp, 0));
	/* a stale tail would link the next G after a dequeued one */
	globrunqput(&gs[3]);
	unlock(&sched.lock);
	assert_ptr_equal(sched.runqhead, &gs[3]);
	assert_ptr_equal(sched.runqtail, &gs[3]);
	assert_int_equal(atomic_load(&sched.runqsize), 1);
	free(gs);
}

/* ---- concurrent: one owner, thieves, every G obtained exactly once ----
 *
 * The owner thread puts and gets on its P while thief threads steal from it
 * into their own Ps and run (count) what they got. Every G must be counted
 * once: a lost or duplicated G is a lost or doubly run thread. */

#define CONC_NG		20000
#define CONC_THIEVES	3

static struct {
	p owner;
	p thief[CONC_THIEVES];
	g *gs;
	_Atomic int seen[CONC_NG];
	_Atomic int stray;	/* pointers that are none of our Gs */
	_Atomic bool done;
	_Atomic long stolen;
	bool runnext_race;	/* the owner only uses runnext */
	pthread_barrier_t start;
} conc;

static void conc_record(g *gp)
{
	uintptr_t i = (uintptr_t)(gp - conc.gs);

	if (gp < conc.gs || i >= CONC_NG)
		atomic_fetch_add(&conc.stray, 1);
	else
		atomic_fetch_add(&conc.seen[i], 1);
}

/* Mixed: mostly ring puts, every 5th to runnext, a get every 3rd put, so
 * the ring fills, spills and is stolen from. Runnext race: put to runnext,
 * dawdle for about as long as a thief's pause before taking runnext, then
 * take it back; the ring stays empty and thieves go for runnext. */
static void *conc_owner(void *arg)
{
	uint32_t x = 2463534242u;
	g *gp;

	(void)arg;
	pthread_barrier_wait(&conc.start);
	for (int i = 0; i < CONC_NG; i++) {
		if (!conc.runnext_race) {
			runqput(&conc.owner, &conc.gs[i], i % 5 == 0);
			if (i % 3 == 0 && (gp = runqget(&conc.owner, NULL)))
				conc_record(gp);
			continue;
		}
		runqput(&conc.owner, &conc.gs[i], true);
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		for (uint32_t k = x % 400; k > 0; k--)
			arch_pause();
		if ((gp = runqget(&conc.owner, NULL)))
			conc_record(gp);
	}
	while ((gp = runqget(&conc.owner, NULL)))
		conc_record(gp);
	atomic_store(&conc.done, true);
	return NULL;
}

/* A thief steals from the owner into its own P and runs what it got. */
static void *conc_thief(void *arg)
{
	p *mine = arg;
	unsigned iter = 0;
	bool last = false;
	g *gp;

	pthread_barrier_wait(&conc.start);
	while (!last) {
		last = atomic_load(&conc.done);
		gp = runqsteal(mine, &conc.owner,
			       conc.runnext_race || (iter++ & 1));
		while (gp) {
			atomic_fetch_add(&conc.stolen, 1);
			conc_record(gp);
			gp = runqget(mine, NULL);
		}
	}
	return NULL;
}

/* One round; returns how many Gs went to the global queue. */
static int32_t conc_round(int round)
{
	pthread_t owner, thieves[CONC_THIEVES];

	memset(&conc.owner, 0, sizeof conc.owner);
	memset(conc.thief, 0, sizeof conc.thief);
	for (int i = 0; i < CONC_NG; i++)
		atomic_store(&conc.seen[i], 0);
	atomic_store(&conc.done, false);
	pthread_barrier_init(&conc.start, NULL, CONC_THIEVES + 1);
	for (int k = 0; k < CONC_THIEVES; k++)
		assert_int_equal(pthread_create(&thieves[k], NULL, conc_thief,
						&conc.thief[k]), 0);
	assert_int_equal(pthread_create(&owner, NULL, conc_owner, NULL), 0);
	assert_int_equal(pthread_join(owner, NULL), 0);
	for (int k = 0; k < CONC_THIEVES; k++)
		assert_int_equal(pthread_join(thieves[k], NULL), 0);
	pthread_barrier_destroy(&conc.start);

	/* Gs the owner's full ring spilled to the global queue */
	int32_t n = 0;
	for (g *gp = sched.runqhead; gp; gp = gp->schedlink, n++)
		conc_record(gp);
	assert_int_equal(n, atomic_load(&sched.runqsize));
	reset_sched(NULL);

	assert_true(runqempty(&conc.owner));
	for (int k = 0; k < CONC_THIEVES; k++)
		assert_true(runqempty(&conc.thief[k]));
	assert_int_equal(atomic_load(&conc.stray), 0);
	for (int i = 0; i < CONC_NG; i++) {
		int seen = atomic_load(&conc.seen[i]);
		if (seen != 1)
			fail_msg("round %d: G %d obtained %d times", round, i,
				 seen);
	}
	return n;
}

static void runq_concurrent_steals_lose_and_duplicate_nothing(void **state)
{
	enum { ROUNDS = 50 };
	long spilled = 0;

	(void)state;
	conc.gs = gs_new(CONC_NG);
	conc.runnext_race = false;
	atomic_store(&conc.stolen, 0);
	for (int round = 0; round < ROUNDS; round++)
		spilled += conc_round(round);
	/* how much of the traffic the thieves and the spills saw */
	print_message("of %d Gs: %ld via thieves, %ld via the global queue\n",
		      ROUNDS * CONC_NG, atomic_load(&conc.stolen), spilled);
	free(conc.gs);
}

static void runnext_races_with_thieves_lose_and_duplicate_nothing(
	void **state)
{
	enum { ROUNDS = 3 };

	(void)state;
	conc.gs = gs_new(CONC_NG);
	conc.runnext_race = true;
	atomic_store(&conc.stolen, 0);
	for (int round = 0; round < ROUNDS; round++)
		assert_int_equal(conc_round(round), 0);
	print_message("of %d Gs: %ld taken from runnext by thieves\n",
		      ROUNDS * CONC_NG, atomic_load(&conc.stolen));
	free(conc.gs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup(f, reset_sched)
		T(runqget_returns_gs_in_fifo_order),
		T(runnext_runs_before_the_ring_and_inherits),
		T(runnext_kicks_the_old_runnext_to_the_tail),
		T(runqempty_is_false_with_only_runnext),
		T(runqsteal_takes_half_rounded_up),
		T(runqsteal_of_one_g_returns_it_and_queues_nothing),
		T(runqsteal_from_an_empty_p_returns_null),
		T(runqsteal_takes_runnext_only_when_stealnext),
		T(runqsteal_prefers_the_ring_to_runnext),
		T(runqsteal_appends_after_the_thiefs_own_gs),
		T(ring_keeps_fifo_order_across_wraparound),
		T(full_ring_spills_half_and_the_new_g_to_the_global_queue),
		T(globrunqput_links_in_fifo_order),
		T(globrunqget_takes_a_fair_share_onto_the_local_ring),
		T(globrunqget_takes_no_more_than_max),
		T(globrunqget_takes_at_most_half_a_ring),
		T(globrunqget_emptying_the_queue_clears_its_tail),
		T(runq_concurrent_steals_lose_and_duplicate_nothing),
		T(runnext_races_with_thieves_lose_and_duplicate_nothing),
#undef T
	};

	alarm(60);	/* a livelocked steal loop fails instead of hanging */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
