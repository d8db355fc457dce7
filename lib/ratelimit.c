/*
 * ratelimit.c - see ratelimit.h.
 */
#include "ratelimit.h"

#include "atomics.h"

#define NS_PER_S 1000000000ull

void fl_ratelimit_params_set(struct fl_seg_ratelimit_params *out, const struct fl_ratelimit_params *in)
{
	STORE(&out->rate, in->rate);
	STORE(&out->burst, in->burst ? in->burst : in->rate);
	STORE(&out->max_delay_ms, in->max_delay_ms);
	STORE(&out->reject_errno, in->reject_errno);
	STORE(&out->action, in->action);
	STORE(&out->scope, in->scope);
}

void fl_ratelimit_params_get(struct fl_ratelimit_params *out, const struct fl_seg_ratelimit_params *in)
{
	out->rate = LOAD(&in->rate);
	out->burst = LOAD(&in->burst);
	out->max_delay_ms = LOAD(&in->max_delay_ms);
	out->reject_errno = LOAD(&in->reject_errno);
	out->action = LOAD(&in->action);
	out->scope = LOAD(&in->scope);
}

void fl_ratelimit_init(struct fl_seg_ratelimit *rl, const struct fl_ratelimit_params *p)
{
	fl_ratelimit_params_set(&rl->p, p);
	STORE(&rl->tat_ns, 0); /* long past: the bucket is full */
}

enum fl_rate_result fl_ratelimit_take(struct fl_seg_ratelimit *rl, uint64_t now_ns, uint64_t *delay_ns)
{
	uint32_t rate = LOAD(&rl->p.rate);
	uint32_t burst = LOAD(&rl->p.burst);
	if (rate == 0) { /* a forged or zeroed bucket admits: never trusted to block */
		ADD(&rl->admitted, 1);
		return FL_RATE_ADMITTED;
	}
	if (burst == 0)
		burst = 1;
	uint64_t interval = NS_PER_S / rate;
	uint64_t tolerance = interval * burst; /* how far ahead of now TAT may run */
	uint64_t max_wait =
	    LOAD(&rl->p.action) == FL_RATE_DELAY ? (uint64_t)LOAD(&rl->p.max_delay_ms) * 1000000ull : 0;
	uint64_t tat = LOAD(&rl->tat_ns);
	for (;;) {
		uint64_t next = (tat > now_ns ? tat : now_ns) + interval;
		uint64_t wait = next > now_ns + tolerance ? next - (now_ns + tolerance) : 0;
		if (wait > max_wait || (wait > 0 && max_wait == 0)) {
			ADD(&rl->rejected, 1);
			return FL_RATE_REJECTED;
		}
		if (!__atomic_compare_exchange_n(&rl->tat_ns, &tat, next, true, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			continue;
		ADD(&rl->admitted, 1);
		*delay_ns = wait;
		if (wait == 0)
			return FL_RATE_ADMITTED;
		ADD(&rl->delayed, 1);
		return FL_RATE_DELAYED;
	}
}

void fl_ratelimit_reset(struct fl_seg_ratelimit *rl)
{
	STORE(&rl->admitted, 0);
	STORE(&rl->rejected, 0);
	STORE(&rl->delayed, 0);
	STORE(&rl->tat_ns, 0);
}
