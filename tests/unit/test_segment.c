/*
 * test_segment.c - the shared-memory layout: formatting, validation,
 * /dev/shm creation and attachment, keys and the lock-free entry table.
 *
 * A segment is the one thing every process of a domain trusts, so the
 * refusals matter as much as the happy path: each bad header, foreign file
 * or symlink is built for real and the message is checked to name the
 * problem. /dev/shm objects get a name unique to this run
 * ("ut-<pid>-<n>"); once the shm tests have run, the runner process
 * removes any a failing test left behind.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "segment.h"

#define NOW_MS 1764222000123ull

static unsigned run_pid; /* the runner's pid, shared by every forked test */

/* ---- helpers --------------------------------------------------------- */

static void *zeroed(size_t size)
{
	void *mem = aligned_alloc(64, size);
	ck_assert_ptr_nonnull(mem);
	memset(mem, 0, size);
	return mem;
}

/* A formatted, validated in-memory segment. */
static struct fl_seg memseg(uint32_t capacity)
{
	size_t size = fl_seg_size(capacity);
	void *mem = zeroed(size);
	fl_seg_format(mem, capacity, "unit", NOW_MS, 4242);
	struct fl_seg seg;
	struct fl_diag d;
	fl_diag_clear(&d);
	ck_assert_msg(fl_seg_validate(mem, size, &seg, "mem", &d) == 0, "%s", d.error);
	return seg;
}

/* Validates and expects a refusal whose message contains `want`. */
static void refused(void *mem, size_t size, const char *want)
{
	struct fl_seg seg;
	struct fl_diag d;
	fl_diag_clear(&d);
	ck_assert_int_eq(fl_seg_validate(mem, size, &seg, "SEGNAME", &d), -1);
	ck_assert_msg(strstr(d.error, want) != NULL, "'%s' should mention '%s'", d.error, want);
	ck_assert_msg(strstr(d.error, "SEGNAME") != NULL, "'%s' should name the segment", d.error);
}

static const char *domain(int n)
{
	static char buf[64];
	snprintf(buf, sizeof buf, "ut-%u-%d", run_pid, n);
	return buf;
}

static const char *shm_path(const char *dom)
{
	static char buf[160];
	snprintf(buf, sizeof buf, "/dev/shm/faultline.%u.%s", (unsigned)getuid(), dom);
	return buf;
}

/* Opens and expects a refusal whose message contains `want`. */
static void open_refused(const char *dom, bool create, const char *want)
{
	struct fl_seg seg;
	struct fl_diag d;
	fl_diag_clear(&d);
	ck_assert_int_eq(fl_seg_open(&seg, dom, 16, create, NOW_MS, &d), -1);
	ck_assert_msg(strstr(d.error, want) != NULL, "'%s' should mention '%s'", d.error, want);
	ck_assert_ptr_null(seg.hdr);
}

static struct fl_seg open_ok(const char *dom, uint32_t capacity, bool create)
{
	struct fl_seg seg;
	struct fl_diag d;
	fl_diag_clear(&d);
	ck_assert_msg(fl_seg_open(&seg, dom, capacity, create, NOW_MS, &d) == 0, "%s", d.error);
	return seg;
}

/* A plain file in the segment's place, written by hand. */
static void write_file(const char *path, mode_t mode, const void *data, size_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	if (size > 0)
		ck_assert_int_eq(write(fd, data, size), (ssize_t)size);
	close(fd);
}

static struct fl_dest dest_v4(const char *addr, uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct fl_dest d;
	ck_assert_int_eq(inet_pton(AF_INET, addr, &sin.sin_addr), 1);
	ck_assert(fl_dest_from_sockaddr((struct sockaddr *)&sin, sizeof sin, &d));
	return d;
}

static struct fl_dest dest_v6(const char *addr, uint16_t port)
{
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	struct fl_dest d;
	ck_assert_int_eq(inet_pton(AF_INET6, addr, &sin6.sin6_addr), 1);
	ck_assert(fl_dest_from_sockaddr((struct sockaddr *)&sin6, sizeof sin6, &d));
	return d;
}

static struct fl_dest dest_unix(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	struct fl_dest d;
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
	ck_assert(fl_dest_from_sockaddr((struct sockaddr *)&sun, len, &d));
	return d;
}

static struct fl_seg_key key_of(struct fl_dest d)
{
	struct fl_seg_key k;
	fl_seg_key_dest(&k, &d);
	return k;
}

static struct fl_seg_key rule_key(const char *target)
{
	struct fl_target t;
	const char *why = NULL;
	ck_assert_msg(fl_target_parse(target, strlen(target), &t, &why) == 0, "%s: %s", target, why);
	struct fl_seg_key k;
	fl_seg_key_rule(&k, &t);
	return k;
}

static const char *key_text(const struct fl_seg_key *k)
{
	static char buf[FL_DEST_STR_MAX];
	fl_seg_key_format(k, buf, sizeof buf);
	return buf;
}

static void count_init(struct fl_seg_entry *e, void *arg)
{
	e->has_breaker = 1;
	__atomic_fetch_add((int *)arg, 1, __ATOMIC_RELAXED);
}

/* ---- layout and validation ------------------------------------------- */

