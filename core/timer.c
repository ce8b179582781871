/*
 * timer.c: the timer heap that wakes sleeping and timed-out Gs.
 * Go: addtimer, deltimer, runtimer, checkTimers (time.go).
 * Owns the heap array and every struct timer while it is queued.
 *
 * Model. One binary min-heap of struct timer pointers ordered by `when`
 * (CLOCK_MONOTONIC ns), under one lock. A timer is embedded in its G and
 * carries the G's wait generation at arming time; firing never touches the
 * timer again after popping it, it only calls timer_fire(gp, gen), which
 * wins or loses a CAS on the G's wait state (sema.c). So a G may re-arm its
 * timer as soon as timer_del returns, and a stale firing is harmless.
 *
 * Invariants. t->idx is the slot of t in the heap, or -1 when not queued;
 * only code holding timers.lock reads or writes idx and the array.
 *
 * Protocol. timer_add runs on g0 inside a park's unlockf (the G's context
 * is saved, so firing may ready it at once). When the new timer becomes the
 * earliest and an idle M sleeps until a later time, that M is woken to
 * re-arm its sleep. timers_run pops due timers under the lock into a local
 * batch, unlocks, then fires them: timer_fire takes sema bucket locks and
 * readies Gs, which must not happen under timers.lock.
 *
 * Rejected. A heap per P as in Go 1.14+: it needs timer stealing from idle
 * Ps and a netpoller to break the sleep; one heap is simpler and correct
 * while the number of Ps is small (the per-P design is issue 4's). A
 * timing wheel: O(1) insert, but coarse and hard to bound when idle.
 * malloc for growth: timer_add runs on g0, so the array grows with mremap.
 */
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "core.h"

static struct {
	struct mutex lock;
	struct timer **heap;
	size_t len, cap;	/* cap in entries */
} timers = { .lock = MUTEX_INIT(LOCKRANK_TIMERS) };

static void grow(void)
{
	size_t ncap = timers.cap ? timers.cap * 2 : 4096;
	long r;

	if (timers.heap == NULL)
		r = arch_syscall6(SYS_mmap, 0, ncap * sizeof(void *),
				  PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else
		r = arch_syscall(SYS_mremap, timers.heap,
				 timers.cap * sizeof(void *),
				 ncap * sizeof(void *), MREMAP_MAYMOVE);
	if (r < 0 && r > -4096)
		throw("timer heap: out of memory");
	timers.heap = (struct timer **)r;
	timers.cap = ncap;
}

static void place(size_t i, struct timer *t)
{
	timers.heap[i] = t;
	t->idx = (int32_t)i;
}

static void siftup(size_t i)
{
	struct timer *t = timers.heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (timers.heap[parent]->when <= t->when)
			break;
		place(i, timers.heap[parent]);
		i = parent;
	}
	place(i, t);
}

static void siftdown(size_t i)
{
	struct timer *t = timers.heap[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= timers.len)
			break;
		if (c + 1 < timers.len &&
		    timers.heap[c + 1]->when < timers.heap[c]->when)
			c++;
		if (t->when <= timers.heap[c]->when)
			break;
		place(i, timers.heap[c]);
		i = c;
	}
	place(i, t);
}

static void remove_at(size_t i)
{
	struct timer *last = timers.heap[--timers.len];

	timers.heap[i]->idx = -1;
	if (i == timers.len)
		return;
	place(i, last);
	siftup(i);
	siftdown((size_t)last->idx);
}

void timer_add(struct timer *t)
{
	bool earliest;

	lock(&timers.lock);
	if (t->idx >= 0)
		throw("timer_add: timer already queued");
	if (timers.len == timers.cap)
		grow();
	place(timers.len++, t);
	siftup(timers.len - 1);
	earliest = t->idx == 0;
	unlock(&timers.lock);

	if (!earliest)
		return;
	/* An idle M sleeping past this deadline must re-arm: wake it. */
	if (!wake_timer_sleeper(t->when))
		wakep();
}

bool timer_del(struct timer *t)
{
	bool queued;

	lock(&timers.lock);
	queued = t->idx >= 0;
	if (queued)
		remove_at((size_t)t->idx);
	unlock(&timers.lock);
	return queued;
}

int64_t timers_next(void)
{
	int64_t when = -1;

	lock(&timers.lock);
	if (timers.len)
		when = timers.heap[0]->when;
	unlock(&timers.lock);
	return when;
}

int64_t timers_run(int64_t now)
{
	struct { g *gp; uint64_t gen; } batch[64];
	int n;
	int64_t next;

	do {
		n = 0;
		next = -1;
		lock(&timers.lock);
		while (timers.len && n < 64) {
			struct timer *t = timers.heap[0];
			if (t->when > now) {
				next = t->when;
				break;
			}
			batch[n].gp = t->gp;
			batch[n].gen = t->gen;
			n++;
			remove_at(0);
		}
		if (n == 64 && timers.len)
			next = timers.heap[0]->when;
		unlock(&timers.lock);
		for (int i = 0; i < n; i++)
			timer_fire(batch[i].gp, batch[i].gen);
	} while (n == 64 && next >= 0 && next <= now);
	return next;
}

void timers_afterfork(void)
{
	timers.lock.key = 0;
	timers.len = 0;		/* their Gs are gone */
}
