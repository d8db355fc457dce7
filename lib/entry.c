/*
 * entry.c - see entry.h.
 */
#include "entry.h"

#include <string.h>

#include "atomics.h"
#include "breaker.h"
#include "bulkhead.h"
#include "ratelimit.h"

bool fl_entry_has_breaker(const struct fl_seg_entry *e)
{
	return LOAD(&e->has_breaker) == FL_PART_READY;
}

bool fl_entry_has_bulkhead(const struct fl_seg_entry *e)
{
	return LOAD(&e->has_bulkhead) == FL_PART_READY;
}

bool fl_entry_trip(struct fl_seg_entry *e, uint64_t now_ms)
{
	if (!fl_entry_has_breaker(e))
		return false;
	fl_breaker_trip(&e->breaker, now_ms);
	return true;
}

static void reset_bulkhead_counters(struct fl_seg_bulkhead *h)
{
	STORE(&h->rejected, 0);
	STORE(&h->timeouts, 0);
	STORE(&h->peak_active, LOAD(&h->active)); /* the peak since now */
}

static void reset_op_counters(struct fl_seg_op_stats *ops)
{
	for (unsigned op = 0; op < FL_OP_COUNT; op++) {
		STORE(&ops[op].calls, 0);
		STORE(&ops[op].errors_injected, 0);
		STORE(&ops[op].delays_injected, 0);
		STORE(&ops[op].delay_ms_total, 0);
	}
}

void fl_entry_reset(struct fl_seg_entry *e, uint64_t now_ms)
{
	if (fl_entry_has_breaker(e))
		fl_breaker_reset(&e->breaker, now_ms);
	if (fl_entry_has_bulkhead(e))
		reset_bulkhead_counters(&e->bulkhead);
	if (fl_entry_has_ratelimit(e))
		fl_ratelimit_reset(&e->ratelimit);
	reset_op_counters(e->ops);
}

bool fl_entry_set_breaker(struct fl_seg_entry *e, const struct fl_breaker_params *p, uint64_t now_ms)
{
	if (!fl_entry_has_breaker(e))
		return false;
	bool was_enabled = LOAD(&e->breaker.p.enabled) != 0;
	fl_breaker_params_set(&e->breaker.p, p);
	fl_breaker_x_params_set(&e->breaker_x, p);
	if (was_enabled != p->enabled)
		fl_breaker_set_disabled(&e->breaker, !p->enabled, now_ms);
	return true;
}

bool fl_entry_set_bulkhead(struct fl_seg_entry *e, const struct fl_bulkhead_params *p)
{
	if (!fl_entry_has_bulkhead(e))
		return false;
	fl_bulkhead_set(&e->bulkhead, p);
	return true;
}

bool fl_entry_has_ratelimit(const struct fl_seg_entry *e)
{
	return LOAD(&e->has_ratelimit) == FL_PART_READY;
}

bool fl_entry_set_ratelimit(struct fl_seg_entry *e, const struct fl_ratelimit_params *p)
{
	if (!fl_entry_has_ratelimit(e))
		return false;
	fl_ratelimit_params_set(&e->ratelimit.p, p);
	return true;
}

bool fl_entry_trip_new(struct fl_seg_entry *e, const struct fl_breaker_params *p, const char *rule_text,
		       uint64_t now_ms)
{
	uint8_t none = FL_PART_NONE;
	if (!__atomic_compare_exchange_n(&e->has_breaker, &none, FL_PART_BUSY, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		/* A process got there first: wait for it to publish (its creator
		 * spins the same way), then trip what it made. */
		for (int spin = 0; spin < 200000 && LOAD(&e->has_breaker) != FL_PART_READY; spin++)
			;
		return fl_entry_trip(e, now_ms) && false;
	}
	size_t n = strlen(rule_text);
	if (n >= sizeof e->breaker_rule)
		n = sizeof e->breaker_rule - 1;
	memcpy(e->breaker_rule, rule_text, n);
	e->breaker_rule[n] = '\0';
	fl_breaker_init(&e->breaker, p, now_ms);
	fl_breaker_trip(&e->breaker, now_ms);
	STORE(&e->has_breaker, FL_PART_READY);
	return true;
}
