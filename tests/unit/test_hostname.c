/*
 * test_hostname.c - host name targets (SPEC 9): the grammar and its
 * errors (with the offset that becomes the message's column), the form a
 * resolved name is matched in, matching, resolver error names, the
 * checks of resolve statements, and the merge of a name's statements into
 * an address's match.
 */
#include <check.h>
#include <netdb.h>
#include <string.h>

#include "hostname.h"
#include "match.h"
#include "rules.h"

static struct fl_target name_ok(const char *text)
{
	struct fl_target t;
	const char *why = NULL;
	int rc = fl_target_parse(text, strlen(text), &t, &why);
	ck_assert_msg(rc == 0, "'%s' should parse, got: %s", text, why ? why : "(null)");
	ck_assert_uint_eq(t.family, FL_AF_NAME);
	return t;
}

/* The reason, and where (offset in the text). */
static const char *name_why(const char *text, size_t *at)
{
	struct fl_target t;
	const char *why = NULL;
	ck_assert_msg(fl_target_parse_at(text, strlen(text), &t, &why, at) == -1, "'%s' should fail", text);
	ck_assert_ptr_nonnull(why);
	return why;
}

static const char *format(const struct fl_target *t)
{
	static char buf[300];
	fl_target_format(t, buf, sizeof buf);
	return buf;
}

START_TEST(names_with_ports_ranges_and_wildcards_parse)
{
	struct fl_target t = name_ok("api.example.com");
	ck_assert_str_eq(t.name, "api.example.com");
	ck_assert_uint_eq(t.port_lo, 0);
	ck_assert_uint_eq(t.port_hi, 65535);
	t = name_ok("db.internal:5432");
	ck_assert_uint_eq(t.port_lo, 5432);
	ck_assert_uint_eq(t.port_hi, 5432);
	t = name_ok("db.internal:5000-5010");
	ck_assert_uint_eq(t.port_lo, 5000);
	ck_assert_uint_eq(t.port_hi, 5010);
	t = name_ok("*.svc.cluster.local:443");
	ck_assert(t.name_wild);
	ck_assert_str_eq(t.name, "svc.cluster.local");
	ck_assert_str_eq(format(&t), "*.svc.cluster.local:443");
	t = name_ok("localhost");
	ck_assert_str_eq(format(&t), "localhost");
	t = name_ok("my_host-1.x");
	ck_assert_str_eq(t.name, "my_host-1.x");
}
END_TEST

START_TEST(names_are_lowercased_and_lose_the_trailing_dot)
{
	struct fl_target t = name_ok("API.Example.COM.:443");
	ck_assert_str_eq(t.name, "api.example.com");
	ck_assert_uint_eq(t.name_len, 15);
	ck_assert_str_eq(format(&t), "api.example.com:443");
}
END_TEST

START_TEST(bad_names_say_what_and_where)
{
	size_t at;
	ck_assert_str_eq(name_why("a..b", &at),
			 "empty label in host name (two dots in a row, or a leading dot)");
	ck_assert_uint_eq(at, 2);
	ck_assert_str_eq(name_why(".a.b", &at),
			 "empty label in host name (two dots in a row, or a leading dot)");
	ck_assert_uint_eq(at, 0);
	ck_assert_str_eq(name_why("api.*.com", &at),
			 "'*' may only be the whole first label, as in *.example.com");
	ck_assert_uint_eq(at, 4);
	ck_assert_str_eq(name_why("*x.example.com", &at), "'*' stands alone or takes a port, as in *:443");
	ck_assert_str_eq(name_why("a$b.com", &at),
			 "a host name holds only letters, digits, '-' and '_' between dots");
	ck_assert_uint_eq(at, 1);
	ck_assert_str_eq(name_why("db.internal:0", &at),
			 "a port must be a number 1..65535 (a range is written LO-HI)");
	ck_assert_uint_eq(at, 12);
	ck_assert_str_eq(name_why("db.internal:", &at), "missing port after ':'");
	ck_assert_str_eq(name_why("db.internal:9-3", &at), "port range LO-HI needs LO <= HI");
	ck_assert_str_eq(name_why("host.123", &at),
			 "the last label of a host name cannot be all digits (an IPv4 address?)");
	ck_assert_uint_eq(at, 5);
}
END_TEST

