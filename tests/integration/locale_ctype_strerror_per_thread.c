/*
 * Per-thread libc state stays with its thread: <ctype.h> works in every
 * new thread, a locale installed with uselocale() affects only the thread
 * that installed it (MB_CUR_MAX, nl_langinfo(CODESET)) and survives yields,
 * strerror_r and the per-thread strerror buffer for unknown errors do not
 * mix between threads, and dlerror() state is per thread.
 */
#include "check.h"

#include <ctype.h>
#include <langinfo.h>
#include <locale.h>
#include <pthread.h>
#include <sched.h>

#define NTHREADS	8

static struct t_barrier barrier;

static void check_ctype(void)
{
	CHECK(isalpha('a'));
	CHECK(isalpha('Z'));
	CHECK(!isalpha('1'));
	CHECK(isdigit('7'));
	CHECK(isspace(' '));
	CHECK_INT(toupper('q'), ==, 'Q');
	CHECK_INT(tolower('Q'), ==, 'q');
	CHECK_INT(toupper('5'), ==, '5');
}

static void *ctype_locale_strerror(void *arg)
{
	int id = (int)(intptr_t)arg;
	int utf8 = id % 2;
	locale_t loc = (locale_t)0;
	char buf[128];
	const char *msg, *unknown;
	char expect[64];

	check_ctype();
	CHECK(uselocale((locale_t)0) == LC_GLOBAL_LOCALE);
	CHECK_INT(MB_CUR_MAX, ==, 1);
	if (utf8) {
		loc = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
		if (loc == (locale_t)0)
			SKIP("no C.UTF-8 locale: %s", strerror(errno));
		CHECK(uselocale(loc) == LC_GLOBAL_LOCALE);
		CHECK(uselocale((locale_t)0) == loc);
	}

	/* GNU strerror_r: a message for a known error. */
	msg = strerror_r(EINVAL, buf, sizeof(buf));
	CHECK(strcmp(msg, "Invalid argument") == 0);
	/* strerror of an unknown error uses a per-thread buffer. */
	unknown = strerror(10000 + id);
	snprintf(expect, sizeof(expect), "Unknown error %d", 10000 + id);
	CHECK(strcmp(unknown, expect) == 0);

	t_barrier_wait(&barrier);	/* all threads did the above */
	for (int i = 0; i < 100; i++) {
		sched_yield();
		if (i % 20 == 0)
			usleep(200);
		if (utf8) {
			CHECK(uselocale((locale_t)0) == loc);
			CHECK_INT(MB_CUR_MAX, ==, 6);
			CHECK(strcmp(nl_langinfo(CODESET), "UTF-8") == 0);
		} else {
			CHECK(uselocale((locale_t)0) == LC_GLOBAL_LOCALE);
			CHECK_INT(MB_CUR_MAX, ==, 1);
			CHECK(strcmp(nl_langinfo(CODESET), "UTF-8") != 0);
		}
		CHECK(strcmp(unknown, expect) == 0);
		check_ctype();
	}
	if (utf8) {
		CHECK(uselocale(LC_GLOBAL_LOCALE) == loc);
		freelocale(loc);
	}
	return NULL;
}

static struct t_barrier dl_barrier;

static void *dl_failer(void *arg)
{
	const char *err;

	(void)arg;
	CHECK(dlopen("libgmp-test-does-not-exist.so.99", RTLD_NOW) == NULL);
	t_barrier_wait(&dl_barrier);	/* the other checks its own */
	t_barrier_wait(&dl_barrier);
	sched_yield();
	usleep(1000);
	err = dlerror();
	CHECK(err != NULL);
	CHECK(strstr(err, "libgmp-test-does-not-exist.so.99") != NULL);
	CHECK(dlerror() == NULL);	/* reading it cleared it */
	return NULL;
}

static void *dl_clean(void *arg)
{
	(void)arg;
	t_barrier_wait(&dl_barrier);
	CHECK(dlerror() == NULL);
	t_barrier_wait(&dl_barrier);
	return NULL;
}

int main(void)
{
	pthread_t tids[NTHREADS], a, b;

	check_ctype();
	t_barrier_init(&barrier, NTHREADS);
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&tids[i], NULL, ctype_locale_strerror,
					(void *)(intptr_t)i));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(tids[i], NULL));
	CHECK(uselocale((locale_t)0) == LC_GLOBAL_LOCALE);
	CHECK_INT(MB_CUR_MAX, ==, 1);

	t_barrier_init(&dl_barrier, 2);
	CHECK_OK(pthread_create(&a, NULL, dl_failer, NULL));
	CHECK_OK(pthread_create(&b, NULL, dl_clean, NULL));
	CHECK_OK(pthread_join(a, NULL));
	CHECK_OK(pthread_join(b, NULL));
	CHECK(dlerror() == NULL);
	return T_PASS;
}
