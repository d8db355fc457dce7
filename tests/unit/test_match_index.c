/*
 * test_match_index.c - the index gives fl_match's answer, and its work does
 * not grow with the rule set.
 *
 * The differential test is the heart of it: fl_match (which reads every
 * statement) is the reference, and random rule sets mixing every TARGET
 * form, with destinations drawn near their addresses and ports, must get
 * the identical struct fl_match from fl_match_indexed. The named tests pin
 * the cases a bucketed lookup could plausibly get wrong, and the work a
 * lookup does is counted in probes and candidates rather than timed.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"
#include "rng.h"

static const uint32_t SEND = 1u << FL_OP_SEND, RECV = 1u << FL_OP_RECV, CONN = 1u << FL_OP_CONNECT;

static void add_target(struct fl_ruleset *rs, const struct fl_target *t, enum fl_kind kind, uint32_t ops)
{
	struct fl_rule r;
	struct fl_diag d = {.nwarnings = 0};
	fl_rule_defaults(&r, kind);
	r.target = *t;
	if (kind == FL_KIND_FAULT)
		r.u.fault.ops = ops;
	ck_assert_int_eq(fl_ruleset_add(rs, &r, &d), 0);
}

static void add(struct fl_ruleset *rs, const char *target, enum fl_kind kind, uint32_t ops)
{
	struct fl_target t;
	const char *why = NULL;
	ck_assert_msg(fl_target_parse(target, strlen(target), &t, &why) == 0, "%s: %s", target, why);
	add_target(rs, &t, kind, ops);
}

/* A destination as connect() sees it: "1.2.3.4", "::1", "::ffff:1.2.3.4". */
static struct fl_dest ip(const char *addr, uint16_t port)
{
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct fl_dest d;
	if (inet_pton(AF_INET, addr, &sin.sin_addr) == 1)
		ck_assert(fl_dest_from_sockaddr((struct sockaddr *)&sin, sizeof sin, &d));
	else if (inet_pton(AF_INET6, addr, &sin6.sin6_addr) == 1)
		ck_assert(fl_dest_from_sockaddr((struct sockaddr *)&sin6, sizeof sin6, &d));
	else
		ck_abort_msg("bad address %s", addr);
	return d;
}

static struct fl_dest unix_dest(const char *path, size_t len)
{
	struct fl_dest d = {.family = FL_AF_UNIX, .path_len = (uint16_t)len};
	memcpy(d.path, path, len);
	return d;
}

static void build(struct fl_match_index *ix, const struct fl_ruleset *rs)
{
	struct fl_diag d = {.nwarnings = 0};
	ck_assert_msg(fl_match_index_build(ix, rs, &d) == 0, "%s", d.error);
}

static void describe(char *buf, size_t size, const struct fl_match *m)
{
	int n = snprintf(buf, size, "brk=%d bh=%d ops=%#x trunc=%d faults=", m->breaker, m->bulkhead, m->ops,
			 m->truncated);
	for (uint32_t i = 0; i < m->nfaults && n > 0 && (size_t)n < size; i++)
		n += snprintf(buf + n, size - (size_t)n, "%u,", m->faults[i]);
}

/* fl_match_indexed == fl_match, field by field; returns the answer. */
static struct fl_match same_as_linear(const struct fl_match_index *ix, const struct fl_ruleset *rs,
				      const struct fl_dest *d, const char *what)
{
	struct fl_match want, got;
	memset(&got, 0xa5, sizeof got); /* stale garbage must not leak through */
	bool want_any = fl_match(rs, d, &want);
	bool got_any = fl_match_indexed(ix, rs, d, &got);
	char a[512], b[512];
	describe(a, sizeof a, &want);
	describe(b, sizeof b, &got);
	ck_assert_msg(want_any == got_any && want.breaker == got.breaker && want.bulkhead == got.bulkhead &&
			  want.ops == got.ops && want.nfaults == got.nfaults &&
			  want.truncated == got.truncated &&
			  memcmp(want.faults, got.faults, want.nfaults * sizeof *want.faults) == 0,
		      "%s: linear {%s} indexed {%s}", what, a, b);
	return got;
}

