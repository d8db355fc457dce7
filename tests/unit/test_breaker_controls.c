/*
 * test_breaker_controls.c - what an operator does to a breaker (trip,
 * reset, disable, live parameter changes) and the tables the breaker reads
 * (errnos that count as failures, state names, parameters stored in the
 * segment). Driven by the fake clock of breaker_fixture.h.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "breaker_fixture.h"

/* ---- operator controls ----------------------------------------------- */

START_TEST(breaker_trip_forces_open_and_rejects)
{
	fl_breaker_trip(&brk, clk.ms);
	ck_assert_uint_eq(state(), FL_BREAKER_FORCED_OPEN);
	ck_assert_str_eq(fl_breaker_state_name(state()), "forced_open");
	struct fl_permit p;
	ck_assert(!admit(&p));
	advance(10 * 60 * 1000); /* no timeout ends a forced open */
	ck_assert(!admit(&p));
	ck_assert_uint_eq(state(), FL_BREAKER_FORCED_OPEN);
	ck_assert_uint_eq(brk.rejected, 2);
}
END_TEST

START_TEST(breaker_trip_of_half_open_breaker_voids_trials)
{
	struct fl_permit trial;
	half_open_it(&trial);
	fl_breaker_trip(&brk, clk.ms);
	ck_assert_uint_eq(permits(), 0);
	record(&trial, false);
	record(&trial, false);
	ck_assert_uint_eq(state(), FL_BREAKER_FORCED_OPEN);
}
END_TEST

START_TEST(breaker_reset_closes_with_counters_cleared)
{
	struct fl_permit p;
	open_it();
	ck_assert(!admit(&p));
	advance(42);
	fl_breaker_reset(&brk, clk.ms);
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
	ck_assert_uint_eq(brk.calls, 0);
	ck_assert_uint_eq(brk.failures, 0);
	ck_assert_uint_eq(brk.rejected, 0);
	ck_assert_uint_eq(brk.transitions, 0);
	ck_assert_uint_eq(brk.consecutive_failures, 0);
	ck_assert_uint_eq(brk.consecutive_successes, 0);
	ck_assert_uint_eq(brk.since_ms, clk.ms);
	uint64_t c, f;
	fl_breaker_window(&brk, clk.ms, &c, &f);
	ck_assert_uint_eq(c, 0);
	ck_assert(admit(&p));
	/* A full threshold again to reopen. */
	record(&p, true);
	calls(brk.p.failure_threshold - 2, true);
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
	call(true);
	ck_assert_uint_eq(state(), FL_BREAKER_OPEN);
}
END_TEST

START_TEST(breaker_reset_of_forced_open_closes)
{
	fl_breaker_trip(&brk, clk.ms);
	fl_breaker_reset(&brk, clk.ms);
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
	call(false);
}
END_TEST

START_TEST(breaker_disabled_passes_everything)
{
	struct fl_breaker_params p = defaults();
	p.enabled = false;
	p.failure_threshold = 1;
	start(&p);
	ck_assert_uint_eq(state(), FL_BREAKER_DISABLED);
	for (int i = 0; i < 100; i++)
		call(true);
	ck_assert_uint_eq(state(), FL_BREAKER_DISABLED);
	ck_assert_uint_eq(brk.rejected, 0);
	ck_assert_uint_eq(brk.transitions, 0);
	/* Reset keeps a disabled breaker disabled. */
	fl_breaker_reset(&brk, clk.ms);
	ck_assert_uint_eq(state(), FL_BREAKER_DISABLED);
}
END_TEST

START_TEST(breaker_set_disabled_passes_everything_until_enabled)
{
	open_it();
	fl_breaker_set_disabled(&brk, true, clk.ms);
	ck_assert_uint_eq(state(), FL_BREAKER_DISABLED);
	ck_assert_uint_eq(brk.p.enabled, 0);
	for (int i = 0; i < 20; i++)
		call(true);
	ck_assert_uint_eq(state(), FL_BREAKER_DISABLED);
	/* Let the disabled period's failures leave the window, so only the
	 * consecutive rule is in play below. */
	advance(brk.p.rolling_window_ms);
	fl_breaker_set_disabled(&brk, false, clk.ms);
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
	ck_assert_uint_eq(brk.p.enabled, 1);
	calls(brk.p.failure_threshold - 1, true);
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
	call(true);
	ck_assert_uint_eq(state(), FL_BREAKER_OPEN);
}
END_TEST

START_TEST(breaker_live_enabled_false_passes_even_when_open)
{
	/* `faultline set DEST enabled=false` writes the parameter only. */
	open_it();
	__atomic_store_n(&brk.p.enabled, 0, __ATOMIC_RELEASE);
	struct fl_permit p;
	ck_assert(admit(&p));
	record(&p, false);
	ck_assert_uint_eq(brk.rejected, 0);
}
END_TEST

START_TEST(breaker_live_threshold_change_applies_to_next_outcome)
{
	calls(3, true);
	struct fl_breaker_params p = defaults();
	p.failure_threshold = 4;
	fl_breaker_params_set(&brk.p, &p);
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
	call(true);
	ck_assert_uint_eq(state(), FL_BREAKER_OPEN);
}
END_TEST

