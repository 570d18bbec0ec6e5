/* test_paths.cpp: the name and path rules against hostile and ordinary
 * input, as tables of input and expected verdict. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
/* cmocka 1.1's header declares its functions without extern "C" */
extern "C" {
#include <cmocka.h>
}

#include <stdio.h>
#include <string.h>

#include "cubby/paths.h"

/* A literal with its length, so embedded NULs count. */
#define S(lit) lit, sizeof(lit) - 1

static const char E_EMPTY[] = "name is empty";
static const char E_DOT[] = "'.' is not a valid name";
static const char E_DOTDOT[] = "'..' is not allowed in a path";
static const char E_SLASH[] = "name contains '/'";
static const char E_NUL[] = "name contains a NUL byte";
static const char E_CTRL[] = "name contains a control character";
static const char E_UTF8[] = "name is not valid UTF-8";
static const char E_NAME_LONG[] = "name is too long (max 255 bytes)";
static const char E_PATH_LONG[] = "path is too long (max 1024 bytes)";
static const char E_ABS[] = "absolute paths are not allowed";
static const char E_TRAILING[] = "a name is needed after the last '/'";
static const char E_BUF[] = "output buffer is too small";

/* Printable form of a test input for failure messages. */
static const char *show(const char *s, size_t len)
{
	static char buf[256];
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 < sizeof buf; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7F)
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, 5, "\\x%02x", c);
	}
	buf[o] = '\0';
	return buf;
}

/* Fails unless got equals want, where NULL means "accepted". */
static void expect_verdict(const char *what, const char *in, size_t len,
			   const char *got, const char *want)
{
	if (got == want || (got && want && strcmp(got, want) == 0))
		return;
	fail_msg("%s(\"%s\"): got %s%s%s, want %s%s%s", what, show(in, len),
		 got ? "\"" : "", got ? got : "accepted", got ? "\"" : "",
		 want ? "\"" : "", want ? want : "accepted", want ? "\"" : "");
}

struct name_case {
	const char *s;
	size_t len;
	const char *err; /* NULL: accepted */
};

static const name_case name_cases[] = {
	/* dots and separators */
	{S(""), E_EMPTY},
	{S("."), E_DOT},
	{S(".."), E_DOTDOT},
	{S("a/b"), E_SLASH},
	{S("/"), E_SLASH},
	{S("../x"), E_SLASH},
	{S("....//"), E_SLASH},
	{S("/etc/passwd"), E_SLASH},
	/* NUL and control bytes */
	{S("a\0b"), E_NUL},
	{S("\0"), E_NUL},
	{S("abc\0"), E_NUL},
	{S("\x01"), E_CTRL},
	{S("\x1f"), E_CTRL},
	{S("\x7f"), E_CTRL},
	{S("a\tb"), E_CTRL},
	{S("a\nb"), E_CTRL},
	{S("a\rb"), E_CTRL},
	{S("\x1b[31mred"), E_CTRL},
	{S("\xc2\x9b" "31m"), E_CTRL}, /* C1 CSI */
	{S("\xc2\x85"), E_CTRL},       /* C1 NEL */
	/* malformed UTF-8 */
	{S("\xc0\xaf"), E_UTF8},         /* overlong '/' */
	{S("\xc1\xbf"), E_UTF8},         /* overlong */
	{S("\xe0\x80\xaf"), E_UTF8},     /* overlong '/', 3 bytes */
	{S("\xf0\x80\x80\xaf"), E_UTF8}, /* overlong '/', 4 bytes */
	{S("\xc0\xae\xc0\xae"), E_UTF8}, /* overlong ".." */
	{S("\xed\xa0\x80"), E_UTF8},     /* U+D800 */
	{S("\xed\xbf\xbf"), E_UTF8},     /* U+DFFF */
	{S("\xf4\x90\x80\x80"), E_UTF8}, /* U+110000 */
	{S("\xf5\x80\x80\x80"), E_UTF8},
	{S("\xff"), E_UTF8},
	{S("\xfe\xff"), E_UTF8},
	{S("\x80"), E_UTF8},         /* lone continuation */
	{S("\xe2\x82"), E_UTF8},     /* truncated euro sign */
	{S("a\xe2\x82"), E_UTF8},
	{S("\xe2\x82x"), E_UTF8},    /* bad continuation */
	{S("\xf0\x9f\x98"), E_UTF8}, /* truncated emoji */
	{S("\xe2\x82\xac\xac"), E_UTF8},
	/* literal names that only look dangerous */
	{S("%2e%2e"), NULL},
	{S("..\\x"), NULL},
	{S("\\"), NULL},
	{S("..."), NULL},
	{S("...."), NULL},
	{S(".hidden"), NULL},
	{S("a."), NULL},
	{S("~"), NULL},
	{S("C:"), NULL},
	/* ordinary names */
	{S("a"), NULL},
	{S(" "), NULL},
	{S("a file name.txt"), NULL},
	{S("na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac.txt"), NULL}, /* naïve 日本 */
	{S("\xc2\xa0"), NULL},         /* U+00A0, first after the C1 range */
	{S("\xed\x9f\xbf"), NULL},     /* U+D7FF */
	{S("\xee\x80\x80"), NULL},     /* U+E000 */
	{S("\xef\xbf\xbd"), NULL},     /* U+FFFD */
	{S("\xf0\x9f\x98\x80"), NULL}, /* U+1F600 */
	{S("\xf4\x8f\xbf\xbf"), NULL}, /* U+10FFFF */
};

