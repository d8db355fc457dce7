/*
 * cmd_layers.c - `faultline apply`, `remove`, `heal` and `layers`: the
 * domain's live rule sets (SPEC 7, lib/layers.h).
 *
 * A layer is compiled and validated here, whole, with the parsers of
 * --rules and --config: a bad statement refuses the layer with the usual
 * SOURCE:LINE:COL message and exit 2, before the segment is touched. Then
 * the table is written under the writers' lock, inside one odd stretch of
 * the seqlock, so every process sees the layer whole or not at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "events.h"
#include "layers.h"
#include "report.h"
#include "segment.h"

/* A layer was applied, removed or expired: an event in the domain's log. */
static void layer_event(struct fl_seg *seg, const char *name, const char *what)
{
	fl_event_layer(seg, (uint32_t)getpid(), name, what, fl_cli_now_ms());
}

static void on_expired(const char *name, void *arg)
{
	layer_event(arg, name, "expired");
}

static uint32_t capacity_from_env(void)
{
	const char *v = getenv("FAULTLINE_CAPACITY");
	char *end;
	unsigned long n = v && *v ? strtoul(v, &end, 10) : 0;
	if (!v || !*v || *end || n < 1 || n > FL_SEG_CAPACITY_MAX)
		return FL_SEG_CAPACITY_DEFAULT;
	return (uint32_t)n;
}

/* Opens the domain (creating it when `create`); prints the error. */
static int open_domain(const char *domain, bool create, struct fl_seg *seg)
{
	if (!fl_domain_name_valid(domain))
		return fl_cli_fail(FL_EXIT_USAGE, FL_DOMAIN_NAME_INVALID, domain);
	struct fl_diag *d = calloc(1, sizeof(*d));
	if (!d)
		return fl_cli_fail(FL_EXIT_RUNTIME, "out of memory");
	int code = FL_EXIT_OK;
	if (fl_seg_open(seg, domain, capacity_from_env(), create, fl_cli_now_ms(), d) < 0)
		code = fl_cli_fail(FL_EXIT_RUNTIME, "%s", d->error);
	else if (fl_layers_lock(seg, d) < 0) {
		code = fl_cli_fail(FL_EXIT_RUNTIME, "%s", d->error);
		fl_seg_close(seg);
	}
	free(d);
	return code;
}

static void close_domain(struct fl_seg *seg)
{
	fl_layers_unlock(seg);
	fl_seg_close(seg);
}

int fl_layers_cli_apply(const char *domain, const char *name, const struct fl_ruleset *rs, uint64_t for_ms,
			char *applied, size_t size)
{
	struct fl_seg_stmt *stmts = calloc(FL_SEG_LAYER_STMTS, sizeof(*stmts));
	struct fl_diag *d = calloc(1, sizeof(*d));
	size_t n = 0;
	int code = FL_EXIT_OK;
	if (!stmts || !d)
		code = fl_cli_fail(FL_EXIT_RUNTIME, "out of memory");
	else if (fl_layer_compile(rs, stmts, FL_SEG_LAYER_STMTS, &n, d) < 0)
		code = fl_cli_fail(FL_EXIT_USAGE, "%s", d->error);
	else if (name && !fl_layer_name_valid(name))
		code = fl_cli_fail(FL_EXIT_USAGE,
				   "'%s' is not a layer name ([A-Za-z0-9_.-], 1 to %u characters)", name,
				   FL_SEG_LAYER_NAME - 1);
	struct fl_seg seg;
	if (code == FL_EXIT_OK)
		code = open_domain(domain, true, &seg);
	if (code == FL_EXIT_OK) {
		uint64_t now = fl_cli_now_ms();
		char generated[FL_SEG_LAYER_NAME];
		fl_layers_begin(&seg, now, on_expired, &seg);
		if (!name) {
			fl_layers_new_name(&seg, generated, sizeof(generated));
			name = generated;
		}
		int r = fl_layers_put(&seg, name, stmts, n, now, for_ms ? now + for_ms : 0, d);
		fl_layers_end(&seg);
		if (r < 0) {
			code = fl_cli_fail(FL_EXIT_RUNTIME, "domain '%s': %s", domain, d->error);
		} else {
			layer_event(&seg, name, "applied");
			snprintf(applied, size, "%s", name);
		}
		close_domain(&seg);
	}
	free(stmts);
	free(d);
	return code;
}

