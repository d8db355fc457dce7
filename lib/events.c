/*
 * events.c - see events.h.
 *
 * The record is written and read as 16 64-bit words with relaxed atomic
 * stores and loads (no byte of it is ever accessed plainly while another
 * process may touch it), ordered by fences around the seq word as a
 * seqlock is. The seq check alone would let one case through: a writer
 * stalled between its mark and its last store for a whole lap of the
 * ring, whose late stores land in the record its successor published.
 * The checksum catches that mix, so even then no torn event is shown.
 */
#include "events.h"

#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "atomics.h"
#include "breaker.h"
#include "errnames.h"
#include "reader.h"

#define WORDS (sizeof(struct fl_seg_event) / sizeof(uint64_t))

static const char *const kind_names[] = {NULL,	  "breaker",	"bulkhead",   "layer",	 "process",
					 "fault", "connection", "rate_limit", "fallback"};
static const char *const reason_names[] = {
    "failure_threshold", "failure_rate",  "timeout",	    "trial_succeeded",
    "trial_failed",	 "trial_timeout", "forced",	    "reset",
    "disabled",		 "enabled",	  "slow_call_rate", "trial_slow"};
static const char *const bulkhead_names[] = {"rejected", "timeout"};
static const char *const layer_names[] = {"applied", "removed", "expired"};
static const char *const process_names[] = {"attached", "exited", "gone"};
static const char *const fault_names[] = {"injected"};
static const char *const conn_names[] = {"short_io", "eof",    "hang",	     "reset",
					 "corrupt",  "shaped", "close_delay"};
static const char *const rate_names[] = {"rejected", "delayed"};
static const char *const fallback_names[] = {"failed_over"};

_Static_assert(sizeof(conn_names) / sizeof(*conn_names) == FL_CONN_EV_MAX + 1, "a name per conn event");
_Static_assert(sizeof(kind_names) / sizeof(*kind_names) == FL_EVENT_KIND_MAX + 1, "a name per kind");

_Static_assert(sizeof(reason_names) / sizeof(*reason_names) == FL_REASON_MAX + 1, "a name per reason");

const char *fl_event_kind_name(unsigned kind)
{
	return kind >= 1 && kind <= FL_EVENT_KIND_MAX ? kind_names[kind] : NULL;
}

const char *fl_event_what_name(unsigned kind, unsigned what)
{
	switch (kind) {
	case FL_EVENT_BREAKER:
		return what <= FL_REASON_MAX ? reason_names[what] : NULL;
	case FL_EVENT_BULKHEAD:
		return what <= FL_BULKHEAD_EV_MAX ? bulkhead_names[what] : NULL;
	case FL_EVENT_LAYER:
		return what <= FL_LAYER_EV_MAX ? layer_names[what] : NULL;
	case FL_EVENT_PROCESS:
		return what <= FL_PROCESS_EV_MAX ? process_names[what] : NULL;
	case FL_EVENT_FAULT:
		return what <= FL_FAULT_EV_MAX ? fault_names[what] : NULL;
	case FL_EVENT_CONNECTION:
		return what <= FL_CONN_EV_MAX ? conn_names[what] : NULL;
	case FL_EVENT_RATE_LIMIT:
		return what <= FL_RATE_EV_MAX ? rate_names[what] : NULL;
	case FL_EVENT_FALLBACK:
		return what <= FL_FALLBACK_EV_MAX ? fallback_names[what] : NULL;
	default:
		return NULL;
	}
}

void fl_event_text(char *dst, size_t size, const char *src)
{
	size_t n = 0;
	if (src)
		while (n + 1 < size && src[n])
			n++;
	memcpy(dst, src ? src : "", n);
	memset(dst + n, 0, size - n);
}

/* FNV-1a over the words, seeded with seq: a record moved to another slot
 * or lap, or mixed from two writers, does not match. */
static uint32_t checksum(const uint64_t *w, uint64_t seq)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seq;
	for (size_t i = 1; i < WORDS; i++) {
		uint64_t v = i == 1 ? w[i] & 0xffffffff00000000ULL : w[i]; /* sum itself counts as 0 */
		for (int b = 0; b < 8; b++) {
			h ^= (v >> (8 * b)) & 0xff;
			h *= 0x100000001b3ULL;
		}
	}
	return (uint32_t)(h ^ (h >> 32));
}

