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

uint64_t fl_shape_available(const uint64_t *due, const struct fl_shape *s, uint64_t now, uint64_t want,
			    uint64_t *wait_ns)
{
	if (want == 0)
		want = 1;
	uint64_t have = fl_shape_have(due, s, now);
	uint64_t need = want < s->quantum ? want : s->quantum;
	if (have >= need) {
		*wait_ns = 0;
		return have < want ? have : want;
	}
	/* need - have more bytes: their cost from now (rounded up) */
	*wait_ns = fl_shape_cost_ns(s, need - have) + 1;
	return 0;
}
