/*
 * test_shape.c - the token bucket of `shape` (lib/shape.h) on an injected
 * clock, and the validation of the connection-fault and shape keys.
 *
 * The clock is a variable the test advances: a simulated 10 s of traffic
 * runs in microseconds and gives the same figures on a loaded machine.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>

#include "match.h"
#include "rule_build.h"
#include "rules.h"
#include "shape.h"

#define SEC 1000000000ull

/* A caller moving up to `chunk` bytes a call, sleeping exactly as told,
 * for `span` ns from t0: bytes moved. */
static uint64_t drive(uint64_t *due, const struct fl_shape *s, uint64_t t0, uint64_t span, uint64_t chunk)
{
	uint64_t now = t0, moved = 0;
	while (now < t0 + span) {
		uint64_t wait = 0, n = fl_shape_available(due, s, now, chunk, &wait);
		if (n == 0) {
			ck_assert_uint_gt(wait, 0); /* never told to spin */
			now += wait;
			continue;
		}
		fl_shape_debit(due, s, now, n);
		moved += n;
		now += 1000; /* the call itself: 1 us */
	}
	return moved;
}

START_TEST(one_caller_stays_within_the_rate)
{
	struct fl_shape s;
	fl_shape_init(&s, 500, 64);
	uint64_t due = 0;
	uint64_t moved = drive(&due, &s, 100 * SEC, 10 * SEC, 16384);
	/* 10 s at 500 KB/s, plus at most the initial burst */
	ck_assert_uint_ge(moved, 5000000u);
	ck_assert_uint_le(moved, 5000000u + 64000u + 16384u);
}
END_TEST

START_TEST(idle_bucket_holds_one_burst_only)
{
	struct fl_shape s;
	fl_shape_init(&s, 100, 8);
	uint64_t due = 0, wait;
	/* after an hour idle: exactly the burst, no more */
	ck_assert_uint_eq(fl_shape_available(&due, &s, 3600 * SEC, 1000000, &wait), 8000);
	fl_shape_debit(&due, &s, 3600 * SEC, 8000);
	ck_assert_uint_eq(fl_shape_available(&due, &s, 3600 * SEC, 1000000, &wait), 0);
	/* the quantum (10 ms of rate = 1000 bytes) is 10 ms away */
	ck_assert_uint_ge(wait, 9999990u);
	ck_assert_uint_le(wait, 10000002u);
}
END_TEST

START_TEST(eight_callers_share_one_bucket)
{
	struct fl_shape s;
	fl_shape_init(&s, 500, 64);
	uint64_t due = 0, now[8], moved = 0, t0 = 50 * SEC;
	for (int i = 0; i < 8; i++)
		now[i] = t0 + (uint64_t)i * 777;
	/* Interleave: the caller with the earliest clock acts next. */
	for (;;) {
		int k = 0;
		for (int i = 1; i < 8; i++)
			if (now[i] < now[k])
				k = i;
		if (now[k] >= t0 + 10 * SEC)
			break;
		uint64_t wait, n = fl_shape_available(&due, &s, now[k], 4096 + (uint64_t)k * 1000, &wait);
		if (n == 0) {
			now[k] += wait;
			continue;
		}
		fl_shape_debit(&due, &s, now[k], n);
		moved += n;
		now[k] += 5000;
	}
	ck_assert_uint_ge(moved, 5000000u * 95 / 100);
	ck_assert_uint_le(moved, 5000000u * 105 / 100);
}
END_TEST

START_TEST(small_want_is_served_without_waiting_for_a_quantum)
{
	struct fl_shape s;
	fl_shape_init(&s, 1000, 64); /* quantum 10000 bytes */
	uint64_t due = 0, wait;
	fl_shape_debit(&due, &s, SEC, 64000); /* empty */
	ck_assert_uint_eq(fl_shape_available(&due, &s, SEC, 1, &wait), 0);
	ck_assert_uint_le(wait, 1000002u); /* 1 byte costs 1 us */
	ck_assert_uint_eq(fl_shape_available(&due, &s, SEC + wait, 1, &wait), 1);
}
END_TEST

