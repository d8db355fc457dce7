/*
 * array.h - growing an array by doubling, written once.
 *
 * Rule sets, snapshots, match indexes, report tables and the CLI's lists
 * all grow the same way: keep a capacity, double it when an element does
 * not fit. The arithmetic is where such code goes wrong (a capacity of 0,
 * a multiplication that overflows, losing the old block when realloc
 * fails), so it lives here, tested once.
 */
#ifndef FL_ARRAY_H
#define FL_ARRAY_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Makes room for `need` elements of `elem` bytes in the array whose
 * pointer is at `items` (a T ** passed as void *) and whose capacity is
 * *cap: the capacity doubles, from `first` when it is 0, until need fits.
 * Returns false when memory runs out or the size would overflow; the array
 * and *cap are then as they were (still to be freed by the caller).
 */
bool fl_array_reserve(void *items, size_t *cap, size_t need, size_t elem, size_t first);

#endif
