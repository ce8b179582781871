/*
 * core.h: the G/M/P runtime's types and every internal declaration, with
 * its contract (Context, Locks, Blocks, Allocates). Grouped by the file that
 * defines it. See docs/ARCHITECTURE.md and ../shared/DESIGN.md for the model,
 * the opening comment of each core file for its protocol.
 *
 * Contexts: "G" = running on a user G's stack with a P; "g0" = the M's
 * scheduler stack; "any" = either. Code on g0 calls no malloc, no stdio and
 * nothing libgmp interposes: raw syscalls from arch/ only.
 */
#ifndef GMP_CORE_H
#define GMP_CORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sched.h>
#include <signal.h>
#include <sys/types.h>
#include "arch.h"
#include "lockrank.h"

#pragma GCC visibility push(hidden)

typedef struct g g;
typedef struct m m;
typedef struct p p;

#define RUNQ_SIZE 256
#define MAXPROCS_LIMIT 256

/* ---- lock.c ---------------------------------------------------------- */

/* A runtime lock: a futex word held for a few dozen instructions, never
 * across a park or a syscall. Go: lock_futex.go. */
struct mutex {
	_Atomic uint32_t key;
	int rank;
};
#define MUTEX_INIT(r) { 0, (r) }

/* CLOCK_MONOTONIC as sysmon last read it (it wakes at least every 10 ms):
 * when a G parked, for dumps and gmp-stat, at the cost of one load on the
 * park path. Context: any. */
extern _Atomic int64_t coarse_now;
static inline int64_t coarsetime(void)
{
	return atomic_load_explicit(&coarse_now, memory_order_relaxed);
}
/* Context: any. Blocks: the M (futex) while contended. Allocates: no. */
void lock(struct mutex *l);
void unlock(struct mutex *l);

/* A one-shot M-level sleep/wakeup. Go: note, notesleep, notewakeup. */
struct note {
	_Atomic uint32_t key;
};
void noteclear(struct note *n);
void notewakeup(struct note *n);
/* Sleep until woken or until the CLOCK_MONOTONIC time until_ns (< 0: no
 * limit). Returns true if woken. Context: g0 or a thread that is not a G.
 * Blocks: the M. */
bool notetsleep(struct note *n, int64_t until_ns);

/* Raw futex on a 32-bit word, private. Returns -errno or >= 0. */
long futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t until_ns);
long futex_wake(_Atomic uint32_t *addr, int n);

/* CLOCK_MONOTONIC in ns (vDSO). Context: any. */
int64_t nanotime(void);

/* ---- throw.c --------------------------------------------------------- */

/* Print "libgmp: fatal: msg" with a raw write and abort. A broken runtime
 * invariant, never a user error. Context: any, async-signal-safe. */
_Noreturn void throw(const char *msg);
/* Print "libgmp: <msg>" to stderr with a raw write when GMP_DEBUG is set
 * (debugf) or always (warnf). printf-style, formats into a stack buffer.
 * Context: any. Allocates: no. */
void debugf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- the objects ------------------------------------------------------ */

enum gstatus {
	G_IDLE,		/* allocated, not started */
	G_RUNNABLE,	/* in a run queue */
	G_RUNNING,	/* on an M with a P */
	G_SYSCALL,	/* in a syscall (issue 5) */
	G_WAITING,	/* parked: gopark */
	G_DEAD,		/* exited; in the free pool or waiting to be joined */
};

enum waitreason {
	WAIT_NONE,
	WAIT_MUTEX,
	WAIT_COND,
	WAIT_SEM,
	WAIT_JOIN,
	WAIT_ONCE,
	WAIT_SLEEP,
	WAIT_FUTEX,
	WAIT_YIELD,
	WAIT_RWLOCK,
	WAIT_BARRIER,
	WAIT_IO,	/* a socket or pipe, through the netpoller */
	WAIT_POLL,	/* poll, select, epoll_wait */
	WAIT_SYSTEM,	/* a G of the runtime's own, idle */
	WAIT_NREASONS
};
/* "mutex", "cond", ...: the names dumps and traces use. */
const char *waitreason_name(int why);

/* What a G asks its g0 to do after switching to it. Go: mcall(fn). */
enum mcallop {
	MCALL_NONE,
	MCALL_PARK,	/* gopark */
	MCALL_YIELD,	/* gosched */
	MCALL_EXIT,	/* goexit */
	MCALL_EXITSYSCALL, /* exitsyscall found no P */
	MCALL_PREEMPT,	/* gopreempt_m: to the global queue */
};

/* join/detach state bits of g.joinword (futex word for pthread_join) */
#define JOIN_DETACHED	1u
#define JOIN_JOINING	2u
#define JOIN_EXITED	4u

/* waitstate word: gen << W_SHIFT | W_* ; see sema.c */
#define W_SHIFT		3
#define W_MASK		7u
#define W_WAITING	1u
#define W_WOKEN		2u
#define W_TIMEDOUT	3u
#define W_INTERRUPTED	4u

struct timer {
	int64_t when;		/* CLOCK_MONOTONIC ns */
	g *gp;			/* the G to wake */
	uint64_t gen;		/* gp's waitgen when armed */
	int32_t idx;		/* heap index, -1 when not in the heap */
	void *_Atomic heap;	/* the heap it is queued in (timer.c) */
};

