/*
 * wait.c - see wait.h.
 */
#include "wait.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449 /* the same number on every architecture */
#endif

/* 1 until futex_waitv is found missing, then 0 for the life of the process. */
static int have_waitv = 1; /* atomic */

void fl_deadline_after_ms(struct timespec *out, uint64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, out);
	out->tv_sec += (time_t)(ms / 1000);
	out->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (out->tv_nsec >= 1000000000L) {
		out->tv_sec++;
		out->tv_nsec -= 1000000000L;
	}
}

bool fl_deadline_passed(const struct timespec *deadline)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

struct timespec fl_deadline_min(struct timespec a, struct timespec b)
{
	if (a.tv_sec != b.tv_sec)
		return a.tv_sec < b.tv_sec ? a : b;
	return a.tv_nsec <= b.tv_nsec ? a : b;
}

/* Kernels without futex_waitv: a relative timed wait; a signal is a spurious wake. */
static int wait_fallback(uint32_t *word, uint32_t val, bool shared, const struct timespec *deadline)
{
	struct timespec now, rel;
	clock_gettime(CLOCK_MONOTONIC, &now);
	rel.tv_sec = deadline->tv_sec - now.tv_sec;
	rel.tv_nsec = deadline->tv_nsec - now.tv_nsec;
	if (rel.tv_nsec < 0) {
		rel.tv_sec--;
		rel.tv_nsec += 1000000000L;
	}
	if (rel.tv_sec < 0)
		return ETIMEDOUT;
	int op = FUTEX_WAIT | (shared ? 0 : FUTEX_PRIVATE_FLAG);
	if (syscall(SYS_futex, word, op, val, &rel, NULL, 0) < 0 && errno == ETIMEDOUT)
		return ETIMEDOUT;
	return 0;
}

int fl_wait_until(uint32_t *word, uint32_t val, bool shared, const struct timespec *deadline)
{
	int saved = errno, result = 0;
	if (__atomic_load_n(&have_waitv, __ATOMIC_RELAXED)) {
		struct futex_waitv w = {
		    .val = val,
		    .uaddr = (uintptr_t)word,
		    .flags = FUTEX_32 | (shared ? 0 : FUTEX_PRIVATE_FLAG),
		};
		if (syscall(SYS_futex_waitv, &w, 1, 0, deadline, CLOCK_MONOTONIC) >= 0)
			goto out;
		if (errno == ETIMEDOUT || errno == EINTR) {
			result = errno;
			goto out;
		}
		if (errno != ENOSYS && errno != EPERM)
			goto out; /* EAGAIN: the word had changed */
		__atomic_store_n(&have_waitv, 0, __ATOMIC_RELAXED);
	}
	result = wait_fallback(word, val, shared, deadline);
out:
	errno = saved;
	return result;
}

int fl_sleep_until(const struct timespec *deadline)
{
	uint32_t word = 0; /* nobody wakes it: only the deadline or a signal ends the wait */
	for (;;) {
		int r = fl_wait_until(&word, 0, false, deadline);
		if (r == ETIMEDOUT)
			return 0;
		if (r == EINTR)
			return EINTR;
	}
}
