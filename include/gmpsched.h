/*
 * gmpsched.h: the public API of libgmp, the Go-style M:N thread scheduler
 * loaded with LD_PRELOAD. Programs never need it: it exists for programs
 * that want to know they run under libgmp. Every name starts with gmpsched_
 * (GNU MP owns gmp_ and gmp.h).
 *
 * Find it at run time without linking against libgmp:
 *     const char *(*v)(void) = dlsym(RTLD_DEFAULT, "gmpsched_version");
 */
#ifndef GMPSCHED_H
#define GMPSCHED_H

#ifdef __cplusplus
extern "C" {
#endif

#define GMPSCHED_VERSION "0.1.0"

/* The library's version string, e.g. "0.1.0". */
const char *gmpsched_version(void);

/* The number of Ps (GMP_MAXPROCS): how many threads run at once. 0 when
 * the runtime is not active (start-up failed, see stderr). */
int gmpsched_maxprocs(void);

/* Let other threads run: the calling thread goes to the back of its P's
 * run queue. Same as sched_yield() under libgmp. */
void gmpsched_yield(void);

#ifdef __cplusplus
}
#endif

#endif
