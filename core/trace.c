/*
 * trace.c: GMP_TRACE=/path.json, a timeline of the scheduler in the Chrome
 * trace event format (JSON), which Perfetto (ui.perfetto.dev) and
 * chrome://tracing open as they are. Go: runtime/trace.go (traceEvent,
 * per-P buffers handed to a reader).
 *
 * Owns: the trace file, a fixed pool of event buffers (TRACE_BUFS of
 * TRACE_EVS 16-byte events), each P's current buffer (p.tbuf), one
 * buffer for events outside any P (sysmon, threads that are not Ms), the
 * list of full buffers, the writer thread that copies them raw into a
 * memory file, and the JSON written from it at exit (formatting while
 * the program runs would take a CPU from it).
 *
 * Events: a G starts running on a P (a "B" slice named "G<id>" on that
 * P's track, with its M), stops (its "E", with why: park and the wait
 * reason, yield, preempted, exit, syscall with the P handed off),
 * instants for created, runnable (ready), system call entered and left,
 * steal (how many, from which P), P handoff and preemption requests. A G
 * that leaves a system call on a P other than its own starts a new slice
 * there. Timestamps are the TSC, converted to microseconds with a slope
 * measured against CLOCK_MONOTONIC when the writer formats them.
 *
 * Invariants: an event is written only by the M holding the P whose
 * buffer it goes in (the global buffer under tlock); a buffer's count is
 * published with release after its events, so the writer reads whole
 * events. Memory is bounded: when no buffer is free the event is dropped
 * and counted (the trace's metadata says how many). Lock order: pool_lock
 * and glob_lock are leaves. Off (the default), each hook costs one load.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "core.h"

#define TRACE_EVS 8192
#define TRACE_BUFS 64		/* 64 x 128 KiB: the most a trace holds */

struct tev {
	uint64_t ts;
	uint32_t g;
	uint16_t pm;	/* a P's or M's number, by kind */
	uint8_t kind;
	uint8_t arg;
};

struct tbuf {
	struct tbuf *next;
	int p;				/* -1: the global buffer */
	_Atomic uint32_t n;
	struct tev ev[TRACE_EVS];
};

bool trace_on;
static int tfd = -1;
static struct tbuf *pool, *full, *glob;
static atomic_flag pool_lock = ATOMIC_FLAG_INIT, glob_lock = ATOMIC_FLAG_INIT;
static _Atomic uint32_t full_word;
static _Atomic uint64_t dropped;
static uint64_t tsc0;
static int64_t ns0;
static int pid;
static bool first_event = true;

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static void spin(atomic_flag *f)
{
	while (atomic_flag_test_and_set_explicit(f, memory_order_acquire))
		arch_pause();
}

static void unspin(atomic_flag *f)
{
	atomic_flag_clear_explicit(f, memory_order_release);
}

static struct tbuf *buf_get(int pno)
{
	spin(&pool_lock);
	struct tbuf *b = pool;
	if (b)
		pool = b->next;
	unspin(&pool_lock);
	if (b) {
		b->next = NULL;
		b->p = pno;
		atomic_store_explicit(&b->n, 0, memory_order_relaxed);
	}
	return b;
}

static void buf_full(struct tbuf *b)
{
	spin(&pool_lock);
	b->next = full;
	full = b;
	unspin(&pool_lock);
	atomic_fetch_add(&full_word, 1);
	futex_wake(&full_word, 1);
}

/* Append to b (NULL: dropped); a full buffer goes to the writer and a new
 * one takes its place in *slot. */
static void put(struct tbuf **slot, int pno, int kind, uint32_t gid,
		uint16_t pm, uint8_t arg)
{
	struct tbuf *b = *slot;

	if (!b || atomic_load_explicit(&b->n, memory_order_relaxed) ==
			  TRACE_EVS) {
		if (b)
			buf_full(b);
		*slot = b = buf_get(pno);
		if (!b) {
			atomic_fetch_add_explicit(&dropped, 1,
						  memory_order_relaxed);
			return;
		}
	}
	uint32_t n = atomic_load_explicit(&b->n, memory_order_relaxed);
	struct tev *e = &b->ev[n];
	e->ts = rdtsc();
	e->g = gid;
	e->pm = pm;
	e->kind = (uint8_t)kind;
	e->arg = arg;
	atomic_store_explicit(&b->n, n + 1, memory_order_release);
}

