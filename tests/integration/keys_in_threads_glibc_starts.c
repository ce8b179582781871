/*
 * Thread-specific data in threads the program did not create itself: the
 * SIGEV_THREAD notification of a POSIX AIO request runs on a thread glibc
 * starts with its own pthread_create (from its AIO worker thread, another
 * one of its own), and allocators (jemalloc) set keys there from inside
 * malloc. Such a thread sees the keys the program created, its values are
 * its own (NULL at first, not the main thread's), pthread_setspecific
 * succeeds, and the key's destructor runs with its value when that thread
 * ends. A key deleted afterwards and created again reads NULL.
 */
#include "check.h"

#include <aio.h>
#include <fcntl.h>
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

	int zfd = open("/dev/zero", O_RDONLY);
	CHECK(zfd >= 0);
	for (int r = 0; r < ROUNDS; r++) {
		char byte;
		struct aiocb cb;

		memset(&cb, 0, sizeof cb);
		cb.aio_fildes = zfd;
		cb.aio_buf = &byte;
		cb.aio_nbytes = 1;
		cb.aio_sigevent.sigev_notify = SIGEV_THREAD;
		cb.aio_sigevent.sigev_notify_function = notify;
		atomic_store(&round_no, r);
		CHECK(aio_read(&cb) == 0);
		wait10(&notified);
		wait10(&dtor_ran);
		CHECK(aio_error(&cb) == 0);
		CHECK(aio_return(&cb) == 1);
	}
	close(zfd);
	CHECK(atomic_load(&bad) == 0);
	CHECK(atomic_load(&dtor_calls) == ROUNDS);
	CHECK(pthread_getspecific(key) == &mainval);

	CHECK(pthread_key_delete(key2) == 0);
	CHECK(pthread_key_create(&key2, NULL) == 0);
	CHECK(pthread_getspecific(key2) == NULL);
	puts("ok");
	return 0;
}
