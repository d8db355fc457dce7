/*
 * breaker.c - see breaker.h.
 *
 * The failure-rate rule uses a bucketed rolling window (as Hystrix and
 * Resilience4j do): rolling_window_ms is cut into FL_WINDOW_BUCKETS
 * buckets, each two 64-bit words: the bucket's epoch with its call count,
 * and the epoch with its failure count. A writer that finds a stale epoch
 * swaps in a fresh count with one CAS; a reader sums the words whose epoch
 * lies within the window. No lock, and no counter is lost under
 * contention. A count has 42 bits, enough for 10 M calls/s over a bucket
 * of the longest window; should one still fill up, its failures stop with
 * it, so the rate stays the rate of the calls counted.
 */
#include "breaker.h"

#include <errno.h>
#include <stddef.h>

#include "atomics.h"
#include "events.h"

#define EPOCH_BITS 22
#define COUNT_BITS 42
#define COUNT_MAX  ((UINT64_C(1) << COUNT_BITS) - 1)
#define EPOCH_MASK ((UINT64_C(1) << EPOCH_BITS) - 1)

static const char *const state_names[] = {"closed", "open", "half_open", "forced_open", "disabled"};

const char *fl_breaker_state_name(uint32_t state)
{
	return state < 5 ? state_names[state] : "unknown";
}

void fl_breaker_params_set(struct fl_seg_breaker_params *out, const struct fl_breaker_params *in)
{
	STORE(&out->failure_threshold, in->failure_threshold);
	STORE(&out->success_threshold, in->success_threshold);
	STORE(&out->timeout_ms, in->timeout_ms);
	STORE(&out->half_open_max_requests, in->half_open_max_requests);
	STORE(&out->failure_rate_centi, (uint32_t)(in->failure_rate_threshold * 100.0 + 0.5));
	STORE(&out->min_requests_for_rate, in->min_requests_for_rate);
	STORE(&out->rolling_window_ms, in->rolling_window_ms);
	STORE(&out->reject_errno, in->reject_errno);
	STORE(&out->scope, in->scope);
	STORE(&out->enabled, (uint8_t)in->enabled);
}

void fl_breaker_params_get(struct fl_breaker_params *out, const struct fl_seg_breaker_params *in)
{
	out->failure_threshold = LOAD(&in->failure_threshold);
	out->success_threshold = LOAD(&in->success_threshold);
	out->timeout_ms = LOAD(&in->timeout_ms);
	out->half_open_max_requests = LOAD(&in->half_open_max_requests);
	out->failure_rate_threshold = LOAD(&in->failure_rate_centi) / 100.0;
	out->min_requests_for_rate = LOAD(&in->min_requests_for_rate);
	out->rolling_window_ms = LOAD(&in->rolling_window_ms);
	out->reject_errno = LOAD(&in->reject_errno);
	out->scope = LOAD(&in->scope);
	out->enabled = LOAD(&in->enabled) != 0;
}

void fl_breaker_x_params_set(struct fl_seg_breaker_x *out, const struct fl_breaker_params *in)
{
	STORE(&out->slow_call_duration_ms, in->slow_call_duration_ms);
	STORE(&out->slow_rate_centi, (uint32_t)(in->slow_call_rate_threshold * 100.0 + 0.5));
	STORE(&out->timeout_max_ms, in->timeout_max_ms);
	STORE(&out->multiplier_centi, (uint32_t)(in->timeout_multiplier * 100.0 + 0.5));
	STORE(&out->mode, in->mode);
	/* The address before the family that publishes it: a reader seeing
	 * the family sees its address (a change of address with the same
	 * family may be seen half-way for an instant: set says so). */
	STORE(&out->fallback_port, in->fallback.port);
	for (unsigned i = 0; i < 16; i++)
		STORE(&out->fallback_addr[i], in->fallback.addr[i]);
	/* An unresolved name (FL_AF_NAME) never reaches the segment: none. */
	STORE(&out->fallback_family, in->fallback.family == FL_AF_NAME ? 0 : in->fallback.family);
}

void fl_breaker_x_params_get(struct fl_breaker_params *out, const struct fl_seg_breaker_x *in)
{
	out->slow_call_duration_ms = LOAD(&in->slow_call_duration_ms);
	out->slow_call_rate_threshold = LOAD(&in->slow_rate_centi) / 100.0;
	out->timeout_max_ms = LOAD(&in->timeout_max_ms);
	out->timeout_multiplier = LOAD(&in->multiplier_centi) / 100.0;
	out->mode = LOAD(&in->mode);
	out->fallback.family = LOAD(&in->fallback_family);
	out->fallback.port = LOAD(&in->fallback_port);
	for (unsigned i = 0; i < 16; i++)
		out->fallback.addr[i] = LOAD(&in->fallback_addr[i]);
}

