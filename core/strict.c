/*
 * strict.c: strict mode (GMP_STRICT=1 or report; DESIGN.md §4, class 3).
 * A seccomp filter built with libseccomp traps the blocking system calls
 * that did not come through libgmp (SIGSYS), and the handler makes each
 * one as a system call bracketed with entersyscall/exitsyscall, so its P
 * goes to another M if it lasts instead of waiting with a blocked M for
 * sysmon to notice; in report mode it also names each call site once.
 * Go counterpart: none (Go's runtime makes every system call itself).
 * Owns the filter, the SIGSYS handler and the program's SIGSYS action,
 * the table of the objects loaded at start-up (text, unwind tables,
 * symbols) and the report's table of call sites.
 *
 * Filter. strict_init, from the constructor before the runtime starts
 * its threads, dlopens libseccomp (and closes it again) to build rules
 * that trap the calls that may block (calls[] below; futex with a
 * waiting operation only, fcntl with F_SETLKW or F_OFD_SETLKW only),
 * plus rt_sigprocmask and rt_sigaction, and allow everything else,
 * other architectures included. Its BPF is exported and every "return
 * TRAP" becomes a jump to a test libseccomp cannot express: trap only if
 * the instruction pointer is in the text of an object loaded at start-up
 * at a random address -- the program if it is PIE, glibc, the other
 * libraries -- and never in libgmp, whose raw system calls (arch/) pass.
 * Calls libgmp's shims make through glibc are trapped like the others.
 * It is loaded with NO_NEW_PRIVS on every thread (TSYNC), without the
 * speculative store bypass mitigation seccomp would switch on.
 *
 * Handler (SIGSYS, SA_NODEFER, TRAP_DATA in si_errno). The trapped call
 * did not run; the handler makes it with arch_syscall6 (libgmp's text:
 * not trapped again) and puts the result in rax:
 *   - a blocking call made by a G in user code (G_RUNNING, rt == 0),
 *     on its own kernel thread and stack, outside a handler of the
 *     program's: a stray call. Counted, listed in report mode, and
 *     bracketed: exitsyscall may park the G and resume it on another
 *     kernel thread; its signal frame is on its stack, and rt_sigreturn
 *     restores it there. Restarts stay the kernel's: a handler that
 *     interrupts the nested call restarts it or makes it fail with EINTR
 *     as it would the original; ERESTART* never reach the program;
 *   - any other blocking call (one a shim bracketed, G_SYSCALL; the
 *     runtime's; a thread that runs no G; a vfork or posix_spawn child
 *     on its parent's thread block): made as it is. Masks passed to
 *     ppoll, pselect6, epoll_pwait(2) and rt_sigsuspend lose SIGSYS;
 *   - rt_sigprocmask: emulated on the mask the handler returns to, with
 *     SIGSYS never blocked. The kernel kills a process whose trapped call
 *     finds SIGSYS blocked, and glibc blocks every signal in its helper
 *     threads (POSIX AIO, SIGEV_THREAD timers, mq_notify), around
 *     pthread_create and in a posix_spawn child, as programs do in their
 *     threads; a trapped call there must find the handler;
 *   - rt_sigaction: SIGSYS stays libgmp's. The program's action is
 *     recorded and returned, and gets every SIGSYS that is not this
 *     filter's (kill, a filter of the program's); no handler's mask
 *     blocks SIGSYS. A vfork or posix_spawn child (another pid in our
 *     memory) resetting SIGSYS before its exec is ignored.
 * The mask the handler returns to is the thread's mask when it ends: a
 * handler that ran inside it (rt_mask_apply, m_defer_signal) may have
 * changed it, or the G now runs on another kernel thread.
 *
 * Report mode. The site of a call the program's code made is the pc
 * after its syscall instruction. For a call glibc made (stdio's read, a
 * lock's futex) it is the first return address outside the system
 * libraries (glibc, libstdc++, libgcc_s), found by unwinding their
 * frames from the trap's registers with their .eh_frame_hdr/.eh_frame
 * CFI (stack words read with process_vm_readv: a bad frame is an error,
 * not a fault); where that fails the site is the last pc reached. A call
 * whose unwinding reaches libgmp first is libgmp's own (a shim calling
 * glibc): neither listed nor bracketed. Each site is printed once, "libgmp: strict: NAME from
 * SYMBOL+0xOFF (OBJECT)", the symbol from the object file's .symtab,
 * else .dynsym, else the offset in the object alone; after NSITES * 3 / 4
 * sites one line says there are more.
 *
 * Invariants. No thread of the process blocks SIGSYS while it can make
 * a trapped call: the filter is on before the runtime's threads start,
 * and glibc's and the program's masks go through the emulation. The
 * handler makes no call the filter traps (libgmp's raw system calls,
 * and libc functions that make none). The object table and the filter
 * are fixed after strict_init: libraries loaded later are not trapped,
 * though the glibc calls they make are.
 *
 * Fork and exec. A child of fork keeps the filter, the handler and this
 * state (strict_pid follows it). A filter survives exec and cannot be
 * removed, while exec resets the handler: the new program's objects are
 * at other, random addresses, so the filter traps none of its calls
 * unless one lands by chance in the old text ranges, and such a call
 * kills it with SIGSYS. So strict mode refuses to start when
 * randomisation is off (personality ADDR_NO_RANDOMIZE,
 * kernel.randomize_va_space=0), and never traps code at a fixed address
 * (a non-PIE program's text: every non-PIE x86_64 program starts at the
 * same place). The new program's libgmp, if GMP_STRICT is set, loads a
 * filter and handler of its own. NO_NEW_PRIVS stays too: set-user-ID
 * programs and file capabilities give exec'd children no privileges.
 *
 * Lock order: the handler takes what entersyscall/exitsyscall take, as
 * a shim does; sysact_lock (a spinlock on the recorded action) alone.
 *
 * Rejected. SECCOMP_RET_USER_NOTIF and a monitor thread, which needs no
 * signal: the kernel allows one listener on a chain of filters, so a
 * child of fork shares its parent's, and a monitor that dies holding a
 * notification (a child's, at its exec) leaves that call waiting forever
 * (2% of fork+exec+waitpid hung); exec'd children could not have one of
 * their own. Trapping without emulating rt_sigprocmask: glibc's helper
 * threads would kill the process. A filter without the pc test: every
 * system call of libgmp's runtime would trap.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <ucontext.h>
#include "core.h"

int strict_mode;
_Atomic uint64_t strict_traps, strict_sites;
static int strict_pid;		/* the process the handler's state is of */

