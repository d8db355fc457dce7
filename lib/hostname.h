/*
 * hostname.h - host name targets (SPEC 9): parsing and checking names,
 * matching a resolved name against a statement, resolver error names, and
 * adding the statements a name matches to an address's match.
 *
 * A name target is stored in struct fl_target with family FL_AF_NAME: the
 * name in lowercase without a trailing dot, and for `*.SUFFIX` the suffix
 * with name_wild set. Names are compared byte for byte after that
 * normalisation, so matching needs no locale and no allocation (the shim
 * matches inside getaddrinfo and connect).
 */
#ifndef FL_HOSTNAME_H
#define FL_HOSTNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "match.h"
#include "rules.h"
#include "target.h"

/*
 * Is this target text meant as a host name (letters, '_' or '-' in the
 * host part, no brackets, no prefix length, at most one ':'), or `*.X`?
 */
bool fl_hostname_like(const char *text, size_t len);

/*
 * Parses NAME, NAME:PORT, NAME:LO-HI, *.SUFFIX[:PORT] into *out. On error
 * returns -1, *why a static explanation and *at the offset in text of the
 * offending character (for the column of the message).
 */
int fl_hostname_parse(const char *text, size_t len, struct fl_target *out, const char **why, size_t *at);

/*
 * A name as a program passed it, into its matching form: lowercase, the
 * trailing dot dropped. Returns its length, or 0 when it is not a valid
 * host name (then nothing matches it; numeric addresses are not names).
 * out has room for FL_NAME_MAX + 1 bytes. Async-signal-safe.
 */
size_t fl_name_normalise(const char *in, char *out);

/* Does target t (a name target, or `*`) cover name (normalised)? Ports
 * are not looked at. */
bool fl_name_match(const struct fl_target *t, const char *name, size_t len);

/* Resolver error names (EAI_AGAIN, ...): their getaddrinfo codes are
 * negative, so a fault's `error` tells them from errnos by sign. */
int fl_eai_from_name(const char *name, size_t len, int *code);
const char *fl_eai_name(int code);
extern const char *const fl_eai_names[]; /* NULL-terminated */
/* The h_errno gethostbyname* report for a resolver error. */
int fl_eai_h_errno(int code);

/*
 * Adds to *m the statements among `rules` (indices of name statements, in
 * rule order) that cover name at port, keeping *m in rule order: the first
 * breaker and bulkhead in rule order win, faults merge. Returns true when
 * any was added. Allocation-free.
 */
bool fl_match_add_name(const struct fl_ruleset *rs, const uint32_t *rules, uint32_t nrules, const char *name,
		       size_t len, uint16_t port, struct fl_match *m);

/* Statement checks for fl_rule_finish: a fault's error= and on=resolve
 * agree (a resolver error only on resolve, an errno never on it) and
 * on=resolve has a name target; a resolve statement has a name target
 * and address=. */
int fl_resolve_fault_check(const struct fl_rule *r, const struct fl_loc *loc, struct fl_diag *d);
int fl_resolve_rule_check(const struct fl_rule *r, const struct fl_loc *loc, struct fl_diag *d);

#endif
