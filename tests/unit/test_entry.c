/*
 * test_entry.c - what `faultline trip`, `reset` and `set` write into an
 * entry (lib/entry.c), checked field by field on an entry in plain memory.
 *
 * The CLI used to make these stores itself; tests/integration/
 * test_cli_control.sh runs the commands end to end, these pin each field:
 * what is cleared, what is kept (slots in use, parts not yet ready), and
 * that an entry without the part is left alone.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "breaker.h"
#include "bulkhead.h"
#include "entry.h"

#define NOW_MS 1764222000123ull
#define NOW_NS 5000000000ull

static struct fl_seg_entry *new_entry(bool breaker, bool bulkhead)
{
	struct fl_seg_entry *e = aligned_alloc(64, sizeof(*e));
	ck_assert_ptr_nonnull(e);
	memset(e, 0, sizeof(*e));
	struct fl_rule r;
	if (breaker) {
		fl_rule_defaults(&r, FL_KIND_BREAKER);
		fl_breaker_init(&e->breaker, &r.u.breaker, NOW_MS);
		e->has_breaker = FL_PART_READY;
	}
	if (bulkhead) {
		fl_rule_defaults(&r, FL_KIND_BULKHEAD);
		fl_bulkhead_init(&e->bulkhead, &r.u.bulkhead);
		e->has_bulkhead = FL_PART_READY;
	}
	return e;
}

static uint32_t state(const struct fl_seg_entry *e)
{
	return fl_breaker_word_state(e->breaker.word);
}

/* Failures until the breaker opens (default failure_threshold 5). */
static void open_by_failures(struct fl_seg_entry *e)
{
	for (int i = 0; i < 5; i++) {
		struct fl_permit p;
		ck_assert(fl_breaker_admit(&e->breaker, NOW_NS, NOW_MS, &p));
		fl_breaker_record(&e->breaker, &p, true, NOW_NS, NOW_MS);
	}
	ck_assert_uint_eq(state(e), FL_BREAKER_OPEN);
}

static void count_calls(struct fl_seg_entry *e)
{
	for (unsigned op = 0; op < FL_OP_COUNT; op++) {
		e->ops[op].calls = 10 + op;
		e->ops[op].errors_injected = 3;
		e->ops[op].delays_injected = 2;
		e->ops[op].delay_ms_total = 200;
	}
}

START_TEST(trip_forces_the_breaker_open)
{
	struct fl_seg_entry *e = new_entry(true, false);
	ck_assert(fl_entry_trip(e, NOW_MS + 5));
	ck_assert_uint_eq(state(e), FL_BREAKER_FORCED_OPEN);
	ck_assert_uint_eq(e->breaker.since_ms, NOW_MS + 5);
	free(e);
}
END_TEST

START_TEST(trip_of_an_entry_without_a_ready_breaker_writes_nothing)
{
	struct fl_seg_entry *e = new_entry(false, true);
	struct fl_seg_entry before = *e;
	ck_assert(!fl_entry_trip(e, NOW_MS));
	e->has_breaker = FL_PART_BUSY; /* being filled by its creator */
	ck_assert(!fl_entry_trip(e, NOW_MS));
	e->has_breaker = before.has_breaker;
	ck_assert(memcmp(e, &before, sizeof(before)) == 0);
	free(e);
}
END_TEST

START_TEST(reset_closes_the_breaker_and_clears_its_counters)
{
	struct fl_seg_entry *e = new_entry(true, false);
	open_by_failures(e);
	fl_entry_reset(e, NOW_MS + 7);
	ck_assert_uint_eq(state(e), FL_BREAKER_CLOSED);
	ck_assert_uint_eq(e->breaker.since_ms, NOW_MS + 7);
	ck_assert_uint_eq(e->breaker.calls, 0);
	ck_assert_uint_eq(e->breaker.failures, 0);
	ck_assert_uint_eq(e->breaker.rejected, 0);
	ck_assert_uint_eq(e->breaker.transitions, 0);
	uint64_t calls, failures;
	fl_breaker_window(&e->breaker, NOW_MS + 7, &calls, &failures);
	ck_assert_uint_eq(calls, 0);
	ck_assert_uint_eq(failures, 0);
	free(e);
}
END_TEST

START_TEST(reset_of_a_disabled_breaker_keeps_it_disabled)
{
	struct fl_seg_entry *e = new_entry(true, false);
	fl_breaker_set_disabled(&e->breaker, true, NOW_MS);
	fl_entry_reset(e, NOW_MS + 1);
	ck_assert_uint_eq(state(e), FL_BREAKER_DISABLED);
	free(e);
}
END_TEST

START_TEST(reset_clears_bulkhead_counters_but_keeps_slots_in_use)
{
	struct fl_seg_entry *e = new_entry(false, true);
	e->bulkhead.active = 2;
	e->bulkhead.queued = 1;
	e->bulkhead.peak_active = 9;
	e->bulkhead.rejected = 4;
	e->bulkhead.timeouts = 3;
	fl_entry_reset(e, NOW_MS);
	ck_assert_uint_eq(e->bulkhead.rejected, 0);
	ck_assert_uint_eq(e->bulkhead.timeouts, 0);
	ck_assert_uint_eq(e->bulkhead.peak_active, 2); /* the peak since now */
	ck_assert_uint_eq(e->bulkhead.active, 2);
	ck_assert_uint_eq(e->bulkhead.queued, 1);
	free(e);
}
END_TEST

