/*
 * parse_config.c - a libconfig file (FAULTLINE_CONFIG, --config) into a rule
 * set.
 *
 * libconfig does the syntax; this file walks the tree of SPEC section 4 and
 * turns it into the same statements an inline rule would give. Every value
 * is first written back as the text an inline rule would hold ("3", "0.5",
 * "connect,send") and handed to fl_rule_set_key, so a file and inline rules
 * are validated by one piece of code and cannot drift apart.
 *
 * libconfig remembers the line of each setting but not its column, so the
 * column is recovered from the source text (config_loc.c), and messages
 * read like the inline parser's: "PATH:LINE:COL: ...".
 */
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array.h"
#include "config_loc.h"
#include "numtext.h"
#include "rules.h"
#include "sysio.h"

#define VALUE_TEXT_MAX	512
#define CONFIG_FILE_MAX (16u << 20)

static const char *const top_settings[] = {"seed", "destinations", NULL};
static const char *const destination_settings[] = {
    "match", "circuit_breaker", "breaker", "bulkhead", "faults", "resolve", "shape", "rate_limit", NULL};

struct config_ctx {
	const char *source;	    /* name in messages and rule locations; outlives the rule set */
	struct fl_text_lines lines; /* the whole source text, by line, for columns */
	struct fl_ruleset *rs;
	struct fl_diag *d;
};

static struct fl_loc loc_of(const struct config_ctx *cx, const config_setting_t *s)
{
	return fl_config_loc(cx->source, &cx->lines, s);
}

/* An unknown setting name, with a suggestion from the names allowed there. */
static int unknown_setting(const struct config_ctx *cx, const config_setting_t *s, const char *where,
			   const char *const *allowed)
{
	struct fl_loc loc = loc_of(cx, s);
	const char *name = config_setting_name(s);
	const char *suggestion = fl_suggest(name, strlen(name), allowed);
	if (suggestion != NULL)
		return fl_diag_error(cx->d, &loc, "unknown setting '%s' %s (did you mean '%s'?)", name, where,
				     suggestion);
	return fl_diag_error(cx->d, &loc, "unknown setting '%s' %s", name, where);
}

