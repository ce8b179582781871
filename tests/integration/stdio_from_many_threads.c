/*
 * stdio locking works per thread: 16 threads write multi-part lines to one
 * FILE under flockfile/funlockfile (yielding and flushing in the middle of
 * a line), and every line comes out whole, in each thread's order, with
 * the right counts.  putc_unlocked under flockfile, recursive flockfile
 * and ftrylockfile against another owner behave as documented.
 */
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define NTHREADS	16
#define LINES		400
#define PAYLOAD		24

static FILE *out;
static struct t_barrier barrier;

static void *writer(void *arg)
{
	int id = (int)(intptr_t)arg;

	t_barrier_wait(&barrier);
	for (int n = 0; n < LINES; n++) {
		flockfile(out);
		fprintf(out, "T%02d", id);
		if (n % 16 == 0)
			sched_yield();	/* others must wait for the lock */
		fputs(" line ", out);
		fprintf(out, "%05d ", n);
		for (int k = 0; k < PAYLOAD; k++)
			putc_unlocked('a' + id, out);
		if (n % 64 == 0)
			usleep(50);
		putc_unlocked('\n', out);
		funlockfile(out);
		if (n % 8 == 0)
			sched_yield();
	}
	return NULL;
}

static atomic_int try_result = -1;

static void *try_lock(void *arg)
{
	FILE *f = arg;

	try_result = ftrylockfile(f);
	if (try_result == 0)
		funlockfile(f);
	return NULL;
}

static int try_from_other_thread(FILE *f)
{
	pthread_t t;

	try_result = -1;
	CHECK_OK(pthread_create(&t, NULL, try_lock, f));
	CHECK_OK(pthread_join(t, NULL));
	return try_result;
}

static void check_lock_ownership(void)
{
	FILE *f = tmpfile();

	CHECK(f != NULL);
	CHECK_INT(try_from_other_thread(f), ==, 0);
	flockfile(f);
	flockfile(f);	/* recursive */
	CHECK_INT(ftrylockfile(f), ==, 0);	/* owner may relock */
	CHECK(try_from_other_thread(f) != 0);
	funlockfile(f);
	funlockfile(f);
	CHECK(try_from_other_thread(f) != 0);	/* still held once */
	funlockfile(f);
	CHECK_INT(try_from_other_thread(f), ==, 0);
	fclose(f);
}

int main(void)
{
	pthread_t tids[NTHREADS];
	int count[NTHREADS] = { 0 };
	char line[256];
	int total = 0;

	check_lock_ownership();

	out = tmpfile();
	CHECK(out != NULL);
	/* A small buffer: lines straddle flushes (write syscalls). */
	CHECK_INT(setvbuf(out, NULL, _IOFBF, 64), ==, 0);
	t_barrier_init(&barrier, NTHREADS);
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&tids[i], NULL, writer,
					(void *)(intptr_t)i));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(tids[i], NULL));

	CHECK_INT(fflush(out), ==, 0);
	rewind(out);
	while (fgets(line, sizeof(line), out) != NULL) {
		int id, n, len = 0;
		char payload[PAYLOAD + 8];

		total++;
		if (sscanf(line, "T%2d line %5d %31s%n", &id, &n, payload,
			   &len) != 3)
			FAIL("malformed line %d: %s", total, line);
		CHECK(id >= 0 && id < NTHREADS);
		CHECK_INT(strlen(line), ==, 3 + 6 + 6 + PAYLOAD + 1);
		CHECK_INT(strlen(payload), ==, PAYLOAD);
		for (int k = 0; k < PAYLOAD; k++)
			CHECK_INT(payload[k], ==, 'a' + id);
		/* Each thread's lines appear in the order it wrote them. */
		CHECK_INT(n, ==, count[id]);
		count[id]++;
	}
	CHECK(!ferror(out));
	for (int i = 0; i < NTHREADS; i++)
		CHECK_INT(count[i], ==, LINES);
	CHECK_INT(total, ==, NTHREADS * LINES);
	fclose(out);
	return T_PASS;
}
