/*
 * resolve.c - name resolution (SPEC 9): the wrappers of getaddrinfo and
 * gethostbyname*, DNS faults, resolve overrides, and the per-process map
 * from the addresses a name resolved to back to the name.
 *
 * The map. Written only here, in resolver calls (never in a signal
 * handler's path), read by every connect. Two fixed tables in .bss, so
 * nothing is ever allocated or freed and a pointer into them stays valid
 * for the life of the process: NAMES_MAX names and an open-addressing
 * table of ADDRS_MAX addresses, each naming its name. Writers serialise
 * on a try-lock that gives up after a bounded spin (a writer that cannot
 * get it does not remember: a thread that held it at fork must not hang
 * the child). A reader takes no lock: a slot is published by a release
 * store of its name index after its address is written, and never
 * emptied; a later resolution of the same address to another name
 * replaces the index with one atomic store. When either table is full,
 * further names or addresses are not remembered (their connects then see
 * only address rules), and the first time that happens it is logged.
 *
 * The ring. A process joined to a domain keeps the names it resolves for
 * layers that may name them later (SPEC 7 + 9), but most programs never
 * see such a layer, and issue 14 allows a lookup no statement is about
 * <= 200 instructions. So a lookup no own statement covers is not
 * normalised or entered in the map: its raw name and addresses go into a
 * ring of the last RING_MAX lookups (one fetch-add claims a position, one
 * CAS the entry, one memcpy of the name, a few words per address; no lock,
 * no allocation). The map is fed from the ring only when somebody asks it
 * for a name (fl_resolve_name_of_addr: a layer statement on a name meets
 * a connect), under the writers' lock: each entry is copied and checked
 * seqlock-style, normalised and remembered as above. An entry written
 * while a drain passed its position is not lost: its writer, after
 * publishing, sees the tail beyond it and pulls the tail back (the
 * publish and the drain's claim of the tail are sequentially consistent,
 * so one of the two always sees the other). Older lookups than the last
 * RING_MAX, and addresses beyond the first RING_ADDRS of a lookup, are
 * not kept until a name layer asks (documented in docs/limits.md).
 *
 * Overrides (the `resolve` kind) answer getaddrinfo without asking the
 * resolver. The list is built the way glibc builds its own, because the
 * program frees it with glibc's freeaddrinfo, which frees each node's
 * ai_canonname and then the node itself: so each node is ONE malloc
 * holding the struct addrinfo and, right after it, its sockaddr (ai_addr
 * points inside the node), and ai_canonname (first node only, with
 * AI_CANONNAME) is a malloc'd string of its own. gethostbyname and
 * gethostbyname2 answer from per-thread static storage (glibc's own is
 * static too), the _r forms in the caller's buffer (ERANGE if too small).
 */
#include "resolve.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <endian.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "atomics.h"
#include "domain.h"
#include "hostname.h"
#include "inject.h"
#include "layers.h"
#include "log.h"
#include "shim.h"
#include "wait.h"

#define TLS __thread __attribute__((tls_model("initial-exec")))

#define NAMES_MAX  256u
#define ADDRS_MAX  FL_RESOLVE_ADDRS /* a power of two; filled to 3/4 at most */
#define LOCK_SPINS 100000

uint32_t fl_resolve_remembered;
uint32_t fl_resolve_own_names;

struct name_rec {
	uint16_t len;
	char text[FL_NAME_MAX + 1];
};

static struct name_rec names[NAMES_MAX];
static uint32_t nnames; /* atomic */
struct fl_resolve_slot fl_resolve_addrs[FL_RESOLVE_ADDRS];
static int map_lock; /* atomic: writers only */
static int full_warned;

/* The statements that involve names, in rule order: any kind on a name
 * target, and resolve faults on `*`. Built once at start-up. */
static uint32_t *name_rules;
static uint32_t nname_rules;
static uint32_t *conn_rules; /* of those: breakers, bulkheads, faults on a name target */
static uint32_t nconn_rules;

/*
 * A filter that lets most lookups of names no statement is about go
 * straight to the resolver, without normalising the name (SPEC 9 asks
 * <= 200 instructions for them): per name statement, its length and its
 * last (up to) 4 bytes with the 0x20 bit set (which folds case; it also
 * folds a few other bytes together, so the filter can only say yes too
 * often, never no wrongly). Names shorter than 4 bytes, and `*` resolve
 * faults, send every lookup the full way.
 */
struct name_key {
	uint32_t tail, mask;
	uint16_t len;
	uint8_t wild;
};
static struct name_key *name_keys; /* parallel to name_rules */
static bool filter_off;
/* Before the loop over name_keys, two 64-bit summaries of them, so a
 * lookup no statement is about usually costs a few instructions however
 * many name statements there are: which lengths (mod 64) the exact names
 * have, and which tails (a 6-bit hash of the 4 bytes above) any name has;
 * a key shorter than 4 bytes sets every tail bit. A suffix (`*.`) is
 * longer than wild_min at least. Like the keys, they can only say yes too
 * often. */
static uint64_t key_lens, key_tails;
static uint32_t wild_min = UINT32_MAX;

static TLS int in_resolver; /* a resolver called from inside another (nss) */

/* The ring of raw lookups (see the top). seq is 2p+1 while position p is
 * written, 2p+2 once it is complete. */
#define RING_MAX   256u /* a power of two */
#define RING_ADDRS 8u
struct ring_ent {
	uint64_t seq; /* atomic */
	uint16_t len;
	uint8_t naddr;
	uint8_t addr[RING_ADDRS][16]; /* IPv6; IPv4 as ::ffff:a.b.c.d, as fl_dest reads it */
	char name[FL_NAME_MAX + 3];   /* the name as given (a trailing dot allowed), NUL */
};
_Static_assert(sizeof(struct ring_ent) % 8 == 0, "ring entries copy in words");
static struct ring_ent ring[RING_MAX];
static uint64_t ring_head; /* atomic: positions claimed */
static uint64_t ring_tail; /* atomic: positions before it are in the map (or lost) */

/* ---- the real functions, found on first use ---- */

typedef int gai_fn(const char *, const char *, const struct addrinfo *, struct addrinfo **);
typedef struct hostent *ghbn_fn(const char *);
typedef struct hostent *ghbn2_fn(const char *, int);
typedef int ghbn_r_fn(const char *, struct hostent *, char *, size_t, struct hostent **, int *);
typedef int ghbn2_r_fn(const char *, int, struct hostent *, char *, size_t, struct hostent **, int *);