#define TRAP_DATA 0x676d		/* si_errno of our traps: "gm" */
#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1			/* si_code of a seccomp trap */
#endif

/* ---- what is trapped --------------------------------------------------- */

#define C(n) { SYS_##n, #n }
static const struct call {
	int nr;
	const char *name;
} calls[] = {
	C(read), C(write), C(readv), C(writev), C(pread64), C(pwrite64),
	C(preadv), C(pwritev), C(preadv2), C(pwritev2), C(recvfrom),
	C(sendto), C(recvmsg), C(sendmsg), C(recvmmsg), C(sendmmsg),
	C(accept), C(accept4), C(connect), C(poll), C(ppoll), C(select),
	C(pselect6), C(epoll_wait), C(epoll_pwait), C(epoll_pwait2),
	C(nanosleep), C(clock_nanosleep), C(futex_waitv), C(wait4),
	C(waitid), C(msgrcv), C(msgsnd), C(semop), C(semtimedop), C(flock),
	C(open), C(openat), C(openat2), C(sendfile), C(splice), C(tee),
	C(copy_file_range), C(pause), C(rt_sigsuspend), C(rt_sigtimedwait),
	C(fsync), C(fdatasync), C(sync_file_range), C(mq_timedreceive),
	C(mq_timedsend),
	C(futex), C(fcntl),	/* with the operations below only */
};
#undef C
#define NCOND 2			/* futex and fcntl: the last two */

static const int futex_waits[] = {
	FUTEX_WAIT, FUTEX_WAIT_BITSET, FUTEX_LOCK_PI, FUTEX_WAIT_REQUEUE_PI,
	FUTEX_LOCK_PI2,
};
/* FUTEX_CMD_MASK on the low 32 bits: the op without PRIVATE/REALTIME */
#define FUTEX_OP_MASK ((uint32_t)~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME))
static const int fcntl_waits[] = { F_SETLKW, F_OFD_SETLKW };

static const char *call_name(int nr)
{
	for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
		if (calls[i].nr == nr)
			return calls[i].name;
	return "syscall";
}

/* ---- the objects loaded at start-up ------------------------------------ */

enum { OBJ_PROGRAM, OBJ_SYSTEM, OBJ_GMP };

#define MAXOBJ 64
static struct obj {
	uintptr_t base;		/* dlpi_addr */
	uintptr_t lo, hi;	/* the span of its executable segments */
	const char *name;	/* ld.so's string, or exe_path */
	const uint8_t *eh_hdr;	/* PT_GNU_EH_FRAME, or NULL */
	int kind;
	bool trapped;		/* the filter traps calls made from it */
	bool is_main;
	_Atomic int symstate;	/* symbols: 0 not loaded, 1 loading, 2 */
	const Elf64_Sym *sym;
	size_t nsym, strsz;
	const char *str;
} objs[MAXOBJ];
static int nobj;
static char exe_path[512];

/* glibc's libraries and the C++ runtime: their frames are unwound to
 * find the program's call site */
static bool system_object(const char *name)
{
	static const char *const sys[] = {
		"/libc.so.6", "/ld-linux-x86-64.so.2", "/libpthread.so.0",
		"/libdl.so.2", "/librt.so.1", "/libm.so.6",
		"/libresolv.so.2", "/libnss_", "/libstdc++.so", "/libgcc_s.so",
	};

	for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++)
		if (strstr(name, sys[i]))
			return true;
	return false;
}

static int add_obj(struct dl_phdr_info *info, size_t size, void *self)
{
	const char *name = info->dlpi_name;
	struct obj *o = &objs[nobj];

	(void)size;
	if (nobj == MAXOBJ)
		return 1;
	memset(o, 0, sizeof *o);
	o->lo = UINTPTR_MAX;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_GNU_EH_FRAME)
			o->eh_hdr = (const uint8_t *)a;
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		if (a < o->lo)
			o->lo = a;
		if (a + ph->p_memsz > o->hi)
			o->hi = a + ph->p_memsz;
	}
	if (!o->hi || (name && strstr(name, "linux-vdso")))
		return 0;	/* no code, or the vDSO: no blocking calls */
	o->base = info->dlpi_addr;
	o->is_main = !name || !name[0];
	o->name = o->is_main ? exe_path : name;
	if (o->base == (uintptr_t)self)
		o->kind = OBJ_GMP;
	else if (!o->is_main && system_object(name))
		o->kind = OBJ_SYSTEM;
	/* not libgmp, and loaded at a random address (a non-PIE program's
	 * text is at the same place in every program it could exec) */
	o->trapped = o->kind != OBJ_GMP && o->base != 0;
	nobj++;
	return 0;
}

static const struct obj *obj_at(uintptr_t pc)
{
	for (int i = 0; i < nobj; i++)
		if (pc >= objs[i].lo && pc < objs[i].hi)
			return &objs[i];
	return NULL;
}

static void objs_init(void)
{
	Dl_info self;

	long n = arch_syscall(SYS_readlink, "/proc/self/exe", exe_path,
			      sizeof exe_path - 1, 0);
	if (n <= 0)
		memcpy(exe_path, "(program)", sizeof "(program)");
	else
		exe_path[n] = 0;
	if (!dladdr((void *)strict_init, &self))
		self.dli_fbase = NULL;
	nobj = 0;
	dl_iterate_phdr(add_obj, self.dli_fbase);
}

/* ---- the filter -------------------------------------------------------- */

static struct sock_filter prog[BPF_MAXINSNS];
static unsigned proglen;

/* libseccomp, dlopened while the rules are built */
static struct {
	scmp_filter_ctx (*init)(uint32_t);
	int (*attr_set)(scmp_filter_ctx, enum scmp_filter_attr, uint32_t);
	int (*rule_add)(scmp_filter_ctx, uint32_t, int, unsigned, ...);
	int (*export_bpf)(const scmp_filter_ctx, int);
	int (*export_bpf_mem)(const scmp_filter_ctx, void *, size_t *);
	void (*release)(scmp_filter_ctx);
} ls;

