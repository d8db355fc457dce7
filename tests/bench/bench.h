/*
 * bench.h - what every benchmark program shares: clocks, loopback
 * listeners, a forked peer, and the one output format run.sh reads.
 *
 * The programs know nothing about faultline: they are plain clients that
 * run.sh starts with no shim, with the shim (LD_PRELOAD), under libfiu or
 * under strace. Each times only its own loop (start-up and the peer's
 * set-up are outside the clock) and prints `key=value` lines on standard
 * output; run.sh takes medians over many interleaved runs.
 *
 * Everything talks to loopback only (127.0.0.0/8) and every loop is
 * bounded by a count given on the command line.
 */
#ifndef FL_BENCH_H
#define FL_BENCH_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t bench_clock(clockid_t id)
{
	struct timespec t;
	clock_gettime(id, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static inline uint64_t now_ns(void)
{
	return bench_clock(CLOCK_MONOTONIC);
}

/* CPU time of the whole process (every thread), user + system. */
static inline uint64_t cpu_ns(void)
{
	return bench_clock(CLOCK_PROCESS_CPUTIME_ID);
}

static inline void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (saved)
		fprintf(stderr, ": %s", strerror(saved));
	fputc('\n', stderr);
	exit(1);
}

static inline long arg_long(const char *s, const char *what)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v <= 0)
		die("%s: '%s' is not a positive whole number", what, s);
	return v;
}

static inline struct sockaddr_in loopback(uint32_t host_order_addr, uint16_t port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(host_order_addr);
	a.sin_port = htons(port);
	return a;
}

#define LO_127_0_0_1 0x7f000001u

/* A TCP socket bound to 127.0.0.1 on a free port; listening if asked.
 * A bound socket that does not listen reserves a port that refuses
 * connections (the kernel answers with RST: ECONNREFUSED). */
static inline int bound_socket(bool listening, struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	*addr = loopback(LO_127_0_0_1, 0);
	if (bind(fd, (struct sockaddr *)addr, sizeof(*addr)) < 0)
		die("bind 127.0.0.1");
	socklen_t len = sizeof(*addr);
	if (getsockname(fd, (struct sockaddr *)addr, &len) < 0)
		die("getsockname");
	if (listening && listen(fd, 4096) < 0)
		die("listen");
	return fd;
}

static inline int connect_to(const struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0)
		die("connect 127.0.0.1:%u", ntohs(addr->sin_port));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static inline int accept_one(int listener)
{
	int fd = accept(listener, NULL, NULL);
	if (fd < 0)
		die("accept");
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Sends all n bytes (send may take fewer). */
static inline void send_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t r = send(fd, p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("send");
		p += r;
		n -= (size_t)r;
	}
}

static inline void recv_exact(int fd, void *buf, size_t n)
{
	char *p = buf;
	while (n > 0) {
		ssize_t r = recv(fd, p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die(r == 0 ? "recv: peer closed" : "recv");
		p += r;
		n -= (size_t)r;
	}
}

/*
 * Forks the peer: it accepts one connection on `listener` and runs
 * serve(fd) on it, then exits. The parent closes its copy of the
 * listener only if asked (it may need it to connect).
 */
static inline pid_t fork_peer(int listener, void (*serve)(int fd))
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int fd = accept_one(listener);
		serve(fd);
		_exit(0);
	}
	return pid;
}

static inline void wait_peer(pid_t pid)
{
	int status;
	if (waitpid(pid, &status, 0) < 0)
		die("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("peer process failed (status %d)", status);
}

/* Wall and process CPU time (user + system, every thread) at one moment. */
struct clocks {
	uint64_t wall, cpu;
};

static inline struct clocks clocks_now(void)
{
	struct clocks c = {now_ns(), cpu_ns()};
	return c;
}

/* The result lines run.sh reads, and the pid callgrind names its file by.
 * CPU time is this process's only (a forked peer is not counted). */
static inline void report_per_op(const char *workload, struct clocks t0, struct clocks t1, long ops)
{
	printf("workload=%s\npid=%d\n", workload, (int)getpid());
	printf("ns_per_op=%.3f\n", (double)(t1.wall - t0.wall) / (double)ops);
	printf("cpu_ns_per_op=%.3f\n", (double)(t1.cpu - t0.cpu) / (double)ops);
}

#endif
