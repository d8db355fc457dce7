/*
 * faultline.c - the CLI's entry point: one option parser for every
 * subcommand, so options may stand before or after operands
 * (`faultline --domain ci trip X` is `faultline trip X --domain ci`).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define FL_VERSION "0.1.0"

struct command {
	const char *name;
	int (*run)(const struct fl_cli *);
	const char *usage;
	const char *options; /* space-separated long options it accepts */
};

static const struct command commands[] = {
    {"run", fl_cmd_run,
     "faultline run [--rules R] [--config F] [--domain D] [--seed N]\n"
     "              [--supervise | --no-supervise] -- CMD [ARGS...]\n"
     "  Runs CMD with libfaultline.so preloaded: $FAULTLINE_LIB if set, else the\n"
     "  one next to this program, else ../lib/faultline/ beside it. Any\n"
     "  LD_PRELOAD already set is kept. A static or Go program is supervised\n"
     "  instead (seccomp user notifications: its connect calls get the rules);\n"
     "  --supervise forces that for any program, --no-supervise only warns.",
     "rules config domain seed supervise no-supervise"},
    {"check", fl_cmd_check,
     "faultline check [--rules R] [--config F]\n"
     "  Validates the rules (default: $FAULTLINE_RULES and $FAULTLINE_CONFIG)\n"
     "  and prints them in canonical inline form. Exit 0 if valid, 2 if not.",
     "rules config"},
    {"stats", fl_cmd_stats,
     "faultline stats [--domain D] [--json | --prometheus] [--watch SECS]\n"
     "  One row per destination of the domain (default: $FAULTLINE_DOMAIN, else\n"
     "  'default'). Columns: DESTINATION; KIND (dest, or rule for a scope=rule or\n"
     "  overflow entry, rule+N when N destinations overflowed into it); breaker\n"
     "  STATE, CALLS (connection attempts with an outcome; connect calls when\n"
     "  there is no breaker), FAILS, FAIL% (failed calls in the rolling window,\n"
     "  rolling_window_ms), REJECTED; BULKHEAD active/queued/limit; BH.REJ\n"
     "  (bulkhead rejections and queue timeouts); FAULTS injected per op\n"
     "  (e = errors, d = delays). '-': the destination has no such part.\n"
     "  --json: one object (fields in faultline(1); times in Unix milliseconds).\n"
     "  --prometheus: text exposition format 0.0.4.\n"
     "  --watch SECS: again every SECS (decimals allowed) until interrupted.",
     "domain json prometheus watch"},
    {"top", fl_cmd_top,
     "faultline top [--domain D] [--watch SECS]\n"
     "  The stats table, live on the terminal, redrawn in place every SECS\n"
     "  (default 1; any key but q: at once). q or Ctrl-C quits. Colours: green\n"
     "  closed, red open, yellow half_open, dim disabled (none when NO_COLOR is\n"
     "  set).",
     "domain watch"},
    {"trip", fl_cmd_trip,
     "faultline trip DEST [--domain D]\n"
     "  Forces the breaker of DEST open (forced_open) until `faultline reset`.\n"
     "  DEST as stats shows it: 127.0.0.1:6379, [::1]:6379, unix:/run/x.sock,\n"
     "  or a scope=rule statement's target. A destination no process has\n"
     "  contacted yet is created, forced_open (its breaker from the matching\n"
     "  FAULTLINE_RULES statement, else the defaults).",
     "domain"},
    {"reset", fl_cmd_reset,
     "faultline reset [DEST | --all] [--domain D]\n"
     "  Puts the breaker of DEST (or of every destination) back to closed and\n"
     "  clears its counters: breaker, bulkhead rejections, timeouts and peak,\n"
     "  and the per-op counters.",
     "domain all"},
    {"set", fl_cmd_set,
     "faultline set DEST KEY=VALUE ... [--domain D]\n"
     "  Changes breaker, bulkhead or rate_limit keys of DEST live, for every\n"
     "  process of the domain. Keys and values as in FAULTLINE_RULES; a key\n"
     "  several have (reject_errno, enabled) changes each, breaker.KEY,\n"
     "  bulkhead.KEY or rate_limit.KEY picks one. scope cannot change live.\n"
     "  Nothing is written unless every pair is valid.",
     "domain"},
    {"ps", fl_cmd_ps,
     "faultline ps [--domain D] [--json]\n"
     "  Processes attached to the domain: pid, since when, alive or dead, and\n"
     "  command. Dead processes are shown once, then removed (their bulkhead\n"
     "  slots given back).",
     "domain json"},
    {"domains", fl_cmd_domains,
     "faultline domains [--json]\n"
     "  The domains of this user: size, destinations used/capacity, attached\n"
     "  live processes, creation time.",
     "json"},
    {"apply", fl_cmd_apply,
     "faultline apply [--domain D] [--name N] [--for DURATION] (--rules R | --config F)\n"
     "  Adds layer N (or replaces the layer of that name) to the domain, creating\n"
     "  it if needed: every process of the domain applies its statements from its\n"
     "  next call, after its own, including connections opened before. The\n"
     "  layer is validated whole first: one bad statement and nothing is applied\n"
     "  (exit 2). Without --name a name is generated and printed. --for 30s\n"
     "  (250ms, 5m, or milliseconds) removes it by itself after that time.",
     "domain name for rules config"},
    {"remove", fl_cmd_remove,
     "faultline remove N... | --all [--domain D]\n"
     "  Removes layers: their faults stop from every process's next call.\n"
     "  Breakers and bulkheads they created keep their state.",
     "domain all"},
    {"heal", fl_cmd_heal,
     "faultline heal [--domain D]\n"
     "  Removes every layer of the domain (remove --all).",
     "domain"},
    {"layers", fl_cmd_layers,
     "faultline layers [--domain D] [--json]\n"
     "  The domain's layers in the order they apply: name, applied at, expires\n"
     "  at, statements. --json: an array of {name, applied, expires, rules}\n"
     "  (Unix ms; expires null = never).",
     "domain json"},
    {"play", fl_cmd_play,
     "faultline play FILE [--domain D]\n"
     "  Runs a scenario (libconfig: name, steps = ({at = \"10s\"; apply = {...};\n"
     "  remove = [...]; trip = \"DEST\"; reset = \"DEST\"; set = \"DEST K=V\";}, ...)).\n"
     "  The whole file is checked first; each step is printed as it runs.\n"
     "  Ctrl-C or the end removes every layer it applied.",
     "domain"},
    {"clear", fl_cmd_clear,
     "faultline clear [--domain D] [--force]\n"
     "  Removes a domain's shared memory. Refused while live processes are\n"
     "  attached, unless --force.",
     "domain force"},
    {"events", fl_cmd_events,
     "faultline events [--domain D] [--follow] [--json] [--since T]\n"
     "  The domain's event log, oldest first: breaker transitions and their\n"
     "  reason, bulkhead rejections and queue timeouts, layers, processes\n"
     "  attached and gone, injected faults counted per statement and second.\n"
     "  --json: one object per line. --follow: keep printing as events come.\n"
     "  --since T: from Unix time T (ms), or T ago for 250ms, 30s, 5m, 2h.\n"
     "  Events the log no longer holds are counted on standard error.",
     "domain follow json since"},
    {"serve", fl_cmd_serve,
     "faultline serve [--domain D] [--listen ADDR:PORT] [--token-file F]\n"
     "  Serves the HTTP API (docs/http-api.md), Prometheus /metrics and the\n"
     "  dashboard at http://127.0.0.1:7417/, in the foreground, until SIGINT or\n"
     "  SIGTERM. ?domain=D picks another domain per request. Listening off\n"
     "  loopback needs --token-file (then every request needs Authorization:\n"
     "  Bearer TOKEN). Exit 2 if the address is taken.",
     "domain listen token-file"},
};