static int add_rules(scmp_filter_ctx ctx)
{
	int r;

	for (size_t i = 0; i < sizeof calls / sizeof calls[0] - NCOND; i++)
		if ((r = ls.rule_add(ctx, SCMP_ACT_TRAP, calls[i].nr, 0)) < 0)
			return r;
	/* glibc's changes of signal masks and actions: SIGSYS must never be
	 * blocked where a call can be trapped (on_sigsys) */
	if ((r = ls.rule_add(ctx, SCMP_ACT_TRAP, SYS_rt_sigprocmask, 0)) < 0 ||
	    (r = ls.rule_add(ctx, SCMP_ACT_TRAP, SYS_rt_sigaction, 0)) < 0)
		return r;
	for (size_t i = 0; i < sizeof futex_waits / sizeof futex_waits[0];
	     i++) {
		r = ls.rule_add(ctx, SCMP_ACT_TRAP, SYS_futex, 1,
				SCMP_A1(SCMP_CMP_MASKED_EQ, FUTEX_OP_MASK,
					futex_waits[i]));
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < sizeof fcntl_waits / sizeof fcntl_waits[0];
	     i++) {
		r = ls.rule_add(ctx, SCMP_ACT_TRAP, SYS_fcntl, 1,
				SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu,
					fcntl_waits[i]));
		if (r < 0)
			return r;
	}
	return 0;
}

/* libseccomp's program for ctx into prog: with seccomp_export_bpf_mem
 * (libseccomp 2.6), else through a memfd. */
static int export_rules(scmp_filter_ctx ctx)
{
	size_t len = sizeof prog;

	if (ls.export_bpf_mem) {
		int r = ls.export_bpf_mem(ctx, prog, &len);
		if (r < 0)
			return r;
	} else {
		long fd = arch_syscall(SYS_memfd_create, "gmp-strict",
				       MFD_CLOEXEC, 0, 0);
		if (fd < 0)
			return (int)fd;
		int r = ls.export_bpf(ctx, (int)fd);
		long n = arch_syscall(SYS_pread64, fd, prog, sizeof prog, 0);
		arch_syscall(SYS_close, fd, 0, 0, 0);
		if (r < 0)
			return r;
		if (n < 0)
			return (int)n;
		len = (size_t)n;
	}
	if (!len || len % sizeof prog[0] || len >= sizeof prog)
		return -E2BIG;
	proglen = (unsigned)(len / sizeof prog[0]);
	return 0;
}

static const char *build_rules(void)
{
	static const char *const libs[] = { "libseccomp.so.2",
					    "libseccomp.so" };
	void *(*real_dlopen)(const char *, int) = dlsym(RTLD_NEXT, "dlopen");
	void *h = NULL;

	for (size_t i = 0; real_dlopen && !h && i < 2; i++)
		h = real_dlopen(libs[i], RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return "cannot load libseccomp.so.2 (apt-get install "
		       "libseccomp2)";
	ls.init = dlsym(h, "seccomp_init");
	ls.attr_set = dlsym(h, "seccomp_attr_set");
	ls.rule_add = dlsym(h, "seccomp_rule_add");
	ls.export_bpf = dlsym(h, "seccomp_export_bpf");
	ls.export_bpf_mem = dlsym(h, "seccomp_export_bpf_mem");
	ls.release = dlsym(h, "seccomp_release");
	const char *err = NULL;
	scmp_filter_ctx ctx = NULL;
	if (!ls.init || !ls.attr_set || !ls.rule_add || !ls.export_bpf ||
	    !ls.release)
		err = "libseccomp lacks the functions of version 2.5";
	else if (!(ctx = ls.init(SCMP_ACT_ALLOW)))
		err = "seccomp_init failed";
	else if (ls.attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ALLOW) < 0)
		err = "seccomp_attr_set(ACT_BADARCH) failed";
	if (!err) {
		/* a binary search on the number where libseccomp can (2.5) */
		ls.attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
		if (add_rules(ctx) < 0)
			err = "libseccomp cannot make the rules";
		else if (export_rules(ctx) < 0)
			err = "cannot export libseccomp's filter";
	}
	if (ctx)
		ls.release(ctx);
	dlclose(h);
	return err;
}

/* Emit the pc test for one range [lo, hi) within a 4 GiB window: A gets
 * the pc's high word, then its low word (seccomp_data is little-endian). */
static void emit_range(uintptr_t lo, uintptr_t hi)
{
	const unsigned ip = offsetof(struct seccomp_data, instruction_pointer);
	uint32_t h = (uint32_t)(lo >> 32), l = (uint32_t)lo;
	uint32_t e = (uint32_t)hi;	/* 0: the window's end */

	prog[proglen++] = (struct sock_filter)
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ip + 4);
	prog[proglen++] = (struct sock_filter)
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, h, 0, e ? 4 : 3);
	prog[proglen++] = (struct sock_filter)
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ip);
	prog[proglen++] = (struct sock_filter)
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, l, 0, e ? 2 : 1);
	if (e)
		prog[proglen++] = (struct sock_filter)
			BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, e, 1, 0);
	prog[proglen++] = (struct sock_filter)
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP | TRAP_DATA);
}

/* Turn each "return TRAP" of libseccomp's program into a jump to the pc
 * test, appended: trap (with TRAP_DATA) if the pc is in a trapped
 * object, else allow.
 * Every jump goes forward, as BPF requires; the program keeps its length,
 * so libseccomp's own jumps (its architecture check first) are intact. */
