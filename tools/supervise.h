/*
 * supervise.h - `faultline run` as a seccomp supervisor, for the programs
 * LD_PRELOAD cannot enter (static and Go binaries; SPEC 13).
 *
 * The child installs a seccomp filter whose only trapped call is connect
 * (SECCOMP_RET_USER_NOTIF) and hands the listener to this process, which
 * answers each connect with the same rules, breakers, bulkheads and
 * shared-memory domain as the shim (tools/supervise_loop.c). Everything
 * else the program does runs at full speed, untouched. docs/how-it-works.md
 * ("The supervisor") has the design and the reasons for it.
 */
#ifndef FL_SUPERVISE_H
#define FL_SUPERVISE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cli.h"
#include "rules.h"

/* What the loop needs, set up by fl_supervise_run. */
struct fl_sv_config {
	const struct fl_ruleset *rules;
	const char *domain;
	uint32_t capacity;
	uint64_t seed;
	bool defer_delays;   /* Go: a delayed non-blocking connect answers EINPROGRESS at once */
	const char *command; /* for `faultline ps` */
};

/*
 * Rules a supervised program cannot honour: fault statements whose on=
 * names I/O operations (send, recv, read, write) other than the default
 * "every op". Prints one line per statement and returns how many.
 * Statements with the default on= (every op) are kept: their connect part
 * applies, and one warning line says the rest does not.
 */
int fl_sv_check_rules(const struct fl_ruleset *rs);

/*
 * Runs argv supervised and returns the exit status to exit with (the
 * program's, or 128+signal). Where the kernel or a seccomp profile refuses
 * the filter, one line says so and the program runs unsupervised (without
 * the shim too: no rule applies), still under this process, which waits
 * for it. -1 only when nothing was started (no socketpair): the caller
 * then runs the program as before.
 */
int fl_supervise_run(const struct fl_sv_config *cfg, char **argv);

/* The loop: serves the listener until the program (pid, pidfd) exits.
 * Returns its wait status. */
int fl_sv_serve(const struct fl_sv_config *cfg, int listener, pid_t pid, int pidfd);

#endif
