/*
 * test_breaker_halfopen.c - the half-open state: how many trials are let
 * through, what closes or reopens the breaker, trials that are never
 * reported, late or cancelled ones, and threads racing for trial permits.
 * Driven by the fake clock of breaker_fixture.h.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>

#include "breaker_fixture.h"

/* ---- half open ------------------------------------------------------- */

START_TEST(breaker_half_open_limits_concurrent_trials)
{
	struct fl_breaker_params p = defaults();
	p.half_open_max_requests = 2;
	start(&p);
	struct fl_permit a, b, c;
	half_open_it(&a);
	ck_assert(admit(&b));
	ck_assert(b.trial);
	ck_assert_uint_eq(permits(), 2);
	uint64_t rejected = brk.rejected;
	ck_assert(!admit(&c));
	ck_assert_uint_eq(brk.rejected, rejected + 1);
	ck_assert_uint_eq(state(), FL_BREAKER_HALF_OPEN);
}
END_TEST

START_TEST(breaker_closes_after_success_threshold_trial_successes)
{
	struct fl_breaker_params p = defaults();
	p.success_threshold = 3;
	struct fl_permit trial;
	start(&p);
	half_open_it(&trial);
	uint32_t gen = generation();
	record(&trial, false);
	ck_assert_uint_eq(state(), FL_BREAKER_HALF_OPEN);
	ck_assert_uint_eq(brk.consecutive_successes, 1);
	ck_assert_uint_eq(permits(), 0); /* the permit went back for the next trial */
	ck_assert(admit(&trial));
	record(&trial, false);
	ck_assert_uint_eq(state(), FL_BREAKER_HALF_OPEN);
	ck_assert(admit(&trial));
	record(&trial, false);
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
	ck_assert_uint_eq(generation(), gen + 1);
	ck_assert_uint_eq(brk.consecutive_successes, 0);
	ck_assert_uint_eq(brk.consecutive_failures, 0);
	ck_assert_uint_eq(permits(), 0);
	uint64_t wcalls, wfails;
	fl_breaker_window(&brk, clk.ms, &wcalls, &wfails);
	ck_assert_uint_eq(wcalls, 0); /* old failures must not reopen it at once */
	ck_assert_uint_eq(wfails, 0);
	/* Totals survive the transition. */
	ck_assert_uint_eq(brk.calls, brk.p.failure_threshold + 3);
}
END_TEST

START_TEST(breaker_closed_after_recovery_needs_full_threshold_to_reopen)
{
	struct fl_permit trial;
	half_open_it(&trial);
	record(&trial, false);
	ck_assert(admit(&trial));
	record(&trial, false);
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
	calls(brk.p.failure_threshold - 1, true);
	ck_assert_uint_eq(state(), FL_BREAKER_CLOSED);
	call(true);
	ck_assert_uint_eq(state(), FL_BREAKER_OPEN);
}
END_TEST

START_TEST(breaker_trial_failure_reopens)
{
	struct fl_breaker_params p = defaults();
	p.timeout_ms = 3000;
	start(&p);
	struct fl_permit trial, later;
	half_open_it(&trial);
	advance(500);
	record(&trial, true);
	ck_assert_uint_eq(state(), FL_BREAKER_OPEN);
	ck_assert_uint_eq(brk.opened_ns, clk.ns);
	ck_assert_uint_eq(permits(), 0);
	/* A full timeout again, counted from the reopening. */
	advance(2999);
	ck_assert(!admit(&later));
	advance(1);
	ck_assert(admit(&later));
	ck_assert(later.trial);
}
END_TEST

START_TEST(breaker_trial_failure_after_a_trial_success_reopens)
{
	struct fl_permit trial;
	half_open_it(&trial);
	record(&trial, false);
	ck_assert(admit(&trial));
	record(&trial, true);
	ck_assert_uint_eq(state(), FL_BREAKER_OPEN);
	ck_assert_uint_eq(brk.consecutive_successes, 0);
}
END_TEST