static void test_name_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof name_cases / sizeof name_cases[0]; i++) {
		const name_case *c = &name_cases[i];
		expect_verdict("path_check_name", c->s, c->len,
			       path_check_name(c->s, c->len), c->err);
	}
}

static void test_name_length(void **state)
{
	(void)state;
	char buf[CB_NAME_MAX + 8];

	memset(buf, 'a', sizeof buf);
	assert_null(path_check_name(buf, CB_NAME_MAX));
	assert_string_equal(path_check_name(buf, CB_NAME_MAX + 1), E_NAME_LONG);

	/* the limit is in bytes, not characters: 85 x U+65E5 is 255 bytes */
	for (int i = 0; i < 85; i++)
		memcpy(buf + 3 * i, "\xe6\x97\xa5", 3);
	assert_null(path_check_name(buf, 255));
	memcpy(buf + 255, "\xe6\x97\xa5", 3);
	assert_string_equal(path_check_name(buf, 258), E_NAME_LONG);
}

struct norm_case {
	const char *s;
	size_t len;
	const char *out; /* normal form, or NULL when refused */
	const char *err;
};

static const norm_case norm_cases[] = {
	{S(""), "", NULL},
	{S("."), "", NULL},
	{S("./"), "", NULL},
	{S("./."), "", NULL},
	{S("a"), "a", NULL},
	{S("a/"), "a", NULL},
	{S("a//b/./c/"), "a/b/c", NULL},
	{S("./a/./b/."), "a/b", NULL},
	{S("a///////b"), "a/b", NULL},
	{S("....//"), "....", NULL},
	{S("..."), "...", NULL},
	{S("%2e%2e/x"), "%2e%2e/x", NULL},
	{S("..\\x"), "..\\x", NULL},
	{S("a\\..\\b"), "a\\..\\b", NULL},
	{S(".a/b."), ".a/b.", NULL},
	{S("my docs/na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac"),
	 "my docs/na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac", NULL},
	/* escapes */
	{S(".."), NULL, E_DOTDOT},
	{S("../x"), NULL, E_DOTDOT},
	{S("a/../b"), NULL, E_DOTDOT},
	{S("a/.."), NULL, E_DOTDOT},
	{S("a/b/../../.."), NULL, E_DOTDOT},
	{S("./.."), NULL, E_DOTDOT},
	{S("a//..//"), NULL, E_DOTDOT},
	{S("/etc/passwd"), NULL, E_ABS},
	{S("/"), NULL, E_ABS},
	{S("//a"), NULL, E_ABS},
	{S("/.."), NULL, E_ABS},
	/* bad bytes inside a component */
	{S("a\0b"), NULL, E_NUL},
	{S("a/\0"), NULL, E_NUL},
	{S("a/\0/b"), NULL, E_NUL},
	{S("a/\x01/b"), NULL, E_CTRL},
	{S("a/b\x7f"), NULL, E_CTRL},
	{S("a/\xc0\xaf/b"), NULL, E_UTF8},
	{S("\xc0\xae\xc0\xae/x"), NULL, E_UTF8},
	{S("a/\xed\xa0\x80"), NULL, E_UTF8},
	{S("a/\xe2\x82"), NULL, E_UTF8},
	{S("\xe2\x82/a"), NULL, E_UTF8},
};