struct waiter {
	const void *addr;	/* the word waited on, NULL if not queued */
	uint32_t bitset;	/* FUTEX_WAIT_BITSET's mask; ~0 otherwise */
	struct waiter *next, *prev;
};

#define KEY_BLOCK 32
#define KEY_NBLOCKS 32		/* 32 * 32 = PTHREAD_KEYS_MAX (1024) */

struct keyslot {
	void *val;
	uint64_t seq;
};

struct g {
	struct arch_ctx ctx;
	_Atomic int status;
	int waitreason;
	m *volatile m;		/* the M running it */
	g *schedlink;		/* run queue and free list link */
	uint64_t goid;
	void *tp;		/* the TCB; pthread_t == tp */
	int tid;		/* the TCB's tid: unique per G */
	bool is_main;		/* the adopted main thread */
	bool is_g0;
	bool reused;		/* TCB came from the pool: re-initialise */
	bool user_stack;
	bool stack_chunked;
	int rt;			/* depth of rt_enter */

	/* memory: the mapping and the usable stack [stack_lo, stack_hi) */
	void *map_base;
	size_t map_size;
	size_t guard;		/* incl. guard_hidden */
	size_t guard_hidden;	/* the page a guardsize of 0 gets anyway */
	char *stack_lo, *stack_hi;

	/* the thread */
	void *(*start)(void *);
	void *arg;
	void *result;
	_Atomic uint32_t joinword;
	int sched_policy;
	int sched_prio;
	int inheritsched;
	int scope;
	char name[16];

	/* parking */
	_Atomic uint64_t waitstate;
	uint64_t waitgen;
	struct waiter w;
	struct timer timer;
	int64_t parked_at;
	_Atomic uint32_t sleepword;	/* always 0: sleeps wait on it */

	/* interruption (shims/cancel.c, shims/signal.c): a wait whose
	 * interruptible mask shares a bit with intr_req ends with -EINTR
	 * (g_interrupt sets the bit; the G clears a signal's) */
	_Atomic uint8_t intr_req;
	uint8_t interruptible;	/* owned by the G; read under its bucket lock */
	uint8_t why_next;	/* the reason its next futex-level wait shows
				 * (the shim that waits sets it) */
	bool is_system;		/* the runtime's own (not a program thread) */
	bool exit_set;		/* result was set by pthread_exit */
	_Atomic bool in_cancel_syscall; /* in a bracketed cancellation point */
	_Atomic bool cancel_kick; /* sysmon re-signals its M (cancel.c) */
	bool glibc_wait;	/* blocked in glibc's own wait (GMP_AS_SYSCALL) */
	uint64_t sigmask;	/* the mask the program set (bit sig-1), for
				 * choosing whom a handler interrupts */
	_Atomic uint64_t sigpend; /* sent to this G by pthread_kill */
	_Atomic uint64_t sigwaiting; /* the set of a sigwait it is in */
	_Atomic uint64_t sigproc; /* of sigpend, those sent to the process */
	struct {		/* siginfo of signals taken from its M */
		int sig;	/* 0: free; owned by the G (or its g0) */
		siginfo_t si;
	} sipend[2];

	/* pthread keys, blocks allocated on first set */
	struct keyslot *keys[KEY_NBLOCKS];

	/* CPU time (once cpu_acct is on): accumulated, and the M's thread
	 * CPU clock when this G last switched in (0: not running/counted) */
	int64_t cpu_ns, cpu_in;
	m *lockedm;		/* wired to this M (kernel per-thread state) */
	/* kernel state to give the M it is wired to when it next runs
	 * (set for it by another thread; shims/threadstate.c) */
	_Atomic bool wire_req;
	struct {
		bool has_aff, has_sched;
		size_t affsize;
		cpu_set_t aff;
		int policy, prio;
	} wire;
	bool preempt_pending;	/* asked to yield while in libgmp or glibc:
				 * yields when it leaves the runtime */
	uint8_t in_handler;	/* running a handler of the program's: no
				 * preemption (its frame is this thread's) */
	/* the SIGCANCEL frame a kick runs handlers in (shims/signal.c): the
	 * mask after them is restored there, at that frame's sigreturn */
	void *kick_uc;
	/* its sigaltstack (shims/signal.c): given to the M it runs on */
	bool alt_on;
	stack_t alt;
	g *alllink;
	g *allprev;		/* the G table is doubly linked: a pooled G
				 * whose stack is freed leaves it */
};

struct m {
	g *g0;
	g *curg;
	p *p;
	p *nextp;
	p *oldp;		/* the P it had before a syscall */
	bool spinning;
	bool is_m0;
	struct note park;
	m *schedlink;		/* idle list */
	m *alllink;
	int64_t id;
	int tid;
	uint32_t fastrand;

	/* signals whose handler was deferred (m_defer_signal): blocked on
	 * this thread until it leaves the runtime */
	_Atomic uint64_t sigdefer;
	volatile bool idle;	/* g0 asleep in stopm: holds nothing */
	uint64_t kmask;		/* the thread's signal mask as last set */
	bool kalt_on;		/* the thread's sigaltstack as last set */
	stack_t kalt;
	_Atomic uint64_t maskgen; /* rt_mask generation applied (idle) */
	bool dead;		/* its kernel thread has exited (idle) */
	_Atomic bool preempt_req; /* sysmon sent the preemption signal */
	g *lockedg;		/* the wired G: this M runs it alone */
	bool lockexit;		/* its wired G exited: the thread ends */
	bool forked;		/* ran fork: its thread is a child's parent
				 * (PR_SET_PDEATHSIG), so it never exits */
	void *exitbuf[5];	/* __builtin_setjmp: where the thread ends */