static bool name_in(const char *name, const char *const *names)
{
	for (size_t i = 0; names[i] != NULL; i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

/* A float always reads as one ("2000.0"), so timeout_ms = 2000.0 is
 * rejected exactly like timeout_ms=2000.0 inline. */
static void float_text(double v, char *buf, size_t size)
{
	size_t n = fl_format_real(v, buf, size);
	if (n + 2 < size && strpbrk(buf, ".eE") == NULL)
		memcpy(buf + n, ".0", 3);
}

/* Array or list of strings -> "a,b,c". */
static int join_strings(const struct config_ctx *cx, const config_setting_t *s, char *buf, size_t size,
			size_t *len)
{
	struct fl_loc loc = loc_of(cx, s);
	size_t used = 0;
	for (int i = 0; i < config_setting_length(s); i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return fl_diag_error(cx->d, &loc, "'%s' must be a string or a list of strings",
					     config_setting_name(s));
		const char *item = config_setting_get_string(e);
		size_t n = strlen(item);
		if (used + n + 2 > size)
			return fl_diag_error(cx->d, &loc, "list '%s' is too long", config_setting_name(s));
		if (i > 0)
			buf[used++] = ',';
		memcpy(buf + used, item, n);
		used += n;
	}
	buf[used] = '\0';
	*len = used;
	return 0;
}

/* An integer literal as written: [+-] then decimal or 0x hex digits, then
 * an optional L or LL. */
struct int_literal {
	bool negative, overflow, hex;
	uint64_t magnitude;
	const char *digits; /* decimal digits as written, for messages */
	size_t ndigits;
};

static bool parse_int_literal(const char *p, size_t n, struct int_literal *lit)
{
	size_t i = 0;
	memset(lit, 0, sizeof(*lit));
	while (n > 0 && p[n - 1] == 'L')
		n--;
	if (i < n && (p[i] == '+' || p[i] == '-'))
		lit->negative = p[i++] == '-';
	if (i + 1 < n && p[i] == '0' && (p[i + 1] == 'x' || p[i + 1] == 'X')) {
		lit->hex = true;
		i += 2;
	}
	lit->digits = p + i;
	lit->ndigits = n - i;
	if (i >= n)
		return false;
	for (; i < n; i++) {
		char c = p[i];
		unsigned digit;
		if (c >= '0' && c <= '9')
			digit = (unsigned)(c - '0');
		else if (lit->hex && c >= 'a' && c <= 'f')
			digit = (unsigned)(c - 'a' + 10);
		else if (lit->hex && c >= 'A' && c <= 'F')
			digit = (unsigned)(c - 'A' + 10);
		else
			return false;
		unsigned base = lit->hex ? 16 : 10;
		if (lit->magnitude > (UINT64_MAX - digit) / base)
			lit->overflow = true;
		lit->magnitude = lit->magnitude * base + digit;
	}
	return true;
}

/*
 * The integer of setting s as its source spells it. libconfig 1.5 keeps
 * an integer written without L that does not fit 32 bits as its low 32
 * bits (failure_threshold = 4294967299 reads as 3), and one beyond 64 bits
 * as garbage, so the literal is read again from the text. It is used only
 * when it agrees with what libconfig kept (same low bits), so a literal
 * found in the wrong place can never change a value; otherwise, and for
 * an @include'd file, libconfig's value stands.
 */
static bool source_int(const struct config_ctx *cx, const config_setting_t *s, struct int_literal *lit)
{
	size_t n = 0;
	const char *p = fl_config_value_literal(&cx->lines, s, &n);
	if (p == NULL || !parse_int_literal(p, n, lit))
		return false;
	if (lit->overflow)
		return true;
	uint64_t as_written = lit->negative ? (uint64_t)0 - lit->magnitude : lit->magnitude;
	uint64_t kept = (uint64_t)config_setting_get_int64(s);
	if (config_setting_type(s) == CONFIG_TYPE_INT)
		return (uint32_t)as_written == (uint32_t)kept;
	return as_written == kept;
}

/* An integer as an inline rule would hold it: all its digits, so a value
 * beyond 32 or 64 bits meets the same range check as inline. */
static int int_text(const struct config_ctx *cx, const config_setting_t *s, char *buf, size_t size)
{
	struct int_literal lit;
	if (!source_int(cx, s, &lit)) {
		snprintf(buf, size, "%lld", config_setting_get_int64(s));
		return 0;
	}
	if (!lit.hex && lit.ndigits + 2 < size) {
		snprintf(buf, size, "%s%.*s", lit.negative ? "-" : "", (int)lit.ndigits, lit.digits);
		return 0;
	}
	if (lit.overflow) {
		struct fl_loc loc = loc_of(cx, s);
		return fl_diag_error(cx->d, &loc,
				     "value '0x%.*s' of '%s' is out of range (more than 64 bits)",
				     (int)lit.ndigits, lit.digits, config_setting_name(s));
	}
	snprintf(buf, size, "%s%llu", lit.negative ? "-" : "", (unsigned long long)lit.magnitude);
	return 0;
}

/* The text an inline rule would hold for this value; *out may point into buf. */
static int value_text(const struct config_ctx *cx, const config_setting_t *s, char *buf, size_t size,
		      const char **out, size_t *len)
{
	*out = buf;
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		if (int_text(cx, s, buf, size) < 0)
			return -1;
		break;
	case CONFIG_TYPE_FLOAT:
		float_text(config_setting_get_float(s), buf, size);
		break;
	case CONFIG_TYPE_BOOL:
		snprintf(buf, size, "%s", config_setting_get_bool(s) ? "true" : "false");
		break;
	case CONFIG_TYPE_STRING:
		*out = config_setting_get_string(s);
		*len = strlen(*out);
		return 0;
	case CONFIG_TYPE_ARRAY:
	case CONFIG_TYPE_LIST:
		return join_strings(cx, s, buf, size, len);
	default: {
		struct fl_loc loc = loc_of(cx, s);
		return fl_diag_error(cx->d, &loc, "'%s' must be a value, not a group",
				     config_setting_name(s));
	}
	}
	*len = strlen(buf);
	return 0;
}

/* Every setting of a group is one key=value of the statement. */
static int apply_keys(const struct config_ctx *cx, const config_setting_t *group, struct fl_rule *r)
{
	uint64_t seen = 0;
	char buf[VALUE_TEXT_MAX];
	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(s), *value;
		size_t len = 0;
		struct fl_loc loc = loc_of(cx, s);
		if (value_text(cx, s, buf, sizeof buf, &value, &len) < 0 ||
		    fl_rule_set_key(r, name, strlen(name), value, len, &seen, &loc, cx->d) < 0)
			return -1;
	}
	return 0;
}

