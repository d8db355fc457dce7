/*
 * cmd_check.c - `faultline check`: validate rules, print them canonically.
 *
 * The canonical form is inline syntax with every key written out, so the
 * output can be pasted back into FAULTLINE_RULES and shows each default
 * that applies.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "report.h"

int fl_cmd_check(const struct fl_cli *cli)
{
	if (cli->noperands > 0)
		return fl_cli_fail(FL_EXIT_USAGE, "check takes no operands ('%s')", cli->operands[0]);
	struct fl_ruleset rs;
	fl_ruleset_init(&rs);
	if (fl_cli_load_rules(cli, &rs) < 0) {
		fl_ruleset_free(&rs);
		return FL_EXIT_USAGE;
	}
	if (rs.count == 0)
		fprintf(stderr, "faultline: no rules (give --rules or --config, or set FAULTLINE_RULES or "
				"FAULTLINE_CONFIG)\n");
	size_t need = fl_ruleset_format(&rs, NULL, 0) + 1;
	char *text = malloc(need);
	if (!text) {
		fl_ruleset_free(&rs);
		return fl_cli_fail(FL_EXIT_RUNTIME, "out of memory");
	}
	fl_ruleset_format(&rs, text, need);
	/* Written through fl_cli_print, as stats and ps are: output that could
	 * not be written (a full disk, a closed pipe) is exit 1 with a message. */
	struct fl_out o;
	fl_out_init(&o);
	if (rs.has_seed)
		fl_out_printf(&o, "# seed %llu\n", (unsigned long long)rs.seed);
	fl_out_puts(&o, text);
	free(text);
	fl_ruleset_free(&rs);
	int code = fl_cli_print(&o);
	fl_out_free(&o);
	return code;
}
