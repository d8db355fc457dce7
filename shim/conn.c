/*
 * conn.c - the connection pool, and what a connection owes the breaker:
 * the outcome of its attempt (once), and a failure when its peer breaks.
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
#include "layers.h"
#include "log.h"
#include "ready.h"

#define CHUNK_BITS 6u /* 64 objects (~27 KiB) a chunk: a small first bite of RSS */
#define CHUNK	   (1u << CHUNK_BITS)
#define MAX_CHUNKS 32768u /* 2 Mi connections */

static struct fl_conn *chunks[MAX_CHUNKS];
static uint32_t chunks_used; /* chunks claimed (atomic) */
static uint64_t free_head;   /* tag << 32 | (index + 1) (atomic) */

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
	} while (
	    !__atomic_compare_exchange_n(&free_head, &head, next, true, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
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
	struct fl_conn *chunk =
	    mmap(NULL, CHUNK * sizeof(*chunk), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
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
	__atomic_store_n(&c->pending, 0, __ATOMIC_RELAXED);
	c->permit.active = false;
	c->permit.generation = 0;
	c->stats = c->breaker = c->bulkhead = NULL;
	c->layer_gen = FL_LAYER_GEN_UNSEEN; /* matched against layers at its first call */
	c->rematching = 0;
	c->pass_gen = FL_LAYER_GEN_UNSEEN;
	c->cx_ops = 0; /* connect sets it up (fl_cx_setup) */
	c->cx_reset = 0;
	c->shape_rule = -1;
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
	/* First: a connect still queued in the bulkhead is withdrawn there
	 * (no real connect was made, nothing to count). */
	fl_ready_release(c);
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

/* --- outcomes ---------------------------------------------------------- */

uint64_t fl_breaker_word(const struct fl_conn *c)
{
	return c->breaker ? __atomic_load_n(&c->breaker->breaker.word, __ATOMIC_ACQUIRE) : 0;
}

void fl_breaker_note(const struct fl_conn *c, uint64_t before)
{
	if (!c->breaker || !fl_log_on(FL_LOG_INFO))
		return;
	uint64_t after = fl_breaker_word(c);
	uint32_t from = fl_breaker_word_state(before), to = fl_breaker_word_state(after);
	if (from == to)
		return;
	char storage[256], dest[FL_DEST_STR_MAX];
	struct fl_textbuf b;
	fl_dest_format(&c->dest, dest, sizeof(dest));
	fl_log_begin(&b, storage, sizeof(storage));
	fl_tb_puts(&b, "breaker ");
	fl_tb_puts(&b, dest);
	fl_tb_puts(&b, ": ");
	fl_tb_puts(&b, fl_breaker_state_name(from));
	fl_tb_puts(&b, " -> ");
	fl_tb_puts(&b, fl_breaker_state_name(to));
	fl_log_end(&b);
}

void fl_conn_outcome(struct fl_conn *c, int err)
{
	if (!c->breaker || !c->permit.active)
		return;
	struct fl_seg_breaker *b = &c->breaker->breaker;
	uint64_t before = fl_breaker_word(c);
	if (err == 0 || fl_breaker_is_connect_failure(err)) {
		fl_breaker_record(b, &c->permit, err != 0, fl_now_ns(), fl_now_ms());
		c->counted = 1;
	} else
		fl_breaker_cancel(b, &c->permit);
	fl_breaker_note(c, before);
}

void fl_conn_settle(struct fl_conn *c, int err)
{
	uint8_t was = 1;
	if (__atomic_compare_exchange_n(&c->connecting, &was, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		fl_conn_outcome(c, err);
}

void fl_conn_withdraw(struct fl_conn *c)
{
	uint8_t was = 1;
	if (__atomic_compare_exchange_n(&c->connecting, &was, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) &&
	    c->breaker && c->permit.active)
		fl_breaker_cancel(&c->breaker->breaker, &c->permit);
}

void fl_conn_slot_taken(struct fl_conn *c, uint32_t holder)
{
	c->holder = holder;
	c->has_slot = 1;
	__atomic_fetch_add(&fl_domain.slot_conns, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&fl_domain.held_slots, true, __ATOMIC_RELEASE);
}

/* A broken peer on an established connection: one failure per connection,
 * under the generation the connection was admitted in. The attempt was
 * already counted as a call (its success): it is the same call, now
 * failed, not a second one. A connection whose attempt this process never
 * counted (adopted after exec) counts a call that failed. */
static void peer_failed(struct fl_conn *c)
{
	uint8_t was = 0;
	if (!c->breaker ||
	    !__atomic_compare_exchange_n(&c->peer_failed, &was, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return;
	uint64_t before = fl_breaker_word(c);
	if (c->counted) {
		fl_breaker_record_late_failure(&c->breaker->breaker, c->permit.generation, fl_now_ns(),
					       fl_now_ms());
	} else {
		struct fl_permit p = {.generation = c->permit.generation, .trial = false, .active = true};
		fl_breaker_record(&c->breaker->breaker, &p, true, fl_now_ns(), fl_now_ms());
	}
	fl_breaker_note(c, before);
}

ssize_t fl_io_outcome(struct fl_conn *c, ssize_t r)
{
	int saved = errno;
	if (__atomic_load_n(&c->connecting, __ATOMIC_ACQUIRE)) {
		/* The first I/O tells how a non-blocking connect ended. */
		if (r >= 0)
			fl_conn_settle(c, 0);
		else if (fl_breaker_is_connect_failure(saved) || saved == EPIPE)
			fl_conn_settle(c, saved == EPIPE ? ECONNREFUSED : saved);
	} else if (r < 0 && fl_breaker_is_peer_failure(saved)) {
		peer_failed(c);
	}
	errno = saved;
	return r;
}
