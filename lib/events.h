/*
 * events.h - the domain's event log: a bounded ring of fixed-size records
 * in the shared segment (segment.h: struct fl_seg_events_hdr, fl_seg_event).
 *
 * Writers are every process of the domain, at once, and any of them may
 * die at any instruction (SIGKILL). So writing never blocks and takes no
 * lock: a writer takes an event number n with one fetch-add on head, marks
 * record n % FL_SEG_EVENTS as being written (seq = 2n+1, by CAS, only over
 * an older lap's value), fills it, and publishes it (seq = 2n+2, release).
 * A reader copies a record and keeps it only if seq was 2n+2 before and
 * after the copy and its checksum matches: it never shows a torn event. A
 * record a dead writer left half-written (seq 2n+1, or still an older lap)
 * is waited for a short grace, then skipped and counted as lost; the next
 * lap writes over it. Events older than the ring holds are counted as
 * dropped. Writing costs a fetch-add, two CAS and 16 stores: events are
 * written only on slow paths (transitions, rejections, injections,
 * attach and exit), never by a call that injects nothing.
 *
 * Every event has a time (Unix ms), a kind, a destination (text, may be
 * empty: layers, processes), a pid, and details by kind:
 *
 *   kind      what                         details
 *   breaker   reason (enum fl_breaker_reason)  a = from state, b = to state
 *   bulkhead  rejected | timeout            count = the entry's total so far,
 *                                           v1 = limit, v2 = active
 *   layer     applied | removed | expired   text = layer name
 *   process   attached | exited | gone      text = command (gone: found dead)
 *   fault     injected                      count = injections in that second,
 *                                           v1 = errno, v2 = delay_ms,
 *                                           v3 = statement index, a = op mask;
 *                                           time = the start of that second
 *   connection short_io | eof | hang | reset | corrupt | shaped | close_delay
 *                                           as fault: count in that second,
 *                                           v1 = amount (bytes flipped, ms
 *                                           waited), v3 = statement, a = ops
 *   rate_limit rejected | delayed           as bulkhead: count = the entry's
 *                                           total, v1 = rate, v2 = burst
 *   fallback  failed_over                   count = the entry's total,
 *                                           text = the fallback address
 * Statement indices of layers are 0x40000000 + slot (shim/layers.h); the
 * destination of a statement's summary is the statement's target (own
 * rules) or its text (layers).
 *
 * A new kind (DNS, connection faults, ...) adds a value to enum
 * fl_event_kind and its what-names below, fills struct fl_event and calls
 * fl_event_write; the CLI's formatter (tools/cmd_events.c) adds its
 * details. Strings are cut to their fields (dest 47, text 31 bytes).
 */
#ifndef FL_EVENTS_H
#define FL_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "segment.h"

enum fl_event_kind {
	FL_EVENT_BREAKER = 1,
	FL_EVENT_BULKHEAD = 2,
	FL_EVENT_LAYER = 3,
	FL_EVENT_PROCESS = 4,
	FL_EVENT_FAULT = 5,
	FL_EVENT_CONNECTION = 6, /* connection faults and shaping (SPEC 10) */
	FL_EVENT_RATE_LIMIT = 7, /* SPEC 11 */
	FL_EVENT_FALLBACK = 8,	 /* SPEC 11 failover */
	FL_EVENT_KIND_MAX = 8,
};

/* Why a breaker moved (the `reason` field). */
enum fl_breaker_reason {
	FL_REASON_FAILURE_THRESHOLD = 0, /* closed -> open: consecutive failures */
	FL_REASON_FAILURE_RATE = 1,	 /* closed -> open: failure rate over the window */
	FL_REASON_TIMEOUT = 2,		 /* open -> half_open: timeout_ms passed */
	FL_REASON_TRIAL_SUCCEEDED = 3,	 /* half_open -> closed */
	FL_REASON_TRIAL_FAILED = 4,	 /* half_open -> open */
	FL_REASON_TRIAL_TIMEOUT = 5,	 /* half_open -> open: trials never reported */
	FL_REASON_FORCED = 6,		 /* faultline trip */
	FL_REASON_RESET = 7,		 /* faultline reset */
	FL_REASON_DISABLED = 8,		 /* faultline set enabled=false */
	FL_REASON_ENABLED = 9,		 /* faultline set enabled=true */
	FL_REASON_SLOW_CALL_RATE = 10,	 /* closed -> open: slow calls over the window (SPEC 11) */
	FL_REASON_TRIAL_SLOW = 11,	 /* half_open -> open: a trial slower than slow_call_duration_ms */
	FL_REASON_MAX = 11,
};

