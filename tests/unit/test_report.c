/*
 * test_report.c - what `stats`, `ps` and `domains` print: table alignment
 * and cutting, terminal safety, JSON validity and shape, and Prometheus
 * lines that follow the text exposition format.
 *
 * Snapshots are built by hand here, so every number in the expected text
 * is chosen, and the tests read like the output they pin.
 */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_check.h"
#include "report.h"

#define NOW_MS 1764222000000ULL /* 2025-11-27 05:40:00 UTC */

static struct fl_snap_entry entries[8];
static struct fl_snapshot snap;
static struct fl_out out;

static struct fl_snap_entry *entry(size_t i, const char *name, uint8_t kind)
{
	struct fl_snap_entry *e = &entries[i];
	memset(e, 0, sizeof(*e));
	e->index = (uint32_t)i;
	e->key.kind = kind;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->created_ms = NOW_MS - 60000;
	if (snap.nentries <= i)
		snap.nentries = i + 1;
	return e;
}

static void breaker(struct fl_snap_entry *e, uint32_t state, uint64_t calls, uint64_t failures,
		    uint64_t rejected)
{
	struct fl_rule r;
	fl_rule_defaults(&r, FL_KIND_BREAKER);
	e->has_breaker = true;
	e->breaker.p = r.u.breaker;
	e->breaker.state = state;
	e->breaker.since_ms = NOW_MS - 1000;
	e->breaker.calls = e->breaker.window_calls = calls;
	e->breaker.failures = e->breaker.window_failures = failures;
	e->breaker.rejected = rejected;
	snprintf(e->breaker.rule, sizeof(e->breaker.rule), "%.56s breaker", e->name);
}

static void bulkhead(struct fl_snap_entry *e, uint32_t active, uint32_t queued, uint32_t limit)
{
	struct fl_rule r;
	fl_rule_defaults(&r, FL_KIND_BULKHEAD);
	e->has_bulkhead = true;
	e->bulkhead.p = r.u.bulkhead;
	e->bulkhead.p.max_concurrent_requests = limit;
	e->bulkhead.active = active;
	e->bulkhead.queued = queued;
	snprintf(e->bulkhead.rule, sizeof(e->bulkhead.rule), "%.56s bulkhead", e->name);
}

/* Three entries: a full destination, a fault-only one, a rule entry with overflow. */
static void fixture(void)
{
	struct fl_snap_entry *a = entry(0, "127.0.0.1:6379", FL_KEY_DEST);
	breaker(a, 0, 3, 3, 0);
	bulkhead(a, 2, 1, 10);
	a->bulkhead.rejected = 4;
	a->bulkhead.timeouts = 1;
	a->ops[FL_OP_CONNECT].calls = 3;
	a->ops[FL_OP_CONNECT].errors_injected = 2;
	a->ops[FL_OP_RECV].delays_injected = 3;
	a->ops[FL_OP_RECV].delay_ms_total = 1500;
	struct fl_snap_entry *b = entry(1, "[::1]:80", FL_KEY_DEST);
	b->ops[FL_OP_CONNECT].calls = 12;
	b->ops[FL_OP_SEND].errors_injected = 1;
	b->ops[FL_OP_SEND].delays_injected = 2;
	struct fl_snap_entry *c = entry(2, "10.0.0.0/8", FL_KEY_RULE);
	breaker(c, 1, 10, 5, 7);
	c->breaker.window_calls = 4;
	c->breaker.window_failures = 1;
	c->overflow_count = 4;
}

static void setup(void)
{
	memset(&snap, 0, sizeof(snap));
	snprintf(snap.domain, sizeof(snap.domain), "ci");
	snap.created_ms = NOW_MS - 120000;
	snap.now_ms = NOW_MS;
	snap.capacity = 4096;
	snap.entries = entries;
	fl_out_init(&out);
	setenv("TZ", "UTC", 1);
	tzset();
}

static void teardown(void)
{
	fl_out_free(&out);
}

