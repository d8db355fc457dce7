/*
 * test_fault.c - fault decisions: after, every, times, probability, jitter,
 * and reproducibility under a fixed seed.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "fault.h"

static struct fl_fault_params params(void)
{
	struct fl_fault_params p = {0};
	p.ops = FL_OPS_ALL;
	p.error = ECONNRESET;
	p.probability = 1.0;
	p.threshold = fl_probability_threshold(1.0);
	p.every = 1;
	return p;
}

/* Runs n calls, returns a bitmask (bit i = call i fired), n <= 64. */
static uint64_t pattern(const struct fl_fault_params *p, uint64_t seed, int n)
{
	struct fl_fault_counters c = {0};
	struct fl_rng g;
	fl_rng_seed(&g, seed, 0);
	uint64_t bits = 0;
	for (int i = 0; i < n; i++) {
		struct fl_fault_decision d;
		if (fl_fault_decide(p, &c, &g, &d))
			bits |= 1ULL << i;
	}
	return bits;
}

START_TEST(fault_fires_on_every_call_by_default)
{
	struct fl_fault_params p = params();
	ck_assert_uint_eq(pattern(&p, 1, 10), 0x3ff);
}
END_TEST

START_TEST(fault_lets_after_calls_pass_first)
{
	struct fl_fault_params p = params();
	p.after = 3;
	ck_assert_uint_eq(pattern(&p, 1, 6), 0x38); /* calls 3,4,5 */
}
END_TEST

START_TEST(fault_fires_on_every_nth_after_the_first_ones)
{
	struct fl_fault_params p = params();
	p.after = 2;
	p.every = 3;
	ck_assert_uint_eq(pattern(&p, 1, 12), (1u << 2) | (1u << 5) | (1u << 8) | (1u << 11));
}
END_TEST

START_TEST(fault_stops_after_times_injections)
{
	struct fl_fault_params p = params();
	p.times = 2;
	p.every = 2;
	ck_assert_uint_eq(pattern(&p, 1, 10), (1u << 0) | (1u << 2));
}
END_TEST

START_TEST(fault_with_probability_zero_never_fires)
{
	struct fl_fault_params p = params();
	p.probability = 0.0;
	p.threshold = fl_probability_threshold(0.0);
	ck_assert_uint_eq(pattern(&p, 7, 64), 0);
}
END_TEST

START_TEST(fault_probability_is_close_to_asked_over_many_calls)
{
	struct fl_fault_params p = params();
	p.threshold = fl_probability_threshold(0.25);
	struct fl_fault_counters c = {0};
	struct fl_rng g;
	fl_rng_seed(&g, 12345, 0);
	int fired = 0;
	for (int i = 0; i < 100000; i++) {
		struct fl_fault_decision d;
		fired += fl_fault_decide(&p, &c, &g, &d);
	}
	ck_assert_int_gt(fired, 24000);
	ck_assert_int_lt(fired, 26000);
	ck_assert_uint_eq(c.seen, 100000);
	ck_assert_uint_eq(c.fired, (uint64_t)fired);
}
END_TEST

START_TEST(failed_coin_flip_does_not_spend_times)
{
	struct fl_fault_params p = params();
	p.threshold = fl_probability_threshold(0.5);
	p.times = 3;
	struct fl_fault_counters c = {0};
	struct fl_rng g;
	fl_rng_seed(&g, 99, 0);
	int fired = 0;
	for (int i = 0; i < 1000; i++) {
		struct fl_fault_decision d;
		fired += fl_fault_decide(&p, &c, &g, &d);
	}
	ck_assert_int_eq(fired, 3);
}
END_TEST

START_TEST(same_seed_gives_same_pattern_and_other_seed_differs)
{
	struct fl_fault_params p = params();
	p.threshold = fl_probability_threshold(0.5);
	uint64_t a = pattern(&p, 42, 64), b = pattern(&p, 42, 64), c = pattern(&p, 43, 64);
	ck_assert_uint_eq(a, b);
	ck_assert_uint_ne(a, c);
}
END_TEST

START_TEST(threads_streams_differ_for_one_seed)
{
	struct fl_rng a, b;
	fl_rng_seed(&a, 42, 0);
	fl_rng_seed(&b, 42, 1);
	ck_assert_uint_ne(fl_rng_next(&a), fl_rng_next(&b));
}
END_TEST

START_TEST(jitter_stays_within_delay_plus_minus_jitter)
{
	struct fl_fault_params p = params();
	p.error = 0;
	p.delay_ms = 100;
	p.jitter_ms = 30;
	struct fl_fault_counters c = {0};
	struct fl_rng g;
	fl_rng_seed(&g, 5, 0);
	uint32_t lo = UINT32_MAX, hi = 0;
	for (int i = 0; i < 10000; i++) {
		struct fl_fault_decision d;
		ck_assert(fl_fault_decide(&p, &c, &g, &d));
		ck_assert_int_eq(d.error, 0);
		lo = d.delay_ms < lo ? d.delay_ms : lo;
		hi = d.delay_ms > hi ? d.delay_ms : hi;
	}
	ck_assert_uint_eq(lo, 70);
	ck_assert_uint_eq(hi, 130);
}
END_TEST

START_TEST(jitter_larger_than_delay_floors_at_zero)
{
	struct fl_fault_params p = params();
	p.delay_ms = 5;
	p.jitter_ms = 50;
	struct fl_fault_counters c = {0};
	struct fl_rng g;
	fl_rng_seed(&g, 5, 0);
	bool zero = false;
	for (int i = 0; i < 1000; i++) {
		struct fl_fault_decision d = {0};
		ck_assert(fl_fault_decide(&p, &c, &g, &d));
		ck_assert_uint_le(d.delay_ms, 55);
		zero |= d.delay_ms == 0;
	}
	ck_assert(zero);
}
END_TEST

START_TEST(probability_threshold_edges)
{
	ck_assert_uint_eq(fl_probability_threshold(0.0), 0);
	ck_assert_uint_eq(fl_probability_threshold(1.0), UINT64_MAX);
	ck_assert_uint_eq(fl_probability_threshold(0.5), 1ULL << 63);
	ck_assert_uint_lt(fl_probability_threshold(0.9999999999), UINT64_MAX);
	ck_assert_uint_gt(fl_probability_threshold(1e-12), 0);
}
END_TEST

Suite *fault_suite(void); /* run by runner.c */

Suite *fault_suite(void)
{
	Suite *s = suite_create("fault");
	TCase *tc = tcase_create("decide");
	tcase_add_test(tc, fault_fires_on_every_call_by_default);
	tcase_add_test(tc, fault_lets_after_calls_pass_first);
	tcase_add_test(tc, fault_fires_on_every_nth_after_the_first_ones);
	tcase_add_test(tc, fault_stops_after_times_injections);
	tcase_add_test(tc, fault_with_probability_zero_never_fires);
	tcase_add_test(tc, fault_probability_is_close_to_asked_over_many_calls);
	tcase_add_test(tc, failed_coin_flip_does_not_spend_times);
	tcase_add_test(tc, same_seed_gives_same_pattern_and_other_seed_differs);
	tcase_add_test(tc, threads_streams_differ_for_one_seed);
	tcase_add_test(tc, jitter_stays_within_delay_plus_minus_jitter);
	tcase_add_test(tc, jitter_larger_than_delay_floors_at_zero);
	tcase_add_test(tc, probability_threshold_edges);
	suite_add_tcase(s, tc);
	return s;
}
