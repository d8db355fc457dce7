/*
 * rules.h - the compiled rule set.
 *
 * Inline rules (FAULTLINE_RULES) and libconfig files both compile to this one
 * model, statement by statement, through the same key table: a libconfig
 * value is turned into the text an inline rule would hold and validated by
 * the same code, so the two sources cannot drift apart. After start-up the
 * rule set is immutable; per-process counters live beside it (see fault.h).
 */
#ifndef FL_RULES_H
#define FL_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "target.h"

enum fl_kind {
	FL_KIND_BREAKER = 0,
	FL_KIND_BULKHEAD = 1,
	FL_KIND_FAULT = 2,
	FL_KIND_RESOLVE = 3,	/* a name resolves to the given addresses (SPEC 9) */
	FL_KIND_SHAPE = 4,	/* bandwidth (SPEC 10): its parameters are u.fault's, matched like a fault */
	FL_KIND_RATE_LIMIT = 5, /* SPEC 11 (lib/ratelimit.h) */
};

/* Operations a fault can apply to; bit i of an ops mask is op i. */
enum fl_op {
	FL_OP_CONNECT = 0,
	FL_OP_SEND = 1,	   /* send, sendto, sendmsg, sendmmsg */
	FL_OP_RECV = 2,	   /* recv, recvfrom, recvmsg, recvmmsg */
	FL_OP_WRITE = 3,   /* write, writev */
	FL_OP_READ = 4,	   /* read, readv */
	FL_OP_RESOLVE = 5, /* getaddrinfo, gethostbyname*: not part of io or all */
	FL_OP_COUNT = 6,
};
#define FL_OPS_IO  ((1u << FL_OP_SEND) | (1u << FL_OP_RECV) | (1u << FL_OP_WRITE) | (1u << FL_OP_READ))
#define FL_OPS_ALL (FL_OPS_IO | (1u << FL_OP_CONNECT))

extern const char *const fl_op_names[FL_OP_COUNT]; /* "connect", "send", ... */

/* `on=close` (SPEC 10: a slow close): a mask bit outside the per-op
 * counters (no ops[] slot, not part of io or all). */
#define FL_OP_CLOSE  7
#define FL_OPS_CLOSE (1u << FL_OP_CLOSE)

/* Scope of a shape statement's budget (SPEC 10). */
enum fl_shape_scope {
	FL_SHAPE_CONNECTION = 0,
	FL_SHAPE_DESTINATION = 1,
	FL_SHAPE_RULE = 2,
};

enum fl_scope {
	FL_SCOPE_DESTINATION = 0,
	FL_SCOPE_RULE = 1,
};

enum fl_breaker_mode {
	FL_MODE_ENFORCE = 0,
	FL_MODE_OBSERVE = 1, /* counts and transitions, never rejects */
};

/* Where a breaker's rejected connects go instead: one address (family
 * FL_AF_INET4 / FL_AF_INET6), or FL_AF_NAME with the name in the rule's
 * fallback_name (the shim resolves it at start-up, shim/resolve.c, and
 * puts the address here; the segment never holds FL_AF_NAME). */
struct fl_fallback {
	uint8_t family; /* 0 = none */
	uint16_t port;
	uint8_t addr[16];
};

struct fl_breaker_params {
	uint32_t failure_threshold;	 /* 5 */
	uint32_t success_threshold;	 /* 2 */
	uint32_t timeout_ms;		 /* 60000 */
	uint32_t half_open_max_requests; /* 1 */
	double failure_rate_threshold;	 /* 50.0 percent, 0 disables */
	uint32_t min_requests_for_rate;	 /* 20 */
	uint32_t rolling_window_ms;	 /* 10000 */
	int reject_errno;		 /* ECONNREFUSED */
	uint8_t scope;			 /* enum fl_scope */
	bool enabled;			 /* true */
	/* SPEC 11 (lib/breaker_x.c) */
	uint32_t slow_call_duration_ms;	 /* 0 = no call is slow */
	double slow_call_rate_threshold; /* 100.0 percent */
	uint8_t mode;			 /* enum fl_breaker_mode */
	uint32_t timeout_max_ms;	 /* 0 = timeout_ms (no growth) */
	double timeout_multiplier;	 /* 2.0 */
	struct fl_fallback fallback;	 /* family 0 = none */
};

