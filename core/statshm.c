/*
 * statshm.c: the live statistics segment gmp-stat reads (GMP_STAT, on by
 * default). Owns the segment: a memfd named "gmp-stat" made at start-up,
 * kept open above fd 100 (the program's first open() still gets 3) and
 * mapped shared, holding the GMP_STATS counters, the scheduler's state
 * now and a table of the Gs, laid out as include/gmpstat.h says. No file
 * in /dev/shm: it ends with the process, nothing to clean up. Go: none
 * (the closest is a debugger reading the runtime's memory).
 *
 * Who may read it. gmp-stat finds it through /proc/PID/fd/N, whose link
 * reads "/memfd:gmp-stat (deleted)", and opens that. The kernel lets a
 * process list and open another's /proc/PID/fd entries only with ptrace
 * read access: the same user (and a process that has not made itself
 * non-dumpable), or root. The memfd is also mode 0400 and sealed against
 * resizing, so even its owner opens it read-only and cannot truncate it
 * under the writer's mapping.
 *
 * Writer. Only sysmon writes it, from obs_tick, every GMPSTAT_PERIOD_MS
 * at most, under a seqlock (gmpstat.h). Like obs.c it takes no lock and
 * allocates nothing: the per-P counters and the G table (g_allg, only
 * ever pushed at its head) are read racily, so an update is a snapshot,
 * not a consistent cut; a G changing state while it is copied may show a
 * mix of both. The table keeps the first GMPSTAT_MAXG Gs of the list
 * (the newest); ng_total says how many there are.
 *
 * Cost. The counters are a few words per P and a getrusage: every
 * period. Walking the Gs costs cache and TLB misses per G (each struct g
 * is at the top of its own stack, its link 1 KiB from its status): about
 * 0.9 us a G from sysmon, whose look comes cold (0.15 us warm). So the
 * walk is done only when activity() says some G may have changed state
 * (or the table is a second old), and at most every TABLE_COST_RATIO
 * times its own last cost: a process whose threads all wait costs a walk
 * a second, a busy one with many Gs at most 1/TABLE_COST_RATIO of a CPU.
 * A walk stops after GMPSTAT_MAXWALK Gs (about 7 ms of sysmon's time).
 *
 * Fork. The child shares the parent's pages through the inherited
 * mapping: obs_afterfork calls statshm_afterfork, which unmaps it,
 * closes the inherited descriptor (if the number is still the memfd: the
 * program may have closed it and reused the number) and makes the
 * child's own. The child keeps the parent's G table, its other Gs frozen
 * in their last state: the segment leaves out every G that was in the
 * table at the fork but the forking one. exec closes it (MFD_CLOEXEC).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include "core.h"
#include "gmpsched.h"
#include "gmpstat.h"

_Static_assert((int)GMPSTAT_IDLE == (int)G_IDLE &&
		       (int)GMPSTAT_RUNNABLE == (int)G_RUNNABLE &&
		       (int)GMPSTAT_RUNNING == (int)G_RUNNING &&
		       (int)GMPSTAT_SYSCALL == (int)G_SYSCALL &&
		       (int)GMPSTAT_WAITING == (int)G_WAITING &&
		       (int)GMPSTAT_DEAD == (int)G_DEAD,
	       "gmpstat.h's statuses are core.h's");

#define STATSHM_FD_MIN 100	/* where the descriptor is moved to */
#define PERIOD_NS ((int64_t)GMPSTAT_PERIOD_MS * 1000000)

bool statshm_enabled = true;

static struct gmpstat_seg *_Atomic seg;	/* published once filled in */
static int seg_fd = -1;
static uint64_t seg_dev, seg_ino;	/* to know the descriptor is ours */
static int64_t seg_next;		/* sysmon's: the next update */
/* In a child of fork: the G table's head at the fork, and the forking G.
 * The Gs from the head on are the parent's (the child keeps the table,
 * with their last status) but for the forking G. */
static g *fork_head, *fork_g;

