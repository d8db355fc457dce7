/*
 * cmd_run.c - `faultline run`: run a program with the shim preloaded.
 *
 * The rules are checked here first, so a typo is reported once by the CLI
 * instead of by every process the command starts. Then the environment is
 * set and the command replaces this process: the exit status is the
 * command's own.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "segment.h"
#include "supervise.h"

/* The shim: $FAULTLINE_LIB, else next to this program, else ../lib/faultline/. */
static int find_shim(char *out, size_t size)
{
	const char *env = getenv("FAULTLINE_LIB");
	if (env && *env) {
		if (access(env, R_OK) != 0)
			return fl_cli_fail(FL_EXIT_RUNTIME, "FAULTLINE_LIB: cannot read '%s': %s", env,
					   strerror(errno)),
			       -1;
		if (!realpath(env, out))
			return fl_cli_fail(FL_EXIT_RUNTIME, "FAULTLINE_LIB: '%s': %s", env, strerror(errno)),
			       -1;
		return 0;
	}
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return fl_cli_fail(FL_EXIT_RUNTIME, "cannot find this program's path: %s", strerror(errno)),
		       -1;
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	*slash = '\0';
	static const char *const candidates[] = {"%s/libfaultline.so", "%s/../lib/faultline/libfaultline.so"};
	for (size_t i = 0; i < 2; i++) {
		char path[PATH_MAX + 64];
		snprintf(path, sizeof(path), candidates[i], self);
		if (access(path, R_OK) == 0 && realpath(path, out))
			return 0;
	}
	(void)size;
	return fl_cli_fail(
		   FL_EXIT_RUNTIME,
		   "cannot find libfaultline.so next to %s or in %s/../lib/faultline (set FAULTLINE_LIB)",
		   self, self),
	       -1;
}

/* LD_PRELOAD with the shim first, keeping what the user had. */
static int set_preload(const char *shim)
{
	const char *old = getenv("LD_PRELOAD");
	if (!old || !*old)
		return setenv("LD_PRELOAD", shim, 1);
	if (strstr(old, shim))
		return 0;
	size_t n = strlen(shim) + strlen(old) + 2;
	char *v = malloc(n);
	if (!v)
		return -1;
	snprintf(v, n, "%s:%s", shim, old);
	int r = setenv("LD_PRELOAD", v, 1);
	free(v);
	return r;
}

/*
 * No rules: the command still applies the domain's layers (SPEC 7), so the
 * domain must exist when it starts (the shim of a process without rules
 * only attaches to an existing one).
 */
static int join_domain(void)
{
	const char *domain = getenv("FAULTLINE_DOMAIN");
	domain = domain && *domain ? domain : "default";
	if (!fl_domain_name_valid(domain))
		return fl_cli_fail(FL_EXIT_USAGE, FL_DOMAIN_NAME_INVALID, domain);
	struct fl_seg seg;
	struct fl_diag *d = calloc(1, sizeof(*d));
	if (!d)
		return fl_cli_fail(FL_EXIT_RUNTIME, "out of memory");
	const char *cap = getenv("FAULTLINE_CAPACITY");
	unsigned long n = cap && *cap ? strtoul(cap, NULL, 10) : 0;
	uint32_t capacity = n >= 1 && n <= FL_SEG_CAPACITY_MAX ? (uint32_t)n : FL_SEG_CAPACITY_DEFAULT;
	int code = FL_EXIT_OK;
	if (fl_seg_open(&seg, domain, capacity, true, fl_cli_now_ms(), d) < 0)
		code = fl_cli_fail(FL_EXIT_RUNTIME, "%s", d->error);
	else
		fl_seg_close(&seg);
	free(d);
	return code;
}

/* The seed the shim would choose (init.c): --seed / $FAULTLINE_SEED, the
 * config's, else the clock. */
static uint64_t run_seed(const struct fl_ruleset *rs)
{
	const char *v = getenv("FAULTLINE_SEED");
	char *end;
	if (v && *v) {
		unsigned long long n = strtoull(v, &end, 10);
		if (!*end)
			return n;
	}
	if (rs->has_seed)
		return rs->seed;
	return fl_cli_now_ms() ^ ((uint64_t)getpid() << 32);
}

/* SPEC 13: static and Go programs (or any, with --supervise) run under a
 * seccomp supervisor. Returns the exit status, or -1 to run as before. */
