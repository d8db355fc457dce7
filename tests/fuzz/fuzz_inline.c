/*
 * fuzz_inline.c - the inline rule parser (FAULTLINE_RULES, --rules) and
 * what the shim does with its result on every connect.
 *
 * Input: rule text, then optionally a NUL byte and the bytes of a
 * sockaddr (the first two are its family, as the kernel lays it out).
 *
 * Properties, beyond "no crash, no sanitizer report":
 *   - an error always comes with one terminated, non-empty message;
 *   - a rule set that parses prints back (fl_ruleset_format, what
 *     `faultline check` shows) as text that parses again to the same
 *     number of statements and prints identically: the canonical form is a
 *     fixed point;
 *   - matching any destination (the fuzzed sockaddr and a few fixed ones)
 *     gives rule indices inside the set, and formatting that destination,
 *     its segment key and every fault decision stay in bounds.
 */
#include <netinet/in.h>
#include <sys/un.h>

#include "fault.h"
#include "fuzz_common.h"
#include "match.h"
#include "rng.h"
#include "rules.h"
#include "segment.h"
#include "target.h"

#define INPUT_MAX 16384

static char *format_rules(const struct fl_ruleset *rs)
{
	size_t need = fl_ruleset_format(rs, NULL, 0);
	char *buf = malloc(need + 1);
	if (!buf)
		abort();
	size_t again = fl_ruleset_format(rs, buf, need + 1);
	FUZZ_CHECK(again == need, "format size changed: %zu then %zu", need, again);
	FUZZ_CHECK(strlen(buf) == need, "formatted length %zu, reported %zu", strlen(buf), need);
	return buf;
}

static void check_match(const struct fl_ruleset *rs, const struct fl_dest *d)
{
	struct fl_match m;
	char text[FL_DEST_STR_MAX + 8];
	size_t n = fl_dest_format(d, text, sizeof(text));
	FUZZ_CHECK(n < sizeof(text), "destination text of %zu bytes", n);
	if (!fl_match(rs, d, &m))
		return;
	FUZZ_CHECK(m.breaker < (int32_t)rs->count && m.bulkhead < (int32_t)rs->count,
		   "match index out of range");
	FUZZ_CHECK(m.nfaults <= FL_MATCH_MAX_FAULTS, "%u faults", m.nfaults);
	struct fl_seg_key key;
	char name[256];
	fl_seg_key_dest(&key, d);
	(void)fl_seg_key_hash(&key);
	FUZZ_CHECK(fl_seg_key_format(&key, name, sizeof(name)) < sizeof(name), "key name too long");
	struct fl_rng rng;
	fl_rng_seed(&rng, 42, 0);
	for (uint32_t i = 0; i < m.nfaults; i++) {
		FUZZ_CHECK(m.faults[i] < rs->count, "fault index %u of %zu", m.faults[i], rs->count);
		const struct fl_rule *r = &rs->rules[m.faults[i]];
		FUZZ_CHECK(r->kind == FL_KIND_FAULT, "matched fault %u is kind %u", m.faults[i], r->kind);
		struct fl_fault_counters c = {0, 0};
		struct fl_fault_decision f;
		for (int k = 0; k < 4; k++)
			(void)fl_fault_decide(&r->u.fault, &c, &rng, &f);
	}
	for (size_t i = 0; i < rs->count; i++) {
		if (rs->rules[i].kind == FL_KIND_FAULT)
			continue;
		fl_seg_key_rule(&key, &rs->rules[i].target);
		FUZZ_CHECK(key.len < FL_SEG_KEY_TEXT, "rule key length %u", key.len);
		FUZZ_CHECK(fl_seg_key_format(&key, name, sizeof(name)) < sizeof(name),
			   "rule key name too long");
	}
}

static void fixed_destinations(const struct fl_ruleset *rs)
{
	struct fl_dest d;
	memset(&d, 0, sizeof(d));
	d.family = FL_AF_INET4;
	d.port = 6379;
	d.addr[0] = 127, d.addr[3] = 1;
	check_match(rs, &d);
	d.port = 0;
	d.addr[0] = 10, d.addr[3] = 0;
	check_match(rs, &d);
	memset(&d, 0, sizeof(d));
	d.family = FL_AF_INET6;
	d.port = 443;
	d.addr[15] = 1;
	check_match(rs, &d);
	memset(d.addr, 0, 16);
	d.addr[10] = d.addr[11] = 0xff, d.addr[12] = 127, d.addr[15] = 1; /* ::ffff:127.0.0.1 */
	check_match(rs, &d);
	memset(&d, 0, sizeof(d));
	d.family = FL_AF_UNIX;
	memcpy(d.path, "/run/x.sock", 11);
	d.path_len = 11;
	check_match(rs, &d);
	d.path[0] = '\0'; /* abstract */
	check_match(rs, &d);
}

static void fuzzed_sockaddr(const struct fl_ruleset *rs, const uint8_t *data, size_t size)
{
	struct sockaddr_storage ss;
	if (size > sizeof(ss))
		size = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, data, size);
	struct fl_dest d;
	if (fl_dest_from_sockaddr((const struct sockaddr *)&ss, (socklen_t)size, &d))
		check_match(rs, &d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > INPUT_MAX)
		return 0;
	char *text = fuzz_text(data, size);
	size_t text_len = strlen(text);
	struct fl_ruleset rs, again;
	struct fl_diag *d = calloc(1, sizeof(*d));
	if (!d)
		abort();
	fl_ruleset_init(&rs);
	fl_ruleset_init(&again);
	int rc = fl_parse_inline("FAULTLINE_RULES", text, &rs, d);
	fuzz_check_diag(d->error, sizeof(d->error), rc);
	if (rc == 0) {
		char *canon = format_rules(&rs);
		fl_diag_clear(d);
		int rc2 = fl_parse_inline("canonical", canon, &again, d);
		FUZZ_CHECK(rc2 == 0, "canonical form does not parse: %s\n--- input:\n%s\n--- canonical:\n%s",
			   d->error, text, canon);
		FUZZ_CHECK(again.count == rs.count, "%zu statements, %zu after a round trip", rs.count,
			   again.count);
		char *canon2 = format_rules(&again);
		FUZZ_CHECK(strcmp(canon, canon2) == 0, "canonical form is not stable:\n%s\n--- then:\n%s",
			   canon, canon2);
		free(canon2);
		free(canon);
	}
	/* Matching runs on whatever parsed, even the statements before an error. */
	fixed_destinations(&rs);
	if (text_len + 1 < size)
		fuzzed_sockaddr(&rs, data + text_len + 1, size - text_len - 1);
	fl_ruleset_free(&rs);
	fl_ruleset_free(&again);
	free(d);
	free(text);
	return 0;
}
