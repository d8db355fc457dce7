/*
 * cmd_play.c - `faultline play FILE`: a scenario, a timeline of steps
 * (SPEC 7) run against a domain.
 *
 *   name = "redis brown-out";
 *   steps = (
 *     { at = "0s";  apply = { name = "slow"; rules = "127.0.0.1:6379 fault on=recv delay_ms=200"; }; },
 *     { at = "20s"; trip = "127.0.0.1:6379"; },
 *     { at = "30s"; remove = ["slow"]; reset = "127.0.0.1:6379"; set = "127.0.0.1:6379 timeout_ms=500"; }
 *   );
 *
 * The whole file is checked before the first step runs - every error is
 * reported, each with its line and key, and nothing runs (exit 2) - so a
 * typo at minute 9 cannot spoil an experiment at minute 8. Steps then run
 * at their offsets from the start, each printed as it happens; trip,
 * reset and set are the commands of the same names (cmd_control.c). At
 * the end, or on SIGINT/SIGTERM, every layer the scenario applied is
 * removed, so an interrupted experiment leaves the domain healed.
 */
#include <errno.h>
#include <libconfig.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "clock.h"
#include "layers.h"
#include "segment.h"

#define MAX_STEPS   1024
#define MAX_APPLIED 64

struct step {
	uint64_t at_ms;
	int line;
	config_setting_t *s;
	struct fl_ruleset rules; /* apply's, compiled while checking */
	const char *apply_name;
	bool has_apply;
};

struct scenario {
	const char *path;
	config_t cfg;
	struct step steps[MAX_STEPS];
	int nsteps;
	int errors;
	char applied[MAX_APPLIED][FL_SEG_LAYER_NAME];
	int napplied;
};

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

static void problem(struct scenario *sc, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void problem(struct scenario *sc, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fl_cli_fail(FL_EXIT_USAGE, "%s:%d: %s", sc->path, line, msg);
	sc->errors++;
}

static int line_of(const config_setting_t *s)
{
	return (int)config_setting_source_line(s);
}

/* A string, or a list/array of strings: each must be one. */
static void check_strings(struct scenario *sc, const config_setting_t *s, const char *key)
{
	int t = config_setting_type(s);
	if (t == CONFIG_TYPE_STRING)
		return;
	if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) {
		problem(sc, line_of(s), "%s: a string or a list of strings", key);
		return;
	}
	for (int i = 0; i < config_setting_length(s); i++)
		if (config_setting_type(config_setting_get_elem(s, (unsigned)i)) != CONFIG_TYPE_STRING)
			problem(sc, line_of(s), "%s: item %d is not a string", key, i + 1);
}

static bool parse_at(const config_setting_t *s, uint64_t *ms)
{
	int t = config_setting_type(s);
	if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
		long long v = config_setting_get_int64(s);
		if (v < 0 || v > INT32_MAX)
			return false;
		*ms = (uint64_t)v;
		return true;
	}
	return t == CONFIG_TYPE_STRING && fl_duration_parse(config_setting_get_string(s), ms) == 0;
}

