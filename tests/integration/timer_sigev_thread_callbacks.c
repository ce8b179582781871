/*
 * POSIX timers with SIGEV_THREAD: each expiration calls the function in a
 * new detached thread, with the timer's sigev_value, every signal blocked
 * (glibc's choice, whatever mask sigev_notify_attributes has; its stack
 * size is used); the callback can wait on a mutex and condvar shared with
 * other threads; timer_delete stops the calls; 100 one-shot timers each
 * call once with their own value; a callback can create a timer; a forked
 * child can use timers of its own. pthread_attr_setsigmask_np is checked
 * for plain threads too.
 */
#include "check.h"

#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

/* timeout: 120 */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int periodic_calls;
static atomic_int wrong;
static pthread_t main_thread;

static void periodic(union sigval v)
{
	sigset_t cur;

	if (v.sival_ptr != &periodic_calls)
		atomic_fetch_add(&wrong, 1), fprintf(stderr, "wrong at %d\n", __LINE__);
	if (pthread_equal(pthread_self(), main_thread))
		atomic_fetch_add(&wrong, 1), fprintf(stderr, "wrong at %d\n", __LINE__);
	/* detached */
	if (pthread_detach(pthread_self()) != EINVAL)
		atomic_fetch_add(&wrong, 1), fprintf(stderr, "wrong at %d\n", __LINE__);
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	if (!sigismember(&cur, SIGUSR1) || !sigismember(&cur, SIGINT) ||
	    !sigismember(&cur, SIGALRM))
		atomic_fetch_add(&wrong, 1), fprintf(stderr, "wrong at %d\n", __LINE__);
	pthread_mutex_lock(&mu);
	periodic_calls++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static atomic_int attr_calls;
static atomic_size_t attr_stack;

static void with_attr(union sigval v)
{
	sigset_t cur;
	pthread_attr_t a;
	size_t sz = 0;

	(void)v;
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	/* glibc takes the stack size from the attributes, not the mask */
	if (!sigismember(&cur, SIGUSR2) || !sigismember(&cur, SIGUSR1))
		atomic_fetch_add(&wrong, 1), fprintf(stderr, "wrong at %d\n", __LINE__);
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		pthread_attr_getstacksize(&a, &sz);
		pthread_attr_destroy(&a);
	}
	atomic_store(&attr_stack, sz);
	atomic_fetch_add(&attr_calls, 1);
}

static atomic_int oneshot_sum, oneshot_calls;

static void oneshot(union sigval v)
{
	atomic_fetch_add(&oneshot_sum, v.sival_int);
	atomic_fetch_add(&oneshot_calls, 1);
}

static atomic_int nested_calls;
static timer_t nested_timer;

static void nested_inner(union sigval v)
{
	(void)v;
	atomic_fetch_add(&nested_calls, 1);
}

static void nested_outer(union sigval v)
{
	struct sigevent ev;
	struct itimerspec its = { { 0, 0 }, { 0, 1000000 } };

	(void)v;
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_THREAD;
	ev.sigev_notify_function = nested_inner;
	if (timer_create(CLOCK_MONOTONIC, &ev, &nested_timer) != 0 ||
	    timer_settime(nested_timer, 0, &its, NULL) != 0)
		atomic_fetch_add(&wrong, 1), fprintf(stderr, "wrong at %d\n", __LINE__);
}

static timer_t make_timer(void (*fn)(union sigval), union sigval v,
			  pthread_attr_t *attr)
{
	struct sigevent ev;
	timer_t t;

	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_THREAD;
	ev.sigev_notify_function = fn;
	ev.sigev_value = v;
	ev.sigev_notify_attributes = attr;
	CHECK_SYS(timer_create(CLOCK_MONOTONIC, &ev, &t));
	return t;
}

static void arm(timer_t t, long first_ns, long period_ns)
{
	struct itimerspec its = { { 0, period_ns }, { 0, first_ns } };

	CHECK_SYS(timer_settime(t, 0, &its, NULL));
}

static void wait_for(atomic_int *v, int n)
{
	for (int i = 0; i < 20000 && atomic_load(v) < n; i++)
		usleep(1000);
	CHECK_INT(atomic_load(v), >=, n);
}