static void *real_fn(void **slot, const char *name)
{
	void *f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (f == NULL) {
		f = dlsym(RTLD_NEXT, name);
		__atomic_store_n(slot, f, __ATOMIC_RELEASE);
	}
	return f;
}

static void *real_gai, *real_ghbn, *real_ghbn2, *real_ghbn_r, *real_ghbn2_r;
#define REAL(slot, type, name) ((type *)real_fn(&(slot), name))

/* ---- set-up ---- */

static inline uint32_t tail_hash(uint32_t tail)
{
	return (tail * 0x9e3779b1u) >> 26;
}

static void resolve_fallbacks(void);

void fl_resolve_setup(void)
{
	const struct fl_ruleset *rs = &fl_state.rules;
	name_rules = calloc(rs->count ? rs->count : 1, sizeof *name_rules);
	conn_rules = calloc(rs->count ? rs->count : 1, sizeof *conn_rules);
	name_keys = calloc(rs->count ? rs->count : 1, sizeof *name_keys);
	if (name_rules == NULL || conn_rules == NULL || name_keys == NULL) {
		free(name_rules);
		free(conn_rules);
		free(name_keys);
		name_rules = conn_rules = NULL;
		name_keys = NULL;
		fl_log_msg(FL_LOG_ERROR, "out of memory: host name statements do not apply");
		return;
	}
	for (uint32_t i = 0; i < rs->count; i++) {
		const struct fl_rule *r = &rs->rules[i];
		bool on_name = r->target.family == FL_AF_NAME;
		bool resolve_fault = r->kind == FL_KIND_FAULT && (r->u.fault.ops & (1u << FL_OP_RESOLVE));
		if (on_name || (resolve_fault && r->target.family == FL_AF_ANY)) {
			struct name_key *k = &name_keys[nname_rules];
			name_rules[nname_rules++] = i;
			if (!on_name || r->target.name_len == 0) {
				filter_off = true; /* the summaries let every name through */
				key_lens = key_tails = ~0ull;
				wild_min = 0;
				continue;
			}
			uint32_t n = r->target.name_len < 4 ? r->target.name_len : 4;
			for (uint32_t b = 0; b < n; b++)
				k->tail |=
				    (uint32_t)(uint8_t)(r->target.name[r->target.name_len - 1 - b] | 0x20)
				    << (24 - 8 * b);
			k->mask = n == 4 ? 0xffffffffu : ~(0xffffffffu >> (8 * n));
			k->len = r->target.name_len;
			k->wild = r->target.name_wild;
			key_tails |= n == 4 ? 1ull << tail_hash(k->tail) : ~0ull;
			if (k->wild)
				wild_min = k->len < wild_min ? k->len : wild_min;
			else
				key_lens |= 1ull << (k->len & 63);
		}
		if (on_name && r->kind != FL_KIND_RESOLVE)
			conn_rules[nconn_rules++] = i;
	}
	fl_resolve_own_names = nconn_rules;
	resolve_fallbacks();
}

/* ---- the map ---- */

_Static_assert(ADDRS_MAX == 1u << 10, "fl_resolve_hash gives 10 bits");

