/*
 * json_check.h - just enough of RFC 8259 to say whether a text is one
 * valid JSON value, for tests that check what the CLI prints (the test
 * machine's python checks the same in the integration tests). Included
 * by one test file; everything is static.
 */
#ifndef FL_TEST_JSON_CHECK_H
#define FL_TEST_JSON_CHECK_H

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

static bool json_value(const char **s);

static void json_ws(const char **s)
{
	while (**s == ' ' || **s == '\n' || **s == '\t' || **s == '\r')
		(*s)++;
}

static bool json_string(const char **s)
{
	if (**s != '"')
		return false;
	for ((*s)++; **s != '"'; (*s)++) {
		if ((unsigned char)**s < 0x20)
			return false;
		if (**s != '\\')
			continue;
		(*s)++;
		if (**s == 'u') {
			for (int i = 1; i <= 4; i++)
				if (!isxdigit((unsigned char)(*s)[i]))
					return false;
			*s += 4;
		} else if (!**s || !strchr("\"\\/bfnrt", **s)) {
			return false;
		}
	}
	(*s)++;
	return true;
}

static bool json_digits(const char **s)
{
	if (!isdigit((unsigned char)**s))
		return false;
	while (isdigit((unsigned char)**s))
		(*s)++;
	return true;
}

static bool json_number(const char **s)
{
	if (**s == '-')
		(*s)++;
	if (**s == '0')
		(*s)++;
	else if (!json_digits(s))
		return false;
	if (**s == '.' && ((*s)++, !json_digits(s)))
		return false;
	if (**s == 'e' || **s == 'E') {
		(*s)++;
		if (**s == '+' || **s == '-')
			(*s)++;
		return json_digits(s);
	}
	return true;
}

static bool json_list(const char **s, char close, bool keys)
{
	(*s)++;
	json_ws(s);
	if (**s == close)
		return (*s)++, true;
	for (;;) {
		json_ws(s);
		if (keys) {
			if (!json_string(s))
				return false;
			json_ws(s);
			if (**s != ':')
				return false;
			(*s)++;
		}
		if (!json_value(s))
			return false;
		if (**s == close)
			return (*s)++, true;
		if (**s != ',')
			return false;
		(*s)++;
	}
}

static bool json_value(const char **s)
{
	bool ok;
	json_ws(s);
	if (**s == '{')
		ok = json_list(s, '}', true);
	else if (**s == '[')
		ok = json_list(s, ']', false);
	else if (**s == '"')
		ok = json_string(s);
	else if (strncmp(*s, "true", 4) == 0 || strncmp(*s, "null", 4) == 0)
		ok = (*s += 4, true);
	else if (strncmp(*s, "false", 5) == 0)
		ok = (*s += 5, true);
	else
		ok = json_number(s);
	json_ws(s);
	return ok;
}

static bool json_valid(const char *text)
{
	return json_value(&text) && *text == '\0';
}

#endif
