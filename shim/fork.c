/*
 * fork.c - the child of a fork is a new process.
 *
 * Its descriptor table is already right (the child inherits the parent's
 * descriptors and our copy of the table). What changes: `after`, `every`
 * and `times` count per process, so the child starts them at zero, and its
 * random stream is derived anew, so parent and child do not make the same
 * decisions in lockstep. It registers in the domain as a process of its
 * own, and takes a share of each inherited connection's bulkhead slot -
 * reserved by the parent before the real fork, so that the parent closing
 * its copy at once cannot free a slot the child still holds.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "domain.h"
#include "inject.h"
#include "real.h"
#include "shim.h"

FL_EXPORT pid_t fork(void)
{
	if (!fl_state.active) {
		pid_t pid = fl_real.fork();
		if (pid == 0)
			fl_state.pid = getpid();
		return pid;
	}
	uint32_t token = fl_domain_fork_prepare();
	pid_t pid = fl_real.fork();
	int saved = errno;
	if (pid == 0) {
		fl_state.pid = getpid();
		memset(fl_state.counters, 0, fl_state.rules.count * sizeof(*fl_state.counters));
		fl_thread_rng_fork();
		fl_domain_fork_child(token);
	} else if (pid < 0) {
		fl_domain_fork_failed(token);
	}
	errno = saved;
	return pid;
}
