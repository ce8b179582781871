/*
 * gmp-run: run a program with libgmp preloaded, or check whether it can be.
 *
 *	gmp-run [OPTION]... [--] prog [args...]
 *	gmp-run --check [--] prog
 *
 * Running. Each option sets a GMP_* variable (validated here, so a bad
 * value fails before prog starts); --debug, --schedtrace, --scheddetail and
 * --dump make one comma-separated GMP_DEBUG. Then the absolute path of
 * libgmp.so goes first in LD_PRELOAD and prog is exec'd, so prog and
 * everything it execs in turn run under libgmp. The library is looked up
 * next to this executable (the build tree: build/gmp-run beside
 * build/libgmp.so), then in ../lib/gmpsched/ (the install tree: bin/gmp-run,
 * lib/gmpsched/). It is never loaded into gmp-run itself, and no libgmp code
 * runs here.
 *
 * LD_PRELOAD. ld.so splits it at spaces and colons, so a library path with
 * either cannot be preloaded and is refused. Entries already there stay,
 * after ours, except a copy of ours (dropped) and a sanitizer runtime, which
 * must come first in the link map and so stays first.
 *
 * Checking (--check). Nothing is run. prog (looked up on PATH as execvp
 * does; a #! script through its interpreter) is read with libelf, with the
 * objects ld.so would map for it: the preloads (libgmp.so first), then the
 * DT_NEEDED libraries breadth first, each found as ld.so finds it (DT_RPATH
 * up the loader chain, LD_LIBRARY_PATH, DT_RUNPATH, /etc/ld.so.cache, the
 * system directories; $ORIGIN, $LIB and $PLATFORM expanded). The names
 * libgmp interposes are libgmp.so's own dynamic symbols, so the report
 * follows the library it would preload. One finding a line goes to stdout:
 * "info:", "ok:" (what runs at G level), "syscall:" (blocking libc calls
 * libgmp does not interpose), "warning:", "error:", and last "verdict:".
 *
 * Exit status: prog's; 125 if gmp-run itself fails (bad option, no
 * library); 126 if prog cannot be executed, 127 if it is not found, as
 * env(1) and the shell do. With --check: 0 ok, 1 warnings, 2 unsupported,
 * 125 if gmp-run fails (prog not found or unreadable, no library).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <getopt.h>
#include <libelf.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef GMP_RUN_VERSION
#define GMP_RUN_VERSION "unknown"
#endif

#define EXIT_GMPRUN	125	/* our own failure, as env(1) */
#define EXIT_NOEXEC	126
#define EXIT_NOTFOUND	127

/* --check's exit statuses */
#define CHECK_OK	0
#define CHECK_WARN	1
#define CHECK_UNSUP	2

static const char *progname = "gmp-run";

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
						     noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_GMPRUN);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (p == NULL)
		die("out of memory");
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		die("out of memory");
	return p;
}

/* The directory this executable is in, or NULL. */
static char *self_dir(const char *argv0)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

	if (n > 0) {
		buf[n] = '\0';
	} else if (strchr(argv0, '/') == NULL ||
		   realpath(argv0, buf) == NULL) {
		return NULL;
	}
	return strdup(dirname(buf));
}

/* realpath of dir/rel if that is a readable regular file, else NULL. */
static char *try_lib(const char *dir, const char *rel)
{
	char path[PATH_MAX], *abs;
	struct stat st;

	if (snprintf(path, sizeof(path), "%s/%s", dir, rel) >=
	    (int)sizeof(path))
		return NULL;
	abs = realpath(path, NULL);
	if (abs == NULL)
		return NULL;
	if (stat(abs, &st) == 0 && S_ISREG(st.st_mode) &&
	    access(abs, R_OK) == 0)
		return abs;
	free(abs);
	return NULL;
}

static char *find_lib(const char *argv0)
{
	char *dir = self_dir(argv0), *lib;

	if (dir == NULL)
		die("cannot find my own executable (is /proc mounted?)");
	lib = try_lib(dir, "libgmp.so");
	if (lib == NULL)
		lib = try_lib(dir, "../lib/gmpsched/libgmp.so");
	if (lib == NULL)
		die("cannot find libgmp.so: looked for %s/libgmp.so and "
		    "%s/../lib/gmpsched/libgmp.so", dir, dir);
	if (strpbrk(lib, " :") != NULL)
		die("%s: a path with a space or colon cannot be preloaded",
		    lib);
	free(dir);
	return lib;
}

/* A sanitizer runtime insists on being the first library loaded. */
static bool must_be_first(const char *entry)
{
	const char *base = strrchr(entry, '/');

	base = base != NULL ? base + 1 : entry;
	return strncmp(base, "libasan.", 8) == 0 ||
	       strncmp(base, "libhwasan.", 10) == 0 ||
	       strncmp(base, "libtsan.", 8) == 0 ||
	       strncmp(base, "libclang_rt.asan", 16) == 0;
}

static bool same_file(const char *entry, const char *lib)
{
	char *abs;
	bool same;

	if (strcmp(entry, lib) == 0)
		return true;
	abs = realpath(entry, NULL);
	same = abs != NULL && strcmp(abs, lib) == 0;
	free(abs);
	return same;
}

static void append(char *dst, const char *s)
{
	if (*dst != '\0')
		strcat(dst, " ");
	strcat(dst, s);
}

/* Set LD_PRELOAD to lib followed by the old entries (see the top). */
static void set_preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	char *copy, *tok, *save, *out, *rest;
	size_t n = strlen(lib) + 2 + (old != NULL ? strlen(old) : 0);

	out = xmalloc(n);
	rest = xmalloc(n);
	*out = *rest = '\0';
	copy = xstrdup(old != NULL ? old : "");
	for (tok = strtok_r(copy, " :", &save); tok != NULL;
	     tok = strtok_r(NULL, " :", &save)) {
		if (same_file(tok, lib))
			continue;
		append(must_be_first(tok) ? out : rest, tok);
	}
	append(out, lib);
	if (*rest != '\0')
		append(out, rest);
	if (setenv("LD_PRELOAD", out, 1) != 0)
		die("cannot set LD_PRELOAD: %s", strerror(errno));
	free(copy);
	free(rest);
	free(out);
}

/* ---- options ------------------------------------------------------------ */

/* s as a positive decimal int, or -1. */
static long positive_int(const char *s)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > INT_MAX)
		return -1;
	return v;
}

static void setvar(const char *name, const char *value)
{
	if (setenv(name, value, 1) != 0)
		die("cannot set %s: %s", name, strerror(errno));
}

/* A file libgmp will create: its directory must exist. */
static void check_out_path(const char *opt, const char *path)
{
	char *copy, *dir;
	struct stat st;

	if (*path == '\0')
		die("%s: the file name is empty", opt);
	if (strchr(path, '/') == NULL)
		return;
	copy = xstrdup(path);
	dir = dirname(copy);
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		die("%s=%s: %s is not a directory", opt, path, dir);
	free(copy);
}

/* The signals GMP_PREEMPT_SIGNAL takes, as libgmp parses them. */
static bool preempt_signal_ok(const char *v)
{
	static const struct {
		const char *name;
		int sig;
	} names[] = {
		{ "URG", SIGURG }, { "WINCH", SIGWINCH }, { "USR1", SIGUSR1 },
		{ "USR2", SIGUSR2 }, { "PWR", SIGPWR },
	};
	char *end;
	long n;

	if (strncmp(v, "SIG", 3) == 0)
		v += 3;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(v, names[i].name) == 0)
			return true;
	if (strncmp(v, "RTMIN+", 6) == 0) {
		errno = 0;
		n = strtol(v + 6, &end, 10);
		return errno == 0 && *end == '\0' && v[6] >= '0' &&
		       v[6] <= '9' && n <= SIGRTMAX - SIGRTMIN;
	}
	if (*v < '0' || *v > '9')
		return false;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	if (n == 0)
		return true;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (n == names[i].sig)
			return true;
	return n >= SIGRTMIN && n <= SIGRTMAX;
}