START_TEST(seg_size_of_default_capacity_fits_in_6_mib)
{
	/* 8 MiB since version 4 (connection-fault counters, SPEC 11 breaker
	 * additions and a token bucket per entry; events and layers regions) */
	ck_assert_uint_le(fl_seg_size(FL_SEG_CAPACITY_DEFAULT), 8u << 20);
	ck_assert_uint_eq(fl_seg_size(4096) % 64, 0);
	ck_assert_uint_lt(fl_seg_size(1), fl_seg_size(2));
	ck_assert_uint_eq(fl_seg_holder_capacity(1), 4096);
	ck_assert_uint_eq(fl_seg_holder_capacity(4096), 16384);
}
END_TEST

START_TEST(seg_format_then_validate_round_trips)
{
	size_t size = fl_seg_size(8);
	void *mem = zeroed(size);
	fl_seg_format(mem, 8, "ci-1", NOW_MS, 4242);
	struct fl_seg seg;
	struct fl_diag d;
	fl_diag_clear(&d);
	ck_assert_int_eq(fl_seg_validate(mem, size, &seg, "mem", &d), 0);
	ck_assert_str_eq(d.error, "");
	ck_assert_ptr_eq(seg.hdr, mem);
	ck_assert_uint_eq(seg.size, size);
	ck_assert_uint_eq(seg.capacity, 8);
	ck_assert_uint_eq(seg.holder_capacity, fl_seg_holder_capacity(8));
	ck_assert_uint_eq(seg.hdr->magic, FL_SEG_MAGIC);
	ck_assert_uint_eq(seg.hdr->version, FL_SEG_VERSION);
	ck_assert_uint_eq(seg.hdr->total_size, size);
	ck_assert_uint_eq(seg.hdr->created_ms, NOW_MS);
	ck_assert_uint_eq(seg.hdr->creator_pid, 4242);
	ck_assert_str_eq(seg.hdr->domain, "ci-1");
	ck_assert_uint_eq(seg.hdr->entries_used, 0);
	free(mem);
}
END_TEST

START_TEST(seg_tables_lie_back_to_back_and_fill_the_segment)
{
	struct fl_seg seg = memseg(8);
	char *base = (char *)seg.hdr;
	ck_assert_ptr_eq((char *)seg.entries, base + FL_SEG_HEADER_SIZE);
	ck_assert_uint_eq((uintptr_t)seg.entries % 64, 0);
	ck_assert_ptr_eq((void *)seg.procs, (void *)(seg.entries + 8));
	ck_assert_ptr_eq((void *)seg.holders, (void *)(seg.procs + FL_SEG_PROCS));
	/* Then the event ring, on a cache line of its own... */
	char *holders_end = (char *)(seg.holders + seg.holder_capacity);
	ck_assert((char *)seg.ev_hdr >= holders_end);
	ck_assert((char *)seg.ev_hdr < holders_end + 64);
	ck_assert_uint_eq((uintptr_t)seg.ev_hdr % 64, 0);
	ck_assert_ptr_eq((void *)seg.events, (void *)(seg.ev_hdr + 1));
	/* ...then the layers region, to the end. */
	ck_assert_ptr_eq((char *)seg.layers, (char *)(seg.events + FL_SEG_EVENTS));
	ck_assert_ptr_eq((char *)(seg.layers + 1), base + seg.size);
	free(seg.hdr);
}
END_TEST

START_TEST(seg_validate_refuses_truncated_segment)
{
	void *mem = zeroed(fl_seg_size(8));
	fl_seg_format(mem, 8, "x", NOW_MS, 1);
	refused(mem, FL_SEG_HEADER_SIZE - 1, "too small");
	refused(mem, 0, "too small");
	free(mem);
}
END_TEST

START_TEST(seg_validate_refuses_bad_magic)
{
	size_t size = fl_seg_size(8);
	void *mem = zeroed(size);
	refused(mem, size, "bad magic"); /* never formatted */
	fl_seg_format(mem, 8, "x", NOW_MS, 1);
	((struct fl_seg_header *)mem)->magic ^= 1;
	refused(mem, size, "bad magic");
	free(mem);
}
END_TEST

START_TEST(seg_validate_refuses_other_layout_version)
{
	size_t size = fl_seg_size(8);
	void *mem = zeroed(size);
	fl_seg_format(mem, 8, "x", NOW_MS, 1);
	((struct fl_seg_header *)mem)->version = FL_SEG_VERSION + 1;
	char want[64];
	snprintf(want, sizeof want, "layout version %u", FL_SEG_VERSION + 1);
	refused(mem, size, want);
	refused(mem, size, "faultline clear");
	free(mem);
}
END_TEST

START_TEST(seg_validate_refuses_size_mismatch)
{
	size_t size = fl_seg_size(8);
	void *mem = zeroed(size + 4096);
	fl_seg_format(mem, 8, "x", NOW_MS, 1);
	refused(mem, size - 64, "does not match its capacity 8");
	refused(mem, size + 4096, "does not match");
	struct fl_seg_header *h = mem;
	h->total_size = size + 4096; /* header lies about its size */
	refused(mem, size + 4096, "does not match");
	h->total_size = size;
	h->capacity = 16; /* same holder table, more entries than the mapping holds */
	refused(mem, size, "does not match its capacity 16");
	free(mem);
}
END_TEST

