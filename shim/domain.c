/*
 * domain.c - see domain.h.
 */
#include "domain.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "fdtab.h"
#include "procreg.h"
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

static void find_exec_shares(void);

int fl_domain_attach(const char *domain, uint32_t capacity, struct fl_diag *d)
{
	if (fl_seg_open(&fl_domain.seg, domain, capacity, true, fl_now_ms(), d) < 0)
		return -1;
	/* Entries are declared 64-byte aligned: calloc's 16 would not do. */
	size_t bytes = fl_state.rules.count * sizeof(*fl_domain.local);
	fl_domain.local = aligned_alloc(64, bytes);
	if (fl_domain.local)
		memset(fl_domain.local, 0, bytes);
	if (!fl_domain.local) {
		fl_seg_close(&fl_domain.seg);
		return fl_diag_error(d, NULL, "out of memory");
	}
	char cmd[FL_SEG_CMD_MAX];
	read_cmdline(cmd, sizeof(cmd));
	pid_t pid = getpid();
	uint64_t start = fl_proc_start_ticks(pid);
	bool after_exec = fl_proc_find(&fl_domain.seg, pid, start) != FL_PROC_NONE;
	fl_domain.proc = fl_proc_register(&fl_domain.seg, pid, start, cmd, fl_now_ms());
	fl_domain.attached = true;
	if (after_exec)
		find_exec_shares();
	return 0;
}

/*
 * exec keeps the pid, so the new image finds its registry record again,
 * with the bulkhead shares taken before exec. Sockets that survived exec
 * are adopted (init.c) and take their share back here; shares left over
 * belonged to close-on-exec sockets, which are gone: they are released.
 */
static uint32_t *exec_shares;
static uint32_t exec_nshares;

static void find_exec_shares(void)
{
	if (fl_domain.proc >= FL_SEG_PROCS)
		return;
	uint32_t gen = __atomic_load_n(&fl_domain.seg.procs[fl_domain.proc].generation, __ATOMIC_ACQUIRE);
	uint32_t n = fl_bulkhead_shares_of(&fl_domain.seg, fl_domain.proc, gen, NULL, 0);
	if (n == 0)
		return;
	__atomic_store_n(&fl_domain.held_slots, true, __ATOMIC_RELEASE);
	if (!(exec_shares = calloc(n, sizeof(*exec_shares))))
		return;
	exec_nshares = fl_bulkhead_shares_of(&fl_domain.seg, fl_domain.proc, gen, exec_shares, n);
	if (exec_nshares > n)
		exec_nshares = n;
}

void fl_domain_exec_take_share(struct fl_conn *c)
{
	if (!c->bulkhead || c->bulkhead < fl_domain.seg.entries ||
	    c->bulkhead >= fl_domain.seg.entries + fl_domain.seg.capacity)
		return;
	uint32_t entry = (uint32_t)(c->bulkhead - fl_domain.seg.entries);
	for (uint32_t i = 0; i < exec_nshares; i++) {
		if (exec_shares[i] == FL_HOLDER_NONE ||
		    fl_bulkhead_holder_entry(&fl_domain.seg, exec_shares[i]) != entry)
			continue;
		c->holder = exec_shares[i];
		c->has_slot = 1;
		__atomic_fetch_add(&fl_domain.slot_conns, 1, __ATOMIC_RELAXED);
		exec_shares[i] = FL_HOLDER_NONE;
		return;
	}
}

void fl_domain_exec_release_rest(void)
{
	for (uint32_t i = 0; i < exec_nshares; i++)
		if (exec_shares[i] != FL_HOLDER_NONE)
			fl_bulkhead_release(&fl_domain.seg, NULL, exec_shares[i]);
	free(exec_shares);
	exec_shares = NULL;
	exec_nshares = 0;
}

void fl_domain_detach(void)
{
	if (!fl_domain.attached)
		return;
	__atomic_store_n(&fl_domain.detached, true, __ATOMIC_RELEASE);
	if (!__atomic_load_n(&fl_domain.held_slots, __ATOMIC_ACQUIRE)) {
		/* Nothing to give back: free the record without scanning the holders. */
		fl_proc_forget(&fl_domain.seg, fl_domain.proc);
		fl_domain.proc = FL_PROC_NONE;
		return;
	}
	fl_proc_unregister(&fl_domain.seg, fl_domain.proc);
	fl_domain.proc = FL_PROC_NONE;
}

/*
 * fork. Every distinct connection that holds a bulkhead slot gets, before
 * the real fork, a share reserved for the child, recorded in the caller's
 * array (on the forking thread's stack, which the child inherits: no
 * allocation, and two threads forking at once keep separate records). The
 * child turns each record whose connection it still has into a record of
 * its own and gives back the others: another thread may have closed that
 * connection between the reservation and the real fork, and the child's
 * copy of the table then no longer has it. A connection found in the
 * child's table with no record (connected after the reservation, or beyond
 * the array) stays the parent's alone.
 */
static struct fl_fork_share *find_share(struct fl_fork_share *res, uint32_t n, const struct fl_conn *c)
{
	for (uint32_t i = 0; i < n; i++)
		if (res[i].conn == c)
			return &res[i];
	return NULL;
}

struct fork_pass {
	struct fl_fork_share *res;
	uint32_t n, max;
};

static void fork_reserve(int fd, struct fl_conn *c, void *arg)
{
	struct fork_pass *pass = arg;
	(void)fd;
	if (!c->has_slot || c->holder == FL_HOLDER_NONE || pass->n >= pass->max ||
	    find_share(pass->res, pass->n, c))
		return;
	struct fl_fork_share *r = &pass->res[pass->n++];
	r->conn = c;
	r->holder = c->holder;
	r->adopted = 0;
	fl_bulkhead_reserve(&fl_domain.seg, r->holder);
}