START_TEST(table_columns_are_aligned)
{
	fixture();
	fl_report_table(&out, &snap, NULL);
	/* clang-format off */
	ck_assert_str_eq(out.p,
			 "DESTINATION     KIND    STATE   CALLS  FAILS  FAIL%  REJECTED  BULKHEAD  BH.REJ  FAULTS\n"
			 "127.0.0.1:6379  dest    closed      3      3  100.0         0    2/1/10       5  connect:2e recv:3d\n"
			 "[::1]:80        dest    -          12      -      -         -         -       -  send:1e+2d\n"
			 "10.0.0.0/8      rule+4  open       10      5   25.0         7         -       -  -\n");
	/* clang-format on */
}
END_TEST

START_TEST(empty_domain_prints_the_header_only)
{
	fl_report_table(&out, &snap, NULL);
	/* clang-format off */
	ck_assert_str_eq(out.p, "DESTINATION  KIND  STATE  CALLS  FAILS  FAIL%  REJECTED  BULKHEAD  BH.REJ  FAULTS\n");
	/* clang-format on */
}
END_TEST

START_TEST(table_lines_are_cut_to_the_width)
{
	fixture();
	struct fl_table_style style = {.width = 20};
	fl_report_table(&out, &snap, &style);
	ck_assert_str_eq(out.p, "DESTINATION     KIND\n"
				"127.0.0.1:6379  dest\n"
				"[::1]:80        dest\n"
				"10.0.0.0/8      rule\n");
}
END_TEST

START_TEST(table_rows_beyond_the_limit_are_counted)
{
	fixture();
	struct fl_table_style style = {.width = 16, .max_rows = 2};
	fl_report_table(&out, &snap, &style);
	ck_assert_str_eq(out.p, "DESTINATION     \n127.0.0.1:6379  \n... 2 more\n");
}
END_TEST

START_TEST(colours_mark_the_state_cell_only_when_asked)
{
	fixture();
	entries[1].has_breaker = true; /* half_open */
	breaker(&entries[1], 2, 0, 0, 0);
	struct fl_table_style style = {.colour = true};
	fl_report_table(&out, &snap, &style);
	ck_assert_ptr_nonnull(strstr(out.p, "\033[1mDESTINATION"));
	ck_assert_ptr_nonnull(strstr(out.p, "\033[32mclosed\033[0m"));
	ck_assert_ptr_nonnull(strstr(out.p, "\033[33mhalf_open\033[0m"));
	ck_assert_ptr_nonnull(strstr(out.p, "\033[31mopen\033[0m"));
	fl_out_reset(&out);
	fl_report_table(&out, &snap, NULL);
	ck_assert_ptr_null(strchr(out.p, '\033'));
}
END_TEST

START_TEST(colour_escapes_do_not_shift_columns)
{
	fixture();
	struct fl_table_style style = {.colour = true};
	fl_report_table(&out, &snap, &style);
	/* Without the escapes, the coloured table is the plain one. */
	char *plain = malloc(out.len + 1);
	size_t n = 0;
	for (const char *p = out.p; *p;) {
		if (*p == '\033') {
			p = strchr(p, 'm') + 1;
			continue;
		}
		plain[n++] = *p++;
	}
	plain[n] = '\0';
	struct fl_out ref;
	fl_out_init(&ref);
	fl_report_table(&ref, &snap, NULL);
	ck_assert_str_eq(plain, ref.p);
	fl_out_free(&ref);
	free(plain);
}
END_TEST

START_TEST(names_are_made_safe_for_a_terminal)
{
	struct fl_snap_entry *e = entry(0, "", FL_KEY_DEST);
	snprintf(e->name, sizeof(e->name), "unix:/tmp/\033[2Jx\ny\xc2\x9b\xff\xc3\xa9");
	fl_report_table(&out, &snap, NULL);
	ck_assert_ptr_null(strchr(out.p, '\033'));
	ck_assert_ptr_nonnull(strstr(out.p, "unix:/tmp/?[2Jx?y??\xc3\xa9  dest"));
	char safe[64];
	fl_report_sanitize("a\x7f\xed\xa0\x80z", safe, sizeof(safe)); /* DEL, a UTF-16 surrogate */
	ck_assert_str_eq(safe, "a????z");
	ck_assert_uint_eq(fl_report_text_width("\xc3\xa9t\xc3\xa9"), 3);
}
END_TEST

