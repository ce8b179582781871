/*
 * A thread that holds a spinlock may block (here: sleep) while others
 * spin for it: the spinners get the lock once it is released, and every
 * increment made under the lock is counted. Under libgmp with one P, a
 * spinner that never gave its P up would keep the sleeping holder from
 * ever running again; a spinning G must yield.
 */
/* timeout: 120 */
#include "check.h"

#include <pthread.h>

#define NTHREADS	4
#define ROUNDS		20

static pthread_spinlock_t spin;
static long counter;

static void *worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		CHECK_OK(pthread_spin_lock(&spin));
		long c = counter;
		usleep(1000);	/* blocks while holding the lock */
		counter = c + 1;
		CHECK_OK(pthread_spin_unlock(&spin));
	}
	return NULL;
}

int main(void)
{
	pthread_t t[NTHREADS];

	CHECK_OK(pthread_spin_init(&spin, PTHREAD_PROCESS_PRIVATE));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&t[i], NULL, worker, NULL));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(t[i], NULL));
	CHECK_INT(counter, ==, NTHREADS * ROUNDS);
	CHECK_OK(pthread_spin_destroy(&spin));
	puts("ok");
	return 0;
}
