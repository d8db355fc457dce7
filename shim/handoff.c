/*
 * handoff.c - bulkhead slot shares handed over at fork and at exec.
 *
 * A connection that holds a slot of a bulkhead counts once in the slot,
 * whichever processes hold the socket. fork makes a second holder: the
 * parent reserves a share for the child before the real fork, so that no
 * moment exists where the slot is counted for fewer processes than hold
 * it, and the child adopts it (lib/bulkhead.h). exec keeps the pid and the
 * registry record: the new image finds its shares again and gives each to
 * the adopted socket it belongs to (init.c), and releases the rest.
 */
#include "handoff.h"

#include <stdlib.h>
#include <unistd.h>

#include "conn.h"
#include "domain.h"
#include "fdtab.h"
#include "procreg.h"

/*
 * exec keeps the pid, so the new image finds its registry record again,
 * with the bulkhead shares taken before exec. Sockets that survived exec
 * are adopted (init.c) and take their share back here; shares left over
 * belonged to close-on-exec sockets, which are gone: they are released.
 */
static uint32_t *exec_shares;
static uint32_t exec_nshares;

void fl_handoff_exec_find_shares(void)
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

void fl_handoff_exec_take_share(struct fl_conn *c)
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

void fl_handoff_exec_release_rest(void)
{
	for (uint32_t i = 0; i < exec_nshares; i++)
		if (exec_shares[i] != FL_HOLDER_NONE)
			fl_bulkhead_release(&fl_domain.seg, NULL, exec_shares[i]);
	free(exec_shares);
	exec_shares = NULL;
	exec_nshares = 0;
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

uint32_t fl_handoff_fork_prepare(struct fl_fork_share *res, uint32_t max)
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

void fl_handoff_fork_unseen(void)
{
	if (!fl_domain.attached)
		return;
	fl_fdtab_each(drop_inherited_slot, NULL);
	fl_handoff_fork_child(NULL, 0);
}

void fl_handoff_fork_failed(struct fl_fork_share *res, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		fl_bulkhead_unreserve(&fl_domain.seg, res[i].holder);
}

void fl_handoff_fork_child(struct fl_fork_share *res, uint32_t n)
{
	if (!fl_domain.attached)
		return;
	/* The inherited descriptor shares the parent's open file description,
	 * and with it the parent's liveness lock: take one of our own first. */
	fl_seg_reopen(&fl_domain.seg);
	pid_t pid = getpid();
	fl_domain.proc = fl_domain_register(pid, fl_proc_start_ticks(pid));
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
