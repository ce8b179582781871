/*
 * g.c: a G's identity and memory: stack, glibc TCB and static TLS, the
 * free-G pool, the main thread's adoption. Go: malg, newproc1, gfget,
 * gfput (proc.go). Owns struct g's memory fields, the pool, g_created.
 *
 * Model (DESIGN.md §2). Each G owns a real glibc thread control block:
 * `struct pthread` at the thread pointer with the static TLS blocks below
 * it, built by ld.so's own _dl_allocate_tls on memory at the top of the G's
 * stack mapping. So errno, __thread variables, pthread_self(), stdio's
 * recursive locks (owner = THREAD_SELF), malloc's tcache, locale and
 * dlerror state are per G with no interposition, and stay right when the G
 * moves between Ms, because the %fs base moves with the G (arch_switch).
 * Layout of a mapping, from the top:
 *
 *     struct g | struct pthread (tp) | static TLS | stack ... | guard
 *
 * libgmp finds the running G through tcbhead's unused_vgetcpu_cache words
 * (offset 0x38, unused by glibc >= 2.26): word 0 is the g, word 1 the g
 * xor a cookie, so g_from_thread can tell our TCBs from NPTL's (whose words
 * are zero) without a table.
 *
 * Fields glibc reads from the TCB of a running thread, and what a G gets:
 * header tcb/self = tp; multiple_threads = 1; stack and pointer guards and
 * CET feature bits copied from the creator; tid = a unique number above
 * the kernel's PID_MAX_LIMIT (glibc's recursive rtld lock compares tids;
 * the main G keeps its real tid); rseq cpu_id = -1 so sched_getcpu asks
 * the kernel; __resp points at the TCB's own resolver state.
 *
 * Unwinding (pthread_exit, cancellation). glibc's pthread_exit runs the
 * cleanup handlers and C++ destructors with a forced unwind that ends by
 * longjmp'ing to the pthread_unwind_buf at the bottom of the TCB's
 * cleanup_jmp_buf chain. g_main puts one there, as glibc's start_thread
 * does, so glibc's own pthread_exit, pthread_testcancel and cancellation
 * points work on a G unchanged and land back in g_main, which ends the G.
 * The main G's bottom buffer is glibc's (in __libc_start_call_main, which
 * would make the kernel thread exit): g_unwind_ready points its saved pc
 * at arch_unwind_landing instead, which ends the main G the same way.
 * The field offsets are found at start-up by calling glibc (see
 * find_cancel_fields); if that fails, pthread_exit ends a G without
 * unwinding and cancellation is refused (warned once).
 *
 * Reuse. A dead G keeps its stack and TCB in the pool. Reusing it re-runs
 * _dl_allocate_tls_init like glibc's stack cache does, but first saves
 * libc's own static TLS block and restores it afterwards: that keeps
 * malloc's per-thread tcache and arena, which glibc frees only in
 * __libc_thread_freeres (not exported). The G then resets what a new
 * thread must not inherit (errno, h_errno, locale, dlerror).
 *
 * Invariants. A G in the pool is G_DEAD with joinword handled (joined or
 * detached) and its cookie cleared. g.tp is never NULL for a started G.
 * Lock order: gfree (LOCKRANK_GFREE), then stack (LOCKRANK_STACK).
 *
 * Rejected. A malloc'd TCB per G: one allocation more and TLS far from the
 * stack. Sharing the M's TCB (every other M:N library): errno and stdio
 * locks break as soon as a G migrates.
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <locale.h>
#include <netdb.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include "core.h"

/* ld.so and libc, GLIBC_PRIVATE: the same calls glibc's own
 * pthread_create makes. */
extern void *_dl_allocate_tls(void *mem);
extern void _dl_deallocate_tls(void *tcb, bool dealloc_tcb);
extern void *_dl_allocate_tls_init(void *result, bool init_tls);
extern void _dl_get_tls_static_info(size_t *sizep, size_t *alignp);
extern void __ctype_init(void);
extern void __call_tls_dtors(void);
/* __sigsetjmp on the smaller jmp_buf of __pthread_unwind_buf_t, as
 * pthread.h's __sigsetjmp_cancel declares it. */
extern int sigsetjmp_cancel(struct __cancel_jmp_buf_tag env[1], int savemask)
	__asm__("__sigsetjmp") __attribute__((returns_twice));

