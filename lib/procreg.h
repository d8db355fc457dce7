/*
 * procreg.h - the processes attached to a domain.
 *
 * A process is known by pid *and* start time (field 22 of /proc/PID/stat),
 * because pids are reused: a slot held by a dead process must never be
 * mistaken for one held by a new process that got the same pid. Reaping a
 * dead process releases every bulkhead slot it held.
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

/* Is the process recorded in p still the one running? */
bool fl_proc_alive(const struct fl_seg_proc *p);

/*
 * Records this process (or finds its record again after exec: same pid and
 * start time). Returns its index, or FL_PROC_NONE when the registry is full
 * even after reaping.
 */
uint32_t fl_proc_register(struct fl_seg *seg, pid_t pid, uint64_t start_ticks, const char *cmd,
			  uint64_t now_ms);

/* The live record of (pid, start_ticks), or FL_PROC_NONE. */
uint32_t fl_proc_find(const struct fl_seg *seg, pid_t pid, uint64_t start_ticks);

/* Releases what the process at index holds and frees its record. */
void fl_proc_unregister(struct fl_seg *seg, uint32_t index);

/* Frees the record of a process known to hold no slot (no holder scan). */
void fl_proc_forget(struct fl_seg *seg, uint32_t index);

/* Reaps every dead process; returns how many bulkhead shares and queue
 * places it gave back. */
uint32_t fl_proc_reap(struct fl_seg *seg);

#endif
