/*
 * evsum.h - injected faults, summarised per statement and second for the
 * domain's event log (lib/events.h): a count, never one event per call.
 */
#ifndef FL_EVSUM_H
#define FL_EVSUM_H

#include <stddef.h>
#include <stdint.h>

/* At attach: counters per statement of this process's rule set and per
 * layer statement slot. */
void fl_evsum_init(size_t statements);

/* A fault of statement `rule` fired now. Lock-free, async-signal-safe;
 * writes the previous second's summary when the second has changed. */
void fl_evsum_count(uint32_t rule, uint64_t now_ms);

/* Statement `stmt` (own index or FL_LAYER_IDX + slot) did `what` (enum
 * fl_conn_event) once; amount: bytes flipped or ms waited. As above. */
void fl_evsum_conn(uint32_t stmt, unsigned what, uint64_t amount);

/* Exit and exec: writes every summary not written yet. */
void fl_evsum_flush(void);

/* Fork child: the parent's counts are the parent's to write. */
void fl_evsum_forget(void);

#endif
