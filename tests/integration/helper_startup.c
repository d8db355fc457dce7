/*
 * helper_startup.c - a program for test_trust_startup.sh: the shim's start-up
 * in a setuid program (secure-execution mode, AT_SECURE).
 *
 *   helper_startup report
 *       prints "ruid=R euid=E secure=S", then connects to a listener of its
 *       own on 127.0.0.1 and writes and reads one byte through it; prints
 *       "connect ok" / "connect errno=N" and "io ok". With a rule that
 *       refuses every connect to 127.0.0.1, "connect ok" shows the shim let
 *       the call through.
 *
 *   helper_startup exec PROG [NAME=VALUE...]
 *       execs PROG with argument "report" and exactly the given environment.
 *       The test starts this launcher with no FAULTLINE_* variable (the
 *       shim, preloaded into every program of the test's mount namespace,
 *       then has no rules and does nothing), so only PROG, the setuid copy,
 *       sees the hostile variables.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <unistd.h>

static int report(void)
{
	printf("ruid=%u euid=%u secure=%lu\n", (unsigned)getuid(), (unsigned)geteuid(), getauxval(AT_SECURE));
	int lsn = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	if (lsn < 0 || bind(lsn, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lsn, 1) < 0 ||
	    getsockname(lsn, (struct sockaddr *)&a, &len) < 0) {
		printf("setup errno=%d\n", errno);
		return 1;
	}
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(c, (struct sockaddr *)&a, sizeof(a)) < 0) {
		printf("connect errno=%d\n", errno);
		return 1;
	}
	printf("connect ok\n");
	int s = accept(lsn, NULL, NULL);
	char b = 'x';
	if (s < 0 || write(c, "y", 1) != 1 || read(s, &b, 1) != 1 || b != 'y') {
		printf("io errno=%d\n", errno);
		return 1;
	}
	printf("io ok\n");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && strcmp(argv[1], "report") == 0)
		return report();
	if (argc >= 3 && strcmp(argv[1], "exec") == 0) {
		char *args[] = {argv[2], "report", NULL};
		execve(argv[2], args, argv + 3);
		perror("execve");
		return 127;
	}
	fprintf(stderr, "usage: helper_startup report | exec PROG [NAME=VALUE...]\n");
	return 2;
}
