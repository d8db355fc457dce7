/*
 * fault.h - deciding whether a fault statement fires on one call.
 *
 * Probability is compared as an integer: the parser's 0.0..1.0 becomes a
 * threshold over 2^64 draws once, so the hot path does one draw and one
 * compare, no floating point. Counters for `after`, `every` and `times` are
 * per process and per statement, atomic, so threads need no lock.
 */
#ifndef FL_FAULT_H
#define FL_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "rng.h"
#include "rules.h"

struct fl_fault_counters {
	uint64_t seen;	/* matching calls evaluated (atomic) */
	uint64_t fired; /* injections made (atomic) */
};

struct fl_fault_decision {
	int error;	   /* errno to inject, 0 = none */
	uint32_t delay_ms; /* sleep first, 0 = none */
};

/* 0.0..1.0 -> threshold such that (draw < threshold) has that probability;
 * UINT64_MAX stands for 1.0 (always). */
uint64_t fl_probability_threshold(double p);

uint32_t fl_fault_jittered_delay(const struct fl_fault_params *p, struct fl_rng *rng);

/*
 * Evaluates one fault statement for one call (fl_fault_decide_from: the
 * same, for the n-th call, n >= after, already counted). Returns true and
 * fills *out when it fires. Lock-free, allocation-free, async-signal-safe; inline,
 * because it runs on every call of a watched socket.
 *
 * The order of the checks is the contract of `after`, `every`, `times` and
 * `probability`: count the call, let the first `after` pass, then consider
 * every `every`-th, flip the coin, and only then spend one of `times`. A
 * coin flip that fails does not use up an injection.
 */
static inline bool fl_fault_decide_from(const struct fl_fault_params *p, struct fl_fault_counters *c,
					uint64_t n, struct fl_rng *rng, struct fl_fault_decision *out)
{
	if (p->every > 1 && (n - p->after) % p->every != 0)
		return false;
	if (p->threshold != UINT64_MAX && (p->threshold == 0 || fl_rng_next(rng) >= p->threshold))
		return false; /* probability 0 never fires: no draw needed */
	uint64_t k = __atomic_fetch_add(&c->fired, 1, __ATOMIC_RELAXED);
	if (p->times != 0 && k >= p->times)
		return false;
	out->error = p->error;
	out->delay_ms = p->delay_ms ? fl_fault_jittered_delay(p, rng) : 0;
	return true;
}

static inline bool fl_fault_decide(const struct fl_fault_params *p, struct fl_fault_counters *c,
				   struct fl_rng *rng, struct fl_fault_decision *out)
{
	uint64_t n = __atomic_fetch_add(&c->seen, 1, __ATOMIC_RELAXED);
	if (n < p->after)
		return false;
	return fl_fault_decide_from(p, c, n, rng, out);
}

#endif
