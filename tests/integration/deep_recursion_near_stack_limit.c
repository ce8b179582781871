/*
 * Threads can use most of the stack they asked for: threads with a 256 KiB
 * and a default stack recurse until 80% of the size (minus a margin) is in
 * use, each frame checking its own locals after the deeper calls returned.
 * pthread_getattr_np on the thread reports a stack that contains its
 * locals and is at least the requested size.
 */
#include "check.h"

#include <pthread.h>
#include <sched.h>

#define FRAME_BYTES	1024
#define MARGIN		(32 * 1024)

struct job {
	size_t request;		/* stack size asked for */
	size_t budget;		/* bytes of stack to use */
	char *top;		/* address of a local at thread start */
	long depth;
	uint64_t sum;
};

static __attribute__((noinline)) uint64_t
recurse(struct job *job, long level)
{
	volatile unsigned char buf[FRAME_BYTES];
	uint64_t sum;

	for (int i = 0; i < FRAME_BYTES; i++)
		buf[i] = (unsigned char)(level * 7 + i);
	if (level % 64 == 0)
		sched_yield();	/* may move to another kernel thread */
	if ((size_t)(job->top - (char *)buf) + 2 * FRAME_BYTES < job->budget)
		sum = recurse(job, level + 1);
	else {
		job->depth = level;
		sum = 0;
	}
	for (int i = 0; i < FRAME_BYTES; i++)
		if (buf[i] != (unsigned char)(level * 7 + i))
			FAIL("frame %ld byte %d corrupted", level, i);
	return sum + (uint64_t)level * 3 + buf[FRAME_BYTES - 1];
}

static void *worker(void *arg)
{
	struct job *job = arg;
	char local;
	pthread_attr_t attr;
	void *addr;
	size_t size;

	job->top = &local;
	CHECK_OK(pthread_getattr_np(pthread_self(), &attr));
	CHECK_OK(pthread_attr_getstack(&attr, &addr, &size));
	CHECK_OK(pthread_attr_destroy(&attr));
	CHECK((char *)addr <= &local && &local < (char *)addr + size);
	CHECK_INT(size, >=, job->request);

	job->sum = recurse(job, 0);
	return NULL;
}

static void run(size_t request, int set_size)
{
	struct job job = { 0 };
	pthread_attr_t attr;
	pthread_t t;
	uint64_t want = 0;

	job.request = request;
	job.budget = request / 10 * 8 - MARGIN;
	CHECK_OK(pthread_attr_init(&attr));
	if (set_size)
		CHECK_OK(pthread_attr_setstacksize(&attr, request));
	CHECK_OK(pthread_create(&t, &attr, worker, &job));
	CHECK_OK(pthread_join(t, NULL));
	CHECK_OK(pthread_attr_destroy(&attr));

	/* The frames really used the stack: at least one per FRAME_BYTES. */
	CHECK_INT(job.depth, >, 0);
	CHECK_INT((size_t)job.depth * FRAME_BYTES, <=, job.budget);
	CHECK_INT((size_t)(job.depth + 4) * FRAME_BYTES * 2, >=, job.budget);
	for (long l = 0; l <= job.depth; l++)
		want += (uint64_t)l * 3 +
			(unsigned char)(l * 7 + FRAME_BYTES - 1);
	CHECK_INT(job.sum, ==, want);
}

int main(void)
{
	pthread_attr_t attr;
	size_t dflt;

	CHECK_OK(pthread_attr_init(&attr));
	CHECK_OK(pthread_attr_getstacksize(&attr, &dflt));
	CHECK_OK(pthread_attr_destroy(&attr));
	if (dflt > 64 * 1024 * 1024)
		dflt = 64 * 1024 * 1024;

	for (int i = 0; i < 4; i++)
		run(256 * 1024, 1);
	run(dflt, 0);
	run(dflt, 0);
	return T_PASS;
}
