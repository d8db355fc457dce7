/*
 * test_ratelimit.c - the rate_limit kind: its keys and their errors
 * (through the same fl_rule_set_key/fl_rule_finish as both parsers), and
 * the shared token bucket on a fake clock: burst at once, then exactly
 * `rate` a second, delay up to max_delay_ms then reject. Also the bad
 * input of SPEC 11's breaker keys.
 */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ratelimit.h"
#include "rule_build.h"

#define NS_PER_MS 1000000ull

static struct fl_seg_ratelimit rl;

static void bucket(const char *pairs)
{
	struct fl_rule r;
	struct fl_diag d;
	ck_assert_msg(build(&r, FL_KIND_RATE_LIMIT, pairs, &d) == 0, "%s", d.error);
	memset(&rl, 0, sizeof rl);
	fl_ratelimit_init(&rl, &r.u.ratelimit);
}

static enum fl_rate_result take(uint64_t now_ms, uint64_t *delay)
{
	*delay = 0;
	return fl_ratelimit_take(&rl, 5000 * NS_PER_MS + now_ms * NS_PER_MS, delay);
}

START_TEST(burst_defaults_to_rate_and_passes_at_once)
{
	bucket("rate=20");
	ck_assert_uint_eq(rl.p.burst, 20);
	uint64_t delay;
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(take(0, &delay), FL_RATE_ADMITTED);
	ck_assert_int_eq(take(0, &delay), FL_RATE_REJECTED);
	ck_assert_uint_eq(rl.admitted, 20);
	ck_assert_uint_eq(rl.rejected, 1);
}
END_TEST

START_TEST(after_the_burst_exactly_rate_per_second)
{
	bucket("rate=20 burst=1");
	uint64_t delay, admitted = 0;
	/* One try every ms for 10 s: 1 (burst) + 200 tokens. */
	for (uint64_t ms = 0; ms < 10000; ms++)
		admitted += take(ms, &delay) == FL_RATE_ADMITTED;
	ck_assert_uint_eq(admitted, 200);
	ck_assert_uint_eq(rl.admitted, 200);
}
END_TEST

START_TEST(delay_waits_for_the_next_token_up_to_max_delay)
{
	bucket("rate=10 burst=1 action=delay max_delay_ms=250");
	uint64_t delay;
	ck_assert_int_eq(take(0, &delay), FL_RATE_ADMITTED);
	ck_assert_int_eq(take(0, &delay), FL_RATE_DELAYED);
	ck_assert_uint_eq(delay, 100 * NS_PER_MS);
	ck_assert_int_eq(take(0, &delay), FL_RATE_DELAYED);
	ck_assert_uint_eq(delay, 200 * NS_PER_MS);
	ck_assert_int_eq(take(0, &delay), FL_RATE_REJECTED); /* 300 ms > 250 */
	ck_assert_uint_eq(rl.delayed, 2);
	ck_assert_uint_eq(rl.admitted, 3);
	ck_assert_uint_eq(rl.rejected, 1);
}
END_TEST

START_TEST(a_live_rate_change_applies_to_the_next_take)
{
	bucket("rate=1 burst=1");
	uint64_t delay;
	ck_assert_int_eq(take(0, &delay), FL_RATE_ADMITTED);
	ck_assert_int_eq(take(10, &delay), FL_RATE_REJECTED);
	struct fl_ratelimit_params p;
	fl_ratelimit_params_get(&p, &rl.p);
	p.rate = 1000;
	fl_ratelimit_params_set(&rl.p, &p);
	ck_assert_int_eq(take(1002, &delay), FL_RATE_ADMITTED);
	fl_ratelimit_reset(&rl);
	ck_assert_uint_eq(rl.admitted, 0);
}
END_TEST

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* SPEC 11: one bucket in shared memory, 8 processes asking far more often
 * than the rate for 2 s of the real clock: within 5% of rate x time. */
START_TEST(eight_processes_share_one_bucket_within_5_percent)
{
	struct fl_seg_ratelimit *shared =
	    mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert(shared != MAP_FAILED);
	struct fl_rule r;
	struct fl_diag d;
	ck_assert(build(&r, FL_KIND_RATE_LIMIT, "rate=500 burst=500", &d) == 0);
	fl_ratelimit_init(shared, &r.u.ratelimit);
	uint64_t start = mono_ns(), end = start + 2000000000ull;
	pid_t kids[8];
	for (int k = 0; k < 8; k++) {
		kids[k] = fork();
		ck_assert_int_ge(kids[k], 0);
		if (kids[k] == 0) {
			uint64_t delay, now;
			while ((now = mono_ns()) < end) {
				fl_ratelimit_take(shared, now, &delay);
				usleep(200);
			}
			_exit(0);
		}
	}
	for (int k = 0; k < 8; k++)
		waitpid(kids[k], NULL, 0);
	uint64_t admitted = shared->admitted - 500; /* the burst, at once */
	ck_assert_msg(admitted >= 950 && admitted <= 1050, "admitted %llu after the burst, want 1000 +/- 5%%",
		      (unsigned long long)admitted);
	ck_assert_uint_gt(shared->rejected, 0);
	munmap(shared, sizeof *shared);
}
END_TEST

