/*
 * test_array.c - fl_array_reserve (lib/array.c), the one doubling array
 * helper behind rule sets, snapshots, match indexes and report tables.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "array.h"

START_TEST(reserve_starts_at_first_and_doubles_until_need_fits)
{
	int *a = NULL;
	size_t cap = 0;
	ck_assert(fl_array_reserve(&a, &cap, 1, sizeof(*a), 8));
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(cap, 8);
	for (int i = 0; i < 8; i++)
		a[i] = i;
	ck_assert(fl_array_reserve(&a, &cap, 9, sizeof(*a), 8));
	ck_assert_uint_eq(cap, 16);
	ck_assert(fl_array_reserve(&a, &cap, 100, sizeof(*a), 8));
	ck_assert_uint_eq(cap, 128);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(a[i], i); /* kept across each realloc */
	free(a);
}
END_TEST

START_TEST(reserve_within_capacity_changes_nothing)
{
	int *a = NULL;
	size_t cap = 0;
	ck_assert(fl_array_reserve(&a, &cap, 16, sizeof(*a), 16));
	int *before = a;
	ck_assert(fl_array_reserve(&a, &cap, 16, sizeof(*a), 16));
	ck_assert(fl_array_reserve(&a, &cap, 0, sizeof(*a), 16));
	ck_assert_ptr_eq(a, before);
	ck_assert_uint_eq(cap, 16);
	free(a);
}
END_TEST

START_TEST(reserve_refuses_sizes_that_overflow_and_keeps_the_array)
{
	uint64_t *a = NULL;
	size_t cap = 0;
	ck_assert(fl_array_reserve(&a, &cap, 4, sizeof(*a), 4));
	uint64_t *before = a;
	a[3] = 42;
	ck_assert(!fl_array_reserve(&a, &cap, SIZE_MAX / 4, sizeof(*a), 4)); /* bytes overflow */
	ck_assert(!fl_array_reserve(&a, &cap, SIZE_MAX, 1, 4));		     /* doubling overflows */
	ck_assert_ptr_eq(a, before);
	ck_assert_uint_eq(cap, 4);
	ck_assert_uint_eq(a[3], 42);
	free(a);
}
END_TEST

START_TEST(reserve_with_first_zero_still_grows)
{
	char *a = NULL;
	size_t cap = 0;
	ck_assert(fl_array_reserve(&a, &cap, 3, 1, 0));
	ck_assert_uint_ge(cap, 3);
	free(a);
}
END_TEST

Suite *array_suite(void); /* run by runner.c */

Suite *array_suite(void)
{
	Suite *s = suite_create("array");
	TCase *tc = tcase_create("reserve");
	tcase_add_test(tc, reserve_starts_at_first_and_doubles_until_need_fits);
	tcase_add_test(tc, reserve_within_capacity_changes_nothing);
	tcase_add_test(tc, reserve_refuses_sizes_that_overflow_and_keeps_the_array);
	tcase_add_test(tc, reserve_with_first_zero_still_grows);
	suite_add_tcase(s, tc);
	return s;
}