	/* mcall request from curg */
	_Atomic int pstate;	/* PS_*: may sysmon take the P? */
	int mcallop;
	bool (*waitunlockf)(g *, void *);
	void *waitarg;

	g g0store;
};

enum pstatus { P_IDLE, P_RUNNING, P_SYSCALL };

struct p {
	int id;
	_Atomic int status;
	m *m;
	uint32_t syscalltick;	/* bumped by every entersyscall */
	p *link;		/* idle list */
	uint32_t schedtick;

	_Atomic uint32_t runqhead;
	_Atomic uint32_t runqtail;
	g *_Atomic runq[RUNQ_SIZE];
	g *_Atomic runnext;

	/* counters, owned by the M holding the P */
	uint64_t nswitch;
	uint64_t nsteal;
	uint64_t npark;
	uint64_t nyield;
	uint64_t nsyscall;

	/* GMP_TRACE (trace.c): this P's event buffer, written by its M; the
	 * G in a system call on it, for the handoff event */
	struct tbuf *tbuf;
	g *tr_sysg;
} __attribute__((aligned(64)));

struct sched {
	struct mutex lock;
	/* global run queue, LOCKRANK_SCHED */
	g *runqhead, *runqtail;
	_Atomic int32_t runqsize;
	/* idle lists, LOCKRANK_SCHED */
	p *pidle;
	_Atomic int32_t npidle;
	m *midle;
	int32_t nmidle;
	_Atomic int32_t nmspinning;
	int32_t mcount;		/* Ms ever created */
	int32_t nmdead;		/* ... whose thread exited; sched.lock */
	m *timer_sleeper;	/* the idle M waiting for the next timer */
	int64_t sleep_until;

	int nprocs;
	p *allp[MAXPROCS_LIMIT];
	m *allm;
};

extern struct sched sched;

/* Runtime configuration, filled by preload/init.c before the core starts. */
enum { STATS_OFF, STATS_TEXT, STATS_JSON, STATS_FILE };
struct config {
	int maxprocs;
	int debug;		/* GMP_DEBUG set */
	int stats;		/* GMP_STATS: 0 off, STATS_* */
	const char *stats_path;	/* STATS_FILE: the path (may hold %p) */
	size_t default_stacksize;
};
extern struct config cfg;

/* libc functions the core needs but libgmp interposes: the real ones,
 * filled by preload/resolve.c (unit tests fill them with fakes). */
struct hooks {
	int (*pthread_create)(pthread_t *, const pthread_attr_t *,
			      void *(*)(void *), void *);
	int (*pthread_detach)(pthread_t);
	/* glibc's own keys, for threads that are not Gs (keys.c) */
	int (*thread_key_create)(pthread_key_t *, void (*)(void *));
	int (*thread_setspecific)(pthread_key_t, const void *);
	/* a signal that reached libgmp's own handler of a signal the
	 * program may use too (the preemption signal): the program's action */
	void (*sig_forward)(int, siginfo_t *, void *);
	/* a G ended with process-directed signals pending on it */
	void (*sig_orphans)(g *gp);
	/* a G is about to end: signals queued for some G may be its */
	void (*sig_exiting)(void);
	/* glibc's clock_gettime: libgmp interposes it for thread clocks */
	int (*clock_gettime)(clockid_t, struct timespec *);
};
extern struct hooks hooks;

/* The running G, from the TCB: libgmp keeps it in a tcbhead word glibc
 * leaves unused (see g.c). Context: any code running on a G or g0 TCB. */
#define TCB_GSLOT 0x38
static inline g *getg(void)
{
	g *gp;
	__asm__ volatile("mov %%fs:0x38, %0" : "=r"(gp));
	return gp;
}

/* ---- runq.c ---------------------------------------------------------- */

/* Put gp on pp's ring, or in runnext if next; a full ring spills half to
 * the global queue. Go: runqput. Context: the M owning pp. Locks: none
 * (sched.lock to spill). Blocks: no. Allocates: no. */
void runqput(p *pp, g *gp, bool next);
/* Take the next G: runnext first, then the ring. inherit is set when it
 * came from runnext. Go: runqget. Context: the M owning pp. */
g *runqget(p *pp, bool *inherit);
/* Steal half of victim's queue into pp; return one of them to run. Go:
 * runqsteal. Context: the M owning pp. Locks: none. */
g *runqsteal(p *pp, p *victim, bool stealnext);
uint32_t runqlen(p *pp);
bool runqempty(p *pp);
/* Global queue, sched.lock held. Go: globrunqput, globrunqget. */
void globrunqput(g *gp);
void globrunqputbatch(g *head, g *tail, int32_t n);
g *globrunqget(p *pp, int32_t max);

/* ---- sched.c --------------------------------------------------------- */

