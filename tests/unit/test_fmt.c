/*
 * test_fmt.c - the signal-safe formatter: numbers, truncation, termination.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "fmt.h"

START_TEST(numbers_format_like_printf)
{
	char s[64];
	struct fl_buf b;
	fl_buf_init(&b, s, sizeof(s));
	fl_buf_u64(&b, 0);
	fl_buf_str(&b, " ");
	fl_buf_u64(&b, UINT64_MAX);
	fl_buf_str(&b, " ");
	fl_buf_i64(&b, INT64_MIN);
	fl_buf_str(&b, " ");
	fl_buf_i64(&b, -7);
	ck_assert_str_eq(s, "0 18446744073709551615 -9223372036854775808 -7");
	ck_assert_uint_eq(b.len, 46);
}
END_TEST

START_TEST(output_is_truncated_never_overflowed)
{
	char s[8] = "zzzzzzz";
	char guard = 'G';
	struct fl_buf b;
	fl_buf_init(&b, s, 6);
	fl_buf_str(&b, "abcdefghij");
	fl_buf_u64(&b, 12345);
	ck_assert_str_eq(s, "abcde");
	ck_assert_int_eq(s[6], 'z');
	ck_assert_int_eq(guard, 'G');
}
END_TEST

START_TEST(zero_sized_buffer_is_left_alone)
{
	char s[1] = {'x'};
	struct fl_buf b;
	fl_buf_init(&b, s, 0);
	fl_buf_str(&b, "abc");
	ck_assert_int_eq(s[0], 'x');
	ck_assert_uint_eq(b.len, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fmt");
	TCase *tc = tcase_create("fmt");
	tcase_add_test(tc, numbers_format_like_printf);
	tcase_add_test(tc, output_is_truncated_never_overflowed);
	tcase_add_test(tc, zero_sized_buffer_is_left_alone);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