START_TEST(label_and_name_lengths_are_limited)
{
	char text[400];
	size_t at;
	memset(text, 'a', 63);
	strcpy(text + 63, ".com");
	name_ok(text); /* 63 is the most */
	memset(text, 'a', 64);
	strcpy(text + 64, ".com");
	ck_assert_str_eq(name_why(text, &at), "a label of a host name is longer than 63 characters");
	ck_assert_uint_eq(at, 0);
	/* 4 labels of 62 + 3 dots = 251, +".ab" = 254: too long; 253 fits */
	text[0] = '\0';
	for (int i = 0; i < 4; i++) {
		char label[64];
		memset(label, 'b', 62);
		label[62] = '\0';
		strcat(text, i ? "." : "");
		strcat(text, label);
	}
	strcat(text, ".a");
	ck_assert_uint_eq(strlen(text), 253);
	ck_assert_uint_eq(name_ok(text).name_len, 253);
	strcat(text, "b");
	ck_assert_str_eq(name_why(text, &at), "host name is longer than 253 characters");
	strcat(text, "."); /* the trailing dot does not count... */
	text[strlen(text) - 2] = '.';
	text[strlen(text) - 1] = '\0'; /* "...a." : 253 + dot */
	ck_assert_uint_eq(name_ok(text).name_len, 253);
}
END_TEST

START_TEST(addresses_are_not_names)
{
	struct fl_target t;
	const char *why;
	ck_assert_int_eq(fl_target_parse("10.0.0.1:80", 11, &t, &why), 0);
	ck_assert_uint_eq(t.family, FL_AF_INET4);
	ck_assert_int_eq(fl_target_parse("*:443", 5, &t, &why), 0);
	ck_assert_uint_eq(t.family, FL_AF_ANY);
	ck_assert_int_eq(fl_target_parse("::1", 3, &t, &why), 0);
	ck_assert_uint_eq(t.family, FL_AF_INET6);
	ck_assert(!fl_hostname_like("1.2.3.4", 7));
	ck_assert(fl_hostname_like("*.x", 3));
}
END_TEST

START_TEST(resolved_names_normalise_like_targets)
{
	char out[FL_NAME_MAX + 1];
	ck_assert_uint_eq(fl_name_normalise("API.Example.com.", out), 15);
	ck_assert_str_eq(out, "api.example.com");
	ck_assert_uint_eq(fl_name_normalise("localhost", out), 9);
	ck_assert_uint_eq(fl_name_normalise("127.0.0.1", out), 0);
	ck_assert_uint_eq(fl_name_normalise("127.0.0.1.", out), 0);
	ck_assert_uint_eq(fl_name_normalise("::1", out), 0);
	ck_assert_uint_eq(fl_name_normalise("", out), 0);
	ck_assert_uint_eq(fl_name_normalise("a..b", out), 0);
	char long_name[300];
	memset(long_name, 'a', 260);
	long_name[260] = '\0';
	ck_assert_uint_eq(fl_name_normalise(long_name, out), 0);
}
END_TEST

START_TEST(exact_and_wildcard_matching)
{
	struct fl_target exact = name_ok("api.example.com"), wild = name_ok("*.example.com"), any;
	const char *why;
	fl_target_parse("*", 1, &any, &why);
	ck_assert(fl_name_match(&exact, "api.example.com", 15));
	ck_assert(!fl_name_match(&exact, "xapi.example.com", 16));
	ck_assert(!fl_name_match(&exact, "api.example.co", 14));
	ck_assert(fl_name_match(&wild, "api.example.com", 15));
	ck_assert(fl_name_match(&wild, "a.b.example.com", 15));
	ck_assert(!fl_name_match(&wild, "example.com", 11));
	ck_assert(!fl_name_match(&wild, "badexample.com", 14));
	ck_assert(fl_name_match(&any, "whatever.org", 12));
	struct fl_target v4;
	fl_target_parse("10.0.0.1", 8, &v4, &why);
	ck_assert(!fl_name_match(&v4, "whatever.org", 12));
}
END_TEST

