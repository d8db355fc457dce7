/*
 * helper_procs.c - fork and vfork in programs under the shim.
 *
 *   helper_procs forkthreads PA PB FORKS
 *   helper_procs vfork PA PB close|keep
 *   helper_procs client PB
 *   helper_procs reuse fork|_Fork|sysfork|daemon OUT
 *
 * PA: a server behind `bulkhead max_concurrent_requests=1` (queue allowed);
 * PB: a sink server whose sends fail by the rule
 *     `fault on=send error=ENOBUFS after=1 times=1` (per process: the 2nd
 *     send of a process fails, once).
 *
 * forkthreads: fork in a multithreaded program while other threads are
 *   inside shim calls. The main thread takes PA's only slot; thread 1 waits
 *   for a PA slot in the bulkhead queue (a futex wait inside the shim's
 *   connect); thread 2 blocks in recv() on a watched PB socket; threads 3
 *   and 4 send on watched PB sockets in a loop. Then FORKS times: fork; the
 *   child (alarm(10): a deadlock kills it) connects to PB and sends three
 *   times (the 2nd must fail with ENOBUFS: its fault counters start at
 *   zero), tries PA non-blocking (must be refused at once: the slot is
 *   the parent's), and ends by exit or _exit. The parent reaps each child
 *   (bounded). Then the main thread closes its PA socket: thread 1 must get
 *   the slot; everything stops; exit 0.
 *
 * vfork: the main thread takes PA's only slot, then vfork()s; the child
 *   (sharing the parent's memory, as vfork children and spawn helpers do)
 *   closes that descriptor first when asked ("close", as a spawn
 *   implementation or Python's subprocess closing inherited descriptors
 *   does), then execs `helper_procs client PB`. After the child is reaped,
 *   the parent's connection must still be watched and hold its slot: a
 *   non-blocking connect to PA is refused, and the parent's own 2nd send on
 *   a PB socket still fails by the rule.
 *
 * client: connect to PB, send three times; the 2nd must fail with ENOBUFS.
 *
 * Each check prints "ok NAME" or "FAIL NAME: why"; exit 1 on any failure.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "helper.h"

static int pa, pb;
static int stop; /* atomic */

static int connect_port(int port, int nonblock, int *err)
{
	struct sockaddr_in a = loopback(port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		die("socket");
	*err = connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ? errno : 0;
	return fd;
}

/*
 * Whether PA's bulkhead is full, seen by a non-blocking connect: refused
 * when its queue is full too, or queued (SPEC 12): EINPROGRESS and not
 * writable for 300 ms, where a real connect to the listening port would be
 * writable at once. *err: the connect's errno (EINPROGRESS: and writable).
 */
static bool pa_is_full(int *err)
{
	int fd = connect_port(pa, 1, err);
	bool full = *err == ECONNREFUSED;
	if (*err == EINPROGRESS) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		full = poll(&p, 1, 300) == 0;
	}
	close(fd);
	return full;
}

/* Three sends on a fresh PB connection: ok, ENOBUFS (the rule), ok. */
static int three_sends(const char *who)
{
	int err;
	int fd = connect_port(pb, 0, &err);
	if (err) {
		bad(who, "connect to PB: %s", ename(err));
		close(fd);
		return 0;
	}
	int results[3];
	for (int i = 0; i < 3; i++)
		results[i] = send(fd, "x", 1, MSG_NOSIGNAL) < 0 ? errno : 0;
	close(fd);
	if (results[0] || results[1] != ENOBUFS || results[2]) {
		bad(who, "sends gave %s, %s, %s; expected 0, ENOBUFS, 0",
		    results[0] ? ename(results[0]) : "0", results[1] ? ename(results[1]) : "0",
		    results[2] ? ename(results[2]) : "0");
		return 0;
	}
	return 1;
}

static void *queued_for_slot(void *arg)
{
	int *result = arg;
	int err;
	int fd = connect_port(pa, 0, &err);
	__atomic_store_n(result, err, __ATOMIC_RELEASE);
	close(fd);
	return NULL;
}