START_TEST(rates_print_with_one_or_two_decimals)
{
	char buf[32];
	fl_report_format_rate(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0.0");
	fl_report_format_rate(100, buf, sizeof(buf));
	ck_assert_str_eq(buf, "100.0");
	fl_report_format_rate(100.0 / 3, buf, sizeof(buf));
	ck_assert_str_eq(buf, "33.33");
	fl_report_format_rate(12.5, buf, sizeof(buf));
	ck_assert_str_eq(buf, "12.5");
	struct fl_snap_breaker b = {.window_calls = 0, .window_failures = 0};
	ck_assert(fl_report_failure_rate(&b) == 0.0);
	b.window_calls = 8;
	b.window_failures = 2;
	ck_assert(fl_report_failure_rate(&b) == 25.0);
}
END_TEST

START_TEST(json_checker_tells_valid_from_invalid)
{
	ck_assert(json_valid("{\"a\": [1, -2.5e3, true, null, \"x\\u00e9\"], \"b\": {}}"));
	ck_assert(!json_valid("{\"a\": 1,}"));
	ck_assert(!json_valid("{\"a\" 1}"));
	ck_assert(!json_valid("[01]"));
	ck_assert(!json_valid("\"tab\there\""));
	ck_assert(!json_valid("{} {}"));
}
END_TEST

START_TEST(json_is_valid_and_has_the_spec_shape)
{
	fixture();
	fl_report_json(&out, &snap);
	ck_assert_msg(json_valid(out.p), "invalid JSON:\n%s", out.p);
	/* clang-format off */
	static const char *const expected[] = {
		"{\"domain\": \"ci\", \"created\": 1764221880000, ",
		"\"destinations\": [",
		"{\"destination\": \"127.0.0.1:6379\", \"kind\": \"destination\", \"rule\": \"127.0.0.1:6379 breaker\"",
		"\"breaker\": {\"state\": \"closed\", \"since\": 1764221999000, \"calls\": 3, \"failures\": 3, "
		"\"rejected\": 0, \"consecutive_failures\": 0, \"consecutive_successes\": 0, \"failure_rate\": 100.0",
		"\"transitions\": 0",
		"\"failure_threshold\": 5, \"success_threshold\": 2, \"timeout_ms\": 60000, "
		"\"half_open_max_requests\": 1, \"failure_rate_threshold\": 50.0, \"min_requests_for_rate\": 20, "
		"\"rolling_window_ms\": 10000, \"reject_errno\": \"ECONNREFUSED\", \"scope\": \"destination\", "
		"\"enabled\": true",
		"\"bulkhead\": {\"active\": 2, \"queued\": 1, \"limit\": 10, \"rejected\": 4, \"timeouts\": 1, "
		"\"peak_active\": 0, \"max_concurrent_requests\": 10, \"max_queue_size\": 10, \"queue_timeout_ms\": 5000, "
		"\"reject_errno\": \"ECONNREFUSED\", \"scope\": \"destination\", \"enabled\": true",
		"\"ops\": {\"connect\": {\"calls\": 3, \"errors_injected\": 2, \"delays_injected\": 0, "
		"\"delay_ms_total\": 0}, \"send\": {",
		"\"recv\": {\"calls\": 0, \"errors_injected\": 0, \"delays_injected\": 3, \"delay_ms_total\": 1500}",
		"{\"destination\": \"[::1]:80\", \"kind\": \"destination\", \"rule\": null",
		"\"breaker\": null",
		"\"bulkhead\": null",
		"{\"destination\": \"10.0.0.0/8\", \"kind\": \"rule\"",
		"\"overflow\": 4",
		"\"state\": \"open\"",
		"\"failure_rate\": 25.0",
	};
	/* clang-format on */
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
		ck_assert_msg(strstr(out.p, expected[i]), "missing %s in:\n%s", expected[i], out.p);
}
END_TEST

START_TEST(json_of_an_empty_domain_is_valid)
{
	fl_report_json(&out, &snap);
	ck_assert(json_valid(out.p));
	ck_assert_ptr_nonnull(strstr(out.p, "\"destinations\": []}"));
}
END_TEST

START_TEST(json_strings_are_escaped_and_always_utf8)
{
	fl_report_json_string(&out, "a\"b\\c\nd\x01\xff\xc3\xa9");
	ck_assert_str_eq(out.p, "\"a\\\"b\\\\c\\nd\\u0001\\ufffd\xc3\xa9\"");
	struct fl_snap_entry *e = entry(0, "", FL_KEY_DEST);
	snprintf(e->name, sizeof(e->name), "unix:/tmp/\"q\"\t\x80");
	breaker(e, 4, 0, 0, 0);
	e->breaker.p.reject_errno = 4000; /* no name: printed as its number */
	fl_out_reset(&out);
	fl_report_json(&out, &snap);
	ck_assert(json_valid(out.p));
	ck_assert_ptr_nonnull(strstr(out.p, "\"destination\": \"unix:/tmp/\\\"q\\\"\\t\\ufffd\""));
	ck_assert_ptr_nonnull(strstr(out.p, "\"reject_errno\": \"4000\""));
	ck_assert_ptr_nonnull(strstr(out.p, "\"state\": \"disabled\""));
}
END_TEST

/* ---- Prometheus ---- */

#define NAME  "[a-zA-Z_:][a-zA-Z0-9_:]*"
#define LABEL "[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\\n]|\\\\[\"\\\\n])*\""

/* Each line is a HELP, a TYPE or a sample; every sample's family was declared; no series twice. */
static void assert_exposition_format(const char *text)
{
	regex_t help, type, sample;
	ck_assert_int_eq(regcomp(&help, "^# HELP " NAME " [^\n]*$", REG_EXTENDED | REG_NOSUB), 0);
	ck_assert_int_eq(regcomp(&type, "^# TYPE (" NAME ") (gauge|counter)$", REG_EXTENDED), 0);
	ck_assert_int_eq(
	    regcomp(&sample, "^(" NAME ")\\{" LABEL "(," LABEL ")*\\} [0-9]+(\\.[0-9]+)?$", REG_EXTENDED), 0);
	char *copy = strdup(text), *save = NULL, family[128] = "";
	char *seen[512];
	size_t nseen = 0;
	ck_assert(text[strlen(text) - 1] == '\n');
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		regmatch_t m[2];
		if (regexec(&help, line, 0, NULL, 0) == 0)
			continue;
		if (regexec(&type, line, 2, m, 0) == 0) {
			snprintf(family, sizeof(family), "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
				 line + m[1].rm_so);
			continue;
		}
		ck_assert_msg(regexec(&sample, line, 2, m, 0) == 0, "not a valid exposition line: '%s'",
			      line);
		ck_assert_msg(strncmp(line, family, strlen(family)) == 0 && line[strlen(family)] == '{',
			      "sample '%s' outside its family '%s'", line, family);
		const char *series_end = strrchr(line, ' ');
		for (size_t i = 0; i < nseen; i++)
			ck_assert_msg(strncmp(seen[i], line, (size_t)(series_end - line)) != 0 ||
					  seen[i][series_end - line] != ' ',
				      "series twice: %s", line);
		ck_assert(nseen < 512);
		seen[nseen++] = line;
	}
	free(copy);
	regfree(&help);
	regfree(&type);
	regfree(&sample);
}

