/*
 * echo_server: a TCP echo server on 127.0.0.1 under load from C client
 * connections, the load coming from a separate, native process.
 *
 *	echo_server [threads|epoll] [C [D]]
 *			(mode default threads; C connections, default 100;
 *			 D ms measured, default 3000, after 1000 ms warm-up)
 *
 * "threads" is the classic thread-per-connection server: an acceptor
 * thread accepts and creates one thread per connection (64 KiB stack, so
 * that 10k native threads fit), which loops: recv a MSG-byte request with
 * blocking recv, send it back, until EOF. "epoll" is the hand-written
 * alternative to compare with: one thread per CPU, each with its own epoll
 * instance and non-blocking sockets, the acceptor handing connections out
 * round robin. Under LD_PRELOAD the epoll mode is only a baseline.
 *
 * The load comes from echo_load, found next to this program (the directory
 * of /proc/self/exe) and started with posix_spawn, with LD_PRELOAD removed
 * from its environment so that it always runs natively: one thread with
 * epoll, C connections, back-to-back round trips (see echo_load.c). It
 * reports on a pipe; this program prints, where <C> is the count as given
 * ("10k") and <m> is "" or "epoll_":
 *	RESULT echo_<m><C>_throughput <v> req_per_s	(round trips per s)
 *	RESULT echo_<m><C>_min_conn <n> reqs		(the fewest round trips
 *							 of any connection)
 * (The units have no '/', so that run.sh treats them as counts: higher is
 * better.) Exits 1 if the load generator fails: a connection not made
 * within 12 s, a wrong echo, a broken connection, or a connection that did
 * no round trip at all in the window (starved). A watchdog ends the
 * program (and the generator) after (1000 + D) / 1000 + 22 s.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "bench.h"

#define MSG		64
#define WARMUP_MS	1000

extern char **environ;

static int epoll_mode;
static int lfd;
static atomic_int stop;
static pthread_attr_t conn_attr;

/* Connections as accepted (threads: their thread ids; both: counts). */
static pthread_t *conn_tids;
static long nconn_tids, cap_tids, naccepted, create_failed;

/* epoll mode */
struct econn {
	int fd;
	unsigned got, sent;
	int out;		/* sending the echo, waiting for room */
	unsigned char buf[MSG];
};
static int nworkers, quit_fd;
static int *worker_ep;
static pthread_t *worker_tids;

static void *conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	unsigned char buf[MSG];

	for (;;) {
		size_t got = 0, sent = 0;

		while (got < MSG) {
			ssize_t n = recv(fd, buf + got, MSG - got, 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)	/* EOF, or a reset at the end */
				goto out;
			got += n;
		}
		while (sent < MSG) {
			ssize_t n = send(fd, buf + sent, MSG - sent,
					 MSG_NOSIGNAL);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				goto out;
			sent += n;
		}
	}
out:
	close(fd);
	return NULL;
}

static void econn_close(struct econn *c)
{
	close(c->fd);
	free(c);
}

static void econn_io(int ep, struct econn *c)
{
	struct epoll_event ev = { .data.ptr = c };
	ssize_t n;

	if (!c->out) {
		n = recv(c->fd, c->buf + c->got, MSG - c->got, 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			econn_close(c);
			return;
		}
		if (n < 0)
			return;
		c->got += n;
		if (c->got < MSG)
			return;
		c->sent = 0;
	}
	while (c->sent < MSG) {
		n = send(c->fd, c->buf + c->sent, MSG - c->sent,
			 MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (!c->out) {
				c->out = 1;
				ev.events = EPOLLOUT;
				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
			}
			return;
		}
		if (n <= 0) {
			econn_close(c);
			return;
		}
		c->sent += n;
	}
	c->got = 0;
	if (c->out) {
		c->out = 0;
		ev.events = EPOLLIN;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	}
}

