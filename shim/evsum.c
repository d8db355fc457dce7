/*
 * evsum.c - see evsum.h.
 *
 * Each statement has one 64-bit word: the Unix second (high 32 bits) and
 * the injections counted in it (low 32). A fault that fires adds one with
 * a CAS; the one that finds an older second swaps in (now, 1) and writes
 * the old second's count, so exactly one thread writes each summary and
 * none is counted twice. The count of the last second is written when the
 * statement next fires in a later second, or at exit or exec; a process
 * killed by a signal loses it (its other seconds are in the log already).
 * Only processes attached to a domain count (the words live with the
 * domain's state); the cost falls on calls that inject, never on others.
 */
#include "evsum.h"

#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "atomics.h"
#include "domain.h"
#include "events.h"
#include "shim.h"

static uint64_t *words;
static size_t nwords;

void fl_evsum_init(size_t statements)
{
	words = statements ? calloc(statements, sizeof(*words)) : NULL;
	nwords = words ? statements : 0;
}

static void emit(uint32_t rule, uint64_t word, uint64_t now_ms)
{
	uint32_t count = (uint32_t)word;
	if (count == 0 || rule >= fl_state.rules.count)
		return;
	const struct fl_rule *r = &fl_state.rules.rules[rule];
	struct fl_seg_key key;
	char dest[FL_SEG_KEY_TEXT + 16];
	fl_seg_key_rule(&key, &r->target);
	fl_seg_key_format(&key, dest, sizeof(dest));
	fl_event_fault(&fl_domain.seg, (uint32_t)syscall(SYS_getpid), dest, rule, r->u.fault.ops,
		       r->u.fault.error, r->u.fault.delay_ms, word >> 32, count, now_ms);
}

void fl_evsum_count(uint32_t rule, uint64_t now_ms)
{
	if (rule >= nwords || !fl_domain.attached)
		return;
	uint64_t second = now_ms / 1000, old = LOAD(&words[rule]), next;
	do {
		if ((old >> 32) == second && (uint32_t)old != UINT32_MAX)
			next = old + 1;
		else
			next = (second << 32) | 1;
	} while (!CAS(&words[rule], &old, next));
	if ((old >> 32) != second || (uint32_t)old == UINT32_MAX)
		emit(rule, old, now_ms);
}

void fl_evsum_flush(void)
{
	uint64_t now = fl_now_ms();
	for (size_t i = 0; i < nwords; i++)
		emit((uint32_t)i, __atomic_exchange_n(&words[i], 0, __ATOMIC_ACQ_REL), now);
}

void fl_evsum_forget(void)
{
	for (size_t i = 0; i < nwords; i++)
		STORE(&words[i], 0);
}