START_TEST(breaker_unreported_trial_reopens_after_timeout)
{
	struct fl_breaker_params p = defaults();
	p.timeout_ms = 1000;
	start(&p);
	struct fl_permit lost, next;
	half_open_it(&lost); /* its process "dies": no outcome ever */
	uint64_t calls0 = brk.calls, failures0 = brk.failures, transitions0 = brk.transitions;
	advance(999);
	ck_assert(!admit(&next));
	ck_assert_uint_eq(state(), FL_BREAKER_HALF_OPEN);
	advance(1);
	ck_assert(!admit(&next)); /* counts the lost trial as failed, reopens */
	ck_assert_uint_eq(state(), FL_BREAKER_OPEN);
	ck_assert_uint_eq(brk.calls, calls0 + 1);
	ck_assert_uint_eq(brk.failures, failures0 + 1);
	ck_assert_uint_eq(brk.transitions, transitions0 + 1);
	ck_assert_uint_eq(permits(), 0);
	/* Never stuck: after another timeout a new trial goes. */
	advance(1000);
	ck_assert(admit(&next));
	ck_assert(next.trial);
	ck_assert_uint_eq(state(), FL_BREAKER_HALF_OPEN);
	/* The lost trial reporting at last changes nothing. */
	record(&lost, false);
	ck_assert_uint_eq(state(), FL_BREAKER_HALF_OPEN);
	ck_assert_uint_eq(brk.consecutive_successes, 0);
	ck_assert_uint_eq(permits(), 1);
}
END_TEST

/* Issue 10 item 14: one attempt is one call with one outcome. A trial
 * whose permit was reclaimed (counted as a failure) and that reports after
 * all must not count again. */
START_TEST(breaker_late_report_of_reclaimed_trial_counts_nothing)
{
	struct fl_breaker_params p = defaults();
	p.timeout_ms = 1000;
	start(&p);
	struct fl_permit slow, next;
	half_open_it(&slow);
	uint64_t calls0 = brk.calls, failures0 = brk.failures;
	advance(1000);
	ck_assert(!admit(&next)); /* reclaims: the slow trial counts as failed */
	ck_assert_uint_eq(brk.calls, calls0 + 1);
	ck_assert_uint_eq(brk.failures, failures0 + 1);
	record(&slow, true); /* its real outcome, late */
	ck_assert_uint_eq(brk.calls, calls0 + 1);
	ck_assert_uint_eq(brk.failures, failures0 + 1);
	uint64_t c, f;
	fl_breaker_window(&brk, clk.ms, &c, &f);
	ck_assert_uint_eq(c, calls0); /* the window did not see it either */
	ck_assert_uint_eq(f, failures0);
}
END_TEST

/* A reclaim counts every trial it voids, and none of them again. */
START_TEST(breaker_reclaim_counts_each_outstanding_trial_once)
{
	struct fl_breaker_params p = defaults();
	p.timeout_ms = 1000;
	p.half_open_max_requests = 2;
	start(&p);
	struct fl_permit t1, t2, next;
	half_open_it(&t1);
	ck_assert(admit(&t2));
	uint64_t calls0 = brk.calls, failures0 = brk.failures;
	advance(1000);
	ck_assert(!admit(&next));
	ck_assert_uint_eq(brk.calls, calls0 + 2);
	ck_assert_uint_eq(brk.failures, failures0 + 2);
	record(&t1, false);
	record(&t2, true);
	ck_assert_uint_eq(brk.calls, calls0 + 2);
	ck_assert_uint_eq(brk.failures, failures0 + 2);
}
END_TEST

/* A trial of a generation that ended otherwise (another trial failed)
 * still counts its outcome in the statistics. */