static int blocked_fd = -1;

static void *blocked_in_recv(void *arg)
{
	(void)arg;
	int err;
	int fd = connect_port(pb, 0, &err);
	if (err)
		die("thread 2: connect to PB");
	__atomic_store_n(&blocked_fd, fd, __ATOMIC_RELEASE);
	char buf[16];
	while (recv(fd, buf, sizeof(buf), 0) > 0) /* until main shuts it down */
		;
	return NULL;
}

static void *sending(void *arg)
{
	uint64_t *calls = arg;
	int err;
	int fd = connect_port(pb, 0, &err);
	if (err)
		die("sender: connect to PB");
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		send(fd, "y", 1, MSG_NOSIGNAL);
		(*calls)++;
	}
	close(fd);
	return NULL;
}

/* Waits up to `secs` for pid; returns its status, or -1 after killing it. */
static int reap(pid_t pid, int secs)
{
	int status;
	for (int i = 0; i < secs * 100; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0)
			die("waitpid");
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static int forked_child(int n)
{
	alarm(10);
	char name[64];
	snprintf(name, sizeof(name), "child %d", n);
	int good = three_sends(name);
	int err;
	if (!pa_is_full(&err)) {
		bad(name, "non-blocking connect to the full bulkhead gave %s, not refused nor queued",
		    err ? ename(err) : "success");
		good = 0;
	}
	return good ? 0 : 1;
}

static int forkthreads(int forks)
{
	int err;
	int slot = connect_port(pa, 0, &err);
	if (err)
		die("main: connect to PA");
	int queued_result = -1;
	uint64_t calls3 = 0, calls4 = 0;
	pthread_t t1, t2, t3, t4;
	if (pthread_create(&t1, NULL, queued_for_slot, &queued_result) ||
	    pthread_create(&t2, NULL, blocked_in_recv, NULL) || pthread_create(&t3, NULL, sending, &calls3) ||
	    pthread_create(&t4, NULL, sending, &calls4))
		die("pthread_create");
	usleep(300000); /* thread 1 is in the queue, thread 2 in recv, 3 and 4 sending */
	int children_ok = 0;
	for (int i = 0; i < forks; i++) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			int rc = forked_child(i);
			fflush(stdout);
			if (i % 2)
				_exit(rc);
			exit(rc);
		}
		int status = reap(pid, 15);
		if (status == -1)
			bad("fork child", "child %d did not finish within 15 s (deadlock after fork?)", i);
		else if (WIFSIGNALED(status))
			bad("fork child", "child %d died by signal %d%s", i, WTERMSIG(status),
			    WTERMSIG(status) == SIGALRM ? " (its 10 s alarm: a deadlock)" : "");
		else if (WEXITSTATUS(status) != 0)
			bad("fork child", "child %d exited %d", i, WEXITSTATUS(status));
		else
			children_ok++;
	}
	if (children_ok == forks) {
		char msg[96];
		snprintf(msg, sizeof(msg),
			 "%d children forked with 4 threads inside shim calls used the shim and exited",
			 forks);
		ok(msg);
	}
	int early = __atomic_load_n(&queued_result, __ATOMIC_ACQUIRE);
	if (early != -1)
		bad("queued thread", "left the bulkhead queue before the slot was given back (%s)",
		    early ? ename(early) : "connected");
	close(slot);
	pthread_join(t1, NULL);
	if (queued_result == 0)
		ok("the queued thread got the slot once the main thread closed it");
	else
		bad("queued thread", "after the slot was given back: %s", ename(queued_result));
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	int fd = __atomic_load_n(&blocked_fd, __ATOMIC_ACQUIRE);
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
	pthread_join(t2, NULL);
	pthread_join(t3, NULL);
	pthread_join(t4, NULL);
	ok("threads blocked in and looping through shim calls during the forks finished");
	return helper_failures ? 1 : 0;
}