__thread struct fl_cli_capture *fl_cli_capture_to;

int fl_cli_fail(int code, const char *fmt, ...)
{
	/* The message may quote what the user typed (a path, a domain): one
	 * line, control bytes escaped, as the shim writes them. */
	char raw[2048], line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	fl_escape_controls(line, sizeof(line), raw, sizeof(raw));
	if (fl_cli_capture_to) {
		fl_cli_capture_to->code = code;
		snprintf(fl_cli_capture_to->msg, sizeof(fl_cli_capture_to->msg), "%s", line);
		return code;
	}
	fprintf(stderr, "faultline: %s\n", line);
	return code;
}

void fl_cli_warnings(const struct fl_diag *d)
{
	for (unsigned i = 0; i < d->nwarnings && i < FL_DIAG_WARN_MAX; i++)
		fprintf(stderr, "faultline: warning: %s\n", d->warnings[i]);
}

static void usage(FILE *out)
{
	fputs("usage: faultline COMMAND [OPTIONS] [OPERANDS]\n\n"
	      "Fault injection, circuit breakers and bulkheads for unmodified programs.\n\n"
	      "commands:\n",
	      out);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const char *synopsis = commands[i].usage;
		fprintf(out, "  %.*s\n", (int)strcspn(synopsis, "\n"), synopsis);
	}
	fputs("\noptions: --help, --version; `faultline COMMAND --help` explains a command\n", out);
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* Every option of every command; each command lists the ones it takes. */
struct option_def {
	const char *name;
	bool takes_value;
	size_t offset; /* of a const char * or a bool in struct fl_cli */
};

