/*
 * test_diag.c - the one way lib/ words a message: "SOURCE:LINE:COL: text",
 * bounded buffers, and warnings that are counted even when not kept.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

START_TEST(error_with_location_is_prefixed_and_returns_minus_one)
{
	struct fl_diag d = {.nwarnings = 0};
	struct fl_loc loc = {.source = "FAULTLINE_RULES", .line = 2, .col = 31};
	fl_diag_clear(&d);
	ck_assert_int_eq(fl_diag_error(&d, &loc, "unknown key '%s'", "x"), -1);
	ck_assert_str_eq(d.error, "FAULTLINE_RULES:2:31: unknown key 'x'");
}
END_TEST

START_TEST(error_without_location_is_the_plain_text)
{
	struct fl_diag d = {.nwarnings = 0};
	struct fl_loc nameless = {.source = NULL, .line = 3, .col = 4};
	fl_diag_error(&d, NULL, "out of memory");
	ck_assert_str_eq(d.error, "out of memory");
	fl_diag_error(&d, &nameless, "out of memory");
	ck_assert_str_eq(d.error, "out of memory");
}
END_TEST

START_TEST(location_without_line_or_column_prints_what_it_has)
{
	struct fl_diag d = {.nwarnings = 0};
	struct fl_loc file = {.source = "/etc/x.cfg"};
	struct fl_loc line = {.source = "/etc/x.cfg", .line = 7};
	fl_diag_error(&d, &file, "cannot read: %s", "No such file or directory");
	ck_assert_str_eq(d.error, "/etc/x.cfg: cannot read: No such file or directory");
	fl_diag_error(&d, &line, "syntax error");
	ck_assert_str_eq(d.error, "/etc/x.cfg:7: syntax error");
}
END_TEST

START_TEST(long_messages_are_truncated_inside_the_buffer)
{
	struct fl_diag d = {.nwarnings = 0};
	struct fl_loc loc = {.source = "S", .line = 1, .col = 1};
	char big[2 * FL_DIAG_MSG_MAX];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	fl_diag_error(&d, &loc, "%s", big);
	ck_assert_uint_eq(strlen(d.error), FL_DIAG_MSG_MAX - 1);
	ck_assert_mem_eq(d.error, "S:1:1: xxx", 10);
}
END_TEST

START_TEST(warnings_beyond_capacity_are_counted_not_stored)
{
	struct fl_diag d = {.nwarnings = 0};
	struct fl_loc loc = {.source = "S", .line = 4, .col = 2};
	fl_diag_clear(&d);
	for (unsigned i = 0; i < FL_DIAG_WARN_MAX + 3; i++)
		fl_diag_warn(&d, &loc, "warning %u", i);
	ck_assert_uint_eq(d.nwarnings, FL_DIAG_WARN_MAX + 3);
	ck_assert_str_eq(d.warnings[0], "S:4:2: warning 0");
	ck_assert_str_eq(d.warnings[FL_DIAG_WARN_MAX - 1], "S:4:2: warning 15");
	ck_assert_str_eq(d.error, "");
}
END_TEST

START_TEST(clear_forgets_error_and_warnings)
{
	struct fl_diag d = {.nwarnings = 0};
	fl_diag_error(&d, NULL, "bad");
	fl_diag_warn(&d, NULL, "odd");
	fl_diag_clear(&d);
	ck_assert_str_eq(d.error, "");
	ck_assert_uint_eq(d.nwarnings, 0);
}
END_TEST

/* issue 10 item 1: a user's string (a FAULTLINE_CONFIG path with a
 * newline) could forge lines in a log file written as root. */
START_TEST(control_bytes_are_escaped_in_messages)
{
	struct fl_diag d;
	struct fl_loc loc = {.source = "/tmp/a\nroot::0:0", .line = 2, .col = 3};
	fl_diag_clear(&d);
	fl_diag_error(&d, &loc, "bad '%s'", "x\ty\x1b[2J\x7f\r");
	ck_assert_str_eq(d.error, "/tmp/a\\nroot::0:0:2:3: bad 'x\\ty\\x1b[2J\\x7f\\r'");
	fl_diag_warn(&d, NULL, "w\n%s", "\x01");
	ck_assert_str_eq(d.warnings[0], "w\\n\\x01");
	char out[16];
	/* Idempotent (backslashes kept), UTF-8 bytes kept, no escape split by truncation. */
	ck_assert_uint_eq(fl_escape_controls(out, sizeof out, "a\\nb\xc3\xa9", 64), 6);
	ck_assert_str_eq(out, "a\\nb\xc3\xa9");
	ck_assert_uint_eq(fl_escape_controls(out, 8, "abcd\x1b", 64), 4);
	ck_assert_str_eq(out, "abcd");
	ck_assert_uint_eq(fl_escape_controls(out, sizeof out, "ab\ncd", 3), 4);
	ck_assert_str_eq(out, "ab\\n");
}
END_TEST

START_TEST(null_diag_is_tolerated)
{
	ck_assert_int_eq(fl_diag_error(NULL, NULL, "nobody listens"), -1);
	fl_diag_warn(NULL, NULL, "nobody listens");
}
END_TEST

Suite *diag_suite(void); /* run by runner.c */

Suite *diag_suite(void)
{
	Suite *s = suite_create("diag");
	TCase *tc = tcase_create("messages");
	tcase_add_test(tc, error_with_location_is_prefixed_and_returns_minus_one);
	tcase_add_test(tc, error_without_location_is_the_plain_text);
	tcase_add_test(tc, location_without_line_or_column_prints_what_it_has);
	tcase_add_test(tc, long_messages_are_truncated_inside_the_buffer);
	tcase_add_test(tc, warnings_beyond_capacity_are_counted_not_stored);
	tcase_add_test(tc, clear_forgets_error_and_warnings);
	tcase_add_test(tc, null_diag_is_tolerated);
	tcase_add_test(tc, control_bytes_are_escaped_in_messages);
	suite_add_tcase(s, tc);
	return s;
}
