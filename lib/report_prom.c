/*
 * report_prom.c - `stats --prometheus`: text exposition format 0.0.4.
 *
 * Every family gets its # HELP and # TYPE lines, even with no samples, so
 * a scraper sees the same families whatever the domain holds. A series is
 * named by its label set, and two entries can share a name: a scope=rule
 * statement on one address ("127.0.0.1:6379 breaker scope=rule") keeps its
 * breaker in a rule entry and the destination's counters in a destination
 * entry, both called 127.0.0.1:6379. Exposing both would give duplicate
 * series, which Prometheus rejects; they are one destination, so they are
 * merged: counters added, the breaker and bulkhead taken from the entry
 * that has one.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

struct series {
	const char *name;
	const struct fl_snap_breaker *breaker;
	const struct fl_snap_bulkhead *bulkhead;
	struct fl_seg_op_stats ops[FL_OP_COUNT];
	struct fl_seg_conn_stats conn[FL_OP_COUNT]; /* connection faults and shaping (SPEC 10) */
	uint64_t close_delays, close_delay_ms_total;
	const struct fl_snap_ratelimit *ratelimit;
};

static int compare_names(const void *pa, const void *pb)
{
	const struct fl_snap_entry *a = *(const struct fl_snap_entry *const *)pa;
	const struct fl_snap_entry *b = *(const struct fl_snap_entry *const *)pb;
	int c = strcmp(a->name, b->name);
	if (c == 0)
		c = a->key.kind - b->key.kind;
	return c ? c : (a->index < b->index ? -1 : a->index > b->index);
}

static void add_ops(struct fl_seg_op_stats *to, const struct fl_seg_op_stats *from)
{
	for (unsigned op = 0; op < FL_OP_COUNT; op++) {
		to[op].calls += from[op].calls;
		to[op].errors_injected += from[op].errors_injected;
		to[op].delays_injected += from[op].delays_injected;
		to[op].delay_ms_total += from[op].delay_ms_total;
	}
}

/* The snapshot's entries merged by name; NULL (and *n = 0) when memory runs out. */
static struct series *build_series(const struct fl_snapshot *s, size_t *n)
{
	*n = 0;
	if (s->nentries == 0)
		return NULL;
	const struct fl_snap_entry **sorted = malloc(s->nentries * sizeof(*sorted));
	struct series *out = calloc(s->nentries, sizeof(*out));
	if (!sorted || !out) {
		free(sorted);
		free(out);
		return NULL;
	}
	for (size_t i = 0; i < s->nentries; i++)
		sorted[i] = &s->entries[i];
	qsort(sorted, s->nentries, sizeof(*sorted), compare_names);
	for (size_t i = 0; i < s->nentries; i++) {
		const struct fl_snap_entry *e = sorted[i];
		if (*n == 0 || strcmp(out[*n - 1].name, e->name) != 0)
			out[(*n)++].name = e->name;
		struct series *cur = &out[*n - 1];
		if (e->has_breaker && !cur->breaker)
			cur->breaker = &e->breaker;
		if (e->has_bulkhead && !cur->bulkhead)
			cur->bulkhead = &e->bulkhead;
		if (e->has_ratelimit && !cur->ratelimit)
			cur->ratelimit = &e->ratelimit;
		add_ops(cur->ops, e->ops);
		for (unsigned op = 0; op < FL_OP_COUNT; op++) {
			uint64_t *to = (uint64_t *)&cur->conn[op];
			const uint64_t *from = (const uint64_t *)&e->conn[op];
			for (size_t k = 0; k < sizeof(cur->conn[op]) / sizeof(uint64_t); k++)
				to[k] += from[k];
		}
		cur->close_delays += e->close_delays;
		cur->close_delay_ms_total += e->close_delay_ms_total;
	}
	free(sorted);
	return out;
}

static void family(struct fl_out *o, const char *name, const char *type, const char *help)
{
	fl_out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, quote and newline escaped; always UTF-8. */
static void label_value(struct fl_out *o, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str);
	for (size_t i = 0; i < n;) {
		size_t len = fl_report_utf8_len(s + i, n - i);
		if (len == 0) {
			fl_out_puts(o, "\xef\xbf\xbd"); /* U+FFFD */
			i++;
		} else if (s[i] == '\\' || s[i] == '"') {
			fl_out_putn(o, "\\", 1);
			fl_out_putn(o, (const char *)&s[i++], 1);
		} else if (s[i] == '\n') {
			fl_out_puts(o, "\\n");
			i++;
		} else {
			fl_out_putn(o, (const char *)s + i, len);
			i += len;
		}
	}
}

