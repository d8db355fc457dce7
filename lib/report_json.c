/*
 * report_json.c - every --json: `stats --json` (the object SPEC section 6
 * fixes), `ps --json` and `domains --json`.
 *
 * Each destination starts a line of its own (its breaker, bulkhead and
 * ops follow on three more), so a person can read it and the whole stays
 * one JSON value. Names are
 * SPEC's; fields beyond SPEC ("kind", "overflow", "window_calls", ...)
 * are added, never renamed. Every string goes through one escaper that
 * guarantees valid UTF-8: bytes of a unix path that are not UTF-8 become
 * U+FFFD rather than an unparsable document.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "breaker.h"
#include "errnames.h"
#include "report.h"

void fl_report_json_string(struct fl_out *o, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str);
	fl_out_putn(o, "\"", 1);
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t len = fl_report_utf8_len(s + i, n - i);
		if (len == 0) {
			fl_out_puts(o, "\\ufffd");
			i++;
		} else if (c == '"' || c == '\\') {
			fl_out_putn(o, "\\", 1);
			fl_out_putn(o, (const char *)&s[i++], 1);
		} else if (c == '\n') {
			fl_out_puts(o, "\\n"), i++;
		} else if (c == '\t') {
			fl_out_puts(o, "\\t"), i++;
		} else if (c == '\r') {
			fl_out_puts(o, "\\r"), i++;
		} else if (c < 0x20) {
			fl_out_printf(o, "\\u%04x", c), i++;
		} else {
			fl_out_putn(o, (const char *)s + i, len);
			i += len;
		}
	}
	fl_out_putn(o, "\"", 1);
}

static void json_errno(struct fl_out *o, int err)
{
	const char *name = fl_errno_name(err);
	char num[16];
	snprintf(num, sizeof(num), "%d", err);
	fl_report_json_string(o, name ? name : num);
}

static const char *scope_name(uint8_t scope)
{
	return scope == FL_SCOPE_RULE ? "rule" : "destination";
}

static void json_breaker(struct fl_out *o, const struct fl_snap_breaker *b)
{
	char rate[32], threshold[32];
	fl_report_format_rate(fl_report_failure_rate(b), rate, sizeof(rate));
	fl_report_format_rate(b->p.failure_rate_threshold, threshold, sizeof(threshold));
	fl_out_printf(o,
		      "{\"state\": \"%s\", \"since\": %" PRIu64 ", \"calls\": %" PRIu64
		      ", \"failures\": %" PRIu64 ", \"rejected\": %" PRIu64
		      ", \"consecutive_failures\": %u, \"consecutive_successes\": %u"
		      ", \"failure_rate\": %s, \"window_calls\": %" PRIu64 ", \"window_failures\": %" PRIu64
		      ", \"transitions\": %" PRIu64 ", \"half_open_permits\": %u",
		      fl_breaker_state_name(b->state), b->since_ms, b->calls, b->failures, b->rejected,
		      b->consecutive_failures, b->consecutive_successes, rate, b->window_calls,
		      b->window_failures, b->transitions, b->permits);
	const struct fl_breaker_params *p = &b->p;
	fl_out_printf(o,
		      ", \"failure_threshold\": %u, \"success_threshold\": %u, \"timeout_ms\": %u"
		      ", \"half_open_max_requests\": %u, \"failure_rate_threshold\": %s"
		      ", \"min_requests_for_rate\": %u, \"rolling_window_ms\": %u, \"reject_errno\": ",
		      p->failure_threshold, p->success_threshold, p->timeout_ms, p->half_open_max_requests,
		      threshold, p->min_requests_for_rate, p->rolling_window_ms);
	json_errno(o, p->reject_errno);
	fl_out_printf(o, ", \"scope\": \"%s\", \"enabled\": %s, \"rule\": ", scope_name(p->scope),
		      p->enabled ? "true" : "false");
	fl_report_json_string(o, b->rule);
	fl_report_json_breaker_x(o, b);
	fl_out_puts(o, "}");
}

static void json_bulkhead(struct fl_out *o, const struct fl_snap_bulkhead *h)
{
	const struct fl_bulkhead_params *p = &h->p;
	fl_out_printf(o,
		      "{\"active\": %u, \"queued\": %u, \"limit\": %u, \"rejected\": %" PRIu64
		      ", \"timeouts\": %" PRIu64 ", \"peak_active\": %u, \"max_concurrent_requests\": %u"
		      ", \"max_queue_size\": %u, \"queue_timeout_ms\": %u, \"reject_errno\": ",
		      h->active, h->queued, p->max_concurrent_requests, h->rejected, h->timeouts,
		      h->peak_active, p->max_concurrent_requests, p->max_queue_size, p->queue_timeout_ms);
	json_errno(o, p->reject_errno);
	fl_out_printf(o, ", \"scope\": \"%s\", \"enabled\": %s, \"rule\": ", scope_name(p->scope),
		      p->enabled ? "true" : "false");
	fl_report_json_string(o, h->rule);
	fl_out_puts(o, "}");
}

static void json_ops(struct fl_out *o, const struct fl_seg_op_stats *ops)
{
	fl_out_puts(o, "{");
	for (unsigned op = 0; op < FL_OP_COUNT; op++) {
		const struct fl_seg_op_stats *s = &ops[op];
		fl_out_printf(o,
			      "%s\"%s\": {\"calls\": %" PRIu64 ", \"errors_injected\": %" PRIu64
			      ", \"delays_injected\": %" PRIu64 ", \"delay_ms_total\": %" PRIu64 "}",
			      op ? ", " : "", fl_op_names[op], s->calls, s->errors_injected,
			      s->delays_injected, s->delay_ms_total);
	}
	fl_out_puts(o, "}");
}

/* Connection faults and shaping (SPEC 10), by op (connect has none), and
 * slow closes: a key of its own, so "ops" keeps its fields. */