enum fl_bulkhead_event { FL_BULKHEAD_EV_REJECTED = 0, FL_BULKHEAD_EV_TIMEOUT = 1, FL_BULKHEAD_EV_MAX = 1 };
enum fl_layer_event {
	FL_LAYER_EV_APPLIED = 0,
	FL_LAYER_EV_REMOVED = 1,
	FL_LAYER_EV_EXPIRED = 2,
	FL_LAYER_EV_MAX = 2
};
enum fl_process_event {
	FL_PROCESS_ATTACHED = 0,
	FL_PROCESS_EXITED = 1,
	FL_PROCESS_GONE = 2, /* found dead (killed) and reclaimed by another process */
	FL_PROCESS_EV_MAX = 2,
};
enum fl_fault_event { FL_FAULT_INJECTED = 0, FL_FAULT_EV_MAX = 0 };
/* What a connection-fault or shape statement did (summarised like faults). */
enum fl_conn_event {
	FL_CONN_SHORT_IO = 0,	 /* max_bytes cut a call */
	FL_CONN_EOF = 1,	 /* eof=true */
	FL_CONN_HANG = 2,	 /* hang_ms */
	FL_CONN_RESET = 3,	 /* close_after_bytes reset a connection */
	FL_CONN_CORRUPT = 4,	 /* corrupt: amount = bytes flipped */
	FL_CONN_SHAPED = 5,	 /* shape made a call wait: amount = ms waited */
	FL_CONN_CLOSE_DELAY = 6, /* on=close delay_ms: amount = ms */
	FL_CONN_EV_MAX = 6,
};
enum fl_rate_event { FL_RATE_EV_REJECTED = 0, FL_RATE_EV_DELAYED = 1, FL_RATE_EV_MAX = 1 };
enum fl_fallback_event { FL_FALLBACK_EV_USED = 0, FL_FALLBACK_EV_MAX = 0 };

/* One event, as written and as read back. */
struct fl_event {
	uint64_t number; /* set by the reader: its place in the log */
	uint64_t time_ms;
	uint32_t pid;
	uint8_t kind, what, a, b;
	uint32_t v1, v2, v3;
	uint64_t count;
	char dest[FL_SEG_EVENT_DEST];
	char text[FL_SEG_EVENT_TEXT];
};

/* Names: "breaker", ...; the what of a kind ("failure_threshold",
 * "rejected", ...); NULL when out of range. */
const char *fl_event_kind_name(unsigned kind);
const char *fl_event_what_name(unsigned kind, unsigned what);

/* Copies src into a field of size bytes, cut to fit, NUL-terminated. */
void fl_event_text(char *dst, size_t size, const char *src);

/*
 * Appends ev to the ring of seg (ev->number is ignored). Lock-free,
 * never blocks, async-signal-safe, allocation-free. Does nothing when seg
 * or its ring is not mapped.
 */
void fl_event_write(struct fl_seg *seg, const struct fl_event *ev);

/* ---- writers for each kind ---- */

/* A breaker of entry e (in seg) moved from -> to. */
void fl_event_breaker(struct fl_seg *seg, const struct fl_seg_entry *e, uint32_t pid, uint32_t from,
		      uint32_t to, enum fl_breaker_reason why, uint64_t now_ms);

/* A layer applied, removed or expired; what is "applied", "removed" or
 * "expired" (anything else is not written). */
void fl_event_layer(struct fl_seg *seg, uint32_t pid, const char *layer_name, const char *what,
		    uint64_t now_ms);

/* A process attached, exited, or found gone; cmd may be NULL. */
void fl_event_process(struct fl_seg *seg, uint32_t pid, enum fl_process_event what, const char *cmd,
		      uint64_t now_ms);