static const char *add_pc_test(void)
{
	unsigned start = proglen, n = 0;

	for (unsigned i = 0; i < start; i++) {
		if (prog[i].code != (BPF_RET | BPF_K) ||
		    prog[i].k != SCMP_ACT_TRAP)
			continue;
		prog[i] = (struct sock_filter)
			BPF_JUMP(BPF_JMP | BPF_JA, start - i - 1, 0, 0);
		n++;
	}
	if (!n)
		return "libseccomp's filter has no trapping rule";
	for (int i = 0; i < nobj; i++) {
		if (!objs[i].trapped)
			continue;
		uintptr_t lo = objs[i].lo, hi = objs[i].hi;
		while (lo < hi) {	/* split at 4 GiB boundaries */
			uintptr_t wend = (lo | 0xffffffffu) + 1;
			uintptr_t end = hi < wend ? hi : wend;
			if (proglen + 7 >= BPF_MAXINSNS)
				return "too many objects for one filter";
			emit_range(lo, end);
			lo = end;
		}
	}
	prog[proglen++] = (struct sock_filter)
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	return NULL;
}

/* ---- the report -------------------------------------------------------- */

/* DWARF register numbers of x86_64 */
enum { DW_RBP = 6, DW_RSP = 7, DW_RA = 16, NREGS = 17 };

struct rd {
	const uint8_t *p, *end;
	bool bad;
};

static uint64_t rd_u(struct rd *r, int n)
{
	uint64_t v = 0;

	if (r->end - r->p < n) {
		r->bad = true;
		return 0;
	}
	memcpy(&v, r->p, n);
	r->p += n;
	return v;
}

static uint64_t rd_uleb(struct rd *r)
{
	uint64_t v = 0;
	int shift = 0;

	for (;;) {
		if (r->p >= r->end || shift > 63) {
			r->bad = true;
			return 0;
		}
		uint8_t b = *r->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			return v;
	}
}

static int64_t rd_sleb(struct rd *r)
{
	const uint8_t *start = r->p;
	uint64_t v = rd_uleb(r);
	int bits = (int)(r->p - start) * 7;

	if (!r->bad && bits < 64 && (start[r->p - start - 1] & 0x40))
		v |= ~0ull << bits;
	return (int64_t)v;
}

/* A DW_EH_PE-encoded pointer; base is for datarel. */
static uintptr_t rd_enc(struct rd *r, uint8_t enc, uintptr_t base)
{
	const uint8_t *at = r->p;
	uint64_t v;

	if (enc == 0xff)	/* DW_EH_PE_omit */
		return 0;
	switch (enc & 0x0f) {
	case 0x00: case 0x04: case 0x0c: v = rd_u(r, 8); break;
	case 0x01: v = rd_uleb(r); break;
	case 0x09: v = (uint64_t)rd_sleb(r); break;
	case 0x02: v = rd_u(r, 2); break;
	case 0x0a: v = (uint64_t)(int64_t)(int16_t)rd_u(r, 2); break;
	case 0x03: v = rd_u(r, 4); break;
	case 0x0b: v = (uint64_t)(int64_t)(int32_t)rd_u(r, 4); break;
	default: r->bad = true; return 0;
	}
	switch (enc & 0x70) {
	case 0x00: break;
	case 0x10: v += (uintptr_t)at; break;	/* pcrel */
	case 0x30: v += base; break;		/* datarel */
	default: r->bad = true;
	}
	return (uintptr_t)v;
}

struct cie {
	uint64_t code_align;
	int64_t data_align;
	uint64_t ra;
	uint8_t fde_enc;
	bool z;
	const uint8_t *init, *init_end;
};

/* One length-prefixed .eh_frame record: its contents and end. */
static bool record(const uint8_t *at, struct rd *r)
{
	r->p = at;
	r->end = at + 12;
	r->bad = false;
	uint64_t len = rd_u(r, 4);
	if (len == 0xffffffff)
		len = rd_u(r, 8);
	if (r->bad || !len)
		return false;
	r->end = r->p + len;
	return true;
}

static bool parse_cie(const uint8_t *at, struct cie *c)
{
	struct rd r;

	if (!record(at, &r) || rd_u(&r, 4) != 0)
		return false;
	uint8_t version = (uint8_t)rd_u(&r, 1);
	const char *aug = (const char *)r.p;
	size_t alen = strnlen(aug, (size_t)(r.end - r.p));
	r.p += alen + 1;
	if (aug[0] && aug[0] != 'z')
		return false;	/* "eh" and other old forms */
	c->code_align = rd_uleb(&r);
	c->data_align = rd_sleb(&r);
	c->ra = version == 1 ? rd_u(&r, 1) : rd_uleb(&r);
	c->fde_enc = 0;
	c->z = aug[0] == 'z';
	if (c->z) {
		uint64_t n = rd_uleb(&r);
		const uint8_t *end = r.p + n;
		for (size_t i = 1; i < alen && !r.bad; i++) {
			if (aug[i] == 'R')
				c->fde_enc = (uint8_t)rd_u(&r, 1);
			else if (aug[i] == 'P')
				rd_enc(&r, (uint8_t)rd_u(&r, 1) & 0x7f, 0);
			else if (aug[i] == 'L')
				rd_u(&r, 1);
			else if (aug[i] != 'S')
				break;
		}
		r.p = end;
	}
	c->init = r.p;
	c->init_end = r.end;
	return !r.bad && r.p <= r.end;
}

/* The state of a frame's registers at a pc: the CFA as reg + off, and for
 * rbp and the return address where they were saved. */
enum { R_SAME, R_AT, R_LOST };
struct cfi {
	int cfa_reg;		/* -1: an expression */
	int64_t cfa_off;
	uint8_t how[NREGS];
	int64_t off[NREGS];
};

static void rule(struct cfi *s, uint64_t reg, int how, int64_t off)
{
	if (reg < NREGS) {
		s->how[reg] = (uint8_t)how;
		s->off[reg] = off;
	}
}

