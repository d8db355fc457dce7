/*
 * test_sysio.c - the shim's own I/O helpers (raw system calls).
 *
 * That they bypass the shim's wrappers is proven under the shim, by
 * tests/integration/test_internal_io.sh; here, that they do what libc's
 * calls would: whole small files, NUL-terminated and truncated to fit,
 * symbolic links refused, descriptors moved out of the low numbers.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sysio.h"

static char dir[64], file[96], link_path[96];

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/fl-sysio-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(file, sizeof file, "%s/f", dir);
	snprintf(link_path, sizeof link_path, "%s/l", dir);
	FILE *f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	fputs("0123456789", f);
	fclose(f);
	ck_assert_int_eq(symlink(file, link_path), 0);
}

static void teardown(void)
{
	unlink(link_path);
	unlink(file);
	rmdir(dir);
}

START_TEST(read_file_reads_whole_small_file_nul_terminated)
{
	char buf[64];
	memset(buf, 'x', sizeof buf);
	ck_assert_int_eq(fl_sys_read_file(file, buf, sizeof buf), 10);
	ck_assert_str_eq(buf, "0123456789");
}
END_TEST

START_TEST(read_file_truncates_to_fit)
{
	char buf[5];
	ck_assert_int_eq(fl_sys_read_file(file, buf, sizeof buf), 4);
	ck_assert_str_eq(buf, "0123");
}
END_TEST

START_TEST(read_file_refuses_symbolic_link_and_missing_file)
{
	char buf[16];
	ck_assert_int_eq(fl_sys_read_file(link_path, buf, sizeof buf), -1);
	ck_assert_int_eq(errno, ELOOP);
	ck_assert_int_eq(fl_sys_read_file("/nonexistent/x", buf, sizeof buf), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(fl_sys_read_file(file, buf, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(read_file_reads_proc_files)
{
	char buf[256];
	ck_assert_int_gt(fl_sys_read_file("/proc/self/stat", buf, sizeof buf), 0);
	char want[32];
	snprintf(want, sizeof want, "%d (", (int)getpid());
	ck_assert_int_eq(strncmp(buf, want, strlen(want)), 0);
}
END_TEST

START_TEST(open_is_close_on_exec_and_close_closes)
{
	int fd = fl_sys_open(file, O_RDONLY, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(fl_sys_close(fd), 0);
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
	ck_assert_int_eq(fl_sys_open_nofollow(link_path, O_RDONLY, 0), -1);
	ck_assert_int_eq(errno, ELOOP);
}
END_TEST

START_TEST(move_high_leaves_the_low_number_free)
{
	int fd = fl_sys_open(file, O_RDONLY, 0);
	ck_assert_int_ge(fd, 0);
	int moved = fl_sys_move_high(fd, 200);
	ck_assert_int_ge(moved, 200);
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1); /* the original is closed */
	ck_assert_int_eq(fcntl(moved, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	int again = fl_sys_open(file, O_RDONLY, 0);
	ck_assert_int_eq(again, fd); /* the program's next open gets the low number */
	fl_sys_close(again);
	fl_sys_close(moved);
}
END_TEST

Suite *sysio_suite(void); /* run by runner.c */

Suite *sysio_suite(void)
{
	Suite *s = suite_create("sysio");
	TCase *tc = tcase_create("sysio");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, read_file_reads_whole_small_file_nul_terminated);
	tcase_add_test(tc, read_file_truncates_to_fit);
	tcase_add_test(tc, read_file_refuses_symbolic_link_and_missing_file);
	tcase_add_test(tc, read_file_reads_proc_files);
	tcase_add_test(tc, open_is_close_on_exec_and_close_closes);
	tcase_add_test(tc, move_high_leaves_the_low_number_free);
	suite_add_tcase(s, tc);
	return s;
}