static void *worker_main(void *arg)
{
	int ep = (int)(intptr_t)arg, quit = 0;
	struct epoll_event evs[256];

	while (!quit) {
		int n = epoll_wait(ep, evs, 256, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			bench_check(errno, "epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			if (!evs[i].data.ptr)
				quit = 1;
			else
				econn_io(ep, evs[i].data.ptr);
		}
	}
	return NULL;
}

static void *acceptor_main(void *arg)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), one = 1;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				struct timespec ts = { 0, 1000000 };

				nanosleep(&ts, NULL);
				continue;
			}
			if (!atomic_load(&stop))
				fprintf(stderr, "echo_server: accept: %s\n",
					strerror(errno));
			break;
		}
		if (atomic_load(&stop)) {	/* main's wake-up call */
			close(fd);
			break;
		}
		naccepted++;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (epoll_mode) {
			struct econn *c = calloc(1, sizeof(*c));
			struct epoll_event ev = { .events = EPOLLIN,
						  .data.ptr = c };

			if (!c) {
				close(fd);
				continue;
			}
			c->fd = fd;
			fcntl(fd, F_SETFL, O_NONBLOCK);
			if (epoll_ctl(worker_ep[naccepted % nworkers],
				      EPOLL_CTL_ADD, fd, &ev) != 0)
				bench_check(errno, "epoll_ctl");
			continue;
		}
		if (nconn_tids == cap_tids) {
			cap_tids = cap_tids ? 2 * cap_tids : 1024;
			conn_tids = realloc(conn_tids,
					    cap_tids * sizeof(*conn_tids));
			if (!conn_tids)
				bench_check(ENOMEM, "realloc");
		}
		int err = pthread_create(&conn_tids[nconn_tids], &conn_attr,
					 conn_main, (void *)(intptr_t)fd);

		if (err) {
			if (create_failed++ == 0)
				fprintf(stderr, "echo_server: pthread_create: "
					"%s (after %ld threads)\n",
					strerror(err), nconn_tids);
			close(fd);
			continue;
		}
		nconn_tids++;
	}
	return arg;
}

/* The load generator's path: echo_load in this program's directory. */
static void load_path(char *buf, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", buf, size - 16);
	char *slash;

	if (n < 0)
		bench_check(errno, "readlink /proc/self/exe");
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	strcpy(slash ? slash + 1 : buf, "echo_load");
}