START_TEST(rate_limit_keys_print_back)
{
	ck_assert_str_eq(
	    format_of(FL_KIND_RATE_LIMIT, "rate=20"),
	    "* rate_limit rate=20 burst=20 action=reject max_delay_ms=1000 reject_errno=ECONNREFUSED "
	    "scope=destination");
	ck_assert_str_eq(
	    format_of(FL_KIND_RATE_LIMIT, "rate=5 burst=2 action=delay max_delay_ms=50 scope=rule"),
	    "* rate_limit rate=5 burst=2 action=delay max_delay_ms=50 reject_errno=ECONNREFUSED "
	    "scope=rule");
}
END_TEST

START_TEST(rate_limit_bad_input)
{
	ck_assert_str_eq(error_of(FL_KIND_RATE_LIMIT, "burst=3"),
			 "T:1:5: rate_limit needs rate= (connections per second)");
	ck_assert_str_eq(error_of(FL_KIND_RATE_LIMIT, "rate=0"),
			 "T:1:5: value '0' of 'rate' is out of range 1..1000000");
	ck_assert_str_eq(error_of(FL_KIND_RATE_LIMIT, "rate=5 action=wait"),
			 "T:1:5: value 'wait' of 'action' must be reject or delay");
	ck_assert_str_eq(error_of(FL_KIND_RATE_LIMIT, "rate=5 max_delay_ms=-1"),
			 "T:1:5: value '-1' of 'max_delay_ms' is out of range 0..2147483647");
}
END_TEST

/* ---- SPEC 11's breaker keys ------------------------------------------ */

START_TEST(breaker_keys_print_only_when_in_use)
{
	ck_assert_str_eq(format_of(FL_KIND_BREAKER, "failure_threshold=3"),
			 "* breaker failure_threshold=3 success_threshold=2 timeout_ms=60000 "
			 "half_open_max_requests=1 failure_rate_threshold=50 min_requests_for_rate=20 "
			 "rolling_window_ms=10000 reject_errno=ECONNREFUSED scope=destination enabled=true");
	ck_assert_str_eq(format_of(FL_KIND_BREAKER,
				   "slow_call_duration_ms=100 mode=observe timeout_max_ms=60000 "
				   "fallback=127.0.0.1:8081"),
			 "* breaker failure_threshold=5 success_threshold=2 timeout_ms=60000 "
			 "half_open_max_requests=1 failure_rate_threshold=50 min_requests_for_rate=20 "
			 "rolling_window_ms=10000 reject_errno=ECONNREFUSED scope=destination enabled=true "
			 "slow_call_duration_ms=100 slow_call_rate_threshold=100 mode=observe "
			 "timeout_max_ms=60000 timeout_multiplier=2 fallback=127.0.0.1:8081");
	ck_assert_str_eq(format_of(FL_KIND_BREAKER, "fallback=[::1]:443"),
			 "* breaker failure_threshold=5 success_threshold=2 timeout_ms=60000 "
			 "half_open_max_requests=1 failure_rate_threshold=50 min_requests_for_rate=20 "
			 "rolling_window_ms=10000 reject_errno=ECONNREFUSED scope=destination enabled=true "
			 "fallback=[::1]:443");
}
END_TEST

START_TEST(breaker_keys_bad_input)
{
	ck_assert_str_eq(error_of(FL_KIND_BREAKER, "slow_call_duration_ms=-5"),
			 "T:1:5: value '-5' of 'slow_call_duration_ms' is out of range 0..2147483647");
	ck_assert_str_eq(error_of(FL_KIND_BREAKER, "slow_call_rate_threshold=101"),
			 "T:1:5: value '101' of 'slow_call_rate_threshold' is out of range 0..100");
	ck_assert_str_eq(error_of(FL_KIND_BREAKER, "timeout_multiplier=0.5"),
			 "T:1:5: value '0.5' of 'timeout_multiplier' is out of range 1..1000");
	ck_assert_str_eq(error_of(FL_KIND_BREAKER, "mode=shadow"),
			 "T:1:5: value 'shadow' of 'mode' must be enforce or observe");
	ck_assert_str_eq(error_of(FL_KIND_BREAKER, "timeout_ms=5000 timeout_max_ms=1000"),
			 "T:1:5: timeout_max_ms=1000 is below timeout_ms=5000 (the open time only grows from "
			 "timeout_ms; 0 keeps it fixed)");
	ck_assert_str_eq(
	    error_of(FL_KIND_BREAKER, "fallback=*.example:5432"),
	    "T:1:5: value '*.example:5432' of 'fallback' must be one host name and one port, such "
	    "as backup.example.com:8081 (no wildcard, no port range)");
	ck_assert_str_eq(
	    error_of(FL_KIND_BREAKER, "fallback=db.example:1-5"),
	    "T:1:5: value 'db.example:1-5' of 'fallback' must be one host name and one port, such "
	    "as backup.example.com:8081 (no wildcard, no port range)");
	ck_assert_str_eq(error_of(FL_KIND_BREAKER, "fallback=db.example"),
			 "T:1:5: value 'db.example' of 'fallback' must be one host name and one port, such "
			 "as backup.example.com:8081 (no wildcard, no port range)");
	ck_assert_str_eq(error_of(FL_KIND_BREAKER, "fallback=10.0.0.0/8:80"),
			 "T:1:5: value '10.0.0.0/8:80' of 'fallback' must be one address and port, such as "
			 "127.0.0.1:8081 or [::1]:8081, or NAME:PORT");
}
END_TEST

