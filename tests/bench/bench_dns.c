/*
 * bench_dns.c - the host-name figures of issue 14, by the instruction
 * method of docs/performance.md (callgrind, N and 2N, (I(2N) - I(N)) / N):
 *
 *   bench_dns gai N [NAME]      N getaddrinfo("localhost", "80") +
 *                               freeaddrinfo; NAME, if given, is looked up
 *                               once first (so the shim remembers it)
 *   bench_dns connect N [NAME]  N times: socket, connect to a loopback
 *                               listener, accept, close both (RST), as
 *                               bench_io connect; NAME looked up once first
 *
 * run against the shim of today and of the commit before names (the cost a
 * name statement adds is the difference), and without the shim. Loopback
 * only; the lookup of "localhost" is answered from /etc/hosts.
 */
#include <netdb.h>

#include "bench.h"

static void lookup_once(const char *name)
{
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
	if (getaddrinfo(name, "1", &hints, &res) == 0)
		freeaddrinfo(res);
}

static __attribute__((noinline)) void loop_gai(long n)
{
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
	for (long i = 0; i < n; i++) {
		struct addrinfo *res = NULL;
		int e = getaddrinfo("localhost", "80", &hints, &res);
		if (e != 0)
			die("getaddrinfo localhost: %s", gai_strerror(e));
		freeaddrinfo(res);
	}
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

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: bench_dns gai|connect N [NAME]\n");
		return 2;
	}
	long n = arg_long(argv[2], "N");
	if (argc > 3)
		lookup_once(argv[3]);
	struct clocks t0, t1;
	if (strcmp(argv[1], "gai") == 0) {
		t0 = clocks_now();
		loop_gai(n);
		t1 = clocks_now();
	} else if (strcmp(argv[1], "connect") == 0) {
		struct sockaddr_in addr;
		int listener = bound_socket(true, &addr);
		t0 = clocks_now();
		loop_connect(listener, &addr, n);
		t1 = clocks_now();
		close(listener);
	} else {
		fprintf(stderr, "bench_dns: unknown workload %s\n", argv[1]);
		return 2;
	}
	report_per_op(argv[1], t0, t1, n);
	return 0;
}
