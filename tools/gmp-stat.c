/*
 * gmp-stat: show the counters and threads of a running process that has
 * libgmp preloaded, read from the segment libgmp keeps for it
 * (core/statshm.c; the layout is include/gmpstat.h).
 *
 *	gmp-stat [--json] PID
 *	gmp-stat -w [-n SECS] [--json] PID
 *
 * Finding the segment. libgmp keeps a memfd named "gmp-stat" open in the
 * process; its /proc/PID/fd/N link reads "/memfd:gmp-stat (deleted)".
 * gmp-stat lists /proc/PID/fd, opens the entry whose link says so and
 * maps it read-only. The kernel lets it do that only with ptrace read
 * access to PID: the same user (a process that is not non-dumpable), or
 * root; anyone else gets "permission denied" and nothing. A segment
 * whose pid is not PID's (as PID sees itself, the last NSpid of
 * /proc/PID/status) is the parent's, inherited by a child of fork for
 * the moment before libgmp replaces it: skipped.
 *
 * Reading. The writer (sysmon, every 100 ms) holds a seqlock: the header
 * and the G table are copied and the copy kept only if the sequence
 * number was even and unchanged across it; else again, for up to a
 * second. Ages (uptime, how long a G has waited) are this process's
 * CLOCK_MONOTONIC minus the writer's timestamps. Start functions are
 * named from /proc/PID/maps and the object's ELF symbol table (.symtab,
 * else .dynsym), read through /proc/PID/root; else object+offset (the
 * address addr2line wants), else the address.
 *
 * -w redraws every SECS (default 1) until interrupted, finding the
 * segment again each time (the process may have exec'd); with --json it
 * prints one object a line instead of redrawing. Exit status: see
 * usage() (distinct for no such process, not under libgmp, permission
 * denied, a layout this gmp-stat does not read).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "gmpsched.h"
#include "gmpstat.h"

enum {
	EX_SHOWN = 0,
	EX_NOPROC = 1,	/* no such process (or it ended while watched) */
	EX_USAGE = 2,
	EX_NOTGMP = 3,	/* no segment: not under libgmp, or GMP_STAT=0 */
	EX_PERM = 4,	/* another user's process */
	EX_LAYOUT = 5,	/* a segment this gmp-stat cannot read */
	EX_FAIL = 6,	/* anything else (no consistent copy, no memory) */
};

static const char *progname = "gmp-stat";

static void usage(FILE *f)
{
	fprintf(f,
"Usage: %s [--json] PID\n"
"  or:  %s -w [-n SECS] [--json] PID\n"
"Show the scheduler counters and the threads (Gs) of process PID, which\n"
"runs with libgmp preloaded, as libgmp last recorded them (every 100 ms).\n"
"\n"
"  -w, --watch            redraw every second until interrupted\n"
"  -n, --interval=SECS    redraw every SECS seconds (0.1 to 3600; implies -w)\n"
"      --json             one JSON object (with -w: one per line)\n"
"  -h, --help             show this help and exit\n"
"      --version          show the version and exit\n"
"\n"
"Only your own processes can be read (any, as root): libgmp's segment is a\n"
"memory file the kernel lets only those open. GMP_STAT=0 in the process's\n"
"environment turns it off.\n"
"\n"
"Exit status:\n"
"  0  shown\n"
"  1  no process PID (with -w: it ended)\n"
"  2  bad usage\n"
"  3  PID does not run under libgmp, or runs with GMP_STAT=0\n"
"  4  permission denied: PID is another user's process\n"
"  5  PID's libgmp writes a segment layout this gmp-stat does not read\n"
"  6  any other failure (no consistent copy of the segment, no memory)\n",
		progname, progname);
}

static void __attribute__((format(printf, 2, 3))) msg(int pid,
						       const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	if (pid > 0)
		fprintf(stderr, "%d: ", pid);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- finding the segment ---------------------------------------------- */

struct found {
	int fd;			/* the entry's number in PID */
	const struct gmpstat_seg *s;
	size_t size;
};

/* PID as PID sees itself: the last NSpid of /proc/PID/status. */
static int inner_pid(int pid)
{
	char path[64], line[256];
	int inner = pid;

	snprintf(path, sizeof path, "/proc/%d/status", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return pid;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "NSpid:", 6) != 0)
			continue;
		for (char *t = strtok(line + 6, " \t\n"); t;
		     t = strtok(NULL, " \t\n"))
			inner = atoi(t);
		break;
	}
	fclose(f);
	return inner;
}

