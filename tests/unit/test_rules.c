/*
 * test_rules.c - statements as a whole: kind names and the defaults of the
 * SPEC table, the checks and warnings that need a complete statement, the
 * rule set and its printing, and "did you mean".
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "rule_build.h"
#include "rules.h"

START_TEST(breaker_and_bulkhead_defaults_follow_the_spec_table)
{
	struct fl_rule r;
	fl_rule_defaults(&r, FL_KIND_BREAKER);
	ck_assert_uint_eq(r.kind, FL_KIND_BREAKER);
	ck_assert_uint_eq(r.u.breaker.failure_threshold, 5);
	ck_assert_uint_eq(r.u.breaker.success_threshold, 2);
	ck_assert_uint_eq(r.u.breaker.timeout_ms, 60000);
	ck_assert_uint_eq(r.u.breaker.half_open_max_requests, 1);
	ck_assert_double_eq(r.u.breaker.failure_rate_threshold, 50.0);
	ck_assert_uint_eq(r.u.breaker.min_requests_for_rate, 20);
	ck_assert_uint_eq(r.u.breaker.rolling_window_ms, 10000);
	ck_assert_int_eq(r.u.breaker.reject_errno, ECONNREFUSED);
	ck_assert_uint_eq(r.u.breaker.scope, FL_SCOPE_DESTINATION);
	ck_assert(r.u.breaker.enabled);
	fl_rule_defaults(&r, FL_KIND_BULKHEAD);
	ck_assert_uint_eq(r.u.bulkhead.max_concurrent_requests, 100);
	ck_assert_uint_eq(r.u.bulkhead.max_queue_size, 10);
	ck_assert_uint_eq(r.u.bulkhead.queue_timeout_ms, 5000);
	ck_assert_int_eq(r.u.bulkhead.reject_errno, ECONNREFUSED);
	ck_assert_uint_eq(r.u.bulkhead.scope, FL_SCOPE_DESTINATION);
	ck_assert(r.u.bulkhead.enabled);
}
END_TEST

START_TEST(fault_defaults_fire_on_every_call_of_every_op)
{
	struct fl_rule r;
	fl_rule_defaults(&r, FL_KIND_FAULT);
	ck_assert_uint_eq(r.u.fault.ops, FL_OPS_ALL);
	ck_assert_int_eq(r.u.fault.error, 0);
	ck_assert_uint_eq(r.u.fault.delay_ms, 0);
	ck_assert_uint_eq(r.u.fault.jitter_ms, 0);
	ck_assert_double_eq(r.u.fault.probability, 1.0);
	ck_assert_uint_eq(r.u.fault.threshold, UINT64_MAX);
	ck_assert_uint_eq(r.u.fault.after, 0);
	ck_assert_uint_eq(r.u.fault.every, 1);
	ck_assert_uint_eq(r.u.fault.times, 0);
	ck_assert_uint_eq(r.target.family, FL_AF_ANY);
	ck_assert_uint_eq(r.target.port_hi, 65535);
}
END_TEST

START_TEST(kind_names_accept_circuit_breaker_alias)
{
	ck_assert_int_eq(fl_kind_from_name("breaker", 7), FL_KIND_BREAKER);
	ck_assert_int_eq(fl_kind_from_name("circuit_breaker", 15), FL_KIND_BREAKER);
	ck_assert_int_eq(fl_kind_from_name("bulkhead", 8), FL_KIND_BULKHEAD);
	ck_assert_int_eq(fl_kind_from_name("fault", 5), FL_KIND_FAULT);
	ck_assert_int_eq(fl_kind_from_name("faults", 6), -1);
	ck_assert_int_eq(fl_kind_from_name("break", 5), -1);
	ck_assert_int_eq(fl_kind_from_name("Breaker", 7), -1);
	ck_assert_str_eq(fl_kind_name(FL_KIND_BREAKER), "breaker");
	ck_assert_str_eq(fl_kind_name(FL_KIND_BULKHEAD), "bulkhead");
	ck_assert_str_eq(fl_kind_name(FL_KIND_FAULT), "fault");
}
END_TEST

START_TEST(fault_needs_an_error_or_a_delay)
{
	ck_assert_str_eq(error_of(FL_KIND_FAULT, "on=connect"),
			 "T:1:5: fault injects nothing: give error=, or delay_ms= above 0 "
			 "(a delay of 0 ms does nothing)");
	ck_assert_str_eq(error_of(FL_KIND_FAULT, "error=EIO jitter_ms=5"),
			 "T:1:5: jitter_ms needs delay_ms= (jitter varies a delay)");
	ck_assert_str_eq(error_of(FL_KIND_FAULT, "delay_ms=5 jitter_ms=6"),
			 "T:1:5: jitter_ms=6 is larger than delay_ms=5 (the delay would often be cut "
			 "to 0)");
	ck_assert_str_eq(format_of(FL_KIND_FAULT, "delay_ms=5 jitter_ms=5"),
			 "* fault on=all delay_ms=5 jitter_ms=5 probability=1 after=0 every=1 times=0");
}
END_TEST

START_TEST(finish_derives_the_probability_threshold)
{
	struct fl_rule r;
	struct fl_diag d = {.nwarnings = 0};
	ck_assert_int_eq(build(&r, FL_KIND_FAULT, "error=EIO probability=0.5", &d), 0);
	ck_assert_uint_eq(r.u.fault.threshold, fl_probability_threshold(0.5));
	ck_assert_uint_gt(r.u.fault.threshold, 0);
	ck_assert_uint_lt(r.u.fault.threshold, UINT64_MAX);
	ck_assert_int_eq(build(&r, FL_KIND_FAULT, "error=EIO", &d), 0);
	ck_assert_uint_eq(r.u.fault.threshold, UINT64_MAX);
}
END_TEST

START_TEST(fault_injecting_errno_a_call_never_returns_warns)
{
	struct fl_rule r;
	struct fl_diag d = {.nwarnings = 0};
	ck_assert_int_eq(build(&r, FL_KIND_FAULT, "on=connect error=EPIPE", &d), 0);
	ck_assert_uint_eq(d.nwarnings, 1);
	ck_assert_str_eq(d.warnings[0],
			 "T:1:5: fault injects EPIPE on connect, which connect never returns "
			 "(connect returns: EACCES, EADDRINUSE, EADDRNOTAVAIL, EAFNOSUPPORT, EAGAIN, "
			 "EALREADY, EBADF, ECONNABORTED, ECONNREFUSED, ECONNRESET, EFAULT, "
			 "EHOSTUNREACH, EINPROGRESS, EINTR, EINVAL, EISCONN, ENETDOWN, ENETUNREACH, "
			 "ENOBUFS, ENOENT, ENOMEM, ENOTSOCK, EPERM, EPROTOTYPE, ETIMEDOUT)");
	ck_assert_int_eq(build(&r, FL_KIND_FAULT, "error=EPIPE", &d), 0);
	ck_assert_uint_eq(d.nwarnings, 3); /* connect, recv, read */
	ck_assert_ptr_nonnull(strstr(d.warnings[1], "EPIPE on recv, which recv never returns"));
	ck_assert_ptr_nonnull(strstr(d.warnings[2], "EPIPE on read, which read never returns"));
}
END_TEST

