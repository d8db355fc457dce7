/*
 * match.h - which statements apply to one destination.
 *
 * Computed once per connection, at connect time, into a fixed-size result
 * that the connection keeps: the hot path of send/recv then walks a short
 * list of fault indices instead of the whole rule set. No allocation, so it
 * is safe wherever connect is.
 */
#ifndef FL_MATCH_H
#define FL_MATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "rules.h"
#include "target.h"

#define FL_MATCH_MAX_FAULTS 32 /* fault statements kept per destination */

struct fl_match {
	int32_t breaker;  /* rule index, -1 = none */
	int32_t bulkhead; /* rule index, -1 = none */
	uint32_t ops;	  /* union of the `on` masks of the matched faults */
	uint32_t nfaults;
	bool truncated; /* more than FL_MATCH_MAX_FAULTS faults matched */
	uint32_t faults[FL_MATCH_MAX_FAULTS];
};

/* Fills *m; returns true when any statement matched. Async-signal-safe. */
bool fl_match(const struct fl_ruleset *rs, const struct fl_dest *d, struct fl_match *m);

#endif
