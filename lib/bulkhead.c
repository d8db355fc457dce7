/*
 * bulkhead.c - see bulkhead.h.
 */
#include "bulkhead.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "atomics.h"
#include "clock.h"
#include "events.h"
#include "procreg.h"
#include "wait.h"

/* Waiters check for dead holders this often. Not a whole second: a signal
 * that lands while a waiter is reclaiming (between two futex waits) runs
 * its handler without ending the wait, and the timers programs use to
 * give up on a connect (alarm(1), wget's alarm(N)) fire on whole seconds
 * from the start of the wait - a 1000 ms tick would reclaim exactly then. */
#define REAP_TICK_MS 970u

void fl_bulkhead_params_set(struct fl_seg_bulkhead_params *out, const struct fl_bulkhead_params *in)
{
	STORE(&out->max_concurrent_requests, in->max_concurrent_requests);
	STORE(&out->max_queue_size, in->max_queue_size);
	STORE(&out->queue_timeout_ms, in->queue_timeout_ms);
	STORE(&out->reject_errno, in->reject_errno);
	STORE(&out->scope, in->scope);
	STORE(&out->enabled, (uint8_t)in->enabled);
}

void fl_bulkhead_params_get(struct fl_bulkhead_params *out, const struct fl_seg_bulkhead_params *in)
{
	out->max_concurrent_requests = LOAD(&in->max_concurrent_requests);
	out->max_queue_size = LOAD(&in->max_queue_size);
	out->queue_timeout_ms = LOAD(&in->queue_timeout_ms);
	out->reject_errno = LOAD(&in->reject_errno);
	out->scope = LOAD(&in->scope);
	out->enabled = LOAD(&in->enabled) != 0;
}

void fl_bulkhead_init(struct fl_seg_bulkhead *b, const struct fl_bulkhead_params *p)
{
	fl_bulkhead_params_set(&b->p, p);
}

/*
 * Takes a slot if one is free beyond `keep` slots owed to waiters ahead of
 * the caller: an arrival keeps one for every queued waiter, a waiter one
 * for every waiter that came before it. So a freed slot goes to the oldest
 * waiter, never to whoever happens to look first.
 */
static bool try_take(struct fl_seg_bulkhead *b, uint32_t keep)
{
	uint32_t a = LOAD(&b->active);
	for (;;) {
		if ((uint64_t)a + keep >= LOAD(&b->p.max_concurrent_requests))
			return false;
		if (CAS(&b->active, &a, a + 1))
			break;
	}
	uint32_t peak = LOAD(&b->peak_active);
	while (a + 1 > peak && !CAS(&b->peak_active, &peak, a + 1))
		;
	return true;
}

/* Every waiter looks again: a slot came free, the line moved, or the
 * parameters changed. Waking only one would wake the wrong one as often
 * as not, and the right one would sleep to its next tick. */