static void test_normalize_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof norm_cases / sizeof norm_cases[0]; i++) {
		const norm_case *c = &norm_cases[i];
		char out[CB_PATH_MAX + 1];
		memset(out, 'X', sizeof out);
		const char *err = path_normalize(c->s, c->len, out, sizeof out);
		expect_verdict("path_normalize", c->s, c->len, err, c->err);
		if (c->out && strcmp(out, c->out) != 0)
			fail_msg("path_normalize(\"%s\") gave \"%s\", want \"%s\"",
				 show(c->s, c->len), out, c->out);
		if (!c->out && out[0] != '\0')
			fail_msg("refused path_normalize(\"%s\") left output",
				 show(c->s, c->len));
	}
}

/* A path of exactly len bytes, components of 'a' separated every 200. */
static void make_path(char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (i % 200 == 199) ? '/' : 'a';
	if (len > 0 && buf[len - 1] == '/')
		buf[len - 1] = 'a';
}

static void test_path_length(void **state)
{
	(void)state;
	char in[4096];
	char out[CB_PATH_MAX + 1];

	make_path(in, CB_PATH_MAX);
	assert_null(path_normalize(in, CB_PATH_MAX, out, sizeof out));
	assert_int_equal(strlen(out), CB_PATH_MAX);

	make_path(in, CB_PATH_MAX + 1);
	assert_string_equal(path_normalize(in, CB_PATH_MAX + 1, out, sizeof out),
			    E_PATH_LONG);
	assert_string_equal(out, "");

	/* the limit applies to the normal form, not to what was sent */
	memcpy(in, "./././", 6);
	make_path(in + 6, CB_PATH_MAX);
	assert_null(path_normalize(in, CB_PATH_MAX + 6, out, sizeof out));
	assert_int_equal(strlen(out), CB_PATH_MAX);

	memset(in, '/', sizeof in);
	in[0] = 'a';
	in[sizeof in - 1] = 'b';
	assert_null(path_normalize(in, sizeof in, out, sizeof out));
	assert_string_equal(out, "a/b");

	/* one component over CB_NAME_MAX inside a short path */
	memset(in, 'a', 300);
	in[1] = '/';
	assert_string_equal(path_normalize(in, 300, out, sizeof out),
			    E_NAME_LONG);
}

static void test_normalize_buffer(void **state)
{
	(void)state;
	char out[8];

	assert_string_equal(path_normalize(S("a/b"), out, 3), E_BUF);
	assert_string_equal(out, "");
	assert_null(path_normalize(S("a/b"), out, 4));
	assert_string_equal(out, "a/b");
	assert_string_equal(path_normalize(S(""), out, 0), E_BUF);
	assert_null(path_normalize(S("./"), out, 1));
	assert_string_equal(out, "");
	/* the client's mistake is named even when the buffer is short too */
	assert_string_equal(path_normalize(S("abcdefgh/.."), out, 4), E_DOTDOT);
	assert_string_equal(path_normalize(S("/abcdefgh"), out, 4), E_ABS);
}

struct split_case {
	const char *s;
	size_t len;
	const char *parent; /* NULL when refused */
	const char *name;
	const char *err;
};

