/*
 * test_layers.c - the layer table (lib/layers.h): compiling a layer,
 * writing it under the seqlock, replacing and removing, the full-table
 * messages, expiry, the repair of a table a dead writer left half
 * written, the field checks that keep a bad segment from being trusted,
 * and a reader that never sees a torn view while a writer works.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "seg_fixture.h"

static size_t compile(const char *rules, struct fl_seg_stmt *out)
{
	struct fl_ruleset rs;
	struct fl_diag d;
	fl_ruleset_init(&rs);
	fl_diag_clear(&d);
	ck_assert_msg(fl_parse_inline("--rules", rules, &rs, &d) == 0, "%s", d.error);
	size_t n = 0;
	ck_assert_msg(fl_layer_compile(&rs, out, FL_SEG_LAYER_STMTS, &n, &d) == 0, "%s", d.error);
	fl_ruleset_free(&rs);
	return n;
}

static int put(const char *name, const char *rules, uint64_t now, uint64_t expires, struct fl_diag *d)
{
	static struct fl_seg_stmt stmts[FL_SEG_LAYER_STMTS];
	size_t n = compile(rules, stmts);
	fl_diag_clear(d);
	fl_layers_begin(&seg, now, NULL, NULL);
	int r = fl_layers_put(&seg, name, stmts, n, now, expires, d);
	fl_layers_end(&seg);
	return r;
}

static struct fl_layers_view *view(uint64_t now)
{
	static struct fl_layers_view v;
	ck_assert_int_eq(fl_layers_read(&seg, &v, now, 4), 0);
	return &v;
}

START_TEST(durations_take_ms_s_m_and_bare_milliseconds)
{
	uint64_t ms;
	ck_assert_int_eq(fl_duration_parse("250ms", &ms), 0);
	ck_assert_uint_eq(ms, 250);
	ck_assert_int_eq(fl_duration_parse("30s", &ms), 0);
	ck_assert_uint_eq(ms, 30000);
	ck_assert_int_eq(fl_duration_parse("5m", &ms), 0);
	ck_assert_uint_eq(ms, 300000);
	ck_assert_int_eq(fl_duration_parse("1500", &ms), 0);
	ck_assert_uint_eq(ms, 1500);
	const char *bad[] = {"", "s", "1h", "-1", "10 s", "1.5s", "3000000000", "40000m"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(fl_duration_parse(bad[i], &ms) < 0, "'%s' accepted", bad[i]);
}
END_TEST

START_TEST(layer_names_are_short_plain_words)
{
	ck_assert(fl_layer_name_valid("redis-outage_2.b"));
	ck_assert(!fl_layer_name_valid(""));
	ck_assert(!fl_layer_name_valid("a b"));
	ck_assert(!fl_layer_name_valid("a/b"));
	char longname[80];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert(!fl_layer_name_valid(longname));
	longname[63] = '\0';
	ck_assert(fl_layer_name_valid(longname));
}
END_TEST

START_TEST(timed_keys_parse_and_mark_the_statement_timed)
{
	struct fl_seg_stmt s[2];
	ck_assert_uint_eq(compile("*:1 fault error=EPIPE on=send start_ms=100 duration_ms=200; *:2 fault "
				  "error=EPIPE on=send",
				  s),
			  2);
	ck_assert_uint_eq(s[0].u.fault.start_ms, 100);
	ck_assert_uint_eq(s[0].u.fault.duration_ms, 200);
	ck_assert_uint_eq(s[0].u.fault.timed, 1);
	ck_assert_uint_eq(s[1].u.fault.timed, 0);
	ck_assert_str_eq(s[0].text, "*:1 fault on=send error=EPIPE start_ms=100 duration_ms=200");
	ck_assert_str_eq(s[1].text, "*:2 fault on=send error=EPIPE");
}
END_TEST

/* The kinds an experiment changes live are kept (SPEC 7, 10); the others
 * are refused naming what a layer takes. */