void trace_ev_p(p *pp, int kind, g *gp, uint16_t pm, uint8_t arg)
{
	uint32_t gid = gp ? (uint32_t)gp->goid : 0;

	if (pp) {
		put(&pp->tbuf, pp->id, kind, gid, pm, arg);
		return;
	}
	spin(&glob_lock);
	put(&glob, -1, kind, gid, pm, arg);
	unspin(&glob_lock);
}

void trace_ev(int kind, g *gp, uint16_t pm, uint8_t arg)
{
	g *self = getg();
	p *pp = self && self->m ? self->m->p : NULL;

	trace_ev_p(pp, kind, gp, pm, arg);
}

/* ---- the writer --------------------------------------------------------- */

static void wr(const char *s, size_t n)
{
	while (n > 0) {
		long r = arch_syscall(SYS_write, tfd, s, n, 0);
		if (r <= 0)
			return;
		s += r;
		n -= (size_t)r;
	}
}

static double us_of(uint64_t tsc, double slope)
{
	return (double)ns0 / 1000.0 + (double)(int64_t)(tsc - tsc0) * slope;
}

static const char *stop_why(int arg)
{
	static char buf[WAIT_NREASONS][24];

	switch (arg >> 5) {
	case TSTOP_PARK: {
		int r = arg & 31;
		if (r < 0 || r >= WAIT_NREASONS)
			return "park";
		if (!buf[r][0])
			snprintf(buf[r], sizeof buf[r], "park %s",
				 waitreason_name(r));
		return buf[r];
	}
	case TSTOP_YIELD:
		return "yield";
	case TSTOP_PREEMPT:
		return "preempted";
	case TSTOP_EXIT:
		return "exit";
	case TSTOP_HANDOFF:
		return "syscall, P handed off";
	case TSTOP_END:
		return "trace ends";
	}
	return "?";
}

static int format(char *o, size_t size, const struct tbuf *b,
		  const struct tev *e, double slope)
{
	double ts = us_of(e->ts, slope);
	int tid = b->p >= 0 ? b->p + 1 : 0;
	const char *sep = first_event ? "" : ",\n";

	first_event = false;
	switch (e->kind) {
	case TEV_RUN:
		return snprintf(o, size,
				"%s{\"name\":\"G%u\",\"ph\":\"B\",\"ts\":%.3f,"
				"\"pid\":%d,\"tid\":%d,\"args\":{\"g\":%u,"
				"\"m\":%u}}",
				sep, e->g, ts, pid, e->pm + 1, e->g, e->arg);
	case TEV_STOP:
		return snprintf(o, size,
				"%s{\"name\":\"G%u\",\"ph\":\"E\",\"ts\":%.3f,"
				"\"pid\":%d,\"tid\":%d,\"args\":{\"why\":"
				"\"%s\"}}",
				sep, e->g, ts, pid, e->pm + 1, stop_why(e->arg));
	}
	const char *what = "?";
	char name[64];
	switch (e->kind) {
	case TEV_CREATE:
		what = "create";
		break;
	case TEV_READY:
		what = "ready";
		break;
	case TEV_SYSCALL:
		what = "syscall";
		break;
	case TEV_SYSRET:
		what = "syscall returns";
		break;
	case TEV_PREEMPT:
		what = "preempt request";
		break;
	}
	if (e->kind == TEV_STEAL)
		snprintf(name, sizeof name, "steal G%u from P%u", e->g, e->pm);
	else if (e->kind == TEV_HANDOFF)
		snprintf(name, sizeof name, "handoff P%u", e->pm);
	else
		snprintf(name, sizeof name, "%s G%u", what, e->g);
	if (e->kind == TEV_HANDOFF)
		tid = e->pm + 1;
	return snprintf(o, size,
			"%s{\"name\":\"%s\",\"ph\":\"i\",\"s\":\"t\",\"ts\":%.3f,"
			"\"pid\":%d,\"tid\":%d}",
			sep, name, ts, pid, tid);
}

