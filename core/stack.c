/*
 * stack.c: reserving G stacks. Owns the chunk free lists and the guard
 * budget. The G pool (g.c) keeps whole dead Gs, stack and TLS together;
 * this file only maps, guards and unmaps.
 *
 * Model. A stack is one lazily backed (MAP_NORESERVE) range with a guard
 * at its low end. Stacks of the most common size are carved from chunks of
 * CHUNK_STACKS at a time, so 100 000 threads cost a few thousand mappings,
 * not 200 000: the kernel's vm.max_map_count (65530 by default) is what
 * stops glibc near 32 000 threads, one mapping for the stack and one for
 * its mprotect'ed guard. Guards use MADV_GUARD_INSTALL (Linux >= 6.13),
 * which marks page table entries and never splits the mapping. Without it,
 * guards fall back to mprotect while fewer than a quarter of
 * vm.max_map_count mappings are used that way; beyond that new stacks get
 * no guard page and a GMP_DEBUG line says so.
 *
 * Invariants. A chunk slot is either handed out or on chunk_free; chunks
 * are never unmapped (their slots are reused; the pool decides). Other
 * sizes are mapped and unmapped one by one.
 *
 * Rejected. One mmap per stack with mprotect guards: exactly glibc's limit.
 * No guard at all: a stack overflow would silently corrupt the next
 * stack in the chunk.
 */
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "core.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#define CHUNK_STACKS 16

struct slot {
	struct slot *next;
	size_t guard;		/* the guard still in place below the slot */
};

static struct {
	struct mutex lock;
	size_t chunk_size;	/* stack size chunks are carved for */
	void *chunk_free;	/* free slots of chunk_size, linked in place */
	int guard_mode;		/* 0 unknown, 1 madvise, 2 mprotect */
	long mprotect_guards;
	long max_guards;
	uint64_t mapped, chunks;
} st = { .lock = MUTEX_INIT(LOCKRANK_STACK) };

void stack_init(size_t common)
{
	size_t ps = stack_pagesize();

	lock(&st.lock);
	if (st.chunk_size == 0)
		st.chunk_size = (common + ps - 1) & ~(ps - 1);
	unlock(&st.lock);
}

size_t stack_pagesize(void)
{
	static size_t ps;

	if (!ps)
		ps = (size_t)sysconf(_SC_PAGESIZE);
	return ps;
}

static void *map(size_t size)
{
	long r = arch_syscall6(SYS_mmap, 0, size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
				       MAP_STACK,
			       -1, 0);
	return r < 0 && r > -4096 ? NULL : (void *)r;
}

