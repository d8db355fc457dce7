/*
 * test_numtext.c - the strict number forms rules accept, and the shortest
 * text doubles are printed back in.
 */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "numtext.h"

static enum fl_num_status read_uint(const char *s, uint64_t *v)
{
	return fl_parse_uint(s, strlen(s), v);
}

static enum fl_num_status read_real(const char *s, double *v)
{
	return fl_parse_real(s, strlen(s), v);
}

static const char *print_real(double v)
{
	static char buf[64];
	ck_assert_uint_eq(fl_format_real(v, buf, sizeof buf), strlen(buf));
	return buf;
}

START_TEST(whole_numbers_read_the_full_uint64_range)
{
	uint64_t v = 7;
	ck_assert_int_eq(read_uint("0", &v), FL_NUM_OK);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(read_uint("007", &v), FL_NUM_OK);
	ck_assert_uint_eq(v, 7);
	ck_assert_int_eq(read_uint("18446744073709551615", &v), FL_NUM_OK);
	ck_assert_uint_eq(v, UINT64_MAX);
}
END_TEST

START_TEST(whole_numbers_too_big_or_negative_are_out_of_range)
{
	uint64_t v = 7;
	ck_assert_int_eq(read_uint("18446744073709551616", &v), FL_NUM_RANGE);
	ck_assert_int_eq(read_uint("99999999999999999999999999", &v), FL_NUM_RANGE);
	ck_assert_int_eq(read_uint("-1", &v), FL_NUM_RANGE);
	ck_assert_uint_eq(v, 7); /* untouched on failure */
}
END_TEST

START_TEST(whole_numbers_reject_anything_but_digits)
{
	static const char *const bad[] = {"", "-", "+1", " 1", "1 ", "0x10", "1e3", "1.0", "1_000"};
	uint64_t v;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(read_uint(bad[i], &v) == FL_NUM_SYNTAX, "'%s'", bad[i]);
}
END_TEST

START_TEST(reals_accept_plain_decimal_and_exponent_forms)
{
	static const struct {
		const char *text;
		double value;
	} cases[] = {{"0.5", 0.5},  {".5", 0.5},    {"5.", 5.0},    {"-0.25", -0.25},
		     {"1e3", 1000}, {"1E-2", 0.01}, {"2.5e+1", 25}, {"0", 0}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		double v;
		ck_assert_int_eq(read_real(cases[i].text, &v), FL_NUM_OK);
		ck_assert_double_eq(v, cases[i].value);
	}
}
END_TEST

START_TEST(reals_reject_hex_words_and_junk)
{
	static const char *const bad[] = {"",	 ".",	"-",	"e5",	"1e",  "1e+", "0x1p3",
					  "nan", "inf", "1.5x", " 1.5", "1,5", "+1",  "--1"};
	double v;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(read_real(bad[i], &v) == FL_NUM_SYNTAX, "'%s'", bad[i]);
}
END_TEST

START_TEST(reals_that_overflow_are_out_of_range)
{
	double v;
	ck_assert_int_eq(read_real("1e999", &v), FL_NUM_RANGE);
	ck_assert_int_eq(read_real("-1e999", &v), FL_NUM_RANGE);
}
END_TEST

START_TEST(reals_print_in_the_shortest_form_that_reads_back)
{
	ck_assert_str_eq(print_real(0.5), "0.5");
	ck_assert_str_eq(print_real(50), "50");
	ck_assert_str_eq(print_real(60000), "60000");
	ck_assert_str_eq(print_real(0.01), "0.01");
	ck_assert_str_eq(print_real(0.1), "0.1");
	ck_assert_str_eq(print_real(1.0 / 3), "0.3333333333333333");
	ck_assert_str_eq(print_real(1e20), "1e+20");
	ck_assert_str_eq(print_real(1e-7), "1e-07");
	static const double values[] = {0.1, 1.0 / 3, 2.0 / 3, 12.5, 99.99, 1e-300, DBL_MAX, 0.3};
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		double back;
		const char *text = print_real(values[i]);
		ck_assert_int_eq(read_real(text, &back), FL_NUM_OK);
		ck_assert_double_eq(back, values[i]);
	}
}
END_TEST

START_TEST(printing_a_real_truncates_like_snprintf)
{
	char buf[4];
	ck_assert_uint_eq(fl_format_real(0.125, buf, sizeof buf), 5);
	ck_assert_str_eq(buf, "0.1");
	ck_assert_uint_eq(fl_format_real(0.125, NULL, 0), 5);
}
END_TEST

Suite *numtext_suite(void); /* run by runner.c */

Suite *numtext_suite(void)
{
	Suite *s = suite_create("numtext");
	TCase *tc = tcase_create("numbers");
	tcase_add_test(tc, whole_numbers_read_the_full_uint64_range);
	tcase_add_test(tc, whole_numbers_too_big_or_negative_are_out_of_range);
	tcase_add_test(tc, whole_numbers_reject_anything_but_digits);
	tcase_add_test(tc, reals_accept_plain_decimal_and_exponent_forms);
	tcase_add_test(tc, reals_reject_hex_words_and_junk);
	tcase_add_test(tc, reals_that_overflow_are_out_of_range);
	tcase_add_test(tc, reals_print_in_the_shortest_form_that_reads_back);
	tcase_add_test(tc, printing_a_real_truncates_like_snprintf);
	suite_add_tcase(s, tc);
	return s;
}
