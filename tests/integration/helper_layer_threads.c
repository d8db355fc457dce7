/*
 * helper_layer_threads.c - how long a change of layers takes to reach the
 * threads of a running process (issue 12: 8 threads within 1 ms).
 *
 *   helper_layer_threads READYFILE [THREADS]
 *
 * Run under the shim with no rules (`faultline run --`). Binds a UDP
 * receiver on 127.0.0.1, writes its port to READYFILE, then THREADS
 * threads (default 8) each send on a connected UDP socket of their own,
 * one call every ~50 us, until a send fails (the layer the test applies:
 * `127.0.0.1:PORT fault on=send error=ENOBUFS`). A watcher maps the
 * domain's segment read-only and notes when its layer counter changes to a
 * new even value (the layer published). Prints, per thread, the
 * microseconds from that moment to its first failed send, then
 * "max_us N". Gives up after 20 s ("timeout").
 *
 * Only segment.h is used (for the layout): helpers are not linked with lib/.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "segment.h"

#define MAX_THREADS 64

static struct sockaddr_in peer;
static uint64_t first_fail_ns[MAX_THREADS];
static volatile uint64_t published_ns;

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void pause_us(long us)
{
	struct timespec t = {0, us * 1000};
	nanosleep(&t, NULL);
}

static void *sender(void *arg)
{
	long i = (long)arg;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&peer, sizeof(peer)) < 0) {
		perror("sender socket");
		exit(1);
	}
	uint64_t deadline = now_ns() + 20000000000ull;
	while (now_ns() < deadline) {
		if (send(fd, "x", 1, 0) < 0 && errno == ENOBUFS) {
			first_fail_ns[i] = now_ns();
			break;
		}
		pause_us(50);
	}
	close(fd);
	return NULL;
}

/* The domain's layer counter, mapped read-only. */
static const uint32_t *map_gen(void)
{
	const char *domain = getenv("FAULTLINE_DOMAIN");
	char path[256];
	snprintf(path, sizeof(path), "/dev/shm/faultline.%u.%s", (unsigned)getuid(),
		 domain ? domain : "default");
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		perror(path);
		exit(1);
	}
	void *mem = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	const struct fl_seg_header *h = mem;
	size_t end = h->header_size + (size_t)h->capacity * h->entry_size +
		     (size_t)h->proc_capacity * h->proc_size + (size_t)h->holder_capacity * h->holder_size;
	/* holders | event ring (64-byte aligned) | layers: fl_seg_layers_offset */
	size_t off = ((end + 63) & ~(size_t)63) + sizeof(struct fl_seg_events_hdr) +
		     (size_t)FL_SEG_EVENTS * sizeof(struct fl_seg_event);
	if (off + sizeof(struct fl_seg_layers) > (size_t)st.st_size) {
		fprintf(stderr, "segment too small for layers\n");
		exit(1);
	}
	return &((const struct fl_seg_layers *)((const char *)mem + off))->gen;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	int nthreads = argc > 2 ? atoi(argv[2]) : 8;
	if (nthreads < 1 || nthreads > MAX_THREADS)
		return 2;
	int rx = socket(AF_INET, SOCK_DGRAM, 0);
	peer.sin_family = AF_INET;
	peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(peer);
	if (bind(rx, (struct sockaddr *)&peer, sizeof(peer)) < 0 ||
	    getsockname(rx, (struct sockaddr *)&peer, &len) < 0) {
		perror("bind");
		return 1;
	}
	const uint32_t *gen = map_gen();
	uint32_t g0 = __atomic_load_n(gen, __ATOMIC_ACQUIRE);
	pthread_t t[MAX_THREADS];
	for (long i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, sender, (void *)i);
	pause_us(20000); /* every thread in its loop */
	char tmp[300];
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%u\n", (unsigned)ntohs(peer.sin_port)) < 0 || fclose(f) != 0 ||
	    rename(tmp, argv[1]) < 0) {
		perror(argv[1]);
		return 1;
	}
	uint64_t deadline = now_ns() + 20000000000ull;
	for (;;) {
		uint32_t g = __atomic_load_n(gen, __ATOMIC_ACQUIRE);
		if (g != g0 && !(g & 1u)) {
			published_ns = now_ns();
			break;
		}
		if (now_ns() > deadline) {
			printf("timeout\n");
			return 1;
		}
		pause_us(10);
	}
	uint64_t max = 0;
	for (int i = 0; i < nthreads; i++) {
		pthread_join(t[i], NULL);
		if (!first_fail_ns[i]) {
			printf("thread %d never saw the layer\n", i);
			printf("timeout\n");
			return 1;
		}
		uint64_t us = first_fail_ns[i] > published_ns ? (first_fail_ns[i] - published_ns) / 1000 : 0;
		printf("thread %d %llu us\n", i, (unsigned long long)us);
		if (us > max)
			max = us;
	}
	printf("max_us %llu\n", (unsigned long long)max);
	return 0;
}