static void wake_waiters(struct fl_seg_bulkhead *b)
{
	ADD(&b->wake_seq, 1);
	if (LOAD(&b->queued) > 0)
		syscall(SYS_futex, &b->wake_seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static void give_back(struct fl_seg_bulkhead *b)
{
	uint32_t a = LOAD(&b->active);
	while (a > 0 && !CAS(&b->active, &a, a - 1))
		;
	wake_waiters(b);
}

/* A free record, filled and published; FL_HOLDER_NONE if none is free.
 * primary == FL_HOLDER_NONE makes the record the primary of a new slot. */
static uint32_t new_record_as(struct fl_seg *seg, uint32_t entry, uint32_t proc, uint32_t primary,
			      uint32_t live)
{
	if (proc == FL_PROC_NONE || proc >= FL_SEG_PROCS)
		return FL_HOLDER_NONE;
	uint32_t cap = seg->holder_capacity;
	uint32_t start = (uint32_t)((proc * 2654435761u) ^ (entry * 40503u)) % cap;
	for (uint32_t i = 0; i < cap; i++) {
		uint32_t idx = (start + i) % cap;
		struct fl_seg_holder *h = &seg->holders[idx];
		uint32_t expected = 0;
		if (LOAD(&h->entry_plus1) != 0 || !CAS(&h->entry_plus1, &expected, FL_HOLDER_CLAIMING))
			continue;
		STORE(&h->proc, proc);
		STORE(&h->proc_generation, LOAD(&seg->procs[proc].generation));
		STORE(&h->refs, primary == FL_HOLDER_NONE && live == FL_SHARE_HELD ? 1u : 0u);
		STORE(&h->primary, primary == FL_HOLDER_NONE ? idx : primary);
		STORE(&h->live, live);
		if (live == FL_SHARE_WAITING) /* numbered while claimed: seen with its number */
			STORE(&h->ticket, ADD(&seg->entries[entry].bulkhead.next_ticket, 1));
		STORE(&h->entry_plus1, entry + 1);
		return idx;
	}
	return FL_HOLDER_NONE;
}

static uint32_t new_record(struct fl_seg *seg, uint32_t entry, uint32_t proc, uint32_t primary)
{
	return new_record_as(seg, entry, proc, primary, FL_SHARE_HELD);
}

/* The entry a record's slot belongs to, or NULL if the record is corrupt. */
static struct fl_seg_entry *record_entry(struct fl_seg *seg, const struct fl_seg_holder *h)
{
	uint32_t eplus = LOAD(&h->entry_plus1);
	if (eplus == 0 || eplus == FL_HOLDER_CLAIMING || eplus > seg->capacity)
		return NULL;
	return &seg->entries[eplus - 1];
}

/* One share of the slot counted by `primary` is gone; the last gives it back. */
static void drop_share(struct fl_seg *seg, uint32_t primary)
{
	if (primary >= seg->holder_capacity)
		return;
	struct fl_seg_holder *p = &seg->holders[primary];
	uint32_t refs = LOAD(&p->refs);
	do {
		if (refs == 0)
			return; /* already given back: never count below zero */
	} while (!CAS(&p->refs, &refs, refs - 1));
	if (refs != 1)
		return;
	struct fl_seg_entry *e = record_entry(seg, p);
	STORE(&p->entry_plus1, 0);
	if (e)
		give_back(&e->bulkhead);
}

/* Gives up record idx's own share (once, whoever asks first). */
static bool release_record(struct fl_seg *seg, uint32_t idx)
{
	struct fl_seg_holder *h = &seg->holders[idx];
	uint32_t live = FL_SHARE_HELD;
	if (!CAS(&h->live, &live, FL_SHARE_GONE))
		return false;
	uint32_t primary = LOAD(&h->primary);
	if (primary != idx)
		STORE(&h->entry_plus1, 0); /* a child's record: free at once */
	drop_share(seg, primary);
	return true;
}

static uint32_t primary_of(const struct fl_seg *seg, uint32_t holder)
{
	if (holder & FL_HOLDER_BARE)
		return holder & ~FL_HOLDER_BARE;
	return holder < seg->holder_capacity ? LOAD(&seg->holders[holder].primary) : FL_HOLDER_NONE;
}

/*
 * A place in the queue is a record too (live = FL_SHARE_WAITING), so that a
 * waiter killed in the queue gives its place back when it is reclaimed. Whoever
 * moves the record out of WAITING (the waiter, or a reclaimer) counts the
 * place as gone.
 */
static bool leave_queue(struct fl_seg *seg, struct fl_seg_bulkhead *b, uint32_t rec, uint32_t to)
{
	if (rec != FL_HOLDER_NONE) {
		struct fl_seg_holder *h = &seg->holders[rec];
		uint32_t live = FL_SHARE_WAITING;
		if (!CAS(&h->live, &live, to))
			return false;
		if (to == FL_SHARE_HELD)
			STORE(&h->refs, 1); /* the record becomes the slot's primary */
		else
			STORE(&h->entry_plus1, 0);
	}
	ADD(&b->queued, (uint32_t)-1);
	if (to != FL_SHARE_HELD)
		wake_waiters(b); /* its turn is skipped: those behind it move up */
	return true;
}

/*
 * Slots owed to waiters that came before `ticket`: the queue places of this
 * entry with an earlier number. Waiters without a record (the holder table
 * was full) are not seen here; they queue, but outside the order. Scans the
 * table only when the line is longer than the free slots.
 */
static uint32_t waiters_ahead(struct fl_seg *seg, struct fl_seg_bulkhead *b, uint32_t entry, uint32_t ticket)
{
	uint64_t busy = (uint64_t)LOAD(&b->active) + LOAD(&b->queued);
	if (busy <= LOAD(&b->p.max_concurrent_requests))
		return 0; /* every waiter, this one too, fits */
	uint32_t ahead = 0;
	for (uint32_t i = 0; i < seg->holder_capacity; i++) {
		struct fl_seg_holder *h = &seg->holders[i];
		if (LOAD(&h->entry_plus1) != entry + 1 || LOAD(&h->live) != FL_SHARE_WAITING)
			continue;
		if ((int32_t)(LOAD(&h->ticket) - ticket) < 0)
			ahead++;
	}
	return ahead;
}

static enum fl_bulkhead_result acquired(struct fl_seg *seg, struct fl_seg_entry *e, uint32_t proc,
					uint32_t *holder)
{
	*holder = new_record(seg, (uint32_t)(e - seg->entries), proc, FL_HOLDER_NONE);
	return FL_BULKHEAD_ACQUIRED;
}

enum fl_bulkhead_result fl_bulkhead_try(struct fl_seg *seg, struct fl_seg_entry *e, uint32_t proc,
					uint32_t *holder)
{
	*holder = FL_HOLDER_NONE;
	if (!LOAD(&e->bulkhead.p.enabled))
		return FL_BULKHEAD_BYPASSED;
	if (try_take(&e->bulkhead, LOAD(&e->bulkhead.queued)))
		return acquired(seg, e, proc, holder);
	return FL_BULKHEAD_REJECTED;
}

/*
 * The queue: a numbered place (a record, see leave_queue), then sleeps on
 * wake_seq until its turn comes with a free slot, the deadline passes or a
 * signal handler without SA_RESTART interrupts it (lib/wait.h). Deadlines
 * are absolute, so signals that restart the wait do not lengthen it. Every
 * REAP_TICK_MS it reclaims from dead processes, so a waiter or holder that died
 * holds the line up for a tick at most.
 */
static enum fl_bulkhead_result wait_in_queue(struct fl_seg *seg, struct fl_seg_entry *e, uint32_t proc,
					     uint32_t *holder)
{
	struct fl_seg_bulkhead *b = &e->bulkhead;
	uint32_t entry = (uint32_t)(e - seg->entries);
	uint32_t rec = new_record_as(seg, entry, proc, FL_HOLDER_NONE, FL_SHARE_WAITING);
	uint32_t ticket = rec != FL_HOLDER_NONE ? LOAD(&seg->holders[rec].ticket) : ADD(&b->next_ticket, 1);
	struct timespec deadline, tick;
	fl_deadline_after_ms(&deadline, LOAD(&b->p.queue_timeout_ms));
	fl_deadline_after_ms(&tick, REAP_TICK_MS);
	for (bool last = false;; last = fl_deadline_passed(&deadline)) {
		uint32_t seq = LOAD(&b->wake_seq);
		if (!LOAD(&b->p.enabled)) { /* switched off live: nothing to wait for */
			leave_queue(seg, b, rec, FL_SHARE_GONE);
			return FL_BULKHEAD_BYPASSED;
		}
		if (try_take(b, waiters_ahead(seg, b, entry, ticket))) {
			if (leave_queue(seg, b, rec, FL_SHARE_HELD) && rec != FL_HOLDER_NONE) {
				*holder = rec;
				return FL_BULKHEAD_ACQUIRED;
			}
			return acquired(seg, e, proc, holder); /* reclaimed meanwhile: a record anew */
		}
		if (last) {
			leave_queue(seg, b, rec, FL_SHARE_GONE);
			ADD(&b->timeouts, 1);
			fl_event_bulkhead(seg, e, FL_BULKHEAD_EV_TIMEOUT, fl_clock_unix_ms());
			return FL_BULKHEAD_TIMED_OUT;
		}
		struct timespec until = fl_deadline_min(deadline, tick);
		if (fl_wait_until(&b->wake_seq, seq, true, &until) == EINTR) {
			leave_queue(seg, b, rec, FL_SHARE_GONE);
			return FL_BULKHEAD_INTERRUPTED;
		}
		if (fl_deadline_passed(&tick)) {
			fl_bulkhead_reclaim_dead(seg);
			fl_deadline_after_ms(&tick, REAP_TICK_MS);
		}
	}
}

/* A slot now, a rejection, or FL_BULKHEAD_QUEUED: a place counted in
 * `queued`, for the caller to number. */
static enum fl_bulkhead_result take_or_line_up(struct fl_seg *seg, struct fl_seg_entry *e, uint32_t proc,
					       bool may_wait, uint32_t *holder)
{
	struct fl_seg_bulkhead *b = &e->bulkhead;
	*holder = FL_HOLDER_NONE;
	if (!LOAD(&b->p.enabled))
		return FL_BULKHEAD_BYPASSED;
	if (try_take(b, LOAD(&b->queued)) ||
	    (fl_bulkhead_reclaim_dead(seg) > 0 && try_take(b, LOAD(&b->queued))))
		return acquired(seg, e, proc, holder);
	uint32_t max_queue = LOAD(&b->p.max_queue_size);
	if (!may_wait || max_queue == 0 || ADD(&b->queued, 1) >= max_queue) {
		if (may_wait && max_queue > 0)
			ADD(&b->queued, (uint32_t)-1);
		ADD(&b->rejected, 1);
		fl_event_bulkhead(seg, e, FL_BULKHEAD_EV_REJECTED, fl_clock_unix_ms());
		return FL_BULKHEAD_REJECTED;
	}
	return FL_BULKHEAD_QUEUED;
}

enum fl_bulkhead_result fl_bulkhead_acquire(struct fl_seg *seg, struct fl_seg_entry *e, uint32_t proc,
					    bool may_wait, uint32_t *holder)
{
	enum fl_bulkhead_result r = take_or_line_up(seg, e, proc, may_wait, holder);
	return r == FL_BULKHEAD_QUEUED ? wait_in_queue(seg, e, proc, holder) : r;
}

/*
 * The non-blocking queue: the same place as wait_in_queue's (a numbered
 * record, counted in `queued`), the same test for the turn, but the
 * caller comes back to it instead of sleeping here.
 */
enum fl_bulkhead_result fl_bulkhead_enqueue(struct fl_seg *seg, struct fl_seg_entry *e, uint32_t proc,
					    uint64_t now_ms, struct fl_bulkhead_place *place,
					    uint32_t *holder)
{
	place->rec = FL_HOLDER_NONE;
	enum fl_bulkhead_result r = take_or_line_up(seg, e, proc, true, holder);
	if (r != FL_BULKHEAD_QUEUED)
		return r;
	uint32_t entry = (uint32_t)(e - seg->entries);
	place->rec = new_record_as(seg, entry, proc, FL_HOLDER_NONE, FL_SHARE_WAITING);
	place->ticket = place->rec != FL_HOLDER_NONE ? LOAD(&seg->holders[place->rec].ticket)
						     : ADD(&e->bulkhead.next_ticket, 1);
	place->next_reap_ms = now_ms + REAP_TICK_MS;
	return FL_BULKHEAD_QUEUED;
}

enum fl_bulkhead_result fl_bulkhead_turn(struct fl_seg *seg, struct fl_seg_entry *e, uint32_t proc,
					 uint64_t now_ms, struct fl_bulkhead_place *place, uint32_t *holder)
{
	struct fl_seg_bulkhead *b = &e->bulkhead;
	uint32_t entry = (uint32_t)(e - seg->entries), rec = place->rec;
	*holder = FL_HOLDER_NONE;
	if (!LOAD(&b->p.enabled)) { /* switched off live: nothing to wait for */
		leave_queue(seg, b, rec, FL_SHARE_GONE);
		return FL_BULKHEAD_BYPASSED;
	}
	for (int round = 0; round < 2; round++) {
		if (try_take(b, waiters_ahead(seg, b, entry, place->ticket))) {
			if (leave_queue(seg, b, rec, FL_SHARE_HELD) && rec != FL_HOLDER_NONE) {
				*holder = rec;
				return FL_BULKHEAD_ACQUIRED;
			}
			return acquired(seg, e, proc, holder); /* reclaimed meanwhile: a record anew */
		}
		if ((int64_t)(now_ms - place->next_reap_ms) < 0)
			break;
		place->next_reap_ms = now_ms + REAP_TICK_MS;
		if (fl_bulkhead_reclaim_dead(seg) == 0)
			break;
	}
	return FL_BULKHEAD_QUEUED;
}

void fl_bulkhead_leave(struct fl_seg *seg, struct fl_seg_entry *e, const struct fl_bulkhead_place *place,
		       bool timed_out)
{
	if (leave_queue(seg, &e->bulkhead, place->rec, FL_SHARE_GONE) && timed_out) {
		ADD(&e->bulkhead.timeouts, 1);
		fl_event_bulkhead(seg, e, FL_BULKHEAD_EV_TIMEOUT, fl_clock_unix_ms());
	}
}

void fl_bulkhead_set(struct fl_seg_bulkhead *b, const struct fl_bulkhead_params *p)
{
	fl_bulkhead_params_set(&b->p, p);
	wake_waiters(b);
}

void fl_bulkhead_reserve(struct fl_seg *seg, uint32_t holder)
{
	uint32_t primary = primary_of(seg, holder);
	if (primary < seg->holder_capacity)
		ADD(&seg->holders[primary].refs, 1);
}

void fl_bulkhead_unreserve(struct fl_seg *seg, uint32_t holder)
{
	drop_share(seg, primary_of(seg, holder));
}

uint32_t fl_bulkhead_adopt(struct fl_seg *seg, uint32_t holder, uint32_t proc)
{
	uint32_t primary = primary_of(seg, holder);
	if (primary >= seg->holder_capacity)
		return FL_HOLDER_NONE;
	struct fl_seg_entry *e = record_entry(seg, &seg->holders[primary]);
	uint32_t idx = e ? new_record(seg, (uint32_t)(e - seg->entries), proc, primary) : FL_HOLDER_NONE;
	return idx != FL_HOLDER_NONE ? idx : (primary | FL_HOLDER_BARE);
}

void fl_bulkhead_release(struct fl_seg *seg, struct fl_seg_entry *e, uint32_t holder)
{
	if (holder == FL_HOLDER_NONE)
		give_back(&e->bulkhead);
	else if (holder & FL_HOLDER_BARE)
		drop_share(seg, holder & ~FL_HOLDER_BARE);
	else if (holder < seg->holder_capacity)
		release_record(seg, holder);
}

uint32_t fl_bulkhead_shares_of(struct fl_seg *seg, uint32_t proc, uint32_t generation, uint32_t *out,
			       uint32_t max)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < seg->holder_capacity; i++) {
		struct fl_seg_holder *h = &seg->holders[i];
		if (!record_entry(seg, h) || LOAD(&h->live) != FL_SHARE_HELD || LOAD(&h->proc) != proc ||
		    LOAD(&h->proc_generation) != generation)
			continue;
		if (n < max)
			out[n] = i;
		n++;
	}
	return n;
}

