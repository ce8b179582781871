/*
 * More kinds of blocking call, each in its own thread and all blocked at
 * once: open() of a FIFO with no writer (then a read from it), splice()
 * and tee() from an empty pipe, sendfile() from a regular file into a full
 * pipe, msgrcv() on an empty SysV message queue, semop() waiting on a SysV
 * semaphore at 0, lockf(F_LOCK) and fcntl(F_SETLKW) on regions that
 * another process holds, fcntl(F_OFD_SETLKW) against an OFD lock held
 * through another open file description, pause() and sigsuspend().
 * Natively each of them sleeps in the kernel; under libgmp none may stop
 * the other threads, with GMP_MAXPROCS=1 too. While all are blocked, main
 * and a worker complete a mutex/condvar handshake 100 times, and other
 * threads run copy_file_range() between regular files, getaddrinfo() of
 * "localhost" (from /etc/hosts, no network) and system("sleep 0.2; exit
 * 3"), each of which must return what it does natively. Nothing blocked is
 * released before that work is done, so no timing is involved: a blocked
 * call that kept the others from running would hang the test. Then each
 * call is released in turn (a writer opens the FIFO, data is written,
 * the pipe drained, a message sent, the semaphore raised, the lock holder
 * told to unlock, the OFD lock dropped, SIGUSR1 and SIGUSR2 sent to the
 * waiting threads with pthread_kill) and its result is checked exactly:
 * bytes, return value and errno.
 *
 * Integration tests do not fork as a rule; this one does twice. POSIX
 * record locks belong to a process, so the holder that lockf and
 * fcntl(F_SETLKW) wait for must be another process: a child forked
 * before any thread exists, which locks the regions and waits on a pipe
 * until told to unlock them. It stays until main says it is done; if the
 * test dies first (failed check, timeout), the pipe's end closes and the
 * holder removes the SysV queue and semaphore, which would otherwise
 * outlive the run.
 * And system() forks (posix_spawn) a shell.
 */
#include "check.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

enum blk { B_FIFO_OPEN, B_SPLICE, B_TEE, B_SENDFILE, B_MSGRCV, B_SEMOP,
	   B_LOCKF, B_SETLKW, B_OFD_SETLKW, B_PAUSE, B_SIGSUSPEND, NB };

static const char *const names[NB] = {
	"open fifo + read", "splice", "tee", "sendfile to full pipe",
	"msgrcv", "semop", "lockf(F_LOCK)", "fcntl(F_SETLKW)",
	"fcntl(F_OFD_SETLKW)", "pause", "sigsuspend",
};

/* what each call returns once released: a value, and errno if it is -1 */
static const long want[NB] = {
	[B_FIFO_OPEN] = 4, [B_SPLICE] = 6, [B_TEE] = 4, [B_SENDFILE] = 4096,
	[B_MSGRCV] = 4, [B_SEMOP] = 0, [B_LOCKF] = 0, [B_SETLKW] = 0,
	[B_OFD_SETLKW] = 0, [B_PAUSE] = -1, [B_SIGSUSPEND] = -1,
};
static const int want_errno[NB] = {
	[B_PAUSE] = EINTR, [B_SIGSUSPEND] = EINTR,
};

#define SF_LEN		4096	/* the file sendfile sends */
#define CFR_LEN		(3 * 4096 + 123)	/* the file copy_file_range copies */

/* the regions the child locks; lockf takes the first, F_SETLKW the second */
#define LK1_START	0
#define LK1_LEN		100
#define LK2_START	200
#define LK2_LEN		100

static atomic_int entered[NB], done[NB];
static long result[NB];
static int result_errno[NB];
static atomic_int usr1_hits, usr2_hits;

static char fifo_path[64], lock_path[64], ofd_path[64], sf_path[64];
static char cfr_src_path[64], cfr_dst_path[64];
static int sp_in[2], sp_out[2], te_in[2], te_out[2], sf_pipe[2], sf_fd;
static long sf_filled;
static int msq, semid;
static int lock_fd1, lock_fd2, ofd_a, ofd_b;
static int child_ready[2], child_go[2];
static pid_t child;

/* what the blocked threads saw besides their return value */
static char fifo_buf[16], msg_text[16];
static long msg_type;
static int sigsuspend_mask_after = -1;
static off_t sf_off = -1;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_hits++;
}