/* Start the runtime: nprocs Ps, M0 adopting the calling thread's code as
 * the running G main_g. Context: the main thread, once, from the
 * constructor. Allocates: yes. */
void sched_init(g *main_g);
/* Park the running G. unlockf(gp, arg) runs on g0 after the switch; if it
 * returns false, gp runs again at once. Go: gopark.
 * Context: G. Locks: only the one unlockf releases. Blocks: the G. */
void gopark(bool (*unlockf)(g *, void *), void *arg, enum waitreason why);
/* Make a parked G runnable on the current P's runnext. Go: goready.
 * Context: G or g0 holding a P. Locks: none held. */
void goready(g *gp);
/* Yield: the G goes to the tail of the local queue. Go: Gosched. */
void gosched(void);
/* Queue a new G (status G_IDLE) to run next. Go: newproc's runqput. */
void newproc(g *gp);
/* The running G is done; never returns. Context: G. */
_Noreturn void goexit(void);
/* An M's life: pick Gs and run them. Context: g0; never returns. */
_Noreturn void mstart(m *mp);
/* Called by the template thread's new kernel thread. */
void *mstart_thread(void *arg);
void wakep(void);
int32_t live_g_add(int32_t d);
/* Switch to g0 with request op. Context: G. */
void mcall(int op);
/* Go's P and M handling, for syscall.c and sysmon.c. sched.lock held for
 * pidleput/pidleget; acquirep/releasep by the M concerned; startm and
 * stopm take it themselves. */
void acquirep(m *mp, p *pp);
p *releasep(m *mp);
void pidleput(p *pp);
p *pidleget(void);
void startm(p *pp, bool spinning);
/* A timer due at when was added: wake the idle M sleeping until a later
 * time, so it re-arms. False if no M sleeps on a timer. */
bool wake_timer_sleeper(int64_t when);
p *stopm(m *mp, int64_t until);

/* Give the child of fork a fresh runtime with the calling G alone.
 * Context: the forking G, in the child (pthread_atfork). */
void sched_afterfork_child(void);
/* In the parent after fork, posix_spawn, system, popen: the M that ran it
 * is a child's parent thread and never exits (PR_SET_PDEATHSIG). */
void sched_afterfork_parent(void);
/* Each file's part of it: reset locks, drop what other threads left. */
void g_afterfork(void);
void keys_afterfork(void);
void m_afterfork(void);
void sema_afterfork(void);
void stack_afterfork(void);
void timers_afterfork(void);
void sysmon_afterfork(void);

/* ---- syscall.c ------------------------------------------------------- */

/* Bracket a system call that may block: the P stays marked P_SYSCALL with
 * no M, so sysmon can hand it to another M if the call lasts; exitsyscall
 * takes it back, or any idle P, or queues the G and parks the M.
 * Go: entersyscall, exitsyscall, handoffp.
 * Context: G. Locks: none held. Blocks: exitsyscall may park the G. */
bool entersyscall(void);	/* false: not bracketed, skip exitsyscall */
void exitsyscall(void);
/* Give a P whose M is gone (in a syscall) to another M, or idle it.
 * Context: sysmon. */
void handoffp(p *pp);
extern _Atomic uint64_t sched_handoffs;

/* P ownership against sysmon's stray-block retake (DESIGN.md §4 class
 * 3). An M running user code is PS_USER: if its kernel thread sleeps where
 * no shim saw it (a glibc-internal futex, an inline syscall), sysmon may
 * take its P (PS_STEALING, then PS_STOLEN). Every runtime entry from a G
 * brackets itself with rt_enter/rt_exit (nesting): rt_enter makes the M
 * PS_RUNTIME, which sysmon never touches, and takes a P back first if it
 * was stolen, like exitsyscall. g0 is always PS_RUNTIME.
 * Context: G (no-ops elsewhere). Blocks: rt_enter may park the G. */
enum { PS_RUNTIME, PS_USER, PS_STEALING, PS_STOLEN };
void rt_enter(void);
void rt_exit(void);
/* A new G is about to run user code. */
void rt_start(void);

/* Per-G CPU time. Off until the program first asks for a thread's CPU
 * clock (a clock read per switch costs as much as the switch); from then
 * each G's time counts. g_cputime turns it on. Context: G. */
extern _Atomic bool cpu_acct;
int64_t g_cputime(g *gp);

/* Wire the running G to its M for good (Go: LockOSThread): from now on
 * that M runs only this G, sleeping while it waits, and the G never runs
 * elsewhere, so per-thread kernel state set on the M (affinity, policy,
 * namespaces) stays the G's. When the G exits, the M's thread exits too
 * (the main thread's stays, and goes on running other Gs). Context: G.
 * Locks: none. */
void g_wire(void);
/* Called on the M about to run gp, with gp->wire_req set: the shim that
 * asked applies gp->wire there (shims/threadstate.c); with NULL on the
 * main thread's M when its wired G exited: back to the defaults. */
extern void (*wire_apply_hook)(g *gp);

/* ---- preempt.c ------------------------------------------------------- */

/* The preemption signal (0: off), set from GMP_PREEMPT_SIGNAL before
 * preempt_init. */
extern int preempt_sig;
extern _Atomic uint64_t sched_preempts, sched_preempt_asks;
/* Find the code never preempted and install the handler. Context:
 * start-up, single-threaded. */
