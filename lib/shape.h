/*
 * shape.h - the token bucket of the `shape` kind (SPEC 10).
 *
 * One 64-bit word is the whole bucket: `due`, the moment (CLOCK_MONOTONIC
 * ns) by which every byte debited so far has been paid for at the rate. The
 * budget at `now` is what the time since max(due, now - burst) buys, so an
 * idle bucket holds at most `burst` bytes and a busy one refills at the
 * rate. Debiting is one CAS on that word: lock-free, so one bucket can live
 * in the shared segment (scope=destination: every process of the domain),
 * in a connection (scope=connection), and a process that dies mid-call
 * leaves nothing held. The clock is the caller's (tests inject one); the
 * monotonic clock is system-wide, so processes agree on it.
 *
 * Concurrent callers may each see the same budget and move it twice; the
 * debts they record push `due` ahead, and the next callers wait that much
 * longer: over any long interval the bytes moved stay within the rate plus
 * one burst per caller in flight.
 *
 * 1 KB = 1000 bytes: rate_kbps=500 is 500,000 bytes a second.
 */
#ifndef FL_SHAPE_H
#define FL_SHAPE_H

#include <stdbool.h>
#include <stdint.h>

struct fl_shape {
	uint64_t rate;	   /* bytes per second (> 0) */
	uint64_t burst;	   /* bytes */
	uint64_t burst_ns; /* burst's cost */
	uint64_t quantum;  /* least budget worth waking for: 10 ms of rate, within [1, burst] */
	/* Fixed point, so the hot path multiplies and
	 * shifts instead of dividing: ns a byte costs, bytes a ns buys. */
	uint64_t ns_per_byte_q32;
	uint64_t bytes_per_ns_q48; /* 48 bits: a rate of a few KB/s is 10^-6 bytes a ns */
};

void fl_shape_init(struct fl_shape *s, uint32_t rate_kbps, uint32_t burst_kb);

/* Nanoseconds that n bytes cost at the rate. */
static inline uint64_t fl_shape_cost_ns(const struct fl_shape *s, uint64_t n)
{
	return (uint64_t)(((__uint128_t)n * s->ns_per_byte_q32) >> 32);
}

/* Bytes that ns of time buy at the rate. */
static inline uint64_t fl_shape_bytes_in(const struct fl_shape *s, uint64_t ns)
{
	return (uint64_t)(((__uint128_t)ns * s->bytes_per_ns_q48) >> 48);
}

/* The budget at `now`, in bytes (at most one burst). Reads the bucket only. */
static inline uint64_t fl_shape_have(const uint64_t *due, const struct fl_shape *s, uint64_t now)
{
	uint64_t d = __atomic_load_n(due, __ATOMIC_ACQUIRE);
	uint64_t floor = now > s->burst_ns ? now - s->burst_ns : 0;
	uint64_t base = d > floor ? d : floor;
	if (now <= base)
		return 0;
	uint64_t have = fl_shape_bytes_in(s, now - base);
	return have < s->burst ? have : s->burst;
}

/*
 * How many of `want` bytes may move now (at most want; want 0 counts as
 * 1). 0 when fewer than min(want, quantum) are available: *wait_ns is
 * then how long until they are. Reads the bucket only.
 */
uint64_t fl_shape_available(const uint64_t *due, const struct fl_shape *s, uint64_t now, uint64_t want,
			    uint64_t *wait_ns);

/* Records that `bytes` moved at `now` (one CAS loop). */
static inline void fl_shape_debit(uint64_t *due, const struct fl_shape *s, uint64_t now, uint64_t bytes)
{
	uint64_t cost = fl_shape_cost_ns(s, bytes);
	uint64_t floor = now > s->burst_ns ? now - s->burst_ns : 0;
	uint64_t old = __atomic_load_n(due, __ATOMIC_RELAXED);
	while (!__atomic_compare_exchange_n(due, &old, (old > floor ? old : floor) + cost, true,
					    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		;
}

#endif
