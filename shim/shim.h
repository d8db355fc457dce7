/*
 * shim.h - what the interposition files share.
 *
 * Every wrapper has the same shape: look the descriptor up (lock-free, a
 * few instructions), and if it is not a socket connected to a matched
 * destination, jump straight to the real function. Only matched sockets
 * reach the out-of-line code in inject.c.
 */
#ifndef FL_SHIM_H
#define FL_SHIM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "fault.h"
#include "match.h"
#include "rules.h"

#define FL_EXPORT __attribute__((visibility("default")))
/* On the declaration of a variable every wrapper reads: the compiler then
 * addresses it directly (one rip-relative load) instead of through the GOT
 * (-fvisibility=hidden covers definitions, not extern declarations). */
#define FL_HIDDEN      __attribute__((visibility("hidden")))
#define FL_LIKELY(x)   __builtin_expect(!!(x), 1)
#define FL_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Process-wide state, written by the constructor (and by fork in the child),
 * read-only everywhere else. */
struct fl_state {
	bool active; /* rules loaded: connect consults them */
	struct fl_ruleset rules;
	struct fl_match_index match_index;  /* built once from rules; zeroed = linear */
	struct fl_fault_counters *counters; /* one per rule, per process */
	uint64_t seed;
	pid_t pid; /* this process, as the constructor or our fork() saw it */
};

extern struct fl_state fl_state;

/*
 * True in a child that shares our memory without our fork() having run:
 * vfork and posix_spawn children, until they exec. Such a child must not
 * change the descriptor table or give back bulkhead shares - those are the
 * parent's. A child with its own copy that our fork() never saw (daemon()'s
 * internal fork, _Fork, a raw clone) is adopted instead, on the spot
 * (fork.c). Asked only on paths that change state: it costs system calls.
 */
bool fl_foreign_child(void);

/* fork.c: registers the atfork handler that catches forks made inside libc. */
void fl_fork_watch(void);

#endif