static void on_usr2(int sig)
{
	(void)sig;
	usr2_hits++;
}

static struct flock wrlock(off_t start, off_t len)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = len;
	return fl;
}

static void *blocker(void *arg)
{
	enum blk b = (enum blk)(intptr_t)arg;
	struct { long mtype; char mtext[16]; } msg;
	struct sembuf down = { 0, -1, 0 };
	struct flock fl;
	sigset_t mask;
	off_t off = 0;
	long ret = -1;
	int fd, err = 0;

	switch (b) {
	case B_FIFO_OPEN:
		entered[b] = 1;
		fd = open(fifo_path, O_RDONLY);
		CHECK_SYS(fd);
		ret = read(fd, fifo_buf, sizeof(fifo_buf));
		err = errno;
		CHECK_SYS(close(fd));
		break;
	case B_SPLICE:
		entered[b] = 1;
		ret = splice(sp_in[0], NULL, sp_out[1], NULL, 64, 0);
		err = errno;
		break;
	case B_TEE:
		entered[b] = 1;
		ret = tee(te_in[0], te_out[1], 64, 0);
		err = errno;
		break;
	case B_SENDFILE:
		entered[b] = 1;
		ret = sendfile(sf_pipe[1], sf_fd, &off, SF_LEN);
		err = errno;
		sf_off = off;
		break;
	case B_MSGRCV:
		memset(&msg, 0, sizeof(msg));
		entered[b] = 1;
		ret = msgrcv(msq, &msg, sizeof(msg.mtext), 0, 0);
		err = errno;
		msg_type = msg.mtype;
		memcpy(msg_text, msg.mtext, sizeof(msg_text));
		break;
	case B_SEMOP:
		entered[b] = 1;
		ret = semop(semid, &down, 1);
		err = errno;
		break;
	case B_LOCKF:
		entered[b] = 1;
		ret = lockf(lock_fd1, F_LOCK, LK1_LEN);	/* offset is 0 */
		err = errno;
		break;
	case B_SETLKW:
		fl = wrlock(LK2_START, LK2_LEN);
		entered[b] = 1;
		ret = fcntl(lock_fd2, F_SETLKW, &fl);
		err = errno;
		break;
	case B_OFD_SETLKW:
		fl = wrlock(0, 10);
		entered[b] = 1;
		ret = fcntl(ofd_b, F_OFD_SETLKW, &fl);
		err = errno;
		break;
	case B_PAUSE:
		entered[b] = 1;
		ret = pause();
		err = errno;
		break;
	default:
		/* SIGUSR2 is blocked (inherited from main) but for here */
		CHECK_OK(pthread_sigmask(SIG_SETMASK, NULL, &mask));
		CHECK_INT(sigismember(&mask, SIGUSR2), ==, 1);
		sigdelset(&mask, SIGUSR2);
		entered[b] = 1;
		ret = sigsuspend(&mask);
		err = errno;
		CHECK_OK(pthread_sigmask(SIG_SETMASK, NULL, &mask));
		sigsuspend_mask_after = sigismember(&mask, SIGUSR2);
		break;
	}
	result[b] = ret;
	result_errno[b] = ret == -1 ? err : 0;
	done[b] = 1;
	return NULL;
}

/* --- the work that must get done while they are blocked --- */

#define HANDSHAKES	100

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int ping, pong;