/* GMP_DEBUG as the options build it: items in the order given; an item
 * given again is not repeated, and a later KEY=VALUE replaces an earlier
 * one with the same KEY. */
static char *debug_items[16];
static size_t debug_n;

static void debug_add(const char *item)
{
	size_t key = strcspn(item, "=");

	for (size_t i = 0; i < debug_n; i++) {
		if (strcmp(debug_items[i], item) == 0)
			return;
		if (item[key] == '=' && strncmp(debug_items[i], item,
						key + 1) == 0) {
			free(debug_items[i]);
			debug_items[i] = xstrdup(item);
			return;
		}
	}
	if (debug_n == sizeof(debug_items) / sizeof(*debug_items))
		die("--debug: too many items");
	debug_items[debug_n++] = xstrdup(item);
}

#define SCHEDTRACE_MAX	3600000		/* ms: an hour, as libgmp takes */

static void debug_schedtrace(const char *opt, const char *ms)
{
	char item[64];
	long v = positive_int(ms);

	if (v < 0 || v > SCHEDTRACE_MAX)
		die("%s: '%s' is not a number of milliseconds from 1 to %d",
		    opt, ms, SCHEDTRACE_MAX);
	snprintf(item, sizeof(item), "schedtrace=%s", ms);
	debug_add(item);
}

/* --debug=LIST: comma-separated items that libgmp knows: 1, 0,
 * schedtrace=MS, scheddetail=1 (or 0), dump. */
static void debug_list(const char *list)
{
	char *copy = xstrdup(list), *tok, *save;

	if (*list == '\0' || list[0] == ',' || list[strlen(list) - 1] == ',' ||
	    strstr(list, ",,") != NULL)
		die("--debug=%s: an empty item in the list", list);
	if (strpbrk(list, " \t\n") != NULL)
		die("--debug=%s: white space in the list", list);
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		if (strncmp(tok, "schedtrace=", 11) == 0)
			debug_schedtrace("--debug", tok + 11);
		else if (strcmp(tok, "1") == 0 || strcmp(tok, "0") == 0 ||
			 strcmp(tok, "scheddetail=1") == 0 ||
			 strcmp(tok, "scheddetail=0") == 0 ||
			 strcmp(tok, "dump") == 0)
			debug_add(tok);
		else
			die("--debug=%s: '%s' is not 1, 0, schedtrace=MS, "
			    "scheddetail=1 or dump", list, tok);
	}
	free(copy);
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: %s [OPTION]... [--] PROGRAM [ARG]...\n"
"  or:  %s --check [--] PROGRAM\n"
"Run PROGRAM with libgmp preloaded: its pthreads become user-level threads\n"
"scheduled M:N on a few kernel threads. Its output should not change. Each\n"
"option sets a GMP_* variable for PROGRAM (replacing one already set).\n"
"\n"
"  -p, --procs=N          run threads on N processors (GMP_MAXPROCS=N)\n"
"      --stats[=VALUE]    a scheduler summary at exit (GMP_STATS=VALUE):\n"
"                         1 (the default) as text on stderr, json as JSON\n"
"                         on stderr, or a file path (any VALUE with a '/')\n"
"      --debug[=LIST]     diagnostic lines on stderr (GMP_DEBUG=LIST,\n"
"                         default 1); LIST is comma-separated: 1, 0,\n"
"                         schedtrace=MS, scheddetail=1, dump\n"
"      --schedtrace=MS    a line of scheduler state every MS milliseconds\n"
"                         (adds schedtrace=MS to GMP_DEBUG)\n"
"      --scheddetail      detail per P, M and G in those lines (adds\n"
"                         scheddetail=1 to GMP_DEBUG)\n"
"      --dump             dump every thread (G) at exit (adds dump to\n"
"                         GMP_DEBUG)\n"
"      --trace=PATH       write a timeline of the scheduler to PATH, JSON\n"
"                         that Perfetto and chrome://tracing open\n"
"                         (GMP_TRACE=PATH)\n"
"      --deadlock=MODE    when every thread is blocked for good: exit (the\n"
"                         default), report, or 0 for nothing\n"
"                         (GMP_DEADLOCK=MODE)\n"
"      --no-deadlock      the same as --deadlock=0\n"
"      --preempt-signal=SIG\n"
"                         preempt with SIG: URG (the default), WINCH, USR1,\n"
"                         USR2, PWR, RTMIN+N, a number, or 0 for no\n"
"                         preemption (GMP_PREEMPT_SIGNAL=SIG)\n"
"      --strict[=report]  strict mode; report also lists the call sites\n"
"                         (GMP_STRICT=1 or report)\n"
"      --no-stat          no live segment for gmp-stat (GMP_STAT=0)\n"
"      --check            run nothing: report whether PROGRAM can run under\n"
"                         libgmp, and what runs at G level\n"
"  -h, --help             show this help and exit\n"
"      --version          show the version and exit\n"
"\n"
"--debug, --schedtrace, --scheddetail and --dump together make one\n"
"GMP_DEBUG, e.g. --debug --schedtrace=1000 --dump gives\n"
"GMP_DEBUG=1,schedtrace=1000,dump. A bad value is an error (status 125).\n"
"Use -- before a PROGRAM whose name starts with '-'.\n"
"\n"
"--check reads PROGRAM (a #! script: its interpreter) and the libraries the\n"
"loader would map for it with libelf and prints one finding a line:\n"
"  info:     a fact: the program, its interpreter, each library and where\n"
"  ok:       G level: the functions it imports that libgmp interposes\n"
"  syscall:  a blocking libc function it imports that libgmp does not\n"
"            interpose: it holds its kernel thread while it blocks\n"
"  warning:  something that runs, but partly outside libgmp\n"
"  error:    something that keeps it from running under libgmp\n"
"  verdict:  ok, warnings or unsupported (the last line)\n"
"\n"
"Exit status:\n"
"  PROGRAM's; 125 if gmp-run fails, 126 if PROGRAM cannot be executed, 127\n"
"  if it is not found. With --check:\n"
"    0    verdict ok: PROGRAM will run under libgmp\n"
"    1    verdict warnings: it runs, but something goes through as plain\n"
"         system calls or is partly unsupported (syscall: or warning:)\n"
"    2    verdict unsupported: it cannot work: a static, setuid or Go\n"
"         binary, not x86_64, missing libraries or symbols (error:)\n"
"    125  gmp-run itself failed: a bad option, PROGRAM not found or not\n"
"         readable, no libgmp.so\n", progname, progname);
}

enum {
	OPT_STATS = 256, OPT_DEBUG, OPT_VERSION, OPT_SCHEDTRACE,
	OPT_SCHEDDETAIL, OPT_DUMP, OPT_TRACE, OPT_DEADLOCK, OPT_NO_DEADLOCK,
	OPT_PREEMPT_SIGNAL, OPT_STRICT, OPT_NO_STAT, OPT_CHECK,
};

