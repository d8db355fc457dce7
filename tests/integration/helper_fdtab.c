/*
 * helper_fdtab.c - the descriptor table follows the kernel's.
 *
 * Rule under test: 127.0.0.1:PORT fault on=send error=ECONNRESET. A
 * descriptor is "watched" when send() on it fails with that injected
 * ECONNRESET; an unwatched socket gets the real result (a socketpair
 * sends, an unconnected socket says ENOTCONN), never ECONNRESET.
 *
 * Reusing a number is the real test of forgetting: after close (or
 * close_range, fclose) the next socket() that gets the same number must not
 * inherit the old connection's faults. New numbers are taken with socket()
 * (lowest free number), not dup2, because dup2 onto a stale slot would
 * overwrite it and hide the bug.
 *
 *   helper_fdtab table PORT      dup, dup2, dup3, fcntl(F_DUPFD*), close,
 *                                close_range, fclose, fork, exec
 *   helper_fdtab high PORT [FD]  the same around descriptor FD (default
 *                                100,001; exit 77 if RLIMIT_NOFILE cannot
 *                                reach it)
 *   helper_fdtab closing PORT    closefrom forgets; close_range forgets
 *                                before the real call (a number reused by
 *                                another thread while a lingering socket
 *                                keeps close_range busy keeps its entry)
 *   helper_fdtab exec-probe FD WANT   (internal: the program exec'd by the
 *                                exec checks; exit 0 if FD is watched == WANT)
 */
#include "helper.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/resource.h>
#include <sys/wait.h>

static bool watched(int fd)
{
	errno = 0;
	ssize_t r = send(fd, "p", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	return r == -1 && errno == ECONNRESET;
}

static void expect(const char *name, int fd, bool want)
{
	if (fd < 0)
		bad(name, "no descriptor (errno %s)", ename(errno));
	else if (watched(fd) != want)
		bad(name, "fd %d is %swatched, expected %swatched", fd, want ? "not " : "",
		    want ? "" : "not ");
	else
		ok(name);
}

static int unwatched_socket(void)
{
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0)
		die("socket(AF_UNIX)");
	return s;
}

/* A fresh unwatched socket on exactly `target`, which must be free and the
 * lowest free number once the numbers below it are filled. */
static int take_fd(int target)
{
	int fillers[2048], n = 0;
	for (;;) {
		int s = unwatched_socket();
		if (s == target)
			break;
		if (s > target || n == 2048)
			die("could not get descriptor %d back (got %d)", target, s);
		fillers[n++] = s;
	}
	for (int i = 0; i < n; i++)
		close(fillers[i]);
	return target;
}

/* Runs this program again as `exec-probe FD WANT` in a child that inherits FD. */
static void expect_after_exec(const char *name, int fd, bool want)
{
	int flags = fcntl(fd, F_GETFD);
	fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		char fdtext[16];
		snprintf(fdtext, sizeof(fdtext), "%d", fd);
		execl("/proc/self/exe", "helper_fdtab", "exec-probe", fdtext, want ? "1" : "0", (char *)NULL);
		_exit(127);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		bad(name, "after exec, fd %d is not %swatched (child status %d)", fd, want ? "" : "un",
		    status);
	else
		ok(name);
}

static void expect_in_child(const char *name, int fd, bool want)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0)
		_exit(watched(fd) == want ? 0 : 3);
	int status = 0;
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		bad(name, "in the child, fd %d is not %swatched", fd, want ? "" : "un");
	else
		ok(name);
}

static void raise_nofile(rlim_t want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit");
	if (rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want;
	if (rl.rlim_max < want)
		rl.rlim_max = want; /* only root can; otherwise skip below */
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		getrlimit(RLIMIT_NOFILE, &rl);
		printf("SKIP: RLIMIT_NOFILE hard limit is %llu, below %llu, and cannot be raised\n",
		       (unsigned long long)rl.rlim_max, (unsigned long long)want);
		exit(77);
	}
}