static void write_buf(const struct tbuf *b, double slope)
{
	char out[65536];
	size_t n = 0;
	uint32_t cnt = atomic_load_explicit(&b->n, memory_order_acquire);

	for (uint32_t i = 0; i < cnt; i++) {
		if (n > sizeof out - 512) {
			wr(out, n);
			n = 0;
		}
		int r = format(out + n, sizeof out - n, b, &b->ev[i], slope);
		if (r > 0)
			n += (size_t)r;
	}
	wr(out, n);
}

static double slope_now(void)
{
	uint64_t t = rdtsc();
	int64_t ns = nanotime();

	if (t == tsc0)
		return 0.001;
	return (double)(ns - ns0) / 1000.0 / (double)(t - tsc0);
}

static struct tbuf *take_full(void)
{
	spin(&pool_lock);
	struct tbuf *l = full;
	full = NULL;
	unspin(&pool_lock);
	/* oldest first */
	struct tbuf *rev = NULL;
	while (l) {
		struct tbuf *nx = l->next;
		l->next = rev;
		rev = l;
		l = nx;
	}
	return rev;
}

static void give_back(struct tbuf *b)
{
	spin(&pool_lock);
	b->next = pool;
	pool = b;
	unspin(&pool_lock);
}

static atomic_flag write_lock = ATOMIC_FLAG_INIT;
static int spill = -1;		/* raw buffers, formatted at the end */
static uint64_t spilled;	/* bytes in it */

/* A buffer's events, raw, to the spill file: a copy into the page cache,
 * so the writer takes little CPU from the program while it runs. */
static void spill_buf(const struct tbuf *b)
{
	uint32_t cnt = atomic_load_explicit(&b->n, memory_order_acquire);
	int32_t hdr[2] = { b->p, (int32_t)cnt };
	struct iovec iov[2] = { { hdr, sizeof hdr },
				{ (void *)b->ev, cnt * sizeof(struct tev) } };
	size_t want = sizeof hdr + cnt * sizeof(struct tev);

	if (arch_syscall(SYS_writev, spill, (long)iov, 2, 0) == (long)want)
		spilled += want;
	else
		atomic_fetch_add(&dropped, cnt);
}

static void *writer_main(void *arg)
{
	(void)arg;
	for (;;) {
		uint32_t w = atomic_load(&full_word);
		spin(&write_lock);
		if (spill < 0) {	/* the trace has ended */
			unspin(&write_lock);
			return NULL;
		}
		struct tbuf *l = take_full();
		while (l) {
			struct tbuf *nx = l->next;
			spill_buf(l);
			give_back(l);
			l = nx;
		}
		unspin(&write_lock);
		futex_wait(&full_word, w, -1);
	}
	return NULL;
}

/* Format the spill file into the trace. write_lock held. */
static void format_spill(double slope)
{
	static struct tbuf tmp;	/* one buffer's worth, read back */
	uint64_t off = 0;

	while (off < spilled) {
		int32_t hdr[2];
		if (arch_syscall(SYS_pread64, spill, (long)hdr, sizeof hdr,
				 (long)off) != (long)sizeof hdr)
			break;
		off += sizeof hdr;
		size_t len = (size_t)hdr[1] * sizeof(struct tev);
		if (hdr[1] < 0 || hdr[1] > TRACE_EVS ||
		    arch_syscall(SYS_pread64, spill, (long)tmp.ev, (long)len,
				 (long)off) != (long)len)
			break;
		off += len;
		tmp.p = hdr[0];
		atomic_store(&tmp.n, (uint32_t)hdr[1]);
		write_buf(&tmp, slope);
	}
}

/* ---- start and end ------------------------------------------------------ */