static void check_apply(struct scenario *sc, struct step *st, config_setting_t *a)
{
	if (!config_setting_is_group(a)) {
		problem(sc, line_of(a), "apply: a group { name = \"...\"; rules = \"...\"; }");
		return;
	}
	const char *name = NULL, *rules = NULL;
	for (int i = 0; i < config_setting_length(a); i++) {
		config_setting_t *k = config_setting_get_elem(a, (unsigned)i);
		const char *key = config_setting_name(k);
		if (strcmp(key, "name") == 0 && config_setting_type(k) == CONFIG_TYPE_STRING)
			name = config_setting_get_string(k);
		else if (strcmp(key, "rules") == 0 && config_setting_type(k) == CONFIG_TYPE_STRING)
			rules = config_setting_get_string(k);
		else
			problem(sc, line_of(k),
				"apply.%s: unknown key or not a string (apply takes name and rules)", key);
	}
	if (!name) {
		problem(sc, line_of(a), "apply.name: missing (every layer a scenario applies is named)");
	} else if (!fl_layer_name_valid(name)) {
		problem(sc, line_of(a),
			"apply.name: '%s' is not a layer name ([A-Za-z0-9_.-], 1 to 63 characters)", name);
	}
	if (!rules) {
		problem(sc, line_of(a), "apply.rules: missing");
		return;
	}
	char source[512];
	snprintf(source, sizeof(source), "%s:%d: apply.rules", sc->path, line_of(a));
	struct fl_diag *d = calloc(1, sizeof(*d));
	if (!d) {
		problem(sc, line_of(a), "out of memory");
		return;
	}
	if (fl_parse_inline(source, rules, &st->rules, d) < 0) {
		fl_cli_fail(FL_EXIT_USAGE, "%s", d->error);
		sc->errors++;
	} else if (st->rules.count == 0) {
		problem(sc, line_of(a), "apply.rules: no statements");
	} else if (st->rules.count > FL_SEG_LAYER_STMTS) {
		problem(sc, line_of(a), "apply.rules: %zu statements, a layer holds at most %u",
			st->rules.count, FL_SEG_LAYER_STMTS);
	}
	free(d);
	st->apply_name = name;
	st->has_apply = true;
}

static void check_step(struct scenario *sc, struct step *st, uint64_t prev_at)
{
	config_setting_t *s = st->s;
	st->line = line_of(s);
	if (!config_setting_is_group(s)) {
		problem(sc, st->line, "steps: each step is a group { at = \"10s\"; ... }");
		return;
	}
	config_setting_t *at = config_setting_get_member(s, "at");
	if (!at)
		problem(sc, st->line, "at: missing (when the step runs: \"250ms\", \"30s\", \"5m\" or ms)");
	else if (!parse_at(at, &st->at_ms))
		problem(sc, line_of(at),
			"at: not a duration (write \"250ms\", \"30s\", \"5m\" or milliseconds)");
	else if (st->at_ms < prev_at)
		problem(sc, line_of(at), "at: %llu ms is before the step above (%llu ms): steps run in order",
			(unsigned long long)st->at_ms, (unsigned long long)prev_at);
	int actions = 0;
	for (int i = 0; i < config_setting_length(s); i++) {
		config_setting_t *k = config_setting_get_elem(s, (unsigned)i);
		const char *key = config_setting_name(k);
		if (strcmp(key, "at") == 0)
			continue;
		actions++;
		if (strcmp(key, "apply") == 0)
			check_apply(sc, st, k);
		else if (strcmp(key, "remove") == 0 || strcmp(key, "trip") == 0 || strcmp(key, "reset") == 0)
			check_strings(sc, k, key);
		else if (strcmp(key, "set") == 0) {
			check_strings(sc, k, key);
			const char *v = config_setting_type(k) == CONFIG_TYPE_STRING
					    ? config_setting_get_string(k)
					    : NULL;
			if (v && !strchr(v, '='))
				problem(sc, line_of(k), "set: write \"DEST KEY=VALUE ...\"");
		} else
			problem(sc, line_of(k),
				"%s: unknown key in a step (at, apply, remove, trip, reset, set)", key);
	}
	if (actions == 0)
		problem(sc, st->line, "step does nothing: give apply, remove, trip, reset or set");
}

