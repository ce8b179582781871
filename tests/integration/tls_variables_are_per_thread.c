/*
 * __thread and _Thread_local variables are per thread: every new thread
 * sees the initial values (even after its creator changed its own copy),
 * their addresses differ between live threads and stay put across yields
 * and sleeps, and one thread can reach another's through a pointer.
 */
#include "check.h"

#include <pthread.h>
#include <sched.h>

#define NTHREADS	16
#define ARRLEN		64
#define ROUNDS		300

static __thread int tls_int;
static __thread int tls_arr[ARRLEN];
static __thread int tls_init = 12345;
static __thread char tls_str[16] = "hello";
static _Thread_local long long tls_big[4] = { 1, 2, 3, 4 };

struct slot {
	int *int_addr;
	int *arr_addr;
	int *init_addr;
	int nested_init;	/* tls_init seen by a thread it created */
};

static struct slot slots[NTHREADS];
static struct t_barrier barrier;

static void check_initial_values(void)
{
	CHECK_INT(tls_int, ==, 0);
	for (int i = 0; i < ARRLEN; i++)
		CHECK_INT(tls_arr[i], ==, 0);
	CHECK_INT(tls_init, ==, 12345);
	CHECK(strcmp(tls_str, "hello") == 0);
	for (int i = 0; i < 4; i++)
		CHECK_INT(tls_big[i], ==, i + 1);
}

static void *nested(void *arg)
{
	(void)arg;
	check_initial_values();
	return (void *)(intptr_t)tls_init;
}

static void check_mine(int id)
{
	CHECK_INT(tls_int, ==, id);
	for (int i = 0; i < ARRLEN; i++)
		CHECK_INT(tls_arr[i], ==, id * 1000 + i);
	CHECK_INT(tls_init, ==, 12345 + id);
	CHECK_INT(tls_str[0], ==, 'A' + id);
	CHECK_INT(tls_big[3], ==, 4 + id);
	CHECK(&tls_int == slots[id].int_addr);
	CHECK(tls_arr == slots[id].arr_addr);
	CHECK(&tls_init == slots[id].init_addr);
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	pthread_t t;
	void *ret;

	check_initial_values();
	tls_int = id;
	for (int i = 0; i < ARRLEN; i++)
		tls_arr[i] = id * 1000 + i;
	tls_init = 12345 + id;
	tls_str[0] = (char)('A' + id);
	tls_big[3] = 4 + id;
	slots[id].int_addr = &tls_int;
	slots[id].arr_addr = tls_arr;
	slots[id].init_addr = &tls_init;

	/* A thread created now starts from the initial image, not ours. */
	CHECK_OK(pthread_create(&t, NULL, nested, NULL));
	CHECK_OK(pthread_join(t, &ret));
	slots[id].nested_init = (int)(intptr_t)ret;

	for (int i = 0; i < ROUNDS; i++) {
		check_mine(id);
		sched_yield();
		if (i % 50 == 0)
			usleep(100);
	}
	t_barrier_wait(&barrier);
	/* Main writes into our tls_int through the pointer we published. */
	t_barrier_wait(&barrier);
	CHECK_INT(tls_int, ==, -id);
	tls_int = id;
	check_mine(id);
	return NULL;
}

int main(void)
{
	pthread_t tids[NTHREADS];

	check_initial_values();
	tls_int = -1;
	tls_init = 99;
	tls_str[0] = 'z';
	t_barrier_init(&barrier, NTHREADS + 1);
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_create(&tids[i], NULL, worker,
					(void *)(intptr_t)i));
	t_barrier_wait(&barrier);
	for (int i = 0; i < NTHREADS; i++) {
		CHECK_INT(slots[i].nested_init, ==, 12345);
		CHECK(slots[i].int_addr != &tls_int);
		CHECK(slots[i].arr_addr != tls_arr);
		for (int j = i + 1; j < NTHREADS; j++) {
			CHECK(slots[i].int_addr != slots[j].int_addr);
			CHECK(slots[i].arr_addr != slots[j].arr_addr);
			CHECK(slots[i].init_addr != slots[j].init_addr);
		}
		*slots[i].int_addr = -i;
	}
	t_barrier_wait(&barrier);
	for (int i = 0; i < NTHREADS; i++)
		CHECK_OK(pthread_join(tids[i], NULL));
	CHECK_INT(tls_int, ==, -1);
	CHECK_INT(tls_init, ==, 99);
	CHECK_INT(tls_str[0], ==, 'z');
	return T_PASS;
}
