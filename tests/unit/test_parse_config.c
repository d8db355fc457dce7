/*
 * test_parse_config.c - libconfig files: the same rule set as the equivalent
 * inline rules, and every error with the LINE:COL a user would look at.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rules.h"

static const char spec_file[] =
    "seed = 42;                               # optional, like FAULTLINE_SEED\n"
    "destinations = (\n"
    "  {\n"
    "    match = \"127.0.0.1:6379\";\n"
    "    circuit_breaker = { failure_threshold = 3; timeout_ms = 2000; };\n"
    "    bulkhead = { max_concurrent_requests = 10; max_queue_size = 0; };\n"
    "    faults = (\n"
    "      { on = [\"connect\"]; delay_ms = 200; jitter_ms = 50; probability = 0.5; },\n"
    "      { on = [\"recv\", \"read\"]; error = \"ECONNRESET\"; probability = 0.01; }\n"
    "    );\n"
    "  }\n"
    ");\n";

static const char spec_inline[] =
    "127.0.0.1:6379 breaker failure_threshold=3 timeout_ms=2000\n"
    "127.0.0.1:6379 bulkhead max_concurrent_requests=10 max_queue_size=0\n"
    "127.0.0.1:6379 fault on=connect delay_ms=200 jitter_ms=50 probability=0.5\n"
    "127.0.0.1:6379 fault on=recv,read error=ECONNRESET probability=0.01\n";

static char *format_set(const struct fl_ruleset *rs)
{
	size_t n = fl_ruleset_format(rs, NULL, 0);
	char *buf = malloc(n + 1);
	ck_assert_ptr_nonnull(buf);
	fl_ruleset_format(rs, buf, n + 1);
	return buf;
}

static char *canonical_inline(const char *text)
{
	struct fl_ruleset rs;
	struct fl_diag d = {.nwarnings = 0};
	fl_ruleset_init(&rs);
	fl_diag_clear(&d);
	ck_assert_msg(fl_parse_inline("inline", text, &rs, &d) == 0, "%s", d.error);
	char *out = format_set(&rs);
	fl_ruleset_free(&rs);
	return out;
}

static char *canonical_config(const char *text)
{
	struct fl_ruleset rs;
	struct fl_diag d = {.nwarnings = 0};
	fl_ruleset_init(&rs);
	fl_diag_clear(&d);
	ck_assert_msg(fl_parse_config_string("test.cfg", text, &rs, &d) == 0, "%s", d.error);
	char *out = format_set(&rs);
	fl_ruleset_free(&rs);
	return out;
}

static void assert_same_rules(const char *config, const char *inline_text)
{
	char *a = canonical_config(config), *b = canonical_inline(inline_text);
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
}

static const char *error_of(const char *text)
{
	static struct fl_diag d;
	struct fl_ruleset rs;
	fl_ruleset_init(&rs);
	fl_diag_clear(&d);
	ck_assert_msg(fl_parse_config_string("test.cfg", text, &rs, &d) == -1, "should fail:\n%s", text);
	fl_ruleset_free(&rs);
	return d.error;
}

/* A temporary file holding text; the caller unlinks it. */
static void write_temp(char *path, const char *text)
{
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

START_TEST(spec_file_equals_the_same_rules_inline)
{
	assert_same_rules(spec_file, spec_inline);
}
END_TEST

START_TEST(every_value_type_converts_as_inline_text)
{
	assert_same_rules("destinations = ({\n"
			  "  match = \"[::1]:80-90\";\n"
			  "  breaker = { failure_rate_threshold = 12.5; min_requests_for_rate = 0;\n"
			  "              reject_errno = \"ETIMEDOUT\"; scope = \"rule\"; enabled = false;\n"
			  "              rolling_window_ms = 100; half_open_max_requests = 3; };\n"
			  "  bulkhead = { enabled = true; queue_timeout_ms = 0; scope = \"destination\"; };\n"
			  "  faults = ( { on = \"io\"; error = \"EWOULDBLOCK\"; probability = 1;\n"
			  "               after = 100000000000L; every = 3; times = 2; },\n"
			  "             { on = (\"send\", \"connect\"); delay_ms = 5; jitter_ms = 5;\n"
			  "               probability = 1e-3; } );\n"
			  "});\n",
			  "[::1]:80-90 breaker failure_rate_threshold=12.5 min_requests_for_rate=0 "
			  "reject_errno=ETIMEDOUT scope=rule enabled=false rolling_window_ms=100 "
			  "half_open_max_requests=3\n"
			  "[::1]:80-90 bulkhead enabled=true queue_timeout_ms=0 scope=destination\n"
			  "[::1]:80-90 fault on=io error=EAGAIN probability=1 after=100000000000 "
			  "every=3 times=2\n"
			  "[::1]:80-90 fault on=connect,send delay_ms=5 jitter_ms=5 probability=0.001\n");
}
END_TEST

START_TEST(match_list_gives_every_target_its_own_statements)
{
	assert_same_rules("destinations = ( { match = [\"10.0.0.0/8:443\", \"unix:@db\"];\n"
			  "  breaker = { timeout_ms = 5; };\n"
			  "  faults = ( { error = \"ECONNRESET\"; on = \"recv\"; } ); } );\n",
			  "10.0.0.0/8:443 breaker timeout_ms=5\n"
			  "10.0.0.0/8:443 fault error=ECONNRESET on=recv\n"
			  "unix:@db breaker timeout_ms=5\n"
			  "unix:@db fault error=ECONNRESET on=recv\n");
}
END_TEST

START_TEST(empty_groups_and_alias_give_defaults_in_spec_order)
{
	assert_same_rules("destinations = ( { bulkhead = { }; faults = ( ); breaker = { };\n"
			  "                   match = \"*\"; } );\n",
			  "* breaker; * bulkhead\n");
}
END_TEST

START_TEST(empty_file_has_no_rules_and_no_seed)
{
	static const char *const texts[] = {"", "# nothing\n", "destinations = ();\n",
					    "destinations = [];\n"};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		struct fl_ruleset rs;
		struct fl_diag d = {.nwarnings = 0};
		fl_ruleset_init(&rs);
		ck_assert_int_eq(fl_parse_config_string("test.cfg", texts[i], &rs, &d), 0);
		ck_assert_uint_eq(rs.count, 0);
		ck_assert(!rs.has_seed);
		fl_ruleset_free(&rs);
	}
}
END_TEST

