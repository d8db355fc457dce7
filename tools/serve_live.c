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
 * Each handler runs the CLI's own function (tools/cmd_layers.c,
 * tools/cmd_events.c) with its error message captured (fl_cli_capture_to,
 * per thread): `apply` is fl_layers_apply_cli, `remove`/`heal`
 * fl_layers_cli_remove, `layers --json` fl_layers_list, an event is
 * fl_cli_event_json and ?since= fl_events_since_parse, so what the API
 * accepts, refuses and prints is what the CLI does, word for word. Layer
 * writes serialise on the layer table's own lock (lib/layers.h); they
 * write their "applied"/"removed" events as the CLI does.
 *
 * The event stream: one thread per connection (cmd_serve.c), so the
 * stream's reader may wait: it opens the domain, polls the ring's head
 * every POLL_MS for at most WAIT_MS, sends what came as
 * "id: N\ndata: {json}\n\n" (N = the event's number + 1, so a client's
 * Last-Event-ID is where it resumes), and a comment line every few seconds
 * when nothing did. A slow reader blocks its own thread only.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "clock.h"
#include "events.h"
#include "layers.h"
#include "reader.h"
#include "segment.h"
#include "serve.h"

const bool fl_serve_live_ready = true; /* the dashboard turns its event feed and layer form on */

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

/* ---- running the CLI's functions ---- */

/* An error the CLI reported, as an HTTP status: bad input 400, a missing
 * domain or layer 404, anything else (the table is full) 409. */
static enum MHD_Result cli_error(struct fl_serve_req *r, const struct fl_cli_capture *cap)
{
	const char *msg = cap->msg[0] ? cap->msg : "failed";
	unsigned status = cap->code == FL_EXIT_USAGE		? 400
			  : strstr(msg, "does not exist")	? 404
			  : strncmp(msg, "no layer '", 10) == 0 ? 404
			  : strstr(msg, "out of memory")	? 500
								: 409;
	return fl_serve_error(r, status, "%s", msg);
}

static enum MHD_Result get_layers(struct fl_serve_req *r)
{
	struct fl_out o;
	fl_out_init(&o);
	struct fl_cli_capture cap = {0};
	fl_cli_capture_to = &cap;
	int code = fl_layers_list(r->domain, &o, true);
	fl_cli_capture_to = NULL;
	enum MHD_Result ret =
	    code == FL_EXIT_OK ? fl_serve_reply(r, 200, "application/json", &o) : cli_error(r, &cap);
	fl_out_free(&o);
	return ret;
}

/* After a PUT: the layer's object of the `layers --json` array. */
static enum MHD_Result reply_layer(struct fl_serve_req *r, const char *name)
{
	struct fl_out o;
	fl_out_init(&o);
	struct fl_cli_capture cap = {0};
	fl_cli_capture_to = &cap;
	int code = fl_layers_list(r->domain, &o, true);
	fl_cli_capture_to = NULL;
	if (code != FL_EXIT_OK) {
		fl_out_free(&o);
		return cli_error(r, &cap);
	}
	struct json_object *all = o.failed ? NULL : json_tokener_parse(o.p);
	fl_out_free(&o);
	struct json_object *found = NULL;
	for (size_t i = 0; all && i < json_object_array_length(all); i++) {
		struct json_object *l = json_object_array_get_idx(all, i), *n;
		if (json_object_object_get_ex(l, "name", &n) && strcmp(json_object_get_string(n), name) == 0)
			found = l;
	}
	enum MHD_Result ret;
	if (!found) { /* expired or replaced in between */
		ret = fl_serve_error(r, 409, "layer '%s' was applied but is gone already", name);
	} else {
		fl_out_init(&o);
		fl_out_puts(&o, json_object_to_json_string_ext(found, JSON_C_TO_STRING_SPACED |
									  JSON_C_TO_STRING_NOSLASHESCAPE));
		fl_out_puts(&o, "\n");
		ret = fl_serve_reply(r, 200, "application/json", &o);
		fl_out_free(&o);
	}
	json_object_put(all);
	return ret;
}

