/*
 * rule_build.h - building one rule from "key=value ..." text for the rules
 * and rule_keys suites, through fl_rule_set_key and fl_rule_finish exactly
 * as both parsers do. Messages are located at T:1:5.
 */
#ifndef FL_TEST_RULE_BUILD_H
#define FL_TEST_RULE_BUILD_H

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "rules.h"

static const struct fl_loc here = {.source = "T", .line = 1, .col = 5};

/* Sets "key=value key=value ..." on a fresh rule of `kind`, then finishes it. */
static inline int build(struct fl_rule *r, enum fl_kind kind, const char *pairs, struct fl_diag *d)
{
	char text[512];
	uint64_t seen = 0;
	char *save = NULL;
	fl_rule_defaults(r, kind);
	fl_diag_clear(d);
	snprintf(text, sizeof text, "%s", pairs);
	for (char *kv = strtok_r(text, " ", &save); kv; kv = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(kv, '=');
		ck_assert_ptr_nonnull(eq);
		if (fl_rule_set_key(r, kv, (size_t)(eq - kv), eq + 1, strlen(eq + 1), &seen, &here, d) < 0)
			return -1;
	}
	return fl_rule_finish(r, &here, d);
}

static inline const char *error_of(enum fl_kind kind, const char *pairs)
{
	static struct fl_diag d;
	struct fl_rule r;
	ck_assert_msg(build(&r, kind, pairs, &d) == -1, "'%s' should fail", pairs);
	return d.error;
}

static inline const char *format_of(enum fl_kind kind, const char *pairs)
{
	static char buf[1024];
	struct fl_diag d = {.nwarnings = 0};
	struct fl_rule r;
	ck_assert_msg(build(&r, kind, pairs, &d) == 0, "'%s': %s", pairs, d.error);
	fl_rule_format(&r, buf, sizeof buf);
	return buf;
}

#endif
