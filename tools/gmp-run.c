/*
 * gmp-run: run a program with libgmp preloaded.
 *
 *	gmp-run [-p N] [--stats] [--debug] [--] prog [args...]
 *
 * It sets the GMP_* variables its options name, puts the absolute path of
 * libgmp.so first in LD_PRELOAD and execs prog, so prog and everything it
 * execs in turn run under libgmp. The library is looked up next to this
 * executable (the build tree: build/gmp-run beside build/libgmp.so), then
 * in ../lib/gmpsched/ (the install tree: bin/gmp-run, lib/gmpsched/). It is
 * never loaded into gmp-run itself, and no libgmp code runs here.
 *
 * LD_PRELOAD. ld.so splits it at spaces and colons, so a library path with
 * either cannot be preloaded and is refused. Entries already there stay,
 * after ours, except a copy of ours (dropped) and a sanitizer runtime, which
 * must come first in the link map and so stays first.
 *
 * Exit status: prog's; 125 if gmp-run itself fails (bad option, no
 * library); 126 if prog cannot be executed, 127 if it is not found, as
 * env(1) and the shell do.
 */
#ifndef _GNU_SOURCE
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#endif
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef GMP_RUN_VERSION
#define GMP_RUN_VERSION "unknown"
#endif

#define EXIT_GMPRUN	125	/* our own failure, as env(1) */
#define EXIT_NOEXEC	126
#define EXIT_NOTFOUND	127

static const char *progname = "gmp-run";

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
						     noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

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
	copy = strdup(old != NULL ? old : "");
	if (copy == NULL)
		die("out of memory");
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

/* A positive decimal integer that fits an int, or die. */
static const char *check_procs(const char *s)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		goto bad;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > INT_MAX)
		goto bad;
	return s;
bad:
	die("-p/--procs: '%s' is not a positive integer", s);
}

static void setvar(const char *name, const char *value)
{
	if (setenv(name, value, 1) != 0)
		die("cannot set %s: %s", name, strerror(errno));
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: %s [OPTION]... [--] PROGRAM [ARG]...\n"
"Run PROGRAM with libgmp preloaded: its pthreads become user-level threads\n"
"scheduled M:N on a few kernel threads. Its output should not change.\n"
"\n"
"  -p, --procs=N       run threads on N processors (GMP_MAXPROCS)\n"
"      --stats         a scheduler summary on stderr at exit (GMP_STATS=1)\n"
"      --debug         diagnostic lines on stderr (GMP_DEBUG=1)\n"
"  -h, --help          show this help and exit\n"
"      --version       show the version and exit\n"
"\n"
"Use -- before a PROGRAM whose name starts with '-'. The exit status is\n"
"PROGRAM's, 125 if gmp-run fails, 126 if PROGRAM cannot be executed and\n"
"127 if it is not found.\n", progname);
}

enum { OPT_STATS = 256, OPT_DEBUG, OPT_VERSION };

static const struct option options[] = {
	{ "procs", required_argument, NULL, 'p' },
	{ "stats", optional_argument, NULL, OPT_STATS },
	{ "debug", optional_argument, NULL, OPT_DEBUG },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

/* Parse the options into the environment; return the index of PROGRAM. */
static int parse(int argc, char **argv)
{
	int c;

	opterr = 0;	/* we word the messages */
	/* '+': stop at PROGRAM, whose own options are not ours. */
	while ((c = getopt_long(argc, argv, "+:hp:", options, NULL)) != -1) {
		switch (c) {
		case 'p':
			setvar("GMP_MAXPROCS", check_procs(optarg));
			break;
		case OPT_STATS:
			if (optarg != NULL && strcmp(optarg, "1") != 0)
				die("--stats takes no value in this version");
			setvar("GMP_STATS", "1");
			break;
		case OPT_DEBUG:
			if (optarg != NULL && strcmp(optarg, "1") != 0)
				die("--debug takes no value in this version");
			setvar("GMP_DEBUG", "1");
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
			die("unknown option '%s' (try --help)",
			    argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		exit(EXIT_GMPRUN);
	}
	return optind;
}

int main(int argc, char **argv)
{
	int first = parse(argc, argv);
	const char *prog = argv[first];
	char *lib = find_lib(argv[0]);

	set_preload(lib);
	free(lib);
	execvp(prog, argv + first);
	int err = errno;
	fprintf(stderr, "%s: %s: %s\n", progname, prog, strerror(err));
	return err == ENOENT || err == ENOTDIR ? EXIT_NOTFOUND : EXIT_NOEXEC;
}
