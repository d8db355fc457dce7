/*
 * breaker.h - the circuit breaker state machine over shared memory.
 *
 * One 64-bit word holds the state, the half-open permits in use and a
 * generation; every transition is a compare-and-swap that bumps the
 * generation. A caller admitted under generation G reports its outcome
 * with G: if the breaker has moved on since, the outcome still counts in
 * the statistics but cannot cause a transition (a late failure from
 * before a reset must not reopen the breaker).
 *
 * Time comes in as arguments (monotonic ns for decisions, Unix ms for
 * display), so tests drive it with a fake clock.
 */
#ifndef FL_BREAKER_H
#define FL_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

#include "rules.h"
#include "segment.h"

struct fl_permit {
	uint64_t start_ns; /* when it was admitted: a call slower than slow_call_duration_ms is slow; 0 =
			      unknown */
	uint32_t generation;
	bool trial;  /* holds a half-open permit */
	bool active; /* an outcome is owed (false: breaker off, or already reported) */
};

static inline uint32_t fl_breaker_word_state(uint64_t w)
{
	return (uint32_t)(w & 0xff);
}
static inline uint32_t fl_breaker_word_permits(uint64_t w)
{
	return (uint32_t)((w >> 8) & 0xffffff);
}
static inline uint32_t fl_breaker_word_generation(uint64_t w)
{
	return (uint32_t)(w >> 32);
}

const char *fl_breaker_state_name(uint32_t state); /* "closed", "half_open", ... */

void fl_breaker_params_set(struct fl_seg_breaker_params *out, const struct fl_breaker_params *in);
void fl_breaker_params_get(struct fl_breaker_params *out, const struct fl_seg_breaker_params *in);

/* SPEC 11's keys (slow calls, mode, backoff, fallback), kept in the
 * entry's breaker_x (segment.h). */
void fl_breaker_x_params_set(struct fl_seg_breaker_x *out, const struct fl_breaker_params *in);
void fl_breaker_x_params_get(struct fl_breaker_params *out, const struct fl_seg_breaker_x *in);

/*
 * The additions of a breaker that lives in a segment entry (every breaker
 * does: the breaker is a field of struct fl_seg_entry, so they are found
 * from its address without a pointer in shared memory).
 */
struct fl_seg_breaker_x *fl_breaker_x(struct fl_seg_breaker *b);
const struct fl_seg_breaker_x *fl_breaker_x_const(const struct fl_seg_breaker *b);

/* The time an OPEN breaker stays open now: timeout_ms, grown by
 * timeout_multiplier at each re-opening from HALF_OPEN up to timeout_max_ms. */
uint32_t fl_breaker_open_ms(const struct fl_seg_breaker *b);

/* Slow calls in the rolling window ending now. */
uint64_t fl_breaker_window_slow(const struct fl_seg_breaker *b, uint64_t now_ms);

/* A fresh breaker: CLOSED, generation 1. */
void fl_breaker_init(struct fl_seg_breaker *b, const struct fl_breaker_params *p, uint64_t now_ms);

/*
 * May a connection attempt go ahead? OPEN past its open time moves to
 * HALF_OPEN and gives this caller the first trial permit; a HALF_OPEN
 * breaker whose permits are all taken and whose newest permit is older
 * than timeout_ms counts that trial as failed and opens again. Returns
 * false to reject (counted in `rejected`). With mode=observe it never
 * returns false: what it would have rejected is counted in would_reject
 * and passes without a trial permit (its outcome counts, but cannot move
 * the breaker).
 */
bool fl_breaker_admit(struct fl_seg_breaker *b, uint64_t now_ns, uint64_t now_ms, struct fl_permit *permit);

/* Reports the outcome of an admitted attempt; clears permit->active. */
void fl_breaker_record(struct fl_seg_breaker *b, struct fl_permit *permit, bool failure, uint64_t now_ns,
		       uint64_t now_ms);

/*
 * A connection whose attempt was recorded as a success later found its
 * peer broken: the same call now failed. Counts the failure (not another
 * call) under the generation it was admitted in.
 */
void fl_breaker_record_late_failure(struct fl_seg_breaker *b, uint32_t generation, uint64_t now_ns,
				    uint64_t now_ms);

/* An admitted attempt that ended without an outcome that counts (it never
 * reached the network, or failed for a local reason): its trial permit, if
 * any, goes back. Clears permit->active. */
void fl_breaker_cancel(struct fl_seg_breaker *b, struct fl_permit *permit);

/* Failures and calls in the rolling window ending now. */
void fl_breaker_window(const struct fl_seg_breaker *b, uint64_t now_ms, uint64_t *calls, uint64_t *failures);

/* CLI: forced_open, or back to closed with every counter cleared. */
void fl_breaker_trip(struct fl_seg_breaker *b, uint64_t now_ms);
void fl_breaker_reset(struct fl_seg_breaker *b, uint64_t now_ms);
void fl_breaker_set_disabled(struct fl_seg_breaker *b, bool disabled, uint64_t now_ms);

/* Does this errno mean the connection attempt (or the peer) failed? */
bool fl_breaker_is_connect_failure(int err);
bool fl_breaker_is_peer_failure(int err);

#endif
