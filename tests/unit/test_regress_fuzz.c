/*
 * test_regress_fuzz.c - every problem fuzzing (tests/fuzz/) or the
 * hostile-segment tests found, kept as a test with its input inline, so a
 * fix stays fixed without running a fuzzer.
 *
 * How to add one: minimise the artifact (fuzz_X -minimize_crash=1
 * -runs=100000 ARTIFACT), paste the bytes below as a C string, and assert
 * the property the harness checked (the harness's FUZZ_CHECK message says
 * which). Name the test after the behaviour, not the artifact hash; the
 * hash goes in the comment.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rules.h"
#include "segment.h"

static char *format_set(const struct fl_ruleset *rs)
{
	size_t n = fl_ruleset_format(rs, NULL, 0);
	char *buf = malloc(n + 1);
	ck_assert_ptr_nonnull(buf);
	fl_ruleset_format(rs, buf, n + 1);
	return buf;
}

/*
 * The property of fuzz_config: a file that loads prints (what `faultline
 * check` shows) as inline text that loads to the same rule set - SPEC
 * section 4, "a file and inline rules that describe the same thing compile
 * to the same rule set; faultline check prints any rule set back in
 * canonical inline form".
 */
static void assert_file_round_trips_inline(const char *file)
{
	struct fl_ruleset rs, inl;
	struct fl_diag d;
	fl_ruleset_init(&rs);
	fl_ruleset_init(&inl);
	fl_diag_clear(&d);
	ck_assert_msg(fl_parse_config_string("regress.conf", file, &rs, &d) == 0,
		      "the file does not load: %s", d.error);
	char *canon = format_set(&rs);
	fl_diag_clear(&d);
	int rc = fl_parse_inline("canonical", canon, &inl, &d);
	ck_assert_msg(rc == 0,
		      "canonical form of a loadable file does not parse inline: %s\n--- canonical:\n%s",
		      d.error, canon);
	ck_assert_uint_eq(inl.count, rs.count);
	char *again = format_set(&inl);
	ck_assert_str_eq(again, canon);
	free(again);
	free(canon);
	fl_ruleset_free(&rs);
	fl_ruleset_free(&inl);
}

/*
 * The fix for the cases below: a unix path that inline text cannot hold (a
 * blank, ';', '#', a control character) is refused in a file too, with a
 * message naming the problem; so every file that loads still round-trips.
 */
static void assert_file_refused_for_path(const char *file)
{
	struct fl_ruleset rs;
	struct fl_diag d;
	fl_ruleset_init(&rs);
	fl_diag_clear(&d);
	ck_assert_int_eq(fl_parse_config_string("regress.conf", file, &rs, &d), -1);
	ck_assert_msg(strstr(d.error, "which a rule cannot express") != NULL, "unexpected message: %s",
		      d.error);
	ck_assert_msg(strncmp(d.error, "regress.conf:", 13) == 0 && strstr(d.error, "bad target") != NULL,
		      "message names no location: %s", d.error);
	fl_ruleset_free(&rs);
}

/* What stays allowed still round-trips: the ordinary path characters. */
START_TEST(config_unix_path_with_ordinary_characters_round_trips_inline)
{
	assert_file_round_trips_inline("destinations = ( { match = \"unix:/run/app-1_x.y/s=k,@+%.sock\"; "
				       "faults = ( { delay_ms = 1; } ); } );");
	assert_file_round_trips_inline(
	    "destinations = ( { match = \"unix:@abstract.name\"; breaker = { failure_threshold = 2; }; } );");
}
END_TEST

/* fuzz_config crash-094feac0d15afa78c5bcdaaac5aace13601cc875 (as found). */
START_TEST(config_unix_path_with_blank_and_semicolon_is_refused_as_found)
{
	assert_file_refused_for_path("destinations = (\n"
				     "  { match = \"unix:/ru= 1; } );breaker = { failu*\"; "
				     "faults = ( { delay_ms = 1; } ); }\n"
				     ");\n");
}
END_TEST

