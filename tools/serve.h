/*
 * serve.h - what the parts of `faultline serve` share: tools/cmd_serve.c
 * (the server, security checks, stats, metrics, destinations, dashboard)
 * and tools/serve_live.c (layers and events, SPEC section 7, routed apart
 * so they can be filled in where the event log and layers live without
 * touching the server).
 *
 * Every reply goes through fl_serve_queue, which records the status for the
 * request's log line. Errors are JSON {"error": "..."} (SPEC section 8).
 */
#ifndef FL_SERVE_H
#define FL_SERVE_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "report.h"

/* Set when SIGINT or SIGTERM arrived: long responses (event streams) end. */
extern atomic_bool fl_serve_stopping;
/* Event streams whose response is still in use (serve_live.c): on a stop
 * the server waits a moment for them to end cleanly (their last chunk
 * sent) before closing every connection. */
extern atomic_int fl_serve_streams;

struct fl_serve_req {
	struct MHD_Connection *conn;
	const char *method, *url; /* url: the decoded path, without the query */
	const char *domain;	  /* ?domain=, else serve's --domain */
	const char *body;	  /* NUL-terminated; "" when there is none */
	size_t body_len;
	unsigned status; /* of the reply queued, for the log line */
};

/* Queues resp (and destroys our reference) with the headers every reply has. */
enum MHD_Result fl_serve_queue(struct fl_serve_req *r, unsigned status, struct MHD_Response *resp);

/* Queues body (copied) as type; a failed buffer (out of memory) becomes a 500. */
enum MHD_Result fl_serve_reply(struct fl_serve_req *r, unsigned status, const char *type,
			       const struct fl_out *body);

/* Queues {"error": MESSAGE}. */
enum MHD_Result fl_serve_error(struct fl_serve_req *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* serve_live.c: the methods a layers or events path allows ("GET, HEAD"),
 * NULL when url is not one of them. */
const char *fl_serve_live_allowed(const char *url);

/* serve_live.c: answers a request whose path fl_serve_live_allowed knows. */
enum MHD_Result fl_serve_live_handle(struct fl_serve_req *r);

/* serve_live.c: whether layers and events are built (the dashboard asks,
 * through the X-Faultline-Features header of /api/v1/stats). */
extern const bool fl_serve_live_ready;

/*
 * The event stream's plumbing (text/event-stream). next appends to o the
 * events of domain with a sequence number above *after, already formatted
 * as server-sent events ("id: N\ndata: {...}\n\n"), moves *after to the
 * last one written, and waits at most wait_ms for one when there is none.
 * It returns 0, or -1 to end the stream (the domain is gone). The response
 * calls it from the connection's own thread (one thread per connection),
 * so it may block; it sends a comment line every few seconds when nothing
 * comes (so the connection timeout never closes a quiet stream) and ends
 * when the server stops.
 */
typedef int (*fl_serve_next_events_fn)(const char *domain, uint64_t *after, unsigned wait_ms,
				       struct fl_out *o);
struct MHD_Response *fl_serve_event_stream(const char *domain, uint64_t after, fl_serve_next_events_fn next);

#endif
