/*
 * layers.h - the domain's layer table (SPEC 7): named rule sets that every
 * process of the domain applies on top of its own rules.
 *
 * Only the CLI writes the table (apply, remove, heal, play). Writers
 * serialise among themselves with an OFD lock on one byte of the segment
 * file (FL_LAYER_LOCK_BYTE): the kernel drops the lock of a writer that
 * dies, so a crashed CLI never blocks the next one. Readers - the shim, on
 * its hot path, and `faultline top` - take no lock: they read under the
 * seqlock counter layers.gen (odd while written), copy, validate every
 * field (a bad segment is never trusted) and check the counter again. A
 * writer that died mid-write leaves gen odd; the next writer repairs the
 * table (fl_layers_begin drops every record that does not check out) and
 * makes it even again, and readers meanwhile keep what they had.
 */
#ifndef FL_LAYERS_H
#define FL_LAYERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "rules.h"
#include "segment.h"

/* Past the data and below procreg's liveness bytes (FL_PROC_LOCK_BASE). */
#define FL_LAYER_LOCK_BYTE (INT64_C(1) << 39)

static inline uint64_t fl_layer_word(uint64_t order, enum fl_layer_state state)
{
	return order << 8 | (uint64_t)state;
}
static inline uint32_t fl_layer_word_state(uint64_t word)
{
	return (uint32_t)(word & 0xff);
}

/* Copies n bytes (a multiple of 8, 8-aligned) word by word with relaxed
 * atomic loads / stores: the seqlock's data accesses. Async-signal-safe. */
void fl_layers_load(void *dst, const void *src, size_t n);
void fl_layers_store(void *dst, const void *src, size_t n);

/* A DURATION (SPEC 7): `250ms`, `30s`, `5m`, or a bare number of
 * milliseconds; up to 2^31 ms. -1 if it is none. */
int fl_duration_parse(const char *text, uint64_t *ms);

/* [A-Za-z0-9_.-], 1 to 63 characters: what `apply --name` accepts. */
bool fl_layer_name_valid(const char *name);

/* Every field of a copied record is one this program could have written.
 * Async-signal-safe (used by the shim on each copy it reads). */
bool fl_seg_stmt_check(const struct fl_seg_stmt *s);
bool fl_seg_layer_check(const struct fl_seg_layer *l);

/*
 * Compiles a validated rule set into statement records (target, kind,
 * parameters, canonical text); layer_plus1, index and uid are the
 * writer's. Fails (d->error) on an empty set or one larger than the pool.
 */
int fl_layer_compile(const struct fl_ruleset *rs, struct fl_seg_stmt *out, size_t max, size_t *n,
		     struct fl_diag *d);

/* ---- writing (the CLI) ---- */

/* Waits for the writer lock (blocking); -1 with a message if the segment
 * has no descriptor or the lock fails. */
int fl_layers_lock(struct fl_seg *seg, struct fl_diag *d);
void fl_layers_unlock(struct fl_seg *seg);

/*
 * With the lock held: makes gen odd and repairs the table (records that do
 * not check out, statements of no layer, layers whose statements are not
 * all there). Layers past their expiry (or marked expired by a process)
 * are freed; expired(name, arg) is called for each that was still active.
 */
void fl_layers_begin(struct fl_seg *seg, uint64_t now_ms, void (*expired)(const char *name, void *arg),
		     void *arg);
/* Publishes: gen even again. */
void fl_layers_end(struct fl_seg *seg);

/*
 * Between begin and end: adds layer `name` (replacing one of that name)
 * with n compiled statements; expires_ms 0 = never. Nothing changes if it
 * does not fit: -1 with d->error saying how full the table is.
 */
int fl_layers_put(struct fl_seg *seg, const char *name, const struct fl_seg_stmt *stmts, size_t n,
		  uint64_t now_ms, uint64_t expires_ms, struct fl_diag *d);

/* Between begin and end: removes layer name; returns 1, or 0 if absent. */
int fl_layers_drop(struct fl_seg *seg, const char *name);
/* Removes every layer; returns how many there were. */
unsigned fl_layers_drop_all(struct fl_seg *seg);

/* A name not in use, "layer-N" (between begin and end). */
void fl_layers_new_name(struct fl_seg *seg, char *out, size_t size);

/* ---- reading ---- */

struct fl_layer_info {
	char name[FL_SEG_LAYER_NAME];
	uint64_t order, applied_ms, expires_ms;
	uint32_t nstmts;
	uint32_t first; /* its statements: view->text[first .. first + nstmts) */
};

struct fl_layers_view {
	uint32_t nlayers; /* active ones, in apply order */
	struct fl_layer_info layers[FL_SEG_LAYERS];
	uint32_t nstmts;
	char text[FL_SEG_LAYER_STMTS][FL_SEG_STMT_TEXT];
	struct fl_seg_stmt stmt[FL_SEG_LAYER_STMTS];
};

/*
 * Copies the table into *v: active layers (expired ones left out) in apply
 * order, each with its statements in order. Without the lock it reads
 * under the seqlock (up to `tries` attempts) and returns -1 if it found
 * no stable moment; with the lock held (tries 0) it reads as it is. Every
 * record is checked; bad ones are left out.
 */
int fl_layers_read(const struct fl_seg *seg, struct fl_layers_view *v, uint64_t now_ms, unsigned tries);

#endif