START_TEST(errno_valid_for_every_op_does_not_warn)
{
	struct fl_rule r;
	struct fl_diag d = {.nwarnings = 0};
	ck_assert_int_eq(build(&r, FL_KIND_FAULT, "on=send,write error=EPIPE", &d), 0);
	ck_assert_uint_eq(d.nwarnings, 0);
	ck_assert_int_eq(build(&r, FL_KIND_FAULT, "error=ECONNRESET", &d), 0);
	ck_assert_uint_eq(d.nwarnings, 0);
	ck_assert_int_eq(build(&r, FL_KIND_FAULT, "delay_ms=3", &d), 0);
	ck_assert_uint_eq(d.nwarnings, 0);
}
END_TEST

START_TEST(reject_errno_connect_never_returns_warns)
{
	struct fl_rule r;
	struct fl_diag d = {.nwarnings = 0};
	ck_assert_int_eq(build(&r, FL_KIND_BREAKER, "reject_errno=EPIPE", &d), 0);
	ck_assert_uint_eq(d.nwarnings, 1);
	ck_assert_ptr_nonnull(strstr(d.warnings[0], "T:1:5: breaker rejects with EPIPE on connect, "
						    "which connect never returns"));
	ck_assert_int_eq(build(&r, FL_KIND_BULKHEAD, "reject_errno=EAGAIN", &d), 0);
	ck_assert_uint_eq(d.nwarnings, 0);
}
END_TEST

START_TEST(fault_with_zero_probability_warns)
{
	struct fl_rule r;
	struct fl_diag d = {.nwarnings = 0};
	ck_assert_int_eq(build(&r, FL_KIND_FAULT, "error=EIO on=read probability=0", &d), 0);
	ck_assert_uint_eq(d.nwarnings, 1);
	ck_assert_str_eq(d.warnings[0], "T:1:5: fault has probability=0 and never fires");
}
END_TEST

START_TEST(ruleset_grows_and_keeps_statement_order)
{
	struct fl_ruleset rs;
	struct fl_diag d = {.nwarnings = 0};
	struct fl_rule r;
	fl_ruleset_init(&rs);
	fl_rule_defaults(&r, FL_KIND_FAULT);
	for (uint32_t i = 0; i < 100; i++) {
		r.u.fault.delay_ms = i;
		ck_assert_int_eq(fl_ruleset_add(&rs, &r, &d), 0);
	}
	ck_assert_uint_eq(rs.count, 100);
	ck_assert_uint_ge(rs.cap, 100);
	for (uint32_t i = 0; i < 100; i++)
		ck_assert_uint_eq(rs.rules[i].u.fault.delay_ms, i);
	fl_ruleset_free(&rs);
	ck_assert_uint_eq(rs.count, 0);
	ck_assert_ptr_null(rs.rules);
}
END_TEST

