/*
 * reader.c - see reader.h.
 *
 * Every check here guards a use further on: a key's length bounds the
 * memcpy in fl_seg_key_format, its family picks the formatter, a state
 * indexes a name table, an entry_plus1 or proc index would index the entry
 * or process table. The copy is checked, never the mapping, so a value
 * cannot change between its check and its use.
 */
#include "reader.h"

#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "atomics.h"
#include "breaker.h"
#include "bulkhead.h"
#include "ratelimit.h"

#define BREAKER_TRIES 16   /* re-reads while the state word keeps moving */
#define ERRNO_MAX     4095 /* the kernel's errno range */

bool fl_text_terminated(const char *field, size_t n)
{
	return memchr(field, '\0', n) != NULL;
}

/* Byte by byte, atomically: text that a live process may rewrite (exec). */
static void copy_text(char *dst, const char *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

/* Everything that makes a reading context: for the messages. */
struct reading {
	const char *what;
	struct fl_diag *d;
};

#define CORRUPT(rd, fmt, ...)                                                                                \
	fl_diag_error((rd)->d, NULL, "%s: corrupt segment: " fmt, (rd)->what, __VA_ARGS__)

static int check_header(const struct fl_seg *seg, const struct reading *rd, struct fl_snapshot *out)
{
	const struct fl_seg_header *h = seg->hdr;
	if (LOAD(&h->magic) != FL_SEG_MAGIC)
		return CORRUPT(rd, "%s", "bad magic");
	copy_text(out->domain, h->domain, sizeof(out->domain));
	if (!fl_text_terminated(out->domain, sizeof(out->domain)) || !fl_domain_name_valid(out->domain))
		return CORRUPT(rd, "%s", "the header's domain name is not a valid name");
	out->created_ms = LOAD(&h->created_ms);
	out->overflow = LOAD(&h->overflow);
	out->capacity = seg->capacity;
	out->entries_used = LOAD(&h->entries_used);
	out->creator_pid = LOAD(&h->creator_pid);
	out->size = seg->size;
	if (LOAD(&seg->ev_hdr->capacity) != FL_SEG_EVENTS ||
	    LOAD(&seg->ev_hdr->record_size) != sizeof(struct fl_seg_event))
		return CORRUPT(rd, "%s", "the event ring's header changed");
	if (out->entries_used > out->capacity)
		return CORRUPT(rd, "%u entries in use, more than the capacity %u", out->entries_used,
			       out->capacity);
	return 0;
}

static bool family_valid(uint8_t family, bool any_allowed)
{
	return family == FL_AF_INET4 || family == FL_AF_INET6 || family == FL_AF_UNIX ||
	       (any_allowed && (family == FL_AF_ANY || family == FL_AF_NAME));
}

/*
 * A destination key formats through struct fl_dest (path of 108 bytes),
 * a rule key prints its text: both lengths must fit what reads them.
 */
static int check_key(const struct fl_seg_key *k, uint32_t stored_hash, uint32_t i, const struct reading *rd)
{
	if (k->kind == FL_KEY_DEST) {
		if (k->family == FL_AF_NAME) { /* a host name (SPEC 9): text, no NUL */
			if (k->len < 1 || k->len >= FL_SEG_KEY_TEXT || memchr(k->text, '\0', k->len) != NULL)
				return CORRUPT(rd,
					       "entry %u: host name length %u is not 1..%u, or holds a NUL",
					       i, k->len, FL_SEG_KEY_TEXT - 1);
		} else if (!family_valid(k->family, false))
			return CORRUPT(rd, "entry %u: address family %u is not IPv4, IPv6 or unix", i,
				       k->family);
		if (k->family == FL_AF_UNIX && (k->len < 1 || k->len > FL_UNIX_PATH_MAX))
			return CORRUPT(rd, "entry %u: unix path length %u is not 1..%u", i, k->len,
				       FL_UNIX_PATH_MAX);
		if (k->family != FL_AF_UNIX && k->family != FL_AF_NAME && k->len != 0)
			return CORRUPT(rd, "entry %u: an IP destination with text length %u", i, k->len);
	} else if (k->kind == FL_KEY_RULE) {
		if (!family_valid(k->family, true))
			return CORRUPT(rd, "entry %u: target family %u is not valid", i, k->family);
		if (k->len < 1 || k->len >= FL_SEG_KEY_TEXT)
			return CORRUPT(rd, "entry %u: target text length %u is not 1..%u", i, k->len,
				       FL_SEG_KEY_TEXT - 1);
		if (memchr(k->text, '\0', k->len) != NULL)
			return CORRUPT(rd, "entry %u: target text holds a NUL byte", i);
	} else {
		return CORRUPT(rd, "entry %u: key kind %u is neither destination nor rule", i, k->kind);
	}
	if (fl_seg_key_hash(k) != stored_hash)
		return CORRUPT(rd, "entry %u: stored hash does not match its key", i);
	return 0;
}

static int check_errno(int err, const char *part, uint32_t i, const struct reading *rd)
{
	if (err < 1 || err > ERRNO_MAX)
		return CORRUPT(rd, "entry %u: %s reject_errno %d is not an errno", i, part, err);
	return 0;
}

static int check_flags(uint8_t scope, uint8_t enabled, const char *part, uint32_t i, const struct reading *rd)
{
	if (scope > FL_SCOPE_RULE)
		return CORRUPT(rd, "entry %u: %s scope %u is not destination or rule", i, part, scope);
	if (enabled > 1)
		return CORRUPT(rd, "entry %u: %s enabled flag %u is not 0 or 1", i, part, enabled);
	return 0;
}

/* SPEC 11's part of a breaker (segment.h, breaker_x). */
static int copy_breaker_x(const struct fl_seg_breaker *b, uint64_t now_ms, uint32_t i,
			  const struct reading *rd, struct fl_snap_breaker *out)
{
	const struct fl_seg_breaker_x *x = fl_breaker_x_const(b);
	fl_breaker_x_params_get(&out->p, x);
	out->slow_calls = LOAD(&x->slow_calls);
	out->would_reject = LOAD(&x->would_reject);
	out->fallbacks = LOAD(&x->fallbacks);
	out->window_slow = fl_breaker_window_slow(b, now_ms);
	out->open_ms = fl_breaker_open_ms(b);
	if (out->p.mode > FL_MODE_OBSERVE)
		return CORRUPT(rd, "entry %u: breaker mode %u is not enforce or observe", i, out->p.mode);
	uint8_t fam = out->p.fallback.family;
	if (fam != 0 && fam != FL_AF_INET4 && fam != FL_AF_INET6)
		return CORRUPT(rd, "entry %u: breaker fallback family %u is not IPv4 or IPv6", i, fam);
	return 0;
}

static int copy_ratelimit(const struct fl_seg_ratelimit *r, uint32_t i, const struct reading *rd,
			  struct fl_snap_ratelimit *out)
{
	out->admitted = LOAD(&r->admitted);
	out->rejected = LOAD(&r->rejected);
	out->delayed = LOAD(&r->delayed);
	fl_ratelimit_params_get(&out->p, &r->p);
	if (out->p.action > FL_RATE_DELAY)
		return CORRUPT(rd, "entry %u: rate_limit action %u is not reject or delay", i, out->p.action);
	if (check_flags(out->p.scope, 1, "rate_limit", i, rd) < 0)
		return -1;
	return check_errno(out->p.reject_errno, "rate_limit", i, rd);
}

static int copy_breaker(const struct fl_seg_breaker *b, uint64_t now_ms, const char *rule, uint32_t i,
			const struct reading *rd, struct fl_snap_breaker *out)
{
	uint64_t w;
	for (int tries = 0;; tries++) {
		w = LOAD(&b->word);
		out->since_ms = LOAD(&b->since_ms);
		out->consecutive_failures = LOAD(&b->consecutive_failures);
		out->consecutive_successes = LOAD(&b->consecutive_successes);
		out->transitions = LOAD(&b->transitions);
		if (LOAD(&b->word) == w || tries == BREAKER_TRIES)
			break;
	}
	out->state = fl_breaker_word_state(w);
	out->permits = fl_breaker_word_permits(w);
	out->generation = fl_breaker_word_generation(w);
	out->calls = LOAD(&b->calls);
	out->failures = LOAD(&b->failures);
	out->rejected = LOAD(&b->rejected);
	fl_breaker_window(b, now_ms, &out->window_calls, &out->window_failures);
	fl_breaker_params_get(&out->p, &b->p);
	copy_text(out->rule, rule, sizeof(out->rule));
	if (copy_breaker_x(b, now_ms, i, rd, out) < 0)
		return -1;
	if (out->state > FL_BREAKER_DISABLED)
		return CORRUPT(rd, "entry %u: breaker state %u is not a state", i, out->state);
	if (!fl_text_terminated(out->rule, sizeof(out->rule)))
		return CORRUPT(rd, "entry %u: breaker rule text is not terminated", i);
	if (check_flags(LOAD(&b->p.scope), LOAD(&b->p.enabled), "breaker", i, rd) < 0)
		return -1;
	return check_errno(out->p.reject_errno, "breaker", i, rd);
}

static int copy_bulkhead(const struct fl_seg_bulkhead *b, const char *rule, uint32_t i,
			 const struct reading *rd, struct fl_snap_bulkhead *out)
{
	out->active = LOAD(&b->active);
	out->queued = LOAD(&b->queued);
	out->peak_active = LOAD(&b->peak_active);
	out->rejected = LOAD(&b->rejected);
	out->timeouts = LOAD(&b->timeouts);
	fl_bulkhead_params_get(&out->p, &b->p);
	copy_text(out->rule, rule, sizeof(out->rule));
	if (!fl_text_terminated(out->rule, sizeof(out->rule)))
		return CORRUPT(rd, "entry %u: bulkhead rule text is not terminated", i);
	if (check_flags(LOAD(&b->p.scope), LOAD(&b->p.enabled), "bulkhead", i, rd) < 0)
		return -1;
	return check_errno(out->p.reject_errno, "bulkhead", i, rd);
}

/* has_breaker / has_bulkhead: enum fl_part_state. */
static int part_ready(uint8_t flag, const char *part, uint32_t i, const struct reading *rd, bool *ready)
{
	if (flag > FL_PART_READY)
		return CORRUPT(rd, "entry %u: %s flag %u is not 0, 1 or 2", i, part, flag);
	*ready = flag == FL_PART_READY;
	return 0;
}

static int copy_entry(const struct fl_seg_entry *e, uint32_t i, uint64_t now_ms, const struct reading *rd,
		      struct fl_snap_entry *out)
{
	memset(out, 0, sizeof(*out));
	out->index = i;
	copy_text((char *)&out->key, (const char *)&e->key, sizeof(out->key));
	if (check_key(&out->key, LOAD(&e->hash), i, rd) < 0)
		return -1;
	size_t n = fl_seg_key_format(&out->key, out->name, sizeof(out->name));
	if (n >= sizeof(out->name))
		return CORRUPT(rd, "entry %u: its name is too long", i);
	out->created_ms = LOAD(&e->created_ms);
	uint8_t overflow = LOAD(&e->overflow_entry);
	if (overflow > 1)
		return CORRUPT(rd, "entry %u: overflow flag %u is not 0 or 1", i, overflow);
	out->overflow_entry = overflow;
	out->overflow_count = LOAD(&e->overflow_count);
	if (part_ready(LOAD(&e->has_breaker), "breaker", i, rd, &out->has_breaker) < 0 ||
	    part_ready(LOAD(&e->has_bulkhead), "bulkhead", i, rd, &out->has_bulkhead) < 0)
		return -1;
	if (out->has_breaker && copy_breaker(&e->breaker, now_ms, e->breaker_rule, i, rd, &out->breaker) < 0)
		return -1;
	if (out->has_bulkhead && copy_bulkhead(&e->bulkhead, e->bulkhead_rule, i, rd, &out->bulkhead) < 0)
		return -1;
	if (part_ready(LOAD(&e->has_ratelimit), "rate_limit", i, rd, &out->has_ratelimit) < 0 ||
	    (out->has_ratelimit && copy_ratelimit(&e->ratelimit, i, rd, &out->ratelimit) < 0))
		return -1;
	for (unsigned op = 0; op < FL_OP_COUNT; op++) {
		out->ops[op].calls = LOAD(&e->ops[op].calls);
		out->ops[op].errors_injected = LOAD(&e->ops[op].errors_injected);
		out->ops[op].delays_injected = LOAD(&e->ops[op].delays_injected);
		out->ops[op].delay_ms_total = LOAD(&e->ops[op].delay_ms_total);
		/* Counters only: any value is a possible count, nothing to check. */
		const struct fl_seg_conn_stats *cs = &e->conn[op];
		struct fl_seg_conn_stats *co = &out->conn[op];
		co->shape_waits = LOAD(&cs->shape_waits);
		co->shaped_bytes = LOAD(&cs->shaped_bytes);
		co->shape_wait_ns = LOAD(&cs->shape_wait_ns);
		co->short_io = LOAD(&cs->short_io);
		co->eofs = LOAD(&cs->eofs);
		co->hangs = LOAD(&cs->hangs);
		co->resets = LOAD(&cs->resets);
		co->corrupted_bytes = LOAD(&cs->corrupted_bytes);
	}
	out->close_delays = LOAD(&e->close_delays);
	out->close_delay_ms_total = LOAD(&e->close_delay_ms_total);
	return 0;
}

static int read_entries(const struct fl_seg *seg, uint64_t now_ms, const struct reading *rd,
			struct fl_snapshot *out)
{
	size_t cap = 0;
	for (uint32_t i = 0; i < seg->capacity; i++) {
		const struct fl_seg_entry *e = &seg->entries[i];
		uint32_t status = LOAD(&e->status);
		if (status > FL_ENTRY_READY)
			return CORRUPT(rd, "entry %u: status %u is not empty, claimed or ready", i, status);
		if (status != FL_ENTRY_READY)
			continue;
		if (!fl_array_reserve(&out->entries, &cap, out->nentries + 1, sizeof(*out->entries), 16))
			return fl_diag_error(rd->d, NULL, "%s: out of memory", rd->what);
		if (copy_entry(e, i, now_ms, rd, &out->entries[out->nentries]) < 0)
			return -1;
		out->nentries++;
	}
	return 0;
}

static int read_procs(const struct fl_seg *seg, const struct reading *rd, struct fl_snapshot *out)
{
	size_t cap = 0;
	for (uint32_t i = 0; i < FL_SEG_PROCS; i++) {
		const struct fl_seg_proc *p = &seg->procs[i];
		uint32_t status = LOAD(&p->status);
		if (status > FL_PROC_LIVE)
			return CORRUPT(rd, "process %u: status %u is not free, claimed or live", i, status);
		if (status != FL_PROC_LIVE)
			continue;
		if (!fl_array_reserve(&out->procs, &cap, out->nprocs + 1, sizeof(*out->procs), 16))
			return fl_diag_error(rd->d, NULL, "%s: out of memory", rd->what);
		struct fl_snap_proc *s = &out->procs[out->nprocs];
		memset(s, 0, sizeof(*s));
		s->index = i;
		s->rec.status = status;
		s->rec.pid = LOAD(&p->pid);
		s->rec.generation = LOAD(&p->generation);
		s->rec.token = LOAD(&p->token);
		s->rec.start_ticks = LOAD(&p->start_ticks);
		s->rec.attach_ms = LOAD(&p->attach_ms);
		copy_text(s->rec.cmd, p->cmd, sizeof(s->rec.cmd));
		/* pid 0: a reaper is retiring the record right now (it clears the pid first). */
		if (s->rec.pid == 0)
			continue;
		if (s->rec.pid > FL_PID_MAX)
			return CORRUPT(rd, "process %u: pid %u is out of range", i, s->rec.pid);
		if (s->rec.token > FL_PROC_TOKEN_OFD)
			return CORRUPT(rd, "process %u: liveness token kind %u is unknown", i, s->rec.token);
		if (!fl_text_terminated(s->rec.cmd, sizeof(s->rec.cmd)))
			return CORRUPT(rd, "process %u: command text is not terminated", i);
		out->nprocs++;
	}
	return 0;
}

/* Holders index entries, processes and other holders: each index must lie in its table. */
static int check_holders(const struct fl_seg *seg, const struct reading *rd)
{
	for (uint32_t i = 0; i < seg->holder_capacity; i++) {
		const struct fl_seg_holder *h = &seg->holders[i];
		uint32_t eplus = LOAD(&h->entry_plus1);
		if (eplus == 0 || eplus == FL_HOLDER_CLAIMING)
			continue;
		if (eplus > seg->capacity)
			return CORRUPT(rd, "holder %u: entry index %u is out of range (capacity %u)", i,
				       eplus - 1, seg->capacity);
		uint32_t proc = LOAD(&h->proc);
		if (proc >= FL_SEG_PROCS)
			return CORRUPT(rd, "holder %u: process index %u is out of range (%u)", i, proc,
				       FL_SEG_PROCS);
		uint32_t primary = LOAD(&h->primary);
		if (primary >= seg->holder_capacity)
			return CORRUPT(rd, "holder %u: primary record %u is out of range (%u)", i, primary,
				       seg->holder_capacity);
	}
	return 0;
}

static int family_rank(uint8_t family)
{
	return family == FL_AF_INET4 ? 0 : family == FL_AF_INET6 ? 1 : 2;
}

/* Destinations in address order (10.0.0.2 before 10.0.0.10), then rule entries by text. */
static int compare_entries(const void *pa, const void *pb)
{
	const struct fl_snap_entry *a = pa, *b = pb;
	if (a->key.kind != b->key.kind)
		return a->key.kind < b->key.kind ? -1 : 1;
	int c = 0;
	if (a->key.kind == FL_KEY_DEST && a->key.family != FL_AF_UNIX && b->key.family != FL_AF_UNIX) {
		c = family_rank(a->key.family) - family_rank(b->key.family);
		if (c == 0)
			c = memcmp(a->key.addr, b->key.addr, sizeof(a->key.addr));
		if (c == 0)
			c = (int)a->key.port - (int)b->key.port;
	} else if (a->key.kind == FL_KEY_DEST) {
		c = family_rank(a->key.family) - family_rank(b->key.family);
	}
	if (c == 0)
		c = strcmp(a->name, b->name);
	if (c == 0)
		c = a->index < b->index ? -1 : a->index > b->index;
	return c;
}

int fl_snapshot_take(const struct fl_seg *seg, uint64_t now_ms, const char *what, struct fl_snapshot *out,
		     struct fl_diag *d)
{
	struct reading rd = {.what = what, .d = d};
	memset(out, 0, sizeof(*out));
	out->now_ms = now_ms;
	if (!seg->hdr || !seg->entries || !seg->procs || !seg->holders || !seg->ev_hdr)
		return fl_diag_error(d, NULL, "%s: not mapped", what);
	if (check_header(seg, &rd, out) < 0 || read_entries(seg, now_ms, &rd, out) < 0 ||
	    read_procs(seg, &rd, out) < 0 || check_holders(seg, &rd) < 0) {
		fl_snapshot_free(out);
		return -1;
	}
	if (out->nentries > 1)
		qsort(out->entries, out->nentries, sizeof(*out->entries), compare_entries);
	return 0;
}

void fl_snapshot_free(struct fl_snapshot *s)
{
	free(s->entries);
	free(s->procs);
	s->entries = NULL;
	s->procs = NULL;
	s->nentries = s->nprocs = 0;
}
