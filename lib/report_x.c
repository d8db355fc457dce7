/*
 * report_x.c - SPEC 11 in the CLI's output: the breaker's slow calls,
 * mode, backoff and fallback, and the rate_limit part of an entry, for
 * `stats --json` and the table's RESIL column (Prometheus: report_prom.c).
 * Apart from report_json.c so the SPEC 6 shape stays one readable block.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "errnames.h"
#include "report.h"
#include "textbuf.h"

static double percent(uint64_t part, uint64_t whole)
{
	return whole ? (double)part * 100.0 / (double)whole : 0.0;
}

static void fallback_text(const struct fl_fallback *f, char *buf, size_t size)
{
	struct fl_dest d;
	memset(&d, 0, sizeof d);
	d.family = f->family;
	d.port = f->port;
	memcpy(d.addr, f->addr, sizeof d.addr);
	fl_dest_format(&d, buf, size);
}

void fl_report_json_breaker_x(struct fl_out *o, const struct fl_snap_breaker *b)
{
	const struct fl_breaker_params *p = &b->p;
	char slow_rate[32], slow_threshold[32], multiplier[32];
	fl_report_format_rate(percent(b->window_slow, b->window_calls), slow_rate, sizeof slow_rate);
	fl_report_format_rate(p->slow_call_rate_threshold, slow_threshold, sizeof slow_threshold);
	fl_report_format_rate(p->timeout_multiplier, multiplier, sizeof multiplier);
	fl_out_printf(o,
		      ", \"mode\": \"%s\", \"observing\": %s, \"slow_calls\": %" PRIu64
		      ", \"window_slow_calls\": %" PRIu64
		      ", \"slow_call_rate\": %s, \"would_reject\": %" PRIu64 ", \"fallbacks\": %" PRIu64
		      ", \"open_ms\": %u, \"slow_call_duration_ms\": %u"
		      ", \"slow_call_rate_threshold\": %s, \"timeout_max_ms\": %u, \"timeout_multiplier\": %s"
		      ", \"fallback\": ",
		      p->mode == FL_MODE_OBSERVE ? "observe" : "enforce",
		      p->mode == FL_MODE_OBSERVE ? "true" : "false", b->slow_calls, b->window_slow, slow_rate,
		      b->would_reject, b->fallbacks, b->open_ms, p->slow_call_duration_ms, slow_threshold,
		      p->timeout_max_ms ? p->timeout_max_ms : p->timeout_ms, multiplier);
	if (p->fallback.family) {
		char text[FL_DEST_STR_MAX];
		fallback_text(&p->fallback, text, sizeof text);
		fl_out_printf(o, "\"%s\"", text);
	} else {
		fl_out_puts(o, "null");
	}
}

void fl_report_json_ratelimit(struct fl_out *o, const struct fl_snap_entry *e)
{
	fl_out_puts(o, ",\n   \"rate_limit\": ");
	if (!e->has_ratelimit) {
		fl_out_puts(o, "null");
		return;
	}
	const struct fl_snap_ratelimit *r = &e->ratelimit;
	const char *err = fl_errno_name(r->p.reject_errno);
	fl_out_printf(o,
		      "{\"rate\": %u, \"burst\": %u, \"admitted\": %" PRIu64 ", \"rejected\": %" PRIu64
		      ", \"delayed\": %" PRIu64
		      ", \"action\": \"%s\", \"max_delay_ms\": %u, \"reject_errno\": ",
		      r->p.rate, r->p.burst, r->admitted, r->rejected, r->delayed,
		      r->p.action == FL_RATE_DELAY ? "delay" : "reject", r->p.max_delay_ms);
	if (err)
		fl_out_printf(o, "\"%s\"", err);
	else
		fl_out_printf(o, "%d", r->p.reject_errno);
	fl_out_printf(o, ", \"scope\": \"%s\"}", r->p.scope == FL_SCOPE_RULE ? "rule" : "destination");
}

void fl_report_resil_cell(char *buf, size_t size, const struct fl_snap_entry *e)
{
	struct fl_textbuf b;
	fl_tb_init(&b, buf, size);
	if (e->has_breaker) {
		const struct fl_snap_breaker *k = &e->breaker;
		if (k->p.mode == FL_MODE_OBSERVE) {
			fl_tb_puts(&b, "observe:");
			fl_tb_putu(&b, k->would_reject);
		}
		if (k->p.slow_call_duration_ms) {
			fl_tb_puts(&b, b.len ? " slow:" : "slow:");
			fl_tb_putu(&b, k->slow_calls);
		}
		if (k->open_ms > k->p.timeout_ms) { /* grown by backoff */
			fl_tb_puts(&b, b.len ? " open:" : "open:");
			fl_tb_putu(&b, k->open_ms);
			fl_tb_puts(&b, "ms");
		}
		if (k->p.fallback.family) {
			fl_tb_puts(&b, b.len ? " fb:" : "fb:");
			fl_tb_putu(&b, k->fallbacks);
		}
	}
	if (e->has_ratelimit) {
		fl_tb_puts(&b, b.len ? " rl:" : "rl:");
		fl_tb_putu(&b, e->ratelimit.admitted);
		fl_tb_puts(&b, "/");
		fl_tb_putu(&b, e->ratelimit.rejected);
		fl_tb_puts(&b, "r");
		if (e->ratelimit.delayed) {
			fl_tb_puts(&b, "/");
			fl_tb_putu(&b, e->ratelimit.delayed);
			fl_tb_puts(&b, "d");
		}
	}
	if (b.len == 0)
		fl_tb_puts(&b, "-");
}