static int add_statement(const struct config_ctx *cx, const struct fl_target *target, enum fl_kind kind,
			 const config_setting_t *group)
{
	struct fl_rule r;
	struct fl_loc loc = loc_of(cx, group);
	fl_rule_defaults(&r, kind);
	r.target = *target;
	r.loc = loc;
	if (r.loc.source != cx->source) /* an @include'd file's name dies with the config */
		r.loc = (struct fl_loc){.source = cx->source};
	if (apply_keys(cx, group, &r) < 0 || fl_rule_finish(&r, &loc, cx->d) < 0)
		return -1;
	return fl_ruleset_add(cx->rs, &r, cx->d);
}

static int type_error(const struct config_ctx *cx, const config_setting_t *s, const char *want)
{
	struct fl_loc loc = loc_of(cx, s);
	const char *name = config_setting_name(s);
	if (name != NULL)
		return fl_diag_error(cx->d, &loc, "'%s' must be %s", name, want);
	const config_setting_t *parent = config_setting_parent(s);
	const char *list = parent ? config_setting_name(parent) : NULL;
	return fl_diag_error(cx->d, &loc, "each element of '%s' must be %s", list ? list : "list", want);
}

/* The parts of one destination group, checked before any statement is made. */
struct destination {
	const config_setting_t *group, *match, *breaker, *bulkhead, *faults;
	const config_setting_t *resolve; /* { address = [...]; }: SPEC 9 */
	const config_setting_t *shape;	 /* SPEC 10 */
	const config_setting_t *rate_limit;
};

static int check_faults(const struct config_ctx *cx, const config_setting_t *faults)
{
	int t = config_setting_type(faults);
	if (t != CONFIG_TYPE_LIST && !(t == CONFIG_TYPE_ARRAY && config_setting_length(faults) == 0))
		return type_error(cx, faults, "a list of groups: ( { ... }, { ... } )");
	for (int i = 0; i < config_setting_length(faults); i++) {
		const config_setting_t *f = config_setting_get_elem(faults, (unsigned)i);
		if (config_setting_type(f) != CONFIG_TYPE_GROUP)
			return type_error(cx, f, "a group { on = ...; error = ...; }");
	}
	return 0;
}

static int collect_destination(const struct config_ctx *cx, struct destination *dst)
{
	for (int i = 0; i < config_setting_length(dst->group); i++) {
		const config_setting_t *s = config_setting_get_elem(dst->group, (unsigned)i);
		const char *name = config_setting_name(s);
		if (!name_in(name, destination_settings))
			return unknown_setting(cx, s, "in destination", destination_settings);
		if ((strcmp(name, "breaker") == 0 || strcmp(name, "circuit_breaker") == 0) &&
		    dst->breaker != NULL) {
			struct fl_loc loc = loc_of(cx, s);
			return fl_diag_error(cx->d, &loc,
					     "destination has both 'circuit_breaker' and 'breaker'");
		}
		if (strcmp(name, "match") == 0)
			dst->match = s;
		else if (strcmp(name, "bulkhead") == 0)
			dst->bulkhead = s;
		else if (strcmp(name, "faults") == 0)
			dst->faults = s;
		else if (strcmp(name, "resolve") == 0)
			dst->resolve = s;
		else if (strcmp(name, "shape") == 0)
			dst->shape = s;
		else if (strcmp(name, "rate_limit") == 0)
			dst->rate_limit = s;
		else
			dst->breaker = s;
	}
	if (dst->match == NULL) {
		struct fl_loc loc = loc_of(cx, dst->group);
		return fl_diag_error(cx->d, &loc, "destination has no 'match'");
	}
	if (dst->breaker && config_setting_type(dst->breaker) != CONFIG_TYPE_GROUP)
		return type_error(cx, dst->breaker, "a group { failure_threshold = ...; }");
	if (dst->bulkhead && config_setting_type(dst->bulkhead) != CONFIG_TYPE_GROUP)
		return type_error(cx, dst->bulkhead, "a group { max_concurrent_requests = ...; }");
	if (dst->resolve && config_setting_type(dst->resolve) != CONFIG_TYPE_GROUP)
		return type_error(cx, dst->resolve, "a group { address = [\"127.0.0.1\"]; }");
	if (dst->shape && config_setting_type(dst->shape) != CONFIG_TYPE_GROUP)
		return type_error(cx, dst->shape, "a group { rate_kbps = ...; }");
	if (dst->rate_limit && config_setting_type(dst->rate_limit) != CONFIG_TYPE_GROUP)
		return type_error(cx, dst->rate_limit, "a group { rate = ...; }");
	return dst->faults ? check_faults(cx, dst->faults) : 0;
}