static const split_case split_cases[] = {
	{S("a/b/c.txt"), "a/b", "c.txt", NULL},
	{S("c.txt"), "", "c.txt", NULL},
	{S("./c"), "", "c", NULL},
	{S("a//b/./c"), "a/b", "c", NULL},
	{S("a/./c"), "a", "c", NULL},
	{S("..\\x/%2e%2e"), "..\\x", "%2e%2e", NULL},
	{S("na\xc3\xafve/\xe6\x97\xa5\xe6\x9c\xac.txt"), "na\xc3\xafve",
	 "\xe6\x97\xa5\xe6\x9c\xac.txt", NULL},
	{S("a b/c d"), "a b", "c d", NULL},
	{S(""), NULL, NULL, E_EMPTY},
	{S("a/"), NULL, NULL, E_TRAILING},
	{S("a/b/"), NULL, NULL, E_TRAILING},
	{S("/"), NULL, NULL, E_TRAILING},
	{S("."), NULL, NULL, E_DOT},
	{S("a/."), NULL, NULL, E_DOT},
	{S(".."), NULL, NULL, E_DOTDOT},
	{S("a/.."), NULL, NULL, E_DOTDOT},
	{S("../x"), NULL, NULL, E_DOTDOT},
	{S("a/../x"), NULL, NULL, E_DOTDOT},
	{S("/x"), NULL, NULL, E_ABS},
	{S("/etc/passwd"), NULL, NULL, E_ABS},
	{S("a/\x01"), NULL, NULL, E_CTRL},
	{S("a\0/b"), NULL, NULL, E_NUL},
	{S("a/b\0"), NULL, NULL, E_NUL},
	{S("a/\xc0\xaf"), NULL, NULL, E_UTF8},
	{S("a/\xf4\x90\x80\x80"), NULL, NULL, E_UTF8},
};

static void test_split_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof split_cases / sizeof split_cases[0]; i++) {
		const split_case *c = &split_cases[i];
		char parent[CB_PATH_MAX + 1], name[CB_NAME_MAX + 1];
		memset(parent, 'X', sizeof parent);
		memset(name, 'X', sizeof name);
		const char *err = path_split(c->s, c->len, parent, sizeof parent,
					     name, sizeof name);
		expect_verdict("path_split", c->s, c->len, err, c->err);
		if (c->parent) {
			if (strcmp(parent, c->parent) != 0 ||
			    strcmp(name, c->name) != 0)
				fail_msg("path_split(\"%s\") gave \"%s\" + \"%s\"",
					 show(c->s, c->len), parent, name);
		} else if (parent[0] != '\0' || name[0] != '\0') {
			fail_msg("refused path_split(\"%s\") left output",
				 show(c->s, c->len));
		}
	}
}

static void test_split_limits(void **state)
{
	(void)state;
	char in[CB_PATH_MAX + CB_NAME_MAX + 8];
	char parent[CB_PATH_MAX + 1], name[CB_NAME_MAX + 1];

	/* longest parent and longest name together */
	make_path(in, CB_PATH_MAX);
	in[CB_PATH_MAX] = '/';
	memset(in + CB_PATH_MAX + 1, 'n', CB_NAME_MAX);
	size_t len = CB_PATH_MAX + 1 + CB_NAME_MAX;
	assert_null(path_split(in, len, parent, sizeof parent, name, sizeof name));
	assert_int_equal(strlen(parent), CB_PATH_MAX);
	assert_int_equal(strlen(name), CB_NAME_MAX);

	in[len] = 'n';
	assert_string_equal(path_split(in, len + 1, parent, sizeof parent, name,
				       sizeof name),
			    E_NAME_LONG);
	assert_string_equal(parent, "");
}

static void test_split_buffer(void **state)
{
	(void)state;
	char parent[8], name[8];

	assert_null(path_split(S("abc/defg"), parent, 4, name, 5));
	assert_string_equal(parent, "abc");
	assert_string_equal(name, "defg");
	assert_string_equal(path_split(S("abc/defg"), parent, 3, name, 5), E_BUF);
	assert_string_equal(path_split(S("abc/defg"), parent, 4, name, 4), E_BUF);
	assert_string_equal(parent, "");
	assert_string_equal(name, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_table),
		cmocka_unit_test(test_name_length),
		cmocka_unit_test(test_normalize_table),
		cmocka_unit_test(test_path_length),
		cmocka_unit_test(test_normalize_buffer),
		cmocka_unit_test(test_split_table),
		cmocka_unit_test(test_split_limits),
		cmocka_unit_test(test_split_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
