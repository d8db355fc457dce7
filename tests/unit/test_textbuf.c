/*
 * test_textbuf.c - the signal-safe formatter: numbers, truncation,
 * termination, and the snprintf-like count of what the text needs.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "textbuf.h"

START_TEST(numbers_format_like_printf)
{
	char s[64];
	struct fl_textbuf b;
	fl_tb_init(&b, s, sizeof(s));
	fl_tb_putu(&b, 0);
	fl_tb_puts(&b, " ");
	fl_tb_putu(&b, UINT64_MAX);
	fl_tb_puts(&b, " ");
	fl_tb_puti(&b, INT64_MIN);
	fl_tb_puts(&b, " ");
	fl_tb_puti(&b, -7);
	ck_assert_str_eq(s, "0 18446744073709551615 -9223372036854775808 -7");
	ck_assert_uint_eq(b.len, 46);
	ck_assert_uint_eq(fl_tb_used(&b), 46);
}
END_TEST

START_TEST(output_is_truncated_never_overflowed_and_counted_whole)
{
	char s[8] = "zzzzzzz";
	struct fl_textbuf b;
	fl_tb_init(&b, s, 6);
	fl_tb_puts(&b, "abcdefghij");
	fl_tb_putu(&b, 12345);
	ck_assert_str_eq(s, "abcde");
	ck_assert_int_eq(s[6], 'z');
	ck_assert_uint_eq(b.len, 15);
	ck_assert_uint_eq(fl_tb_used(&b), 5);
}
END_TEST

START_TEST(zero_sized_buffer_is_left_alone)
{
	char s[1] = {'x'};
	struct fl_textbuf b;
	fl_tb_init(&b, s, 0);
	fl_tb_puts(&b, "abc");
	ck_assert_int_eq(s[0], 'x');
	ck_assert_uint_eq(b.len, 3);
	ck_assert_uint_eq(fl_tb_used(&b), 0);
}
END_TEST

Suite *textbuf_suite(void); /* run by runner.c */

Suite *textbuf_suite(void)
{
	Suite *s = suite_create("textbuf");
	TCase *tc = tcase_create("textbuf");
	tcase_add_test(tc, numbers_format_like_printf);
	tcase_add_test(tc, output_is_truncated_never_overflowed_and_counted_whole);
	tcase_add_test(tc, zero_sized_buffer_is_left_alone);
	suite_add_tcase(s, tc);
	return s;
}
