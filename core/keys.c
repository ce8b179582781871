/*
 * keys.c: pthread keys (thread-specific data) at G level. glibc keeps key
 * values in struct pthread and runs destructors from start_thread, which Gs
 * never reach, so libgmp keeps its own table. Owns the key table and
 * g.keys. No Go counterpart (Go has no TLS keys).
 *
 * Model. 1024 keys (PTHREAD_KEYS_MAX) with a sequence number each; a slot
 * holds a value and the sequence of the key it was set under, so a value
 * set before pthread_key_delete reads as NULL after the key is reused, as
 * in glibc. A G's slots live in 32 blocks of 32, allocated on first set.
 *
 * Invariants. keytab[i].seq is odd while key i is in use. Destructors of
 * an exiting G run on that G, up to PTHREAD_DESTRUCTOR_ITERATIONS rounds.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include "core.h"

#define NKEYS (KEY_BLOCK * KEY_NBLOCKS)

static struct {
	_Atomic uint64_t seq;
	void (*_Atomic dtor)(void *);
} keytab[NKEYS];

static struct mutex keylock = MUTEX_INIT(LOCKRANK_KEYS);

static int keys_create1(unsigned *key, void (*dtor)(void *))
{
	lock(&keylock);
	for (unsigned i = 0; i < NKEYS; i++) {
		uint64_t s = atomic_load_explicit(&keytab[i].seq,
						  memory_order_relaxed);
		if (s & 1)
			continue;
		atomic_store_explicit(&keytab[i].dtor, dtor,
				      memory_order_relaxed);
		/* release: the dtor is visible to whoever sees the key. */
		atomic_store_explicit(&keytab[i].seq, s + 1,
				      memory_order_release);
		unlock(&keylock);
		*key = i;
		return 0;
	}
	unlock(&keylock);
	return EAGAIN;
}

static int keys_delete1(unsigned key)
{
	int r = EINVAL;

	if (key >= NKEYS)
		return EINVAL;
	lock(&keylock);
	uint64_t s = atomic_load_explicit(&keytab[key].seq,
					  memory_order_relaxed);
	if (s & 1) {
		atomic_store_explicit(&keytab[key].seq, s + 1,
				      memory_order_release);
		r = 0;
	}
	unlock(&keylock);
	return r;
}

void *keys_get(unsigned key)
{
	g *gp = getg();

	if (key >= NKEYS || !gp)
		return NULL;
	struct keyslot *blk = gp->keys[key / KEY_BLOCK];
	if (!blk)
		return NULL;
	struct keyslot *s = &blk[key % KEY_BLOCK];
	/* acquire: pairs with keys_create's release of seq. */
	uint64_t seq = atomic_load_explicit(&keytab[key].seq,
					    memory_order_acquire);
	return s->seq == seq ? s->val : NULL;
}

int keys_set(unsigned key, const void *val)
{
	g *gp = getg();

	if (key >= NKEYS)
		return EINVAL;
	uint64_t seq = atomic_load_explicit(&keytab[key].seq,
					    memory_order_acquire);
	if (!(seq & 1))
		return EINVAL;
	struct keyslot **blk = &gp->keys[key / KEY_BLOCK];
	if (!*blk) {
		if (val == NULL)
			return 0;
		*blk = calloc(KEY_BLOCK, sizeof(struct keyslot));
		if (!*blk)
			return ENOMEM;
	}
	(*blk)[key % KEY_BLOCK].val = (void *)val;
	(*blk)[key % KEY_BLOCK].seq = seq;
	return 0;
}

void keys_run_destructors(g *gp)
{
	for (int round = 0; round < PTHREAD_DESTRUCTOR_ITERATIONS; round++) {
		bool again = false;

		for (unsigned b = 0; b < KEY_NBLOCKS; b++) {
			struct keyslot *blk = gp->keys[b];
			if (!blk)
				continue;
			for (unsigned i = 0; i < KEY_BLOCK; i++) {
				unsigned key = b * KEY_BLOCK + i;
				uint64_t seq = atomic_load_explicit(
					&keytab[key].seq, memory_order_acquire);
				void *v = blk[i].val;
				if (!v || blk[i].seq != seq)
					continue;
				blk[i].val = NULL;
				void (*d)(void *) = atomic_load_explicit(
					&keytab[key].dtor,
					memory_order_relaxed);
				if (d) {
					d(v);
					again = true;
				}
			}
		}
		if (!again)
			break;
	}
	/* the blocks stay with a pooled G, cleared; a user-stack G's g is
	 * freed, so free them */
	for (unsigned b = 0; b < KEY_NBLOCKS; b++) {
		if (!gp->keys[b])
			continue;
		if (gp->user_stack || gp->is_main) {
			free(gp->keys[b]);
			gp->keys[b] = NULL;
		} else {
			for (unsigned i = 0; i < KEY_BLOCK; i++)
				gp->keys[b][i].val = NULL;
		}
	}
}

int keys_create(unsigned *key, void (*dtor)(void *))
{
	rt_enter();
	int r = keys_create1(key, dtor);
	rt_exit();
	return r;
}

int keys_delete(unsigned key)
{
	rt_enter();
	int r = keys_delete1(key);
	rt_exit();
	return r;
}

void keys_afterfork(void)
{
	keylock.key = 0;
}