/* The same, minimised: a blank in a socket path (common: "/run/my app/s"). */
START_TEST(config_unix_path_with_blank_is_refused)
{
	assert_file_refused_for_path(
	    "destinations = ( { match = \"unix:/run/my app.sock\"; faults = ( { delay_ms = 1; } ); } );");
}
END_TEST

START_TEST(config_unix_path_with_semicolon_is_refused)
{
	assert_file_refused_for_path(
	    "destinations = ( { match = \"unix:/run/a;b\"; faults = ( { delay_ms = 1; } ); } );");
}
END_TEST

START_TEST(config_unix_path_with_hash_is_refused)
{
	assert_file_refused_for_path(
	    "destinations = ( { match = \"unix:/run/a#b\"; breaker = { failure_threshold = 2; }; } );");
}
END_TEST

START_TEST(config_unix_path_with_newline_is_refused)
{
	assert_file_refused_for_path(
	    "destinations = ( { match = \"unix:/run/a\\nb\"; bulkhead = { max_queue_size = 0; }; } );");
}
END_TEST

/*
 * test_hostile_segment.sh, "4096 entries stuck in CLAIMED": an entry whose
 * creator died between claiming and publishing it stays CLAIMED for ever
 * (or a forged segment says so), and every lookup that probes past it
 * spins up to 100000 pauses on it. With every entry stuck, one lookup (so
 * one connect under the shim) took 26 s on this machine. A lookup must
 * stay quick whatever the segment holds: here, under a second for 4096
 * stuck entries.
 */
START_TEST(lookup_past_entries_stuck_in_claimed_is_quick)
{
	const uint32_t cap = 4096;
	size_t size = fl_seg_size(cap);
	void *mem = calloc(1, size);
	ck_assert_ptr_nonnull(mem);
	fl_seg_format(mem, cap, "regress", 0, 1);
	struct fl_seg seg;
	struct fl_diag d;
	fl_diag_clear(&d);
	ck_assert_int_eq(fl_seg_validate(mem, size, &seg, "regress", &d), 0);
	for (uint32_t i = 0; i < cap; i++)
		seg.entries[i].status = FL_ENTRY_CLAIMED;
	struct fl_dest dest;
	memset(&dest, 0, sizeof(dest));
	dest.family = FL_AF_INET4;
	dest.port = 6379;
	dest.addr[0] = 127, dest.addr[3] = 1;
	struct fl_seg_key key;
	fl_seg_key_dest(&key, &dest);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct fl_seg_entry *e = fl_seg_lookup(&seg, &key, NULL, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_ptr_null(e); /* no room: the caller falls back to the rule entry */
	ck_assert_msg(secs < 1.0, "one lookup past %u stuck entries took %.1f s", cap, secs);
	free(mem);
}
END_TEST

Suite *regress_fuzz_suite(void); /* run by runner.c */

Suite *regress_fuzz_suite(void)
{
	Suite *s = suite_create("regress_fuzz");
	TCase *config = tcase_create("config_round_trip");
	tcase_add_test(config, config_unix_path_with_ordinary_characters_round_trips_inline);
	tcase_add_test(config, config_unix_path_with_blank_and_semicolon_is_refused_as_found);
	tcase_add_test(config, config_unix_path_with_blank_is_refused);
	tcase_add_test(config, config_unix_path_with_semicolon_is_refused);
	tcase_add_test(config, config_unix_path_with_hash_is_refused);
	tcase_add_test(config, config_unix_path_with_newline_is_refused);
	suite_add_tcase(s, config);

	TCase *segment = tcase_create("hostile_segment");
	tcase_set_timeout(segment, 120);
	tcase_add_test(segment, lookup_past_entries_stuck_in_claimed_is_quick);
	suite_add_tcase(s, segment);
	return s;
}
