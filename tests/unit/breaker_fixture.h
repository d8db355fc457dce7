/*
 * breaker_fixture.h - the breaker suites' fake clock and the breaker they
 * drive (test_breaker*.c).
 *
 * fl_breaker_admit/record take the time as arguments, so every timeout,
 * trial expiry and rolling-window bucket is reached by advancing two plain
 * integers: no test sleeps. The breaker lives in a zeroed struct, as it
 * would in a freshly claimed segment entry; setup() is every test case's
 * checked fixture. Included by one test file each; everything is static.
 */
#ifndef FL_TEST_BREAKER_FIXTURE_H
#define FL_TEST_BREAKER_FIXTURE_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "breaker.h"

#define NS_PER_MS 1000000ull
#define T0_MS	  1764222000000ull /* a whole second, so window buckets start aligned */

/* The fake clock: monotonic ns for decisions, Unix ms for display and window. */
static struct {
	uint64_t ns;
	uint64_t ms;
} clk;

/* The breaker inside an entry, as every breaker is: its SPEC 11 additions
 * live at the end of the entry (fl_breaker_x). */
static struct fl_seg_entry fx_entry;
#define brk   (fx_entry.breaker)
#define brk_x (fx_entry.breaker_x)

static inline void advance(uint64_t ms)
{
	clk.ns += ms * NS_PER_MS;
	clk.ms += ms;
}

static inline struct fl_breaker_params defaults(void)
{
	struct fl_rule r;
	fl_rule_defaults(&r, FL_KIND_BREAKER);
	return r.u.breaker;
}

static inline void start(const struct fl_breaker_params *p)
{
	memset(&fx_entry, 0, sizeof fx_entry);
	fl_breaker_init(&brk, p, clk.ms);
}

static inline void setup(void)
{
	clk.ns = 5000 * NS_PER_MS; /* not zero: "opened at 0" must not look special */
	clk.ms = T0_MS;
	struct fl_breaker_params p = defaults();
	start(&p);
}

static inline uint32_t state(void)
{
	return fl_breaker_word_state(__atomic_load_n(&brk.word, __ATOMIC_ACQUIRE));
}

static inline uint32_t generation(void)
{
	return fl_breaker_word_generation(__atomic_load_n(&brk.word, __ATOMIC_ACQUIRE));
}

static inline uint32_t permits(void)
{
	return fl_breaker_word_permits(__atomic_load_n(&brk.word, __ATOMIC_ACQUIRE));
}

static inline bool admit(struct fl_permit *p)
{
	return fl_breaker_admit(&brk, clk.ns, clk.ms, p);
}

static inline void record(struct fl_permit *p, bool failure)
{
	fl_breaker_record(&brk, p, failure, clk.ns, clk.ms);
}

/* One whole call that must be admitted. */
static inline void call(bool failure)
{
	struct fl_permit p;
	ck_assert_msg(admit(&p), "call rejected in state %s", fl_breaker_state_name(state()));
	record(&p, failure);
}

static inline void calls(unsigned n, bool failure)
{
	for (unsigned i = 0; i < n; i++)
		call(failure);
}

/* Opens a breaker with failure_threshold consecutive failures. */
static inline void open_it(void)
{
	calls(brk.p.failure_threshold, true);
	ck_assert_str_eq(fl_breaker_state_name(state()), "open");
}

/* Opens it, waits out timeout_ms and takes the first trial permit. */
static inline void half_open_it(struct fl_permit *trial)
{
	open_it();
	advance(brk.p.timeout_ms);
	ck_assert(admit(trial));
	ck_assert_uint_eq(state(), FL_BREAKER_HALF_OPEN);
	ck_assert(trial->trial);
}

#endif
