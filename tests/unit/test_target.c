/*
 * test_target.c - TARGET grammar, canonical printing, destinations taken
 * from real sockaddrs, and matching.
 *
 * Matching is where a wrong byte silently disables a rule, so the sockaddr
 * side is built with the same structures a program passes to connect(),
 * and the hand-written RFC 5952 printer is checked against inet_ntop.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "target.h"

static struct fl_target parse_ok(const char *text)
{
	struct fl_target t;
	const char *why = NULL;
	int rc = fl_target_parse(text, strlen(text), &t, &why);
	ck_assert_msg(rc == 0, "'%s' should parse, got: %s", text, why ? why : "(null)");
	return t;
}

static const char *parse_why(const char *text)
{
	struct fl_target t;
	const char *why = NULL;
	ck_assert_msg(fl_target_parse(text, strlen(text), &t, &why) == -1, "'%s' should fail", text);
	ck_assert_ptr_nonnull(why);
	return why;
}

static const char *formatted(const char *text, char *buf, size_t size)
{
	struct fl_target t = parse_ok(text);
	fl_target_format(&t, buf, size);
	return buf;
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

static bool matches(const char *target, struct fl_dest d)
{
	struct fl_target t = parse_ok(target);
	return fl_target_match(&t, &d);
}

START_TEST(ipv4_address_means_one_host_on_any_port)
{
	struct fl_target t = parse_ok("127.0.0.1");
	ck_assert_uint_eq(t.family, FL_AF_INET4);
	ck_assert_uint_eq(t.prefix, 32);
	ck_assert_uint_eq(t.port_lo, 0);
	ck_assert_uint_eq(t.port_hi, 65535);
	ck_assert_mem_eq(t.addr, "\x7f\x00\x00\x01", 4);
}
END_TEST

START_TEST(ipv4_port_and_port_range_parse)
{
	struct fl_target t = parse_ok("10.1.2.3:6379");
	ck_assert_uint_eq(t.port_lo, 6379);
	ck_assert_uint_eq(t.port_hi, 6379);
	t = parse_ok("10.1.2.3:8000-8080");
	ck_assert_uint_eq(t.port_lo, 8000);
	ck_assert_uint_eq(t.port_hi, 8080);
	t = parse_ok("10.1.2.3:1-65535");
	ck_assert_uint_eq(t.port_lo, 1);
	ck_assert_uint_eq(t.port_hi, 65535);
}
END_TEST

START_TEST(bad_ports_are_rejected_with_reason)
{
	ck_assert_str_eq(parse_why("1.2.3.4:0"),
			 "a port must be a number 1..65535 (a range is written LO-HI)");
	ck_assert_str_eq(parse_why("1.2.3.4:65536"),
			 "a port must be a number 1..65535 (a range is written LO-HI)");
	ck_assert_str_eq(parse_why("1.2.3.4:http"),
			 "a port must be a number 1..65535 (a range is written LO-HI)");
	ck_assert_str_eq(parse_why("1.2.3.4:80-"),
			 "a port must be a number 1..65535 (a range is written LO-HI)");
	ck_assert_str_eq(parse_why("1.2.3.4:+80"),
			 "a port must be a number 1..65535 (a range is written LO-HI)");
	ck_assert_str_eq(parse_why("1.2.3.4:90-80"), "port range LO-HI needs LO <= HI");
	ck_assert_str_eq(parse_why("1.2.3.4:"), "missing port after ':'");
	ck_assert_str_eq(parse_why("*:"), "missing port after ':'");
}
END_TEST

START_TEST(cidr_parses_with_and_without_ports)
{
	struct fl_target t = parse_ok("10.0.0.0/8");
	ck_assert_uint_eq(t.prefix, 8);
	ck_assert_uint_eq(t.port_hi, 65535);
	t = parse_ok("10.0.0.0/8:443");
	ck_assert_uint_eq(t.prefix, 8);
	ck_assert_uint_eq(t.port_lo, 443);
	t = parse_ok("192.168.0.0/16:1000-2000");
	ck_assert_uint_eq(t.prefix, 16);
	ck_assert_uint_eq(t.port_hi, 2000);
	t = parse_ok("0.0.0.0/0");
	ck_assert_uint_eq(t.prefix, 0);
}
END_TEST

START_TEST(cidr_with_host_bits_set_is_rejected)
{
	ck_assert_str_eq(parse_why("10.0.0.1/8"),
			 "host bits are set beyond the prefix length: write the network address "
			 "(10.0.0.0/8, not 10.0.0.1/8)");
	ck_assert_ptr_nonnull(strstr(parse_why("fd00::1/8"), "host bits"));
	ck_assert_ptr_nonnull(strstr(parse_why("10.16.0.0/11"), "host bits"));
}
END_TEST

START_TEST(prefix_length_out_of_range_is_rejected)
{
	ck_assert_str_eq(parse_why("10.0.0.0/33"), "prefix length must be 0..32");
	ck_assert_str_eq(parse_why("10.0.0.0/"), "prefix length must be 0..32");
	ck_assert_str_eq(parse_why("10.0.0.0/x"), "prefix length must be 0..32");
	ck_assert_str_eq(parse_why("fd00::/129"), "prefix length must be 0..128");
}
END_TEST

START_TEST(bracketed_ipv6_takes_ports)
{
	struct fl_target t = parse_ok("[::1]:6379");
	ck_assert_uint_eq(t.family, FL_AF_INET6);
	ck_assert_uint_eq(t.prefix, 128);
	ck_assert_uint_eq(t.port_lo, 6379);
	ck_assert_uint_eq(t.addr[15], 1);
	t = parse_ok("[2001:db8::]:80-90");
	ck_assert_uint_eq(t.port_lo, 80);
	ck_assert_uint_eq(t.port_hi, 90);
	t = parse_ok("[::1]");
	ck_assert_uint_eq(t.port_hi, 65535);
}
END_TEST

START_TEST(bracketed_ipv6_prefix_may_stand_inside_or_outside)
{
	struct fl_target inside = parse_ok("[fd00::/8]:443");
	struct fl_target outside = parse_ok("[fd00::]/8:443");
	ck_assert_mem_eq(&inside, &outside, sizeof inside);
	ck_assert_uint_eq(inside.prefix, 8);
	ck_assert_uint_eq(inside.port_lo, 443);
	struct fl_target no_port = parse_ok("[fd00::]/8");
	ck_assert_uint_eq(no_port.prefix, 8);
	ck_assert_uint_eq(no_port.port_hi, 65535);
}
END_TEST

START_TEST(bare_ipv6_and_ipv6_cidr_parse_without_port)
{
	struct fl_target t = parse_ok("::1");
	ck_assert_uint_eq(t.family, FL_AF_INET6);
	ck_assert_uint_eq(t.port_hi, 65535);
	t = parse_ok("fd00::/8");
	ck_assert_uint_eq(t.prefix, 8);
	ck_assert_uint_eq(t.addr[0], 0xfd);
	/* Without brackets a trailing :N is part of the address, never a port. */
	t = parse_ok("::1:80");
	ck_assert_uint_eq(t.port_lo, 0);
	ck_assert_uint_eq(t.addr[13], 0x01);
	ck_assert_uint_eq(t.addr[15], 0x80);
}
END_TEST

