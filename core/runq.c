/*
 * runq.c: per-P run queues, runnext, the global run queue.
 * Go: runqput, runqputslow, runqget, runqgrab, runqsteal, globrunq*.
 * Owns p.runq[RUNQ_SIZE], p.runqhead/runqtail, p.runnext, sched.runq*.
 *
 * Model. Each P has a lock-free ring of 256 G pointers. Only the owning M
 * moves runqtail; owner and thieves move runqhead by CAS. runnext is a
 * one-slot fast lane: a G readied by the running G runs next and inherits
 * the time slice, so a lock handoff between two Gs stays on one P. A full
 * ring moves half of itself plus the new G to the global queue in one batch.
 *
 * Invariants. runqtail - runqhead <= RUNQ_SIZE (uint32_t, wraps). A G is in
 * at most one queue, and only while G_RUNNABLE. On every 61st schedtick,
 * schedule() takes from the global queue first (sched.c), or two Gs that
 * keep readying each other would starve it.
 *
 * Protocol. runqput fills the slot, then release-stores runqtail. A thief
 * acquire-loads the victim's head and tail, copies half (rounded up) into
 * its own ring, and claims them with one CAS on the victim's head; a failed
 * CAS took nothing. runnext is stolen only on the last round, and only
 * after a short pause, since its owner is probably about to run it. The
 * ring takes no lock; the global queue needs sched.lock (LOCKRANK_SCHED).
 *
 * Rejected. One locked global queue: the bottleneck past a few Ps.
 * Chase-Lev with LIFO pops: old Gs starve and every pop needs a full fence;
 * FIFO plus runnext gives the locality. Unbounded local lists: one P hoards
 * work that idle Ps cannot see.
 */
#include "core.h"

uint32_t runqlen(p *pp)
{
	uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
	uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_acquire);

	return t - h;
}

bool runqempty(p *pp)
{
	/* Go's runqempty: a G moving from runnext to the ring must not make
	 * the P look empty; read tail, runnext, tail again. */
	for (;;) {
		uint32_t h = atomic_load_explicit(&pp->runqhead,
						  memory_order_acquire);
		uint32_t t = atomic_load_explicit(&pp->runqtail,
						  memory_order_acquire);
		g *next = atomic_load_explicit(&pp->runnext,
					       memory_order_acquire);
		if (t == atomic_load_explicit(&pp->runqtail,
					      memory_order_acquire))
			return h == t && next == NULL;
	}
}

/* Move half of the full ring plus gp to the global queue. */
static bool runqputslow(p *pp, g *gp, uint32_t h, uint32_t t)
{
	g *batch[RUNQ_SIZE / 2 + 1];
	uint32_t n = (t - h) / 2;

	if (n != RUNQ_SIZE / 2)
		throw("runqputslow: queue is not full");
	for (uint32_t i = 0; i < n; i++)
		batch[i] = atomic_load_explicit(&pp->runq[(h + i) % RUNQ_SIZE],
						memory_order_relaxed);
	/* release: the slots we read are given back to the owner's writes. */
	if (!atomic_compare_exchange_strong_explicit(
		    &pp->runqhead, &h, h + n, memory_order_release,
		    memory_order_relaxed))
		return false;
	batch[n] = gp;
	for (uint32_t i = 0; i < n; i++)
		batch[i]->schedlink = batch[i + 1];
	gp->schedlink = NULL;
	lock(&sched.lock);
	globrunqputbatch(batch[0], gp, (int32_t)n + 1);
	unlock(&sched.lock);
	return true;
}

void runqput(p *pp, g *gp, bool next)
{
	if (next) {
		g *old = atomic_exchange_explicit(&pp->runnext, gp,
						  memory_order_acq_rel);
		if (old == NULL)
			return;
		gp = old;	/* kick the old runnext to the ring */
	}
	for (;;) {
		/* acquire: pairs with a thief's release CAS on head. */
		uint32_t h = atomic_load_explicit(&pp->runqhead,
						  memory_order_acquire);
		/* relaxed: only the owner writes runqtail, and we own pp. */
		uint32_t t = atomic_load_explicit(&pp->runqtail,
						  memory_order_relaxed);
		if (t - h < RUNQ_SIZE) {
			atomic_store_explicit(&pp->runq[t % RUNQ_SIZE], gp,
					      memory_order_relaxed);
			/* release: the slot is visible before the tail. */
			atomic_store_explicit(&pp->runqtail, t + 1,
					      memory_order_release);
			return;
		}
		if (runqputslow(pp, gp, h, t))
			return;
		/* a thief took some: the ring has room now */
	}
}

