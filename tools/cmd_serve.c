/*
 * cmd_serve.c - `faultline serve`: the HTTP API, Prometheus /metrics and
 * the dashboard (SPEC section 8), in the foreground.
 *
 * Libraries, not hand-written protocol code: libmicrohttpd parses HTTP and
 * json-c parses request bodies. Both are linked into the CLI only; the shim
 * never sees them.
 *
 * Every figure comes from the same code as the CLI: /api/v1/stats is
 * `stats --json` (lib/report_json.c), /metrics is `stats --prometheus`
 * (lib/report_prom.c), and trip, reset and PATCH run fl_cmd_trip,
 * fl_cmd_reset and fl_cmd_set (tools/cmd_control.c) with their error
 * messages captured (fl_cli_capture_to), so validation and wording are the
 * CLI's own.
 *
 * Security, in the order a request meets it: the Host header must name the
 * listen address or localhost (a page in the user's browser that rebinds a
 * DNS name to 127.0.0.1 sends its own name: refused); with --token-file,
 * `Authorization: Bearer TOKEN` (401 missing, 403 wrong; required to listen
 * off loopback); only the API's paths exist (404) with their methods (405);
 * changing requests need Content-Type: application/json (a cross-site form
 * cannot send it without a CORS preflight, which is never granted); bodies
 * over 1 MiB get 413. One thread per connection, a connection limit and an
 * idle timeout: a slow client holds its own thread only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "dashboard.h"
#include "reader.h"
#include "report.h"
#include "segment.h"
#include "serve.h"

#define DEFAULT_LISTEN	 "127.0.0.1:7417"
#define BODY_MAX	 (1024 * 1024)
#define CONNECTION_LIMIT 200
#define PER_IP_LIMIT	 64 /* off loopback only: on loopback every client is one address */
#define IDLE_TIMEOUT_S	 10
#define THREAD_STACK	 (512 * 1024)
#define TOKEN_MAX	 4096
#define API_DESTINATIONS "/api/v1/destinations/"

atomic_bool fl_serve_stopping;

struct server {
	const char *domain;
	char host[INET6_ADDRSTRLEN + 2]; /* listen address as a Host header writes it: 1.2.3.4, [::1] */
	unsigned port;
	bool wildcard;		 /* 0.0.0.0 or [::]: any IP literal is a Host of ours */
	char token[TOKEN_MAX];	 /* "" without --token-file */
	pthread_mutex_t control; /* one changing request at a time */
};

/* Per request: the body read so far and what the log line needs. */
struct request {
	struct fl_serve_req r;
	char *body;
	size_t len, cap;
	bool too_big, checked, changing;
	char method[16], url[512], domain[72], client[INET6_ADDRSTRLEN];
};

/* ---- replies ---- */

