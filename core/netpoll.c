/*
 * netpoll.c: the network poller. Go: netpoll.go (pollDesc, netpollready,
 * netpollblock), netpoll_epoll.go (netpollinit, netpollopen, netpoll,
 * netpollBreak) and findrunnable's and sysmon's calls to netpoll.
 * Owns the epoll instance, its eventfd, the poll descriptor table and
 * sched-side poll state (lastpoll, the blocked poller's deadline).
 *
 * Model. One poll descriptor (struct pd) per fd number, in a two-level
 * table that is never freed, so a G may keep a pointer to it. A G that
 * must wait for an fd reads pd.rseq (or wseq), tries its call, and if the
 * call would block, arms the fd (netpoll_arm) and parks on that word at G
 * level (core/sema.c) until it changes. The poller bumps the word and
 * wakes every G parked on it when epoll reports the fd ready, and close
 * bumps it too (with pd.gen, so a woken G knows the file is gone). A G
 * waiting on several fds (poll, select) hangs a pollwaiter on each pd.
 *
 * Arming registers the fd once (EPOLL_CTL_ADD, edge-triggered, reading
 * and writing) until libgmp sees it closed or its number reused
 * (netpoll_close). A G reads the word before its attempt, so an edge
 * that comes between the failed attempt and the park has bumped it and
 * the park returns at once: no readiness is lost. The first ADD reports
 * the current readiness too. Events carry fd and gen: an event of an old
 * file for a reused number only causes a spurious wakeup. A number closed
 * and reused behind libgmp's back (glibc's internal close) is the one
 * case that can stay unregistered: the shims forget a number whenever a
 * call they see creates an fd (gmp__fd_new), and fclose is interposed.
 *
 * Who polls (DESIGN.md §3): findrunnable, without blocking, when Gs wait
 * on fds and no M blocks in the poller; the last M with nothing to do
 * blocks in epoll_wait until the next timer (sched.c), holding no P; sysmon
 * when nobody polled for 10 ms. netpoll_break (an eventfd write) ends a
 * blocked poll when a timer earlier than its deadline is added.
 *
 * Invariants. pd memory is never freed or moved. lastpoll == 0 exactly
 * while one M blocks in epoll_wait. The epoll fd and eventfd belong to
 * libgmp: a program closing or dup2'ing over them (netpoll_fd_taken) makes
 * the next arm create new ones and wakes every waiter to re-arm there.
 *
 * Lock order: pd.lock (LOCKRANK_PD) comes before the sema buckets: the
 * poller wakes a pollwaiter's G holding it. np.lock (creating the
 * instance) is a leaf.
 *
 * Rejected. One-shot registrations: a reader and a writer waiting on one
 * fd would need the poller to re-arm after each event. Level-triggered:
 * writable sockets would report forever. A per-G epoll for poll(): an
 * epoll_create per call.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include "core.h"

#define PD_SHIFT 12
#define PD_CHUNK (1 << PD_SHIFT)
#define PD_NDIR (PD_MAXFD >> PD_SHIFT)

_Atomic uint64_t netpoll_parks, netpoll_wakeups, netpoll_polls;
_Atomic int32_t netpoll_waiters;
_Atomic int64_t netpoll_lastpoll = 1;	/* 0: an M blocks in epoll_wait */

static struct {
	struct mutex lock;		/* creating the instance */
	_Atomic int epfd;		/* -1 until first use */
	_Atomic int evfd;
	_Atomic uint32_t broken;	/* a break is pending in evfd */
	int64_t poll_until;		/* the blocked poller's deadline */
	_Atomic int maxfd;		/* highest fd with a pd */
} np = { .lock = MUTEX_INIT(LOCKRANK_LEAF), .epfd = -1, .evfd = -1 };

static struct pd *_Atomic pd_dir[PD_NDIR];

#define EV_BREAK (~0ull)