START_TEST(prometheus_lines_follow_the_exposition_format)
{
	fixture();
	fl_report_prometheus(&out, &snap);
	assert_exposition_format(out.p);
	/* clang-format off */
	static const char *const expected[] = {
		"# HELP faultline_breaker_state ",
		"# TYPE faultline_breaker_state gauge\n",
		"faultline_breaker_state{destination=\"127.0.0.1:6379\"} 0\n",
		"faultline_breaker_state{destination=\"10.0.0.0/8\"} 1\n",
		"# TYPE faultline_breaker_calls_total counter\n",
		"faultline_breaker_calls_total{destination=\"127.0.0.1:6379\"} 3\n",
		"faultline_breaker_failures_total{destination=\"10.0.0.0/8\"} 5\n",
		"faultline_breaker_rejected_total{destination=\"10.0.0.0/8\"} 7\n",
		"faultline_breaker_transitions_total{destination=\"10.0.0.0/8\"} 0\n",
		"faultline_bulkhead_active{destination=\"127.0.0.1:6379\"} 2\n",
		"faultline_bulkhead_queued{destination=\"127.0.0.1:6379\"} 1\n",
		"faultline_bulkhead_limit{destination=\"127.0.0.1:6379\"} 10\n",
		"faultline_bulkhead_rejected_total{destination=\"127.0.0.1:6379\"} 4\n",
		"faultline_bulkhead_timeouts_total{destination=\"127.0.0.1:6379\"} 1\n",
		"faultline_faults_injected_total{destination=\"127.0.0.1:6379\",op=\"connect\",kind=\"error\"} 2\n",
		"faultline_faults_injected_total{destination=\"[::1]:80\",op=\"send\",kind=\"delay\"} 2\n",
		"faultline_delay_seconds_total{destination=\"127.0.0.1:6379\",op=\"recv\"} 1.500\n",
		"faultline_calls_total{destination=\"[::1]:80\",op=\"connect\"} 12\n",
	};
	/* clang-format on */
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
		ck_assert_msg(strstr(out.p, expected[i]), "missing %s", expected[i]);
	ck_assert_ptr_null(strstr(out.p, "faultline_breaker_state{destination=\"[::1]:80\"}"));
	ck_assert_ptr_null(strstr(out.p, "faultline_bulkhead_active{destination=\"10.0.0.0/8\"}"));
}
END_TEST

