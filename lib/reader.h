/*
 * reader.h - a validated, consistent copy of a domain's segment, for the CLI.
 *
 * The CLI maps a segment that other processes write to at the same time,
 * and that it does not trust: a file in /dev/shm can be corrupted by a bug,
 * by a crash half-way through an update, or on purpose. So the CLI never
 * formats from the mapping itself. It takes a snapshot: every field is read
 * once, with an __atomic load (no torn 64-bit counter), every index, size,
 * status, family and enum value is checked before it is used, and every
 * string is checked to end within its field. What comes out is plain memory
 * that lib/report.c can format without further checks.
 *
 * A segment that fails a check is refused as a whole, with one message that
 * names the segment, the record and what is wrong with it
 * ("/dev/shm/faultline.1000.web: corrupt segment: entry 12: unix path
 * length 300 is not 1..108"): the CLI reports it and exits 1, it never
 * guesses.
 *
 * Consistency: an entry is copied only once its creator has published it
 * (status READY, acquire), its breaker or bulkhead part only once that part
 * is published (has_breaker == 2). The breaker's state word is read before
 * and after its other fields and the copy retried until both agree, so
 * state, since and the consecutive counters belong together. Counters of
 * different fields are not a single atomic cut (nothing in the segment
 * could give one); each is exact as of the moment it was read.
 */
#ifndef FL_READER_H
#define FL_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "rules.h"
#include "segment.h"

#define FL_SNAP_NAME_MAX 160	  /* "unix:" + 108 path bytes, or a target text */
#define FL_PID_MAX	 4194304u /* PID_MAX_LIMIT on 64-bit Linux */

struct fl_snap_breaker {
	uint32_t state; /* enum fl_breaker_state */
	uint32_t permits;
	uint32_t generation;
	uint64_t since_ms;
	uint64_t calls, failures, rejected, transitions;
	uint32_t consecutive_failures, consecutive_successes;
	uint64_t window_calls, window_failures; /* fl_breaker_window at the snapshot's now_ms */
	struct fl_breaker_params p;
	char rule[FL_SEG_RULE_TEXT]; /* the statement, as the creator wrote it */
	/* SPEC 11 */
	uint64_t slow_calls, would_reject, fallbacks;
	uint64_t window_slow; /* fl_breaker_window_slow at now_ms */
	uint32_t open_ms;     /* the open time now (fl_breaker_open_ms) */
};

struct fl_snap_ratelimit {
	uint64_t admitted, rejected, delayed;
	struct fl_ratelimit_params p;
};

struct fl_snap_bulkhead {
	uint32_t active, queued, peak_active;
	uint64_t rejected, timeouts;
	struct fl_bulkhead_params p;
	char rule[FL_SEG_RULE_TEXT];
};

struct fl_snap_entry {
	uint32_t index;		     /* in the segment's entry table */
	struct fl_seg_key key;	     /* validated copy */
	char name[FL_SNAP_NAME_MAX]; /* fl_seg_key_format: what DEST operands match */
	uint64_t created_ms;
	bool overflow_entry;
	uint64_t overflow_count;
	bool has_breaker, has_bulkhead;
	struct fl_snap_breaker breaker;	  /* valid when has_breaker */
	struct fl_snap_bulkhead bulkhead; /* valid when has_bulkhead */
	struct fl_seg_op_stats ops[FL_OP_COUNT];
	struct fl_seg_conn_stats conn[FL_OP_COUNT]; /* connection faults and shaping (SPEC 10) */
	uint64_t close_delays, close_delay_ms_total;
	bool has_ratelimit;
	struct fl_snap_ratelimit ratelimit; /* valid when has_ratelimit */
};

struct fl_snap_proc {
	uint32_t index;		/* in the segment's process registry */
	struct fl_seg_proc rec; /* copy; rec.cmd is NUL-terminated */
};

struct fl_snapshot {
	char domain[72];
	uint64_t created_ms;
	uint64_t now_ms; /* when the snapshot was taken (Unix ms) */
	uint64_t overflow;
	uint32_t capacity, entries_used, creator_pid;
	size_t size;
	struct fl_snap_entry *entries; /* READY entries, sorted: destinations, then rule entries */
	size_t nentries;
	struct fl_snap_proc *procs; /* registry records marked live (alive or not) */
	size_t nprocs;
};

/*
 * Copies and checks every record of a segment already accepted by
 * fl_seg_validate (or fl_seg_open). `what` names it in messages (its path).
 * Returns 0, or -1 with d->error set (and *out empty) for a corrupt segment
 * or when memory runs out.
 */
int fl_snapshot_take(const struct fl_seg *seg, uint64_t now_ms, const char *what, struct fl_snapshot *out,
		     struct fl_diag *d);

void fl_snapshot_free(struct fl_snapshot *s);

/* Is the field's text terminated within its n bytes? */
bool fl_text_terminated(const char *field, size_t n);

#endif