#define GCOOKIE 0x6c6962676d702d67ull	/* "libgmp-g" */
#define GDEAD 0x6c6962676d702d64ull	/* "libgmp-d": an ended G */
#define FAKE_TID_BASE (1 << 22)		/* > PID_MAX_LIMIT */
#define POOL_HOT 64			/* pooled Gs that keep their pages */
#define POOL_MAX 1024			/* pooled Gs kept at all */

static struct {
	size_t static_size;	/* all static TLS incl. the TCB */
	size_t align;
	size_t tcb_size;	/* sizeof(struct pthread), rounded */
	ptrdiff_t tid_off, rseq_off;
	bool list_ok;		/* struct pthread.list sits just before tid */
	ptrdiff_t libc_off;	/* libc's TLS block, relative to tp */
	size_t libc_size;
	ptrdiff_t resp_tls_off;	/* __resp, relative to tp */
	ptrdiff_t res_off;	/* struct pthread.res, relative to tp */
	/* cancellation and unwinding (struct pthread fields, from tp) */
	ptrdiff_t cancel_off;	/* cancelhandling */
	ptrdiff_t cleanup_jmp_off; /* cleanup_jmp_buf: pthread_unwind_buf chain */
	ptrdiff_t cleanup_off;	/* cleanup: _pthread_cleanup_push's chain */
	bool unwind_ok;		/* all three found: pthread_exit unwinds */
	size_t top_reserve;	/* g + TCB + static TLS at a stack's top */
} tl;

static struct {
	struct mutex lock;
	g *head;
	int n, hot;
	g *allg;		/* every G ever made, for tools */
} gfree = { .lock = MUTEX_INIT(LOCKRANK_GFREE) };

_Atomic uint64_t g_created, g_peak_live = 1;
static _Atomic uint64_t next_goid = 1;
static _Atomic int next_tid = FAKE_TID_BASE;

static size_t roundup(size_t x, size_t a)
{
	return (x + a - 1) & ~(a - 1);
}

void g_bind_tcb(g *gp, void *tp)
{
	((uint64_t *)((char *)tp + TCB_GSLOT))[0] = (uint64_t)gp;
	((uint64_t *)((char *)tp + TCB_GSLOT))[1] = (uint64_t)gp ^ GCOOKIE;
	gp->tp = tp;
	gp->ctx.tp = tp;
}

/* The TCB stays recognisable as a thread that has ended, so that
 * pthread_join and pthread_detach on it return ESRCH as glibc does. */
static void unbind_tcb(void *tp)
{
	uint64_t *w = (uint64_t *)((char *)tp + TCB_GSLOT);

	w[1] = w[0] ^ GDEAD;
}

bool g_thread_ended(pthread_t t)
{
	uint64_t *w = (uint64_t *)((char *)t + TCB_GSLOT);

	return t != 0 && w[0] != 0 && (w[0] ^ GDEAD) == w[1];
}

g *g_from_thread(pthread_t t)
{
	uint64_t *w = (uint64_t *)((char *)t + TCB_GSLOT);

	if (t == 0 || (w[0] ^ GCOOKIE) != w[1] || w[0] == 0)
		return NULL;
	g *gp = (g *)w[0];
	return gp->is_g0 ? NULL : gp;
}

static int find_libc_tls(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	if (!info->dlpi_name || !strstr(info->dlpi_name, "/libc.so.6"))
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		if (info->dlpi_phdr[i].p_type != PT_TLS || !info->dlpi_tls_data)
			continue;
		tl.libc_off = (char *)info->dlpi_tls_data - (char *)arch_tp();
		tl.libc_size = info->dlpi_phdr[i].p_memsz;
	}
	return 1;
}

/* Where struct pthread keeps cancelhandling, cleanup_jmp_buf and cleanup:
 * glibc's thread_db descriptor gives the first; the others are found by
 * letting glibc link a buffer into the calling thread's chains and
 * looking for its address. */