START_TEST(layers_keep_shape_close_and_connection_faults_and_refuse_the_rest)
{
	struct fl_seg_stmt s[8];
	ck_assert_uint_eq(
	    compile("*:1 shape rate_kbps=100; *:1 fault on=close delay_ms=5; *:1 fault eof=true; "
		    "*:1 fault on=recv max_bytes=1 start_ms=10 duration_ms=20; *:1 fault hang_ms=0",
		    s),
	    5);
	ck_assert_uint_eq(s[0].kind, FL_KIND_SHAPE);
	ck_assert_uint_eq(s[0].u.fault.rate_kbps, 100);
	ck_assert_uint_eq(s[1].u.fault.ops, FL_OPS_CLOSE);
	ck_assert(s[2].u.fault.eof);
	s[0].layer_plus1 = 1;
	ck_assert(fl_seg_stmt_check(&s[0]));
	s[0].u.fault.rate_kbps = 0; /* a forged shape without a rate is not trusted */
	ck_assert(!fl_seg_stmt_check(&s[0]));
	static const char *const refused[][2] = {
	    {"*:1 rate_limit rate=5",
	     "a rate_limit statement cannot be kept in a layer (a layer takes fault, "
	     "shape, breaker and bulkhead statements)"},
	    {"api.example.test resolve address=127.0.0.1", "a resolve statement cannot be kept in a layer"},
	    {"api.example.test fault on=resolve error=EAI_AGAIN",
	     "faults on=resolve cannot be kept in a layer"},
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
		struct fl_ruleset rs;
		struct fl_diag d;
		fl_ruleset_init(&rs);
		fl_diag_clear(&d);
		ck_assert_msg(fl_parse_inline("--rules", refused[i][0], &rs, &d) == 0, "%s", d.error);
		size_t n = 0;
		ck_assert_int_lt(fl_layer_compile(&rs, s, 8, &n, &d), 0);
		ck_assert_msg(strstr(d.error, refused[i][1]) != NULL, "%s", d.error);
		fl_ruleset_free(&rs);
	}
}
END_TEST

START_TEST(layers_are_read_in_apply_order_with_statements_in_order)
{
	struct fl_diag d;
	uint32_t g0 = seg.layers->gen;
	ck_assert_int_eq(
	    put("b", "*:1 fault on=send error=EPIPE; *:2 fault on=recv delay_ms=5", NOW_MS, 0, &d), 0);
	ck_assert_uint_eq(seg.layers->gen, g0 + 2);
	ck_assert_int_eq(put("a", "10.0.0.0/8 breaker failure_threshold=3", NOW_MS + 1, NOW_MS + 1000, &d),
			 0);
	struct fl_layers_view *v = view(NOW_MS + 2);
	ck_assert_uint_eq(v->nlayers, 2);
	ck_assert_str_eq(v->layers[0].name, "b");
	ck_assert_str_eq(v->layers[1].name, "a");
	ck_assert_uint_eq(v->layers[0].nstmts, 2);
	ck_assert_str_eq(v->text[v->layers[0].first], "*:1 fault on=send error=EPIPE");
	ck_assert_str_eq(v->text[v->layers[0].first + 1], "*:2 fault on=recv delay_ms=5");
	ck_assert_str_eq(v->text[v->layers[1].first], "10.0.0.0/8 breaker failure_threshold=3");
	ck_assert_uint_eq(v->layers[1].applied_ms, NOW_MS + 1);
	ck_assert_uint_eq(v->layers[1].expires_ms, NOW_MS + 1000);

	/* Replacing "b" moves it to the end, with its new statements. */
	ck_assert_int_eq(put("b", "*:3 fault on=send error=EPIPE", NOW_MS + 3, 0, &d), 0);
	v = view(NOW_MS + 4);
	ck_assert_uint_eq(v->nlayers, 2);
	ck_assert_str_eq(v->layers[1].name, "b");
	ck_assert_uint_eq(v->layers[1].nstmts, 1);
	ck_assert_str_eq(v->text[v->layers[1].first], "*:3 fault on=send error=EPIPE");

	/* An expired layer is not there for readers. */
	v = view(NOW_MS + 1000);
	ck_assert_uint_eq(v->nlayers, 1);
	ck_assert_str_eq(v->layers[0].name, "b");

	fl_layers_begin(&seg, NOW_MS, NULL, NULL);
	ck_assert_int_eq(fl_layers_drop(&seg, "b"), 1);
	ck_assert_int_eq(fl_layers_drop(&seg, "b"), 0);
	fl_layers_end(&seg);
	ck_assert_uint_eq(view(NOW_MS)->nlayers, 1);
	fl_layers_begin(&seg, NOW_MS, NULL, NULL);
	ck_assert_uint_eq(fl_layers_drop_all(&seg), 1);
	fl_layers_end(&seg);
	ck_assert_uint_eq(view(NOW_MS)->nlayers, 0);
}
END_TEST

