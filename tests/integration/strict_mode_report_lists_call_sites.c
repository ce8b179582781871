/*
 * GMP_STRICT=report lists each call site of a blocking call libgmp did
 * not see once, and nothing else. The test runs itself as a child
 * (posix_spawn of /proc/self/exe, LD_PRELOAD and GMP_STRICT=report
 * inherited: the child of a strict-mode process loads a filter of its
 * own) with its stderr on a pipe. The child reads from two sites, three
 * times each, from the main thread and from another thread: site_inline
 * with an inline `syscall` instruction, site_stdio with fgets on an
 * unbuffered FILE (glibc's internal read, found by unwinding glibc's
 * frames). Under libgmp the child's stderr must be exactly one line for
 * each site, "libgmp: strict: read from site_...+0x... (program)";
 * natively it is empty.
 */
/* env: GMP_STRICT=report */
#include "check.h"

#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>

extern char **environ;

#if !defined(__x86_64__)
int main(void)
{
	SKIP("the inline system call is x86_64 code");
}
#else
#define CALLS 3

static int data[2], lines[2];
static FILE *in;

static __attribute__((noinline, noclone)) int site_inline(void)
{
	long r;
	char c;

	do {
		__asm__ volatile("syscall"
				 : "=a"(r)
				 : "a"(SYS_read), "D"(data[0]), "S"(&c), "d"(1)
				 : "rcx", "r11", "memory");
	} while (r == -EINTR);
	return r == 1 ? c : -1;
}

static __attribute__((noinline, noclone)) int site_stdio(void)
{
	char buf[16];

	if (!fgets(buf, sizeof buf, in))
		return -1;
	return (int)strlen(buf);
}

static void calls(void)
{
	for (int k = 0; k < CALLS; k++) {
		CHECK_INT(site_inline(), ==, 'a' + k);
		CHECK_INT(site_stdio(), ==, 2);
	}
}

static void *thread_calls(void *arg)
{
	(void)arg;
	calls();
	return NULL;
}

static int child(void)
{
	static const char bytes[] = "abcabc", text[] = "x\ny\nz\nx\ny\nz\n";
	pthread_t t;

	CHECK_SYS(pipe(data));
	CHECK_SYS(pipe(lines));
	CHECK_INT(write(data[1], bytes, 6), ==, 6);
	CHECK_INT(write(lines[1], text, 12), ==, 12);
	in = fdopen(lines[0], "r");
	CHECK(in != NULL);
	CHECK_OK(setvbuf(in, NULL, _IONBF, 0));
	calls();
	CHECK_OK(pthread_create(&t, NULL, thread_calls, NULL));
	CHECK_OK(pthread_join(t, NULL));
	CHECK_SYS(fclose(in));
	return T_PASS;
}

/* The child's stderr, whole. */
static size_t run_child(char *out, size_t size)
{
	char *argv[] = { "strict_mode_report_lists_call_sites", "child", NULL };
	posix_spawn_file_actions_t fa;
	int err[2], st;
	pid_t pid;
	size_t n = 0;

	CHECK_SYS(pipe(err));
	CHECK_OK(posix_spawn_file_actions_init(&fa));
	CHECK_OK(posix_spawn_file_actions_adddup2(&fa, err[1], 2));
	CHECK_OK(posix_spawn_file_actions_addclose(&fa, err[0]));
	CHECK_OK(posix_spawn_file_actions_addclose(&fa, err[1]));
	CHECK_OK(posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv,
			     environ));
	CHECK_OK(posix_spawn_file_actions_destroy(&fa));
	CHECK_SYS(close(err[1]));
	for (;;) {
		ssize_t r = read(err[0], out + n, size - 1 - n);
		CHECK_SYS(r);
		if (r == 0)
			break;
		n += (size_t)r;
		CHECK(n < size - 1);
	}
	out[n] = 0;
	CHECK_SYS(close(err[0]));
	CHECK_INT(waitpid(pid, &st, 0), ==, pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		FAIL("child: status 0x%x, stderr:\n%s", st, out);
	return n;
}

int main(int argc, char **argv)
{
	char out[8192], *line, *save;
	int inline_seen = 0, stdio_seen = 0;

	if (argc > 1 && strcmp(argv[1], "child") == 0)
		return child();
	size_t n = run_child(out, sizeof out);
	if (!t_under_libgmp()) {
		if (n)
			FAIL("natively the child printed:\n%s", out);
		return T_PASS;
	}
	if (strstr(out, "strict mode off"))
		SKIP("%s", strtok(out, "\n"));
	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "libgmp: strict: read from ", 26) != 0 ||
		    !strstr(line, "strict_mode_report_lists_call_sites)"))
			FAIL("unexpected line: %s", line);
		if (strstr(line, " from site_inline"))
			inline_seen++;
		else if (strstr(line, " from site_stdio"))
			stdio_seen++;
		else
			FAIL("a site that is not the child's: %s", line);
	}
	CHECK_INT(inline_seen, ==, 1);
	CHECK_INT(stdio_seen, ==, 1);
	return T_PASS;
}
#endif