struct pd *pd_get(int fd, bool create)
{
	if (fd < 0 || fd >= PD_MAXFD)
		return NULL;
	struct pd *chunk = atomic_load_explicit(&pd_dir[fd >> PD_SHIFT],
						memory_order_acquire);
	if (!chunk) {
		if (!create)
			return NULL;
		long r = arch_syscall6(SYS_mmap, 0,
				       PD_CHUNK * sizeof(struct pd),
				       PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (r < 0 && r > -4096)
			return NULL;
		struct pd *fresh = (struct pd *)r;
		for (int i = 0; i < PD_CHUNK; i++)
			fresh[i].lock.rank = LOCKRANK_PD;
		struct pd *none = NULL;
		/* release: the initialised chunk is visible with the pointer */
		if (atomic_compare_exchange_strong_explicit(
			    &pd_dir[fd >> PD_SHIFT], &none, fresh,
			    memory_order_acq_rel, memory_order_acquire)) {
			chunk = fresh;
		} else {
			arch_syscall(SYS_munmap, r,
				     PD_CHUNK * sizeof(struct pd), 0, 0);
			chunk = none;
		}
	}
	int top = atomic_load_explicit(&np.maxfd, memory_order_relaxed);
	while (create && fd > top &&
	       !atomic_compare_exchange_weak(&np.maxfd, &top, fd))
		;
	return &chunk[fd & (PD_CHUNK - 1)];
}

int pd_maxfd(void)
{
	return atomic_load_explicit(&np.maxfd, memory_order_relaxed);
}

/* Bump *w and wake the Gs parked on it. nwait counts them (they add
 * themselves before reading the word, netpoll_wait_begin): no waiter, no
 * trip to the wait table. seq_cst: the bump, then the count; the waiter
 * adds to the count, then reads the word. */
static int wake_word(_Atomic uint32_t *w, _Atomic int32_t *nwait)
{
	atomic_fetch_add(w, 1);
	if (atomic_load(nwait) == 0)
		return 0;
	gfutex_wake((const void *)w, INT_MAX);
	return 1;
}

/* fd is ready for what ev says (or gone): wake its waiters. */
static void pd_ready(struct pd *pd, uint32_t ev)
{
	int n = 0;

	if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		n += wake_word(&pd->rseq, &pd->nwait[0]);
	if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		n += wake_word(&pd->wseq, &pd->nwait[1]);
	if (atomic_load_explicit(&pd->pollers, memory_order_acquire)) {
		lock(&pd->lock);
		for (struct pollwaiter *w = pd->pollers; w; w = w->next) {
			atomic_fetch_add_explicit(&w->word, 1,
						  memory_order_release);
			n += gfutex_wake((const void *)&w->word, 1);
		}
		unlock(&pd->lock);
	}
	atomic_fetch_add_explicit(&netpoll_wakeups, (uint64_t)n,
				  memory_order_relaxed);
}

void pd_addpoller(struct pd *pd, struct pollwaiter *w)
{
	lock(&pd->lock);
	w->prev = NULL;
	w->next = pd->pollers;
	if (w->next)
		w->next->prev = w;
	atomic_store_explicit(&pd->pollers, w, memory_order_release);
	unlock(&pd->lock);
}

void pd_delpoller(struct pd *pd, struct pollwaiter *w)
{
	lock(&pd->lock);
	if (w->prev)
		w->prev->next = w->next;
	else
		atomic_store_explicit(&pd->pollers, w->next,
				      memory_order_release);
	if (w->next)
		w->next->prev = w->prev;
	unlock(&pd->lock);
}

/* Create the epoll instance and its eventfd. npoll.lock held. */
static int instance_make(void)
{
	long ep = arch_syscall(SYS_epoll_create1, EPOLL_CLOEXEC, 0, 0, 0);
	if (ep < 0)
		return (int)ep;
	long ev = arch_syscall(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK,
			       0, 0);
	if (ev < 0) {
		arch_syscall(SYS_close, ep, 0, 0, 0);
		return (int)ev;
	}
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = EV_BREAK };
	long r = arch_syscall(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, ev, &e);
	if (r < 0) {
		arch_syscall(SYS_close, ep, 0, 0, 0);
		arch_syscall(SYS_close, ev, 0, 0, 0);
		return (int)r;
	}
	atomic_store(&np.broken, 0);
	atomic_store(&np.evfd, (int)ev);
	atomic_store(&np.epfd, (int)ep);
	debugf("netpoll: epoll fd %ld, eventfd %ld", ep, ev);
	return 0;
}