static void to_record(const struct fl_event *ev, uint64_t seq, struct fl_seg_event *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->seq = seq;
	rec->pid = ev->pid;
	rec->time_ms = ev->time_ms;
	rec->kind = ev->kind;
	rec->what = ev->what;
	rec->a = ev->a;
	rec->b = ev->b;
	rec->v1 = ev->v1;
	rec->v2 = ev->v2;
	rec->v3 = ev->v3;
	rec->count = ev->count;
	fl_event_text(rec->dest, sizeof(rec->dest), ev->dest);
	fl_event_text(rec->text, sizeof(rec->text), ev->text);
	uint64_t w[WORDS];
	memcpy(w, rec, sizeof(w));
	rec->sum = checksum(w, seq);
}

/* Takes a number and marks its record; false if a later lap holds it
 * already (this writer was that late: the event is lost, counted). */
static bool begin(struct fl_seg *seg, uint64_t *n, struct fl_seg_event **slot)
{
	*n = __atomic_fetch_add(&seg->ev_hdr->head, 1, __ATOMIC_RELAXED);
	*slot = &seg->events[*n & (FL_SEG_EVENTS - 1)];
	uint64_t mark = 2 * *n + 1, cur = __atomic_load_n(&(*slot)->seq, __ATOMIC_RELAXED);
	do {
		if (cur >= mark) {
			ADD(&seg->ev_hdr->lost, 1);
			return false;
		}
	} while (!__atomic_compare_exchange_n(&(*slot)->seq, &cur, mark, false, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	__atomic_thread_fence(__ATOMIC_RELEASE); /* the mark before any data store */
	return true;
}

static void fill(struct fl_seg_event *slot, const struct fl_event *ev, uint64_t n)
{
	struct fl_seg_event rec;
	to_record(ev, 2 * n + 2, &rec);
	uint64_t w[WORDS];
	memcpy(w, &rec, sizeof(w));
	uint64_t *dst = (uint64_t *)slot;
	for (size_t i = 1; i < WORDS; i++)
		__atomic_store_n(&dst[i], w[i], __ATOMIC_RELAXED);
}

void fl_event_write(struct fl_seg *seg, const struct fl_event *ev)
{
	if (!seg || !seg->ev_hdr || !seg->events)
		return;
	uint64_t n;
	struct fl_seg_event *slot;
	if (!begin(seg, &n, &slot))
		return;
	fill(slot, ev, n);
	/* Publish, unless a later lap took the record over meanwhile. */
	uint64_t mark = 2 * n + 1;
	__atomic_compare_exchange_n(&slot->seq, &mark, 2 * n + 2, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

uint64_t fl_event_write_unfinished(struct fl_seg *seg, const struct fl_event *ev)
{
	uint64_t n = 0;
	struct fl_seg_event *slot;
	if (seg && seg->ev_hdr && begin(seg, &n, &slot))
		fill(slot, ev, n);
	return n;
}

static uint32_t self_pid(void)
{
	return (uint32_t)syscall(SYS_getpid); /* async-signal-safe, no cache to go stale after fork */
}

void fl_event_breaker(struct fl_seg *seg, const struct fl_seg_entry *e, uint32_t pid, uint32_t from,
		      uint32_t to, enum fl_breaker_reason why, uint64_t now_ms)
{
	struct fl_event ev = {.time_ms = now_ms, .pid = pid, .kind = FL_EVENT_BREAKER, .what = (uint8_t)why};
	ev.a = (uint8_t)from;
	ev.b = (uint8_t)to;
	struct fl_seg_key key;
	memcpy(&key, &e->key, sizeof(key));
	char name[FL_SEG_KEY_TEXT + 16];
	fl_seg_key_format(&key, name, sizeof(name));
	fl_event_text(ev.dest, sizeof(ev.dest), name);
	fl_event_write(seg, &ev);
}

void fl_event_layer(struct fl_seg *seg, uint32_t pid, const char *layer_name, const char *what,
		    uint64_t now_ms)
{
	struct fl_event ev = {.time_ms = now_ms, .pid = pid, .kind = FL_EVENT_LAYER};
	unsigned i = 0;
	while (i <= FL_LAYER_EV_MAX && !(what && strcmp(what, layer_names[i]) == 0))
		i++;
	if (i > FL_LAYER_EV_MAX)
		return;
	ev.what = (uint8_t)i;
	fl_event_text(ev.text, sizeof(ev.text), layer_name);
	fl_event_write(seg, &ev);
}

void fl_event_process(struct fl_seg *seg, uint32_t pid, enum fl_process_event what, const char *cmd,
		      uint64_t now_ms)
{
	struct fl_event ev = {.time_ms = now_ms, .pid = pid, .kind = FL_EVENT_PROCESS, .what = (uint8_t)what};
	fl_event_text(ev.text, sizeof(ev.text), cmd);
	fl_event_write(seg, &ev);
}

void fl_event_fault(struct fl_seg *seg, uint32_t pid, const char *dest, uint32_t statement, uint32_t ops,
		    int err, uint32_t delay_ms, uint64_t second, uint64_t count, uint64_t now_ms)
{
	/* Its time is the start of the second it counts, when that is known. */
	uint64_t t = second ? second * 1000 : now_ms;
	struct fl_event ev = {.time_ms = t, .pid = pid, .kind = FL_EVENT_FAULT, .what = FL_FAULT_INJECTED};
	ev.a = (uint8_t)ops;
	ev.v1 = (uint32_t)err;
	ev.v2 = delay_ms;
	ev.v3 = statement;
	ev.count = count;
	fl_event_text(ev.dest, sizeof(ev.dest), dest);
	fl_event_write(seg, &ev);
}

void fl_event_bulkhead(struct fl_seg *seg, struct fl_seg_entry *e, enum fl_bulkhead_event what,
		       uint64_t now_ms)
{
	struct fl_seg_bulkhead *b = &e->bulkhead;
	uint32_t second = (uint32_t)(now_ms / 1000), last = LOAD(&b->event_second);
	if (last == second || !CAS(&b->event_second, &last, second))
		return; /* this second has its event already */
	struct fl_event ev = {
	    .time_ms = now_ms, .pid = self_pid(), .kind = FL_EVENT_BULKHEAD, .what = (uint8_t)what};
	ev.count = what == FL_BULKHEAD_EV_TIMEOUT ? LOAD(&b->timeouts) : LOAD(&b->rejected);
	ev.v1 = LOAD(&b->p.max_concurrent_requests);
	ev.v2 = LOAD(&b->active);
	struct fl_seg_key key;
	memcpy(&key, &e->key, sizeof(key));
	char name[FL_SEG_KEY_TEXT + 16];
	fl_seg_key_format(&key, name, sizeof(name));
	fl_event_text(ev.dest, sizeof(ev.dest), name);
	fl_event_write(seg, &ev);
}

void fl_event_conn(struct fl_seg *seg, uint32_t pid, const char *dest, uint32_t statement, uint32_t ops,
		   enum fl_conn_event what, uint64_t second, uint64_t count, uint64_t amount, uint64_t now_ms)
{
	struct fl_event ev = {.time_ms = second ? second * 1000 : now_ms,
			      .pid = pid,
			      .kind = FL_EVENT_CONNECTION,
			      .what = (uint8_t)what};
	ev.a = (uint8_t)ops;
	ev.v1 = amount > UINT32_MAX ? UINT32_MAX : (uint32_t)amount;
	ev.v3 = statement;
	ev.count = count;
	fl_event_text(ev.dest, sizeof(ev.dest), dest);
	fl_event_write(seg, &ev);
}

/* The first caller of this Unix second for *word wins (CAS). */
static bool first_of_second(uint32_t *word, uint64_t now_ms)
{
	uint32_t second = (uint32_t)(now_ms / 1000), last = LOAD(word);
	return last != second && CAS(word, &last, second);
}

static void entry_dest(const struct fl_seg_entry *e, struct fl_event *ev)
{
	struct fl_seg_key key;
	memcpy(&key, &e->key, sizeof(key));
	char name[FL_SEG_KEY_TEXT + 16];
	fl_seg_key_format(&key, name, sizeof(name));
	fl_event_text(ev->dest, sizeof(ev->dest), name);
}

void fl_event_rate_limit(struct fl_seg *seg, struct fl_seg_entry *e, enum fl_rate_event what, uint64_t now_ms)
{
	if (!first_of_second(what == FL_RATE_EV_DELAYED ? &e->ev_rl_delayed_s : &e->ev_rl_rejected_s, now_ms))
		return;
	struct fl_event ev = {
	    .time_ms = now_ms, .pid = self_pid(), .kind = FL_EVENT_RATE_LIMIT, .what = (uint8_t)what};
	ev.count = what == FL_RATE_EV_DELAYED ? LOAD(&e->ratelimit.delayed) : LOAD(&e->ratelimit.rejected);
	ev.v1 = LOAD(&e->ratelimit.p.rate);
	ev.v2 = LOAD(&e->ratelimit.p.burst);
	entry_dest(e, &ev);
	fl_event_write(seg, &ev);
}

void fl_event_fallback(struct fl_seg *seg, struct fl_seg_entry *e, const char *to, uint64_t now_ms)
{
	if (!first_of_second(&e->ev_fallback_s, now_ms))
		return;
	struct fl_event ev = {
	    .time_ms = now_ms, .pid = self_pid(), .kind = FL_EVENT_FALLBACK, .what = FL_FALLBACK_EV_USED};
	ev.count = LOAD(&e->breaker_x.fallbacks);
	fl_event_text(ev.text, sizeof(ev.text), to);
	entry_dest(e, &ev);
	fl_event_write(seg, &ev);
}

static struct fl_seg *bound; /* atomic */
/* A thread's own binding comes first: `faultline serve` runs CLI commands
 * on many threads at once, each with the segment it opened (a shared one
 * would send a trip's event to another thread's segment, or to none). */
static __thread __attribute__((tls_model("initial-exec"))) struct fl_seg *bound_here;

void fl_events_bind(struct fl_seg *seg)
{
	__atomic_store_n(&bound, seg, __ATOMIC_RELEASE);
}

void fl_events_bind_thread(struct fl_seg *seg)
{
	bound_here = seg;
}

void fl_events_unbind(const struct fl_seg *seg)
{
	if (bound_here == seg)
		bound_here = NULL;
	if (__atomic_load_n(&bound, __ATOMIC_ACQUIRE) == seg)
		fl_events_bind(NULL);
}

struct fl_seg *fl_events_bound(void)
{
	return bound_here ? bound_here : __atomic_load_n(&bound, __ATOMIC_ACQUIRE);
}

void fl_events_breaker_moved(const struct fl_seg_breaker *b, uint32_t from, uint32_t to,
			     enum fl_breaker_reason why, uint64_t now_ms)
{
	struct fl_seg *seg = fl_events_bound();
	if (!seg || !seg->entries || !seg->ev_hdr)
		return;
	const char *p = (const char *)b - offsetof(struct fl_seg_entry, breaker);
	const char *lo = (const char *)seg->entries, *hi = (const char *)(seg->entries + seg->capacity);
	if (p < lo || p >= hi || (size_t)(p - lo) % sizeof(struct fl_seg_entry) != 0)
		return;
	fl_event_breaker(seg, (const struct fl_seg_entry *)p, self_pid(), from, to, why, now_ms);
}

/* ---- reading ---- */

uint64_t fl_events_head(const struct fl_seg *seg)
{
	return seg && seg->ev_hdr ? LOAD(&seg->ev_hdr->head) : 0;
}

void fl_event_reader_init(struct fl_event_reader *r, const struct fl_seg *seg, uint32_t grace_ms)
{
	memset(r, 0, sizeof(*r));
	uint64_t head = fl_events_head(seg);
	r->next = head > FL_SEG_EVENTS ? head - FL_SEG_EVENTS : 0;
	r->grace_ms = grace_ms;
}

enum copy_result { COPIED, NOT_YET, GONE, TORN };

static enum copy_result copy_record(const struct fl_seg_event *slot, uint64_t n, struct fl_seg_event *out)
{
	uint64_t want = 2 * n + 2;
	uint64_t s1 = __atomic_load_n(&slot->seq, __ATOMIC_ACQUIRE);
	if (s1 > want)
		return GONE; /* a later lap wrote over it */
	if (s1 != want)
		return NOT_YET; /* being written, or its writer died */
	uint64_t w[WORDS];
	const uint64_t *src = (const uint64_t *)slot;
	for (size_t i = 0; i < WORDS; i++)
		w[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (__atomic_load_n(&slot->seq, __ATOMIC_RELAXED) != want)
		return GONE;
	w[0] = want;
	memcpy(out, w, sizeof(*out));
	return checksum(w, want) == out->sum ? COPIED : TORN;
}

#define CORRUPT(fmt, ...)                                                                                    \
	fl_diag_error(d, NULL, "event log: corrupt segment: event %llu: " fmt, (unsigned long long)n,        \
		      __VA_ARGS__)

static int check_record(const struct fl_seg_event *rec, uint64_t n, struct fl_diag *d)
{
	if (!fl_event_kind_name(rec->kind))
		return CORRUPT("kind %u is not a kind", rec->kind);
	if (!fl_event_what_name(rec->kind, rec->what))
		return CORRUPT("code %u is not one of its kind's (%s)", rec->what,
			       fl_event_kind_name(rec->kind));
	if (!memchr(rec->dest, '\0', sizeof(rec->dest)) || !memchr(rec->text, '\0', sizeof(rec->text)))
		return CORRUPT("%s", "text is not terminated");
	if (rec->kind == FL_EVENT_BREAKER && (rec->a > FL_BREAKER_DISABLED || rec->b > FL_BREAKER_DISABLED))
		return CORRUPT("breaker states %u -> %u are not states", rec->a, rec->b);
	if ((rec->kind == FL_EVENT_FAULT || rec->kind == FL_EVENT_CONNECTION) &&
	    (rec->a == 0 || (rec->a & ~(((1u << FL_OP_COUNT) - 1) | FL_OPS_CLOSE)) != 0))
		return CORRUPT("op mask %u is not a set of ops", rec->a);
	if (rec->pid > FL_PID_MAX)
		return CORRUPT("pid %u is out of range", rec->pid);
	return 0;
}

static void from_record(const struct fl_seg_event *rec, uint64_t n, struct fl_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->number = n;
	ev->time_ms = rec->time_ms;
	ev->pid = rec->pid;
	ev->kind = rec->kind;
	ev->what = rec->what;
	ev->a = rec->a;
	ev->b = rec->b;
	ev->v1 = rec->v1;
	ev->v2 = rec->v2;
	ev->v3 = rec->v3;
	ev->count = rec->count;
	memcpy(ev->dest, rec->dest, sizeof(ev->dest));
	memcpy(ev->text, rec->text, sizeof(ev->text));
}

int fl_events_read(const struct fl_seg *seg, struct fl_event_reader *r, uint64_t now_mono_ms,
		   struct fl_event *out, size_t max, struct fl_diag *d)
{
	size_t got = 0;
	if (!seg || !seg->ev_hdr || !seg->events)
		return 0;
	while (got < max) {
		uint64_t head = LOAD(&seg->ev_hdr->head), n = r->next;
		if (n >= head)
			break;
		if (head - n > FL_SEG_EVENTS) { /* lapped: those are gone */
			r->dropped += head - FL_SEG_EVENTS - n;
			r->next = head - FL_SEG_EVENTS;
			r->pending_since_ms = 0;
			continue;
		}
		struct fl_seg_event rec;
		enum copy_result c = copy_record(&seg->events[n & (FL_SEG_EVENTS - 1)], n, &rec);
		if (c == NOT_YET) {
			if (r->pending_since_ms == 0)
				r->pending_since_ms = now_mono_ms ? now_mono_ms : 1;
			if (now_mono_ms - r->pending_since_ms < r->grace_ms)
				break; /* its writer may still publish it */
			r->lost++;
		} else if (c == GONE) {
			r->dropped++;
		} else if (c == TORN) {
			r->lost++;
		} else {
			if (check_record(&rec, n, d) < 0)
				return got > 0 ? (int)got : -1; /* those before it first; it, next call */
			from_record(&rec, n, &out[got++]);
		}
		r->next = n + 1;
		r->pending_since_ms = 0;
	}
	return (int)got;
}