START_TEST(seed_is_read_as_a_64_bit_count)
{
	struct fl_ruleset rs;
	struct fl_diag d = {.nwarnings = 0};
	fl_ruleset_init(&rs);
	ck_assert_int_eq(fl_parse_config_string("test.cfg", spec_file, &rs, &d), 0);
	ck_assert(rs.has_seed);
	ck_assert_uint_eq(rs.seed, 42);
	fl_ruleset_free(&rs);
	ck_assert_int_eq(fl_parse_config_string("test.cfg", "seed = 9000000000L;", &rs, &d), 0);
	ck_assert_uint_eq(rs.seed, 9000000000ULL);
	ck_assert_int_eq(fl_parse_config_string("test.cfg", "seed = 0;", &rs, &d), 0);
	ck_assert(rs.has_seed);
	ck_assert_uint_eq(rs.seed, 0);
	fl_ruleset_free(&rs);
}
END_TEST

START_TEST(file_rules_remember_the_path_and_position)
{
	char path[] = "/tmp/fl-config-XXXXXX";
	struct fl_ruleset rs;
	struct fl_diag d = {.nwarnings = 0};
	write_temp(path, spec_file);
	fl_ruleset_init(&rs);
	ck_assert_int_eq(fl_parse_config_file(path, &rs, &d), 0);
	unlink(path);
	ck_assert_uint_eq(rs.count, 4);
	ck_assert_ptr_eq(rs.rules[0].loc.source, path); /* the caller's pointer, not a copy */
	ck_assert_uint_eq(rs.rules[0].loc.line, 5);	/* circuit_breaker = { ... } */
	ck_assert_uint_eq(rs.rules[0].loc.col, 5);
	ck_assert_uint_eq(rs.rules[1].loc.line, 6); /* bulkhead */
	ck_assert_uint_eq(rs.rules[2].loc.line, 8); /* first fault group */
	ck_assert_uint_eq(rs.rules[2].loc.col, 7);
	ck_assert_uint_eq(rs.rules[3].loc.line, 9);
	fl_ruleset_free(&rs);
}
END_TEST

