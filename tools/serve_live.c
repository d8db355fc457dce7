/*
 * serve_live.c - the layers and events endpoints of `faultline serve`
 * (SPEC section 8 over section 7):
 *
 *   GET    /api/v1/layers           faultline layers --json
 *   PUT    /api/v1/layers/NAME      body {"rules": "...", "for": "30s"}: faultline apply
 *   DELETE /api/v1/layers/NAME      faultline remove NAME
 *   DELETE /api/v1/layers           faultline heal
 *   GET    /api/v1/events?since=T   faultline events --json --since T, as one array
 *   GET    /api/v1/events/stream    the same as server-sent events, live
 *
 * NOT BUILT YET: layers and the event log are written in other branches
 * (issue 10). Until they are merged every route here is known (so methods
 * get 405 and paths are not 404) and answers 501 {"error": "not built yet:
 * layers/events"}. What each handler needs from the merged code is written
 * next to it; the event stream's plumbing is ready below
 * (fl_serve_event_stream): the stream handler only has to hand it a
 * function giving the events after a sequence number.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve.h"

const bool fl_serve_live_ready = false; /* true once the handlers below are filled in */

#define LAYERS "/api/v1/layers"
#define EVENTS "/api/v1/events"

const char *fl_serve_live_allowed(const char *url)
{
	if (strcmp(url, LAYERS) == 0)
		return "GET, HEAD, DELETE";
	if (strncmp(url, LAYERS "/", strlen(LAYERS "/")) == 0 && url[strlen(LAYERS "/")] != '\0')
		return "PUT, DELETE";
	if (strcmp(url, EVENTS) == 0)
		return "GET, HEAD";
	if (strcmp(url, EVENTS "/stream") == 0)
		return "GET";
	return NULL;
}

enum MHD_Result fl_serve_live_handle(struct fl_serve_req *r)
{
	/*
	 * To fill in after the merge (r->domain is the domain; r->body the
	 * request body, NUL-terminated, already checked to be application/json
	 * and at most 1 MiB; parse it with json-c as cmd_serve.c's PATCH does):
	 *
	 *   GET /api/v1/layers: a function writing the `layers --json` array
	 *     into a struct fl_out -> fl_serve_reply(r, 200, "application/json", &o).
	 *   PUT /api/v1/layers/NAME: the `apply` path taking (domain, name,
	 *     rules text, duration text or NULL) and giving an error message
	 *     (SOURCE:LINE:COL ... as the CLI prints it) -> 400 naming the bad key,
	 *     else 200 with the layer as JSON. Creates the domain if needed.
	 *   DELETE /api/v1/layers/NAME: remove one; unknown name -> 404.
	 *   DELETE /api/v1/layers: remove all (heal).
	 *   GET /api/v1/events?since=T: a function writing the events since T
	 *     (Unix ms) as a JSON array into a struct fl_out.
	 *   GET /api/v1/events/stream: return fl_serve_queue(r, 200,
	 *     fl_serve_event_stream(r->domain, START, next_events)) with START
	 *     from the Last-Event-ID header (MHD_lookup_connection_value) or
	 *     ?since=, and next_events as fl_serve_next_events_fn describes (it
	 *     needs the event log to give "events after sequence N" and a way to
	 *     wait for a new one with a timeout, e.g. polling the ring's head
	 *     every 100 ms).
	 * Then set fl_serve_live_ready to true: the dashboard switches its event
	 * feed and layer form on.
	 */
	return fl_serve_error(r, 501, "not built yet: layers/events");
}

/* ---- server-sent events plumbing ---- */

#define KEEPALIVE_MS 5000 /* below the connection timeout (cmd_serve.c) */
#define WAIT_MS	     250  /* how long one call of next may wait: bounds the stop */

struct stream {
	char domain[72];
	uint64_t after;
	fl_serve_next_events_fn next;
	struct fl_out pending;
	size_t off;
	uint64_t quiet_ms; /* since something was sent */
	bool over;
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	struct stream *s = cls;
	while (s->off == s->pending.len) {
		if (s->over || atomic_load(&fl_serve_stopping))
			return MHD_CONTENT_READER_END_OF_STREAM;
		fl_out_reset(&s->pending);
		s->off = 0;
		if (s->next(s->domain, &s->after, WAIT_MS, &s->pending) < 0)
			s->over = true;
		if (s->pending.failed)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (s->pending.len > 0) {
			s->quiet_ms = 0;
		} else if ((s->quiet_ms += WAIT_MS) >= KEEPALIVE_MS) {
			fl_out_puts(&s->pending, ": keep-alive\n\n");
			s->quiet_ms = 0;
		}
	}
	size_t n = s->pending.len - s->off;
	if (n > max)
		n = max;
	memcpy(buf, s->pending.p + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	struct stream *s = cls;
	fl_out_free(&s->pending);
	free(s);
}

struct MHD_Response *fl_serve_event_stream(const char *domain, uint64_t after, fl_serve_next_events_fn next)
{
	struct stream *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	snprintf(s->domain, sizeof(s->domain), "%s", domain);
	s->after = after;
	s->next = next;
	fl_out_init(&s->pending);
	struct MHD_Response *resp =
	    MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, s, stream_free);
	if (!resp) {
		stream_free(s);
		return NULL;
	}
	MHD_add_response_header(resp, "Content-Type", "text/event-stream");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	return resp;
}
