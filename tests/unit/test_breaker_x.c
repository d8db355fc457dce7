/*
 * test_breaker_x.c - SPEC 11's breaker additions on the fake clock of
 * breaker_fixture.h: the slow-call rate (at exactly its threshold, never
 * below min_requests_for_rate, slow counted apart from failed), observe
 * mode (transitions, never rejects), and backoff (the open time grows by
 * timeout_multiplier on each re-opening, stops at timeout_max_ms, and a
 * close resets it).
 */
#include <check.h>
#include <stdlib.h>

#include "breaker_fixture.h"

/* One admitted call that takes `ms` from admit to outcome. */
static void timed_call(uint64_t ms, bool failure)
{
	struct fl_permit p;
	ck_assert_msg(admit(&p), "call rejected in state %s", fl_breaker_state_name(state()));
	advance(ms);
	record(&p, failure);
}

/* Slow rule alone: failures never open it. */
static void slow_only(uint32_t min_requests, double rate)
{
	struct fl_breaker_params p = defaults();
	p.failure_threshold = 1000;
	p.failure_rate_threshold = 0;
	p.min_requests_for_rate = min_requests;
	p.slow_call_duration_ms = 100;
	p.slow_call_rate_threshold = rate;
	start(&p);
}

START_TEST(slow_rate_opens_at_exactly_the_threshold)
{
	slow_only(10, 50.0);
	calls(5, false); /* fast */
	for (int i = 0; i < 4; i++)
		timed_call(150, false);
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED); /* 4 of 9 slow */
	timed_call(150, false);			       /* 5 of 10 = 50% */
	ck_assert_uint_eq(state(), FL_BREAKER_OPEN);
	ck_assert_uint_eq(brk_x.slow_calls, 5);
	ck_assert_uint_eq(brk.failures, 0); /* slow is not failed */
}
END_TEST

START_TEST(slow_rate_waits_for_min_requests)
{
	slow_only(10, 50.0);
	for (int i = 0; i < 9; i++)
		timed_call(150, false); /* 100% slow, but 9 calls */
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
	timed_call(150, false);
	ck_assert_uint_eq(state(), FL_BREAKER_OPEN);
}
END_TEST

START_TEST(a_call_of_exactly_the_duration_is_not_slow)
{
	slow_only(1, 100.0);
	timed_call(100, false);
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
	ck_assert_uint_eq(brk_x.slow_calls, 0);
	timed_call(101, false);
	ck_assert_uint_eq(brk_x.slow_calls, 1);
}
END_TEST

START_TEST(slow_and_failed_are_counted_apart)
{
	slow_only(1000, 100.0);
	timed_call(150, true);	/* slow and failed */
	timed_call(10, true);	/* failed only */
	timed_call(150, false); /* slow only */
	ck_assert_uint_eq(brk.calls, 3);
	ck_assert_uint_eq(brk.failures, 2);
	ck_assert_uint_eq(brk_x.slow_calls, 2);
	ck_assert_uint_eq(fl_breaker_window_slow(&brk, clk.ms), 2);
}
END_TEST

START_TEST(slow_calls_off_when_duration_is_zero)
{
	struct fl_breaker_params p = defaults();
	p.min_requests_for_rate = 1;
	start(&p); /* slow_call_rate_threshold 100, duration 0 */
	for (int i = 0; i < 30; i++)
		timed_call(5000, false);
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
	ck_assert_uint_eq(brk_x.slow_calls, 0);
}
END_TEST

START_TEST(a_slow_trial_reopens_a_half_open_breaker)
{
	slow_only(1, 100.0);
	timed_call(150, false);
	ck_assert_uint_eq(state(), FL_BREAKER_OPEN);
	advance(brk.p.timeout_ms);
	timed_call(150, false); /* the trial, slow */
	ck_assert_uint_eq(state(), FL_BREAKER_OPEN);
}
END_TEST

/* ---- observe mode ---------------------------------------------------- */

static void observing(void)
{
	struct fl_breaker_params p = defaults();
	p.failure_threshold = 3;
	p.timeout_ms = 1000;
	p.mode = FL_MODE_OBSERVE;
	start(&p);
}

START_TEST(observe_transitions_but_never_rejects)
{
	observing();
	calls(3, true);
	ck_assert_uint_eq(state(), FL_BREAKER_OPEN);
	calls(4, false); /* an enforcing breaker would reject these */
	ck_assert_uint_eq(state(), FL_BREAKER_OPEN);
	ck_assert_uint_eq(brk.rejected, 0);
	ck_assert_uint_eq(brk_x.would_reject, 4);
	ck_assert_uint_eq(brk.calls, 7); /* every outcome counted */
	advance(1000);
	struct fl_permit trial, extra;
	ck_assert(admit(&trial));
	ck_assert(trial.trial);
	ck_assert_uint_eq(state(), FL_BREAKER_HALF_OPEN);
	ck_assert(admit(&extra)); /* beyond half_open_max_requests: passes, no trial */
	ck_assert(!extra.trial);
	ck_assert_uint_eq(brk_x.would_reject, 5);
	record(&extra, false); /* cannot close it */
	ck_assert_uint_eq(state(), FL_BREAKER_HALF_OPEN);
	record(&trial, false);
	call(false); /* the second trial */
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
	ck_assert_uint_eq(brk.rejected, 0);
}
END_TEST

