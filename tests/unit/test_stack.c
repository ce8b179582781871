/*
 * test_stack.c: reserving G stacks (core/stack.c): size and alignment,
 * guard pages, chunks of CHUNK_STACKS stacks and the reuse of their slots.
 *
 * Faults are checked in forked children (a child that writes a guard page
 * must die of SIGSEGV). This kernel may support MADV_GUARD_INSTALL, so the
 * mprotect fallback that older kernels (Debian 12's 6.1) use is tested in
 * a fresh copy of this program, re-executed with a seccomp filter that
 * makes madvise(MADV_GUARD_INSTALL) fail with EINVAL.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "core.h"

#define CHUNK_STACKS 16		/* stack.c: stacks per chunk */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

static size_t ps;		/* page size */
static size_t chunk_sz;		/* the size chunks are carved for here */

/* Write one byte at addr in a child: 0 if it survived, else the signal
 * that killed it (-1 if it neither exited 0 nor died of a signal). */
static int child_write(void *addr)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };
		/* cmocka catches SIGSEGV in the test process; not here */
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		setrlimit(RLIMIT_CORE, &no_core);
		*(volatile char *)addr = 1;
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status))
		return WTERMSIG(status);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static bool is_mapped(void *addr, size_t len)
{
	unsigned char vec[64];

	assert_true(len / ps <= sizeof vec);
	if (mincore(addr, len, vec) == 0)
		return true;
	assert_int_equal(errno, ENOMEM);
	return false;
}

static int resident_pages(void *addr, size_t len)
{
	unsigned char vec[64];
	int n = 0;

	assert_true(len / ps <= sizeof vec);
	assert_int_equal(mincore(addr, len, vec), 0);
	for (size_t i = 0; i < len / ps; i++)
		n += vec[i] & 1;
	return n;
}

static uint64_t nchunks(void)
{
	uint64_t mapped, chunks;

	stack_stats(&mapped, &chunks);
	return chunks;
}

static uint64_t nmapped(void)
{
	uint64_t mapped, chunks;

	stack_stats(&mapped, &chunks);
	return mapped;
}

/* stack_init fixes the size chunks are carved for. */
static int fix_chunk_size(void **state)
{
	struct stack s;

	(void)state;
	ps = stack_pagesize();
	chunk_sz = 16 * ps;
	stack_init(chunk_sz);
	if (stack_alloc(chunk_sz, ps, &s) != 0 || !s.chunked)
		return -1;
	stack_free(&s);
	return 0;
}

static void check_writable(struct stack *s)
{
	char *lo = (char *)s->base + s->guard, *hi = (char *)s->base + s->size;

	memset(lo, 0xa5, (size_t)(hi - lo));
	for (char *c = lo; c < hi; c++)
		if (*c != (char)0xa5)
			fail_msg("byte %td of the stack did not stick",
				 c - (char *)s->base);
}

/* ---- size, alignment, arguments --------------------------------------- */

static void stack_alloc_returns_page_aligned_writable_memory_of_the_size(
	void **state)
{
	struct stack s;

	(void)state;
	assert_int_equal(stack_alloc(5 * ps + 123, ps, &s), 0);
	assert_int_equal((uintptr_t)s.base % ps, 0);
	assert_int_equal(s.size, 6 * ps);	/* rounded up to a page */
	assert_int_equal(s.guard, ps);
	assert_false(s.chunked);
	check_writable(&s);
	stack_free(&s);
}

static void chunk_sized_stack_is_page_aligned_and_writable(void **state)
{
	struct stack s;

	(void)state;
	assert_int_equal(stack_alloc(chunk_sz, ps, &s), 0);
	assert_true(s.chunked);
	assert_int_equal((uintptr_t)s.base % ps, 0);
	assert_int_equal(s.size, chunk_sz);
	assert_int_equal(s.guard, ps);
	check_writable(&s);
	stack_free(&s);
}

static void guard_is_rounded_up_to_a_page(void **state)
{
	struct stack s;

	(void)state;
	assert_int_equal(stack_alloc(4 * ps, 1, &s), 0);
	assert_int_equal(s.guard, ps);
	stack_free(&s);
}