START_TEST(resolver_error_names)
{
	int code;
	ck_assert_int_eq(fl_eai_from_name("EAI_AGAIN", 9, &code), 0);
	ck_assert_int_eq(code, EAI_AGAIN);
	ck_assert_int_lt(code, 0);
	ck_assert_str_eq(fl_eai_name(EAI_NONAME), "EAI_NONAME");
	ck_assert_int_eq(fl_eai_from_name("EAI_NODATA", 10, &code), 0);
	ck_assert_int_eq(fl_eai_h_errno(code), NO_DATA);
	ck_assert_int_eq(fl_eai_h_errno(EAI_AGAIN), TRY_AGAIN);
	ck_assert_int_eq(fl_eai_h_errno(EAI_NONAME), HOST_NOT_FOUND);
	ck_assert_int_eq(fl_eai_h_errno(EAI_FAIL), NO_RECOVERY);
	ck_assert_int_eq(fl_eai_from_name("ECONNRESET", 10, &code), -1);
}
END_TEST

static const char *rules_error(const char *text)
{
	static struct fl_diag d;
	struct fl_ruleset rs;
	fl_ruleset_init(&rs);
	fl_diag_clear(&d);
	int rc = fl_parse_inline("R", text, &rs, &d);
	fl_ruleset_free(&rs);
	return rc < 0 ? d.error : "";
}

START_TEST(resolver_errors_and_errnos_keep_to_their_ops)
{
	ck_assert_str_eq(rules_error("x.com fault on=resolve error=EAI_AGAIN probability=0.5 after=1 every=2 "
				     "times=3; x.com fault on=resolve delay_ms=2000"),
			 "");
	ck_assert_str_eq(
	    rules_error("x.com fault error=EAI_AGAIN"),
	    "R:1:1: error=EAI_AGAIN is a resolver error: it applies only to on=resolve (connect, "
	    "send, recv, write and read take errno names such as ECONNRESET)");
	ck_assert_str_eq(rules_error("x.com fault on=connect,resolve error=EAI_FAIL"),
			 "R:1:1: error=EAI_FAIL is a resolver error: it applies only to on=resolve (connect, "
			 "send, recv, write and read take errno names such as ECONNRESET)");
	ck_assert_str_eq(rules_error("x.com fault on=resolve error=ECONNRESET"),
			 "R:1:1: on=resolve takes a resolver error name (EAI_AGAIN, EAI_NONAME, EAI_FAIL, "
			 "EAI_NODATA, EAI_MEMORY, EAI_SYSTEM), not an errno");
	ck_assert_str_eq(rules_error("x.com fault on=connect error=EAI_AGAN"),
			 "R:1:24: unknown resolver error 'EAI_AGAN' for 'error' (did you mean 'EAI_AGAIN'?)");
	ck_assert_str_eq(
	    rules_error("x.com breaker reject_errno=EAI_AGAIN"),
	    "R:1:15: 'EAI_AGAIN' is a resolver error: 'reject_errno' takes an errno name such as "
	    "ECONNREFUSED");
	ck_assert_str_eq(
	    rules_error("10.0.0.1 fault on=resolve delay_ms=5"),
	    "R:1:1: on=resolve needs a host name target (NAME, NAME:PORT or *.SUFFIX): an address "
	    "is never looked up");
	ck_assert_str_eq(rules_error("* fault on=resolve delay_ms=5"), "");
}
END_TEST

START_TEST(resolve_is_not_part_of_io_or_all)
{
	struct fl_ruleset rs;
	struct fl_diag d;
	fl_ruleset_init(&rs);
	fl_diag_clear(&d);
	ck_assert_int_eq(
	    fl_parse_inline("R", "x.com fault delay_ms=1; x.com fault on=io delay_ms=1", &rs, &d), 0);
	ck_assert(!(rs.rules[0].u.fault.ops & (1u << FL_OP_RESOLVE)));
	ck_assert(!(rs.rules[1].u.fault.ops & (1u << FL_OP_RESOLVE)));
	fl_ruleset_free(&rs);
}
END_TEST

