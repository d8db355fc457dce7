/*
 * flstatic.c - a static C client for the supervisor's tests and benchmark
 * (tests/integration/test_supervise.sh, tests/bench/supervise.sh). Built at
 * test time with `gcc -static`: LD_PRELOAD never reaches it, so only
 * `faultline run`'s supervisor can inject anything.
 *
 *   flstatic connect PORT [HOLD_MS]
 *                               one blocking connect to 127.0.0.1:PORT:
 *                               "ok MS" or "err MS ERRNO_TEXT"; the connection
 *                               is kept HOLD_MS before it is closed
 *   flstatic bench PORT N       N x (socket, connect, close) to a listener of its
 *                               own (PORT 0; accepted and closed in turn):
 *                               "NS ns per connect+close"
 *   flstatic udp PORT N         N x (UDP socket, connect, close): the cost of the
 *                               calls alone, no handshake: "NS ns per connect+close"
 *   flstatic getpid N           N x getpid (an untrapped call): "NS ns per call"
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static int hold_ms;

static int dial_type(int port, int type)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int s = socket(AF_INET, type, 0);
	if (s < 0)
		return -errno;
	int r = connect(s, (struct sockaddr *)&a, sizeof(a));
	int err = r == 0 ? 0 : errno;
	if (r == 0 && hold_ms)
		usleep((useconds_t)hold_ms * 1000u);
	close(s);
	return -err;
}

static int dial(int port)
{
	return dial_type(port, SOCK_STREAM);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	int port = atoi(argv[2]);
	if (strcmp(argv[1], "connect") == 0) {
		hold_ms = argc > 3 ? atoi(argv[3]) : 0;
		double t0 = now_ns();
		int r = dial(port);
		long ms = (long)((now_ns() - t0) / 1e6);
		if (r == 0)
			printf("ok %ld\n", ms);
		else
			printf("err %ld %s\n", ms, strerror(-r));
		return r != 0;
	}
	long n = argc > 3 ? atol(argv[3]) : 1000;
	int l = -1;
	if (strcmp(argv[1], "bench") == 0 && port == 0) {
		struct sockaddr_in a = {.sin_family = AF_INET};
		socklen_t len = sizeof(a);
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		l = socket(AF_INET, SOCK_STREAM, 0);
		if (l < 0 || bind(l, (struct sockaddr *)&a, len) != 0 || listen(l, 64) != 0 ||
		    getsockname(l, (struct sockaddr *)&a, &len) != 0)
			return 1;
		port = ntohs(a.sin_port);
	}
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		if (strcmp(argv[1], "getpid") == 0) {
			syscall(SYS_getpid);
		} else if (strcmp(argv[1], "udp") == 0) {
			if (dial_type(port, SOCK_DGRAM) != 0)
				return 1;
		} else if (dial(port) != 0) {
			fprintf(stderr, "flstatic: connect failed\n");
			return 1;
		}
		if (l >= 0)
			close(accept(l, NULL, NULL));
	}
	printf("%.0f ns per %s\n", (now_ns() - t0) / n,
	       strcmp(argv[1], "getpid") == 0 ? "call" : "connect+close");
	return 0;
}