static void check_table(int port)
{
	raise_nofile(2100);
	int listener = listen_on(port);
	int c = connect_to(port);
	expect("connect-makes-watched", c, true);

	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0)
		die("socketpair");
	expect("socketpair-unwatched", sp[0], false);

	int d = dup(c);
	expect("dup-copies", d, true);
	expect("dup2-copies", dup2(c, 300), true);
	expect("dup3-copies", dup3(c, 301, O_CLOEXEC), true);
	int f1 = fcntl(c, F_DUPFD, 310);
	expect("fcntl-F_DUPFD-copies", f1, true);
	int f2 = fcntl(c, F_DUPFD_CLOEXEC, 320);
	expect("fcntl-F_DUPFD_CLOEXEC-copies", f2, true);
	/* What programs built with _FILE_OFFSET_BITS=64 call (python3 does). */
	expect("fcntl64-F_DUPFD_CLOEXEC-copies", fcntl64(c, F_DUPFD_CLOEXEC, 330), true);
	expect("dup-above-1024-copies", dup2(c, 2000), true);

	close(c);
	expect("dup-survives-close-of-original", d, true);

	expect("dup2-onto-watched-replaces", dup2(sp[0], 300), false);
	expect("dup3-onto-watched-replaces", dup3(sp[0], 301, 0), false);
	expect("dup2-same-fd-keeps", dup2(d, d), true);

	close(d);
	expect("close-forgets", take_fd(d), false);

	if (close_range((unsigned)f1, (unsigned)f2, 0) < 0)
		die("close_range");
	expect("close_range-forgets-first", take_fd(f1), false);
	expect("close_range-forgets-last", take_fd(f2), false);

	int c2 = connect_to(port);
	int g = fcntl(c2, F_DUPFD, 400);
	if (close_range((unsigned)g, (unsigned)g, CLOSE_RANGE_CLOEXEC) < 0)
		die("close_range(CLOEXEC)");
	expect("close_range-CLOEXEC-keeps", g, true);
	close(g);
	close(c2);

	int c3 = connect_to(port);
	FILE *fp = fdopen(c3, "r+");
	if (!fp)
		die("fdopen");
	expect("fdopen-stream-fd-watched", fileno(fp), true);
	fclose(fp);
	expect("fclose-forgets", take_fd(c3), false);

	int c4 = connect_to(port);
	expect_in_child("fork-child-inherits", c4, true);
	pid_t pid = fork();
	if (pid == 0) {
		close(c4);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	expect("close-in-child-leaves-parent", c4, true);

	expect_after_exec("exec-keeps-watched", c4, true);
	expect_after_exec("exec-keeps-unwatched", sp[0], false);
	expect_after_exec("exec-keeps-watched-above-1024", 2000, true);
	close(c4);
	close(listener);
}

/* Fills every free number below `target` so that the next socket gets it. */
static void fill_below(int devnull, int target)
{
	for (;;) {
		int r = dup(devnull);
		if (r < 0)
			die("dup(/dev/null) while filling to %d", target);
		if (r == target - 1)
			return;
		if (r >= target)
			die("descriptor %d is taken: cannot fill below it", target);
	}
}

static void check_high(int port, int high)
{
	char name[128];
	raise_nofile((rlim_t)high + 200);
	int listener = listen_on(port);
	int c = connect_to(port);

	snprintf(name, sizeof(name), "dup2-to-%d-copies", high);
	expect(name, dup2(c, high), true);
	int f = fcntl(c, F_DUPFD, high + 2);
	snprintf(name, sizeof(name), "fcntl-F_DUPFD-to-%d-copies", high + 2);
	if (f != high + 2)
		bad(name, "landed on %d", f);
	else
		expect(name, f, true);
	snprintf(name, sizeof(name), "dup3-to-%d-copies", high + 4);
	expect(name, dup3(c, high + 4, O_CLOEXEC), true);
	close(c);
	expect("high-dup-survives-close-of-original", high, true);

	int c2 = connect_to(port);
	if (dup2(c2, high + 50) != high + 50)
		die("dup2 to %d", high + 50);
	close(c2);
	snprintf(name, sizeof(name), "exec-keeps-watched-at-%d", high + 50);
	expect_after_exec(name, high + 50, true);

	int devnull = open("/dev/null", O_RDWR);
	if (devnull < 0)
		die("open /dev/null");
	close(high);
	fill_below(devnull, high);
	int s = unwatched_socket();
	snprintf(name, sizeof(name), "close-forgets-at-%d", high);
	if (s != high)
		bad(name, "new socket got %d, not %d", s, high);
	else
		expect(name, s, false);

	if (close_range(high + 2, high + 4, 0) < 0)
		die("close_range");
	fill_below(devnull, high + 2);
	s = unwatched_socket();
	snprintf(name, sizeof(name), "close_range-forgets-at-%d", high + 2);
	if (s != high + 2)
		bad(name, "new socket got %d", s);
	else
		expect(name, s, false);
	fill_below(devnull, high + 4);
	s = unwatched_socket();
	snprintf(name, sizeof(name), "close_range-forgets-at-%d", high + 4);
	if (s != high + 4)
		bad(name, "new socket got %d", s);
	else
		expect(name, s, false);
	close(listener);
}

