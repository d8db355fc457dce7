/*
 * entry.h - what `faultline trip`, `reset` and `set` do to one entry of a
 * running domain.
 *
 * The CLI finds entries (lib/reader.c) and decides what to change; the
 * stores into the shared segment are made here, in lib/, next to the state
 * machines that own the fields, so the CLI never writes a segment field
 * itself and each command's effect is unit-tested without a process.
 * Every function acts only on the parts the entry has (FL_PART_READY), and
 * every store is atomic: processes of the domain keep running meanwhile.
 */
#ifndef FL_ENTRY_H
#define FL_ENTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "rules.h"
#include "segment.h"

/* Whether the entry's breaker / bulkhead part is filled in. */
bool fl_entry_has_breaker(const struct fl_seg_entry *e);
bool fl_entry_has_bulkhead(const struct fl_seg_entry *e);

/* `faultline trip`: the breaker to forced_open. false: no breaker. */
bool fl_entry_trip(struct fl_seg_entry *e, uint64_t now_ms);

/*
 * `faultline reset`: the breaker back to closed (disabled if so
 * configured) with its counters and window cleared; the bulkhead's
 * rejected and timeouts cleared and its peak restarted from the slots in
 * use now; every per-call counter cleared. Slots in use stay in use.
 */
void fl_entry_reset(struct fl_seg_entry *e, uint64_t now_ms);

/*
 * `faultline set`: new parameters, live. A breaker switched off moves to
 * disabled, one switched on to closed; a bulkhead's waiters look again at
 * once. false: the entry has no such part (nothing written).
 */
bool fl_entry_set_breaker(struct fl_seg_entry *e, const struct fl_breaker_params *p, uint64_t now_ms);
bool fl_entry_set_bulkhead(struct fl_seg_entry *e, const struct fl_bulkhead_params *p);

/* SPEC 11: the rate_limit part (set: new rate, burst, ... at once). */
bool fl_entry_has_ratelimit(const struct fl_seg_entry *e);
bool fl_entry_set_ratelimit(struct fl_seg_entry *e, const struct fl_ratelimit_params *p);

/*
 * `faultline trip` of a destination no process has contacted yet: fills
 * the breaker part of a fresh entry from p (the rule that matches it, or
 * the defaults) and forces it open, so the first process to connect finds
 * it forced_open. rule_text is kept as the entry's breaker statement.
 * false when another writer claimed the part first (then it is tripped
 * as it is).
 */
bool fl_entry_trip_new(struct fl_seg_entry *e, const struct fl_breaker_params *p, const char *rule_text,
		       uint64_t now_ms);

#endif