static const struct option options[] = {
	{ "procs", required_argument, NULL, 'p' },
	{ "stats", optional_argument, NULL, OPT_STATS },
	{ "debug", optional_argument, NULL, OPT_DEBUG },
	{ "schedtrace", required_argument, NULL, OPT_SCHEDTRACE },
	{ "scheddetail", no_argument, NULL, OPT_SCHEDDETAIL },
	{ "dump", no_argument, NULL, OPT_DUMP },
	{ "trace", required_argument, NULL, OPT_TRACE },
	{ "deadlock", required_argument, NULL, OPT_DEADLOCK },
	{ "no-deadlock", no_argument, NULL, OPT_NO_DEADLOCK },
	{ "preempt-signal", required_argument, NULL, OPT_PREEMPT_SIGNAL },
	{ "strict", optional_argument, NULL, OPT_STRICT },
	{ "no-stat", no_argument, NULL, OPT_NO_STAT },
	{ "check", no_argument, NULL, OPT_CHECK },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static bool check_mode;

/* Parse the options into the environment; return the index of PROGRAM. */
static int parse(int argc, char **argv)
{
	int c;

	opterr = 0;	/* we word the messages */
	/* '+': stop at PROGRAM, whose own options are not ours. */
	while ((c = getopt_long(argc, argv, "+:hp:", options, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (positive_int(optarg) < 0)
				die("-p/--procs: '%s' is not a positive "
				    "integer", optarg);
			setvar("GMP_MAXPROCS", optarg);
			break;
		case OPT_STATS:
			if (optarg == NULL || strcmp(optarg, "1") == 0 ||
			    strcmp(optarg, "json") == 0)
				;
			else if (strchr(optarg, '/') != NULL)
				check_out_path("--stats", optarg);
			else
				die("--stats=%s: expected 1, json or a file "
				    "path (a value with a '/': ./%s)", optarg,
				    optarg);
			setvar("GMP_STATS", optarg != NULL ? optarg : "1");
			break;
		case OPT_DEBUG:
			debug_list(optarg != NULL ? optarg : "1");
			break;
		case OPT_SCHEDTRACE:
			debug_schedtrace("--schedtrace", optarg);
			break;
		case OPT_SCHEDDETAIL:
			debug_add("scheddetail=1");
			break;
		case OPT_DUMP:
			debug_add("dump");
			break;
		case OPT_TRACE:
			check_out_path("--trace", optarg);
			setvar("GMP_TRACE", optarg);
			break;
		case OPT_DEADLOCK:
			if (strcmp(optarg, "exit") != 0 &&
			    strcmp(optarg, "report") != 0 &&
			    strcmp(optarg, "0") != 0)
				die("--deadlock=%s: expected exit, report or 0",
				    optarg);
			setvar("GMP_DEADLOCK", optarg);
			break;
		case OPT_NO_DEADLOCK:
			setvar("GMP_DEADLOCK", "0");
			break;
		case OPT_PREEMPT_SIGNAL:
			if (!preempt_signal_ok(optarg))
				die("--preempt-signal=%s: expected 0 (off), "
				    "URG, WINCH, USR1, USR2, PWR (with or "
				    "without SIG), RTMIN+N or a number from "
				    "%d to %d", optarg, SIGRTMIN, SIGRTMAX);
			setvar("GMP_PREEMPT_SIGNAL", optarg);
			break;
		case OPT_STRICT:
			if (optarg != NULL && strcmp(optarg, "1") != 0 &&
			    strcmp(optarg, "report") != 0)
				die("--strict=%s: expected report (or nothing)",
				    optarg);
			setvar("GMP_STRICT", optarg != NULL ? optarg : "1");
			break;
		case OPT_NO_STAT:
			setvar("GMP_STAT", "0");
			break;
		case OPT_CHECK:
			check_mode = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case OPT_VERSION:
			printf("gmp-run (libgmp) %s\n", GMP_RUN_VERSION);
			exit(0);
		case ':':
			die("option '%s' needs a value", argv[optind - 1]);
		default:
			if (optopt != 0)
				die("unknown option '-%c' (try --help)",
				    optopt);
			die("unknown or ambiguous option '%s' (try --help)",
			    argv[optind - 1]);
		}
	}
	if (debug_n != 0) {
		char val[1024] = "";

		for (size_t i = 0; i < debug_n; i++) {
			if (strlen(val) + strlen(debug_items[i]) + 2 >
			    sizeof(val))
				die("--debug: the list is too long");
			if (i != 0)
				strcat(val, ",");
			strcat(val, debug_items[i]);
		}
		setvar("GMP_DEBUG", val);
	}
	if (optind >= argc) {
		usage(stderr);
		exit(EXIT_GMPRUN);
	}
	return optind;
}

/* ---- --check: small containers ------------------------------------------ */

struct strv {
	char **v;
	size_t n, cap;
};

static void strv_push(struct strv *s, const char *x)
{
	if (s->n == s->cap) {
		s->cap = s->cap != 0 ? 2 * s->cap : 16;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (s->v == NULL)
			die("out of memory");
	}
	s->v[s->n++] = xstrdup(x);
}

/* A set of strings: open addressing, a power-of-two table. */
struct strset {
	char **slot;
	size_t cap, n;
};

static size_t hash_str(const char *s)
{
	uint64_t h = 14695981039346656037ULL;	/* FNV-1a */

	while (*s != '\0') {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

static char **set_slot(const struct strset *s, const char *k)
{
	size_t i = hash_str(k) & (s->cap - 1);

	while (s->slot[i] != NULL && strcmp(s->slot[i], k) != 0)
		i = (i + 1) & (s->cap - 1);
	return &s->slot[i];
}

static bool set_has(const struct strset *s, const char *k)
{
	return s->cap != 0 && *set_slot(s, k) != NULL;
}

static void set_add(struct strset *s, const char *k)
{
	char **p;

	if (2 * (s->n + 1) > s->cap) {
		struct strset big = { .cap = s->cap != 0 ? 2 * s->cap : 256 };

		big.slot = calloc(big.cap, sizeof(*big.slot));
		if (big.slot == NULL)
			die("out of memory");
		for (size_t i = 0; i < s->cap; i++)
			if (s->slot[i] != NULL)
				*set_slot(&big, s->slot[i]) = s->slot[i];
		big.n = s->n;
		free(s->slot);
		*s = big;
	}
	p = set_slot(s, k);
	if (*p == NULL) {
		*p = xstrdup(k);
		s->n++;
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- --check: findings -------------------------------------------------- */

enum level { L_INFO, L_OK, L_SYSCALL, L_WARNING, L_ERROR };

static const char *const level_tag[] = {
	"info", "ok", "syscall", "warning", "error",
};
static enum level worst = L_INFO;

static void finding(enum level l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void finding(enum level l, const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", level_tag[l]);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (l > worst)
		worst = l;
}

/* ---- --check: ELF objects ----------------------------------------------- */

enum obj_kind { K_PROGRAM, K_PRELOAD, K_INTERP, K_NEEDED };

struct obj {
	enum obj_kind kind;
	bool is_gmp;		/* libgmp.so itself */
	char *name;		/* as asked for: DT_NEEDED, a path */
	char *path;		/* the file found */
	char *origin;		/* its directory, for $ORIGIN */
	char *soname;
	char *rpath;		/* DT_RPATH, NULL when there is a DT_RUNPATH */
	char *runpath;
	bool nodeflib;		/* DF_1_NODEFLIB */
	dev_t dev;
	ino_t ino;
	struct obj *loader;	/* the object that needed it */
	struct strv needed;
	struct strv undef;	/* imports; weak ones left out */
	struct strset defs;	/* what it defines */
	struct strv verdef;	/* version names it defines */
	struct strv vn_file, vn_ver;	/* versions it needs (not weak) */
};

/* Facts about the program's own file. */
struct elfinfo {
	int cls, machine, type;
	bool has_interp, has_dynamic, has_shdrs, pie;
	char interp[PATH_MAX];
	const char *go;		/* why it is a Go binary, or NULL */
};

static struct obj **objs;
static size_t nobjs;
static char *gmp_lib_path;	/* the libgmp.so gmp-run would preload */

static const char *machine_name(int m)
{
	switch (m) {
	case EM_386:		return "Intel 80386 (32-bit x86)";
	case EM_X86_64:		return "x86-64";
	case EM_ARM:		return "ARM (32-bit)";
	case EM_AARCH64:	return "AArch64";
	case EM_RISCV:		return "RISC-V";
	case EM_PPC:		return "PowerPC";
	case EM_PPC64:		return "PowerPC64";
	case EM_S390:		return "IBM S/390";
	case EM_MIPS:		return "MIPS";
	default:		return "another machine";
	}
}

static bool go_section(const char *name)
{
	return strcmp(name, ".go.buildinfo") == 0 ||
	       strcmp(name, ".gopclntab") == 0 ||
	       strcmp(name, ".note.go.buildid") == 0 ||
	       strcmp(name, ".gosymtab") == 0;
}

static void read_dynsym(Elf *e, Elf_Scn *scn, const GElf_Shdr *sh,
			struct obj *o, struct elfinfo *fi)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t n = sh->sh_entsize != 0 ? sh->sh_size / sh->sh_entsize : 0;

	for (size_t i = 1; d != NULL && i < n; i++) {
		GElf_Sym s;
		const char *name;
		int bind;

		if (gelf_getsym(d, (int)i, &s) == NULL)
			break;
		name = elf_strptr(e, sh->sh_link, s.st_name);
		if (name == NULL || *name == '\0')
			continue;
		bind = GELF_ST_BIND(s.st_info);
		if (bind == STB_LOCAL)
			continue;
		if (s.st_shndx == SHN_UNDEF) {
			if (bind != STB_WEAK)
				strv_push(&o->undef, name);
		} else {
			set_add(&o->defs, name);
		}
		/* cgo's hooks between Go's runtime and the C one */
		if (fi != NULL && fi->go == NULL &&
		    (strncmp(name, "_cgo_", 5) == 0 ||
		     strncmp(name, "x_cgo_", 6) == 0 ||
		     strcmp(name, "crosscall2") == 0))
			fi->go = "cgo symbols";
	}
}

static void read_dynamic(Elf *e, Elf_Scn *scn, const GElf_Shdr *sh,
			 struct obj *o, struct elfinfo *fi)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t n = sh->sh_entsize != 0 ? sh->sh_size / sh->sh_entsize : 0;

	for (size_t i = 0; d != NULL && i < n; i++) {
		GElf_Dyn dyn;
		const char *s;

		if (gelf_getdyn(d, (int)i, &dyn) == NULL ||
		    dyn.d_tag == DT_NULL)
			break;
		switch (dyn.d_tag) {
		case DT_NEEDED:
		case DT_SONAME:
		case DT_RPATH:
		case DT_RUNPATH:
			s = elf_strptr(e, sh->sh_link, dyn.d_un.d_val);
			if (s == NULL)
				break;
			if (dyn.d_tag == DT_NEEDED)
				strv_push(&o->needed, s);
			else if (dyn.d_tag == DT_SONAME)
				o->soname = xstrdup(s);
			else if (dyn.d_tag == DT_RPATH)
				o->rpath = xstrdup(s);
			else
				o->runpath = xstrdup(s);
			break;
		case DT_FLAGS_1:
			if (dyn.d_un.d_val & DF_1_NODEFLIB)
				o->nodeflib = true;
			if ((dyn.d_un.d_val & DF_1_PIE) && fi != NULL)
				fi->pie = true;
			break;
		}
	}
	/* ld.so ignores DT_RPATH when there is a DT_RUNPATH */
	if (o->runpath != NULL) {
		free(o->rpath);
		o->rpath = NULL;
	}
}

static void read_verneed(Elf *e, Elf_Scn *scn, const GElf_Shdr *sh,
			 struct obj *o)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t off = 0;

	for (size_t i = 0; d != NULL && i < sh->sh_info; i++) {
		GElf_Verneed vn;
		const char *file;
		size_t aoff;

		if (gelf_getverneed(d, (int)off, &vn) == NULL)
			break;
		file = elf_strptr(e, sh->sh_link, vn.vn_file);
		aoff = off + vn.vn_aux;
		for (size_t j = 0; j < vn.vn_cnt; j++) {
			GElf_Vernaux va;
			const char *ver;

			if (gelf_getvernaux(d, (int)aoff, &va) == NULL)
				break;
			ver = elf_strptr(e, sh->sh_link, va.vna_name);
			if (file != NULL && ver != NULL &&
			    !(va.vna_flags & VER_FLG_WEAK)) {
				strv_push(&o->vn_file, file);
				strv_push(&o->vn_ver, ver);
			}
			if (va.vna_next == 0)
				break;
			aoff += va.vna_next;
		}
		if (vn.vn_next == 0)
			break;
		off += vn.vn_next;
	}
}

static void read_verdef(Elf *e, Elf_Scn *scn, const GElf_Shdr *sh,
			struct obj *o)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t off = 0;

	for (size_t i = 0; d != NULL && i < sh->sh_info; i++) {
		GElf_Verdef vd;
		GElf_Verdaux va;
		const char *name;

		if (gelf_getverdef(d, (int)off, &vd) == NULL)
			break;
		if (gelf_getverdaux(d, (int)(off + vd.vd_aux), &va) != NULL &&
		    (name = elf_strptr(e, sh->sh_link, va.vda_name)) != NULL)
			strv_push(&o->verdef, name);
		if (vd.vd_next == 0)
			break;
		off += vd.vd_next;
	}
}

/*
 * Read o->path into o. fi (may be NULL) gets the facts about the file
 * itself. Returns NULL, or why the file could not be read as ELF.
 */
static const char *read_obj(struct obj *o, struct elfinfo *fi)
{
	struct elfinfo dummy;
	const char *why = NULL;
	GElf_Ehdr eh;
	Elf_Scn *scn = NULL;
	size_t nph, shstrndx;
	uint64_t size;
	struct stat st;
	Elf *e;
	int fd;

	if (fi == NULL)
		fi = &dummy;
	memset(fi, 0, sizeof(*fi));
	fd = open(o->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) != 0) {
		why = strerror(errno);
		if (fd >= 0)
			close(fd);
		return why;
	}
	o->dev = st.st_dev;
	o->ino = st.st_ino;
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (e == NULL || elf_kind(e) != ELF_K_ELF ||
	    gelf_getehdr(e, &eh) == NULL) {
		why = e == NULL ? elf_errmsg(-1) : "not an ELF file";
		goto out;
	}
	fi->cls = gelf_getclass(e);
	fi->machine = eh.e_machine;
	fi->type = eh.e_type;
	if (fi->cls != ELFCLASS64 || fi->machine != EM_X86_64)
		goto out;	/* the caller says why */
	if (elf_getphdrnum(e, &nph) != 0)
		nph = 0;
	size = (uint64_t)st.st_size;
	if (size < eh.e_phoff + (uint64_t)nph * eh.e_phentsize ||
	    (eh.e_shoff != 0 &&
	     size < eh.e_shoff + (uint64_t)eh.e_shnum * eh.e_shentsize)) {
		why = "truncated: its headers lie past the end of the file";
		goto out;
	}
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		size_t raw_size;
		const char *raw;

		if (gelf_getphdr(e, (int)i, &ph) == NULL) {
			why = elf_errmsg(-1);
			goto out;
		}
		if (ph.p_type == PT_DYNAMIC)
			fi->has_dynamic = true;
		if (ph.p_type != PT_INTERP)
			continue;
		raw = elf_rawfile(e, &raw_size);
		fi->has_interp = true;
		if (raw != NULL && ph.p_offset < raw_size &&
		    ph.p_filesz <= raw_size - ph.p_offset &&
		    ph.p_filesz < sizeof(fi->interp)) {
			memcpy(fi->interp, raw + ph.p_offset, ph.p_filesz);
			fi->interp[ph.p_filesz] = '\0';
		}
	}
	if (elf_getshdrstrndx(e, &shstrndx) != 0)
		shstrndx = 0;
	while ((scn = elf_nextscn(e, scn)) != NULL) {
		GElf_Shdr sh;
		const char *name;

		if (gelf_getshdr(scn, &sh) == NULL)
			continue;
		fi->has_shdrs = true;
		name = shstrndx != 0 ? elf_strptr(e, shstrndx, sh.sh_name) :
				       NULL;
		if (name != NULL && fi->go == NULL && go_section(name))
			fi->go = name;
		switch (sh.sh_type) {
		case SHT_DYNSYM:
			read_dynsym(e, scn, &sh, o, fi);
			break;
		case SHT_DYNAMIC:
			read_dynamic(e, scn, &sh, o, fi);
			break;
		case SHT_GNU_verneed:
			read_verneed(e, scn, &sh, o);
			break;
		case SHT_GNU_verdef:
			read_verdef(e, scn, &sh, o);
			break;
		}
	}
out:
	if (e != NULL)
		elf_end(e);
	close(fd);
	return why;
}

/* Whether path is an ELF x86-64 shared object ld.so would take. */
static bool lib_matches(const char *path)
{
	unsigned char h[20];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	bool ok;

	if (fd < 0)
		return false;
	ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	     pread(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	     memcmp(h, ELFMAG, SELFMAG) == 0 && h[EI_CLASS] == ELFCLASS64 &&
	     h[EI_DATA] == ELFDATA2LSB && (h[18] | h[19] << 8) == EM_X86_64;
	close(fd);
	return ok;
}

/* ---- --check: finding libraries as ld.so does --------------------------- */

/* ld.so's system search path on Debian x86_64 (ld.so --help) */
static const char *const system_dirs[] = {
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib",
	"/usr/lib",
};

/* /etc/ld.so.cache (the "glibc-ld.so.cache1.1" format): x86-64 entries. */
static struct strv cache_key, cache_val;
static bool cache_read;

static void read_ld_cache(void)
{
	static const char magic[] = "glibc-ld.so.cache1.1";
	FILE *f;
	char *buf;
	long size;
	uint32_t nlibs;

	cache_read = true;
	f = fopen("/etc/ld.so.cache", "re");
	if (f == NULL)
		return;
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 48 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return;
	}
	buf = xmalloc((size_t)size + 1);
	if (fread(buf, 1, (size_t)size, f) != (size_t)size ||
	    memcmp(buf, magic, sizeof(magic) - 1) != 0)
		goto out;
	buf[size] = '\0';
	memcpy(&nlibs, buf + 20, 4);
	for (uint32_t i = 0; i < nlibs; i++) {
		size_t at = 48 + (size_t)i * 24;
		int32_t flags;
		uint32_t key, val;

		if (at + 24 > (size_t)size)
			break;
		memcpy(&flags, buf + at, 4);
		memcpy(&key, buf + at + 4, 4);
		memcpy(&val, buf + at + 8, 4);
		/* FLAG_ELF_LIBC6 | FLAG_X8664_LIB64 */
		if ((flags & 0xff) != 0x03 || (flags & 0xff00) != 0x0300 ||
		    key >= (size_t)size || val >= (size_t)size)
			continue;
		strv_push(&cache_key, buf + key);
		strv_push(&cache_val, buf + val);
	}
out:
	free(buf);
	fclose(f);
}

/* dir/name with $ORIGIN, $LIB and $PLATFORM expanded, into out. */
static bool expand(const char *dir, const struct obj *o, const char *name,
		   char *out, size_t size)
{
	static const struct {
		const char *var;
		size_t len;
	} vars[] = {
		{ "ORIGIN", 6 }, { "LIB", 3 }, { "PLATFORM", 8 },
	};
	size_t n = 0;

	for (const char *p = dir; *p != '\0';) {
		const char *val = NULL;
		size_t skip = 1, len;

		if (*p == '$') {
			bool brace = p[1] == '{';

			for (size_t i = 0; i < 3 && val == NULL; i++) {
				const char *v = p + 1 + brace;

				if (strncmp(v, vars[i].var, vars[i].len) != 0 ||
				    (brace && v[vars[i].len] != '}'))
					continue;
				if (!brace && (v[vars[i].len] == '_' ||
				    (v[vars[i].len] >= 'A' &&
				     v[vars[i].len] <= 'Z')))
					continue;
				skip = 1 + brace + vars[i].len + brace;
				val = i == 0 ? o->origin :
				      i == 1 ? "lib/x86_64-linux-gnu" :
					       "x86_64";
			}
		}
		if (val == NULL) {
			val = p;
			len = 1;
		} else {
			len = strlen(val);
		}
		if (n + len >= size)
			return false;
		memcpy(out + n, val, len);
		n += len;
		p += skip;
	}
	return (size_t)snprintf(out + n, size - n, "%s%s",
				n != 0 ? "/" : "", name) < size - n;
}

/* Try each directory of list (':' or ';' separated) for name. */
static char *search_list(const char *list, const struct obj *o,
			 const char *name)
{
	char *copy = xstrdup(list), *p = copy, *dir, path[PATH_MAX];

	while ((dir = strsep(&p, ":;")) != NULL) {
		/* an empty entry is the current directory */
		if (!expand(*dir != '\0' ? dir : ".", o, name, path,
			    sizeof(path)) || !lib_matches(path))
			continue;
		free(copy);
		return xstrdup(path);
	}
	free(copy);
	return NULL;
}

static char *find_needed(const char *name, struct obj *req)
{
	const char *llp = getenv("LD_LIBRARY_PATH");
	char path[PATH_MAX], *found;
	bool did_main = false;

	if (strchr(name, '/') != NULL)
		return lib_matches(name) ? xstrdup(name) : NULL;
	if (req->runpath == NULL) {
		for (struct obj *l = req; l != NULL; l = l->loader) {
			did_main |= l->kind == K_PROGRAM;
			if (l->rpath != NULL &&
			    (found = search_list(l->rpath, l, name)) != NULL)
				return found;
		}
		if (!did_main && objs[0]->rpath != NULL &&
		    (found = search_list(objs[0]->rpath, objs[0],
					 name)) != NULL)
			return found;
	}
	/* $ORIGIN in LD_LIBRARY_PATH is the program's directory */
	if (llp != NULL && *llp != '\0' &&
	    (found = search_list(llp, objs[0], name)) != NULL)
		return found;
	if (req->runpath != NULL &&
	    (found = search_list(req->runpath, req, name)) != NULL)
		return found;
	if (req->nodeflib)
		return NULL;
	if (!cache_read)
		read_ld_cache();
	for (size_t i = 0; i < cache_key.n; i++)
		if (strcmp(cache_key.v[i], name) == 0 &&
		    lib_matches(cache_val.v[i]))
			return xstrdup(cache_val.v[i]);
	for (size_t i = 0; i < sizeof(system_dirs) / sizeof(*system_dirs);
	     i++) {
		snprintf(path, sizeof(path), "%s/%s", system_dirs[i], name);
		if (lib_matches(path))
			return xstrdup(path);
	}
	return NULL;
}

static struct obj *new_obj(enum obj_kind kind, const char *name,
			   const char *path, struct obj *loader)
{
	struct obj *o = calloc(1, sizeof(*o));
	char *copy;

	if (o == NULL)
		die("out of memory");
	o->kind = kind;
	o->name = xstrdup(name);
	o->path = xstrdup(path);
	copy = xstrdup(path);
	o->origin = xstrdup(dirname(copy));
	free(copy);
	o->loader = loader;
	objs = realloc(objs, (nobjs + 1) * sizeof(*objs));
	if (objs == NULL)
		die("out of memory");
	objs[nobjs++] = o;
	return o;
}

/* The object already loaded for a DT_NEEDED name or file, or NULL. */
static struct obj *loaded(const char *name, const char *path)
{
	struct stat st;
	bool have_st = path != NULL && stat(path, &st) == 0;

	for (size_t i = 0; i < nobjs; i++) {
		struct obj *o = objs[i];

		if (name != NULL && (strcmp(o->name, name) == 0 ||
		    (o->soname != NULL && strcmp(o->soname, name) == 0)))
			return o;
		if (have_st && o->dev == st.st_dev && o->ino == st.st_ino)
			return o;
	}
	return NULL;
}

/* The short name of an object, for messages. */
static const char *short_name(const struct obj *o)
{
	return o->kind == K_NEEDED ? o->name : o->path;
}

/* ---- --check: what the report says -------------------------------------- */

/* Blocking libc functions libgmp does not interpose (if it does now, its
 * dynamic symbol table says so and they are left out). */
static const struct {
	const char *name, *what;
} blocking[] = {
	{ "__read_chk", "fortified read" },
	{ "__pread_chk", "fortified pread" },
	{ "__pread64_chk", "fortified pread64" },
	{ "__recv_chk", "fortified recv" },
	{ "__recvfrom_chk", "fortified recvfrom" },
	{ "__poll_chk", "fortified poll" },
	{ "__ppoll_chk", "fortified ppoll" },
	{ "__open_2", "fortified open: opening a FIFO waits" },
	{ "__open64_2", "fortified open64: opening a FIFO waits" },
	{ "__openat_2", "fortified openat: opening a FIFO waits" },
	{ "__openat64_2", "fortified openat64: opening a FIFO waits" },
	{ "preadv2", "vectored I/O" },
	{ "pwritev2", "vectored I/O" },
	{ "preadv64", "vectored I/O" },
	{ "pwritev64", "vectored I/O" },
	{ "preadv64v2", "vectored I/O" },
	{ "pwritev64v2", "vectored I/O" },
	{ "epoll_pwait2", "epoll wait" },
	{ "mq_receive", "POSIX message queue" },
	{ "mq_timedreceive", "POSIX message queue" },
	{ "mq_send", "POSIX message queue" },
	{ "mq_timedsend", "POSIX message queue" },
	{ "msync", "writes mapped pages to disk" },
	{ "sync", "flushes the file systems" },
	{ "syncfs", "flushes a file system" },
	{ "sync_file_range", "writes file pages to disk" },
	{ "aio_suspend", "waits for POSIX AIO" },
	{ "aio_suspend64", "waits for POSIX AIO" },
	{ "pclose", "glibc waits for the child itself" },
};

/* Imports that work, but partly outside libgmp (README: Limitations). */
static const struct {
	const char *name;
	bool threads_only;	/* harmless in a program with one thread */
	const char *why;
} partly[] = {
	{ "gettid", true, "returns the id of the kernel thread running the "
			  "thread, which threads share over time under "
			  "libgmp" },
	{ "aio_read", false, "POSIX AIO: glibc's own helper threads run "
			     "outside libgmp, and a futex shared with them is "
			     "not woken" },
	{ "aio_write", false, "POSIX AIO: glibc's own helper threads run "
			      "outside libgmp, and a futex shared with them "
			      "is not woken" },
	{ "lio_listio", false, "POSIX AIO: glibc's own helper threads run "
			       "outside libgmp, and a futex shared with them "
			       "is not woken" },
	{ "mq_notify", false, "glibc's own notification thread runs outside "
			      "libgmp, and a futex shared with it is not "
			      "woken" },
};

/* Libraries that bring a threading runtime of their own. */
static const struct {
	const char *prefix;
	enum level level;
	const char *why;
} runtimes[] = {
	{ "libgo.so", L_ERROR, "gccgo's Go runtime: it schedules goroutines "
			       "itself; libgmp does not support it" },
	{ "libdispatch.so", L_WARNING, "libdispatch runs its own thread pool "
				       "on top of pthreads; not tested under "
				       "libgmp" },
	{ "libjli.so", L_WARNING, "a Java launcher: the JVM manages its "
				  "threads and signals itself; not tested "
				  "under libgmp" },
	{ "libjvm.so", L_WARNING, "the JVM manages its threads and signals "
				  "itself; not tested under libgmp" },
};

/* Set-user-ID, set-group-ID and file capabilities: ld.so's secure mode. */
static void check_secure(const char *path, const struct stat *st)
{
	struct statvfs vfs;
	bool suid = st->st_mode & S_ISUID;
	bool sgid = (st->st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP);
	bool caps = getxattr(path, "security.capability", NULL, 0) >= 0;

	if (!suid && !sgid && !caps)
		return;
	if (statvfs(path, &vfs) == 0 && (vfs.f_flag & ST_NOSUID)) {
		finding(L_INFO, "setuid, setgid and capabilities ignored: %s "
			"is on a nosuid mount", path);
		return;
	}
	if (suid && st->st_uid != getuid())
		finding(L_ERROR, "setuid: owned by uid %u, run by uid %u: the "
			"loader runs it in secure mode and ignores LD_PRELOAD "
			"(it would preload only a setuid library from a "
			"system directory, named without a '/')",
			(unsigned)st->st_uid, (unsigned)getuid());
	else if (suid)
		finding(L_WARNING, "setuid: owned by uid %u, which you are: "
			"LD_PRELOAD works when you run it, but the loader "
			"ignores it when another user does",
			(unsigned)st->st_uid);
	if (sgid && st->st_gid != getgid())
		finding(L_ERROR, "setgid: group %u, run with group %u: the "
			"loader runs it in secure mode and ignores LD_PRELOAD",
			(unsigned)st->st_gid, (unsigned)getgid());
	else if (sgid)
		finding(L_WARNING, "setgid: group %u, which is yours: "
			"LD_PRELOAD works when you run it, but not when a "
			"user of another group does", (unsigned)st->st_gid);
	if (caps && getuid() != 0)
		finding(L_ERROR, "file capabilities (security.capability): the "
			"loader runs it in secure mode and ignores LD_PRELOAD");
	else if (caps)
		finding(L_WARNING, "file capabilities (security.capability): "
			"LD_PRELOAD works when root runs it, but the loader "
			"ignores it for other users");
}

/* Load the preloads and every DT_NEEDED, breadth first; false if a
 * library is missing. */
static bool load_all(const char *gmp_lib)
{
	const char *pre = getenv("LD_PRELOAD");
	bool complete = true;
	char *copy, *tok, *save;
	struct obj *o;
	const char *why;

	o = new_obj(K_PRELOAD, gmp_lib, gmp_lib, NULL);
	o->is_gmp = true;
	if ((why = read_obj(o, NULL)) != NULL)
		die("%s: %s", gmp_lib, why);
	finding(L_INFO, "preload %s (libgmp)", gmp_lib);
	copy = xstrdup(pre != NULL ? pre : "");
	for (tok = strtok_r(copy, " :", &save); tok != NULL;
	     tok = strtok_r(NULL, " :", &save)) {
		char *path = strchr(tok, '/') != NULL ? xstrdup(tok) :
			     find_needed(tok, objs[0]);

		if (path == NULL || !lib_matches(path)) {
			finding(L_WARNING, "LD_PRELOAD entry %s: not found "
				"(ld.so says so and goes on)", tok);
		} else if (loaded(NULL, path) == NULL) {
			o = new_obj(K_PRELOAD, tok, path, objs[0]);
			if ((why = read_obj(o, NULL)) != NULL)
				finding(L_WARNING, "LD_PRELOAD entry %s: %s",
					path, why);
			else
				finding(L_INFO, "preload %s", path);
		}
		free(path);
	}
	free(copy);
	for (size_t i = 0; i < nobjs; i++) {
		struct obj *req = objs[i];

		for (size_t j = 0; j < req->needed.n; j++) {
			const char *name = req->needed.v[j];
			char *path;

			if (loaded(name, NULL) != NULL)
				continue;
			path = find_needed(name, req);
			if (path == NULL) {
				finding(L_ERROR, "missing library: %s (needed "
					"by %s)", name, short_name(req));
				complete = false;
				continue;
			}
			if (loaded(NULL, path) == NULL) {
				o = new_obj(K_NEEDED, name, path, req);
				why = read_obj(o, NULL);
				if (why != NULL) {
					finding(L_ERROR, "library %s: %s",
						path, why);
					complete = false;
				} else {
					finding(L_INFO, "library %s => %s",
						name, path);
				}
			}
			free(path);
		}
	}
	return complete;
}

/* Versions each object needs must be defined by the library named. */
static void check_versions(void)
{
	for (size_t i = 0; i < nobjs; i++) {
		struct obj *o = objs[i];

		for (size_t j = 0; j < o->vn_file.n; j++) {
			struct obj *lib = loaded(o->vn_file.v[j], NULL);
			bool have = false;

			if (lib == NULL || lib->verdef.n == 0)
				continue;
			for (size_t k = 0; k < lib->verdef.n && !have; k++)
				have = strcmp(lib->verdef.v[k],
					      o->vn_ver.v[j]) == 0;
			if (!have)
				finding(L_ERROR, "missing version: %s of %s "
					"(needed by %s)", o->vn_ver.v[j],
					lib->path, short_name(o));
		}
	}
}

/* Imports no loaded object defines. */
static void check_symbols(void)
{
	for (size_t i = 0; i < nobjs; i++) {
		struct obj *o = objs[i];
		struct strv miss = { 0 };
		char *line = NULL;
		size_t len = 0;
		FILE *f;

		for (size_t j = 0; j < o->undef.n; j++) {
			bool have = false;

			for (size_t k = 0; k < nobjs && !have; k++)
				have = set_has(&objs[k]->defs, o->undef.v[j]);
			if (!have)
				strv_push(&miss, o->undef.v[j]);
		}
		if (miss.n == 0)
			continue;
		f = open_memstream(&line, &len);
		if (f == NULL)
			die("out of memory");
		for (size_t j = 0; j < miss.n; j++)
			fprintf(f, "%s%s", j != 0 ? ", " : "", miss.v[j]);
		fclose(f);
		finding(L_ERROR, "missing symbols in %s: %s (%zu)",
			short_name(o), line, miss.n);
		free(line);
	}
}

/* What runs at G level, what does not, what is partly outside libgmp. */
static void report_imports(void)
{
	struct strset imports = { 0 }, interposed = { 0 };
	struct strv g = { 0 };
	const struct obj *gmp = NULL;
	char *line = NULL;
	size_t len = 0;
	bool threads;
	FILE *f;

	for (size_t i = 0; i < nobjs; i++) {
		if (objs[i]->is_gmp) {
			gmp = objs[i];
			continue;
		}
		for (size_t j = 0; j < objs[i]->undef.n; j++)
			set_add(&imports, objs[i]->undef.v[j]);
	}
	for (size_t i = 0; gmp != NULL && i < gmp->defs.cap; i++) {
		const char *s = gmp->defs.slot[i];

		if (s != NULL && strncmp(s, "gmpsched_", 9) != 0)
			set_add(&interposed, s);
	}
	for (size_t i = 0; i < imports.cap; i++)
		if (imports.slot[i] != NULL &&
		    set_has(&interposed, imports.slot[i]))
			strv_push(&g, imports.slot[i]);
	if (g.n != 0)
		qsort(g.v, g.n, sizeof(*g.v), cmp_str);
	f = open_memstream(&line, &len);
	if (f == NULL)
		die("out of memory");
	for (size_t i = 0; i < g.n; i++)
		fprintf(f, "%s%s", i != 0 ? ", " : "", g.v[i]);
	fclose(f);
	finding(L_OK, "G level: %s (%zu functions)", g.n != 0 ? line : "none",
		g.n);
	free(line);

	threads = set_has(&imports, "pthread_create") ||
		  set_has(&imports, "thrd_create");
	if (threads)
		finding(L_INFO, "threads: %s is imported",
			set_has(&imports, "pthread_create") ? "pthread_create" :
							      "thrd_create");
	else
		finding(L_INFO, "threads: nothing imports pthread_create or "
			"thrd_create (one thread, unless a library loaded at "
			"run time starts more)");
	if (set_has(&imports, "dlopen") || set_has(&imports, "dlmopen"))
		finding(L_INFO, "dlopen is imported: libraries loaded at run "
			"time are not checked");

	/* With one thread there is no other thread to keep waiting. */
	for (size_t i = 0; i < sizeof(blocking) / sizeof(*blocking); i++) {
		if (!set_has(&imports, blocking[i].name) ||
		    set_has(&interposed, blocking[i].name))
			continue;
		if (threads)
			finding(L_SYSCALL, "%s (%s) is not interposed: a "
				"plain system call that holds its kernel "
				"thread while it blocks (the monitor hands its "
				"P on)",
				blocking[i].name, blocking[i].what);
		else
			finding(L_INFO, "one thread: %s (%s) is not "
				"interposed, which does not matter here",
				blocking[i].name, blocking[i].what);
	}
	for (size_t i = 0; i < sizeof(partly) / sizeof(*partly); i++) {
		if (!set_has(&imports, partly[i].name))
			continue;
		if (partly[i].threads_only && !threads)
			finding(L_INFO, "one thread: %s is imported, which "
				"does not matter here", partly[i].name);
		else
			finding(L_WARNING, "%s: %s", partly[i].name,
				partly[i].why);
	}
}

static void check_elf(const char *path, const struct stat *st)
{
	struct elfinfo fi;
	struct obj *prog = new_obj(K_PROGRAM, path, path, NULL);
	const char *why = read_obj(prog, &fi), *base;
	char *real;
	bool complete;

	real = realpath(path, NULL);
	if (real != NULL) {
		free(prog->origin);
		prog->origin = dirname(real);
	}
	if (why != NULL) {
		finding(L_ERROR, "%s: not a readable ELF file: %s", path, why);
		return;
	}
	finding(L_INFO, "program %s: %s ELF for %s%s", path,
		fi.cls == ELFCLASS64 ? "64-bit" : "32-bit",
		machine_name(fi.machine),
		fi.type != ET_DYN || fi.machine != EM_X86_64 ? "" :
		fi.has_interp ? ", PIE" : ", position-independent");
	if (fi.cls != ELFCLASS64 || fi.machine != EM_X86_64) {
		finding(L_ERROR, "%s ELF for %s: libgmp runs only x86-64 "
			"(64-bit) programs", fi.cls == ELFCLASS32 ? "32-bit" :
			"64-bit", machine_name(fi.machine));
		return;
	}
	if (fi.type != ET_EXEC && fi.type != ET_DYN) {
		finding(L_ERROR, "not a program: an ELF %s",
			fi.type == ET_REL ? "relocatable object (.o)" :
			fi.type == ET_CORE ? "core file" :
					     "file of unknown type");
		return;
	}
	if (fi.go != NULL) {
		finding(L_ERROR, "Go binary (%s): Go has its own M:N runtime, "
			"which libgmp does not support", fi.go);
		return;
	}
	if (!fi.has_interp) {
		if (fi.type == ET_DYN && fi.has_dynamic && !fi.pie &&
		    prog->soname != NULL)
			finding(L_ERROR, "a shared library (%s), not a "
				"program", prog->soname);
		else
			finding(L_ERROR, "static%s binary (no PT_INTERP): the "
				"kernel starts it without the dynamic loader, "
				"so LD_PRELOAD has no effect",
				fi.type == ET_DYN ? "-pie" : "");
		return;
	}
	base = strrchr(fi.interp, '/');
	base = base != NULL ? base + 1 : fi.interp;
	if (strcmp(base, "ld-linux-x86-64.so.2") != 0) {
		finding(L_ERROR, "interpreter %s is not glibc's: libgmp needs "
			"glibc (2.34 or later)", fi.interp);
		return;
	}
	if (!fi.has_shdrs)
		finding(L_WARNING, "no section headers: its imports cannot "
			"be read, so they are not checked");
	check_secure(path, st);
	if (!lib_matches(fi.interp)) {
		finding(L_ERROR, "interpreter %s not found", fi.interp);
	} else {
		struct obj *ld = new_obj(K_INTERP, fi.interp, fi.interp, NULL);

		if (read_obj(ld, NULL) == NULL)
			finding(L_INFO, "interpreter %s", fi.interp);
	}
	complete = load_all(gmp_lib_path);
	for (size_t i = 0; i < nobjs; i++) {
		const char *name = objs[i]->soname != NULL ? objs[i]->soname :
				   objs[i]->name;
		const char *b = strrchr(name, '/');

		b = b != NULL ? b + 1 : name;
		for (size_t j = 0; j < sizeof(runtimes) / sizeof(*runtimes);
		     j++)
			if (strncmp(b, runtimes[j].prefix,
				    strlen(runtimes[j].prefix)) == 0)
				finding(runtimes[j].level, "%s: %s", b,
					runtimes[j].why);
		if (strcmp(b, "libc.so.6") == 0 && objs[i]->verdef.n != 0) {
			bool new_enough = false;

			for (size_t k = 0; k < objs[i]->verdef.n; k++)
				new_enough |= strcmp(objs[i]->verdef.v[k],
						     "GLIBC_2.34") == 0;
			if (!new_enough)
				finding(L_ERROR, "%s is older than glibc 2.34, "
					"which libgmp needs", objs[i]->path);
		}
	}
	if (complete) {
		check_versions();
		check_symbols();
	} else {
		finding(L_INFO, "versions and symbols not checked: a library "
			"is missing");
	}
	report_imports();
}

/* ---- --check: the file PROG is ------------------------------------------ */

/* name looked up on PATH as execvp does; NULL if not found. */
static char *path_lookup(const char *name)
{
	const char *path = getenv("PATH");
	char *copy, *p, *dir, buf[PATH_MAX];
	struct stat st;

	if (strchr(name, '/') != NULL)
		return xstrdup(name);
	if (*name == '\0')
		return NULL;
	copy = xstrdup(path != NULL ? path : "/bin:/usr/bin");
	for (p = copy; (dir = strsep(&p, ":")) != NULL;) {
		if ((size_t)snprintf(buf, sizeof(buf), "%s/%s",
				     *dir != '\0' ? dir : ".", name) >=
		    sizeof(buf))
			continue;
		if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(buf, X_OK) == 0) {
			free(copy);
			return xstrdup(buf);
		}
	}
	free(copy);
	return NULL;
}

