/*
 * test_reader.c - snapshots of a segment: what a valid one yields, and
 * that every kind of corruption the CLI could meet is refused with a
 * message naming the record, never read past or printed.
 *
 * Segments are built in ordinary memory with the same functions the shim
 * uses (fl_seg_format, fl_seg_lookup, fl_breaker_init), then damaged.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "breaker.h"
#include "bulkhead.h"
#include "reader.h"
#include "segment.h"

#define NOW_MS 1764222000000ULL
#define CAP    16

static void *mem;
static struct fl_seg seg;
static struct fl_snapshot snap;
static struct fl_diag diag;

static void setup(void)
{
	size_t size = fl_seg_size(CAP);
	mem = calloc(1, size);
	ck_assert_ptr_nonnull(mem);
	fl_seg_format(mem, CAP, "unit", NOW_MS - 5000, 1234);
	ck_assert_int_eq(fl_seg_validate(mem, size, &seg, "test", &diag), 0);
	memset(&snap, 0, sizeof(snap));
	fl_diag_clear(&diag);
}

static void teardown(void)
{
	fl_snapshot_free(&snap);
	free(mem);
}

struct parts {
	bool breaker, bulkhead;
};

static void init_parts(struct fl_seg_entry *e, void *arg)
{
	const struct parts *p = arg;
	e->created_ms = NOW_MS - 1000;
	if (p && p->breaker) {
		struct fl_rule r;
		fl_rule_defaults(&r, FL_KIND_BREAKER);
		r.u.breaker.failure_threshold = 3;
		fl_breaker_init(&e->breaker, &r.u.breaker, NOW_MS - 900);
		strcpy(e->breaker_rule, "127.0.0.1:6379 breaker failure_threshold=3");
		e->has_breaker = 2;
	}
	if (p && p->bulkhead) {
		struct fl_rule r;
		fl_rule_defaults(&r, FL_KIND_BULKHEAD);
		fl_bulkhead_init(&e->bulkhead, &r.u.bulkhead);
		strcpy(e->bulkhead_rule, "127.0.0.1:6379 bulkhead");
		e->has_bulkhead = 2;
	}
}

static struct fl_seg_entry *add_inet(const char *addr4, uint16_t port, bool breaker, bool bulkhead)
{
	struct fl_dest d;
	memset(&d, 0, sizeof(d));
	d.family = FL_AF_INET4;
	d.port = port;
	unsigned a, b, c, e;
	ck_assert_int_eq(sscanf(addr4, "%u.%u.%u.%u", &a, &b, &c, &e), 4);
	d.addr[0] = (uint8_t)a, d.addr[1] = (uint8_t)b, d.addr[2] = (uint8_t)c, d.addr[3] = (uint8_t)e;
	struct fl_seg_key k;
	fl_seg_key_dest(&k, &d);
	struct parts p = {breaker, bulkhead};
	struct fl_seg_entry *entry = fl_seg_lookup(&seg, &k, init_parts, &p);
	ck_assert_ptr_nonnull(entry);
	return entry;
}

static struct fl_seg_entry *add_unix(const char *path)
{
	struct fl_dest d;
	memset(&d, 0, sizeof(d));
	d.family = FL_AF_UNIX;
	d.path_len = (uint16_t)strlen(path);
	memcpy(d.path, path, d.path_len);
	struct fl_seg_key k;
	fl_seg_key_dest(&k, &d);
	struct fl_seg_entry *entry = fl_seg_lookup(&seg, &k, init_parts, NULL);
	ck_assert_ptr_nonnull(entry);
	return entry;
}

static struct fl_seg_entry *add_rule(const char *target)
{
	struct fl_target t;
	const char *why;
	ck_assert_int_eq(fl_target_parse(target, strlen(target), &t, &why), 0);
	struct fl_seg_key k;
	fl_seg_key_rule(&k, &t);
	struct parts p = {true, false};
	struct fl_seg_entry *entry = fl_seg_lookup(&seg, &k, init_parts, &p);
	ck_assert_ptr_nonnull(entry);
	return entry;
}

static int take(void)
{
	fl_snapshot_free(&snap);
	return fl_snapshot_take(&seg, NOW_MS, "seg", &snap, &diag);
}

/* Refused, with a message that says corrupt and names the record. */
static void assert_refused(const char *needle)
{
	ck_assert_int_eq(take(), -1);
	ck_assert_ptr_nonnull(strstr(diag.error, "seg: corrupt segment: "));
	if (!strstr(diag.error, needle))
		ck_abort_msg("message '%s' does not mention '%s'", diag.error, needle);
	ck_assert_uint_eq(snap.nentries, 0);
	ck_assert_ptr_null(snap.entries);
}