static void create(void)
{
	long fd = arch_syscall(SYS_memfd_create, GMPSTAT_MEMFD,
			       MFD_CLOEXEC | MFD_ALLOW_SEALING, 0, 0);
	struct stat st;

	if (fd < 0) {
		debugf("gmp-stat: memfd_create failed (%ld): no segment", -fd);
		return;
	}
	long hi = arch_syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, STATSHM_FD_MIN,
			       0);
	if (hi >= 0) {
		arch_syscall(SYS_close, fd, 0, 0, 0);
		fd = hi;
	}
	long r = arch_syscall(SYS_ftruncate, fd, GMPSTAT_SIZE, 0, 0);
	if (r == 0)
		r = arch_syscall(SYS_fstat, fd, (long)&st, 0, 0);
	long addr = r < 0 ? r
			  : arch_syscall6(SYS_mmap, 0, GMPSTAT_SIZE,
					  PROT_READ | PROT_WRITE, MAP_SHARED,
					  fd, 0);
	if (addr < 0 && addr > -4096) {
		debugf("gmp-stat: cannot size or map the segment (%ld)", -addr);
		arch_syscall(SYS_close, fd, 0, 0, 0);
		return;
	}
	/* read-only for whoever opens it, and never resized */
	arch_syscall(SYS_fchmod, fd, 0400, 0, 0);
	arch_syscall(SYS_fcntl, fd, F_ADD_SEALS,
		     F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, 0);
	struct gmpstat_seg *s = (void *)addr;
	struct gmpstat_hdr *h = &s->h;
	memcpy(h->magic, GMPSTAT_MAGIC, sizeof h->magic);
	h->layout = GMPSTAT_LAYOUT;
	h->size = GMPSTAT_SIZE;
	h->g_size = sizeof(struct gmpstat_g);
	h->maxg = GMPSTAT_MAXG;
	h->pid = (int32_t)arch_syscall(SYS_getpid, 0, 0, 0, 0);
	h->period_ms = GMPSTAT_PERIOD_MS;
	strncpy(h->version, GMPSCHED_VERSION, sizeof h->version - 1);
	h->start_ns = stats_start_ns;
	seg_fd = (int)fd;
	seg_dev = st.st_dev;
	seg_ino = st.st_ino;
	seg_next = 0;
	atomic_store_explicit(&seg, s, memory_order_release);
}

void statshm_init(void)
{
	if (statshm_enabled)
		create();
}

static void copy_str(char *dst, const volatile char *src, size_t n)
{
	size_t i = 0;

	for (; i < n - 1 && src[i]; i++)
		dst[i] = src[i];
	for (; i < n; i++)
		dst[i] = 0;
}

static void put_g(struct gmpstat_g *e, g *gp, int st)
{
	char name[16], reason[12];
	int64_t mid = -1;
	int tid = 0;

	copy_str(name, gp->name, sizeof name);
	e->goid = gp->goid;
	e->status = st;
	e->flags = (gp->is_main ? GMPSTAT_G_MAIN : 0) |
		   (gp->is_system ? GMPSTAT_G_SYSTEM : 0);
	memcpy(e->name, name, sizeof name);
	if (st == G_WAITING) {
		int why = gp->waitreason;
		copy_str(reason, waitreason_name(why), sizeof reason);
		e->waitaddr = why != WAIT_SLEEP && why != WAIT_YIELD
				      ? (uint64_t)(uintptr_t)gp->w.addr
				      : 0;
		e->parked_at = gp->parked_at;
	} else {
		memset(reason, 0, sizeof reason);
		e->waitaddr = 0;
		e->parked_at = 0;
	}
	memcpy(e->reason, reason, sizeof reason);
	m *mp = gp->m;	/* an M's memory is never freed */
	if ((st == G_RUNNING || st == G_SYSCALL) && mp) {
		mid = mp->id;
		tid = mp->tid;
	}
	e->m_id = mid;
	e->m_tid = tid;
	e->start = (uint64_t)(uintptr_t)gp->start;
}

