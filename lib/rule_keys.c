/*
 * rule_keys.c - the key table of each kind, and the two things it drives:
 * setting a key from text (fl_rule_set_key) and writing every key back
 * (fl_rule_format, fl_kind_keys).
 *
 * Each kind has exactly one list of keys (BREAKER_KEYS, ...): name, value
 * type, the field it fills, its range, and an optional note. The list is
 * expanded twice, into the table that parses and prints and into the
 * NULL-terminated name array for help and suggestions, so adding a key is
 * one line and cannot leave the two out of step. Parsing dispatches on the
 * value type, never on the key name.
 */
#include "rules.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "errnames.h"
#include "hostname.h"
#include "numtext.h"
#include "textbuf.h"

enum key_type {
	KEY_U32,	 /* whole number into uint32_t */
	KEY_U64,	 /* whole number into uint64_t */
	KEY_REAL,	 /* decimal into double */
	KEY_ERRNO,	 /* errno name into int */
	KEY_SCOPE,	 /* destination | rule into uint8_t */
	KEY_BOOL,	 /* true | false | 1 | 0 into bool */
	KEY_OPS,	 /* op list into a uint32_t mask */
	KEY_ADDRS,	 /* comma list of IPv4/IPv6 addresses into struct fl_resolve_params */
	KEY_HANG,	 /* like KEY_U32, but FL_HANG_UNSET when not given (0 is a value) */
	KEY_SHAPE_SCOPE, /* connection | destination | rule into uint8_t */
	KEY_MODE,	 /* enforce | observe into uint8_t (SPEC 11) */
	KEY_ACTION,	 /* reject | delay into uint8_t (SPEC 11) */
	KEY_ADDR,	 /* ADDR:PORT into struct fl_fallback (SPEC 11) */
};

struct key_def {
	const char *name;
	enum key_type type;
	size_t offset;	      /* of the field inside struct fl_rule */
	uint64_t min, max;    /* for KEY_U32, KEY_U64, KEY_REAL */
	const char *note;     /* said after an out-of-range value, or NULL */
	const char *shown_if; /* printed only when this key is non-zero; NULL = always */
};

#define I32	    INT32_MAX /* milliseconds and counts stay clear of int overflow */
#define WINDOW_NOTE "the window is kept in buckets, so it must be at least 100 ms"

/* SPEC 11's breaker keys are written out only when in use, so a rule set
 * without them prints as it always did. */
#define SLOW	 "slow_call_duration_ms"
#define BACKOFF	 "timeout_max_ms"
#define MAX_NOTE "0 = timeout_ms, no growth"

/* name, type, field in the union, min, max, note, shown_if */
#define BREAKER_KEYS(X)                                                                                      \
	X("failure_threshold", KEY_U32, breaker.failure_threshold, 1, I32, NULL, NULL)                       \
	X("success_threshold", KEY_U32, breaker.success_threshold, 1, I32, NULL, NULL)                       \
	X("timeout_ms", KEY_U32, breaker.timeout_ms, 1, I32, NULL, NULL)                                     \
	X("half_open_max_requests", KEY_U32, breaker.half_open_max_requests, 1, I32, NULL, NULL)             \
	X("failure_rate_threshold", KEY_REAL, breaker.failure_rate_threshold, 0, 100, NULL, NULL)            \
	X("min_requests_for_rate", KEY_U32, breaker.min_requests_for_rate, 0, I32, NULL, NULL)               \
	X("rolling_window_ms", KEY_U32, breaker.rolling_window_ms, 100, I32, WINDOW_NOTE, NULL)              \
	X("reject_errno", KEY_ERRNO, breaker.reject_errno, 0, 0, NULL, NULL)                                 \
	X("scope", KEY_SCOPE, breaker.scope, 0, 0, NULL, NULL)                                               \
	X("enabled", KEY_BOOL, breaker.enabled, 0, 0, NULL, NULL)                                            \
	X("slow_call_duration_ms", KEY_U32, breaker.slow_call_duration_ms, 0, I32, NULL, SLOW)               \
	X("slow_call_rate_threshold", KEY_REAL, breaker.slow_call_rate_threshold, 0, 100, NULL, SLOW)        \
	X("mode", KEY_MODE, breaker.mode, 0, 0, NULL, "mode")                                                \
	X("timeout_max_ms", KEY_U32, breaker.timeout_max_ms, 0, I32, MAX_NOTE, BACKOFF)                      \
	X("timeout_multiplier", KEY_REAL, breaker.timeout_multiplier, 1, 1000, NULL, BACKOFF)                \
	X("fallback", KEY_ADDR, breaker.fallback, 0, 0, NULL, "fallback")

