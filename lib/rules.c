/*
 * rules.c - the rule set as a whole: kinds and their defaults, growing the
 * statement array, the checks that need a complete statement, printing the
 * set back, and "did you mean" for every name a user can misspell.
 *
 * Keys and their values live in rule_keys.c; this file owns what is about
 * statements rather than single keys. The defaults below are the table of
 * SPEC section 3, written once as C initialisers.
 */
#include "rules.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "errnames.h"
#include "fault.h"
#include "hostname.h"
#include "textbuf.h"

#define SUGGEST_WORD_MAX 64

const char *const fl_op_names[FL_OP_COUNT] = {
    [FL_OP_CONNECT] = "connect", [FL_OP_SEND] = "send", [FL_OP_RECV] = "recv",
    [FL_OP_WRITE] = "write",	 [FL_OP_READ] = "read", [FL_OP_RESOLVE] = "resolve",
};

static const struct fl_breaker_params breaker_defaults = {
    .failure_threshold = 5,
    .success_threshold = 2,
    .timeout_ms = 60000,
    .half_open_max_requests = 1,
    .failure_rate_threshold = 50.0,
    .min_requests_for_rate = 20,
    .rolling_window_ms = 10000,
    .reject_errno = ECONNREFUSED,
    .scope = FL_SCOPE_DESTINATION,
    .enabled = true,
    .slow_call_duration_ms = 0,
    .slow_call_rate_threshold = 100.0,
    .mode = FL_MODE_ENFORCE,
    .timeout_max_ms = 0,
    .timeout_multiplier = 2.0,
};

static const struct fl_ratelimit_params ratelimit_defaults = {
    .rate = 0,
    .burst = 0,
    .action = FL_RATE_REJECT,
    .max_delay_ms = 1000,
    .reject_errno = ECONNREFUSED,
    .scope = FL_SCOPE_DESTINATION,
};

static const struct fl_bulkhead_params bulkhead_defaults = {
    .max_concurrent_requests = 100,
    .max_queue_size = 10,
    .queue_timeout_ms = 5000,
    .reject_errno = ECONNREFUSED,
    .scope = FL_SCOPE_DESTINATION,
    .enabled = true,
};

static const struct fl_fault_params fault_defaults = {
    .ops = FL_OPS_ALL,
    .error = 0,
    .delay_ms = 0,
    .jitter_ms = 0,
    .probability = 1.0,
    .threshold = UINT64_MAX,
    .after = 0,
    .every = 1,
    .times = 0,
    .hang_ms = FL_HANG_UNSET,
    .burst_kb = 64,
};

/* shape: the same parameters, its own defaults (on=io, 64 KB burst). */
static const struct fl_fault_params shape_defaults = {
    .ops = FL_OPS_IO,
    .probability = 1.0,
    .threshold = UINT64_MAX,
    .every = 1,
    .hang_ms = FL_HANG_UNSET,
    .burst_kb = 64,
};

const char *const fl_kind_words[] = {"breaker", "circuit_breaker", "bulkhead",	 "fault",
				     "resolve", "shape",	   "rate_limit", NULL};
static const uint8_t word_kinds[] = {FL_KIND_BREAKER, FL_KIND_BREAKER, FL_KIND_BULKHEAD,  FL_KIND_FAULT,
				     FL_KIND_RESOLVE, FL_KIND_SHAPE,   FL_KIND_RATE_LIMIT};
_Static_assert(sizeof word_kinds / sizeof word_kinds[0] + 1 == sizeof fl_kind_words / sizeof fl_kind_words[0],
	       "one kind per word");

void fl_ruleset_init(struct fl_ruleset *rs)
{
	memset(rs, 0, sizeof *rs);
}

void fl_ruleset_free(struct fl_ruleset *rs)
{
	free(rs->rules);
	fl_ruleset_init(rs);
}

