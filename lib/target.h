/*
 * target.h - what a rule matches (a target) and what a socket talks to (a
 * destination).
 *
 * A destination is normalised once, at connect time, from the sockaddr the
 * program passed: an IPv4-mapped IPv6 address becomes plain IPv4, so that an
 * IPv4 rule matches both forms and the statistics name one destination.
 */
#ifndef FL_TARGET_H
#define FL_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define FL_UNIX_PATH_MAX 108 /* sizeof(sun_path) */
#define FL_DEST_STR_MAX	 128 /* "unix:" + path, or "[v6]:port" */

enum fl_addr_family {
	FL_AF_ANY = 0, /* "*": every IPv4 and IPv6 destination */
	FL_AF_INET4 = 4,
	FL_AF_INET6 = 6,
	FL_AF_UNIX = 1,
	FL_AF_NAME = 8, /* a host name (lib/hostname.h) */
};

#define FL_NAME_MAX 253 /* a host name's length, without the trailing dot */

struct fl_target {
	uint8_t family;	  /* enum fl_addr_family */
	uint8_t prefix;	  /* CIDR prefix length; 32 or 128 for one address */
	uint16_t port_lo; /* 0..65535; port_lo=0,port_hi=65535 means any port */
	uint16_t port_hi;
	uint8_t addr[16];  /* network order; IPv4 in the first 4 bytes */
	uint16_t path_len; /* unix: bytes of path (abstract names start with '\0') */
	char path[FL_UNIX_PATH_MAX];
	/* FL_AF_NAME: the name, lowercase, no trailing dot; for *.SUFFIX the
	 * suffix, with name_wild set. */
	uint8_t name_wild;
	uint16_t name_len;
	char name[FL_NAME_MAX + 1];
};

struct fl_dest {
	uint8_t family; /* FL_AF_INET4, FL_AF_INET6 or FL_AF_UNIX */
	uint16_t port;	/* host order */
	uint8_t addr[16];
	uint16_t path_len;
	char path[FL_UNIX_PATH_MAX];
	/* The host name this address was resolved from in this process
	 * (shim/resolve.c), when a name statement covers it; NULL otherwise.
	 * Points into a table that is never freed. */
	const char *name;
	uint16_t name_len;
};

/*
 * Parses TARGET text (not NUL-terminated: len bytes). On failure returns -1
 * and points *why at a static explanation ("bad IPv4 address", ...).
 */
int fl_target_parse(const char *text, size_t len, struct fl_target *out, const char **why);
/* The same, with *at the offset in text where the problem is (host names). */
int fl_target_parse_at(const char *text, size_t len, struct fl_target *out, const char **why, size_t *at);

/* Canonical text of a target, as `faultline check` prints it. */
size_t fl_target_format(const struct fl_target *t, char *buf, size_t size);

/*
 * Fills *out from a sockaddr; returns false for families faultline does not
 * watch (AF_NETLINK, unnamed unix sockets, ...). Async-signal-safe.
 */
bool fl_dest_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct fl_dest *out);

bool fl_target_match(const struct fl_target *t, const struct fl_dest *d);

/* "127.0.0.1:6379", "[::1]:6379", "unix:/run/x.sock". Async-signal-safe. */
size_t fl_dest_format(const struct fl_dest *d, char *buf, size_t size);

#endif