void preempt_init(void);
/* Ask mp's G to yield at its next safe point. Context: sysmon. */
void preempt_ask(m *mp);
/* Put libgmp's handler back on the preemption signal (after an exec
 * that failed, for which the program's SIG_IGN was installed). */
void preempt_reinstall(void);
/* The program set an action for the preemption signal: the kernel's
 * gets its mask and flags (the handler stays libgmp's). */
void preempt_set_action(uint64_t mask, int flags);
/* The child of fork: sysmon's signals carry the new pid. */
void preempt_afterfork(void);

/* ---- strict.c -------------------------------------------------------- */

/* GMP_STRICT, set by preload/init.c before strict_init. */
enum { STRICT_OFF, STRICT_ON, STRICT_REPORT };
extern int strict_mode;
/* Blocking calls Gs made outside libgmp's view (trapped and made as
 * system calls), and their distinct sites (report mode: those listed;
 * else the distinct pcs). */
extern _Atomic uint64_t strict_traps, strict_sites;
/* Install the SIGSYS handler and the seccomp filter that traps blocking
 * calls made outside libgmp, on every thread; with STRICT_REPORT each
 * call site is listed once on stderr. On failure (no libseccomp, no
 * address space randomisation, a kernel without seccomp) warns once and
 * sets strict_mode to STRICT_OFF. Context: the constructor, before
 * sched_init starts the runtime's threads. Allocates: mmap (report
 * mode, later). */
void strict_init(void);

/* ---- sysmon.c -------------------------------------------------------- */

/* Start the monitor thread. Context: main thread, from sched_init. */
void sysmon_init(void);
/* A syscall began: make sure a long-sleeping sysmon will look soon. */
void sysmon_kick(void);
/* Wake sysmon whatever its sleep (a signal to pass on). Any context, a
 * signal handler included. */
void sysmon_wake(void);
extern _Atomic uint64_t sysmon_retakes, sysmon_stray;
/* Called by sysmon on every tick when set (shims/cancel.c re-signals
 * cancelled Gs with it). Must not take runtime locks for long. */
extern void (*_Atomic sysmon_hook)(void);

/* ---- m.c ------------------------------------------------------------- */

/* Start the template thread (creates Ms on request). Context: main
 * thread, from sched_init. */
void m_init(void);
/* A new M, started by the template thread; it acquires pp first. Go: newm.
 * Context: any. Locks: none. Blocks: no. Allocates: mmap. */
void newm(p *pp, bool spinning);
m *m_alloc(void);
/* A detached kernel thread of the runtime's own (template, sysmon),
 * started with the real pthread_create; throws fail if it cannot. */
void m_start_helper(void *(*fn)(void *), size_t stack, const char *fail);
/* The same, returning pthread_create's error instead of throwing. Its
 * signals are blocked (but the synchronous ones) until fn changes that. */
int m_start_helper_try(void *(*fn)(void *), size_t stack);

/* ---- g.c ------------------------------------------------------------- */

struct gattr {
	size_t stacksize;	/* usable size asked for */
	size_t guardsize;
	void *stackaddr;	/* user stack (lowest address) or NULL */
	bool detached;
	int policy, prio, inheritsched, scope;
};

/* Thread identity bootstrap: TCB layout probes. Context: main thread. */
int g_tls_init(void);
/* A G ready to run fn(arg): stack, TCB and static TLS, from the pool when
 * possible. Returns 0 or -EAGAIN/-EINVAL. Context: G (malloc, TLS setup).
 * Locks: gfree, stack. Allocates: yes. */
int g_create(const struct gattr *a, void *(*fn)(void *), void *arg, g **out);
/* A dead G goes back to the pool (its stack and TCB are kept). Context:
 * any (no malloc). Locks: gfree. */
void gfput(g *gp);
/* The G of a pthread_t, or NULL if it is not one of ours. Context: any. */
g *g_from_thread(pthread_t t);
/* t is one of libgmp's TCBs whose thread has ended and been released
 * (joined or detached). Context: any. */
bool g_thread_ended(pthread_t t);
/* The G's struct pthread cancelhandling word (glibc's bits), or NULL if
 * glibc's layout is unknown. Context: any. */
_Atomic int *g_cancelword(g *gp);
/* gp (the caller) can unwind: glibc's pthread_exit will land back in
 * libgmp. For the main G this redirects glibc's bottom unwind buffer;
 * false if it cannot (then end the G without unwinding). Context: gp. */
bool g_unwind_ready(g *gp);
/* Where an unwound G lands: ends it with its pthread_exit value, or
 * PTHREAD_CANCELED. */
_Noreturn void g_unwound(void);
/* Signal handlers and the runtime (core/syscall.c). The runtime's code is
 * not reentrant (locks, run queues), and handlers may call into it (a
 * sem_post, POSIX says, is async-signal-safe). m_in_runtime: a signal
 * that arrived now interrupted runtime code. m_defer_signal: leave the
 * signal blocked on this thread when the handler returns (ucontext) and
 * queued to it again with its siginfo; m_undefer unblocks it once the
 * thread is out of the runtime (rt_exit, stopm), and it is delivered
 * then. Context: a signal handler, on the thread it interrupted. */
bool m_in_runtime(void);
/* This thread runs no G and holds no runtime lock: an idle M asleep, or
 * sysmon or the template thread while asleep. Runtime code (taking
 * locks) may run from a signal handler here. */