static int instance(void)
{
	int ep = atomic_load_explicit(&np.epfd, memory_order_acquire);

	if (ep >= 0)
		return ep;
	lock(&np.lock);
	int r = 0;
	if (atomic_load(&np.epfd) < 0)
		r = instance_make();
	unlock(&np.lock);
	return r < 0 ? r : atomic_load(&np.epfd);
}

void pd_foreach(void (*fn)(int fd, struct pd *pd, void *arg), void *arg)
{
	int max = pd_maxfd();

	for (int fd = 0; fd <= max; fd++) {
		struct pd *pd = pd_get(fd, false);
		if (!pd) {	/* a whole chunk never made */
			fd |= PD_CHUNK - 1;
			continue;
		}
		fn(fd, pd, arg);
	}
}

static void wake_one(int fd, struct pd *pd, void *arg)
{
	(void)fd;
	(void)arg;
	pd_ready(pd, EPOLLIN | EPOLLOUT);
}

/* Every waiter re-arms: after the instance was replaced. */
static void wake_everyone(void)
{
	pd_foreach(wake_one, NULL);
}

bool netpoll_fd_taken(int fd)
{
	if (fd < 0)
		return false;
	int ep = atomic_load(&np.epfd), ev = atomic_load(&np.evfd);
	if (fd != ep && fd != ev)
		return false;
	/* the program closes or reuses a number it never got from us:
	 * forget the instance (its fds become the program's business) */
	lock(&np.lock);
	if (atomic_load(&np.epfd) == ep) {
		if (ev >= 0) {
			uint64_t one = 1;
			arch_syscall(SYS_write, ev, &one, 8, 0);
		}
		atomic_store(&np.epfd, -1);
		atomic_store(&np.evfd, -1);
		if (fd != ep)
			arch_syscall(SYS_close, ep, 0, 0, 0);
		if (fd != ev)
			arch_syscall(SYS_close, ev, 0, 0, 0);
	}
	unlock(&np.lock);
	wake_everyone();
	return true;
}

int netpoll_arm(int fd, struct pd *pd)
{
	int ep = instance();

	if (ep < 0)
		return ep;
	if (atomic_load_explicit(&pd->armed, memory_order_acquire))
		return 0;	/* registered for this file: edges come */
	struct epoll_event e = {
		.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		.data.u64 = (uint64_t)atomic_load(&pd->gen) << 32 |
			    (uint32_t)fd,
	};
	long r = arch_syscall(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, fd, &e);
	if (r == -EEXIST)	/* an older registration of this number */
		r = arch_syscall(SYS_epoll_ctl, ep, EPOLL_CTL_MOD, fd, &e);
	if (r == 0)
		atomic_store(&pd->armed, 1);
	return (int)r;
}

void netpoll_close(int fd)
{
	struct pd *pd = pd_get(fd, false);

	if (!pd)
		return;
	atomic_fetch_add(&pd->gen, 1);
	/* never armed since the last close: nobody waits, nothing is
	 * registered (most files) */
	if (!atomic_exchange(&pd->armed, 0))
		return;
	int ep = atomic_load(&np.epfd);
	if (ep >= 0)	/* a dup of the file may live on: stop its events */
		arch_syscall(SYS_epoll_ctl, ep, EPOLL_CTL_DEL, fd, NULL);
	pd_ready(pd, EPOLLIN | EPOLLOUT);
}

void netpoll_kick(int fd)
{
	struct pd *pd = pd_get(fd, false);

	if (pd)
		pd_ready(pd, EPOLLIN | EPOLLOUT);
}

