/*
 * Thread attributes round-trip and take effect: detach state, stack size,
 * guard size, scheduling policy and inherit mode read back from the attr
 * object and, through pthread_getattr_np, from inside the thread; a stack
 * given with pthread_attr_setstack holds the thread's locals; and thread
 * names set with pthread_setname_np read back (15 characters at most,
 * ERANGE for longer names and for a small buffer), for oneself and for
 * another thread.
 */
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define STACK_REQ	(1024 * 1024)
#define GUARD_REQ	(64 * 1024)

struct report {
	void *stackaddr;
	size_t stacksize;
	size_t guardsize;
	int detach;
	int policy;
	char *local;
	char name[32];
};

static void *reporter(void *arg)
{
	struct report *r = arg;
	pthread_attr_t attr;
	struct sched_param sp;
	char local = 1;

	r->local = &local;
	CHECK_OK(pthread_getattr_np(pthread_self(), &attr));
	CHECK_OK(pthread_attr_getstack(&attr, &r->stackaddr, &r->stacksize));
	CHECK_OK(pthread_attr_getguardsize(&attr, &r->guardsize));
	CHECK_OK(pthread_attr_getdetachstate(&attr, &r->detach));
	CHECK_OK(pthread_attr_destroy(&attr));
	CHECK_OK(pthread_getschedparam(pthread_self(), &r->policy, &sp));
	CHECK_OK(pthread_getname_np(pthread_self(), r->name,
				    sizeof(r->name)));
	sched_yield();
	CHECK_INT(local, ==, 1);
	return NULL;
}

static void check_inside(const struct report *r)
{
	CHECK(r->local >= (char *)r->stackaddr);
	CHECK(r->local < (char *)r->stackaddr + r->stacksize);
}

static void attributes(void)
{
	pthread_attr_t attr;
	struct sched_param sp = { 0 };
	struct report r = { 0 };
	size_t sz;
	int v;
	pthread_t t;

	CHECK_OK(pthread_attr_init(&attr));
	CHECK_OK(pthread_attr_getdetachstate(&attr, &v));
	CHECK_INT(v, ==, PTHREAD_CREATE_JOINABLE);
	CHECK_RET(pthread_attr_setdetachstate(&attr, 12345), EINVAL);
	CHECK_OK(pthread_attr_setstacksize(&attr, STACK_REQ));
	CHECK_OK(pthread_attr_getstacksize(&attr, &sz));
	CHECK_INT(sz, ==, STACK_REQ);
	CHECK_OK(pthread_attr_setguardsize(&attr, GUARD_REQ));
	CHECK_OK(pthread_attr_getguardsize(&attr, &sz));
	CHECK_INT(sz, ==, GUARD_REQ);
	CHECK_OK(pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED));
	CHECK_OK(pthread_attr_getinheritsched(&attr, &v));
	CHECK_INT(v, ==, PTHREAD_EXPLICIT_SCHED);
	CHECK_OK(pthread_attr_setschedpolicy(&attr, SCHED_OTHER));
	CHECK_OK(pthread_attr_getschedpolicy(&attr, &v));
	CHECK_INT(v, ==, SCHED_OTHER);
	CHECK_OK(pthread_attr_setschedparam(&attr, &sp));

	CHECK_OK(pthread_create(&t, &attr, reporter, &r));
	CHECK_OK(pthread_join(t, NULL));
	CHECK_OK(pthread_attr_destroy(&attr));
	check_inside(&r);
	CHECK_INT(r.stacksize, >=, STACK_REQ);
	CHECK_INT(r.guardsize, ==, GUARD_REQ);
	CHECK_INT(r.detach, ==, PTHREAD_CREATE_JOINABLE);
	CHECK_INT(r.policy, ==, SCHED_OTHER);
}

static atomic_int detached_done;
static struct report detached_report;

static void *detached_reporter(void *arg)
{
	reporter(arg);
	detached_done = 1;
	return NULL;
}