static uint32_t index_of(const struct fl_seg_entry *e)
{
	return (uint32_t)(e - seg.entries);
}

START_TEST(valid_segment_gives_every_ready_entry_sorted)
{
	add_rule("10.0.0.0/8");
	add_unix("/run/x.sock");
	add_inet("10.0.0.10", 80, false, false);
	add_inet("10.0.0.2", 80, true, true);
	add_inet("10.0.0.2", 7, false, false);
	ck_assert_int_eq(take(), 0);
	ck_assert_uint_eq(snap.nentries, 5);
	ck_assert_str_eq(snap.entries[0].name, "10.0.0.2:7");
	ck_assert_str_eq(snap.entries[1].name, "10.0.0.2:80");
	ck_assert_str_eq(snap.entries[2].name, "10.0.0.10:80");
	ck_assert_str_eq(snap.entries[3].name, "unix:/run/x.sock");
	ck_assert_str_eq(snap.entries[4].name, "10.0.0.0/8");
	ck_assert_uint_eq(snap.entries[4].key.kind, FL_KEY_RULE);
	ck_assert(snap.entries[1].has_breaker && snap.entries[1].has_bulkhead);
	ck_assert(!snap.entries[0].has_breaker && !snap.entries[0].has_bulkhead);
	ck_assert_str_eq(snap.entries[1].breaker.rule, "127.0.0.1:6379 breaker failure_threshold=3");
	ck_assert_uint_eq(snap.entries[1].breaker.p.failure_threshold, 3);
	ck_assert_uint_eq(snap.entries[1].breaker.state, FL_BREAKER_CLOSED);
	ck_assert_uint_eq(snap.entries[1].bulkhead.p.max_concurrent_requests, 100);
	ck_assert_str_eq(snap.domain, "unit");
	ck_assert_uint_eq(snap.capacity, CAP);
	ck_assert_uint_eq(snap.entries_used, 5);
	ck_assert_uint_eq(snap.created_ms, NOW_MS - 5000);
}
END_TEST

START_TEST(counters_and_rolling_window_are_copied)
{
	struct fl_seg_entry *e = add_inet("127.0.0.1", 6379, true, false);
	for (int i = 0; i < 4; i++) {
		struct fl_permit p;
		ck_assert(fl_breaker_admit(&e->breaker, 1000, NOW_MS - 10, &p));
		fl_breaker_record(&e->breaker, &p, i % 2 == 0, 1000, NOW_MS - 10);
	}
	e->ops[FL_OP_RECV].errors_injected = 7;
	e->overflow_count = 2;
	ck_assert_int_eq(take(), 0);
	const struct fl_snap_breaker *b = &snap.entries[0].breaker;
	ck_assert_uint_eq(b->calls, 4);
	ck_assert_uint_eq(b->failures, 2);
	ck_assert_uint_eq(b->window_calls, 4);
	ck_assert_uint_eq(b->window_failures, 2);
	ck_assert_uint_eq(snap.entries[0].ops[FL_OP_RECV].errors_injected, 7);
	ck_assert_uint_eq(snap.entries[0].overflow_count, 2);
}
END_TEST

