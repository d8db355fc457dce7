/*
 * target.c - parsing and printing targets, normalising and printing
 * destinations, and matching one against the other.
 *
 * Two halves with different constraints. Parsing a TARGET runs once, at
 * start-up, and may use inet_pton. Everything that touches a destination
 * (fl_dest_from_sockaddr, fl_target_match, fl_dest_format) runs inside
 * intercepted calls, possibly in a signal handler: no allocation, no stdio,
 * no locale, and every read of a sockaddr bounded by the length the program
 * passed. IPv6 text is therefore written by hand (RFC 5952), and targets use
 * the same writer so a target and the destination it names print alike.
 */
#include "target.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "hostname.h"
#include "textbuf.h"

#define TARGET_TEXT_MAX 256
#define IP_TEXT_MAX	64

static const char why_hostname[] = "a host name takes no prefix length or brackets: write NAME, NAME:PORT, "
				   "NAME:LO-HI or *.SUFFIX:PORT";

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* A piece of the target text; `present` tells "x:" (empty) from "x". */
struct span {
	const char *p;
	size_t n;
	bool present;
};

/* The pieces of an IP target before they are checked. */
struct ip_parts {
	struct span addr;
	struct span prefix;
	struct span ports;
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static struct span span_of(const char *p, size_t n)
{
	return (struct span){.p = p, .n = n, .present = true};
}

/* Splits *s at the first `sep`: *s keeps what precedes it, *after the rest. */
static void span_split(struct span *s, char sep, struct span *after)
{
	const char *at = s->present ? memchr(s->p, sep, s->n) : NULL;
	if (at == NULL)
		return;
	*after = span_of(at + 1, s->n - (size_t)(at + 1 - s->p));
	s->n = (size_t)(at - s->p);
}

/* Strict decimal: 1..10 digits, nothing else, value <= max. */
static bool parse_decimal(struct span s, uint32_t max, uint32_t *out)
{
	if (s.n == 0 || s.n > 10)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < s.n; i++) {
		if (!is_digit(s.p[i]))
			return false;
		v = v * 10 + (uint64_t)(s.p[i] - '0');
	}
	if (v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

static int parse_ports(struct span s, struct fl_target *t, const char **why)
{
	if (!s.present) {
		t->port_lo = 0;
		t->port_hi = 65535;
		return 0;
	}
	if (s.n == 0) {
		*why = "missing port after ':'";
		return -1;
	}
	struct span hi_text = {0};
	span_split(&s, '-', &hi_text);
	if (!hi_text.present)
		hi_text = s;
	uint32_t lo, hi;
	if (!parse_decimal(s, 65535, &lo) || !parse_decimal(hi_text, 65535, &hi) || lo == 0 || hi == 0) {
		*why = "a port must be a number 1..65535 (a range is written LO-HI)";
		return -1;
	}
	if (lo > hi) {
		*why = "port range LO-HI needs LO <= HI";
		return -1;
	}
	t->port_lo = (uint16_t)lo;
	t->port_hi = (uint16_t)hi;
	return 0;
}

/* Letters and no colon: a name, not an IPv4 or IPv6 address. */
static bool looks_like_hostname(struct span s)
{
	bool alpha = false;
	for (size_t i = 0; i < s.n; i++) {
		if (s.p[i] == ':')
			return false;
		alpha = alpha || is_alpha(s.p[i]);
	}
	return alpha;
}

static int parse_address(struct span s, int af, struct fl_target *t, const char **why)
{
	char text[IP_TEXT_MAX];
	const char *bad = af == AF_INET ? "bad IPv4 address" : "bad IPv6 address";
	if (s.n == 0) {
		*why = "missing address";
		return -1;
	}
	if (s.n >= sizeof text || memchr(s.p, '\0', s.n) != NULL) {
		*why = bad;
		return -1;
	}
	memcpy(text, s.p, s.n);
	text[s.n] = '\0';
	if (inet_pton(af, text, t->addr) != 1) {
		*why = looks_like_hostname(s) ? why_hostname : bad;
		return -1;
	}
	t->family = af == AF_INET ? FL_AF_INET4 : FL_AF_INET6;
	t->prefix = af == AF_INET ? 32 : 128;
	return 0;
}

static int parse_prefix(struct span s, struct fl_target *t, const char **why)
{
	if (!s.present)
		return 0;
	uint32_t len;
	if (!parse_decimal(s, t->prefix, &len)) {
		*why =
		    t->family == FL_AF_INET4 ? "prefix length must be 0..32" : "prefix length must be 0..128";
		return -1;
	}
	t->prefix = (uint8_t)len;
	return 0;
}

/* ::ffff:a.b.c.d/96+n is the IPv4 network a.b.c.d/n, and is stored so. */
static void normalise_v4_mapped(struct fl_target *t)
{
	if (t->family != FL_AF_INET6 || t->prefix < 96 ||
	    memcmp(t->addr, v4_mapped_prefix, sizeof v4_mapped_prefix) != 0)
		return;
	memmove(t->addr, t->addr + 12, 4);
	memset(t->addr + 4, 0, 12);
	t->family = FL_AF_INET4;
	t->prefix = (uint8_t)(t->prefix - 96);
}

static bool host_bits_clear(const uint8_t *addr, unsigned prefix, unsigned bits)
{
	for (unsigned i = prefix; i < bits; i++)
		if (addr[i / 8] & (0x80u >> (i % 8)))
			return false;
	return true;
}

static int build_ip_target(const struct ip_parts *parts, int af, struct fl_target *t, const char **why)
{
	if (parse_address(parts->addr, af, t, why) < 0 || parse_prefix(parts->prefix, t, why) < 0 ||
	    parse_ports(parts->ports, t, why) < 0)
		return -1;
	normalise_v4_mapped(t);
	if (!host_bits_clear(t->addr, t->prefix, t->family == FL_AF_INET4 ? 32 : 128)) {
		*why = "host bits are set beyond the prefix length: write the network address "
		       "(10.0.0.0/8, not 10.0.0.1/8)";
		return -1;
	}
	return 0;
}

/* unix:/path, unix:relative, unix:@abstract (stored with a leading NUL). */
static int parse_unix(struct span s, struct fl_target *t, const char **why)
{
	bool abstract = s.n > 0 && s.p[0] == '@';
	if (s.n == 0 || (abstract && s.n == 1)) {
		*why = "unix: needs a socket path, as in unix:/run/x.sock or unix:@name";
		return -1;
	}
	if (s.n > (abstract ? FL_UNIX_PATH_MAX : FL_UNIX_PATH_MAX - 1)) {
		*why = "unix socket path is longer than 107 bytes";
		return -1;
	}
	if (memchr(s.p, '\0', s.n) != NULL) {
		*why = "unix socket path contains a NUL byte";
		return -1;
	}
	/* Inline rules split on blanks, ';' and '#': a path holding one could be
	 * written in a file but never printed back as an inline rule, and the
	 * two forms must always describe the same rule set. */
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c <= ' ' || c == ';' || c == '#' || c == 0x7f) {
			*why = "unix socket path contains a blank, ';', '#' or a control character, "
			       "which a rule cannot express";
			return -1;
		}
	}
	t->family = FL_AF_UNIX;
	memcpy(t->path, s.p, s.n);
	if (abstract)
		t->path[0] = '\0';
	t->path_len = (uint16_t)s.n;
	return 0;
}

