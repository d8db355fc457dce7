/*
 * helper_outcomes.c - what one connection attempt counts, seen from a
 * program under the shim (tests/integration/test_trust_outcomes.sh).
 *
 *   reconnect PORT GOFILE   a non-blocking connect that completed, then
 *                           connect() again twice: the kernel's 0 (it
 *                           notes the completion), then EISCONN; a
 *                           blocking one likewise. Prints "held" and keeps
 *                           both open until GOFILE exists (the test reads
 *                           stats meanwhile).
 *   udp PORT                a UDP socket connected twice to PORT: the
 *                           second connect returns 0 at once.
 *   longjmp PORT N          N blocking connects to a blackholed PORT, each
 *                           left by siglongjmp from a 300 ms alarm (as
 *                           wget's connect timeout does), then closed.
 *   forkclose PORT          a non-blocking connect to a blackholed PORT,
 *                           then fork: the child closes its copy and exits,
 *                           then the parent closes its own.
 *   forks PORT N K          forks N workers that each connect a UDP socket
 *                           to PORT and send K datagrams; each prints its
 *                           pattern of passed (.) and failed (x) sends.
 */
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/wait.h>

#include "helper.h"

static int reconnect(int port, const char *gofile)
{
	struct sockaddr_in a = loopback(port);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (s < 0)
		die("socket");
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS)
		die("non-blocking connect");
	struct pollfd p = {.fd = s, .events = POLLOUT};
	if (poll(&p, 1, 10000) != 1)
		die("the connect did not complete in 10 s");
	int err = -1;
	socklen_t len = sizeof(err);
	if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0)
		die("SO_ERROR %d", err);
	/* The kernel answers 0 to the first connect after the completion (it
	 * marks the socket connected then), EISCONN to the next. */
	int r = connect(s, (struct sockaddr *)&a, sizeof(a));
	int r2 = connect(s, (struct sockaddr *)&a, sizeof(a));
	if ((r != 0 && errno != EISCONN) || r2 == 0 || errno != EISCONN)
		bad("nonblocking_reconnect",
		    "connect again: %d, then %d %s, expected 0 or EISCONN, then EISCONN", r, r2,
		    r2 ? ename(errno) : "");
	else
		ok("nonblocking_reconnect");

	int b = connect_to(port);
	r = connect(b, (struct sockaddr *)&a, sizeof(a));
	if (r == 0 || errno != EISCONN)
		bad("blocking_reconnect", "connect again: %d %s, expected EISCONN", r, r ? ename(errno) : "");
	else
		ok("blocking_reconnect");
	printf("held\n");
	fflush(stdout);
	for (int i = 0; i < 400 && access(gofile, F_OK) != 0; i++)
		usleep(25000);
	close(s);
	close(b);
	return helper_failures ? 1 : 0;
}

static int udp(int port)
{
	struct sockaddr_in a = loopback(port);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0)
		die("socket");
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("first UDP connect");
	int64_t t0 = now_ms();
	int r = connect(s, (struct sockaddr *)&a, sizeof(a));
	int64_t ms = now_ms() - t0;
	if (r != 0)
		bad("udp_reconnect", "second connect: %s", ename(errno));
	else if (ms > 500)
		bad("udp_reconnect", "second connect took %lld ms (waited for a slot of its own)",
		    (long long)ms);
	else
		ok("udp_reconnect");
	close(s);
	return helper_failures ? 1 : 0;
}

static sigjmp_buf jump;

static void on_alarm(int sig)
{
	(void)sig;
	siglongjmp(jump, 1);
}

static int longjmps(int port, int n)
{
	struct sigaction sa = {.sa_handler = on_alarm};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	struct sockaddr_in a = loopback(port);
	for (int i = 1; i <= n; i++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0)
			die("socket");
		const char *result;
		if (sigsetjmp(jump, 1) == 0) {
			ualarm(300000, 0);
			int r = connect(s, (struct sockaddr *)&a, sizeof(a));
			ualarm(0, 0);
			result = r == 0 ? "connected" : ename(errno);
		} else {
			result = "timeout";
		}
		printf("attempt %d: %s\n", i, result);
		fflush(stdout);
		close(s);
	}
	return 0;
}

static int forkclose(int port)
{
	struct sockaddr_in a = loopback(port);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (s < 0)
		die("socket");
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0 || errno != EINPROGRESS)
		die("the connect to the blackholed port did not stay pending");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(s);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	close(s);
	printf("closed\n");
	return 0;
}

static int forks(int port, int n, int k)
{
	fflush(stdout);
	pid_t kids[64];
	if (n > 64 || k > 1024)
		die("at most 64 workers of 1024 sends");
	for (int w = 0; w < n; w++) {
		kids[w] = fork();
		if (kids[w] < 0)
			die("fork");
		if (kids[w] > 0)
			continue;
		struct sockaddr_in a = loopback(port);
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
			die("UDP connect");
		char pattern[1025];
		for (int i = 0; i < k; i++)
			pattern[i] = send(s, "x", 1, 0) < 0 && errno == EAGAIN ? 'x' : '.';
		pattern[k] = 0;
		printf("worker %d %s\n", w, pattern);
		fflush(stdout);
		_exit(0);
	}
	for (int w = 0; w < n; w++) {
		int st;
		waitpid(kids[w], &st, 0);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "reconnect") == 0)
		return reconnect(port_arg(argv[2]), argv[3]);
	if (argc >= 3 && strcmp(argv[1], "udp") == 0)
		return udp(port_arg(argv[2]));
	if (argc >= 4 && strcmp(argv[1], "longjmp") == 0)
		return longjmps(port_arg(argv[2]), atoi(argv[3]));
	if (argc >= 3 && strcmp(argv[1], "forkclose") == 0)
		return forkclose(port_arg(argv[2]));
	if (argc >= 5 && strcmp(argv[1], "forks") == 0)
		return forks(port_arg(argv[2]), atoi(argv[3]), atoi(argv[4]));
	fprintf(stderr, "usage: helper_outcomes reconnect|udp|longjmp|forkclose|forks PORT ...\n");
	return 2;
}