/* PID has ended and not been reaped yet (a zombie): its /proc/PID is
 * still there, with no descriptors. */
static bool ended(int pid)
{
	char path[64], buf[512];
	bool z = false;

	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return true;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *c = strrchr(buf, ')');	/* the name may hold anything */
	if (c && c[1] == ' ')
		z = c[2] == 'Z' || c[2] == 'X';
	return z;
}

/* Map NAME of /proc/PID/fd (dir) if it is a gmp-stat segment of PID's. Returns 0
 * and fills *out; EX_LAYOUT (with *why) for a segment of another layout;
 * EX_PERM; or EX_NOTGMP for anything else (not ours, gone, a parent's). */
static int try_fd(int dir, int inner, const char *name, struct found *out,
		  char *why, size_t whysize)
{
	struct stat st;
	int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == EACCES || errno == EPERM ? EX_PERM : EX_NOTGMP;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size < (off_t)sizeof(struct gmpstat_hdr)) {
		close(fd);
		return EX_NOTGMP;
	}
	size_t size = (size_t)st.st_size;
	void *a = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (a == MAP_FAILED)
		return EX_NOTGMP;
	const struct gmpstat_seg *s = a;
	const struct gmpstat_hdr *h = &s->h;
	if (memcmp(h->magic, "GMPSTAT", 7) != 0) {
		munmap(a, size);
		return EX_NOTGMP;
	}
	if (memcmp(h->magic, GMPSTAT_MAGIC, 8) != 0 ||
	    h->layout != GMPSTAT_LAYOUT || h->size != GMPSTAT_SIZE ||
	    h->g_size != sizeof(struct gmpstat_g) ||
	    h->maxg != GMPSTAT_MAXG || size < GMPSTAT_SIZE) {
		char v[sizeof h->version + 1] = "";
		if (memcmp(h->magic, GMPSTAT_MAGIC, 8) == 0) {
			memcpy(v, h->version, sizeof h->version);
			for (char *c = v; *c; c++)
				if (*c < 0x20 || *c > 0x7e)
					*c = '?';
		}
		snprintf(why, whysize,
			 "its libgmp%s%s writes gmp-stat layout %.8s/%u; this "
			 "gmp-stat (libgmp %s) reads %s/%u only: use the "
			 "gmp-stat of the libgmp it runs",
			 *v ? " " : "", v, h->magic,
			 (unsigned)h->layout, GMPSCHED_VERSION, GMPSTAT_MAGIC,
			 (unsigned)GMPSTAT_LAYOUT);
		munmap(a, size);
		return EX_LAYOUT;
	}
	if (h->pid != inner) {	/* a parent's, in a child of fork */
		munmap(a, size);
		return EX_NOTGMP;
	}
	out->fd = atoi(name);
	out->s = s;
	out->size = size;
	return 0;
}

/* Find PID's segment. 0 and *out, or an EX_* status with its message
 * printed. */
static int find(int pid, struct found *out)
{
	char path[64], link[256], why[512] = "";
	struct stat st;
	int inner, ret = EX_NOTGMP;

	snprintf(path, sizeof path, "/proc/%d", pid);
	if (stat(path, &st) != 0) {
		msg(pid, "no such process");
		return EX_NOPROC;
	}
	inner = inner_pid(pid);
	snprintf(path, sizeof path, "/proc/%d/fd", pid);
	DIR *d = opendir(path);
	if (!d) {
		if (errno == ENOENT) {
			msg(pid, "no such process");
			return EX_NOPROC;
		}
		if (errno == EACCES || errno == EPERM) {
			msg(pid, "permission denied: another user's process "
			    "(gmp-stat reads your own processes, or any as "
			    "root)");
			return EX_PERM;
		}
		msg(pid, "cannot list %s: %s", path, strerror(errno));
		return EX_FAIL;
	}
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		ssize_t n = readlinkat(dirfd(d), e->d_name, link,
				       sizeof link - 1);
		if (n < 0) {
			if (errno == EACCES || errno == EPERM)
				ret = EX_PERM;
			continue;
		}
		link[n] = 0;
		const char *want = "/memfd:" GMPSTAT_MEMFD;
		size_t wl = strlen(want);
		if (strncmp(link, want, wl) != 0 ||
		    (link[wl] && link[wl] != ' '))
			continue;
		int r = try_fd(dirfd(d), inner, e->d_name, out, why,
			       sizeof why);
		if (r == 0) {
			closedir(d);
			return 0;
		}
		if (r == EX_LAYOUT || (r == EX_PERM && ret != EX_LAYOUT))
			ret = r;
	}
	closedir(d);
	if (ret == EX_NOTGMP && ended(pid)) {
		msg(pid, "no such process (it has ended)");
		return EX_NOPROC;
	}
	if (ret == EX_LAYOUT)
		msg(pid, "%s", why);
	else if (ret == EX_PERM)
		msg(pid, "permission denied: another user's process "
		    "(gmp-stat reads your own processes, or any as root)");
	else
		msg(pid, "does not run under libgmp, or GMP_STAT=0");
	return ret;
}