START_TEST(seg_validate_refuses_inconsistent_capacity)
{
	size_t size = fl_seg_size(8);
	void *mem = zeroed(size);
	struct fl_seg_header *h = mem;
	fl_seg_format(mem, 8, "x", NOW_MS, 1);
	h->capacity = 0;
	refused(mem, size, "inconsistent header (capacity 0)");
	fl_seg_format(mem, 8, "x", NOW_MS, 1);
	h->capacity = FL_SEG_CAPACITY_MAX + 1;
	refused(mem, size, "inconsistent header");
	fl_seg_format(mem, 8, "x", NOW_MS, 1);
	h->holder_capacity += 1;
	refused(mem, size, "inconsistent header (capacity 8)");
	fl_seg_format(mem, 8, "x", NOW_MS, 1);
	h->entry_size += 64;
	refused(mem, size, "inconsistent header");
	fl_seg_format(mem, 8, "x", NOW_MS, 1);
	h->proc_capacity = 1;
	refused(mem, size, "inconsistent header");
	fl_seg_format(mem, 8, "x", NOW_MS, 1);
	h->header_size = 8192;
	refused(mem, size, "inconsistent header");
	free(mem);
}
END_TEST

/* ---- names ----------------------------------------------------------- */

START_TEST(domain_names_follow_the_spec_pattern)
{
	char longest[66];
	memset(longest, 'a', 64);
	longest[64] = '\0';
	ck_assert(fl_domain_name_valid(longest));
	longest[64] = 'a';
	longest[65] = '\0';
	ck_assert(!fl_domain_name_valid(longest));
	ck_assert(fl_domain_name_valid("default"));
	ck_assert(fl_domain_name_valid("a"));
	ck_assert(fl_domain_name_valid("CI_run-42.b"));
	ck_assert(fl_domain_name_valid("-"));
	ck_assert(fl_domain_name_valid(".."));
	ck_assert(!fl_domain_name_valid(""));
	ck_assert(!fl_domain_name_valid("a/b"));
	ck_assert(!fl_domain_name_valid("/"));
	ck_assert(!fl_domain_name_valid("a b"));
	ck_assert(!fl_domain_name_valid("tab\t"));
	ck_assert(!fl_domain_name_valid("new\nline"));
	ck_assert(!fl_domain_name_valid("caf\xc3\xa9"));
	ck_assert(!fl_domain_name_valid("a:b"));
	ck_assert(!fl_domain_name_valid("*"));
}
END_TEST

START_TEST(seg_path_joins_dir_uid_and_domain)
{
	char buf[FL_SEG_PATH_MAX];
	ck_assert_int_eq(fl_seg_path(buf, sizeof buf, 1000, "ci"), 0);
	ck_assert_str_eq(buf, "/dev/shm/faultline.1000.ci");
	ck_assert_int_eq(fl_seg_path(buf, sizeof buf, 0, "a/../b"), -1);
	ck_assert_int_eq(fl_seg_path(buf, sizeof buf, 0, ""), -1);
	ck_assert_int_eq(fl_seg_path(buf, 10, 1000, "ci"), -1); /* would truncate */
	ck_assert_int_eq(fl_seg_path(buf, 27, 1000, "ci"), 0);
	/* the longest domain name with the largest uid fits FL_SEG_PATH_MAX */
	char longest[65];
	memset(longest, 'd', 64);
	longest[64] = '\0';
	ck_assert_int_eq(fl_seg_path(buf, sizeof buf, 4294967295u, longest), 0);
}
END_TEST

/* ---- keys ------------------------------------------------------------ */

START_TEST(dest_keys_format_as_stats_prints_them)
{
	struct fl_seg_key k = key_of(dest_v4("127.0.0.1", 6379));
	ck_assert_str_eq(key_text(&k), "127.0.0.1:6379");
	ck_assert_uint_eq(k.kind, FL_KEY_DEST);
	k = key_of(dest_v6("::1", 6379));
	ck_assert_str_eq(key_text(&k), "[::1]:6379");
	k = key_of(dest_v6("2001:db8::1:0:0:1", 443));
	ck_assert_str_eq(key_text(&k), "[2001:db8::1:0:0:1]:443");
	k = key_of(dest_unix("/x"));
	ck_assert_str_eq(key_text(&k), "unix:/x");
	ck_assert_uint_eq(k.len, 2);
	k = key_of(dest_unix("/run/postgresql/.s.PGSQL.5432"));
	ck_assert_str_eq(key_text(&k), "unix:/run/postgresql/.s.PGSQL.5432");
}
END_TEST

START_TEST(rule_keys_format_as_their_target)
{
	struct fl_seg_key k = rule_key("10.0.0.0/8");
	ck_assert_uint_eq(k.kind, FL_KEY_RULE);
	ck_assert_str_eq(key_text(&k), "10.0.0.0/8");
	k = rule_key("*:443");
	ck_assert_str_eq(key_text(&k), "*:443");
	k = rule_key("127.0.0.1:6379");
	ck_assert_str_eq(key_text(&k), "127.0.0.1:6379");
	k = rule_key("[::1]:8000-8080");
	ck_assert_str_eq(key_text(&k), "[::1]:8000-8080");
	k = rule_key("unix:/run/x.sock");
	ck_assert_str_eq(key_text(&k), "unix:/run/x.sock");
}
END_TEST

