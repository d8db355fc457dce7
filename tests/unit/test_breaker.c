/*
 * test_breaker.c - the circuit breaker state machine, driven by a fake clock.
 *
 * fl_breaker_admit/record take the time as arguments, so every timeout,
 * trial expiry and rolling-window bucket here is reached by advancing two
 * plain integers: no test sleeps. The breaker lives in a zeroed struct, as
 * it would in a freshly claimed segment entry.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "breaker.h"

#define NS_PER_MS 1000000ull
#define T0_MS	  1764222000000ull /* a whole second, so window buckets start aligned */

/* The fake clock: monotonic ns for decisions, Unix ms for display and window. */
static struct {
	uint64_t ns;
	uint64_t ms;
} clk;

static struct fl_seg_breaker brk;

static void advance(uint64_t ms)
{
	clk.ns += ms * NS_PER_MS;
	clk.ms += ms;
}

static struct fl_breaker_params defaults(void)
{
	struct fl_rule r;
	fl_rule_defaults(&r, FL_KIND_BREAKER);
	return r.u.breaker;
}

static void start(const struct fl_breaker_params *p)
{
	memset(&brk, 0, sizeof brk);
	fl_breaker_init(&brk, p, clk.ms);
}

static void setup(void)
{
	clk.ns = 5000 * NS_PER_MS; /* not zero: "opened at 0" must not look special */
	clk.ms = T0_MS;
	struct fl_breaker_params p = defaults();
	start(&p);
}

static uint32_t state(void)
{
	return fl_breaker_word_state(__atomic_load_n(&brk.word, __ATOMIC_ACQUIRE));
}

static uint32_t generation(void)
{
	return fl_breaker_word_generation(__atomic_load_n(&brk.word, __ATOMIC_ACQUIRE));
}

static uint32_t permits(void)
{
	return fl_breaker_word_permits(__atomic_load_n(&brk.word, __ATOMIC_ACQUIRE));
}

static bool admit(struct fl_permit *p)
{
	return fl_breaker_admit(&brk, clk.ns, clk.ms, p);
}

static void record(struct fl_permit *p, bool failure)
{
	fl_breaker_record(&brk, p, failure, clk.ns, clk.ms);
}

/* One whole call that must be admitted. */
static void call(bool failure)
{
	struct fl_permit p;
	ck_assert_msg(admit(&p), "call rejected in state %s", fl_breaker_state_name(state()));
	record(&p, failure);
}

static void calls(unsigned n, bool failure)
{
	for (unsigned i = 0; i < n; i++)
		call(failure);
}

/* Opens a breaker with failure_threshold consecutive failures. */
static void open_it(void)
{
	calls(brk.p.failure_threshold, true);
	ck_assert_str_eq(fl_breaker_state_name(state()), "open");
}

/* Opens it, waits out timeout_ms and takes the first trial permit. */
static void half_open_it(struct fl_permit *trial)
{
	open_it();
	advance(brk.p.timeout_ms);
	ck_assert(admit(trial));
	ck_assert_uint_eq(state(), FL_BREAKER_HALF_OPEN);
	ck_assert(trial->trial);
}

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

/* ---- operator controls ----------------------------------------------- */

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

	TCase *gen = tcase_create("generation");
	tcase_add_checked_fixture(gen, setup, NULL);
	tcase_add_test(gen, breaker_outcome_from_older_generation_counts_but_causes_no_transition);
	tcase_add_test(gen, breaker_late_failure_from_before_trip_does_not_affect_forced_state);
	tcase_add_test(gen, breaker_generation_increments_on_every_transition);
	tcase_add_test(gen, breaker_since_ms_stays_put_without_transition);
	suite_add_tcase(s, gen);

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

	TCase *race = tcase_create("contention");
	tcase_add_checked_fixture(race, setup, NULL);
	tcase_set_timeout(race, 10);
	tcase_add_test(race, breaker_half_open_permits_are_never_oversubscribed_under_contention);
	suite_add_tcase(s, race);
	return s;
}