START_TEST(entries_still_being_created_are_skipped)
{
	struct fl_seg_entry *e = add_inet("127.0.0.1", 1, false, false);
	add_inet("127.0.0.1", 2, false, false);
	e->status = FL_ENTRY_CLAIMED;
	ck_assert_int_eq(take(), 0);
	ck_assert_uint_eq(snap.nentries, 1);
	ck_assert_str_eq(snap.entries[0].name, "127.0.0.1:2");
}
END_TEST

START_TEST(parts_still_being_written_read_as_absent)
{
	struct fl_seg_entry *e = add_inet("127.0.0.1", 1, true, true);
	e->has_breaker = 1;
	memset(e->breaker_rule, 'x', sizeof(e->breaker_rule)); /* not yet terminated: must not be read */
	ck_assert_int_eq(take(), 0);
	ck_assert(!snap.entries[0].has_breaker);
	ck_assert(snap.entries[0].has_bulkhead);
}
END_TEST

START_TEST(bad_entry_status_is_refused)
{
	struct fl_seg_entry *e = add_inet("127.0.0.1", 1, false, false);
	e->status = 7;
	char needle[64];
	snprintf(needle, sizeof(needle), "entry %u: status 7", index_of(e));
	assert_refused(needle);
}
END_TEST

START_TEST(key_longer_than_its_field_is_refused)
{
	struct fl_seg_entry *e = add_unix("/tmp/s");
	e->key.len = FL_UNIX_PATH_MAX + 1; /* would overflow struct fl_dest's path when formatted */
	e->hash = fl_seg_key_hash(&e->key);
	assert_refused("unix path length 109");
	e->key.len = 0;
	e->hash = fl_seg_key_hash(&e->key);
	assert_refused("unix path length 0");
	struct fl_seg_entry *r = add_rule("*:443");
	e->status = FL_ENTRY_EMPTY;
	r->key.len = FL_SEG_KEY_TEXT;
	r->hash = fl_seg_key_hash(&r->key);
	char needle[64];
	snprintf(needle, sizeof(needle), "target text length %u is not 1..%u", FL_SEG_KEY_TEXT,
		 FL_SEG_KEY_TEXT - 1);
	assert_refused(needle);
}
END_TEST

/* SPEC 9: a name's entry reads as NAME:PORT; a forged one is refused. */
START_TEST(host_name_destinations_read_back_and_bad_ones_are_refused)
{
	struct fl_dest d;
	memset(&d, 0, sizeof(d));
	d.family = FL_AF_INET4;
	d.port = 443;
	d.name = "api.example.com";
	d.name_len = 15;
	struct fl_seg_key k;
	fl_seg_key_dest(&k, &d);
	struct fl_seg_entry *e = fl_seg_lookup(&seg, &k, init_parts, NULL);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(take(), 0);
	ck_assert_str_eq(snap.entries[0].name, "api.example.com:443");
	e->key.text[3] = '\0';
	e->hash = fl_seg_key_hash(&e->key);
	assert_refused("host name length 15 is not 1..103, or holds a NUL");
	e->key.text[3] = '.';
	e->key.len = 0;
	e->hash = fl_seg_key_hash(&e->key);
	assert_refused("host name length 0");
}
END_TEST

START_TEST(bad_family_is_refused)
{
	struct fl_seg_entry *e = add_inet("127.0.0.1", 1, false, false);
	e->key.family = 9;
	e->hash = fl_seg_key_hash(&e->key);
	assert_refused("address family 9");
	e->key.family = FL_AF_ANY; /* "*" is a rule target, never a destination */
	e->hash = fl_seg_key_hash(&e->key);
	assert_refused("address family 0");
	e->status = FL_ENTRY_EMPTY;
	struct fl_seg_entry *r = add_rule("10.0.0.0/8");
	r->key.family = 5;
	r->hash = fl_seg_key_hash(&r->key);
	assert_refused("target family 5");
}
END_TEST

START_TEST(bad_key_kind_and_hash_are_refused)
{
	struct fl_seg_entry *e = add_inet("127.0.0.1", 1, false, false);
	e->key.kind = 3;
	assert_refused("key kind 3");
	e->key.kind = FL_KEY_DEST;
	e->key.port = 2; /* the key changed under its hash */
	assert_refused("hash does not match");
}
END_TEST

