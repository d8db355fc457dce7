/*
 * fault.c - whether a fault statement fires on this call.
 *
 * The order of the checks is the contract of `after`, `every`, `times` and
 * `probability`: count the call, let the first `after` pass, then consider
 * every `every`-th, flip the coin, and only then spend one of `times`. A
 * coin flip that fails does not use up an injection.
 */
#include "fault.h"


uint64_t fl_probability_threshold(double p)
{
	if (!(p > 0.0))
		return 0;
	if (p >= 1.0)
		return UINT64_MAX;
	/* 2^64 * p, computed in long double so 0.999999 does not round to 1. */
	long double t = (long double)p * 18446744073709551616.0L;
	if (t >= 18446744073709551615.0L)
		return UINT64_MAX - 1;
	return (uint64_t)t;
}

static uint32_t jittered_delay(const struct fl_fault_params *p, struct fl_rng *rng)
{
	if (p->jitter_ms == 0)
		return p->delay_ms;
	uint32_t span = p->jitter_ms * 2;
	int64_t d = (int64_t)p->delay_ms - p->jitter_ms + fl_rng_upto(rng, span);
	return d < 0 ? 0 : (uint32_t)d;
}

bool fl_fault_decide(const struct fl_fault_params *p, struct fl_fault_counters *c,
		     struct fl_rng *rng, struct fl_fault_decision *out)
{
	uint64_t n = __atomic_fetch_add(&c->seen, 1, __ATOMIC_RELAXED);
	if (n < p->after)
		return false;
	if (p->every > 1 && (n - p->after) % p->every != 0)
		return false;
	if (p->threshold != UINT64_MAX && fl_rng_next(rng) >= p->threshold)
		return false;
	if (p->times != 0) {
		uint64_t k = __atomic_fetch_add(&c->fired, 1, __ATOMIC_RELAXED);
		if (k >= p->times)
			return false;
	} else {
		__atomic_fetch_add(&c->fired, 1, __ATOMIC_RELAXED);
	}
	out->error = p->error;
	out->delay_ms = p->delay_ms ? jittered_delay(p, rng) : 0;
	return true;
}
