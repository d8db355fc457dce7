/*
 * fuzz_config.c - the libconfig loader (FAULTLINE_CONFIG, --config).
 *
 * Input: the text of a configuration file. libconfig parses the syntax;
 * what is fuzzed here is everything faultline does with the tree: the walk
 * of SPEC section 4, values turned back into text for the shared key
 * table, and the columns recovered from the source for messages.
 *
 * Properties, beyond "no crash, no sanitizer report":
 *   - an error always comes with one terminated, non-empty message;
 *   - a file that loads prints (fl_ruleset_format) as inline text that
 *     parses to the same number of statements and prints identically:
 *     "a file and inline rules that describe the same thing compile to the
 *     same rule set" (SPEC section 4).
 */
#include "fuzz_common.h"
#include "rules.h"

#define INPUT_MAX 16384

static char *format_rules(const struct fl_ruleset *rs)
{
	size_t need = fl_ruleset_format(rs, NULL, 0);
	char *buf = malloc(need + 1);
	if (!buf)
		abort();
	FUZZ_CHECK(fl_ruleset_format(rs, buf, need + 1) == need, "format size changed");
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > INPUT_MAX)
		return 0;
	char *text = fuzz_text(data, size);
	struct fl_ruleset rs, inl;
	struct fl_diag *d = calloc(1, sizeof(*d));
	if (!d)
		abort();
	fl_ruleset_init(&rs);
	fl_ruleset_init(&inl);
	int rc = fl_parse_config_string("fuzz.conf", text, &rs, d);
	fuzz_check_diag(d->error, sizeof(d->error), rc);
	if (rc == 0) {
		char *canon = format_rules(&rs);
		fl_diag_clear(d);
		int rc2 = fl_parse_inline("canonical", canon, &inl, d);
		FUZZ_CHECK(
		    rc2 == 0,
		    "the file's canonical form does not parse inline: %s\n--- file:\n%s\n--- canonical:\n%s",
		    d->error, text, canon);
		FUZZ_CHECK(inl.count == rs.count, "%zu statements from the file, %zu inline", rs.count,
			   inl.count);
		char *canon2 = format_rules(&inl);
		FUZZ_CHECK(strcmp(canon, canon2) == 0, "file and inline forms differ:\n%s\n--- inline:\n%s",
			   canon, canon2);
		free(canon2);
		free(canon);
	}
	fl_ruleset_free(&rs);
	fl_ruleset_free(&inl);
	free(d);
	free(text);
	return 0;
}