/* ---- tables and names ------------------------------------------------ */

START_TEST(breaker_connect_failure_errnos_follow_spec)
{
	const int failures[] = {ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH, ECONNRESET, ECONNABORTED};
	for (size_t i = 0; i < sizeof failures / sizeof failures[0]; i++)
		ck_assert_msg(fl_breaker_is_connect_failure(failures[i]), "errno %d", failures[i]);
	const int others[] = {0, EAGAIN, EWOULDBLOCK, EINTR, EINPROGRESS, EALREADY, EBADF, EACCES};
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
		ck_assert_msg(!fl_breaker_is_connect_failure(others[i]), "errno %d", others[i]);
}
END_TEST

START_TEST(breaker_peer_failure_errnos_follow_spec)
{
	ck_assert(fl_breaker_is_peer_failure(ECONNRESET));
	ck_assert(fl_breaker_is_peer_failure(EPIPE));
	ck_assert(fl_breaker_is_peer_failure(ETIMEDOUT));
	const int others[] = {0, EAGAIN, EWOULDBLOCK, EINTR, EINPROGRESS, EBADF, ENOTCONN, EMSGSIZE};
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
		ck_assert_msg(!fl_breaker_is_peer_failure(others[i]), "errno %d", others[i]);
}
END_TEST

START_TEST(breaker_state_names_match_stats_output)
{
	ck_assert_str_eq(fl_breaker_state_name(FL_BREAKER_CLOSED), "closed");
	ck_assert_str_eq(fl_breaker_state_name(FL_BREAKER_OPEN), "open");
	ck_assert_str_eq(fl_breaker_state_name(FL_BREAKER_HALF_OPEN), "half_open");
	ck_assert_str_eq(fl_breaker_state_name(FL_BREAKER_FORCED_OPEN), "forced_open");
	ck_assert_str_eq(fl_breaker_state_name(FL_BREAKER_DISABLED), "disabled");
	ck_assert_str_eq(fl_breaker_state_name(99), "unknown");
}
END_TEST

START_TEST(breaker_params_round_trip_through_segment)
{
	struct fl_breaker_params in = defaults(), out;
	in.failure_threshold = 7;
	in.success_threshold = 4;
	in.timeout_ms = 1234;
	in.half_open_max_requests = 3;
	in.failure_rate_threshold = 12.34;
	in.min_requests_for_rate = 9;
	in.rolling_window_ms = 30000;
	in.reject_errno = EHOSTUNREACH;
	in.scope = FL_SCOPE_RULE;
	in.enabled = false;
	struct fl_seg_breaker_params seg;
	memset(&seg, 0, sizeof seg);
	fl_breaker_params_set(&seg, &in);
	ck_assert_uint_eq(seg.failure_rate_centi, 1234);
	fl_breaker_params_get(&out, &seg);
	ck_assert_uint_eq(out.failure_threshold, 7);
	ck_assert_uint_eq(out.success_threshold, 4);
	ck_assert_uint_eq(out.timeout_ms, 1234);
	ck_assert_uint_eq(out.half_open_max_requests, 3);
	ck_assert_double_eq_tol(out.failure_rate_threshold, 12.34, 1e-9);
	ck_assert_uint_eq(out.min_requests_for_rate, 9);
	ck_assert_uint_eq(out.rolling_window_ms, 30000);
	ck_assert_int_eq(out.reject_errno, EHOSTUNREACH);
	ck_assert_uint_eq(out.scope, FL_SCOPE_RULE);
	ck_assert(!out.enabled);
}
END_TEST

Suite *breaker_controls_suite(void); /* run by runner.c */

Suite *breaker_controls_suite(void)
{
	Suite *s = suite_create("breaker_controls");

	TCase *ops = tcase_create("controls");
	tcase_add_checked_fixture(ops, setup, NULL);
	tcase_add_test(ops, breaker_trip_forces_open_and_rejects);
	tcase_add_test(ops, breaker_trip_of_half_open_breaker_voids_trials);
	tcase_add_test(ops, breaker_reset_closes_with_counters_cleared);
	tcase_add_test(ops, breaker_reset_of_forced_open_closes);
	tcase_add_test(ops, breaker_disabled_passes_everything);
	tcase_add_test(ops, breaker_set_disabled_passes_everything_until_enabled);
	tcase_add_test(ops, breaker_live_enabled_false_passes_even_when_open);
	tcase_add_test(ops, breaker_live_threshold_change_applies_to_next_outcome);
	suite_add_tcase(s, ops);

	TCase *tables = tcase_create("tables");
	tcase_add_checked_fixture(tables, setup, NULL);
	tcase_add_test(tables, breaker_connect_failure_errnos_follow_spec);
	tcase_add_test(tables, breaker_peer_failure_errnos_follow_spec);
	tcase_add_test(tables, breaker_state_names_match_stats_output);
	tcase_add_test(tables, breaker_params_round_trip_through_segment);
	suite_add_tcase(s, tables);
	return s;
}