bool rt_thread_holds_nothing(void);
/* For the runtime's own threads (sysmon, the template thread): set while
 * they may hold runtime locks, so a handler that lands there is deferred. */
extern __thread bool rt_thread_busy __attribute__((tls_model("initial-exec")));
/* Such a thread is about to sleep (true: deliver what was deferred) or
 * back to work (false). */
void rt_thread_idle(bool idle);
void m_defer_signal(int sig, siginfo_t *si, void *ucontext);
/* The mask of threads that run no G: what every G blocks (syscall.c).
 * sigmask_account: a G with mask appears (+1) or goes (-1); may signal
 * and wait for the runtime threads. rt_mask_helper: a runtime thread that
 * is not an M (sysmon, template) takes rt_mask and is kept up to date.
 * rt_mask_idle: an M about to idle takes it. rt_mask_apply: from the
 * SIGCANCEL handler: if this thread runs no G, return to rt_mask (true).
 * Context: any but a handler (rt_mask_apply: the handler). */
extern _Atomic uint64_t rt_mask;
void sigmask_account(uint64_t mask, int delta);
void sigmask_afterfork(uint64_t mask);
void rt_mask_helper(void);
void rt_mask_idle(m *mp);
bool rt_mask_apply(void *ucontext);
/* gp leaves its M with signals of set pending on the thread (sent to it
 * while it blocked them, most likely to this thread since runtime
 * threads block only rt_mask): they become gp's (g.sigpend), so they
 * follow it instead of reaching the next G on this M. Context: g0, on
 * the M gp ran on. */
void m_take_pending(g *gp, uint64_t set);
void m_undefer(m *mp);
/* A G for the main thread. Context: main thread, from the constructor. */
g *g_adopt_main(void);
/* A g0 with its own stack and TCB, for M0. */
g *g_new_g0(m *mp);
/* Make the kernel thread's own TCB point at g0. */
void g_bind_tcb(g *gp, void *tp);
/* Entry of every G. Context: the new G. */
void g_main(void *arg);
/* Trim the free pool; run on G context (malloc/free allowed). */
void g_pool_trim(void);
/* A joined, or detached and exited, G gives back its memory. on_g0: no
 * free() here, defer it. Context: G or g0. */
void g_release(g *gp, bool on_g0);
/* Run TLS and key destructors, then end the running G (the process when
 * it is the last). Context: G. */
_Noreturn void g_exit(void *result);
/* Visit every G ever created (tools). Locks: gfree. */
void g_foreach(void (*fn)(g *, void *), void *arg);
/* The head of the G table, linked through alllink, for readers that take
 * no lock (a G is only ever pushed at the head). Context: any. */
g *g_allg(void);
/* Hold the G table still (gfree.lock) for a walk from g_allg: a pooled
 * G's memory is freed only after it leaves the table under this lock.
 * Context: not a signal handler, no runtime lock held (sysmon, exit). */
void g_table_lock(void);
void g_table_unlock(void);
/* After a dlopen: initialise new static-TLS modules' blocks in every G.
 * Context: G (the caller of dlopen). Locks: its own, then gfree. */
void g_tls_dlopened(void);
/* The G of the process's main thread (the one the kernel's pid names). */
extern g *g_maing;
/* Learn struct pthread's resolver offset; on a real NPTL thread. */
void g_learn_res(void);

/* ---- keys.c ---------------------------------------------------------- */

/* pthread keys at G level. Return 0 or an errno value (pthreads style). */
int keys_create(unsigned *key, void (*dtor)(void *));
int keys_delete(unsigned key);
void *keys_get(unsigned key);
int keys_set(unsigned key, const void *val);
/* Up to PTHREAD_DESTRUCTOR_ITERATIONS rounds of destructors, then free
 * nothing (blocks stay with the pooled G, values cleared). Context: the
 * exiting G. */
void keys_run_destructors(g *gp);
/* Create the glibc key that runs a non-G thread's destructors when it
 * exits. Context: start-up, after the hooks are set. */
int keys_init(void);
extern _Atomic uint64_t g_created, g_peak_live;

/* ---- stack.c --------------------------------------------------------- */

struct stack {
	void *base;		/* lowest address of the mapping */
	size_t size;		/* whole mapping, guard included */
	size_t guard;
	int chunked;		/* carved from a shared mapping */
};
/* Reserve size bytes (page-rounded) with a guard at the bottom; lazily
 * backed (MAP_NORESERVE). Returns 0 or -EAGAIN. Context: any (mmap only).
 * Locks: LOCKRANK_STACK. */
int stack_alloc(size_t size, size_t guard, struct stack *s);
/* The mapping size (guard included) that is carved from shared chunks:
 * glibc's default thread stack. Context: start-up. */
void stack_init(size_t common);
void stack_free(struct stack *s);
/* Give the pages of [lo, hi) back to the kernel, keeping the mapping. */
void stack_release_pages(void *lo, void *hi);
size_t stack_pagesize(void);
void stack_stats(uint64_t *mapped, uint64_t *chunks);

/* ---- sema.c ---------------------------------------------------------- */