START_TEST(breaker_late_trial_of_generation_ended_by_failure_still_counts)
{
	struct fl_breaker_params p = defaults();
	p.half_open_max_requests = 2;
	start(&p);
	struct fl_permit t1, t2;
	half_open_it(&t1);
	ck_assert(admit(&t2));
	record(&t1, true); /* reopens */
	uint64_t calls0 = brk.calls;
	record(&t2, false);
	ck_assert_uint_eq(brk.calls, calls0 + 1);
}
END_TEST

/* Item 14, second half: a connection that succeeded and whose peer later
 * broke is one call that failed, not two calls. */
START_TEST(breaker_late_failure_of_success_is_the_same_call)
{
	struct fl_breaker_params p = defaults();
	p.failure_threshold = 3;
	start(&p);
	uint32_t gen[3];
	for (int i = 0; i < 3; i++) {
		struct fl_permit k;
		ck_assert(admit(&k));
		gen[i] = k.generation;
		record(&k, false);
	}
	for (int i = 0; i < 3; i++)
		fl_breaker_record_late_failure(&brk, gen[i], clk.ns, clk.ms);
	ck_assert_uint_eq(brk.calls, 3);
	ck_assert_uint_eq(brk.failures, 3);
	ck_assert_uint_eq(state(), FL_BREAKER_OPEN);
	uint64_t c, f;
	fl_breaker_window(&brk, clk.ms, &c, &f);
	ck_assert_uint_eq(c, 3);
	ck_assert_uint_eq(f, 3);
}
END_TEST

START_TEST(breaker_trial_expiry_counts_from_newest_permit)
{
	struct fl_breaker_params p = defaults();
	p.timeout_ms = 1000;
	p.half_open_max_requests = 2;
	start(&p);
	struct fl_permit a, b, c;
	half_open_it(&a);
	advance(600);
	ck_assert(admit(&b));
	advance(400); /* a is 1000 ms old, b only 400 */
	ck_assert(!admit(&c));
	ck_assert_uint_eq(state(), FL_BREAKER_HALF_OPEN);
	advance(600);
	ck_assert(!admit(&c));
	ck_assert_uint_eq(state(), FL_BREAKER_OPEN);
}
END_TEST

START_TEST(breaker_caller_with_older_clock_reading_does_not_expire_a_fresh_trial)
{
	/* A trial permit was just given at clk.ns; a caller whose clock reading
	 * is a little older must not take that trial for one lost long ago. */
	struct fl_permit trial, late;
	half_open_it(&trial);
	uint64_t failures = brk.failures;
	ck_assert(!fl_breaker_admit(&brk, clk.ns - 1, clk.ms, &late));
	ck_assert_uint_eq(state(), FL_BREAKER_HALF_OPEN);
	ck_assert_uint_eq(brk.failures, failures);
	record(&trial, false);
	ck_assert_uint_eq(brk.consecutive_successes, 1);
}
END_TEST

START_TEST(breaker_cancel_gives_trial_permit_back)
{
	struct fl_permit trial, other;
	half_open_it(&trial);
	ck_assert(!admit(&other));
	fl_breaker_cancel(&brk, &trial);
	ck_assert(!trial.active);
	ck_assert_uint_eq(permits(), 0);
	ck_assert_uint_eq(state(), FL_BREAKER_HALF_OPEN);
	ck_assert(admit(&other));
	ck_assert(other.trial);
	/* A second cancel of the same permit must not free other's permit. */
	fl_breaker_cancel(&brk, &trial);
	ck_assert_uint_eq(permits(), 1);
	/* A cancelled attempt is no call. */
	ck_assert_uint_eq(brk.calls, brk.p.failure_threshold);
}
END_TEST

START_TEST(breaker_cancel_of_closed_permit_changes_nothing)
{
	struct fl_permit p;
	ck_assert(admit(&p));
	uint64_t word = brk.word;
	fl_breaker_cancel(&brk, &p);
	ck_assert(!p.active);
	ck_assert_uint_eq(brk.word, word);
	ck_assert_uint_eq(brk.calls, 0);
}
END_TEST