static void guard_not_smaller_than_the_size_is_einval(void **state)
{
	struct stack s;

	(void)state;
	assert_int_equal(stack_alloc(4 * ps, 4 * ps, &s), -EINVAL);
	assert_int_equal(stack_alloc(4 * ps, 5 * ps, &s), -EINVAL);
	/* both round to one page */
	assert_int_equal(stack_alloc(ps, 1, &s), -EINVAL);
	assert_int_equal(stack_alloc(chunk_sz, chunk_sz, &s), -EINVAL);
}

/* ---- guard pages ------------------------------------------------------ */

static void guard_page_at_the_bottom_faults(void **state)
{
	struct stack s;
	char *base;

	(void)state;
	assert_int_equal(stack_alloc(8 * ps, 2 * ps, &s), 0);
	assert_false(s.chunked);
	base = s.base;
	assert_int_equal(child_write(base), SIGSEGV);
	assert_int_equal(child_write(base + 2 * ps - 1), SIGSEGV);
	assert_int_equal(child_write(base + 2 * ps), 0);
	assert_int_equal(child_write(base + 8 * ps - 1), 0);
	stack_free(&s);
}

/* In a chunk the slot below is mapped: only the guard stops a runaway. */
static void guard_page_of_a_chunk_stack_faults(void **state)
{
	struct stack s;
	char *base;

	(void)state;
	assert_int_equal(stack_alloc(chunk_sz, ps, &s), 0);
	assert_true(s.chunked);
	base = s.base;
	assert_int_equal(child_write(base), SIGSEGV);
	assert_int_equal(child_write(base + ps - 1), SIGSEGV);
	assert_int_equal(child_write(base + ps), 0);
	stack_free(&s);
}

static void zero_guard_leaves_the_whole_stack_writable(void **state)
{
	struct stack s;

	(void)state;
	assert_int_equal(stack_alloc(3 * ps, 0, &s), 0);
	assert_int_equal(s.guard, 0);
	assert_int_equal(child_write(s.base), 0);
	check_writable(&s);
	stack_free(&s);
}

/* ---- chunks ----------------------------------------------------------- */

static void chunk_sized_stacks_come_chunk_stacks_to_a_chunk(void **state)
{
	struct stack s[3 * CHUNK_STACKS];
	int n = 0;
	uint64_t c0 = nchunks(), m0 = nmapped();

	(void)state;
	/* use up the free slots until a fresh chunk is mapped */
	do {
		assert_true(n < 2 * CHUNK_STACKS);
		assert_int_equal(stack_alloc(chunk_sz, ps, &s[n]), 0);
		assert_true(s[n++].chunked);
	} while (nchunks() == c0);
	assert_int_equal(nchunks(), c0 + 1);
	assert_int_equal(nmapped(), m0 + CHUNK_STACKS * chunk_sz);
	/* the new chunk has CHUNK_STACKS - 1 slots left */
	for (int i = 1; i < CHUNK_STACKS; i++) {
		assert_int_equal(stack_alloc(chunk_sz, ps, &s[n++]), 0);
		assert_int_equal(nchunks(), c0 + 1);
	}
	assert_int_equal(stack_alloc(chunk_sz, ps, &s[n++]), 0);
	assert_int_equal(nchunks(), c0 + 2);
	assert_int_equal(nmapped(), m0 + 2 * CHUNK_STACKS * chunk_sz);

	/* the CHUNK_STACKS stacks of the first new chunk tile it */
	char *lo = s[n - 1 - CHUNK_STACKS].base, *hi = lo;
	for (int i = n - 1 - CHUNK_STACKS; i < n - 1; i++) {
		char *b = s[i].base;
		lo = b < lo ? b : lo;
		hi = b > hi ? b : hi;
		for (int j = n - 1 - CHUNK_STACKS; j < i; j++)
			assert_ptr_not_equal(s[j].base, b);
	}
	assert_int_equal((size_t)(hi - lo), (CHUNK_STACKS - 1) * chunk_sz);
	while (n > 0)
		stack_free(&s[--n]);
	assert_int_equal(nchunks(), c0 + 2);	/* chunks are kept */
}