START_TEST(bad_ipv6_is_rejected)
{
	ck_assert_str_eq(parse_why("[::1"), "missing ']' after an IPv6 address");
	ck_assert_str_eq(parse_why("[::1]80"), "expected ':PORT' after ']'");
	ck_assert_str_eq(parse_why("[127.0.0.1]:80"), "brackets are only for IPv6 addresses");
	ck_assert_str_eq(parse_why("fe80::1%eth0"), "bad IPv6 address");
	ck_assert_str_eq(parse_why("1:2:3:4:5:6:7:8:9"), "bad IPv6 address");
	ck_assert_str_eq(parse_why("[]:80"), "brackets are only for IPv6 addresses");
}
END_TEST

START_TEST(ipv4_mapped_ipv6_target_becomes_ipv4)
{
	struct fl_target t = parse_ok("::ffff:10.1.2.3");
	ck_assert_uint_eq(t.family, FL_AF_INET4);
	ck_assert_uint_eq(t.prefix, 32);
	ck_assert_mem_eq(t.addr, "\x0a\x01\x02\x03", 4);
	t = parse_ok("[::ffff:10.0.0.0/104]:443");
	ck_assert_uint_eq(t.family, FL_AF_INET4);
	ck_assert_uint_eq(t.prefix, 8);
	ck_assert_uint_eq(t.port_lo, 443);
	t = parse_ok("::ffff:0:0/96"); /* the whole mapped block is all of IPv4 */
	ck_assert_uint_eq(t.family, FL_AF_INET4);
	ck_assert_uint_eq(t.prefix, 0);
	t = parse_ok("::fffe:0:0/96");
	ck_assert_uint_eq(t.family, FL_AF_INET6);
}
END_TEST

