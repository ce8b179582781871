/*
 * timer.c: the timer heaps that wake sleeping and timed-out Gs.
 * Go: addtimer, deltimer, runtimer, checkTimers (time.go).
 * Owns the heaps and every struct timer while it is queued.
 *
 * Model. A binary min-heap of struct timer pointers per P, ordered by
 * `when` (CLOCK_MONOTONIC ns), each under its own lock, as in Go 1.14+: a
 * G arms its timer in the heap of the P it parks on, so Gs sleeping on
 * different Ps never contend. A timer is embedded in its G and carries
 * the G's wait generation at arming time; firing never touches the timer
 * again after popping it, it only calls timer_fire(gp, gen), which wins
 * or loses a CAS on the G's wait state (sema.c). So a G may re-arm its
 * timer as soon as timer_del returns, and a stale firing is harmless.
 *
 * Which M runs a P's timers: any M that looks (findrunnable, the idle M
 * sleeping until the earliest timer, sysmon) runs every heap whose cached
 * earliest deadline (heap.next, read without the lock) is due. Go makes an
 * M steal an idle P's timers the same way; here the check costs one load
 * per P, so it is done for all of them rather than for a victim.
 *
 * Invariants. t->heap is the heap t is queued in, or NULL; t->idx its
 * slot there, or -1. Only code holding that heap's lock changes them, the
 * heap's array or its next.
 *
 * Protocol. timer_add runs on g0 inside a park's unlockf (the G's context
 * is saved, so firing may ready it at once). When the new timer becomes
 * its heap's earliest and an idle M sleeps until a later time, that M is
 * woken to re-arm its sleep. timer_del finds the heap through t->heap and
 * re-checks it under the lock. timers_run pops due timers under a heap's
 * lock into a local batch, unlocks, then fires them: timer_fire takes sema
 * bucket locks and readies Gs, which must not happen under a heap lock.
 *
 * Rejected. One global heap (libgmp's first design): every sleep and timed
 * wait on every P took the same lock. A timing wheel: O(1) insert, but
 * coarse and hard to bound when idle. malloc for growth: timer_add runs
 * on g0, so the arrays grow with mremap.
 */
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "core.h"

struct theap {
	struct mutex lock;
	struct timer **heap;
	size_t len, cap;	/* cap in entries */
	_Atomic int64_t next;	/* heap[0]->when, INT64_MAX when empty */
} __attribute__((aligned(64)));

static struct theap heaps[MAXPROCS_LIMIT] = {
	[0 ... MAXPROCS_LIMIT - 1] = { .lock = MUTEX_INIT(LOCKRANK_TIMERS),
				       .next = INT64_MAX },
};
static _Atomic int nheaps;	/* heaps[0..nheaps) may hold timers */

static void grow(struct theap *h)
{
	size_t ncap = h->cap ? h->cap * 2 : 512;
	long r;

	if (h->heap == NULL)
		r = arch_syscall6(SYS_mmap, 0, ncap * sizeof(void *),
				  PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else
		r = arch_syscall(SYS_mremap, h->heap, h->cap * sizeof(void *),
				 ncap * sizeof(void *), MREMAP_MAYMOVE);
	if (r < 0 && r > -4096)
		throw("timer heap: out of memory");
	h->heap = (struct timer **)r;
	h->cap = ncap;
}

static void place(struct theap *h, size_t i, struct timer *t)
{
	h->heap[i] = t;
	t->idx = (int32_t)i;
}

static void siftup(struct theap *h, size_t i)
{
	struct timer *t = h->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (h->heap[parent]->when <= t->when)
			break;
		place(h, i, h->heap[parent]);
		i = parent;
	}
	place(h, i, t);
}

static void siftdown(struct theap *h, size_t i)
{
	struct timer *t = h->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->len)
			break;
		if (c + 1 < h->len && h->heap[c + 1]->when < h->heap[c]->when)
			c++;
		if (t->when <= h->heap[c]->when)
			break;
		place(h, i, h->heap[c]);
		i = c;
	}
	place(h, i, t);
}

static void set_next(struct theap *h)
{
	atomic_store_explicit(&h->next, h->len ? h->heap[0]->when : INT64_MAX,
			      memory_order_release);
}