/* A consistent copy of the segment (the G table up to ng). 0, or
 * EX_FAIL with its message. */
static int snapshot(int pid, const struct gmpstat_seg *s,
		    struct gmpstat_seg *out)
{
	const struct timespec pause = { 0, 1000000 };
	int64_t give_up = mono_ns() + 1000000000;

	for (;;) {
		uint64_t s1 = __atomic_load_n(&s->h.seq, __ATOMIC_ACQUIRE);
		if (!(s1 & 1)) {
			memcpy(&out->h, &s->h, sizeof out->h);
			uint32_t n = out->h.ng;
			if (n > GMPSTAT_MAXG)
				n = GMPSTAT_MAXG;
			memcpy(out->g, s->g, n * sizeof out->g[0]);
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			uint64_t s2 = __atomic_load_n(&s->h.seq,
						      __ATOMIC_RELAXED);
			/* a new segment is filled at sysmon's first look */
			if (s1 == s2 && (out->h.updates || mono_ns() > give_up)) {
				out->h.ng = n;
				return 0;
			}
		}
		if (mono_ns() > give_up) {
			msg(pid, "the segment keeps changing under gmp-stat "
			    "(is the process stopped in an update?)");
			return EX_FAIL;
		}
		nanosleep(&pause, NULL);
	}
}

/* ---- naming start functions -------------------------------------------- */

struct object {
	char *path;		/* as /proc/PID/maps has it */
	void *map;		/* the file, or NULL if unreadable */
	size_t size;
	bool tried;
};

struct mapping {
	uint64_t lo, hi, off;
	size_t obj;		/* index in objects */
};

static struct object *objects;
static size_t nobjects, capobjects;
static struct mapping *maps;
static size_t nmaps, capmaps;

/* The index of path's object (kept from one refresh to the next, with
 * its file mapped once), or -1. */
static long object_for(const char *path)
{
	for (size_t i = 0; i < nobjects; i++)
		if (strcmp(objects[i].path, path) == 0)
			return (long)i;
	if (nobjects == capobjects) {
		size_t cap = capobjects ? capobjects * 2 : 16;
		struct object *o = realloc(objects, cap * sizeof *o);
		if (!o)
			return -1;
		objects = o;
		capobjects = cap;
	}
	struct object *o = &objects[nobjects];
	memset(o, 0, sizeof *o);
	o->path = strdup(path);
	if (!o->path)
		return -1;
	return (long)nobjects++;
}

static void read_maps(int pid)
{
	char path[64], line[4096 + 128];

	nmaps = 0;
	snprintf(path, sizeof path, "/proc/%d/maps", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		uint64_t lo, hi, off;
		char perms[8];
		int pos = 0;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64
			   " %*s %*s %n", &lo, &hi, perms, &off, &pos) < 4 ||
		    !pos || perms[2] != 'x')
			continue;
		char *p = line + pos;
		p[strcspn(p, "\n")] = 0;
		if (p[0] != '/')
			continue;
		if (nmaps == capmaps) {
			size_t cap = capmaps ? capmaps * 2 : 64;
			struct mapping *m = realloc(maps, cap * sizeof *m);
			if (!m)
				break;
			maps = m;
			capmaps = cap;
		}
		long o = object_for(p);
		if (o < 0)
			break;
		maps[nmaps++] = (struct mapping){ lo, hi, off, (size_t)o };
	}
	fclose(f);
}