static void find_cancel_fields(char *tp)
{
	const uint32_t *db = dlsym(RTLD_DEFAULT,
				   "_thread_db_pthread_cancelhandling");
	void (*reg)(void *) = dlsym(RTLD_DEFAULT, "__pthread_register_cancel");
	void (*unreg)(void *) = dlsym(RTLD_DEFAULT,
				      "__pthread_unregister_cancel");
	void (*push)(void *, void (*)(void *), void *) =
		dlsym(RTLD_DEFAULT, "_pthread_cleanup_push");
	void (*pop)(void *, int) = dlsym(RTLD_DEFAULT, "_pthread_cleanup_pop");
	__pthread_unwind_buf_t ub;
	void *cb[4];

	tl.cancel_off = tl.cleanup_jmp_off = tl.cleanup_off = -1;
	if (db && db[0] == 32 && db[1] == 1)
		tl.cancel_off = db[2];
	if (reg && unreg) {
		reg(&ub);
		for (ptrdiff_t o = 0x100; o < 0x800; o += 8)
			if (*(void **)(tp + o) == &ub) {
				tl.cleanup_jmp_off = o;
				break;
			}
		unreg(&ub);
	}
	if (push && pop) {
		push(cb, NULL, NULL);
		for (ptrdiff_t o = 0x100; o < 0x800; o += 8)
			if (*(void **)(tp + o) == cb) {
				tl.cleanup_off = o;
				break;
			}
		pop(cb, 0);
	}
	tl.unwind_ok = tl.cancel_off >= 0 && tl.cleanup_jmp_off >= 0 &&
		       tl.cleanup_off >= 0;
	if (!tl.unwind_ok)
		debugf("unknown struct pthread layout: pthread_exit does not "
		       "unwind, pthread_cancel is refused");
}

/* Modules loaded before start-up were initialised by ld.so. */
static int mark_loaded_tls(struct dl_phdr_info *info, size_t size, void *arg);

int g_tls_init(void)
{
	char *tp = arch_tp();
	int tid = (int)arch_syscall(SYS_gettid, 0, 0, 0, 0);
	const ptrdiff_t *rseq = dlsym(RTLD_DEFAULT, "__rseq_offset");

	_dl_get_tls_static_info(&tl.static_size, &tl.align);
	if (tl.align < 64)
		tl.align = 64;
	tl.rseq_off = rseq ? *rseq : -1;
	tl.tcb_size = roundup(rseq ? (size_t)*rseq + 32 : 2368, 64);
	/* glibc 2.34-2.41 keep tid at 720 on x86_64; verify, else search. */
	tl.tid_off = 720;
	if (*(int *)(tp + tl.tid_off) != tid) {
		tl.tid_off = -1;
		for (ptrdiff_t o = 0x300; o < 0x400 && tl.tid_off < 0; o += 4)
			if (*(int *)(tp + o) == tid)
				tl.tid_off = o;
		if (tl.tid_off < 0) {
			warnf("unsupported glibc: cannot find the TCB's tid");
			return -1;
		}
	}
	/* glibc's fork unlinks the calling thread's struct pthread.list
	 * (just before tid) from its thread list: a G's must be a valid
	 * node. Check the layout on the main thread, which is listed. */
	void **node = (void **)(tp + tl.tid_off - 16);
	tl.list_ok = node[0] && ((void ***)node[0])[1] == (void *)node;
	if (!tl.list_ok)
		debugf("unknown struct pthread layout: fork from a thread "
		       "other than main may crash");
	dl_iterate_phdr(find_libc_tls, NULL);
	dl_iterate_phdr(mark_loaded_tls, NULL);
	find_cancel_fields(tp);
	void **resp = dlsym(RTLD_DEFAULT, "__resp");
	if (resp)
		tl.resp_tls_off = (char *)resp - tp;
	pthread_attr_t da;
	size_t dsize = 8 << 20, dguard = 4096;
	if (pthread_getattr_default_np(&da) == 0) {
		pthread_attr_getstacksize(&da, &dsize);
		pthread_attr_getguardsize(&da, &dguard);
		pthread_attr_destroy(&da);
	}
	stack_init(roundup(dsize, stack_pagesize()) +
		   roundup(dguard, stack_pagesize()));
	tl.top_reserve = roundup(sizeof(g), 64) + tl.tcb_size +
			 roundup(tl.static_size, tl.align) + tl.align;
	return 0;
}

/* Called on a real NPTL thread (the template thread): learn where glibc
 * keeps a thread's resolver state inside struct pthread. */
void g_learn_res(void)
{
	char *tp = arch_tp();

	if (!tl.resp_tls_off)
		return;
	char *res = *(char **)(tp + tl.resp_tls_off);
	if (res > tp && res < tp + (ptrdiff_t)tl.tcb_size)
		tl.res_off = res - tp;
}