START_TEST(ruleset_format_writes_one_statement_per_line_like_snprintf)
{
	struct fl_ruleset rs;
	struct fl_diag d = {.nwarnings = 0};
	struct fl_rule r;
	char buf[1024], small[20];
	fl_ruleset_init(&rs);
	ck_assert_uint_eq(fl_ruleset_format(&rs, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(build(&r, FL_KIND_FAULT, "on=connect error=ECONNREFUSED", &d), 0);
	fl_ruleset_add(&rs, &r, &d);
	ck_assert_int_eq(build(&r, FL_KIND_FAULT, "on=recv delay_ms=1", &d), 0);
	fl_ruleset_add(&rs, &r, &d);
	const char *want = "* fault on=connect error=ECONNREFUSED probability=1 after=0 every=1 "
			   "times=0\n"
			   "* fault on=recv delay_ms=1 jitter_ms=0 probability=1 after=0 every=1 "
			   "times=0\n";
	ck_assert_uint_eq(fl_ruleset_format(&rs, buf, sizeof buf), strlen(want));
	ck_assert_str_eq(buf, want);
	ck_assert_uint_eq(fl_ruleset_format(&rs, small, sizeof small), strlen(want));
	ck_assert_mem_eq(small, want, sizeof small - 1);
	ck_assert_uint_eq(small[sizeof small - 1], '\0');
	ck_assert_uint_eq(fl_ruleset_format(&rs, NULL, 0), strlen(want));
	fl_ruleset_free(&rs);
}
END_TEST

START_TEST(suggest_finds_typos_swaps_and_case_slips)
{
	static const char *const words[] = {"timeout_ms", "failure_threshold", "scope", "on", NULL};
	ck_assert_str_eq(fl_suggest("timout_ms", 9, words), "timeout_ms");
	ck_assert_str_eq(fl_suggest("tiemout_ms", 10, words), "timeout_ms");
	ck_assert_str_eq(fl_suggest("TIMEOUT_MS", 10, words), "timeout_ms");
	ck_assert_str_eq(fl_suggest("failure_treshhold", 17, words), "failure_threshold");
	ck_assert_str_eq(fl_suggest("scop", 4, words), "scope");
	ck_assert_str_eq(fl_suggest("of", 2, words), "on");
}
END_TEST

START_TEST(suggest_gives_nothing_when_nothing_is_close)
{
	static const char *const words[] = {"timeout_ms", "scope", NULL};
	char huge[100];
	memset(huge, 'a', sizeof huge);
	ck_assert_ptr_null(fl_suggest("banana", 6, words));
	ck_assert_ptr_null(fl_suggest("", 0, words));
	ck_assert_ptr_null(fl_suggest(huge, sizeof huge, words));
	ck_assert_ptr_null(fl_suggest("scope", 5, NULL));
}
END_TEST

START_TEST(suggest_prefers_the_first_candidate_on_a_tie)
{
	static const char *const words[] = {"send", "read", NULL};
	ck_assert_str_eq(fl_suggest("xead", 4, words), "read");
	ck_assert_str_eq(fl_suggest("sead", 4, words), "send");
}
END_TEST

Suite *rules_suite(void); /* run by runner.c */

Suite *rules_suite(void)
{
	Suite *s = suite_create("rules");
	TCase *defaults = tcase_create("defaults");
	tcase_add_test(defaults, breaker_and_bulkhead_defaults_follow_the_spec_table);
	tcase_add_test(defaults, fault_defaults_fire_on_every_call_of_every_op);
	tcase_add_test(defaults, kind_names_accept_circuit_breaker_alias);
	suite_add_tcase(s, defaults);

	TCase *finish = tcase_create("finish");
	tcase_add_test(finish, fault_needs_an_error_or_a_delay);
	tcase_add_test(finish, finish_derives_the_probability_threshold);
	tcase_add_test(finish, fault_injecting_errno_a_call_never_returns_warns);
	tcase_add_test(finish, errno_valid_for_every_op_does_not_warn);
	tcase_add_test(finish, reject_errno_connect_never_returns_warns);
	tcase_add_test(finish, fault_with_zero_probability_warns);
	suite_add_tcase(s, finish);

	TCase *ruleset = tcase_create("ruleset");
	tcase_add_test(ruleset, ruleset_grows_and_keeps_statement_order);
	tcase_add_test(ruleset, ruleset_format_writes_one_statement_per_line_like_snprintf);
	suite_add_tcase(s, ruleset);

	TCase *suggest = tcase_create("suggest");
	tcase_add_test(suggest, suggest_finds_typos_swaps_and_case_slips);
	tcase_add_test(suggest, suggest_gives_nothing_when_nothing_is_close);
	tcase_add_test(suggest, suggest_prefers_the_first_candidate_on_a_tie);
	suite_add_tcase(s, suggest);
	return s;
}