#define RATE_LIMIT_KEYS(X)                                                                                   \
	X("rate", KEY_U32, ratelimit.rate, 1, 1000000, NULL, NULL)                                           \
	X("burst", KEY_U32, ratelimit.burst, 1, 1000000, NULL, NULL)                                         \
	X("action", KEY_ACTION, ratelimit.action, 0, 0, NULL, NULL)                                          \
	X("max_delay_ms", KEY_U32, ratelimit.max_delay_ms, 0, I32, NULL, NULL)                               \
	X("reject_errno", KEY_ERRNO, ratelimit.reject_errno, 0, 0, NULL, NULL)                               \
	X("scope", KEY_SCOPE, ratelimit.scope, 0, 0, NULL, NULL)

#define BULKHEAD_KEYS(X)                                                                                     \
	X("max_concurrent_requests", KEY_U32, bulkhead.max_concurrent_requests, 1, I32, NULL, NULL)          \
	X("max_queue_size", KEY_U32, bulkhead.max_queue_size, 0, I32, NULL, NULL)                            \
	X("queue_timeout_ms", KEY_U32, bulkhead.queue_timeout_ms, 0, I32, NULL, NULL)                        \
	X("reject_errno", KEY_ERRNO, bulkhead.reject_errno, 0, 0, NULL, NULL)                                \
	X("scope", KEY_SCOPE, bulkhead.scope, 0, 0, NULL, NULL)                                              \
	X("enabled", KEY_BOOL, bulkhead.enabled, 0, 0, NULL, NULL)

#define FAULT_KEYS(X)                                                                                        \
	X("on", KEY_OPS, fault.ops, 0, 0, NULL, NULL)                                                        \
	X("error", KEY_ERRNO, fault.error, 0, 0, NULL, "error")                                              \
	X("delay_ms", KEY_U32, fault.delay_ms, 0, I32, NULL, "delay_ms")                                     \
	X("jitter_ms", KEY_U32, fault.jitter_ms, 0, I32, NULL, "delay_ms")                                   \
	X("probability", KEY_REAL, fault.probability, 0, 1, NULL, NULL)                                      \
	X("after", KEY_U64, fault.after, 0, UINT64_MAX, NULL, NULL)                                          \
	X("every", KEY_U64, fault.every, 1, UINT64_MAX, NULL, NULL)                                          \
	X("times", KEY_U64, fault.times, 0, UINT64_MAX, NULL, NULL)                                          \
	X("start_ms", KEY_U32, fault.start_ms, 0, I32, NULL, "start_ms")                                     \
	X("duration_ms", KEY_U32, fault.duration_ms, 0, I32, NULL, "duration_ms")                            \
	X("max_bytes", KEY_U32, fault.max_bytes, 1, I32, NULL, "max_bytes")                                  \
	X("eof", KEY_BOOL, fault.eof, 0, 0, NULL, "eof")                                                     \
	X("hang_ms", KEY_HANG, fault.hang_ms, 0, I32, NULL, "hang_ms")                                       \
	X("close_after_bytes", KEY_U64, fault.close_after_bytes, 1, UINT64_MAX, NULL, "close_after_bytes")   \
	X("corrupt", KEY_REAL, fault.corrupt, 0, 1, NULL, "corrupt")

#define RESOLVE_KEYS(X) X("address", KEY_ADDRS, resolve, 0, 0, NULL, NULL)

/* shape (SPEC 10): its parameters live in the same struct as a fault's. */
#define SHAPE_KEYS(X)                                                                                        \
	X("on", KEY_OPS, fault.ops, 0, 0, NULL, NULL)                                                        \
	X("rate_kbps", KEY_U32, fault.rate_kbps, 1, I32, NULL, NULL)                                         \
	X("burst_kb", KEY_U32, fault.burst_kb, 1, I32, NULL, NULL)                                           \
	X("scope", KEY_SHAPE_SCOPE, fault.shape_scope, 0, 0, NULL, NULL)

#define KEY_DEF(name_, type_, field_, min_, max_, note_, shown_if_)                                          \
	{.name = name_,                                                                                      \
	 .type = type_,                                                                                      \
	 .offset = offsetof(struct fl_rule, u.field_),                                                       \
	 .min = min_,                                                                                        \
	 .max = max_,                                                                                        \
	 .note = note_,                                                                                      \
	 .shown_if = shown_if_},