/* Breaker, bulkhead, then the faults in order, for one target. */
static int add_destination_statements(const struct config_ctx *cx, const struct destination *dst,
				      const config_setting_t *match)
{
	struct fl_target target;
	const char *why, *text = config_setting_get_string(match);
	if (fl_target_parse(text, strlen(text), &target, &why) < 0) {
		struct fl_loc loc = loc_of(cx, match);
		return fl_diag_error(cx->d, &loc, "bad target '%s': %s", text, why);
	}
	if (dst->breaker && add_statement(cx, &target, FL_KIND_BREAKER, dst->breaker) < 0)
		return -1;
	if (dst->bulkhead && add_statement(cx, &target, FL_KIND_BULKHEAD, dst->bulkhead) < 0)
		return -1;
	if (dst->rate_limit && add_statement(cx, &target, FL_KIND_RATE_LIMIT, dst->rate_limit) < 0)
		return -1;
	for (int i = 0; dst->faults && i < config_setting_length(dst->faults); i++)
		if (add_statement(cx, &target, FL_KIND_FAULT,
				  config_setting_get_elem(dst->faults, (unsigned)i)) < 0)
			return -1;
	if (dst->resolve && add_statement(cx, &target, FL_KIND_RESOLVE, dst->resolve) < 0)
		return -1;
	if (dst->shape && add_statement(cx, &target, FL_KIND_SHAPE, dst->shape) < 0)
		return -1;
	return 0;
}

static int parse_destination_group(const struct config_ctx *cx, const config_setting_t *group)
{
	struct destination dst = {.group = group};
	if (config_setting_type(group) != CONFIG_TYPE_GROUP)
		return type_error(cx, group, "a group { match = \"...\"; ... }");
	if (collect_destination(cx, &dst) < 0)
		return -1;
	int t = config_setting_type(dst.match);
	if (t == CONFIG_TYPE_STRING)
		return add_destination_statements(cx, &dst, dst.match);
	if ((t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) || config_setting_length(dst.match) == 0)
		return type_error(cx, dst.match, "a target string or a non-empty list of them");
	for (int i = 0; i < config_setting_length(dst.match); i++) {
		const config_setting_t *m = config_setting_get_elem(dst.match, (unsigned)i);
		if (config_setting_type(m) != CONFIG_TYPE_STRING)
			return type_error(cx, dst.match, "a target string or a non-empty list of them");
		if (add_destination_statements(cx, &dst, m) < 0)
			return -1;
	}
	return 0;
}

/* 0 to 2^64-1, as FAULTLINE_SEED: read from the source (source_int). */
static int parse_seed(const struct config_ctx *cx, const config_setting_t *s)
{
	int t = config_setting_type(s);
	struct int_literal lit;
	if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
		return type_error(cx, s, "a whole number >= 0");
	uint64_t seed = (uint64_t)config_setting_get_int64(s);
	bool negative = config_setting_get_int64(s) < 0;
	if (source_int(cx, s, &lit)) {
		if (lit.overflow) {
			struct fl_loc loc = loc_of(cx, s);
			return fl_diag_error(cx->d, &loc, "'seed' is out of range 0..18446744073709551615");
		}
		seed = lit.magnitude;
		negative = lit.negative && lit.magnitude != 0;
	}
	if (negative)
		return type_error(cx, s, "a whole number >= 0");
	cx->rs->has_seed = true;
	cx->rs->seed = seed;
	return 0;
}