int fl_layers_cli_remove(const char *domain, char *const *names, int n, bool all, unsigned *removed,
			 bool quiet_missing)
{
	struct fl_seg seg;
	int code = open_domain(domain, false, &seg);
	*removed = 0;
	if (code != FL_EXIT_OK)
		return code;
	fl_layers_begin(&seg, fl_cli_now_ms(), on_expired, &seg);
	if (all) {
		/* Each one's name first, for its event. */
		struct fl_layers_view *v = malloc(sizeof(*v));
		if (v && fl_layers_read(&seg, v, fl_cli_now_ms(), 0) == 0)
			for (uint32_t k = 0; k < v->nlayers; k++)
				layer_event(&seg, v->layers[k].name, "removed");
		free(v);
		*removed = fl_layers_drop_all(&seg);
	}
	for (int i = 0; !all && i < n; i++) {
		if (fl_layers_drop(&seg, names[i])) {
			layer_event(&seg, names[i], "removed");
			(*removed)++;
		} else if (!quiet_missing) {
			code = fl_cli_fail(FL_EXIT_RUNTIME, "no layer '%s' in domain '%s'", names[i], domain);
		}
	}
	fl_layers_end(&seg);
	close_domain(&seg);
	return code;
}

int fl_layers_apply_cli(const struct fl_cli *cli, char *name, size_t size, size_t *count, uint64_t *for_ms)
{
	if (!cli->rules && !cli->config)
		return fl_cli_fail(FL_EXIT_USAGE, "apply needs the layer's rules: faultline apply [--name N] "
						  "[--for DURATION] (--rules R | --config F)");
	if (cli->noperands > 0)
		return fl_cli_fail(FL_EXIT_USAGE,
				   "apply takes no operands ('%s'): name the layer with --name",
				   cli->operands[0]);
	*for_ms = 0;
	if (cli->for_time && (fl_duration_parse(cli->for_time, for_ms) < 0 || *for_ms == 0))
		return fl_cli_fail(
		    FL_EXIT_USAGE,
		    "--for: '%s' is not a duration above 0 (write 250ms, 30s, 5m, or milliseconds)",
		    cli->for_time);
	struct fl_ruleset rs;
	fl_ruleset_init(&rs);
	if (fl_cli_load_rules(cli, &rs) < 0) {
		fl_ruleset_free(&rs);
		return FL_EXIT_USAGE;
	}
	*count = rs.count;
	int code = fl_layers_cli_apply(fl_cli_domain(cli), cli->name, &rs, *for_ms, name, size);
	fl_ruleset_free(&rs);
	return code;
}

int fl_cmd_apply(const struct fl_cli *cli)
{
	char name[FL_SEG_LAYER_NAME];
	size_t count = 0;
	uint64_t for_ms = 0;
	int code = fl_layers_apply_cli(cli, name, sizeof(name), &count, &for_ms);
	if (code == FL_EXIT_OK) {
		printf("applied layer %s to domain %s: %zu statement%s", name, fl_cli_domain(cli), count,
		       count == 1 ? "" : "s");
		if (for_ms)
			printf(", for %llu ms", (unsigned long long)for_ms);
		printf("\n");
	}
	return code;
}

int fl_cmd_remove(const struct fl_cli *cli)
{
	if (cli->all && cli->noperands > 0)
		return fl_cli_fail(FL_EXIT_USAGE, "remove takes layer names or --all, not both");
	if (!cli->all && cli->noperands == 0)
		return fl_cli_fail(FL_EXIT_USAGE,
				   "remove needs layer names or --all: faultline remove N... | --all");
	unsigned removed;
	int code = fl_layers_cli_remove(fl_cli_domain(cli), cli->operands, cli->noperands, cli->all, &removed,
					false);
	if (removed || code == FL_EXIT_OK)
		printf("removed %u layer%s\n", removed, removed == 1 ? "" : "s");
	return code;
}

int fl_cmd_heal(const struct fl_cli *cli)
{
	if (cli->noperands > 0)
		return fl_cli_fail(FL_EXIT_USAGE, "heal takes no operands (it removes every layer)");
	unsigned removed;
	int code = fl_layers_cli_remove(fl_cli_domain(cli), NULL, 0, true, &removed, false);
	if (code == FL_EXIT_OK)
		printf("removed %u layer%s\n", removed, removed == 1 ? "" : "s");
	return code;
}

static void clock_text(uint64_t ms, char *buf, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(buf, size, "%H:%M:%S", &tm);
}