START_TEST(file_and_string_parse_alike_and_append_after_inline)
{
	char path[] = "/tmp/fl-config-XXXXXX";
	struct fl_ruleset rs;
	struct fl_diag d = {.nwarnings = 0};
	write_temp(path, spec_file);
	fl_ruleset_init(&rs);
	fl_diag_clear(&d);
	ck_assert_int_eq(fl_parse_inline("inline", "*:1 fault error=EIO", &rs, &d), 0);
	ck_assert_int_eq(fl_parse_config_file(path, &rs, &d), 0);
	unlink(path);
	char *got = format_set(&rs);
	char *want = canonical_inline("*:1 fault error=EIO\n" /* inline first */
				      "127.0.0.1:6379 breaker failure_threshold=3 timeout_ms=2000\n"
				      "127.0.0.1:6379 bulkhead max_concurrent_requests=10 "
				      "max_queue_size=0\n"
				      "127.0.0.1:6379 fault on=connect delay_ms=200 jitter_ms=50 "
				      "probability=0.5\n"
				      "127.0.0.1:6379 fault on=recv,read error=ECONNRESET "
				      "probability=0.01\n");
	ck_assert_str_eq(got, want);
	free(got);
	free(want);
	fl_ruleset_free(&rs);
}
END_TEST

START_TEST(warnings_point_into_the_file)
{
	struct fl_ruleset rs;
	struct fl_diag d = {.nwarnings = 0};
	fl_ruleset_init(&rs);
	fl_diag_clear(&d);
	ck_assert_int_eq(fl_parse_config_string("test.cfg",
						"destinations = ( { match = \"*\";\n"
						"  faults = (\n"
						"    { on = \"connect\"; error = \"EPIPE\"; } ); } );\n",
						&rs, &d),
			 0);
	ck_assert_uint_eq(d.nwarnings, 1);
	ck_assert_ptr_nonnull(strstr(d.warnings[0], "test.cfg:3:5: fault injects EPIPE on connect"));
	fl_ruleset_free(&rs);
}
END_TEST

START_TEST(missing_file_cannot_be_read)
{
	struct fl_ruleset rs;
	struct fl_diag d = {.nwarnings = 0};
	fl_ruleset_init(&rs);
	ck_assert_int_eq(fl_parse_config_file("/nonexistent/faultline.cfg", &rs, &d), -1);
	ck_assert_str_eq(d.error, "/nonexistent/faultline.cfg: cannot read: No such file or directory");
	ck_assert_int_eq(fl_parse_config_file("/tmp", &rs, &d), -1);
	ck_assert_str_eq(d.error, "/tmp: refused: a directory, not a regular file (give the path of a config "
				  "file)");
	ck_assert_uint_eq(rs.count, 0);
}
END_TEST

/* issue 10 item 4: a FIFO with no writer hung the program before main.
 * Refused at once (the test's timeout would catch a hang). */
