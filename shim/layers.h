/*
 * layers.h - the shim's side of the domain's layers (SPEC 7, lib/layers.h).
 *
 * A connection remembers the layer generation it was matched at. Every
 * watched call compares it with the segment's counter (one load through
 * fl_layer_gen, which points at a static zero until the process joins a
 * domain); on a change the connection is matched again: its own
 * statements, then the layers' in the order they were applied. Fault
 * statements of layers are named in struct fl_match by FL_LAYER_IDX + slot
 * and evaluated from a per-process copy of the slot (parameters, counters
 * for after/every/times, the active window), reset when the slot holds a
 * new statement.
 */
#ifndef FL_SHIM_LAYERS_H
#define FL_SHIM_LAYERS_H

#include <stdbool.h>
#include <stdint.h>

#include "conn.h"
#include "fault.h"
#include "fdtab.h"
#include "match.h"
#include "segment.h"
#include "shim.h"
#include "target.h"

#define FL_LAYER_IDX	    0x40000000u /* fault indices from here on are layer statement slots */
#define FL_LAYER_GEN_UNSEEN 0xffffffffu /* odd: never equal to a published generation */

struct fl_conn;

/* The segment's layer generation, or a static zero (never NULL). */
extern FL_HIDDEN uint32_t *fl_layer_gen;
/* This process follows every connected socket, for layers to reach it. */
extern bool fl_layers_joined;

struct fl_layer_local {
	uint64_t uid; /* the statement this slot holds (atomic: published last) */
	struct fl_fault_params p;
	struct fl_fault_counters c;
	uint64_t from_ms, until_ms; /* Unix ms: active in [from, until) */
	uint64_t expires_ms;	    /* its layer's, 0 = never */
	uint64_t layer_word;	    /* its layer's word when read: the expiry CAS expects it */
	uint32_t layer;
	/* A breaker or bulkhead statement (kind): what a connection made while
	 * its layer is applied gets, as fl_domain_plan reads it. */
	uint8_t kind;
	struct fl_target target;
	union fl_seg_stmt_params u;
	char text[FL_SEG_RULE_TEXT];
};

extern struct fl_layer_local fl_layer_locals[FL_SEG_LAYER_STMTS];

/* The parameters and counters of a fault index of struct fl_match. */
static inline const struct fl_fault_params *fl_fault_of(uint32_t idx)
{
	if (FL_LIKELY(idx < FL_LAYER_IDX))
		return &fl_state.rules.rules[idx].u.fault;
	return &fl_layer_locals[idx & (FL_SEG_LAYER_STMTS - 1)].p;
}

/* A breaker / bulkhead statement index of struct fl_match (own or layer). */
static inline const struct fl_breaker_params *fl_breaker_of(uint32_t r)
{
	if (r < FL_LAYER_IDX)
		return &fl_state.rules.rules[r].u.breaker;
	return &fl_layer_locals[r & (FL_SEG_LAYER_STMTS - 1)].u.breaker;
}
static inline const struct fl_bulkhead_params *fl_bulkhead_of(uint32_t r)
{
	if (r < FL_LAYER_IDX)
		return &fl_state.rules.rules[r].u.bulkhead;
	return &fl_layer_locals[r & (FL_SEG_LAYER_STMTS - 1)].u.bulkhead;
}
static inline const struct fl_target *fl_target_of(uint32_t r)
{
	if (r < FL_LAYER_IDX)
		return &fl_state.rules.rules[r].target;
	return &fl_layer_locals[r & (FL_SEG_LAYER_STMTS - 1)].target;
}

/* Both at once: one test of where idx points. */
static inline const struct fl_fault_params *fl_fault_at(uint32_t idx, struct fl_fault_counters **cnt)
{
	if (FL_LIKELY(idx < FL_LAYER_IDX)) {
		*cnt = &fl_state.counters[idx];
		return &fl_state.rules.rules[idx].u.fault;
	}
	struct fl_layer_local *l = &fl_layer_locals[idx & (FL_SEG_LAYER_STMTS - 1)];
	*cnt = &l->c;
	return &l->p;
}

static inline struct fl_fault_counters *fl_counters_of(uint32_t idx)
{
	if (FL_LIKELY(idx < FL_LAYER_IDX))
		return &fl_state.counters[idx];
	return &fl_layer_locals[idx & (FL_SEG_LAYER_STMTS - 1)].c;
}

/* A timed statement (p->timed) outside its window now: reads the clock.
 * Marks a layer found past its expiry expired. */
bool fl_fault_inactive(uint32_t idx, const struct fl_fault_params *p);

/*
 * Appends the layers' statements matching d to m (own statements already
 * in it, dead ones dropped). Returns the generation it read, or
 * FL_LAYER_GEN_UNSEEN when no stable view was had (m then has only the
 * own statements). Lock-free, allocation-free, async-signal-safe.
 */
uint32_t fl_layers_match(const struct fl_dest *d, struct fl_match *m);
/* The same; *named: a layer statement on a host name matched (the name
 * comes from the resolver map, shim/resolve.h, when d has none). */
uint32_t fl_layers_match_named(const struct fl_dest *d, struct fl_match *m, bool *named);

/* The layers changed since c was matched: match it again. */
void fl_layers_refresh(struct fl_conn *c);

/* A fault with probability 0 can never fire and nothing reads its
 * counters: out of m, so a rule kept "switched off" this way costs the
 * socket's calls nothing (own statements only; connect and rematch). */
void fl_match_drop_dead(struct fl_match *m);

/* After the domain is attached: follow its layers. */
void fl_layers_join(void);

/* A process with no rules: attach to the domain if it exists, for its
 * layers; else stay a pure pass-through. */
void fl_layers_join_existing(void);

/*
 * Sockets a joined process follows only for layers, which nothing matches,
 * pass through almost as cheaply as unwatched ones: c->pass_gen holds the
 * layer generation they were last matched at (FL_LAYER_GEN_UNSEEN, odd,
 * for every other connection), and while the segment's counter still
 * reads the same, the call goes straight to the real function. A change of
 * layers sends the next call to the watched path, which matches the
 * connection again. The I/O wrappers' first test; *cp is the connection
 * behind a low fd (handed to the watched path, which need not look it up
 * again), NULL for a high one (the wrapper then goes to its slow path).
 */
static inline bool fl_fd_io_passes(int fd, struct fl_conn **cp)
{
	if (FL_LIKELY((unsigned)fd < FL_FDTAB_LOW)) {
		struct fl_conn *c = __atomic_load_n(&fl_fdtab_low[fd], __ATOMIC_ACQUIRE);
		*cp = c;
		if (FL_LIKELY(c == NULL))
			return true;
		/* Plain loads of aligned words (a single mov each on x86, as
		 * relaxed atomics), so the compiler folds one into the compare. */
		return *fl_layer_gen == c->pass_gen;
	}
	*cp = NULL; /* a high descriptor: the slow path looks it up */
	return false;
}

/* A connection was made: lets its I/O pass if nothing matches it. */
void fl_layers_connected(struct fl_conn *c, uint32_t gen);

/* Process start, for own timed statements (Unix ms). */
extern uint64_t fl_layers_start_ms;

#endif