START_TEST(star_matches_every_ip_port_or_range)
{
	struct fl_target t = parse_ok("*");
	ck_assert_uint_eq(t.family, FL_AF_ANY);
	ck_assert_uint_eq(t.port_lo, 0);
	ck_assert_uint_eq(t.port_hi, 65535);
	t = parse_ok("*:443");
	ck_assert_uint_eq(t.port_lo, 443);
	ck_assert_uint_eq(t.port_hi, 443);
	t = parse_ok("*:80-90");
	ck_assert_uint_eq(t.port_hi, 90);
	ck_assert_str_eq(parse_why("*x"), "'*' stands alone or takes a port, as in *:443");
	ck_assert_str_eq(parse_why("*/8"), "'*' stands alone or takes a port, as in *:443");
}
END_TEST

START_TEST(unix_paths_and_abstract_names_parse)
{
	struct fl_target t = parse_ok("unix:/run/x.sock");
	ck_assert_uint_eq(t.family, FL_AF_UNIX);
	ck_assert_uint_eq(t.path_len, strlen("/run/x.sock"));
	ck_assert_mem_eq(t.path, "/run/x.sock", t.path_len);
	t = parse_ok("unix:@name");
	ck_assert_uint_eq(t.path_len, 5);
	ck_assert_mem_eq(t.path, "\0name", 5);
}
END_TEST

START_TEST(bad_unix_targets_are_rejected)
{
	char long_path[200] = "unix:/";
	memset(long_path + 6, 'a', 107);
	ck_assert_str_eq(parse_why("unix:"),
			 "unix: needs a socket path, as in unix:/run/x.sock or unix:@name");
	ck_assert_str_eq(parse_why("unix:@"),
			 "unix: needs a socket path, as in unix:/run/x.sock or unix:@name");
	ck_assert_str_eq(parse_why(long_path), "unix socket path is longer than 107 bytes");
	long_path[6 + 106] = '\0'; /* "/" + 106 bytes = 107: the most that fits */
	ck_assert_uint_eq(parse_ok(long_path).path_len, 107);
}
END_TEST

START_TEST(host_names_are_rejected_with_advice)
{
	/* Names are targets now (SPEC 9, test_hostname.c); a name in an IP form is not. */
	const char *why =
	    "a host name takes no prefix length or brackets: write NAME, NAME:PORT, NAME:LO-HI or "
	    "*.SUFFIX:PORT";
	ck_assert_uint_eq(parse_ok("localhost").family, FL_AF_NAME);
	ck_assert_uint_eq(parse_ok("db.example.com:5432").port_lo, 5432);
	ck_assert_str_eq(parse_why("[localhost]:80"), why);
	ck_assert_str_eq(parse_why("cafe/8"), why);
}
END_TEST

