/*
 * clock.h - the two clocks faultline reads, one helper each.
 *
 * Decisions that measure time (a breaker's open timeout, an attacher's
 * wait for a segment's creator, a redraw interval) use CLOCK_MONOTONIC,
 * which no settimeofday or NTP step moves. Times shown to people (a
 * breaker's last transition, when a process attached) are Unix time.
 * Static inline: clock_gettime goes to the vDSO, without a system call,
 * and is async-signal-safe, so the shim calls these on its hot path.
 */
#ifndef FL_CLOCK_H
#define FL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t fl_clock_mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static inline uint64_t fl_clock_mono_ms(void)
{
	return fl_clock_mono_ns() / 1000000ULL;
}

/* Milliseconds since the Unix epoch. */
static inline uint64_t fl_clock_unix_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000ULL + (uint64_t)t.tv_nsec / 1000000ULL;
}

#endif