START_TEST(ip_destination_with_text_is_refused)
{
	struct fl_seg_entry *e = add_inet("127.0.0.1", 1, false, false);
	e->key.len = 5;
	e->hash = fl_seg_key_hash(&e->key);
	assert_refused("IP destination with text length 5");
}
END_TEST

START_TEST(rule_text_with_nul_is_refused)
{
	struct fl_seg_entry *r = add_rule("10.0.0.0/8");
	r->key.text[2] = '\0';
	r->hash = fl_seg_key_hash(&r->key);
	assert_refused("NUL byte");
}
END_TEST

START_TEST(unterminated_rule_text_is_refused)
{
	struct fl_seg_entry *e = add_inet("127.0.0.1", 1, true, true);
	memset(e->breaker_rule, 'x', sizeof(e->breaker_rule));
	assert_refused("breaker rule text is not terminated");
	strcpy(e->breaker_rule, "ok");
	memset(e->bulkhead_rule, 'y', sizeof(e->bulkhead_rule));
	assert_refused("bulkhead rule text is not terminated");
}
END_TEST

START_TEST(bad_part_flags_and_values_are_refused)
{
	struct fl_seg_entry *e = add_inet("127.0.0.1", 1, true, true);
	e->has_bulkhead = 3;
	assert_refused("bulkhead flag 3");
	e->has_bulkhead = 2;
	e->breaker.word = (e->breaker.word & ~UINT64_C(0xff)) | 9;
	assert_refused("breaker state 9");
	e->breaker.word &= ~UINT64_C(0xff);
	e->breaker.p.scope = 4;
	assert_refused("breaker scope 4");
	e->breaker.p.scope = 0;
	e->bulkhead.p.enabled = 5;
	assert_refused("bulkhead enabled flag 5");
	e->bulkhead.p.enabled = 1;
	e->breaker.p.reject_errno = 0;
	assert_refused("breaker reject_errno 0");
	e->breaker.p.reject_errno = ECONNREFUSED;
	e->overflow_entry = 2;
	assert_refused("overflow flag 2");
	e->overflow_entry = 0;
	ck_assert_int_eq(take(), 0);
}
END_TEST

/* SPEC 11's fields (segment version 4): checked like the rest. */
START_TEST(bad_resilience_values_are_refused)
{
	struct fl_seg_entry *e = add_inet("127.0.0.1", 1, true, false);
	e->breaker_x.mode = 2;
	assert_refused("breaker mode 2");
	e->breaker_x.mode = 1;
	e->breaker_x.fallback_family = 9;
	assert_refused("breaker fallback family 9");
	e->breaker_x.fallback_family = 0;
	e->has_ratelimit = 7;
	assert_refused("rate_limit flag 7");
	e->has_ratelimit = FL_PART_READY;
	e->ratelimit.p.rate = 20;
	e->ratelimit.p.reject_errno = ECONNREFUSED;
	e->ratelimit.p.action = 3;
	assert_refused("rate_limit action 3");
	e->ratelimit.p.action = 1;
	e->ratelimit.p.scope = 2;
	assert_refused("rate_limit scope 2");
	e->ratelimit.p.scope = 0;
	ck_assert_int_eq(take(), 0);
	ck_assert(snap.entries[0].has_ratelimit);
	ck_assert_uint_eq(snap.entries[0].ratelimit.p.rate, 20);
	ck_assert_uint_eq(snap.entries[0].breaker.p.mode, FL_MODE_OBSERVE);
}
END_TEST

START_TEST(header_out_of_range_is_refused)
{
	seg.hdr->entries_used = CAP + 1;
	assert_refused("17 entries in use");
	seg.hdr->entries_used = 0;
	memset(seg.hdr->domain, 'd', sizeof(seg.hdr->domain));
	assert_refused("domain name");
	strcpy(seg.hdr->domain, "bad/name");
	assert_refused("domain name");
}
END_TEST