static bool lock_map(void)
{
	for (int i = 0; i < LOCK_SPINS; i++) {
		int expected = 0;
		if (__atomic_compare_exchange_n(&map_lock, &expected, 1, false, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return true;
	}
	return false;
}

static void unlock_map(void)
{
	__atomic_store_n(&map_lock, 0, __ATOMIC_RELEASE);
}

static void warn_full(const char *what)
{
	if (__atomic_exchange_n(&full_warned, 1, __ATOMIC_ACQ_REL) || !fl_log_on(FL_LOG_ERROR))
		return;
	char storage[200];
	struct fl_textbuf b;
	fl_log_begin(&b, storage, sizeof storage);
	fl_tb_puts(&b, "warning: ");
	fl_tb_puts(&b, what);
	fl_tb_puts(&b, ": further resolved names are not remembered, their connects see only address rules");
	fl_log_end(&b);
}

/* Under the lock: the index of name, appended if new; -1 when full. */
static int64_t name_index(const char *name, size_t len)
{
	uint32_t n = __atomic_load_n(&nnames, __ATOMIC_RELAXED);
	for (uint32_t i = 0; i < n; i++)
		if (names[i].len == len && memcmp(names[i].text, name, len) == 0)
			return i;
	if (n == NAMES_MAX) {
		warn_full("the table of host names is full (256)");
		return -1;
	}
	memcpy(names[n].text, name, len);
	names[n].text[len] = '\0';
	names[n].len = (uint16_t)len;
	__atomic_store_n(&nnames, n + 1, __ATOMIC_RELEASE);
	return n;
}

/* Under the lock. */
static void remember_addr(uint32_t name, const struct fl_dest *a)
{
	for (uint32_t i = fl_resolve_hash(a->family, a->addr), k = 0; k < ADDRS_MAX;
	     k++, i = (i + 1) & (ADDRS_MAX - 1)) {
		struct fl_resolve_slot *s = &fl_resolve_addrs[i];
		if (__atomic_load_n(&s->name_plus1, __ATOMIC_RELAXED) == 0) {
			if (__atomic_load_n(&fl_resolve_remembered, __ATOMIC_RELAXED) >= ADDRS_MAX / 4 * 3) {
				warn_full("the table of resolved addresses is full (768)");
				return;
			}
			s->family = a->family;
			memcpy(s->addr, a->addr, 16);
			__atomic_store_n(&s->name_plus1, name + 1, __ATOMIC_RELEASE);
			__atomic_fetch_add(&fl_resolve_remembered, 1, __ATOMIC_RELEASE);
			return;
		}
		if (s->family == a->family && memcmp(s->addr, a->addr, 16) == 0) {
			__atomic_store_n(&s->name_plus1, name + 1, __ATOMIC_RELEASE);
			return;
		}
	}
}

/* Remembers a list of sockaddrs (from getaddrinfo) or raw addresses. */
struct addr_list {
	const struct addrinfo *ai;
	char *const *raw; /* h_addr_list */
	int raw_af;
};

static bool next_addr(struct addr_list *l, struct fl_dest *out)
{
	while (l->ai) {
		const struct addrinfo *ai = l->ai;
		l->ai = ai->ai_next;
		if (ai->ai_addr && fl_dest_from_sockaddr(ai->ai_addr, ai->ai_addrlen, out) &&
		    out->family != FL_AF_UNIX)
			return true;
	}
	while (l->raw && *l->raw) {
		const char *a = *l->raw++;
		struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
		struct sockaddr_in s4 = {.sin_family = AF_INET};
		if (l->raw_af == AF_INET) {
			memcpy(&s4.sin_addr, a, 4);
			fl_dest_from_sockaddr((struct sockaddr *)&s4, sizeof s4, out);
		} else {
			memcpy(&s6.sin6_addr, a, 16);
			fl_dest_from_sockaddr((struct sockaddr *)&s6, sizeof s6, out);
		}
		return true;
	}
	return false;
}

static void remember(const char *name, size_t len, struct addr_list l)
{
	if (!lock_map())
		return;
	int64_t idx = name_index(name, len);
	struct fl_dest a;
	if (idx >= 0)
		while (next_addr(&l, &a))
			remember_addr((uint32_t)idx, &a);
	unlock_map();
}

/* ---- the ring: lookups kept raw until a name layer asks ---- */

/* A lookup's addresses, as the ring keeps them. */
struct raw_addrs {
	uint32_t n;
	uint8_t addr[RING_ADDRS][16]; /* as in struct ring_ent */
};

static inline bool addr_eq(const uint8_t *a, const uint8_t *b)
{
	uint64_t a0, a1, b0, b1;
	memcpy(&a0, a, 8);
	memcpy(&a1, a + 8, 8);
	memcpy(&b0, b, 8);
	memcpy(&b1, b + 8, 8);
	return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

/* memcmp(a, b, n) == 0 for a short n, inline (the call and the general
 * routine cost more than the comparison): loads never go beyond n bytes
 * of either, the last one overlapping the one before. */
static inline bool bytes_eq(const char *a, const char *b, size_t n)
{
	uint64_t x, y, d = 0;
	if (n >= 8) {
		size_t i = 0;
		for (; i + 8 < n; i += 8) {
			memcpy(&x, a + i, 8);
			memcpy(&y, b + i, 8);
			d |= x ^ y;
		}
		memcpy(&x, a + n - 8, 8);
		memcpy(&y, b + n - 8, 8);
		return (d | (x ^ y)) == 0;
	}
	for (size_t i = 0; i < n; i++)
		d |= (uint8_t)(a[i] ^ b[i]);
	return d == 0;
}

/* The same name, given the same way, with the same addresses, as the
 * entry written last: nothing new to keep. Without this a program that
 * resolves one name per request would push every other name out of the
 * ring (a pool that resolved its database once at start would lose it).
 * A racing writer can only make it answer false. */
static inline __attribute__((always_inline)) bool ring_repeat(const char *node, size_t len,
							      const struct raw_addrs *a)
{
	uint64_t h = __atomic_load_n(&ring_head, __ATOMIC_RELAXED);
	if (h == 0)
		return false;
	const struct ring_ent *e = &ring[(h - 1) & (RING_MAX - 1)];
	uint64_t s = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
	if (s != 2 * h || e->len != len || e->naddr != a->n)
		return false;
	for (uint32_t k = 0; k < a->n; k++)
		if (!addr_eq(e->addr[k], a->addr[k]))
			return false;
	if (!bytes_eq(e->name, node, len))
		return false;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(&e->seq, __ATOMIC_RELAXED) == s;
}

/* Keeps one lookup: claims the next position (one fetch-add) and its entry
 * (one CAS), copies, publishes; then pulls the tail back if a drain passed
 * the position meanwhile. Not kept: an address literal (ends in a digit;
 * other non-names fail to normalise at the drain), a repeat of the last
 * entry, or an entry another writer still holds (the ring lapped). */
static inline __attribute__((always_inline)) void ring_put(const char *node, size_t len,
							   const struct raw_addrs *a)
{
	if (len == SIZE_MAX)
		len = strlen(node);
	if (len == 0 || len > FL_NAME_MAX + 1 || (node[len - 1] >= '0' && node[len - 1] <= '9') ||
	    ring_repeat(node, len, a))
		return;
	uint64_t p = __atomic_fetch_add(&ring_head, 1, __ATOMIC_RELAXED);
	struct ring_ent *e = &ring[p & (RING_MAX - 1)];
	uint64_t s = __atomic_load_n(&e->seq, __ATOMIC_RELAXED);
	if ((s & 1u) || s > 2 * p ||
	    !__atomic_compare_exchange_n(&e->seq, &s, 2 * p + 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	e->len = (uint16_t)len;
	memcpy(e->name, node, len + 1);
	e->naddr = (uint8_t)a->n;
	memcpy(e->addr, a->addr, 16 * a->n);
	__atomic_store_n(&e->seq, 2 * p + 2, __ATOMIC_SEQ_CST);
	uint64_t t = __atomic_load_n(&ring_tail, __ATOMIC_SEQ_CST);
	while (FL_UNLIKELY(t > p) &&
	       !__atomic_compare_exchange_n(&ring_tail, &t, p, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
}

/* getaddrinfo's list: one address per run of equal sockaddrs (glibc gives
 * each address once per socket type, one after the other). */
/* len: strlen(node), or SIZE_MAX when not known yet. */
static inline __attribute__((always_inline)) void ring_put_ai(const char *node, size_t len,
							      const struct addrinfo *ai)
{
	struct raw_addrs a;
	a.n = 0;
	for (; ai && a.n < RING_ADDRS; ai = ai->ai_next) {
		const struct sockaddr *sa = ai->ai_addr;
		uint8_t *to = a.addr[a.n];
		if (sa == NULL)
			continue;
		if (sa->sa_family == AF_INET && ai->ai_addrlen >= sizeof(struct sockaddr_in)) {
			static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
			memcpy(to, mapped, 12);
			memcpy(to + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		} else if (sa->sa_family == AF_INET6 && ai->ai_addrlen >= sizeof(struct sockaddr_in6)) {
			memcpy(to, ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr, 16);
		} else {
			continue;
		}
		if (a.n == 0 || !addr_eq(a.addr[a.n - 1], to))
			a.n++;
	}
	ring_put(node, len, &a);
}

/* gethostbyname*'s h_addr_list. */
static void ring_put_raw(const char *node, char *const *raw, int af)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if ((af != AF_INET && af != AF_INET6) || raw == NULL)
		return;
	struct raw_addrs a;
	for (a.n = 0; *raw && a.n < RING_ADDRS; raw++, a.n++) {
		if (af == AF_INET6) {
			memcpy(a.addr[a.n], *raw, 16);
		} else {
			memcpy(a.addr[a.n], mapped, 12);
			memcpy(a.addr[a.n] + 12, *raw, 4);
		}
	}
	ring_put(node, SIZE_MAX, &a);
}

/* Under the lock: one complete entry into the map. */
static void ring_record(struct ring_ent *c)
{
	char name[FL_NAME_MAX + 1];
	c->name[sizeof c->name - 1] = '\0';
	size_t len = fl_name_normalise(c->name, name);
	if (len == 0)
		return;
	int64_t idx = name_index(name, len);
	for (uint32_t k = 0; idx >= 0 && k < c->naddr && k < RING_ADDRS; k++) {
		struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
		struct fl_dest a;
		memcpy(&s6.sin6_addr, c->addr[k], 16);
		if (fl_dest_from_sockaddr((struct sockaddr *)&s6, sizeof s6, &a)) /* ::ffff:x -> IPv4 */
			remember_addr((uint32_t)idx, &a);
	}
}

/* Moves the ring's new positions into the map, oldest first (so an
 * address two names gave belongs to the later one). Bounded: RING_MAX
 * entries at most. Async-signal-safe: no allocation, a bounded try-lock. */
static void ring_drain(void)
{
	if (!lock_map())
		return;
	uint64_t h = __atomic_load_n(&ring_head, __ATOMIC_SEQ_CST);
	uint64_t t = __atomic_exchange_n(&ring_tail, h, __ATOMIC_SEQ_CST);
	if (h - t > RING_MAX)
		t = h - RING_MAX;
	for (uint64_t p = t; p < h; p++) {
		const struct ring_ent *e = &ring[p & (RING_MAX - 1)];
		/* Not 2p+2: being written (its writer pulls the tail back),
		 * overwritten by a later lookup, or given up. */
		if (__atomic_load_n(&e->seq, __ATOMIC_SEQ_CST) != 2 * p + 2)
			continue;
		struct ring_ent c;
		uint64_t *dst = (uint64_t *)&c;
		const uint64_t *src = (const uint64_t *)e;
		for (size_t w = 0; w < sizeof c / 8; w++) /* word loads: a writer may be at it */
			dst[w] = __atomic_load_n(&src[w], __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&e->seq, __ATOMIC_RELAXED) == 2 * p + 2)
			ring_record(&c);
	}
	unlock_map();
}

void fl_resolve_fork_child(void)
{
	/* Any holder or writer was another thread of the parent: gone. */
	__atomic_store_n(&map_lock, 0, __ATOMIC_RELEASE);
	for (uint32_t i = 0; i < RING_MAX; i++) {
		uint64_t s = __atomic_load_n(&ring[i].seq, __ATOMIC_RELAXED);
		if (s & 1u)
			__atomic_store_n(&ring[i].seq, 0, __ATOMIC_RELEASE);
	}
}

bool fl_resolve_match_slow(struct fl_dest *d, struct fl_match *m, uint32_t i)
{
	if (d->family != FL_AF_INET4 && d->family != FL_AF_INET6)
		return false;
	for (uint32_t k = 0; k < ADDRS_MAX; k++, i = (i + 1) & (ADDRS_MAX - 1)) {
		const struct fl_resolve_slot *s = &fl_resolve_addrs[i];
		uint32_t n = __atomic_load_n(&s->name_plus1, __ATOMIC_ACQUIRE);
		if (n == 0)
			return false;
		if (s->family != d->family || memcmp(s->addr, d->addr, 16) != 0)
			continue;
		const struct name_rec *rec = &names[n - 1];
		if (!fl_match_add_name(&fl_state.rules, conn_rules, nconn_rules, rec->text, rec->len, d->port,
				       m))
			return false;
		d->name = rec->text;
		d->name_len = rec->len;
		return true;
	}
	return false;
}

bool fl_resolve_name_of(struct fl_dest *d)
{
	return fl_resolve_name_of_addr(d->family, d->addr, &d->name, &d->name_len);
}

bool fl_resolve_name_of_addr(uint8_t family, const uint8_t addr[16], const char **name, uint16_t *len)
{
	if (__atomic_load_n(&ring_head, __ATOMIC_SEQ_CST) != __atomic_load_n(&ring_tail, __ATOMIC_SEQ_CST))
		ring_drain();
	if (__atomic_load_n(&fl_resolve_remembered, __ATOMIC_RELAXED) == 0 ||
	    (family != FL_AF_INET4 && family != FL_AF_INET6))
		return false;
	for (uint32_t k = 0, i = fl_resolve_hash(family, addr); k < ADDRS_MAX;
	     k++, i = (i + 1) & (ADDRS_MAX - 1)) {
		const struct fl_resolve_slot *s = &fl_resolve_addrs[i];
		uint32_t n = __atomic_load_n(&s->name_plus1, __ATOMIC_ACQUIRE);
		if (n == 0)
			return false;
		if (s->family != family || memcmp(s->addr, addr, 16) != 0)
			continue;
		*name = names[n - 1].text;
		*len = names[n - 1].len;
		return true;
	}
	return false;
}

/* ---- what the rules say about one lookup ---- */

struct lookup {
	char name[FL_NAME_MAX + 1];
	size_t len;
	uint16_t port;		/* numeric service, else 0 */
	bool connect;		/* a connect statement covers the name: remember its addresses */
	int32_t override;	/* first resolve statement, -1 = none */
	struct fl_match faults; /* resolve faults covering it (port-checked) */
};

static uint16_t numeric_port(const char *service)
{
	if (service == NULL || *service == '\0')
		return 0;
	uint32_t v = 0;
	for (const char *p = service; *p; p++) {
		if (*p < '0' || *p > '9' || p - service > 5)
			return 0;
		v = v * 10 + (uint32_t)(*p - '0');
	}
	return v <= 65535 ? (uint16_t)v : 0;
}

/* The keys one by one (see name_keys), after the summaries let a name
 * of n bytes through. */
static __attribute__((noinline)) bool name_keys_match(size_t n, uint32_t tail)
{
	if (filter_off)
		return true;
	for (uint32_t k = 0; k < nname_rules; k++) {
		const struct name_key *key = &name_keys[k];
		if ((tail & key->mask) == key->tail && (key->wild ? n > key->len : n == key->len))
			return true;
	}
	return false;
}

/* The filter (see name_keys): false when no statement can be about node,
 * n bytes long. Inline: its usual answer (no) takes a few instructions. */
static inline bool name_filter(const char *node, size_t n)
{
	if (n > 0 && node[n - 1] == '.')
		n--;
	if (n < 4)
		return true;
	uint32_t tail;
	memcpy(&tail, node + n - 4, 4);
	tail = le32toh(tail) | 0x20202020u; /* the last byte highest */
	if ((!((key_lens >> (n & 63)) & 1) && n <= wild_min) || !((key_tails >> tail_hash(tail)) & 1))
		return false;
	return name_keys_match(n, tail);
}

static bool maybe_named(const char *node)
{
	return filter_off || name_filter(node, strlen(node));
}

static bool look_up(const char *node, const char *service, struct lookup *l)
{
	/* Only names the process's own statements may be about; a joined
	 * process keeps the others in the ring (keep_raw), for layers. */
	if (FL_LIKELY(nname_rules == 0) || node == NULL || in_resolver ||
	    !__atomic_load_n(&fl_state.active, __ATOMIC_ACQUIRE) || !maybe_named(node))
		return false;
	l->len = fl_name_normalise(node, l->name);
	if (l->len == 0)
		return false;
	l->port = numeric_port(service);
	l->connect = false;
	l->override = -1;
	l->faults.breaker = l->faults.bulkhead = l->faults.rate_limit = -1;
	l->faults.nfaults = 0;
	l->faults.ops = 0;
	l->faults.truncated = false;
	bool any = false;
	const struct fl_ruleset *rs = &fl_state.rules;
	for (uint32_t k = 0; k < nname_rules; k++) {
		uint32_t i = name_rules[k];
		const struct fl_rule *r = &rs->rules[i];
		if (!fl_name_match(&r->target, l->name, l->len))
			continue;
		if (r->kind == FL_KIND_RESOLVE) {
			if (l->override < 0)
				l->override = (int32_t)i;
		} else if (r->kind == FL_KIND_FAULT && (r->u.fault.ops & (1u << FL_OP_RESOLVE))) {
			if ((l->port >= r->target.port_lo && l->port <= r->target.port_hi) ||
			    (r->target.port_lo == 0 && r->target.port_hi == 65535)) {
				if (l->faults.nfaults < FL_MATCH_MAX_FAULTS && r->u.fault.threshold != 0)
					l->faults.faults[l->faults.nfaults++] = i;
			}
		}
		if (r->target.family == FL_AF_NAME && r->kind != FL_KIND_RESOLVE)
			l->connect = true;
		any = true;
	}
	/* Joined: a name the own statements are about is remembered at once
	 * (a layer may name it too). */
	if (any && __atomic_load_n(&fl_layers_joined, __ATOMIC_RELAXED))
		l->connect = true;
	return any;
}

/* A lookup no own statement is about, in a process joined to a domain:
 * keep it raw in the ring (a layer applied at any time may name it). */
static bool keep_raw(const char *node)
{
	return FL_UNLIKELY(__atomic_load_n(&fl_layers_joined, __ATOMIC_RELAXED)) && node != NULL &&
	       !in_resolver;
}

static int sleep_through(uint32_t ms)
{
	struct timespec deadline;
	fl_deadline_after_ms(&deadline, ms);
	/* A lookup is not a call a signal ends: sleep the whole delay. The
	 * loop ends at the deadline however many signals arrive. */
	while (fl_sleep_until(&deadline) == EINTR && !fl_deadline_passed(&deadline))
		;
	return 0;
}

static void log_resolve(const struct lookup *l, const struct fl_fault_decision *f)
{
	char storage[400];
	struct fl_textbuf b;
	fl_log_begin(&b, storage, sizeof storage);
	fl_tb_puts(&b, "resolve ");
	fl_tb_puts(&b, l->name);
	if (f->delay_ms) {
		fl_tb_puts(&b, ": delay ");
		fl_tb_putu(&b, f->delay_ms);
		fl_tb_puts(&b, " ms");
	}
	if (f->error) {
		const char *name = fl_eai_name(f->error);
		fl_tb_puts(&b, ": error ");
		fl_tb_puts(&b, name ? name : "?");
	}
	fl_log_end(&b);
}

/* The resolve faults of the lookup: counted in the name's entry, first
 * that fires wins. Returns the resolver error to answer with, or 0. */
static int resolve_faults(struct lookup *l)
{
	if (l->faults.nfaults == 0)
		return 0;
	struct fl_dest d;
	memset(&d, 0, sizeof d);
	d.family = FL_AF_NAME;
	d.port = l->port;
	d.name = l->name;
	d.name_len = (uint16_t)l->len;
	struct fl_plan plan;
	fl_domain_plan(&d, &l->faults, &plan);
	struct fl_seg_op_stats *s = plan.stats ? &plan.stats->ops[FL_OP_RESOLVE] : NULL;
	if (s)
		ADD(&s->calls, 1);
	for (uint32_t k = 0; k < l->faults.nfaults; k++) {
		uint32_t i = l->faults.faults[k];
		struct fl_fault_decision f;
		if (!fl_fault_decide(&fl_state.rules.rules[i].u.fault, &fl_state.counters[i], fl_thread_rng(),
				     &f))
			continue;
		if (s && f.error)
			ADD(&s->errors_injected, 1);
		if (s && f.delay_ms) {
			ADD(&s->delays_injected, 1);
			ADD(&s->delay_ms_total, f.delay_ms);
		}
		if (fl_log_on(FL_LOG_DEBUG))
			log_resolve(l, &f);
		if (f.delay_ms)
			sleep_through(f.delay_ms);
		return f.error;
	}
	return 0;
}

/* ---- overrides: getaddrinfo ---- */

static const struct fl_resolve_params *override_of(const struct lookup *l)
{
	return l->override >= 0 ? &fl_state.rules.rules[l->override].u.resolve : NULL;
}

/* The service's port for a socket type, as getaddrinfo would find it. */
static int service_port(const char *service, int flags, int socktype, uint16_t *port)
{
	*port = 0;
	if (service == NULL || *service == '\0')
		return 0;
	char *end;
	unsigned long v = strtoul(service, &end, 10);
	if (*end == '\0') {
		if (v > 65535)
			return EAI_SERVICE;
		*port = (uint16_t)v;
		return 0;
	}
	if (flags & AI_NUMERICSERV)
		return EAI_NONAME;
	struct servent se, *found = NULL;
	char buf[1024];
	const char *proto = socktype == SOCK_DGRAM ? "udp" : "tcp";
	if (getservbyname_r(service, proto, &se, buf, sizeof buf, &found) != 0 || found == NULL)
		return EAI_SERVICE;
	*port = ntohs((uint16_t)found->s_port);
	return 0;
}

struct socktype {
	int type, protocol;
};

static size_t socktypes_of(const struct addrinfo *hints, struct socktype out[3])
{
	int type = hints ? hints->ai_socktype : 0;
	int protocol = hints ? hints->ai_protocol : 0;
	if (type != 0) {
		if (protocol == 0)
			protocol = type == SOCK_STREAM ? IPPROTO_TCP : type == SOCK_DGRAM ? IPPROTO_UDP : 0;
		out[0] = (struct socktype){type, protocol};
		return 1;
	}
	/* glibc's order for no socket type: stream, datagram, raw */
	size_t n = 0;
	if (protocol == 0 || protocol == IPPROTO_TCP)
		out[n++] = (struct socktype){SOCK_STREAM, IPPROTO_TCP};
	if (protocol == 0 || protocol == IPPROTO_UDP)
		out[n++] = (struct socktype){SOCK_DGRAM, IPPROTO_UDP};
	if (protocol == 0)
		out[n++] = (struct socktype){SOCK_RAW, 0};
	return n;
}

/* One node: the addrinfo and its sockaddr in one block (see the top). */
static struct addrinfo *new_node(int family, const uint8_t *addr, bool mapped, uint16_t port,
				 const struct socktype *st)
{
	struct addrinfo *ai = calloc(1, sizeof *ai + sizeof(struct sockaddr_in6));
	if (ai == NULL)
		return NULL;
	ai->ai_family = family;
	ai->ai_socktype = st->type;
	ai->ai_protocol = st->protocol;
	ai->ai_addr = (struct sockaddr *)(ai + 1);
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)ai->ai_addr;
		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		memcpy(&s->sin_addr, addr, 4);
		ai->ai_addrlen = sizeof *s;
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)ai->ai_addr;
		s->sin6_family = AF_INET6;
		s->sin6_port = htons(port);
		if (mapped) {
			s->sin6_addr.s6_addr[10] = s->sin6_addr.s6_addr[11] = 0xff;
			memcpy(s->sin6_addr.s6_addr + 12, addr, 4);
		} else {
			memcpy(&s->sin6_addr, addr, 16);
		}
		ai->ai_addrlen = sizeof *s;
	}
	return ai;
}

static void free_nodes(struct addrinfo *ai)
{
	while (ai) {
		struct addrinfo *next = ai->ai_next;
		free(ai->ai_canonname);
		free(ai);
		ai = next;
	}
}

/* Does the override give an address of family af (FL_AF_*)? */
static bool has_family(const struct fl_resolve_params *o, uint8_t af)
{
	for (uint32_t i = 0; i < o->count; i++)
		if (o->addrs[i].family == af)
			return true;
	return false;
}

static int override_gai(const struct fl_resolve_params *o, const char *node, const char *service,
			const struct addrinfo *hints, struct addrinfo **res)
{
	int family = hints ? hints->ai_family : AF_UNSPEC;
	int flags = hints ? hints->ai_flags : 0;
	if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6)
		return EAI_FAMILY;
	/* AI_V4MAPPED: an IPv6 caller gets IPv4 addresses mapped when there is no
	 * IPv6 one (or always, with AI_ALL). */
	bool map4 =
	    family == AF_INET6 && (flags & AI_V4MAPPED) && ((flags & AI_ALL) || !has_family(o, FL_AF_INET6));
	struct socktype st[3];
	size_t nst = socktypes_of(hints, st);
	struct addrinfo *head = NULL, **tail = &head;
	for (uint32_t i = 0; i < o->count; i++) {
		bool v4 = o->addrs[i].family == FL_AF_INET4;
		bool mapped = v4 && map4;
		if ((family == AF_INET && !v4) || (family == AF_INET6 && v4 && !mapped))
			continue;
		for (size_t k = 0; k < nst; k++) {
			uint16_t port;
			int err = service_port(service, flags, st[k].type, &port);
			if (err) {
				free_nodes(head);
				return err;
			}
			struct addrinfo *ai = new_node(v4 && !mapped ? AF_INET : AF_INET6, o->addrs[i].addr,
						       mapped, port, &st[k]);
			if (ai == NULL) {
				free_nodes(head);
				return EAI_MEMORY;
			}
			*tail = ai;
			tail = &ai->ai_next;
		}
	}
	if (head == NULL)
		return family == AF_UNSPEC ? EAI_NONAME : EAI_ADDRFAMILY;
	if (flags & AI_CANONNAME) {
		head->ai_canonname = strdup(node);
		if (head->ai_canonname == NULL) {
			free_nodes(head);
			return EAI_MEMORY;
		}
	}
	*res = head;
	return 0;
}

/* A lookup no own statement covers, in a joined process: the real one,
 * then the ring. */
static inline int gai_raw(gai_fn *real, const char *node, size_t len, const char *service,
			  const struct addrinfo *hints, struct addrinfo **res)
{
	in_resolver++;
	int rc = real(node, service, hints, res);
	in_resolver--;
	if (rc == 0)
		ring_put_ai(node, len, *res); /* touches no errno */
	return rc;
}

/* A name the filter lets through: faults, override, remember. */
static __attribute__((noinline)) int gai_covered(gai_fn *real, const char *node, const char *service,
						 const struct addrinfo *hints, struct addrinfo **res)
{
	struct lookup l;
	if (!look_up(node, service, &l)) {
		if (!keep_raw(node))
			return real(node, service, hints, res);
		return gai_raw(real, node, SIZE_MAX, service, hints, res);
	}
	int saved = errno;
	int err = resolve_faults(&l);
	if (err) {
		errno = err == EAI_SYSTEM ? EIO : saved;
		return err;
	}
	const struct fl_resolve_params *o = override_of(&l);
	int rc;
	if (o) {
		rc = override_gai(o, node, service, hints, res);
	} else {
		in_resolver++;
		rc = real(node, service, hints, res);
		in_resolver--;
	}
	saved = errno;
	if (rc == 0 && l.connect)
		remember(l.name, l.len, (struct addr_list){.ai = *res});
	errno = saved;
	return rc;
}

FL_EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
			  struct addrinfo **res)
{
	gai_fn *real = REAL(real_gai, gai_fn, "getaddrinfo");
	size_t len = SIZE_MAX; /* strlen(node) once known, for the ring */
	if (FL_UNLIKELY(nname_rules != 0)) {
		/* The process has statements on names: the filter first, here
		 * (a call to a function of its own costs more than it does);
		 * what it lets through goes out of line (a large frame). A
		 * nested lookup or an inactive shim may take the filter too:
		 * look_up would not cover the name, keep_raw decides as there. */
		if (node == NULL)
			return gai_covered(real, node, service, hints, res);
		len = strlen(node);
		if (name_filter(node, len))
			return gai_covered(real, node, service, hints, res);
	}
	if (FL_LIKELY(!keep_raw(node)))
		return real(node, service, hints, res);
	return gai_raw(real, node, len, service, hints, res);
}

/* ---- gethostbyname* ---- */

/* Storage for a hostent answered from an override. */
struct host_buf {
	char name[FL_NAME_MAX + 1];
	char *aliases[1];
	char *addr_list[FL_RESOLVE_MAX + 1];
	uint8_t addrs[FL_RESOLVE_MAX][16];
};

static TLS struct hostent tls_host;
static TLS char tls_host_buf[sizeof(struct host_buf) + _Alignof(struct host_buf)];

/* Fills *h from an override into b (a host_buf-shaped area of buflen
 * bytes): 0, ENOENT with *herr when it has no address of af, ERANGE. */
static int override_host(const struct fl_resolve_params *o, const char *node, int af, struct hostent *h,
			 char *buf, size_t buflen, int *herr)
{
	af = af == AF_INET6 ? AF_INET6 : AF_INET; /* gethostbyname: IPv4 */
	uint8_t want = af == AF_INET6 ? FL_AF_INET6 : FL_AF_INET4;
	size_t need = sizeof(struct host_buf) + _Alignof(struct host_buf);
	if (buflen < need) {
		*herr = NETDB_INTERNAL; /* as glibc: the caller retries with a larger buffer */
		return ERANGE;
	}
	struct host_buf *b = (struct host_buf *)(((uintptr_t)buf + _Alignof(struct host_buf) - 1) &
						 ~(uintptr_t)(_Alignof(struct host_buf) - 1));
	size_t n = 0, len = strlen(node);
	if (len > FL_NAME_MAX)
		len = FL_NAME_MAX;
	memcpy(b->name, node, len);
	b->name[len] = '\0';
	b->aliases[0] = NULL;
	for (uint32_t i = 0; i < o->count; i++) {
		if (o->addrs[i].family != want)
			continue;
		memcpy(b->addrs[n], o->addrs[i].addr, 16);
		b->addr_list[n] = (char *)b->addrs[n];
		n++;
	}
	b->addr_list[n] = NULL;
	if (n == 0) {
		*herr = NO_DATA;
		return ENOENT;
	}
	h->h_name = b->name;
	h->h_aliases = b->aliases;
	h->h_addrtype = af;
	h->h_length = af == AF_INET6 ? 16 : 4;
	h->h_addr_list = b->addr_list;
	return 0;
}

/*
 * The shared body of the four: faults, then the override, else the real
 * call (call_real), then remember. Returns the _r convention: 0 with
 * *result set or NULL, or an errno; *herr the h_errno.
 */
struct host_call {
	const char *name;
	int af;
	struct hostent *h;
	char *buf;
	size_t buflen;
	struct hostent **result;
	int *herr;
	int (*call_real)(struct host_call *);
	void *real;
};

static int host_lookup(struct host_call *c)
{
	struct lookup l;
	if (FL_LIKELY(!look_up(c->name, NULL, &l))) {
		if (!keep_raw(c->name))
			return c->call_real(c);
		in_resolver++;
		int rc = c->call_real(c);
		in_resolver--;
		if (*c->result)
			ring_put_raw(c->name, (*c->result)->h_addr_list, (*c->result)->h_addrtype);
		return rc;
	}
	int err = resolve_faults(&l);
	if (err) {
		*c->result = NULL;
		*c->herr = fl_eai_h_errno(err);
		return *c->herr == TRY_AGAIN ? EAGAIN : ENOENT;
	}
	const struct fl_resolve_params *o = override_of(&l);
	int rc;
	if (o) {
		rc = override_host(o, c->name, c->af, c->h, c->buf, c->buflen, c->herr);
		*c->result = rc == 0 ? c->h : NULL;
	} else {
		in_resolver++;
		rc = c->call_real(c);
		in_resolver--;
	}
	if (*c->result && l.connect)
		remember(
		    l.name, l.len,
		    (struct addr_list){.raw = (*c->result)->h_addr_list, .raw_af = (*c->result)->h_addrtype});
	return rc;
}

static int call_ghbn2_r(struct host_call *c)
{
	ghbn2_r_fn *f = c->real;
	return f(c->name, c->af, c->h, c->buf, c->buflen, c->result, c->herr);
}

static int call_ghbn_r(struct host_call *c)
{
	ghbn_r_fn *f = c->real;
	return f(c->name, c->h, c->buf, c->buflen, c->result, c->herr);
}

/* The non-_r forms: the real one's static result, or ours. */
static int call_static(struct host_call *c)
{
	struct hostent *h =
	    c->af == -1 ? ((ghbn_fn *)c->real)(c->name) : ((ghbn2_fn *)c->real)(c->name, c->af);
	*c->result = h;
	*c->herr = h ? 0 : h_errno;
	return h ? 0 : ENOENT;
}

FL_EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf, size_t buflen,
			       struct hostent **result, int *h_errnop)
{
	struct host_call c = {name,	af,	      ret,
			      buf,	buflen,	      result,
			      h_errnop, call_ghbn2_r, REAL(real_ghbn2_r, ghbn2_r_fn, "gethostbyname2_r")};
	return host_lookup(&c);
}