/* Carve g, TCB and TLS from the top of [base, base+size). */
static g *carve(char *base, size_t size, char **tpp)
{
	char *top = base + size;
	g *gp = (g *)(((uintptr_t)top - sizeof(g)) & ~(uintptr_t)63);
	char *tp = (char *)(((uintptr_t)gp - tl.tcb_size) &
			    ~(uintptr_t)(tl.align - 1));

	*tpp = tp;
	return gp;
}

/* Fill the TCB header and the struct pthread fields glibc reads. */
static void tcb_fill(g *gp, char *tp)
{
	char *cur = arch_tp();

	memset(tp, 0, tl.tcb_size);
	*(void **)(tp + 0) = tp;		/* header.tcb */
	*(void **)(tp + 16) = tp;		/* header.self */
	*(int *)(tp + 24) = 1;			/* multiple_threads */
	memcpy(tp + 0x28, cur + 0x28, 16);	/* stack, pointer guard */
	*(unsigned *)(tp + 0x48) = *(unsigned *)(cur + 0x48); /* feature_1 */
	*(int *)(tp + tl.tid_off) = gp->tid;
	if (tl.list_ok) {	/* an empty list node, for glibc's fork */
		void **node = (void **)(tp + tl.tid_off - 16);
		node[0] = node[1] = node;
	}
	if (tl.rseq_off > 0)
		*(int32_t *)(tp + tl.rseq_off + 4) = -1;	/* cpu_id */
	g_bind_tcb(gp, tp);
}

static int tls_fresh(g *gp, char *tp)
{
	tcb_fill(gp, tp);
	if (_dl_allocate_tls(tp) == NULL)
		return -EAGAIN;
	return 0;
}

typedef union {
	size_t counter;
	struct {
		void *val;
		void *to_free;
	} pointer;
} dtv_t;

static void tls_reuse(g *gp, char *tp)
{
	char saved[512];
	bool keep = tl.libc_size && tl.libc_size <= sizeof saved;
	dtv_t *dtv = *(dtv_t **)(tp + 8);

	if (keep)
		memcpy(saved, tp + tl.libc_off, tl.libc_size);
	for (size_t i = 0; i < dtv[-1].counter; i++)
		free(dtv[1 + i].pointer.to_free);
	memset(dtv, 0, (dtv[-1].counter + 1) * sizeof(dtv_t));
	tcb_fill(gp, tp);
	*(dtv_t **)(tp + 8) = dtv;
	_dl_allocate_tls_init(tp, true);
	if (keep)
		memcpy(tp + tl.libc_off, saved, tl.libc_size);
}

static void tls_set_resp(char *tp)
{
	if (tl.res_off && tl.resp_tls_off)
		*(char **)(tp + tl.resp_tls_off) = tp + tl.res_off;
}

/* A pooled G of the right shape, or NULL. */
static g *gfget(size_t map_size, size_t guard)
{
	g *gp, **pp;
	int scanned = 0;

	lock(&gfree.lock);
	for (pp = &gfree.head; (gp = *pp) && scanned < 8;
	     pp = &gp->schedlink, scanned++) {
		if (gp->map_size == map_size && gp->guard == guard) {
			*pp = gp->schedlink;
			gfree.n--;
			if (gfree.hot > 0 && scanned < gfree.hot)
				gfree.hot--;
			break;
		}
	}
	unlock(&gfree.lock);
	return gp;
}

void gfput(g *gp)
{
	bool cold;

	if (gp->is_main || gp->user_stack)
		throw("gfput: G without a pooled stack");
	unbind_tcb(gp->tp);
	lock(&gfree.lock);
	gp->schedlink = gfree.head;
	gfree.head = gp;
	gfree.n++;
	cold = gfree.hot >= POOL_HOT;
	if (!cold)
		gfree.hot++;
	unlock(&gfree.lock);
	if (cold)	/* raw madvise: fine on g0 */
		stack_release_pages(gp->stack_lo, gp->stack_hi - 4096);
}

/* The G table: push at the head, unlink a G whose memory goes away.
 * gfree.lock held. */
static void allg_push(g *gp)
{
	gp->allprev = NULL;
	gp->alllink = gfree.allg;
	if (gfree.allg)
		gfree.allg->allprev = gp;
	__atomic_store_n(&gfree.allg, gp, __ATOMIC_RELEASE);
}

static void allg_unlink(g *gp)
{
	if (gp->allprev)
		gp->allprev->alllink = gp->alllink;
	else
		gfree.allg = gp->alllink;
	if (gp->alllink)
		gp->alllink->allprev = gp->allprev;
}