START_TEST(fifo_and_devices_are_refused_without_blocking)
{
	struct fl_ruleset rs;
	struct fl_diag d = {.nwarnings = 0};
	char dir[] = "/tmp/fl-fifo-XXXXXX", path[64];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/rules", dir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	fl_ruleset_init(&rs);
	int rc = fl_parse_config_file(path, &rs, &d);
	unlink(path);
	rmdir(dir);
	ck_assert_int_eq(rc, -1);
	char want[256];
	snprintf(want, sizeof want,
		 "%s: refused: a FIFO, not a regular file (give the path of a config file)", path);
	ck_assert_str_eq(d.error, want);
	ck_assert_int_eq(fl_parse_config_file("/dev/null", &rs, &d), -1);
	ck_assert_str_eq(d.error, "/dev/null: refused: a character device, not a regular file (give the path "
				  "of a config file)");
	ck_assert_uint_eq(rs.count, 0);
}
END_TEST

/* issue 10 item 16: libconfig 1.5 keeps the low 32 bits of an integer
 * written without L: failure_threshold = 4294967299 loaded as 3, after =
 * 5000000000 as 705032704. A file and the same rules inline give the same
 * rule set, large values included. */
START_TEST(large_integers_compile_as_the_same_rules_inline)
{
	assert_same_rules("destinations = ({ match = \"127.0.0.1:9\";\n"
			  "  breaker = { failure_threshold = 2147483647; timeout_ms : 2147483647; };\n"
			  "  faults = ( { on = \"connect\"; error = \"ECONNREFUSED\"; after = 5000000000;\n"
			  "               times = 4294967299; every = 0x100000003; },\n"
			  "             { on = \"io\"; error = \"EIO\"; after = 18446744073709551615; } );\n"
			  "});\n",
			  "127.0.0.1:9 breaker failure_threshold=2147483647 timeout_ms=2147483647\n"
			  "127.0.0.1:9 fault on=connect error=ECONNREFUSED after=5000000000 "
			  "times=4294967299 every=4294967299\n"
			  "127.0.0.1:9 fault on=io error=EIO after=18446744073709551615\n");
	struct fl_ruleset rs;
	struct fl_diag d = {.nwarnings = 0};
	fl_ruleset_init(&rs);
	ck_assert_int_eq(fl_parse_config_string("test.cfg", "seed = 18446744073709551615;", &rs, &d), 0);
	ck_assert_uint_eq(rs.seed, UINT64_MAX);
	ck_assert_int_eq(fl_parse_config_string("test.cfg", "seed = 4294967299;", &rs, &d), 0);
	ck_assert_uint_eq(rs.seed, 4294967299ULL);
	fl_ruleset_free(&rs);
}
END_TEST

static const char *inline_error_of(const char *text)
{
	static struct fl_diag d;
	struct fl_ruleset rs;
	fl_ruleset_init(&rs);
	fl_diag_clear(&d);
	ck_assert_msg(fl_parse_inline("inline", text, &rs, &d) == -1, "should fail: %s", text);
	fl_ruleset_free(&rs);
	return d.error;
}

/* Out of range in a file is out of range inline, with the same message,
 * however many bits the value has (a wrapped value could land in range). */