START_TEST(key_format_truncates_safely)
{
	struct fl_seg_key k = key_of(dest_v4("192.168.100.200", 65535));
	char small[8];
	size_t n = fl_seg_key_format(&k, small, sizeof small);
	ck_assert_uint_eq(n, strlen("192.168.100.200:65535"));
	ck_assert_str_eq(small, "192.168");
}
END_TEST

START_TEST(equal_destinations_give_equal_keys_and_hashes)
{
	struct fl_seg_key a = key_of(dest_v4("127.0.0.1", 6379));
	struct fl_seg_key b = key_of(dest_v4("127.0.0.1", 6379));
	ck_assert_mem_eq(&a, &b, sizeof a);
	ck_assert_uint_eq(fl_seg_key_hash(&a), fl_seg_key_hash(&b));
	/* An IPv4-mapped IPv6 sockaddr is the same destination. */
	struct fl_seg_key m = key_of(dest_v6("::ffff:127.0.0.1", 6379));
	ck_assert_mem_eq(&a, &m, sizeof a);
	ck_assert_uint_eq(fl_seg_key_hash(&a), fl_seg_key_hash(&m));
}
END_TEST

START_TEST(different_destinations_give_different_hashes)
{
	struct fl_seg_key keys[] = {
	    key_of(dest_v4("127.0.0.1", 6379)),
	    key_of(dest_v4("127.0.0.1", 6380)),
	    key_of(dest_v4("127.0.0.2", 6379)),
	    key_of(dest_v6("::1", 6379)),
	    key_of(dest_unix("/x")),
	    key_of(dest_unix("/y")),
	    rule_key("127.0.0.1:6379"),
	    rule_key("unix:/x"),
	};
	size_t n = sizeof keys / sizeof keys[0];
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			ck_assert_msg(fl_seg_key_hash(&keys[i]) != fl_seg_key_hash(&keys[j]), "%s vs %s",
				      key_text(&keys[i]), key_text(&keys[j]));
}
END_TEST

/* ---- lookup ---------------------------------------------------------- */

START_TEST(lookup_creates_entry_once_and_finds_it_again)
{
	struct fl_seg seg = memseg(16);
	struct fl_seg_key k = key_of(dest_v4("127.0.0.1", 6379));
	int inits = 0;
	struct fl_seg_entry *e = fl_seg_lookup(&seg, &k, count_init, &inits);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(inits, 1);
	ck_assert_uint_eq(e->status, FL_ENTRY_READY);
	ck_assert_uint_eq(e->hash, fl_seg_key_hash(&k));
	ck_assert_mem_eq(&e->key, &k, sizeof k);
	ck_assert_uint_eq(e->has_breaker, 1);
	ck_assert_uint_eq(seg.hdr->entries_used, 1);
	ck_assert_ptr_eq(fl_seg_lookup(&seg, &k, count_init, &inits), e);
	ck_assert_ptr_eq(fl_seg_lookup(&seg, &k, NULL, NULL), e);
	ck_assert_int_eq(inits, 1);
	ck_assert_uint_eq(seg.hdr->entries_used, 1);
	free(seg.hdr);
}
END_TEST

START_TEST(lookup_gives_distinct_keys_distinct_entries)
{
	struct fl_seg seg = memseg(64);
	struct fl_seg_key keys[] = {
	    key_of(dest_v4("127.0.0.1", 6379)), key_of(dest_v4("127.0.0.1", 6380)),
	    key_of(dest_v6("::1", 6379)),	key_of(dest_unix("/x")),
	    rule_key("127.0.0.1:6379"),		rule_key("*"),
	};
	size_t n = sizeof keys / sizeof keys[0];
	struct fl_seg_entry *found[sizeof keys / sizeof keys[0]];
	int inits = 0;
	for (size_t i = 0; i < n; i++)
		found[i] = fl_seg_lookup(&seg, &keys[i], count_init, &inits);
	for (size_t i = 0; i < n; i++) {
		ck_assert_ptr_nonnull(found[i]);
		ck_assert_ptr_eq(fl_seg_lookup(&seg, &keys[i], count_init, &inits), found[i]);
		for (size_t j = i + 1; j < n; j++)
			ck_assert_ptr_ne(found[i], found[j]);
		ck_assert_str_eq(key_text(&found[i]->key), key_text(&keys[i]));
	}
	ck_assert_int_eq(inits, (int)n);
	ck_assert_uint_eq(seg.hdr->entries_used, n);
	free(seg.hdr);
}
END_TEST

START_TEST(lookup_in_full_table_returns_null_for_new_key_but_finds_existing)
{
	struct fl_seg seg = memseg(4);
	struct fl_seg_entry *e[4];
	for (uint16_t i = 0; i < 4; i++) {
		struct fl_seg_key k = key_of(dest_v4("10.0.0.1", (uint16_t)(1000 + i)));
		e[i] = fl_seg_lookup(&seg, &k, NULL, NULL);
		ck_assert_ptr_nonnull(e[i]);
	}
	struct fl_seg_key extra = key_of(dest_v4("10.0.0.1", 2000));
	int inits = 0;
	ck_assert_ptr_null(fl_seg_lookup(&seg, &extra, count_init, &inits));
	ck_assert_int_eq(inits, 0);
	for (uint16_t i = 0; i < 4; i++) {
		struct fl_seg_key k = key_of(dest_v4("10.0.0.1", (uint16_t)(1000 + i)));
		ck_assert_ptr_eq(fl_seg_lookup(&seg, &k, NULL, NULL), e[i]);
	}
	ck_assert_uint_eq(seg.hdr->entries_used, 4);
	free(seg.hdr);
}
END_TEST