struct fl_seg_breaker_x *fl_breaker_x(struct fl_seg_breaker *b)
{
	struct fl_seg_entry *e = (struct fl_seg_entry *)((char *)b - offsetof(struct fl_seg_entry, breaker));
	return &e->breaker_x;
}

const struct fl_seg_breaker_x *fl_breaker_x_const(const struct fl_seg_breaker *b)
{
	return fl_breaker_x((struct fl_seg_breaker *)b);
}

uint32_t fl_breaker_open_ms(const struct fl_seg_breaker *b)
{
	uint32_t t = LOAD(&fl_breaker_x_const(b)->open_ms);
	return t ? t : LOAD(&b->p.timeout_ms);
}

/* The open time after one more re-opening from HALF_OPEN. */
static uint32_t grown_open_ms(const struct fl_seg_breaker *b)
{
	const struct fl_seg_breaker_x *x = fl_breaker_x_const(b);
	uint32_t base = LOAD(&b->p.timeout_ms);
	uint32_t cap = LOAD(&x->timeout_max_ms);
	if (cap < base)
		cap = base; /* 0: no growth; a live `set` may lower timeout_ms below it */
	uint64_t next = (uint64_t)fl_breaker_open_ms(b) * LOAD(&x->multiplier_centi) / 100u;
	return next > cap ? cap : (uint32_t)next;
}

static uint64_t make_word(uint32_t state, uint32_t permits, uint32_t generation)
{
	return ((uint64_t)generation << 32) | ((uint64_t)(permits & 0xffffff) << 8) | state;
}

void fl_breaker_init(struct fl_seg_breaker *b, const struct fl_breaker_params *p, uint64_t now_ms)
{
	fl_breaker_params_set(&b->p, p);
	fl_breaker_x_params_set(fl_breaker_x(b), p);
	STORE(&b->since_ms, now_ms);
	STORE(&b->word, make_word(p->enabled ? FL_BREAKER_CLOSED : FL_BREAKER_DISABLED, 0, 1));
}

/* Moves from the state in *w to `to`; false if someone else moved first.
 * The move that wins is written to the event log, with its reason. */