/* name{destination="...",op="...",kind="..."} (op and kind optional) */
static void sample_start(struct fl_out *o, const char *metric, const struct series *se, const char *op,
			 const char *kind)
{
	fl_out_printf(o, "%s{destination=\"", metric);
	label_value(o, se->name);
	fl_out_puts(o, "\"");
	if (op)
		fl_out_printf(o, ",op=\"%s\"", op);
	if (kind)
		fl_out_printf(o, ",kind=\"%s\"", kind);
	fl_out_puts(o, "} ");
}

static void sample(struct fl_out *o, const char *metric, const struct series *se, const char *op,
		   const char *kind, uint64_t value)
{
	sample_start(o, metric, se, op, kind);
	fl_out_printf(o, "%" PRIu64 "\n", value);
}

struct breaker_metric {
	const char *name, *type, *help;
	uint64_t (*value)(const struct fl_snap_breaker *);
};

static uint64_t breaker_state(const struct fl_snap_breaker *b)
{
	return b->state;
}
static uint64_t breaker_calls(const struct fl_snap_breaker *b)
{
	return b->calls;
}
static uint64_t breaker_failures(const struct fl_snap_breaker *b)
{
	return b->failures;
}
static uint64_t breaker_rejected(const struct fl_snap_breaker *b)
{
	return b->rejected;
}
static uint64_t breaker_transitions(const struct fl_snap_breaker *b)
{
	return b->transitions;
}

/* SPEC 11 */
static uint64_t breaker_observe(const struct fl_snap_breaker *b)
{
	return b->p.mode == FL_MODE_OBSERVE;
}
static uint64_t breaker_slow_calls(const struct fl_snap_breaker *b)
{
	return b->slow_calls;
}
static uint64_t breaker_would_reject(const struct fl_snap_breaker *b)
{
	return b->would_reject;
}
static uint64_t breaker_fallbacks(const struct fl_snap_breaker *b)
{
	return b->fallbacks;
}
static uint64_t breaker_open_ms(const struct fl_snap_breaker *b)
{
	return b->open_ms;
}

static const struct breaker_metric breaker_metrics[] = {
    {"faultline_breaker_state", "gauge",
     "Circuit breaker state (0 closed, 1 open, 2 half_open, 3 forced_open, 4 disabled).", breaker_state},
    {"faultline_breaker_calls_total", "counter", "Connection attempts whose outcome the breaker counted.",
     breaker_calls},
    {"faultline_breaker_failures_total", "counter", "Connection attempts the breaker counted as failures.",
     breaker_failures},
    {"faultline_breaker_rejected_total", "counter",
     "Connection attempts the breaker rejected without a system call.", breaker_rejected},
    {"faultline_breaker_transitions_total", "counter", "Breaker state changes.", breaker_transitions},
    {"faultline_breaker_observe", "gauge", "1 for a breaker in mode=observe (counts, never rejects).",
     breaker_observe},
    {"faultline_breaker_slow_calls_total", "counter",
     "Connection attempts slower than slow_call_duration_ms (failed or not).", breaker_slow_calls},
    {"faultline_breaker_would_reject_total", "counter",
     "Connection attempts a breaker in mode=observe let through that enforce would have rejected.",
     breaker_would_reject},
    {"faultline_breaker_fallbacks_total", "counter",
     "Rejected connection attempts sent to the breaker's fallback instead.", breaker_fallbacks},
    {"faultline_breaker_open_seconds", "gauge",
     "How long the breaker stays open now (timeout_ms, grown by timeout_multiplier on re-opening).",
     breaker_open_ms},
};

struct ratelimit_metric {
	const char *name, *type, *help;
	uint64_t (*value)(const struct fl_snap_ratelimit *);
};