/* A hash of everything that moves when some G changes state: each P's
 * counters, run queue and runnext, the global queue, the Gs created, and
 * what each M runs and that G's status (a G returning from a system call
 * and computing on changes nothing else). A G's status changes only by
 * parking, being readied (a run queue or runnext changes), running (a
 * context switch) or a system call; its name, by pthread_setname_np,
 * shows at the next walk. Context: sysmon. Cost: a few words per P and
 * per M. */
static uint64_t activity(void)
{
	uint64_t x = 14695981039346656037ull;
#define MIX(v) (x = (x ^ (uint64_t)(v)) * 1099511628211ull)

	for (int i = 0; i < sched.nprocs; i++) {
		p *pp = sched.allp[i];
		MIX(pp->nswitch);
		MIX(pp->npark);
		MIX(pp->nyield);
		MIX(pp->nsyscall);
		MIX(pp->nsteal);
		MIX(atomic_load_explicit(&pp->runqhead, memory_order_relaxed));
		MIX(atomic_load_explicit(&pp->runqtail, memory_order_relaxed));
		MIX((uintptr_t)atomic_load_explicit(&pp->runnext,
						    memory_order_relaxed));
		MIX(atomic_load_explicit(&pp->status, memory_order_relaxed));
	}
	MIX(g_created);
	MIX((uintptr_t)g_allg());
	MIX(atomic_load_explicit(&sched.runqsize, memory_order_relaxed));
	MIX(sched_preempts);
	MIX(sched_handoffs);
	MIX(sysmon_retakes);
	MIX(sysmon_stray);
	for (m *mp = sched.allm; mp; mp = mp->alllink) {
		g *cg = mp->curg;	/* a G's memory is never freed */
		MIX((uintptr_t)cg);
		if (cg)
			MIX(atomic_load_explicit(&cg->status,
						 memory_order_relaxed));
	}
#undef MIX
	return x;
}

static void put_counters(struct gmpstat_counters *c)
{
	uint64_t mapped, chunks;
	struct rusage ru;

	c->procs = (uint64_t)sched.nprocs;
	c->threads_created = (uint64_t)sched.mcount;
	c->threads_exited_idle = (uint64_t)sched.nmdead;
	c->gs_created = g_created;
	c->peak_live_gs = g_peak_live;
	c->context_switches = c->steals = c->parks = c->yields = 0;
	c->syscalls = 0;
	for (int i = 0; i < sched.nprocs; i++) {
		p *pp = sched.allp[i];
		c->context_switches += pp->nswitch;
		c->steals += pp->nsteal;
		c->parks += pp->npark;
		c->yields += pp->nyield;
		c->syscalls += pp->nsyscall;
		if (i < GMPSTAT_MAXP) {
			uint32_t q = runqlen(pp);
			c->runq[i] = q > RUNQ_SIZE ? 0 : q;	/* mid-steal */
		}
	}
	for (int i = sched.nprocs; i < GMPSTAT_MAXP; i++)
		c->runq[i] = 0;
	c->preemptions = sched_preempts;
	c->preemptions_asked = sched_preempt_asks;
	c->handoffs = sched_handoffs;
	c->sysmon_retakes_syscall = sysmon_retakes;
	c->sysmon_retakes_blocked = sysmon_stray;
	c->netpoll_parks = netpoll_parks;
	c->netpoll_wakeups = netpoll_wakeups;
	c->netpoll_polls = netpoll_polls;
	stack_stats(&mapped, &chunks);
	c->stack_reserved_bytes = mapped;
	c->stack_chunks = chunks;
	if (arch_syscall(SYS_getrusage, RUSAGE_SELF, (long)&ru, 0, 0) == 0)
		c->max_rss_kib = (uint64_t)ru.ru_maxrss;
	c->strict = strict_mode != STRICT_OFF;
	c->strict_traps = strict_traps;
	c->strict_sites = strict_sites;
	c->idle_procs = (uint64_t)atomic_load_explicit(&sched.npidle,
						       memory_order_relaxed);
	c->threads = (uint64_t)(sched.mcount - sched.nmdead);
	c->idle_threads = (uint64_t)sched.nmidle;
	c->spinning_threads = (uint64_t)atomic_load_explicit(
		&sched.nmspinning, memory_order_relaxed);
	c->runqueue = (uint64_t)atomic_load_explicit(&sched.runqsize,
						     memory_order_relaxed);
	c->live_gs = (uint64_t)live_g_add(0);
}

