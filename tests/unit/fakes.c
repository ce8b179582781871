/*
 * fakes.c: what the core needs from outside core/ and arch/, for the unit
 * tests. Linked into every tests/unit/test_*.c binary, ahead of the core
 * archive. preload/init.c fills cfg and preload/resolve.c fills hooks in
 * the real library; here cfg is all zeroes (GMP_DEBUG unset) and the hooks
 * refuse to start threads, so a test that reaches them by mistake fails
 * loudly instead of spawning Ms.
 *
 * A test that replaces a whole core file (test_timer.c stands in for
 * sched.c and sema.c) defines those symbols in its own file, not here:
 * everything here is linked into every test.
 */
#include <errno.h>
#include <pthread.h>
#include "core.h"

struct config cfg;

static int fake_pthread_create(pthread_t *t, const pthread_attr_t *attr,
			       void *(*fn)(void *), void *arg)
{
	(void)t;
	(void)attr;
	(void)fn;
	(void)arg;
	return EAGAIN;
}

static int fake_pthread_detach(pthread_t t)
{
	(void)t;
	return EINVAL;
}

struct hooks hooks = {
	.pthread_create = fake_pthread_create,
	.pthread_detach = fake_pthread_detach,
	.thread_key_create = pthread_key_create,
	.thread_setspecific = pthread_setspecific,
};

/* shims/signal.c and shims/posix_timer.c, which core/obs.c and
 * core/syscall.c ask: no handlers would let a deadlock be reported */
bool gmp__program_has_handlers(void)
{
	return true;
}

int gmp__timer_thread_tid(void)
{
	return 0;
}