static pid_t spawn_load(int port, long conns, long measure_ms, int *out)
{
	char path[PATH_MAX + 16], a_port[16], a_conns[24], a_warm[24],
		a_meas[24];
	char *args[] = { path, a_port, a_conns, a_warm, a_meas, NULL };
	posix_spawn_file_actions_t fa;
	char **env;
	long n = 0, i;
	int p[2], err;
	pid_t pid;

	load_path(path, sizeof(path));
	if (access(path, X_OK) != 0) {
		fprintf(stderr, "echo_server: %s: %s (it is built with the "
			"benchmarks)\n", path, strerror(errno));
		exit(1);
	}
	snprintf(a_port, sizeof(a_port), "%d", port);
	snprintf(a_conns, sizeof(a_conns), "%ld", conns);
	snprintf(a_warm, sizeof(a_warm), "%d", WARMUP_MS);
	snprintf(a_meas, sizeof(a_meas), "%ld", measure_ms);
	for (i = 0; environ[i]; i++)
		;
	env = calloc(i + 1, sizeof(*env));
	if (!env)
		bench_check(ENOMEM, "calloc");
	for (i = 0; environ[i]; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
			env[n++] = environ[i];
	env[n] = NULL;

	if (pipe2(p, O_CLOEXEC) != 0)
		bench_check(errno, "pipe2");
	bench_check(posix_spawn_file_actions_init(&fa),
		    "posix_spawn_file_actions_init");
	bench_check(posix_spawn_file_actions_adddup2(&fa, p[1], 1),
		    "posix_spawn_file_actions_adddup2");
	err = posix_spawn(&pid, path, &fa, NULL, args, env);
	bench_check(err, "posix_spawn echo_load");
	posix_spawn_file_actions_destroy(&fa);
	free(env);
	close(p[1]);
	*out = p[0];
	return pid;
}

/* Wake the acceptor from accept with one last connection of our own. */
static void stop_acceptor(pthread_t acceptor, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	atomic_store(&stop, 1);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		shutdown(lfd, SHUT_RDWR);
	bench_check(pthread_join(acceptor, NULL), "pthread_join acceptor");
	if (fd >= 0)
		close(fd);
}

int main(int argc, char **argv)
{
	long conns = 100, measure_ms = 3000, nargs = 0, ncpu;
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	static char wdmsg[128], out[1024];
	pthread_t acceptor;
	int one = 1, port, rfd, status;
	pid_t pid;

	for (int i = 1; i < argc; i++) {
		long v;

		if (bench_parse_count(argv[i], &v)) {
			if (nargs == 0)
				conns = v;
			else if (nargs == 1)
				measure_ms = v;
			else
				bench_usage(argv[0], "[threads|epoll] [C [D]]");
			nargs++;
		} else if (strcmp(argv[i], "threads") == 0) {
			epoll_mode = 0;
		} else if (strcmp(argv[i], "epoll") == 0) {
			epoll_mode = 1;
		} else {
			bench_usage(argv[0], "[threads|epoll] [C [D]]");
		}
	}
	/* Later than echo_load's own (12 + 5 s beyond the load). */
	long wd = (WARMUP_MS + measure_ms) / 1000 + 22;

	snprintf(wdmsg, sizeof(wdmsg), "echo_server: watchdog: not done "
		 "after %ld s\n", wd);
	bench_watchdog(wd, wdmsg);
	if (bench_raise_nofile(conns + 256) < conns + 64) {
		fprintf(stderr, "echo_server: RLIMIT_NOFILE too low for %ld "
			"connections\n", conns);
		return 1;
	}

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		bench_check(errno, "socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0)
		bench_check(errno, "bind");
	/* The kernel caps the backlog at net.core.somaxconn; echo_load keeps
	 * at most 256 connections unanswered, so 4096 or less is plenty. */
	if (listen(lfd, 65535) != 0)
		bench_check(errno, "listen");
	if (getsockname(lfd, (struct sockaddr *)&a, &alen) != 0)
		bench_check(errno, "getsockname");
	port = ntohs(a.sin_port);

	bench_check(pthread_attr_init(&conn_attr), "pthread_attr_init");
	bench_check(pthread_attr_setstacksize(&conn_attr, 64 * 1024),
		    "pthread_attr_setstacksize");
	if (epoll_mode) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		nworkers = ncpu < 1 ? 1 : ncpu;
		worker_ep = calloc(nworkers, sizeof(*worker_ep));
		worker_tids = calloc(nworkers, sizeof(*worker_tids));
		if (!worker_ep || !worker_tids)
			bench_check(ENOMEM, "calloc");
		quit_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (quit_fd < 0)
			bench_check(errno, "eventfd");
		for (int i = 0; i < nworkers; i++) {
			worker_ep[i] = epoll_create1(EPOLL_CLOEXEC);
			if (worker_ep[i] < 0)
				bench_check(errno, "epoll_create1");
			if (epoll_ctl(worker_ep[i], EPOLL_CTL_ADD, quit_fd,
				      &ev) != 0)
				bench_check(errno, "epoll_ctl");
			void *arg = (void *)(intptr_t)worker_ep[i];

			bench_check(pthread_create(&worker_tids[i], NULL,
						   worker_main, arg),
				    "pthread_create");
		}
	}
	bench_check(pthread_create(&acceptor, NULL, acceptor_main, NULL),
		    "pthread_create acceptor");

	uint64_t t0 = bench_now_ns();

	pid = spawn_load(port, conns, measure_ms, &rfd);
	bench_watchdog_pid = pid;

	/* The generator's report, then its exit status. */
	size_t len = 0;

	for (;;) {
		ssize_t n = read(rfd, out + len, sizeof(out) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
		if (len == sizeof(out) - 1)
			break;
	}
	out[len] = '\0';
	close(rfd);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			bench_check(errno, "waitpid");
	bench_watchdog_pid = 0;
	uint64_t t1 = bench_now_ns();

	/* The generator is gone, its connections closed: wind down. */
	stop_acceptor(acceptor, port);
	if (epoll_mode) {
		uint64_t v = 1;

		if (write(quit_fd, &v, sizeof(v)) != sizeof(v))
			bench_check(errno, "write eventfd");
		for (int i = 0; i < nworkers; i++)
			bench_check(pthread_join(worker_tids[i], NULL),
				    "pthread_join worker");
	} else {
		for (long i = 0; i < nconn_tids; i++)
			bench_check(pthread_join(conn_tids[i], NULL),
				    "pthread_join");
	}
	uint64_t t2 = bench_now_ns();

	long total, min, max, starved;
	unsigned long long ns;
	double setup_ms;
	const char *line = strstr(out, "LOAD ");

	fprintf(stderr, "echo_server: %s, %ld connections accepted, %ld "
		"threads not created; load %.1f s, wind-down %.1f ms\n",
		epoll_mode ? "epoll" : "threads", naccepted, create_failed,
		(t1 - t0) / 1e9, (t2 - t1) / 1e6);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "echo_server: FAIL: echo_load %s %d%s%s\n",
			WIFEXITED(status) ? "exited" : "killed by signal",
			WIFEXITED(status) ? WEXITSTATUS(status) :
					    WTERMSIG(status),
			line ? "; it said: " : "", line ? line : "\n");
		return 1;
	}
	if (!line || sscanf(line, "LOAD conns=%*d total=%ld min=%ld max=%ld "
			    "starved=%ld ns=%llu setup_ms=%lf", &total, &min,
			    &max, &starved, &ns, &setup_ms) != 6 || ns == 0) {
		fprintf(stderr, "echo_server: FAIL: no report from echo_load "
			"(got \"%s\")\n", out);
		return 1;
	}
	fprintf(stderr, "echo_server: %s", line);

	char name[64], cs[24];
	const char *m = epoll_mode ? "epoll_" : "";

	if (conns % 1000 == 0)
		snprintf(cs, sizeof(cs), "%ldk", conns / 1000);
	else
		snprintf(cs, sizeof(cs), "%ld", conns);
	snprintf(name, sizeof(name), "echo_%s%s_throughput", m, cs);
	bench_result(name, (double)(long)(total * 1e9 / ns), "req_per_s");
	snprintf(name, sizeof(name), "echo_%s%s_min_conn", m, cs);
	bench_result(name, min, "reqs");
	return 0;
}