static const char *finish_error(enum fl_kind kind, const char *keys)
{
	static struct fl_diag d;
	struct fl_rule r;
	memset(&d, 0, sizeof d);
	if (build(&r, kind, keys, &d) == 0)
		return "(accepted)";
	return d.error;
}

START_TEST(keys_on_ops_that_cannot_take_them_are_errors)
{
	ck_assert_str_eq(
	    finish_error(FL_KIND_FAULT, "on=send eof=true"),
	    "T:1:5: 'eof' applies only to recv, read, not to send (set on= to ops that take it)");
	ck_assert_str_eq(
	    finish_error(FL_KIND_FAULT, "on=connect corrupt=0.5"),
	    "T:1:5: 'corrupt' applies only to recv, read, not to connect (set on= to ops that take it)");
	ck_assert_str_eq(finish_error(FL_KIND_FAULT, "on=connect,recv max_bytes=4"),
			 "T:1:5: 'max_bytes' applies only to send, recv, write, read, not to connect (set "
			 "on= to ops that take it)");
	ck_assert_str_eq(
	    finish_error(FL_KIND_FAULT, "on=close error=EIO"),
	    "T:1:5: 'error' applies only to connect, send, recv, write, read, not to close (set on= to "
	    "ops that take it)");
	ck_assert_str_eq(finish_error(FL_KIND_SHAPE, "on=connect rate_kbps=5"),
			 "T:1:5: shape applies only to send, recv, write, read, not to connect");
}
END_TEST

START_TEST(bad_values_are_errors_with_their_place)
{
	ck_assert_str_eq(finish_error(FL_KIND_FAULT, "max_bytes=0"),
			 "T:1:5: value '0' of 'max_bytes' is out of range 1..2147483647");
	ck_assert_str_eq(finish_error(FL_KIND_FAULT, "on=recv corrupt=1.5"),
			 "T:1:5: value '1.5' of 'corrupt' is out of range 0..1");
	ck_assert_str_eq(finish_error(FL_KIND_SHAPE, "rate_kbps=0"),
			 "T:1:5: value '0' of 'rate_kbps' is out of range 1..2147483647");
	ck_assert_str_eq(finish_error(FL_KIND_SHAPE, "rate_kbps=-5"),
			 "T:1:5: value '-5' of 'rate_kbps' is out of range 1..2147483647");
	ck_assert_str_eq(finish_error(FL_KIND_SHAPE, "burst_kb=4"),
			 "T:1:5: shape needs rate_kbps= above 0 (kilobytes per second)");
	ck_assert_str_eq(finish_error(FL_KIND_SHAPE, "rate_kbps=5 scope=world"),
			 "T:1:5: value 'world' of 'scope' must be connection, destination or rule");
	ck_assert_str_eq(finish_error(FL_KIND_FAULT, "on=close"),
			 "T:1:5: on=close takes delay_ms= (a slow close) and nothing else");
}
END_TEST

START_TEST(default_on_is_narrowed_to_the_ops_the_keys_take)
{
	struct fl_rule r;
	struct fl_diag d;
	memset(&d, 0, sizeof d);
	ck_assert_int_eq(build(&r, FL_KIND_FAULT, "eof=true", &d), 0);
	ck_assert_uint_eq(r.u.fault.ops, (1u << FL_OP_RECV) | (1u << FL_OP_READ));
	ck_assert_int_eq(build(&r, FL_KIND_FAULT, "hang_ms=0", &d), 0);
	ck_assert_uint_eq(r.u.fault.ops, FL_OPS_ALL);
	ck_assert_uint_eq(r.u.fault.hang_ms, 0);
	ck_assert_int_eq(build(&r, FL_KIND_SHAPE, "rate_kbps=7", &d), 0);
	ck_assert_uint_eq(r.u.fault.ops, FL_OPS_IO);
	ck_assert_uint_eq(r.u.fault.burst_kb, 64);
	ck_assert_uint_eq(r.u.fault.shape_scope, FL_SHAPE_CONNECTION);
}
END_TEST

