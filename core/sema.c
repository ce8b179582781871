/*
 * sema.c: the address-keyed wait table every G-level blocking primitive
 * parks on, and sleeping. Go: sema.go (semacquire/semrelease), with the
 * kernel futex's contract instead of a counting semaphore.
 * Owns the bucket table, g.w (the G's queue entry) and g.waitstate.
 *
 * Model. gfutex_wait(addr, val) parks the G in the bucket of addr if *addr
 * still holds val; gfutex_wake(addr, n) readies up to n of them. Mutexes,
 * condvars, semaphores, join and once are futex algorithms on top (shims/).
 *
 * Invariants. A G is in at most one bucket list, only while parked in
 * gfutex_wait, and g.w.addr is non-NULL exactly then. g.waitstate is
 * gen << W_SHIFT | W_*: each wait bumps g.waitgen, and whoever moves the
 * state from W_WAITING (a waker to W_WOKEN, the timer to W_TIMEDOUT, an
 * interrupter to W_INTERRUPTED) owns the wakeup; the loser does nothing.
 *
 * Interruption (what pthread_cancel needs). A G sets g.interruptible
 * around a wait that may end early; g_interrupt sets g.intr_req, then
 * looks for the G in its bucket. The waiter queues itself, then reads
 * intr_req (a seq_cst fence between): either it sees the request and does
 * not park, or the interrupter finds it queued and readies it with
 * W_INTERRUPTED. Sleeps are waits on the G's own sleepword, so they are
 * found the same way.
 *
 * Protocol. The waiter checks *addr and queues itself under the bucket
 * lock; the bucket is unlocked by gopark's unlockf on g0, after the G's
 * context is saved, and the deadline timer is armed there too, so no waker
 * or timer can ready a G that is still running. A waker changes *addr
 * first, then takes the bucket lock: the pair cannot miss each other, as
 * with FUTEX_WAIT/FUTEX_WAKE. A timer that wins unlinks the G itself.
 * Lock order: bucket (LOCKRANK_SEMA), then timers (LOCKRANK_TIMERS).
 *
 * Rejected. Go's treap of distinct addresses per bucket: O(log n) lookups
 * matter when thousands of objects share a bucket; with 1024 buckets a
 * list is shorter than the treap's constant. A per-object waiter list
 * inside pthread_mutex_t: the object's 40 bytes must keep glibc's layout.
 */
#include <errno.h>
#include "core.h"

#define NBUCKETS 1024

static struct bucket {
	struct mutex lock;
	struct waiter *head, *tail;
} __attribute__((aligned(64))) table[NBUCKETS];

static struct bucket *bucketof(const void *addr)
{
	uintptr_t a = (uintptr_t)addr;

	a ^= a >> 17;
	a *= 0x9e3779b97f4a7c15ull;
	return &table[(a >> 32) % NBUCKETS];
}

static void unlink_w(struct bucket *b, struct waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		b->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		b->tail = w->prev;
	w->next = w->prev = NULL;
	w->addr = NULL;
}

static g *g_of_waiter(struct waiter *w)
{
	return (g *)((char *)w - offsetof(g, w));
}

struct parkarg {
	struct bucket *b;
	bool timed;
};

/* unlockf: on g0, gp's context is saved. Arm the deadline, then let
 * wakers see the G. */
static bool park_commit(g *gp, void *arg)
{
	struct parkarg *pa = arg;
	struct bucket *b = pa->b;

	/* pa lives on gp's stack: once the timer is armed it may fire on
	 * another M and gp may run again, so read pa first. A bucket wait
	 * is safe: the timer needs b's lock to ready gp. */
	if (pa->timed)
		timer_add(&gp->timer);
	if (b)
		unlock(&b->lock);
	return true;
}

static uint64_t begin_wait(g *gp, int64_t deadline)
{
	uint64_t gen = ++gp->waitgen;

	atomic_store_explicit(&gp->waitstate, gen << W_SHIFT | W_WAITING,
			      memory_order_relaxed);
	if (deadline >= 0) {
		gp->timer.when = deadline;
		gp->timer.gp = gp;
		gp->timer.gen = gen;
	}
	return gen;
}

/* After waking: stop the timer and say who woke us. */
static unsigned end_wait(g *gp, int64_t deadline)
{
	if (deadline >= 0)
		timer_del(&gp->timer);
	/* acquire: pairs with the CAS of whoever readied us. */
	return atomic_load_explicit(&gp->waitstate, memory_order_acquire) & W_MASK;
}

