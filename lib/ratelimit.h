/*
 * ratelimit.h - the rate_limit kind (SPEC 11): a token bucket shared by
 * every process of a domain, in one word of shared memory.
 *
 * The bucket is kept as GCRA (the generic cell rate algorithm): instead
 * of a token count refilled by a clock, one "theoretical arrival time"
 * (TAT) - when the bucket would be full again. A connect at `now` takes a
 * token by moving TAT to max(TAT, now) + 1/rate, which conforms while the
 * result is at most `burst` intervals ahead of now. So one compare-and-swap
 * decides and reserves, with no refill thread, no lock and no drift: the
 * admitted rate is exact to the clock (CLOCK_MONOTONIC is one clock for
 * every process of the machine). A delayed connect reserves its token at
 * once and waits until the time it conforms.
 *
 * Time comes in as an argument, so the unit tests drive it with a fake clock.
 */
#ifndef FL_RATELIMIT_H
#define FL_RATELIMIT_H

#include <stdint.h>

#include "rules.h"
#include "segment.h"

enum fl_rate_result {
	FL_RATE_ADMITTED = 0,
	FL_RATE_DELAYED = 1, /* admitted after *delay_ns */
	FL_RATE_REJECTED = 2,
};

void fl_ratelimit_params_set(struct fl_seg_ratelimit_params *out, const struct fl_ratelimit_params *in);
void fl_ratelimit_params_get(struct fl_ratelimit_params *out, const struct fl_seg_ratelimit_params *in);

/* A fresh bucket, full. */
void fl_ratelimit_init(struct fl_seg_ratelimit *rl, const struct fl_ratelimit_params *p);

/* Takes a token for a connect at now_ns. DELAYED: the token is reserved
 * and the connect may go at now_ns + *delay_ns (at most max_delay_ms on;
 * action=delay only). Counts admitted (delayed ones too), delayed, rejected.
 * Lock-free, async-signal-safe. */
enum fl_rate_result fl_ratelimit_take(struct fl_seg_ratelimit *rl, uint64_t now_ns, uint64_t *delay_ns);

/* `faultline reset`: counters cleared, bucket full again. */
void fl_ratelimit_reset(struct fl_seg_ratelimit *rl);

#endif