static void freed_chunk_slot_is_reused(void **state)
{
	struct stack a, b;
	uint64_t c0, m0;

	(void)state;
	assert_int_equal(stack_alloc(chunk_sz, ps, &a), 0);
	c0 = nchunks();
	m0 = nmapped();
	stack_free(&a);
	assert_true(is_mapped(a.base, chunk_sz));	/* the slot stays */
	assert_int_equal(stack_alloc(chunk_sz, ps, &b), 0);
	assert_ptr_equal(b.base, a.base);
	assert_true(b.chunked);
	assert_int_equal(nchunks(), c0);
	assert_int_equal(nmapped(), m0);
	assert_int_equal(child_write(b.base), SIGSEGV);	/* still guarded */
	check_writable(&b);
	stack_free(&b);
}

static void freed_chunk_stack_gives_its_pages_back(void **state)
{
	struct stack s;
	char *lo;

	(void)state;
	assert_int_equal(stack_alloc(chunk_sz, ps, &s), 0);
	check_writable(&s);
	lo = (char *)s.base + s.guard;
	/* all but the top page, where the free list links the slot */
	assert_int_equal(resident_pages(lo, chunk_sz - s.guard - ps),
			 (int)((chunk_sz - s.guard - ps) / ps));
	stack_free(&s);
	assert_int_equal(resident_pages(lo, chunk_sz - s.guard - ps), 0);
}

static void other_sizes_are_mapped_and_unmapped_one_by_one(void **state)
{
	struct stack s;
	uint64_t c0 = nchunks(), m0 = nmapped();

	(void)state;
	assert_int_equal(stack_alloc(chunk_sz + ps, ps, &s), 0);
	assert_false(s.chunked);
	assert_int_equal(nmapped(), m0 + chunk_sz + ps);
	assert_int_equal(nchunks(), c0);
	assert_true(is_mapped(s.base, s.size));
	stack_free(&s);
	assert_int_equal(nmapped(), m0);
	assert_false(is_mapped(s.base, s.size));
}

/* A slot keeps the guard it was first given (MADV_GUARD_INSTALL markers
 * and PROT_NONE both survive stack_free's MADV_DONTNEED); a new tenant
 * asking for a smaller guard must still get all of [base+guard, top). */
static void reused_chunk_slot_with_a_smaller_guard_is_writable_above_it(
	void **state)
{
	struct stack a, b;

	(void)state;
	assert_int_equal(stack_alloc(chunk_sz, 4 * ps, &a), 0);
	assert_true(a.chunked);
	stack_free(&a);
	assert_int_equal(stack_alloc(chunk_sz, ps, &b), 0);
	assert_ptr_equal(b.base, a.base);	/* same slot */
	assert_int_equal(b.guard, ps);
	assert_int_equal(child_write(b.base), SIGSEGV);
	assert_int_equal(child_write((char *)b.base + ps), 0);
	assert_int_equal(child_write((char *)b.base + 3 * ps), 0);
	stack_free(&b);
}

/* ---- the mprotect fallback, in a re-executed copy --------------------- */

static char *self_path;

/* madvise(..., MADV_GUARD_INSTALL) fails with EINVAL, as before 6.13. */
static int deny_madv_guard_install(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_madvise, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, args[2])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MADV_GUARD_INSTALL, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof f / sizeof f[0], f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
		return -1;
	return 0;
}

#define CHECK(c) do { if (!(c)) { \
	fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c); \
	return 1; } } while (0)

static int fallback_guard_faults(void)
{
	struct stack s, c;

	stack_init(8 * ps);
	CHECK(stack_alloc(8 * ps, 2 * ps, &s) == 0);
	CHECK(child_write(s.base) == SIGSEGV);
	CHECK(child_write((char *)s.base + 2 * ps - 1) == SIGSEGV);
	CHECK(child_write((char *)s.base + 2 * ps) == 0);
	/* the chunk size: a second stack, chunked */
	CHECK(stack_alloc(8 * ps, ps, &c) == 0 && c.chunked);
	CHECK(child_write(c.base) == SIGSEGV);
	CHECK(child_write((char *)c.base + ps) == 0);
	stack_free(&c);
	stack_free(&s);
	return 0;
}