static int gfutex_wait1(const void *addr, uint32_t val, int64_t deadline,
			uint32_t bitset, enum waitreason why)
{
	g *gp = getg();
	struct bucket *b = bucketof(addr);
	struct parkarg pa = { b, deadline >= 0 };

	if (deadline >= 0 && deadline <= nanotime())
		return atomic_load_explicit((_Atomic uint32_t *)addr,
					    memory_order_acquire) != val
			       ? -EAGAIN
			       : -ETIMEDOUT;
	lock(&b->lock);
	if (atomic_load_explicit((_Atomic uint32_t *)addr,
				 memory_order_seq_cst) != val) {
		unlock(&b->lock);
		return -EAGAIN;
	}
	begin_wait(gp, deadline);
	gp->w.addr = addr;
	gp->w.bitset = bitset;
	gp->w.next = NULL;
	gp->w.prev = b->tail;
	if (b->tail)
		b->tail->next = &gp->w;
	else
		b->head = &gp->w;
	b->tail = &gp->w;
	if (gp->interruptible) {
		/* seq_cst: pairs with g_interrupt (see the header) */
		atomic_thread_fence(memory_order_seq_cst);
		if (atomic_load_explicit(&gp->intr_req, memory_order_relaxed) &
		    gp->interruptible) {
			unlink_w(b, &gp->w);
			unlock(&b->lock);
			return -EINTR;
		}
	}
	gopark(park_commit, &pa, why);
	switch (end_wait(gp, deadline)) {
	case W_TIMEDOUT:
		return -ETIMEDOUT;
	case W_INTERRUPTED:
		return -EINTR;
	default:
		return 0;
	}
}

static int gfutex_wake1(const void *addr, int n, uint32_t bitset)
{
	struct bucket *b = bucketof(addr);
	g *ready[16];
	int nready = 0, total = 0;

again:
	lock(&b->lock);
	for (struct waiter *w = b->head, *next; w && total < n; w = next) {
		next = w->next;
		if (w->addr != addr || !(w->bitset & bitset))
			continue;
		g *gp = g_of_waiter(w);
		uint64_t s = atomic_load_explicit(&gp->waitstate,
						  memory_order_relaxed);
		if ((s & W_MASK) != W_WAITING)
			continue;	/* its timer won; it unlinks itself */
		/* acq_rel: we own the wakeup; pairs with end_wait. */
		if (!atomic_compare_exchange_strong_explicit(
			    &gp->waitstate, &s, (s & ~(uint64_t)W_MASK) | W_WOKEN,
			    memory_order_acq_rel, memory_order_relaxed))
			continue;
		unlink_w(b, w);
		ready[nready++] = gp;
		total++;
		if (nready == 16)
			break;
	}
	unlock(&b->lock);
	for (int i = 0; i < nready; i++)
		goready(ready[i]);
	if (nready == 16 && total < n) {
		nready = 0;
		goto again;
	}
	return total;
}

/* The bucket gp is queued in, locked; NULL if it is not queued. Only a
 * requeue moves a queued G to another bucket, holding both locks: so
 * re-check under the lock. */
static struct bucket *lock_queued(g *gp)
{
	for (;;) {
		const void *addr = gp->w.addr;
		if (!addr)
			return NULL;
		struct bucket *b = bucketof(addr);
		lock(&b->lock);
		if (gp->w.addr == addr)
			return b;
		unlock(&b->lock);
	}
}

void timer_fire(g *gp, uint64_t gen)
{
	uint64_t s = gen << W_SHIFT | W_WAITING;

	/* acq_rel: we own the wakeup; pairs with end_wait. */
	if (!atomic_compare_exchange_strong_explicit(
		    &gp->waitstate, &s, gen << W_SHIFT | W_TIMEDOUT,
		    memory_order_acq_rel, memory_order_relaxed))
		return;
	struct bucket *b = lock_queued(gp);
	if (b) {
		unlink_w(b, &gp->w);
		unlock(&b->lock);
	}
	goready(gp);
}


int gfutex_wait(const void *addr, uint32_t val, int64_t deadline)
{
	return gfutex_wait_bitset(addr, val, deadline, ~0u);
}

int gfutex_wait_bitset(const void *addr, uint32_t val, int64_t deadline,
		       uint32_t bitset)
{
	g *gp = getg();
	enum waitreason why = WAIT_FUTEX;

	if (gp && gp->why_next) {
		why = gp->why_next;
		gp->why_next = 0;
	}
	rt_enter();
	int r = gfutex_wait1(addr, val, deadline, bitset, why);
	rt_exit();
	return r;
}

