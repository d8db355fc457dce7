/*
 * test_events.c - the event ring (lib/events.h): order, wrap-around with
 * the dropped count, writers in threads and in forked processes never
 * producing a torn event, a record left half-written (its writer killed)
 * skipped as lost and written over on the next lap, a corrupt record
 * refused; and the writers wired into the state machines: breaker moves
 * with their reasons, bulkhead rejections once a second, layer events.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "atomics.h"
#include "breaker.h"
#include "bulkhead.h"
#include "events.h"
#include "procreg.h"
#include "seg_fixture.h"

Suite *events_suite(void); /* run by runner.c */

static struct fl_event make(uint32_t writer, uint32_t i)
{
	struct fl_event ev;
	memset(&ev, 0, sizeof ev);
	ev.time_ms = NOW_MS + i;
	ev.pid = writer + 1;
	ev.kind = FL_EVENT_LAYER;
	ev.what = FL_LAYER_EV_APPLIED;
	ev.v1 = writer;
	ev.v2 = i;
	ev.v3 = writer ^ (i * 2654435761u);
	ev.count = ((uint64_t)writer << 32) | i;
	snprintf(ev.dest, sizeof ev.dest, "w%u-e%u-destination-text", writer, i);
	snprintf(ev.text, sizeof ev.text, "layer-%u-%u", writer, i);
	return ev;
}

/* Is ev exactly what make(writer, i) wrote, for the writer and i it names? */
static bool consistent(const struct fl_event *ev)
{
	struct fl_event want = make(ev->v1, ev->v2);
	return ev->time_ms == want.time_ms && ev->pid == want.pid && ev->kind == want.kind &&
	       ev->v3 == want.v3 && ev->count == want.count && strcmp(ev->dest, want.dest) == 0 &&
	       strcmp(ev->text, want.text) == 0;
}

static struct fl_event out[FL_SEG_EVENTS + 8];

static int read_all(struct fl_event_reader *r, uint64_t now)
{
	struct fl_diag d;
	fl_diag_clear(&d);
	int n = fl_events_read(&seg, r, now, out, sizeof out / sizeof *out, &d);
	ck_assert_msg(n >= 0, "%s", d.error);
	return n;
}

START_TEST(events_come_back_in_order_with_every_field)
{
	for (uint32_t i = 0; i < 10; i++) {
		struct fl_event ev = make(0, i);
		fl_event_write(&seg, &ev);
	}
	struct fl_event_reader r;
	fl_event_reader_init(&r, &seg, 100);
	ck_assert_int_eq(read_all(&r, 1), 10);
	for (uint32_t i = 0; i < 10; i++) {
		ck_assert_uint_eq(out[i].number, i);
		ck_assert_uint_eq(out[i].v2, i);
		ck_assert(consistent(&out[i]));
	}
	ck_assert_uint_eq(r.next, 10);
	ck_assert_uint_eq(r.dropped + r.lost, 0);
	ck_assert_int_eq(read_all(&r, 1), 0); /* nothing new */
}
END_TEST

START_TEST(events_wrap_around_and_count_what_was_dropped)
{
	struct fl_event_reader r;
	fl_event_reader_init(&r, &seg, 100); /* at 0 */
	uint32_t total = FL_SEG_EVENTS + 100;
	for (uint32_t i = 0; i < total; i++) {
		struct fl_event ev = make(0, i);
		fl_event_write(&seg, &ev);
	}
	ck_assert_int_eq(read_all(&r, 1), FL_SEG_EVENTS);
	ck_assert_uint_eq(r.dropped, 100);
	ck_assert_uint_eq(out[0].v2, 100);
	ck_assert_uint_eq(out[FL_SEG_EVENTS - 1].v2, total - 1);
	for (uint32_t i = 0; i < FL_SEG_EVENTS; i++)
		ck_assert(consistent(&out[i]));
	/* A fresh reader starts at the oldest the ring still holds. */
	struct fl_event_reader fresh;
	fl_event_reader_init(&fresh, &seg, 100);
	ck_assert_uint_eq(fresh.next, 100);
}
END_TEST

