/*
 * gmpstat.h: the layout of the live statistics segment libgmp keeps for
 * gmp-stat (core/statshm.c writes it, tools/gmp-stat.c reads it). Not a
 * public API: the two are built together, and a reader refuses a layout
 * it does not know.
 *
 * The segment is a memfd named "gmp-stat" (its /proc/PID/fd/N link reads
 * "/memfd:gmp-stat (deleted)"), GMPSTAT_SIZE bytes: one struct gmpstat_seg.
 * Only sysmon writes it, every GMPSTAT_PERIOD_MS at most, under a
 * seqlock: seq is made odd before the data is written and even after; a
 * reader copies what it needs and retries while seq was odd or changed.
 * Times are CLOCK_MONOTONIC nanoseconds, so the reader computes ages with
 * its own clock.
 */
#ifndef GMPSTAT_H
#define GMPSTAT_H

#include <stdint.h>

#define GMPSTAT_MAGIC "GMPSTAT1"	/* 8 bytes, no NUL */
#define GMPSTAT_LAYOUT 1		/* bumped by every layout change */
#define GMPSTAT_MEMFD "gmp-stat"
#define GMPSTAT_MAXG 4096		/* Gs in the table at most */
#define GMPSTAT_MAXP 64			/* Ps whose run queue is shown */
#define GMPSTAT_PERIOD_MS 100
#define GMPSTAT_MAXWALK 8192		/* Gs looked at by one update */

/* gmpstat_g.status: the same numbers as core.h's enum gstatus */
enum {
	GMPSTAT_IDLE,
	GMPSTAT_RUNNABLE,
	GMPSTAT_RUNNING,
	GMPSTAT_SYSCALL,
	GMPSTAT_WAITING,
	GMPSTAT_DEAD,
	GMPSTAT_NSTATUS
};

/* gmpstat_g.flags */
#define GMPSTAT_G_MAIN 1u	/* the process's main thread */
#define GMPSTAT_G_SYSTEM 2u	/* one of libgmp's own */

/* One G that has started and not ended. */
struct gmpstat_g {
	uint64_t goid;		/* the number dumps print (G5) */
	uint64_t waitaddr;	/* waiting: the object waited on, or 0 */
	int64_t parked_at;	/* waiting: since when (ns), or 0 */
	uint64_t start;		/* start function's address; 0: main */
	int64_t m_id;		/* running or in a syscall: its M, else -1 */
	int32_t m_tid;		/* ... and that M's kernel thread id */
	int32_t status;		/* GMPSTAT_IDLE ... */
	uint32_t flags;		/* GMPSTAT_G_* */
	char name[16];		/* pthread_setname_np's, NUL-terminated */
	char reason[12];	/* waiting: "mutex", "cond", ..., NUL-terminated */
};

/* What GMP_STATS=1 prints at exit, and the scheduler as it is now. */
struct gmpstat_counters {
	/* the GMP_STATS summary */
	uint64_t procs;
	uint64_t threads_created, threads_exited_idle;
	uint64_t gs_created, peak_live_gs;
	uint64_t context_switches, steals, parks, yields;
	uint64_t preemptions, preemptions_asked;
	uint64_t syscalls, handoffs;
	uint64_t sysmon_retakes_syscall, sysmon_retakes_blocked;
	uint64_t netpoll_parks, netpoll_wakeups, netpoll_polls;
	uint64_t stack_reserved_bytes, stack_chunks;
	uint64_t max_rss_kib;
	uint64_t strict;	/* strict mode on: the next two mean something */
	uint64_t strict_traps, strict_sites;
	/* now (schedtrace's words) */
	uint64_t idle_procs;
	uint64_t threads, idle_threads, spinning_threads; /* live Ms */
	uint64_t runqueue;	/* the global run queue */
	uint64_t live_gs;
	uint64_t gs[GMPSTAT_NSTATUS]; /* Gs by status (libgmp's included) */
	uint32_t runq[GMPSTAT_MAXP]; /* each P's run queue, the first 64 */
};

struct gmpstat_hdr {
	char magic[8];		/* GMPSTAT_MAGIC */
	uint32_t layout;	/* GMPSTAT_LAYOUT */
	uint32_t size;		/* GMPSTAT_SIZE */
	uint32_t g_size;	/* sizeof(struct gmpstat_g) */
	uint32_t maxg;		/* GMPSTAT_MAXG */
	int32_t pid;		/* the writer's, as it sees itself */
	uint32_t period_ms;	/* GMPSTAT_PERIOD_MS */
	char version[16];	/* libgmp's version, NUL-terminated */
	uint64_t seq;		/* the seqlock: odd while being written */
	int64_t start_ns;	/* when libgmp started */
	int64_t updated_ns;	/* when the counters were taken */
	uint64_t updates;	/* how many times */
	int64_t update_cost_ns;	/* how long the last update took */
	/* the G table (g[], ng_total, ng, c.gs) is taken again only when
	 * some G may have changed state, and at most every 500 times its
	 * cost: it may be older than the counters */
	int64_t table_ns;	/* when it was taken */
	int64_t table_cost_ns;	/* how long that took */
	uint32_t ng_total;	/* Gs that have started and not ended */
	uint32_t ng;		/* ... of which in g[] (at most maxg) */
	/* 1: the walk stopped after GMPSTAT_MAXWALK Gs (the newest, ended
	 * ones included): c.gs counts those, ng_total is the live count */
	uint32_t walk_cut;
	uint32_t reserved;
	struct gmpstat_counters c;
};

struct gmpstat_seg {
	struct gmpstat_hdr h;
	struct gmpstat_g g[GMPSTAT_MAXG];
};

#define GMPSTAT_SIZE ((uint32_t)sizeof(struct gmpstat_seg))

#endif