static int parse_destinations(const struct config_ctx *cx, const config_setting_t *list)
{
	int t = config_setting_type(list);
	if (t != CONFIG_TYPE_LIST && !(t == CONFIG_TYPE_ARRAY && config_setting_length(list) == 0))
		return type_error(cx, list, "a list of groups: ( { match = \"...\"; ... } )");
	for (int i = 0; i < config_setting_length(list); i++)
		if (parse_destination_group(cx, config_setting_get_elem(list, (unsigned)i)) < 0)
			return -1;
	return 0;
}

static int parse_root(const struct config_ctx *cx, const config_setting_t *root)
{
	for (int i = 0; i < config_setting_length(root); i++) {
		const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		const char *name = config_setting_name(s);
		int rc;
		if (strcmp(name, "seed") == 0)
			rc = parse_seed(cx, s);
		else if (strcmp(name, "destinations") == 0)
			rc = parse_destinations(cx, s);
		else
			rc = unknown_setting(cx, s, "at top level", top_settings);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int syntax_error(const struct config_ctx *cx, const config_t *cfg)
{
	const char *file = config_error_file(cfg);
	const char *what = config_error_text(cfg) ? config_error_text(cfg) : "unknown error";
	unsigned line = (unsigned)config_error_line(cfg);
	struct fl_loc loc = {
	    .source = file ? file : cx->source,
	    .line = line,
	    .col = file ? 0 : fl_config_first_column(&cx->lines, line),
	};
	if (config_error_type(cfg) != CONFIG_ERR_PARSE)
		return fl_diag_error(cx->d, &loc, "%s", what);
	if (strcmp(what, "syntax error") == 0)
		return fl_diag_error(cx->d, &loc, "syntax error");
	return fl_diag_error(cx->d, &loc, "syntax error (%s)", what);
}

int fl_parse_config_string(const char *source, const char *text, struct fl_ruleset *rs, struct fl_diag *d)
{
	struct config_ctx cx = {.source = source, .rs = rs, .d = d};
	fl_text_lines_init(&cx.lines, text);
	config_t cfg;
	config_init(&cfg);
	int rc = config_read_string(&cfg, text) == CONFIG_TRUE ? parse_root(&cx, config_root_setting(&cfg))
							       : syntax_error(&cx, &cfg);
	config_destroy(&cfg);
	fl_text_lines_free(&cx.lines);
	return rc;
}

/* What a non-regular file is, for the refusal. */
static const char *file_kind(mode_t mode)
{
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a regular file";
}

/*
 * The whole file, NUL-terminated; NULL with errno set on failure, or with
 * *kind set (errno 0) when it is not a regular file. Opened non-blocking
 * and checked with fstat on the descriptor before any read: a FIFO with no
 * writer (or a terminal, a device) would otherwise hang the program before
 * main. Through sysio.h: in the shim, the exported read/close are its own
 * wrappers.
 */
static char *read_text_file(const char *path, const char **kind)
{
	char *text = NULL;
	size_t len = 0, cap = 0;
	struct stat st;
	int fd = fl_sys_open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
	if (fd < 0)
		return NULL;
	if (fl_sys_fstat(fd, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		*kind = file_kind(st.st_mode);
		fl_sys_close(fd);
		errno = 0;
		return NULL;
	}
	for (;;) {
		if (len + 1 >= cap) {
			if (cap >= CONFIG_FILE_MAX || !fl_array_reserve(&text, &cap, cap + 1, 1, 4096)) {
				errno = cap < CONFIG_FILE_MAX ? ENOMEM : EFBIG;
				goto fail;
			}
		}
		ssize_t got = fl_sys_read(fd, text + len, cap - len - 1);
		if (got < 0)
			goto fail;
		if (got == 0)
			break;
		len += (size_t)got;
	}
	fl_sys_close(fd);
	text[len] = '\0';
	return text;
fail:;
	int saved = errno;
	free(text);
	fl_sys_close(fd);
	errno = saved;
	return NULL;
}

int fl_parse_config_file(const char *path, struct fl_ruleset *rs, struct fl_diag *d)
{
	const char *kind = NULL;
	char *text = read_text_file(path, &kind);
	if (text == NULL) {
		struct fl_loc loc = {.source = path};
		if (kind != NULL)
			return fl_diag_error(
			    d, &loc, "refused: %s, not a regular file (give the path of a config file)",
			    kind);
		return fl_diag_error(d, &loc, "cannot read: %s", strerror(errno));
	}
	int rc = fl_parse_config_string(path, text, rs, d);
	free(text);
	return rc;
}