START_TEST(out_of_range_integers_are_errors_in_both_forms)
{
	ck_assert_str_eq(error_of("destinations = ({ match = \"*\";\n"
				  "  breaker = { failure_threshold = 4294967299; }; });"),
			 "test.cfg:2:15: value '4294967299' of 'failure_threshold' is out of range "
			 "1..2147483647");
	ck_assert_str_eq(inline_error_of("* breaker failure_threshold=4294967299"),
			 "inline:1:11: value '4294967299' of 'failure_threshold' is out of range "
			 "1..2147483647");
	ck_assert_str_eq(error_of("destinations = ({ match = \"*\";\n"
				  "  faults = ({ on = \"io\"; delay_ms = 4294967296; }); });"),
			 "test.cfg:2:26: value '4294967296' of 'delay_ms' is out of range 0..2147483647");
	ck_assert_str_eq(inline_error_of("* fault on=io delay_ms=4294967296"),
			 "inline:1:15: value '4294967296' of 'delay_ms' is out of range 0..2147483647");
	ck_assert_str_eq(
	    error_of("destinations = ({ match = \"*\";\n"
		     "  faults = ({ on = \"io\"; error = \"EIO\"; after = 99999999999999999999; }); });"),
	    "test.cfg:2:41: value '99999999999999999999' of 'after' is out of range "
	    "0..18446744073709551615");
	ck_assert_str_eq(inline_error_of("* fault on=io error=EIO after=99999999999999999999"),
			 "inline:1:25: value '99999999999999999999' of 'after' is out of range "
			 "0..18446744073709551615");
	ck_assert_str_eq(error_of("destinations = ({ match = \"*\";\n"
				  "  faults = ({ on = \"io\"; error = \"EIO\"; times = -4294967295; }); });"),
			 "test.cfg:2:41: value '-4294967295' of 'times' is out of range "
			 "0..18446744073709551615");
	ck_assert_str_eq(error_of("seed = 18446744073709551616;"),
			 "test.cfg:1:1: 'seed' is out of range 0..18446744073709551615");
	ck_assert_str_eq(error_of("seed = -4294967295;"), "test.cfg:1:1: 'seed' must be a whole number >= 0");
}
END_TEST

START_TEST(syntax_error_names_line_and_first_column)
{
	ck_assert_str_eq(error_of("seed = 1;\n   oops oops;\n"), "test.cfg:2:4: syntax error");
	ck_assert_str_eq(error_of("seed = 1;\n  seed = 2;\n"),
			 "test.cfg:2:3: syntax error (duplicate setting name)");
}
END_TEST

START_TEST(syntax_error_in_a_file_names_the_path)
{
	char path[] = "/tmp/fl-config-XXXXXX";
	char want[256];
	struct fl_ruleset rs;
	struct fl_diag d = {.nwarnings = 0};
	write_temp(path, "destinations = (\n  { match = \"1.1.1.1\" }\n  { }\n);\n");
	fl_ruleset_init(&rs);
	ck_assert_int_eq(fl_parse_config_file(path, &rs, &d), -1);
	unlink(path);
	snprintf(want, sizeof want, "%s:3:3: syntax error", path);
	ck_assert_str_eq(d.error, want);
}
END_TEST

START_TEST(unknown_top_level_setting_is_an_error)
{
	ck_assert_str_eq(error_of("seed = 1;\ndestination = ();\n"),
			 "test.cfg:2:1: unknown setting 'destination' at top level (did you mean "
			 "'destinations'?)");
	ck_assert_str_eq(error_of("  rules = 5;"), "test.cfg:1:3: unknown setting 'rules' at top level");
}
END_TEST

START_TEST(seed_must_be_a_non_negative_integer)
{
	ck_assert_str_eq(error_of("seed = -1;"), "test.cfg:1:1: 'seed' must be a whole number >= 0");
	ck_assert_str_eq(error_of("\n seed = \"42\";"), "test.cfg:2:2: 'seed' must be a whole number >= 0");
	ck_assert_str_eq(error_of("seed = 1.5;"), "test.cfg:1:1: 'seed' must be a whole number >= 0");
}
END_TEST

START_TEST(destinations_must_be_a_list_of_groups)
{
	ck_assert_str_eq(error_of("destinations = { match = \"*\"; };"),
			 "test.cfg:1:1: 'destinations' must be a list of groups: ( { match = "
			 "\"...\"; ... } )");
	ck_assert_str_eq(error_of("destinations = [\"*\"];"),
			 "test.cfg:1:1: 'destinations' must be a list of groups: ( { match = "
			 "\"...\"; ... } )");
	ck_assert_str_eq(error_of("destinations = (\n  \"1.1.1.1\" );"),
			 "test.cfg:2:4: each element of 'destinations' must be a group { match = "
			 "\"...\"; ... }");
}
END_TEST

