/*
 * bench_mem.c - what a small program's memory looks like.
 *
 *   bench_mem
 *
 * Opens one loopback TCP connection (connected here, so a rule can match
 * it), exchanges a few bytes, then prints its own VmRSS, VmHWM and the
 * parts of RSS (anonymous, file, shared memory) from /proc/self/status,
 * and the resident KiB of each mapped object from /proc/self/smaps.
 * run.sh runs it with and without the shim and reports the difference.
 */
#include "bench.h"

static void print_status(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		die("/proc/self/status");
	char line[256];
	static const char *const keys[] = {
	    "VmRSS:", "VmHWM:", "RssAnon:", "RssFile:", "RssShmem:", "VmSize:"};
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

/* Totals over every mapping: proportional set size (shared pages divided
 * among the processes that map them) and private pages. */
static void print_rollup(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	if (!f)
		return;
	char line[256], key[64];
	long kib;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63[A-Za-z_]: %ld kB", key, &kib) == 2)
			printf("rollup_%s_kib=%ld\n", key, kib);
	fclose(f);
}

/* Resident KiB per mapped file (basename), and anonymous memory, from
 * /proc/self/smaps: which object the extra RSS belongs to. */
static void print_mappings(void)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	if (!f)
		return;
	enum { MAX = 64 };
	static char names[MAX][96];
	static long kib[MAX];
	int count = 0, cur = -1;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char name[400] = "";
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %399[^\n]", &lo, &hi, name) >= 2) {
			const char *base = strrchr(name, '/');
			base = base ? base + 1 : (name[0] ? name : "[anon]");
			cur = -1;
			for (int i = 0; i < count; i++)
				if (strcmp(names[i], base) == 0)
					cur = i;
			if (cur < 0 && count < MAX) {
				cur = count++;
				snprintf(names[cur], sizeof(names[cur]), "%s", base);
			}
			continue;
		}
		long v;
		if (cur >= 0 && sscanf(line, "Rss: %ld kB", &v) == 1)
			kib[cur] += v;
	}
	fclose(f);
	for (int i = 0; i < count; i++)
		if (kib[i] > 0)
			printf("map_kib %s %ld\n", names[i], kib[i]);
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
	print_rollup();
	print_mappings();
	close(client);
	close(peer);
	close(listener);
	return 0;
}