/* Destinations stop at the limit; the places above it stay for rule
 * entries (overflow), which can then be created in a "full" table. */
START_TEST(limited_lookup_keeps_places_for_rule_entries)
{
	struct fl_seg seg = memseg(4);
	struct fl_seg_entry *e[3];
	for (uint16_t i = 0; i < 3; i++) {
		struct fl_seg_key k = key_of(dest_v4("10.0.0.1", (uint16_t)(1000 + i)));
		e[i] = fl_seg_lookup_limited(&seg, &k, NULL, NULL, 3);
		ck_assert_ptr_nonnull(e[i]);
	}
	struct fl_seg_key extra = key_of(dest_v4("10.0.0.1", 2000));
	int inits = 0;
	ck_assert_ptr_null(fl_seg_lookup_limited(&seg, &extra, count_init, &inits, 3));
	ck_assert_int_eq(inits, 0);
	ck_assert_uint_eq(seg.hdr->entries_used, 3);
	for (uint16_t i = 0; i < 3; i++) {
		struct fl_seg_key k = key_of(dest_v4("10.0.0.1", (uint16_t)(1000 + i)));
		ck_assert_ptr_eq(fl_seg_lookup_limited(&seg, &k, NULL, NULL, 3), e[i]);
	}
	struct fl_seg_key rk = rule_key("10.0.0.1");
	struct fl_seg_entry *r = fl_seg_lookup(&seg, &rk, count_init, &inits);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(inits, 1);
	ck_assert_ptr_eq(fl_seg_lookup(&seg, &rk, NULL, NULL), r);
	ck_assert_uint_eq(seg.hdr->entries_used, 4);
	ck_assert_ptr_null(fl_seg_lookup(&seg, &extra, NULL, NULL));
	ck_assert_uint_eq(seg.hdr->entries_used, 4);
	free(seg.hdr);
}
END_TEST

START_TEST(entry_at_returns_only_ready_entries_in_range)
{
	struct fl_seg seg = memseg(8);
	struct fl_seg_key k = key_of(dest_v4("127.0.0.1", 80));
	struct fl_seg_entry *e = fl_seg_lookup(&seg, &k, NULL, NULL);
	uint32_t idx = (uint32_t)(e - seg.entries);
	ck_assert_ptr_eq(fl_seg_entry_at(&seg, idx), e);
	ck_assert_ptr_null(fl_seg_entry_at(&seg, (idx + 1) % 8));
	ck_assert_ptr_null(fl_seg_entry_at(&seg, 8));
	ck_assert_ptr_null(fl_seg_entry_at(&seg, UINT32_MAX));
	seg.entries[(idx + 1) % 8].status = FL_ENTRY_CLAIMED;
	ck_assert_ptr_null(fl_seg_entry_at(&seg, (idx + 1) % 8));
	free(seg.hdr);
}
END_TEST

START_TEST(lookup_skips_an_entry_whose_creator_died_half_way)
{
	struct fl_seg seg = memseg(8);
	struct fl_seg_key k = key_of(dest_v4("127.0.0.1", 80));
	uint32_t slot = fl_seg_key_hash(&k) % 8;
	seg.entries[slot].status = FL_ENTRY_CLAIMED; /* never published */
	struct fl_seg_entry *e = fl_seg_lookup(&seg, &k, NULL, NULL);
	ck_assert_ptr_nonnull(e);
	ck_assert_ptr_ne(e, &seg.entries[slot]);
	ck_assert_ptr_eq(fl_seg_lookup(&seg, &k, NULL, NULL), e);
	free(seg.hdr);
}
END_TEST

#define LOOKUP_THREADS 4
#define LOOKUP_KEYS    48

static struct fl_seg shared_table;
static int shared_inits;
static pthread_barrier_t lookup_start;

static void *look_up_every_key(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	struct fl_seg_entry **found = calloc(LOOKUP_KEYS, sizeof *found);
	pthread_barrier_wait(&lookup_start);
	for (unsigned n = 0; n < LOOKUP_KEYS; n++) {
		unsigned i = (unsigned)((n + id * 7) % LOOKUP_KEYS); /* each thread its own order */
		struct fl_dest d;
		memset(&d, 0, sizeof d);
		d.family = FL_AF_INET4;
		d.port = (uint16_t)(9000 + i);
		d.addr[0] = 127, d.addr[3] = 1;
		struct fl_seg_key k;
		fl_seg_key_dest(&k, &d);
		found[i] = fl_seg_lookup(&shared_table, &k, count_init, &shared_inits);
	}
	return found;
}

