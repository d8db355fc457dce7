/*
 * fault.c - probability thresholds and jitter for fault decisions (the
 * decision itself is inline, in fault.h).
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

uint32_t fl_fault_jittered_delay(const struct fl_fault_params *p, struct fl_rng *rng)
{
	if (p->jitter_ms == 0)
		return p->delay_ms;
	uint32_t span = p->jitter_ms * 2;
	int64_t d = (int64_t)p->delay_ms - p->jitter_ms + fl_rng_upto(rng, span);
	return d < 0 ? 0 : (uint32_t)d;
}