g *runqget(p *pp, bool *inherit)
{
	g *next = atomic_load_explicit(&pp->runnext, memory_order_relaxed);

	/* acq_rel: a thief may race for runnext; whoever wins owns it. */
	if (next != NULL &&
	    atomic_compare_exchange_strong_explicit(&pp->runnext, &next, NULL,
						    memory_order_acq_rel,
						    memory_order_relaxed)) {
		if (inherit)
			*inherit = true;
		return next;
	}
	if (inherit)
		*inherit = false;
	for (;;) {
		uint32_t h = atomic_load_explicit(&pp->runqhead,
						  memory_order_acquire);
		uint32_t t = atomic_load_explicit(&pp->runqtail,
						  memory_order_relaxed);
		if (t == h)
			return NULL;
		g *gp = atomic_load_explicit(&pp->runq[h % RUNQ_SIZE],
					     memory_order_relaxed);
		/* release: the slot may be rewritten once head moves on. */
		if (atomic_compare_exchange_weak_explicit(
			    &pp->runqhead, &h, h + 1, memory_order_release,
			    memory_order_relaxed))
			return gp;
	}
}

/* Copy half of victim's ring into batch[batchhead...]; return the count.
 * Go: runqgrab. */
static uint32_t runqgrab(p *victim, g *_Atomic *batch, uint32_t batchhead,
			 bool stealnext)
{
	for (;;) {
		uint32_t h = atomic_load_explicit(&victim->runqhead,
						  memory_order_acquire);
		/* acquire: pairs with the owner's release store of tail. */
		uint32_t t = atomic_load_explicit(&victim->runqtail,
						  memory_order_acquire);
		uint32_t n = t - h;

		n = n - n / 2;
		if (n == 0) {
			if (!stealnext)
				return 0;
			g *next = atomic_load_explicit(&victim->runnext,
						       memory_order_acquire);
			if (next == NULL)
				return 0;
			/* The owner is probably about to run it: give it a
			 * moment, as Go does with usleep(3). */
			for (int i = 0; i < 200; i++)
				arch_pause();
			if (!atomic_compare_exchange_strong_explicit(
				    &victim->runnext, &next, NULL,
				    memory_order_acq_rel,
				    memory_order_relaxed))
				continue;
			atomic_store_explicit(&batch[batchhead % RUNQ_SIZE],
					      next, memory_order_relaxed);
			return 1;
		}
		if (n > RUNQ_SIZE / 2)
			continue;	/* read an inconsistent h and t */
		for (uint32_t i = 0; i < n; i++) {
			g *gp = atomic_load_explicit(
				&victim->runq[(h + i) % RUNQ_SIZE],
				memory_order_relaxed);
			atomic_store_explicit(
				&batch[(batchhead + i) % RUNQ_SIZE], gp,
				memory_order_relaxed);
		}
		/* release: we are done reading the slots we claim. */
		if (atomic_compare_exchange_strong_explicit(
			    &victim->runqhead, &h, h + n, memory_order_release,
			    memory_order_relaxed))
			return n;
	}
}

g *runqsteal(p *pp, p *victim, bool stealnext)
{
	uint32_t t = atomic_load_explicit(&pp->runqtail, memory_order_relaxed);
	uint32_t n = runqgrab(victim, pp->runq, t, stealnext);

	if (n == 0)
		return NULL;
	n--;
	g *gp = atomic_load_explicit(&pp->runq[(t + n) % RUNQ_SIZE],
				     memory_order_relaxed);
	if (n == 0)
		return gp;
	uint32_t h = atomic_load_explicit(&pp->runqhead, memory_order_acquire);
	if (t - h + n >= RUNQ_SIZE)
		throw("runqsteal: runq overflow");
	/* release: the stolen slots are visible before the new tail. */
	atomic_store_explicit(&pp->runqtail, t + n, memory_order_release);
	return gp;
}

void globrunqputbatch(g *head, g *tail, int32_t n)
{
	tail->schedlink = NULL;
	if (sched.runqtail)
		sched.runqtail->schedlink = head;
	else
		sched.runqhead = head;
	sched.runqtail = tail;
	atomic_fetch_add_explicit(&sched.runqsize, n, memory_order_relaxed);
}

void globrunqput(g *gp)
{
	globrunqputbatch(gp, gp, 1);
}

/* Take up to max Gs (0: a fair share) from the global queue: return one,
 * put the rest on pp's ring. sched.lock held. Go: globrunqget. */
g *globrunqget(p *pp, int32_t max)
{
	int32_t size = atomic_load_explicit(&sched.runqsize,
					    memory_order_relaxed);
	if (size == 0)
		return NULL;
	int32_t n = size / sched.nprocs + 1;
	if (n > size)
		n = size;
	if (max > 0 && n > max)
		n = max;
	if (n > RUNQ_SIZE / 2)
		n = RUNQ_SIZE / 2;
	atomic_fetch_sub_explicit(&sched.runqsize, n, memory_order_relaxed);
	g *gp = sched.runqhead;
	sched.runqhead = gp->schedlink;
	n--;
	while (n-- > 0) {
		g *g1 = sched.runqhead;
		sched.runqhead = g1->schedlink;
		runqput(pp, g1, false);
	}
	if (sched.runqhead == NULL)
		sched.runqtail = NULL;
	return gp;
}