/* ---- concurrent writers: threads, then processes ---- */

#define WRITERS	   4
#define PER_WRITER 20000

static void *writer_thread(void *arg)
{
	uint32_t w = (uint32_t)(uintptr_t)arg;
	for (uint32_t i = 0; i < PER_WRITER; i++) {
		struct fl_event ev = make(w, i);
		fl_event_write(&seg, &ev);
	}
	return NULL;
}

/* Reads while the writers write, until all `total` events are accounted
 * for: every event shown is whole, and each writer's come in the order it
 * wrote them. */
static void read_while_writing(uint64_t total)
{
	struct fl_event_reader r;
	fl_event_reader_init(&r, &seg, 1000);
	uint64_t start_at = r.next; /* the writers may have lapped the ring already */
	int64_t last[WRITERS];
	for (int w = 0; w < WRITERS; w++)
		last[w] = -1;
	uint64_t seen = 0;
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (r.next < total) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		ck_assert_msg(now.tv_sec - t0.tv_sec < 60, "the writers never finished (read %llu of %llu)",
			      (unsigned long long)r.next, (unsigned long long)total);
		int n = read_all(&r, (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000);
		for (int i = 0; i < n; i++) {
			ck_assert_msg(consistent(&out[i]), "torn event %llu",
				      (unsigned long long)out[i].number);
			ck_assert_uint_lt(out[i].v1, WRITERS);
			ck_assert_int_gt((int64_t)out[i].v2, last[out[i].v1]);
			last[out[i].v1] = out[i].v2;
		}
		seen += (uint64_t)n;
	}
	ck_assert_msg(start_at + seen + r.dropped + r.lost == total,
		      "seen %llu dropped %llu lost %llu next %llu", (unsigned long long)seen,
		      (unsigned long long)r.dropped, (unsigned long long)r.lost, (unsigned long long)r.next);
	/* Nobody died; a writer preempted between its mark and its publish for
	 * a whole lap of the ring mixes its late stores into the next lap's
	 * record, which the checksum turns into a lost event, never a torn one
	 * shown. On a loaded machine that happens, rarely. */
	ck_assert_uint_lt(r.lost, total / 100);
	ck_assert_uint_gt(seen, 0);
}

START_TEST(events_from_concurrent_threads_are_never_torn)
{
	pthread_t threads[WRITERS];
	for (uintptr_t w = 0; w < WRITERS; w++)
		ck_assert_int_eq(pthread_create(&threads[w], NULL, writer_thread, (void *)w), 0);
	read_while_writing((uint64_t)WRITERS * PER_WRITER);
	for (int w = 0; w < WRITERS; w++)
		pthread_join(threads[w], NULL);
}
END_TEST

