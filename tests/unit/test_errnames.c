/*
 * test_errnames.c - errno names both ways, aliases, and the per-call lists
 * behind the "errno this call never returns" warning.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "errnames.h"

static int from_name(const char *name)
{
	return fl_errno_from_name(name, strlen(name));
}

static size_t count_names(void)
{
	size_t n = 0;
	while (fl_errno_names()[n] != NULL)
		n++;
	return n;
}

START_TEST(common_names_map_to_their_values_and_back)
{
	static const struct {
		const char *name;
		int value;
	} cases[] = {
	    {"ECONNRESET", ECONNRESET},
	    {"ECONNREFUSED", ECONNREFUSED},
	    {"ETIMEDOUT", ETIMEDOUT},
	    {"EPIPE", EPIPE},
	    {"EHOSTUNREACH", EHOSTUNREACH},
	    {"ENETUNREACH", ENETUNREACH},
	    {"EINTR", EINTR},
	    {"EPERM", EPERM},
	    {"E2BIG", E2BIG},
	    {"EXFULL", EXFULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ck_assert_int_eq(from_name(cases[i].name), cases[i].value);
		ck_assert_str_eq(fl_errno_name(cases[i].value), cases[i].name);
	}
}
END_TEST

START_TEST(aliases_are_accepted_but_the_primary_name_is_printed)
{
	ck_assert_int_eq(from_name("EWOULDBLOCK"), EAGAIN);
	ck_assert_int_eq(from_name("EAGAIN"), EAGAIN);
	ck_assert_str_eq(fl_errno_name(EWOULDBLOCK), "EAGAIN");
	ck_assert_int_eq(from_name("EDEADLOCK"), EDEADLOCK);
	ck_assert_str_eq(fl_errno_name(EDEADLK), "EDEADLK");
	ck_assert_int_eq(from_name("ENOTSUP"), ENOTSUP);
	ck_assert_str_eq(fl_errno_name(EOPNOTSUPP), "EOPNOTSUPP");
}
END_TEST

START_TEST(unknown_names_and_values_are_refused)
{
	ck_assert_int_eq(from_name("ECONNRESETT"), -1);
	ck_assert_int_eq(from_name("econnreset"), -1);
	ck_assert_int_eq(from_name(""), -1);
	ck_assert_int_eq(from_name("E"), -1);
	ck_assert_ptr_null(fl_errno_name(0));
	ck_assert_ptr_null(fl_errno_name(-1));
	ck_assert_ptr_null(fl_errno_name(100000));
}
END_TEST

START_TEST(name_lookup_reads_only_len_bytes)
{
	ck_assert_int_eq(fl_errno_from_name("EPIPE;junk", 5), EPIPE);
	ck_assert_int_eq(fl_errno_from_name("EPIPE", 4), -1);
}
END_TEST

START_TEST(name_list_covers_errno3_and_every_name_resolves)
{
	const char *const *names = fl_errno_names();
	size_t n = count_names();
	ck_assert_uint_ge(n, 130);
	for (size_t i = 0; i < n; i++) {
		int v = from_name(names[i]);
		ck_assert_int_gt(v, 0);
		ck_assert_ptr_nonnull(fl_errno_name(v));
		ck_assert_int_eq(from_name(fl_errno_name(v)), v);
		for (size_t j = i + 1; j < n; j++)
			ck_assert_str_ne(names[i], names[j]);
	}
}
END_TEST

START_TEST(connect_list_has_socket_realities_but_not_epipe)
{
	static const int expected[] = {
	    ECONNREFUSED, ETIMEDOUT,  EHOSTUNREACH, ENETUNREACH,   ECONNRESET,	 ECONNABORTED,
	    EACCES,	  EPERM,      EADDRINUSE,   EADDRNOTAVAIL, EAFNOSUPPORT, EAGAIN,
	    EALREADY,	  EBADF,      EFAULT,	    EINPROGRESS,   EINTR,	 EISCONN,
	    ENOTSOCK,	  EPROTOTYPE, ENOENT,	    ENOMEM,	   ENOBUFS,	 ENETDOWN,
	};
	for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
		ck_assert_msg(fl_errno_valid_for(FL_OP_CONNECT, expected[i]), "connect: %s",
			      fl_errno_name(expected[i]));
	ck_assert(!fl_errno_valid_for(FL_OP_CONNECT, EPIPE));
	ck_assert(!fl_errno_valid_for(FL_OP_CONNECT, ENOTCONN));
}
END_TEST

START_TEST(send_and_write_lists_include_broken_peer_errors)
{
	static const int expected[] = {ECONNRESET, ETIMEDOUT, EPIPE, EAGAIN, EINTR};
	for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
		ck_assert(fl_errno_valid_for(FL_OP_SEND, expected[i]));
		ck_assert(fl_errno_valid_for(FL_OP_WRITE, expected[i]));
	}
	ck_assert(!fl_errno_valid_for(FL_OP_SEND, EINPROGRESS));
	ck_assert(!fl_errno_valid_for(FL_OP_WRITE, ECONNABORTED));
}
END_TEST

START_TEST(recv_and_read_lists_include_reset_timeout_and_not_connected)
{
	static const int expected[] = {ECONNRESET, ETIMEDOUT, ENOTCONN, EAGAIN, EINTR};
	for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
		ck_assert(fl_errno_valid_for(FL_OP_RECV, expected[i]));
		ck_assert(fl_errno_valid_for(FL_OP_READ, expected[i]));
	}
	ck_assert(!fl_errno_valid_for(FL_OP_RECV, EPIPE));
	ck_assert(!fl_errno_valid_for(FL_OP_READ, EPIPE));
}
END_TEST

START_TEST(unknown_op_has_no_valid_errnos)
{
	char buf[16] = "x";
	ck_assert(!fl_errno_valid_for(FL_OP_COUNT, EINTR));
	ck_assert_uint_eq(fl_errno_valid_list(FL_OP_COUNT, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(valid_list_is_alphabetical_and_comma_separated)
{
	char buf[1024];
	for (unsigned op = 0; op < FL_OP_COUNT; op++) {
		size_t len = fl_errno_valid_list((enum fl_op)op, buf, sizeof buf);
		ck_assert_uint_eq(len, strlen(buf));
		char *save = NULL, *prev = NULL;
		for (char *name = strtok_r(buf, ", ", &save); name; name = strtok_r(NULL, ", ", &save)) {
			ck_assert(fl_errno_valid_for((enum fl_op)op, from_name(name)));
			if (prev != NULL)
				ck_assert_msg(strcmp(prev, name) < 0, "%s before %s", prev, name);
			prev = name;
		}
	}
	fl_errno_valid_list(FL_OP_CONNECT, buf, sizeof buf);
	ck_assert_mem_eq(buf, "EACCES, EADDRINUSE,", 19);
}
END_TEST

START_TEST(valid_list_truncates_with_nul)
{
	char buf[10];
	ck_assert_uint_eq(fl_errno_valid_list(FL_OP_CONNECT, buf, sizeof buf), 9);
	ck_assert_str_eq(buf, "EACCES, E");
}
END_TEST

Suite *errnames_suite(void); /* run by runner.c */

Suite *errnames_suite(void)
{
	Suite *s = suite_create("errnames");
	TCase *names = tcase_create("names");
	tcase_add_test(names, common_names_map_to_their_values_and_back);
	tcase_add_test(names, aliases_are_accepted_but_the_primary_name_is_printed);
	tcase_add_test(names, unknown_names_and_values_are_refused);
	tcase_add_test(names, name_lookup_reads_only_len_bytes);
	tcase_add_test(names, name_list_covers_errno3_and_every_name_resolves);
	suite_add_tcase(s, names);

	TCase *ops = tcase_create("per-op");
	tcase_add_test(ops, connect_list_has_socket_realities_but_not_epipe);
	tcase_add_test(ops, send_and_write_lists_include_broken_peer_errors);
	tcase_add_test(ops, recv_and_read_lists_include_reset_timeout_and_not_connected);
	tcase_add_test(ops, unknown_op_has_no_valid_errnos);
	tcase_add_test(ops, valid_list_is_alphabetical_and_comma_separated);
	tcase_add_test(ops, valid_list_truncates_with_nul);
	suite_add_tcase(s, ops);
	return s;
}