/* ---- the differential test ---- */

static const char *const v4_pool[] = {"10.1.2.3",  "10.1.2.4",	  "10.1.3.3", "10.200.0.1",
				      "127.0.0.1", "192.168.1.1", "0.0.0.0",  "255.255.255.255"};
static const char *const v6_pool[] = {"::1",	       "2001:db8::1", "2001:db8::2",
				      "2001:db8:1::1", "::",	      "ffff::fffe"};
static const char unix_pool[][12] = {"/run/a.sock", "/run/b.sock", "\0abstract", "/run/a"};
static const uint16_t port_pool[] = {1, 2, 22, 80, 443, 6379, 8080, 65534, 65535};

static uint32_t pick(struct fl_rng *g, uint32_t n)
{
	return fl_rng_upto(g, n - 1);
}

static uint16_t random_port(struct fl_rng *g)
{
	if (pick(g, 4) == 0)
		return (uint16_t)(1 + pick(g, 65535));
	return port_pool[pick(g, sizeof port_pool / sizeof *port_pool)];
}

/* An address near the pool: one of it, or with a few bits flipped. */
static void random_addr(struct fl_rng *g, unsigned family, uint8_t addr[16])
{
	memset(addr, 0, 16);
	unsigned bits = family == FL_AF_INET4 ? 32 : 128;
	if (family == FL_AF_INET4)
		inet_pton(AF_INET, v4_pool[pick(g, sizeof v4_pool / sizeof *v4_pool)], addr);
	else
		inet_pton(AF_INET6, v6_pool[pick(g, sizeof v6_pool / sizeof *v6_pool)], addr);
	for (uint32_t flips = pick(g, 3) == 0 ? 1 + pick(g, 3) : 0; flips > 0; flips--) {
		unsigned bit = pick(g, 2) ? bits - 1 - pick(g, 8) : pick(g, bits);
		addr[bit / 8] ^= (uint8_t)(0x80u >> (bit % 8));
	}
}

/* Host bits are cleared as the parser insists, except now and then: a
 * hand-built target with them set must still match as fl_target_match does. */