void g_table_lock(void)
{
	lock(&gfree.lock);
}

void g_table_unlock(void)
{
	unlock(&gfree.lock);
}

void g_pool_trim(void)
{
	for (;;) {
		g *victim = NULL;

		lock(&gfree.lock);
		if (gfree.n > POOL_MAX) {
			/* the pool is a stack: drop from the top (O(1)) */
			victim = gfree.head;
			gfree.head = victim->schedlink;
			gfree.n--;
			allg_unlink(victim);	/* its memory goes */
			if (gfree.hot > 0)
				gfree.hot--;
		}
		unlock(&gfree.lock);
		if (!victim)
			return;
		struct stack s = { victim->map_base, victim->map_size,
				   victim->guard, 1 };
		_dl_deallocate_tls(victim->tp, false);
		s.chunked = victim->stack_chunked;
		stack_free(&s);
	}
}

static void g_init_common(g *gp, const struct gattr *a,
			  void *(*fn)(void *), void *arg)
{
	gp->goid = atomic_fetch_add_explicit(&next_goid, 1,
					     memory_order_relaxed);
	gp->status = G_IDLE;
	gp->start = fn;
	gp->arg = arg;
	gp->result = NULL;
	gp->joinword = a->detached ? JOIN_DETACHED : 0;
	gp->sched_policy = a->policy;
	gp->sched_prio = a->prio;
	gp->inheritsched = a->inheritsched;
	gp->scope = a->scope;
	gp->waitgen = 0;
	gp->timer.idx = -1;
	gp->w.addr = NULL;
	gp->exit_set = false;
	gp->interruptible = 0;
	gp->cpu_ns = gp->cpu_in = 0;
	gp->lockedm = NULL;
	gp->in_handler = 0;
	gp->kick_uc = NULL;
	gp->alt_on = false;	/* a new thread has no alternate stack */
	gp->is_system = false;
	gp->why_next = 0;
	gp->parked_at = 0;
	atomic_store_explicit(&gp->wire_req, false, memory_order_relaxed);
	gp->wire.has_aff = gp->wire.has_sched = false;
	if (tl.unwind_ok) {
		/* a new thread: cancellation enabled, deferred, none pending
		 * (before pthread_create returns: it may be cancelled at once) */
		char *tp = gp->tp;
		atomic_store((_Atomic int *)(tp + tl.cancel_off), 0);
		*(void **)(tp + tl.cleanup_off) = NULL;
		*(void **)(tp + tl.cleanup_jmp_off) = NULL;
	}
	atomic_store_explicit(&gp->intr_req, 0, memory_order_relaxed);
	atomic_store_explicit(&gp->in_cancel_syscall, false,
			      memory_order_relaxed);
	g *self = getg();
	/* the creator's signal mask is inherited (POSIX) */
	gp->sigmask = self && !self->is_g0 ? self->sigmask : 0;
	atomic_store_explicit(&gp->sigpend, 0, memory_order_relaxed);
	atomic_store_explicit(&gp->sigproc, 0, memory_order_relaxed);
	memset(gp->sipend, 0, sizeof gp->sipend);
	if (self)
		memcpy(gp->name, self->name, sizeof gp->name);
	else
		memset(gp->name, 0, sizeof gp->name);
}

/* pthread_attr_setstack: TCB and TLS at the top of the caller's memory,
 * as glibc does; the g itself is allocated, since the caller may free the
 * stack as soon as pthread_join returns. */
static struct {
	struct mutex lock;
	g *dead;	/* exited detached user-stack Gs, freed by g_create */
} ustk = { .lock = MUTEX_INIT(LOCKRANK_GFREE) };

static void ustk_reap(void)
{
	g *list;

	if (!atomic_load_explicit((g *_Atomic *)&ustk.dead,
				  memory_order_relaxed))
		return;
	lock(&ustk.lock);
	list = ustk.dead;
	ustk.dead = NULL;
	unlock(&ustk.lock);
	while (list) {
		g *next = list->schedlink;
		free(list);
		list = next;
	}
}