static void json_conn(struct fl_out *o, const struct fl_snap_entry *e)
{
	fl_out_puts(o, "{");
	for (unsigned op = FL_OP_SEND; op < FL_OP_COUNT; op++) {
		const struct fl_seg_conn_stats *s = &e->conn[op];
		fl_out_printf(o,
			      "\"%s\": {\"shape_waits\": %" PRIu64 ", \"shaped_bytes\": %" PRIu64
			      ", \"shape_ms_total\": %" PRIu64 ", \"short_io\": %" PRIu64
			      ", \"eofs\": %" PRIu64 ", \"hangs\": %" PRIu64 ", \"resets\": %" PRIu64
			      ", \"corrupted_bytes\": %" PRIu64 "}, ",
			      fl_op_names[op], s->shape_waits, s->shaped_bytes, s->shape_wait_ns / 1000000u,
			      s->short_io, s->eofs, s->hangs, s->resets, s->corrupted_bytes);
	}
	fl_out_printf(o, "\"close\": {\"delays\": %" PRIu64 ", \"delay_ms_total\": %" PRIu64 "}}",
		      e->close_delays, e->close_delay_ms_total);
}

static void json_entry(struct fl_out *o, const struct fl_snap_entry *e)
{
	fl_out_puts(o, "{\"destination\": ");
	fl_report_json_string(o, e->name);
	fl_out_printf(o,
		      ", \"kind\": \"%s\", \"rule\": ", e->key.kind == FL_KEY_DEST ? "destination" : "rule");
	if (e->has_breaker)
		fl_report_json_string(o, e->breaker.rule);
	else if (e->has_bulkhead)
		fl_report_json_string(o, e->bulkhead.rule);
	else
		fl_out_puts(o, "null");
	fl_out_printf(o, ", \"created\": %" PRIu64 ", \"overflow\": %" PRIu64 ",\n   \"breaker\": ",
		      e->created_ms, e->overflow_count);
	if (e->has_breaker)
		json_breaker(o, &e->breaker);
	else
		fl_out_puts(o, "null");
	fl_out_puts(o, ",\n   \"bulkhead\": ");
	if (e->has_bulkhead)
		json_bulkhead(o, &e->bulkhead);
	else
		fl_out_puts(o, "null");
	fl_report_json_ratelimit(o, e);
	fl_out_puts(o, ",\n   \"ops\": ");
	json_ops(o, e->ops);
	fl_out_puts(o, ",\n   \"connection\": ");
	json_conn(o, e);
	fl_out_puts(o, "}");
}

void fl_report_json(struct fl_out *o, const struct fl_snapshot *s)
{
	fl_out_puts(o, "{\"domain\": ");
	fl_report_json_string(o, s->domain);
	fl_out_printf(o,
		      ", \"created\": %" PRIu64 ", \"now\": %" PRIu64 ", \"capacity\": %u, \"used\": %u"
		      ", \"overflow\": %" PRIu64 ",\n \"destinations\": [",
		      s->created_ms, s->now_ms, s->capacity, s->entries_used, s->overflow);
	for (size_t i = 0; i < s->nentries; i++) {
		fl_out_puts(o, i ? ",\n  " : "\n  ");
		json_entry(o, &s->entries[i]);
	}
	fl_out_puts(o, s->nentries ? "\n ]}\n" : "]}\n");
}

/* ---- ps and domains ---- */

void fl_report_ps_json(struct fl_out *o, const struct fl_snapshot *s, const bool *alive)
{
	fl_out_puts(o, "{\"domain\": ");
	fl_report_json_string(o, s->domain);
	fl_out_puts(o, ", \"processes\": [");
	for (size_t i = 0; i < s->nprocs; i++) {
		const struct fl_seg_proc *p = &s->procs[i].rec;
		fl_out_printf(o, "%s\n  {\"pid\": %u, \"command\": ", i ? "," : "", p->pid);
		fl_report_json_string(o, p->cmd);
		fl_out_printf(o, ", \"since\": %" PRIu64 ", \"alive\": %s}", p->attach_ms,
			      alive[i] ? "true" : "false");
	}
	fl_out_puts(o, s->nprocs ? "\n]}\n" : "]}\n");
}

void fl_report_domains_json(struct fl_out *o, const struct fl_domain_info *rows, size_t n)
{
	fl_out_puts(o, "{\"domains\": [");
	for (size_t i = 0; i < n; i++) {
		const struct fl_domain_info *r = &rows[i];
		fl_out_puts(o, i ? ",\n  {\"domain\": " : "\n  {\"domain\": ");
		fl_report_json_string(o, r->name);
		fl_out_printf(o, ", \"size\": %" PRIu64 ", ", r->size);
		if (r->error) {
			fl_out_puts(o, "\"error\": ");
			fl_report_json_string(o, r->error);
		} else {
			fl_out_printf(
			    o, "\"used\": %u, \"capacity\": %u, \"processes\": %u, \"created\": %" PRIu64,
			    r->used, r->capacity, r->live, r->created_ms);
		}
		fl_out_puts(o, "}");
	}
	fl_out_puts(o, n ? "\n]}\n" : "]}\n");
}