int netpoll_dispatch(const struct epoll_event *ev, int n)
{
	int woken = 0;

	for (int i = 0; i < n; i++) {
		uint64_t d = ev[i].data.u64;
		if (d == EV_BREAK) {
			uint64_t v;
			int e = atomic_load(&np.evfd);
			if (e >= 0)
				arch_syscall(SYS_read, e, &v, 8, 0);
			atomic_store(&np.broken, 0);
			continue;
		}
		struct pd *pd = pd_get((int)(uint32_t)d, false);
		if (!pd || atomic_load(&pd->gen) != (uint32_t)(d >> 32))
			continue;	/* an old file's event */
		pd_ready(pd, ev[i].events);
		woken++;
	}
	return woken;
}

int netpoll_wait(struct epoll_event *ev, int max, int64_t until)
{
	int ep = atomic_load_explicit(&np.epfd, memory_order_acquire);
	int ms = 0;

	if (ep < 0)
		return 0;
	if (until < 0) {
		ms = -1;
	} else if (until > 0) {
		int64_t d = until - nanotime();
		if (d > 0)
			ms = d >= (int64_t)INT_MAX * 1000000
				     ? INT_MAX
				     : (int)((d + 999999) / 1000000);
	}
	if (ms)
		np.poll_until = until;
	atomic_fetch_add_explicit(&netpoll_polls, 1, memory_order_relaxed);
	long r = arch_syscall6(SYS_epoll_pwait, ep, (long)ev, max, ms, 0, 8);
	np.poll_until = 0;
	if (r == -EBADF || r == -EINVAL) {
		/* the program took our fd (netpoll_fd_taken raced with us) */
		return 0;
	}
	return r < 0 ? 0 : (int)r;
}

void netpoll_break(int64_t when)
{
	if (atomic_load(&netpoll_lastpoll) != 0)
		return;		/* nobody blocks in the poller */
	int64_t until = np.poll_until;
	if (when >= 0 && until > 0 && until <= when)
		return;		/* it wakes in time anyway */
	uint32_t zero = 0;
	if (!atomic_compare_exchange_strong(&np.broken, &zero, 1))
		return;
	int ev = atomic_load(&np.evfd);
	uint64_t one = 1;
	if (ev >= 0)
		arch_syscall(SYS_write, ev, &one, 8, 0);
}

bool netpoll_active(void)
{
	return atomic_load_explicit(&netpoll_waiters, memory_order_relaxed) >
		       0 &&
	       atomic_load_explicit(&np.epfd, memory_order_relaxed) >= 0;
}

int netpoll_poll_now(void)
{
	struct epoll_event ev[64];

	if (!netpoll_active() ||
	    atomic_load_explicit(&netpoll_lastpoll, memory_order_relaxed) == 0)
		return 0;
	int n = netpoll_wait(ev, 64, 0);
	atomic_store_explicit(&netpoll_lastpoll, nanotime(),
			      memory_order_relaxed);
	return n ? netpoll_dispatch(ev, n) : 0;
}

static void pd_afterfork(int fd, struct pd *pd, void *arg)
{
	(void)fd;
	(void)arg;
	pd->lock.key = 0;
	atomic_store(&pd->pollers, NULL);	/* their Gs are gone */
	atomic_store(&pd->armed, 0);	/* registered in the parent's */
	atomic_store(&pd->nwait[0], 0);
	atomic_store(&pd->nwait[1], 0);
}

void netpoll_afterfork(void)
{
	/* the instance is shared with the parent: make our own */
	int ep = atomic_load(&np.epfd), ev = atomic_load(&np.evfd);

	np.lock.key = 0;
	if (ep >= 0)
		arch_syscall(SYS_close, ep, 0, 0, 0);
	if (ev >= 0)
		arch_syscall(SYS_close, ev, 0, 0, 0);
	atomic_store(&np.epfd, -1);
	atomic_store(&np.evfd, -1);
	atomic_store(&np.broken, 0);
	atomic_store(&netpoll_waiters, 0);
	atomic_store(&netpoll_lastpoll, 1);
	pd_foreach(pd_afterfork, NULL);
}
