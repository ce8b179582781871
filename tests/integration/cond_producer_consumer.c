/*
 * A bounded queue guarded by one mutex and two condition variables
 * (not_full, not_empty) moves every item from many producers to many
 * consumers exactly once: counts, checksum and per-item tally are exact.
 */
#include "check.h"

#include <pthread.h>
#include <sched.h>

#define PRODUCERS	4
#define CONSUMERS	4
#define ITEMS		20000	/* per producer */
#define QSIZE		8
#define STOP		(-1)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static long queue[QSIZE];
static int head, len;

static unsigned char seen[PRODUCERS * ITEMS];
static long consumed[CONSUMERS];
static unsigned long long sums[CONSUMERS];

static void put(long v)
{
	CHECK_OK(pthread_mutex_lock(&mu));
	while (len == QSIZE)
		CHECK_OK(pthread_cond_wait(&not_full, &mu));
	queue[(head + len) % QSIZE] = v;
	len++;
	CHECK_OK(pthread_cond_signal(&not_empty));
	CHECK_OK(pthread_mutex_unlock(&mu));
}

static long get(void)
{
	long v;

	CHECK_OK(pthread_mutex_lock(&mu));
	while (len == 0)
		CHECK_OK(pthread_cond_wait(&not_empty, &mu));
	v = queue[head];
	head = (head + 1) % QSIZE;
	len--;
	CHECK_OK(pthread_cond_signal(&not_full));
	CHECK_OK(pthread_mutex_unlock(&mu));
	return v;
}

static void *producer(void *arg)
{
	int id = (int)(intptr_t)arg;

	for (int i = 0; i < ITEMS; i++) {
		put((long)id * ITEMS + i);
		if (i % 500 == 0)
			sched_yield();
	}
	return NULL;
}

static void *consumer(void *arg)
{
	int id = (int)(intptr_t)arg;
	long v;

	while ((v = get()) != STOP) {
		CHECK(v >= 0 && v < PRODUCERS * ITEMS);
		seen[v]++;	/* each item reaches one consumer only */
		consumed[id]++;
		sums[id] += (unsigned long long)v;
	}
	return NULL;
}

int main(void)
{
	pthread_t prod[PRODUCERS], cons[CONSUMERS];
	long total = 0;
	unsigned long long sum = 0, n = PRODUCERS * ITEMS;

	for (int i = 0; i < CONSUMERS; i++)
		CHECK_OK(pthread_create(&cons[i], NULL, consumer,
					(void *)(intptr_t)i));
	for (int i = 0; i < PRODUCERS; i++)
		CHECK_OK(pthread_create(&prod[i], NULL, producer,
					(void *)(intptr_t)i));
	for (int i = 0; i < PRODUCERS; i++)
		CHECK_OK(pthread_join(prod[i], NULL));
	for (int i = 0; i < CONSUMERS; i++)
		put(STOP);
	for (int i = 0; i < CONSUMERS; i++)
		CHECK_OK(pthread_join(cons[i], NULL));

	for (int i = 0; i < CONSUMERS; i++) {
		total += consumed[i];
		sum += sums[i];
	}
	CHECK_INT(total, ==, PRODUCERS * ITEMS);
	CHECK(sum == n * (n - 1) / 2);
	for (int i = 0; i < PRODUCERS * ITEMS; i++)
		if (seen[i] != 1)
			FAIL("item %d seen %d times", i, seen[i]);
	CHECK_INT(len, ==, 0);
	return T_PASS;
}