static void check_file(const char *path, int depth);

/* A #! script: check the program that runs it. */
static void check_script(const char *path, char *line, int depth)
{
	char *interp, *arg, *end, *cmd = NULL, *found;
	const char *base;

	line[strcspn(line, "\n")] = '\0';
	interp = line + 2 + strspn(line + 2, " \t");
	end = interp + strcspn(interp, " \t");
	arg = end + strspn(end, " \t");
	*end = '\0';
	/* the kernel passes the rest as one argument */
	for (end = arg + strlen(arg); end > arg && (end[-1] == ' ' ||
	     end[-1] == '\t' || end[-1] == '\r'); end--)
		*(end - 1) = '\0';
	if (*interp == '\0') {
		finding(L_ERROR, "script %s: no interpreter on its #! line",
			path);
		return;
	}
	finding(L_INFO, "script: %s runs %s%s%s (its #! line)", path, interp,
		*arg != '\0' ? " " : "", arg);
	if (depth >= 4) {
		finding(L_ERROR, "too many levels of #! interpreters");
		return;
	}
	if (access(interp, X_OK) != 0) {
		finding(L_ERROR, "script interpreter %s: %s", interp,
			strerror(errno));
		return;
	}
	base = strrchr(interp, '/');
	base = base != NULL ? base + 1 : interp;
	if (strcmp(base, "env") == 0) {
		/* env [-S] [-OPTION]... [NAME=VALUE]... COMMAND */
		for (char *w = strtok(arg, " \t"); w != NULL;
		     w = strtok(NULL, " \t")) {
			if (*w == '-' || strchr(w, '=') != NULL)
				continue;
			cmd = w;
			break;
		}
		if (cmd == NULL) {
			finding(L_WARNING, "env on the #! line with no command "
				"named: only env itself is checked");
			check_file(interp, depth + 1);
			return;
		}
		found = path_lookup(cmd);
		if (found == NULL) {
			finding(L_ERROR, "script interpreter %s: not found on "
				"PATH", cmd);
			return;
		}
		finding(L_INFO, "script: env runs %s", found);
		check_file(found, depth + 1);
		free(found);
		return;
	}
	check_file(interp, depth + 1);
}