FL_EXPORT int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
			      struct hostent **result, int *h_errnop)
{
	struct host_call c = {name,	AF_INET,     ret,
			      buf,	buflen,	     result,
			      h_errnop, call_ghbn_r, REAL(real_ghbn_r, ghbn_r_fn, "gethostbyname_r")};
	return host_lookup(&c);
}

static struct hostent *host_static(const char *name, int af, void *real)
{
	struct hostent *result = NULL;
	int herr = 0;
	struct host_call c = {name,    af,    &tls_host,   tls_host_buf, sizeof tls_host_buf,
			      &result, &herr, call_static, real};
	int saved = errno;
	host_lookup(&c);
	if (result == NULL)
		h_errno = herr;
	errno = saved;
	return result;
}

FL_EXPORT struct hostent *gethostbyname(const char *name)
{
	return host_static(name, -1, REAL(real_ghbn, ghbn_fn, "gethostbyname"));
}

FL_EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
	return host_static(name, af, REAL(real_ghbn2, ghbn2_fn, "gethostbyname2"));
}

/* ---- breaker fallbacks given as NAME:PORT (SPEC 11) ----
 *
 * Resolved once, here at start-up (fl_resolve_setup, from the shim's
 * constructor, before the program runs and before the shim is active), not
 * at failover: the connect path must stay async-signal-safe and must not
 * allocate, and getaddrinfo is neither. A `resolve` override of this
 * process's rules answers first, else the real getaddrinfo (the system's
 * resolver: /etc/hosts, DNS). The first IPv4 address is kept (an IPv4
 * fallback serves IPv4 and IPv6 sockets), else the first IPv6 one; the
 * rule's fallback then holds that address, so the breaker entry in shared
 * memory does too. The name's addresses are remembered in the map, so
 * the fallback connect matches the name's own statements. A name that does
 * not resolve leaves the breaker without a fallback (its connects are
 * refused as without one), with an error-level message. The name is
 * resolved once per process (exec starts again; fork keeps the parent's):
 * a name whose address changes later is not followed.
 */