static void load(int pid, struct object *o)
{
	char path[PATH_MAX + 64];
	struct stat st;

	o->tried = true;
	if (strstr(o->path, " (deleted)"))
		return;
	snprintf(path, sizeof path, "/proc/%d/root%s", pid, o->path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fd = open(o->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size >= (off_t)sizeof(Elf64_Ehdr)) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ,
			       MAP_PRIVATE, fd, 0);
		if (m != MAP_FAILED) {
			o->map = m;
			o->size = (size_t)st.st_size;
		}
	}
	close(fd);
	const Elf64_Ehdr *eh = o->map;
	if (eh && (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
		   eh->e_ident[EI_CLASS] != ELFCLASS64)) {
		munmap(o->map, o->size);
		o->map = NULL;
	}
}

static bool in_file(const struct object *o, uint64_t off, uint64_t len)
{
	return off <= o->size && len <= o->size - off;
}

/* The function of o containing vaddr, from .symtab or else .dynsym. */
static const char *symbol(const struct object *o, uint64_t vaddr,
			  uint64_t *delta)
{
	const Elf64_Ehdr *eh = o->map;

	if (!in_file(o, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr)))
		return NULL;
	const Elf64_Shdr *sh = (const void *)((const char *)o->map +
					      eh->e_shoff);
	for (int pass = 0; pass < 2; pass++) {
		uint32_t want = pass ? SHT_DYNSYM : SHT_SYMTAB;
		for (unsigned i = 0; i < eh->e_shnum; i++) {
			if (sh[i].sh_type != want || sh[i].sh_link >= eh->e_shnum ||
			    !in_file(o, sh[i].sh_offset, sh[i].sh_size))
				continue;
			const Elf64_Shdr *str = &sh[sh[i].sh_link];
			if (!in_file(o, str->sh_offset, str->sh_size))
				continue;
			const Elf64_Sym *sym = (const void *)((const char *)o->map +
							      sh[i].sh_offset);
			const char *names = (const char *)o->map +
					    str->sh_offset;
			size_t n = sh[i].sh_size / sizeof *sym;
			for (size_t k = 0; k < n; k++) {
				if (ELF64_ST_TYPE(sym[k].st_info) != STT_FUNC ||
				    sym[k].st_shndx == SHN_UNDEF ||
				    vaddr < sym[k].st_value ||
				    vaddr - sym[k].st_value >=
					    (sym[k].st_size ? sym[k].st_size : 1) ||
				    sym[k].st_name >= str->sh_size)
					continue;
				const char *s = names + sym[k].st_name;
				if (!memchr(s, 0, str->sh_size - sym[k].st_name))
					continue;
				*delta = vaddr - sym[k].st_value;
				return s;
			}
		}
	}
	return NULL;
}

/* "name", "name+0x4", "object+0x11a9" or "0x7f..." into buf. */
static void describe1(int pid, uint64_t addr, char *buf, size_t size)
{
	snprintf(buf, size, "%#" PRIx64, addr);
	for (size_t i = 0; i < nmaps; i++) {
		const struct mapping *m = &maps[i];
		if (addr < m->lo || addr >= m->hi)
			continue;
		struct object *o = &objects[m->obj];
		const char *base = strrchr(o->path, '/');
		base = base ? base + 1 : o->path;
		uint64_t foff = addr - m->lo + m->off;
		if (!o->tried)
			load(pid, o);
		if (!o->map) {
			snprintf(buf, size, "%s+%#" PRIx64, base, foff);
			return;
		}
		/* the file offset's virtual address, from its PT_LOAD */
		const Elf64_Ehdr *eh = o->map;
		uint64_t vaddr = foff;
		if (in_file(o, eh->e_phoff,
			    (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr))) {
			const Elf64_Phdr *ph =
				(const void *)((const char *)o->map +
					       eh->e_phoff);
			for (unsigned k = 0; k < eh->e_phnum; k++)
				if (ph[k].p_type == PT_LOAD &&
				    foff >= ph[k].p_offset &&
				    foff < ph[k].p_offset + ph[k].p_filesz) {
					vaddr = foff - ph[k].p_offset +
						ph[k].p_vaddr;
					break;
				}
		}
		uint64_t delta = 0;
		const char *s = symbol(o, vaddr, &delta);
		if (s && *s) {
			if (delta)
				snprintf(buf, size, "%s+%#" PRIx64, s, delta);
			else
				snprintf(buf, size, "%s", s);
		} else {
			snprintf(buf, size, "%s+%#" PRIx64, base, vaddr);
		}
		return;
	}
}