static void *masked(void *arg)
{
	sigset_t cur;

	(void)arg;
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	CHECK(sigismember(&cur, SIGUSR1));
	CHECK(!sigismember(&cur, SIGUSR2));
	return NULL;
}

static void fork_child_uses_timers(void)
{
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		atomic_store(&oneshot_calls, 0);
		atomic_store(&oneshot_sum, 0);
		timer_t t = make_timer(oneshot, (union sigval){ .sival_int = 7 },
				       NULL);
		arm(t, 1000000, 0);
		for (int i = 0; i < 20000 && atomic_load(&oneshot_calls) < 1;
		     i++)
			usleep(1000);
		_exit(atomic_load(&oneshot_sum) == 7 ? 0 : 3);
	}
	int st;
	CHECK_INT(waitpid(pid, &st, 0), ==, pid);
	CHECK(WIFEXITED(st));
	CHECK_INT(WEXITSTATUS(st), ==, 0);
}

int main(void)
{
	main_thread = pthread_self();

	/* plain threads: the attribute's mask */
	pthread_attr_t ma;
	sigset_t s1;
	pthread_t th;
	sigemptyset(&s1);
	sigaddset(&s1, SIGUSR1);
	CHECK_OK(pthread_attr_init(&ma));
	CHECK_OK(pthread_attr_setsigmask_np(&ma, &s1));
	CHECK_OK(pthread_create(&th, &ma, masked, NULL));
	CHECK_OK(pthread_join(th, NULL));
	CHECK_OK(pthread_attr_destroy(&ma));

	/* periodic, 1 ms: 20 calls, each waiting on the mutex */
	timer_t p = make_timer(periodic,
			       (union sigval){ .sival_ptr = &periodic_calls },
			       NULL);
	arm(p, 1000000, 1000000);
	pthread_mutex_lock(&mu);
	while (periodic_calls < 20)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	CHECK_SYS(timer_getoverrun(p));
	CHECK_SYS(timer_delete(p));
	usleep(50000);		/* calls already started finish */
	pthread_mutex_lock(&mu);
	int after = periodic_calls;
	pthread_mutex_unlock(&mu);
	usleep(50000);
	pthread_mutex_lock(&mu);
	CHECK_INT(periodic_calls, ==, after);
	pthread_mutex_unlock(&mu);

	/* attributes: stack size and signal mask */
	pthread_attr_t a;
	sigset_t s2;
	sigemptyset(&s2);
	sigaddset(&s2, SIGUSR2);
	CHECK_OK(pthread_attr_init(&a));
	CHECK_OK(pthread_attr_setstacksize(&a, 1 << 20));
	CHECK_OK(pthread_attr_setsigmask_np(&a, &s2));
	timer_t ta = make_timer(with_attr, (union sigval){ .sival_int = 0 },
				&a);
	CHECK_OK(pthread_attr_destroy(&a));	/* the timer kept a copy */
	arm(ta, 1000000, 0);
	wait_for(&attr_calls, 1);
	CHECK_INT((long)atomic_load(&attr_stack), >=, 1 << 20);
	CHECK_SYS(timer_delete(ta));

	/* 100 one-shot timers, each its own value */
	timer_t many[100];
	for (int i = 0; i < 100; i++)
		many[i] = make_timer(oneshot,
				     (union sigval){ .sival_int = i + 1 },
				     NULL);
	for (int i = 0; i < 100; i++)
		arm(many[i], 1000000 + i * 10000, 0);
	wait_for(&oneshot_calls, 100);
	usleep(20000);
	CHECK_INT(atomic_load(&oneshot_calls), ==, 100);
	CHECK_INT(atomic_load(&oneshot_sum), ==, 5050);
	for (int i = 0; i < 100; i++)
		CHECK_SYS(timer_delete(many[i]));

	/* a callback creates a timer */
	timer_t tn = make_timer(nested_outer, (union sigval){ .sival_int = 0 },
				NULL);
	arm(tn, 1000000, 0);
	wait_for(&nested_calls, 1);
	CHECK_SYS(timer_delete(tn));
	CHECK_SYS(timer_delete(nested_timer));

	fork_child_uses_timers();
	CHECK_INT(atomic_load(&wrong), ==, 0);
	return T_PASS;
}