/* Run CFA instructions until the row that covers pc. */
static bool run_cfi(struct rd *r, const struct cie *c, uintptr_t loc,
		    uintptr_t pc, struct cfi *s, const struct cfi *init)
{
	struct cfi saved[4];
	int depth = 0;

	while (r->p < r->end && !r->bad) {
		uint8_t op = *r->p++;
		uint64_t reg, d = 0;
		switch (op >> 6) {
		case 1:
			d = op & 0x3f;
			goto advance;
		case 2:
			rule(s, op & 0x3f, R_AT,
			     (int64_t)rd_uleb(r) * c->data_align);
			continue;
		case 3:
			reg = op & 0x3f;
			if (reg < NREGS)
				rule(s, reg, init->how[reg], init->off[reg]);
			continue;
		}
		switch (op) {
		case 0x00: break;				/* nop */
		case 0x01:					/* set_loc */
			loc = rd_enc(r, c->fde_enc, 0);
			if (loc > pc)
				return true;
			break;
		case 0x02: d = rd_u(r, 1); goto advance;
		case 0x03: d = rd_u(r, 2); goto advance;
		case 0x04: d = rd_u(r, 4); goto advance;
		case 0x05:					/* offset_ext */
			reg = rd_uleb(r);
			rule(s, reg, R_AT, (int64_t)rd_uleb(r) * c->data_align);
			break;
		case 0x06:					/* restore_ext */
			reg = rd_uleb(r);
			if (reg < NREGS)
				rule(s, reg, init->how[reg], init->off[reg]);
			break;
		case 0x07: rule(s, rd_uleb(r), R_LOST, 0); break; /* undefined */
		case 0x08: rule(s, rd_uleb(r), R_SAME, 0); break; /* same */
		case 0x09:					/* register */
			reg = rd_uleb(r);
			rd_uleb(r);
			rule(s, reg, R_LOST, 0);
			break;
		case 0x0a:					/* remember */
			if (depth == 4)
				return false;
			saved[depth++] = *s;
			break;
		case 0x0b:					/* restore */
			if (!depth)
				return false;
			*s = saved[--depth];
			break;
		case 0x0c:					/* def_cfa */
			s->cfa_reg = (int)rd_uleb(r);
			s->cfa_off = (int64_t)rd_uleb(r);
			break;
		case 0x0d: s->cfa_reg = (int)rd_uleb(r); break;
		case 0x0e: s->cfa_off = (int64_t)rd_uleb(r); break;
		case 0x0f:					/* def_cfa_expr */
			d = rd_uleb(r);
			r->p += d;
			s->cfa_reg = -1;
			break;
		case 0x10: case 0x16:			/* (val_)expression */
			reg = rd_uleb(r);
			d = rd_uleb(r);
			r->p += d;
			rule(s, reg, R_LOST, 0);
			break;
		case 0x11:					/* offset_ext_sf */
			reg = rd_uleb(r);
			rule(s, reg, R_AT, rd_sleb(r) * c->data_align);
			break;
		case 0x12:					/* def_cfa_sf */
			s->cfa_reg = (int)rd_uleb(r);
			s->cfa_off = rd_sleb(r) * c->data_align;
			break;
		case 0x13: s->cfa_off = rd_sleb(r) * c->data_align; break;
		case 0x14: case 0x15:			/* val_offset */
			reg = rd_uleb(r);
			rd_uleb(r);
			rule(s, reg, R_LOST, 0);
			break;
		case 0x2e: rd_uleb(r); break;			/* args_size */
		case 0x2f:					/* neg_offset */
			reg = rd_uleb(r);
			rule(s, reg, R_AT, -(int64_t)rd_uleb(r) * c->data_align);
			break;
		default:
			return false;
		}
		continue;
advance:
		loc += d * c->code_align;
		if (loc > pc)
			return true;
	}
	return !r->bad;
}

/* The FDE of o that covers pc, through the binary search table of
 * .eh_frame_hdr (datarel sdata4 entries, as every linker writes). */
static const uint8_t *find_fde(const struct obj *o, uintptr_t pc)
{
	const uint8_t *h = o->eh_hdr;

	if (!h || h[0] != 1 || h[3] != 0x3b)
		return NULL;
	struct rd r = { h + 4, h + 4 + 16, false };
	rd_enc(&r, h[1], (uintptr_t)h);
	uint64_t n = rd_enc(&r, h[2], (uintptr_t)h);
	const int32_t *t = (const int32_t *)r.p;
	if (r.bad || !n || pc < (uintptr_t)h + t[0])
		return NULL;
	uint64_t lo = 0, hi = n;
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		if ((uintptr_t)h + t[2 * mid] <= pc)
			lo = mid;
		else
			hi = mid;
	}
	return h + t[2 * lo + 1];
}

/* One word of the interrupted thread's stack, read with process_vm_readv
 * so that a bad frame gives an error, not a fault in the handler. */
static bool stk_load(uintptr_t a, uintptr_t *v)
{
	struct iovec local = { v, 8 }, remote = { (void *)a, 8 };

	return arch_syscall6(SYS_process_vm_readv, strict_pid, (long)&local,
			     1, (long)&remote, 1, 0) == 8;
}

struct frame {
	uintptr_t pc, sp, rbp;
	bool rbp_ok;
};

/* From frame f in object o to its caller. */
static bool unwind(const struct obj *o, struct frame *f)
{
	uintptr_t pc = f->pc - 1;	/* in the call (or the syscall) */
	const uint8_t *fde = find_fde(o, pc);
	struct rd r;
	struct cie c;

	if (!fde || !record(fde, &r))
		return false;
	const uint8_t *idp = r.p;
	uint32_t id = (uint32_t)rd_u(&r, 4);
	if (!id || !parse_cie(idp - id, &c))
		return false;
	uintptr_t begin = rd_enc(&r, c.fde_enc, 0);
	uintptr_t range = rd_enc(&r, c.fde_enc & 0x0f, 0);
	if (r.bad || pc < begin || pc - begin >= range)
		return false;
	if (c.z)
		r.p += rd_uleb(&r);
	struct cfi init = { .cfa_reg = DW_RSP }, s;
	struct rd ri = { c.init, c.init_end, false };
	if (!run_cfi(&ri, &c, begin, 0, &init, &init))
		return false;
	s = init;
	if (!run_cfi(&r, &c, begin, pc, &s, &init) || c.ra >= NREGS)
		return false;
	uintptr_t cfa;
	if (s.cfa_reg == DW_RSP)
		cfa = f->sp;
	else if (s.cfa_reg == DW_RBP && f->rbp_ok)
		cfa = f->rbp;
	else
		return false;
	cfa += (uintptr_t)s.cfa_off;
	uintptr_t ra;
	if (s.how[c.ra] != R_AT ||
	    !stk_load(cfa + (uintptr_t)s.off[c.ra], &ra))
		return false;
	if (s.how[DW_RBP] == R_AT)
		f->rbp_ok = stk_load(cfa + (uintptr_t)s.off[DW_RBP], &f->rbp);
	else if (s.how[DW_RBP] == R_LOST)
		f->rbp_ok = false;
	f->sp = cfa;
	f->pc = ra;
	return ra != 0;
}

