/*
 * test_match.c - which statements a destination gets: the first breaker,
 * the first bulkhead, every fault in order.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"

static void add(struct fl_ruleset *rs, const char *target, enum fl_kind kind, uint32_t ops)
{
	struct fl_rule r;
	struct fl_diag d = {.nwarnings = 0};
	const char *why = NULL;
	fl_rule_defaults(&r, kind);
	ck_assert_msg(fl_target_parse(target, strlen(target), &r.target, &why) == 0, "%s: %s", target, why);
	if (kind == FL_KIND_FAULT)
		r.u.fault.ops = ops;
	ck_assert_int_eq(fl_ruleset_add(rs, &r, &d), 0);
}

static struct fl_dest v4(const char *a, uint16_t port)
{
	struct fl_dest d = {0};
	d.family = FL_AF_INET4;
	d.port = port;
	unsigned b[4];
	ck_assert_int_eq(sscanf(a, "%u.%u.%u.%u", &b[0], &b[1], &b[2], &b[3]), 4);
	for (int i = 0; i < 4; i++)
		d.addr[i] = (uint8_t)b[i];
	return d;
}

START_TEST(first_breaker_and_bulkhead_win_and_every_fault_is_kept)
{
	struct fl_ruleset rs;
	fl_ruleset_init(&rs);
	add(&rs, "127.0.0.1:6379", FL_KIND_FAULT, 1u << FL_OP_SEND);
	add(&rs, "127.0.0.0/8", FL_KIND_BREAKER, 0);
	add(&rs, "127.0.0.1:6379", FL_KIND_BREAKER, 0);
	add(&rs, "*:6379", FL_KIND_BULKHEAD, 0);
	add(&rs, "*", FL_KIND_FAULT, 1u << FL_OP_RECV);
	add(&rs, "10.0.0.0/8", FL_KIND_FAULT, FL_OPS_ALL);
	struct fl_match m;
	struct fl_dest d = v4("127.0.0.1", 6379);
	ck_assert(fl_match(&rs, &d, &m));
	ck_assert_int_eq(m.breaker, 1);
	ck_assert_int_eq(m.bulkhead, 3);
	ck_assert_uint_eq(m.nfaults, 2);
	ck_assert_uint_eq(m.faults[0], 0);
	ck_assert_uint_eq(m.faults[1], 4);
	ck_assert_uint_eq(m.ops, (1u << FL_OP_SEND) | (1u << FL_OP_RECV));
	ck_assert(!m.truncated);
	fl_ruleset_free(&rs);
}
END_TEST

START_TEST(unmatched_destination_gets_nothing)
{
	struct fl_ruleset rs;
	fl_ruleset_init(&rs);
	add(&rs, "127.0.0.1:6379", FL_KIND_BREAKER, 0);
	add(&rs, "127.0.0.1:1-100", FL_KIND_FAULT, FL_OPS_ALL);
	struct fl_match m;
	struct fl_dest d = v4("127.0.0.1", 6380);
	ck_assert(!fl_match(&rs, &d, &m));
	ck_assert_int_eq(m.breaker, -1);
	ck_assert_int_eq(m.bulkhead, -1);
	ck_assert_uint_eq(m.nfaults, 0);
	ck_assert_uint_eq(m.ops, 0);
	fl_ruleset_free(&rs);
}
END_TEST

START_TEST(more_faults_than_kept_are_reported_as_truncated)
{
	struct fl_ruleset rs;
	fl_ruleset_init(&rs);
	for (int i = 0; i < FL_MATCH_MAX_FAULTS + 3; i++)
		add(&rs, "*", FL_KIND_FAULT, FL_OPS_ALL);
	struct fl_match m;
	struct fl_dest d = v4("127.0.0.1", 80);
	ck_assert(fl_match(&rs, &d, &m));
	ck_assert_uint_eq(m.nfaults, FL_MATCH_MAX_FAULTS);
	ck_assert(m.truncated);
	fl_ruleset_free(&rs);
}
END_TEST

/* ops is the union over the faults kept, not over every fault that matched:
 * the index must reproduce this exactly. */