/* The same, remembered for this refresh (many Gs share a start). */
static struct named {
	uint64_t addr;
	char buf[256];
} named[64];
static size_t nnamed;

static void describe(int pid, uint64_t addr, char *buf, size_t size)
{
	struct named *c = NULL;

	for (size_t i = 0; i < nnamed; i++)
		if (named[i].addr == addr)
			c = &named[i];
	if (!c) {
		c = &named[nnamed < 64 ? nnamed++ : addr % 64];
		c->addr = addr;
		describe1(pid, addr, c->buf, sizeof c->buf);
	}
	snprintf(buf, size, "%s", c->buf);
}

/* ---- output ------------------------------------------------------------ */

static const char *const status_names[GMPSTAT_NSTATUS] = {
	"idle", "runnable", "running", "syscall", "waiting", "dead",
};

static const char *status_name(int32_t st)
{
	return st >= 0 && st < GMPSTAT_NSTATUS ? status_names[st] : "?";
}

/* A NUL-terminated field of at most n bytes, control characters as '?'
 * (a thread name is the program's: it must not drive the terminal). */
static void safe(char *dst, const char *src, size_t n)
{
	size_t i = 0;

	for (; i < n && src[i]; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f
				 ? '?'
				 : src[i];
	dst[i] = 0;
}

static int by_goid(const void *a, const void *b)
{
	const struct gmpstat_g *x = a, *y = b;

	return x->goid < y->goid ? -1 : x->goid > y->goid;
}

static void duration(FILE *f, double s)
{
	if (s < 60)
		fprintf(f, "%.1f s", s);
	else if (s < 3600)
		fprintf(f, "%dm%02ds", (int)s / 60, (int)s % 60);
	else
		fprintf(f, "%dh%02dm", (int)(s / 3600), (int)s / 60 % 60);
}

#define ULL(x) ((unsigned long long)(x))

static void text(FILE *f, int pid, const struct gmpstat_seg *s, int64_t now)
{
	const struct gmpstat_hdr *h = &s->h;
	const struct gmpstat_counters *c = &h->c;
	char v[sizeof h->version + 1];
	double up = (double)(now - h->start_ns) / 1e9;

	safe(v, h->version, sizeof h->version);
	fprintf(f, "gmp-stat: pid %d, libgmp %s, up ", pid, v);
	duration(f, up);
	fprintf(f, ", updated %lld ms ago",
		(long long)((now - h->updated_ns) / 1000000));
	/* the G table is taken again only when a G may have changed */
	if (h->table_ns < h->updated_ns)
		fprintf(f, " (threads %lld ms ago)",
			(long long)((now - h->table_ns) / 1000000));
	fputc('\n', f);
	fprintf(f,
		"  procs (P)          %llu\n"
		"  threads (M)        %llu created, %llu exited idle\n"
		"  Gs created         %llu\n"
		"  peak live Gs       %llu\n"
		"  context switches   %llu\n"
		"  steals             %llu\n"
		"  parks              %llu\n"
		"  yields             %llu\n"
		"  preemptions        %llu (%llu asked)\n"
		"  syscalls entered   %llu\n"
		"  P handoffs         %llu\n"
		"  sysmon retakes     %llu in syscalls, %llu blocked elsewhere\n"
		"  netpoll            %llu parks, %llu wakeups, %llu polls\n"
		"  stack reserved     %llu MiB in %llu chunks\n"
		"  max RSS            %llu KiB\n"
		"  run time           %.3f s\n",
		ULL(c->procs), ULL(c->threads_created),
		ULL(c->threads_exited_idle), ULL(c->gs_created),
		ULL(c->peak_live_gs), ULL(c->context_switches), ULL(c->steals),
		ULL(c->parks), ULL(c->yields), ULL(c->preemptions),
		ULL(c->preemptions_asked), ULL(c->syscalls), ULL(c->handoffs),
		ULL(c->sysmon_retakes_syscall), ULL(c->sysmon_retakes_blocked),
		ULL(c->netpoll_parks), ULL(c->netpoll_wakeups),
		ULL(c->netpoll_polls), ULL(c->stack_reserved_bytes >> 20),
		ULL(c->stack_chunks), ULL(c->max_rss_kib), up);
	if (c->strict)
		fprintf(f, "  strict traps       %llu (%llu call sites)\n",
			ULL(c->strict_traps), ULL(c->strict_sites));
	fprintf(f,
		"  now                procs=%llu idleprocs=%llu threads=%llu "
		"spinningthreads=%llu idlethreads=%llu runqueue=%llu [",
		ULL(c->procs), ULL(c->idle_procs), ULL(c->threads),
		ULL(c->spinning_threads), ULL(c->idle_threads),
		ULL(c->runqueue));
	for (uint64_t i = 0; i < c->procs && i < GMPSTAT_MAXP; i++)
		fprintf(f, "%s%u", i ? " " : "", c->runq[i]);
	fprintf(f, "%s]\n", c->procs > GMPSTAT_MAXP ? " ..." : "");
	fprintf(f,
		"  live Gs            %llu: running=%llu runnable=%llu "
		"waiting=%llu syscall=%llu%s\n",
		ULL(c->live_gs), ULL(c->gs[GMPSTAT_RUNNING]),
		ULL(c->gs[GMPSTAT_RUNNABLE]), ULL(c->gs[GMPSTAT_WAITING]),
		ULL(c->gs[GMPSTAT_SYSCALL]),
		h->walk_cut ? " (of the newest Gs only)" : "");

	fprintf(f, "%u threads\n", (unsigned)h->ng_total);
	for (uint32_t i = 0; i < h->ng; i++) {
		const struct gmpstat_g *e = &s->g[i];
		char name[17], reason[13], start[256];
		safe(name, e->name, 16);
		safe(reason, e->reason, 12);
		fprintf(f, "G%llu", ULL(e->goid));
		if (*name)
			fprintf(f, " \"%s\"", name);
		if (e->flags & GMPSTAT_G_MAIN)
			fprintf(f, " (main)");
		if (e->flags & GMPSTAT_G_SYSTEM)
			fprintf(f, " (libgmp)");
		fprintf(f, ": %s", status_name(e->status));
		if (e->status == GMPSTAT_WAITING) {
			fprintf(f, " (%s", reason);
			if (e->waitaddr)
				fprintf(f, " on %#llx", ULL(e->waitaddr));
			fprintf(f, ")");
			if (e->parked_at > 0 && now > e->parked_at)
				fprintf(f, ", %lld ms",
					(long long)((now - e->parked_at) /
						    1000000));
		}
		if (e->m_id >= 0)
			fprintf(f, ", on M%lld (tid %d)", (long long)e->m_id,
				(int)e->m_tid);
		if (e->start) {
			describe(pid, e->start, start, sizeof start);
			fprintf(f, ", started at %s", start);
		} else if (e->flags & GMPSTAT_G_MAIN) {
			fprintf(f, ", started at main");
		}
		fputc('\n', f);
	}
	if (h->ng_total > h->ng)
		fprintf(f, "... and %u more, not shown (the segment holds the "
			"%u newest)\n",
			(unsigned)(h->ng_total - h->ng), (unsigned)GMPSTAT_MAXG);
}

/* s[0..len) is well-formed UTF-8 (no overlong forms, no surrogates). */
static bool valid_utf8(const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		size_t k;
		if (c < 0x80)
			k = 0;
		else if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3;
		else
			return false;
		if (len - i - 1 < k)
			return false;
		for (size_t j = 1; j <= k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
		if ((c == 0xe0 && s[i + 1] < 0xa0) ||
		    (c == 0xed && s[i + 1] >= 0xa0) ||
		    (c == 0xf0 && s[i + 1] < 0x90) ||
		    (c == 0xf4 && s[i + 1] >= 0x90))
			return false;
		i += k + 1;
	}
	return true;
}

/* A JSON string of at most n bytes: valid UTF-8 passes, other bytes from
 * 0x80 become \u00XX (as Latin-1), control characters are escaped. */
static void jstr(FILE *f, const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	bool utf8 = valid_utf8((const unsigned char *)s, len);

	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8))
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json(FILE *f, int pid, const struct gmpstat_seg *s, int64_t now)
{
	const struct gmpstat_hdr *h = &s->h;
	const struct gmpstat_counters *c = &h->c;

	fprintf(f, "{\"gmp_stat_layout\":%u,\"pid\":%d,\"libgmp\":",
		(unsigned)h->layout, pid);
	jstr(f, h->version, sizeof h->version);
	fprintf(f,
		",\"uptime_s\":%.3f,\"updated_ms_ago\":%lld,\"updates\":%llu,"
		"\"update_cost_ns\":%lld,\"table_ms_ago\":%lld,"
		"\"table_cost_ns\":%lld,",
		(double)(now - h->start_ns) / 1e9,
		(long long)((now - h->updated_ns) / 1000000), ULL(h->updates),
		(long long)h->update_cost_ns,
		(long long)((now - h->table_ns) / 1000000),
		(long long)h->table_cost_ns);
	fprintf(f,
		"\"procs\":%llu,\"threads_created\":%llu,"
		"\"threads_exited_idle\":%llu,\"gs_created\":%llu,"
		"\"peak_live_gs\":%llu,\"context_switches\":%llu,"
		"\"steals\":%llu,\"parks\":%llu,\"yields\":%llu,"
		"\"preemptions\":%llu,\"preemptions_asked\":%llu,"
		"\"syscalls\":%llu,\"handoffs\":%llu,"
		"\"sysmon_retakes_syscall\":%llu,"
		"\"sysmon_retakes_blocked\":%llu,\"netpoll_parks\":%llu,"
		"\"netpoll_wakeups\":%llu,\"netpoll_polls\":%llu,"
		"\"stack_reserved_bytes\":%llu,\"stack_chunks\":%llu,"
		"\"max_rss_kib\":%llu,\"run_time_s\":%.6f,",
		ULL(c->procs), ULL(c->threads_created),
		ULL(c->threads_exited_idle), ULL(c->gs_created),
		ULL(c->peak_live_gs), ULL(c->context_switches), ULL(c->steals),
		ULL(c->parks), ULL(c->yields), ULL(c->preemptions),
		ULL(c->preemptions_asked), ULL(c->syscalls), ULL(c->handoffs),
		ULL(c->sysmon_retakes_syscall), ULL(c->sysmon_retakes_blocked),
		ULL(c->netpoll_parks), ULL(c->netpoll_wakeups),
		ULL(c->netpoll_polls), ULL(c->stack_reserved_bytes),
		ULL(c->stack_chunks), ULL(c->max_rss_kib),
		(double)(now - h->start_ns) / 1e9);
	if (c->strict)
		fprintf(f, "\"strict_traps\":%llu,\"strict_sites\":%llu,",
			ULL(c->strict_traps), ULL(c->strict_sites));
	fprintf(f,
		"\"procs_idle\":%llu,\"threads_live\":%llu,"
		"\"threads_idle\":%llu,\"threads_spinning\":%llu,"
		"\"runqueue_global\":%llu,\"runqueues\":[",
		ULL(c->idle_procs), ULL(c->threads), ULL(c->idle_threads),
		ULL(c->spinning_threads), ULL(c->runqueue));
	for (uint64_t i = 0; i < c->procs && i < GMPSTAT_MAXP; i++)
		fprintf(f, "%s%u", i ? "," : "", c->runq[i]);
	fprintf(f, "],\"live_gs\":%llu,\"gs_by_status\":{", ULL(c->live_gs));
	for (int i = 0; i < GMPSTAT_NSTATUS; i++)
		fprintf(f, "%s\"%s\":%llu", i ? "," : "", status_names[i],
			ULL(c->gs[i]));
	fprintf(f, "},\"gs_by_status_partial\":%s,\"gs_total\":%u,\"gs\":[",
		h->walk_cut ? "true" : "false", (unsigned)h->ng_total);
	for (uint32_t i = 0; i < h->ng; i++) {
		const struct gmpstat_g *e = &s->g[i];
		char start[256];
		fprintf(f, "%s{\"goid\":%llu,\"name\":", i ? "," : "",
			ULL(e->goid));
		jstr(f, e->name, sizeof e->name);
		fprintf(f, ",\"main\":%s,\"libgmp\":%s,\"status\":\"%s\"",
			e->flags & GMPSTAT_G_MAIN ? "true" : "false",
			e->flags & GMPSTAT_G_SYSTEM ? "true" : "false",
			status_name(e->status));
		if (e->status == GMPSTAT_WAITING) {
			fprintf(f, ",\"reason\":");
			jstr(f, e->reason, sizeof e->reason);
			if (e->waitaddr)
				fprintf(f, ",\"on\":\"%#llx\"", ULL(e->waitaddr));
			if (e->parked_at > 0)
				fprintf(f, ",\"waited_ms\":%lld",
					(long long)(now > e->parked_at
							    ? (now - e->parked_at) /
								      1000000
							    : 0));
		}
		if (e->m_id >= 0)
			fprintf(f, ",\"m\":%lld,\"tid\":%d", (long long)e->m_id,
				(int)e->m_tid);
		if (e->start) {
			describe(pid, e->start, start, sizeof start);
			fprintf(f, ",\"start\":\"%#llx\",\"started_at\":",
				ULL(e->start));
			jstr(f, start, sizeof start);
		}
		fputc('}', f);
	}
	fprintf(f, "]}\n");
}