START_TEST(unknown_destination_setting_is_an_error)
{
	ck_assert_str_eq(error_of("destinations = (\n"
				  "  { match = \"1.1.1.1\";\n"
				  "    fault = ( { error = \"EIO\"; } ); }\n"
				  ");\n"),
			 "test.cfg:3:5: unknown setting 'fault' in destination (did you mean "
			 "'faults'?)");
	ck_assert_str_eq(error_of("destinations = ( { match = \"*\"; retry = 3; } );"),
			 "test.cfg:1:33: unknown setting 'retry' in destination");
}
END_TEST

START_TEST(breaker_and_circuit_breaker_together_are_an_error)
{
	ck_assert_str_eq(error_of("destinations = ( { match = \"1.1.1.1\";\n"
				  "  circuit_breaker = { };\n"
				  "  breaker = { }; } );\n"),
			 "test.cfg:3:3: destination has both 'circuit_breaker' and 'breaker'");
}
END_TEST

START_TEST(destination_without_match_is_an_error)
{
	ck_assert_str_eq(error_of("destinations = (\n  { breaker = { }; }\n);"),
			 "test.cfg:2:3: destination has no 'match'");
}
END_TEST

START_TEST(groups_sharing_a_line_are_told_apart)
{
	ck_assert_str_eq(
	    error_of("destinations = ( { match = \"*\"; breaker = { }; }, { breaker = { }; } );"),
	    "test.cfg:1:51: destination has no 'match'");
	ck_assert_str_eq(error_of("destinations = ( { match = [\"unix:/tmp/a\", \"tmp/a\"]; } );"),
			 "test.cfg:1:45: bad target 'tmp/a': a host name takes no prefix length or brackets: "
			 "write NAME, NAME:PORT, NAME:LO-HI or *.SUFFIX:PORT");
}
END_TEST

START_TEST(match_must_be_a_string_or_list_of_strings)
{
	const char *want = "'match' must be a target string or a non-empty list of them";
	char full[160];
	snprintf(full, sizeof full, "test.cfg:2:5: %s", want);
	ck_assert_str_eq(error_of("destinations = (\n  { match = 5; } );"), full);
	ck_assert_str_eq(error_of("destinations = (\n  { match = []; } );"), full);
	ck_assert_str_eq(error_of("destinations = (\n  { match = (\"1.1.1.1\", 5); } );"), full);
}
END_TEST

START_TEST(bad_match_target_is_reported_at_the_target)
{
	ck_assert_str_eq(
	    error_of("destinations = (\n  { match = \"local..host:6379\"; } );"),
	    "test.cfg:2:5: bad target 'local..host:6379': empty label in host name (two dots in a "
	    "row, or a leading dot)");
	ck_assert_str_eq(error_of("destinations = (\n  { match = [\"1.1.1.1\", \"10.0.0.1/8\"]; } );"),
			 "test.cfg:2:26: bad target '10.0.0.1/8': host bits are set beyond the prefix "
			 "length: write the network address (10.0.0.0/8, not 10.0.0.1/8)");
}
END_TEST

START_TEST(kind_settings_must_be_groups_and_faults_a_list)
{
	ck_assert_str_eq(error_of("destinations = ( { match = \"*\";\n breaker = 5; } );"),
			 "test.cfg:2:2: 'breaker' must be a group { failure_threshold = ...; }");
	ck_assert_str_eq(error_of("destinations = ( { match = \"*\";\n bulkhead = (); } );"),
			 "test.cfg:2:2: 'bulkhead' must be a group { max_concurrent_requests = ...; }");
	ck_assert_str_eq(error_of("destinations = ( { match = \"*\";\n faults = { }; } );"),
			 "test.cfg:2:2: 'faults' must be a list of groups: ( { ... }, { ... } )");
	ck_assert_str_eq(error_of("destinations = ( { match = \"*\";\n faults = ( \"EIO\" ); } );"),
			 "test.cfg:2:14: each element of 'faults' must be a group { on = ...; error = "
			 "...; }");
}
END_TEST