static int expired_calls;
static char expired_name[64];
static void on_expired(const char *name, void *arg)
{
	(void)arg;
	expired_calls++;
	snprintf(expired_name, sizeof(expired_name), "%s", name);
}

START_TEST(writers_free_expired_layers_and_say_which)
{
	struct fl_diag d;
	ck_assert_int_eq(put("brief", "*:1 fault on=send error=EPIPE", NOW_MS, NOW_MS + 500, &d), 0);
	ck_assert_int_eq(put("marked", "*:1 fault on=send error=EPIPE", NOW_MS, 0, &d), 0);
	/* A process marked "marked" expired (its CAS): freed, no callback (it told). */
	for (uint32_t li = 0; li < FL_SEG_LAYERS; li++)
		if (strcmp(seg.layers->layers[li].name, "marked") == 0)
			seg.layers->layers[li].word =
			    (seg.layers->layers[li].word & ~0xffull) | FL_LAYER_EXPIRED;
	expired_calls = 0;
	fl_layers_begin(&seg, NOW_MS + 500, on_expired, NULL);
	fl_layers_end(&seg);
	ck_assert_int_eq(expired_calls, 1);
	ck_assert_str_eq(expired_name, "brief");
	for (uint32_t s = 0; s < FL_SEG_LAYER_STMTS; s++)
		ck_assert_uint_eq(seg.layers->stmts[s].layer_plus1, 0);
}
END_TEST

START_TEST(a_full_table_says_how_full_and_changes_nothing)
{
	struct fl_diag d;
	char name[16];
	for (int i = 0; i < (int)FL_SEG_LAYERS; i++) {
		snprintf(name, sizeof(name), "l%d", i);
		ck_assert_int_eq(put(name, "*:1 fault on=send error=EPIPE", NOW_MS, 0, &d), 0);
	}
	uint32_t g = seg.layers->gen;
	ck_assert_int_eq(put("more", "*:1 fault on=send error=EPIPE", NOW_MS, 0, &d), -1);
	ck_assert_ptr_nonnull(strstr(d.error, "layer table full: 32 layers exist"));
	ck_assert_uint_eq(seg.layers->gen, g + 2);
	ck_assert_uint_eq(view(NOW_MS)->nlayers, FL_SEG_LAYERS);
	/* Replacing one of the same name fits. */
	ck_assert_int_eq(put("l3", "*:1 fault on=send error=ECONNRESET", NOW_MS, 0, &d), 0);

	/* The statement pool: 32 layers of 8 fill its 256 places. */
	fl_layers_begin(&seg, NOW_MS, NULL, NULL);
	fl_layers_drop_all(&seg);
	fl_layers_end(&seg);
	char rules[1024] = "";
	for (int i = 0; i < 8; i++)
		strcat(rules, "*:1 fault on=send error=EPIPE;");
	for (int i = 0; i < (int)FL_SEG_LAYERS; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		ck_assert_int_eq(put(name, rules, NOW_MS, 0, &d), 0);
	}
	fl_layers_begin(&seg, NOW_MS, NULL, NULL);
	fl_layers_drop(&seg, "p0");
	fl_layers_end(&seg);
	strcat(rules, "*:1 fault on=send error=EPIPE");
	ck_assert_int_eq(put("big", rules, NOW_MS, 0, &d), -1);
	ck_assert_ptr_nonnull(strstr(d.error, "248 of 256 statement places in use by 31 layers"));
	ck_assert_uint_eq(view(NOW_MS)->nlayers, 31);
}
END_TEST