/* The site a report names for a call trapped in frame f: its pc, unless
 * a system library made the call, then the first return address outside
 * them, found by unwinding. *ours: libgmp made it (through glibc). */
static uintptr_t find_site(struct frame f, bool *ours)
{
	const struct obj *o = obj_at(f.pc);

	*ours = false;
	if (!o || o->kind != OBJ_SYSTEM)
		return f.pc;
	for (int depth = 0; depth < 64; depth++) {
		uintptr_t last = f.pc;
		if (!unwind(o, &f))
			return last;
		o = obj_at(f.pc);
		if (!o || o->kind == OBJ_PROGRAM)
			return f.pc;	/* no object: loaded since start-up */
		if (o->kind == OBJ_GMP) {
			*ours = true;
			return f.pc;
		}
	}
	return f.pc;
}

/* Map o's file and find its symbol table (.symtab, else .dynsym). */
static void load_symbols(struct obj *o)
{
	struct stat st;

	long fd = arch_syscall(SYS_open, o->is_main ? "/proc/self/exe" :
				o->name, O_RDONLY | O_CLOEXEC, 0, 0);
	if (fd < 0)
		return;
	long a = -1;
	if (arch_syscall(SYS_fstat, fd, &st, 0, 0) == 0 &&
	    st.st_size >= (off_t)sizeof(Elf64_Ehdr))
		a = arch_syscall6(SYS_mmap, 0, st.st_size, PROT_READ,
				  MAP_PRIVATE, fd, 0);
	arch_syscall(SYS_close, fd, 0, 0, 0);
	if (a < 0 && a > -4096)
		return;
	const uint8_t *img = (const uint8_t *)a;
	size_t size = (size_t)st.st_size;
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)img;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff > size ||
	    eh->e_shnum > (size - eh->e_shoff) / sizeof(Elf64_Shdr))
		goto unmap;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(img + eh->e_shoff);
	const Elf64_Shdr *s = NULL;
	for (int want = SHT_SYMTAB; !s && want; want = want == SHT_SYMTAB ?
						  SHT_DYNSYM : 0)
		for (unsigned i = 0; i < eh->e_shnum && !s; i++)
			if (sh[i].sh_type == (unsigned)want)
				s = &sh[i];
	if (!s || s->sh_link >= eh->e_shnum ||
	    s->sh_entsize != sizeof(Elf64_Sym))
		goto unmap;
	const Elf64_Shdr *t = &sh[s->sh_link];
	if (s->sh_offset > size || s->sh_size > size - s->sh_offset ||
	    t->sh_offset > size || t->sh_size > size - t->sh_offset)
		goto unmap;
	o->sym = (const Elf64_Sym *)(img + s->sh_offset);
	o->nsym = s->sh_size / sizeof(Elf64_Sym);
	o->str = (const char *)(img + t->sh_offset);
	o->strsz = t->sh_size;
	return;
unmap:
	arch_syscall(SYS_munmap, a, st.st_size, 0, 0);
}

/* The function of o around a, and a's offset in it. */
static const char *symbol(struct obj *o, uintptr_t a, uintptr_t *off)
{
	const Elf64_Sym *best = NULL;
	uintptr_t rel = a - o->base;

	int st = 0;

	/* the first report in o loads them; another waits for it */
	if (atomic_compare_exchange_strong(&o->symstate, &st, 1)) {
		load_symbols(o);
		atomic_store(&o->symstate, 2);
	}
	while (atomic_load(&o->symstate) != 2)
		arch_pause();
	for (size_t i = 0; i < o->nsym; i++) {
		const Elf64_Sym *s = &o->sym[i];
		int type = ELF64_ST_TYPE(s->st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) ||
		    s->st_shndx == SHN_UNDEF || s->st_value > rel ||
		    s->st_name >= o->strsz)
			continue;
		if (rel - s->st_value < s->st_size) {
			best = s;
			break;
		}
		/* an assembly function without a size: the nearest below */
		if (!s->st_size && (!best || s->st_value > best->st_value))
			best = s;
	}
	if (!best)
		return NULL;
	*off = rel - best->st_value;
	return o->str + best->st_name;
}

/* Sites seen, for the count and the report: an open-addressing set filled
 * with CAS by the handlers of every thread. */
#define NSITES 256
static _Atomic uintptr_t sites[NSITES];
static _Atomic bool sites_full;

/* 1: site is new, 0: seen, -1: the table is full */
static int site_add(uintptr_t site)
{
	unsigned h = (unsigned)((site * 0x9e3779b97f4a7c15ull) >> 56);

	for (unsigned i = 0; i < NSITES; i++, h = (h + 1) % NSITES) {
		uintptr_t cur = atomic_load(&sites[h]);
		if (cur == site)
			return 0;
		if (cur)
			continue;
		if (atomic_load(&strict_sites) >= NSITES * 3 / 4)
			return -1;
		if (atomic_compare_exchange_strong(&sites[h], &cur, site)) {
			atomic_fetch_add(&strict_sites, 1);
			return 1;
		}
		if (cur == site)
			return 0;
	}
	return -1;
}

static void say(const char *line, int n)
{
	if (n > 0)
		arch_syscall(SYS_write, 2, line, n, 0);
}

static void report(long nr, uintptr_t site)
{
	const struct obj *co = obj_at(site);
	struct obj *o = co ? &objs[co - objs] : NULL;
	const char *name = call_name((int)nr), *fn = NULL;
	uintptr_t off = 0;
	char line[512];
	int n;

	if (o)
		fn = symbol(o, site, &off);
	if (fn)
		n = snprintf(line, sizeof line,
			     "libgmp: strict: %s from %.200s+0x%lx (%.250s)\n",
			     name, fn, (unsigned long)off, o->name);
	else if (o)
		n = snprintf(line, sizeof line,
			     "libgmp: strict: %s from 0x%lx (%.250s)\n", name,
			     (unsigned long)(site - o->base), o->name);
	else
		n = snprintf(line, sizeof line,
			     "libgmp: strict: %s from 0x%lx (?)\n", name,
			     (unsigned long)site);
	say(line, n < (int)sizeof line ? n : (int)sizeof line - 1);
}

