/*
 * domain.c - see domain.h.
 */
#include "domain.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events.h"
#include "evsum.h"
#include "handoff.h"
#include "layers.h"
#include "procreg.h"
#include "ratelimit.h"
#include "shim.h"
#include "sysio.h"

struct fl_domain fl_domain = {.proc = FL_PROC_NONE};

/* "curl -s http://..." from /proc/self/cmdline, truncated to fit. */
static void read_cmdline(char *out, size_t size)
{
	out[0] = '\0';
	ssize_t n = fl_sys_read_file("/proc/self/cmdline", out, size);
	if (n <= 0)
		return;
	for (ssize_t i = 0; i < n; i++)
		if (out[i] == '\0')
			out[i] = ' ';
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

uint32_t fl_domain_register(pid_t pid, uint64_t start_ticks)
{
	char cmd[FL_SEG_CMD_MAX];
	read_cmdline(cmd, sizeof(cmd));
	uint32_t i = fl_proc_register(&fl_domain.seg, pid, start_ticks, cmd, fl_now_ms());
	if (i == FL_PROC_NONE) { /* full: the dead may be holding records */
		fl_bulkhead_reclaim_dead(&fl_domain.seg);
		i = fl_proc_register(&fl_domain.seg, pid, start_ticks, cmd, fl_now_ms());
	}
	fl_evsum_forget(); /* after fork: what the parent counted is the parent's */
	fl_event_process(&fl_domain.seg, (uint32_t)pid, FL_PROCESS_ATTACHED, cmd, fl_now_ms());
	return i;
}

int fl_domain_attach(const char *domain, uint32_t capacity, struct fl_diag *d)
{
	if (fl_seg_open(&fl_domain.seg, domain, capacity, true, fl_now_ms(), d) < 0)
		return -1;
	/* Entries are declared 64-byte aligned: calloc's 16 would not do. */
	size_t bytes = (fl_state.rules.count ? fl_state.rules.count : 1) * sizeof(*fl_domain.local);
	fl_domain.local = aligned_alloc(64, bytes);
	if (fl_domain.local)
		memset(fl_domain.local, 0, bytes);
	if (!fl_domain.local) {
		fl_seg_close(&fl_domain.seg);
		return fl_diag_error(d, NULL, "out of memory");
	}
	fl_events_bind(&fl_domain.seg);
	fl_evsum_init(fl_state.rules.count);
	pid_t pid = getpid();
	uint64_t start = fl_proc_start_ticks(pid);
	bool after_exec = fl_proc_find(&fl_domain.seg, pid, start) != FL_PROC_NONE;
	fl_domain.proc = fl_domain_register(pid, start);
	fl_domain.attached = true;
	if (after_exec)
		fl_handoff_exec_find_shares();
	return 0;
}

void fl_domain_detach(void)
{
	if (!fl_domain.attached)
		return;
	__atomic_store_n(&fl_domain.detached, true, __ATOMIC_RELEASE);
	fl_evsum_flush();
	char cmd[FL_SEG_CMD_MAX] = "";
	if (fl_domain.proc < FL_SEG_PROCS) {
		memcpy(cmd, fl_domain.seg.procs[fl_domain.proc].cmd, sizeof(cmd));
		cmd[sizeof(cmd) - 1] = '\0';
	}
	fl_event_process(&fl_domain.seg, (uint32_t)getpid(), FL_PROCESS_EXITED, cmd, fl_now_ms());
	if (!__atomic_load_n(&fl_domain.held_slots, __ATOMIC_ACQUIRE)) {
		/* Nothing to give back: free the record without scanning the holders. */
		fl_proc_forget(&fl_domain.seg, fl_domain.proc);
		fl_domain.proc = FL_PROC_NONE;
		return;
	}
	fl_bulkhead_reclaim_proc(&fl_domain.seg, fl_domain.proc);
	fl_domain.proc = FL_PROC_NONE;
}

/* Statement text for display, truncated to the entry's field. */
static void rule_text(char *out, size_t size, uint32_t rule)
{
	if (rule >= FL_LAYER_IDX) { /* a layer's statement: its text, as the CLI wrote it */
		const char *t = fl_layer_locals[rule & (FL_SEG_LAYER_STMTS - 1)].text;
		size_t n = strnlen(t, size - 1);
		memcpy(out, t, n);
		out[n] = '\0';
		return;
	}
	fl_rule_format_brief(&fl_state.rules.rules[rule], out, size);
}

/*
 * Fills the breaker (or bulkhead) part of an entry once: the first process
 * to get there writes the parameters; others wait for it, briefly.
 */
static bool claim_part(uint8_t *flag)
{
	uint8_t v = __atomic_load_n(flag, __ATOMIC_ACQUIRE);
	if (v == FL_PART_READY)
		return false;
	if (v == FL_PART_NONE &&
	    __atomic_compare_exchange_n(flag, &v, FL_PART_BUSY, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return true;
	for (int spin = 0; spin < 200000; spin++)
		if (__atomic_load_n(flag, __ATOMIC_ACQUIRE) == FL_PART_READY)
			return false;
	/* Its creator died half-way (or stalled for milliseconds): fill it
	 * ourselves rather than run with a breaker that never trips. */
	return true;
}

static void ensure_breaker(struct fl_seg_entry *e, uint32_t rule)
{
	if (!claim_part(&e->has_breaker))
		return;
	rule_text(e->breaker_rule, sizeof(e->breaker_rule), rule);
	fl_breaker_init(&e->breaker, fl_breaker_of(rule), fl_now_ms());
	__atomic_store_n(&e->has_breaker, FL_PART_READY, __ATOMIC_RELEASE);
}

static void ensure_bulkhead(struct fl_seg_entry *e, uint32_t rule)
{
	if (!claim_part(&e->has_bulkhead))
		return;
	rule_text(e->bulkhead_rule, sizeof(e->bulkhead_rule), rule);
	fl_bulkhead_init(&e->bulkhead, fl_bulkhead_of(rule));
	__atomic_store_n(&e->has_bulkhead, FL_PART_READY, __ATOMIC_RELEASE);
}

static void ensure_ratelimit(struct fl_seg_entry *e, uint32_t rule)
{
	if (!claim_part(&e->has_ratelimit))
		return;
	fl_ratelimit_init(&e->ratelimit, &fl_state.rules.rules[rule].u.ratelimit);
	__atomic_store_n(&e->has_ratelimit, FL_PART_READY, __ATOMIC_RELEASE);
}

static void init_entry(struct fl_seg_entry *e, void *arg)
{
	(void)arg;
	e->created_ms = fl_now_ms();
}

/*
 * Places kept for rule entries: a destination entry may not take the last
 * of them, so when the table fills, the entry its statement's overflow
 * goes to can still be created and is shared by every process (not a
 * private stand-in each). One per statement of this process's rule set,
 * at most a quarter of the table (at least one).
 */
static uint32_t dest_limit(void)
{
	uint32_t cap = fl_domain.seg.capacity;
	uint32_t keep = cap / 4 ? cap / 4 : 1;
	if (fl_state.rules.count < keep)
		keep = (uint32_t)fl_state.rules.count;
	return cap - keep;
}

/* The entry shared by every destination of a statement (scope=rule, and
 * overflow); the process-local stand-in if even that cannot be had. */
static struct fl_seg_entry *rule_entry(uint32_t rule)
{
	struct fl_seg_key key;
	fl_seg_key_rule(&key, fl_target_of(rule));
	struct fl_seg_entry *e = fl_seg_lookup(&fl_domain.seg, &key, init_entry, NULL);
	if (e || rule >= FL_LAYER_IDX)
		return e; /* a layer's statement has no stand-in: none then */
	e = &fl_domain.local[rule];
	if (__atomic_load_n(&e->status, __ATOMIC_ACQUIRE) != FL_ENTRY_READY) {
		e->key = key;
		init_entry(e, NULL);
		__atomic_store_n(&e->status, FL_ENTRY_READY, __ATOMIC_RELEASE);
	}
	return e;
}

static uint32_t first_rule(const struct fl_match *m)
{
	if (m->breaker >= 0)
		return (uint32_t)m->breaker;
	if (m->bulkhead >= 0)
		return (uint32_t)m->bulkhead;
	if (m->rate_limit >= 0)
		return (uint32_t)m->rate_limit;
	return m->faults[0];
}

void fl_domain_plan(const struct fl_dest *d, const struct fl_match *m, struct fl_plan *plan)
{
	plan->stats = plan->breaker = plan->bulkhead = plan->ratelimit = NULL;
	if (!fl_domain.attached)
		return;
	struct fl_seg_key key;
	fl_seg_key_dest(&key, d);
	struct fl_seg_entry *dest =
	    fl_seg_lookup_limited(&fl_domain.seg, &key, init_entry, NULL, dest_limit());
	if (!dest && first_rule(m) >= FL_LAYER_IDX)
		return; /* table full, and only layers match: no counters */
	if (!dest) {
		/* Table full: this destination shares its statement's entry. */
		dest = rule_entry(first_rule(m));
		__atomic_fetch_add(&fl_domain.seg.hdr->overflow, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&dest->overflow_count, 1, __ATOMIC_RELAXED);
	}
	plan->stats = dest;
	if (m->breaker >= 0) {
		uint32_t r = (uint32_t)m->breaker;
		plan->breaker = fl_breaker_of(r)->scope == FL_SCOPE_RULE ? rule_entry(r) : dest;
		if (plan->breaker)
			ensure_breaker(plan->breaker, r);
	}
	if (m->bulkhead >= 0) {
		uint32_t r = (uint32_t)m->bulkhead;
		plan->bulkhead = fl_bulkhead_of(r)->scope == FL_SCOPE_RULE ? rule_entry(r) : dest;
		if (plan->bulkhead)
			ensure_bulkhead(plan->bulkhead, r);
	}
	if (m->rate_limit >= 0) {
		uint32_t r = (uint32_t)m->rate_limit;
		/* rate_limit is never a layer's (lib/layers.c keeps it out) */
		plan->ratelimit =
		    fl_state.rules.rules[r].u.ratelimit.scope == FL_SCOPE_RULE ? rule_entry(r) : dest;
		if (plan->ratelimit)
			ensure_ratelimit(plan->ratelimit, r);
	}
}

struct fl_seg_entry *fl_domain_dest_entry(const struct fl_dest *d)
{
	if (!fl_domain.attached)
		return NULL;
	struct fl_seg_key key;
	fl_seg_key_dest(&key, d);
	return fl_seg_lookup_limited(&fl_domain.seg, &key, init_entry, NULL, dest_limit());
}

struct fl_seg_entry *fl_domain_rule_entry(uint32_t rule)
{
	return fl_domain.attached ? rule_entry(rule) : NULL;
}