START_TEST(reset_clears_every_per_call_counter)
{
	struct fl_seg_entry *e = new_entry(false, false); /* a fault-only entry */
	count_calls(e);
	fl_entry_reset(e, NOW_MS);
	for (unsigned op = 0; op < FL_OP_COUNT; op++) {
		ck_assert_uint_eq(e->ops[op].calls, 0);
		ck_assert_uint_eq(e->ops[op].errors_injected, 0);
		ck_assert_uint_eq(e->ops[op].delays_injected, 0);
		ck_assert_uint_eq(e->ops[op].delay_ms_total, 0);
	}
	free(e);
}
END_TEST

START_TEST(reset_leaves_a_part_being_filled_alone)
{
	struct fl_seg_entry *e = new_entry(true, true);
	open_by_failures(e);
	e->bulkhead.rejected = 4;
	e->has_breaker = FL_PART_BUSY;
	e->has_bulkhead = FL_PART_BUSY;
	fl_entry_reset(e, NOW_MS);
	ck_assert_uint_eq(state(e), FL_BREAKER_OPEN);
	ck_assert_uint_eq(e->breaker.failures, 5);
	ck_assert_uint_eq(e->bulkhead.rejected, 4);
	free(e);
}
END_TEST

START_TEST(set_breaker_stores_the_parameters)
{
	struct fl_seg_entry *e = new_entry(true, false);
	struct fl_rule r;
	fl_rule_defaults(&r, FL_KIND_BREAKER);
	r.u.breaker.failure_threshold = 11;
	r.u.breaker.timeout_ms = 250;
	ck_assert(fl_entry_set_breaker(e, &r.u.breaker, NOW_MS));
	ck_assert_uint_eq(e->breaker.p.failure_threshold, 11);
	ck_assert_uint_eq(e->breaker.p.timeout_ms, 250);
	ck_assert_uint_eq(state(e), FL_BREAKER_CLOSED); /* still enabled: no transition */
	ck_assert_uint_eq(e->breaker.transitions, 0);
	free(e);
}
END_TEST

START_TEST(set_breaker_enabled_false_disables_and_true_closes_again)
{
	struct fl_seg_entry *e = new_entry(true, false);
	open_by_failures(e);
	struct fl_rule r;
	fl_rule_defaults(&r, FL_KIND_BREAKER);
	r.u.breaker.enabled = false;
	ck_assert(fl_entry_set_breaker(e, &r.u.breaker, NOW_MS + 1));
	ck_assert_uint_eq(state(e), FL_BREAKER_DISABLED);
	ck_assert_uint_eq(e->breaker.p.enabled, 0);
	r.u.breaker.enabled = true;
	ck_assert(fl_entry_set_breaker(e, &r.u.breaker, NOW_MS + 2));
	ck_assert_uint_eq(state(e), FL_BREAKER_CLOSED);
	ck_assert_uint_eq(e->breaker.p.enabled, 1);
	ck_assert_uint_eq(e->breaker.since_ms, NOW_MS + 2);
	free(e);
}
END_TEST

START_TEST(set_bulkhead_stores_the_parameters_and_wakes_waiters)
{
	struct fl_seg_entry *e = new_entry(false, true);
	uint32_t seq = e->bulkhead.wake_seq;
	struct fl_rule r;
	fl_rule_defaults(&r, FL_KIND_BULKHEAD);
	r.u.bulkhead.max_concurrent_requests = 7;
	r.u.bulkhead.max_queue_size = 0;
	ck_assert(fl_entry_set_bulkhead(e, &r.u.bulkhead));
	ck_assert_uint_eq(e->bulkhead.p.max_concurrent_requests, 7);
	ck_assert_uint_eq(e->bulkhead.p.max_queue_size, 0);
	ck_assert_uint_ne(e->bulkhead.wake_seq, seq);
	free(e);
}
END_TEST

START_TEST(set_of_a_missing_part_writes_nothing)
{
	struct fl_seg_entry *e = new_entry(false, false);
	struct fl_seg_entry before = *e;
	struct fl_rule b, h;
	fl_rule_defaults(&b, FL_KIND_BREAKER);
	fl_rule_defaults(&h, FL_KIND_BULKHEAD);
	ck_assert(!fl_entry_set_breaker(e, &b.u.breaker, NOW_MS));
	ck_assert(!fl_entry_set_bulkhead(e, &h.u.bulkhead));
	ck_assert(memcmp(e, &before, sizeof(before)) == 0);
	free(e);
}
END_TEST

Suite *entry_suite(void); /* run by runner.c */

Suite *entry_suite(void)
{
	Suite *s = suite_create("entry");

	TCase *trip = tcase_create("trip");
	tcase_add_test(trip, trip_forces_the_breaker_open);
	tcase_add_test(trip, trip_of_an_entry_without_a_ready_breaker_writes_nothing);
	suite_add_tcase(s, trip);

	TCase *reset = tcase_create("reset");
	tcase_add_test(reset, reset_closes_the_breaker_and_clears_its_counters);
	tcase_add_test(reset, reset_of_a_disabled_breaker_keeps_it_disabled);
	tcase_add_test(reset, reset_clears_bulkhead_counters_but_keeps_slots_in_use);
	tcase_add_test(reset, reset_clears_every_per_call_counter);
	tcase_add_test(reset, reset_leaves_a_part_being_filled_alone);
	suite_add_tcase(s, reset);

	TCase *set = tcase_create("set");
	tcase_add_test(set, set_breaker_stores_the_parameters);
	tcase_add_test(set, set_breaker_enabled_false_disables_and_true_closes_again);
	tcase_add_test(set, set_bulkhead_stores_the_parameters_and_wakes_waiters);
	tcase_add_test(set, set_of_a_missing_part_writes_nothing);
	suite_add_tcase(s, set);
	return s;
}
