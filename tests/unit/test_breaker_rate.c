/*
 * test_breaker_rate.c - the failure-rate rule: minimum calls, threshold,
 * and the rolling window's buckets sliding out, driven by the fake clock of
 * breaker_fixture.h.
 */
#include <check.h>
#include <stdlib.h>

#include "breaker_fixture.h"

/* ---- failure rate ---------------------------------------------------- */

/* Rate rule alone: consecutive failures never reach their threshold. */
static void rate_only(uint32_t min_requests, double rate)
{
	struct fl_breaker_params p = defaults();
	p.failure_threshold = 1000;
	p.min_requests_for_rate = min_requests;
	p.failure_rate_threshold = rate;
	p.rolling_window_ms = 10000;
	start(&p);
}

START_TEST(breaker_rate_rule_opens_at_threshold_once_min_requests_reached)
{
	rate_only(10, 50.0);
	for (int i = 0; i < 4; i++) {
		call(true);
		call(false);
	}
	call(true); /* 5 of 9: 55%, but fewer than 10 calls */
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
	call(true); /* 6 of 10: 60% */
	ck_assert_uint_eq(state(), FL_BREAKER_OPEN);
}
END_TEST

START_TEST(breaker_rate_rule_opens_when_exactly_at_threshold)
{
	rate_only(10, 50.0);
	calls(5, false);
	calls(4, true);
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
	call(true); /* 5 of 10 = 50% */
	ck_assert_uint_eq(state(), FL_BREAKER_OPEN);
}
END_TEST

START_TEST(breaker_rate_rule_counts_a_success_that_completes_min_requests)
{
	/* Section 5: over the window there were min_requests_for_rate calls and
	 * their failure percentage reached the threshold -> open, whichever
	 * outcome was the one that completed the count. */
	rate_only(10, 50.0);
	calls(6, true);
	calls(3, false);
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
	call(false); /* 6 of 10 = 60% */
	ck_assert_uint_eq(state(), FL_BREAKER_OPEN);
}
END_TEST

START_TEST(breaker_rate_rule_stays_closed_below_min_requests)
{
	rate_only(10, 50.0);
	calls(9, true); /* 100%, but only 9 calls */
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
	uint64_t c, f;
	fl_breaker_window(&brk, clk.ms, &c, &f);
	ck_assert_uint_eq(c, 9);
	ck_assert_uint_eq(f, 9);
}
END_TEST

START_TEST(breaker_rate_rule_stays_closed_below_threshold)
{
	rate_only(10, 50.0);
	for (int i = 0; i < 10; i++) {
		call(false);
		call(i % 2 == 0); /* 5 failures of 20 = 25% */
		call(false);
		call(false);
	}
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
	calls(3, true); /* 8 of 43 */
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
}
END_TEST

START_TEST(breaker_rate_threshold_zero_disables_rate_rule)
{
	rate_only(1, 0.0);
	ck_assert_uint_eq(brk.p.failure_rate_centi, 0);
	for (int i = 0; i < 200; i++)
		call(i % 3 != 0);
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
}
END_TEST

START_TEST(breaker_old_buckets_fall_out_of_rolling_window)
{
	rate_only(10, 50.0);
	calls(5, true);
	advance(5000); /* half a window: still counted */
	uint64_t c, f;
	fl_breaker_window(&brk, clk.ms, &c, &f);
	ck_assert_uint_eq(c, 5);
	ck_assert_uint_eq(f, 5);
	advance(5000); /* a full rolling_window_ms after them: gone */
	fl_breaker_window(&brk, clk.ms, &c, &f);
	ck_assert_uint_eq(c, 0);
	ck_assert_uint_eq(f, 0);
	calls(4, true);
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED); /* 4 in window, not 9 */
	fl_breaker_window(&brk, clk.ms, &c, &f);
	ck_assert_uint_eq(c, 4);
	/* Totals are not windowed. */
	ck_assert_uint_eq(brk.calls, 9);
}
END_TEST

START_TEST(breaker_rolling_window_slides_bucket_by_bucket)
{
	rate_only(1000, 50.0);
	/* One failure per second for 15 s: the window holds the last 10. */
	for (int i = 0; i < 15; i++) {
		if (i > 0)
			advance(1000);
		call(true);
	}
	uint64_t c, f;
	fl_breaker_window(&brk, clk.ms, &c, &f);
	ck_assert_uint_eq(c, 10);
	ck_assert_uint_eq(f, 10);
	/* An hour later: nothing, though every bucket slot was used before. */
	advance(3600 * 1000);
	fl_breaker_window(&brk, clk.ms, &c, &f);
	ck_assert_uint_eq(c, 0);
}
END_TEST

START_TEST(breaker_failures_before_window_cannot_combine_with_new_ones)
{
	rate_only(10, 50.0);
	calls(8, true);
	advance(20000);
	calls(2, true);
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
	calls(7, true);
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
	call(true); /* 10 in the window now */
	ck_assert_uint_eq(state(), FL_BREAKER_OPEN);
}
END_TEST

/* Issue 10 item 15: a bucket's call count used to stop at 2^20 - 1 while
 * failures went on, so a real 32% rate read as over 50%. 1.8 M calls in
 * one bucket (a 10 s window at 1.8 M calls/s), 8 of every 25 failing. */
START_TEST(breaker_rate_stays_right_past_a_million_calls_a_bucket)
{
	rate_only(100, 50.0);
	const uint32_t n = 1800000;
	uint64_t failed = 0;
	uint32_t rejected = 0;
	for (uint32_t i = 0; i < n; i++) {
		bool failure = i % 25 < 8;
		failed += failure;
		struct fl_permit k;
		if (!admit(&k))
			rejected++;
		else
			record(&k, failure);
	}
	ck_assert_uint_eq(rejected, 0);
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
	uint64_t c, f;
	fl_breaker_window(&brk, clk.ms, &c, &f);
	ck_assert_uint_eq(c, n);
	ck_assert_uint_eq(f, failed);
}
END_TEST

Suite *breaker_rate_suite(void); /* run by runner.c */

Suite *breaker_rate_suite(void)
{
	Suite *s = suite_create("breaker_rate");

	TCase *rate = tcase_create("failure_rate");
	tcase_add_checked_fixture(rate, setup, NULL);
	tcase_add_test(rate, breaker_rate_rule_opens_at_threshold_once_min_requests_reached);
	tcase_add_test(rate, breaker_rate_rule_opens_when_exactly_at_threshold);
	tcase_add_test(rate, breaker_rate_rule_counts_a_success_that_completes_min_requests);
	tcase_add_test(rate, breaker_rate_rule_stays_closed_below_min_requests);
	tcase_add_test(rate, breaker_rate_rule_stays_closed_below_threshold);
	tcase_add_test(rate, breaker_rate_threshold_zero_disables_rate_rule);
	tcase_add_test(rate, breaker_old_buckets_fall_out_of_rolling_window);
	tcase_add_test(rate, breaker_rolling_window_slides_bucket_by_bucket);
	tcase_add_test(rate, breaker_failures_before_window_cannot_combine_with_new_ones);
	tcase_add_test(rate, breaker_rate_stays_right_past_a_million_calls_a_bucket);
	suite_add_tcase(s, rate);
	return s;
}
