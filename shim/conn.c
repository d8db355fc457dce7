/*
 * conn.c - the connection pool.
 *
 * The free list head packs (tag << 32 | index + 1) into one word; the tag
 * changes on every pop, so a thread (or a signal handler) that was
 * interrupted between reading the head and swapping it cannot succeed with
 * a stale view (the ABA problem of Treiber stacks).
 */
#include "conn.h"

#include <errno.h>
#include <sys/mman.h>

#include "bulkhead.h"
#include "domain.h"
#include "inject.h"

#define CHUNK_BITS 6u /* 64 objects (~27 KiB) a chunk: a small first bite of RSS */
#define CHUNK (1u << CHUNK_BITS)
#define MAX_CHUNKS 32768u /* 2 Mi connections */

static struct fl_conn *chunks[MAX_CHUNKS];
static uint32_t chunks_used;  /* chunks claimed (atomic) */
static uint64_t free_head;    /* tag << 32 | (index + 1) (atomic) */

static struct fl_conn *conn_at(uint32_t index)
{
	struct fl_conn *chunk = __atomic_load_n(&chunks[index >> CHUNK_BITS], __ATOMIC_ACQUIRE);
	return &chunk[index & (CHUNK - 1)];
}

static void push_free(struct fl_conn *c)
{
	uint64_t head = __atomic_load_n(&free_head, __ATOMIC_ACQUIRE);
	uint64_t next;
	do {
		c->next_free = (uint32_t)head;
		next = (head & 0xffffffff00000000ULL) + ((uint64_t)1 << 32) + (c->index + 1);
	} while (!__atomic_compare_exchange_n(&free_head, &head, next, true, __ATOMIC_ACQ_REL,
					      __ATOMIC_ACQUIRE));
}

static struct fl_conn *pop_free(void)
{
	uint64_t head = __atomic_load_n(&free_head, __ATOMIC_ACQUIRE);
	for (;;) {
		uint32_t top = (uint32_t)head;
		if (top == 0)
			return NULL;
		struct fl_conn *c = conn_at(top - 1);
		uint64_t next = (head & 0xffffffff00000000ULL) + ((uint64_t)1 << 32) +
				__atomic_load_n(&c->next_free, __ATOMIC_RELAXED);
		if (__atomic_compare_exchange_n(&free_head, &head, next, true, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return c;
	}
}

/* Maps one more chunk; keeps its first object, frees the rest. */
static struct fl_conn *grow(void)
{
	uint32_t n = __atomic_fetch_add(&chunks_used, 1, __ATOMIC_RELAXED);
	if (n >= MAX_CHUNKS)
		return NULL;
	struct fl_conn *chunk = mmap(NULL, CHUNK * sizeof(*chunk), PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (chunk == MAP_FAILED)
		return NULL;
	for (uint32_t i = 0; i < CHUNK; i++)
		chunk[i].index = (n << CHUNK_BITS) + i;
	__atomic_store_n(&chunks[n], chunk, __ATOMIC_RELEASE);
	for (uint32_t i = 1; i < CHUNK; i++)
		push_free(&chunk[i]);
	return &chunk[0];
}

struct fl_conn *fl_conn_new(const struct fl_dest *d, const struct fl_match *m)
{
	struct fl_conn *c = pop_free();
	if (!c)
		c = grow();
	if (!c)
		return NULL;
	c->dest = *d;
	c->match = *m;
	c->has_slot = 0;
	c->peer_failed = 0;
	c->counted = 0;
	c->holder = FL_HOLDER_NONE;
	c->fork_epoch = 0;
	c->permit.active = false;
	c->permit.generation = 0;
	c->stats = c->breaker = c->bulkhead = NULL;
	__atomic_store_n(&c->connecting, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&c->refs, 1, __ATOMIC_RELEASE);
	return c;
}

void fl_conn_ref(struct fl_conn *c)
{
	__atomic_fetch_add(&c->refs, 1, __ATOMIC_RELAXED);
}

void fl_conn_unref(struct fl_conn *c)
{
	if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	/* After the exit destructor our holders are gone (maybe reused): hands off. */
	bool attached = !__atomic_load_n(&fl_domain.detached, __ATOMIC_ACQUIRE);
	uint8_t was = 1;
	if (__atomic_compare_exchange_n(&c->connecting, &was, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) &&
	    attached) {
		/* The program gave up on its connect (closed the socket while it
		 * was pending, or jumped out of it): that is how most clients'
		 * connect timeouts end, and the breaker counts it as one (SPEC 5). */
		int saved = errno;
		fl_conn_outcome(c, ETIMEDOUT);
		errno = saved;
	}
	if (c->has_slot && attached) {
		int saved = errno;
		fl_bulkhead_release(&fl_domain.seg, c->bulkhead, c->holder);
		__atomic_fetch_sub(&fl_domain.slot_conns, 1, __ATOMIC_RELAXED);
		errno = saved;
		c->has_slot = 0;
	}
	push_free(c);
}

void fl_conn_fork_child(void)
{
	uint32_t used = __atomic_load_n(&chunks_used, __ATOMIC_ACQUIRE);
	if (used > MAX_CHUNKS)
		used = MAX_CHUNKS;
	for (uint32_t n = 0; n < used; n++) {
		struct fl_conn *chunk = __atomic_load_n(&chunks[n], __ATOMIC_ACQUIRE);
		if (!chunk)
			continue;
		for (uint32_t i = 0; i < CHUNK; i++)
			if (__atomic_load_n(&chunk[i].refs, __ATOMIC_ACQUIRE) != 0)
				chunk[i].permit.active = false;
	}
}
