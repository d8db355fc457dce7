/*
 * entry.c - see entry.h.
 */
#include "entry.h"

#include "atomics.h"
#include "breaker.h"
#include "bulkhead.h"

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
	reset_op_counters(e->ops);
}

bool fl_entry_set_breaker(struct fl_seg_entry *e, const struct fl_breaker_params *p, uint64_t now_ms)
{
	if (!fl_entry_has_breaker(e))
		return false;
	bool was_enabled = LOAD(&e->breaker.p.enabled) != 0;
	fl_breaker_params_set(&e->breaker.p, p);
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
