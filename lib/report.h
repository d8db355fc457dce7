/*
 * report.h - what the CLI prints, formatted from a snapshot (reader.h).
 *
 * Pure formatting: every function appends text to a growable buffer and
 * does no I/O, so the unit tests compare exact output. Three forms:
 *
 *   table       aligned columns for people (stats, top, ps, domains);
 *               every byte that came from the segment is made safe for a
 *               terminal first (control characters and broken UTF-8 become
 *               '?': a unix path must not be able to move the cursor);
 *   JSON        the shape SPEC section 6 fixes, always valid UTF-8;
 *   Prometheus  text exposition format 0.0.4, the metric names SPEC fixes.
 *
 * Which rate: "failure rate" is failures / calls * 100 over the breaker's
 * rolling window (rolling_window_ms, the window the failure-rate rule
 * looks at), 0 when the window holds no calls. The lifetime counters
 * (calls, failures) are printed beside it.
 */
#ifndef FL_REPORT_H
#define FL_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reader.h"

/* A growable text buffer; `failed` once memory ran out (text is then cut). */
struct fl_out {
	char *p; /* NUL-terminated when len > 0 */
	size_t len, cap;
	bool failed;
};

void fl_out_init(struct fl_out *o);
void fl_out_free(struct fl_out *o);
void fl_out_reset(struct fl_out *o); /* empty, keeping the memory */
void fl_out_putn(struct fl_out *o, const char *s, size_t n);
void fl_out_puts(struct fl_out *o, const char *s);
void fl_out_printf(struct fl_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Percent of failed calls in the rolling window; 0 without calls. */
double fl_report_failure_rate(const struct fl_snap_breaker *b);

/* 0.0, 33.33, 100.0: two decimals at most, one at least (JSON and tables). */
void fl_report_format_rate(double v, char *buf, size_t size);

/* Length of the valid UTF-8 sequence at s (n > 0 bytes left), 0 if invalid
 * (overlong forms and surrogates are invalid). */
size_t fl_report_utf8_len(const unsigned char *s, size_t n);

/* Replaces control characters (C0, DEL, C1) and invalid UTF-8 by '?'. */
void fl_report_sanitize(const char *in, char *out, size_t size);

/* Columns a sanitized text takes on a terminal (one per code point). */
size_t fl_report_text_width(const char *s);

struct fl_table_style {
	unsigned width;	 /* cut every line to this many columns; 0: no limit */
	size_t max_rows; /* 0: every row; else at most this many (a last line says how many more) */
	bool colour;	 /* ANSI colours: breaker states, bold header */
};

/*
 * `stats`: one row per entry, columns
 *   DESTINATION KIND STATE CALLS FAILS FAIL% REJECTED BULKHEAD BH.REJ FAULTS
 * KIND: dest, rule (scope=rule or overflow; rule+N when N destinations
 * overflowed into it). CALLS: the breaker's calls, or connect calls when
 * there is no breaker. BULKHEAD: active/queued/limit. BH.REJ: bulkhead
 * rejections plus queue timeouts. FAULTS: injected per op, e = errors,
 * d = delays ("connect:3e recv:2d send:1e+4d"). "-": the entry has no
 * such part.
 */
void fl_report_table(struct fl_out *o, const struct fl_snapshot *s, const struct fl_table_style *style);

/* SPEC 11 in `stats --json` (report_x.c): the breaker's new keys and
 * counters (appended inside its object), and ",\n   \"rate_limit\": {...}"
 * (or null) of an entry. */
void fl_report_json_breaker_x(struct fl_out *o, const struct fl_snap_breaker *b);
void fl_report_json_ratelimit(struct fl_out *o, const struct fl_snap_entry *e);

/* The table's RESIL column (report_x.c): "observe", "slow:3", "fb:2",
 * "rl:12/3r" ... joined by spaces, "-" when none apply. */
void fl_report_resil_cell(char *buf, size_t size, const struct fl_snap_entry *e);

/* `stats --json`: SPEC section 6, plus "kind", "overflow", "created" per entry. */
void fl_report_json(struct fl_out *o, const struct fl_snapshot *s);

/* `stats --prometheus`: entries of one name (a destination and a scope=rule
 * entry with the same text) are one series: counters summed. */
void fl_report_prometheus(struct fl_out *o, const struct fl_snapshot *s);

/* `ps`: alive[i] tells whether s->procs[i] still runs. SINCE is local time. */
void fl_report_ps(struct fl_out *o, const struct fl_snapshot *s, const bool *alive, bool json);

/* One row of `domains`. */
struct fl_domain_info {
	char name[72];
	uint64_t size;
	uint32_t used, capacity;
	uint32_t live; /* attached processes still running */
	uint64_t created_ms;
	const char *error; /* NULL: readable; else why not (then the counts are 0) */
};

void fl_report_domains(struct fl_out *o, const struct fl_domain_info *rows, size_t n, bool json);

/* The --json of `ps` and `domains` (report_json.c, as is `stats --json`). */
void fl_report_ps_json(struct fl_out *o, const struct fl_snapshot *s, const bool *alive);
void fl_report_domains_json(struct fl_out *o, const struct fl_domain_info *rows, size_t n);

/* JSON string (with quotes), valid UTF-8 whatever the bytes. */
void fl_report_json_string(struct fl_out *o, const char *s);

#endif
