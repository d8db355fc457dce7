/*
 * fuzz_segment.c - a domain's segment as an attacker (or a crash half-way
 * through an update) could leave it, read by the CLI and used by the shim.
 *
 * The image is exactly fl_seg_size(CAP) bytes of heap, so AddressSanitizer
 * sees any read or write past its end. It starts as a freshly formatted
 * segment (optionally populated the way the shim populates one: a
 * destination entry with breaker and bulkhead, a scope=rule entry, this
 * process registered, a bulkhead slot held); the input is then XORed onto
 * it, so an all-zero input is a valid segment and every mutation is a
 * corruption of one.
 *
 * Input:
 *   byte 0      flags: REPAIR (after the XOR, put magic, version and every
 *               size back, so validation passes and the deeper code runs),
 *               SHIM (also run what the shim does on an attached segment),
 *               POPULATE (start from a populated segment), SIZE (validate
 *               with a fuzzed size instead of the true one)
 *   4 bytes     the fuzzed size (used with SIZE)
 *   header      XOR onto struct fl_seg_header
 *   entries     XOR onto the CAP entries
 *   patches     until the end: 1 byte table (even: process, odd: holder),
 *               2 bytes index, then that record's bytes, XORed on
 *
 * Properties: fl_seg_validate refuses every header it cannot trust with a
 * message; fl_snapshot_take either refuses with a message or yields a
 * snapshot that every report formats within bounds, the JSON form being
 * valid JSON; the shim's operations (lookup, breaker, bulkhead, process
 * registry) terminate and stay inside the image.
 */
#include <sys/types.h>
#include <unistd.h>

#include "../unit/json_check.h"
#include "breaker.h"
#include "bulkhead.h"
#include "fuzz_common.h"
#include "procreg.h"
#include "reader.h"
#include "report.h"
#include "segment.h"

#define CAP	   4u
#define NOW_MS	   1764222000000ULL
#define NOW_NS	   5000000000000ULL
#define F_REPAIR   0x01
#define F_SHIM	   0x02
#define F_POPULATE 0x04
#define F_SIZE	   0x08

static void xor_onto(void *dst, const uint8_t **p, const uint8_t *end, size_t n)
{
	uint8_t *d = dst;
	for (size_t i = 0; i < n && *p < end; i++, (*p)++)
		d[i] ^= **p;
}

static void init_parts(struct fl_seg_entry *e, void *arg)
{
	(void)arg;
	struct fl_rule r;
	e->created_ms = NOW_MS - 1000;
	fl_rule_defaults(&r, FL_KIND_BREAKER);
	fl_breaker_init(&e->breaker, &r.u.breaker, NOW_MS - 900);
	snprintf(e->breaker_rule, sizeof(e->breaker_rule), "127.0.0.1:6379 breaker");
	e->has_breaker = 2;
	fl_rule_defaults(&r, FL_KIND_BULKHEAD);
	r.u.bulkhead.max_concurrent_requests = 2;
	fl_bulkhead_init(&e->bulkhead, &r.u.bulkhead);
	snprintf(e->bulkhead_rule, sizeof(e->bulkhead_rule), "127.0.0.1:6379 bulkhead");
	e->has_bulkhead = 2;
}

static void dest_key(struct fl_seg_key *k, uint16_t port)
{
	struct fl_dest d;
	memset(&d, 0, sizeof(d));
	d.family = FL_AF_INET4;
	d.port = port;
	d.addr[0] = 127, d.addr[3] = 1;
	fl_seg_key_dest(k, &d);
}

static void rule_key(struct fl_seg_key *k)
{
	struct fl_target t;
	const char *why;
	if (fl_target_parse("10.0.0.0/8", 10, &t, &why) < 0)
		abort();
	fl_seg_key_rule(k, &t);
}

/* What a shim would have left: two entries, itself registered, one slot held. */
static void populate(struct fl_seg *seg)
{
	struct fl_seg_key k;
	dest_key(&k, 6379);
	struct fl_seg_entry *e = fl_seg_lookup(seg, &k, init_parts, NULL);
	rule_key(&k);
	fl_seg_lookup(seg, &k, init_parts, NULL);
	/* A registered process record, as the shim writes it (pid of this
	 * process, so a reaper leaves it alone). */
	uint32_t proc = fl_proc_register(seg, getpid(), fl_proc_start_ticks(getpid()), "fuzz", NOW_MS);
	uint32_t holder;
	if (e)
		fl_bulkhead_acquire(seg, e, proc, false, &holder);
}