START_TEST(malformed_ipv4_is_rejected)
{
	ck_assert_str_eq(parse_why("1.2.3"), "bad IPv4 address");
	ck_assert_str_eq(parse_why("256.1.1.1"), "bad IPv4 address");
	ck_assert_str_eq(parse_why("1.2.3.4.5"), "bad IPv4 address");
	ck_assert_str_eq(parse_why(":80"), "missing address");
	ck_assert_str_eq(parse_why(""), "empty target");
}
END_TEST

START_TEST(parse_reads_only_len_bytes)
{
	struct fl_target t;
	const char *why;
	ck_assert_int_eq(fl_target_parse("127.0.0.1:80 breaker", 12, &t, &why), 0);
	ck_assert_uint_eq(t.port_lo, 80);
}
END_TEST

START_TEST(format_prints_canonical_form)
{
	static const char *const cases[][2] = {
	    {"*", "*"},
	    {"*:80", "*:80"},
	    {"*:80-90", "*:80-90"},
	    {"*:1-65535", "*:1-65535"},
	    {"127.0.0.1", "127.0.0.1"},
	    {"127.0.0.1/32", "127.0.0.1"},
	    {"127.0.0.1:6379", "127.0.0.1:6379"},
	    {"10.0.0.0/8:443", "10.0.0.0/8:443"},
	    {"10.0.0.0/8:443-443", "10.0.0.0/8:443"},
	    {"::1", "::1"},
	    {"0:0:0:0:0:0:0:1/128", "::1"},
	    {"[::1]:6379", "[::1]:6379"},
	    {"[FD00::]/8:443", "[fd00::/8]:443"},
	    {"fd00::/8", "fd00::/8"},
	    {"[::ffff:1.2.3.4]:80", "1.2.3.4:80"},
	    {"unix:/run/x.sock", "unix:/run/x.sock"},
	    {"unix:@name", "unix:@name"},
	};
	char buf[FL_DEST_STR_MAX];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ck_assert_str_eq(formatted(cases[i][0], buf, sizeof buf), cases[i][1]);
}
END_TEST

START_TEST(formatted_target_parses_back_to_the_same_target)
{
	static const char *const inputs[] = {
	    "*:5-6", "1.2.3.0/24:9", "[2001:db8::/32]:1-2", "2001:db8:0:1::/64", "unix:@x", "unix:rel"};
	char buf[FL_DEST_STR_MAX];
	for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
		struct fl_target a = parse_ok(inputs[i]);
		fl_target_format(&a, buf, sizeof buf);
		struct fl_target b = parse_ok(buf);
		ck_assert_mem_eq(&a, &b, sizeof a);
	}
}
END_TEST

START_TEST(format_returns_full_length_and_truncates_safely)
{
	struct fl_target t = parse_ok("10.0.0.0/8:443");
	char buf[6];
	ck_assert_uint_eq(fl_target_format(&t, buf, sizeof buf), strlen("10.0.0.0/8:443"));
	ck_assert_str_eq(buf, "10.0.");
	ck_assert_uint_eq(fl_target_format(&t, NULL, 0), 14);
}
END_TEST

START_TEST(dest_from_ipv4_sockaddr)
{
	struct fl_dest d = dest_v4("192.0.2.7", 443);
	ck_assert_uint_eq(d.family, FL_AF_INET4);
	ck_assert_uint_eq(d.port, 443);
	ck_assert_mem_eq(d.addr, "\xc0\x00\x02\x07", 4);
}
END_TEST

START_TEST(dest_from_v4_mapped_ipv6_sockaddr_is_ipv4)
{
	struct fl_dest d = dest_v6("::ffff:192.0.2.7", 80);
	struct fl_dest v4 = dest_v4("192.0.2.7", 80);
	ck_assert_mem_eq(&d, &v4, sizeof d);
}
END_TEST