struct fl_bulkhead_params {
	uint32_t max_concurrent_requests; /* 100 */
	uint32_t max_queue_size;	  /* 10, 0 = no queue */
	uint32_t queue_timeout_ms;	  /* 5000 */
	int reject_errno;		  /* ECONNREFUSED */
	uint8_t scope;			  /* enum fl_scope */
	bool enabled;			  /* true */
};

struct fl_fault_params {
	uint32_t ops;	    /* mask of 1u << enum fl_op; default FL_OPS_ALL */
	int error;	    /* errno to inject, 0 = none */
	uint32_t delay_ms;  /* 0 = none */
	uint32_t jitter_ms; /* delay is uniform in [delay-jitter, delay+jitter]; jitter <= delay */
	double probability; /* 1.0 */
	uint64_t threshold; /* derived by fl_rule_finish: fl_probability_threshold(probability) */
	uint64_t after;	    /* 0 */
	uint64_t every;	    /* 1 */
	uint64_t times;	    /* 0 = unlimited */
	/* Timed faults (SPEC 7): inactive until start_ms after the layer was
	 * applied (or the process started, for its own rules), then active for
	 * duration_ms (0 = for ever). timed: derived by fl_rule_finish, so the
	 * hot path reads the clock only for a statement that needs it. */
	uint32_t start_ms;
	uint32_t duration_ms;
	uint8_t timed;
	/* Connection faults (SPEC 10; 0 = not set) and shape keys. */
	uint32_t max_bytes;	    /* the call moves at most this many bytes */
	bool eof;		    /* recv/read returns 0 */
	bool hang_set;		    /* hang_ms given (0 means: until the socket's timeout) */
	uint8_t shape_scope;	    /* enum fl_shape_scope */
	uint32_t hang_ms;	    /* blackhole this long */
	uint64_t close_after_bytes; /* reset once this many bytes moved in the call's direction */
	double corrupt;		    /* probability of flipping each received byte */
	uint64_t corrupt_threshold; /* derived: fl_probability_threshold(corrupt) */
	bool connfault;		    /* derived: any of the connection-fault keys is set */
	uint32_t rate_kbps;	    /* shape: kilobytes per second */
	uint32_t burst_kb;	    /* shape: 64 */
};

#define FL_RESOLVE_MAX 8 /* addresses one resolve statement can give */

/* A resolve override: the name resolves to these, in this order. A fault's
 * `error` on op resolve holds a negative getaddrinfo code (EAI_AGAIN). */
struct fl_resolve_params {
	uint32_t count;
	struct {
		uint8_t family; /* FL_AF_INET4 or FL_AF_INET6 */
		uint8_t addr[16];
	} addrs[FL_RESOLVE_MAX];
};

enum fl_rate_action {
	FL_RATE_REJECT = 0,
	FL_RATE_DELAY = 1,
};

struct fl_ratelimit_params {
	uint32_t rate;	       /* connections per second, required */
	uint32_t burst;	       /* 0 until fl_rule_finish makes it = rate */
	uint8_t action;	       /* enum fl_rate_action, reject */
	uint32_t max_delay_ms; /* 1000 */
	int reject_errno;      /* ECONNREFUSED */
	uint8_t scope;	       /* enum fl_scope */
};

struct fl_rule {
	struct fl_target target;
	uint8_t kind; /* enum fl_kind */
	union {
		struct fl_breaker_params breaker;
		struct fl_bulkhead_params bulkhead;
		struct fl_fault_params fault;
		struct fl_resolve_params resolve;
		struct fl_ratelimit_params ratelimit;
	} u;
	struct fl_loc loc; /* where the statement starts (loc.source is not owned) */
	/* breaker fallback=NAME:PORT (u.breaker.fallback.family FL_AF_NAME):
	 * the name, normalised; kept out of the union, whose size is fixed by
	 * the layer statements of the segment. */
	char fallback_name[FL_NAME_MAX + 1];
};

struct fl_ruleset {
	struct fl_rule *rules; /* in match order: inline first, then file */
	size_t count;
	size_t cap;
	bool has_seed; /* `seed = N;` in a config file */
	uint64_t seed;
};

void fl_ruleset_init(struct fl_ruleset *rs);
void fl_ruleset_free(struct fl_ruleset *rs);

