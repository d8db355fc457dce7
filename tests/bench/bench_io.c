/*
 * bench_io.c - the workloads run side by side (no shim, shim pass-through,
 * shim matched, libfiu, strace), one workload per run:
 *
 *   bench_io write N     N one-byte write()s to /dev/null
 *   bench_io pingpong N  N one-byte round trips (send, then recv) over a
 *                        loopback TCP connection; the peer is a forked echo
 *   bench_io bulk N      N chunks of 64 KiB sent over loopback TCP to a
 *                        forked sink, timed until the sink has read them all
 *   bench_io connect N   N times: socket, connect to a loopback listener,
 *                        accept, close both (the client closes with RST, so
 *                        no TIME_WAIT piles up and ports never run out)
 *   bench_io refused N   N connect()s of one socket to a loopback port that
 *                        refuses them (ECONNREFUSED) - or, with an open
 *                        breaker, that the shim rejects without a system call
 *
 * The client is always this process (pid= in the output): callgrind counts
 * its instructions, and only its file is read. The forked peers are the same
 * for every column, and none of their sockets is ever watched (accepted
 * sockets are not connected by the process).
 */
#include <fcntl.h>

#include "bench.h"

#define CHUNK (64 * 1024)

static __attribute__((noinline)) void run_write(long n)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		die("open /dev/null");
	char byte = 'x';
	struct clocks t0 = clocks_now();
	for (long i = 0; i < n; i++)
		if (write(fd, &byte, 1) != 1)
			die("write /dev/null");
	struct clocks t1 = clocks_now();
	close(fd);
	report_per_op("write", t0, t1, n);
}

static void serve_echo(int fd)
{
	char byte;
	for (;;) {
		ssize_t r = recv(fd, &byte, 1, 0);
		if (r == 0)
			return;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("echo recv");
		}
		send_all(fd, &byte, 1);
	}
}

/* The timed loops are functions of their own, so that callgrind can count
 * them alone (--toggle-collect=loop_*). */
static __attribute__((noinline)) void loop_pingpong(int fd, long n)
{
	char byte = 'p';
	for (long i = 0; i < n; i++) {
		if (send(fd, &byte, 1, 0) != 1)
			die("send");
		if (recv(fd, &byte, 1, 0) != 1)
			die("recv");
	}
}

static __attribute__((noinline)) void run_pingpong(long n)
{
	struct sockaddr_in addr;
	int listener = bound_socket(true, &addr);
	pid_t peer = fork_peer(listener, serve_echo);
	int fd = connect_to(&addr);
	char byte = 'p';
	send_all(fd, &byte, 1); /* warm the path before the clock starts */
	recv_exact(fd, &byte, 1);
	struct clocks t0 = clocks_now();
	loop_pingpong(fd, n);
	struct clocks t1 = clocks_now();
	close(fd);
	wait_peer(peer);
	close(listener);
	report_per_op("pingpong", t0, t1, n);
}

static void serve_sink(int fd)
{
	static char buf[CHUNK];
	for (;;) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r == 0)
			break;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("sink recv");
		}
	}
	send_all(fd, "k", 1); /* everything arrived */
}

static __attribute__((noinline)) void run_bulk(long n)
{
	static char buf[CHUNK];
	memset(buf, 'b', sizeof(buf));
	struct sockaddr_in addr;
	int listener = bound_socket(true, &addr);
	pid_t peer = fork_peer(listener, serve_sink);
	int fd = connect_to(&addr);
	struct clocks t0 = clocks_now();
	for (long i = 0; i < n; i++)
		send_all(fd, buf, sizeof(buf));
	shutdown(fd, SHUT_WR);
	char ack;
	recv_exact(fd, &ack, 1);
	struct clocks t1 = clocks_now();
	close(fd);
	wait_peer(peer);
	close(listener);
	report_per_op("bulk", t0, t1, n);
}

static __attribute__((noinline)) void loop_connect(int listener, const struct sockaddr_in *addr, long n)
{
	struct linger rst = {.l_onoff = 1, .l_linger = 0};
	for (long i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket");
		if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0)
			die("connect 127.0.0.1:%u (iteration %ld)", ntohs(addr->sin_port), i);
		int peer = accept(listener, NULL, NULL);
		if (peer < 0)
			die("accept");
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
		close(fd);
		close(peer);
	}
}

static __attribute__((noinline)) void run_connect(long n)
{
	struct sockaddr_in addr;
	int listener = bound_socket(true, &addr);
	struct clocks t0 = clocks_now();
	loop_connect(listener, &addr, n);
	struct clocks t1 = clocks_now();
	close(listener);
	report_per_op("connect", t0, t1, n);
}

static __attribute__((noinline)) long loop_refused(int fd, const struct sockaddr_in *addr, long n)
{
	long refused = 0;
	for (long i = 0; i < n; i++) {
		if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0)
			die("connect to a closed port succeeded");
		refused += errno == ECONNREFUSED;
	}
	return refused;
}

static __attribute__((noinline)) void run_refused(long n)
{
	struct sockaddr_in addr;
	int closed = bound_socket(false, &addr); /* holds the port; never listens */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	struct clocks t0 = clocks_now();
	long refused = loop_refused(fd, &addr, n);
	struct clocks t1 = clocks_now();
	errno = 0;
	if (refused != n)
		die("%ld of %ld connects failed with something else than ECONNREFUSED", n - refused, n);
	close(fd);
	close(closed);
	report_per_op("refused", t0, t1, n);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: bench_io write|pingpong|bulk|connect|refused N\n");
		return 2;
	}
	long n = arg_long(argv[2], "N");
	const char *w = argv[1];
	if (strcmp(w, "write") == 0)
		run_write(n);
	else if (strcmp(w, "pingpong") == 0)
		run_pingpong(n);
	else if (strcmp(w, "bulk") == 0)
		run_bulk(n);
	else if (strcmp(w, "connect") == 0)
		run_connect(n);
	else if (strcmp(w, "refused") == 0)
		run_refused(n);
	else
		die("unknown workload '%s'", w);
	return 0;
}