START_TEST(breaker_cancel_from_older_generation_keeps_new_permits)
{
	struct fl_breaker_params p = defaults();
	p.timeout_ms = 1000;
	p.half_open_max_requests = 2;
	start(&p);
	struct fl_permit failing, slow, fresh;
	half_open_it(&failing);
	ck_assert(admit(&slow));
	record(&failing, true); /* reopens while slow is still out */
	advance(1000);
	ck_assert(admit(&fresh));
	ck_assert_uint_eq(permits(), 1);
	fl_breaker_cancel(&brk, &slow); /* its half-open period is over */
	ck_assert_uint_eq(permits(), 1);
	ck_assert(!slow.active);
}
END_TEST

/* ---- contention ------------------------------------------------------ */

#define RACERS 8

static pthread_barrier_t race_start;
static int race_admitted;

static void *race_for_a_permit(void *arg)
{
	(void)arg;
	struct fl_permit p;
	pthread_barrier_wait(&race_start);
	for (int i = 0; i < 1000; i++) {
		if (fl_breaker_admit(&brk, clk.ns, clk.ms, &p)) {
			__atomic_fetch_add(&race_admitted, 1, __ATOMIC_RELAXED);
			break;
		}
	}
	return NULL;
}

START_TEST(breaker_half_open_permits_are_never_oversubscribed_under_contention)
{
	struct fl_breaker_params p = defaults();
	p.half_open_max_requests = 3;
	start(&p);
	open_it();
	advance(brk.p.timeout_ms);
	pthread_t t[RACERS];
	race_admitted = 0;
	pthread_barrier_init(&race_start, NULL, RACERS);
	for (int i = 0; i < RACERS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, race_for_a_permit, NULL), 0);
	for (int i = 0; i < RACERS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&race_start);
	ck_assert_int_eq(race_admitted, 3);
	ck_assert_uint_eq(permits(), 3);
	ck_assert_uint_eq(state(), FL_BREAKER_HALF_OPEN);
	ck_assert_uint_eq(brk.transitions, 2); /* one thread moved it to half-open */
}
END_TEST

Suite *breaker_halfopen_suite(void); /* run by runner.c */

Suite *breaker_halfopen_suite(void)
{
	Suite *s = suite_create("breaker_halfopen");

	TCase *half = tcase_create("half_open");
	tcase_add_checked_fixture(half, setup, NULL);
	tcase_add_test(half, breaker_half_open_limits_concurrent_trials);
	tcase_add_test(half, breaker_closes_after_success_threshold_trial_successes);
	tcase_add_test(half, breaker_closed_after_recovery_needs_full_threshold_to_reopen);
	tcase_add_test(half, breaker_trial_failure_reopens);
	tcase_add_test(half, breaker_trial_failure_after_a_trial_success_reopens);
	tcase_add_test(half, breaker_unreported_trial_reopens_after_timeout);
	tcase_add_test(half, breaker_trial_expiry_counts_from_newest_permit);
	tcase_add_test(half, breaker_late_report_of_reclaimed_trial_counts_nothing);
	tcase_add_test(half, breaker_reclaim_counts_each_outstanding_trial_once);
	tcase_add_test(half, breaker_late_trial_of_generation_ended_by_failure_still_counts);
	tcase_add_test(half, breaker_late_failure_of_success_is_the_same_call);
	tcase_add_test(half, breaker_caller_with_older_clock_reading_does_not_expire_a_fresh_trial);
	tcase_add_test(half, breaker_cancel_gives_trial_permit_back);
	tcase_add_test(half, breaker_cancel_of_closed_permit_changes_nothing);
	tcase_add_test(half, breaker_cancel_from_older_generation_keeps_new_permits);
	suite_add_tcase(s, half);

	TCase *race = tcase_create("contention");
	tcase_add_checked_fixture(race, setup, NULL);
	tcase_set_timeout(race, 10);
	tcase_add_test(race, breaker_half_open_permits_are_never_oversubscribed_under_contention);
	suite_add_tcase(s, race);
	return s;
}
