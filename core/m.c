/*
 * m.c: creating Ms. Go: newm, newosproc, allocm, templateThread.
 * Owns the M allocator, sched.allm/mcount and the template thread.
 *
 * Model. An M is a kernel thread made with glibc's real pthread_create, so
 * glibc knows it (setxid broadcasts, fork bookkeeping) and its g0 runs on
 * the thread's own stack and TCB. Ms are started by one template thread,
 * as Go does for locked threads: newm can be called from g0 of M0, whose
 * TCB is not a real NPTL thread, and from Gs, whose TCBs glibc never
 * listed; only a genuine NPTL thread calls the real pthread_create.
 *
 * Invariants. struct m is never freed: an M idle for 5 s ends its kernel
 * thread (stopm, sched.c) but its struct stays on allm, marked dead.
 * m structs come from mmap, so newm allocates nothing on the heap and is
 * safe on g0.
 *
 * Rejected. clone() directly, as Go does: glibc would not know the
 * threads (no setxid, wrong fork handling) and g0 would need a TCB of our
 * making. Calling the real pthread_create from the G: it reads the calling
 * TCB's scheduling and signal state, and M0's g0 has no real TCB.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "core.h"

static struct {
	struct mutex lock;
	m *head;		/* Ms waiting for a kernel thread */
	_Atomic uint32_t seq;	/* futex word the template sleeps on */
	m *freem;		/* unused m structs from the last slab */
} tmpl = { .lock = MUTEX_INIT(LOCKRANK_NEWM) };

m *m_alloc(void)
{
	m *mp;

	lock(&tmpl.lock);
	if (!tmpl.freem) {
		size_t n = 64, sz = (sizeof(m) + 63) & ~(size_t)63;
		long r = arch_syscall6(SYS_mmap, 0, n * sz,
				       PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (r < 0 && r > -4096)
			throw("m_alloc: out of memory");
		for (size_t i = 0; i < n; i++) {
			m *x = (m *)((char *)r + i * sz);
			x->schedlink = tmpl.freem;
			tmpl.freem = x;
		}
	}
	mp = tmpl.freem;
	tmpl.freem = mp->schedlink;
	unlock(&tmpl.lock);
	memset(mp, 0, sizeof *mp);
	lock(&sched.lock);
	mp->id = sched.mcount++;
	mp->alllink = sched.allm;
	sched.allm = mp;
	unlock(&sched.lock);
	mp->fastrand = 0x9e3779b9u * (uint32_t)(mp->id + 1) | 1;
	return mp;
}

void newm(p *pp, bool spinning)
{
	m *mp = m_alloc();

	mp->nextp = pp;
	mp->spinning = spinning;
	lock(&tmpl.lock);
	mp->schedlink = tmpl.head;
	tmpl.head = mp;
	unlock(&tmpl.lock);
	atomic_fetch_add_explicit(&tmpl.seq, 1, memory_order_release);
	futex_wake(&tmpl.seq, 1);
}

/* A runtime thread starts with every signal blocked but the synchronous
 * faults and glibc's own: the creator's mask (glibc's default) may be
 * older than rt_mask, and a process-directed signal that every G blocks
 * could reach the new thread before it sets its mask (an M when it
 * first runs a G or goes idle, a helper in rt_mask_helper). */
static void attr_start_blocked(pthread_attr_t *attr)
{
	static const int sync[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP };
	sigset_t all;

	sigfillset(&all);
	for (size_t i = 0; i < sizeof sync / sizeof sync[0]; i++)
		sigdelset(&all, sync[i]);
	pthread_attr_setsigmask_np(attr, &all);
}

static void *template_main(void *arg)
{
	pthread_attr_t attr;

	(void)arg;
	rt_mask_helper();
	g_learn_res();
	pthread_attr_init(&attr);
	attr_start_blocked(&attr);
	pthread_attr_setstacksize(&attr, 1 << 20);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (;;) {
		uint32_t seq = atomic_load_explicit(&tmpl.seq,
						    memory_order_acquire);
		rt_thread_idle(false);
		lock(&tmpl.lock);
		m *list = tmpl.head;
		tmpl.head = NULL;
		unlock(&tmpl.lock);
		rt_thread_idle(true);
		if (!list) {
			futex_wait(&tmpl.seq, seq, -1);
			continue;
		}
		while (list) {
			m *mp = list;
			pthread_t t;
			list = list->schedlink;
			int r = hooks.pthread_create(&t, &attr, mstart_thread,
						     mp);
			if (r) {
				warnf("newm: pthread_create: %s (%d Ms)",
				      strerror(r), (int)sched.mcount);
				throw("newm: cannot create a kernel thread");
			}
		}
	}
	return NULL;
}

int m_start_helper_try(void *(*fn)(void *), size_t stack)
{
	pthread_attr_t attr;
	pthread_t t;

	pthread_attr_init(&attr);
	attr_start_blocked(&attr);
	pthread_attr_setstacksize(&attr, stack);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int r = hooks.pthread_create(&t, &attr, fn, NULL);
	pthread_attr_destroy(&attr);
	return r;
}

void m_start_helper(void *(*fn)(void *), size_t stack, const char *fail)
{
	int r = m_start_helper_try(fn, stack);

	if (r) {
		warnf("%s: %s", fail, strerror(r));
		throw(fail);
	}
}

void m_init(void)
{
	m_start_helper(template_main, 256 << 10,
		       "cannot create the template thread");
}

void m_afterfork(void)
{
	tmpl.lock.key = 0;
	tmpl.head = NULL;
	tmpl.freem = NULL;	/* may be mid-update: leak the slab */
	tmpl.seq = 0;
	m_init();
}