static void fork_adopt(int fd, struct fl_conn *c, void *arg)
{
	struct fork_pass *pass = arg;
	(void)fd;
	if (!c->has_slot)
		return;
	struct fl_fork_share *r = find_share(pass->res, pass->n, c);
	if (r && r->adopted)
		return; /* another descriptor of the same connection */
	if (r && r->holder == c->holder) {
		c->holder = fl_bulkhead_adopt(&fl_domain.seg, r->holder, fl_domain.proc);
		r->adopted = 1;
		return;
	}
	c->has_slot = 0; /* no share was reserved for us: the slot stays the parent's */
	__atomic_fetch_sub(&fl_domain.slot_conns, 1, __ATOMIC_RELAXED);
}

uint32_t fl_domain_fork_prepare(struct fl_fork_share *res, uint32_t max)
{
	if (!fl_domain.attached || __atomic_load_n(&fl_domain.slot_conns, __ATOMIC_ACQUIRE) == 0)
		return 0;
	struct fork_pass pass = {res, 0, max};
	fl_fdtab_each(fork_reserve, &pass);
	return pass.n;
}

static void drop_inherited_slot(int fd, struct fl_conn *c, void *arg)
{
	(void)fd;
	(void)arg;
	if (c->has_slot) {
		c->has_slot = 0;
		__atomic_fetch_sub(&fl_domain.slot_conns, 1, __ATOMIC_RELAXED);
	}
}

void fl_domain_fork_unseen(void)
{
	if (!fl_domain.attached)
		return;
	fl_fdtab_each(drop_inherited_slot, NULL);
	fl_domain_fork_child(NULL, 0);
}

void fl_domain_fork_failed(struct fl_fork_share *res, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		fl_bulkhead_unreserve(&fl_domain.seg, res[i].holder);
}

void fl_domain_fork_child(struct fl_fork_share *res, uint32_t n)
{
	if (!fl_domain.attached)
		return;
	/* The inherited descriptor shares the parent's open file description,
	 * and with it the parent's liveness lock: take one of our own first. */
	fl_seg_reopen(&fl_domain.seg);
	char cmd[FL_SEG_CMD_MAX];
	read_cmdline(cmd, sizeof(cmd));
	pid_t pid = getpid();
	fl_domain.proc = fl_proc_register(&fl_domain.seg, pid, fl_proc_start_ticks(pid), cmd, fl_now_ms());
	if (__atomic_load_n(&fl_domain.slot_conns, __ATOMIC_ACQUIRE) == 0 && n == 0)
		return;
	struct fork_pass pass = {res, n, n};
	fl_fdtab_each(fork_adopt, &pass);
	for (uint32_t i = 0; i < n; i++)
		if (!res[i].adopted)
			fl_bulkhead_unreserve(&fl_domain.seg, res[i].holder);
	if (n > 0)
		__atomic_store_n(&fl_domain.held_slots, true, __ATOMIC_RELEASE);
}

/* Statement text for display, truncated to the entry's field. */
static void rule_text(char *out, size_t size, uint32_t rule)
{
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
	if (v == FL_PART_NONE && __atomic_compare_exchange_n(flag, &v, FL_PART_BUSY, false, __ATOMIC_ACQ_REL,
							  __ATOMIC_ACQUIRE))
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
	fl_breaker_init(&e->breaker, &fl_state.rules.rules[rule].u.breaker, fl_now_ms());
	__atomic_store_n(&e->has_breaker, FL_PART_READY, __ATOMIC_RELEASE);
}

static void ensure_bulkhead(struct fl_seg_entry *e, uint32_t rule)
{
	if (!claim_part(&e->has_bulkhead))
		return;
	rule_text(e->bulkhead_rule, sizeof(e->bulkhead_rule), rule);
	fl_bulkhead_init(&e->bulkhead, &fl_state.rules.rules[rule].u.bulkhead);
	__atomic_store_n(&e->has_bulkhead, FL_PART_READY, __ATOMIC_RELEASE);
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
	fl_seg_key_rule(&key, &fl_state.rules.rules[rule].target);
	struct fl_seg_entry *e = fl_seg_lookup(&fl_domain.seg, &key, init_entry, NULL);
	if (e)
		return e;
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
	return m->faults[0];
}

void fl_domain_plan(const struct fl_dest *d, const struct fl_match *m, struct fl_plan *plan)
{
	plan->stats = plan->breaker = plan->bulkhead = NULL;
	if (!fl_domain.attached)
		return;
	struct fl_seg_key key;
	fl_seg_key_dest(&key, d);
	struct fl_seg_entry *dest = fl_seg_lookup_limited(&fl_domain.seg, &key, init_entry, NULL, dest_limit());
	if (!dest) {
		/* Table full: this destination shares its statement's entry. */
		dest = rule_entry(first_rule(m));
		__atomic_fetch_add(&fl_domain.seg.hdr->overflow, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&dest->overflow_count, 1, __ATOMIC_RELAXED);
	}
	plan->stats = dest;
	const struct fl_rule *rules = fl_state.rules.rules;
	if (m->breaker >= 0) {
		uint32_t r = (uint32_t)m->breaker;
		plan->breaker = rules[r].u.breaker.scope == FL_SCOPE_RULE ? rule_entry(r) : dest;
		ensure_breaker(plan->breaker, r);
	}
	if (m->bulkhead >= 0) {
		uint32_t r = (uint32_t)m->bulkhead;
		plan->bulkhead = rules[r].u.bulkhead.scope == FL_SCOPE_RULE ? rule_entry(r) : dest;
		ensure_bulkhead(plan->bulkhead, r);
	}
}