/* A stray call at frame f: count its site, and list it once in report
 * mode. False if libgmp made it (through glibc): not the program's. */
static bool note(long nr, struct frame f)
{
	uintptr_t site = f.pc;
	bool ours = false;

	if (strict_mode == STRICT_REPORT)
		site = find_site(f, &ours);
	if (ours)
		return false;
	int fresh = site_add(site);
	if (strict_mode != STRICT_REPORT)
		return true;
	bool no = false;
	if (fresh > 0) {
		report(nr, site);
	} else if (fresh < 0 && atomic_compare_exchange_strong(&sites_full,
							       &no, true)) {
		static const char more[] =
			"libgmp: strict: more call sites, not listed\n";
		say(more, sizeof more - 1);
	}
	return true;
}

/* ---- the handler ------------------------------------------------------- */

#define SIGSYS_BIT (1ull << (SIGSYS - 1))
#define NEVER ((1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1)))

/* The program's action for SIGSYS, as the kernel's struct: the kernel
 * keeps libgmp's handler. sysact_lock: a spinlock, taken with signals
 * blocked. */
struct ksigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};
static struct ksigaction sysact;
static atomic_flag sysact_lock = ATOMIC_FLAG_INIT;

/* The calling thread's kernel state: a G's M, or none (a thread that
 * runs no G, a vfork or posix_spawn child on its parent's TCB). */
static m *own_m(void)
{
	g *gp = getg();

	if (!gp || !gp->m)
		return NULL;
	return gp->m->tid == (int)arch_syscall(SYS_gettid, 0, 0, 0, 0) ?
		       gp->m : NULL;
}

/* rt_sigprocmask as the kernel does it, on *cur (the mask the handler
 * returns to), SIGSYS never blocked. */
static long emu_sigprocmask(uint64_t *cur, const long *a)
{
	uint64_t set;

	if (a[3] != 8)
		return -EINVAL;
	if (a[1]) {
		memcpy(&set, (void *)a[1], 8);
		set &= ~(NEVER | SIGSYS_BIT);
		if (a[0] != SIG_BLOCK && a[0] != SIG_UNBLOCK &&
		    a[0] != SIG_SETMASK)
			return -EINVAL;
	}
	if (a[2])
		memcpy((void *)a[2], cur, 8);
	if (!a[1])
		return 0;
	if (a[0] == SIG_BLOCK)
		*cur |= set;
	else if (a[0] == SIG_UNBLOCK)
		*cur &= ~set;
	else
		*cur = set;
	return 0;
}

/* rt_sigaction: SIGSYS stays libgmp's (the program's action is recorded
 * and used for SIGSYS that are not ours); no handler blocks SIGSYS. In
 * a vfork or posix_spawn child, which shares our memory and resets every
 * handler before its exec, SIGSYS is left alone. */
static long emu_sigaction(const long *a)
{
	struct ksigaction k;

	if (a[0] != SIGSYS) {
		if (!a[1])
			return arch_syscall(SYS_rt_sigaction, a[0], 0, a[2], a[3]);
		memcpy(&k, (void *)a[1], sizeof k);
		k.mask &= ~SIGSYS_BIT;
		return arch_syscall(SYS_rt_sigaction, a[0], &k, a[2], a[3]);
	}
	if (a[3] != 8)
		return -EINVAL;
	if (arch_syscall(SYS_getpid, 0, 0, 0, 0) != strict_pid) {
		if (a[2])
			memset((void *)a[2], 0, sizeof k);
		return 0;
	}
	while (atomic_flag_test_and_set(&sysact_lock))
		arch_pause();
	k = sysact;
	if (a[1])
		memcpy(&sysact, (void *)a[1], sizeof sysact);
	atomic_flag_clear(&sysact_lock);
	if (a[2])
		memcpy((void *)a[2], &k, sizeof k);
	return 0;
}

/* A SIGSYS that is not our filter's (kill, another filter's trap): the
 * program's action. */
static void forward(int sig, siginfo_t *si, void *uc)
{
	while (atomic_flag_test_and_set(&sysact_lock))
		arch_pause();
	struct ksigaction k = sysact;
	atomic_flag_clear(&sysact_lock);

	if (k.handler == SIG_IGN)
		return;
	if (k.handler != SIG_DFL) {
		if (k.flags & SA_SIGINFO)
			((void (*)(int, siginfo_t *, void *))k.handler)(sig, si,
									uc);
		else
			((void (*)(int))k.handler)(sig);
		return;
	}
	/* the default: end the process as SIGSYS does (core) */
	struct ksigaction dfl = { SIG_DFL, 0, NULL, 0 };
	arch_syscall(SYS_rt_sigaction, SIGSYS, &dfl, 0, 8);
	arch_syscall(SYS_rt_tgsigqueueinfo, arch_syscall(SYS_getpid, 0, 0, 0, 0),
		     arch_syscall(SYS_gettid, 0, 0, 0, 0), SIGSYS, si);
}

/* The calls that wait with a signal mask of their own: the same mask
 * without SIGSYS, in *copy. Returns the argument to pass. */
static long unblock_sigsys(long nr, const long *a, uint64_t *copy,
			   long *ss)
{
	int at = nr == SYS_rt_sigsuspend ? 0 : nr == SYS_ppoll ? 3 :
		 nr == SYS_epoll_pwait || nr == SYS_epoll_pwait2 ? 4 :
		 nr == SYS_pselect6 ? 5 : -1;

	if (at < 0 || !a[at])
		return -1;
	if (nr == SYS_pselect6) {	/* { const sigset_t *ss; size_t len } */
		memcpy(ss, (void *)a[5], 2 * sizeof(long));
		if (!ss[0] || ss[1] != 8)
			return -1;
		memcpy(copy, (void *)ss[0], 8);
		*copy &= ~SIGSYS_BIT;
		ss[0] = (long)copy;
		return 5;
	}
	memcpy(copy, (void *)a[at], 8);
	*copy &= ~SIGSYS_BIT;
	return at;
}