/* Park the running G while *addr == val, until gfutex_wake(addr) or the
 * CLOCK_MONOTONIC deadline (< 0: none). Returns 0 if woken, -EAGAIN if
 * *addr != val, -ETIMEDOUT. Same contract as FUTEX_WAIT, at G level.
 * Context: G. Locks: none held. Blocks: the G. */
int gfutex_wait(const void *addr, uint32_t val, int64_t deadline);
/* Wake up to n Gs parked on addr; returns how many. Context: G or g0
 * with a P. */
int gfutex_wake(const void *addr, int n);
/* The same with FUTEX_*_BITSET masks: a wake reaches waiters whose
 * bitset shares a bit with its own. */
int gfutex_wait_bitset(const void *addr, uint32_t val, int64_t deadline,
		       uint32_t bitset);
int gfutex_wake_bitset(const void *addr, int n, uint32_t bitset);
/* FUTEX_CMP_REQUEUE (cmp) or FUTEX_REQUEUE at G level: wake up to nwake
 * Gs parked on from, move up to nmove others to to. Returns the number
 * woken (*moved: moved) or -EAGAIN when cmp and *from != val.
 * Context: G. Locks: both buckets, in address order. */
int gfutex_requeue(const void *from, const void *to, int nwake, int nmove,
		   bool cmp, uint32_t val, int *moved);
/* Park the running G until the deadline. Context: G. */
/* Sleep until deadline: 0, or -EINTR if interrupted (g_interrupt). */
int g_sleep_until(int64_t deadline);
/* Kinds of interruption (g.intr_req, g.interruptible) */
#define INTR_CANCEL	1u	/* pthread_cancel: sticky */
#define INTR_HANDLER	8u	/* a signal posted to the G: run its handler,
				 * then go on (EINTR for waits POSIX lets a
				 * handler interrupt) */
/* Set kind in gp->intr_req and end gp's wait if it is interruptible by
 * kind. True if a wait was ended. Any context (G, g0, a thread that is
 * not an M) but a signal handler. */
bool g_interrupt(g *gp, unsigned kind);

/* ---- timer.c --------------------------------------------------------- */

/* The runtime's timer heap. Go: addtimer, deltimer, checkTimers. A timer
 * wakes its G (with the generation it was armed with) when due. */
void timer_add(struct timer *t);
/* Remove t if still queued; returns true if it was. Context: any. */
bool timer_del(struct timer *t);
/* Fire every due timer; returns the next deadline or -1. Context: G or
 * g0 holding a P. */
int64_t timers_run(int64_t now);
int64_t timers_next(void);
/* Called with a due timer's G and generation (sema.c). */
void timer_fire(g *gp, uint64_t gen);

/* ---- netpoll.c ------------------------------------------------------ */

#define PD_MAXFD (1 << 20)	/* fds above have no pd: class 2 only */

/* A G waiting on several fds (poll, select): hung on each fd's pd, its
 * word is bumped when any of them may be ready. */
struct pollwaiter {
	_Atomic uint32_t word;
	struct pollwaiter *next, *prev;
};

/* The poll descriptor of one fd number. Go: pollDesc. */
struct pd {
	_Atomic uint32_t rseq;	/* bumped when readable (or gone): Gs park */
	_Atomic uint32_t wseq;	/* the same for writable */
	_Atomic uint32_t gen;	/* bumped by every close of this number */
	struct mutex lock;	/* pollers */
	struct pollwaiter *_Atomic pollers;
	_Atomic uint8_t armed;	/* registered with epoll since its close */
	_Atomic int32_t nwait[2]; /* Gs parked on rseq, wseq */
	/* the shims' view of the fd (shims/net.c), set when it is created
	 * or first used, reset by close */
	_Atomic uint8_t kind;
	_Atomic uint8_t owned;	/* made O_NONBLOCK underneath by libgmp */
	_Atomic uint8_t nonblock; /* O_NONBLOCK as the program sees it */
	_Atomic int64_t rcvtimeo, sndtimeo; /* SO_*TIMEO in ns, 0: none */
};

/* The pd of fd, created (zeroed) if create and it does not exist. NULL
 * for fds outside the table or out of memory. Context: any. Allocates:
 * mmap, once per 4096 fds; never freed. */
struct pd *pd_get(int fd, bool create);
int pd_maxfd(void);
/* Call fn on every pd that exists. Context: any. */
void pd_foreach(void (*fn)(int fd, struct pd *pd, void *arg), void *arg);
/* Register fd for edge-triggered readiness (again): an event is queued
 * now if it is ready. 0, or -errno (-EPERM: fd cannot be polled).
 * Context: any. */
int netpoll_arm(int fd, struct pd *pd);
/* fd is being closed (or its number was reused behind libgmp's back):
 * its registration goes, its waiters wake and see pd.gen changed. */
void netpoll_close(int fd);
/* Wake fd's waiters to re-check (shutdown, flag changes). */
void netpoll_kick(int fd);
/* fd is libgmp's epoll or eventfd and the program closes or dup2s over
 * it: libgmp lets it go and makes new ones. True if it was ours. */
bool netpoll_fd_taken(int fd);
void pd_addpoller(struct pd *pd, struct pollwaiter *w);
void pd_delpoller(struct pd *pd, struct pollwaiter *w);
/* Poll: until < 0 blocks, 0 does not, else blocks until that
 * CLOCK_MONOTONIC time. Returns the number of events. Context: g0 or
 * sysmon, no runtime lock held. */