static uint64_t ratelimit_rate(const struct fl_snap_ratelimit *r)
{
	return r->p.rate;
}
static uint64_t ratelimit_burst(const struct fl_snap_ratelimit *r)
{
	return r->p.burst;
}
static uint64_t ratelimit_admitted(const struct fl_snap_ratelimit *r)
{
	return r->admitted;
}
static uint64_t ratelimit_rejected(const struct fl_snap_ratelimit *r)
{
	return r->rejected;
}
static uint64_t ratelimit_delayed(const struct fl_snap_ratelimit *r)
{
	return r->delayed;
}

static const struct ratelimit_metric ratelimit_metrics[] = {
    {"faultline_rate_limit_rate", "gauge", "Connections per second the rate limit admits.", ratelimit_rate},
    {"faultline_rate_limit_burst", "gauge", "Connections the rate limit admits at once.", ratelimit_burst},
    {"faultline_rate_limit_admitted_total", "counter", "Connection attempts the rate limit admitted.",
     ratelimit_admitted},
    {"faultline_rate_limit_rejected_total", "counter", "Connection attempts the rate limit rejected.",
     ratelimit_rejected},
    {"faultline_rate_limit_delayed_total", "counter",
     "Connection attempts the rate limit admitted after a delay (action=delay).", ratelimit_delayed},
};

struct bulkhead_metric {
	const char *name, *type, *help;
	uint64_t (*value)(const struct fl_snap_bulkhead *);
};

static uint64_t bulkhead_active(const struct fl_snap_bulkhead *h)
{
	return h->active;
}
static uint64_t bulkhead_queued(const struct fl_snap_bulkhead *h)
{
	return h->queued;
}
static uint64_t bulkhead_limit(const struct fl_snap_bulkhead *h)
{
	return h->p.max_concurrent_requests;
}
static uint64_t bulkhead_rejected(const struct fl_snap_bulkhead *h)
{
	return h->rejected;
}
static uint64_t bulkhead_timeouts(const struct fl_snap_bulkhead *h)
{
	return h->timeouts;
}

static const struct bulkhead_metric bulkhead_metrics[] = {
    {"faultline_bulkhead_active", "gauge", "Connections holding a bulkhead slot.", bulkhead_active},
    {"faultline_bulkhead_queued", "gauge", "Connection attempts waiting for a bulkhead slot.",
     bulkhead_queued},
    {"faultline_bulkhead_limit", "gauge", "Bulkhead slots (max_concurrent_requests).", bulkhead_limit},
    {"faultline_bulkhead_rejected_total", "counter",
     "Connection attempts the bulkhead rejected (full, and no room or no will to wait).", bulkhead_rejected},
    {"faultline_bulkhead_timeouts_total", "counter",
     "Connection attempts that waited queue_timeout_ms in the bulkhead queue and failed.", bulkhead_timeouts},
};

static void op_metrics(struct fl_out *o, const struct series *series, size_t n)
{
	family(o, "faultline_faults_injected_total", "counter", "Faults injected, by operation and kind.");
	for (size_t i = 0; i < n; i++)
		for (unsigned op = 0; op < FL_OP_COUNT; op++) {
			sample(o, "faultline_faults_injected_total", &series[i], fl_op_names[op], "error",
			       series[i].ops[op].errors_injected);
			sample(o, "faultline_faults_injected_total", &series[i], fl_op_names[op], "delay",
			       series[i].ops[op].delays_injected);
		}
	family(o, "faultline_delay_seconds_total", "counter", "Seconds of delay injected, by operation.");
	for (size_t i = 0; i < n; i++)
		for (unsigned op = 0; op < FL_OP_COUNT; op++) {
			uint64_t ms = series[i].ops[op].delay_ms_total;
			sample_start(o, "faultline_delay_seconds_total", &series[i], fl_op_names[op], NULL);
			fl_out_printf(o, "%" PRIu64 ".%03u\n", ms / 1000, (unsigned)(ms % 1000));
		}
	family(o, "faultline_calls_total", "counter", "Watched calls, by operation.");
	for (size_t i = 0; i < n; i++)
		for (unsigned op = 0; op < FL_OP_COUNT; op++)
			sample(o, "faultline_calls_total", &series[i], fl_op_names[op], NULL,
			       series[i].ops[op].calls);
}