void fl_layers_format(struct fl_out *o, const struct fl_layers_view *v, uint64_t now, bool json)
{
	if (json) {
		fl_out_puts(o, "[");
		for (uint32_t k = 0; k < v->nlayers; k++) {
			const struct fl_layer_info *l = &v->layers[k];
			fl_out_puts(o, k ? ",\n {\"name\": " : "{\"name\": ");
			fl_report_json_string(o, l->name);
			fl_out_printf(
			    o, ", \"applied\": %llu, \"expires\": ", (unsigned long long)l->applied_ms);
			if (l->expires_ms)
				fl_out_printf(o, "%llu", (unsigned long long)l->expires_ms);
			else
				fl_out_puts(o, "null");
			fl_out_puts(o, ", \"rules\": [");
			for (uint32_t i = 0; i < l->nstmts; i++) {
				if (i)
					fl_out_puts(o, ", ");
				fl_report_json_string(o, v->text[l->first + i]);
			}
			fl_out_puts(o, "]}");
		}
		fl_out_puts(o, "]\n");
		return;
	}
	if (v->nlayers == 0) {
		fl_out_puts(o, "no layers\n");
		return;
	}
	fl_out_printf(o, "%-20s %-8s %-12s %s\n", "LAYER", "APPLIED", "EXPIRES", "RULES");
	for (uint32_t k = 0; k < v->nlayers; k++) {
		const struct fl_layer_info *l = &v->layers[k];
		char applied[16], expires[32], name[FL_SEG_LAYER_NAME];
		clock_text(l->applied_ms, applied, sizeof(applied));
		if (!l->expires_ms)
			snprintf(expires, sizeof(expires), "never");
		else
			snprintf(expires, sizeof(expires), "in %.1fs",
				 l->expires_ms > now ? (double)(l->expires_ms - now) / 1000.0 : 0.0);
		fl_report_sanitize(l->name, name, sizeof(name));
		for (uint32_t i = 0; i < l->nstmts || i == 0; i++) {
			char text[FL_SEG_STMT_TEXT];
			fl_report_sanitize(i < l->nstmts ? v->text[l->first + i] : "", text, sizeof(text));
			if (i == 0)
				fl_out_printf(o, "%-20s %-8s %-12s %s\n", name, applied, expires, text);
			else
				fl_out_printf(o, "%-20s %-8s %-12s %s\n", "", "", "", text);
		}
	}
}

int fl_layers_list(const char *domain, struct fl_out *o, bool json)
{
	struct fl_seg seg;
	int code = open_domain(domain, false, &seg);
	if (code != FL_EXIT_OK)
		return code;
	struct fl_layers_view *v = malloc(sizeof(*v));
	uint64_t now = fl_cli_now_ms();
	/* Under the writers' lock: a stable table, or one a dead writer left
	 * odd, which is read as it is and checked record by record. */
	if (!v || fl_layers_read(&seg, v, now, 0) < 0) {
		free(v);
		close_domain(&seg);
		return fl_cli_fail(FL_EXIT_RUNTIME, "out of memory");
	}
	close_domain(&seg);
	fl_layers_format(o, v, now, json);
	free(v);
	return FL_EXIT_OK;
}

int fl_cmd_layers(const struct fl_cli *cli)
{
	if (cli->noperands > 0)
		return fl_cli_fail(FL_EXIT_USAGE, "layers takes no operands");
	struct fl_out o;
	fl_out_init(&o);
	int code = fl_layers_list(fl_cli_domain(cli), &o, cli->json);
	if (code == FL_EXIT_OK)
		code = fl_cli_print(&o);
	fl_out_free(&o);
	return code;
}

void fl_layers_summary(const struct fl_seg *seg, char *out, size_t size)
{
	out[0] = '\0';
	struct fl_layers_view *v = malloc(sizeof(*v));
	uint64_t now = fl_cli_now_ms();
	/* No lock: top never waits for a writer; a table being written is
	 * shown at the next refresh. */
	if (!v || fl_layers_read(seg, v, now, 8) < 0 || v->nlayers == 0) {
		free(v);
		return;
	}
	size_t len = (size_t)snprintf(out, size, "layers (%u):", v->nlayers);
	for (uint32_t k = 0; k < v->nlayers && len < size; k++) {
		const struct fl_layer_info *l = &v->layers[k];
		char name[FL_SEG_LAYER_NAME];
		fl_report_sanitize(l->name, name, sizeof(name));
		if (l->expires_ms)
			len += (size_t)snprintf(
			    out + len, size - len, "%s %s (%u, expires in %.0fs)", k ? "," : "", name,
			    l->nstmts, l->expires_ms > now ? (double)(l->expires_ms - now) / 1000.0 : 0.0);
		else
			len += (size_t)snprintf(out + len, size - len, "%s %s (%u)", k ? "," : "", name,
						l->nstmts);
	}
	free(v);
}