static int g_create_user(const struct gattr *a, void *(*fn)(void *),
			 void *arg, g **out)
{
	char *base = a->stackaddr;
	char *top = base + a->stacksize;
	char *tp = (char *)(((uintptr_t)top - tl.tcb_size) &
			    ~(uintptr_t)(tl.align - 1));
	char *hi = (char *)(((uintptr_t)tp - tl.static_size) & ~(uintptr_t)63);
	g *gp;

	if (hi < base + 2048)
		return -EINVAL;
	ustk_reap();
	gp = calloc(1, sizeof *gp);
	if (!gp)
		return -EAGAIN;
	gp->user_stack = true;
	gp->map_base = base;
	gp->map_size = a->stacksize;
	gp->stack_lo = base;
	gp->stack_hi = hi;
	gp->tid = atomic_fetch_add_explicit(&next_tid, 1, memory_order_relaxed);
	memset(hi, 0, (size_t)(tp - hi));
	if (tls_fresh(gp, tp) < 0) {
		free(gp);
		return -EAGAIN;
	}
	tls_set_resp(tp);
	g_init_common(gp, a, fn, arg);
	arch_ctx_init(&gp->ctx, gp->stack_hi, tp, g_main, gp);
	atomic_fetch_add_explicit(&g_created, 1, memory_order_relaxed);
	*out = gp;
	return 0;
}

static int g_create1(const struct gattr *a, void *(*fn)(void *), void *arg, g **out)
{
	size_t ps = stack_pagesize();
	size_t guard = roundup(a->guardsize, ps);
	/* guardsize 0 still gets one page, not reported: an overflow then
	 * faults instead of writing over the runtime's memory below */
	size_t hidden = guard ? 0 : ps;
	size_t map_size = roundup(a->stacksize, ps) + guard + hidden;
	char *tp;
	g *gp;

	guard += hidden;
	if (a->stackaddr)
		return g_create_user(a, fn, arg, out);
	if (roundup(a->stacksize, ps) < tl.top_reserve + 2 * ps)
		return -EINVAL;
	g_pool_trim();
	gp = gfget(map_size, guard);
	if (gp) {
		tp = gp->tp;
		gp->reused = true;
		gp->guard_hidden = hidden;	/* same mapping either way */
		tls_reuse(gp, tp);
	} else {
		struct stack s;
		int r = stack_alloc(map_size, guard, &s);
		if (r < 0)
			return r;
		gp = carve(s.base, s.size, &tp);
		memset(gp, 0, sizeof *gp);
		gp->map_base = s.base;
		gp->map_size = s.size;
		gp->guard = s.guard;
		gp->guard_hidden = hidden;
		gp->stack_chunked = s.chunked;
		gp->stack_lo = (char *)s.base + s.guard;
		gp->stack_hi = (char *)(((uintptr_t)tp - tl.static_size) &
					~(uintptr_t)63);
		gp->tid = atomic_fetch_add_explicit(&next_tid, 1,
						    memory_order_relaxed);
		r = tls_fresh(gp, tp);
		if (r < 0) {
			stack_free(&s);
			return r;
		}
		lock(&gfree.lock);
		allg_push(gp);
		unlock(&gfree.lock);
	}
	tls_set_resp(tp);
	g_init_common(gp, a, fn, arg);
	arch_ctx_init(&gp->ctx, gp->stack_hi, tp, g_main, gp);
	atomic_fetch_add_explicit(&g_created, 1, memory_order_relaxed);
	*out = gp;
	return 0;
}

/* A joined or detached-and-dead G gives its memory back. Context: G, or
 * g0 for a detached G (then nothing here may allocate or free). */
static void g_release1(g *gp, bool on_g0)
{
	if (gp->is_main)
		return;
	if (gp->user_stack) {
		unbind_tcb(gp->tp);
		if (!on_g0) {
			free(gp);
			return;
		}
		lock(&ustk.lock);
		gp->schedlink = ustk.dead;
		ustk.dead = gp;
		unlock(&ustk.lock);
		return;
	}
	gfput(gp);
	if (!on_g0)
		g_pool_trim();
}

g *g_maing;

g *g_adopt_main(void)
{
	static g gmain;
	g *gp = &gmain;

	g_maing = gp;
	char comm[16] = "";

	gp->is_main = true;
	gp->goid = atomic_fetch_add_explicit(&next_goid, 1,
					     memory_order_relaxed);
	gp->tid = (int)arch_syscall(SYS_gettid, 0, 0, 0, 0);
	gp->timer.idx = -1;
	gp->status = G_RUNNING;
	gp->sched_policy = SCHED_OTHER;
	gp->inheritsched = PTHREAD_INHERIT_SCHED;
	arch_syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &gp->sigmask, 8);
	arch_syscall(SYS_prctl, PR_GET_NAME, comm, 0, 0);
	memcpy(gp->name, comm, sizeof gp->name);
	g_bind_tcb(gp, arch_tp());
	lock(&gfree.lock);
	allg_push(gp);
	unlock(&gfree.lock);
	atomic_fetch_add_explicit(&g_created, 1, memory_order_relaxed);
	return gp;
}

