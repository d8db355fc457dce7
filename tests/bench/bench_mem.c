/*
 * bench_mem.c - what a small program's memory looks like.
 *
 *   bench_mem
 *
 * Opens one loopback TCP connection (connected here, so a rule can match
 * it), exchanges a few bytes, then prints its own VmRSS, VmHWM and the
 * parts of RSS (anonymous, file, shared memory) from /proc/self/status.
 * run.sh runs it with and without the shim and reports the difference.
 */
#include "bench.h"

static void print_status(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		die("/proc/self/status");
	char line[256];
	static const char *const keys[] = {"VmRSS:", "VmHWM:", "RssAnon:", "RssFile:", "RssShmem:", "VmSize:"};
	while (fgets(line, sizeof(line), f)) {
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			size_t n = strlen(keys[i]);
			if (strncmp(line, keys[i], n) != 0)
				continue;
			long kib = strtol(line + n, NULL, 10);
			printf("%.*s_kib=%ld\n", (int)(n - 1), keys[i], kib);
		}
	}
	fclose(f);
}

int main(void)
{
	struct sockaddr_in addr;
	int listener = bound_socket(true, &addr);
	int client = connect_to(&addr);
	int peer = accept_one(listener);
	char byte = 'm';
	for (int i = 0; i < 16; i++) {
		send_all(client, &byte, 1);
		recv_exact(peer, &byte, 1);
		send_all(peer, &byte, 1);
		recv_exact(client, &byte, 1);
	}
	print_status();
	close(client);
	close(peer);
	close(listener);
	return 0;
}