static const struct option_def option_defs[] = {
    {"rules", true, offsetof(struct fl_cli, rules)},
    {"config", true, offsetof(struct fl_cli, config)},
    {"domain", true, offsetof(struct fl_cli, domain)},
    {"seed", true, offsetof(struct fl_cli, seed)},
    {"watch", true, offsetof(struct fl_cli, watch)},
    {"listen", true, offsetof(struct fl_cli, listen)},
    {"token-file", true, offsetof(struct fl_cli, token_file)},
    {"json", false, offsetof(struct fl_cli, json)},
    {"prometheus", false, offsetof(struct fl_cli, prometheus)},
    {"all", false, offsetof(struct fl_cli, all)},
    {"force", false, offsetof(struct fl_cli, force)},
    {"help", false, offsetof(struct fl_cli, help)},
    {"follow", false, offsetof(struct fl_cli, follow)},
    {"since", true, offsetof(struct fl_cli, since)},
    {"name", true, offsetof(struct fl_cli, name)},
    {"for", true, offsetof(struct fl_cli, for_time)},
    {"supervise", false, offsetof(struct fl_cli, supervise)},
    {"no-supervise", false, offsetof(struct fl_cli, no_supervise)},
};

/* The options given, to check them against the command once it is known. */
struct given {
	const struct option_def *defs[32];
	int n;
};

static int parse_option(struct fl_cli *cli, struct given *given, int argc, char **argv, int *i)
{
	const char *arg = argv[*i] + 2;
	const char *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	const struct option_def *def = NULL;
	for (size_t k = 0; k < sizeof(option_defs) / sizeof(option_defs[0]); k++)
		if (strlen(option_defs[k].name) == len && strncmp(option_defs[k].name, arg, len) == 0)
			def = &option_defs[k];
	if (!def || (eq && !def->takes_value))
		return fl_cli_fail(FL_EXIT_USAGE, "unknown option '%s' (see faultline --help)", argv[*i]);
	char *field = (char *)cli + def->offset;
	if (!def->takes_value) {
		*(bool *)field = true;
	} else if (eq) {
		*(const char **)field = eq + 1;
	} else if (*i + 1 < argc) {
		*(const char **)field = argv[++*i];
	} else {
		return fl_cli_fail(FL_EXIT_USAGE, "option --%s needs a value", def->name);
	}
	if (given->n == 32)
		return fl_cli_fail(FL_EXIT_USAGE, "too many options");
	given->defs[given->n++] = def;
	return 0;
}

static int check_options(const struct command *cmd, const struct given *given)
{
	for (int i = 0; i < given->n; i++) {
		const char *n = given->defs[i]->name;
		size_t len = strlen(n);
		const char *p = cmd->options;
		bool ok = strcmp(n, "help") == 0;
		while (!ok && (p = strstr(p, n)) != NULL) {
			ok = (p == cmd->options || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0');
			p += len;
		}
		if (!ok)
			return fl_cli_fail(FL_EXIT_USAGE, "%s does not take --%s (see faultline %s --help)",
					   cmd->name, n, cmd->name);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct fl_cli cli = {0};
	struct given given = {0};
	static char *operands[256];
	cli.operands = operands;
	cli.argv = argv;
	cli.argc = argc;
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			cli.exec_argv = &argv[i + 1];
			break;
		}
		if (strcmp(a, "--version") == 0) {
			printf("faultline %s\n", FL_VERSION);
			return FL_EXIT_OK;
		}
		if (strncmp(a, "--", 2) == 0 && a[2]) {
			if (parse_option(&cli, &given, argc, argv, &i) != 0)
				return FL_EXIT_USAGE;
			continue;
		}
		if (strcmp(a, "-h") == 0) {
			cli.help = true;
			continue;
		}
		if (!cli.command) {
			cli.command = a;
			continue;
		}
		/* `faultline run CMD ARGS`: the command's own options are not ours. */
		if (strcmp(cli.command, "run") == 0) {
			cli.exec_argv = &argv[i];
			break;
		}
		if (cli.noperands == 256)
			return fl_cli_fail(FL_EXIT_USAGE, "too many operands");
		operands[cli.noperands++] = a;
	}
	if (!cli.command) {
		usage(cli.help ? stdout : stderr);
		return cli.help ? FL_EXIT_OK : FL_EXIT_USAGE;
	}
	const struct command *cmd = find_command(cli.command);
	if (!cmd)
		return fl_cli_fail(FL_EXIT_USAGE, "unknown command '%s' (see faultline --help)", cli.command);
	if (cli.help) {
		printf("usage: %s\n", cmd->usage);
		return FL_EXIT_OK;
	}
	if (check_options(cmd, &given) != 0)
		return FL_EXIT_USAGE;
	return cmd->run(&cli);
}