static void check_file(const char *path, int depth)
{
	char buf[257];
	struct stat st;
	ssize_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0 || fstat(fd, &st) != 0 ||
	    (S_ISREG(st.st_mode) && (n = read(fd, buf, 256)) < 0)) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		if (depth == 0)
			die("%s: %s", path, strerror(err));
		finding(L_ERROR, "%s: %s", path, strerror(err));
		return;
	}
	close(fd);
	if (!S_ISREG(st.st_mode)) {
		if (depth == 0 && S_ISDIR(st.st_mode))
			die("%s: %s", path, strerror(EISDIR));
		finding(L_ERROR, "%s: not a regular file", path);
		return;
	}
	buf[n] = '\0';
	if (access(path, X_OK) != 0)
		finding(L_ERROR, "%s: not executable (%s)", path,
			strerror(errno));
	if (n >= SELFMAG && memcmp(buf, ELFMAG, SELFMAG) == 0) {
		check_elf(path, &st);
	} else if (n >= 2 && buf[0] == '#' && buf[1] == '!') {
		check_script(path, buf, depth);
	} else if (memchr(buf, '\0', (size_t)n) != NULL) {
		finding(L_ERROR, "%s: not an ELF file or a script: nothing "
			"that LD_PRELOAD applies to", path);
	} else {
		/* execvp gives a file the kernel refuses to /bin/sh */
		finding(L_WARNING, "%s: not an ELF file and no #! line: "
			"execvp runs it with /bin/sh", path);
		if (depth < 4)
			check_file("/bin/sh", depth + 1);
	}
}

