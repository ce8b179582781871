/*
 * dlopen of a library with initial-exec TLS while threads are running:
 * every running thread, and every thread created afterwards, sees the
 * variable's initial value, and each has its own copy.
 */
#include "check.h"

#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>

#define NTHREADS 8

static struct t_barrier loaded, checked;
static int (*get)(void);
static void (*set)(int);

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;

	t_barrier_wait(&loaded);	/* the library is now loaded */
	CHECK_INT(get(), ==, 4242);
	set(id);
	sched_yield();
	CHECK_INT(get(), ==, id);
	t_barrier_wait(&checked);
	return NULL;
}

static void *late(void *arg)
{
	(void)arg;
	CHECK_INT(get(), ==, 4242);
	return NULL;
}

int main(void)
{
	char exe[PATH_MAX], lib[PATH_MAX + 32];
	pthread_t t[NTHREADS], l;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

	CHECK(n > 0);
	exe[n] = 0;
	snprintf(lib, sizeof lib, "%s/lib/libtls_ie.so", dirname(exe));
	t_barrier_init(&loaded, NTHREADS + 1);
	t_barrier_init(&checked, NTHREADS + 1);
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&t[i], NULL, worker,
					(void *)(intptr_t)(i + 1)));
	usleep(20000);
	void *h = dlopen(lib, RTLD_NOW);
	if (!h)
		FAIL("dlopen %s: %s", lib, dlerror());
	get = (int (*)(void))dlsym(h, "tls_ie_get");
	set = (void (*)(int))dlsym(h, "tls_ie_set");
	CHECK(get && set);
	CHECK_INT(get(), ==, 4242);
	t_barrier_wait(&loaded);
	t_barrier_wait(&checked);
	CHECK_INT(get(), ==, 4242);	/* the workers' sets were their own */
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	CHECK_OK(pthread_create(&l, NULL, late, NULL));
	CHECK_OK(pthread_join(l, NULL));
	return T_PASS;
}