START_TEST(prometheus_declares_every_family_of_an_empty_domain)
{
	fl_report_prometheus(&out, &snap);
	assert_exposition_format(out.p);
	/* clang-format off */
	static const char *const families[] = {
		"faultline_breaker_state gauge",	 "faultline_breaker_calls_total counter",
		"faultline_breaker_failures_total counter", "faultline_breaker_rejected_total counter",
		"faultline_breaker_transitions_total counter", "faultline_bulkhead_active gauge",
		"faultline_bulkhead_queued gauge",	 "faultline_bulkhead_limit gauge",
		"faultline_bulkhead_rejected_total counter", "faultline_bulkhead_timeouts_total counter",
		"faultline_faults_injected_total counter", "faultline_delay_seconds_total counter",
		"faultline_calls_total counter",
	};
	/* clang-format on */
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		char line[128];
		snprintf(line, sizeof(line), "# TYPE %s\n", families[i]);
		ck_assert_msg(strstr(out.p, line), "missing %s", line);
	}
}
END_TEST

START_TEST(prometheus_merges_entries_of_one_name)
{
	struct fl_snap_entry *dest = entry(0, "127.0.0.1:6379", FL_KEY_DEST);
	dest->ops[FL_OP_CONNECT].calls = 5;
	struct fl_snap_entry *rule = entry(1, "127.0.0.1:6379", FL_KEY_RULE);
	breaker(rule, 1, 5, 5, 2);
	rule->ops[FL_OP_CONNECT].calls = 1;
	fl_report_prometheus(&out, &snap);
	assert_exposition_format(out.p);
	ck_assert_ptr_nonnull(
	    strstr(out.p, "faultline_calls_total{destination=\"127.0.0.1:6379\",op=\"connect\"} 6\n"));
	ck_assert_ptr_nonnull(strstr(out.p, "faultline_breaker_state{destination=\"127.0.0.1:6379\"} 1\n"));
}
END_TEST

START_TEST(prometheus_label_values_are_escaped)
{
	struct fl_snap_entry *e = entry(0, "", FL_KEY_DEST);
	snprintf(e->name, sizeof(e->name), "unix:/tmp/a\"b\\c\nd\xff");
	fl_report_prometheus(&out, &snap);
	assert_exposition_format(out.p);
	ck_assert_ptr_nonnull(strstr(
	    out.p,
	    "faultline_calls_total{destination=\"unix:/tmp/a\\\"b\\\\c\\nd\xef\xbf\xbd\",op=\"read\"} 0\n"));
}
END_TEST

/* ---- ps and domains ---- */

static void procs(struct fl_snap_proc *p)
{
	memset(p, 0, 2 * sizeof(*p));
	p[0].rec.pid = 42;
	p[0].rec.attach_ms = NOW_MS;
	snprintf(p[0].rec.cmd, sizeof(p[0].rec.cmd), "curl -s http://127.0.0.1:8080/");
	p[1].rec.pid = 31337;
	p[1].rec.attach_ms = NOW_MS + 61000;
	snprintf(p[1].rec.cmd, sizeof(p[1].rec.cmd), "python3 \033]0;x");
	snap.procs = p;
	snap.nprocs = 2;
}