static enum MHD_Result put_layer(struct fl_serve_req *r, const char *name)
{
	enum json_tokener_error jerr;
	struct json_object *body = json_tokener_parse_verbose(r->body, &jerr);
	if (!body)
		return fl_serve_error(r, 400, "the body is not JSON: %s", json_tokener_error_desc(jerr));
	enum MHD_Result ret;
	const char *rules = NULL, *for_time = NULL;
	char for_ms[32];
	if (!json_object_is_type(body, json_type_object)) {
		ret = fl_serve_error(r, 400,
				     "the body must be an object: {\"rules\": \"...\", \"for\": \"30s\"}");
		goto out;
	}
	json_object_object_foreach(body, key, value)
	{
		if (strcmp(key, "rules") == 0 && json_object_is_type(value, json_type_string)) {
			rules = json_object_get_string(value);
		} else if (strcmp(key, "for") == 0 && json_object_is_type(value, json_type_string)) {
			for_time = json_object_get_string(value);
		} else if (strcmp(key, "for") == 0 && json_object_is_type(value, json_type_int)) {
			snprintf(for_ms, sizeof(for_ms), "%lld", (long long)json_object_get_int64(value));
			for_time = for_ms; /* a bare number: milliseconds, as on the command line */
		} else if (strcmp(key, "for") == 0 && json_object_is_type(value, json_type_null)) {
			for_time = NULL;
		} else if (strcmp(key, "rules") == 0 || strcmp(key, "for") == 0) {
			ret = fl_serve_error(r, 400, "'%s' must be a string%s", key,
					     strcmp(key, "for") == 0 ? " (250ms, 30s, 5m) or milliseconds"
								     : "");
			goto out;
		} else {
			ret = fl_serve_error(
			    r, 400, "unknown key '%s' in the body (give rules and, if you like, for)", key);
			goto out;
		}
	}
	if (!rules) {
		ret = fl_serve_error(r, 400,
				     "the body needs \"rules\": the layer's statements (SPEC section 3)");
		goto out;
	}
	struct fl_cli cli = {0};
	cli.command = "apply";
	cli.domain = r->domain;
	cli.rules = rules;
	cli.rules_src = "rules";
	cli.for_time = for_time;
	cli.name = name;
	char applied[FL_SEG_LAYER_NAME];
	size_t count = 0;
	uint64_t ms = 0;
	struct fl_cli_capture cap = {0};
	fl_cli_capture_to = &cap;
	int code = fl_layers_apply_cli(&cli, applied, sizeof(applied), &count, &ms);
	fl_cli_capture_to = NULL;
	if (code != FL_EXIT_OK && strncmp(cap.msg, "--for: ", 7) == 0)
		memmove(cap.msg, cap.msg + 2, strlen(cap.msg + 2) + 1); /* the body's key is "for" */
	ret = code == FL_EXIT_OK ? reply_layer(r, applied) : cli_error(r, &cap);
out:
	json_object_put(body);
	return ret;
}

static enum MHD_Result delete_layers(struct fl_serve_req *r, const char *name)
{
	char *names[1] = {(char *)name};
	unsigned removed = 0;
	struct fl_cli_capture cap = {0};
	fl_cli_capture_to = &cap;
	int code = fl_layers_cli_remove(r->domain, names, name ? 1 : 0, name == NULL, &removed, false);
	fl_cli_capture_to = NULL;
	if (code != FL_EXIT_OK)
		return cli_error(r, &cap);
	struct fl_out o;
	fl_out_init(&o);
	fl_out_printf(&o, "{\"removed\": %u}\n", removed);
	enum MHD_Result ret = fl_serve_reply(r, 200, "application/json", &o);
	fl_out_free(&o);
	return ret;
}

/* ---- events ---- */