static long read_max_map_count(void)
{
	char buf[32];
	long fd = arch_syscall(SYS_open, "/proc/sys/vm/max_map_count",
			       0 /* O_RDONLY */, 0, 0);
	long v = 0;

	if (fd < 0)
		return 65530;
	long n = arch_syscall(SYS_read, fd, buf, sizeof buf - 1, 0);
	arch_syscall(SYS_close, fd, 0, 0, 0);
	for (long i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		v = v * 10 + (buf[i] - '0');
	return v > 0 ? v : 65530;
}

#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE 103
#endif

/* Undo install_guard; st.lock held. */
static void remove_guard(void *base, size_t guard)
{
	if (st.guard_mode == 1) {
		arch_syscall(SYS_madvise, base, guard, MADV_GUARD_REMOVE, 0);
		return;
	}
	arch_syscall(SYS_mprotect, base, guard, PROT_READ | PROT_WRITE, 0);
	if (st.mprotect_guards > 0)
		st.mprotect_guards--;
}

/* Guard [base, base+guard); st.lock held. */
static void install_guard(void *base, size_t guard)
{
	if (guard == 0)
		return;
	if (st.guard_mode != 2 &&
	    arch_syscall(SYS_madvise, base, guard, MADV_GUARD_INSTALL, 0) == 0) {
		st.guard_mode = 1;
		return;
	}
	if (st.max_guards == 0) {
		st.guard_mode = 2;
		st.max_guards = read_max_map_count() / 4;
		debugf("MADV_GUARD_INSTALL unsupported: guard pages use "
		       "mprotect, at most %ld of them", st.max_guards);
	}
	if (st.mprotect_guards >= st.max_guards) {
		if (st.mprotect_guards++ == st.max_guards)
			debugf("guard budget exhausted: new stacks have no "
			       "guard page");
		return;
	}
	if (arch_syscall(SYS_mprotect, base, guard, PROT_NONE, 0) == 0)
		st.mprotect_guards++;
}

static int carve(size_t size, struct stack *s, size_t *had)
{
	if (st.chunk_free == NULL) {
		char *c = map(size * CHUNK_STACKS);
		if (c == NULL)
			return -EAGAIN;
		st.chunks++;
		st.mapped += size * CHUNK_STACKS;
		for (int i = CHUNK_STACKS - 1; i >= 0; i--) {
			/* link through the slot's top word: the guard at
			 * the bottom may be installed already. */
			struct slot *sl = (struct slot *)(c + (size_t)(i + 1) *
						size - sizeof(struct slot));
			sl->next = st.chunk_free;
			sl->guard = 0;
			st.chunk_free = sl;
		}
	}
	struct slot *sl = st.chunk_free;
	st.chunk_free = sl->next;
	*had = sl->guard;
	sl->next = NULL;
	sl->guard = 0;
	s->base = (char *)(sl + 1) - size;
	s->chunked = 1;
	return 0;
}

int stack_alloc(size_t size, size_t guard, struct stack *s)
{
	size_t ps = stack_pagesize();
	int r = 0;

	size = (size + ps - 1) & ~(ps - 1);
	guard = (guard + ps - 1) & ~(ps - 1);
	if (guard >= size)
		return -EINVAL;
	s->size = size;
	s->guard = guard;
	lock(&st.lock);
	if (size == st.chunk_size) {
		size_t had;
		r = carve(size, s, &had);
		if (r == 0 && had != guard) {
			if (had)
				remove_guard(s->base, had);
			install_guard(s->base, guard);
		}
	} else {
		s->base = map(size);
		s->chunked = 0;
		if (s->base == NULL) {
			r = -EAGAIN;
		} else {
			st.mapped += size;
			install_guard(s->base, guard);
		}
	}
	unlock(&st.lock);
	return r;
}

void stack_release_pages(void *lo, void *hi)
{
	uintptr_t ps = stack_pagesize();
	uintptr_t a = ((uintptr_t)lo + ps - 1) & ~(ps - 1);
	uintptr_t b = (uintptr_t)hi & ~(ps - 1);

	if (b > a)
		arch_syscall(SYS_madvise, a, b - a, MADV_DONTNEED, 0);
}

void stack_free(struct stack *s)
{
	char *top = (char *)s->base + s->size;

	if (s->chunked) {
		/* keep the guard; drop the pages above it */
		stack_release_pages((char *)s->base + s->guard, top);
		lock(&st.lock);
		struct slot *sl = (struct slot *)(top - sizeof(struct slot));
		sl->next = st.chunk_free;
		sl->guard = s->guard;
		st.chunk_free = sl;
		unlock(&st.lock);
		return;
	}
	arch_syscall(SYS_munmap, s->base, s->size, 0, 0);
	lock(&st.lock);
	st.mapped -= s->size;
	if (s->guard && st.guard_mode == 2 && st.mprotect_guards > 0)
		st.mprotect_guards--;
	unlock(&st.lock);
}

void stack_stats(uint64_t *mapped, uint64_t *chunks)
{
	*mapped = st.mapped;
	*chunks = st.chunks;
}

void stack_afterfork(void)
{
	st.lock.key = 0;
	st.chunk_free = NULL;	/* may be mid-update: leak the free slots */
}
