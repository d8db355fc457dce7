/*
 * entry_set.c - see entry_set.h. Moved from tools/cmd_control.c so that
 * `faultline serve` can share it; the rate_limit part came with it.
 */
#include "entry_set.h"

#include <stdlib.h>
#include <string.h>

#include "breaker.h"
#include "bulkhead.h"
#include "entry.h"
#include "ratelimit.h"

#define PARTS (FL_KIND_RATE_LIMIT + 1) /* indexed by enum fl_kind; FL_KIND_FAULT unused */

static const enum fl_kind settable[] = {FL_KIND_BREAKER, FL_KIND_BULKHEAD, FL_KIND_RATE_LIMIT};
#define NSETTABLE (sizeof settable / sizeof settable[0])

/* The new parameters, built from the first entry that has each part. */
struct settings {
	struct fl_rule rule[PARTS];
	bool has[PARTS], touched[PARTS]; /* the destination has the part / a key changes it */
	uint64_t seen[PARTS];		 /* keys already given, per part (duplicates are errors) */
	uint8_t scope[PARTS];		 /* as it is now: scope cannot change live */
	struct fl_diag *d;
};

static bool kind_has_key(enum fl_kind kind, const char *key, size_t len)
{
	for (const char *const *k = fl_kind_keys(kind); *k; k++)
		if (strlen(*k) == len && strncmp(*k, key, len) == 0)
			return true;
	return false;
}

static uint8_t scope_of(const struct fl_rule *r)
{
	switch (r->kind) {
	case FL_KIND_BREAKER:
		return r->u.breaker.scope;
	case FL_KIND_BULKHEAD:
		return r->u.bulkhead.scope;
	default:
		return r->u.ratelimit.scope;
	}
}

/* A key no part has: let the part with a close name explain it. */
static enum fl_kind explaining_kind(const struct settings *s, const char *key, size_t len)
{
	for (size_t i = 0; i < NSETTABLE; i++)
		if (s->has[settable[i]] && fl_suggest(key, len, fl_kind_keys(settable[i])))
			return settable[i];
	for (size_t i = 0; i < NSETTABLE; i++)
		if (s->has[settable[i]])
			return settable[i];
	return FL_KIND_BREAKER;
}

static enum fl_set_result set_one(struct settings *s, enum fl_kind kind, const char *key, size_t key_len,
				  const char *value, const struct fl_loc *loc)
{
	struct fl_rule *r = &s->rule[kind];
	if (fl_rule_set_key(r, key, key_len, value, strlen(value), &s->seen[kind], loc, s->d) < 0)
		return FL_SET_BAD_INPUT;
	if (kind == FL_KIND_BREAKER && r->u.breaker.fallback.family == FL_AF_NAME) {
		fl_diag_error(s->d, loc,
			      "fallback=%s:%u: set takes an address (ADDR:PORT); a host name is "
			      "resolved by each program at its start, so give it in the rules",
			      r->fallback_name, (unsigned)r->u.breaker.fallback.port);
		return FL_SET_BAD_INPUT;
	}
	if (scope_of(r) != s->scope[kind]) {
		fl_diag_error(s->d, loc,
			      "'scope' of a %s cannot be changed live (it decides which entry holds "
			      "the state): change the rule and restart the program",
			      fl_kind_name(kind));
		return FL_SET_BAD_INPUT;
	}
	s->touched[kind] = true;
	return FL_SET_OK;
}

/* One KEY=VALUE (or PART.KEY=VALUE): into every part it applies to. */
static enum fl_set_result parse_pair(struct settings *s, const char *dest, const char *word,
				     const struct fl_loc *loc)
{
	const char *eq = strchr(word, '=');
	if (!eq || eq == word) {
		fl_diag_error(s->d, loc, "'%s' is not KEY=VALUE", word);
		return FL_SET_BAD_INPUT;
	}
	const char *key = word, *dot = memchr(word, '.', (size_t)(eq - word));
	int only = -1;
	if (dot) {
		only = fl_kind_from_name(word, (size_t)(dot - word));
		if (only != FL_KIND_BREAKER && only != FL_KIND_BULKHEAD && only != FL_KIND_RATE_LIMIT) {
			fl_diag_error(
			    s->d, loc,
			    "'%.*s' is not a part: write breaker.KEY, bulkhead.KEY or rate_limit.KEY",
			    (int)(dot - word), word);
			return FL_SET_BAD_INPUT;
		}
		key = dot + 1;
	}
	size_t len = (size_t)(eq - key);
	bool applies[PARTS] = {false}, any = false;
	for (size_t i = 0; i < NSETTABLE; i++) {
		enum fl_kind k = settable[i];
		applies[k] = (only < 0 || only == (int)k) && kind_has_key(k, key, len);
		any |= applies[k];
	}
	if (!any) {
		enum fl_kind k = only >= 0 ? (enum fl_kind)only : explaining_kind(s, key, len);
		enum fl_set_result r = set_one(s, k, key, len, eq + 1, loc); /* fails: the key is unknown */
		return r ? r : FL_SET_BAD_INPUT;
	}
	bool done = false;
	enum fl_kind wanted = FL_KIND_BREAKER;
	for (size_t i = NSETTABLE; i-- > 0;) {
		enum fl_kind k = settable[i];
		if (!applies[k])
			continue;
		wanted = k;
		if (!s->has[k])
			continue;
		if (set_one(s, k, key, len, eq + 1, loc) != FL_SET_OK)
			return FL_SET_BAD_INPUT;
		done = true;
	}
	if (!done) {
		fl_diag_error(s->d, NULL, "destination '%s' has no %s ('%.*s' is a %s key)", dest,
			      fl_kind_name(wanted), (int)len, key, fl_kind_name(wanted));
		return FL_SET_NO_PART;
	}
	return FL_SET_OK;
}

