/*
 * Thread-specific data in threads the program did not create itself: a
 * SIGEV_THREAD timer's notification runs on a thread glibc starts with its
 * own pthread_create, and allocators (jemalloc) set keys there from inside
 * malloc. Such a thread sees the keys the program created, its values are
 * its own (NULL at first, not the main thread's), pthread_setspecific
 * succeeds, and the key's destructor runs with its value when that thread
 * ends. A key deleted afterwards and created again reads NULL.
 */
#include "check.h"

#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>

#define ROUNDS 5

static pthread_key_t key, key2;
static sem_t dtor_ran, notified;
static atomic_int dtor_calls, bad;
static int tags[ROUNDS];
static atomic_int round_no;

/* Wait for s; a hang would fail the test by its time limit, so fail it
 * here with a message instead. */
static void wait10(sem_t *s)
{
	struct timespec ts = t_deadline_ms(CLOCK_REALTIME, 10000);

	CHECK(sem_timedwait(s, &ts) == 0);
}

static void dtor(void *v)
{
	int *tag = v;

	if (tag < &tags[0] || tag >= &tags[ROUNDS])
		atomic_fetch_add(&bad, 1);
	atomic_fetch_add(&dtor_calls, 1);
	sem_post(&dtor_ran);
}

static void notify(union sigval sv)
{
	(void)sv;
	int r = atomic_load(&round_no);

	/* a fresh thread: no value yet, even though main set one */
	if (pthread_getspecific(key) != NULL)
		atomic_fetch_add(&bad, 1);
	if (pthread_setspecific(key, &tags[r]) != 0)
		atomic_fetch_add(&bad, 1);
	if (pthread_getspecific(key) != &tags[r])
		atomic_fetch_add(&bad, 1);
	/* many keys: the second-level tables work off a G too */
	if (pthread_setspecific(key2, &tags[r]) != 0 ||
	    pthread_getspecific(key2) != &tags[r])
		atomic_fetch_add(&bad, 1);
	void *p = malloc(1000);	/* what an allocator's hook does here */
	free(p);
	sem_post(&notified);
}

int main(void)
{
	pthread_key_t filler[40];
	static int mainval;

	CHECK(sem_init(&dtor_ran, 0, 0) == 0);
	CHECK(sem_init(&notified, 0, 0) == 0);
	CHECK(pthread_key_create(&key, dtor) == 0);
	for (int i = 0; i < 40; i++)
		CHECK(pthread_key_create(&filler[i], NULL) == 0);
	CHECK(pthread_key_create(&key2, NULL) == 0);
	CHECK(pthread_setspecific(key, &mainval) == 0);

	for (int r = 0; r < ROUNDS; r++) {
		struct sigevent sev = {
			.sigev_notify = SIGEV_THREAD,
			.sigev_notify_function = notify,
		};
		struct itimerspec its = { .it_value.tv_nsec = 1000000 };
		timer_t t;

		atomic_store(&round_no, r);
		CHECK(timer_create(CLOCK_MONOTONIC, &sev, &t) == 0);
		CHECK(timer_settime(t, 0, &its, NULL) == 0);
		wait10(&notified);
		wait10(&dtor_ran);
		CHECK(timer_delete(t) == 0);
	}
	CHECK(atomic_load(&bad) == 0);
	CHECK(atomic_load(&dtor_calls) == ROUNDS);
	CHECK(pthread_getspecific(key) == &mainval);

	CHECK(pthread_key_delete(key2) == 0);
	CHECK(pthread_key_create(&key2, NULL) == 0);
	CHECK(pthread_getspecific(key2) == NULL);
	puts("ok");
	return 0;
}
