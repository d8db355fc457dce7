/*
 * parse_inline.c - FAULTLINE_RULES and --rules text into a rule set.
 *
 * The text is usually typed on a command line or in an environment
 * variable, so errors must point exactly at the token that is wrong: every
 * token carries the line and column where it starts, and every message is
 * made here or in fl_rule_set_key with that location. Tokens are pointers
 * into the caller's text; nothing is copied, nothing is allocated except
 * the rule array itself.
 */
#include "rules.h"

#include <string.h>

/* Where the scanner stands in the text. */
struct cursor {
	const char *p;
	const char *source;
	unsigned line, col;
};

struct token {
	const char *text;
	size_t len;
	struct fl_loc loc;
};

enum token_kind {
	TOKEN_WORD,
	TOKEN_END, /* ';' or a newline: the statement ends */
	TOKEN_EOF,
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool ends_word(char c)
{
	return c == '\0' || is_blank(c) || c == ';' || c == '\n' || c == '#';
}

static void advance(struct cursor *c)
{
	if (*c->p == '\n') {
		c->line++;
		c->col = 1;
	} else {
		c->col++;
	}
	c->p++;
}

static enum token_kind next_token(struct cursor *c, struct token *t)
{
	for (;;) {
		char ch = *c->p;
		if (ch == '\0')
			return TOKEN_EOF;
		if (ch == ';' || ch == '\n') {
			advance(c);
			return TOKEN_END;
		}
		if (ch == '#') {
			while (*c->p != '\0' && *c->p != '\n')
				advance(c);
			continue;
		}
		if (!is_blank(ch))
			break;
		advance(c);
	}
	t->text = c->p;
	t->loc = (struct fl_loc){.source = c->source, .line = c->line, .col = c->col};
	while (!ends_word(*c->p))
		advance(c);
	t->len = (size_t)(c->p - t->text);
	return TOKEN_WORD;
}

static int parse_target(const struct token *t, struct fl_target *target, struct fl_diag *d)
{
	const char *why;
	if (fl_kind_from_name(t->text, t->len) >= 0)
		return fl_diag_error(d, &t->loc,
				     "statement starts with kind '%.*s': write the target first, "
				     "as in '127.0.0.1:6379 %.*s'",
				     (int)t->len, t->text, (int)t->len, t->text);
	size_t at;
	if (fl_target_parse_at(t->text, t->len, target, &why, &at) < 0) {
		struct fl_loc loc = t->loc; /* a bad host name: the column of its bad label */
		loc.col += (unsigned)at;
		return fl_diag_error(d, &loc, "bad target '%.*s': %s", (int)t->len, t->text, why);
	}
	return 0;
}

/* Every kind (lib/rules.c fl_kind_words), for the messages below. */
#define KINDS_TEXT "breaker, bulkhead, fault, shape, rate_limit or resolve"

static int parse_kind(struct cursor *c, const struct token *target, enum fl_kind *kind, struct fl_diag *d)
{
	struct token t;
	if (next_token(c, &t) != TOKEN_WORD)
		return fl_diag_error(d, &target->loc, "missing kind after target '%.*s' (" KINDS_TEXT ")",
				     (int)target->len, target->text);
	if (memchr(t.text, '=', t.len) != NULL)
		return fl_diag_error(d, &t.loc, "missing kind before '%.*s' (" KINDS_TEXT ")", (int)t.len,
				     t.text);
	int k = fl_kind_from_name(t.text, t.len);
	if (k >= 0) {
		*kind = (enum fl_kind)k;
		return 0;
	}
	const char *suggestion = fl_suggest(t.text, t.len, fl_kind_words);
	if (suggestion != NULL)
		return fl_diag_error(d, &t.loc, "unknown kind '%.*s' (did you mean '%s'?)", (int)t.len,
				     t.text, suggestion);
	return fl_diag_error(d, &t.loc, "unknown kind '%.*s' (kinds: " KINDS_TEXT ")", (int)t.len, t.text);
}

static int parse_key_value(const struct token *t, struct fl_rule *r, uint64_t *seen, struct fl_diag *d)
{
	const char *eq = memchr(t->text, '=', t->len);
	if (eq == NULL)
		return fl_diag_error(d, &t->loc, "expected key=value, got '%.*s'", (int)t->len, t->text);
	size_t key_len = (size_t)(eq - t->text);
	if (key_len == 0)
		return fl_diag_error(d, &t->loc, "missing key before '=' in '%.*s'", (int)t->len, t->text);
	return fl_rule_set_key(r, t->text, key_len, eq + 1, t->len - key_len - 1, seen, &t->loc, d);
}

/* TARGET KIND key=value ... up to the end of the statement. */
static int parse_statement(struct cursor *c, const struct token *first, struct fl_ruleset *rs,
			   struct fl_diag *d)
{
	struct fl_target target;
	enum fl_kind kind = FL_KIND_FAULT;
	if (parse_target(first, &target, d) < 0 || parse_kind(c, first, &kind, d) < 0)
		return -1;
	struct fl_rule rule;
	fl_rule_defaults(&rule, kind);
	rule.target = target;
	rule.loc = first->loc;
	uint64_t seen = 0;
	struct token t;
	while (next_token(c, &t) == TOKEN_WORD)
		if (parse_key_value(&t, &rule, &seen, d) < 0)
			return -1;
	if (fl_rule_finish(&rule, &rule.loc, d) < 0)
		return -1;
	return fl_ruleset_add(rs, &rule, d);
}

int fl_parse_inline(const char *source, const char *text, struct fl_ruleset *rs, struct fl_diag *d)
{
	struct cursor c = {.p = text, .source = source, .line = 1, .col = 1};
	if (text == NULL)
		return 0;
	for (;;) {
		struct token first;
		enum token_kind k = next_token(&c, &first);
		if (k == TOKEN_EOF)
			return 0;
		if (k == TOKEN_WORD && parse_statement(&c, &first, rs, d) < 0)
			return -1;
	}
}
