/*
 * resil.h - SPEC 11 at connect time: the failover address of a breaker
 * that rejects (or whose bulkhead has no slot), and the shared rate limit.
 * connect.c calls these; they keep its own flow unchanged for
 * destinations without these rules.
 */
#ifndef FL_SHIM_RESIL_H
#define FL_SHIM_RESIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conn.h"

/* Does c's breaker have a fallback (so a full bulkhead should not queue)? */
bool fl_resil_has_fallback(const struct fl_conn *c);

/*
 * The fallback of c's breaker as a socket address for a socket of sa's
 * family (an IPv4 fallback is mapped for an IPv6 socket); counts it in
 * `fallbacks`. false: none, or it cannot be reached from this socket
 * (an IPv6 fallback for an IPv4 socket), or it is the destination itself.
 */
bool fl_resil_fallback(const struct fl_conn *c, const struct sockaddr *sa, struct sockaddr_storage *out,
		       socklen_t *out_len);

/*
 * Takes a token of the rate limit in `rl` for a connect now: 0 to go on
 * (*delay_ms: how long it must wait first, 0 = none), or the errno to
 * fail with.
 */
int fl_resil_rate(struct fl_seg_entry *rl, const struct fl_conn *c, uint32_t *delay_ms);

#endif
