/*
 * array.c - see array.h.
 */
#include "array.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

bool fl_array_reserve(void *items, size_t *cap, size_t need, size_t elem, size_t first)
{
	if (need <= *cap)
		return true;
	size_t c = *cap ? *cap : (first ? first : 1);
	while (c < need) {
		if (c > SIZE_MAX / 2)
			return false;
		c *= 2;
	}
	if (elem && c > SIZE_MAX / elem)
		return false;
	void *old; /* items points at a T *: copied, not aliased as void * */
	memcpy(&old, items, sizeof(old));
	void *grown = realloc(old, c * elem);
	if (!grown)
		return false;
	memcpy(items, &grown, sizeof(grown));
	*cap = c;
	return true;
}
