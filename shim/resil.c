/*
 * resil.c - see resil.h.
 *
 * Failover rewrites only the address the real connect is made to: the
 * program's socket, its flags and its descriptor stay as they are, so a
 * blocking connect blocks on the fallback and a non-blocking one reports
 * it through readiness, like any other connect. The fallback is then
 * matched as a destination of its own (its own entry, its own breaker if
 * a rule gives it one); connect.c fails over at most once per call, so
 * fallbacks never chain or loop.
 */
#include "resil.h"

#include <netinet/in.h>
#include <string.h>

#include "domain.h"
#include "events.h"
#include "log.h"
#include "ratelimit.h"

bool fl_resil_has_fallback(const struct fl_conn *c)
{
	return c->breaker != NULL &&
	       __atomic_load_n(&c->breaker->breaker_x.fallback_family, __ATOMIC_ACQUIRE) != 0;
}

static void log_fallback(const struct fl_conn *c, const struct fl_dest *to)
{
	if (!fl_log_on(FL_LOG_INFO))
		return;
	char storage[256], from[FL_DEST_STR_MAX], dest[FL_DEST_STR_MAX];
	struct fl_textbuf b;
	fl_dest_format(&c->dest, from, sizeof(from));
	fl_dest_format(to, dest, sizeof(dest));
	fl_log_begin(&b, storage, sizeof(storage));
	fl_tb_puts(&b, "connect ");
	fl_tb_puts(&b, from);
	fl_tb_puts(&b, ": rejected, failing over to ");
	fl_tb_puts(&b, dest);
	fl_log_end(&b);
}

bool fl_resil_fallback(const struct fl_conn *c, const struct sockaddr *sa, struct sockaddr_storage *out,
		       socklen_t *out_len)
{
	if (!fl_resil_has_fallback(c))
		return false;
	struct fl_seg_breaker_x *x = &c->breaker->breaker_x;
	struct fl_dest to;
	memset(&to, 0, sizeof to);
	to.family = __atomic_load_n(&x->fallback_family, __ATOMIC_ACQUIRE);
	to.port = __atomic_load_n(&x->fallback_port, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < 16; i++)
		to.addr[i] = __atomic_load_n(&x->fallback_addr[i], __ATOMIC_RELAXED);
	if (to.family == c->dest.family && to.port == c->dest.port && memcmp(to.addr, c->dest.addr, 16) == 0)
		return false; /* set live to its own destination: nowhere else to go */
	memset(out, 0, sizeof *out);
	if (sa->sa_family == AF_INET && to.family == FL_AF_INET4) {
		struct sockaddr_in *in = (struct sockaddr_in *)out;
		in->sin_family = AF_INET;
		in->sin_port = htons(to.port);
		memcpy(&in->sin_addr, to.addr, 4);
		*out_len = sizeof *in;
	} else if (sa->sa_family == AF_INET6 && (to.family == FL_AF_INET6 || to.family == FL_AF_INET4)) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(to.port);
		if (to.family == FL_AF_INET6) {
			memcpy(&in6->sin6_addr, to.addr, 16);
		} else { /* ::ffff:a.b.c.d */
			in6->sin6_addr.s6_addr[10] = 0xff;
			in6->sin6_addr.s6_addr[11] = 0xff;
			memcpy(&in6->sin6_addr.s6_addr[12], to.addr, 4);
		}
		*out_len = sizeof *in6;
	} else {
		return false;
	}
	__atomic_fetch_add(&x->fallbacks, 1, __ATOMIC_RELAXED);
	char dest[FL_DEST_STR_MAX];
	fl_dest_format(&to, dest, sizeof(dest));
	fl_event_fallback(&fl_domain.seg, c->breaker, dest, fl_now_ms()); /* one a second per destination */
	log_fallback(c, &to);
	return true;
}

int fl_resil_rate(struct fl_seg_entry *rl, const struct fl_conn *c, uint32_t *delay_ms)
{
	uint64_t delay_ns = 0;
	*delay_ms = 0;
	enum fl_rate_result r = fl_ratelimit_take(&rl->ratelimit, fl_now_ns(), &delay_ns);
	(void)c;
	if (r != FL_RATE_ADMITTED) /* one event a second per destination and what */
		fl_event_rate_limit(&fl_domain.seg, rl,
				    r == FL_RATE_REJECTED ? FL_RATE_EV_REJECTED : FL_RATE_EV_DELAYED,
				    fl_now_ms());
	if (r == FL_RATE_REJECTED)
		return (int)__atomic_load_n(&rl->ratelimit.p.reject_errno, __ATOMIC_RELAXED);
	if (r == FL_RATE_DELAYED)
		*delay_ms = (uint32_t)((delay_ns + 999999u) / 1000000u);
	return 0;
}