/* ---- main --------------------------------------------------------------- */

static int show(int pid, bool as_json, bool watch, struct gmpstat_seg *copy)
{
	struct found fd;
	int r = find(pid, &fd);

	if (r)
		return r;
	r = snapshot(pid, fd.s, copy);
	munmap((void *)fd.s, fd.size);
	if (r)
		return r;
	qsort(copy->g, copy->h.ng, sizeof copy->g[0], by_goid);
	read_maps(pid);
	nnamed = 0;

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f) {
		msg(pid, "out of memory");
		return EX_FAIL;
	}
	int64_t now = mono_ns();
	if (watch && !as_json)
		fputs("\033[H\033[2J", f);	/* home, clear */
	if (as_json)
		json(f, pid, copy, now);
	else
		text(f, pid, copy, now);
	fclose(f);
	fwrite(buf, 1, len, stdout);
	free(buf);
	fflush(stdout);
	return ferror(stdout) ? EX_FAIL : EX_SHOWN;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "watch", no_argument, NULL, 'w' },
		{ "interval", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0, 0, 0, 0 },
	};
	bool watch = false, as_json = false;
	double interval = 1;
	int c;

	if (argv[0] && *argv[0]) {
		const char *b = strrchr(argv[0], '/');
		progname = b ? b + 1 : argv[0];
	}
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":wn:h", options, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'w':
			watch = true;
			break;
		case 'n':
			errno = 0;
			interval = strtod(optarg, &end);
			if (errno || *end || end == optarg || !(interval >= 0.1) ||
			    interval > 3600) {
				msg(0, "-n/--interval: '%s' is not a number of "
				    "seconds from 0.1 to 3600", optarg);
				return EX_USAGE;
			}
			watch = true;
			break;
		case 'j':
			as_json = true;
			break;
		case 'h':
			usage(stdout);
			return EX_SHOWN;
		case 'V':
			printf("gmp-stat (libgmp) %s, segment layout %s/%u\n",
			       GMPSCHED_VERSION, GMPSTAT_MAGIC,
			       (unsigned)GMPSTAT_LAYOUT);
			return EX_SHOWN;
		case ':':
			msg(0, "option '%s' needs a value", argv[optind - 1]);
			usage(stderr);
			return EX_USAGE;
		default:
			msg(0, "unknown option '%s'", argv[optind - 1]);
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc - 1) {
		msg(0, optind == argc ? "no PID given" : "one PID only");
		usage(stderr);
		return EX_USAGE;
	}
	char *end;
	errno = 0;
	long pid = strtol(argv[optind], &end, 10);
	if (errno || *end || end == argv[optind] || pid < 1 || pid > INT_MAX) {
		msg(0, "'%s' is not a process id", argv[optind]);
		return EX_USAGE;
	}

	struct gmpstat_seg *copy = malloc(sizeof *copy);
	if (!copy) {
		msg((int)pid, "out of memory");
		return EX_FAIL;
	}
	int r = show((int)pid, as_json, watch, copy);
	while (watch && r == EX_SHOWN) {
		struct timespec ts = { (time_t)interval,
				       (long)((interval - (double)(time_t)interval) *
					      1e9) };
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		r = show((int)pid, as_json, watch, copy);
	}
	free(copy);
	return r;
}