START_TEST(processes_are_copied_and_checked)
{
	struct fl_seg_proc *p = &seg.procs[5];
	p->pid = 4242;
	p->attach_ms = NOW_MS - 100;
	strcpy(p->cmd, "curl -s http://x");
	p->status = FL_PROC_LIVE;
	seg.procs[9].status = FL_PROC_CLAIMED; /* being filled: not listed */
	ck_assert_int_eq(take(), 0);
	ck_assert_uint_eq(snap.nprocs, 1);
	ck_assert_uint_eq(snap.procs[0].index, 5);
	ck_assert_uint_eq(snap.procs[0].rec.pid, 4242);
	ck_assert_str_eq(snap.procs[0].rec.cmd, "curl -s http://x");
	memset(p->cmd, 'c', sizeof(p->cmd));
	assert_refused("process 5: command text is not terminated");
	p->cmd[0] = '\0';
	p->pid = FL_PID_MAX + 1;
	assert_refused("process 5: pid 4194305");
	p->pid = 1;
	p->token = FL_PROC_TOKEN_OFD + 1;
	assert_refused("process 5: liveness token kind 2 is unknown");
	p->token = FL_PROC_TOKEN_OFD;
	ck_assert_int_eq(take(), 0);
	ck_assert_uint_eq(snap.procs[0].rec.token, FL_PROC_TOKEN_OFD);
	p->status = 6;
	assert_refused("process 5: status 6");
}
END_TEST

START_TEST(holder_indexes_out_of_range_are_refused)
{
	struct fl_seg_holder *h = &seg.holders[3];
	h->entry_plus1 = CAP + 1;
	assert_refused("holder 3: entry index 16 is out of range");
	h->entry_plus1 = 1;
	h->proc = FL_SEG_PROCS;
	assert_refused("holder 3: process index 1024 is out of range");
	h->proc = 0;
	h->primary = seg.holder_capacity;
	assert_refused("holder 3: primary record");
	h->primary = 3;
	ck_assert_int_eq(take(), 0);
	h->entry_plus1 = FL_HOLDER_CLAIMING; /* being filled: its proc is not yet written */
	h->proc = 99999;
	ck_assert_int_eq(take(), 0);
}
END_TEST

START_TEST(text_terminated_checks_within_the_field)
{
	char f[4] = {'a', 'b', 'c', 'd'};
	ck_assert(!fl_text_terminated(f, sizeof(f)));
	f[3] = '\0';
	ck_assert(fl_text_terminated(f, sizeof(f)));
}
END_TEST

Suite *reader_suite(void); /* run by runner.c */

Suite *reader_suite(void)
{
	Suite *s = suite_create("reader");
	TCase *tc = tcase_create("reader");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, valid_segment_gives_every_ready_entry_sorted);
	tcase_add_test(tc, counters_and_rolling_window_are_copied);
	tcase_add_test(tc, entries_still_being_created_are_skipped);
	tcase_add_test(tc, parts_still_being_written_read_as_absent);
	tcase_add_test(tc, bad_entry_status_is_refused);
	tcase_add_test(tc, key_longer_than_its_field_is_refused);
	tcase_add_test(tc, bad_family_is_refused);
	tcase_add_test(tc, host_name_destinations_read_back_and_bad_ones_are_refused);
	tcase_add_test(tc, bad_key_kind_and_hash_are_refused);
	tcase_add_test(tc, ip_destination_with_text_is_refused);
	tcase_add_test(tc, rule_text_with_nul_is_refused);
	tcase_add_test(tc, unterminated_rule_text_is_refused);
	tcase_add_test(tc, bad_part_flags_and_values_are_refused);
	tcase_add_test(tc, bad_resilience_values_are_refused);
	tcase_add_test(tc, header_out_of_range_is_refused);
	tcase_add_test(tc, processes_are_copied_and_checked);
	tcase_add_test(tc, holder_indexes_out_of_range_are_refused);
	tcase_add_test(tc, text_terminated_checks_within_the_field);
	suite_add_tcase(s, tc);
	return s;
}
