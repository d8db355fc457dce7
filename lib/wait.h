/*
 * wait.h - waits that behave like the system call they stand in for.
 *
 * An injected delay and a place in a bulkhead's queue both keep a program
 * inside a call it made (recv, connect, ...). signal(7) says what a signal
 * does to such a call: a handler installed without SA_RESTART interrupts it
 * (-1/EINTR), one with SA_RESTART lets it go on. The shim cannot know which
 * handler ran, so it lets the kernel decide: it waits in futex_waitv(2),
 * whose absolute deadline makes it restartable (the kernel restarts it after
 * an SA_RESTART handler, with the same deadline, and fails it with EINTR
 * otherwise). A timed FUTEX_WAIT or clock_nanosleep would not do: the
 * kernel never restarts them once a handler ran, SA_RESTART or not.
 *
 * futex_waitv needs Linux 5.16; where it is missing (ENOSYS) or filtered
 * (a seccomp profile answering EPERM), the wait falls back to a timed
 * FUTEX_WAIT that signals do not end (the behaviour before: a delay or a
 * queue wait runs to its end). Async-signal-safe; errno is kept.
 */
#ifndef FL_WAIT_H
#define FL_WAIT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC now plus ms. */
void fl_deadline_after_ms(struct timespec *out, uint64_t ms);

/* Whether CLOCK_MONOTONIC has reached the deadline. */
bool fl_deadline_passed(const struct timespec *deadline);

/* The earlier of two deadlines. */
struct timespec fl_deadline_min(struct timespec a, struct timespec b);

/*
 * Sleeps while *word == val, until woken or the absolute CLOCK_MONOTONIC
 * deadline. shared: the word lies in memory other processes map (and wake).
 * Returns 0 (woken, or the word had changed: look again), ETIMEDOUT, or
 * EINTR (a signal handler without SA_RESTART ran).
 */
int fl_wait_until(uint32_t *word, uint32_t val, bool shared, const struct timespec *deadline);

/* Sleeps until the deadline: 0, or EINTR as fl_wait_until. */
int fl_sleep_until(const struct timespec *deadline);

#endif