START_TEST(dest_from_ipv6_sockaddr_accepts_rfc2133_length)
{
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(9)};
	struct fl_dest d;
	sin6.sin6_addr.s6_addr[15] = 1;
	ck_assert(fl_dest_from_sockaddr((struct sockaddr *)&sin6, 24, &d));
	ck_assert_uint_eq(d.family, FL_AF_INET6);
	ck_assert_uint_eq(d.port, 9);
	ck_assert(!fl_dest_from_sockaddr((struct sockaddr *)&sin6, 23, &d));
}
END_TEST

START_TEST(dest_from_short_or_foreign_sockaddr_is_refused)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct sockaddr_storage ss = {.ss_family = AF_NETLINK};
	struct fl_dest d;
	ck_assert(!fl_dest_from_sockaddr((struct sockaddr *)&sin, sizeof sin - 1, &d));
	ck_assert(!fl_dest_from_sockaddr((struct sockaddr *)&sin, 1, &d));
	ck_assert(!fl_dest_from_sockaddr(NULL, sizeof sin, &d));
	ck_assert(!fl_dest_from_sockaddr((struct sockaddr *)&ss, sizeof ss, &d));
}
END_TEST

START_TEST(dest_from_unix_pathname_stops_at_nul_and_len)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct fl_dest d;
	strcpy(sun.sun_path, "/run/x.sock");
	socklen_t with_nul = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 12);
	ck_assert(fl_dest_from_sockaddr((struct sockaddr *)&sun, sizeof sun, &d));
	ck_assert_uint_eq(d.path_len, 11);
	ck_assert(fl_dest_from_sockaddr((struct sockaddr *)&sun, with_nul, &d));
	ck_assert_uint_eq(d.path_len, 11);
	ck_assert(fl_dest_from_sockaddr((struct sockaddr *)&sun, with_nul - 2, &d));
	ck_assert_uint_eq(d.path_len, 10);		/* a length without the NUL cuts the path */
	memset(sun.sun_path, 'a', sizeof sun.sun_path); /* no NUL at all */
	ck_assert(fl_dest_from_sockaddr((struct sockaddr *)&sun, sizeof sun, &d));
	ck_assert_uint_eq(d.path_len, FL_UNIX_PATH_MAX);
}
END_TEST

START_TEST(dest_from_unix_abstract_keeps_every_byte_of_the_name)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct fl_dest d;
	memcpy(sun.sun_path, "\0na\0me", 6);
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 6);
	ck_assert(fl_dest_from_sockaddr((struct sockaddr *)&sun, len, &d));
	ck_assert_uint_eq(d.family, FL_AF_UNIX);
	ck_assert_uint_eq(d.path_len, 6);
	ck_assert_mem_eq(d.path, "\0na\0me", 6);
}
END_TEST

START_TEST(unnamed_unix_socket_is_not_a_destination)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct fl_dest d;
	ck_assert(!fl_dest_from_sockaddr((struct sockaddr *)&sun, sizeof(sa_family_t), &d));
}
END_TEST

START_TEST(dest_format_prints_address_and_port)
{
	char buf[FL_DEST_STR_MAX];
	struct fl_dest d = dest_v4("127.0.0.1", 6379);
	ck_assert_uint_eq(fl_dest_format(&d, buf, sizeof buf), 14);
	ck_assert_str_eq(buf, "127.0.0.1:6379");
	d = dest_v6("::1", 6379);
	fl_dest_format(&d, buf, sizeof buf);
	ck_assert_str_eq(buf, "[::1]:6379");
	d = dest_v4("0.0.0.0", 0);
	fl_dest_format(&d, buf, sizeof buf);
	ck_assert_str_eq(buf, "0.0.0.0:0");
}
END_TEST