START_TEST(config_file_and_inline_rules_give_the_same_statements)
{
	struct fl_ruleset a, b;
	struct fl_diag d;
	char ta[1024], tb[1024];
	memset(&d, 0, sizeof d);
	fl_ruleset_init(&a);
	fl_ruleset_init(&b);
	ck_assert_int_eq(fl_parse_inline("R",
					 "127.0.0.1:80 fault on=recv max_bytes=3 corrupt=0.5; "
					 "127.0.0.1:80 fault on=close delay_ms=10; "
					 "127.0.0.1:80 shape rate_kbps=5 scope=rule",
					 &a, &d),
			 0);
	ck_assert_int_eq(
	    fl_parse_config_string("C",
				   "destinations = ({ match = \"127.0.0.1:80\";"
				   " shape = { rate_kbps = 5; scope = \"rule\"; };"
				   " faults = ({ on = [\"recv\"]; max_bytes = 3; corrupt = 0.5; },"
				   " { on = [\"close\"]; delay_ms = 10; }); });",
				   &b, &d),
	    0);
	fl_ruleset_format(&a, ta, sizeof ta);
	fl_ruleset_format(&b, tb, sizeof tb);
	ck_assert_str_eq(ta, tb);
	fl_ruleset_free(&a);
	fl_ruleset_free(&b);
}
END_TEST

/* Shape statements are matched like faults, by the index as by the scan
 * (a port-range target takes the index's segment path). */
START_TEST(index_matches_shape_statements_as_the_scan_does)
{
	struct fl_ruleset rs;
	struct fl_diag d;
	struct fl_match_index ix;
	memset(&d, 0, sizeof d);
	fl_ruleset_init(&rs);
	ck_assert_int_eq(
	    fl_parse_inline("R",
			    "127.0.0.1 shape rate_kbps=5; 127.0.0.1:1-100 fault on=recv eof=true; "
			    "127.0.0.0/8:80 shape on=send rate_kbps=9 scope=destination",
			    &rs, &d),
	    0);
	ck_assert_int_eq(fl_match_index_build(&ix, &rs, &d), 0);
	static const char *const addrs[] = {"127.0.0.1", "127.0.0.1", "127.0.0.2", "10.0.0.1"};
	static const uint16_t ports[] = {80, 5000, 80, 80};
	for (size_t i = 0; i < 4; i++) {
		struct fl_dest dest;
		struct fl_match a, b;
		struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(ports[i])};
		inet_pton(AF_INET, addrs[i], &sin.sin_addr);
		ck_assert(fl_dest_from_sockaddr((struct sockaddr *)&sin, sizeof sin, &dest));
		bool ma = fl_match(&rs, &dest, &a), mb = fl_match_indexed(&ix, &rs, &dest, &b);
		ck_assert_int_eq(ma, mb);
		ck_assert_uint_eq(a.nfaults, b.nfaults);
		ck_assert_uint_eq(a.ops, b.ops);
		for (uint32_t k = 0; k < a.nfaults; k++)
			ck_assert_uint_eq(a.faults[k], b.faults[k]);
	}
	fl_match_index_free(&ix);
	fl_ruleset_free(&rs);
}
END_TEST

Suite *shape_suite(void);
Suite *shape_suite(void)
{
	Suite *s = suite_create("shape");
	TCase *t = tcase_create("bucket");
	tcase_add_test(t, one_caller_stays_within_the_rate);
	tcase_add_test(t, idle_bucket_holds_one_burst_only);
	tcase_add_test(t, eight_callers_share_one_bucket);
	tcase_add_test(t, small_want_is_served_without_waiting_for_a_quantum);
	suite_add_tcase(s, t);
	t = tcase_create("keys");
	tcase_add_test(t, keys_on_ops_that_cannot_take_them_are_errors);
	tcase_add_test(t, bad_values_are_errors_with_their_place);
	tcase_add_test(t, default_on_is_narrowed_to_the_ops_the_keys_take);
	tcase_add_test(t, config_file_and_inline_rules_give_the_same_statements);
	tcase_add_test(t, index_matches_shape_statements_as_the_scan_does);
	suite_add_tcase(s, t);
	return s;
}