#define GRACE_MS 200u /* an unpublished record is waited for this long (as the CLI) */
#define POLL_MS	 50u
#define BATCH	 64u

static void sleep_ms(unsigned ms)
{
	struct timespec t = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

/*
 * Appends the events from r->next up to until whose time is >= since:
 * SSE frames, or JSON array elements (",\n" between, *count so far). Waits
 * out records being written (the reader's grace), not past deadline_mono.
 * -1 when the ring holds a corrupt record (d->error).
 */
static int collect(const struct fl_seg *seg, struct fl_event_reader *rd, uint64_t until, uint64_t since,
		   bool sse, struct fl_out *o, size_t *count, uint64_t deadline_mono, struct fl_diag *d)
{
	struct fl_event batch[BATCH];
	while (rd->next < until) {
		int n = fl_events_read(seg, rd, fl_clock_mono_ms(), batch, BATCH, d);
		if (n < 0)
			return -1;
		for (int i = 0; i < n; i++) {
			if (batch[i].time_ms < since)
				continue;
			if (sse)
				fl_out_printf(o, "id: %llu\ndata: ", (unsigned long long)batch[i].number + 1);
			else if ((*count)++)
				fl_out_puts(o, ",\n ");
			fl_cli_event_json(o, &batch[i]); /* ends in "\n" */
			if (!sse && o->len)
				o->p[--o->len] = '\0';
			else
				fl_out_puts(o, "\n");
		}
		if (n == 0 && rd->next < until) {
			if (fl_clock_mono_ms() >= deadline_mono)
				break;
			sleep_ms(5); /* a record being written: its writer, or the grace, ends this */
		}
	}
	return 0;
}

/* The domain's segment, checked as every CLI command checks it; queues
 * the error (404 for a missing domain) and returns false on failure. */
static bool open_events(struct fl_serve_req *r, struct fl_seg *seg, enum MHD_Result *ret)
{
	struct fl_snapshot snap;
	char msg[FL_DIAG_MSG_MAX];
	int code = fl_cli_snapshot(r->domain, seg, &snap, msg, sizeof(msg), false);
	if (code == FL_EXIT_OK) {
		fl_snapshot_free(&snap);
		return true;
	}
	*ret = fl_serve_error(r,
			      code == FL_EXIT_USAGE	      ? 400
			      : strstr(msg, "does not exist") ? 404
							      : 500,
			      "%s", msg);
	return false;
}

/* ?since=T as `events --since`: Unix ms or a DURATION ago; 0 without. */
static bool since_arg(struct fl_serve_req *r, uint64_t *since, enum MHD_Result *ret)
{
	const char *t = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "since");
	*since = 0;
	if (!t || fl_events_since_parse(t, fl_cli_now_ms(), since) == 0)
		return true;
	*ret = fl_serve_error(
	    r, 400, "since: '%s' is neither a Unix time in ms nor a duration (250ms, 30s, 5m, 2h)", t);
	return false;
}

static enum MHD_Result get_events(struct fl_serve_req *r)
{
	uint64_t since;
	enum MHD_Result ret;
	struct fl_seg seg;
	if (!since_arg(r, &since, &ret) || !open_events(r, &seg, &ret))
		return ret;
	struct fl_event_reader rd;
	fl_event_reader_init(&rd, &seg, GRACE_MS);
	struct fl_diag *d = calloc(1, sizeof(*d));
	struct fl_out o;
	fl_out_init(&o);
	fl_out_puts(&o, "[");
	size_t count = 0;
	if (!d) {
		ret = fl_serve_queue(r, 500, NULL);
	} else if (collect(&seg, &rd, fl_events_head(&seg), since, false, &o, &count,
			   fl_clock_mono_ms() + 2 * GRACE_MS, d) < 0) {
		ret = fl_serve_error(r, 500, "%s", d->error);
	} else {
		fl_out_puts(&o, "]\n");
		ret = fl_serve_reply(r, 200, "application/json", &o);
	}
	fl_out_free(&o);
	free(d);
	fl_seg_close(&seg);
	return ret;
}