START_TEST(a_table_left_half_written_is_repaired_by_the_next_writer)
{
	struct fl_diag d;
	ck_assert_int_eq(put("good", "*:1 fault on=send error=EPIPE", NOW_MS, 0, &d), 0);
	ck_assert_int_eq(
	    put("torn", "*:1 fault on=send error=EPIPE; *:2 fault on=send error=EPIPE", NOW_MS, 0, &d), 0);
	struct fl_seg_layers *L = seg.layers;
	/* A writer died mid-write: gen odd, one statement of "torn" gone, a
	 * statement of a free layer, and a record with a kind no one writes. */
	L->gen |= 1;
	for (uint32_t s = 0; s < FL_SEG_LAYER_STMTS; s++) {
		uint32_t owner = L->stmts[s].layer_plus1;
		if (owner && strcmp(L->layers[owner - 1].name, "torn") == 0 && L->stmts[s].index == 1)
			L->stmts[s].layer_plus1 = 0;
	}
	L->stmts[200] = L->stmts[0].layer_plus1 ? L->stmts[0] : L->stmts[1];
	L->stmts[200].layer_plus1 = 30; /* layer 29 is free */
	L->stmts[201] = L->stmts[200];
	L->stmts[201].layer_plus1 = 1;
	L->stmts[201].kind = 9;
	/* Readers keep off a table that stays odd. */
	struct fl_layers_view v;
	ck_assert_int_eq(fl_layers_read(&seg, &v, NOW_MS, 3), -1);
	fl_layers_begin(&seg, NOW_MS, NULL, NULL);
	fl_layers_end(&seg);
	ck_assert_uint_eq(L->gen & 1, 0);
	struct fl_layers_view *w = view(NOW_MS);
	ck_assert_uint_eq(w->nlayers, 1);
	ck_assert_str_eq(w->layers[0].name, "good");
	ck_assert_uint_eq(L->stmts[200].layer_plus1, 0);
	ck_assert_uint_eq(L->stmts[201].layer_plus1, 0);
}
END_TEST

START_TEST(records_with_impossible_fields_are_refused)
{
	struct fl_seg_stmt s[1], b;
	compile("127.0.0.1:80 fault on=send error=EPIPE probability=0.5", s);
	s[0].layer_plus1 = 1;
	ck_assert(fl_seg_stmt_check(&s[0]));
	b = s[0];
	b.kind = 7;
	ck_assert(!fl_seg_stmt_check(&b));
	b = s[0];
	b.target.family = 9;
	ck_assert(!fl_seg_stmt_check(&b));
	b = s[0];
	b.target.prefix = 33;
	ck_assert(!fl_seg_stmt_check(&b));
	b = s[0];
	b.u.fault.ops = 0;
	ck_assert(!fl_seg_stmt_check(&b));
	b = s[0];
	b.u.fault.error = 99999;
	ck_assert(!fl_seg_stmt_check(&b));
	b = s[0];
	b.u.fault.probability = 2.0;
	ck_assert(!fl_seg_stmt_check(&b));
	b = s[0];
	b.u.fault.every = 0;
	ck_assert(!fl_seg_stmt_check(&b));
	b = s[0];
	memset(b.text, 'x', sizeof(b.text));
	ck_assert(!fl_seg_stmt_check(&b));
	b = s[0];
	b.layer_plus1 = FL_SEG_LAYERS + 1;
	ck_assert(!fl_seg_stmt_check(&b));
	compile("127.0.0.1:80 breaker", s);
	s[0].layer_plus1 = 1;
	ck_assert(fl_seg_stmt_check(&s[0]));
	b = s[0];
	memset(&b.u.breaker.enabled, 2, 1);
	ck_assert(!fl_seg_stmt_check(&b));
	struct fl_seg_layer l = {.word = fl_layer_word(1, FL_LAYER_ACTIVE), .nstmts = 1};
	strcpy(l.name, "x");
	ck_assert(fl_seg_layer_check(&l));
	l.word = fl_layer_word(1, 5);
	ck_assert(!fl_seg_layer_check(&l));
	l.word = fl_layer_word(1, FL_LAYER_ACTIVE);
	l.nstmts = 0;
	ck_assert(!fl_seg_layer_check(&l));
}
END_TEST