START_TEST(events_from_concurrent_processes_are_never_torn)
{
	pid_t kids[WRITERS];
	for (uintptr_t w = 0; w < WRITERS; w++) {
		kids[w] = fork();
		ck_assert_int_ge(kids[w], 0);
		if (kids[w] == 0) {
			writer_thread((void *)w);
			_exit(0);
		}
	}
	read_while_writing((uint64_t)WRITERS * PER_WRITER);
	for (int w = 0; w < WRITERS; w++) {
		int status;
		ck_assert_int_eq(waitpid(kids[w], &status, 0), kids[w]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
}
END_TEST

/* ---- a writer that never finished ---- */

START_TEST(events_a_record_left_half_written_is_waited_for_then_skipped)
{
	struct fl_event a = make(0, 0), b = make(0, 1), c = make(0, 2);
	fl_event_write(&seg, &a);
	uint64_t stuck = fl_event_write_unfinished(&seg, &b); /* its writer "killed" here */
	ck_assert_uint_eq(stuck, 1);
	fl_event_write(&seg, &c);
	struct fl_event_reader r;
	fl_event_reader_init(&r, &seg, 100);
	ck_assert_int_eq(read_all(&r, 1000), 1); /* a; b may still be published: wait */
	ck_assert_uint_eq(out[0].v2, 0);
	ck_assert_int_eq(read_all(&r, 1050), 0);
	ck_assert_uint_eq(r.next, 1);
	ck_assert_int_eq(read_all(&r, 1100), 1); /* grace over: b is lost, c is read */
	ck_assert_uint_eq(out[0].v2, 2);
	ck_assert_uint_eq(r.lost, 1);
	/* The next lap writes over the abandoned record as over any other. */
	for (uint32_t i = 3; i < FL_SEG_EVENTS + 3; i++) {
		struct fl_event ev = make(0, i);
		fl_event_write(&seg, &ev);
	}
	ck_assert_uint_eq(LOAD(&seg.ev_hdr->lost), 0);
	struct fl_event_reader again;
	fl_event_reader_init(&again, &seg, 0);
	ck_assert_int_eq(read_all(&again, 1), FL_SEG_EVENTS);
	ck_assert_uint_eq(again.lost, 0);
	for (uint32_t i = 0; i < FL_SEG_EVENTS; i++)
		ck_assert(consistent(&out[i]));
}
END_TEST

START_TEST(events_a_writer_lapped_while_writing_loses_its_event_not_the_newer_one)
{
	/* Number 0's writer stalls before marking; the ring goes round. */
	__atomic_store_n(&seg.ev_hdr->head, 1, __ATOMIC_RELAXED);
	for (uint32_t i = 1; i <= FL_SEG_EVENTS; i++) {
		struct fl_event ev = make(0, i);
		fl_event_write(&seg, &ev);
	}
	/* Now it would mark record 0, which holds event FL_SEG_EVENTS: refused. */
	struct fl_event late = make(1, 0);
	__atomic_store_n(&seg.ev_hdr->head, 0, __ATOMIC_RELAXED);
	fl_event_write(&seg, &late);
	ck_assert_uint_eq(LOAD(&seg.ev_hdr->lost), 1);
	__atomic_store_n(&seg.ev_hdr->head, FL_SEG_EVENTS + 1, __ATOMIC_RELAXED);
	struct fl_event_reader r;
	fl_event_reader_init(&r, &seg, 0);
	ck_assert_int_eq(read_all(&r, 1), FL_SEG_EVENTS);
	for (uint32_t i = 0; i < FL_SEG_EVENTS; i++)
		ck_assert_uint_eq(out[i].v1, 0);
}
END_TEST

START_TEST(events_a_torn_record_is_never_shown)
{
	struct fl_event a = make(0, 0), b = make(0, 1);
	fl_event_write(&seg, &a);
	fl_event_write(&seg, &b);
	seg.events[0].dest[3] ^= 1; /* a late store of a lapped writer */
	struct fl_event_reader r;
	fl_event_reader_init(&r, &seg, 0);
	ck_assert_int_eq(read_all(&r, 1), 1);
	ck_assert_uint_eq(out[0].v2, 1);
	ck_assert_uint_eq(r.lost, 1);
}
END_TEST

START_TEST(events_a_corrupt_record_is_refused)
{
	struct fl_event bad = make(0, 0);
	bad.kind = 99;
	fl_event_write(&seg, &bad); /* whole and published, but no writer writes kind 99 */
	struct fl_event_reader r;
	fl_event_reader_init(&r, &seg, 0);
	struct fl_diag d;
	fl_diag_clear(&d);
	ck_assert_int_eq(fl_events_read(&seg, &r, 1, out, 8, &d), -1);
	ck_assert_msg(strstr(d.error, "kind 99") != NULL, "%s", d.error);

	struct fl_event unterminated = make(0, 1);
	memset(unterminated.text, 'x', sizeof unterminated.text);
	fl_event_write(&seg, &unterminated); /* fl_event_text would have cut it: forge it after */
	memset(seg.events[1].text, 'x', sizeof seg.events[1].text);
	struct fl_event_reader r2;
	fl_event_reader_init(&r2, &seg, 0);
	r2.next = 1;
	fl_diag_clear(&d);
	/* Forged after its checksum: torn, not shown. */
	ck_assert_int_eq(fl_events_read(&seg, &r2, 1, out, 8, &d), 0);
	ck_assert_uint_eq(r2.lost, 1);
}
END_TEST

/* ---- the writers wired into the state machines ---- */

static struct fl_seg_entry *dest_entry(uint16_t port)
{
	struct fl_dest d;
	memset(&d, 0, sizeof d);
	d.family = FL_AF_INET4;
	d.port = port;
	d.addr[0] = 127, d.addr[3] = 1;
	struct fl_seg_key k;
	fl_seg_key_dest(&k, &d);
	struct fl_seg_entry *e = fl_seg_lookup(&seg, &k, NULL, NULL);
	ck_assert_ptr_nonnull(e);
	return e;
}

static int breaker_events(const char **reasons, char moves[][32])
{
	struct fl_event_reader r;
	fl_event_reader_init(&r, &seg, 0);
	int n = read_all(&r, 1), k = 0;
	for (int i = 0; i < n; i++) {
		if (out[i].kind != FL_EVENT_BREAKER)
			continue;
		ck_assert_str_eq(out[i].dest, "127.0.0.1:6379");
		ck_assert_uint_eq(out[i].pid, (uint32_t)getpid());
		reasons[k] = fl_event_what_name(out[i].kind, out[i].what);
		snprintf(moves[k], 32, "%u>%u", out[i].a, out[i].b);
		k++;
	}
	return k;
}

START_TEST(events_breaker_moves_are_logged_with_their_reasons)
{
	struct fl_seg_entry *e = dest_entry(6379);
	struct fl_rule rule;
	fl_rule_defaults(&rule, FL_KIND_BREAKER);
	rule.u.breaker.failure_threshold = 2;
	rule.u.breaker.success_threshold = 1;
	rule.u.breaker.timeout_ms = 100;
	fl_breaker_init(&e->breaker, &rule.u.breaker, NOW_MS);
	fl_events_bind(&seg);
	uint64_t ns = 1000000000ull, ms = NOW_MS;
	struct fl_permit p;
	for (int i = 0; i < 2; i++) {
		ck_assert(fl_breaker_admit(&e->breaker, ns, ms, &p));
		fl_breaker_record(&e->breaker, &p, true, ns, ms);
	}
	ns += 200000000ull, ms += 200;
	ck_assert(fl_breaker_admit(&e->breaker, ns, ms, &p)); /* timeout: half_open */
	fl_breaker_record(&e->breaker, &p, false, ns, ms);    /* trial succeeded: closed */
	fl_breaker_trip(&e->breaker, ms);
	fl_breaker_reset(&e->breaker, ms);
	fl_events_bind(NULL);
	const char *reasons[8];
	char moves[8][32];
	ck_assert_int_eq(breaker_events(reasons, moves), 5);
	ck_assert_str_eq(reasons[0], "failure_threshold");
	ck_assert_str_eq(moves[0], "0>1");
	ck_assert_str_eq(reasons[1], "timeout");
	ck_assert_str_eq(moves[1], "1>2");
	ck_assert_str_eq(reasons[2], "trial_succeeded");
	ck_assert_str_eq(moves[2], "2>0");
	ck_assert_str_eq(reasons[3], "forced");
	ck_assert_str_eq(moves[3], "0>3");
	ck_assert_str_eq(reasons[4], "reset");
	ck_assert_str_eq(moves[4], "3>0");
}
END_TEST

START_TEST(events_a_breaker_outside_the_bound_segment_writes_nothing)
{
	static struct fl_seg_entry alone; /* a process-local stand-in */
	struct fl_rule rule;
	fl_rule_defaults(&rule, FL_KIND_BREAKER);
	fl_breaker_init(&alone.breaker, &rule.u.breaker, NOW_MS);
	fl_events_bind(&seg);
	fl_breaker_trip(&alone.breaker, NOW_MS);
	fl_events_bind(NULL);
	ck_assert_uint_eq(fl_events_head(&seg), 0);
}
END_TEST

static void *bound_elsewhere(void *arg)
{
	(void)arg;
	return fl_events_bound();
}

/* serve runs CLI commands on many threads: a thread's binding is its own
 * and wins over the process's; closing unbinds it. */
START_TEST(events_a_thread_binding_is_the_thread_own)
{
	static struct fl_seg other;
	fl_events_bind(&other);
	fl_events_bind_thread(&seg);
	ck_assert_ptr_eq(fl_events_bound(), &seg);
	pthread_t t;
	void *seen = NULL;
	ck_assert_int_eq(pthread_create(&t, NULL, bound_elsewhere, NULL), 0);
	pthread_join(t, &seen);
	ck_assert_ptr_eq(seen, &other);
	fl_events_unbind(&seg);
	ck_assert_ptr_eq(fl_events_bound(), &other);
	fl_events_unbind(&other);
	ck_assert_ptr_null(fl_events_bound());
}
END_TEST

START_TEST(events_bulkhead_rejections_are_one_event_a_second)
{
	struct fl_rule rule;
	fl_rule_defaults(&rule, FL_KIND_BULKHEAD);
	rule.u.bulkhead.max_concurrent_requests = 1;
	rule.u.bulkhead.max_queue_size = 0;
	struct fl_dest d;
	memset(&d, 0, sizeof d);
	d.family = FL_AF_INET4;
	d.port = 6380;
	d.addr[0] = 127, d.addr[3] = 1;
	struct fl_seg_key k;
	fl_seg_key_dest(&k, &d);
	struct fl_seg_entry *e = fl_seg_lookup(&seg, &k, init_bulkhead, &rule.u.bulkhead);
	uint32_t me = fl_proc_register(&seg, getpid(), fl_proc_start_ticks(getpid()), "unit", NOW_MS);
	uint32_t h;
	ck_assert_int_eq(fl_bulkhead_acquire(&seg, e, me, false, &h), FL_BULKHEAD_ACQUIRED);
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(fl_bulkhead_acquire(&seg, e, me, false, &h), FL_BULKHEAD_REJECTED);
	struct fl_event_reader r;
	fl_event_reader_init(&r, &seg, 0);
	int n = read_all(&r, 1);
	/* 50 rejections in well under a second or two: one event per second. */
	ck_assert_int_ge(n, 1);
	ck_assert_int_le(n, 2);
	ck_assert_uint_eq(out[0].kind, FL_EVENT_BULKHEAD);
	ck_assert_str_eq(fl_event_what_name(out[0].kind, out[0].what), "rejected");
	ck_assert_str_eq(out[0].dest, "127.0.0.1:6380");
	ck_assert_uint_eq(out[0].count, 1);
	ck_assert_uint_eq(out[0].v1, 1);
	ck_assert_uint_eq(out[0].v2, 1);
}
END_TEST

/* SPEC 10/11 kinds: connection summaries (also on=close), rate limits and
 * failovers one a second per destination and what, read back whole. */
START_TEST(events_connection_rate_limit_and_fallback_kinds)
{
	struct fl_seg_entry *e = dest_entry(6390);
	fl_event_conn(&seg, 7, "127.0.0.1:6390 fault on=close delay_ms=5", 0x40000003u, FL_OPS_CLOSE,
		      FL_CONN_CLOSE_DELAY, NOW_MS / 1000, 3, 15, NOW_MS);
	fl_event_conn(&seg, 7, "127.0.0.1:6390", 0, 1u << FL_OP_RECV, FL_CONN_CORRUPT, NOW_MS / 1000, 2, 9,
		      NOW_MS);
	for (int i = 0; i < 20; i++) {
		fl_event_rate_limit(&seg, e, FL_RATE_EV_REJECTED, NOW_MS + (uint64_t)i);
		fl_event_rate_limit(&seg, e, FL_RATE_EV_DELAYED, NOW_MS + (uint64_t)i);
		fl_event_fallback(&seg, e, "127.0.0.1:6391", NOW_MS + (uint64_t)i);
	}
	fl_event_rate_limit(&seg, e, FL_RATE_EV_REJECTED, NOW_MS + 1000); /* the next second */
	struct fl_event_reader r;
	fl_event_reader_init(&r, &seg, 0);
	ck_assert_int_eq(read_all(&r, 1), 6);
	ck_assert_str_eq(fl_event_kind_name(out[0].kind), "connection");
	ck_assert_str_eq(fl_event_what_name(out[0].kind, out[0].what), "close_delay");
	ck_assert_uint_eq(out[0].a, FL_OPS_CLOSE);
	ck_assert_uint_eq(out[0].v3, 0x40000003u);
	ck_assert_uint_eq(out[0].count, 3);
	ck_assert_uint_eq(out[0].v1, 15);
	ck_assert_str_eq(fl_event_what_name(out[1].kind, out[1].what), "corrupt");
	ck_assert_str_eq(fl_event_kind_name(out[2].kind), "rate_limit");
	ck_assert_str_eq(fl_event_what_name(out[2].kind, out[2].what), "rejected");
	ck_assert_str_eq(out[2].dest, "127.0.0.1:6390");
	ck_assert_str_eq(fl_event_what_name(out[3].kind, out[3].what), "delayed");
	ck_assert_str_eq(fl_event_kind_name(out[4].kind), "fallback");
	ck_assert_str_eq(out[4].text, "127.0.0.1:6391");
	ck_assert_str_eq(fl_event_what_name(out[5].kind, out[5].what), "rejected");
}
END_TEST

START_TEST(events_layers_are_logged_by_name)
{
	fl_event_layer(&seg, 42, "slow-redis", "applied", NOW_MS);
	fl_event_layer(&seg, 42, "slow-redis", "expired", NOW_MS + 5);
	fl_event_layer(&seg, 42, "slow-redis", "bogus", NOW_MS + 6); /* not a layer event: nothing */
	fl_event_layer(&seg, 42, "a-name-longer-than-the-thirty-one-bytes-kept", "removed", NOW_MS + 7);
	struct fl_event_reader r;
	fl_event_reader_init(&r, &seg, 0);
	ck_assert_int_eq(read_all(&r, 1), 3);
	ck_assert_str_eq(fl_event_what_name(out[0].kind, out[0].what), "applied");
	ck_assert_str_eq(out[0].text, "slow-redis");
	ck_assert_str_eq(out[0].dest, "");
	ck_assert_uint_eq(out[0].pid, 42);
	ck_assert_str_eq(fl_event_what_name(out[1].kind, out[1].what), "expired");
	ck_assert_str_eq(out[2].text, "a-name-longer-than-the-thirty-o");
}
END_TEST

Suite *events_suite(void)
{
	Suite *s = suite_create("events");
	TCase *ring = tcase_create("ring");
	tcase_add_checked_fixture(ring, seg_setup, seg_teardown);
	tcase_set_timeout(ring, 120);
	tcase_add_test(ring, events_come_back_in_order_with_every_field);
	tcase_add_test(ring, events_wrap_around_and_count_what_was_dropped);
	tcase_add_test(ring, events_from_concurrent_threads_are_never_torn);
	tcase_add_test(ring, events_from_concurrent_processes_are_never_torn);
	tcase_add_test(ring, events_a_record_left_half_written_is_waited_for_then_skipped);
	tcase_add_test(ring, events_a_writer_lapped_while_writing_loses_its_event_not_the_newer_one);
	tcase_add_test(ring, events_a_torn_record_is_never_shown);
	tcase_add_test(ring, events_a_corrupt_record_is_refused);
	suite_add_tcase(s, ring);
	TCase *writers = tcase_create("writers");
	tcase_add_checked_fixture(writers, seg_setup, seg_teardown);
	tcase_add_test(writers, events_breaker_moves_are_logged_with_their_reasons);
	tcase_add_test(writers, events_a_breaker_outside_the_bound_segment_writes_nothing);
	tcase_add_test(writers, events_a_thread_binding_is_the_thread_own);
	tcase_add_test(writers, events_bulkhead_rejections_are_one_event_a_second);
	tcase_add_test(writers, events_layers_are_logged_by_name);
	tcase_add_test(writers, events_connection_rate_limit_and_fallback_kinds);
	suite_add_tcase(s, writers);
	return s;
}