static void remove_at(struct theap *h, size_t i)
{
	struct timer *last = h->heap[--h->len];

	h->heap[i]->idx = -1;
	atomic_store_explicit(&h->heap[i]->heap, NULL, memory_order_relaxed);
	if (i != h->len) {
		place(h, i, last);
		siftup(h, i);
		siftdown(h, (size_t)last->idx);
	}
	set_next(h);
}

/* The caller's P's heap (heap 0 for a caller without one). */
static struct theap *my_heap(void)
{
	g *gp = getg();
	int id = gp && gp->m && gp->m->p ? gp->m->p->id : 0;
	int n = atomic_load_explicit(&nheaps, memory_order_relaxed);

	while (n <= id && !atomic_compare_exchange_weak(&nheaps, &n, id + 1))
		;
	return &heaps[id];
}

void timer_add(struct timer *t)
{
	struct theap *h = my_heap();
	bool earliest;

	lock(&h->lock);
	if (t->idx >= 0 || atomic_load_explicit(&t->heap,
						memory_order_relaxed))
		throw("timer_add: timer already queued");
	if (h->len == h->cap)
		grow(h);
	place(h, h->len++, t);
	siftup(h, h->len - 1);
	atomic_store_explicit(&t->heap, h, memory_order_relaxed);
	earliest = t->idx == 0;
	set_next(h);
	unlock(&h->lock);

	if (!earliest)
		return;
	/* An idle M sleeping past this deadline must re-arm: wake it. */
	netpoll_break(t->when);
	if (!wake_timer_sleeper(t->when))
		wakep();
	/* every P busy: sysmon preempts one when it is due (sysmon.c) */
	if (!atomic_load_explicit(&sched.npidle, memory_order_relaxed))
		sysmon_kick();
}

bool timer_del(struct timer *t)
{
	for (;;) {
		struct theap *h = atomic_load_explicit(&t->heap,
						       memory_order_relaxed);
		if (!h)
			return false;
		lock(&h->lock);
		if (atomic_load_explicit(&t->heap, memory_order_relaxed) == h) {
			remove_at(h, (size_t)t->idx);
			unlock(&h->lock);
			return true;
		}
		unlock(&h->lock);	/* fired or moved meanwhile: look again */
	}
}

int64_t timers_next(void)
{
	int64_t when = INT64_MAX;
	int n = atomic_load_explicit(&nheaps, memory_order_acquire);

	for (int i = 0; i < n; i++) {
		int64_t w = atomic_load_explicit(&heaps[i].next,
						 memory_order_acquire);
		if (w < when)
			when = w;
	}
	return when == INT64_MAX ? -1 : when;
}

/* Fire h's timers due at now; its earliest deadline after, or -1. */
static int64_t run_heap(struct theap *h, int64_t now)
{
	struct { g *gp; uint64_t gen; } batch[64];
	int n;
	int64_t next;

	do {
		n = 0;
		next = -1;
		lock(&h->lock);
		while (h->len && n < 64) {
			struct timer *t = h->heap[0];
			if (t->when > now) {
				next = t->when;
				break;
			}
			batch[n].gp = t->gp;
			batch[n].gen = t->gen;
			n++;
			remove_at(h, 0);
		}
		if (n == 64 && h->len)
			next = h->heap[0]->when;
		unlock(&h->lock);
		for (int i = 0; i < n; i++)
			timer_fire(batch[i].gp, batch[i].gen);
	} while (n == 64 && next >= 0 && next <= now);
	return next;
}

int64_t timers_run(int64_t now)
{
	int n = atomic_load_explicit(&nheaps, memory_order_acquire);
	int64_t next = INT64_MAX;

	for (int i = 0; i < n; i++) {
		struct theap *h = &heaps[i];
		int64_t w = atomic_load_explicit(&h->next, memory_order_acquire);
		if (w > now) {
			if (w < next)
				next = w;
			continue;
		}
		w = run_heap(h, now);
		if (w >= 0 && w < next)
			next = w;
	}
	return next == INT64_MAX ? -1 : next;
}

void timers_afterfork(void)
{
	for (int i = 0; i < MAXPROCS_LIMIT; i++) {
		heaps[i].lock.key = 0;
		heaps[i].len = 0;	/* their Gs are gone */
		atomic_store(&heaps[i].next, INT64_MAX);
	}
}