int fl_ruleset_add(struct fl_ruleset *rs, const struct fl_rule *r, struct fl_diag *d)
{
	if (!fl_array_reserve(&rs->rules, &rs->cap, rs->count + 1, sizeof *rs->rules, 8))
		return fl_diag_error(d, &r->loc, "out of memory for %zu rules", rs->count + 1);
	rs->rules[rs->count++] = *r;
	return 0;
}

void fl_rule_defaults(struct fl_rule *r, enum fl_kind kind)
{
	memset(r, 0, sizeof *r);
	r->target.family = FL_AF_ANY;
	r->target.port_lo = 0;
	r->target.port_hi = 65535;
	r->kind = (uint8_t)kind;
	if (kind == FL_KIND_BREAKER)
		r->u.breaker = breaker_defaults;
	else if (kind == FL_KIND_BULKHEAD)
		r->u.bulkhead = bulkhead_defaults;
	else if (kind == FL_KIND_RATE_LIMIT)
		r->u.ratelimit = ratelimit_defaults;
	else if (kind == FL_KIND_SHAPE)
		r->u.fault = shape_defaults;
	else if (kind == FL_KIND_FAULT)
		r->u.fault = fault_defaults;
}

int fl_kind_from_name(const char *name, size_t len)
{
	for (size_t i = 0; fl_kind_words[i]; i++)
		if (strlen(fl_kind_words[i]) == len && memcmp(fl_kind_words[i], name, len) == 0)
			return (int)word_kinds[i];
	return -1;
}

const char *fl_kind_name(enum fl_kind kind)
{
	switch (kind) {
	case FL_KIND_BREAKER:
		return "breaker";
	case FL_KIND_BULKHEAD:
		return "bulkhead";
	case FL_KIND_FAULT:
		return "fault";
	case FL_KIND_RESOLVE:
		return "resolve";
	case FL_KIND_SHAPE:
		return "shape";
	case FL_KIND_RATE_LIMIT:
		return "rate_limit";
	}
	return "unknown";
}

/* An errno the call cannot return: legal, but it tests an impossible path. */
static void warn_errno_for_op(const char *what, int err, enum fl_op op, const struct fl_loc *loc,
			      struct fl_diag *d)
{
	char valid[FL_DIAG_MSG_MAX];
	if (fl_errno_valid_for(op, err))
		return;
	fl_errno_valid_list(op, valid, sizeof valid);
	const char *name = fl_errno_name(err);
	fl_diag_warn(d, loc, "%s %s on %s, which %s never returns (%s returns: %s)", what, name ? name : "?",
		     fl_op_names[op], fl_op_names[op], fl_op_names[op], valid);
}

static int finish_fault(struct fl_rule *r, const struct fl_loc *loc, struct fl_diag *d)
{
	struct fl_fault_params *p = &r->u.fault;
	if (fl_connfault_finish(p, loc, d) < 0)
		return -1;
	if (p->error == 0 && p->delay_ms == 0 && !fl_connfault_any(p))
		return fl_diag_error(d, loc,
				     "fault injects nothing: give error=, or delay_ms= above 0 (a delay of 0 "
				     "ms does nothing)");
	if (p->jitter_ms != 0 && p->delay_ms == 0)
		return fl_diag_error(d, loc, "jitter_ms needs delay_ms= (jitter varies a delay)");
	if (p->jitter_ms > p->delay_ms)
		return fl_diag_error(d, loc,
				     "jitter_ms=%u is larger than delay_ms=%u (the delay would "
				     "often be cut to 0)",
				     (unsigned)p->jitter_ms, (unsigned)p->delay_ms);
	p->threshold = fl_probability_threshold(p->probability);
	p->timed = p->start_ms != 0 || p->duration_ms != 0;
	if (p->probability == 0.0)
		fl_diag_warn(d, loc, "fault has probability=0 and never fires");
	if (fl_resolve_fault_check(r, loc, d) < 0)
		return -1;
	if (p->error <= 0)
		return 0;
	for (unsigned op = 0; op < FL_OP_RESOLVE; op++)
		if (p->ops & (1u << op))
			warn_errno_for_op("fault injects", p->error, (enum fl_op)op, loc, d);
	return 0;
}