g *g_new_g0(m *mp)
{
	struct gattr a = { .stacksize = 256 << 10,
			   .guardsize = stack_pagesize() };
	size_t map_size = a.stacksize + a.guardsize;
	struct stack s;
	char *tp;
	g *gp;

	/* not from the chunked size class: g0 stacks are few */
	if (stack_alloc(map_size, a.guardsize, &s) < 0)
		throw("cannot allocate a g0 stack");
	gp = carve(s.base, s.size, &tp);
	memset(gp, 0, sizeof *gp);
	gp->is_g0 = true;
	gp->m = mp;
	gp->tid = (int)arch_syscall(SYS_gettid, 0, 0, 0, 0);
	gp->stack_lo = (char *)s.base + s.guard;
	gp->stack_hi = (char *)(((uintptr_t)tp - tl.static_size) &
				~(uintptr_t)63);
	if (tls_fresh(gp, tp) < 0)
		throw("cannot allocate a g0 TCB");
	return gp;
}

void g_main(void *arg)
{
	g *gp = arg;
	char *tp = gp->tp;
	__pthread_unwind_buf_t ub;

	if (gp->reused) {
		uselocale(LC_GLOBAL_LOCALE);
		(void)dlerror();
	}
	__ctype_init();
	errno = 0;
	h_errno = 0;
	rt_start();
	if (tl.unwind_ok) {
		if (sigsetjmp_cancel(ub.__cancel_jmp_buf, 0))
			g_unwound();	/* back from pthread_exit's unwind */
		/* after setjmp: it may use the private words (glibc does
		 * the same in start_thread) */
		ub.__pad[0] = NULL;	/* priv.data.prev */
		ub.__pad[1] = NULL;	/* priv.data.cleanup */
		*(void **)(tp + tl.cleanup_jmp_off) = &ub;
	}
	g_exit(gp->start(gp->arg));
}

_Noreturn void g_unwound(void)
{
	g *gp = getg();

	/* a cancellation glibc acted on itself (its pthread_testcancel or a
	 * cancellation point) did not go through pthread_exit */
	g_exit(gp->exit_set ? gp->result : PTHREAD_CANCELED);
}

_Atomic int *g_cancelword(g *gp)
{
	return tl.unwind_ok ? (_Atomic int *)((char *)gp->tp + tl.cancel_off)
			    : NULL;
}

bool g_unwind_ready(g *gp)
{
	static bool main_done;

	if (!tl.unwind_ok)
		return false;
	if (!gp->is_main || main_done)
		return true;
	/* Context: the main G itself, so its chain is stable. */
	__pthread_unwind_buf_t *b = *(void **)((char *)gp->tp +
					       tl.cleanup_jmp_off);
	while (b && b->__pad[0])
		b = b->__pad[0];
	if (!b)
		return false;	/* main was not started by glibc's libc_start */
	arch_jmpbuf_set_pc(b->__cancel_jmp_buf[0].__cancel_jmp_buf,
			   arch_unwind_landing);
	main_done = true;
	return true;
}

_Noreturn void g_exit(void *result)
{
	g *gp = getg();

	gp->result = result;
	/* a signal the kernel gave another thread while this G could still
	 * take it: natively it would have run on this thread */
	if (hooks.sig_exiting)
		hooks.sig_exiting();
	__call_tls_dtors();
	keys_run_destructors(gp);
	if (gp->user_stack)
		_dl_deallocate_tls(gp->tp, false);
	if (live_g_add(-1) == 0)
		exit(0);	/* the last thread ends the process */
	rt_enter();
	goexit();
}

g *g_allg(void)
{
	return __atomic_load_n(&gfree.allg, __ATOMIC_ACQUIRE);
}

void g_foreach(void (*fn)(g *, void *), void *arg)
{
	lock(&gfree.lock);
	for (g *gp = gfree.allg; gp; gp = gp->alllink)
		fn(gp, arg);
	unlock(&gfree.lock);
}