START_TEST(key_errors_name_the_key_in_the_file)
{
	ck_assert_str_eq(error_of("destinations = ( { match = \"*\";\n"
				  "  circuit_breaker = { failure_threshold = 3; timout_ms = 2000; }; } );"),
			 "test.cfg:2:46: unknown key 'timout_ms' in breaker (did you mean "
			 "'timeout_ms'?)");
	ck_assert_str_eq(error_of("destinations = ( { match = \"*\";\n"
				  "  breaker = { delay_ms = 5; }; } );"),
			 "test.cfg:2:15: 'delay_ms' is a key of fault, not breaker");
	ck_assert_str_eq(error_of("destinations = ( { match = \"*\";\n"
				  "  bulkhead = { queue_timeout_ms = 1; max_queue_size = -2; }; } );"),
			 "test.cfg:2:38: value '-2' of 'max_queue_size' is out of range 0..2147483647");
	ck_assert_str_eq(error_of("destinations = ( { match = \"*\";\n"
				  "  bulkhead = { enabled = \"yes\"; }; } );"),
			 "test.cfg:2:16: value 'yes' of 'enabled' must be true or false");
	ck_assert_str_eq(error_of("destinations = ( { match = \"*\";\n"
				  "  faults = ( { error = \"EPIPEE\"; } ); } );"),
			 "test.cfg:2:16: unknown errno name 'EPIPEE' for 'error' (did you mean "
			 "'EPIPE'?)");
	ck_assert_str_eq(error_of("destinations = ( { match = \"*\";\n"
				  "  faults = ( { error = \"EIO\"; on = \"\"; } ); } );"),
			 "test.cfg:2:31: empty value for 'on'");
}
END_TEST

START_TEST(values_keep_their_inline_strictness)
{
	ck_assert_str_eq(error_of("destinations = ( { match = \"*\";\n"
				  "  breaker = { timeout_ms = 2000.0; }; } );"),
			 "test.cfg:2:15: value '2000.0' of 'timeout_ms' is not a whole number");
	ck_assert_str_eq(error_of("destinations = ( { match = \"*\";\n"
				  "  breaker = { timeout_ms = true; }; } );"),
			 "test.cfg:2:15: value 'true' of 'timeout_ms' is not a whole number");
	ck_assert_str_eq(error_of("destinations = ( { match = \"*\";\n"
				  "  faults = ( { error = \"EIO\"; probability = 1.5; } ); } );"),
			 "test.cfg:2:31: value '1.5' of 'probability' is out of range 0..1");
}
END_TEST

START_TEST(value_of_the_wrong_shape_is_an_error)
{
	ck_assert_str_eq(error_of("destinations = ( { match = \"*\";\n"
				  "  bulkhead = { max_queue_size = { }; }; } );"),
			 "test.cfg:2:16: 'max_queue_size' must be a value, not a group");
	ck_assert_str_eq(error_of("destinations = ( { match = \"*\";\n"
				  "  faults = ( { error = \"EIO\"; on = [1, 2]; } ); } );"),
			 "test.cfg:2:31: 'on' must be a string or a list of strings");
}
END_TEST

START_TEST(overlong_list_value_is_an_error)
{
	char text[4096] = "destinations = ( { match = \"*\";\n  faults = ( { error = \"EIO\"; on = [";
	for (int i = 0; i < 100; i++)
		strcat(text, i ? ", \"connect\"" : "\"connect\"");
	strcat(text, "]; } ); } );");
	ck_assert_str_eq(error_of(text), "test.cfg:2:31: list 'on' is too long");
}
END_TEST

