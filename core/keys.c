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
 * Callers that are not a G (an M's g0, a thread glibc started for itself,
 * such as a SIGEV_THREAD timer's) use the same key numbers with a table of
 * their kernel thread's: libgmp's own __thread pointer, which on a G would
 * name the G's TLS but is only used off a G. Its destructors run when the
 * kernel thread exits, through one glibc key created at start-up
 * (hooks.thread_key_create). Allocators such as jemalloc set a key from
 * inside malloc on any thread, so no path here calls malloc: key blocks
 * come from mmap'd chunks and go back to a free list.
 *
 * Invariants. keytab[i].seq is odd while key i is in use. Destructors of
 * an exiting G run on that G, up to PTHREAD_DESTRUCTOR_ITERATIONS rounds.
 * A block is on the free list or owned by exactly one G or thread table.
 *
 * Locks: keylock (LOCKRANK_KEYS), a leaf.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include "core.h"

#define NKEYS (KEY_BLOCK * KEY_NBLOCKS)

static struct {
	_Atomic uint64_t seq;
	void (*_Atomic dtor)(void *);
} keytab[NKEYS];

static struct mutex keylock = MUTEX_INIT(LOCKRANK_KEYS);

/* The glibc key whose destructor is thread_exit_keys. */
static unsigned keys_glibc_key;

/* Free key blocks, linked through their first slot's val. keylock. */
static struct keyslot *blkfree;

/* A zeroed block of KEY_BLOCK slots, or NULL when mmap fails. */
static struct keyslot *blk_alloc(void)
{
	enum { CHUNK = 64 << 10, BLK = KEY_BLOCK * sizeof(struct keyslot) };
	struct keyslot *b;

	rt_enter();
	lock(&keylock);
	if (!blkfree) {
		char *c = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (c == MAP_FAILED) {
			unlock(&keylock);
			rt_exit();
			return NULL;
		}
		for (size_t off = 0; off + BLK <= CHUNK; off += BLK) {
			struct keyslot *nb = (struct keyslot *)(c + off);
			nb->val = blkfree;
			blkfree = nb;
		}
	}
	b = blkfree;
	blkfree = b->val;
	unlock(&keylock);
	rt_exit();
	memset(b, 0, BLK);
	return b;
}

static void blk_free(struct keyslot *b)
{
	rt_enter();
	lock(&keylock);
	b->val = blkfree;
	blkfree = b;
	unlock(&keylock);
	rt_exit();
}

/* The key blocks of a kernel thread that is not running a G. */
static __thread struct keyslot *thr_keys[KEY_NBLOCKS]
	__attribute__((tls_model("initial-exec")));
/* Set once its thread has registered for thread_exit_keys. */
static __thread bool thr_registered
	__attribute__((tls_model("initial-exec")));

/* The table a caller uses: its G's, or its kernel thread's. */
static struct keyslot **table(void)
{
	g *gp = getg();

	return gp && !gp->is_g0 ? gp->keys : thr_keys;
}

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
	if (key >= NKEYS)
		return NULL;
	struct keyslot *blk = table()[key / KEY_BLOCK];
	if (!blk)
		return NULL;
	struct keyslot *s = &blk[key % KEY_BLOCK];
	/* acquire: pairs with keys_create's release of seq. */
	uint64_t seq = atomic_load_explicit(&keytab[key].seq,
					    memory_order_acquire);
	return s->seq == seq ? s->val : NULL;
}

static void thread_exit_keys(void *arg);

int keys_set(unsigned key, const void *val)
{
	if (key >= NKEYS)
		return EINVAL;
	uint64_t seq = atomic_load_explicit(&keytab[key].seq,
					    memory_order_acquire);
	if (!(seq & 1))
		return EINVAL;
	struct keyslot **tab = table();
	struct keyslot **blk = &tab[key / KEY_BLOCK];
	if (!*blk) {
		if (val == NULL)
			return 0;
		if (tab == thr_keys && !thr_registered) {
			/* any non-NULL value: glibc calls us at exit */
			if (hooks.thread_setspecific(keys_glibc_key, thr_keys))
				return ENOMEM;
			thr_registered = true;
		}
		*blk = blk_alloc();
		if (!*blk)
			return ENOMEM;
	}
	(*blk)[key % KEY_BLOCK].val = (void *)val;
	(*blk)[key % KEY_BLOCK].seq = seq;
	return 0;
}

/* Run the destructors of one table's values. */
static void run_destructors(struct keyslot **tab)
{
	for (int round = 0; round < PTHREAD_DESTRUCTOR_ITERATIONS; round++) {
		bool again = false;

		for (unsigned b = 0; b < KEY_NBLOCKS; b++) {
			struct keyslot *blk = tab[b];
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
}

void keys_run_destructors(g *gp)
{
	run_destructors(gp->keys);
	/* the blocks stay with a pooled G, cleared; a user-stack G's g is
	 * freed, so free them */
	for (unsigned b = 0; b < KEY_NBLOCKS; b++) {
		if (!gp->keys[b])
			continue;
		if (gp->user_stack || gp->is_main) {
			blk_free(gp->keys[b]);
			gp->keys[b] = NULL;
		} else {
			for (unsigned i = 0; i < KEY_BLOCK; i++)
				gp->keys[b][i].val = NULL;
		}
	}
}

/* glibc's destructor for keys_glibc_key: a kernel thread that used keys
 * off a G exits. Destructors may set keys again (glibc then calls us
 * again: the registration is redone). */
static void thread_exit_keys(void *arg)
{
	(void)arg;
	thr_registered = false;
	run_destructors(thr_keys);
	for (unsigned b = 0; b < KEY_NBLOCKS; b++) {
		if (thr_keys[b]) {
			blk_free(thr_keys[b]);
			thr_keys[b] = NULL;
		}
	}
}

int keys_init(void)
{
	pthread_key_t k;
	int r = hooks.thread_key_create(&k, thread_exit_keys);

	keys_glibc_key = (unsigned)k;
	return r;
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
