/*
 * test_breaker.c - the circuit breaker state machine, driven by a fake clock
 * (breaker_fixture.h): closed, open, and the generation and transition
 * count every change of state moves on.
 *
 * The other breaker suites: test_breaker_halfopen.c (trials, their expiry
 * and cancellation, contention for permits), test_breaker_rate.c (the
 * failure-rate rule and its rolling window), test_breaker_controls.c
 * (operator controls, live parameters, errno and name tables).
 */
#include <check.h>
#include <stdlib.h>

#include "breaker_fixture.h"

/* ---- closed ---------------------------------------------------------- */

START_TEST(breaker_starts_closed_at_generation_one)
{
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
	ck_assert_uint_eq(generation(), 1);
	ck_assert_uint_eq(permits(), 0);
	ck_assert_uint_eq(brk.since_ms, T0_MS);
	ck_assert_uint_eq(brk.transitions, 0);
	struct fl_permit p;
	ck_assert(admit(&p));
	ck_assert(p.active);
	ck_assert(!p.trial);
	ck_assert_uint_eq(p.generation, 1);
}
END_TEST

START_TEST(breaker_opens_after_consecutive_failures)
{
	struct fl_breaker_params p = defaults();
	p.failure_threshold = 3;
	start(&p);
	calls(2, true);
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
	ck_assert_uint_eq(brk.consecutive_failures, 2);
	call(true);
	ck_assert_uint_eq(state(), FL_BREAKER_OPEN);
	ck_assert_uint_eq(brk.calls, 3);
	ck_assert_uint_eq(brk.failures, 3);
	ck_assert_uint_eq(brk.transitions, 1);
	ck_assert_uint_eq(brk.opened_ns, clk.ns);
}
END_TEST

START_TEST(breaker_success_resets_consecutive_failures)
{
	struct fl_breaker_params p = defaults();
	p.failure_threshold = 3;
	start(&p);
	calls(2, true);
	call(false);
	ck_assert_uint_eq(brk.consecutive_failures, 0);
	ck_assert_uint_eq(brk.consecutive_successes, 1);
	calls(2, true);
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
	ck_assert_uint_eq(brk.consecutive_failures, 2);
	ck_assert_uint_eq(brk.consecutive_successes, 0);
	call(true);
	ck_assert_uint_eq(state(), FL_BREAKER_OPEN);
	ck_assert_uint_eq(brk.calls, 6);
	ck_assert_uint_eq(brk.failures, 5);
}
END_TEST

START_TEST(breaker_outcome_is_recorded_once_per_permit)
{
	struct fl_permit p;
	ck_assert(admit(&p));
	record(&p, true);
	ck_assert(!p.active);
	record(&p, true);
	fl_breaker_cancel(&brk, &p);
	ck_assert_uint_eq(brk.calls, 1);
	ck_assert_uint_eq(brk.failures, 1);
	ck_assert_uint_eq(brk.consecutive_failures, 1);
}
END_TEST

/* ---- open ------------------------------------------------------------ */

START_TEST(breaker_open_rejects_and_counts_until_timeout)
{
	struct fl_breaker_params p = defaults();
	p.failure_threshold = 1;
	p.timeout_ms = 2000;
	start(&p);
	call(true);
	ck_assert_uint_eq(state(), FL_BREAKER_OPEN);
	struct fl_permit permit;
	ck_assert(!admit(&permit));
	advance(1999);
	ck_assert(!admit(&permit));
	ck_assert_uint_eq(brk.rejected, 2);
	ck_assert_uint_eq(state(), FL_BREAKER_OPEN);
	ck_assert_uint_eq(brk.calls, 1); /* a rejection is not a call */
	advance(1);
	ck_assert(admit(&permit));
	ck_assert(permit.trial);
	ck_assert(permit.active);
	ck_assert_uint_eq(state(), FL_BREAKER_HALF_OPEN);
	ck_assert_uint_eq(permits(), 1);
	ck_assert_uint_eq(permit.generation, generation());
	ck_assert_uint_eq(brk.rejected, 2);
}
END_TEST

START_TEST(breaker_timeout_counts_from_opening_not_from_last_rejection)
{
	struct fl_breaker_params p = defaults();
	p.failure_threshold = 1;
	p.timeout_ms = 1000;
	start(&p);
	call(true);
	struct fl_permit permit;
	for (int i = 0; i < 9; i++) {
		advance(100);
		ck_assert(!admit(&permit));
	}
	advance(100);
	ck_assert(admit(&permit));
	ck_assert_uint_eq(state(), FL_BREAKER_HALF_OPEN);
}
END_TEST

START_TEST(breaker_caller_with_older_clock_reading_is_still_rejected_when_open)
{
	/* Another process opened the breaker after this caller read its clock:
	 * now_ns is older than opened_ns. That is "just opened", not "long ago". */
	struct fl_breaker_params p = defaults();
	p.failure_threshold = 1;
	p.timeout_ms = 1000;
	start(&p);
	call(true);
	struct fl_permit permit;
	ck_assert(!fl_breaker_admit(&brk, clk.ns - 1, clk.ms, &permit));
	ck_assert(!fl_breaker_admit(&brk, clk.ns - 50 * NS_PER_MS, clk.ms, &permit));
	ck_assert_uint_eq(state(), FL_BREAKER_OPEN);
	ck_assert_uint_eq(brk.rejected, 2);
}
END_TEST

/* ---- generations ----------------------------------------------------- */