START_TEST(observe_passes_a_forced_open_breaker)
{
	observing();
	fl_breaker_trip(&brk, clk.ms);
	call(false);
	ck_assert_uint_eq(state(), FL_BREAKER_FORCED_OPEN);
	ck_assert_uint_eq(brk_x.would_reject, 1);
	ck_assert_uint_eq(brk.rejected, 0);
}
END_TEST

START_TEST(enforce_still_rejects)
{
	struct fl_breaker_params p = defaults();
	p.failure_threshold = 1;
	start(&p);
	call(true);
	struct fl_permit x;
	ck_assert(!admit(&x));
	ck_assert_uint_eq(brk.rejected, 1);
	ck_assert_uint_eq(brk_x.would_reject, 0);
}
END_TEST

/* ---- backoff --------------------------------------------------------- */

static void backing_off(uint32_t max_ms)
{
	struct fl_breaker_params p = defaults();
	p.failure_threshold = 1;
	p.success_threshold = 1;
	p.timeout_ms = 1000;
	p.timeout_max_ms = max_ms;
	p.timeout_multiplier = 2.0;
	start(&p);
}

/* Waits out the current open time (not a millisecond less), fails the trial. */
static void fail_trial_after(uint32_t open_ms)
{
	struct fl_permit x;
	advance(open_ms - 1);
	ck_assert_msg(!admit(&x), "admitted 1 ms before the open time of %u ms", open_ms);
	advance(1);
	ck_assert(admit(&x));
	ck_assert(x.trial);
	record(&x, true);
	ck_assert_uint_eq(state(), FL_BREAKER_OPEN);
}

START_TEST(backoff_doubles_and_stops_at_the_max)
{
	backing_off(5000);
	call(true);
	ck_assert_uint_eq(fl_breaker_open_ms(&brk), 1000);
	fail_trial_after(1000);
	ck_assert_uint_eq(fl_breaker_open_ms(&brk), 2000);
	fail_trial_after(2000);
	ck_assert_uint_eq(fl_breaker_open_ms(&brk), 4000);
	fail_trial_after(4000);
	ck_assert_uint_eq(fl_breaker_open_ms(&brk), 5000); /* capped */
	fail_trial_after(5000);
	ck_assert_uint_eq(fl_breaker_open_ms(&brk), 5000);
}
END_TEST

START_TEST(a_close_resets_the_open_time)
{
	backing_off(60000);
	call(true);
	fail_trial_after(1000);
	fail_trial_after(2000);
	ck_assert_uint_eq(fl_breaker_open_ms(&brk), 4000);
	advance(4000);
	call(false); /* trial succeeds: closed */
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
	ck_assert_uint_eq(fl_breaker_open_ms(&brk), 1000);
	call(true); /* opens again from CLOSED: the base time */
	fail_trial_after(1000);
}
END_TEST

START_TEST(no_max_means_no_growth)
{
	backing_off(0);
	call(true);
	fail_trial_after(1000);
	fail_trial_after(1000);
	ck_assert_uint_eq(fl_breaker_open_ms(&brk), 1000);
}
END_TEST

START_TEST(reset_clears_the_new_counters)
{
	backing_off(60000);
	call(true);
	fail_trial_after(1000);
	fl_breaker_reset(&brk, clk.ms);
	ck_assert_uint_eq(fl_breaker_open_ms(&brk), 1000);
	ck_assert_uint_eq(brk_x.slow_calls, 0);
}
END_TEST

Suite *breaker_x_suite(void); /* run by runner.c */

Suite *breaker_x_suite(void)
{
	Suite *s = suite_create("breaker_x");
	TCase *slow = tcase_create("slow");
	tcase_add_checked_fixture(slow, setup, NULL);
	tcase_add_test(slow, slow_rate_opens_at_exactly_the_threshold);
	tcase_add_test(slow, slow_rate_waits_for_min_requests);
	tcase_add_test(slow, a_call_of_exactly_the_duration_is_not_slow);
	tcase_add_test(slow, slow_and_failed_are_counted_apart);
	tcase_add_test(slow, slow_calls_off_when_duration_is_zero);
	tcase_add_test(slow, a_slow_trial_reopens_a_half_open_breaker);
	suite_add_tcase(s, slow);
	TCase *observe = tcase_create("observe");
	tcase_add_checked_fixture(observe, setup, NULL);
	tcase_add_test(observe, observe_transitions_but_never_rejects);
	tcase_add_test(observe, observe_passes_a_forced_open_breaker);
	tcase_add_test(observe, enforce_still_rejects);
	suite_add_tcase(s, observe);
	TCase *backoff = tcase_create("backoff");
	tcase_add_checked_fixture(backoff, setup, NULL);
	tcase_add_test(backoff, backoff_doubles_and_stops_at_the_max);
	tcase_add_test(backoff, a_close_resets_the_open_time);
	tcase_add_test(backoff, no_max_means_no_growth);
	tcase_add_test(backoff, reset_clears_the_new_counters);
	suite_add_tcase(s, backoff);
	return s;
}
