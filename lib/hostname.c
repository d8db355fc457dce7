/*
 * hostname.c - see hostname.h.
 *
 * Parsing runs at start-up; fl_name_normalise, fl_name_match and
 * fl_match_add_name run inside the shim's resolver and connect wrappers,
 * so they use no locale (tolower would) and allocate nothing.
 */

#include "hostname.h"

#include <netdb.h>
#include <string.h>

#define LABEL_MAX 63

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '_';
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

bool fl_hostname_like(const char *text, size_t len)
{
	if (len >= 2 && text[0] == '*' && text[1] == '.')
		return true;
	if (len >= 1 && text[0] == '*')
		return false; /* "*", "*:443": every address */
	size_t colons = 0;
	bool letter = false;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (c == '[' || c == '/')
			return false;
		if (c == ':') {
			colons++;
			continue;
		}
		if (colons == 0 && ((lower(c) >= 'a' && lower(c) <= 'z') || c == '_' || c == '-'))
			letter = true;
	}
	return colons <= 1 && letter;
}

/*
 * Checks a name (no port): labels of 1..63 name characters separated by
 * dots, a '*' only as the whole first label, at most 253 characters
 * without the trailing dot, and a last label that is not all digits (that
 * would be a mistyped IPv4 address). Returns -1 with *why and *at.
 */
static int check_name(const char *s, size_t n, const char **why, size_t *at)
{
	if (n > 0 && s[n - 1] == '.')
		n--; /* the root's dot: "example.com." is "example.com" */
	if (n == 0) {
		*why = "empty host name";
		*at = 0;
		return -1;
	}
	if (n > FL_NAME_MAX) {
		*why = "host name is longer than 253 characters";
		*at = FL_NAME_MAX;
		return -1;
	}
	size_t start = 0;
	bool digits_only = true;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.') {
			if (s[i] == '*') {
				*why = "'*' may only be the whole first label, as in *.example.com";
				*at = i;
				return -1;
			}
			if (!is_name_char(s[i])) {
				*why = "a host name holds only letters, digits, '-' and '_' between dots";
				*at = i;
				return -1;
			}
			digits_only = digits_only && s[i] >= '0' && s[i] <= '9';
			continue;
		}
		if (i == start) {
			*why = "empty label in host name (two dots in a row, or a leading dot)";
			*at = i;
			return -1;
		}
		if (i - start > LABEL_MAX) {
			*why = "a label of a host name is longer than 63 characters";
			*at = start;
			return -1;
		}
		if (i == n && digits_only) {
			*why = "the last label of a host name cannot be all digits (an IPv4 address?)";
			*at = start;
			return -1;
		}
		start = i + 1;
		digits_only = true;
	}
	return (int)n;
}

int fl_hostname_parse(const char *text, size_t len, struct fl_target *out, const char **why, size_t *at)
{
	memset(out, 0, sizeof *out);
	*at = 0;
	const char *colon = memchr(text, ':', len);
	size_t host_len = colon ? (size_t)(colon - text) : len;
	size_t skip = 0;
	bool wild = host_len >= 2 && text[0] == '*' && text[1] == '.';
	if (wild)
		skip = 2;
	int n = check_name(text + skip, host_len - skip, why, at);
	if (n < 0) {
		*at += skip;
		return -1;
	}
	out->family = FL_AF_NAME;
	out->name_wild = wild;
	out->name_len = (uint16_t)n;
	for (int i = 0; i < n; i++)
		out->name[i] = lower(text[skip + (size_t)i]);
	out->port_lo = 0;
	out->port_hi = 65535;
	if (colon == NULL)
		return 0;
	/* The port part, as an address target's: reuse its parser by way of "*:PORTS". */
	char any[16];
	size_t plen = len - host_len; /* ":PORTS" */
	struct fl_target ports;
	if (plen + 1 > sizeof any) {
		*why = "a port must be a number 1..65535 (a range is written LO-HI)";
		*at = host_len + 1;
		return -1;
	}
	any[0] = '*';
	memcpy(any + 1, colon, plen);
	if (fl_target_parse(any, plen + 1, &ports, why) < 0) {
		*at = host_len + 1;
		return -1;
	}
	out->port_lo = ports.port_lo;
	out->port_hi = ports.port_hi;
	return 0;
}

size_t fl_name_normalise(const char *in, char *out)
{
	size_t n = 0;
	bool digits_only = true, label_empty = true;
	for (; in[n] != '\0'; n++) {
		char c = in[n];
		if (n >= FL_NAME_MAX + 1)
			return 0;
		if (c == '.') {
			if (label_empty)
				return 0;
			label_empty = true;
			digits_only = true;
		} else if (is_name_char(c)) {
			label_empty = false;
			digits_only = digits_only && c >= '0' && c <= '9';
		} else {
			return 0; /* ':' of an IPv6 address, or not a name */
		}
		out[n] = lower(c);
	}
	if (n > 0 && out[n - 1] == '.') {
		n--; /* "1.2.3.4." is still not a name: its last label is looked at again */
		size_t i = n;
		while (i > 0 && out[i - 1] != '.')
			i--;
		digits_only = true;
		for (size_t j = i; j < n; j++)
			digits_only = digits_only && out[j] >= '0' && out[j] <= '9';
	}
	if (n == 0 || n > FL_NAME_MAX || digits_only)
		return 0;
	out[n] = '\0';
	return n;
}

bool fl_name_match(const struct fl_target *t, const char *name, size_t len)
{
	if (t->family == FL_AF_ANY)
		return true;
	if (t->family != FL_AF_NAME)
		return false;
	if (!t->name_wild)
		return len == t->name_len && memcmp(name, t->name, len) == 0;
	/* "*.example.com" covers "a.example.com", not "example.com" */
	return len > t->name_len + 1u && name[len - t->name_len - 1] == '.' &&
	       memcmp(name + len - t->name_len, t->name, t->name_len) == 0;
}