START_TEST(breaker_outcome_from_older_generation_counts_but_causes_no_transition)
{
	struct fl_breaker_params p = defaults();
	p.failure_threshold = 1;
	p.timeout_ms = 1000;
	start(&p);
	/* Admitted while closed, reported after a reset: counted, no reopening. */
	struct fl_permit before_reset;
	ck_assert(admit(&before_reset));
	fl_breaker_reset(&brk, clk.ms);
	record(&before_reset, true);
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
	ck_assert_uint_eq(brk.calls, 1);
	ck_assert_uint_eq(brk.failures, 1);
	ck_assert_uint_eq(brk.consecutive_failures, 0);

	/* Admitted while closed, reported during half-open: no close, no reopen. */
	struct fl_permit early_ok, early_bad, trial;
	ck_assert(admit(&early_ok));
	ck_assert(admit(&early_bad));
	call(true);
	ck_assert_uint_eq(state(), FL_BREAKER_OPEN);
	advance(1000);
	ck_assert(admit(&trial));
	ck_assert_uint_eq(state(), FL_BREAKER_HALF_OPEN);
	record(&early_ok, false);
	record(&early_ok, false);
	ck_assert_uint_eq(state(), FL_BREAKER_HALF_OPEN);
	ck_assert_uint_eq(brk.consecutive_successes, 0);
	record(&early_bad, true);
	ck_assert_uint_eq(state(), FL_BREAKER_HALF_OPEN);
	ck_assert_uint_eq(permits(), 1);
	ck_assert_uint_eq(brk.calls, 4);
	ck_assert_uint_eq(brk.failures, 3);
}
END_TEST

START_TEST(breaker_late_failure_from_before_trip_does_not_affect_forced_state)
{
	struct fl_permit p;
	ck_assert(admit(&p));
	fl_breaker_trip(&brk, clk.ms);
	record(&p, true);
	ck_assert_uint_eq(state(), FL_BREAKER_FORCED_OPEN);
	ck_assert_uint_eq(brk.failures, 1);
}
END_TEST

START_TEST(breaker_generation_increments_on_every_transition)
{
	struct fl_breaker_params p = defaults();
	p.failure_threshold = 1;
	p.success_threshold = 1;
	p.timeout_ms = 100;
	start(&p);
	struct fl_permit trial;
	uint32_t gen = generation();
	uint64_t expect_transitions = 0;
#define STEP(expected_state)                                                                                 \
	do {                                                                                                 \
		ck_assert_uint_eq(state(), expected_state);                                                  \
		ck_assert_uint_eq(generation(), ++gen);                                                      \
		ck_assert_uint_eq(brk.transitions, ++expect_transitions);                                    \
		ck_assert_uint_eq(brk.since_ms, clk.ms);                                                     \
	} while (0)
	advance(7);
	call(true);
	STEP(FL_BREAKER_OPEN);
	advance(100);
	ck_assert(admit(&trial));
	STEP(FL_BREAKER_HALF_OPEN);
	advance(3);
	record(&trial, false);
	STEP(FL_BREAKER_CLOSED);
	advance(5);
	fl_breaker_trip(&brk, clk.ms);
	STEP(FL_BREAKER_FORCED_OPEN);
	advance(11);
	fl_breaker_set_disabled(&brk, true, clk.ms);
	STEP(FL_BREAKER_DISABLED);
	advance(13);
	fl_breaker_set_disabled(&brk, false, clk.ms);
	STEP(FL_BREAKER_CLOSED);
	advance(17);
	fl_breaker_reset(&brk, clk.ms);
	ck_assert_uint_eq(generation(), ++gen); /* reset also clears transitions */
	ck_assert_uint_eq(brk.since_ms, clk.ms);
#undef STEP
}
END_TEST

START_TEST(breaker_since_ms_stays_put_without_transition)
{
	advance(1234);
	calls(3, true);
	calls(10, false);
	ck_assert_uint_eq(brk.since_ms, T0_MS);
}
END_TEST

Suite *breaker_suite(void); /* run by runner.c */

Suite *breaker_suite(void)
{
	Suite *s = suite_create("breaker");

	TCase *closed = tcase_create("closed");
	tcase_add_checked_fixture(closed, setup, NULL);
	tcase_add_test(closed, breaker_starts_closed_at_generation_one);
	tcase_add_test(closed, breaker_opens_after_consecutive_failures);
	tcase_add_test(closed, breaker_success_resets_consecutive_failures);
	tcase_add_test(closed, breaker_outcome_is_recorded_once_per_permit);
	suite_add_tcase(s, closed);

	TCase *open = tcase_create("open");
	tcase_add_checked_fixture(open, setup, NULL);
	tcase_add_test(open, breaker_open_rejects_and_counts_until_timeout);
	tcase_add_test(open, breaker_timeout_counts_from_opening_not_from_last_rejection);
	tcase_add_test(open, breaker_caller_with_older_clock_reading_is_still_rejected_when_open);
	suite_add_tcase(s, open);

	TCase *gen = tcase_create("generation");
	tcase_add_checked_fixture(gen, setup, NULL);
	tcase_add_test(gen, breaker_outcome_from_older_generation_counts_but_causes_no_transition);
	tcase_add_test(gen, breaker_late_failure_from_before_trip_does_not_affect_forced_state);
	tcase_add_test(gen, breaker_generation_increments_on_every_transition);
	tcase_add_test(gen, breaker_since_ms_stays_put_without_transition);
	suite_add_tcase(s, gen);
	return s;
}
