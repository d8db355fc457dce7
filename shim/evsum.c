/*
 * evsum.c - see evsum.h.
 *
 * Each statement has one 64-bit word per thing it can do (a fault
 * injected; a short read, an EOF, a hang, a reset, corruption, a shaping
 * wait, a slow close): the Unix second (high 32 bits) and the times counted
 * in it (low 32). An action adds one with a CAS; the one that finds an
 * older second swaps in (now, 1) and writes the old second's count, so
 * exactly one thread writes each summary and none is counted twice. A
 * second word per slot adds up an amount (bytes flipped, ms waited); it is
 * taken with the summary, so at a second's edge an amount may land in the
 * neighbouring second. The count of the last second is written when the
 * statement next acts in a later second, or at exit or exec; a process
 * killed by a signal loses it (its other seconds are in the log already).
 * Statements are the process's own (index < count) then the 256 layer
 * slots (FL_LAYER_IDX + slot), whose summaries carry the layer statement's
 * text as destination. Only processes attached to a domain count (the
 * words live with the domain's state); the cost falls on calls that act,
 * never on others.
 */
#include "evsum.h"

#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "atomics.h"
#include "domain.h"
#include "events.h"
#include "layers.h"
#include "shim.h"

#define WHATS (1u + FL_CONN_EV_MAX + 1u) /* 0: fault injected; 1 + enum fl_conn_event */

static uint64_t *words, *amounts;
static size_t nslots, nown;

void fl_evsum_init(size_t statements)
{
	size_t n = statements + FL_SEG_LAYER_STMTS;
	words = calloc(n * WHATS, sizeof(*words));
	amounts = words ? calloc(n * WHATS, sizeof(*amounts)) : NULL;
	if (!amounts) {
		free(words);
		words = NULL;
	}
	nown = statements;
	nslots = amounts ? n : 0;
}

/* The slot of a statement index (own, or FL_LAYER_IDX + layer slot). */
static size_t slot_of(uint32_t idx)
{
	if (idx < FL_LAYER_IDX)
		return idx < nown ? idx : SIZE_MAX;
	return nown + (idx & (FL_SEG_LAYER_STMTS - 1));
}

static void emit(size_t slot, unsigned what, uint64_t word, uint64_t amount, uint64_t now_ms)
{
	uint32_t count = (uint32_t)word;
	if (count == 0)
		return;
	const struct fl_fault_params *p;
	uint32_t idx;
	char dest[FL_SEG_KEY_TEXT + 16];
	if (slot < nown) {
		if (slot >= fl_state.rules.count)
			return;
		const struct fl_rule *r = &fl_state.rules.rules[slot];
		struct fl_seg_key key;
		fl_seg_key_rule(&key, &r->target);
		fl_seg_key_format(&key, dest, sizeof(dest));
		p = &r->u.fault;
		idx = (uint32_t)slot;
	} else {
		const struct fl_layer_local *l = &fl_layer_locals[slot - nown];
		fl_event_text(dest, sizeof(dest), l->text);
		p = &l->p;
		idx = FL_LAYER_IDX + (uint32_t)(slot - nown);
	}
	uint32_t pid = (uint32_t)syscall(SYS_getpid);
	if (what == 0)
		fl_event_fault(&fl_domain.seg, pid, dest, idx, p->ops, p->error, p->delay_ms, word >> 32,
			       count, now_ms);
	else
		fl_event_conn(&fl_domain.seg, pid, dest, idx, p->ops, (enum fl_conn_event)(what - 1),
			      word >> 32, count, amount, now_ms);
}

static void count(uint32_t idx, unsigned what, uint64_t amount, uint64_t now_ms)
{
	size_t slot = slot_of(idx);
	if (slot >= nslots || !fl_domain.attached)
		return;
	size_t i = slot * WHATS + what;
	if (amount)
		ADD(&amounts[i], amount);
	uint64_t second = now_ms / 1000, old = LOAD(&words[i]), next;
	do {
		if ((old >> 32) == second && (uint32_t)old != UINT32_MAX)
			next = old + 1;
		else
			next = (second << 32) | 1;
	} while (!CAS(&words[i], &old, next));
	if ((old >> 32) != second || (uint32_t)old == UINT32_MAX) {
		/* This second's amount is in the word already: the old one is the rest. */
		uint64_t sum = __atomic_exchange_n(&amounts[i], amount, __ATOMIC_ACQ_REL);
		emit(slot, what, old, sum >= amount ? sum - amount : 0, now_ms);
	}
}

void fl_evsum_count(uint32_t rule, uint64_t now_ms)
{
	count(rule, 0, 0, now_ms);
}

void fl_evsum_conn(uint32_t stmt, unsigned what, uint64_t amount)
{
	count(stmt, 1u + what, amount, fl_now_ms());
}

void fl_evsum_flush(void)
{
	uint64_t now = fl_now_ms();
	for (size_t i = 0; i < nslots * WHATS; i++)
		emit(i / WHATS, (unsigned)(i % WHATS), __atomic_exchange_n(&words[i], 0, __ATOMIC_ACQ_REL),
		     __atomic_exchange_n(&amounts[i], 0, __ATOMIC_ACQ_REL), now);
}

void fl_evsum_forget(void)
{
	for (size_t i = 0; i < nslots * WHATS; i++) {
		STORE(&words[i], 0);
		STORE(&amounts[i], 0);
	}
}
