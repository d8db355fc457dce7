/*
 * rng.h - the random source of every fault decision.
 *
 * splitmix64: one 64-bit word of state, a handful of instructions per draw,
 * good enough statistics for coin flips and jitter, and trivially derived
 * streams: each thread seeds its own generator from (seed, thread ordinal),
 * so decisions are reproducible under FAULTLINE_SEED and no lock is shared.
 */
#ifndef FL_RNG_H
#define FL_RNG_H

#include <stdint.h>

struct fl_rng {
	uint64_t state;
};

static inline uint64_t fl_rng_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline void fl_rng_seed(struct fl_rng *g, uint64_t seed, uint64_t stream)
{
	g->state = fl_rng_mix(seed ^ fl_rng_mix(stream + 0x9e3779b97f4a7c15ULL));
}

static inline uint64_t fl_rng_next(struct fl_rng *g)
{
	g->state += 0x9e3779b97f4a7c15ULL;
	return fl_rng_mix(g->state);
}

/* Uniform in [0, bound] inclusive; bound < 2^32. */
static inline uint32_t fl_rng_upto(struct fl_rng *g, uint32_t bound)
{
	return (uint32_t)(((fl_rng_next(g) >> 32) * ((uint64_t)bound + 1)) >> 32);
}

#endif