int fl_rule_finish(struct fl_rule *r, const struct fl_loc *loc, struct fl_diag *d)
{
	switch (r->kind) {
	case FL_KIND_BREAKER:
		warn_errno_for_op("breaker rejects with", r->u.breaker.reject_errno, FL_OP_CONNECT, loc, d);
		return fl_breaker_x_finish(r, loc, d);
	case FL_KIND_RATE_LIMIT:
		warn_errno_for_op("rate_limit rejects with", r->u.ratelimit.reject_errno, FL_OP_CONNECT, loc,
				  d);
		return fl_ratelimit_finish(r, loc, d);
	case FL_KIND_BULKHEAD:
		warn_errno_for_op("bulkhead rejects with", r->u.bulkhead.reject_errno, FL_OP_CONNECT, loc, d);
		return 0;
	case FL_KIND_FAULT:
		return finish_fault(r, loc, d);
	case FL_KIND_RESOLVE:
		return fl_resolve_rule_check(r, loc, d);
	case FL_KIND_SHAPE:
		return fl_shape_finish(&r->u.fault, loc, d);
	}
	return fl_diag_error(d, loc, "rule has no valid kind");
}

size_t fl_ruleset_format(const struct fl_ruleset *rs, char *buf, size_t size)
{
	size_t total = 0;
	for (size_t i = 0; i < rs->count; i++) {
		size_t room = total < size ? size - total : 0;
		total += fl_rule_format(&rs->rules[i], room ? buf + total : NULL, room);
		if (total + 1 < size) {
			buf[total] = '\n';
			buf[total + 1] = '\0';
		}
		total++;
	}
	if (rs->count == 0 && size > 0)
		buf[0] = '\0';
	return total;
}

/* ---- suggestions ---- */

static char fold(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static size_t min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;
	return m < c ? m : c;
}

/*
 * Optimal string alignment distance (Levenshtein plus adjacent swaps),
 * ignoring case: "failur_threshold", "timout_ms", "ECONRESET", "recieve".
 * Three rolling rows; both words are at most SUGGEST_WORD_MAX bytes.
 */
static size_t edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
	size_t rows[3][SUGGEST_WORD_MAX + 1];
	size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
	for (size_t j = 0; j <= nb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= na; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= nb; j++) {
			size_t cost = fold(a[i - 1]) != fold(b[j - 1]);
			cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
			if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) &&
			    fold(a[i - 2]) == fold(b[j - 1]) && prev2[j - 2] + 1 < cur[j])
				cur[j] = prev2[j - 2] + 1;
		}
		size_t *spare = prev2;
		prev2 = prev;
		prev = cur;
		cur = spare;
	}
	return prev[nb];
}

const char *fl_suggest(const char *word, size_t len, const char *const *candidates)
{
	size_t limit = len / 3 > 2 ? len / 3 : 2;
	size_t best_distance = limit + 1;
	const char *best = NULL;
	if (len == 0 || len > SUGGEST_WORD_MAX || candidates == NULL)
		return NULL;
	for (size_t i = 0; candidates[i] != NULL; i++) {
		size_t n = strlen(candidates[i]);
		if (n > SUGGEST_WORD_MAX || (n > len ? n - len : len - n) > limit)
			continue;
		size_t distance = edit_distance(word, len, candidates[i], n);
		if (distance < best_distance) {
			best_distance = distance;
			best = candidates[i];
		}
	}
	return best;
}

void fl_rules_fingerprint(const char *inline_rules, const char *config, char *out, size_t size)
{
	/* FNV-1a 64 over both texts, with a separator that cannot occur in either. */
	uint64_t h = 14695981039346656037ULL;
	const char *parts[2] = {inline_rules ? inline_rules : "", config ? config : ""};
	for (int i = 0; i < 2; i++) {
		for (const char *p = parts[i]; *p; p++)
			h = (h ^ (uint8_t)*p) * 1099511628211ULL;
		h = (h ^ 0xffu) * 1099511628211ULL;
	}
	snprintf(out, size, "%016llx", (unsigned long long)h);
}