/* fl_serve_next_events_fn: the events numbered *after and later. */
static int next_events(const char *domain, uint64_t *after, unsigned wait_ms, struct fl_out *o)
{
	struct fl_seg seg;
	struct fl_diag *d = calloc(1, sizeof(*d));
	if (!d)
		return -1;
	if (fl_seg_open(&seg, domain, 0, false, 0, d) < 0) {
		free(d);
		return -1; /* removed: the stream ends */
	}
	int ret = 0;
	uint64_t deadline = fl_clock_mono_ms() + wait_ms;
	struct fl_event_reader rd;
	fl_event_reader_init(&rd, &seg, GRACE_MS);
	if (*after > fl_events_head(&seg))
		ret = -1; /* a new domain of that name: its numbers started again */
	else if (*after > rd.next)
		rd.next = *after;
	size_t count = 0;
	while (ret == 0) {
		uint64_t head = fl_events_head(&seg);
		if (head > rd.next && collect(&seg, &rd, head, 0, true, o, &count, deadline, d) < 0)
			ret = -1;
		if (o->len || rd.next < head || fl_clock_mono_ms() >= deadline ||
		    atomic_load(&fl_serve_stopping))
			break;
		sleep_ms(POLL_MS);
	}
	*after = rd.next;
	fl_seg_close(&seg);
	free(d);
	return ret;
}

static enum MHD_Result event_stream(struct fl_serve_req *r)
{
	uint64_t since, after;
	enum MHD_Result ret;
	struct fl_seg seg;
	if (!since_arg(r, &since, &ret) || !open_events(r, &seg, &ret))
		return ret;
	const char *last = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Last-Event-ID");
	char *end;
	after = fl_events_head(&seg); /* from now on, unless asked otherwise */
	if (last && *last) {
		unsigned long long n = strtoull(last, &end, 10);
		if (*end || last[0] == '-') {
			fl_seg_close(&seg);
			return fl_serve_error(r, 400, "Last-Event-ID: '%s' is not an event id", last);
		}
		after = n;
	} else if (MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "since")) {
		/* The first event at or after since: the ring read once. */
		struct fl_event_reader rd;
		fl_event_reader_init(&rd, &seg, 0);
		struct fl_event batch[BATCH];
		struct fl_diag *d = calloc(1, sizeof(*d));
		int n;
		bool found = false;
		while (d && !found &&
		       (n = fl_events_read(&seg, &rd, fl_clock_mono_ms(), batch, BATCH, d)) > 0)
			for (int i = 0; i < n && !found; i++)
				if (batch[i].time_ms >= since) {
					after = batch[i].number;
					found = true;
				}
		free(d);
	}
	fl_seg_close(&seg);
	return fl_serve_queue(r, 200, fl_serve_event_stream(r->domain, after, next_events));
}

enum MHD_Result fl_serve_live_handle(struct fl_serve_req *r)
{
	bool get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
	if (strcmp(r->url, EVENTS) == 0)
		return get_events(r);
	if (strcmp(r->url, EVENTS "/stream") == 0)
		return event_stream(r);
	if (strcmp(r->url, LAYERS) == 0)
		return get ? get_layers(r) : delete_layers(r, NULL);
	const char *name = r->url + strlen(LAYERS "/");
	return strcmp(r->method, "PUT") == 0 ? put_layer(r, name) : delete_layers(r, name);
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

atomic_int fl_serve_streams;

static void stream_free(void *cls)
{
	struct stream *s = cls;
	atomic_fetch_sub(&fl_serve_streams, 1);
	fl_out_free(&s->pending);
	free(s);
}

struct MHD_Response *fl_serve_event_stream(const char *domain, uint64_t after, fl_serve_next_events_fn next)
{
	struct stream *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	atomic_fetch_add(&fl_serve_streams, 1);
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