START_TEST(fallback_equal_to_its_destination_is_an_error)
{
	struct fl_ruleset rs;
	struct fl_diag d;
	fl_ruleset_init(&rs);
	fl_diag_clear(&d);
	ck_assert_int_eq(fl_parse_inline("R", "127.0.0.1:80 breaker fallback=127.0.0.1:80", &rs, &d), -1);
	ck_assert_str_eq(d.error, "R:1:1: fallback is the statement's own destination (it would fail over to "
				  "itself)");
	fl_ruleset_free(&rs);
	fl_diag_clear(&d);
	ck_assert_int_eq(fl_parse_inline("R", "127.0.0.1:80 breaker fallback=127.0.0.1:81", &rs, &d), 0);
	ck_assert_uint_eq(rs.rules[0].u.breaker.fallback.port, 81);
	fl_ruleset_free(&rs);
	/* names (SPEC 11 NAME:PORT): the same name and port is its own destination too */
	fl_diag_clear(&d);
	ck_assert_int_eq(fl_parse_inline("R", "api.test:80 breaker fallback=API.Test.:80", &rs, &d), -1);
	ck_assert_str_eq(d.error, "R:1:1: fallback api.test:80 is the statement's own destination (it would "
				  "fail over to itself)");
	fl_ruleset_free(&rs);
	fl_diag_clear(&d);
	ck_assert_int_eq(fl_parse_inline("R", "api.test:80 breaker fallback=api.test:81", &rs, &d), 0);
	fl_ruleset_free(&rs);
}
END_TEST

START_TEST(fallback_names_are_kept_and_print_back)
{
	struct fl_ruleset rs;
	struct fl_diag d;
	char text[512];
	fl_ruleset_init(&rs);
	fl_diag_clear(&d);
	ck_assert_int_eq(fl_parse_inline("R", "127.0.0.1:80 breaker fallback=Backup.Test.:8081", &rs, &d), 0);
	const struct fl_rule *r = &rs.rules[0];
	ck_assert_uint_eq(r->u.breaker.fallback.family, FL_AF_NAME);
	ck_assert_uint_eq(r->u.breaker.fallback.port, 8081);
	ck_assert_str_eq(r->fallback_name, "backup.test");
	fl_rule_format_brief(r, text, sizeof text);
	ck_assert_str_eq(text, "127.0.0.1:80 breaker fallback=backup.test:8081");
	fl_ruleset_free(&rs);
	/* an address fallback on a name target */
	fl_diag_clear(&d);
	ck_assert_int_eq(fl_parse_inline("R", "api.test:443 breaker fallback=10.0.0.1:443", &rs, &d), 0);
	fl_rule_format_brief(&rs.rules[0], text, sizeof text);
	ck_assert_str_eq(text, "api.test:443 breaker fallback=10.0.0.1:443");
	fl_ruleset_free(&rs);
}
END_TEST

Suite *ratelimit_suite(void); /* run by runner.c */

Suite *ratelimit_suite(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *b = tcase_create("bucket");
	tcase_add_test(b, burst_defaults_to_rate_and_passes_at_once);
	tcase_add_test(b, after_the_burst_exactly_rate_per_second);
	tcase_add_test(b, delay_waits_for_the_next_token_up_to_max_delay);
	tcase_add_test(b, a_live_rate_change_applies_to_the_next_take);
	tcase_add_test(b, eight_processes_share_one_bucket_within_5_percent);
	tcase_set_timeout(b, 30);
	suite_add_tcase(s, b);
	TCase *k = tcase_create("keys");
	tcase_add_test(k, rate_limit_keys_print_back);
	tcase_add_test(k, rate_limit_bad_input);
	tcase_add_test(k, breaker_keys_print_only_when_in_use);
	tcase_add_test(k, breaker_keys_bad_input);
	tcase_add_test(k, fallback_equal_to_its_destination_is_an_error);
	tcase_add_test(k, fallback_names_are_kept_and_print_back);
	suite_add_tcase(s, k);
	return s;
}
