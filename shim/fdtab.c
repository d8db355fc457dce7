/*
 * fdtab.c - see fdtab.h.
 */
#include "fdtab.h"

#include <sys/mman.h>

#include "conn.h"

struct fl_conn *fl_fdtab_low[FL_FDTAB_LOW];
static struct fl_conn **high_pages[FL_FDTAB_PAGES];

struct fl_conn *fl_fdtab_lookup_high(int fd)
{
	unsigned u = (unsigned)fd - FL_FDTAB_LOW;
	if ((unsigned)fd < FL_FDTAB_LOW || u >= FL_FDTAB_PAGES * FL_FDTAB_PAGE)
		return NULL;
	struct fl_conn **page = __atomic_load_n(&high_pages[u >> FL_FDTAB_PAGE_BITS], __ATOMIC_ACQUIRE);
	if (!page)
		return NULL;
	return __atomic_load_n(&page[u & (FL_FDTAB_PAGE - 1)], __ATOMIC_ACQUIRE);
}

/* The slot for fd, mapping its page if asked to; NULL if out of range. */
static struct fl_conn **slot_of(int fd, bool create)
{
	if (fd < 0)
		return NULL;
	if ((unsigned)fd < FL_FDTAB_LOW)
		return &fl_fdtab_low[fd];
	unsigned u = (unsigned)fd - FL_FDTAB_LOW;
	if (u >= FL_FDTAB_PAGES * FL_FDTAB_PAGE)
		return NULL;
	struct fl_conn ***pp = &high_pages[u >> FL_FDTAB_PAGE_BITS];
	struct fl_conn **page = __atomic_load_n(pp, __ATOMIC_ACQUIRE);
	if (!page) {
		if (!create)
			return NULL;
		/* mmap, not malloc: async-signal-safe, and zeroed. */
		void *m = mmap(NULL, FL_FDTAB_PAGE * sizeof(*page), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return NULL;
		struct fl_conn **expected = NULL;
		if (__atomic_compare_exchange_n(pp, &expected, (struct fl_conn **)m, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			page = m;
		} else {
			munmap(m, FL_FDTAB_PAGE * sizeof(*page)); /* another thread won */
			page = expected;
		}
	}
	return &page[u & (FL_FDTAB_PAGE - 1)];
}

struct fl_conn *fl_fdtab_exchange(int fd, struct fl_conn *c)
{
	struct fl_conn **slot = slot_of(fd, c != NULL);
	if (!slot)
		return c ? FL_FDTAB_FAILED : NULL;
	return __atomic_exchange_n(slot, c, __ATOMIC_ACQ_REL);
}

static void clear_slots(struct fl_conn **slots, unsigned from, unsigned to)
{
	for (unsigned i = from; i <= to; i++) {
		if (!__atomic_load_n(&slots[i], __ATOMIC_RELAXED))
			continue;
		struct fl_conn *c = __atomic_exchange_n(&slots[i], NULL, __ATOMIC_ACQ_REL);
		if (c)
			fl_conn_unref(c);
	}
}

void fl_fdtab_clear_range(unsigned lo, unsigned hi)
{
	if (lo > hi)
		return;
	if (lo < FL_FDTAB_LOW)
		clear_slots(fl_fdtab_low, lo, hi < FL_FDTAB_LOW - 1 ? hi : FL_FDTAB_LOW - 1);
	if (hi < FL_FDTAB_LOW)
		return;
	unsigned from = lo < FL_FDTAB_LOW ? 0 : lo - FL_FDTAB_LOW;
	unsigned to = hi - FL_FDTAB_LOW;
	for (unsigned p = from >> FL_FDTAB_PAGE_BITS; p < FL_FDTAB_PAGES && p <= to >> FL_FDTAB_PAGE_BITS;
	     p++) {
		struct fl_conn **page = __atomic_load_n(&high_pages[p], __ATOMIC_ACQUIRE);
		if (!page)
			continue;
		unsigned base = p << FL_FDTAB_PAGE_BITS;
		unsigned a = from > base ? from - base : 0;
		unsigned b = to - base < FL_FDTAB_PAGE - 1 ? to - base : FL_FDTAB_PAGE - 1;
		clear_slots(page, a, b);
	}
}

void fl_fdtab_each(void (*fn)(int fd, struct fl_conn *c, void *arg), void *arg)
{
	for (unsigned i = 0; i < FL_FDTAB_LOW; i++) {
		struct fl_conn *c = __atomic_load_n(&fl_fdtab_low[i], __ATOMIC_ACQUIRE);
		if (c)
			fn((int)i, c, arg);
	}
	for (unsigned p = 0; p < FL_FDTAB_PAGES; p++) {
		struct fl_conn **page = __atomic_load_n(&high_pages[p], __ATOMIC_ACQUIRE);
		if (!page)
			continue;
		for (unsigned i = 0; i < FL_FDTAB_PAGE; i++) {
			struct fl_conn *c = __atomic_load_n(&page[i], __ATOMIC_ACQUIRE);
			if (c)
				fn((int)(FL_FDTAB_LOW + (p << FL_FDTAB_PAGE_BITS) + i), c, arg);
		}
	}
}
