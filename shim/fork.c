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
 * its copy at once cannot free a slot the child still holds. The
 * reservations are recorded on the forking thread's stack, so the child
 * knows exactly which ones were made for it (handoff.c).
 */
#include <errno.h>
#include <linux/kcmp.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "domain.h"
#include "handoff.h"
#include "inject.h"
#include "ready.h"
#include "real.h"
#include "resolve.h"
#include "shim.h"

/* What a child does first, whoever forked it. */
static void become_child(bool seen_by_fork)
{
	fl_state.pid = getpid();
	fl_resolve_fork_child();
	if (!fl_state.active)
		return;
	memset(fl_state.counters, 0, fl_state.rules.count * sizeof(*fl_state.counters));
	fl_thread_rng_fork();
	fl_conn_fork_child();
	fl_ready_fork_child();
	if (!seen_by_fork)
		fl_handoff_fork_unseen();
}

/* Set around the real fork() by our wrapper, so the atfork handler below
 * leaves that child to the wrapper. */
static __thread __attribute__((tls_model("initial-exec"))) int in_fork_wrapper;

/* glibc runs this in the child of every fork it makes, also those our
 * wrapper cannot see (daemon() forks internally). */
static void atfork_child(void)
{
	if (!in_fork_wrapper && getpid() != fl_state.pid)
		become_child(false);
}

void fl_fork_watch(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
}

bool fl_foreign_child(void)
{
	pid_t me = (pid_t)syscall(SYS_getpid);
	if (FL_LIKELY(me == fl_state.pid))
		return false;
	/* kcmp: 0 = same memory (vfork); 1, 2, 3 = different; ESRCH = the
	 * parent is gone, which a vfork parent cannot be while we run. */
	int saved = errno;
	long r = syscall(SYS_kcmp, me, fl_state.pid, KCMP_VM, 0, 0);
	bool own_memory = r > 0 || (r < 0 && errno == ESRCH);
	errno = saved;
	if (!own_memory)
		return true;
	become_child(false);
	return false;
}

FL_EXPORT pid_t fork(void)
{
	/* The reservations live on this stack, which the child inherits. */
	struct fl_fork_share res[FL_FORK_SHARES_MAX];
	uint32_t n = fl_state.active ? fl_handoff_fork_prepare(res, FL_FORK_SHARES_MAX) : 0;
	in_fork_wrapper = 1;
	pid_t pid = fl_real.fork();
	int saved = errno;
	in_fork_wrapper = 0;
	if (pid == 0) {
		become_child(true);
		if (fl_state.active)
			fl_handoff_fork_child(res, n);
	} else if (pid < 0 && fl_state.active) {
		fl_handoff_fork_failed(res, n);
	}
	errno = saved;
	return pid;
}