static void repair(struct fl_seg_header *h)
{
	h->magic = FL_SEG_MAGIC;
	h->version = FL_SEG_VERSION;
	h->header_size = FL_SEG_HEADER_SIZE;
	h->total_size = fl_seg_size(CAP);
	h->capacity = CAP;
	h->proc_capacity = FL_SEG_PROCS;
	h->holder_capacity = fl_seg_holder_capacity(CAP);
	h->entry_size = sizeof(struct fl_seg_entry);
	h->proc_size = sizeof(struct fl_seg_proc);
	h->holder_size = sizeof(struct fl_seg_holder);
}

static void report_all(const struct fl_snapshot *snap)
{
	struct fl_out o;
	fl_out_init(&o);
	fl_report_json(&o, snap);
	FUZZ_CHECK(!o.failed, "out of memory formatting JSON");
	FUZZ_CHECK(o.len > 0 && strlen(o.p) == o.len, "JSON length %zu", o.len);
	FUZZ_CHECK(json_valid(o.p), "stats --json is not valid JSON:\n%s", o.p);
	fl_out_reset(&o);
	fl_report_table(&o, snap, NULL);
	struct fl_table_style style = {.width = 40, .max_rows = 1, .colour = true};
	fl_report_table(&o, snap, &style);
	fl_out_reset(&o);
	fl_report_prometheus(&o, snap);
	fl_out_reset(&o);
	bool alive[FL_SEG_PROCS];
	for (size_t i = 0; i < snap->nprocs && i < FL_SEG_PROCS; i++)
		alive[i] = i % 2;
	fl_report_ps(&o, snap, alive, false);
	fl_out_reset(&o);
	fl_report_ps(&o, snap, alive, true);
	FUZZ_CHECK(json_valid(o.p), "ps --json is not valid JSON:\n%s", o.p);
	fl_out_free(&o);
}

/* What an attached shim does: find or create entries, pass the breaker and
 * the bulkhead, register, fork and reap. Must terminate, stay in bounds. */