static int run_check(const char *prog, const char *argv0)
{
	char *path = path_lookup(prog);
	int rc;

	if (path == NULL)
		die("%s: not found", prog);
	if (elf_version(EV_CURRENT) == EV_NONE)
		die("libelf: %s", elf_errmsg(-1));
	gmp_lib_path = find_lib(argv0);
	check_file(path, 0);
	rc = worst == L_ERROR ? CHECK_UNSUP :
	     worst >= L_SYSCALL ? CHECK_WARN : CHECK_OK;
	printf("verdict: %s\n", rc == CHECK_UNSUP ? "unsupported" :
				   rc == CHECK_WARN ? "warnings" : "ok");
	if (fflush(stdout) != 0 || ferror(stdout))
		die("writing the report: %s", strerror(errno));
	free(path);
	return rc;
}

int main(int argc, char **argv)
{
	int first = parse(argc, argv);
	const char *prog = argv[first];
	char *lib;

	if (check_mode)
		return run_check(prog, argv[0]);
	lib = find_lib(argv[0]);
	set_preload(lib);
	free(lib);
	execvp(prog, argv + first);
	int err = errno;
	fprintf(stderr, "%s: %s: %s\n", progname, prog, strerror(err));
	return err == ENOENT || err == ENOTDIR ? EXIT_NOTFOUND : EXIT_NOEXEC;
}