static int run_supervised(const struct fl_cli *cli, const struct fl_ruleset *rs)
{
	char path[PATH_MAX];
	enum fl_elf_kind kind = fl_elf_classify(cli->exec_argv[0], path, sizeof(path));
	if (cli->no_supervise || (!cli->supervise && kind != FL_ELF_STATIC && kind != FL_ELF_GO))
		return -1;
	if (fl_sv_check_rules(rs) > 0)
		return fl_cli_fail(FL_EXIT_USAGE, "run: drop those statements, or run %s with --no-supervise",
				   cli->exec_argv[0]);
	const char *domain = getenv("FAULTLINE_DOMAIN");
	const char *cap = getenv("FAULTLINE_CAPACITY");
	char command[FL_SEG_CMD_MAX];
	snprintf(command, sizeof(command), "faultline run (supervising) %s", cli->exec_argv[0]);
	struct fl_sv_config cfg = {
	    .rules = rs,
	    .domain = domain && *domain ? domain : "default",
	    .capacity = cap && *cap ? (uint32_t)strtoul(cap, NULL, 10) : FL_SEG_CAPACITY_DEFAULT,
	    .seed = run_seed(rs),
	    .defer_delays = kind == FL_ELF_GO,
	    .command = command,
	};
	if (!cfg.capacity)
		cfg.capacity = FL_SEG_CAPACITY_DEFAULT;
	return fl_supervise_run(&cfg, cli->exec_argv);
}

int fl_cmd_run(const struct fl_cli *cli)
{
	if (!cli->exec_argv || !cli->exec_argv[0])
		return fl_cli_fail(FL_EXIT_USAGE,
				   "run needs a command: faultline run [OPTIONS] -- CMD [ARGS...]");
	if (cli->supervise && cli->no_supervise)
		return fl_cli_fail(FL_EXIT_USAGE, "run takes --supervise or --no-supervise, not both");
	struct fl_ruleset rs;
	fl_ruleset_init(&rs);
	int r = fl_cli_load_rules(cli, &rs);
	if (r < 0) {
		fl_ruleset_free(&rs);
		return FL_EXIT_USAGE;
	}
	if ((cli->domain && setenv("FAULTLINE_DOMAIN", cli->domain, 1)) ||
	    (cli->seed && setenv("FAULTLINE_SEED", cli->seed, 1)))
		return fl_cli_fail(FL_EXIT_RUNTIME, "cannot set the environment: %s", strerror(errno));
	r = run_supervised(cli, &rs);
	fl_ruleset_free(&rs);
	if (r >= 0)
		return r;
	char shim[PATH_MAX];
	if (find_shim(shim, sizeof(shim)) < 0)
		return FL_EXIT_RUNTIME;
	char config[PATH_MAX];
	if (cli->config && !realpath(cli->config, config))
		return fl_cli_fail(FL_EXIT_USAGE, "%s: %s", cli->config, strerror(errno));
	if ((cli->rules && setenv("FAULTLINE_RULES", cli->rules, 1)) ||
	    (cli->config && setenv("FAULTLINE_CONFIG", config, 1)) ||
	    (cli->rules && !cli->config && unsetenv("FAULTLINE_CONFIG")) ||
	    (cli->config && !cli->rules && unsetenv("FAULTLINE_RULES")) ||
	    (cli->domain && setenv("FAULTLINE_DOMAIN", cli->domain, 1)) ||
	    (cli->seed && setenv("FAULTLINE_SEED", cli->seed, 1)) || set_preload(shim))
		return fl_cli_fail(FL_EXIT_RUNTIME, "cannot set the environment: %s", strerror(errno));
	/* We printed the rules' warnings already: the shim need not again. */
	char key[32];
	fl_rules_fingerprint(getenv("FAULTLINE_RULES"), getenv("FAULTLINE_CONFIG"), key, sizeof(key));
	setenv("FAULTLINE_WARNED", key, 1);
	if (cli->no_supervise)
		fl_elf_warn(cli->exec_argv[0]);
	if (!getenv("FAULTLINE_RULES") && !getenv("FAULTLINE_CONFIG") && join_domain() != FL_EXIT_OK)
		return FL_EXIT_RUNTIME;
	execvp(cli->exec_argv[0], cli->exec_argv);
	return fl_cli_fail(FL_EXIT_RUNTIME, "cannot run '%s': %s", cli->exec_argv[0], strerror(errno));
}