/* "*", "*:PORT", "*:LO-HI". */
static int parse_any(struct span s, struct fl_target *t, const char **why)
{
	struct span ports = {0};
	span_split(&s, ':', &ports);
	if (s.n != 1) {
		*why = "'*' stands alone or takes a port, as in *:443";
		return -1;
	}
	t->family = FL_AF_ANY;
	t->prefix = 0;
	return parse_ports(ports, t, why);
}

/* "[V6]", "[V6]:P", "[V6/len]:P", "[V6]/len:P". */
static int parse_bracketed(struct span s, struct fl_target *t, const char **why)
{
	const char *close = memchr(s.p, ']', s.n);
	if (close == NULL) {
		*why = "missing ']' after an IPv6 address";
		return -1;
	}
	struct ip_parts parts = {.addr = span_of(s.p + 1, (size_t)(close - s.p - 1))};
	struct span rest = span_of(close + 1, s.n - (size_t)(close + 1 - s.p));
	span_split(&parts.addr, '/', &parts.prefix);
	if (memchr(parts.addr.p, ':', parts.addr.n) == NULL) {
		*why =
		    looks_like_hostname(parts.addr) ? why_hostname : "brackets are only for IPv6 addresses";
		return -1;
	}
	if (rest.n > 0 && rest.p[0] == '/' && !parts.prefix.present) {
		parts.prefix = span_of(rest.p + 1, rest.n - 1);
		span_split(&parts.prefix, ':', &parts.ports);
	} else if (rest.n > 0 && rest.p[0] == ':') {
		parts.ports = span_of(rest.p + 1, rest.n - 1);
	} else if (rest.n > 0) {
		*why = "expected ':PORT' after ']'";
		return -1;
	}
	return build_ip_target(&parts, AF_INET6, t, why);
}

static size_t count_char(struct span s, char c)
{
	size_t n = 0;
	for (size_t i = 0; i < s.n; i++)
		n += s.p[i] == c;
	return n;
}