START_TEST(ps_lists_pid_since_alive_and_command)
{
	struct fl_snap_proc p[2];
	bool alive[2] = {true, false};
	procs(p);
	fl_report_ps(&out, &snap, alive, false);
	/* clang-format off */
	ck_assert_str_eq(out.p, "  PID  SINCE                ALIVE  COMMAND\n"
				"   42  2025-11-27 05:40:00  yes    curl -s http://127.0.0.1:8080/\n"
				"31337  2025-11-27 05:41:01  dead   python3 ?]0;x\n");
	/* clang-format on */
	fl_out_reset(&out);
	fl_report_ps(&out, &snap, alive, true);
	ck_assert(json_valid(out.p));
	ck_assert_ptr_nonnull(strstr(out.p, "{\"pid\": 42, \"command\": \"curl -s http://127.0.0.1:8080/\", "
					    "\"since\": 1764222000000, \"alive\": true}"));
	ck_assert_ptr_nonnull(strstr(out.p, "\"alive\": false}"));
}
END_TEST

START_TEST(domains_list_size_use_and_processes)
{
	struct fl_domain_info rows[2] = {
	    {.name = "ci", .size = 3461120, .used = 3, .capacity = 4096, .live = 2, .created_ms = NOW_MS},
	    {.name = "old", .size = 4096, .error = "refused: layout version 9"},
	};
	fl_report_domains(&out, rows, 2, false);
	/* clang-format off */
	ck_assert_str_eq(out.p, "DOMAIN     SIZE  DESTINATIONS  PROCESSES  CREATED              STATUS\n"
				"ci      3.3 MiB        3/4096          2  2025-11-27 05:40:00  ok\n"
				"old     4.0 KiB             -          -  -                    "
				"unreadable: refused: layout version 9\n");
	/* clang-format on */
	fl_out_reset(&out);
	fl_report_domains(&out, rows, 2, true);
	ck_assert(json_valid(out.p));
	ck_assert_ptr_nonnull(
	    strstr(out.p, "\"domain\": \"ci\", \"size\": 3461120, \"used\": 3, \"capacity\": 4096, "
			  "\"processes\": 2"));
	ck_assert_ptr_nonnull(strstr(out.p, "\"error\": \"refused: layout version 9\""));
}
END_TEST

START_TEST(out_buffer_grows_and_formats)
{
	for (int i = 0; i < 1000; i++)
		fl_out_printf(&out, "%04d,", i);
	ck_assert_uint_eq(out.len, 5000);
	ck_assert(strncmp(out.p + 4995, "0999,", 5) == 0);
	char big[600];
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fl_out_reset(&out);
	fl_out_printf(&out, "<%s>", big);
	ck_assert_uint_eq(out.len, 601);
	ck_assert(!out.failed);
}
END_TEST

Suite *report_suite(void); /* run by runner.c */

Suite *report_suite(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("report");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, table_columns_are_aligned);
	tcase_add_test(tc, empty_domain_prints_the_header_only);
	tcase_add_test(tc, table_lines_are_cut_to_the_width);
	tcase_add_test(tc, table_rows_beyond_the_limit_are_counted);
	tcase_add_test(tc, colours_mark_the_state_cell_only_when_asked);
	tcase_add_test(tc, colour_escapes_do_not_shift_columns);
	tcase_add_test(tc, names_are_made_safe_for_a_terminal);
	tcase_add_test(tc, rates_print_with_one_or_two_decimals);
	tcase_add_test(tc, json_checker_tells_valid_from_invalid);
	tcase_add_test(tc, json_is_valid_and_has_the_spec_shape);
	tcase_add_test(tc, json_of_an_empty_domain_is_valid);
	tcase_add_test(tc, json_strings_are_escaped_and_always_utf8);
	tcase_add_test(tc, prometheus_lines_follow_the_exposition_format);
	tcase_add_test(tc, prometheus_declares_every_family_of_an_empty_domain);
	tcase_add_test(tc, prometheus_merges_entries_of_one_name);
	tcase_add_test(tc, prometheus_label_values_are_escaped);
	tcase_add_test(tc, ps_lists_pid_since_alive_and_command);
	tcase_add_test(tc, domains_list_size_use_and_processes);
	tcase_add_test(tc, out_buffer_grows_and_formats);
	suite_add_tcase(s, tc);
	return s;
}