static void detached(void)
{
	pthread_attr_t attr;
	pthread_t t;

	CHECK_OK(pthread_attr_init(&attr));
	CHECK_OK(pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED));
	CHECK_OK(pthread_create(&t, &attr, detached_reporter,
				&detached_report));
	CHECK_OK(pthread_attr_destroy(&attr));
	while (!detached_done)
		usleep(1000);
	CHECK_INT(detached_report.detach, ==, PTHREAD_CREATE_DETACHED);
	check_inside(&detached_report);
}

static void user_stack(void)
{
	size_t size = 512 * 1024;
	void *stack = NULL;
	void *got_addr;
	size_t got_size;
	pthread_attr_t attr;
	struct report r = { 0 };
	pthread_t t;

	CHECK_OK(posix_memalign(&stack, 65536, size));
	CHECK_OK(pthread_attr_init(&attr));
	CHECK_OK(pthread_attr_setstack(&attr, stack, size));
	CHECK_OK(pthread_attr_getstack(&attr, &got_addr, &got_size));
	CHECK(got_addr == stack);
	CHECK_INT(got_size, ==, size);
	CHECK_OK(pthread_create(&t, &attr, reporter, &r));
	CHECK_OK(pthread_join(t, NULL));
	CHECK_OK(pthread_attr_destroy(&attr));
	/* The thread ran on the buffer we gave it. */
	CHECK(r.local >= (char *)stack && r.local < (char *)stack + size);
	CHECK(r.stackaddr >= stack);
	CHECK((char *)r.stackaddr + r.stacksize <= (char *)stack + size);
	check_inside(&r);
	free(stack);
}

static struct t_barrier barrier;
static char seen_by_thread[32];

static void *named(void *arg)
{
	(void)arg;
	t_barrier_wait(&barrier);	/* main names us */
	CHECK_OK(pthread_getname_np(pthread_self(), seen_by_thread,
				    sizeof(seen_by_thread)));
	CHECK_OK(pthread_setname_np(pthread_self(), "self-named"));
	t_barrier_wait(&barrier);	/* main reads it */
	t_barrier_wait(&barrier);
	return NULL;
}

static void names(void)
{
	char buf[32], small[8];
	pthread_t t;

	CHECK_OK(pthread_setname_np(pthread_self(), "abcdefghijklmno"));
	CHECK_OK(pthread_getname_np(pthread_self(), buf, sizeof(buf)));
	CHECK(strcmp(buf, "abcdefghijklmno") == 0);
	CHECK_RET(pthread_setname_np(pthread_self(), "abcdefghijklmnop"),
		  ERANGE);
	CHECK_RET(pthread_getname_np(pthread_self(), small, sizeof(small)),
		  ERANGE);
	CHECK_OK(pthread_getname_np(pthread_self(), buf, sizeof(buf)));
	CHECK(strcmp(buf, "abcdefghijklmno") == 0);

	t_barrier_init(&barrier, 2);
	CHECK_OK(pthread_create(&t, NULL, named, NULL));
	CHECK_OK(pthread_setname_np(t, "from-main"));
	CHECK_OK(pthread_getname_np(t, buf, sizeof(buf)));
	CHECK(strcmp(buf, "from-main") == 0);
	t_barrier_wait(&barrier);
	t_barrier_wait(&barrier);
	CHECK(strcmp(seen_by_thread, "from-main") == 0);
	CHECK_OK(pthread_getname_np(t, buf, sizeof(buf)));
	CHECK(strcmp(buf, "self-named") == 0);
	/* Main's name did not change. */
	CHECK_OK(pthread_getname_np(pthread_self(), buf, sizeof(buf)));
	CHECK(strcmp(buf, "abcdefghijklmno") == 0);
	t_barrier_wait(&barrier);
	CHECK_OK(pthread_join(t, NULL));
}

int main(void)
{
	attributes();
	detached();
	user_stack();
	names();
	return T_PASS;
}