int fl_target_parse(const char *text, size_t len, struct fl_target *out, const char **why)
{
	size_t at;
	return fl_target_parse_at(text, len, out, why, &at);
}

int fl_target_parse_at(const char *text, size_t len, struct fl_target *out, const char **why, size_t *at)
{
	*at = 0;
	static const char unix_prefix[] = "unix:";
	const size_t unix_len = sizeof unix_prefix - 1;
	struct span s = span_of(text, len);
	memset(out, 0, sizeof *out);
	*why = NULL;
	if (len == 0) {
		*why = "empty target";
		return -1;
	}
	if (len > TARGET_TEXT_MAX) {
		*why = "target is too long";
		return -1;
	}
	if (len >= unix_len && memcmp(text, unix_prefix, unix_len) == 0)
		return parse_unix(span_of(text + unix_len, len - unix_len), out, why);
	if (fl_hostname_like(text, len))
		return fl_hostname_parse(text, len, out, why, at);
	if (text[0] == '*')
		return parse_any(s, out, why);
	if (text[0] == '[')
		return parse_bracketed(s, out, why);
	struct ip_parts parts = {.addr = s};
	span_split(&parts.addr, '/', &parts.prefix);
	if (count_char(s, ':') >= 2) /* bare IPv6: no port without brackets */
		return build_ip_target(&parts, AF_INET6, out, why);
	if (parts.prefix.present)
		span_split(&parts.prefix, ':', &parts.ports);
	else
		span_split(&parts.addr, ':', &parts.ports);
	return build_ip_target(&parts, AF_INET, out, why);
}

/* ---- printing (async-signal-safe) ---- */

static void put_ipv4(struct fl_textbuf *b, const uint8_t *a)
{
	for (int i = 0; i < 4; i++) {
		if (i > 0)
			fl_tb_putc(b, '.');
		fl_tb_putu(b, a[i]);
	}
}

/* RFC 5952: the longest run of two or more zero groups (the first on a tie)
 * becomes "::"; groups in lowercase hex without leading zeros. */
static void put_ipv6(struct fl_textbuf *b, const uint8_t *a)
{
	unsigned group[8];
	int best = -1, best_len = 0;
	for (int i = 0; i < 8; i++)
		group[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
	for (int i = 0; i < 8; i++) {
		int j = i;
		while (j < 8 && group[j] == 0)
			j++;
		if (j - i > best_len && j - i >= 2) {
			best = i;
			best_len = j - i;
		}
		i = j > i ? j - 1 : i;
	}
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			fl_tb_puts(b, "::");
			i += best_len - 1;
			continue;
		}
		if (i > 0 && i != best + best_len)
			fl_tb_putc(b, ':');
		fl_tb_puthex(b, group[i]);
	}
}

/* Abstract names print as "@name"; a NUL inside one prints as '@' (as ss does). */
static void put_unix(struct fl_textbuf *b, const char *path, size_t len)
{
	fl_tb_puts(b, "unix:");
	for (size_t i = 0; i < len; i++)
		fl_tb_putc(b, path[i] == '\0' ? '@' : path[i]);
}

static bool any_port(const struct fl_target *t)
{
	return t->port_lo == 0 && t->port_hi == 65535;
}

static void put_ports(struct fl_textbuf *b, const struct fl_target *t)
{
	fl_tb_putc(b, ':');
	fl_tb_putu(b, t->port_lo);
	if (t->port_hi != t->port_lo) {
		fl_tb_putc(b, '-');
		fl_tb_putu(b, t->port_hi);
	}
}

static void put_prefix(struct fl_textbuf *b, unsigned prefix, unsigned full)
{
	if (prefix == full)
		return;
	fl_tb_putc(b, '/');
	fl_tb_putu(b, prefix);
}

size_t fl_target_format(const struct fl_target *t, char *buf, size_t size)
{
	struct fl_textbuf b;
	fl_tb_init(&b, buf, size);
	bool ports = !any_port(t);
	switch (t->family) {
	case FL_AF_ANY:
		fl_tb_putc(&b, '*');
		break;
	case FL_AF_INET4:
		put_ipv4(&b, t->addr);
		put_prefix(&b, t->prefix, 32);
		break;
	case FL_AF_INET6:
		if (ports)
			fl_tb_putc(&b, '[');
		put_ipv6(&b, t->addr);
		put_prefix(&b, t->prefix, 128);
		if (ports)
			fl_tb_putc(&b, ']');
		break;
	case FL_AF_UNIX:
		put_unix(&b, t->path, t->path_len);
		return b.len;
	case FL_AF_NAME:
		fl_tb_puts(&b, t->name_wild ? "*." : "");
		for (size_t i = 0; i < t->name_len && i < FL_NAME_MAX; i++)
			fl_tb_putc(&b, t->name[i]);
		break;
	default:
		fl_tb_puts(&b, "?");
		return b.len;
	}
	if (ports)
		put_ports(&b, t);
	return b.len;
}