static void fallback_warn(const struct fl_rule *r, const char *why)
{
	if (!fl_log_on(FL_LOG_ERROR))
		return;
	char storage[400];
	struct fl_textbuf b;
	fl_log_begin(&b, storage, sizeof storage);
	fl_tb_puts(&b, "warning: fallback ");
	fl_tb_puts(&b, r->fallback_name);
	fl_tb_putc(&b, ':');
	fl_tb_putu(&b, r->u.breaker.fallback.port);
	fl_tb_puts(&b, " does not resolve (");
	fl_tb_puts(&b, why);
	fl_tb_puts(&b, "): that breaker has no fallback, its rejected connects are refused");
	fl_log_end(&b);
}

static bool take_addr(struct fl_fallback *f, uint8_t family, const uint8_t *addr)
{
	if (f->family == FL_AF_INET4 || (f->family == FL_AF_INET6 && family != FL_AF_INET4))
		return false; /* keep the first IPv4, else the first IPv6 */
	f->family = family;
	memset(f->addr, 0, sizeof f->addr);
	memcpy(f->addr, addr, family == FL_AF_INET4 ? 4 : 16);
	return family == FL_AF_INET4;
}

static void resolve_fallback(struct fl_rule *r)
{
	struct fl_fallback *f = &r->u.breaker.fallback;
	struct fl_fallback got = {.family = 0, .port = f->port};
	size_t len = strlen(r->fallback_name);
	const struct fl_ruleset *rs = &fl_state.rules;
	for (uint32_t i = 0; i < rs->count; i++) {
		const struct fl_rule *o = &rs->rules[i];
		if (o->kind != FL_KIND_RESOLVE || !fl_name_match(&o->target, r->fallback_name, len))
			continue;
		for (uint32_t k = 0; k < o->u.resolve.count && k < FL_RESOLVE_MAX; k++)
			if (take_addr(&got, o->u.resolve.addrs[k].family, o->u.resolve.addrs[k].addr))
				break;
		break; /* the first override is the name's, as in getaddrinfo */
	}
	struct addrinfo *res = NULL;
	if (got.family == 0) {
		struct addrinfo hints;
		memset(&hints, 0, sizeof hints);
		hints.ai_socktype = SOCK_STREAM;
		gai_fn *real = REAL(real_gai, gai_fn, "getaddrinfo");
		in_resolver++;
		int rc = real ? real(r->fallback_name, NULL, &hints, &res) : EAI_SYSTEM;
		in_resolver--;
		if (rc != 0) {
			const char *name = fl_eai_name(rc);
			fallback_warn(r, name ? name : "no answer");
			f->family = 0; /* none: refused as without a fallback */
			return;
		}
		struct addr_list l = {.ai = res};
		struct fl_dest a;
		while (next_addr(&l, &a))
			if (take_addr(&got, a.family, a.addr))
				break;
	}
	if (got.family == 0) {
		fallback_warn(r, "no IPv4 or IPv6 address");
		f->family = 0;
	} else {
		*f = got;
		if (lock_map()) { /* the name's statements cover the fallback connect */
			int64_t idx = name_index(r->fallback_name, len);
			if (idx >= 0) {
				struct fl_dest a;
				memset(&a, 0, sizeof a);
				a.family = got.family;
				memcpy(a.addr, got.addr, 16);
				remember_addr((uint32_t)idx, &a);
			}
			unlock_map();
		}
	}
	if (res)
		freeaddrinfo(res);
}

static void resolve_fallbacks(void)
{
	struct fl_ruleset *rs = &fl_state.rules;
	for (uint32_t i = 0; i < rs->count; i++)
		if (rs->rules[i].kind == FL_KIND_BREAKER &&
		    rs->rules[i].u.breaker.fallback.family == FL_AF_NAME)
			resolve_fallback(&rs->rules[i]);
}