static bool transition(struct fl_seg_breaker *b, uint64_t *w, uint32_t to, uint32_t permits, uint64_t now_ms,
		       enum fl_breaker_reason why)
{
	uint32_t from = fl_breaker_word_state(*w);
	uint64_t next = make_word(to, permits, fl_breaker_word_generation(*w) + 1);
	if (!__atomic_compare_exchange_n(&b->word, w, next, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return false;
	STORE(&b->consecutive_failures, 0);
	STORE(&b->consecutive_successes, 0);
	STORE(&b->since_ms, now_ms);
	ADD(&b->transitions, 1);
	if (to == FL_BREAKER_CLOSED)
		STORE(&fl_breaker_x(b)->open_ms, 0); /* a close resets the backoff */
	*w = next;
	fl_events_breaker_moved(b, from, to, why, now_ms);
	return true;
}

static uint32_t bucket_ms(const struct fl_seg_breaker *b)
{
	uint32_t w = LOAD(&b->p.rolling_window_ms) / FL_WINDOW_BUCKETS;
	return w ? w : 1;
}

/* Adds one to the count in *slot for epoch (starting it afresh if the word
 * holds an older epoch). False if the count is full. */
static bool bucket_add(uint64_t *slot, uint64_t epoch)
{
	uint64_t old = LOAD(slot), next;
	do {
		uint64_t n = (old >> COUNT_BITS) == epoch ? old & COUNT_MAX : 0;
		if (n == COUNT_MAX)
			return false;
		next = (epoch << COUNT_BITS) | (n + 1);
	} while (!__atomic_compare_exchange_n(slot, &old, next, true, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	return true;
}

static uint64_t now_epoch(const struct fl_seg_breaker *b, uint64_t now_ms)
{
	return (now_ms / bucket_ms(b)) & EPOCH_MASK;
}

/* A call (and maybe its failure) in the bucket of now_ms. */
static void window_add(struct fl_seg_breaker *b, uint64_t now_ms, bool failure, bool slow)
{
	uint64_t epoch = now_epoch(b, now_ms);
	unsigned i = (unsigned)(epoch % FL_WINDOW_BUCKETS);
	if (!bucket_add(&b->window_calls[i], epoch))
		return;
	if (failure)
		bucket_add(&b->window_failures[i], epoch);
	if (slow)
		bucket_add(&fl_breaker_x(b)->window_slow[i], epoch);
}

/* A failure of a call counted earlier (a broken peer). */
static void window_add_failure(struct fl_seg_breaker *b, uint64_t now_ms)
{
	uint64_t epoch = now_epoch(b, now_ms);
	bucket_add(&b->window_failures[epoch % FL_WINDOW_BUCKETS], epoch);
}

static uint64_t window_sum(const uint64_t *words, uint64_t epoch)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < FL_WINDOW_BUCKETS; i++) {
		uint64_t v = LOAD(&words[i]);
		uint64_t age = (epoch - (v >> COUNT_BITS)) & EPOCH_MASK;
		if (v != 0 && age < FL_WINDOW_BUCKETS)
			sum += v & COUNT_MAX;
	}
	return sum;
}

void fl_breaker_window(const struct fl_seg_breaker *b, uint64_t now_ms, uint64_t *calls, uint64_t *failures)
{
	uint64_t epoch = now_epoch(b, now_ms);
	*calls = window_sum(b->window_calls, epoch);
	*failures = window_sum(b->window_failures, epoch);
	/* A broken peer's failure may land a bucket after its call. */
	if (*failures > *calls)
		*failures = *calls;
}

uint64_t fl_breaker_window_slow(const struct fl_seg_breaker *b, uint64_t now_ms)
{
	uint64_t calls, failures;
	fl_breaker_window(b, now_ms, &calls, &failures);
	uint64_t slow = window_sum(fl_breaker_x_const(b)->window_slow, now_epoch(b, now_ms));
	return slow > calls ? calls : slow;
}

static void window_clear(struct fl_seg_breaker *b)
{
	struct fl_seg_breaker_x *x = fl_breaker_x(b);
	for (unsigned i = 0; i < FL_WINDOW_BUCKETS; i++) {
		STORE(&b->window_calls[i], 0);
		STORE(&b->window_failures[i], 0);
		STORE(&x->window_slow[i], 0);
	}
}

/* Whether the window's failure or slow-call rate is over its threshold:
 * FL_REASON_FAILURE_RATE or FL_REASON_SLOW_CALL_RATE, else 0 (false). */
static int rate_tripped(const struct fl_seg_breaker *b, uint64_t now_ms)
{
	const struct fl_seg_breaker_x *x = fl_breaker_x_const(b);
	uint32_t centi = LOAD(&b->p.failure_rate_centi);
	/* Slow calls, over the same window with the same minimum (SPEC 11). */
	uint32_t slow_centi = LOAD(&x->slow_call_duration_ms) ? LOAD(&x->slow_rate_centi) : 0;
	if (centi == 0 && slow_centi == 0)
		return false;
	uint64_t calls, failures;
	fl_breaker_window(b, now_ms, &calls, &failures);
	if (calls == 0 || calls < LOAD(&b->p.min_requests_for_rate))
		return false;
	if (centi != 0 && failures * 10000 >= centi * calls)
		return FL_REASON_FAILURE_RATE;
	if (slow_centi != 0 && fl_breaker_window_slow(b, now_ms) * 10000 >= slow_centi * calls)
		return FL_REASON_SLOW_CALL_RATE;
	return 0;
}

static bool open_breaker(struct fl_seg_breaker *b, uint64_t *w, uint64_t now_ns, uint64_t now_ms,
			 enum fl_breaker_reason why)
{
	/* A re-opening from HALF_OPEN: the trials failed, wait longer (backoff). */
	bool again = fl_breaker_word_state(*w) == FL_BREAKER_HALF_OPEN;
	uint32_t next = again ? grown_open_ms(b) : 0;
	STORE(&b->opened_ns, now_ns);
	if (!transition(b, w, FL_BREAKER_OPEN, 0, now_ms, why))
		return false;
	if (again)
		STORE(&fl_breaker_x(b)->open_ms, next);
	return true;
}

/* Time from `then` to `now`. Another thread or process may have stamped
 * `then` after this caller read its clock: that is no time at all, not an
 * unsigned wrap to "forever ago". */
static uint64_t elapsed_ns(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

/* mode=observe: what would be rejected passes, counted apart, without a
 * trial permit (so it cannot close a HALF_OPEN breaker). */
static bool reject(struct fl_seg_breaker *b, struct fl_permit *permit)
{
	struct fl_seg_breaker_x *x = fl_breaker_x(b);
	if (LOAD(&x->mode) == FL_MODE_OBSERVE) {
		ADD(&x->would_reject, 1);
		permit->trial = false;
		permit->active = true;
		return true;
	}
	ADD(&b->rejected, 1);
	return false;
}

bool fl_breaker_admit(struct fl_seg_breaker *b, uint64_t now_ns, uint64_t now_ms, struct fl_permit *permit)
{
	uint64_t timeout_ns = (uint64_t)LOAD(&b->p.timeout_ms) * 1000000ULL;
	uint64_t w = LOAD(&b->word);
	permit->start_ns = now_ns;
	for (;;) {
		permit->generation = fl_breaker_word_generation(w);
		permit->trial = false;
		permit->active = true;
		uint32_t state = fl_breaker_word_state(w);
		if (state == FL_BREAKER_CLOSED || state == FL_BREAKER_DISABLED || !LOAD(&b->p.enabled))
			return true;
		if (state == FL_BREAKER_FORCED_OPEN)
			return reject(b, permit);
		if (state == FL_BREAKER_OPEN) {
			if (elapsed_ns(now_ns, LOAD(&b->opened_ns)) <
			    (uint64_t)fl_breaker_open_ms(b) * 1000000ULL)
				return reject(b, permit);
			STORE(&b->last_permit_ns, now_ns);
			if (!transition(b, &w, FL_BREAKER_HALF_OPEN, 1, now_ms, FL_REASON_TIMEOUT))
				continue;
			permit->generation = fl_breaker_word_generation(w);
			permit->trial = true;
			return true;
		}
		/* HALF_OPEN */
		uint32_t permits = fl_breaker_word_permits(w);
		if (permits < LOAD(&b->p.half_open_max_requests)) {
			uint64_t next = w + (1u << 8);
			if (!__atomic_compare_exchange_n(&b->word, &w, next, false, __ATOMIC_ACQ_REL,
							 __ATOMIC_ACQUIRE))
				continue;
			STORE(&b->last_permit_ns, now_ns);
			permit->trial = true;
			return true;
		}
		if (elapsed_ns(now_ns, LOAD(&b->last_permit_ns)) >= timeout_ns) {
			/* The trials never reported: they failed. Their permits die
			 * with the generation, and so do their outcomes, should they
			 * report after all (fl_breaker_record): each counts once. */
			uint32_t gen = fl_breaker_word_generation(w);
			if (!open_breaker(b, &w, now_ns, now_ms, FL_REASON_TRIAL_TIMEOUT))
				continue;
			STORE(&b->reclaimed_generation, gen);
			ADD(&b->calls, permits);
			ADD(&b->failures, permits);
		}
		return reject(b, permit);
	}
}

static void release_permit(struct fl_seg_breaker *b, uint32_t generation)
{
	uint64_t w = LOAD(&b->word);
	while (fl_breaker_word_generation(w) == generation &&
	       fl_breaker_word_state(w) == FL_BREAKER_HALF_OPEN && fl_breaker_word_permits(w) > 0) {
		if (__atomic_compare_exchange_n(&b->word, &w, w - (1u << 8), false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return;
	}
}

void fl_breaker_cancel(struct fl_seg_breaker *b, struct fl_permit *permit)
{
	if (!permit->active)
		return;
	permit->active = false;
	if (permit->trial)
		release_permit(b, permit->generation);
}

/* A failure counted while CLOSED (of this generation): opens on the
 * consecutive count or on the rate. */
static void closed_failure(struct fl_seg_breaker *b, uint64_t *w, uint64_t now_ns, uint64_t now_ms)
{
	STORE(&b->consecutive_successes, 0);
	if (__atomic_add_fetch(&b->consecutive_failures, 1, __ATOMIC_ACQ_REL) >=
	    LOAD(&b->p.failure_threshold)) {
		open_breaker(b, w, now_ns, now_ms, FL_REASON_FAILURE_THRESHOLD);
		return;
	}
	int why = rate_tripped(b, now_ms);
	if (why)
		open_breaker(b, w, now_ns, now_ms, (enum fl_breaker_reason)why);
}

void fl_breaker_record(struct fl_seg_breaker *b, struct fl_permit *permit, bool failure, uint64_t now_ns,
		       uint64_t now_ms)
{
	if (!permit->active)
		return;
	permit->active = false;
	uint64_t w = LOAD(&b->word);
	/* A trial whose permit was reclaimed was already counted, as failed. */
	if (permit->trial && fl_breaker_word_generation(w) != permit->generation &&
	    LOAD(&b->reclaimed_generation) == permit->generation)
		return;
	struct fl_seg_breaker_x *x = fl_breaker_x(b);
	uint64_t slow_ns = (uint64_t)LOAD(&x->slow_call_duration_ms) * 1000000ULL;
	bool slow = slow_ns != 0 && permit->start_ns != 0 && elapsed_ns(now_ns, permit->start_ns) > slow_ns;
	ADD(&b->calls, 1);
	if (failure)
		ADD(&b->failures, 1);
	if (slow)
		ADD(&x->slow_calls, 1);
	window_add(b, now_ms, failure, slow);
	if (fl_breaker_word_generation(w) != permit->generation || !LOAD(&b->p.enabled))
		return;
	switch (fl_breaker_word_state(w)) {
	case FL_BREAKER_CLOSED:
		if (!failure) {
			STORE(&b->consecutive_failures, 0);
			ADD(&b->consecutive_successes, 1);
			/* A success can be the call that brings the window to
			 * min_requests_for_rate with the rate already over. */
			int why = rate_tripped(b, now_ms);
			if (why)
				open_breaker(b, &w, now_ns, now_ms, (enum fl_breaker_reason)why);
			return;
		}
		closed_failure(b, &w, now_ns, now_ms);
		return;
	case FL_BREAKER_HALF_OPEN:
		if (!permit->trial)
			return;
		if (failure || slow) { /* a slow trial is no sign of recovery */
			open_breaker(b, &w, now_ns, now_ms,
				     failure ? FL_REASON_TRIAL_FAILED : FL_REASON_TRIAL_SLOW);
			return;
		}
		if (__atomic_add_fetch(&b->consecutive_successes, 1, __ATOMIC_ACQ_REL) >=
		    LOAD(&b->p.success_threshold)) {
			if (transition(b, &w, FL_BREAKER_CLOSED, 0, now_ms, FL_REASON_TRIAL_SUCCEEDED))
				window_clear(b);
			return;
		}
		release_permit(b, permit->generation);
		return;
	default:
		return;
	}
}

void fl_breaker_record_late_failure(struct fl_seg_breaker *b, uint32_t generation, uint64_t now_ns,
				    uint64_t now_ms)
{
	ADD(&b->failures, 1);
	window_add_failure(b, now_ms);
	uint64_t w = LOAD(&b->word);
	if (fl_breaker_word_generation(w) != generation || !LOAD(&b->p.enabled) ||
	    fl_breaker_word_state(w) != FL_BREAKER_CLOSED)
		return;
	closed_failure(b, &w, now_ns, now_ms);
}

/* Moves to `to` whatever the current state, bumping the generation. */
static void force(struct fl_seg_breaker *b, uint32_t to, uint64_t now_ms, enum fl_breaker_reason why)
{
	uint64_t w = LOAD(&b->word);
	while (!transition(b, &w, to, 0, now_ms, why))
		;
}

void fl_breaker_trip(struct fl_seg_breaker *b, uint64_t now_ms)
{
	force(b, FL_BREAKER_FORCED_OPEN, now_ms, FL_REASON_FORCED);
}

void fl_breaker_reset(struct fl_seg_breaker *b, uint64_t now_ms)
{
	force(b, LOAD(&b->p.enabled) ? FL_BREAKER_CLOSED : FL_BREAKER_DISABLED, now_ms, FL_REASON_RESET);
	STORE(&b->calls, 0);
	STORE(&b->failures, 0);
	STORE(&b->rejected, 0);
	STORE(&b->transitions, 0);
	struct fl_seg_breaker_x *x = fl_breaker_x(b);
	STORE(&x->slow_calls, 0);
	STORE(&x->would_reject, 0);
	STORE(&x->fallbacks, 0);
	STORE(&x->open_ms, 0);
	window_clear(b);
}

void fl_breaker_set_disabled(struct fl_seg_breaker *b, bool disabled, uint64_t now_ms)
{
	STORE(&b->p.enabled, (uint8_t)!disabled);
	force(b, disabled ? FL_BREAKER_DISABLED : FL_BREAKER_CLOSED, now_ms,
	      disabled ? FL_REASON_DISABLED : FL_REASON_ENABLED);
}

bool fl_breaker_is_connect_failure(int err)
{
	switch (err) {
	case ECONNREFUSED:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ECONNRESET:
	case ECONNABORTED:
		return true;
	default:
		return false;
	}
}

bool fl_breaker_is_peer_failure(int err)
{
	return err == ECONNRESET || err == EPIPE || err == ETIMEDOUT;
}