START_TEST(faults_past_the_limit_add_no_ops)
{
	struct fl_ruleset rs;
	fl_ruleset_init(&rs);
	for (int i = 0; i < FL_MATCH_MAX_FAULTS; i++)
		add(&rs, "*", FL_KIND_FAULT, 1u << FL_OP_SEND);
	add(&rs, "*", FL_KIND_FAULT, 1u << FL_OP_RECV);
	struct fl_match m;
	struct fl_dest d = v4("10.0.0.1", 80);
	ck_assert(fl_match(&rs, &d, &m));
	ck_assert(m.truncated);
	ck_assert_uint_eq(m.ops, 1u << FL_OP_SEND);
	fl_ruleset_free(&rs);
}
END_TEST

START_TEST(families_match_only_their_own_destinations)
{
	struct fl_ruleset rs;
	fl_ruleset_init(&rs);
	add(&rs, "0.0.0.0/0", FL_KIND_BREAKER, 0);
	add(&rs, "::/0", FL_KIND_BULKHEAD, 0);
	add(&rs, "*", FL_KIND_FAULT, 1u << FL_OP_SEND);
	add(&rs, "unix:/run/x.sock", FL_KIND_FAULT, 1u << FL_OP_RECV);
	struct fl_match m;
	struct fl_dest d = v4("10.0.0.1", 80);
	ck_assert(fl_match(&rs, &d, &m));
	ck_assert_int_eq(m.breaker, 0);
	ck_assert_int_eq(m.bulkhead, -1);
	ck_assert_uint_eq(m.nfaults, 1);

	d.family = FL_AF_INET6;
	ck_assert(fl_match(&rs, &d, &m));
	ck_assert_int_eq(m.breaker, -1);
	ck_assert_int_eq(m.bulkhead, 1);
	ck_assert_uint_eq(m.faults[0], 2);

	struct fl_dest u = {.family = FL_AF_UNIX, .path_len = 11};
	memcpy(u.path, "/run/x.sock", 11);
	ck_assert(fl_match(&rs, &u, &m));
	ck_assert_uint_eq(m.nfaults, 1);
	ck_assert_uint_eq(m.faults[0], 3);
	ck_assert_uint_eq(m.ops, 1u << FL_OP_RECV);
	u.path_len = 10; /* a prefix of the path is another socket */
	ck_assert(!fl_match(&rs, &u, &m));
	fl_ruleset_free(&rs);
}
END_TEST

START_TEST(port_range_bounds_are_inclusive)
{
	struct fl_ruleset rs;
	fl_ruleset_init(&rs);
	add(&rs, "127.0.0.1:100-200", FL_KIND_BREAKER, 0);
	struct fl_match m;
	struct fl_dest d = v4("127.0.0.1", 100);
	ck_assert(fl_match(&rs, &d, &m));
	d.port = 200;
	ck_assert(fl_match(&rs, &d, &m));
	d.port = 99;
	ck_assert(!fl_match(&rs, &d, &m));
	d.port = 201;
	ck_assert(!fl_match(&rs, &d, &m));
	fl_ruleset_free(&rs);
}
END_TEST

Suite *match_suite(void); /* run by runner.c */

Suite *match_suite(void)
{
	Suite *s = suite_create("match");
	TCase *tc = tcase_create("match");
	tcase_add_test(tc, first_breaker_and_bulkhead_win_and_every_fault_is_kept);
	tcase_add_test(tc, unmatched_destination_gets_nothing);
	tcase_add_test(tc, more_faults_than_kept_are_reported_as_truncated);
	tcase_add_test(tc, faults_past_the_limit_add_no_ops);
	tcase_add_test(tc, families_match_only_their_own_destinations);
	tcase_add_test(tc, port_range_bounds_are_inclusive);
	suite_add_tcase(s, tc);
	return s;
}