static int load(struct scenario *sc)
{
	config_init(&sc->cfg);
	if (!config_read_file(&sc->cfg, sc->path)) {
		if (config_error_type(&sc->cfg) == CONFIG_ERR_FILE_IO)
			return fl_cli_fail(FL_EXIT_USAGE, "%s: cannot read: %s", sc->path, strerror(errno));
		return fl_cli_fail(FL_EXIT_USAGE, "%s:%d: %s", sc->path, config_error_line(&sc->cfg),
				   config_error_text(&sc->cfg));
	}
	config_setting_t *root = config_root_setting(&sc->cfg);
	for (int i = 0; i < config_setting_length(root); i++) {
		config_setting_t *k = config_setting_get_elem(root, (unsigned)i);
		const char *key = config_setting_name(k);
		if (strcmp(key, "name") != 0 && strcmp(key, "steps") != 0)
			problem(sc, line_of(k), "%s: unknown key (a scenario has name and steps)", key);
	}
	config_setting_t *steps = config_lookup(&sc->cfg, "steps");
	if (!steps || !config_setting_is_list(steps)) {
		problem(sc, steps ? line_of(steps) : 1, "steps: missing, or not a list ( { ... }, { ... } )");
		return FL_EXIT_USAGE;
	}
	uint64_t prev = 0;
	for (int i = 0; i < config_setting_length(steps) && i < MAX_STEPS; i++) {
		struct step *st = &sc->steps[sc->nsteps++];
		fl_ruleset_init(&st->rules);
		st->s = config_setting_get_elem(steps, (unsigned)i);
		check_step(sc, st, prev);
		prev = st->at_ms > prev ? st->at_ms : prev;
	}
	if (config_setting_length(steps) > MAX_STEPS)
		problem(sc, line_of(steps), "steps: more than %d", MAX_STEPS);
	return sc->errors ? FL_EXIT_USAGE : FL_EXIT_OK;
}

/* Sleeps until start + at, or until a stop signal; false if stopped. */
static bool wait_until(uint64_t start_ms, uint64_t at_ms)
{
	for (;;) {
		if (stop_signal)
			return false;
		uint64_t now = fl_clock_mono_ms();
		if (now >= start_ms + at_ms)
			return true;
		uint64_t left = start_ms + at_ms - now;
		if (left > 100)
			left = 100;
		struct timespec t = {(time_t)(left / 1000), (long)(left % 1000) * 1000000L};
		nanosleep(&t, NULL);
	}
}

/* Runs one of the control commands with operands, as the CLI would. */
static int control(const struct fl_cli *base, int (*cmd)(const struct fl_cli *), char **operands, int n,
		   bool all)
{
	struct fl_cli c = *base;
	c.operands = operands;
	c.noperands = n;
	c.all = all;
	c.argv = operands;
	c.argc = n;
	return cmd(&c);
}

static int each_string(const struct fl_cli *cli, config_setting_t *k, int (*cmd)(const struct fl_cli *))
{
	int code = FL_EXIT_OK;
	int n = config_setting_type(k) == CONFIG_TYPE_STRING ? 1 : config_setting_length(k);
	for (int i = 0; i < n; i++) {
		const char *v = config_setting_type(k) == CONFIG_TYPE_STRING
				    ? config_setting_get_string(k)
				    : config_setting_get_string_elem(k, i);
		char *words[64];
		int nw = 0;
		char *copy = strdup(v), *save = NULL;
		for (char *w = strtok_r(copy, " \t", &save); w && nw < 64; w = strtok_r(NULL, " \t", &save))
			words[nw++] = w;
		bool all = cmd == fl_cmd_reset && nw == 1 && strcmp(words[0], "all") == 0;
		int r = control(cli, cmd, words, all ? 0 : nw, all);
		if (r != FL_EXIT_OK)
			code = r;
		free(copy);
	}
	return code;
}

static void remember_applied(struct scenario *sc, const char *name)
{
	for (int i = 0; i < sc->napplied; i++)
		if (strcmp(sc->applied[i], name) == 0)
			return;
	if (sc->napplied < MAX_APPLIED)
		snprintf(sc->applied[sc->napplied++], FL_SEG_LAYER_NAME, "%s", name);
}