static void clear_host_bits(struct fl_rng *g, struct fl_target *t, unsigned bits)
{
	if (pick(g, 16) == 0)
		return;
	for (unsigned i = t->prefix; i < bits; i++)
		t->addr[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
}

static void random_ports(struct fl_rng *g, struct fl_target *t)
{
	switch (pick(g, 3)) {
	case 0:
		t->port_lo = 0;
		t->port_hi = 65535;
		break;
	case 1:
		t->port_lo = t->port_hi = random_port(g);
		break;
	default: {
		uint16_t a = random_port(g), b = random_port(g);
		t->port_lo = a < b ? a : b;
		t->port_hi = a < b ? b : a;
		if (pick(g, 8) == 0) /* a near-miss around a pool port */
			t->port_hi = (uint16_t)(t->port_lo + pick(g, 3));
	}
	}
}

static struct fl_target random_target(struct fl_rng *g)
{
	struct fl_target t;
	memset(&t, 0, sizeof t);
	uint32_t roll = pick(g, 20);
	if (roll < 3) {
		size_t i = pick(g, sizeof unix_pool / sizeof *unix_pool);
		t.family = FL_AF_UNIX;
		t.path_len = (uint16_t)(unix_pool[i][0] ? strlen(unix_pool[i]) : 9);
		memcpy(t.path, unix_pool[i], t.path_len);
		return t;
	}
	if (roll < 6) {
		t.family = FL_AF_ANY;
	} else {
		t.family = roll < 14 ? FL_AF_INET4 : FL_AF_INET6;
		unsigned bits = t.family == FL_AF_INET4 ? 32 : 128;
		random_addr(g, t.family, t.addr);
		/* whole addresses, long prefixes, then any length at all */
		t.prefix = (uint8_t)(pick(g, 2) ? bits : pick(g, 2) ? bits - pick(g, 9) : pick(g, bits + 1));
		clear_host_bits(g, &t, bits);
	}
	random_ports(g, &t);
	return t;
}

static struct fl_dest random_dest(struct fl_rng *g)
{
	struct fl_dest d;
	memset(&d, 0, sizeof d);
	uint32_t roll = pick(g, 10);
	if (roll == 0) {
		size_t i = pick(g, sizeof unix_pool / sizeof *unix_pool);
		size_t len = unix_pool[i][0] ? strlen(unix_pool[i]) : 9;
		return unix_dest(unix_pool[i], pick(g, 6) == 0 ? len - 1 : len);
	}
	d.family = roll < 6 ? FL_AF_INET4 : FL_AF_INET6;
	random_addr(g, d.family, d.addr);
	d.port = random_port(g);
	if (pick(g, 4) == 0) /* next to a pool port: range edges */
		d.port = (uint16_t)(d.port + pick(g, 3) - 1);
	return d;
}

static const uint32_t ops_choices[] = {CONN,	  SEND,	      RECV,
				       FL_OPS_IO, FL_OPS_ALL, (1u << FL_OP_READ) | (1u << FL_OP_WRITE)};

START_TEST(indexed_equals_linear_on_random_rule_sets)
{
	struct fl_rng g;
	fl_rng_seed(&g, 20240601, 0);
	unsigned matched = 0, truncated = 0, lookups = 0;
	for (int set = 0; set < 1500; set++) {
		struct fl_ruleset rs;
		fl_ruleset_init(&rs);
		static const uint32_t sizes[] = {1, 3, 8, 40, 120, 400};
		uint32_t n = 1 + pick(&g, sizes[pick(&g, 6)]);
		bool star_heavy = pick(&g, 8) == 0; /* enough faults to truncate */
		for (uint32_t i = 0; i < n; i++) {
			struct fl_target t = random_target(&g);
			if (star_heavy && pick(&g, 2) == 0) {
				memset(&t, 0, sizeof t);
				t.port_hi = 65535;
			}
			enum fl_kind kind = (enum fl_kind)(star_heavy ? FL_KIND_FAULT : pick(&g, 3));
			add_target(&rs, &t, kind, ops_choices[pick(&g, 6)]);
		}
		struct fl_match_index ix;
		build(&ix, &rs);
		for (int k = 0; k < 25; k++) {
			struct fl_dest d = random_dest(&g);
			char what[64];
			snprintf(what, sizeof what, "set %d dest %d", set, k);
			struct fl_match m = same_as_linear(&ix, &rs, &d, what);
			lookups++;
			matched += m.breaker >= 0 || m.bulkhead >= 0 || m.nfaults > 0;
			truncated += m.truncated;
		}
		fl_match_index_free(&ix);
		fl_ruleset_free(&rs);
	}
	/* The destinations must actually hit rules, or the test proves nothing. */
	ck_assert_msg(matched > lookups / 3, "only %u of %u lookups matched", matched, lookups);
	ck_assert_msg(truncated > 100, "only %u truncated results", truncated);
}
END_TEST

/* ---- named behaviours ---- */

START_TEST(first_breaker_wins_across_buckets)
{
	struct fl_ruleset rs;
	fl_ruleset_init(&rs);
	add(&rs, "*:80", FL_KIND_FAULT, SEND);
	add(&rs, "10.0.0.0/8", FL_KIND_BREAKER, 0);	 /* 1: wider, but first */
	add(&rs, "10.1.2.3:80", FL_KIND_BREAKER, 0);	 /* 2: exact, later */
	add(&rs, "*", FL_KIND_BREAKER, 0);		 /* 3 */
	add(&rs, "10.1.2.3:70-90", FL_KIND_BULKHEAD, 0); /* 4 */
	add(&rs, "10.1.2.3:80", FL_KIND_BULKHEAD, 0);	 /* 5 */
	struct fl_match_index ix;
	build(&ix, &rs);
	struct fl_dest d = ip("10.1.2.3", 80);
	struct fl_match m = same_as_linear(&ix, &rs, &d, "exact");
	ck_assert_int_eq(m.breaker, 1);
	ck_assert_int_eq(m.bulkhead, 4);
	d = ip("10.9.9.9", 81);
	ck_assert_int_eq(same_as_linear(&ix, &rs, &d, "cidr").breaker, 1);
	d = ip("11.0.0.1", 80);
	m = same_as_linear(&ix, &rs, &d, "star");
	ck_assert_int_eq(m.breaker, 3);
	ck_assert_int_eq(m.bulkhead, -1);
	d = ip("::1", 80);
	ck_assert_int_eq(same_as_linear(&ix, &rs, &d, "v6").breaker, 3);
	fl_match_index_free(&ix);
	fl_ruleset_free(&rs);
}
END_TEST

START_TEST(faults_keep_statement_order_across_buckets)
{
	struct fl_ruleset rs;
	fl_ruleset_init(&rs);
	add(&rs, "10.1.2.3", FL_KIND_FAULT, CONN);
	add(&rs, "*", FL_KIND_FAULT, SEND);
	add(&rs, "10.0.0.0/8:80", FL_KIND_FAULT, RECV);
	add(&rs, "10.1.2.3:80", FL_KIND_FAULT, CONN);
	add(&rs, "*:80", FL_KIND_FAULT, 1u << FL_OP_READ);
	add(&rs, "10.1.0.0/16:1-100", FL_KIND_FAULT, 1u << FL_OP_WRITE);
	add(&rs, "10.1.2.3:81", FL_KIND_FAULT, FL_OPS_ALL); /* not this port */
	add(&rs, "10.1.2.3", FL_KIND_FAULT, SEND);
	struct fl_match_index ix;
	build(&ix, &rs);
	struct fl_dest d = ip("10.1.2.3", 80);
	struct fl_match m = same_as_linear(&ix, &rs, &d, "interleaved");
	ck_assert_uint_eq(m.nfaults, 7);
	static const uint32_t want[] = {0, 1, 2, 3, 4, 5, 7};
	for (int i = 0; i < 7; i++)
		ck_assert_uint_eq(m.faults[i], want[i]);
	ck_assert_uint_eq(m.ops, FL_OPS_ALL);
	fl_match_index_free(&ix);
	fl_ruleset_free(&rs);
}
END_TEST

START_TEST(truncation_counts_faults_from_every_bucket)
{
	struct fl_ruleset rs;
	fl_ruleset_init(&rs);
	for (int i = 0; i < FL_MATCH_MAX_FAULTS; i++)
		add(&rs, i % 2 ? "*" : "127.0.0.1:6379", FL_KIND_FAULT, i == 0 ? CONN : SEND);
	struct fl_match_index ix;
	build(&ix, &rs);
	struct fl_dest d = ip("127.0.0.1", 6379);
	struct fl_match m = same_as_linear(&ix, &rs, &d, "exactly full");
	ck_assert(!m.truncated);
	ck_assert_uint_eq(m.nfaults, FL_MATCH_MAX_FAULTS);
	fl_match_index_free(&ix);
	add(&rs, "127.0.0.0/8", FL_KIND_FAULT, RECV); /* the 33rd, in a third bucket */
	build(&ix, &rs);
	m = same_as_linear(&ix, &rs, &d, "one over");
	ck_assert(m.truncated);
	ck_assert_uint_eq(m.ops, CONN | SEND); /* like fl_match: ops of the kept faults */
	fl_match_index_free(&ix);
	fl_ruleset_free(&rs);
}
END_TEST

START_TEST(port_range_bucket_checks_range)
{
	struct fl_ruleset rs;
	fl_ruleset_init(&rs);
	add(&rs, "10.0.0.1:100-200", FL_KIND_BREAKER, 0);
	add(&rs, "10.0.0.1:150-300", FL_KIND_FAULT, SEND);
	add(&rs, "10.0.0.1:1-99", FL_KIND_BULKHEAD, 0);
	add(&rs, "10.0.0.1:120-130", FL_KIND_BREAKER, 0);
	add(&rs, "10.0.0.1:65535", FL_KIND_FAULT, RECV);
	add(&rs, "10.0.0.1:60000-65535", FL_KIND_FAULT, CONN);
	struct fl_match_index ix;
	build(&ix, &rs);
	static const struct {
		uint16_t port;
		int32_t breaker, bulkhead;
		uint32_t nfaults, first;
	} cases[] = {
	    {1, -1, 2, 0, 0},	   {99, -1, 2, 0, 0},	  {100, 0, -1, 0, 0},	 {125, 0, -1, 0, 0},
	    {149, 0, -1, 0, 0},	   {150, 0, -1, 1, 1},	  {200, 0, -1, 1, 1},	 {201, -1, -1, 1, 1},
	    {300, -1, -1, 1, 1},   {301, -1, -1, 0, 0},	  {59999, -1, -1, 0, 0}, {60000, -1, -1, 1, 5},
	    {65534, -1, -1, 1, 5}, {65535, -1, -1, 2, 4},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct fl_dest d = ip("10.0.0.1", cases[i].port);
		char what[32];
		snprintf(what, sizeof what, "port %u", cases[i].port);
		struct fl_match m = same_as_linear(&ix, &rs, &d, what);
		ck_assert_int_eq(m.breaker, cases[i].breaker);
		ck_assert_int_eq(m.bulkhead, cases[i].bulkhead);
		ck_assert_uint_eq(m.nfaults, cases[i].nfaults);
		if (m.nfaults > 0)
			ck_assert_uint_eq(m.faults[0], cases[i].first);
	}
	struct fl_dest other = ip("10.0.0.2", 150);
	ck_assert(!fl_match_indexed(&ix, &rs, &other, &(struct fl_match){0}));
	fl_match_index_free(&ix);
	add(&rs, "10.0.0.2:2-65534", FL_KIND_BREAKER, 0); /* ends one short of the top */
	build(&ix, &rs);
	other = ip("10.0.0.2", 65535);
	ck_assert(!fl_match_indexed(&ix, &rs, &other, &(struct fl_match){0}));
	other = ip("10.0.0.2", 1);
	ck_assert(!fl_match_indexed(&ix, &rs, &other, &(struct fl_match){0}));
	other = ip("10.0.0.2", 65534);
	ck_assert_int_eq(same_as_linear(&ix, &rs, &other, "top").breaker, 6);
	fl_match_index_free(&ix);
	fl_ruleset_free(&rs);
}
END_TEST

START_TEST(nested_ranges_keep_the_first_of_each_kind)
{
	/* Each range sits inside the one before: every segment is covered by
	 * many statements, more than a list keeps. */
	struct fl_ruleset rs;
	fl_ruleset_init(&rs);
	for (int i = 0; i < 300; i++) {
		char t[64];
		snprintf(t, sizeof t, "10.0.0.1:%d-%d", 1000 + i, 2000 - i);
		add(&rs, t, (enum fl_kind)(i % 3), FL_OPS_ALL);
	}
	struct fl_match_index ix;
	build(&ix, &rs);
	for (uint16_t port = 990; port <= 2010; port++) {
		struct fl_dest d = ip("10.0.0.1", port);
		same_as_linear(&ix, &rs, &d, "nested");
	}
	struct fl_dest d = ip("10.0.0.1", 1500);
	struct fl_match m = same_as_linear(&ix, &rs, &d, "middle");
	ck_assert_int_eq(m.breaker, 0);
	ck_assert_int_eq(m.bulkhead, 1);
	ck_assert(m.truncated);
	fl_match_index_free(&ix);
	fl_ruleset_free(&rs);
}
END_TEST

START_TEST(wildcard_and_cidr_and_exact_merge_in_order)
{
	struct fl_ruleset rs;
	fl_ruleset_init(&rs);
	add(&rs, "*:443", FL_KIND_FAULT, CONN);			 /* 0 */
	add(&rs, "192.168.0.0/16", FL_KIND_FAULT, SEND);	 /* 1 */
	add(&rs, "192.168.1.1:443", FL_KIND_FAULT, RECV);	 /* 2 */
	add(&rs, "*", FL_KIND_FAULT, SEND);			 /* 3 */
	add(&rs, "2001:db8::/32", FL_KIND_FAULT, RECV);		 /* 4 */
	add(&rs, "[2001:db8::1]:443", FL_KIND_BREAKER, 0);	 /* 5 */
	add(&rs, "0.0.0.0/0:400-500", FL_KIND_BULKHEAD, 0);	 /* 6: IPv4 only */
	add(&rs, "::ffff:192.168.1.0/120", FL_KIND_FAULT, 0x10); /* 7: an IPv4 rule */
	add(&rs, "unix:/run/x.sock", FL_KIND_FAULT, SEND);	 /* 8 */
	struct fl_match_index ix;
	build(&ix, &rs);

	struct fl_dest d = ip("192.168.1.1", 443);
	struct fl_match m = same_as_linear(&ix, &rs, &d, "v4");
	ck_assert_uint_eq(m.nfaults, 5);
	ck_assert_uint_eq(m.faults[0], 0);
	ck_assert_uint_eq(m.faults[3], 3);
	ck_assert_uint_eq(m.faults[4], 7);
	ck_assert_int_eq(m.bulkhead, 6);

	d = ip("::ffff:192.168.1.1", 443); /* v4-mapped: the same as plain IPv4 */
	struct fl_match mapped = same_as_linear(&ix, &rs, &d, "v4-mapped");
	ck_assert_uint_eq(mapped.nfaults, 5);

	d = ip("2001:db8::1", 443);
	m = same_as_linear(&ix, &rs, &d, "v6");
	ck_assert_int_eq(m.breaker, 5);
	ck_assert_int_eq(m.bulkhead, -1); /* 0.0.0.0/0 is not ::/0 */
	ck_assert_uint_eq(m.nfaults, 3);
	ck_assert_uint_eq(m.faults[2], 4);

	d = unix_dest("/run/x.sock", 11);
	m = same_as_linear(&ix, &rs, &d, "unix");
	ck_assert_uint_eq(m.nfaults, 1); /* `*` is for IP only */
	ck_assert_uint_eq(m.faults[0], 8);
	d = unix_dest("/run/x.soc", 10);
	ck_assert(!fl_match_indexed(&ix, &rs, &d, &m));
	fl_match_index_free(&ix);
	fl_ruleset_free(&rs);
}
END_TEST

START_TEST(unix_paths_match_whole_path_and_abstract_names)
{
	struct fl_ruleset rs;
	fl_ruleset_init(&rs);
	add(&rs, "unix:/run/a", FL_KIND_BREAKER, 0);
	add(&rs, "unix:@a", FL_KIND_BULKHEAD, 0);
	add(&rs, "unix:/run/a.sock", FL_KIND_FAULT, SEND);
	add(&rs, "unix:/run/a", FL_KIND_FAULT, RECV);
	struct fl_match_index ix;
	build(&ix, &rs);
	struct fl_dest d = unix_dest("/run/a", 6);
	struct fl_match m = same_as_linear(&ix, &rs, &d, "path");
	ck_assert_int_eq(m.breaker, 0);
	ck_assert_uint_eq(m.nfaults, 1);
	ck_assert_uint_eq(m.faults[0], 3);
	d = unix_dest("\0a", 2);
	ck_assert_int_eq(same_as_linear(&ix, &rs, &d, "abstract").bulkhead, 1);
	d = unix_dest("/a", 2); /* same length and last byte as the abstract name */
	ck_assert(!fl_match_indexed(&ix, &rs, &d, &m));
	fl_match_index_free(&ix);
	fl_ruleset_free(&rs);
}
END_TEST

START_TEST(unbuilt_or_stale_index_falls_back_to_linear)
{
	struct fl_ruleset rs;
	fl_ruleset_init(&rs);
	add(&rs, "127.0.0.1", FL_KIND_BREAKER, 0);
	struct fl_match_index ix;
	memset(&ix, 0, sizeof ix);
	struct fl_dest d = ip("127.0.0.1", 1);
	struct fl_match m;
	struct fl_match_cost cost;
	ck_assert(fl_match_indexed_cost(&ix, &rs, &d, &m, &cost));
	ck_assert(cost.linear);
	build(&ix, &rs);
	add(&rs, "127.0.0.1", FL_KIND_BULKHEAD, 0); /* the index no longer fits */
	ck_assert(fl_match_indexed_cost(&ix, &rs, &d, &m, &cost));
	ck_assert(cost.linear);
	ck_assert_int_eq(m.bulkhead, 1);
	fl_match_index_free(&ix);
	ck_assert(!ix.built);
	fl_ruleset_free(&rs);
}
END_TEST

START_TEST(empty_rule_set_matches_nothing)
{
	struct fl_ruleset rs;
	fl_ruleset_init(&rs);
	struct fl_match_index ix;
	build(&ix, &rs);
	struct fl_dest d = ip("::1", 80);
	struct fl_match_cost cost;
	struct fl_match m;
	ck_assert(!fl_match_indexed_cost(&ix, &rs, &d, &m, &cost));
	ck_assert(!cost.linear);
	ck_assert_uint_eq(cost.probes, 0);
	d = unix_dest("/run/x.sock", 11);
	ck_assert(!fl_match_indexed_cost(&ix, &rs, &d, &m, &cost));
	ck_assert_uint_eq(cost.probes, 0); /* no unix statement: the path is not even hashed */
	fl_match_index_free(&ix);
}
END_TEST

START_TEST(malformed_target_is_refused_by_build)
{
	struct fl_ruleset rs;
	fl_ruleset_init(&rs);
	struct fl_target t = {.family = FL_AF_INET6, .prefix = 200, .port_hi = 65535};
	add_target(&rs, &t, FL_KIND_FAULT, SEND);
	struct fl_match_index ix;
	struct fl_diag d = {.nwarnings = 0};
	ck_assert_int_eq(fl_match_index_build(&ix, &rs, &d), -1);
	ck_assert_ptr_nonnull(strstr(d.error, "prefix length 200"));
	ck_assert(!ix.built);
	fl_ruleset_free(&rs);
}
END_TEST

static struct fl_dest nth_dest(int i, int port_offset)
{
	char a[32];
	snprintf(a, sizeof a, "10.%d.%d.%d", i / 2500, (i / 50) % 50, i % 50);
	return ip(a, (uint16_t)(1000 + i + port_offset));
}

/* 10,000 statements on distinct addresses and ports, then the same lookups
 * against a set of one: the index does the same work for both. Probes are
 * those of a hash table at most half full: about 1.5 on average, whichever
 * statement is looked for. */
START_TEST(ten_thousand_rules_lookup_probes_few_buckets)
{
	struct fl_ruleset big, one;
	fl_ruleset_init(&big);
	fl_ruleset_init(&one);
	char t[64];
	for (int i = 0; i < 10000; i++) {
		struct fl_dest d = nth_dest(i, 0);
		snprintf(t, sizeof t, "%u.%u.%u.%u:%u", d.addr[0], d.addr[1], d.addr[2], d.addr[3], d.port);
		add(&big, t, (enum fl_kind)(i % 3), FL_OPS_ALL);
	}
	add(&one, t, FL_KIND_FAULT, FL_OPS_ALL);
	struct fl_match_index ixb, ix1;
	build(&ixb, &big);
	build(&ix1, &one);
	struct fl_match m;
	struct fl_match_cost c;
	struct fl_dest last = nth_dest(9999, 0);
	ck_assert(fl_match_indexed_cost(&ix1, &one, &last, &m, &c));
	ck_assert_uint_eq(c.probes, 1);
	uint32_t hit_probes = 0, miss_probes = 0, worst = 0;
	for (int i = 0; i < 10000; i++) {
		struct fl_dest d = nth_dest(i, 0), miss = nth_dest(i, 1);
		ck_assert(fl_match_indexed_cost(&ixb, &big, &d, &m, &c));
		ck_assert_int_eq(i % 3 == 0 ? m.breaker : i % 3 == 1 ? m.bulkhead : (int32_t)m.faults[0], i);
		ck_assert_uint_eq(c.prefixes, 1);
		ck_assert_uint_eq(c.lists, 1);
		ck_assert_uint_eq(c.candidates, 1);
		hit_probes += c.probes;
		worst = c.probes > worst ? c.probes : worst;
		ck_assert(!fl_match_indexed_cost(&ixb, &big, &miss, &m, &c));
		ck_assert_uint_eq(c.candidates, 0);
		miss_probes += c.probes;
		worst = c.probes > worst ? c.probes : worst;
	}
	ck_assert_uint_le(hit_probes, 10000 * 3 / 2);
	ck_assert_uint_le(miss_probes, 10000 * 5 / 2);
	ck_assert_uint_le(worst, 16);

	/* 10,000 `*` faults all match: the lists were cut at build time. */
	fl_match_index_free(&ixb);
	fl_ruleset_free(&big);
	fl_ruleset_init(&big);
	for (int i = 0; i < 10000; i++)
		add(&big, i % 2 ? "*" : "*:10999", FL_KIND_FAULT, FL_OPS_ALL);
	build(&ixb, &big);
	ck_assert(fl_match_indexed_cost(&ixb, &big, &last, &m, &c));
	ck_assert(m.truncated);
	ck_assert_uint_eq(c.lists, 2);
	ck_assert_uint_le(c.candidates, 2 * (FL_MATCH_MAX_FAULTS + 1));
	same_as_linear(&ixb, &big, &last, "stars");
	fl_match_index_free(&ixb);
	fl_match_index_free(&ix1);
	fl_ruleset_free(&big);
	fl_ruleset_free(&one);
}
END_TEST

Suite *match_index_suite(void); /* run by runner.c */

Suite *match_index_suite(void)
{
	Suite *s = suite_create("match_index");
	TCase *tc = tcase_create("match_index");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, indexed_equals_linear_on_random_rule_sets);
	tcase_add_test(tc, first_breaker_wins_across_buckets);
	tcase_add_test(tc, faults_keep_statement_order_across_buckets);
	tcase_add_test(tc, truncation_counts_faults_from_every_bucket);
	tcase_add_test(tc, port_range_bucket_checks_range);
	tcase_add_test(tc, nested_ranges_keep_the_first_of_each_kind);
	tcase_add_test(tc, wildcard_and_cidr_and_exact_merge_in_order);
	tcase_add_test(tc, unix_paths_match_whole_path_and_abstract_names);
	tcase_add_test(tc, unbuilt_or_stale_index_falls_back_to_linear);
	tcase_add_test(tc, empty_rule_set_matches_nothing);
	tcase_add_test(tc, malformed_target_is_refused_by_build);
	tcase_add_test(tc, ten_thousand_rules_lookup_probes_few_buckets);
	suite_add_tcase(s, tc);
	return s;
}