/* The G table and the counts by status. The costly part: one G's struct
 * is a few cache lines at the top of its own stack, so the walk misses
 * the cache and the TLB about once per G. */
static void put_gs(struct gmpstat_seg *s)
{
	struct gmpstat_hdr *h = &s->h;
	uint64_t by[GMPSTAT_NSTATUS] = { 0 };
	uint32_t n = 0, total = 0, seen = 0;
	bool parents = false, cut = false;

	g_table_lock();	/* a pooled G's memory may be freed */
	for (g *gp = g_allg(); gp; gp = gp->alllink) {
		int st = atomic_load_explicit(&gp->status,
					      memory_order_relaxed);
		if (++seen > GMPSTAT_MAXWALK) {
			cut = true;	/* bound sysmon's time */
			break;
		}
		if (gp == fork_head)
			parents = true;
		if (gp->is_g0 || st < 0 || st > G_DEAD ||
		    (parents && gp != fork_g))
			continue;
		by[st]++;
		if (st == G_IDLE || st == G_DEAD)
			continue;
		total++;
		if (n < GMPSTAT_MAXG)
			put_g(&s->g[n++], gp, st);
	}
	g_table_unlock();
	memcpy(h->c.gs, by, sizeof by);
	if (cut && h->c.live_gs > total)
		total = (uint32_t)h->c.live_gs;
	h->ng_total = total;
	h->ng = n;
	h->walk_cut = cut;
}

/* The counters every period; the G table when something changed
 * (activity) or it is TABLE_MAX_NS old, but never more often than
 * TABLE_COST_RATIO times its own cost: at most 1/TABLE_COST_RATIO of a
 * CPU however many Gs there are. */
#define TABLE_MAX_NS 1000000000
#define TABLE_COST_RATIO 500

static uint64_t table_sig;	/* activity() at the last walk */

static void update(struct gmpstat_seg *s, int64_t now)
{
	struct gmpstat_hdr *h = &s->h;
	uint64_t seq = h->seq;
	int64_t t0 = nanotime();
	uint64_t sig = activity();
	bool walk = h->updates == 0 ||
		    ((sig != table_sig || now - h->table_ns >= TABLE_MAX_NS) &&
		     now - h->table_ns >= h->table_cost_ns * TABLE_COST_RATIO);

	__atomic_store_n(&h->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);	/* odd before data */
	put_counters(&h->c);
	if (walk) {
		int64_t w0 = nanotime();
		put_gs(s);
		table_sig = sig;
		h->table_ns = now;
		h->table_cost_ns = nanotime() - w0;
	}
	h->updated_ns = now;
	h->updates++;
	h->update_cost_ns = nanotime() - t0;
	__atomic_store_n(&h->seq, seq + 2, __ATOMIC_RELEASE);
}

void statshm_tick(int64_t now)
{
	struct gmpstat_seg *s = atomic_load_explicit(&seg,
						     memory_order_acquire);

	if (!s || now < seg_next)
		return;
	seg_next = now + PERIOD_NS;
	update(s, now);
}

void statshm_afterfork(void)
{
	struct gmpstat_seg *s = atomic_load(&seg);
	struct stat st;

	if (!s)
		return;		/* off, or the parent had none */
	fork_head = g_allg();
	fork_g = getg();
	atomic_store(&seg, NULL);
	arch_syscall(SYS_munmap, (long)s, GMPSTAT_SIZE, 0, 0);
	if (arch_syscall(SYS_fstat, seg_fd, (long)&st, 0, 0) == 0 &&
	    st.st_dev == seg_dev && st.st_ino == seg_ino)
		arch_syscall(SYS_close, seg_fd, 0, 0, 0);
	seg_fd = -1;
	create();
}