size_t fl_dest_format(const struct fl_dest *d, char *buf, size_t size)
{
	struct fl_textbuf b;
	fl_tb_init(&b, buf, size);
	if (d->name != NULL) { /* reached through a name: NAME:PORT (SPEC 9); a lookup has no port */
		for (size_t i = 0; i < d->name_len && i < FL_NAME_MAX; i++)
			fl_tb_putc(&b, d->name[i]);
		if (d->port != 0 || d->family != FL_AF_NAME) {
			fl_tb_putc(&b, ':');
			fl_tb_putu(&b, d->port);
		}
		return b.len;
	}
	switch (d->family) {
	case FL_AF_INET4:
		put_ipv4(&b, d->addr);
		break;
	case FL_AF_INET6:
		fl_tb_putc(&b, '[');
		put_ipv6(&b, d->addr);
		fl_tb_putc(&b, ']');
		break;
	case FL_AF_UNIX:
		put_unix(&b, d->path, d->path_len);
		return b.len;
	default:
		fl_tb_puts(&b, "?");
		return b.len;
	}
	fl_tb_putc(&b, ':');
	fl_tb_putu(&b, d->port);
	return b.len;
}

/* ---- destinations (async-signal-safe) ---- */

static bool unix_dest(const struct sockaddr *sa, socklen_t len, struct fl_dest *out)
{
	const size_t off = offsetof(struct sockaddr_un, sun_path);
	if (len <= off)
		return false; /* unnamed socket */
	const char *path = (const char *)sa + off;
	size_t n = (size_t)len - off;
	if (n > FL_UNIX_PATH_MAX)
		n = FL_UNIX_PATH_MAX;
	if (path[0] != '\0') { /* a pathname: up to the first NUL */
		size_t end = 0;
		while (end < n && path[end] != '\0')
			end++;
		n = end;
	}
	out->family = FL_AF_UNIX;
	memcpy(out->path, path, n);
	out->path_len = (uint16_t)n;
	return true;
}

static bool inet6_dest(const struct sockaddr *sa, socklen_t len, struct fl_dest *out)
{
	struct sockaddr_in6 sin6;
	/* Linux accepts the 24-byte RFC 2133 form without sin6_scope_id. */
	if (len < offsetof(struct sockaddr_in6, sin6_scope_id))
		return false;
	memset(&sin6, 0, sizeof sin6);
	memcpy(&sin6, sa, len < sizeof sin6 ? len : sizeof sin6);
	out->port = ntohs(sin6.sin6_port);
	if (memcmp(sin6.sin6_addr.s6_addr, v4_mapped_prefix, sizeof v4_mapped_prefix) == 0) {
		out->family = FL_AF_INET4;
		memcpy(out->addr, sin6.sin6_addr.s6_addr + 12, 4);
	} else {
		out->family = FL_AF_INET6;
		memcpy(out->addr, sin6.sin6_addr.s6_addr, 16);
	}
	return true;
}

bool fl_dest_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct fl_dest *out)
{
	sa_family_t family;
	if (sa == NULL || len < sizeof family)
		return false;
	memset(out, 0, sizeof *out);
	memcpy(&family, sa, sizeof family);
	switch (family) {
	case AF_INET: {
		struct sockaddr_in sin;
		if (len < sizeof sin)
			return false;
		memcpy(&sin, sa, sizeof sin);
		out->family = FL_AF_INET4;
		out->port = ntohs(sin.sin_port);
		memcpy(out->addr, &sin.sin_addr, 4);
		return true;
	}
	case AF_INET6:
		return inet6_dest(sa, len, out);
	case AF_UNIX:
		return unix_dest(sa, len, out);
	default:
		return false;
	}
}

/* ---- matching (async-signal-safe) ---- */

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xffu << (8 - rest));
	return ((a[whole] ^ b[whole]) & mask) == 0;
}

bool fl_target_match(const struct fl_target *t, const struct fl_dest *d)
{
	switch (t->family) {
	case FL_AF_UNIX:
		return d->family == FL_AF_UNIX && d->path_len == t->path_len &&
		       memcmp(d->path, t->path, t->path_len) == 0;
	case FL_AF_ANY:
		if (d->family != FL_AF_INET4 && d->family != FL_AF_INET6)
			return false;
		break;
	case FL_AF_INET4:
	case FL_AF_INET6:
		if (d->family != t->family || !prefix_equal(t->addr, d->addr, t->prefix))
			return false;
		break;
	default:
		return false;
	}
	return d->port >= t->port_lo && d->port <= t->port_hi;
}