static void shim_ops(struct fl_seg *seg, uint16_t holder_arg)
{
	struct fl_seg_key k;
	dest_key(&k, 6379);
	struct fl_seg_entry *e = fl_seg_lookup(seg, &k, init_parts, NULL);
	dest_key(&k, 80);
	struct fl_seg_entry *fresh = fl_seg_lookup(seg, &k, init_parts, NULL);
	rule_key(&k);
	(void)fl_seg_lookup(seg, &k, init_parts, NULL);
	for (uint32_t i = 0; i <= CAP; i++)
		(void)fl_seg_entry_at(seg, i);
	pid_t pid = getpid();
	uint32_t proc = fl_proc_register(seg, pid, fl_proc_start_ticks(pid), "fuzz shim", NOW_MS);
	FUZZ_CHECK(proc == FL_PROC_NONE || proc < FL_SEG_PROCS, "process index %u", proc);
	struct fl_seg_entry *targets[2] = {e, fresh};
	for (int t = 0; t < 2; t++) {
		struct fl_seg_entry *x = targets[t];
		if (!x)
			continue;
		struct fl_permit permit;
		if (fl_breaker_admit(&x->breaker, NOW_NS, NOW_MS, &permit))
			fl_breaker_record(&x->breaker, &permit, true, NOW_NS, NOW_MS);
		if (fl_breaker_admit(&x->breaker, NOW_NS + 1, NOW_MS, &permit))
			fl_breaker_cancel(&x->breaker, &permit);
		uint64_t calls, failures;
		fl_breaker_window(&x->breaker, NOW_MS, &calls, &failures);
		uint32_t holder = FL_HOLDER_NONE;
		if (fl_bulkhead_acquire(seg, x, proc, false, &holder) == FL_BULKHEAD_ACQUIRED) {
			FUZZ_CHECK(holder == FL_HOLDER_NONE || holder < seg->holder_capacity, "holder %u",
				   holder);
			fl_bulkhead_reserve(seg, holder);
			uint32_t child = fl_bulkhead_adopt(seg, holder, proc);
			fl_bulkhead_release(seg, x, child);
			(void)fl_bulkhead_holder_entry(seg, holder);
			fl_bulkhead_release(seg, x, holder);
		}
	}
	/* A holder index as a corrupt connection might carry it. */
	fl_bulkhead_reserve(seg, holder_arg);
	fl_bulkhead_unreserve(seg, holder_arg);
	(void)fl_bulkhead_holder_entry(seg, holder_arg);
	if (proc != FL_PROC_NONE) {
		uint32_t gen = seg->procs[proc].generation;
		uint32_t shares[8];
		uint32_t n = fl_bulkhead_shares_of(seg, proc, gen, shares, 8);
		for (uint32_t i = 0; i < n && i < 8; i++)
			FUZZ_CHECK(shares[i] < seg->holder_capacity, "share %u", shares[i]);
		(void)fl_bulkhead_release_proc(seg, proc, gen);
	}
	(void)fl_bulkhead_reclaim_dead(seg);
	fl_bulkhead_reclaim_proc(seg, proc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	if (size < 1)
		return 0;
	uint8_t flags = *p++;
	uint32_t fuzzed_size = 0;
	for (int i = 0; i < 4 && p < end; i++)
		fuzzed_size |= (uint32_t)*p++ << (8 * i);

	size_t full = fl_seg_size(CAP);
	uint8_t *mem = calloc(1, full);
	if (!mem)
		abort();
	struct fl_seg seg;
	struct fl_diag *d = calloc(1, sizeof(*d));
	if (!d)
		abort();
	fl_seg_format(mem, CAP, "fuzz", NOW_MS - 5000, 1234);
	if (flags & F_POPULATE) {
		if (fl_seg_validate(mem, full, &seg, "fuzz", d) < 0)
			abort();
		populate(&seg);
	}
	struct fl_seg_header *h = (struct fl_seg_header *)mem;
	xor_onto(h, &p, end, sizeof(*h));
	xor_onto(mem + FL_SEG_HEADER_SIZE, &p, end, CAP * sizeof(struct fl_seg_entry));
	struct fl_seg_proc *procs =
	    (struct fl_seg_proc *)(mem + FL_SEG_HEADER_SIZE + CAP * sizeof(struct fl_seg_entry));
	struct fl_seg_holder *holders = (struct fl_seg_holder *)(procs + FL_SEG_PROCS);
	uint16_t holder_arg = 0;
	while (end - p >= 3) {
		uint8_t table = p[0];
		uint16_t index = (uint16_t)(p[1] | p[2] << 8);
		p += 3;
		holder_arg = index;
		if (table % 2 == 0)
			xor_onto(&procs[index % FL_SEG_PROCS], &p, end, sizeof(struct fl_seg_proc));
		else
			xor_onto(&holders[index % fl_seg_holder_capacity(CAP)], &p, end,
				 sizeof(struct fl_seg_holder));
	}
	if (flags & F_REPAIR)
		repair(h);

	size_t used = (flags & F_SIZE) && fuzzed_size < full ? fuzzed_size : full;
	fl_diag_clear(d);
	int rc = fl_seg_validate(mem, used, &seg, "fuzz", d);
	fuzz_check_diag(d->error, sizeof(d->error), rc);
	if (rc == 0) {
		FUZZ_CHECK(seg.size == used && seg.capacity == CAP, "validated %zu bytes, capacity %u",
			   seg.size, seg.capacity);
		struct fl_snapshot snap;
		fl_diag_clear(d);
		int rs = fl_snapshot_take(&seg, NOW_MS, "fuzz", &snap, d);
		fuzz_check_diag(d->error, sizeof(d->error), rs);
		if (rs == 0) {
			FUZZ_CHECK(snap.nentries <= CAP && snap.nprocs <= FL_SEG_PROCS,
				   "%zu entries, %zu procs", snap.nentries, snap.nprocs);
			report_all(&snap);
			fl_snapshot_free(&snap);
		}
		if (flags & F_SHIM)
			shim_ops(&seg, (uint16_t)(holder_arg ^ (flags >> 4)));
	}
	free(d);
	free(mem);
	return 0;
}
