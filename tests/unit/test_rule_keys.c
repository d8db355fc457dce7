/*
 * test_rule_keys.c - the key tables: setting every key from text, every
 * kind of bad value, and the canonical form that writes every key back.
 *
 * Keys are set through fl_rule_set_key directly, the way both parsers do,
 * so these tests pin the validation the two sources share.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rule_build.h"
#include "rules.h"

static void assert_keys(enum fl_kind kind, const char *const *want)
{
	const char *const *got = fl_kind_keys(kind);
	size_t i = 0;
	for (; want[i] != NULL; i++) {
		ck_assert_ptr_nonnull(got[i]);
		ck_assert_str_eq(got[i], want[i]);
	}
	ck_assert_ptr_null(got[i]);
}

START_TEST(kind_keys_list_every_key_in_table_order)
{
	static const char *const breaker[] = {"failure_threshold",
					      "success_threshold",
					      "timeout_ms",
					      "half_open_max_requests",
					      "failure_rate_threshold",
					      "min_requests_for_rate",
					      "rolling_window_ms",
					      "reject_errno",
					      "scope",
					      "enabled",
					      "slow_call_duration_ms",
					      "slow_call_rate_threshold",
					      "mode",
					      "timeout_max_ms",
					      "timeout_multiplier",
					      "fallback",
					      NULL};
	static const char *const bulkhead[] = {"max_concurrent_requests",
					       "max_queue_size",
					       "queue_timeout_ms",
					       "reject_errno",
					       "scope",
					       "enabled",
					       NULL};
	static const char *const fault[] = {
	    "on",      "error",	   "delay_ms",	  "jitter_ms", "probability", "after",	 "every",
	    "times",   "start_ms", "duration_ms", "max_bytes", "eof",	      "hang_ms", "close_after_bytes",
	    "corrupt", NULL};
	static const char *const shape[] = {"on", "rate_kbps", "burst_kb", "scope", NULL};
	assert_keys(FL_KIND_SHAPE, shape);
	assert_keys(FL_KIND_BREAKER, breaker);
	assert_keys(FL_KIND_BULKHEAD, bulkhead);
	assert_keys(FL_KIND_FAULT, fault);
}
END_TEST

START_TEST(every_key_is_stored_in_its_field)
{
	struct fl_rule r;
	struct fl_diag d = {.nwarnings = 0};
	ck_assert_int_eq(build(&r, FL_KIND_BREAKER,
			       "failure_threshold=3 success_threshold=4 timeout_ms=2000 "
			       "half_open_max_requests=5 failure_rate_threshold=12.5 "
			       "min_requests_for_rate=0 rolling_window_ms=100 reject_errno=ETIMEDOUT "
			       "scope=rule enabled=false",
			       &d),
			 0);
	ck_assert_uint_eq(r.u.breaker.failure_threshold, 3);
	ck_assert_uint_eq(r.u.breaker.success_threshold, 4);
	ck_assert_uint_eq(r.u.breaker.timeout_ms, 2000);
	ck_assert_uint_eq(r.u.breaker.half_open_max_requests, 5);
	ck_assert_double_eq(r.u.breaker.failure_rate_threshold, 12.5);
	ck_assert_uint_eq(r.u.breaker.min_requests_for_rate, 0);
	ck_assert_uint_eq(r.u.breaker.rolling_window_ms, 100);
	ck_assert_int_eq(r.u.breaker.reject_errno, ETIMEDOUT);
	ck_assert_uint_eq(r.u.breaker.scope, FL_SCOPE_RULE);
	ck_assert(!r.u.breaker.enabled);
	ck_assert_int_eq(build(&r, FL_KIND_BULKHEAD,
			       "max_concurrent_requests=7 max_queue_size=0 queue_timeout_ms=0 "
			       "reject_errno=EAGAIN scope=destination enabled=1",
			       &d),
			 0);
	ck_assert_uint_eq(r.u.bulkhead.max_concurrent_requests, 7);
	ck_assert_uint_eq(r.u.bulkhead.max_queue_size, 0);
	ck_assert_uint_eq(r.u.bulkhead.queue_timeout_ms, 0);
	ck_assert_int_eq(r.u.bulkhead.reject_errno, EAGAIN);
	ck_assert(r.u.bulkhead.enabled);
	ck_assert_int_eq(build(&r, FL_KIND_FAULT,
			       "on=connect,recv error=ECONNRESET delay_ms=9 jitter_ms=2 "
			       "probability=0.25 after=18446744073709551615 every=3 times=4",
			       &d),
			 0);
	ck_assert_uint_eq(r.u.fault.ops, (1u << FL_OP_CONNECT) | (1u << FL_OP_RECV));
	ck_assert_int_eq(r.u.fault.error, ECONNRESET);
	ck_assert_uint_eq(r.u.fault.delay_ms, 9);
	ck_assert_uint_eq(r.u.fault.jitter_ms, 2);
	ck_assert_double_eq(r.u.fault.probability, 0.25);
	ck_assert_uint_eq(r.u.fault.after, UINT64_MAX);
	ck_assert_uint_eq(r.u.fault.every, 3);
	ck_assert_uint_eq(r.u.fault.times, 4);
}
END_TEST

START_TEST(keys_that_need_at_least_one_reject_zero)
{
	static const struct {
		enum fl_kind kind;
		const char *pairs, *error;
	} cases[] = {
	    {FL_KIND_BREAKER, "failure_threshold=0",
	     "T:1:5: value '0' of 'failure_threshold' is out of range 1..2147483647"},
	    {FL_KIND_BREAKER, "success_threshold=0",
	     "T:1:5: value '0' of 'success_threshold' is out of range 1..2147483647"},
	    {FL_KIND_BREAKER, "half_open_max_requests=0",
	     "T:1:5: value '0' of 'half_open_max_requests' is out of range 1..2147483647"},
	    {FL_KIND_BREAKER, "timeout_ms=0",
	     "T:1:5: value '0' of 'timeout_ms' is out of range 1..2147483647"},
	    {FL_KIND_BULKHEAD, "max_concurrent_requests=0",
	     "T:1:5: value '0' of 'max_concurrent_requests' is out of range 1..2147483647"},
	    {FL_KIND_FAULT, "every=0", "T:1:5: value '0' of 'every' is out of range 1..18446744073709551615"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ck_assert_str_eq(error_of(cases[i].kind, cases[i].pairs), cases[i].error);
}
END_TEST

START_TEST(rolling_window_below_100ms_is_rejected_with_bucket_note)
{
	ck_assert_str_eq(error_of(FL_KIND_BREAKER, "rolling_window_ms=99"),
			 "T:1:5: value '99' of 'rolling_window_ms' is out of range 100..2147483647 "
			 "(the window is kept in buckets, so it must be at least 100 ms)");
}
END_TEST

START_TEST(integers_stop_at_int32_max_and_uint64_max)
{
	ck_assert_str_eq(format_of(FL_KIND_BULKHEAD, "queue_timeout_ms=2147483647"),
			 "* bulkhead max_concurrent_requests=100 max_queue_size=10 "
			 "queue_timeout_ms=2147483647 reject_errno=ECONNREFUSED scope=destination "
			 "enabled=true");
	ck_assert_str_eq(error_of(FL_KIND_BULKHEAD, "queue_timeout_ms=2147483648"),
			 "T:1:5: value '2147483648' of 'queue_timeout_ms' is out of range "
			 "0..2147483647");
	ck_assert_str_eq(error_of(FL_KIND_FAULT, "error=EIO times=18446744073709551616"),
			 "T:1:5: value '18446744073709551616' of 'times' is out of range "
			 "0..18446744073709551615");
	ck_assert_str_eq(error_of(FL_KIND_FAULT, "error=EIO after=99999999999999999999999"),
			 "T:1:5: value '99999999999999999999999' of 'after' is out of range "
			 "0..18446744073709551615");
}
END_TEST

START_TEST(negative_numbers_are_out_of_range)
{
	ck_assert_str_eq(error_of(FL_KIND_BULKHEAD, "max_queue_size=-1"),
			 "T:1:5: value '-1' of 'max_queue_size' is out of range 0..2147483647");
	ck_assert_str_eq(error_of(FL_KIND_FAULT, "error=EIO probability=-0.1"),
			 "T:1:5: value '-0.1' of 'probability' is out of range 0..1");
}
END_TEST

START_TEST(whole_numbers_must_be_plain_decimal)
{
	static const char *const bad[] = {"5x", "0x10", "+5", "1e3", "5.0", "five", "-", "5 "};
	char pairs[64], want[128];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(pairs, sizeof pairs, "timeout_ms=%s", bad[i]);
		snprintf(want, sizeof want, "T:1:5: value '%s' of 'timeout_ms' is not a whole number",
			 bad[i]);
		struct fl_rule r;
		struct fl_diag d = {.nwarnings = 0};
		uint64_t seen = 0;
		fl_rule_defaults(&r, FL_KIND_BREAKER);
		ck_assert_int_eq(
		    fl_rule_set_key(&r, "timeout_ms", 10, bad[i], strlen(bad[i]), &seen, &here, &d), -1);
		ck_assert_str_eq(d.error, want);
	}
}
END_TEST

START_TEST(real_numbers_are_decimal_finite_and_in_range)
{
	ck_assert_str_eq(error_of(FL_KIND_FAULT, "error=EIO probability=1.5"),
			 "T:1:5: value '1.5' of 'probability' is out of range 0..1");
	ck_assert_str_eq(error_of(FL_KIND_BREAKER, "failure_rate_threshold=100.5"),
			 "T:1:5: value '100.5' of 'failure_rate_threshold' is out of range 0..100");
	ck_assert_str_eq(error_of(FL_KIND_FAULT, "error=EIO probability=1e999"),
			 "T:1:5: value '1e999' of 'probability' is out of range 0..1");
	static const char *const bad[] = {"nan", "inf", "0x1p-1", "0.5x", ".", "1e", "1,5", "--1"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char pairs[64], want[128];
		snprintf(pairs, sizeof pairs, "error=EIO probability=%s", bad[i]);
		snprintf(want, sizeof want, "T:1:5: value '%s' of 'probability' is not a number", bad[i]);
		ck_assert_str_eq(error_of(FL_KIND_FAULT, pairs), want);
	}
	ck_assert_str_eq(format_of(FL_KIND_FAULT, "error=EIO probability=.5"),
			 "* fault on=all error=EIO probability=0.5 after=0 every=1 times=0");
	ck_assert_str_eq(format_of(FL_KIND_FAULT, "error=EIO probability=1"),
			 "* fault on=all error=EIO probability=1 after=0 every=1 times=0");
}
END_TEST

START_TEST(errno_names_are_checked_with_suggestions)
{
	ck_assert_str_eq(error_of(FL_KIND_FAULT, "error=ECONNRESETT"),
			 "T:1:5: unknown errno name 'ECONNRESETT' for 'error' (did you mean "
			 "'ECONNRESET'?)");
	ck_assert_str_eq(error_of(FL_KIND_FAULT, "error=econnrefused"),
			 "T:1:5: unknown errno name 'econnrefused' for 'error' (did you mean "
			 "'ECONNREFUSED'?)");
	ck_assert_str_eq(error_of(FL_KIND_BREAKER, "reject_errno=NOPE_NOT_AT_ALL"),
			 "T:1:5: unknown errno name 'NOPE_NOT_AT_ALL' for 'reject_errno' (write a "
			 "name such as ECONNRESET)");
	ck_assert_str_eq(error_of(FL_KIND_BREAKER, "reject_errno=111"),
			 "T:1:5: unknown errno name '111' for 'reject_errno' (write a name such as "
			 "ECONNRESET)");
}
END_TEST

START_TEST(scope_and_bool_accept_only_their_words)
{
	ck_assert_str_eq(error_of(FL_KIND_BREAKER, "scope=global"),
			 "T:1:5: value 'global' of 'scope' must be destination or rule");
	ck_assert_str_eq(error_of(FL_KIND_BULKHEAD, "enabled=yes"),
			 "T:1:5: value 'yes' of 'enabled' must be true or false");
	ck_assert_str_eq(error_of(FL_KIND_BULKHEAD, "enabled=TRUE"),
			 "T:1:5: value 'TRUE' of 'enabled' must be true or false");
	ck_assert_str_eq(format_of(FL_KIND_BULKHEAD, "enabled=0 scope=rule"),
			 "* bulkhead max_concurrent_requests=100 max_queue_size=10 "
			 "queue_timeout_ms=5000 reject_errno=ECONNREFUSED scope=rule enabled=false");
}
END_TEST

START_TEST(on_list_takes_ops_io_and_all)
{
	ck_assert_str_eq(format_of(FL_KIND_FAULT, "on=read,connect error=EINTR"),
			 "* fault on=connect,read error=EINTR probability=1 after=0 every=1 times=0");
	ck_assert_str_eq(format_of(FL_KIND_FAULT, "on=send,recv,write,read error=EINTR"),
			 "* fault on=io error=EINTR probability=1 after=0 every=1 times=0");
	ck_assert_str_eq(format_of(FL_KIND_FAULT, "on=io,connect error=EINTR"),
			 "* fault on=all error=EINTR probability=1 after=0 every=1 times=0");
	ck_assert_str_eq(format_of(FL_KIND_FAULT, "on=write error=EINTR"),
			 "* fault on=write error=EINTR probability=1 after=0 every=1 times=0");
}
END_TEST

START_TEST(on_list_rejects_empty_unknown_and_repeated_items)
{
	ck_assert_str_eq(error_of(FL_KIND_FAULT, "on=connect,,send"),
			 "T:1:5: empty item in 'on' list 'connect,,send'");
	ck_assert_str_eq(error_of(FL_KIND_FAULT, "on=connect,"), "T:1:5: empty item in 'on' list 'connect,'");
	ck_assert_str_eq(error_of(FL_KIND_FAULT, "on=,send"), "T:1:5: empty item in 'on' list ',send'");
	ck_assert_str_eq(error_of(FL_KIND_FAULT, "on=conect"),
			 "T:1:5: unknown op 'conect' in 'on' (did you mean 'connect'?)");
	ck_assert_str_eq(error_of(FL_KIND_FAULT, "on=sendmsg_and_more"),
			 "T:1:5: unknown op 'sendmsg_and_more' in 'on' (ops: connect, send, recv, "
			 "write, read, io, all, resolve, close)");
	ck_assert_str_eq(error_of(FL_KIND_FAULT, "on=send,send"),
			 "T:1:5: 'send' repeats an op already in 'on' list 'send,send'");
	ck_assert_str_eq(error_of(FL_KIND_FAULT, "on=io,recv"),
			 "T:1:5: 'recv' repeats an op already in 'on' list 'io,recv'");
}
END_TEST

START_TEST(unknown_key_suggests_the_closest_key_of_the_kind)
{
	ck_assert_str_eq(error_of(FL_KIND_BREAKER, "failur_threshold=3"),
			 "T:1:5: unknown key 'failur_threshold' in breaker (did you mean "
			 "'failure_threshold'?)");
	ck_assert_str_eq(error_of(FL_KIND_BREAKER, "tiemout_ms=3"),
			 "T:1:5: unknown key 'tiemout_ms' in breaker (did you mean 'timeout_ms'?)");
	ck_assert_str_eq(error_of(FL_KIND_BULKHEAD, "zzz=1"),
			 "T:1:5: unknown key 'zzz' in bulkhead (keys: max_concurrent_requests, "
			 "max_queue_size, queue_timeout_ms, reject_errno, scope, enabled)");
}
END_TEST

START_TEST(key_of_another_kind_is_named_as_such)
{
	ck_assert_str_eq(error_of(FL_KIND_BREAKER, "delay_ms=5"),
			 "T:1:5: 'delay_ms' is a key of fault, not breaker");
	ck_assert_str_eq(error_of(FL_KIND_FAULT, "max_queue_size=5"),
			 "T:1:5: 'max_queue_size' is a key of bulkhead, not fault");
	ck_assert_str_eq(error_of(FL_KIND_BULKHEAD, "timeout_ms=5"),
			 "T:1:5: 'timeout_ms' is a key of breaker, not bulkhead");
}
END_TEST

START_TEST(duplicate_key_is_an_error_naming_the_key)
{
	ck_assert_str_eq(error_of(FL_KIND_BREAKER, "timeout_ms=5 failure_threshold=2 timeout_ms=6"),
			 "T:1:5: duplicate key 'timeout_ms' in breaker");
}
END_TEST

START_TEST(empty_value_is_an_error)
{
	ck_assert_str_eq(error_of(FL_KIND_BREAKER, "timeout_ms="), "T:1:5: empty value for 'timeout_ms'");
}
END_TEST

START_TEST(format_writes_every_key_of_the_kind_in_table_order)
{
	ck_assert_str_eq(format_of(FL_KIND_BREAKER, "timeout_ms=2000 failure_threshold=3"),
			 "* breaker failure_threshold=3 success_threshold=2 timeout_ms=2000 "
			 "half_open_max_requests=1 failure_rate_threshold=50 min_requests_for_rate=20 "
			 "rolling_window_ms=10000 reject_errno=ECONNREFUSED scope=destination "
			 "enabled=true");
	ck_assert_str_eq(format_of(FL_KIND_BULKHEAD, ""),
			 "* bulkhead max_concurrent_requests=100 max_queue_size=10 "
			 "queue_timeout_ms=5000 reject_errno=ECONNREFUSED scope=destination "
			 "enabled=true");
}
END_TEST

START_TEST(format_shows_error_and_delay_only_when_set)
{
	ck_assert_str_eq(format_of(FL_KIND_FAULT, "error=ECONNRESET"),
			 "* fault on=all error=ECONNRESET probability=1 after=0 every=1 times=0");
	ck_assert_str_eq(format_of(FL_KIND_FAULT, "delay_ms=200"),
			 "* fault on=all delay_ms=200 jitter_ms=0 probability=1 after=0 every=1 "
			 "times=0");
	ck_assert_str_eq(format_of(FL_KIND_FAULT, "times=2 error=EAGAIN delay_ms=200 jitter_ms=50"),
			 "* fault on=all error=EAGAIN delay_ms=200 jitter_ms=50 probability=1 after=0 "
			 "every=1 times=2");
}
END_TEST

START_TEST(format_prints_doubles_in_shortest_form)
{
	static const char *const cases[][2] = {
	    {"0.5", "0.5"}, {"0.01", "0.01"},  {"0.1", "0.1"},	   {"1.0", "1"},
	    {"0", "0"},	    {"1e-3", "0.001"}, {"0.333", "0.333"}, {"1e-7", "1e-07"},
	};
	char pairs[64], want[128];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(pairs, sizeof pairs, "delay_ms=1 probability=%s", cases[i][0]);
		snprintf(want, sizeof want,
			 "* fault on=all delay_ms=1 jitter_ms=0 probability=%s after=0 every=1 times=0",
			 cases[i][1]);
		ck_assert_str_eq(format_of(FL_KIND_FAULT, pairs), want);
	}
	ck_assert_ptr_nonnull(strstr(format_of(FL_KIND_BREAKER, "failure_rate_threshold=33.3"),
				     " failure_rate_threshold=33.3 "));
	ck_assert_ptr_nonnull(
	    strstr(format_of(FL_KIND_BREAKER, "failure_rate_threshold=100"), " failure_rate_threshold=100 "));
}
END_TEST

/* Canonical text fed back through the key setter gives the same rule. */
START_TEST(formatted_keys_parse_back_to_the_same_rule)
{
	static const struct {
		enum fl_kind kind;
		const char *pairs;
	} cases[] = {
	    {FL_KIND_BREAKER, "failure_rate_threshold=0.1 scope=rule enabled=false"},
	    {FL_KIND_BULKHEAD, "max_queue_size=0 reject_errno=EWOULDBLOCK"},
	    {FL_KIND_FAULT, "on=send,read error=ETIMEDOUT probability=0.123456789 every=7"},
	    {FL_KIND_FAULT, "on=io delay_ms=100 jitter_ms=100 after=5 times=1"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct fl_rule a, b;
		struct fl_diag d = {.nwarnings = 0};
		char first[1024], second[1024];
		ck_assert_int_eq(build(&a, cases[i].kind, cases[i].pairs, &d), 0);
		fl_rule_format(&a, first, sizeof first);
		const char *keys = strchr(strchr(first, ' ') + 1, ' ') + 1; /* after TARGET KIND */
		ck_assert_int_eq(build(&b, cases[i].kind, keys, &d), 0);
		fl_rule_format(&b, second, sizeof second);
		ck_assert_str_eq(first, second);
		ck_assert_mem_eq(&a.u, &b.u, sizeof a.u);
	}
}
END_TEST

Suite *rule_keys_suite(void); /* run by runner.c */

Suite *rule_keys_suite(void)
{
	Suite *s = suite_create("rule_keys");
	TCase *keys = tcase_create("keys");
	tcase_add_test(keys, kind_keys_list_every_key_in_table_order);
	suite_add_tcase(s, keys);

	TCase *set_key = tcase_create("set_key");
	tcase_add_test(set_key, every_key_is_stored_in_its_field);
	tcase_add_test(set_key, keys_that_need_at_least_one_reject_zero);
	tcase_add_test(set_key, rolling_window_below_100ms_is_rejected_with_bucket_note);
	tcase_add_test(set_key, integers_stop_at_int32_max_and_uint64_max);
	tcase_add_test(set_key, negative_numbers_are_out_of_range);
	tcase_add_test(set_key, whole_numbers_must_be_plain_decimal);
	tcase_add_test(set_key, real_numbers_are_decimal_finite_and_in_range);
	tcase_add_test(set_key, errno_names_are_checked_with_suggestions);
	tcase_add_test(set_key, scope_and_bool_accept_only_their_words);
	tcase_add_test(set_key, on_list_takes_ops_io_and_all);
	tcase_add_test(set_key, on_list_rejects_empty_unknown_and_repeated_items);
	tcase_add_test(set_key, unknown_key_suggests_the_closest_key_of_the_kind);
	tcase_add_test(set_key, key_of_another_kind_is_named_as_such);
	tcase_add_test(set_key, duplicate_key_is_an_error_naming_the_key);
	tcase_add_test(set_key, empty_value_is_an_error);
	suite_add_tcase(s, set_key);

	TCase *format = tcase_create("format");
	tcase_add_test(format, format_writes_every_key_of_the_kind_in_table_order);
	tcase_add_test(format, format_shows_error_and_delay_only_when_set);
	tcase_add_test(format, format_prints_doubles_in_shortest_form);
	tcase_add_test(format, formatted_keys_parse_back_to_the_same_rule);
	suite_add_tcase(s, format);
	return s;
}