START_TEST(statement_errors_point_at_the_group)
{
	ck_assert_str_eq(error_of("destinations = ( { match = \"*\";\n"
				  "  faults = (\n"
				  "    { on = \"connect\"; } ); } );"),
			 "test.cfg:3:5: fault injects nothing: give error=, or delay_ms= above 0 "
			 "(a delay of 0 ms does nothing)");
}
END_TEST

START_TEST(failed_parse_keeps_only_the_statements_before_the_bad_one)
{
	struct fl_ruleset rs;
	struct fl_diag d = {.nwarnings = 0};
	fl_ruleset_init(&rs);
	ck_assert_int_eq(fl_parse_config_string("test.cfg",
						"destinations = ( { match = \"*\";\n"
						"  breaker = { }; bulkhead = { };\n"
						"  faults = ( { error = \"EIO\"; }, { } ); } );",
						&rs, &d),
			 -1);
	ck_assert_uint_eq(rs.count, 3);
	ck_assert_str_eq(d.error, "test.cfg:3:34: fault injects nothing: give error=, or delay_ms= above 0 "
				  "(a delay of 0 ms does nothing)");
	fl_ruleset_free(&rs);
}
END_TEST

Suite *parse_config_suite(void); /* run by runner.c */

Suite *parse_config_suite(void)
{
	Suite *s = suite_create("parse_config");
	TCase *good = tcase_create("files");
	tcase_add_test(good, spec_file_equals_the_same_rules_inline);
	tcase_add_test(good, every_value_type_converts_as_inline_text);
	tcase_add_test(good, match_list_gives_every_target_its_own_statements);
	tcase_add_test(good, empty_groups_and_alias_give_defaults_in_spec_order);
	tcase_add_test(good, empty_file_has_no_rules_and_no_seed);
	tcase_add_test(good, seed_is_read_as_a_64_bit_count);
	tcase_add_test(good, large_integers_compile_as_the_same_rules_inline);
	tcase_add_test(good, file_rules_remember_the_path_and_position);
	tcase_add_test(good, file_and_string_parse_alike_and_append_after_inline);
	tcase_add_test(good, warnings_point_into_the_file);
	suite_add_tcase(s, good);

	TCase *bad = tcase_create("errors");
	tcase_add_test(bad, missing_file_cannot_be_read);
	tcase_add_test(bad, fifo_and_devices_are_refused_without_blocking);
	tcase_add_test(bad, out_of_range_integers_are_errors_in_both_forms);
	tcase_add_test(bad, syntax_error_names_line_and_first_column);
	tcase_add_test(bad, syntax_error_in_a_file_names_the_path);
	tcase_add_test(bad, unknown_top_level_setting_is_an_error);
	tcase_add_test(bad, seed_must_be_a_non_negative_integer);
	tcase_add_test(bad, destinations_must_be_a_list_of_groups);
	tcase_add_test(bad, unknown_destination_setting_is_an_error);
	tcase_add_test(bad, breaker_and_circuit_breaker_together_are_an_error);
	tcase_add_test(bad, destination_without_match_is_an_error);
	tcase_add_test(bad, groups_sharing_a_line_are_told_apart);
	tcase_add_test(bad, match_must_be_a_string_or_list_of_strings);
	tcase_add_test(bad, bad_match_target_is_reported_at_the_target);
	tcase_add_test(bad, kind_settings_must_be_groups_and_faults_a_list);
	tcase_add_test(bad, key_errors_name_the_key_in_the_file);
	tcase_add_test(bad, values_keep_their_inline_strictness);
	tcase_add_test(bad, value_of_the_wrong_shape_is_an_error);
	tcase_add_test(bad, overlong_list_value_is_an_error);
	tcase_add_test(bad, statement_errors_point_at_the_group);
	tcase_add_test(bad, failed_parse_keeps_only_the_statements_before_the_bad_one);
	suite_add_tcase(s, bad);
	return s;
}