enum MHD_Result fl_serve_queue(struct fl_serve_req *r, unsigned status, struct MHD_Response *resp)
{
	if (!resp) {
		static const char oom[] = "{\"error\": \"out of memory\"}\n";
		resp = MHD_create_response_from_buffer(sizeof(oom) - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return MHD_NO;
		MHD_add_response_header(resp, "Content-Type", "application/json");
		status = 500;
	}
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	r->status = status;
	enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result fl_serve_reply(struct fl_serve_req *r, unsigned status, const char *type,
			       const struct fl_out *body)
{
	if (body->failed)
		return fl_serve_queue(r, 500, NULL);
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    body->len, body->len ? body->p : (void *)"", MHD_RESPMEM_MUST_COPY);
	if (resp)
		MHD_add_response_header(resp, "Content-Type", type);
	return fl_serve_queue(r, status, resp);
}

enum MHD_Result fl_serve_error(struct fl_serve_req *r, unsigned status, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct fl_out o;
	fl_out_init(&o);
	fl_out_puts(&o, "{\"error\": ");
	fl_report_json_string(&o, msg);
	fl_out_puts(&o, "}\n");
	enum MHD_Result ret = fl_serve_reply(r, status, "application/json", &o);
	fl_out_free(&o);
	return ret;
}

/* ---- the listen address and the token ---- */

static int parse_listen(const char *text, struct sockaddr_storage *ss, socklen_t *len, struct server *sv)
{
	char addr[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(text, ':');
	if (!colon || colon == text || (size_t)(colon - text) >= sizeof(addr))
		goto bad;
	memcpy(addr, text, (size_t)(colon - text));
	addr[colon - text] = '\0';
	char *end;
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port > 65535 || colon[1] == '-' || colon[1] == '+')
		goto bad;
	memset(ss, 0, sizeof(*ss));
	if (strcmp(addr, "localhost") == 0)
		snprintf(addr, sizeof(addr), "127.0.0.1");
	size_t alen = strlen(addr);
	if (addr[0] == '[' && alen > 2 && addr[alen - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		addr[alen - 1] = '\0';
		if (inet_pton(AF_INET6, addr + 1, &s6->sin6_addr) != 1)
			goto bad;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		char canon[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &s6->sin6_addr, canon, sizeof(canon));
		snprintf(sv->host, sizeof(sv->host), "[%s]", canon);
		sv->wildcard = IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
			goto bad;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
		inet_ntop(AF_INET, &s4->sin_addr, sv->host, sizeof(sv->host));
		sv->wildcard = s4->sin_addr.s_addr == htonl(INADDR_ANY);
	}
	sv->port = (unsigned)port;
	return 0;
bad:
	return fl_cli_fail(FL_EXIT_USAGE,
			   "--listen '%s': give ADDR:PORT, e.g. 127.0.0.1:7417, [::1]:7417 or 0.0.0.0:7417",
			   text);
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/* The token: the file's first line, without surrounding blanks. The file
 * must be readable by its owner only, as ssh wants of a private key. */
static int read_token(const char *path, struct server *sv)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int err = errno;
		if (fd >= 0)
			close(fd);
		return fl_cli_fail(FL_EXIT_USAGE, "--token-file %s: %s", path, strerror(err));
	}
	if (st.st_mode & 077) {
		close(fd);
		return fl_cli_fail(FL_EXIT_USAGE,
				   "--token-file %s: readable by others (mode %03o): chmod 600 it first",
				   path, (unsigned)(st.st_mode & 0777));
	}
	ssize_t n = read(fd, sv->token, sizeof(sv->token) - 1);
	close(fd);
	if (n < 0)
		return fl_cli_fail(FL_EXIT_USAGE, "--token-file %s: %s", path, strerror(errno));
	sv->token[n] = '\0';
	sv->token[strcspn(sv->token, "\r\n")] = '\0';
	char *t = sv->token;
	while (*t == ' ' || *t == '\t')
		t++;
	size_t len = strlen(t);
	while (len > 0 && (t[len - 1] == ' ' || t[len - 1] == '\t'))
		len--;
	memmove(sv->token, t, len);
	sv->token[len] = '\0';
	if (len < 16)
		return fl_cli_fail(FL_EXIT_USAGE, "--token-file %s: the token must be at least 16 characters",
				   path);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)sv->token[i] <= ' ' || (unsigned char)sv->token[i] >= 0x7f)
			return fl_cli_fail(
			    FL_EXIT_USAGE,
			    "--token-file %s: the token must be printable ASCII without spaces", path);
	return 0;
}

/* ---- checks made on the headers, before any body is read ---- */

static bool host_ok(const struct server *sv, const char *host)
{
	char name[300];
	if (!host || strlen(host) >= sizeof(name))
		return false;
	snprintf(name, sizeof(name), "%s", host);
	char *port = NULL;
	if (name[0] == '[') {
		char *close = strchr(name, ']');
		if (!close)
			return false;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return false;
		close[1] = '\0';
	} else {
		char *colon = strchr(name, ':');
		if (colon) {
			*colon = '\0';
			port = colon + 1;
		}
	}
	if (port) {
		char *end;
		unsigned long p = strtoul(port, &end, 10);
		if (!*port || *end || p != sv->port)
			return false;
	}
	if (strcasecmp(name, "localhost") == 0 || strcmp(name, sv->host) == 0)
		return true;
	if (sv->wildcard) { /* any address literal: rebinding needs a name */
		unsigned char buf[16];
		size_t n = strlen(name);
		if (inet_pton(AF_INET, name, buf) == 1)
			return true;
		if (name[0] == '[' && n > 2) {
			name[n - 1] = '\0';
			return inet_pton(AF_INET6, name + 1, buf) == 1;
		}
	}
	return false;
}