uint32_t fl_bulkhead_holder_entry(struct fl_seg *seg, uint32_t holder)
{
	if (holder >= seg->holder_capacity)
		return UINT32_MAX;
	struct fl_seg_entry *e = record_entry(seg, &seg->holders[holder]);
	return e ? (uint32_t)(e - seg->entries) : UINT32_MAX;
}

uint32_t fl_bulkhead_release_proc(struct fl_seg *seg, uint32_t proc, uint32_t generation)
{
	uint32_t freed = 0;
	for (uint32_t i = 0; i < seg->holder_capacity; i++) {
		struct fl_seg_holder *h = &seg->holders[i];
		struct fl_seg_entry *e = record_entry(seg, h);
		if (!e || LOAD(&h->proc) != proc || LOAD(&h->proc_generation) != generation)
			continue;
		if (LOAD(&h->live) == FL_SHARE_WAITING)
			freed += leave_queue(seg, &e->bulkhead, i, FL_SHARE_GONE); /* died in the queue */
		else
			freed += release_record(seg, i);
	}
	return freed;
}

/*
 * Reclaim. A process that dies (even by SIGKILL) leaves its record LIVE
 * and its shares and queue places counted. Whoever finds it dead - an
 * arrival that finds the bulkhead full, a waiter's tick, the CLI - takes
 * the record (fl_proc_retire_begin: one reclaimer per record), gives back
 * what its generation holds, then frees the record. The same path serves a
 * live process detaching.
 */