int g_create(const struct gattr *a, void *(*fn)(void *), void *arg, g **out)
{
	rt_enter();
	int r = g_create1(a, fn, arg, out);
	rt_exit();
	return r;
}

void g_release(g *gp, bool on_g0)
{
	rt_enter();
	g_release1(gp, on_g0);
	rt_exit();
}

/*
 * dlopen and static TLS (DESIGN.md §2). A module dlopen'ed with
 * initial-exec TLS gets a block in the static TLS surplus of every thread,
 * but glibc initialises that block only in the threads on its own lists,
 * which Gs are not. So after each dlopen, every G's block of each new
 * static-TLS module gets the init image. The main G is glibc's own thread
 * (initialised by glibc); the calling G ran the module's constructors on
 * its uninitialised block, so it is initialised only if the block is still
 * all zero. Pooled Gs are re-initialised by _dl_allocate_tls_init on reuse.
 */
struct tls_index_s {
	unsigned long modid, offset;
};
extern void *__tls_get_addr(struct tls_index_s *);

#define MAX_MODID 4096
static struct mutex dlopen_lock = MUTEX_INIT(LOCKRANK_NONE);
static unsigned char tls_seen[MAX_MODID / 8];

struct newmod {
	ptrdiff_t off;		/* block start relative to tp (negative) */
	const void *image;
	size_t filesz, memsz;
};

struct initarg {
	struct newmod *mods;
	int n;
	g *self;
};

static int find_new_static(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct initarg *ia = arg;
	size_t id = info->dlpi_tls_modid;

	(void)size;
	if (id == 0 || id >= MAX_MODID || (tls_seen[id / 8] & (1 << id % 8)))
		return 0;
	tls_seen[id / 8] |= 1 << id % 8;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_TLS || ia->n >= 16)
			continue;
		struct tls_index_s ti = { id, 0 };
		char *tp = arch_tp(), *a = __tls_get_addr(&ti);
		if (a >= tp || a < tp - tl.static_size)
			continue;	/* dynamic TLS: glibc allocates it lazily */
		ia->mods[ia->n++] = (struct newmod){
			a - tp, (const void *)(info->dlpi_addr + ph->p_vaddr),
			ph->p_filesz, ph->p_memsz };
	}
	return 0;
}

static bool all_zero(const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void init_blocks(g *gp, void *arg)
{
	struct initarg *ia = arg;

	if (gp->is_main || gp->is_g0 || gp->user_stack ||
	    atomic_load_explicit(&gp->status, memory_order_relaxed) == G_DEAD)
		return;
	for (int i = 0; i < ia->n; i++) {
		char *blk = (char *)gp->tp + ia->mods[i].off;
		if (gp == ia->self && !all_zero(blk, ia->mods[i].memsz))
			continue;
		memcpy(blk, ia->mods[i].image, ia->mods[i].filesz);
		memset(blk + ia->mods[i].filesz, 0,
		       ia->mods[i].memsz - ia->mods[i].filesz);
	}
}

void g_tls_dlopened(void)
{
	struct newmod mods[16];
	struct initarg ia = { mods, 0, getg() };

	lock(&dlopen_lock);
	dl_iterate_phdr(find_new_static, &ia);
	if (ia.n)
		g_foreach(init_blocks, &ia);
	unlock(&dlopen_lock);
}

static int mark_loaded_tls(struct dl_phdr_info *info, size_t size, void *arg)
{
	size_t id = info->dlpi_tls_modid;

	(void)size;
	(void)arg;
	if (id > 0 && id < MAX_MODID)
		tls_seen[id / 8] |= 1 << id % 8;
	return 0;
}

void g_afterfork(void)
{
	/* the other threads are gone mid-update: forget the pool (its Gs
	 * leak), keep the G table (its links are always consistent) */
	gfree.lock.key = 0;
	gfree.head = NULL;
	gfree.n = gfree.hot = 0;
	ustk.lock.key = 0;
	ustk.dead = NULL;
	dlopen_lock.key = 0;
	/* the parent's other threads do not exist here: dead for dumps,
	 * the deadlock check, signal routing and gmp-stat */
	g *self = getg();
	for (g *gp = gfree.allg; gp; gp = gp->alllink)
		if (gp != self)
			atomic_store_explicit(&gp->status, G_DEAD,
					      memory_order_relaxed);
}