static int vfork_exec(const char *self, int close_first)
{
	int err;
	int slot = connect_port(pa, 0, &err);
	if (err)
		die("main: connect to PA");
	if (three_sends("parent before vfork"))
		ok("parent: the rule applies before vfork");
	char port_text[16];
	snprintf(port_text, sizeof(port_text), "%d", pb);
	fflush(stdout);
	pid_t pid = vfork();
	if (pid < 0)
		die("vfork");
	if (pid == 0) {
		if (close_first)
			close(slot); /* the child's copy: the parent's stays open */
		execl(self, self, "client", port_text, (char *)NULL);
		_exit(127);
	}
	int status = reap(pid, 15);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		bad("vfork child", "the exec'd client failed (status %d)", status);
	else
		ok("vfork+exec: the exec'd program runs under the shim and its rule applies");
	if (pa_is_full(&err))
		ok("vfork: the parent still holds its bulkhead slot");
	else
		bad("vfork slot",
		    "a non-blocking connect to PA gave %s: the parent's slot was given back while "
		    "its connection is open%s",
		    err ? ename(err) : "success (admitted beyond max_concurrent_requests=1)",
		    close_first ? " (the vfork child closed its copy of the descriptor)" : "");
	close(slot);
	return helper_failures ? 1 : 0;
}

/*
 * reuse: a child made without the fork() wrapper - glibc's daemon() (its
 * internal fork), _Fork(), or the raw system call - closes an inherited
 * watched socket, and a pipe gets the same number. Reading the pipe must
 * pass through untouched (the test's rule injects EIO into every read on
 * a watched socket to 127.0.0.1). Writes "ok" or the errno to OUT.
 */
static int reuse(const char *how, const char *out)
{
	int listener = listen_on(0);
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	if (getsockname(listener, (struct sockaddr *)&a, &alen) < 0)
		die("getsockname");
	int c = connect_to(ntohs(a.sin_port));
	pid_t pid;
	if (strcmp(how, "daemon") == 0) {
		if (daemon(1, 1) < 0) /* the parent exits 0 inside */
			die("daemon");
		pid = 0;
	} else if (strcmp(how, "_Fork") == 0) {
		pid = _Fork();
	} else if (strcmp(how, "sysfork") == 0) {
		pid = (pid_t)syscall(SYS_fork);
	} else {
		pid = fork();
	}
	if (pid < 0)
		die("%s", how);
	if (pid == 0) {
		close(c);
		int p[2];
		if (pipe(p) < 0)
			die("pipe");
		if (p[0] != c && dup2(p[0], c) < 0)
			die("dup2");
		if (write(p[1], "hi", 2) != 2)
			die("write to the pipe");
		char buf[4];
		ssize_t r = read(c, buf, sizeof(buf));
		int e = errno;
		FILE *f = fopen(out, "we");
		if (f) {
			fprintf(f, "%s\n", r == 2 ? "ok" : r < 0 ? ename(e) : "short");
			fclose(f);
		}
		_exit(r == 2 ? 0 : 1);
	}
	if (reap(pid, 15) == -1)
		die("the %s child did not finish", how);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && strcmp(argv[1], "client") == 0) {
		pb = port_arg(argv[2]);
		if (!three_sends("exec'd client"))
			return 1;
		ok("exec'd client: the 2nd send failed by the rule");
		return 0;
	}
	if (argc == 5 && strcmp(argv[1], "forkthreads") == 0) {
		pa = port_arg(argv[2]);
		pb = port_arg(argv[3]);
		return forkthreads(atoi(argv[4]));
	}
	if (argc == 5 && strcmp(argv[1], "vfork") == 0) {
		pa = port_arg(argv[2]);
		pb = port_arg(argv[3]);
		return vfork_exec(argv[0], strcmp(argv[4], "close") == 0);
	}
	if (argc == 4 && strcmp(argv[1], "reuse") == 0)
		return reuse(argv[2], argv[3]);
	die("usage: helper_procs forkthreads PA PB FORKS | vfork PA PB close|keep | client PB | "
	    "reuse fork|_Fork|sysfork|daemon OUT");
}
