/*
 * bench_dests.c - one domain, many destinations.
 *
 *   bench_dests N PORT
 *
 * Connects once to each of N distinct loopback destinations
 * 127.1.X.Y:PORT (the whole of 127.0.0.0/8 is loopback on Linux). Nothing
 * listens there, so each connect is refused at once by the kernel - but
 * under a rule matching 127.0.0.0/8 each one still creates its entry in
 * the domain's shared table, which is what this measures: the time per
 * connect as the table fills (first and last thousand), and then, read
 * from the segment header itself (lib/segment.h, read-only), how many
 * entries the domain holds and how many destinations overflowed.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "bench.h"
#include "segment.h"

static uint64_t connect_range(long from, long to, uint16_t port, long *refused)
{
	uint64_t t0 = now_ns();
	for (long i = from; i < to; i++) {
		uint32_t host = 0x7f010000u | (uint32_t)((i / 250) << 8) | (uint32_t)(1 + i % 250);
		struct sockaddr_in a = loopback(host, port);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket");
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno == ECONNREFUSED)
			(*refused)++;
		close(fd);
	}
	return now_ns() - t0;
}

/* The header of this process's domain, mapped read-only. */
static void report_segment(void)
{
	const char *domain = getenv("FAULTLINE_DOMAIN");
	char path[160];
	snprintf(path, sizeof(path), "/dev/shm/faultline.%u.%s", (unsigned)getuid(),
		 domain && *domain ? domain : "default");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		printf("segment=none\n");
		return;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size < sizeof(struct fl_seg_header))
		die("%s: too small", path);
	const struct fl_seg_header *h = mmap(NULL, sizeof(*h), PROT_READ, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED)
		die("mmap %s", path);
	printf("segment_bytes=%lld\n", (long long)st.st_size);
	printf("segment_allocated_bytes=%lld\n", (long long)st.st_blocks * 512);
	printf("capacity=%u\n", h->capacity);
	printf("entries_used=%u\n", __atomic_load_n(&h->entries_used, __ATOMIC_ACQUIRE));
	printf("overflow=%llu\n", (unsigned long long)__atomic_load_n(&h->overflow, __ATOMIC_ACQUIRE));
	printf("entry_size=%u\n", h->entry_size);
	munmap((void *)h, sizeof(*h));
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: bench_dests N PORT\n");
		return 2;
	}
	long n = arg_long(argv[1], "N");
	long port = arg_long(argv[2], "PORT");
	if (n > 250L * 256 || port > 65535)
		die("N at most 64000, PORT at most 65535");
	long refused = 0, k = n < 1000 ? n : 1000;
	long tail = n - k > k ? n - k : k; /* the last thousand start here */
	uint64_t first = connect_range(0, k, (uint16_t)port, &refused);
	uint64_t middle = connect_range(k, tail, (uint16_t)port, &refused);
	uint64_t last = connect_range(tail, n, (uint16_t)port, &refused);
	printf("destinations=%ld\nrefused=%ld\n", n, refused);
	printf("first_ns_per_connect=%.0f\n", (double)first / (double)k);
	if (n > tail)
		printf("last_ns_per_connect=%.0f\n", (double)last / (double)(n - tail));
	printf("ns_per_connect=%.0f\n", (double)(first + middle + last) / (double)n);
	report_segment();
	return 0;
}
