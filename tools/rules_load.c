/*
 * rules_load.c - one way for every command to get a rule set from the
 * command line or the environment, with errors and warnings reported once.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

int fl_cli_load_rules(const struct fl_cli *cli, struct fl_ruleset *rs)
{
	const char *rules = cli->rules, *rules_src = cli->rules_src ? cli->rules_src : "--rules";
	const char *config = cli->config;
	if (!rules && !config) {
		rules = getenv("FAULTLINE_RULES");
		rules_src = "FAULTLINE_RULES";
		config = getenv("FAULTLINE_CONFIG");
	}
	struct fl_diag *d = calloc(1, sizeof(*d));
	if (!d)
		return fl_cli_fail(FL_EXIT_RUNTIME, "out of memory"), -1;
	int r = 0;
	if (rules && *rules && fl_parse_inline(rules_src, rules, rs, d) < 0)
		r = -1;
	else if (config && *config && fl_parse_config_file(config, rs, d) < 0)
		r = -1;
	if (r < 0)
		fl_cli_fail(FL_EXIT_USAGE, "%s", d->error);
	else
		fl_cli_warnings(d);
	free(d);
	return r;
}