/* Appends a copy of *r; returns -1 (with a message) when out of memory. */
int fl_ruleset_add(struct fl_ruleset *rs, const struct fl_rule *r, struct fl_diag *d);

/* A rule of the kind with every key at its default. */
void fl_rule_defaults(struct fl_rule *r, enum fl_kind kind);

/* Every word that names a kind in a rule, NULL-terminated (for "did you mean"). */
extern const char *const fl_kind_words[];
/* One of fl_kind_words ("circuit_breaker" / "breaker", "bulkhead", "fault") -> kind; -1 if unknown. */
int fl_kind_from_name(const char *name, size_t len);
const char *fl_kind_name(enum fl_kind kind); /* canonical: "breaker", "bulkhead", "fault" */

/*
 * Sets one key of a rule from its text form ("3", "ECONNRESET", "connect,send",
 * "0.5", "true"). `loc` points at the key; errors read
 *   SOURCE:LINE:COL: unknown key 'failur_threshold' in breaker (did you mean 'failure_threshold'?)
 *   SOURCE:LINE:COL: value '-1' of 'timeout_ms' is out of range 0..2147483647
 * `seen` is a bitmask of keys already set in this statement (duplicate keys
 * are errors); pass the same variable for every key of one statement.
 */
int fl_rule_set_key(struct fl_rule *r, const char *key, size_t key_len, const char *value, size_t value_len,
		    uint64_t *seen, const struct fl_loc *loc, struct fl_diag *d);

/*
 * Checks a whole statement once all keys are set (a fault needs error= or
 * delay_ms=, jitter_ms <= delay_ms, ...). `loc` is the statement's start.
 * Warnings (an errno the op can never return, which depends on on= and
 * error= together) go to d->warnings.
 */
int fl_rule_finish(struct fl_rule *r, const struct fl_loc *loc, struct fl_diag *d);

/* hang_ms when not given (hang_ms=0 means: until the socket's timeout). */
#define FL_HANG_UNSET UINT32_MAX

/* Connection-fault keys of a fault statement (lib/connfault_rules.c):
 * whether any is set, and the whole-statement checks (keys on ops that
 * cannot take them; `on` narrowed to those ops when not given). */
bool fl_connfault_any(const struct fl_fault_params *p);
int fl_connfault_finish(struct fl_fault_params *p, const struct fl_loc *loc, struct fl_diag *d);
int fl_shape_finish(struct fl_fault_params *p, const struct fl_loc *loc, struct fl_diag *d);
/* The checks of SPEC 11's keys (lib/rule_keys_x.c): timeout_max_ms below
 * timeout_ms, a fallback equal to the statement's one destination; a
 * rate_limit without rate=, its burst defaulting to rate. */
int fl_breaker_x_finish(struct fl_rule *r, const struct fl_loc *loc, struct fl_diag *d);
int fl_ratelimit_finish(struct fl_rule *r, const struct fl_loc *loc, struct fl_diag *d);

/* One statement in canonical inline form, every key written out. */
size_t fl_rule_format(const struct fl_rule *r, char *buf, size_t size);

/* The same with only the keys that differ from their defaults (for the
 * statement text kept in the shared segment, which has little room). */
size_t fl_rule_format_brief(const struct fl_rule *r, char *buf, size_t size);

/* Every statement, one per line. Returns bytes needed (like snprintf). */
size_t fl_ruleset_format(const struct fl_ruleset *rs, char *buf, size_t size);

/* The key names of a kind, NULL-terminated (for help text and suggestions). */
const char *const *fl_kind_keys(enum fl_kind kind);

/*
 * The closest candidate to `word` by edit distance, or NULL when none is
 * close enough to be a plausible misspelling.
 */
const char *fl_suggest(const char *word, size_t len, const char *const *candidates);

/* A short text naming a rule configuration (inline text + config path). */
void fl_rules_fingerprint(const char *inline_rules, const char *config, char *out, size_t size);

/*
 * Parsers. Both append to `rs`; on error they return -1 with d->error set and
 * leave `rs` holding only the statements before the bad one.
 */
int fl_parse_inline(const char *source, const char *text, struct fl_ruleset *rs, struct fl_diag *d);
int fl_parse_config_file(const char *path, struct fl_ruleset *rs, struct fl_diag *d);
int fl_parse_config_string(const char *source, const char *text, struct fl_ruleset *rs, struct fl_diag *d);

#endif
