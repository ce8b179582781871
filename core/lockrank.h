/*
 * lockrank.h: the order in which runtime locks may be taken (Go:
 * lockrank.go). Take locks in increasing rank. A DEBUG=1 build records the
 * highest rank each M holds and throws on an inversion.
 */
#ifndef GMP_LOCKRANK_H
#define GMP_LOCKRANK_H

enum lockrank {
	LOCKRANK_NONE = 0,
	LOCKRANK_PD = 1,	/* a poll descriptor's pollers (netpoll.c) */
	LOCKRANK_SEMA,		/* one bucket of the address-keyed wait table */
	LOCKRANK_TIMERS,	/* the timer heap (added to from a sema unlockf) */
	LOCKRANK_SCHED,		/* sched.lock: global runq, idle P and M lists */
	LOCKRANK_GFREE,		/* the free-G pool and the G table */
	LOCKRANK_KEYS,		/* the pthread key table */
	LOCKRANK_STACK,		/* the stack pool */
	LOCKRANK_NEWM,		/* the template thread's request list */
	LOCKRANK_LEAF = 1000,	/* nothing is taken while a leaf is held */
};

#endif