static bool same_token(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned diff = (unsigned)(la ^ lb);
	for (size_t i = 0; i < la; i++)
		diff |= (unsigned char)a[i] ^ (unsigned char)(i < lb ? b[i] : 0);
	return diff == 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The methods url allows, NULL when it is not a path of the API. */
static const char *allowed_methods(const char *url)
{
	if (strcmp(url, "/") == 0 || strcmp(url, "/metrics") == 0 || strcmp(url, "/api/v1/stats") == 0)
		return "GET, HEAD";
	if (strncmp(url, API_DESTINATIONS, strlen(API_DESTINATIONS)) == 0 && url[strlen(API_DESTINATIONS)]) {
		const char *dest = url + strlen(API_DESTINATIONS);
		if ((ends_with(dest, "/trip") || ends_with(dest, "/reset")) && dest[0] != '/')
			return "POST";
		return "PATCH";
	}
	return fl_serve_live_allowed(url);
}

static bool method_in(const char *method, const char *list)
{
	size_t n = strlen(method);
	for (const char *p = list; (p = strstr(p, method)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

static bool is_changing(const char *method)
{
	return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

static bool json_content_type(const char *ct)
{
	if (!ct)
		return false;
	size_t n = strlen("application/json");
	if (strncasecmp(ct, "application/json", n) != 0)
		return false;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/* Refuses what the headers already show to be wrong; true when it queued a reply. */
static bool refuse_early(struct server *sv, struct request *q, enum MHD_Result *ret)
{
	struct fl_serve_req *r = &q->r;
	const char *host = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	if (!host) {
		*ret = fl_serve_error(r, 400, "a Host header is required");
		return true;
	}
	if (!host_ok(sv, host)) {
		*ret = fl_serve_error(r, 403, "Host '%s' is not this server's address (%s:%u) or localhost",
				      host, sv->host, sv->port);
		return true;
	}
	if (sv->token[0]) {
		const char *auth =
		    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
		if (!auth) {
			struct fl_out o;
			fl_out_init(&o);
			fl_out_puts(&o, "{\"error\": \"this server needs Authorization: Bearer TOKEN\"}\n");
			struct MHD_Response *resp = MHD_create_response_from_buffer(
			    o.len, o.failed ? (void *)"" : o.p, MHD_RESPMEM_MUST_COPY);
			fl_out_free(&o);
			if (resp) {
				MHD_add_response_header(resp, "Content-Type", "application/json");
				MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
			}
			*ret = fl_serve_queue(r, 401, resp);
			return true;
		}
		if (strncasecmp(auth, "Bearer ", 7) != 0 || !same_token(auth + 7, sv->token)) {
			*ret = fl_serve_error(r, 403, "wrong token");
			return true;
		}
	}
	const char *allowed = allowed_methods(r->url);
	if (!allowed) {
		*ret = fl_serve_error(r, 404, "no such path: %s (see docs/http-api.md)", r->url);
		return true;
	}
	if (!method_in(r->method, allowed)) {
		char msg[160];
		snprintf(msg, sizeof(msg), "%s is not allowed on %s (allowed: %s)", r->method, r->url,
			 allowed);
		struct fl_out o;
		fl_out_init(&o);
		fl_out_puts(&o, "{\"error\": ");
		fl_report_json_string(&o, msg);
		fl_out_puts(&o, "}\n");
		struct MHD_Response *resp = MHD_create_response_from_buffer(
		    o.len, o.failed ? (void *)"" : o.p, MHD_RESPMEM_MUST_COPY);
		fl_out_free(&o);
		if (resp) {
			MHD_add_response_header(resp, "Content-Type", "application/json");
			MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allowed);
		}
		*ret = fl_serve_queue(r, 405, resp);
		return true;
	}
	if (q->changing) {
		const char *ct =
		    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
		if (!json_content_type(ct)) {
			*ret = fl_serve_error(r, 415, "%s needs Content-Type: application/json (got %s)",
					      r->method, ct ? ct : "none");
			return true;
		}
	}
	const char *cl =
	    MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl && strtoull(cl, NULL, 10) > BODY_MAX) {
		*ret = fl_serve_error(r, 413, "the body is over 1 MiB (%s bytes)", cl);
		return true;
	}
	return false;
}

/* ---- stats and metrics ---- */

/* A snapshot of r's domain; on failure queues the error and returns false. */
static bool take_snapshot(struct fl_serve_req *r, struct fl_snapshot *snap, bool reap, enum MHD_Result *ret)
{
	struct fl_seg seg;
	char msg[FL_DIAG_MSG_MAX];
	int code = fl_cli_snapshot(r->domain, &seg, snap, msg, sizeof(msg), reap);
	if (code == FL_EXIT_OK) {
		fl_seg_close(&seg);
		return true;
	}
	unsigned status = code == FL_EXIT_USAGE ? 400 : strstr(msg, "does not exist") ? 404 : 500;
	*ret = fl_serve_error(r, status, "%s", msg);
	return false;
}

static enum MHD_Result get_stats(struct fl_serve_req *r, bool prometheus)
{
	struct fl_snapshot snap;
	enum MHD_Result ret;
	if (!take_snapshot(r, &snap, true, &ret))
		return ret;
	struct fl_out o;
	fl_out_init(&o);
	if (prometheus)
		fl_report_prometheus(&o, &snap);
	else
		fl_report_json(&o, &snap);
	fl_snapshot_free(&snap);
	if (o.failed) {
		fl_out_free(&o);
		return fl_serve_queue(r, 500, NULL);
	}
	struct MHD_Response *resp = MHD_create_response_from_buffer(o.len, o.p, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		fl_out_free(&o);
		return fl_serve_queue(r, 500, NULL);
	}
	MHD_add_response_header(resp, "Content-Type",
				prometheus ? "text/plain; version=0.0.4; charset=utf-8" : "application/json");
	if (!prometheus)
		MHD_add_response_header(resp, "X-Faultline-Features",
					fl_serve_live_ready ? "layers,events" : "");
	return fl_serve_queue(r, 200, resp);
}

/* The `stats --json` object restricted to the entries named dest. */
static enum MHD_Result reply_destination(struct fl_serve_req *r, const char *dest)
{
	struct fl_snapshot snap;
	enum MHD_Result ret;
	if (!take_snapshot(r, &snap, false, &ret))
		return ret;
	struct fl_snapshot only = snap;
	only.nentries = 0;
	only.entries = calloc(snap.nentries ? snap.nentries : 1, sizeof(*only.entries));
	if (!only.entries) {
		fl_snapshot_free(&snap);
		return fl_serve_queue(r, 500, NULL);
	}
	for (size_t i = 0; i < snap.nentries; i++)
		if (strcmp(snap.entries[i].name, dest) == 0)
			only.entries[only.nentries++] = snap.entries[i];
	struct fl_out o;
	fl_out_init(&o);
	fl_report_json(&o, &only);
	free(only.entries);
	fl_snapshot_free(&snap);
	ret = fl_serve_reply(r, 200, "application/json", &o);
	fl_out_free(&o);
	return ret;
}

/* ---- trip, reset, set: the CLI's own commands ---- */

static enum MHD_Result run_control(struct server *sv, struct fl_serve_req *r,
				   int (*cmd)(const struct fl_cli *), const char *name, char **operands,
				   int n)
{
	struct fl_cli cli = {0};
	cli.command = name;
	cli.domain = r->domain;
	cli.operands = operands;
	cli.noperands = n;
	cli.argv = operands; /* set's error columns count operands: stripped below */
	cli.argc = n;
	struct fl_cli_capture cap = {0};
	pthread_mutex_lock(&sv->control);
	fl_cli_capture_to = &cap;
	int code = cmd(&cli);
	fl_cli_capture_to = NULL;
	pthread_mutex_unlock(&sv->control);
	if (code == FL_EXIT_OK)
		return reply_destination(r, operands[0]);
	const char *msg = cap.msg;
	if (strncmp(msg, "set:1:", 6) == 0 && strstr(msg, ": ")) /* "set:1:COL: " names argv words */
		msg = strstr(msg + 6, ": ") + 2;
	unsigned status = code == FL_EXIT_USAGE		  ? 400
			  : strstr(msg, "not found")	  ? 404
			  : strstr(msg, "does not exist") ? 404
			  : strstr(msg, "out of memory")  ? 500
							  : 409; /* the destination has no such part */
	return fl_serve_error(r, status, "%s", msg);
}

/* A JSON value as `set` reads it: strings as they are, numbers and booleans as written. */
static const char *value_text(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_string:
	case json_type_int:
	case json_type_double:
	case json_type_boolean:
		return json_object_get_string(v);
	default:
		return NULL;
	}
}

static enum MHD_Result patch_destination(struct server *sv, struct fl_serve_req *r, const char *dest)
{
	enum json_tokener_error jerr;
	struct json_object *body = json_tokener_parse_verbose(r->body, &jerr);
	if (!body)
		return fl_serve_error(r, 400, "the body is not JSON: %s", json_tokener_error_desc(jerr));
	enum MHD_Result ret = MHD_NO;
	char **words = NULL;
	int n = 0;
	if (!json_object_is_type(body, json_type_object)) {
		ret = fl_serve_error(r, 400,
				     "the body must be an object: {\"breaker\": {KEY: VALUE}, "
				     "\"bulkhead\": {KEY: VALUE}}");
		goto out;
	}
	size_t max = 1;
	json_object_object_foreach(body, part, keys)
	{
		if (strcmp(part, "breaker") != 0 && strcmp(part, "bulkhead") != 0) {
			ret = fl_serve_error(
			    r, 400, "unknown key '%s' in the body (give breaker and/or bulkhead)", part);
			goto out;
		}
		if (!json_object_is_type(keys, json_type_object)) {
			ret = fl_serve_error(r, 400, "'%s' must be an object of KEY: VALUE", part);
			goto out;
		}
		max += (size_t)json_object_object_length(keys);
	}
	words = calloc(max + 1, sizeof(*words));
	if (!words) {
		ret = fl_serve_queue(r, 500, NULL);
		goto out;
	}
	words[n++] = (char *)dest;
	json_object_object_foreach(body, part2, keys2)
	{
		json_object_object_foreach(keys2, key, value)
		{
			const char *text = value_text(value);
			if (strpbrk(key, "=.") || !key[0]) {
				ret = fl_serve_error(r, 400, "unknown key '%s' in %s", key, part2);
				goto out;
			}
			if (!text) {
				ret = fl_serve_error(r, 400, "%s.%s: give a number, a string or a boolean",
						     part2, key);
				goto out;
			}
			if (asprintf(&words[n], "%s.%s=%s", part2, key, text) < 0) {
				words[n] = NULL;
				ret = fl_serve_queue(r, 500, NULL);
				goto out;
			}
			n++;
		}
	}
	if (n < 2)
		ret = fl_serve_error(r, 400,
				     "nothing to change: give {\"breaker\": {KEY: VALUE}} and/or "
				     "{\"bulkhead\": {KEY: VALUE}}");
	else
		ret = run_control(sv, r, fl_cmd_set, "set", words, n);
out:
	for (int i = 1; words && i < n; i++)
		free(words[i]);
	free(words);
	json_object_put(body);
	return ret;
}

static enum MHD_Result destinations(struct server *sv, struct fl_serve_req *r)
{
	char dest[512];
	snprintf(dest, sizeof(dest), "%s", r->url + strlen(API_DESTINATIONS));
	if (strcmp(r->method, "PATCH") == 0)
		return patch_destination(sv, r, dest);
	bool trip = ends_with(dest, "/trip");
	dest[strlen(dest) - strlen(trip ? "/trip" : "/reset")] = '\0';
	char *operands[1] = {dest};
	return run_control(sv, r, trip ? fl_cmd_trip : fl_cmd_reset, trip ? "trip" : "reset", operands, 1);
}

/* ---- the dashboard ---- */

static enum MHD_Result dashboard(struct fl_serve_req *r)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    sizeof(dashboard_html), (void *)dashboard_html, MHD_RESPMEM_PERSISTENT);
	if (resp) {
		MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
		MHD_add_response_header(
		    resp, "Content-Security-Policy",
		    "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
		    "img-src 'self' data:; frame-ancestors 'none'");
		MHD_add_response_header(resp, "X-Frame-Options", "DENY");
		MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	}
	return fl_serve_queue(r, 200, resp);
}

/* ---- the request handler ---- */

static enum MHD_Result dispatch(struct server *sv, struct fl_serve_req *r)
{
	if (strcmp(r->url, "/") == 0)
		return dashboard(r);
	if (strcmp(r->url, "/metrics") == 0)
		return get_stats(r, true);
	if (strcmp(r->url, "/api/v1/stats") == 0)
		return get_stats(r, false);
	if (strncmp(r->url, API_DESTINATIONS, strlen(API_DESTINATIONS)) == 0)
		return destinations(sv, r);
	return fl_serve_live_handle(r);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			      const char *version, const char *upload, size_t *upload_size, void **state)
{
	(void)version;
	struct server *sv = cls;
	struct request *q = *state;
	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q)
			return MHD_NO;
		*state = q;
		snprintf(q->method, sizeof(q->method), "%s", method);
		snprintf(q->url, sizeof(q->url), "%s", url);
		const char *domain = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "domain");
		snprintf(q->domain, sizeof(q->domain), "%s", domain ? domain : sv->domain);
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (ci && ci->client_addr) {
			const struct sockaddr *sa = ci->client_addr;
			if (sa->sa_family == AF_INET)
				inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, q->client,
					  sizeof(q->client));
			else if (sa->sa_family == AF_INET6)
				inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, q->client,
					  sizeof(q->client));
		}
		q->r.conn = conn;
		q->r.method = q->method;
		q->r.url = q->url;
		q->r.domain = domain && strlen(domain) >= sizeof(q->domain) ? domain : q->domain;
		q->r.body = "";
		q->changing = is_changing(method);
		if (strlen(url) >= sizeof(q->url))
			return fl_serve_error(&q->r, 404, "no such path (%zu bytes long)", strlen(url));
		enum MHD_Result ret;
		if (refuse_early(sv, q, &ret))
			return ret;
		q->checked = true;
		return MHD_YES;
	}
	if (*upload_size) {
		if (!q->too_big && q->len + *upload_size > BODY_MAX)
			q->too_big = true;
		if (!q->too_big) {
			if (q->len + *upload_size + 1 > q->cap) {
				size_t cap = (q->len + *upload_size + 1) * 2;
				char *p = realloc(q->body, cap < BODY_MAX + 1 ? cap : BODY_MAX + 1);
				if (!p)
					return MHD_NO;
				q->body = p;
				q->cap = cap < BODY_MAX + 1 ? cap : BODY_MAX + 1;
			}
			memcpy(q->body + q->len, upload, *upload_size);
			q->len += *upload_size;
			q->body[q->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (q->r.status) /* already answered */
		return MHD_YES;
	if (q->too_big)
		return fl_serve_error(&q->r, 413, "the body is over 1 MiB");
	if (q->body) {
		if (memchr(q->body, '\0', q->len))
			return fl_serve_error(&q->r, 400, "the body holds a NUL byte");
		q->r.body = q->body;
		q->r.body_len = q->len;
	}
	return dispatch(sv, &q->r);
}

/* One line per changing request, once its reply has gone. */
static void completed(void *cls, struct MHD_Connection *conn, void **state,
		      enum MHD_RequestTerminationCode why)
{
	(void)cls;
	(void)conn;
	(void)why;
	struct request *q = *state;
	if (!q)
		return;
	if (q->changing) {
		char url[600], stamp[32];
		fl_escape_controls(url, sizeof(url), q->url, strlen(q->url) + 1);
		time_t t = time(NULL);
		struct tm tm;
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", localtime_r(&t, &tm));
		char domain[100];
		fl_escape_controls(domain, sizeof(domain), q->r.domain, strlen(q->r.domain) + 1);
		fprintf(stderr, "faultline serve: %s %s %s %s domain=%s -> %u\n", stamp,
			q->client[0] ? q->client : "?", q->method, url, domain, q->r.status);
	}
	free(q->body);
	free(q);
	*state = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	fprintf(stderr, "faultline serve: %s\n", msg);
}

/* ---- the command ---- */

int fl_cmd_serve(const struct fl_cli *cli)
{
	if (cli->noperands > 0)
		return fl_cli_fail(FL_EXIT_USAGE, "serve takes no operands ('%s')", cli->operands[0]);
	static struct server sv;
	sv.domain = fl_cli_domain(cli);
	pthread_mutex_init(&sv.control, NULL);
	char path[FL_SEG_PATH_MAX];
	if (fl_seg_path(path, sizeof(path), (unsigned)getuid(), sv.domain) < 0)
		return fl_cli_fail(FL_EXIT_USAGE, FL_DOMAIN_NAME_INVALID, sv.domain);
	const char *listen_text = cli->listen ? cli->listen : DEFAULT_LISTEN;
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	if (parse_listen(listen_text, &ss, &sslen, &sv) != 0)
		return FL_EXIT_USAGE;
	if (cli->token_file && read_token(cli->token_file, &sv) != 0)
		return FL_EXIT_USAGE;
	bool loopback = is_loopback(&ss);
	if (!loopback && !sv.token[0])
		return fl_cli_fail(FL_EXIT_USAGE,
				   "--listen %s is not a loopback address: give --token-file F too (every "
				   "request then needs Authorization: Bearer TOKEN)",
				   listen_text);

	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0)
		return fl_cli_fail(FL_EXIT_RUNTIME, "cannot make a socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sslen) < 0 || listen(fd, 128) < 0) {
		int err = errno;
		close(fd);
		return fl_cli_fail(
		    FL_EXIT_USAGE, "cannot listen on %s: %s%s", listen_text, strerror(err),
		    err == EADDRINUSE ? " (another faultline serve? pick one with --listen ADDR:PORT)" : "");
	}
	if (sv.port == 0) { /* port 0: the kernel chose one; the Host check needs it */
		struct sockaddr_storage bound;
		socklen_t blen = sizeof(bound);
		if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0)
			sv.port =
			    ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
							     : ((struct sockaddr_in6 *)&bound)->sin6_port);
	}

	/* The daemon's threads inherit this mask: only this thread takes the signals. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
			 MHD_USE_ERROR_LOG | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	struct MHD_Daemon *d = MHD_start_daemon(
	    flags, 0, NULL, NULL, handle, &sv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, loopback ? 0u : (unsigned)PER_IP_LIMIT,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S, MHD_OPTION_THREAD_STACK_SIZE,
	    (size_t)THREAD_STACK, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
	if (!d) {
		close(fd);
		return fl_cli_fail(FL_EXIT_RUNTIME, "cannot start the HTTP server on %s", listen_text);
	}
	fprintf(stderr, "faultline serve: domain '%s' at http://%s:%u/%s (SIGINT or SIGTERM stops)\n",
		sv.domain, sv.host, sv.port, sv.token[0] ? ", token required" : "");
	int sig = 0;
	while (sigwait(&stop, &sig) != 0)
		;
	atomic_store(&fl_serve_stopping, true);
	/* Streams see the flag within their wait (250 ms) and end their
	 * response; a client that stopped reading is cut after 2 s. */
	for (int i = 0; i < 200 && atomic_load(&fl_serve_streams) > 0; i++)
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	MHD_stop_daemon(d);
	fprintf(stderr, "faultline serve: stopped (%s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	return FL_EXIT_OK;
}