/* count injections of statement `statement` (target text dest; ops: its
 * on= mask) in Unix second `second` (the event's time is its start;
 * second 0: now_ms). */
void fl_event_fault(struct fl_seg *seg, uint32_t pid, const char *dest, uint32_t statement, uint32_t ops,
		    int err, uint32_t delay_ms, uint64_t second, uint64_t count, uint64_t now_ms);

/* count times `what` of statement `statement` in Unix second `second`;
 * amount: bytes flipped (corrupt) or ms waited (shaped, close_delay). */
void fl_event_conn(struct fl_seg *seg, uint32_t pid, const char *dest, uint32_t statement, uint32_t ops,
		   enum fl_conn_event what, uint64_t second, uint64_t count, uint64_t amount,
		   uint64_t now_ms);

/* Rate-limit rejection or delay, and failover, at entry e: at most one
 * event per destination, what and Unix second, as fl_event_bulkhead. */
void fl_event_rate_limit(struct fl_seg *seg, struct fl_seg_entry *e, enum fl_rate_event what,
			 uint64_t now_ms);
void fl_event_fallback(struct fl_seg *seg, struct fl_seg_entry *e, const char *to, uint64_t now_ms);

/*
 * Bulkhead rejection or queue timeout at entry e: written at most once per
 * destination and Unix second (the first of that second; the entry's
 * totals ride along), so a flood of rejections is one event a second.
 */
void fl_event_bulkhead(struct fl_seg *seg, struct fl_seg_entry *e, enum fl_bulkhead_event what,
		       uint64_t now_ms);

/*
 * The segment lib code without one at hand writes to (breaker.c): the
 * shim binds its domain's at attach, the CLI the one it opened. NULL
 * (the default) writes nothing: unit tests of the state machines run
 * without a ring. Only breakers that lie in the bound segment's entry
 * table are reported (a process-local stand-in entry is not).
 */
void fl_events_bind(struct fl_seg *seg);
struct fl_seg *fl_events_bound(void);
/* The calling thread's own binding, which wins over the process's (the
 * CLI's commands, run by many threads of `faultline serve`). */
void fl_events_bind_thread(struct fl_seg *seg);
/* seg is being closed: neither this thread nor the process writes to it. */
void fl_events_unbind(const struct fl_seg *seg);

/* breaker.c's hook: finds b's entry in the bound segment and writes. */
void fl_events_breaker_moved(const struct fl_seg_breaker *b, uint32_t from, uint32_t to,
			     enum fl_breaker_reason why, uint64_t now_ms);

/* ---- reading ---- */

struct fl_event_reader {
	uint64_t next;		   /* the next event number to read */
	uint64_t dropped;	   /* overwritten before they were read */
	uint64_t lost;		   /* never published (writer died) or torn */
	uint64_t pending_since_ms; /* monotonic ms: `next` first seen unpublished (0: not) */
	uint32_t grace_ms;	   /* how long an unpublished record is waited for */
};

/* A reader at the oldest event the ring still holds (next = head - ring). */
void fl_event_reader_init(struct fl_event_reader *r, const struct fl_seg *seg, uint32_t grace_ms);

/* The number of the next event to be written. */
uint64_t fl_events_head(const struct fl_seg *seg);

/*
 * Reads up to max published events from r->next on into out, in order;
 * stops at a record still being written (for r->grace_ms from when it
 * was first seen, then skips it as lost). now_mono_ms: the caller's
 * monotonic clock. Returns the number read, or -1 when a record that was
 * published intact holds values no writer writes (kind, state, reason,
 * unterminated text): a corrupt segment, refused with d's message.
 */
int fl_events_read(const struct fl_seg *seg, struct fl_event_reader *r, uint64_t now_mono_ms,
		   struct fl_event *out, size_t max, struct fl_diag *d);

/* For tests only: the first half of a write (number taken, record marked
 * and filled) without the publish, as a writer killed there leaves it;
 * returns the event's number. */
uint64_t fl_event_write_unfinished(struct fl_seg *seg, const struct fl_event *ev);

#endif