#define KEY_NAME(name_, ...) name_,

static const struct key_def breaker_keys[] = {BREAKER_KEYS(KEY_DEF)};
static const struct key_def bulkhead_keys[] = {BULKHEAD_KEYS(KEY_DEF)};
static const struct key_def fault_keys[] = {FAULT_KEYS(KEY_DEF)};
static const char *const breaker_key_names[] = {BREAKER_KEYS(KEY_NAME) NULL};
static const char *const bulkhead_key_names[] = {BULKHEAD_KEYS(KEY_NAME) NULL};
static const char *const fault_key_names[] = {FAULT_KEYS(KEY_NAME) NULL};
static const struct key_def resolve_keys[] = {RESOLVE_KEYS(KEY_DEF)};
static const char *const resolve_key_names[] = {RESOLVE_KEYS(KEY_NAME) NULL};
static const struct key_def shape_keys[] = {SHAPE_KEYS(KEY_DEF)};
static const char *const shape_key_names[] = {SHAPE_KEYS(KEY_NAME) NULL};
static const struct key_def ratelimit_keys[] = {RATE_LIMIT_KEYS(KEY_DEF)};
static const char *const ratelimit_key_names[] = {RATE_LIMIT_KEYS(KEY_NAME) NULL};

struct kind_table {
	const struct key_def *keys;
	size_t count;
	const char *const *names;
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
static const struct kind_table kind_tables[] = {
    [FL_KIND_BREAKER] = {breaker_keys, ARRAY_LEN(breaker_keys), breaker_key_names},
    [FL_KIND_BULKHEAD] = {bulkhead_keys, ARRAY_LEN(bulkhead_keys), bulkhead_key_names},
    [FL_KIND_FAULT] = {fault_keys, ARRAY_LEN(fault_keys), fault_key_names},
    [FL_KIND_RESOLVE] = {resolve_keys, ARRAY_LEN(resolve_keys), resolve_key_names},
    [FL_KIND_SHAPE] = {shape_keys, ARRAY_LEN(shape_keys), shape_key_names},
    [FL_KIND_RATE_LIMIT] = {ratelimit_keys, ARRAY_LEN(ratelimit_keys), ratelimit_key_names},
};
#define KIND_COUNT ARRAY_LEN(kind_tables)

_Static_assert(ARRAY_LEN(breaker_keys) <= 64, "seen is a 64-bit mask");
_Static_assert(ARRAY_LEN(bulkhead_keys) <= 64, "seen is a 64-bit mask");
_Static_assert(ARRAY_LEN(fault_keys) <= 64, "seen is a 64-bit mask");

/* Names an `on=` item may use, with the ops each stands for. */
static const struct {
	const char *name;
	uint32_t mask;
} op_words[] = {
    {"connect", 1u << FL_OP_CONNECT},
    {"send", 1u << FL_OP_SEND},
    {"recv", 1u << FL_OP_RECV},
    {"write", 1u << FL_OP_WRITE},
    {"read", 1u << FL_OP_READ},
    {"io", FL_OPS_IO},
    {"all", FL_OPS_ALL},
    {"resolve", 1u << FL_OP_RESOLVE},
    {"close", FL_OPS_CLOSE},
};
static const char *const op_word_names[] = {"connect", "send", "recv",	  "write", "read",
					    "io",      "all",  "resolve", "close", NULL};

/* Everything a value parser needs to store a value or explain why not. */
struct value_ctx {
	struct fl_rule *rule;
	const struct key_def *key;
	const char *text;
	int len;
	void *field;
	const struct fl_loc *loc;
	struct fl_diag *d;
};

static const struct kind_table *table_of(enum fl_kind kind)
{
	return (unsigned)kind < KIND_COUNT ? &kind_tables[kind] : NULL;
}

const char *const *fl_kind_keys(enum fl_kind kind)
{
	const struct kind_table *t = table_of(kind);
	return t ? t->names : NULL;
}

static const struct key_def *find_key(const struct kind_table *t, const char *name, size_t len)
{
	for (size_t i = 0; i < t->count; i++)
		if (strlen(t->keys[i].name) == len && memcmp(t->keys[i].name, name, len) == 0)
			return &t->keys[i];
	return NULL;
}

/* " (did you mean 'x'?)" when there is a close candidate, else `otherwise`. */
static const char *did_you_mean(char *buf, size_t size, const char *suggestion, const char *otherwise)
{
	if (suggestion == NULL)
		return otherwise;
	snprintf(buf, size, " (did you mean '%s'?)", suggestion);
	return buf;
}

static int out_of_range(const struct value_ctx *cx)
{
	const struct key_def *k = cx->key;
	return fl_diag_error(cx->d, cx->loc, "value '%.*s' of '%s' is out of range %llu..%llu%s%s%s", cx->len,
			     cx->text, k->name, (unsigned long long)k->min, (unsigned long long)k->max,
			     k->note ? " (" : "", k->note ? k->note : "", k->note ? ")" : "");
}

static int parse_whole(const struct value_ctx *cx, uint64_t *v)
{
	enum fl_num_status st = fl_parse_uint(cx->text, (size_t)cx->len, v);
	if (st == FL_NUM_SYNTAX)
		return fl_diag_error(cx->d, cx->loc, "value '%.*s' of '%s' is not a whole number", cx->len,
				     cx->text, cx->key->name);
	if (st == FL_NUM_RANGE || *v < cx->key->min || *v > cx->key->max)
		return out_of_range(cx);
	return 0;
}

static int parse_u32(const struct value_ctx *cx)
{
	uint64_t v;
	if (parse_whole(cx, &v) < 0)
		return -1;
	*(uint32_t *)cx->field = (uint32_t)v;
	return 0;
}

static int parse_u64(const struct value_ctx *cx)
{
	uint64_t v;
	if (parse_whole(cx, &v) < 0)
		return -1;
	*(uint64_t *)cx->field = v;
	return 0;
}

static int parse_real(const struct value_ctx *cx)
{
	double v;
	enum fl_num_status st = fl_parse_real(cx->text, (size_t)cx->len, &v);
	if (st == FL_NUM_SYNTAX)
		return fl_diag_error(cx->d, cx->loc, "value '%.*s' of '%s' is not a number", cx->len,
				     cx->text, cx->key->name);
	if (st == FL_NUM_RANGE || v < (double)cx->key->min || v > (double)cx->key->max)
		return out_of_range(cx);
	*(double *)cx->field = v;
	return 0;
}

static int parse_errno(const struct value_ctx *cx)
{
	int err = fl_errno_from_name(cx->text, (size_t)cx->len);
	char hint[96];
	int code;
	if (err < 0 && fl_eai_from_name(cx->text, (size_t)cx->len, &code) == 0) {
		/* A resolver error: only a fault's error=, checked against on= at the end. */
		if (cx->key->offset != offsetof(struct fl_rule, u.fault.error))
			return fl_diag_error(cx->d, cx->loc,
					     "'%.*s' is a resolver error: '%s' takes an errno name such as "
					     "ECONNREFUSED",
					     cx->len, cx->text, cx->key->name);
		*(int *)cx->field = code;
		return 0;
	}
	if (err < 0 && cx->len > 4 && memcmp(cx->text, "EAI_", 4) == 0)
		return fl_diag_error(
		    cx->d, cx->loc, "unknown resolver error '%.*s' for '%s'%s", cx->len, cx->text,
		    cx->key->name,
		    did_you_mean(hint, sizeof hint, fl_suggest(cx->text, (size_t)cx->len, fl_eai_names),
				 " (EAI_AGAIN, EAI_NONAME, EAI_FAIL, EAI_NODATA, EAI_MEMORY, "
				 "EAI_SYSTEM)"));
	if (err < 0)
		return fl_diag_error(
		    cx->d, cx->loc, "unknown errno name '%.*s' for '%s'%s", cx->len, cx->text, cx->key->name,
		    did_you_mean(hint, sizeof hint, fl_suggest(cx->text, (size_t)cx->len, fl_errno_names()),
				 " (write a name such as ECONNRESET)"));
	*(int *)cx->field = err;
	return 0;
}

static bool text_is(const struct value_ctx *cx, const char *word)
{
	return strlen(word) == (size_t)cx->len && memcmp(word, cx->text, (size_t)cx->len) == 0;
}

static int parse_scope(const struct value_ctx *cx)
{
	if (text_is(cx, "destination"))
		*(uint8_t *)cx->field = FL_SCOPE_DESTINATION;
	else if (text_is(cx, "rule"))
		*(uint8_t *)cx->field = FL_SCOPE_RULE;
	else
		return fl_diag_error(cx->d, cx->loc, "value '%.*s' of '%s' must be destination or rule",
				     cx->len, cx->text, cx->key->name);
	return 0;
}

static int parse_bool(const struct value_ctx *cx)
{
	if (text_is(cx, "true") || text_is(cx, "1"))
		*(bool *)cx->field = true;
	else if (text_is(cx, "false") || text_is(cx, "0"))
		*(bool *)cx->field = false;
	else
		return fl_diag_error(cx->d, cx->loc, "value '%.*s' of '%s' must be true or false", cx->len,
				     cx->text, cx->key->name);
	return 0;
}

static int op_item_mask(const struct value_ctx *cx, const char *item, size_t n, uint32_t *mask)
{
	char hint[96];
	for (size_t i = 0; i < sizeof op_words / sizeof op_words[0]; i++) {
		if (strlen(op_words[i].name) == n && memcmp(op_words[i].name, item, n) == 0) {
			*mask = op_words[i].mask;
			return 0;
		}
	}
	return fl_diag_error(
	    cx->d, cx->loc, "unknown op '%.*s' in '%s'%s", (int)n, item, cx->key->name,
	    did_you_mean(hint, sizeof hint, fl_suggest(item, n, op_word_names),
			 " (ops: connect, send, recv, write, read, io, all, resolve, close)"));
}

/* "connect,send": no empty items, no op named twice (io and send overlap). */
static int parse_ops(const struct value_ctx *cx)
{
	const char *p = cx->text, *end = cx->text + cx->len;
	uint32_t ops = 0;
	for (;;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *item_end = comma ? comma : end;
		size_t n = (size_t)(item_end - p);
		uint32_t mask = 0;
		if (n == 0)
			return fl_diag_error(cx->d, cx->loc, "empty item in '%s' list '%.*s'", cx->key->name,
					     cx->len, cx->text);
		if (op_item_mask(cx, p, n, &mask) < 0)
			return -1;
		if (ops & mask)
			return fl_diag_error(cx->d, cx->loc,
					     "'%.*s' repeats an op already in '%s' list '%.*s'", (int)n, p,
					     cx->key->name, cx->len, cx->text);
		ops |= mask;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	*(uint32_t *)cx->field = ops;
	return 0;
}

/* "127.0.0.1,::1": at most FL_RESOLVE_MAX, no brackets, no ports. */
static int parse_addrs(const struct value_ctx *cx)
{
	struct fl_resolve_params *out = cx->field;
	const char *p = cx->text, *end = cx->text + cx->len;
	memset(out, 0, sizeof *out);
	for (;;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t n = (size_t)((comma ? comma : end) - p);
		char text[64];
		if (out->count == FL_RESOLVE_MAX)
			return fl_diag_error(cx->d, cx->loc, "'%s' takes at most %d addresses", cx->key->name,
					     FL_RESOLVE_MAX);
		if (n == 0 || n >= sizeof text)
			return fl_diag_error(cx->d, cx->loc,
					     "bad address '%.*s' in '%s' (write 127.0.0.1 or ::1)", (int)n, p,
					     cx->key->name);
		memcpy(text, p, n);
		text[n] = '\0';
		uint8_t *a = out->addrs[out->count].addr;
		if (inet_pton(AF_INET, text, a) == 1)
			out->addrs[out->count].family = FL_AF_INET4;
		else if (inet_pton(AF_INET6, text, a) == 1)
			out->addrs[out->count].family = FL_AF_INET6;
		else
			return fl_diag_error(cx->d, cx->loc,
					     "bad address '%.*s' in '%s' (write 127.0.0.1 or ::1)", (int)n, p,
					     cx->key->name);
		out->count++;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return 0;
}

static int parse_shape_scope(const struct value_ctx *cx)
{
	if (text_is(cx, "connection"))
		*(uint8_t *)cx->field = FL_SHAPE_CONNECTION;
	else if (text_is(cx, "destination"))
		*(uint8_t *)cx->field = FL_SHAPE_DESTINATION;
	else if (text_is(cx, "rule"))
		*(uint8_t *)cx->field = FL_SHAPE_RULE;
	else
		return fl_diag_error(cx->d, cx->loc,
				     "value '%.*s' of '%s' must be connection, destination or rule", cx->len,
				     cx->text, cx->key->name);
	return 0;
}

static int parse_mode(const struct value_ctx *cx)
{
	if (text_is(cx, "enforce"))
		*(uint8_t *)cx->field = FL_MODE_ENFORCE;
	else if (text_is(cx, "observe"))
		*(uint8_t *)cx->field = FL_MODE_OBSERVE;
	else
		return fl_diag_error(cx->d, cx->loc, "value '%.*s' of '%s' must be enforce or observe",
				     cx->len, cx->text, cx->key->name);
	return 0;
}

static int parse_action(const struct value_ctx *cx)
{
	if (text_is(cx, "reject"))
		*(uint8_t *)cx->field = FL_RATE_REJECT;
	else if (text_is(cx, "delay"))
		*(uint8_t *)cx->field = FL_RATE_DELAY;
	else
		return fl_diag_error(cx->d, cx->loc, "value '%.*s' of '%s' must be reject or delay", cx->len,
				     cx->text, cx->key->name);
	return 0;
}

/* One IPv4 or IPv6 address with one port, or one host name with one port
 * (SPEC 11: NAME:PORT; the shim resolves it, shim/resolve.c). */
static int parse_addr(const struct value_ctx *cx)
{
	struct fl_target t;
	const char *why = NULL;
	bool name = fl_target_parse(cx->text, (size_t)cx->len, &t, &why) == 0 && t.family == FL_AF_NAME;
	if (name && (t.name_wild || t.port_lo != t.port_hi || t.port_lo == 0))
		return fl_diag_error(cx->d, cx->loc,
				     "value '%.*s' of '%s' must be one host name and one port, such as "
				     "backup.example.com:8081 (no wildcard, no port range)",
				     cx->len, cx->text, cx->key->name);
	if (!name &&
	    (why != NULL || (t.family != FL_AF_INET4 && t.family != FL_AF_INET6) ||
	     t.prefix != (t.family == FL_AF_INET4 ? 32 : 128) || t.port_lo != t.port_hi || t.port_lo == 0))
		return fl_diag_error(cx->d, cx->loc,
				     "value '%.*s' of '%s' must be one address and port, such as "
				     "127.0.0.1:8081 or [::1]:8081, or NAME:PORT%s%s",
				     cx->len, cx->text, cx->key->name, why ? ": " : "", why ? why : "");
	struct fl_fallback *f = cx->field;
	memset(f, 0, sizeof *f);
	f->family = t.family;
	f->port = t.port_lo;
	if (name) {
		memcpy(cx->rule->fallback_name, t.name, t.name_len);
		cx->rule->fallback_name[t.name_len] = '\0';
	} else {
		memcpy(f->addr, t.addr, sizeof f->addr);
	}
	return 0;
}

static int (*const parsers[])(const struct value_ctx *) = {
    [KEY_U32] = parse_u32,     [KEY_U64] = parse_u64,
    [KEY_REAL] = parse_real,   [KEY_ERRNO] = parse_errno,
    [KEY_SCOPE] = parse_scope, [KEY_BOOL] = parse_bool,
    [KEY_OPS] = parse_ops,     [KEY_ADDRS] = parse_addrs,
    [KEY_HANG] = parse_u32,    [KEY_SHAPE_SCOPE] = parse_shape_scope,
    [KEY_MODE] = parse_mode,   [KEY_ACTION] = parse_action,
    [KEY_ADDR] = parse_addr,
};

/* A key this kind does not have: maybe another kind's, maybe a typo. */
static int unknown_key(const struct fl_rule *r, const char *key, size_t len, const struct fl_loc *loc,
		       struct fl_diag *d)
{
	const char *kind = fl_kind_name((enum fl_kind)r->kind);
	for (size_t k = 0; k < KIND_COUNT; k++)
		if (k != r->kind && find_key(&kind_tables[k], key, len) != NULL)
			return fl_diag_error(d, loc, "'%.*s' is a key of %s, not %s", (int)len, key,
					     fl_kind_name((enum fl_kind)k), kind);
	const char *const *names = kind_tables[r->kind].names;
	const char *suggestion = fl_suggest(key, len, names);
	if (suggestion != NULL)
		return fl_diag_error(d, loc, "unknown key '%.*s' in %s (did you mean '%s'?)", (int)len, key,
				     kind, suggestion);
	char list[256];
	struct fl_textbuf b;
	fl_tb_init(&b, list, sizeof list);
	for (size_t i = 0; names[i] != NULL; i++) {
		fl_tb_puts(&b, i ? ", " : "");
		fl_tb_puts(&b, names[i]);
	}
	return fl_diag_error(d, loc, "unknown key '%.*s' in %s (keys: %s)", (int)len, key, kind, list);
}

int fl_rule_set_key(struct fl_rule *r, const char *key, size_t key_len, const char *value, size_t value_len,
		    uint64_t *seen, const struct fl_loc *loc, struct fl_diag *d)
{
	const struct kind_table *t = table_of((enum fl_kind)r->kind);
	if (t == NULL)
		return fl_diag_error(d, loc, "rule has no valid kind");
	const struct key_def *k = find_key(t, key, key_len);
	if (k == NULL)
		return unknown_key(r, key, key_len, loc, d);
	uint64_t bit = UINT64_C(1) << (k - t->keys);
	if (*seen & bit)
		return fl_diag_error(d, loc, "duplicate key '%s' in %s", k->name,
				     fl_kind_name((enum fl_kind)r->kind));
	if (value_len == 0)
		return fl_diag_error(d, loc, "empty value for '%s'", k->name);
	if (value_len > INT32_MAX)
		return fl_diag_error(d, loc, "value of '%s' is too long", k->name);
	struct value_ctx cx = {
	    .rule = r,
	    .key = k,
	    .text = value,
	    .len = (int)value_len,
	    .field = (char *)r + k->offset,
	    .loc = loc,
	    .d = d,
	};
	if (parsers[k->type](&cx) < 0)
		return -1;
	*seen |= bit;
	return 0;
}

/* ---- writing keys back ---- */

static void put_ops(struct fl_textbuf *b, uint32_t ops)
{
	if (ops == FL_OPS_ALL || ops == FL_OPS_IO) {
		fl_tb_puts(b, ops == FL_OPS_ALL ? "all" : "io");
		return;
	}
	bool first = true;
	for (unsigned op = 0; op < FL_OP_COUNT; op++) {
		if (!(ops & (1u << op)))
			continue;
		fl_tb_puts(b, first ? "" : ",");
		fl_tb_puts(b, fl_op_names[op]);
		first = false;
	}
	if (ops & FL_OPS_CLOSE)
		fl_tb_puts(b, first ? "close" : ",close");
}

static void put_addrs(struct fl_textbuf *b, const struct fl_resolve_params *r)
{
	for (uint32_t i = 0; i < r->count && i < FL_RESOLVE_MAX; i++) {
		char text[INET6_ADDRSTRLEN];
		int af = r->addrs[i].family == FL_AF_INET4 ? AF_INET : AF_INET6;
		fl_tb_puts(b, i ? "," : "");
		fl_tb_puts(b, inet_ntop(af, r->addrs[i].addr, text, sizeof text) ? text : "?");
	}
}

static void put_errno(struct fl_textbuf *b, int err)
{
	const char *name = err < 0 ? fl_eai_name(err) : fl_errno_name(err);
	if (name != NULL)
		fl_tb_puts(b, name);
	else
		fl_tb_putu(b, (uint64_t)(unsigned)err);
}

static void put_addr(struct fl_textbuf *b, const struct fl_fallback *f)
{
	if (f->family == FL_AF_NAME) { /* the name sits in the rule, outside the union */
		const struct fl_rule *r =
		    (const struct fl_rule *)((const char *)f - offsetof(struct fl_rule, u.breaker.fallback));
		fl_tb_puts(b, r->fallback_name);
		fl_tb_putc(b, ':');
		fl_tb_putu(b, f->port);
		return;
	}
	struct fl_dest d;
	char text[FL_DEST_STR_MAX];
	memset(&d, 0, sizeof d);
	d.family = f->family;
	d.port = f->port;
	memcpy(d.addr, f->addr, sizeof d.addr);
	fl_dest_format(&d, text, sizeof text);
	fl_tb_puts(b, text);
}

static void put_value(struct fl_textbuf *b, const struct key_def *k, const void *field)
{
	char real[32];
	switch (k->type) {
	case KEY_U32:
		fl_tb_putu(b, *(const uint32_t *)field);
		break;
	case KEY_U64:
		fl_tb_putu(b, *(const uint64_t *)field);
		break;
	case KEY_REAL:
		fl_format_real(*(const double *)field, real, sizeof real);
		fl_tb_puts(b, real);
		break;
	case KEY_ERRNO:
		put_errno(b, *(const int *)field);
		break;
	case KEY_SCOPE:
		fl_tb_puts(b, *(const uint8_t *)field == FL_SCOPE_RULE ? "rule" : "destination");
		break;
	case KEY_BOOL:
		fl_tb_puts(b, *(const bool *)field ? "true" : "false");
		break;
	case KEY_OPS:
		put_ops(b, *(const uint32_t *)field);
		break;
	case KEY_ADDRS:
		put_addrs(b, field);
		break;
	case KEY_HANG:
		fl_tb_putu(b, *(const uint32_t *)field);
		break;
	case KEY_SHAPE_SCOPE: {
		static const char *const words[] = {"connection", "destination", "rule"};
		uint8_t v = *(const uint8_t *)field;
		fl_tb_puts(b, v < 3 ? words[v] : "?");
		break;
	}
	case KEY_MODE:
		fl_tb_puts(b, *(const uint8_t *)field == FL_MODE_OBSERVE ? "observe" : "enforce");
		break;
	case KEY_ACTION:
		fl_tb_puts(b, *(const uint8_t *)field == FL_RATE_DELAY ? "delay" : "reject");
		break;
	case KEY_ADDR:
		put_addr(b, field);
		break;
	}
}

/* Only integer and errno keys gate others (error=, delay_ms=). */
static bool key_is_set(const struct fl_rule *r, const struct kind_table *t, const char *name)
{
	const struct key_def *k = find_key(t, name, strlen(name));
	const char *field = (const char *)r + k->offset;
	switch (k->type) {
	case KEY_U32:
		return *(const uint32_t *)field != 0;
	case KEY_ERRNO:
		return *(const int *)field != 0;
	case KEY_U64:
		return *(const uint64_t *)field != 0;
	case KEY_REAL:
		return *(const double *)field != 0.0;
	case KEY_BOOL:
		return *(const bool *)field;
	case KEY_HANG:
		return *(const uint32_t *)field != FL_HANG_UNSET;
	case KEY_ADDR:
		return ((const struct fl_fallback *)field)->family != 0;
	case KEY_MODE:
		return *(const uint8_t *)field != 0;
	default:
		return true;
	}
}

static size_t type_size(int type)
{
	switch (type) {
	case KEY_U64:
	case KEY_REAL:
		return 8;
	case KEY_SCOPE:
	case KEY_BOOL:
	case KEY_SHAPE_SCOPE:
		return 1;
	case KEY_ADDRS:
		return sizeof(struct fl_resolve_params);
	case KEY_MODE:
	case KEY_ACTION:
		return 1;
	case KEY_ADDR:
		return sizeof(struct fl_fallback);
	default:
		return 4; /* KEY_U32, KEY_ERRNO (int), KEY_OPS */
	}
}

/* brief: only the keys whose value differs from the kind's default. */
static size_t format_rule(const struct fl_rule *r, char *buf, size_t size, bool brief)
{
	struct fl_textbuf b;
	char target[FL_NAME_MAX + 24]; /* the longest: a host name and a port range */
	fl_tb_init(&b, buf, size);
	fl_target_format(&r->target, target, sizeof target);
	fl_tb_puts(&b, target);
	fl_tb_putc(&b, ' ');
	const struct kind_table *t = table_of((enum fl_kind)r->kind);
	if (t == NULL) {
		fl_tb_puts(&b, "?");
		return b.len;
	}
	struct fl_rule def;
	fl_rule_defaults(&def, (enum fl_kind)r->kind);
	fl_tb_puts(&b, fl_kind_name((enum fl_kind)r->kind));
	for (size_t i = 0; i < t->count; i++) {
		const struct key_def *k = &t->keys[i];
		if (k->shown_if != NULL && !key_is_set(r, t, k->shown_if))
			continue;
		const char *field = (const char *)r + k->offset;
		if (brief && memcmp(field, (const char *)&def + k->offset, type_size(k->type)) == 0)
			continue;
		fl_tb_putc(&b, ' ');
		fl_tb_puts(&b, k->name);
		fl_tb_putc(&b, '=');
		put_value(&b, k, field);
	}
	return b.len;
}

size_t fl_rule_format(const struct fl_rule *r, char *buf, size_t size)
{
	return format_rule(r, buf, size, false);
}

size_t fl_rule_format_brief(const struct fl_rule *r, char *buf, size_t size)
{
	return format_rule(r, buf, size, true);
}