START_TEST(concurrent_lookups_create_each_key_exactly_once)
{
	shared_table = memseg(64);
	shared_inits = 0;
	pthread_t t[LOOKUP_THREADS];
	struct fl_seg_entry **found[LOOKUP_THREADS];
	pthread_barrier_init(&lookup_start, NULL, LOOKUP_THREADS);
	for (uintptr_t i = 0; i < LOOKUP_THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, look_up_every_key, (void *)i), 0);
	for (int i = 0; i < LOOKUP_THREADS; i++)
		pthread_join(t[i], (void **)&found[i]);
	pthread_barrier_destroy(&lookup_start);
	ck_assert_int_eq(shared_inits, LOOKUP_KEYS);
	ck_assert_uint_eq(shared_table.hdr->entries_used, LOOKUP_KEYS);
	for (int k = 0; k < LOOKUP_KEYS; k++) {
		ck_assert_ptr_nonnull(found[0][k]);
		for (int i = 1; i < LOOKUP_THREADS; i++)
			ck_assert_ptr_eq(found[i][k], found[0][k]);
	}
	for (int i = 0; i < LOOKUP_THREADS; i++)
		free(found[i]);
	free(shared_table.hdr);
}
END_TEST

/* ---- /dev/shm -------------------------------------------------------- */