void trace_init(const char *path)
{
	if (!path || !*path)
		return;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
				    O_CLOEXEC | O_NOCTTY, 0600);
	struct stat st;
	if (fd < 0) {
		warnf("GMP_TRACE=%s: cannot open it (%s)%s; no trace", path,
		      strerror(errno),
		      errno == ELOOP ? ": a symbolic link is not followed" : "");
		return;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid()) {
		warnf("GMP_TRACE=%s: not a regular file of this user; no trace",
		      path);
		close(fd);
		return;
	}
	size_t size = (size_t)TRACE_BUFS * sizeof(struct tbuf);
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED) {
		warnf("GMP_TRACE=%s: no memory for the buffers; no trace",
		      path);
		close(fd);
		return;
	}
	struct tbuf *bufs = mem;
	for (int i = TRACE_BUFS - 1; i >= 0; i--) {
		bufs[i].next = pool;
		pool = &bufs[i];
	}
	/* fd 2's neighbourhood is the program's: keep it out of the way */
	int hi = (int)arch_syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 200, 0);
	if (hi >= 0) {
		close(fd);
		fd = hi;
	}
	spill = (int)arch_syscall(SYS_memfd_create, (long)"gmp-trace",
				  MFD_CLOEXEC, 0, 0);
	if (spill < 0) {
		warnf("GMP_TRACE=%s: no memory file for the events; no trace",
		      path);
		close(fd);
		return;
	}
	tfd = fd;
	pid = getpid();
	tsc0 = rdtsc();
	ns0 = nanotime();
	char head[512];
	int n = snprintf(head, sizeof head,
			 "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"libgmp\":"
			 "\"trace\",\"procs\":%d},\"traceEvents\":[\n",
			 sched.nprocs);
	wr(head, (size_t)n);
	if (m_start_helper_try(writer_main, 256 << 10) != 0) {
		warnf("GMP_TRACE=%s: cannot start the writer thread; no trace",
		      path);
		close(tfd);
		tfd = -1;
		return;
	}
	trace_on = true;
	/* the main thread is running already: its first slice */
	g *self = getg();
	if (self && self->m && self->m->p)
		trace_ev_p(self->m->p, TEV_RUN, self, (uint16_t)self->m->p->id,
			   (uint8_t)self->m->id);
}

/* The threads' names and what was dropped, then the end of the JSON. */
void trace_finish(void)
{
	if (tfd < 0 || !trace_on)
		return;
	/* close the slices still open: each P's running G */
	for (int i = 0; i < sched.nprocs; i++) {
		p *pp = sched.allp[i];
		m *mp = pp->m;
		g *cur = mp ? mp->curg : NULL;
		if (cur && atomic_load_explicit(&pp->status,
						memory_order_relaxed) != P_IDLE)
			trace_ev_p(pp, TEV_STOP, cur, (uint16_t)pp->id,
				   TSTOP_END << 5);
	}
	trace_on = false;
	spin(&write_lock);
	double slope = slope_now();
	for (struct tbuf *l = take_full(); l; l = l->next)
		spill_buf(l);
	for (int i = 0; i < sched.nprocs; i++)
		if (sched.allp[i]->tbuf)
			spill_buf(sched.allp[i]->tbuf);
	if (glob)
		spill_buf(glob);
	format_spill(slope);
	char line[256];
	int n;
	for (int i = 0; i < sched.nprocs; i++) {
		n = snprintf(line, sizeof line,
			     "%s{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,"
			     "\"tid\":%d,\"args\":{\"name\":\"P%d\"}}",
			     first_event ? "" : ",\n", pid, i + 1, i);
		first_event = false;
		wr(line, (size_t)n);
	}
	n = snprintf(line, sizeof line,
		     ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,"
		     "\"tid\":0,\"args\":{\"name\":\"runtime\"}}",
		     pid);
	wr(line, (size_t)n);
	g_table_lock();
	for (g *gp = g_allg(); gp; gp = gp->alllink) {
		if (gp->is_g0 || !gp->name[0])
			continue;
		n = snprintf(line, sizeof line,
			     ",\n{\"name\":\"G%llu\",\"ph\":\"i\",\"s\":\"g\","
			     "\"ts\":%.3f,\"pid\":%d,\"tid\":0,\"args\":{\"name\":"
			     "\"%.15s\"}}",
			     (unsigned long long)gp->goid,
			     us_of(tsc0, slope), pid, gp->name);
		wr(line, (size_t)n);
	}
	g_table_unlock();
	n = snprintf(line, sizeof line,
		     "\n],\"metadata\":{\"dropped_events\":%llu}}\n",
		     (unsigned long long)atomic_load(&dropped));
	wr(line, (size_t)n);
	close(tfd);
	tfd = -1;
	arch_syscall(SYS_close, spill, 0, 0, 0);
	spill = -1;	/* the writer ends */
	unspin(&write_lock);
	atomic_fetch_add(&full_word, 1);
	futex_wake(&full_word, 1);
}

void trace_afterfork(void)
{
	/* the child does not write the parent's file */
	trace_on = false;
	tfd = -1;
}
