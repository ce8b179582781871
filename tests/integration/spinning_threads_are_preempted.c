/*
 * Threads that compute without making any call cannot starve the others:
 * 2 x ncpu (at least 4) threads spin in pure computation until a flag
 * changes, while another thread sleeps 1 ms 200 times and only then sets
 * the flag. With one CPU for all of them (GMP_MAXPROCS=1 too) the sleeper
 * must get to run between the spinners' slices, or the test hangs.
 *
 * Being stopped and resumed must not disturb a spinner: each computes a
 * chain of double-precision and SSE-vector steps and an integer hash,
 * keeping the step count; afterwards main redoes that many steps and
 * compares the results bit for bit (a lost or corrupted register, flag
 * or FP control state would change them). One spinner runs with the
 * rounding mode set to upward, which a preemption must keep too.
 *
 * The program's own SIGURG handler (the signal libgmp preempts with by
 * default) still gets every SIGURG the program sends: 20 with
 * pthread_kill to the sleeper and 1 with kill to the process, each
 * waited for before the next (standard signals merge while pending).
 */
#include "check.h"

#include <fenv.h>
#include <signal.h>
#include <stdatomic.h>

#define SLEEPS 200

typedef double v2d __attribute__((vector_size(16)));

struct spin {
	pthread_t t;
	int upward;
	uint64_t steps;
	double x;
	v2d v;
	uint64_t h;
};

static volatile int stop;
static atomic_int urg_count;
static pthread_t sleeper_t;

static void on_urg(int sig)
{
	(void)sig;
	atomic_fetch_add(&urg_count, 1);
}

/* One step of every chain; inline, so the loop makes no call. */
static inline __attribute__((always_inline)) void step(double *x, v2d *v,
						       uint64_t *h)
{
	*x = *x * 1.0000001 + 0.25;
	if (*x > 1e6)
		*x *= 1e-6;
	*v = *v * (v2d){ 0.999999, 1.000001 } + (v2d){ 0.5, -0.5 };
	*h = (*h ^ (*h >> 29)) * 0x9e3779b97f4a7c15ull + 1;
}

static void *spinner(void *arg)
{
	struct spin *s = arg;
	double x = 1.0;
	v2d v = { 1.0, 2.0 };
	uint64_t h = 42, n = 0;

	if (s->upward)
		CHECK(fesetround(FE_UPWARD) == 0);
	while (!stop) {
		step(&x, &v, &h);
		n++;
	}
	if (s->upward)
		CHECK(fegetround() == FE_UPWARD);
	s->steps = n;
	s->x = x;
	s->v = v;
	s->h = h;
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (int i = 0; i < SLEEPS; i++) {
		struct timespec ts = { 0, 1000000 };
		while (nanosleep(&ts, &ts) != 0)
			CHECK(errno == EINTR);
	}
	stop = 1;
	return NULL;
}

int main(void)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int nspin = ncpu < 2 ? 4 : (int)(2 * ncpu);
	struct spin *s = calloc((size_t)nspin, sizeof *s);
	struct sigaction sa = { .sa_handler = on_urg, .sa_flags = SA_RESTART };

	CHECK(s != NULL);
	sigemptyset(&sa.sa_mask);
	CHECK_SYS(sigaction(SIGURG, &sa, NULL));

	for (int i = 0; i < nspin; i++) {
		s[i].upward = i == 0;
		CHECK_OK(pthread_create(&s[i].t, NULL, spinner, &s[i]));
	}
	CHECK_OK(pthread_create(&sleeper_t, NULL, sleeper, NULL));
	/* one at a time: a standard signal sent again while pending merges */
	for (int i = 1; i <= 21; i++) {
		if (i <= 20)
			CHECK_OK(pthread_kill(sleeper_t, SIGURG));
		else
			CHECK_SYS(kill(getpid(), SIGURG));
		for (int w = 0; w < 10000 && atomic_load(&urg_count) < i; w++)
			t_sleep_ms(1);
		CHECK_INT(atomic_load(&urg_count), ==, i);
	}
	CHECK_OK(pthread_join(sleeper_t, NULL));
	for (int i = 0; i < nspin; i++)
		CHECK_OK(pthread_join(s[i].t, NULL));

	for (int i = 0; i < nspin; i++) {
		double x = 1.0;
		v2d v = { 1.0, 2.0 };
		uint64_t h = 42;

		CHECK(fesetround(s[i].upward ? FE_UPWARD : FE_TONEAREST) == 0);
		for (uint64_t n = 0; n < s[i].steps; n++)
			step(&x, &v, &h);
		CHECK(fesetround(FE_TONEAREST) == 0);
		CHECK(memcmp(&x, &s[i].x, sizeof x) == 0);
		CHECK(memcmp(&v, &s[i].v, sizeof v) == 0);
		CHECK(h == s[i].h);
	}
	free(s);
	puts("ok");
	return 0;
}