START_TEST(seg_open_creates_file_of_the_user_with_mode_0600)
{
	const char *dom = domain(1);
	struct fl_seg seg = open_ok(dom, 32, true);
	struct stat st;
	ck_assert_int_eq(lstat(shm_path(dom), &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_uint_eq(st.st_uid, getuid());
	ck_assert_uint_eq((size_t)st.st_size, fl_seg_size(32));
	ck_assert_uint_eq(seg.capacity, 32);
	ck_assert_uint_eq(seg.size, fl_seg_size(32));
	ck_assert_str_eq(seg.hdr->domain, dom);
	ck_assert_uint_eq(seg.hdr->creator_pid, (uint32_t)getpid());
	ck_assert_uint_eq(seg.hdr->created_ms, NOW_MS);
	fl_seg_close(&seg);
	ck_assert_ptr_null(seg.hdr);
	ck_assert_int_eq(unlink(shm_path(dom)), 0);
}
END_TEST

START_TEST(seg_open_creates_0600_even_under_a_permissive_umask)
{
	const char *dom = domain(2);
	mode_t old = umask(0);
	struct fl_seg seg = open_ok(dom, 4, true);
	umask(old);
	struct stat st;
	ck_assert_int_eq(stat(shm_path(dom), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	fl_seg_close(&seg);
	unlink(shm_path(dom));
}
END_TEST

START_TEST(second_open_attaches_to_the_same_memory)
{
	const char *dom = domain(3);
	struct fl_seg a = open_ok(dom, 32, true);
	struct fl_seg b = open_ok(dom, 999, true); /* exists: attaches, capacity from the file */
	struct fl_seg c = open_ok(dom, 0, false);
	ck_assert_ptr_ne(a.hdr, b.hdr);
	ck_assert_uint_eq(b.capacity, 32);
	ck_assert_uint_eq(c.capacity, 32);
	struct fl_seg_key k = key_of(dest_v4("127.0.0.1", 6379));
	struct fl_seg_entry *ea = fl_seg_lookup(&a, &k, NULL, NULL);
	__atomic_store_n(&ea->breaker.calls, 77, __ATOMIC_RELEASE);
	struct fl_seg_entry *eb = fl_seg_lookup(&b, &k, NULL, NULL);
	ck_assert_ptr_nonnull(eb);
	ck_assert_uint_eq(eb - b.entries, ea - a.entries);
	ck_assert_uint_eq(__atomic_load_n(&eb->breaker.calls, __ATOMIC_ACQUIRE), 77);
	__atomic_store_n(&c.entries[eb - b.entries].breaker.failures, 5, __ATOMIC_RELEASE);
	ck_assert_uint_eq(ea->breaker.failures, 5);
	ck_assert_uint_eq(a.hdr->entries_used, 1);
	fl_seg_close(&a);
	fl_seg_close(&b);
	fl_seg_close(&c);
	unlink(shm_path(dom));
}
END_TEST

START_TEST(processes_racing_to_create_share_one_segment)
{
	enum { RACERS = 6 };
	const char *dom = domain(4);
	int go[2];
	ck_assert_int_eq(pipe(go), 0);
	pid_t kids[RACERS];
	for (int i = 0; i < RACERS; i++) {
		kids[i] = fork();
		ck_assert_int_ge(kids[i], 0);
		if (kids[i] == 0) {
			char c;
			close(go[1]);
			if (read(go[0], &c, 1) != 0) /* EOF: everyone starts at once */
				_exit(3);
			struct fl_seg seg;
			struct fl_diag d;
			fl_diag_clear(&d);
			if (fl_seg_open(&seg, dom, 16, true, NOW_MS, &d) < 0) {
				fprintf(stderr, "child: %s\n", d.error);
				_exit(1);
			}
			struct fl_seg_key k = key_of(dest_v4("127.0.0.1", 6379));
			struct fl_seg_entry *e = fl_seg_lookup(&seg, &k, NULL, NULL);
			if (!e)
				_exit(2);
			__atomic_fetch_add(&e->breaker.calls, 1, __ATOMIC_ACQ_REL);
			fl_seg_close(&seg);
			_exit(0);
		}
	}
	close(go[0]);
	close(go[1]);
	for (int i = 0; i < RACERS; i++) {
		int status;
		ck_assert_int_eq(waitpid(kids[i], &status, 0), kids[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d: status %#x", i,
			      status);
	}
	struct fl_seg seg = open_ok(dom, 16, false);
	ck_assert_uint_eq(seg.hdr->entries_used, 1);
	struct fl_seg_key k = key_of(dest_v4("127.0.0.1", 6379));
	struct fl_seg_entry *e = fl_seg_lookup(&seg, &k, NULL, NULL);
	ck_assert_uint_eq(e->breaker.calls, RACERS);
	fl_seg_close(&seg);
	unlink(shm_path(dom));
}
END_TEST

START_TEST(seg_open_refuses_a_symbolic_link)
{
	const char *real = strdup(domain(5));
	const char *link = domain(6);
	struct fl_seg seg = open_ok(real, 8, true);
	fl_seg_close(&seg);
	char target[160];
	snprintf(target, sizeof target, "%s", shm_path(real));
	ck_assert_int_eq(symlink(target, shm_path(link)), 0);
	open_refused(link, false, "symbolic link");
	open_refused(link, true, "symbolic link");
	open_refused(link, false, shm_path(link));
	unlink(shm_path(link));
	unlink(target);
	free((void *)real);
}
END_TEST

START_TEST(seg_open_refuses_a_dangling_symbolic_link)
{
	const char *dom = domain(7);
	ck_assert_int_eq(symlink("/nonexistent/faultline-target", shm_path(dom)), 0);
	open_refused(dom, true, "symbolic link");
	struct stat st;
	ck_assert_int_ne(stat("/nonexistent/faultline-target", &st), 0); /* nothing was created */
	unlink(shm_path(dom));
}
END_TEST

START_TEST(seg_open_refuses_group_readable_file)
{
	const char *dom = domain(8);
	struct fl_seg seg = open_ok(dom, 8, true);
	fl_seg_close(&seg);
	ck_assert_int_eq(chmod(shm_path(dom), 0644), 0);
	open_refused(dom, false, "mode 0644, expected 0600");
	open_refused(dom, true, "mode 0644");
	ck_assert_int_eq(chmod(shm_path(dom), 0700), 0);
	open_refused(dom, false, "mode 0700");
	char want[512];
	snprintf(want, sizeof want,
		 "mode 0700, expected 0600 (others could change it); remove it with: rm %s,", shm_path(dom));
	open_refused(dom, false, want);
	unlink(shm_path(dom));
}
END_TEST

START_TEST(seg_open_refuses_file_of_another_user)
{
	if (getuid() != 0) /* only root can give a file away */
		return;
	const char *dom = domain(9);
	struct fl_seg seg = open_ok(dom, 8, true);
	fl_seg_close(&seg);
	ck_assert_int_eq(chown(shm_path(dom), 65534, 65534), 0);
	open_refused(dom, false, "owned by uid 65534, not by you");
	/* issue 10 item 2: which file, whose, and how to remove it. */
	char want[512];
	snprintf(want, sizeof want,
		 "%s: refused: owned by uid 65534, not by you (uid 0); remove it with: rm %s (as uid 65534 "
		 "or root), or use another domain",
		 shm_path(dom), shm_path(dom));
	open_refused(dom, true, want);
	unlink(shm_path(dom));
}
END_TEST

START_TEST(seg_open_refuses_random_bytes_of_the_right_size)
{
	const char *dom = domain(10);
	size_t size = fl_seg_size(16);
	unsigned char *junk = malloc(size);
	srand(12345);
	for (size_t i = 0; i < size; i++)
		junk[i] = (unsigned char)rand();
	junk[0] |= 1; /* nonzero magic: no waiting for a creator */
	write_file(shm_path(dom), 0600, junk, size);
	open_refused(dom, false, "not a faultline segment (bad magic)");
	open_refused(dom, true, "bad magic");
	free(junk);
	unlink(shm_path(dom));
}
END_TEST

START_TEST(seg_open_refuses_a_valid_header_with_truncated_file)
{
	const char *dom = domain(11);
	size_t size = fl_seg_size(16);
	void *mem = zeroed(size);
	fl_seg_format(mem, 16, dom, NOW_MS, 1);
	write_file(shm_path(dom), 0600, mem, size - 4096);
	open_refused(dom, false, "does not match its capacity 16");
	free(mem);
	unlink(shm_path(dom));
}
END_TEST

START_TEST(seg_open_refuses_tiny_file)
{
	const char *dom = domain(12);
	write_file(shm_path(dom), 0600, "FLTLINE1", 8);
	open_refused(dom, false, "too small");
	unlink(shm_path(dom));
}
END_TEST

START_TEST(seg_open_gives_up_on_a_file_its_creator_never_sized)
{
	const char *dom = domain(13);
	write_file(shm_path(dom), 0600, NULL, 0);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	open_refused(dom, false, "still empty");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 5); /* bounded wait */
	unlink(shm_path(dom));
}
END_TEST

START_TEST(seg_open_attaches_when_creator_formats_late)
{
	const char *dom = domain(14);
	size_t size = fl_seg_size(16);
	write_file(shm_path(dom), 0600, NULL, 0);
	pid_t kid = fork();
	ck_assert_int_ge(kid, 0);
	if (kid == 0) { /* a slow creator: size now, magic 200 ms later */
		int fd = open(shm_path(dom), O_RDWR);
		if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
			_exit(1);
		void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (mem == MAP_FAILED)
			_exit(1);
		struct timespec pause = {0, 200 * 1000000L};
		nanosleep(&pause, NULL);
		fl_seg_format(mem, 16, dom, NOW_MS, (uint32_t)getpid());
		_exit(0);
	}
	struct fl_seg seg = open_ok(dom, 16, false);
	ck_assert_uint_eq(seg.capacity, 16);
	ck_assert_str_eq(seg.hdr->domain, dom);
	int status;
	waitpid(kid, &status, 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fl_seg_close(&seg);
	unlink(shm_path(dom));
}
END_TEST

START_TEST(seg_open_of_missing_domain_without_create_is_an_error)
{
	const char *dom = domain(15);
	open_refused(dom, false, "does not exist");
	open_refused(dom, false, dom);
	struct stat st;
	ck_assert_int_ne(stat(shm_path(dom), &st), 0); /* and nothing was created */
}
END_TEST

START_TEST(seg_open_refuses_invalid_domain_name)
{
	open_refused("../etc", true, "is not a domain name");
	open_refused("", true, "is not a domain name");
}
END_TEST

/* Removes whatever /dev/shm objects a failed test left behind. */
static void remove_leftovers(void)
{
	char pattern[160];
	glob_t g;
	snprintf(pattern, sizeof pattern, "/dev/shm/faultline.%u.ut-%u-*", (unsigned)getuid(), run_pid);
	if (glob(pattern, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			unlink(g.gl_pathv[i]);
		globfree(&g);
	}
}

Suite *segment_suite(void); /* run by runner.c */

Suite *segment_suite(void)
{
	run_pid = (unsigned)getpid(); /* called in the runner, before any test forks */
	Suite *s = suite_create("segment");

	TCase *layout = tcase_create("layout");
	tcase_add_test(layout, seg_size_of_default_capacity_fits_in_6_mib);
	tcase_add_test(layout, seg_format_then_validate_round_trips);
	tcase_add_test(layout, seg_tables_lie_back_to_back_and_fill_the_segment);
	tcase_add_test(layout, seg_validate_refuses_truncated_segment);
	tcase_add_test(layout, seg_validate_refuses_bad_magic);
	tcase_add_test(layout, seg_validate_refuses_other_layout_version);
	tcase_add_test(layout, seg_validate_refuses_size_mismatch);
	tcase_add_test(layout, seg_validate_refuses_inconsistent_capacity);
	suite_add_tcase(s, layout);

	TCase *names = tcase_create("names");
	tcase_add_test(names, domain_names_follow_the_spec_pattern);
	tcase_add_test(names, seg_path_joins_dir_uid_and_domain);
	suite_add_tcase(s, names);

	TCase *keys = tcase_create("keys");
	tcase_add_test(keys, dest_keys_format_as_stats_prints_them);
	tcase_add_test(keys, rule_keys_format_as_their_target);
	tcase_add_test(keys, key_format_truncates_safely);
	tcase_add_test(keys, equal_destinations_give_equal_keys_and_hashes);
	tcase_add_test(keys, different_destinations_give_different_hashes);
	suite_add_tcase(s, keys);

	TCase *lookup = tcase_create("lookup");
	tcase_set_timeout(lookup, 10);
	tcase_add_test(lookup, lookup_creates_entry_once_and_finds_it_again);
	tcase_add_test(lookup, lookup_gives_distinct_keys_distinct_entries);
	tcase_add_test(lookup, lookup_in_full_table_returns_null_for_new_key_but_finds_existing);
	tcase_add_test(lookup, limited_lookup_keeps_places_for_rule_entries);
	tcase_add_test(lookup, entry_at_returns_only_ready_entries_in_range);
	tcase_add_test(lookup, lookup_skips_an_entry_whose_creator_died_half_way);
	tcase_add_test(lookup, concurrent_lookups_create_each_key_exactly_once);
	suite_add_tcase(s, lookup);

	TCase *shm = tcase_create("shm");
	tcase_set_timeout(shm, 10);
	tcase_add_test(shm, seg_open_creates_file_of_the_user_with_mode_0600);
	tcase_add_test(shm, seg_open_creates_0600_even_under_a_permissive_umask);
	tcase_add_test(shm, second_open_attaches_to_the_same_memory);
	tcase_add_test(shm, processes_racing_to_create_share_one_segment);
	tcase_add_test(shm, seg_open_refuses_a_symbolic_link);
	tcase_add_test(shm, seg_open_refuses_a_dangling_symbolic_link);
	tcase_add_test(shm, seg_open_refuses_group_readable_file);
	tcase_add_test(shm, seg_open_refuses_file_of_another_user);
	tcase_add_test(shm, seg_open_refuses_random_bytes_of_the_right_size);
	tcase_add_test(shm, seg_open_refuses_a_valid_header_with_truncated_file);
	tcase_add_test(shm, seg_open_refuses_tiny_file);
	tcase_add_test(shm, seg_open_gives_up_on_a_file_its_creator_never_sized);
	tcase_add_test(shm, seg_open_attaches_when_creator_formats_late);
	tcase_add_test(shm, seg_open_of_missing_domain_without_create_is_an_error);
	tcase_add_test(shm, seg_open_refuses_invalid_domain_name);
	tcase_add_unchecked_fixture(shm, NULL, remove_leftovers);
	suite_add_tcase(s, shm);
	return s;
}