START_TEST(dest_format_compresses_ipv6_as_rfc5952)
{
	static const char *const cases[][2] = {
	    {"::", "[::]:1"},
	    {"2001:0DB8:0000:0000:0000:0000:0000:0001", "[2001:db8::1]:1"},
	    {"2001:db8:0:1:1:1:1:1", "[2001:db8:0:1:1:1:1:1]:1"}, /* one zero: kept */
	    {"2001:0:0:1:0:0:0:1", "[2001:0:0:1::1]:1"},	  /* longest run wins */
	    {"2001:db8:0:0:1:0:0:1", "[2001:db8::1:0:0:1]:1"},	  /* first on a tie */
	    {"1::", "[1::]:1"},
	    {"fe80::abcd:12", "[fe80::abcd:12]:1"},
	    {"1:2:3:4:5:6:7:8", "[1:2:3:4:5:6:7:8]:1"},
	};
	char buf[FL_DEST_STR_MAX];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct fl_dest d = dest_v6(cases[i][0], 1);
		fl_dest_format(&d, buf, sizeof buf);
		ck_assert_str_eq(buf, cases[i][1]);
	}
}
END_TEST

/* glibc's inet_ntop follows RFC 5952 too, except for embedded IPv4 forms. */
START_TEST(dest_format_agrees_with_inet_ntop_on_random_addresses)
{
	srand(12345);
	for (int n = 0; n < 20000; n++) {
		struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
		for (int g = 0; g < 8; g++) {
			unsigned v = (rand() % 3 == 0) ? (unsigned)rand() % 0x10000 : 0;
			sin6.sin6_addr.s6_addr[2 * g] = (uint8_t)(v >> 8);
			sin6.sin6_addr.s6_addr[2 * g + 1] = (uint8_t)v;
		}
		const uint8_t *a = sin6.sin6_addr.s6_addr;
		static const uint8_t zero[12];
		if (memcmp(a, zero, 10) == 0 &&
		    (memcmp(a + 10, zero, 2) == 0 || (a[10] == 0xff && a[11] == 0xff)))
			continue; /* ::a.b.c.d and ::ffff:a.b.c.d print differently */
		char ntop[INET6_ADDRSTRLEN], want[FL_DEST_STR_MAX], got[FL_DEST_STR_MAX];
		struct fl_dest d;
		ck_assert(fl_dest_from_sockaddr((struct sockaddr *)&sin6, sizeof sin6, &d));
		inet_ntop(AF_INET6, a, ntop, sizeof ntop);
		snprintf(want, sizeof want, "[%s]:0", ntop);
		fl_dest_format(&d, got, sizeof got);
		ck_assert_str_eq(got, want);
	}
}
END_TEST

START_TEST(dest_format_names_unix_sockets)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char buf[FL_DEST_STR_MAX];
	struct fl_dest d;
	strcpy(sun.sun_path, "/run/x.sock");
	ck_assert(fl_dest_from_sockaddr((struct sockaddr *)&sun, sizeof sun, &d));
	fl_dest_format(&d, buf, sizeof buf);
	ck_assert_str_eq(buf, "unix:/run/x.sock");
	memcpy(sun.sun_path, "\0name", 5);
	ck_assert(fl_dest_from_sockaddr((struct sockaddr *)&sun,
					(socklen_t)(offsetof(struct sockaddr_un, sun_path) + 5), &d));
	fl_dest_format(&d, buf, sizeof buf);
	ck_assert_str_eq(buf, "unix:@name");
}
END_TEST

START_TEST(dest_format_truncates_but_reports_full_length)
{
	char buf[5];
	struct fl_dest d = dest_v4("127.0.0.1", 6379);
	ck_assert_uint_eq(fl_dest_format(&d, buf, sizeof buf), 14);
	ck_assert_str_eq(buf, "127.");
}
END_TEST