START_TEST(resolve_statements_need_a_name_and_addresses)
{
	ck_assert_str_eq(rules_error("api.test resolve address=127.0.0.1,::1"), "");
	ck_assert_str_eq(rules_error("api.test resolve"),
			 "R:1:1: resolve needs address= (a comma list of IPv4/IPv6 addresses)");
	ck_assert_str_eq(rules_error("10.0.0.1 resolve address=127.0.0.1"),
			 "R:1:1: resolve needs a host name target (NAME or *.SUFFIX)");
	ck_assert_str_eq(rules_error("api.test:80 resolve address=127.0.0.1"),
			 "R:1:1: resolve overrides a name for every port: write the name without :PORT");
	ck_assert_str_eq(rules_error("api.test resolve address=127.0.0.1,nope"),
			 "R:1:18: bad address 'nope' in 'address' (write 127.0.0.1 or ::1)");
	ck_assert_str_eq(
	    rules_error("api.test resolve address=1.1.1.1,1.1.1.2,1.1.1.3,1.1.1.4,1.1.1.5,1.1.1.6,"
			"1.1.1.7,1.1.1.8,1.1.1.9"),
	    "R:1:18: 'address' takes at most 8 addresses");
}
END_TEST

START_TEST(rules_with_names_print_back_the_same)
{
	const char *text = "API.test.:443 breaker failure_threshold=3\n"
			   "*.svc.local fault on=resolve error=EAI_AGAIN\n"
			   "api.test resolve address=127.0.0.1,::1\n";
	struct fl_ruleset rs, again;
	struct fl_diag d;
	char out[2048], out2[2048];
	fl_ruleset_init(&rs);
	fl_ruleset_init(&again);
	fl_diag_clear(&d);
	ck_assert_int_eq(fl_parse_inline("R", text, &rs, &d), 0);
	fl_ruleset_format(&rs, out, sizeof out);
	ck_assert_ptr_nonnull(strstr(out, "api.test:443 breaker failure_threshold=3"));
	ck_assert_ptr_nonnull(strstr(out, "*.svc.local fault on=resolve error=EAI_AGAIN"));
	ck_assert_ptr_nonnull(strstr(out, "api.test resolve address=127.0.0.1,::1"));
	ck_assert_int_eq(fl_parse_inline("R", out, &again, &d), 0);
	fl_ruleset_format(&again, out2, sizeof out2);
	ck_assert_str_eq(out, out2);
	fl_ruleset_free(&rs);
	fl_ruleset_free(&again);
}
END_TEST

START_TEST(a_config_file_says_the_same_as_inline_rules)
{
	const char *cfg = "destinations = (\n"
			  "  { match = \"API.test:443\"; circuit_breaker = { failure_threshold = 3; };\n"
			  "    faults = ( { on = [\"resolve\"]; error = \"EAI_AGAIN\"; } ); },\n"
			  "  { match = \"stub.test\"; resolve = { address = [\"127.0.0.1\", \"::1\"]; }; }\n"
			  ");\n";
	const char *text =
	    "api.test:443 breaker failure_threshold=3; api.test:443 fault on=resolve error=EAI_AGAIN;"
	    "stub.test resolve address=127.0.0.1,::1";
	struct fl_ruleset a, b;
	struct fl_diag d;
	char out_a[2048], out_b[2048];
	fl_ruleset_init(&a);
	fl_ruleset_init(&b);
	fl_diag_clear(&d);
	ck_assert_msg(fl_parse_config_string("t.cfg", cfg, &a, &d) == 0, "%s", d.error);
	ck_assert_msg(fl_parse_inline("R", text, &b, &d) == 0, "%s", d.error);
	fl_ruleset_format(&a, out_a, sizeof out_a);
	fl_ruleset_format(&b, out_b, sizeof out_b);
	ck_assert_str_eq(out_a, out_b);
	fl_ruleset_free(&a);
	fl_ruleset_init(&a);
	ck_assert_int_eq(fl_parse_config_string(
			     "t.cfg", "destinations = ( { match = \"x.test\"; resolve = 5; } );", &a, &d),
			 -1);
	ck_assert_str_eq(d.error, "t.cfg:1:38: 'resolve' must be a group { address = [\"127.0.0.1\"]; }");
	fl_ruleset_free(&a);
	fl_ruleset_free(&b);
}
END_TEST

