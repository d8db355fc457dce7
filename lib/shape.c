/*
 * shape.c - see shape.h.
 */
#include "shape.h"

void fl_shape_init(struct fl_shape *s, uint32_t rate_kbps, uint32_t burst_kb)
{
	s->rate = (uint64_t)rate_kbps * 1000u;
	if (s->rate == 0)
		s->rate = 1;
	s->ns_per_byte_q32 = (uint64_t)(((__uint128_t)1000000000u << 32) / s->rate);
	s->bytes_per_ns_q48 = (uint64_t)((((__uint128_t)s->rate << 48) + 999999999u) / 1000000000u);
	s->burst = (uint64_t)burst_kb * 1000u;
	if (s->burst == 0)
		s->burst = 1;
	/* rounded up, so that an idle bucket buys back its whole burst */
	s->burst_ns = fl_shape_cost_ns(s, s->burst) + 2;
	s->quantum = s->rate / 100u;
	if (s->quantum > s->burst)
		s->quantum = s->burst;
	if (s->quantum == 0)
		s->quantum = 1;
}

/* The bucket's floor: a bucket idle longer than a burst holds one burst. */
static uint64_t base_of(uint64_t due, const struct fl_shape *s, uint64_t now)
{
	uint64_t floor = now > s->burst_ns ? now - s->burst_ns : 0;
	return due > floor ? due : floor;
}

uint64_t fl_shape_available(const uint64_t *due, const struct fl_shape *s, uint64_t now, uint64_t want,
			    uint64_t *wait_ns)
{
	if (want == 0)
		want = 1;
	uint64_t base = base_of(__atomic_load_n(due, __ATOMIC_ACQUIRE), s, now);
	uint64_t have = now > base ? fl_shape_bytes_in(s, now - base) : 0;
	if (have > s->burst)
		have = s->burst;
	uint64_t need = want < s->quantum ? want : s->quantum;
	if (have >= need) {
		*wait_ns = 0;
		return have < want ? have : want;
	}
	uint64_t ready = base + fl_shape_cost_ns(s, need) + 1;
	*wait_ns = ready > now ? ready - now : 1;
	return 0;
}

void fl_shape_debit(uint64_t *due, const struct fl_shape *s, uint64_t now, uint64_t bytes)
{
	if (bytes == 0)
		return;
	uint64_t cost = fl_shape_cost_ns(s, bytes);
	uint64_t old = __atomic_load_n(due, __ATOMIC_RELAXED);
	while (!__atomic_compare_exchange_n(due, &old, base_of(old, s, now) + cost, true, __ATOMIC_ACQ_REL,
					    __ATOMIC_RELAXED))
		;
}