START_TEST(ipv4_rule_matches_exact_host_and_port_range)
{
	ck_assert(matches("127.0.0.1", dest_v4("127.0.0.1", 1)));
	ck_assert(!matches("127.0.0.1", dest_v4("127.0.0.2", 1)));
	ck_assert(matches("127.0.0.1:80-90", dest_v4("127.0.0.1", 80)));
	ck_assert(matches("127.0.0.1:80-90", dest_v4("127.0.0.1", 90)));
	ck_assert(!matches("127.0.0.1:80-90", dest_v4("127.0.0.1", 91)));
	ck_assert(!matches("127.0.0.1:80-90", dest_v4("127.0.0.1", 79)));
}
END_TEST

START_TEST(cidr_rule_matches_by_prefix_bits)
{
	ck_assert(matches("10.0.0.0/8", dest_v4("10.255.1.2", 5)));
	ck_assert(!matches("10.0.0.0/8", dest_v4("11.0.0.0", 5)));
	ck_assert(matches("172.16.0.0/12", dest_v4("172.31.255.255", 5)));
	ck_assert(!matches("172.16.0.0/12", dest_v4("172.32.0.0", 5)));
	ck_assert(matches("0.0.0.0/0", dest_v4("8.8.8.8", 5)));
	ck_assert(!matches("0.0.0.0/0", dest_v6("::1", 5)));
	ck_assert(matches("fd00::/8", dest_v6("fdff::1", 5)));
	ck_assert(!matches("fd00::/8", dest_v6("fe00::1", 5)));
	ck_assert(matches("2001:db8::/33", dest_v6("2001:db8:7fff::", 5)));
	ck_assert(!matches("2001:db8::/33", dest_v6("2001:db8:8000::", 5)));
}
END_TEST

START_TEST(ipv4_rule_matches_v4_mapped_destination)
{
	ck_assert(matches("127.0.0.1:6379", dest_v6("::ffff:127.0.0.1", 6379)));
	ck_assert(matches("10.0.0.0/8", dest_v6("::ffff:10.9.8.7", 1)));
}
END_TEST

START_TEST(v4_mapped_rule_matches_plain_ipv4_destination)
{
	ck_assert(matches("[::ffff:127.0.0.1]:6379", dest_v4("127.0.0.1", 6379)));
}
END_TEST

START_TEST(ipv6_rule_does_not_match_ipv4_destination)
{
	ck_assert(!matches("::/0", dest_v4("1.2.3.4", 1)));
	ck_assert(!matches("1.2.3.4", dest_v6("::102:304", 1)));
}
END_TEST

START_TEST(star_matches_ipv4_and_ipv6_but_not_unix)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX, .sun_path = "/x"};
	struct fl_dest unix_dest;
	ck_assert(fl_dest_from_sockaddr((struct sockaddr *)&sun, sizeof sun, &unix_dest));
	ck_assert(matches("*", dest_v4("1.2.3.4", 1)));
	ck_assert(matches("*", dest_v6("2001:db8::1", 1)));
	ck_assert(!matches("*", unix_dest));
	ck_assert(matches("*:443", dest_v4("1.2.3.4", 443)));
	ck_assert(!matches("*:443", dest_v6("::1", 444)));
}
END_TEST

START_TEST(unix_rule_matches_exact_path_only)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct fl_dest d;
	strcpy(sun.sun_path, "/run/x.sock");
	ck_assert(fl_dest_from_sockaddr((struct sockaddr *)&sun, sizeof sun, &d));
	ck_assert(matches("unix:/run/x.sock", d));
	ck_assert(!matches("unix:/run/x.soc", d));
	ck_assert(!matches("unix:/run/x.sock2", d));
	ck_assert(!matches("unix:@/run/x.sock", d));
	ck_assert(!matches("127.0.0.1", d));
}
END_TEST

START_TEST(unix_abstract_rule_matches_abstract_destination)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct fl_dest d;
	memcpy(sun.sun_path, "\0name", 5);
	ck_assert(fl_dest_from_sockaddr((struct sockaddr *)&sun,
					(socklen_t)(offsetof(struct sockaddr_un, sun_path) + 5), &d));
	ck_assert(matches("unix:@name", d));
	ck_assert(!matches("unix:name", d));
}
END_TEST

