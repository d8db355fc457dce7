/*
 * atomics.h - the four ways lib/ and the shim touch shared memory.
 *
 * Every field of the segment that changes after creation is read and
 * written with __atomic builtins (segment.h). These name the memory orders
 * once: a load sees everything stored before the store it reads from
 * (acquire / release), a counter is added to with no ordering (relaxed:
 * statistics order nothing), a compare-and-swap orders both ways. They are
 * macros over the builtins, so each compiles to the same single
 * instruction as the builtin written out, on any field width.
 */
#ifndef FL_ATOMICS_H
#define FL_ATOMICS_H

#include <stdbool.h>

#define LOAD(p)	    __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define ADD(p, v)   __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
/* Swaps in desired if *p == *expected; else loads *p into *expected. */
#define CAS(p, expected, desired)                                                                            \
	__atomic_compare_exchange_n((p), (expected), (desired), false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)

#endif