static int run_step(struct scenario *sc, const struct fl_cli *cli, struct step *st, uint64_t elapsed)
{
	const char *domain = fl_cli_domain(cli);
	int code = FL_EXIT_OK;
	for (int i = 0; i < config_setting_length(st->s); i++) {
		config_setting_t *k = config_setting_get_elem(st->s, (unsigned)i);
		const char *key = config_setting_name(k);
		if (strcmp(key, "at") == 0)
			continue;
		printf("[%7.3fs] line %d: %s", (double)elapsed / 1000.0, st->line, key);
		if (strcmp(key, "apply") == 0) {
			printf(" %s:", st->apply_name);
			for (size_t r = 0; r < st->rules.count; r++) {
				char text[512];
				fl_rule_format_brief(&st->rules.rules[r], text, sizeof(text));
				printf(" %s%s", text, r + 1 < st->rules.count ? ";" : "");
			}
		} else {
			int n = config_setting_type(k) == CONFIG_TYPE_STRING ? 1 : config_setting_length(k);
			for (int j = 0; j < n; j++)
				printf(" %s", config_setting_type(k) == CONFIG_TYPE_STRING
						  ? config_setting_get_string(k)
						  : config_setting_get_string_elem(k, j));
		}
		printf("\n");
		fflush(stdout);
		int r = FL_EXIT_OK;
		if (strcmp(key, "apply") == 0) {
			char name[FL_SEG_LAYER_NAME];
			r = fl_layers_cli_apply(domain, st->apply_name, &st->rules, 0, name, sizeof(name));
			if (r == FL_EXIT_OK)
				remember_applied(sc, name);
		} else if (strcmp(key, "remove") == 0) {
			int n = config_setting_type(k) == CONFIG_TYPE_STRING ? 1 : config_setting_length(k);
			char *names[256];
			for (int j = 0; j < n && j < 256; j++)
				names[j] = (char *)(config_setting_type(k) == CONFIG_TYPE_STRING
							? config_setting_get_string(k)
							: config_setting_get_string_elem(k, j));
			unsigned removed;
			r = fl_layers_cli_remove(domain, names, n < 256 ? n : 256, false, &removed, false);
		} else if (strcmp(key, "trip") == 0) {
			r = each_string(cli, k, fl_cmd_trip);
		} else if (strcmp(key, "reset") == 0) {
			r = each_string(cli, k, fl_cmd_reset);
		} else if (strcmp(key, "set") == 0) {
			r = each_string(cli, k, fl_cmd_set);
		}
		if (r != FL_EXIT_OK)
			code = r;
	}
	return code;
}

static void cleanup(struct scenario *sc, const struct fl_cli *cli)
{
	if (sc->napplied == 0)
		return;
	char *names[MAX_APPLIED];
	for (int i = 0; i < sc->napplied; i++)
		names[i] = sc->applied[i];
	unsigned removed = 0;
	fl_layers_cli_remove(fl_cli_domain(cli), names, sc->napplied, false, &removed, true);
	printf("removed %u layer%s this scenario applied\n", removed, removed == 1 ? "" : "s");
	fflush(stdout);
}

int fl_cmd_play(const struct fl_cli *cli)
{
	if (cli->noperands != 1)
		return fl_cli_fail(FL_EXIT_USAGE, "play needs one scenario file: faultline play FILE");
	struct scenario *sc = calloc(1, sizeof(*sc));
	if (!sc)
		return fl_cli_fail(FL_EXIT_RUNTIME, "out of memory");
	sc->path = cli->operands[0];
	int code = load(sc);
	if (code == FL_EXIT_OK) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_stop; /* no SA_RESTART: the sleep ends at once */
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		const char *title = NULL;
		config_lookup_string(&sc->cfg, "name", &title);
		printf("playing %s%s%s: %d step%s in domain %s\n", sc->path, title ? " - " : "",
		       title ? title : "", sc->nsteps, sc->nsteps == 1 ? "" : "s", fl_cli_domain(cli));
		fflush(stdout);
		uint64_t start = fl_clock_mono_ms();
		for (int i = 0; i < sc->nsteps; i++) {
			if (!wait_until(start, sc->steps[i].at_ms))
				break;
			int r = run_step(sc, cli, &sc->steps[i], fl_clock_mono_ms() - start);
			if (r != FL_EXIT_OK)
				code = r;
		}
		if (stop_signal)
			printf("interrupted (%s)\n", stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
		cleanup(sc, cli);
		if (stop_signal)
			code = 128 + stop_signal;
	}
	for (int i = 0; i < sc->nsteps; i++)
		fl_ruleset_free(&sc->steps[i].rules);
	config_destroy(&sc->cfg);
	free(sc);
	return code;
}