/* A writer swaps layer "w" between two versions whose statements all
 * read alike; a reader must see one version whole, never a mix. */
static int writer_done; /* atomic: the writer thread sets it */

static void *writer(void *arg)
{
	(void)arg;
	struct fl_diag d;
	static struct fl_seg_stmt a[8], b[8];
	size_t na = compile("*:1 fault on=send error=EPIPE;*:1 fault on=send error=EPIPE;*:1 fault on=send "
			    "error=EPIPE;*:1 fault on=send error=EPIPE",
			    a);
	size_t nb = compile("*:2 fault on=recv delay_ms=7;*:2 fault on=recv delay_ms=7;*:2 fault on=recv "
			    "delay_ms=7",
			    b);
	for (int i = 0; i < 3000; i++) {
		fl_diag_clear(&d);
		fl_layers_begin(&seg, NOW_MS, NULL, NULL);
		fl_layers_put(&seg, "w", i % 2 ? a : b, i % 2 ? na : nb, NOW_MS, 0, &d);
		fl_layers_end(&seg);
	}
	__atomic_store_n(&writer_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

START_TEST(a_reader_never_sees_a_torn_layer_while_a_writer_works)
{
	pthread_t t;
	__atomic_store_n(&writer_done, 0, __ATOMIC_RELAXED);
	pthread_create(&t, NULL, writer, NULL);
	static struct fl_layers_view v;
	unsigned seen = 0;
	/* Until the writer is done, and one read after (then stable): the
	 * checks below run at least once even if the writer was never caught. */
	for (int last = 0; !last;) {
		last = __atomic_load_n(&writer_done, __ATOMIC_ACQUIRE);
		if (fl_layers_read(&seg, &v, NOW_MS, 2) < 0 || v.nlayers == 0)
			continue;
		ck_assert_uint_eq(v.nlayers, 1);
		uint32_t n = v.layers[0].nstmts;
		ck_assert_msg(n == 3 || n == 4, "%u statements", n);
		for (uint32_t i = 1; i < n; i++)
			ck_assert_str_eq(v.text[i], v.text[0]);
		ck_assert(strstr(v.text[0], n == 4 ? "*:1" : "*:2") != NULL);
		seen++;
	}
	pthread_join(t, NULL);
	ck_assert_uint_gt(seen, 0);
}
END_TEST

Suite *layers_suite(void);
Suite *layers_suite(void)
{
	Suite *s = suite_create("layers");
	TCase *text = tcase_create("text");
	tcase_add_test(text, durations_take_ms_s_m_and_bare_milliseconds);
	tcase_add_test(text, layer_names_are_short_plain_words);
	tcase_add_test(text, timed_keys_parse_and_mark_the_statement_timed);
	tcase_add_test(text, layers_keep_shape_close_and_connection_faults_and_refuse_the_rest);
	suite_add_tcase(s, text);
	TCase *table = tcase_create("table");
	tcase_add_checked_fixture(table, seg_setup, seg_teardown);
	tcase_add_test(table, layers_are_read_in_apply_order_with_statements_in_order);
	tcase_add_test(table, writers_free_expired_layers_and_say_which);
	tcase_add_test(table, a_full_table_says_how_full_and_changes_nothing);
	tcase_add_test(table, a_table_left_half_written_is_repaired_by_the_next_writer);
	tcase_add_test(table, records_with_impossible_fields_are_refused);
	tcase_add_test(table, a_reader_never_sees_a_torn_layer_while_a_writer_works);
	tcase_set_timeout(table, 60);
	suite_add_tcase(s, table);
	return s;
}