/* A socket whose close lingers (SO_LINGER, 2 s): connected to a listener
 * that never accepts, with its send buffer full, so the kernel keeps the
 * close busy after the number is already free. Not matched by the rule. */
static int lingering_socket(void)
{
	int small = 4096;
	int sink = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = loopback(0);
	socklen_t alen = sizeof(a);
	if (sink < 0 || setsockopt(sink, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) < 0 ||
	    bind(sink, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(sink, 4) < 0 ||
	    getsockname(sink, (struct sockaddr *)&a, &alen) < 0)
		die("sink listener");
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)) < 0 ||
	    connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect to the sink");
	static char junk[65536];
	for (int i = 0; i < 1000; i++)
		if (send(s, junk, sizeof(junk), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			break;
	struct linger lg = {1, 2};
	if (setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
		die("SO_LINGER");
	return s;
}

struct reuse {
	int number, port, ok;
	int64_t freed_ms;
};

/* Another thread: as soon as `number` is free, socket() gets it (every
 * number below is taken); then it is connected to the watched destination. */
static void *reuse_number(void *arg)
{
	struct reuse *r = arg;
	int64_t t0 = now_ms();
	for (;;) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (s == r->number) {
			r->freed_ms = now_ms() - t0;
			struct sockaddr_in a = loopback(r->port);
			r->ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
			return NULL;
		}
		if (s >= 0)
			close(s);
		if (now_ms() - t0 > 5000)
			return NULL;
	}
}

static void check_closing(int port)
{
	int listener = listen_on(port);

	/* closefrom: a pipe that gets the number back is not the socket. */
	int c = connect_to(port);
	expect("closefrom-setup-watched", c, true);
	closefrom(c);
	int p[2];
	if (pipe(p) < 0)
		die("pipe");
	if (p[0] != c && p[1] != c)
		bad("closefrom-forgets", "the pipe got %d and %d, not %d", p[0], p[1], c);
	else
		expect("closefrom-forgets", c, false);
	close(p[0]);
	close(p[1]);

	/* close_range while another thread reuses the number. */
	int l = lingering_socket();
	struct reuse r = {l, port, 0, 0};
	pthread_t t;
	if (pthread_create(&t, NULL, reuse_number, &r) != 0)
		die("pthread_create");
	int64_t t0 = now_ms();
	if (close_range((unsigned)l, (unsigned)l, 0) < 0)
		die("close_range");
	int64_t took = now_ms() - t0;
	pthread_join(t, NULL);
	if (!r.ok)
		die("the other thread could not reuse %d (freed after %lld ms)", l, (long long)r.freed_ms);
	printf("   (close_range took %lld ms; the number was free after %lld ms)\n", (long long)took,
	       (long long)r.freed_ms);
	if (took < r.freed_ms + 100)
		printf("   (the close did not linger: this run cannot show the race)\n");
	expect("close_range-keeps-entry-of-reused-number", l, true);
	close(l);
	close(listener);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && strcmp(argv[1], "exec-probe") == 0)
		return watched(atoi(argv[2])) == (atoi(argv[3]) != 0) ? 0 : 3;
	if (argc == 3 && strcmp(argv[1], "table") == 0)
		check_table(port_arg(argv[2]));
	else if ((argc == 3 || argc == 4) && strcmp(argv[1], "high") == 0)
		check_high(port_arg(argv[2]), argc == 4 ? atoi(argv[3]) : 100001);
	else if (argc == 3 && strcmp(argv[1], "closing") == 0)
		check_closing(port_arg(argv[2]));
	else
		die("usage: helper_fdtab table PORT | high PORT [FD] | closing PORT");
	return helper_failures ? 1 : 0;
}