/* ---- resolver errors ---- */

static const struct {
	const char *name;
	int code;
	int h_err;
} eai[] = {
    {"EAI_AGAIN", EAI_AGAIN, TRY_AGAIN},     {"EAI_NONAME", EAI_NONAME, HOST_NOT_FOUND},
    {"EAI_FAIL", EAI_FAIL, NO_RECOVERY},     {"EAI_NODATA", EAI_NODATA, NO_DATA},
    {"EAI_MEMORY", EAI_MEMORY, NO_RECOVERY}, {"EAI_SYSTEM", EAI_SYSTEM, NO_RECOVERY},
};
#define EAI_COUNT (sizeof eai / sizeof eai[0])

const char *const fl_eai_names[] = {"EAI_AGAIN",  "EAI_NONAME", "EAI_FAIL", "EAI_NODATA",
				    "EAI_MEMORY", "EAI_SYSTEM", NULL};

int fl_eai_from_name(const char *name, size_t len, int *code)
{
	for (size_t i = 0; i < EAI_COUNT; i++)
		if (strlen(eai[i].name) == len && memcmp(eai[i].name, name, len) == 0) {
			*code = eai[i].code;
			return 0;
		}
	return -1;
}

const char *fl_eai_name(int code)
{
	for (size_t i = 0; i < EAI_COUNT; i++)
		if (eai[i].code == code)
			return eai[i].name;
	return NULL;
}

int fl_eai_h_errno(int code)
{
	for (size_t i = 0; i < EAI_COUNT; i++)
		if (eai[i].code == code)
			return eai[i].h_err;
	return NO_RECOVERY;
}

/* ---- adding a name's statements to a match ---- */

static void insert_fault(struct fl_match *m, uint32_t rule)
{
	uint32_t i = m->nfaults;
	if (i == FL_MATCH_MAX_FAULTS) {
		if (rule > m->faults[i - 1]) {
			m->truncated = true;
			return;
		}
		m->truncated = true;
		i--; /* the last one falls off */
	} else {
		m->nfaults++;
	}
	while (i > 0 && m->faults[i - 1] > rule) {
		m->faults[i] = m->faults[i - 1];
		i--;
	}
	m->faults[i] = rule;
}

bool fl_match_add_name(const struct fl_ruleset *rs, const uint32_t *rules, uint32_t nrules, const char *name,
		       size_t len, uint16_t port, struct fl_match *m)
{
	bool any = false;
	for (uint32_t k = 0; k < nrules; k++) {
		const struct fl_rule *r = &rs->rules[rules[k]];
		if (port < r->target.port_lo || port > r->target.port_hi ||
		    !fl_name_match(&r->target, name, len))
			continue;
		int32_t idx = (int32_t)rules[k];
		switch (r->kind) {
		case FL_KIND_BREAKER:
			if (m->breaker < 0 || idx < m->breaker)
				m->breaker = idx;
			any = true;
			break;
		case FL_KIND_BULKHEAD:
			if (m->bulkhead < 0 || idx < m->bulkhead)
				m->bulkhead = idx;
			any = true;
			break;
		case FL_KIND_RATE_LIMIT:
			if (m->rate_limit < 0 || idx < m->rate_limit)
				m->rate_limit = idx;
			any = true;
			break;
		case FL_KIND_FAULT:
		case FL_KIND_SHAPE: /* matched like a fault (SPEC 10) */
			insert_fault(m, rules[k]);
			m->ops |= r->u.fault.ops;
			any = true;
			break;
		default:
			break;
		}
	}
	return any;
}

/* ---- statement checks ---- */

#define EAI_LIST "EAI_AGAIN, EAI_NONAME, EAI_FAIL, EAI_NODATA, EAI_MEMORY, EAI_SYSTEM"

static bool name_target(const struct fl_target *t)
{
	return t->family == FL_AF_NAME || t->family == FL_AF_ANY;
}

int fl_resolve_fault_check(const struct fl_rule *r, const struct fl_loc *loc, struct fl_diag *d)
{
	const struct fl_fault_params *p = &r->u.fault;
	uint32_t resolve = 1u << FL_OP_RESOLVE;
	if (p->error < 0 && p->ops != resolve)
		return fl_diag_error(d, loc,
				     "error=%s is a resolver error: it applies only to on=resolve (connect, "
				     "send, recv, write and read take errno names such as ECONNRESET)",
				     fl_eai_name(p->error) ? fl_eai_name(p->error) : "?");
	if (p->error > 0 && (p->ops & resolve))
		return fl_diag_error(d, loc,
				     "on=resolve takes a resolver error name (" EAI_LIST "), not an errno");
	if ((p->ops & resolve) && !name_target(&r->target))
		return fl_diag_error(d, loc,
				     "on=resolve needs a host name target (NAME, NAME:PORT or *.SUFFIX): an "
				     "address is never looked up");
	return 0;
}

int fl_resolve_rule_check(const struct fl_rule *r, const struct fl_loc *loc, struct fl_diag *d)
{
	if (r->target.family != FL_AF_NAME)
		return fl_diag_error(d, loc, "resolve needs a host name target (NAME or *.SUFFIX)");
	if (r->target.port_lo != 0 || r->target.port_hi != 65535)
		return fl_diag_error(d, loc,
				     "resolve overrides a name for every port: write the name without :PORT");
	if (r->u.resolve.count == 0)
		return fl_diag_error(d, loc, "resolve needs address= (a comma list of IPv4/IPv6 addresses)");
	return 0;
}
