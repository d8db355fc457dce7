/*
 * supervise.c - starting a program under seccomp supervision (SPEC 13).
 *
 * The child sets no_new_privs, installs a filter that sends its connect
 * calls to a listener (SECCOMP_FILTER_FLAG_NEW_LISTENER), passes the
 * listener to us over a socketpair and execs the program: the filter is
 * inherited by every thread and child it makes, so the whole tree is
 * supervised. Nothing else is trapped, so the rest of the program runs at
 * full speed.
 *
 * Where the kernel (no user notifications: before 5.0, or 5.6 for
 * pidfd_getfd) or a container's seccomp profile refuses, the child says
 * why over the same socketpair and execs the program unsupervised: one
 * line on standard error, and the program runs as before.
 */
#include "supervise.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__x86_64__)
#define SV_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SV_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

int fl_sv_check_rules(const struct fl_ruleset *rs)
{
	int refused = 0;
	bool warned = false;
	for (size_t i = 0; i < rs->count; i++) {
		const struct fl_rule *r = &rs->rules[i];
		if (r->kind != FL_KIND_FAULT || !(r->u.fault.ops & FL_OPS_IO))
			continue;
		char text[256];
		fl_rule_format_brief(r, text, sizeof(text));
		if (r->u.fault.ops == FL_OPS_ALL) {
			if (!warned)
				fprintf(
				    stderr,
				    "faultline: warning: %s:%u:%u: %s: a supervised program gets its connect "
				    "faults only (send, recv, read and write need the shim)\n",
				    r->loc.source ? r->loc.source : "rules", r->loc.line, r->loc.col, text);
			warned = true;
			continue;
		}
		fprintf(stderr,
			"faultline: %s:%u:%u: %s: I/O faults (send, recv, read, write) cannot apply to a "
			"supervised program (static or Go): only connect is trapped\n",
			r->loc.source ? r->loc.source : "rules", r->loc.line, r->loc.col, text);
		refused++;
	}
	return refused;
}

/* The child's half: filter, hand over the listener, exec. Never returns. */
static void child(int sock, char **argv)
{
	int listener = -1, err = 0;
#ifdef SV_AUDIT_ARCH
	struct sock_filter code[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SV_AUDIT_ARCH, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_connect, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		err = errno;
	else if ((listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
					  SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog)) < 0)
		err = errno;
#else
	err = ENOSYS;
#endif
	char buf[CMSG_SPACE(sizeof(int))];
	memset(buf, 0, sizeof(buf));
	struct iovec iov = {.iov_base = &err, .iov_len = sizeof(err)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	if (listener >= 0) {
		msg.msg_control = buf;
		msg.msg_controllen = sizeof(buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &listener, sizeof(int));
	}
	/* Both descriptors are close-on-exec: no close(2), which a later
	 * filter might trap before anyone listens. */
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
		_exit(127);
	execvp(argv[0], argv);
	fprintf(stderr, "faultline: cannot run '%s': %s\n", argv[0], strerror(errno));
	_exit(127);
}

static pid_t child_pid;

/* SIGTERM and SIGHUP go on to the program; its end ends us. */
static void forward(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

static int wait_status(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
}

int fl_supervise_run(const struct fl_sv_config *cfg, char **argv)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		fprintf(stderr, "faultline: cannot supervise: socketpair: %s\n", strerror(errno));
		return -1;
	}
	/* Orphans of the program (daemons, double forks) stay our children, so
	 * the supervisor can still find the sockets they hold (supervise_loop.c). */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "faultline: cannot run '%s': fork: %s\n", argv[0], strerror(errno));
		return 1;
	}
	if (pid == 0) {
		close(sv[0]);
		child(sv[1], argv);
	}
	close(sv[1]);
	child_pid = pid;
	struct sigaction sa = {.sa_handler = forward};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* Ctrl-C reaches the program (same process group); we stay to answer
	 * it until it is gone, as a shell waiting for it would. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);

	int err = 0, listener = -1;
	char buf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = &err, .iov_len = sizeof(err)};
	struct msghdr msg = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = buf, .msg_controllen = sizeof(buf)};
	ssize_t n;
	do
		n = recvmsg(sv[0], &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	close(sv[0]);
	struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
	if (c && c->cmsg_type == SCM_RIGHTS)
		memcpy(&listener, CMSG_DATA(c), sizeof(int));
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (listener < 0 || pidfd < 0) {
		/* The program runs anyway (unsupervised, or stopped at its
		 * first connect with no one to answer: ENOSYS). */
		fprintf(
		    stderr,
		    "faultline: warning: cannot supervise %s (%s): it runs without faults; see faultline(7), "
		    "LIMITS\n",
		    argv[0],
		    listener < 0 ? (err ? strerror(err) : "no seccomp listener")
				 : "pidfd_open needs Linux 5.3");
		if (listener >= 0)
			close(listener);
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		return wait_status(st);
	}
	return wait_status(fl_sv_serve(cfg, listener, pid, pidfd));
}