START_TEST(a_names_statements_merge_into_the_address_match_in_rule_order)
{
	struct fl_ruleset rs;
	struct fl_diag d;
	fl_ruleset_init(&rs);
	fl_diag_clear(&d);
	ck_assert_int_eq(fl_parse_inline("R",
					 "127.0.0.1 fault on=send error=EIO;"		   /* 0 */
					 "api.test:443 breaker;"			   /* 1 */
					 "127.0.0.1 breaker;"				   /* 2 */
					 "*.test fault on=connect error=ECONNREFUSED;"	   /* 3 */
					 "api.test:80 bulkhead;"			   /* 4 */
					 "127.0.0.1 fault on=recv error=EIO;"		   /* 5 */
					 "other.test fault on=connect error=ECONNREFUSED", /* 6 */
					 &rs, &d),
			 0);
	struct fl_dest dest = {.family = FL_AF_INET4, .port = 443, .addr = {127, 0, 0, 1}};
	struct fl_match m;
	ck_assert(fl_match(&rs, &dest, &m));
	ck_assert_int_eq(m.breaker, 2);
	ck_assert_uint_eq(m.nfaults, 2);
	uint32_t names[] = {1, 3, 4, 6};
	ck_assert(fl_match_add_name(&rs, names, 4, "api.test", 8, 443, &m));
	ck_assert_int_eq(m.breaker, 1);	  /* the name's, first in rule order */
	ck_assert_int_eq(m.bulkhead, -1); /* :80 only */
	ck_assert_uint_eq(m.nfaults, 3);
	ck_assert_uint_eq(m.faults[0], 0);
	ck_assert_uint_eq(m.faults[1], 3);
	ck_assert_uint_eq(m.faults[2], 5);
	ck_assert(m.ops & (1u << FL_OP_CONNECT));
	struct fl_match none = {.breaker = -1, .bulkhead = -1};
	ck_assert(!fl_match_add_name(&rs, names, 4, "nothing.org", 11, 443, &none));
	fl_ruleset_free(&rs);
}
END_TEST

Suite *hostname_suite(void);
Suite *hostname_suite(void)
{
	Suite *s = suite_create("hostname");
	TCase *parse = tcase_create("parse");
	tcase_add_test(parse, names_with_ports_ranges_and_wildcards_parse);
	tcase_add_test(parse, names_are_lowercased_and_lose_the_trailing_dot);
	tcase_add_test(parse, bad_names_say_what_and_where);
	tcase_add_test(parse, label_and_name_lengths_are_limited);
	tcase_add_test(parse, addresses_are_not_names);
	suite_add_tcase(s, parse);
	TCase *match = tcase_create("match");
	tcase_add_test(match, resolved_names_normalise_like_targets);
	tcase_add_test(match, exact_and_wildcard_matching);
	tcase_add_test(match, a_names_statements_merge_into_the_address_match_in_rule_order);
	suite_add_tcase(s, match);
	TCase *rules = tcase_create("rules");
	tcase_add_test(rules, resolver_error_names);
	tcase_add_test(rules, resolver_errors_and_errnos_keep_to_their_ops);
	tcase_add_test(rules, resolve_is_not_part_of_io_or_all);
	tcase_add_test(rules, resolve_statements_need_a_name_and_addresses);
	tcase_add_test(rules, rules_with_names_print_back_the_same);
	tcase_add_test(rules, a_config_file_says_the_same_as_inline_rules);
	suite_add_tcase(s, rules);
	return s;
}