int gfutex_wake(const void *addr, int n)
{
	return gfutex_wake_bitset(addr, n, ~0u);
}

int gfutex_wake_bitset(const void *addr, int n, uint32_t bitset)
{
	rt_enter();
	int r = gfutex_wake1(addr, n, bitset);
	rt_exit();
	return r;
}

/* Lock the buckets of a and b in address order (once if the same). */
static void lock2(struct bucket *a, struct bucket *b)
{
	if (a == b) {
		lock(&a->lock);
	} else if (a < b) {
		lock(&a->lock);
		lock(&b->lock);
	} else {
		lock(&b->lock);
		lock(&a->lock);
	}
}

static void unlock2(struct bucket *a, struct bucket *b)
{
	unlock(&a->lock);
	if (a != b)
		unlock(&b->lock);
}

static int requeue1(const void *from, const void *to, int nwake,
		    int nmove, bool cmp, uint32_t val, int *moved)
{
	struct bucket *bf = bucketof(from), *bt = bucketof(to);
	g *ready = NULL;	/* linked through schedlink: unused while parked */
	int woken = 0;

	*moved = 0;
	lock2(bf, bt);
	if (cmp && atomic_load_explicit((_Atomic uint32_t *)from,
					memory_order_seq_cst) != val) {
		unlock2(bf, bt);
		return -EAGAIN;
	}
	for (struct waiter *w = bf->head, *next; w; w = next) {
		next = w->next;
		if (w->addr != from)
			continue;
		g *gp = g_of_waiter(w);
		uint64_t s = atomic_load_explicit(&gp->waitstate,
						  memory_order_relaxed);
		if ((s & W_MASK) != W_WAITING)
			continue;	/* its timer won */
		if (woken < nwake) {
			if (!atomic_compare_exchange_strong_explicit(
				    &gp->waitstate, &s, (s & ~(uint64_t)W_MASK) | W_WOKEN,
				    memory_order_acq_rel, memory_order_relaxed))
				continue;
			unlink_w(bf, w);
			gp->schedlink = ready;
			ready = gp;
			woken++;
			continue;
		}
		if (*moved >= nmove)
			break;
		/* move it: under both locks, so its timer finds it */
		unlink_w(bf, w);
		w->addr = to;
		w->prev = bt->tail;
		if (bt->tail)
			bt->tail->next = w;
		else
			bt->head = w;
		bt->tail = w;
		(*moved)++;
	}
	unlock2(bf, bt);
	while (ready) {
		g *gp = ready;
		ready = gp->schedlink;
		goready(gp);
	}
	return woken;
}

int gfutex_requeue(const void *from, const void *to, int nwake, int nmove,
		   bool cmp, uint32_t val, int *moved)
{
	rt_enter();
	int r = requeue1(from, to, nwake, nmove, cmp, val, moved);
	rt_exit();
	return r;
}

int g_sleep_until(int64_t deadline)
{
	g *gp = getg();
	int r;

	rt_enter();
	do
		r = gfutex_wait1(&gp->sleepword, 0, deadline, ~0u, WAIT_SLEEP);
	while (r == 0);		/* nobody wakes sleepword: cannot happen */
	rt_exit();
	return r == -EINTR ? -EINTR : 0;
}

bool g_interrupt(g *gp, unsigned kind)
{
	g *ready = NULL;

	atomic_fetch_or_explicit(&gp->intr_req, kind, memory_order_relaxed);
	/* seq_cst: pairs with the waiter's fence in gfutex_wait1 */
	atomic_thread_fence(memory_order_seq_cst);
	rt_enter();
	struct bucket *b = lock_queued(gp);
	if (b) {
		uint64_t s = atomic_load_explicit(&gp->waitstate,
						  memory_order_relaxed);
		/* acq_rel: we own the wakeup; pairs with end_wait. */
		if ((gp->interruptible & kind) && (s & W_MASK) == W_WAITING &&
		    atomic_compare_exchange_strong_explicit(
			    &gp->waitstate, &s,
			    (s & ~(uint64_t)W_MASK) | W_INTERRUPTED,
			    memory_order_acq_rel, memory_order_relaxed)) {
			unlink_w(b, &gp->w);
			ready = gp;
		}
		unlock(&b->lock);
	}
	if (ready)
		goready(ready);
	rt_exit();
	return ready != NULL;
}

void sema_afterfork(void)
{
	/* every parked G belonged to a thread the child does not have */
	for (int i = 0; i < NBUCKETS; i++) {
		table[i].lock.key = 0;
		table[i].head = table[i].tail = NULL;
	}
}