struct epoll_event;
int netpoll_wait(struct epoll_event *ev, int max, int64_t until);
/* Wake the Gs the events name; returns how many fds were ready. */
int netpoll_dispatch(const struct epoll_event *ev, int n);
/* Gs wait on fds and the instance exists. */
bool netpoll_active(void);
/* Non-blocking poll and dispatch, unless an M blocks in the poller. */
int netpoll_poll_now(void);
/* Wake the M blocked in the poller if it sleeps past when (< 0: now). */
void netpoll_break(int64_t when);
void netpoll_afterfork(void);
extern _Atomic uint64_t netpoll_parks, netpoll_wakeups, netpoll_polls;
extern _Atomic int32_t netpoll_waiters;
/* CLOCK_MONOTONIC time of the last poll; 0 while an M blocks in it. */
extern _Atomic int64_t netpoll_lastpoll;

/* ---- stats.c --------------------------------------------------------- */

/* Print the GMP_STATS summary. Context: any (raw write). */

void stats_print(void);

/* ---- trace.c: GMP_TRACE, a Chrome/Perfetto JSON timeline ------------------ */

enum {
	TEV_RUN,	/* pm: P, arg: M */
	TEV_STOP,	/* pm: P, arg: TSTOP_* << 5 | wait reason */
	TEV_CREATE,
	TEV_READY,
	TEV_SYSCALL,
	TEV_SYSRET,
	TEV_STEAL,	/* g: the G taken, pm: the victim P */
	TEV_HANDOFF,	/* pm: the P handed off */
	TEV_PREEMPT,
};
enum { TSTOP_PARK, TSTOP_YIELD, TSTOP_PREEMPT, TSTOP_EXIT, TSTOP_HANDOFF,
       TSTOP_END };
struct tbuf;
extern bool trace_on;	/* GMP_TRACE is being written */
/* Record an event in the current P's buffer (or the global one). Context:
 * an M holding its P, or any thread (global buffer). No allocation. */
void trace_ev(int kind, g *gp, uint16_t pm, uint8_t arg);
/* The same into pp's buffer (NULL: the global one): the M holding pp. */
void trace_ev_p(p *pp, int kind, g *gp, uint16_t pm, uint8_t arg);
/* Open the file and start the writer (path: GMP_TRACE). Context: start. */
void trace_init(const char *path);
/* Write what is buffered and the end of the JSON. Context: exit. */
void trace_finish(void);
void trace_afterfork(void);
#define TRACE(...)                                                           \
	do {                                                                 \
		if (__builtin_expect(trace_on, 0))                           \
			trace_ev(__VA_ARGS__);                               \
	} while (0)

/* ---- obs.c: schedtrace, G dumps, the deadlock check --------------------- */

enum { DEADLOCK_OFF, DEADLOCK_REPORT, DEADLOCK_EXIT };
#define OBS_DEADLOCK_STATUS 86	/* exit status after a deadlock report */
struct obs_config {
	int schedtrace_ms;	/* GMP_DEBUG=schedtrace=MS; 0: off */
	bool scheddetail;	/* GMP_DEBUG=scheddetail=1 */
	bool dump_at_exit;	/* GMP_DEBUG=dump */
	int deadlock;		/* GMP_DEADLOCK */
};
extern struct obs_config obs_cfg;
/* Print every G (title first). symbols: name start functions with dladdr
 * (not from a signal handler). Context: any; no lock, no malloc. */
void obs_dump(const char *title, bool symbols);
/* When sysmon must next call obs_tick (CLOCK_MONOTONIC ns), or -1. */
int64_t obs_next(void);
/* schedtrace lines and the deadlock check. Context: sysmon. */
void obs_tick(int64_t now);
void obs_afterfork(void);
/* A thread of the runtime's own that is not an M (template, sysmon, the
 * SIGEV_THREAD timer thread). Context: any. */
bool rt_is_runtime_tid(int tid);
/* The program has a handler installed for some signal (shims/signal.c):
 * a signal from outside may wake a G. Context: any. */
bool gmp__program_has_handlers(void);
/* Put the SIGQUIT dump handler in if SIGQUIT has the default action. */
void gmp__quit_init(void);
/* The SIGEV_THREAD timer thread's tid, or 0 (shims/posix_timer.c). */
int gmp__timer_thread_tid(void);
extern int64_t stats_start_ns;
extern int stats_fd;		/* where stats_print writes */

/* ---- statshm.c: the live segment gmp-stat reads (include/gmpstat.h) ---- */

/* GMP_STAT: false (GMP_STAT=0): no segment. Set before statshm_init. */
extern bool statshm_enabled;
/* Make the segment: a memfd kept open above fd 100, mapped shared.
 * Context: start-up, after sched_init. Allocates: mmap. */
void statshm_init(void);
/* Refresh it, every GMPSTAT_PERIOD_MS at most. Context: sysmon (from
 * obs_tick). Locks: none. Blocks: no. Allocates: no. */
void statshm_tick(int64_t now);
/* The child of fork: let the parent's segment go, make its own. Context:
 * the forking G in the child (from obs_afterfork). */
void statshm_afterfork(void);

#pragma GCC visibility pop

#endif