/* Reusing a chunk slot whose PROT_NONE guard is still in place costs no
 * new mapping, so it must not use up the budget of mprotect guards
 * (a quarter of vm.max_map_count): after that many reuses, a new stack
 * must still get its guard. */
static int fallback_chunk_reuse_keeps_the_guard_budget(void)
{
	long max_map_count = 65530;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	struct stack s;

	if (f) {
		if (fscanf(f, "%ld", &max_map_count) != 1)
			max_map_count = 65530;
		fclose(f);
	}
	stack_init(chunk_sz);
	for (long i = 0; i <= max_map_count / 4 + 1; i++) {
		CHECK(stack_alloc(chunk_sz, ps, &s) == 0 && s.chunked);
		stack_free(&s);
	}
	CHECK(stack_alloc(chunk_sz + ps, ps, &s) == 0 && !s.chunked);
	CHECK(child_write(s.base) == SIGSEGV);
	stack_free(&s);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(void);
} fallbacks[] = {
	{ "guard_faults", fallback_guard_faults },
	{ "chunk_reuse_keeps_the_guard_budget",
	  fallback_chunk_reuse_keeps_the_guard_budget },
};

/* In the re-executed copy: returns the exit status (77: no seccomp). */
static int fallback_main(const char *name)
{
	ps = stack_pagesize();
	chunk_sz = 16 * ps;
	if (deny_madv_guard_install() != 0) {
		perror("seccomp");
		return 77;
	}
	/* the filter works: this is the kernel stack.c will see */
	void *probe = mmap(NULL, ps, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(probe != MAP_FAILED);
	CHECK(madvise(probe, ps, MADV_GUARD_INSTALL) == -1 && errno == EINVAL);
	munmap(probe, ps);
	for (size_t i = 0; i < sizeof fallbacks / sizeof fallbacks[0]; i++)
		if (strcmp(fallbacks[i].name, name) == 0)
			return fallbacks[i].fn();
	fprintf(stderr, "no fallback test %s\n", name);
	return 2;
}

static void run_fallback(const char *name)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/proc/self/exe", self_path, "--no-madv-guard", name,
		      (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void guard_page_faults_without_madv_guard_install(void **state)
{
	(void)state;
	run_fallback("guard_faults");
}

static void chunk_slot_reuse_keeps_the_mprotect_guard_budget(void **state)
{
	(void)state;
	run_fallback("chunk_reuse_keeps_the_guard_budget");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		stack_alloc_returns_page_aligned_writable_memory_of_the_size),
		cmocka_unit_test(
			chunk_sized_stack_is_page_aligned_and_writable),
		cmocka_unit_test(guard_is_rounded_up_to_a_page),
		cmocka_unit_test(guard_not_smaller_than_the_size_is_einval),
		cmocka_unit_test(guard_page_at_the_bottom_faults),
		cmocka_unit_test(guard_page_of_a_chunk_stack_faults),
		cmocka_unit_test(zero_guard_leaves_the_whole_stack_writable),
		cmocka_unit_test(
			chunk_sized_stacks_come_chunk_stacks_to_a_chunk),
		cmocka_unit_test(freed_chunk_slot_is_reused),
		cmocka_unit_test(freed_chunk_stack_gives_its_pages_back),
		cmocka_unit_test(
			other_sizes_are_mapped_and_unmapped_one_by_one),
		cmocka_unit_test(
		reused_chunk_slot_with_a_smaller_guard_is_writable_above_it),
		cmocka_unit_test(guard_page_faults_without_madv_guard_install),
		cmocka_unit_test(
			chunk_slot_reuse_keeps_the_mprotect_guard_budget),
	};

	self_path = argv[0];
	if (argc == 3 && strcmp(argv[1], "--no-madv-guard") == 0)
		return fallback_main(argv[2]);
	return cmocka_run_group_tests(tests, fix_chunk_size, NULL);
}