/* A blocking call the program (or glibc for it) made: bracketed as a
 * system call when a G in user code made it on its own stack, so its P
 * goes to another M if it lasts; made as it is otherwise. */
static long stray(long nr, long *a, const ucontext_t *uc)
{
	const greg_t *r = uc->uc_mcontext.gregs;
	uint64_t copy;
	long ss[2];
	long at = unblock_sigsys(nr, a, &copy, ss);

	if (at >= 0)
		a[at] = nr == SYS_pselect6 ? (long)ss : (long)&copy;
	m *mp = own_m();
	g *gp = mp ? mp->curg : NULL;
	uintptr_t sp = (uintptr_t)r[REG_RSP];
	if (!gp || gp != getg() || gp->rt > 0 || gp->in_handler ||
	    atomic_load_explicit(&gp->status, memory_order_relaxed) !=
		    G_RUNNING ||
	    (gp->stack_lo && (sp <= (uintptr_t)gp->stack_lo ||
			      sp > (uintptr_t)gp->stack_hi)))
		return arch_syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	struct frame f = { (uintptr_t)r[REG_RIP], sp, (uintptr_t)r[REG_RBP],
			   true };
	if (!note(nr, f))	/* libgmp's own call, through glibc */
		return arch_syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	atomic_fetch_add_explicit(&strict_traps, 1, memory_order_relaxed);
	bool in = entersyscall();
	long ret = arch_syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	if (in)
		exitsyscall();
	return ret;
}

/* SIGSYS, SA_NODEFER: a trapped call made inside another handler that
 * interrupted this one is handled too, and the thread's mask while the
 * call waits is the one it had. The call did not run: make it, and put
 * its result where the system call would have (the registers are
 * x86_64's: arguments in rdi rsi rdx r10 r8 r9, the result in rax). */
static void on_sigsys(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	greg_t *r = uc->uc_mcontext.gregs;
	int e = errno;

	if (si->si_code != SYS_SECCOMP || si->si_errno != TRAP_DATA) {
		forward(sig, si, ucv);
		errno = e;
		return;
	}
	long nr = si->si_syscall, ret;
	long a[6] = { r[REG_RDI], r[REG_RSI], r[REG_RDX], r[REG_R10],
		      r[REG_R8], r[REG_R9] };
	if (nr == SYS_rt_sigaction)
		ret = emu_sigaction(a);
	else if (nr != SYS_rt_sigprocmask)
		ret = stray(nr, a, uc);
	/* The mask to return to is the thread's mask now, not the one the
	 * trap saved: a handler that ran inside this one (rt_mask_apply,
	 * m_defer_signal) may have changed it, or the G moved to another
	 * kernel thread, whose mask is the G's. */
	uint64_t cur;
	arch_syscall(SYS_rt_sigprocmask, SIG_BLOCK, 0, &cur, 8);
	cur &= ~SIGSYS_BIT;
	if (nr == SYS_rt_sigprocmask)
		ret = emu_sigprocmask(&cur, a);
	memcpy(&uc->uc_sigmask, &cur, 8);
	r[REG_RAX] = ret;
	errno = e;
}

/* Is address space randomisation on? */
static bool aslr_on(void)
{
	char buf[8];

	if (arch_syscall(SYS_personality, 0xffffffff, 0, 0, 0) &
	    ADDR_NO_RANDOMIZE)
		return false;
	long fd = arch_syscall(SYS_open, "/proc/sys/kernel/randomize_va_space",
			       O_RDONLY | O_CLOEXEC, 0, 0);
	if (fd < 0)
		return true;
	long n = arch_syscall(SYS_read, fd, buf, sizeof buf, 0);
	arch_syscall(SYS_close, fd, 0, 0, 0);
	return n <= 0 || buf[0] != '0';
}

static void strict_afterfork(void)
{
	strict_pid = (int)arch_syscall(SYS_getpid, 0, 0, 0, 0);
}

/* NO_NEW_PRIVS, the handler, then the filter on every thread (TSYNC). */
static const char *load(void)
{
	struct sock_fprog fp = { (unsigned short)proglen, prog };
	uint64_t bit = SIGSYS_BIT;

	if (arch_syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0) < 0)
		return "prctl(PR_SET_NO_NEW_PRIVS) failed";
	if (arch_syscall(SYS_rt_sigaction, SIGSYS, 0, &sysact, 8) < 0 ||
	    arch_sigaction(SIGSYS, on_sigsys, SA_SIGINFO | SA_NODEFER) < 0)
		return "cannot install a SIGSYS handler";
	/* the main thread may have started with SIGSYS blocked (inherited
	 * across exec): the emulation of rt_sigprocmask would unblock it */
	arch_syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &bit, 0, 8);
	long r = arch_syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			      SECCOMP_FILTER_FLAG_TSYNC |
				      SECCOMP_FILTER_FLAG_SPEC_ALLOW,
			      &fp, 0);
	if (r == -EINVAL)	/* SPEC_ALLOW: Linux 4.17 */
		r = arch_syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				 SECCOMP_FILTER_FLAG_TSYNC, &fp, 0);
	if (r == 0)
		return NULL;
	struct ksigaction k = sysact;
	arch_syscall(SYS_rt_sigaction, SIGSYS, &k, 0, 8);
	return r > 0 ? "a thread cannot take the seccomp filter"
		     : "the kernel refuses the seccomp filter";
}

void strict_init(void)
{
	const char *err = NULL;

	if (!strict_mode)
		return;
	strict_pid = (int)arch_syscall(SYS_getpid, 0, 0, 0, 0);
	if (!aslr_on())
		err = "address space randomisation is off, and the filter "
		      "would stop the calls of programs this one execs";
	else
		err = build_rules();
	if (!err) {
		objs_init();
		err = add_pc_test();
	}
	if (!err)
		err = load();
	if (err) {
		warnf("GMP_STRICT: %s; strict mode off", err);
		strict_mode = STRICT_OFF;
		return;
	}
	pthread_atfork(NULL, NULL, strict_afterfork);
	debugf("strict mode: %u BPF instructions, %d objects", proglen, nobj);
}