Suite *target_suite(void); /* run by runner.c */

Suite *target_suite(void)
{
	Suite *s = suite_create("target");
	TCase *parse = tcase_create("parse");
	tcase_add_test(parse, ipv4_address_means_one_host_on_any_port);
	tcase_add_test(parse, ipv4_port_and_port_range_parse);
	tcase_add_test(parse, bad_ports_are_rejected_with_reason);
	tcase_add_test(parse, cidr_parses_with_and_without_ports);
	tcase_add_test(parse, cidr_with_host_bits_set_is_rejected);
	tcase_add_test(parse, prefix_length_out_of_range_is_rejected);
	tcase_add_test(parse, bracketed_ipv6_takes_ports);
	tcase_add_test(parse, bracketed_ipv6_prefix_may_stand_inside_or_outside);
	tcase_add_test(parse, bare_ipv6_and_ipv6_cidr_parse_without_port);
	tcase_add_test(parse, bad_ipv6_is_rejected);
	tcase_add_test(parse, ipv4_mapped_ipv6_target_becomes_ipv4);
	tcase_add_test(parse, star_matches_every_ip_port_or_range);
	tcase_add_test(parse, unix_paths_and_abstract_names_parse);
	tcase_add_test(parse, bad_unix_targets_are_rejected);
	tcase_add_test(parse, host_names_are_rejected_with_advice);
	tcase_add_test(parse, malformed_ipv4_is_rejected);
	tcase_add_test(parse, parse_reads_only_len_bytes);
	suite_add_tcase(s, parse);

	TCase *format = tcase_create("format");
	tcase_add_test(format, format_prints_canonical_form);
	tcase_add_test(format, formatted_target_parses_back_to_the_same_target);
	tcase_add_test(format, format_returns_full_length_and_truncates_safely);
	suite_add_tcase(s, format);

	TCase *dest = tcase_create("dest");
	tcase_add_test(dest, dest_from_ipv4_sockaddr);
	tcase_add_test(dest, dest_from_v4_mapped_ipv6_sockaddr_is_ipv4);
	tcase_add_test(dest, dest_from_ipv6_sockaddr_accepts_rfc2133_length);
	tcase_add_test(dest, dest_from_short_or_foreign_sockaddr_is_refused);
	tcase_add_test(dest, dest_from_unix_pathname_stops_at_nul_and_len);
	tcase_add_test(dest, dest_from_unix_abstract_keeps_every_byte_of_the_name);
	tcase_add_test(dest, unnamed_unix_socket_is_not_a_destination);
	tcase_add_test(dest, dest_format_prints_address_and_port);
	tcase_add_test(dest, dest_format_compresses_ipv6_as_rfc5952);
	tcase_add_test(dest, dest_format_agrees_with_inet_ntop_on_random_addresses);
	tcase_add_test(dest, dest_format_names_unix_sockets);
	tcase_add_test(dest, dest_format_truncates_but_reports_full_length);
	suite_add_tcase(s, dest);

	TCase *match = tcase_create("match");
	tcase_add_test(match, ipv4_rule_matches_exact_host_and_port_range);
	tcase_add_test(match, cidr_rule_matches_by_prefix_bits);
	tcase_add_test(match, ipv4_rule_matches_v4_mapped_destination);
	tcase_add_test(match, v4_mapped_rule_matches_plain_ipv4_destination);
	tcase_add_test(match, ipv6_rule_does_not_match_ipv4_destination);
	tcase_add_test(match, star_matches_ipv4_and_ipv6_but_not_unix);
	tcase_add_test(match, unix_rule_matches_exact_path_only);
	tcase_add_test(match, unix_abstract_rule_matches_abstract_destination);
	suite_add_tcase(s, match);
	return s;
}
