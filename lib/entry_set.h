/*
 * entry_set.h - `faultline set DEST KEY=VALUE ...` as a library call, for
 * the CLI and the HTTP API alike: the KEY=VALUE pairs are validated
 * exactly as the rule parser validates them (fl_rule_set_key on a rule
 * filled from the entry's current parameters, then fl_rule_finish), every
 * pair is checked before anything is written, and a key goes to every
 * part of the destination that has it (reject_errno: breaker, bulkhead
 * and rate_limit) unless written PART.KEY (breaker.KEY, bulkhead.KEY,
 * rate_limit.KEY).
 */
#ifndef FL_ENTRY_SET_H
#define FL_ENTRY_SET_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "segment.h"

enum fl_set_result {
	FL_SET_OK = 0,
	FL_SET_BAD_INPUT = 1, /* a pair is wrong: d->error says where (exit 2) */
	FL_SET_NO_PART = 2,   /* the destination has no part with that key (exit 1) */
};

/*
 * Applies pairs[0..npairs) to entries[0..n) (every entry DEST names), read
 * from the segment now. cols[i] is the column of pairs[i] for messages
 * ("set:1:COL: ..."), start_col that of DEST. dest names it in messages.
 * Warnings go to d->warnings.
 */
enum fl_set_result fl_entry_set_pairs(struct fl_seg_entry *const *entries, size_t n, const char *dest,
				      const char *const *pairs, const unsigned *cols, size_t npairs,
				      unsigned start_col, uint64_t now_ms, struct fl_diag *d);

#endif