static void load_settings(struct settings *s, struct fl_seg_entry *const *entries, size_t n)
{
	for (size_t i = n; i-- > 0;) {
		const struct fl_seg_entry *e = entries[i];
		if (fl_entry_has_breaker(e)) {
			struct fl_rule *r = &s->rule[FL_KIND_BREAKER];
			fl_rule_defaults(r, FL_KIND_BREAKER);
			fl_breaker_params_get(&r->u.breaker, &e->breaker.p);
			fl_breaker_x_params_get(&r->u.breaker, &e->breaker_x);
			s->scope[FL_KIND_BREAKER] = r->u.breaker.scope;
			s->has[FL_KIND_BREAKER] = true;
		}
		if (fl_entry_has_bulkhead(e)) {
			struct fl_rule *r = &s->rule[FL_KIND_BULKHEAD];
			fl_rule_defaults(r, FL_KIND_BULKHEAD);
			fl_bulkhead_params_get(&r->u.bulkhead, &e->bulkhead.p);
			s->scope[FL_KIND_BULKHEAD] = r->u.bulkhead.scope;
			s->has[FL_KIND_BULKHEAD] = true;
		}
		if (fl_entry_has_ratelimit(e)) {
			struct fl_rule *r = &s->rule[FL_KIND_RATE_LIMIT];
			fl_rule_defaults(r, FL_KIND_RATE_LIMIT);
			fl_ratelimit_params_get(&r->u.ratelimit, &e->ratelimit.p);
			s->scope[FL_KIND_RATE_LIMIT] = r->u.ratelimit.scope;
			s->has[FL_KIND_RATE_LIMIT] = true;
		}
	}
}

static void write_settings(const struct settings *s, struct fl_seg_entry *const *entries, size_t n,
			   uint64_t now_ms)
{
	for (size_t i = 0; i < n; i++) {
		if (s->touched[FL_KIND_BREAKER])
			fl_entry_set_breaker(entries[i], &s->rule[FL_KIND_BREAKER].u.breaker, now_ms);
		if (s->touched[FL_KIND_BULKHEAD])
			fl_entry_set_bulkhead(entries[i], &s->rule[FL_KIND_BULKHEAD].u.bulkhead);
		if (s->touched[FL_KIND_RATE_LIMIT])
			fl_entry_set_ratelimit(entries[i], &s->rule[FL_KIND_RATE_LIMIT].u.ratelimit);
	}
}

enum fl_set_result fl_entry_set_pairs(struct fl_seg_entry *const *entries, size_t n, const char *dest,
				      const char *const *pairs, const unsigned *cols, size_t npairs,
				      unsigned start_col, uint64_t now_ms, struct fl_diag *d)
{
	struct settings *s = calloc(1, sizeof(*s));
	if (!s) {
		fl_diag_error(d, NULL, "out of memory");
		return FL_SET_NO_PART;
	}
	s->d = d;
	load_settings(s, entries, n);
	enum fl_set_result rc = FL_SET_OK;
	if (!s->has[FL_KIND_BREAKER] && !s->has[FL_KIND_BULKHEAD] && !s->has[FL_KIND_RATE_LIMIT]) {
		fl_diag_error(d, NULL, "destination '%s' has no breaker, bulkhead or rate_limit to set",
			      dest);
		rc = FL_SET_NO_PART;
	}
	for (size_t i = 0; rc == FL_SET_OK && i < npairs; i++) {
		struct fl_loc loc = {.source = "set", .line = 1, .col = cols[i]};
		rc = parse_pair(s, dest, pairs[i], &loc);
	}
	struct fl_loc start = {.source = "set", .line = 1, .col = start_col};
	for (size_t i = 0; rc == FL_SET_OK && i < NSETTABLE; i++)
		if (s->touched[settable[i]] && fl_rule_finish(&s->rule[settable[i]], &start, d) < 0)
			rc = FL_SET_BAD_INPUT;
	if (rc == FL_SET_OK)
		write_settings(s, entries, n, now_ms);
	free(s);
	return rc;
}