static uint32_t reclaim_claimed(struct fl_seg *seg, uint32_t index)
{
	uint32_t generation = LOAD(&seg->procs[index].generation);
	uint32_t freed = fl_bulkhead_release_proc(seg, index, generation);
	fl_proc_retire_end(seg, index);
	return freed;
}

uint32_t fl_bulkhead_reclaim_proc(struct fl_seg *seg, uint32_t index)
{
	return fl_proc_retire_own_begin(seg, index) ? reclaim_claimed(seg, index) : 0;
}

uint32_t fl_bulkhead_reclaim_judged(struct fl_seg *seg, uint32_t index, uint32_t generation)
{
	if (!fl_proc_retire_begin(seg, index, generation))
		return 0;
	/* Found dead: say so in the event log, with what the record says of it. */
	char cmd[FL_SEG_CMD_MAX];
	for (size_t i = 0; i < sizeof(cmd); i++)
		cmd[i] = __atomic_load_n(&seg->procs[index].cmd[i], __ATOMIC_RELAXED);
	cmd[sizeof(cmd) - 1] = '\0';
	uint32_t pid = LOAD(&seg->procs[index].pid);
	uint32_t freed = reclaim_claimed(seg, index);
	fl_event_process(seg, pid, FL_PROCESS_GONE, cmd, fl_clock_unix_ms());
	return freed;
}

uint32_t fl_bulkhead_reclaim_dead(struct fl_seg *seg)
{
	uint32_t freed = 0, generation;
	for (uint32_t i = fl_proc_next_dead(seg, 0, &generation); i != FL_PROC_NONE;
	     i = fl_proc_next_dead(seg, i + 1, &generation))
		freed += fl_bulkhead_reclaim_judged(seg, i, generation);
	return freed;
}
