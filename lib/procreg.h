/*
 * procreg.h - the processes attached to a domain.
 *
 * A process is known by pid *and* start time (field 22 of /proc/PID/stat),
 * because pids are reused: a slot held by a dead process must never be
 * mistaken for one held by a new process that got the same pid.
 *
 * A leaf: it records processes and tells which are dead, and knows
 * nothing of what they hold. Giving back a dead process's bulkhead shares
 * and queue places, then its record, is reclaim (fl_bulkhead_reclaim_dead,
 * lib/bulkhead.c), built on fl_proc_next_dead and fl_proc_retire_*.
 *
 * The pid alone cannot say a process is alive when it runs in another PID
 * namespace (containers sharing /dev/shm: docs/fleet.md): there its
 * number is invisible, or someone else's. So a registered process also
 * holds a token the kernel gives back when it ends: an open-file-
 * description lock (F_OFD_SETLK, write) on byte FL_PROC_LOCK_BASE + index
 * of the segment file, through the descriptor struct fl_seg keeps. OFD
 * locks, not classic POSIX ones: those are per pid and drop when the
 * process closes *any* descriptor of the file. Anyone who has the segment
 * open can test the lock (F_OFD_GETLK), in any namespace.
 *
 * Alive = the token is held, or the pid runs with the recorded start
 * time. The second proof covers what the token cannot: exec (the
 * close-on-exec descriptor goes, the lock with it, until the new image
 * attaches again), a program that closed the shim's descriptor, records
 * without a token. Its limit: a holder in another namespace during such a
 * gap is judged by its pid alone.
 */
#ifndef FL_PROCREG_H
#define FL_PROCREG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "segment.h"

#define FL_PROC_NONE UINT32_MAX

/* Start time of pid in clock ticks since boot; 0 if it does not exist. */
uint64_t fl_proc_start_ticks(pid_t pid);

#define FL_PROC_LOCK_BASE (INT64_C(1) << 40) /* far past the data: locks only */

/*
 * Is the process recorded in p (the record at index of seg, or a copy of
 * it) still the one running? seg->fd, if open, is where its token is
 * tested. Async-signal-safe.
 */
bool fl_proc_alive(const struct fl_seg *seg, uint32_t index, const struct fl_seg_proc *p);

/* Does someone (another open file description) hold index's token? */
bool fl_proc_token_held(const struct fl_seg *seg, uint32_t index);

/*
 * Records this process (or finds its record again after exec: same pid and
 * start time) and takes its token through seg->fd (after fork, only once
 * fl_seg_reopen gave the child a description of its own). Returns its
 * index, or FL_PROC_NONE when the registry is full (reclaiming the dead,
 * fl_bulkhead_reclaim_dead, may free records for a second try).
 */
uint32_t fl_proc_register(struct fl_seg *seg, pid_t pid, uint64_t start_ticks, const char *cmd,
			  uint64_t now_ms);

/* The live record of (pid, start_ticks), or FL_PROC_NONE. */
uint32_t fl_proc_find(const struct fl_seg *seg, pid_t pid, uint64_t start_ticks);

/* The first record at or after `from` whose process is dead, or
 * FL_PROC_NONE; *generation is the registration that was judged (read
 * before judging it), for fl_proc_retire_begin. */
uint32_t fl_proc_next_dead(const struct fl_seg *seg, uint32_t from, uint32_t *generation);

/*
 * Retiring a record, in two steps so that what the process held can be
 * given back in between: begin takes it from LIVE to CLAIMED if it is still
 * registration `generation` (true for the one caller that did: only one
 * reclaimer works on a record, and never on a newer registration), end gives
 * the token back and frees it. The generation stays, so what was held can
 * still be told apart from what the record's next process will hold.
 */
bool fl_proc_retire_begin(struct fl_seg *seg, uint32_t index, uint32_t generation);

/* begin, for a process retiring its own record: it waits out a reclaimer
 * that holds the record for a moment (one that judged an earlier
 * registration of the same record dead) instead of giving up. */
bool fl_proc_retire_own_begin(struct fl_seg *seg, uint32_t index);
void fl_proc_retire_end(struct fl_seg *seg, uint32_t index);

/* Frees the record of a process known to hold nothing (both steps). */
void fl_proc_forget(struct fl_seg *seg, uint32_t index);

#endif
