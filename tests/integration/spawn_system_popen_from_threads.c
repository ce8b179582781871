/*
 * posix_spawn, system and popen from several threads at once, each run
 * many times, while other threads keep a mutex busy: every child's exit
 * status and output come back to the thread that started it. A child
 * gets the signal mask of the thread that started it (each thread blocks
 * a different signal), an ignored signal stays ignored in it as
 * sigaction reports it (SIGWINCH; the child is this program again), and
 * it inherits LD_PRELOAD as it is. SIGURG, which libgmp preempts with,
 * is ignored too while all this runs (a spawned child gets it as
 * default under libgmp: documented).
 */
#include "check.h"

#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sys/wait.h>

#define NTHREADS 4
#define ROUNDS 5

extern char **environ;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int stop;
static long shared_count;

static void *busy(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		pthread_mutex_lock(&mu);
		shared_count++;
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

/* The hex SigBlk/SigIgn value of a child (grep itself, not a shell,
 * which may reset its mask), read through a pipe. */
static unsigned long long child_mask(const char *field)
{
	char pat[32], line[256];
	unsigned long long v = 0;
	posix_spawn_file_actions_t fa;
	int p[2], st;
	pid_t pid;

	snprintf(pat, sizeof pat, "^%s:", field);
	char *argv[] = { "grep", pat, "/proc/self/status", NULL };
	CHECK_SYS(pipe(p));
	CHECK_OK(posix_spawn_file_actions_init(&fa));
	CHECK_OK(posix_spawn_file_actions_adddup2(&fa, p[1], 1));
	CHECK_OK(posix_spawn_file_actions_addclose(&fa, p[0]));
	CHECK_OK(posix_spawnp(&pid, "grep", &fa, NULL, argv, environ));
	CHECK_OK(posix_spawn_file_actions_destroy(&fa));
	CHECK_SYS(close(p[1]));
	FILE *f = fdopen(p[0], "r");
	CHECK(f != NULL);
	CHECK(fgets(line, sizeof line, f) != NULL);
	CHECK(sscanf(line + strlen(field) + 1, "%llx", &v) == 1);
	fclose(f);
	CHECK_SYS(waitpid(pid, &st, 0));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return v;
}

static void *spawner(void *arg)
{
	int id = (int)(intptr_t)arg;
	int sig = SIGRTMIN + 2 + id;
	sigset_t s;
	char cmd[128], line[128], want[64];

	sigemptyset(&s);
	sigaddset(&s, sig);
	CHECK_OK(pthread_sigmask(SIG_BLOCK, &s, NULL));
	for (int r = 0; r < ROUNDS; r++) {
		int code = (id * ROUNDS + r) % 100;
		pid_t pid;
		int st;

		/* posix_spawn */
		snprintf(cmd, sizeof cmd, "exit %d", code);
		char *argv[] = { "sh", "-c", cmd, NULL };
		CHECK_OK(posix_spawn(&pid, "/bin/sh", NULL, NULL, argv,
				     environ));
		CHECK_SYS(waitpid(pid, &st, 0));
		CHECK(WIFEXITED(st));
		CHECK_INT(WEXITSTATUS(st), ==, code);

		/* system */
		snprintf(cmd, sizeof cmd, "exit %d", code + 1);
		st = system(cmd);
		CHECK(WIFEXITED(st));
		CHECK_INT(WEXITSTATUS(st), ==, code + 1);

		/* popen */
		snprintf(cmd, sizeof cmd, "echo out-%d-%d", id, r);
		snprintf(want, sizeof want, "out-%d-%d\n", id, r);
		FILE *f = popen(cmd, "r");
		CHECK(f != NULL);
		CHECK(fgets(line, sizeof line, f) != NULL);
		CHECK(strcmp(line, want) == 0);
		CHECK_INT(pclose(f), ==, 0);
	}
	/* the child's mask is this thread's */
	unsigned long long blk = child_mask("SigBlk");
	CHECK(blk & (1ull << (sig - 1)));
	for (int other = 0; other < NTHREADS; other++)
		if (other != id)
			CHECK(!(blk & (1ull << (SIGRTMIN + 2 + other - 1))));
	return NULL;
}

/* The child: exit 0 if SIGWINCH is ignored. */
static int report_ignored(void)
{
	struct sigaction a;

	if (sigaction(SIGWINCH, NULL, &a))
		return 2;
	return a.sa_handler == SIG_IGN ? 0 : 1;
}

int main(int argc, char **argv)
{
	pthread_t b[2], t[NTHREADS];

	if (argc == 2 && strcmp(argv[1], "--ignored") == 0)
		return report_ignored();

	CHECK(signal(SIGURG, SIG_IGN) != SIG_ERR);
	CHECK(signal(SIGWINCH, SIG_IGN) != SIG_ERR);
	for (int i = 0; i < 2; i++)
		CHECK_OK(pthread_create(&b[i], NULL, busy, NULL));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&t[i], NULL, spawner,
					(void *)(intptr_t)i));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		CHECK_OK(pthread_join(b[i], NULL));

	/* ignored signals stay ignored across exec: this program again,
	 * which reports what sigaction says (under libgmp /proc would show
	 * libgmp's own handler for SIGURG) */
	char *cargv[] = { "self", "--ignored", NULL };
	pid_t pid;
	int st;
	CHECK_OK(posix_spawn(&pid, "/proc/self/exe", NULL, NULL, cargv,
			     environ));
	CHECK_SYS(waitpid(pid, &st, 0));
	CHECK(WIFEXITED(st));
	CHECK_INT(WEXITSTATUS(st), ==, 0);

	/* the environment passes as it is */
	const char *pre = getenv("LD_PRELOAD");
	FILE *f = popen("printf '%s' \"$LD_PRELOAD\"", "r");
	char line[4096] = "";
	CHECK(f != NULL);
	if (!fgets(line, sizeof line, f))
		line[0] = 0;
	CHECK_INT(pclose(f), ==, 0);
	CHECK(strcmp(line, pre ? pre : "") == 0);
	puts("ok");
	return 0;
}