static void *handshake_worker(void *arg)
{
	(void)arg;
	for (int i = 1; i <= HANDSHAKES; i++) {
		pthread_mutex_lock(&mu);
		while (ping != i)
			pthread_cond_wait(&cv, &mu);
		pong = i;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

static void handshakes(void)
{
	pthread_t w;

	CHECK_OK(pthread_create(&w, NULL, handshake_worker, NULL));
	for (int i = 1; i <= HANDSHAKES; i++) {
		pthread_mutex_lock(&mu);
		ping = i;
		pthread_cond_broadcast(&cv);
		while (pong != i)
			pthread_cond_wait(&cv, &mu);
		pthread_mutex_unlock(&mu);
	}
	CHECK_OK(pthread_join(w, NULL));
	CHECK_INT(pong, ==, HANDSHAKES);
}

static void *run_system(void *arg)
{
	int st = system("sleep 0.2; exit 3");

	(void)arg;
	if (st == -1)
		FAIL("system: %s", strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 3)
		FAIL("system returned wait status %#x, expected exit 3", st);
	return NULL;
}

static int is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family == AF_INET)
		return in4->sin_port == htons(80) &&
		       (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return in6->sin6_port == htons(80) &&
		       IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	return 0;
}

static void *run_getaddrinfo(void *arg)
{
	struct addrinfo hints, *res, *ai;
	int r, n = 0;

	(void)arg;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	r = getaddrinfo("localhost", "80", &hints, &res);
	if (r != 0)
		FAIL("getaddrinfo(localhost, 80): %s", gai_strerror(r));
	for (ai = res; ai; ai = ai->ai_next, n++) {
		CHECK_INT(ai->ai_socktype, ==, SOCK_STREAM);
		if (!is_loopback(ai->ai_addr))
			FAIL("getaddrinfo(localhost, 80) gave a result of "
			     "family %d that is not loopback port 80",
			     ai->ai_addr->sa_family);
	}
	CHECK_INT(n, >=, 1);
	freeaddrinfo(res);
	return NULL;
}

static void *run_copy_file_range(void *arg)
{
	static char want_buf[CFR_LEN], got[CFR_LEN + 1];
	off_t in_off = 0, out_off = 0;
	struct stat st;
	int src, dst;

	(void)arg;
	for (int i = 0; i < CFR_LEN; i++)
		want_buf[i] = (char)(i * 7 + 3);
	src = open(cfr_src_path, O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECK_SYS(src);
	CHECK_INT(pwrite(src, want_buf, CFR_LEN, 0), ==, CFR_LEN);
	dst = open(cfr_dst_path, O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECK_SYS(dst);
	while (in_off < CFR_LEN) {
		ssize_t n = copy_file_range(src, &in_off, dst, &out_off,
					    (size_t)(CFR_LEN - in_off), 0);

		if (n == -1)
			FAIL("copy_file_range: %s", strerror(errno));
		CHECK_INT(n, >, 0);
	}
	CHECK_INT(in_off, ==, CFR_LEN);
	CHECK_INT(out_off, ==, CFR_LEN);
	/* given offsets, the files' own offsets stay where they were */
	CHECK_INT(lseek(src, 0, SEEK_CUR), ==, 0);
	CHECK_INT(lseek(dst, 0, SEEK_CUR), ==, 0);
	CHECK_SYS(fstat(dst, &st));
	CHECK_INT(st.st_size, ==, CFR_LEN);
	CHECK_INT(pread(dst, got, sizeof(got), 0), ==, CFR_LEN);
	CHECK(memcmp(got, want_buf, CFR_LEN) == 0);
	CHECK_SYS(close(src));
	CHECK_SYS(close(dst));
	CHECK_SYS(unlink(cfr_src_path));
	CHECK_SYS(unlink(cfr_dst_path));
	return NULL;
}

static void other_work(void)
{
	pthread_t sys, gai, cfr;

	CHECK_OK(pthread_create(&sys, NULL, run_system, NULL));
	CHECK_OK(pthread_create(&gai, NULL, run_getaddrinfo, NULL));
	CHECK_OK(pthread_create(&cfr, NULL, run_copy_file_range, NULL));
	handshakes();
	CHECK_OK(pthread_join(cfr, NULL));
	CHECK_OK(pthread_join(gai, NULL));
	CHECK_OK(pthread_join(sys, NULL));
}

/* --- setup and release --- */

/*
 * The lock holder: locks both regions, says so, and holds them until main
 * writes to child_go. Then it waits for main to say it is done, or for
 * child_go to be closed without that (the test died), and then removes
 * the SysV objects. It
 * ignores the SIGTERM that timeout sends the whole process group, so that
 * it outlives main to do this.
 */
static void lock_holder(void)
{
	struct flock fl;
	char c = 'r';
	int fd;

	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	close(child_ready[0]);
	close(child_go[1]);
	fd = open(lock_path, O_RDWR);
	if (fd < 0)
		_exit(2);
	fl = wrlock(LK1_START, LK1_LEN);
	if (fcntl(fd, F_SETLK, &fl) != 0)
		_exit(3);
	fl = wrlock(LK2_START, LK2_LEN);
	if (fcntl(fd, F_SETLK, &fl) != 0)
		_exit(4);
	if (write(child_ready[1], &c, 1) != 1)
		_exit(5);
	if (read(child_go[0], &c, 1) == 1) {
		fl = wrlock(0, 0);	/* the whole file */
		fl.l_type = F_UNLCK;
		if (fcntl(fd, F_SETLK, &fl) != 0)
			_exit(6);
		while (read(child_go[0], &c, 1) > 0)
			if (c == 'd')
				_exit(0);	/* main removed them */
	}
	msgctl(msq, IPC_RMID, NULL);
	semctl(semid, 0, IPC_RMID);
	_exit(0);
}

static void check_posix_lock(int fd, off_t start, off_t len, int type,
			     pid_t pid)
{
	struct flock fl = wrlock(start, len);

	CHECK_SYS(fcntl(fd, F_GETLK, &fl));
	CHECK_INT(fl.l_type, ==, type);
	if (type != F_UNLCK) {
		CHECK_INT(fl.l_start, ==, start);
		CHECK_INT(fl.l_len, ==, len);
		CHECK_INT(fl.l_pid, ==, pid);
	}
}

/* F_OFD_GETLK: sees the POSIX locks of this process too */
static void check_ofd_view(int fd, off_t start, off_t len, pid_t pid)
{
	struct flock fl = wrlock(start, len);

	CHECK_SYS(fcntl(fd, F_OFD_GETLK, &fl));
	CHECK_INT(fl.l_type, ==, F_WRLCK);
	CHECK_INT(fl.l_start, ==, start);
	CHECK_INT(fl.l_len, ==, len);
	CHECK_INT(fl.l_pid, ==, pid);
}

static void fill_pipe(int fd, long *filled)
{
	char buf[4096];
	ssize_t n;

	memset(buf, 'f', sizeof(buf));
	CHECK_SYS(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK));
	while ((n = write(fd, buf, sizeof(buf))) > 0)
		*filled += n;
	CHECK_INT(errno, ==, EAGAIN);
	CHECK_SYS(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK));
	CHECK_INT(*filled, >, 0);
}

static void setup(void)
{
	struct sigaction sa;
	struct flock fl;
	sigset_t usr2;
	char c, sf_data[SF_LEN];
	int fd;

	snprintf(fifo_path, sizeof(fifo_path), "more-blocking-%d.fifo",
		 (int)getpid());
	snprintf(lock_path, sizeof(lock_path), "more-blocking-%d.lock",
		 (int)getpid());
	snprintf(ofd_path, sizeof(ofd_path), "more-blocking-%d.ofd",
		 (int)getpid());
	snprintf(sf_path, sizeof(sf_path), "more-blocking-%d.sendfile",
		 (int)getpid());
	snprintf(cfr_src_path, sizeof(cfr_src_path), "more-blocking-%d.src",
		 (int)getpid());
	snprintf(cfr_dst_path, sizeof(cfr_dst_path), "more-blocking-%d.dst",
		 (int)getpid());

	/* SysV objects, which the lock holder removes if main cannot */
	msq = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	if (msq == -1 && errno == ENOSYS)
		SKIP("no SysV IPC: msgget: %s", strerror(errno));
	CHECK_SYS(msq);
	semid = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
	if (semid == -1) {
		int e = errno;

		msgctl(msq, IPC_RMID, NULL);
		FAIL("semget: %s", strerror(e));
	}

	/* the lock holder, forked before any thread or other fd exists */
	fd = open(lock_path, O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECK_SYS(fd);
	CHECK_SYS(close(fd));
	CHECK_SYS(pipe2(child_ready, O_CLOEXEC));
	CHECK_SYS(pipe2(child_go, O_CLOEXEC));
	fflush(NULL);
	child = fork();
	CHECK_SYS(child);
	if (child == 0)
		lock_holder();
	CHECK_SYS(close(child_ready[1]));
	CHECK_SYS(close(child_go[0]));
	CHECK_INT(read(child_ready[0], &c, 1), ==, 1);
	lock_fd1 = open(lock_path, O_RDWR | O_CLOEXEC);
	CHECK_SYS(lock_fd1);
	lock_fd2 = open(lock_path, O_RDWR | O_CLOEXEC);
	CHECK_SYS(lock_fd2);
	check_posix_lock(lock_fd1, LK1_START, LK1_LEN, F_WRLCK, child);
	check_posix_lock(lock_fd1, LK2_START, LK2_LEN, F_WRLCK, child);
	CHECK_ERRNO(lockf(lock_fd1, F_TLOCK, LK1_LEN), EAGAIN);
	CHECK_INT(semctl(semid, 0, GETVAL), ==, 0);

	CHECK_SYS(mkfifo(fifo_path, 0600));
	CHECK_SYS(pipe2(sp_in, O_CLOEXEC));
	CHECK_SYS(pipe2(sp_out, O_CLOEXEC));
	CHECK_SYS(pipe2(te_in, O_CLOEXEC));
	CHECK_SYS(pipe2(te_out, O_CLOEXEC));

	/* sendfile: a file of SF_LEN bytes, a pipe nobody reads yet */
	for (int i = 0; i < SF_LEN; i++)
		sf_data[i] = (char)(i * 13 + 1);
	sf_fd = open(sf_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CHECK_SYS(sf_fd);
	CHECK_INT(write(sf_fd, sf_data, SF_LEN), ==, SF_LEN);
	CHECK_SYS(pipe2(sf_pipe, O_CLOEXEC));
	fill_pipe(sf_pipe[1], &sf_filled);

	ofd_a = open(ofd_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CHECK_SYS(ofd_a);
	ofd_b = open(ofd_path, O_RDWR | O_CLOEXEC);
	CHECK_SYS(ofd_b);
	fl = wrlock(0, 10);
	CHECK_SYS(fcntl(ofd_a, F_OFD_SETLK, &fl));
	fl = wrlock(0, 10);
	CHECK_ERRNO(fcntl(ofd_b, F_OFD_SETLK, &fl), EAGAIN);

	/* handlers without SA_RESTART: pause and sigsuspend return EINTR */
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_usr1;
	CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
	sa.sa_handler = on_usr2;
	CHECK_SYS(sigaction(SIGUSR2, &sa, NULL));
	/* blocked in every thread; sigsuspend lets it through */
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	CHECK_OK(pthread_sigmask(SIG_BLOCK, &usr2, NULL));
}

static void release(enum blk b, pthread_t *t)
{
	struct { long mtype; char mtext[16]; } msg = { 7, "msg!" };
	struct sembuf up = { 0, 1, 0 };
	struct flock fl;
	char buf[4096];
	long left;
	int fd;

	switch (b) {
	case B_FIFO_OPEN:
		fd = open(fifo_path, O_WRONLY);
		CHECK_SYS(fd);
		CHECK_INT(write(fd, "fifo", 4), ==, 4);
		CHECK_SYS(close(fd));
		break;
	case B_SPLICE:
		CHECK_INT(write(sp_in[1], "splice", 6), ==, 6);
		break;
	case B_TEE:
		CHECK_INT(write(te_in[1], "tee!", 4), ==, 4);
		break;
	case B_SENDFILE:
		/* the slow reader: reads the filler, no more */
		for (left = sf_filled; left > 0;) {
			ssize_t n = read(sf_pipe[0], buf,
				left < (long)sizeof(buf) ? (size_t)left
							 : sizeof(buf));

			CHECK_INT(n, >, 0);
			for (ssize_t i = 0; i < n; i++)
				CHECK_INT(buf[i], ==, 'f');
			left -= n;
		}
		break;
	case B_MSGRCV:
		CHECK_SYS(msgsnd(msq, &msg, 4, 0));
		break;
	case B_SEMOP:
		CHECK_SYS(semop(semid, &up, 1));
		break;
	case B_LOCKF:
		/* the holder drops both regions: B_SETLKW too */
		CHECK_INT(write(child_go[1], "g", 1), ==, 1);
		break;
	case B_SETLKW:
		break;
	case B_OFD_SETLKW:
		fl = wrlock(0, 10);
		fl.l_type = F_UNLCK;
		CHECK_SYS(fcntl(ofd_a, F_OFD_SETLK, &fl));
		break;
	case B_PAUSE:
		CHECK_OK(pthread_kill(t[b], SIGUSR1));
		break;
	default:
		CHECK_OK(pthread_kill(t[b], SIGUSR2));
		break;
	}
}

/* What else each released call must have done. */
static void check_effects(enum blk b)
{
	char buf[64], sf_data[SF_LEN + 1];
	struct flock fl;

	switch (b) {
	case B_FIFO_OPEN:
		CHECK(memcmp(fifo_buf, "fifo", 4) == 0);
		break;
	case B_SPLICE:
		CHECK_INT(read(sp_out[0], buf, sizeof(buf)), ==, 6);
		CHECK(memcmp(buf, "splice", 6) == 0);
		break;
	case B_TEE:
		/* copied to te_out, and still in te_in */
		CHECK_INT(read(te_out[0], buf, sizeof(buf)), ==, 4);
		CHECK(memcmp(buf, "tee!", 4) == 0);
		CHECK_INT(read(te_in[0], buf, sizeof(buf)), ==, 4);
		CHECK(memcmp(buf, "tee!", 4) == 0);
		break;
	case B_SENDFILE:
		CHECK_INT(sf_off, ==, SF_LEN);
		CHECK_INT(lseek(sf_fd, 0, SEEK_CUR), ==, SF_LEN); /* from write */
		for (long got = 0; got < SF_LEN;) {
			ssize_t n = read(sf_pipe[0], sf_data + got,
					 (size_t)(SF_LEN - got));

			CHECK_INT(n, >, 0);
			got += n;
		}
		for (int i = 0; i < SF_LEN; i++)
			CHECK_INT(sf_data[i], ==, (char)(i * 13 + 1));
		break;
	case B_MSGRCV:
		CHECK_INT(msg_type, ==, 7);
		CHECK(memcmp(msg_text, "msg!", 4) == 0);
		break;
	case B_SEMOP:
		CHECK_INT(semctl(semid, 0, GETVAL), ==, 0);
		break;
	case B_LOCKF:
		/* the region is ours now: F_GETLK does not report our own
		 * locks, F_OFD_GETLK (another owner) does */
		check_posix_lock(lock_fd1, LK1_START, LK1_LEN, F_UNLCK, 0);
		check_ofd_view(lock_fd1, LK1_START, LK1_LEN, getpid());
		break;
	case B_SETLKW:
		check_posix_lock(lock_fd1, LK2_START, LK2_LEN, F_UNLCK, 0);
		check_ofd_view(lock_fd1, LK2_START, LK2_LEN, getpid());
		break;
	case B_OFD_SETLKW:
		/* ofd_b holds it now, against ofd_a */
		fl = wrlock(0, 10);
		CHECK_ERRNO(fcntl(ofd_a, F_OFD_SETLK, &fl), EAGAIN);
		break;
	case B_PAUSE:
		CHECK_INT(usr1_hits, ==, 1);
		CHECK_INT(usr2_hits, ==, 0);
		break;
	default:
		CHECK_INT(usr2_hits, ==, 1);
		CHECK_INT(usr1_hits, ==, 1);
		CHECK_INT(sigsuspend_mask_after, ==, 1);	/* restored */
		break;
	}
}

int main(void)
{
	pthread_t t[NB];
	int st;

	setup();
	for (int b = 0; b < NB; b++)
		CHECK_OK(pthread_create(&t[b], NULL, blocker,
					(void *)(intptr_t)b));
	for (int b = 0; b < NB; b++)
		while (!entered[b])
			usleep(1000);
	usleep(100000);	/* all of them are in their calls */

	other_work();

	for (int b = 0; b < NB; b++)
		if (done[b])
			FAIL("%s returned %ld (%s) before it was released",
			     names[b], result[b], strerror(result_errno[b]));
	/* release them one by one, each returning as natively */
	for (int b = 0; b < NB; b++) {
		release((enum blk)b, t);
		CHECK_OK(pthread_join(t[b], NULL));
		if (result[b] != want[b] || result_errno[b] != want_errno[b])
			FAIL("%s returned %ld errno %d (%s), expected %ld "
			     "errno %d", names[b], result[b], result_errno[b],
			     strerror(result_errno[b]), want[b],
			     want_errno[b]);
		check_effects((enum blk)b);
	}

	CHECK_SYS(msgctl(msq, IPC_RMID, NULL));
	CHECK_SYS(semctl(semid, 0, IPC_RMID));
	CHECK_INT(write(child_go[1], "d", 1), ==, 1);	/* the holder may go */
	CHECK_INT(waitpid(child, &st, 0), ==, child);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		FAIL("lock holder ended with wait status %#x", st);
	CHECK_SYS(unlink(fifo_path));
	CHECK_SYS(unlink(lock_path));
	CHECK_SYS(unlink(ofd_path));
	CHECK_SYS(unlink(sf_path));
	return T_PASS;
}