/* Connection faults and shaping (SPEC 10): one counter family each, by op. */
static const struct conn_metric {
	const char *name, *help;
	size_t offset;
	bool ns; /* printed as seconds */
} conn_metrics[] = {
    {"faultline_shaped_bytes_total", "Bytes moved by calls under a shape budget, by operation.",
     offsetof(struct fl_seg_conn_stats, shaped_bytes), false},
    {"faultline_shaping_seconds_total", "Seconds calls waited for their shape budget, by operation.",
     offsetof(struct fl_seg_conn_stats, shape_wait_ns), true},
    {"faultline_short_io_total", "Calls cut short by max_bytes, by operation.",
     offsetof(struct fl_seg_conn_stats, short_io), false},
    {"faultline_eofs_injected_total", "End-of-file answers injected by eof=true, by operation.",
     offsetof(struct fl_seg_conn_stats, eofs), false},
    {"faultline_hangs_injected_total", "Calls blackholed by hang_ms, by operation.",
     offsetof(struct fl_seg_conn_stats, hangs), false},
    {"faultline_resets_injected_total", "Connections reset by close_after_bytes, by operation.",
     offsetof(struct fl_seg_conn_stats, resets), false},
    {"faultline_corrupted_bytes_total", "Received bytes flipped by corrupt=, by operation.",
     offsetof(struct fl_seg_conn_stats, corrupted_bytes), false},
};

static void conn_metrics_out(struct fl_out *o, const struct series *series, size_t n)
{
	for (size_t m = 0; m < sizeof(conn_metrics) / sizeof(conn_metrics[0]); m++) {
		const struct conn_metric *cm = &conn_metrics[m];
		family(o, cm->name, "counter", cm->help);
		for (size_t i = 0; i < n; i++)
			for (unsigned op = FL_OP_SEND; op < FL_OP_COUNT; op++) {
				uint64_t v =
				    *(const uint64_t *)((const char *)&series[i].conn[op] + cm->offset);
				if (!cm->ns) {
					sample(o, cm->name, &series[i], fl_op_names[op], NULL, v);
					continue;
				}
				sample_start(o, cm->name, &series[i], fl_op_names[op], NULL);
				fl_out_printf(o, "%" PRIu64 ".%09u\n", v / 1000000000u,
					      (unsigned)(v % 1000000000u));
			}
	}
	family(o, "faultline_close_delays_total", "counter", "Closes slowed by on=close delay_ms.");
	for (size_t i = 0; i < n; i++)
		sample(o, "faultline_close_delays_total", &series[i], NULL, NULL, series[i].close_delays);
}

void fl_report_prometheus(struct fl_out *o, const struct fl_snapshot *s)
{
	size_t n = 0;
	struct series *series = build_series(s, &n);
	if (s->nentries && !series) {
		o->failed = true;
		return;
	}
	for (size_t m = 0; m < sizeof(breaker_metrics) / sizeof(breaker_metrics[0]); m++) {
		const struct breaker_metric *bm = &breaker_metrics[m];
		family(o, bm->name, bm->type, bm->help);
		for (size_t i = 0; i < n; i++)
			if (series[i].breaker && bm->value == breaker_open_ms) { /* ms, shown in seconds */
				uint64_t ms = bm->value(series[i].breaker);
				sample_start(o, bm->name, &series[i], NULL, NULL);
				fl_out_printf(o, "%" PRIu64 ".%03u\n", ms / 1000, (unsigned)(ms % 1000));
			} else if (series[i].breaker) {
				sample(o, bm->name, &series[i], NULL, NULL, bm->value(series[i].breaker));
			}
	}
	for (size_t m = 0; m < sizeof(bulkhead_metrics) / sizeof(bulkhead_metrics[0]); m++) {
		const struct bulkhead_metric *hm = &bulkhead_metrics[m];
		family(o, hm->name, hm->type, hm->help);
		for (size_t i = 0; i < n; i++)
			if (series[i].bulkhead)
				sample(o, hm->name, &series[i], NULL, NULL, hm->value(series[i].bulkhead));
	}
	for (size_t m = 0; m < sizeof(ratelimit_metrics) / sizeof(ratelimit_metrics[0]); m++) {
		const struct ratelimit_metric *rm = &ratelimit_metrics[m];
		family(o, rm->name, rm->type, rm->help);
		for (size_t i = 0; i < n; i++)
			if (series[i].ratelimit)
				sample(o, rm->name, &series[i], NULL, NULL, rm->value(series[i].ratelimit));
	}
	op_metrics(o, series, n);
	conn_metrics_out(o, series, n);
	free(series);
}
