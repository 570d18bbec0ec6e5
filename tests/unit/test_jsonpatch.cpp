/* test_jsonpatch.cpp: RFC 6902 JSON Patch with RFC 6901 pointers
 * (include/cubby/jsonpatch.h): every example of RFC 6902 Appendix A; each
 * applied patch's revert, which must give back the original, and whose own
 * revert must give back the result; all or nothing when a later operation
 * fails; pointer escapes and array indexes; malformed operations; test's
 * equality; move's special cases; generated documents and patches
 * checked against a model built independently of the implementation.
 * jsonpatch_diff: exact patches for chosen pairs (order, escapes, arrays
 * and types replaced whole, the root), out of memory at each allocation,
 * and generated pairs whose diffs must apply, revert, and hold only
 * operations that are needed.
 *
 * The table checks report every failing case (print_error) before failing
 * the test, so one run shows them all. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
/* cmocka 1.1's header declares its functions without extern "C" */
extern "C" {
#include <cmocka.h>
}

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cubby/jsonpatch.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Inside a bool-returning check: reports the first unmet expectation and
 * skips the later ones (cleanup still runs). */
#define EXPECT(cond, ...)                               \
	do {                                            \
		if (ok && !(cond)) {                    \
			print_error(__VA_ARGS__);       \
			print_error("\n");              \
			ok = false;                     \
		}                                       \
	} while (0)

/* JSON text for messages, in a few rotating buffers. */
static const char *txt(const cJSON *j)
{
	static char bufs[8][2048];
	static unsigned next;
	char *b = bufs[next++ % N(bufs)];
	if (!j) {
		snprintf(b, sizeof(bufs[0]), "(NULL)");
		return b;
	}
	char *s = cJSON_PrintUnformatted(j);
	snprintf(b, sizeof(bufs[0]), "%s", s ? s : "(unprintable)");
	cJSON_free(s);
	return b;
}

static cJSON *parse(const char *text)
{
	cJSON *j = cJSON_Parse(text);
	if (!j)
		fail_msg("the test's own JSON does not parse: %s", text);
	return j;
}

static cJSON *dup(const cJSON *j)
{
	return j ? cJSON_Duplicate(j, 1) : NULL;
}

static bool same(const cJSON *a, const cJSON *b)
{
	return a && b && cJSON_Compare(a, b, 1);
}

/* The same text: for patches, which may hold a member twice (A.13), where
 * cJSON_Compare finds only the first. */
static bool same_text(const cJSON *a, const cJSON *b)
{
	char *x = cJSON_PrintUnformatted(a), *y = cJSON_PrintUnformatted(b);
	bool eq = x && y && !strcmp(x, y);
	cJSON_free(x);
	cJSON_free(y);
	return eq;
}

/* revert applied to (a copy of) result must give orig, and the revert's
 * revert applied to that must give result again. */
static bool roundtrip(const char *name, const cJSON *orig, const cJSON *result,
		      const cJSON *revert)
{
	bool ok = true;
	char err[256] = "";
	cJSON *doc = dup(result), *rev2 = NULL, *rev3 = NULL;
	cb_status s = jsonpatch_apply(&doc, revert, &rev2, err, sizeof(err));
	EXPECT(s == CB_OK, "%s: applying the revert %s to %s: %s (%s)", name, txt(revert),
	       txt(result), cb_status_str(s), err);
	EXPECT(same(doc, orig), "%s: the revert %s turned %s into %s, want the original %s",
	       name, txt(revert), txt(result), txt(doc), txt(orig));
	EXPECT(cJSON_IsArray(rev2), "%s: the revert's revert is %s", name, txt(rev2));
	if (ok) {
		s = jsonpatch_apply(&doc, rev2, &rev3, err, sizeof(err));
		EXPECT(s == CB_OK, "%s: applying the revert's revert %s to %s: %s (%s)", name,
		       txt(rev2), txt(orig), cb_status_str(s), err);
		EXPECT(same(doc, result),
		       "%s: the revert's revert %s turned %s into %s, want the result %s", name,
		       txt(rev2), txt(orig), txt(doc), txt(result));
	}
	cJSON_Delete(doc);
	cJSON_Delete(rev2);
	cJSON_Delete(rev3);
	return ok;
}

/* ---- table checks ---- */

struct ok_case {
	const char *name, *doc, *patch, *want;
};

/* The patch applies, gives want, leaves the patch alone, and its revert
 * round-trips. */
static bool check_ok(const ok_case *c)
{
	bool ok = true;
	cJSON *doc = parse(c->doc), *orig = parse(c->doc), *patch = parse(c->patch);
	cJSON *pcopy = parse(c->patch), *want = parse(c->want), *revert = NULL;
	char err[256] = "";
	cb_status s = jsonpatch_apply(&doc, patch, &revert, err, sizeof(err));
	EXPECT(s == CB_OK, "%s: %s on %s: got %s (%s), want %s", c->name, c->patch, c->doc,
	       cb_status_str(s), err, c->want);
	EXPECT(same(doc, want), "%s: %s on %s gave %s, want %s", c->name, c->patch, c->doc,
	       txt(doc), c->want);
	EXPECT(same_text(patch, pcopy), "%s: the patch was changed into %s", c->name, txt(patch));
	EXPECT(cJSON_IsArray(revert), "%s: the revert is %s", c->name, txt(revert));
	if (ok)
		ok = roundtrip(c->name, orig, doc, revert);
	cJSON_Delete(doc);
	cJSON_Delete(orig);
	cJSON_Delete(patch);
	cJSON_Delete(pcopy);
	cJSON_Delete(want);
	cJSON_Delete(revert);
	return ok;
}

static void check_oks(const ok_case *cases, size_t n)
{
	size_t bad = 0;
	for (size_t i = 0; i < n; i++)
		bad += !check_ok(&cases[i]);
	if (bad)
		fail_msg("%zu of %zu cases failed", bad, n);
}

struct fail_case {
	const char *name, *doc, *patch; /* patch NULL: a NULL pointer */
	cb_status want;
};

/* The patch fails with want, *doc is the same pointer and the same
 * document, *revert NULL, err a non-empty string, the patch unchanged. */
static bool check_fail(const fail_case *c)
{
	bool ok = true;
	cJSON *doc = parse(c->doc), *orig = parse(c->doc), *before = doc;
	cJSON *patch = c->patch ? parse(c->patch) : NULL, *pcopy = dup(patch);
	cJSON *sentinel = cJSON_CreateNull(), *revert = sentinel;
	char err[256];
	memset(err, 0, sizeof(err));
	cb_status s = jsonpatch_apply(&doc, patch, &revert, err, sizeof(err));
	EXPECT(s == c->want, "%s: %s on %s: got %s (err \"%s\", document %s), want %s", c->name,
	       c->patch ? c->patch : "NULL", c->doc, cb_status_str(s), err, txt(doc),
	       cb_status_str(c->want));
	EXPECT(doc == before, "%s: *doc was replaced on failure", c->name);
	EXPECT(same(doc, orig), "%s: the failed patch changed the document into %s, was %s",
	       c->name, txt(doc), c->doc);
	EXPECT(revert == NULL, "%s: *revert is %s on failure, want NULL", c->name,
	       revert == sentinel ? "left as it was" : txt(revert));
	EXPECT(err[0] && memchr(err, 0, sizeof(err)), "%s: no error message", c->name);
	EXPECT(!patch || same_text(patch, pcopy), "%s: the patch was changed into %s", c->name,
	       txt(patch));
	if (revert != sentinel)
		cJSON_Delete(revert);
	cJSON_Delete(sentinel);
	cJSON_Delete(doc);
	cJSON_Delete(orig);
	cJSON_Delete(patch);
	cJSON_Delete(pcopy);
	return ok;
}

static void check_fails(const fail_case *cases, size_t n)
{
	size_t bad = 0;
	for (size_t i = 0; i < n; i++)
		bad += !check_fail(&cases[i]);
	if (bad)
		fail_msg("%zu of %zu cases failed", bad, n);
}

/* ======================= RFC 6902 Appendix A ======================= */

/* The successful examples, with the RFC's documents; check_ok also
 * round-trips each revert. */
static void test_rfc_examples(void **state)
{
	(void)state;
	static const ok_case cases[] = {
		{"A.1 adding an object member", R"({"foo":"bar"})",
		 R"([{"op":"add","path":"/baz","value":"qux"}])", R"({"baz":"qux","foo":"bar"})"},
		{"A.2 adding an array element", R"({"foo":["bar","baz"]})",
		 R"([{"op":"add","path":"/foo/1","value":"qux"}])",
		 R"({"foo":["bar","qux","baz"]})"},
		{"A.3 removing an object member", R"({"baz":"qux","foo":"bar"})",
		 R"([{"op":"remove","path":"/baz"}])", R"({"foo":"bar"})"},
		{"A.4 removing an array element", R"({"foo":["bar","qux","baz"]})",
		 R"([{"op":"remove","path":"/foo/1"}])", R"({"foo":["bar","baz"]})"},
		{"A.5 replacing a value", R"({"baz":"qux","foo":"bar"})",
		 R"([{"op":"replace","path":"/baz","value":"boo"}])", R"({"baz":"boo","foo":"bar"})"},
		{"A.6 moving a value", R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
		 R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])",
		 R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})"},
		{"A.7 moving an array element", R"({"foo":["all","grass","cows","eat"]})",
		 R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])",
		 R"({"foo":["all","cows","eat","grass"]})"},
		{"A.8 testing a value: success", R"({"baz":"qux","foo":["a",2,"c"]})",
		 R"([{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}])",
		 R"({"baz":"qux","foo":["a",2,"c"]})"},
		{"A.10 adding a nested member object", R"({"foo":"bar"})",
		 R"([{"op":"add","path":"/child","value":{"grandchild":{}}}])",
		 R"({"foo":"bar","child":{"grandchild":{}}})"},
		{"A.11 ignoring unrecognized elements", R"({"foo":"bar"})",
		 R"([{"op":"add","path":"/baz","value":"qux","xyz":123}])",
		 R"({"foo":"bar","baz":"qux"})"},
		{"A.14 ~ escape ordering", R"({"/":9,"~1":10})",
		 R"([{"op":"test","path":"/~01","value":10}])", R"({"/":9,"~1":10})"},
		{"A.16 adding an array value", R"({"foo":["bar"]})",
		 R"([{"op":"add","path":"/foo/-","value":["abc","def"]}])",
		 R"({"foo":["bar",["abc","def"]]})"},
	};
	check_oks(cases, N(cases));
}

static void test_rfc_error_examples(void **state)
{
	(void)state;
	static const fail_case cases[] = {
		{"A.9 testing a value: error", R"({"baz":"qux"})",
		 R"([{"op":"test","path":"/baz","value":"bar"}])", CB_ERR_TEST},
		{"A.12 adding to a nonexistent target", R"({"foo":"bar"})",
		 R"([{"op":"add","path":"/baz/bat","value":"qux"}])", CB_ERR_INVAL},
		{"A.13 invalid JSON patch document", R"({"foo":"bar"})",
		 R"([{"op":"add","path":"/baz","value":"qux","op":"remove"}])", CB_ERR_INVAL},
		/* the same the other way round: neither the first nor the last wins */
		{"A.13 with remove first", R"({"foo":"bar"})",
		 R"([{"op":"remove","path":"/foo","op":"add","value":1}])", CB_ERR_INVAL},
		{"A.15 comparing strings and numbers", R"({"/":9,"~1":10})",
		 R"([{"op":"test","path":"/~01","value":"10"}])", CB_ERR_TEST},
	};
	check_fails(cases, N(cases));
}

/* ======================= all or nothing ======================= */

/* The third operation fails after earlier ones added, removed, moved,
 * copied, replaced the root: the caller's document is untouched. */
static void test_atomic(void **state)
{
	(void)state;
	static const char D[] = R"({"a":1,"b":[1,2,3],"c":{"d":4}})";
	static const fail_case cases[] = {
		{"add, remove, failing test", D,
		 R"([{"op":"add","path":"/x","value":5},{"op":"remove","path":"/b/0"},
		     {"op":"test","path":"/a","value":2}])", CB_ERR_TEST},
		{"move, remove, remove of what is gone", D,
		 R"([{"op":"move","from":"/c/d","path":"/e"},{"op":"remove","path":"/a"},
		     {"op":"remove","path":"/a"}])", CB_ERR_INVAL},
		{"root replaced, remove, add under a gone member", D,
		 R"([{"op":"replace","path":"","value":{"z":1}},{"op":"remove","path":"/z"},
		     {"op":"add","path":"/a/b","value":1}])", CB_ERR_INVAL},
		{"copy, append, index past the end", D,
		 R"([{"op":"copy","from":"/b","path":"/b2"},{"op":"add","path":"/b/-","value":9},
		     {"op":"replace","path":"/b/4","value":0}])", CB_ERR_INVAL},
		{"replace, move in an array, unknown op", D,
		 R"([{"op":"replace","path":"/a","value":2},{"op":"move","from":"/b/0","path":"/b/2"},
		     {"op":"frob","path":"/a"}])", CB_ERR_INVAL},
		{"add, add, add without value", D,
		 R"([{"op":"add","path":"/x","value":1},{"op":"add","path":"/c/y","value":2},
		     {"op":"add","path":"/z"}])", CB_ERR_INVAL},
		{"add, remove, an element that is not an object", D,
		 R"([{"op":"add","path":"/x","value":1},{"op":"remove","path":"/c"},42])",
		 CB_ERR_INVAL},
		{"add, copy, move into its own child", D,
		 R"([{"op":"add","path":"/n","value":{"m":{}}},{"op":"copy","from":"/n","path":"/n2"},
		     {"op":"move","from":"/n","path":"/n/m/x"}])", CB_ERR_INVAL},
		{"a test that held before a replace fails after it", D,
		 R"([{"op":"test","path":"/a","value":1},{"op":"replace","path":"/a","value":2},
		     {"op":"test","path":"/a","value":1}])", CB_ERR_TEST},
		{"a valid fourth op after the failing third", D,
		 R"([{"op":"add","path":"/x","value":1},{"op":"remove","path":"/b/2"},
		     {"op":"test","path":"/x","value":2},{"op":"add","path":"/y","value":1}])",
		 CB_ERR_TEST},
		{"a root array emptied, then removing past its end", "[1,2,3]",
		 R"([{"op":"remove","path":"/0"},{"op":"remove","path":"/0"},
		     {"op":"remove","path":"/1"}])", CB_ERR_INVAL},
		{"move a whole subtree, remove from it, a bad escape", D,
		 R"([{"op":"move","from":"/c","path":"/b/1"},{"op":"remove","path":"/b/1/d"},
		     {"op":"add","path":"/q~2","value":0}])", CB_ERR_INVAL},
	};
	check_fails(cases, N(cases));
}

/* ======================= pointers ======================= */

static void test_pointer_escapes(void **state)
{
	(void)state;
	static const ok_case cases[] = {
		/* "" is the whole document */
		{"add of the root", R"({"a":1})", R"([{"op":"add","path":"","value":[1,2]}])", "[1,2]"},
		{"replace of the root", R"({"a":1})", R"([{"op":"replace","path":"","value":"x"}])",
		 R"("x")"},
		{"a scalar root replaced", "5", R"([{"op":"replace","path":"","value":{"b":null}}])",
		 R"({"b":null})"},
		{"an array root replaced by add", "[1]", R"([{"op":"add","path":"","value":{"b":1}}])",
		 R"({"b":1})"},
		{"test of the root", R"({"a":[1,{"b":2}]})",
		 R"([{"op":"test","path":"","value":{"a":[1,{"b":2}]}}])", R"({"a":[1,{"b":2}]})"},
		{"root replaced, then changed inside", R"({"a":1})",
		 R"([{"op":"replace","path":"","value":{"b":[1]}},{"op":"add","path":"/b/0","value":0}])",
		 R"({"b":[0,1]})"},
		/* "/" is the empty key */
		{"replace of the empty key", R"({"":1,"a":2})",
		 R"([{"op":"replace","path":"/","value":5}])", R"({"":5,"a":2})"},
		{"add of the empty key", R"({"a":1})", R"([{"op":"add","path":"/","value":0}])",
		 R"({"a":1,"":0})"},
		{"the empty key twice", R"({"":{"":3}})", R"([{"op":"replace","path":"//","value":4}])",
		 R"({"":{"":4}})"},
		{"remove of the empty key", R"({"":1,"a":2})", R"([{"op":"remove","path":"/"}])",
		 R"({"a":2})"},
		/* ~1 is '/', ~0 is '~' */
		{"~1 is a slash, not a level", R"({"a/b":1,"a":{"b":2}})",
		 R"([{"op":"replace","path":"/a~1b","value":9}])", R"({"a/b":9,"a":{"b":2}})"},
		{"a real level beside a/b", R"({"a/b":1,"a":{"b":2}})",
		 R"([{"op":"replace","path":"/a/b","value":9}])", R"({"a/b":1,"a":{"b":9}})"},
		{"~0 is a tilde", R"({"m~n":8,"mn":1})", R"([{"op":"remove","path":"/m~0n"}])",
		 R"({"mn":1})"},
		{"~01 is ~1, not /", R"({"~1":1,"/":2,"~/":3})",
		 R"([{"op":"replace","path":"/~01","value":0}])", R"({"~1":0,"/":2,"~/":3})"},
		{"~10 is /0", R"({"/0":1,"~1":2,"~0":3})", R"([{"op":"remove","path":"/~10"}])",
		 R"({"~1":2,"~0":3})"},
		{"~0~1 is ~/", R"({"~/":3,"~":4})", R"([{"op":"test","path":"/~0~1","value":3}])",
		 R"({"~/":3,"~":4})"},
		{"~00 is ~0", R"({"~0":1,"~":2})", R"([{"op":"replace","path":"/~00","value":7}])",
		 R"({"~0":7,"~":2})"},
		{"a new key with escapes", "{}", R"([{"op":"add","path":"/x~1y~0z","value":1}])",
		 R"({"x/y~z":1})"},
		{"escapes on both sides of a move", R"({"a/b":1})",
		 R"([{"op":"move","from":"/a~1b","path":"/m~0n"}])", R"({"m~n":1})"},
		{"escapes at two levels", R"({"a/b":{"c~d":{"e":1}}})",
		 R"([{"op":"add","path":"/a~1b/c~0d/f~1","value":2}])",
		 R"({"a/b":{"c~d":{"e":1,"f/":2}}})"},
		/* RFC 6901 section 5's document, every pointer */
		{"RFC 6901 section 5",
		 R"({"foo":["bar","baz"],"":0,"a/b":1,"c%d":2,"e^f":3,"g|h":4,"i\\j":5,"k\"l":6," ":7,"m~n":8})",
		 R"([{"op":"test","path":"","value":{"foo":["bar","baz"],"":0,"a/b":1,"c%d":2,"e^f":3,
		      "g|h":4,"i\\j":5,"k\"l":6," ":7,"m~n":8}},
		     {"op":"test","path":"/foo","value":["bar","baz"]},
		     {"op":"test","path":"/foo/0","value":"bar"},{"op":"test","path":"/","value":0},
		     {"op":"test","path":"/a~1b","value":1},{"op":"test","path":"/c%d","value":2},
		     {"op":"test","path":"/e^f","value":3},{"op":"test","path":"/g|h","value":4},
		     {"op":"test","path":"/i\\j","value":5},{"op":"test","path":"/k\"l","value":6},
		     {"op":"test","path":"/ ","value":7},{"op":"test","path":"/m~0n","value":8}])",
		 R"({"foo":["bar","baz"],"":0,"a/b":1,"c%d":2,"e^f":3,"g|h":4,"i\\j":5,"k\"l":6," ":7,"m~n":8})"},
		/* keys are case-sensitive */
		{"replace picks the key in its case", R"({"A":1,"a":2})",
		 R"([{"op":"replace","path":"/a","value":3}])", R"({"A":1,"a":3})"},
		{"remove picks the key in its case", R"({"A":1,"a":2})",
		 R"([{"op":"remove","path":"/a"}])", R"({"A":1})"},
		{"add beside a key in another case", R"({"A":1})",
		 R"([{"op":"add","path":"/a","value":2}])", R"({"A":1,"a":2})"},
		{"add of an existing key replaces it", R"({"a":1,"b":2})",
		 R"([{"op":"add","path":"/a","value":[3]}])", R"({"a":[3],"b":2})"},
	};
	check_oks(cases, N(cases));
}

static void test_pointer_errors(void **state)
{
	(void)state;
	static const fail_case cases[] = {
		{"~2 is no escape, even for a key spelled so", R"({"a~2":1})",
		 R"([{"op":"remove","path":"/a~2"}])", CB_ERR_INVAL},
		{"a trailing ~, even for a key spelled so", R"({"a~":1})",
		 R"([{"op":"remove","path":"/a~"}])", CB_ERR_INVAL},
		{"add of a key with ~2", "{}", R"([{"op":"add","path":"/a~2","value":1}])",
		 CB_ERR_INVAL},
		{"add of a key with a trailing ~", "{}", R"([{"op":"add","path":"/a~","value":1}])",
		 CB_ERR_INVAL},
		{"~ before a letter", "{}", R"([{"op":"add","path":"/~x","value":1}])", CB_ERR_INVAL},
		{"~ before a slash", R"({"a":{}})", R"([{"op":"add","path":"/a~/b","value":1}])",
		 CB_ERR_INVAL},
		{"a bad escape in a parent token", R"({"a":{}})",
		 R"([{"op":"add","path":"/a~3/b","value":1}])", CB_ERR_INVAL},
		{"a bad escape in test", R"({"~":1})", R"([{"op":"test","path":"/~","value":1}])",
		 CB_ERR_INVAL},
		{"a bad escape in from", R"({"a~":1})", R"([{"op":"copy","from":"/a~","path":"/b"}])",
		 CB_ERR_INVAL},
		{"remove without a leading slash", R"({"a":1})", R"([{"op":"remove","path":"a"}])",
		 CB_ERR_INVAL},
		{"add without a leading slash", R"({"a":1})", R"([{"op":"add","path":"b","value":1}])",
		 CB_ERR_INVAL},
		{"replace without a leading slash", R"({"a":1})",
		 R"([{"op":"replace","path":"a","value":2}])", CB_ERR_INVAL},
		{"test without a leading slash", R"({"a":1})", R"([{"op":"test","path":"a","value":1}])",
		 CB_ERR_INVAL},
		{"from without a leading slash", R"({"a":1})",
		 R"([{"op":"copy","from":"a","path":"/b"}])", CB_ERR_INVAL},
		{"a pointer starting with ~1", R"({"/a":1})", R"([{"op":"remove","path":"~1a"}])",
		 CB_ERR_INVAL},
		{"a key in another case", R"({"A":1})", R"([{"op":"remove","path":"/a"}])",
		 CB_ERR_INVAL},
		{"remove of a missing key", R"({"a":{}})", R"([{"op":"remove","path":"/a/b"}])",
		 CB_ERR_INVAL},
		{"replace of a missing key", R"({"a":1})", R"([{"op":"replace","path":"/b","value":1}])",
		 CB_ERR_INVAL},
		{"add under a missing parent", R"({"a":1})",
		 R"([{"op":"add","path":"/x/y","value":1}])", CB_ERR_INVAL},
		{"add through a scalar", R"({"a":1})", R"([{"op":"add","path":"/a/b","value":1}])",
		 CB_ERR_INVAL},
		{"add through a string", R"({"a":"xyz"})", R"([{"op":"add","path":"/a/0","value":1}])",
		 CB_ERR_INVAL},
		{"add through null", R"({"a":null})", R"([{"op":"add","path":"/a/b","value":1}])",
		 CB_ERR_INVAL},
		{"add under a scalar root", "5", R"([{"op":"add","path":"/a","value":1}])",
		 CB_ERR_INVAL},
		{"an empty key on an object that has none", R"({"a":1})",
		 R"([{"op":"remove","path":"/"}])", CB_ERR_INVAL},
	};
	check_fails(cases, N(cases));
}

/* ======================= array indexes ======================= */

static void test_array_indexes(void **state)
{
	(void)state;
	static const char X[] = R"({"x":[1,2]})";
	static const ok_case cases[] = {
		{"insert at 0", X, R"([{"op":"add","path":"/x/0","value":0}])", R"({"x":[0,1,2]})"},
		{"insert in the middle", X, R"([{"op":"add","path":"/x/1","value":9}])",
		 R"({"x":[1,9,2]})"},
		{"index == size appends", X, R"([{"op":"add","path":"/x/2","value":3}])",
		 R"({"x":[1,2,3]})"},
		{"- appends", X, R"([{"op":"add","path":"/x/-","value":3}])", R"({"x":[1,2,3]})"},
		{"- twice", X,
		 R"([{"op":"add","path":"/x/-","value":3},{"op":"add","path":"/x/-","value":4}])",
		 R"({"x":[1,2,3,4]})"},
		{"- on an empty array", R"({"x":[]})", R"([{"op":"add","path":"/x/-","value":1}])",
		 R"({"x":[1]})"},
		{"0 on an empty array", R"({"x":[]})", R"([{"op":"add","path":"/x/0","value":1}])",
		 R"({"x":[1]})"},
		{"- of a root array", "[1]", R"([{"op":"add","path":"/-","value":2}])", "[1,2]"},
		{"0 of a root array", "[1]", R"([{"op":"add","path":"/0","value":0}])", "[0,1]"},
		{"- of a nested array", R"({"x":[[1],[2]]})",
		 R"([{"op":"add","path":"/x/1/-","value":3}])", R"({"x":[[1],[2,3]]})"},
		{"remove the first", X, R"([{"op":"remove","path":"/x/0"}])", R"({"x":[2]})"},
		{"remove the last", X, R"([{"op":"remove","path":"/x/1"}])", R"({"x":[1]})"},
		{"remove the only", R"({"x":[1]})", R"([{"op":"remove","path":"/x/0"}])",
		 R"({"x":[]})"},
		{"remove in the middle", R"({"x":[1,2,3]})", R"([{"op":"remove","path":"/x/1"}])",
		 R"({"x":[1,3]})"},
		{"replace the first", X, R"([{"op":"replace","path":"/x/0","value":[7]}])",
		 R"({"x":[[7],2]})"},
		{"replace the last", X, R"([{"op":"replace","path":"/x/1","value":7}])",
		 R"({"x":[1,7]})"},
		{"replace in the middle", R"({"x":[1,2,3]})",
		 R"([{"op":"replace","path":"/x/1","value":{"k":2}}])", R"({"x":[1,{"k":2},3]})"},
		{"test an element", X, R"([{"op":"test","path":"/x/1","value":2}])", X},
		{"two-digit indexes", R"({"x":[0,1,2,3,4,5,6,7,8,9,10,11]})",
		 R"([{"op":"replace","path":"/x/10","value":"ten"},{"op":"remove","path":"/x/11"},
		     {"op":"add","path":"/x/11","value":"eleven"},{"op":"test","path":"/x/9","value":9}])",
		 R"({"x":[0,1,2,3,4,5,6,7,8,9,"ten","eleven"]})"},
		{"\"0\" and \"-\" are keys in an object", R"({"x":{"0":1,"-":2}})",
		 R"([{"op":"replace","path":"/x/0","value":5},{"op":"remove","path":"/x/-"},
		     {"op":"add","path":"/x/-","value":3},{"op":"add","path":"/x/01","value":4}])",
		 R"({"x":{"0":5,"-":3,"01":4}})"},
		{"removes shift the indexes", R"({"x":[0,1,2,3]})",
		 R"([{"op":"remove","path":"/x/1"},{"op":"remove","path":"/x/1"},
		     {"op":"test","path":"/x/1","value":3}])", R"({"x":[0,3]})"},
	};
	check_oks(cases, N(cases));
}

static void test_array_index_errors(void **state)
{
	(void)state;
	static const char X[] = R"({"x":[1,2]})";
	static const fail_case cases[] = {
		{"remove of -", X, R"([{"op":"remove","path":"/x/-"}])", CB_ERR_INVAL},
		{"replace of -", X, R"([{"op":"replace","path":"/x/-","value":0}])", CB_ERR_INVAL},
		{"test of -", X, R"([{"op":"test","path":"/x/-","value":2}])", CB_ERR_INVAL},
		{"move from -", X, R"([{"op":"move","from":"/x/-","path":"/y"}])", CB_ERR_INVAL},
		{"copy from -", X, R"([{"op":"copy","from":"/x/-","path":"/y"}])", CB_ERR_INVAL},
		{"- as a parent", R"({"x":[[1]]})", R"([{"op":"add","path":"/x/-/0","value":1}])",
		 CB_ERR_INVAL},
		{"add at 01", X, R"([{"op":"add","path":"/x/01","value":0}])", CB_ERR_INVAL},
		{"add at 00", X, R"([{"op":"add","path":"/x/00","value":0}])", CB_ERR_INVAL},
		{"remove of 01", X, R"([{"op":"remove","path":"/x/01"}])", CB_ERR_INVAL},
		{"replace of 00", X, R"([{"op":"replace","path":"/x/00","value":0}])", CB_ERR_INVAL},
		{"test of 01", X, R"([{"op":"test","path":"/x/01","value":2}])", CB_ERR_INVAL},
		{"01 as a parent", R"({"x":[[1],[2]]})", R"([{"op":"add","path":"/x/01/0","value":1}])",
		 CB_ERR_INVAL},
		{"add past the end", X, R"([{"op":"add","path":"/x/3","value":0}])", CB_ERR_INVAL},
		{"add far past the end", X, R"([{"op":"add","path":"/x/100","value":0}])", CB_ERR_INVAL},
		{"remove at the size", X, R"([{"op":"remove","path":"/x/2"}])", CB_ERR_INVAL},
		{"replace at the size", X, R"([{"op":"replace","path":"/x/2","value":0}])",
		 CB_ERR_INVAL},
		{"test at the size", X, R"([{"op":"test","path":"/x/2","value":1}])", CB_ERR_INVAL},
		{"move from the size", X, R"([{"op":"move","from":"/x/2","path":"/y"}])", CB_ERR_INVAL},
		{"copy from the size", X, R"([{"op":"copy","from":"/x/2","path":"/y"}])", CB_ERR_INVAL},
		{"remove from an empty array", R"({"x":[]})", R"([{"op":"remove","path":"/x/0"}])",
		 CB_ERR_INVAL},
		{"the size as a parent", R"({"x":[[1]]})", R"([{"op":"add","path":"/x/1/0","value":1}])",
		 CB_ERR_INVAL},
		{"a word as an index", X, R"([{"op":"add","path":"/x/a","value":0}])", CB_ERR_INVAL},
		{"remove of a word", X, R"([{"op":"remove","path":"/x/a"}])", CB_ERR_INVAL},
		{"an empty index", X, R"([{"op":"add","path":"/x/","value":0}])", CB_ERR_INVAL},
		{"-1", X, R"([{"op":"add","path":"/x/-1","value":0}])", CB_ERR_INVAL},
		{"+1", X, R"([{"op":"add","path":"/x/+1","value":0}])", CB_ERR_INVAL},
		{"a leading space", X, R"([{"op":"replace","path":"/x/ 1","value":0}])", CB_ERR_INVAL},
		{"a trailing space", X, R"([{"op":"replace","path":"/x/1 ","value":0}])", CB_ERR_INVAL},
		{"1e0", X, R"([{"op":"replace","path":"/x/1e0","value":0}])", CB_ERR_INVAL},
		{"1.0", X, R"([{"op":"replace","path":"/x/1.0","value":0}])", CB_ERR_INVAL},
		{"0x1", X, R"([{"op":"replace","path":"/x/0x1","value":0}])", CB_ERR_INVAL},
		{"--", X, R"([{"op":"add","path":"/x/--","value":0}])", CB_ERR_INVAL},
		{"2^32 (0 if it wrapped)", X, R"([{"op":"replace","path":"/x/4294967296","value":0}])",
		 CB_ERR_INVAL},
		{"2^31 + 1", X, R"([{"op":"replace","path":"/x/2147483649","value":0}])",
		 CB_ERR_INVAL},
		{"20 digits", X, R"([{"op":"add","path":"/x/99999999999999999999","value":0}])",
		 CB_ERR_INVAL},
	};
	check_fails(cases, N(cases));
}

/* ======================= malformed operations ======================= */

static void test_malformed(void **state)
{
	(void)state;
	static const char M[] = R"({"a":1,"b":[1]})";
	static const fail_case cases[] = {
		{"no op", M, R"([{"path":"/a","value":1}])", CB_ERR_INVAL},
		{"add without path", M, R"([{"op":"add","value":1}])", CB_ERR_INVAL},
		{"remove without path", M, R"([{"op":"remove"}])", CB_ERR_INVAL},
		{"replace without path", M, R"([{"op":"replace","value":1}])", CB_ERR_INVAL},
		{"test without path", M, R"([{"op":"test","value":1}])", CB_ERR_INVAL},
		{"move without path", M, R"([{"op":"move","from":"/a"}])", CB_ERR_INVAL},
		{"copy without path", M, R"([{"op":"copy","from":"/a"}])", CB_ERR_INVAL},
		{"add without value", M, R"([{"op":"add","path":"/c"}])", CB_ERR_INVAL},
		{"replace without value", M, R"([{"op":"replace","path":"/a"}])", CB_ERR_INVAL},
		{"test without value", M, R"([{"op":"test","path":"/a"}])", CB_ERR_INVAL},
		{"add with from but no value", M, R"([{"op":"add","path":"/c","from":"/a"}])",
		 CB_ERR_INVAL},
		{"move without from", M, R"([{"op":"move","path":"/c"}])", CB_ERR_INVAL},
		{"copy without from", M, R"([{"op":"copy","path":"/c"}])", CB_ERR_INVAL},
		{"move with value but no from", M, R"([{"op":"move","path":"/c","value":"/a"}])",
		 CB_ERR_INVAL},
		{"unknown op", M, R"([{"op":"frob","path":"/a","value":1}])", CB_ERR_INVAL},
		{"op in capitals", M, R"([{"op":"ADD","path":"/c","value":1}])", CB_ERR_INVAL},
		{"empty op", M, R"([{"op":"","path":"/c","value":1}])", CB_ERR_INVAL},
		{"op with a space", M, R"([{"op":"add ","path":"/c","value":1}])", CB_ERR_INVAL},
		{"op a number", M, R"([{"op":1,"path":"/c","value":1}])", CB_ERR_INVAL},
		{"op null", M, R"([{"op":null,"path":"/c","value":1}])", CB_ERR_INVAL},
		{"op true", M, R"([{"op":true,"path":"/c","value":1}])", CB_ERR_INVAL},
		{"op an array", M, R"([{"op":["add"],"path":"/c","value":1}])", CB_ERR_INVAL},
		{"op an object", M, R"([{"op":{"add":1},"path":"/c","value":1}])", CB_ERR_INVAL},
		{"path a number", M, R"([{"op":"remove","path":1}])", CB_ERR_INVAL},
		{"path null", M, R"([{"op":"remove","path":null}])", CB_ERR_INVAL},
		{"path an array", M, R"([{"op":"remove","path":["/a"]}])", CB_ERR_INVAL},
		{"from a number", M, R"([{"op":"move","from":1,"path":"/c"}])", CB_ERR_INVAL},
		{"from null", M, R"([{"op":"copy","from":null,"path":"/c"}])", CB_ERR_INVAL},
		{"path twice", M, R"([{"op":"remove","path":"/a","path":"/b"}])", CB_ERR_INVAL},
		{"value twice", M, R"([{"op":"add","path":"/c","value":1,"value":2}])", CB_ERR_INVAL},
		{"from twice", M, R"([{"op":"copy","from":"/a","path":"/c","from":"/b"}])",
		 CB_ERR_INVAL},
		{"the patch an object", M, R"({"op":"add","path":"/c","value":1})", CB_ERR_INVAL},
		{"the patch an empty object", M, "{}", CB_ERR_INVAL},
		{"the patch a string", M, R"("add")", CB_ERR_INVAL},
		{"the patch null", M, "null", CB_ERR_INVAL},
		{"the patch a number", M, "1", CB_ERR_INVAL},
		{"the patch a NULL pointer", M, NULL, CB_ERR_INVAL},
		{"an element a number", M, "[1]", CB_ERR_INVAL},
		{"an element a string", M, R"(["add"])", CB_ERR_INVAL},
		{"an element null", M, "[null]", CB_ERR_INVAL},
		{"an element an array", M, R"([[{"op":"remove","path":"/a"}]])", CB_ERR_INVAL},
		{"the second element true", M, R"([{"op":"remove","path":"/a"},true])", CB_ERR_INVAL},
	};
	check_fails(cases, N(cases));
}

/* Members that look like others' are ignored; null is a value. */
static void test_wellformed_edges(void **state)
{
	(void)state;
	static const char M[] = R"({"a":1,"b":[1]})";
	static const ok_case cases[] = {
		{"add of null", M, R"([{"op":"add","path":"/c","value":null}])",
		 R"({"a":1,"b":[1],"c":null})"},
		{"replace with null", M, R"([{"op":"replace","path":"/a","value":null}])",
		 R"({"a":null,"b":[1]})"},
		{"test of null", R"({"a":null})", R"([{"op":"test","path":"/a","value":null}])",
		 R"({"a":null})"},
		{"remove with a value", M, R"([{"op":"remove","path":"/a","value":2}])",
		 R"({"b":[1]})"},
		{"add with a from", M, R"([{"op":"add","path":"/c","value":2,"from":"/a"}])",
		 R"({"a":1,"b":[1],"c":2})"},
		{"test with a from", M, R"([{"op":"test","path":"/a","value":1,"from":"/b"}])", M},
		{"move with a value", M, R"([{"op":"move","from":"/a","path":"/c","value":5}])",
		 R"({"b":[1],"c":1})"},
		{"copy with a value", M, R"([{"op":"copy","from":"/a","path":"/c","value":5}])",
		 R"({"a":1,"b":[1],"c":1})"},
		{"members in another order", M,
		 R"([{"value":3,"path":"/b/0","op":"add"},{"path":"/a","from":"/b/0","op":"copy"}])",
		 R"({"a":3,"b":[3,1]})"},
	};
	check_oks(cases, N(cases));
}

/* [] changes nothing and its revert is []. */
static void test_empty_patch(void **state)
{
	(void)state;
	cJSON *doc = parse(R"({"a":[1,{"b":null}]})"), *orig = dup(doc);
	cJSON *patch = parse("[]"), *revert = NULL;
	char err[64] = "";
	assert_int_equal(jsonpatch_apply(&doc, patch, &revert, err, sizeof(err)), CB_OK);
	assert_true(same(doc, orig));
	assert_non_null(revert);
	assert_true(cJSON_IsArray(revert));
	assert_int_equal(cJSON_GetArraySize(revert), 0);
	cJSON_Delete(doc);
	cJSON_Delete(orig);
	cJSON_Delete(patch);
	cJSON_Delete(revert);
}

/* ======================= test's equality ======================= */

static void test_test_equality(void **state)
{
	(void)state;
	static const ok_case equal[] = {
		{"1 is 1.0", R"({"n":1})", R"([{"op":"test","path":"/n","value":1.0}])", R"({"n":1})"},
		{"100 is 1e2", R"({"n":100})", R"([{"op":"test","path":"/n","value":1e2}])",
		 R"({"n":100})"},
		{"members in any order", R"({"o":{"a":1,"b":[1,{"c":null,"d":"x"}]}})",
		 R"([{"op":"test","path":"/o","value":{"b":[1,{"d":"x","c":null}],"a":1}}])",
		 R"({"o":{"a":1,"b":[1,{"c":null,"d":"x"}]}})"},
		{"empty containers", R"({"o":{},"a":[]})",
		 R"([{"op":"test","path":"/o","value":{}},{"op":"test","path":"/a","value":[]}])",
		 R"({"o":{},"a":[]})"},
		{"booleans and strings", R"({"t":true,"f":false,"s":"a/b~"})",
		 R"([{"op":"test","path":"/t","value":true},{"op":"test","path":"/f","value":false},
		     {"op":"test","path":"/s","value":"a/b~"}])",
		 R"({"t":true,"f":false,"s":"a/b~"})"},
	};
	check_oks(equal, N(equal));

	static const char D[] = R"({"a":[1,2],"o":{"a":1},"s":"A","f":false,"z":0,"e":"","n":null,)"
				R"("p":{"q":{"B":1}}})";
	static const fail_case differ[] = {
		{"array order", D, R"([{"op":"test","path":"/a","value":[2,1]}])", CB_ERR_TEST},
		{"a shorter array", D, R"([{"op":"test","path":"/a","value":[1]}])", CB_ERR_TEST},
		{"a longer array", D, R"([{"op":"test","path":"/a","value":[1,2,3]}])", CB_ERR_TEST},
		{"a superset object", D, R"([{"op":"test","path":"/o","value":{"a":1,"b":2}}])",
		 CB_ERR_TEST},
		{"a subset object", D, R"([{"op":"test","path":"/o","value":{}}])", CB_ERR_TEST},
		{"string case", D, R"([{"op":"test","path":"/s","value":"a"}])", CB_ERR_TEST},
		{"false is not null", D, R"([{"op":"test","path":"/f","value":null}])", CB_ERR_TEST},
		{"0 is not false", D, R"([{"op":"test","path":"/z","value":false}])", CB_ERR_TEST},
		{"\"\" is not null", D, R"([{"op":"test","path":"/e","value":null}])", CB_ERR_TEST},
		{"null is not \"null\"", D, R"([{"op":"test","path":"/n","value":"null"}])",
		 CB_ERR_TEST},
		{"[] is not {}", R"({"a":[]})", R"([{"op":"test","path":"/a","value":{}}])",
		 CB_ERR_TEST},
		{"1 is not 1.5", R"({"n":1})", R"([{"op":"test","path":"/n","value":1.5}])",
		 CB_ERR_TEST},
		{"key case deep inside", D, R"([{"op":"test","path":"/p","value":{"q":{"b":1}}}])",
		 CB_ERR_TEST},
		{"the whole document", D, R"([{"op":"test","path":"","value":{}}])", CB_ERR_TEST},
		/* no such path is a pointer error, not a mismatch (jsonpatch.h) */
		{"a missing member", D, R"([{"op":"test","path":"/nope","value":null}])",
		 CB_ERR_INVAL},
	};
	check_fails(differ, N(differ));
}

/* ======================= move and copy ======================= */

static void test_move(void **state)
{
	(void)state;
	static const char Y[] = R"({"x":[0,1,2,3,4]})";
	static const ok_case cases[] = {
		{"from == path on a member", R"({"a":{"b":1}})",
		 R"([{"op":"move","from":"/a","path":"/a"}])", R"({"a":{"b":1}})"},
		{"from == path deeper", R"({"a":{"b":1}})",
		 R"([{"op":"move","from":"/a/b","path":"/a/b"}])", R"({"a":{"b":1}})"},
		{"from == path on an element", Y, R"([{"op":"move","from":"/x/1","path":"/x/1"}])", Y},
		{"a prefix that is no parent", R"({"a":1})",
		 R"([{"op":"move","from":"/a","path":"/ab"}])", R"({"ab":1})"},
		{"a child onto its parent", R"({"a":{"b":1}})",
		 R"([{"op":"move","from":"/a/b","path":"/a"}])", R"({"a":1})"},
		{"onto an existing member", R"({"a":1,"b":2})",
		 R"([{"op":"move","from":"/a","path":"/b"}])", R"({"b":1})"},
		{"forward in an array", Y, R"([{"op":"move","from":"/x/1","path":"/x/3"}])",
		 R"({"x":[0,2,3,1,4]})"},
		{"backward in an array", Y, R"([{"op":"move","from":"/x/3","path":"/x/1"}])",
		 R"({"x":[0,3,1,2,4]})"},
		{"first to -", Y, R"([{"op":"move","from":"/x/0","path":"/x/-"}])",
		 R"({"x":[1,2,3,4,0]})"},
		{"last to first", Y, R"([{"op":"move","from":"/x/4","path":"/x/0"}])",
		 R"({"x":[4,0,1,2,3]})"},
		/* the target is read after the removal: 4 is the size then */
		{"to the size after the removal", Y, R"([{"op":"move","from":"/x/1","path":"/x/4"}])",
		 R"({"x":[0,2,3,4,1]})"},
		{"neighbours swapped", Y, R"([{"op":"move","from":"/x/2","path":"/x/3"}])",
		 R"({"x":[0,1,3,2,4]})"},
		{"between arrays", R"({"x":[1,2],"y":[3]})",
		 R"([{"op":"move","from":"/x/0","path":"/y/0"}])", R"({"x":[2],"y":[1,3]})"},
		{"a member into an array", R"({"x":[1],"o":{"k":2}})",
		 R"([{"op":"move","from":"/o/k","path":"/x/-"}])", R"({"x":[1,2],"o":{}})"},
		{"an element into an object", R"({"x":[1,{"z":0}],"o":{"k":2}})",
		 R"([{"op":"move","from":"/x/1","path":"/o/z"}])",
		 R"({"x":[1],"o":{"k":2,"z":{"z":0}}})"},
		{"a subtree onto the root", R"({"a":{"b":[1]},"c":2})",
		 R"([{"op":"move","from":"/a","path":""}])", R"({"b":[1]})"},
		{"several moves", R"({"x":["a","b","c"],"y":{}})",
		 R"([{"op":"move","from":"/x/0","path":"/x/2"},{"op":"move","from":"/x/0","path":"/y/k"},
		     {"op":"move","from":"/y/k","path":"/x/0"},{"op":"move","from":"/x","path":"/y/x"}])",
		 R"({"y":{"x":["b","c","a"]}})"},
		{"copy into its own child", R"({"a":{"b":1}})",
		 R"([{"op":"copy","from":"/a","path":"/a/c"}])", R"({"a":{"b":1,"c":{"b":1}}})"},
		{"copy of the root into itself", R"({"a":1})",
		 R"([{"op":"copy","from":"","path":"/r"}])", R"({"a":1,"r":{"a":1}})"},
		{"copy onto the root", R"({"a":{"b":1}})",
		 R"([{"op":"copy","from":"/a/b","path":""}])", "1"},
		{"copy onto its own index", R"({"x":[1,2]})",
		 R"([{"op":"copy","from":"/x/0","path":"/x/0"}])", R"({"x":[1,1,2]})"},
		{"copy onto an existing member", R"({"a":[1],"b":2})",
		 R"([{"op":"copy","from":"/a","path":"/b"}])", R"({"a":[1],"b":[1]})"},
		{"the copy is not shared", R"({"a":{"b":1}})",
		 R"([{"op":"copy","from":"/a","path":"/c"},{"op":"replace","path":"/c/b","value":2}])",
		 R"({"a":{"b":1},"c":{"b":2}})"},
	};
	check_oks(cases, N(cases));
}

static void test_move_errors(void **state)
{
	(void)state;
	static const fail_case cases[] = {
		{"into its own child", R"({"a":{"b":1}})",
		 R"([{"op":"move","from":"/a","path":"/a/b"}])", CB_ERR_INVAL},
		{"into its own grandchild", R"({"a":{"b":{}}})",
		 R"([{"op":"move","from":"/a","path":"/a/b/c"}])", CB_ERR_INVAL},
		{"an array into itself", R"({"a":[1]})", R"([{"op":"move","from":"/a","path":"/a/-"}])",
		 CB_ERR_INVAL},
		{"the root into a child", R"({"a":{}})", R"([{"op":"move","from":"","path":"/a/b"}])",
		 CB_ERR_INVAL},
		/* RFC 6902 4.4: "from" must not be a proper prefix of "path", even
		 * though after the removal /x/0 is the next element */
		{"a prefix of the path after an array removal", R"({"x":[{"k":1},{"k":2}]})",
		 R"([{"op":"move","from":"/x/0","path":"/x/0/z"}])", CB_ERR_INVAL},
		{"from missing", R"({"a":1})", R"([{"op":"move","from":"/b","path":"/c"}])",
		 CB_ERR_INVAL},
		{"copy from missing", R"({"a":1})", R"([{"op":"copy","from":"/b","path":"/c"}])",
		 CB_ERR_INVAL},
		{"to a missing parent", R"({"a":1})", R"([{"op":"move","from":"/a","path":"/b/c"}])",
		 CB_ERR_INVAL},
		{"copy to a missing parent", R"({"a":1})",
		 R"([{"op":"copy","from":"/a","path":"/b/c"}])", CB_ERR_INVAL},
		/* the size is 2 once /x/0 is out */
		{"past the size after the removal", R"({"x":[0,1,2]})",
		 R"([{"op":"move","from":"/x/0","path":"/x/3"}])", CB_ERR_INVAL},
		{"to a bad index", R"({"x":[0,1,2]})", R"([{"op":"move","from":"/x/0","path":"/x/01"}])",
		 CB_ERR_INVAL},
		/* RFC 6902 4.4: "The "from" location MUST exist", also when it is
		 * the path */
		{"from == path, missing", R"({"a":1})", R"([{"op":"move","from":"/b","path":"/b"}])",
		 CB_ERR_INVAL},
		{"from == path, past an array's end", R"({"x":[1]})",
		 R"([{"op":"move","from":"/x/1","path":"/x/1"}])", CB_ERR_INVAL},
		{"from == path, -", R"({"x":[1]})", R"([{"op":"move","from":"/x/-","path":"/x/-"}])",
		 CB_ERR_INVAL},
		{"from == path, not a pointer", R"({"a":1})", R"([{"op":"move","from":"a","path":"a"}])",
		 CB_ERR_INVAL},
		{"from == path, a bad escape", R"({"a~2":1})",
		 R"([{"op":"move","from":"/a~2","path":"/a~2"}])", CB_ERR_INVAL},
	};
	check_fails(cases, N(cases));
}

/* ======================= the arguments ======================= */

/* revert may be NULL; err is cut to errsz and ends with a NUL. */
static void test_arguments(void **state)
{
	(void)state;
	cJSON *doc = parse(R"({"a":1})"), *patch = parse(R"([{"op":"add","path":"/b","value":2}])");
	cJSON *want = parse(R"({"a":1,"b":2})");
	char err[8];
	assert_int_equal(jsonpatch_apply(&doc, patch, NULL, err, sizeof(err)), CB_OK);
	assert_true(same(doc, want));
	cJSON_Delete(patch);

	patch = parse(R"([{"op":"remove","path":"/this/is/a/long/path/that/does/not/exist"}])");
	memset(err, 'x', sizeof(err));
	cJSON *before = doc;
	assert_int_equal(jsonpatch_apply(&doc, patch, NULL, err, sizeof(err)), CB_ERR_INVAL);
	assert_ptr_equal(doc, before);
	assert_true(same(doc, want));
	assert_non_null(memchr(err, 0, sizeof(err)));
	assert_true(err[0] != 0);
	cJSON_Delete(patch);
	cJSON_Delete(doc);
	cJSON_Delete(want);
}

/* ======================= generated round trips ======================= */

static uint64_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static int below(int n)
{
	return (int)(rnd() % (uint32_t)n);
}

static const char *const KEYS[] = {"a", "b", "c", "a/b", "m~n", "~1", "/", "~0~", "",
				   "x y", "0", "-", "~", "//"};
static const char *const STRINGS[] = {"", "x", "a/b", "~0", "~1", "/", "10", "null"};

static cJSON *gen_scalar(void)
{
	switch (below(6)) {
	case 0:
		return cJSON_CreateNull();
	case 1:
		return cJSON_CreateBool(below(2));
	case 2:
		return cJSON_CreateNumber(below(2001) - 1000);
	case 3:
		return cJSON_CreateNumber((below(400) - 200) / 8.0);
	default:
		return cJSON_CreateString(STRINGS[below(N(STRINGS))]);
	}
}

static cJSON *gen_value(int depth);

/* An object or array of at least `least` and at most `least` + 4 children,
 * keys distinct. */
static cJSON *gen_container(int depth, int least)
{
	int n = least + below(5);
	if (below(2)) {
		cJSON *o = cJSON_CreateObject();
		int off = below(N(KEYS));
		for (int i = 0; i < (int)N(KEYS) && cJSON_GetArraySize(o) < n; i++)
			if (!below(3))
				cJSON_AddItemToObject(o, KEYS[(off + i) % N(KEYS)], gen_value(depth - 1));
		return o;
	}
	cJSON *a = cJSON_CreateArray();
	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(a, gen_value(depth - 1));
	return a;
}

static cJSON *gen_value(int depth)
{
	if (depth <= 0 || below(10) < 3)
		return gen_scalar();
	return gen_container(depth, 0);
}

/* Every value of a document with its pointer, parent and index. */
struct node_ref {
	char *path;
	cJSON *node, *parent; /* parent NULL: the root */
	int index;            /* in an array parent, else -1 */
};
struct node_list {
	node_ref *v;
	int n, cap;
};

/* base + "/" + the escaped token (malloc'd) */
static char *join(const char *base, const char *token)
{
	size_t n = strlen(base);
	char *s = (char *)malloc(n + 2 * strlen(token) + 2);
	assert_non_null(s);
	memcpy(s, base, n);
	char *p = s + n;
	*p++ = '/';
	for (const char *c = token; *c; c++) {
		if (*c == '~' || *c == '/') {
			*p++ = '~';
			*p++ = *c == '~' ? '0' : '1';
		} else {
			*p++ = *c;
		}
	}
	*p = 0;
	return s;
}

static void collect(node_list *l, cJSON *node, cJSON *parent, int index, char *path)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = (node_ref *)realloc(l->v, (size_t)l->cap * sizeof(*l->v));
		assert_non_null(l->v);
	}
	l->v[l->n++] = node_ref{path, node, parent, index};
	bool array = cJSON_IsArray(node);
	if (!array && !cJSON_IsObject(node))
		return;
	int i = 0;
	for (cJSON *c = node->child; c; c = c->next, i++) {
		char num[16];
		snprintf(num, sizeof(num), "%d", i);
		collect(l, c, node, array ? i : -1, join(path, array ? num : c->string));
	}
}

static node_list list_nodes(cJSON *root)
{
	node_list l = {NULL, 0, 0};
	char *empty = (char *)malloc(1);
	assert_non_null(empty);
	empty[0] = 0;
	collect(&l, root, NULL, -1, empty);
	return l;
}

static void free_nodes(node_list *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->v[i].path);
	free(l->v);
}

/* The model's own operations, independent of the implementation's. */
static void model_insert(cJSON *array, int index, cJSON *item)
{
	cJSON *tail = cJSON_CreateArray();
	for (int i = cJSON_GetArraySize(array); i > index; i--)
		cJSON_AddItemToArray(tail, cJSON_DetachItemFromArray(array, index));
	cJSON_AddItemToArray(array, item);
	while (tail->child)
		cJSON_AddItemToArray(array, cJSON_DetachItemFromArray(tail, 0));
	cJSON_Delete(tail);
}

static void model_set(cJSON *object, const char *key, cJSON *item)
{
	char *k = strdup(key); /* key may belong to the member deleted here */
	assert_non_null(k);
	cJSON_DeleteItemFromObjectCaseSensitive(object, k);
	cJSON_AddItemToObject(object, k, item);
	free(k);
}

/* Where an add puts a value: a key of an object (new or not), an index or
 * "-" of an array, or (container NULL) the root. */
struct target {
	char *path;
	cJSON *container;
	const char *key;
	int index;
};

static target pick_target(const node_list *l, int root_percent)
{
	target t = {NULL, NULL, NULL, -1};
	int containers = 0;
	for (int i = 0; i < l->n; i++)
		containers += cJSON_IsArray(l->v[i].node) || cJSON_IsObject(l->v[i].node);
	if (!containers || below(100) < root_percent) {
		t.path = strdup("");
		assert_non_null(t.path);
		return t;
	}
	int k = below(containers);
	const node_ref *c = NULL;
	for (int i = 0; i < l->n; i++)
		if ((cJSON_IsArray(l->v[i].node) || cJSON_IsObject(l->v[i].node)) && !k--) {
			c = &l->v[i];
			break;
		}
	t.container = c->node;
	if (cJSON_IsObject(c->node)) {
		/* an existing key half the time, when there is one */
		cJSON *m = c->node->child;
		if (m && below(2)) {
			for (int skip = below(cJSON_GetArraySize(c->node)); skip--;)
				m = m->next;
			t.key = m->string;
		} else {
			t.key = KEYS[below(N(KEYS))];
		}
		t.path = join(c->path, t.key);
	} else {
		int size = cJSON_GetArraySize(c->node);
		char num[16];
		t.index = below(size + 1);
		snprintf(num, sizeof(num), "%d", t.index);
		t.path = join(c->path, t.index == size && below(2) ? "-" : num);
	}
	return t;
}

/* Puts item (taken) where t says, in the model. t.key may be a key of the
 * model's, so it is used before anything is freed. */
static void model_put(cJSON **model, const target *t, cJSON *item)
{
	if (!t->container) {
		cJSON_Delete(*model);
		*model = item;
	} else if (cJSON_IsObject(t->container)) {
		model_set(t->container, t->key, item);
	} else {
		model_insert(t->container, t->index, item);
	}
}

static bool is_child(const char *path, const char *of)
{
	size_t n = strlen(of);
	return !strncmp(path, of, n) && path[n] == '/';
}

/* A random operation valid on *model, applied to *model. */
static cJSON *gen_op(cJSON **model)
{
	node_list l = list_nodes(*model);
	cJSON *op = cJSON_CreateObject();
	const node_ref *any = &l.v[below(l.n)];
	const node_ref *inner = l.n > 1 ? &l.v[1 + below(l.n - 1)] : NULL;
	int kind = below(6);
	if (!inner && (kind == 1 || kind == 4))
		kind = 0;
	switch (kind) {
	case 0: { /* add */
		target t = pick_target(&l, 4);
		cJSON *v = gen_value(2);
		cJSON_AddStringToObject(op, "op", "add");
		cJSON_AddStringToObject(op, "path", t.path);
		cJSON_AddItemToObject(op, "value", dup(v));
		model_put(model, &t, v);
		free(t.path);
		break;
	}
	case 1: /* remove */
		cJSON_AddStringToObject(op, "op", "remove");
		cJSON_AddStringToObject(op, "path", inner->path);
		cJSON_Delete(cJSON_DetachItemViaPointer(inner->parent, inner->node));
		break;
	case 2: { /* replace */
		cJSON *v = gen_value(2);
		cJSON_AddStringToObject(op, "op", "replace");
		cJSON_AddStringToObject(op, "path", any->path);
		cJSON_AddItemToObject(op, "value", dup(v));
		if (!any->parent) {
			cJSON_Delete(*model);
			*model = v;
		} else if (cJSON_IsArray(any->parent)) {
			cJSON_Delete(cJSON_DetachItemViaPointer(any->parent, any->node));
			model_insert(any->parent, any->index, v);
		} else {
			model_set(any->parent, any->node->string, v);
		}
		break;
	}
	case 3: /* test */
		cJSON_AddStringToObject(op, "op", "test");
		cJSON_AddStringToObject(op, "path", any->path);
		cJSON_AddItemToObject(op, "value", dup(any->node));
		break;
	case 4: { /* move: the target is chosen in the document without from */
		cJSON_AddStringToObject(op, "op", "move");
		cJSON_AddStringToObject(op, "from", inner->path);
		if (!below(10)) {
			cJSON_AddStringToObject(op, "path", inner->path);
			break;
		}
		char *from = strdup(inner->path);
		assert_non_null(from);
		cJSON *moved = cJSON_DetachItemViaPointer(inner->parent, inner->node);
		node_list l2 = list_nodes(*model);
		target t = pick_target(&l2, 3);
		if (cJSON_IsArray(inner->parent) && !below(2)) {
			/* within the same array, whose own path is unchanged */
			const char *at = NULL;
			for (int i = 0; !at; i++)
				if (l.v[i].node == inner->parent)
					at = l.v[i].path;
			int size = cJSON_GetArraySize(inner->parent);
			char num[16];
			free(t.path);
			t.container = inner->parent;
			t.index = below(size + 1);
			snprintf(num, sizeof(num), "%d", t.index);
			t.path = join(at, t.index == size && below(2) ? "-" : num);
		}
		for (int tries = 0; is_child(t.path, from) && tries < 10; tries++) {
			free(t.path);
			t = pick_target(&l2, 3);
		}
		if (is_child(t.path, from)) {
			t.path[0] = 0;
			t.container = NULL;
		}
		cJSON_AddStringToObject(op, "path", t.path);
		model_put(model, &t, moved);
		free(t.path);
		free(from);
		free_nodes(&l2);
		break;
	}
	default: { /* copy */
		target t = pick_target(&l, 3);
		cJSON_AddStringToObject(op, "op", "copy");
		cJSON_AddStringToObject(op, "from", any->path);
		cJSON_AddStringToObject(op, "path", t.path);
		model_put(model, &t, dup(any->node));
		free(t.path);
		break;
	}
	}
	free_nodes(&l);
	return op;
}

/* One generated document and patch: each operation alone, then the whole
 * patch, against the model; the reverts; the patch with a failing test
 * appended. */
static bool generated_case(int n)
{
	bool ok = true;
	char err[256] = "", name[64];
	cJSON *orig = below(20) ? gen_container(4, 2) : gen_scalar();
	cJSON *model = dup(orig), *step = dup(orig), *patch = cJSON_CreateArray();
	int nops = 1 + below(8);
	for (int k = 0; ok && k < nops; k++) {
		cJSON *op = gen_op(&model);
		cJSON_AddItemToArray(patch, op);
		cJSON *one = cJSON_CreateArray(), *before = dup(step), *rev = NULL;
		cJSON_AddItemToArray(one, dup(op));
		cb_status s = jsonpatch_apply(&step, one, &rev, err, sizeof(err));
		EXPECT(s == CB_OK, "generated #%d, operation %d %s on %s: %s (%s)", n, k, txt(op),
		       txt(before), cb_status_str(s), err);
		EXPECT(same(step, model), "generated #%d, operation %d %s on %s gave %s, want %s", n,
		       k, txt(op), txt(before), txt(step), txt(model));
		snprintf(name, sizeof(name), "generated #%d, operation %d", n, k);
		if (ok)
			ok = roundtrip(name, before, step, rev);
		cJSON_Delete(one);
		cJSON_Delete(before);
		cJSON_Delete(rev);
	}

	cJSON *doc = dup(orig), *rev = NULL;
	if (ok) {
		cb_status s = jsonpatch_apply(&doc, patch, &rev, err, sizeof(err));
		EXPECT(s == CB_OK, "generated #%d: %s on %s: %s (%s)", n, txt(patch), txt(orig),
		       cb_status_str(s), err);
		EXPECT(same(doc, model), "generated #%d: %s on %s gave %s, want %s", n, txt(patch),
		       txt(orig), txt(doc), txt(model));
		snprintf(name, sizeof(name), "generated #%d", n);
		if (ok)
			ok = roundtrip(name, orig, doc, rev);
	}

	/* all or nothing: the same operations, then a test that fails */
	cJSON *failing = dup(patch), *doc2 = dup(orig), *before2 = doc2;
	cJSON *sentinel = cJSON_CreateNull(), *rev2 = sentinel;
	cJSON *t = cJSON_CreateObject();
	cJSON_AddStringToObject(t, "op", "test");
	cJSON_AddStringToObject(t, "path", "");
	cJSON_AddStringToObject(t, "value", "no document is this");
	cJSON_AddItemToArray(failing, t);
	if (ok) {
		cb_status s = jsonpatch_apply(&doc2, failing, &rev2, err, sizeof(err));
		EXPECT(s == CB_ERR_TEST, "generated #%d with a failing test: got %s (%s)", n,
		       cb_status_str(s), err);
		EXPECT(doc2 == before2 && same(doc2, orig),
		       "generated #%d with a failing test changed %s into %s", n, txt(orig),
		       txt(doc2));
		EXPECT(rev2 == NULL, "generated #%d with a failing test: *revert not NULL", n);
	}
	if (rev2 != sentinel)
		cJSON_Delete(rev2);
	cJSON_Delete(sentinel);
	cJSON_Delete(failing);
	cJSON_Delete(doc2);
	cJSON_Delete(doc);
	cJSON_Delete(rev);
	cJSON_Delete(orig);
	cJSON_Delete(model);
	cJSON_Delete(step);
	cJSON_Delete(patch);
	return ok;
}

static void test_generated_round_trips(void **state)
{
	(void)state;
	int bad = 0, shown = 0;
	rng_state = 0x9E3779B97F4A7C15ULL;
	for (int n = 0; n < 200; n++) {
		if (generated_case(n))
			continue;
		bad++;
		if (++shown == 5)
			print_error("(more failures not shown)\n");
		if (shown >= 5)
			break;
	}
	if (bad)
		fail_msg("%d generated cases failed", bad);
}

/* ======================= diff ======================= */

/* diff(from, to) applied to from gives to, and the revert of that gives
 * from back; the same for diff(to, from); neither input is changed (not
 * even its member order); a document's diff with itself is []. */
static bool check_diff_pair(const char *name, const cJSON *from, const cJSON *to)
{
	bool ok = true;
	char *from_text = cJSON_PrintUnformatted(from), *to_text = cJSON_PrintUnformatted(to);
	const cJSON *ends[2][2] = {{from, to}, {to, from}};
	for (int way = 0; ok && way < 2; way++) {
		const cJSON *a = ends[way][0], *b = ends[way][1];
		const char *dir = way ? "backwards" : "forwards";
		char err[256] = "";
		cJSON *patch = jsonpatch_diff(a, b), *doc = dup(a), *rev = NULL;
		EXPECT(cJSON_IsArray(patch), "%s %s: the diff of %s and %s is %s", name, dir, txt(a),
		       txt(b), txt(patch));
		EXPECT((cJSON_GetArraySize(patch) == 0) == same(a, b),
		       "%s %s: the diff of %s and %s is %s", name, dir, txt(a), txt(b), txt(patch));
		if (ok) {
			cb_status s = jsonpatch_apply(&doc, patch, &rev, err, sizeof(err));
			EXPECT(s == CB_OK, "%s %s: the diff %s on %s: %s (%s)", name, dir,
			       txt(patch), txt(a), cb_status_str(s), err);
			EXPECT(same(doc, b), "%s %s: the diff %s turned %s into %s, want %s", name,
			       dir, txt(patch), txt(a), txt(doc), txt(b));
		}
		if (ok)
			ok = roundtrip(name, a, doc, rev);
		cJSON_Delete(patch);
		cJSON_Delete(doc);
		cJSON_Delete(rev);
		patch = jsonpatch_diff(a, a);
		EXPECT(cJSON_IsArray(patch) && !cJSON_GetArraySize(patch),
		       "%s: the diff of %s with itself is %s", name, txt(a), txt(patch));
		cJSON_Delete(patch);
	}
	char *from_after = cJSON_PrintUnformatted(from), *to_after = cJSON_PrintUnformatted(to);
	EXPECT(from_text && from_after && !strcmp(from_text, from_after),
	       "%s: diff changed from %s into %s", name, from_text, from_after);
	EXPECT(to_text && to_after && !strcmp(to_text, to_after), "%s: diff changed to %s into %s",
	       name, to_text, to_after);
	cJSON_free(from_text);
	cJSON_free(to_text);
	cJSON_free(from_after);
	cJSON_free(to_after);
	return ok;
}

struct diff_case {
	const char *name, *from, *to, *want;
};

/* The diff is exactly want (its order too), and check_diff_pair holds. */
static bool check_diff(const diff_case *c)
{
	bool ok = true;
	cJSON *from = parse(c->from), *to = parse(c->to), *want = parse(c->want);
	cJSON *patch = jsonpatch_diff(from, to);
	EXPECT(same_text(patch, want), "%s: the diff of %s and %s is %s, want %s", c->name, c->from,
	       c->to, txt(patch), c->want);
	if (ok)
		ok = check_diff_pair(c->name, from, to);
	cJSON_Delete(from);
	cJSON_Delete(to);
	cJSON_Delete(want);
	cJSON_Delete(patch);
	return ok;
}

static void test_diff(void **state)
{
	(void)state;
	static const diff_case cases[] = {
		/* equal */
		{"equal objects", R"({"a":1,"b":[1,{"c":"x"}],"d":{"e":null}})",
		 R"({"a":1,"b":[1,{"c":"x"}],"d":{"e":null}})", "[]"},
		{"members in another order", R"({"a":1,"b":{"c":2,"d":3}})",
		 R"({"b":{"d":3,"c":2},"a":1})", "[]"},
		{"equal arrays", R"([1,"a",{"b":[]}])", R"([1,"a",{"b":[]}])", "[]"},
		{"equal scalars", R"("a/b")", R"("a/b")", "[]"},
		{"1 and 1.0", R"({"n":1})", R"({"n":1.0})", "[]"},
		{"empty objects", "{}", "{}", "[]"},
		{"null roots", "null", "null", "[]"},
		/* members */
		{"a member added", R"({"a":1})", R"({"a":1,"b":[2]})",
		 R"([{"op":"add","path":"/b","value":[2]}])"},
		{"a member removed", R"({"a":1,"b":2})", R"({"b":2})",
		 R"([{"op":"remove","path":"/a"}])"},
		{"a member replaced", R"({"a":1,"b":2})", R"({"a":1,"b":"2"})",
		 R"([{"op":"replace","path":"/b","value":"2"}])"},
		{"all members replaced", R"({"a":1,"b":2})", R"({"c":3})",
		 R"([{"op":"remove","path":"/a"},{"op":"remove","path":"/b"},
		     {"op":"add","path":"/c","value":3}])"},
		{"into an empty object", R"({"a":1})", "{}", R"([{"op":"remove","path":"/a"}])"},
		{"from an empty object", "{}", R"({"a":{}})",
		 R"([{"op":"add","path":"/a","value":{}}])"},
		{"removes and replaces in from's order, then adds in to's",
		 R"({"a":1,"b":2,"c":3,"d":4})", R"({"f":6,"d":40,"a":1,"e":5,"b":20})",
		 R"([{"op":"replace","path":"/b","value":20},{"op":"remove","path":"/c"},
		     {"op":"replace","path":"/d","value":40},{"op":"add","path":"/f","value":6},
		     {"op":"add","path":"/e","value":5}])"},
		{"key case matters", R"({"a":1})", R"({"A":1})",
		 R"([{"op":"remove","path":"/a"},{"op":"add","path":"/A","value":1}])"},
		/* nested objects */
		{"nested members", R"({"a":{"b":{"c":1,"d":2},"x":0},"y":1})",
		 R"({"a":{"b":{"c":1,"d":3,"e":4},"x":0},"y":1})",
		 R"([{"op":"replace","path":"/a/b/d","value":3},
		     {"op":"add","path":"/a/b/e","value":4}])"},
		{"changes at several levels", R"({"a":{"b":{"c":1}},"d":{"e":2},"f":3})",
		 R"({"a":{"b":{}},"d":{"e":2,"g":{"h":[]}},"f":4})",
		 R"([{"op":"remove","path":"/a/b/c"},{"op":"add","path":"/d/g","value":{"h":[]}},
		     {"op":"replace","path":"/f","value":4}])"},
		{"an object emptied inside", R"({"a":{"b":1,"c":2}})", R"({"a":{}})",
		 R"([{"op":"remove","path":"/a/b"},{"op":"remove","path":"/a/c"}])"},
		/* escaping */
		{"a slash in a name", R"({"a/b":1,"a":{"b":2}})", R"({"a/b":5,"a":{"b":2}})",
		 R"([{"op":"replace","path":"/a~1b","value":5}])"},
		{"a tilde in a name", R"({"m~n":1})", R"({"m~n":2,"~1":3})",
		 R"([{"op":"replace","path":"/m~0n","value":2},
		     {"op":"add","path":"/~01","value":3}])"},
		{"names that are escapes and slashes", R"({"/":1,"~0~":2,"//":3,"~/":4})",
		 R"({"~/":4})",
		 R"([{"op":"remove","path":"/~1"},{"op":"remove","path":"/~00~0"},
		     {"op":"remove","path":"/~1~1"}])"},
		{"escapes at two levels", R"({"a/b":{"c~d":{"e":1}}})",
		 R"({"a/b":{"c~d":{"e":2}}})",
		 R"([{"op":"replace","path":"/a~1b/c~0d/e","value":2}])"},
		{"the empty name", R"({"":{"":1}})", R"({"":{"":2,"x":0}})",
		 R"([{"op":"replace","path":"//","value":2},{"op":"add","path":"//x","value":0}])"},
		{"names that look like indexes", R"({"0":1,"-":2})", R"({"0":3,"01":4})",
		 R"([{"op":"replace","path":"/0","value":3},{"op":"remove","path":"/-"},
		     {"op":"add","path":"/01","value":4}])"},
		/* arrays are replaced whole */
		{"an element changed", R"({"x":[1,2,3]})", R"({"x":[1,2,4]})",
		 R"([{"op":"replace","path":"/x","value":[1,2,4]}])"},
		{"an element appended", R"({"x":[1,2]})", R"({"x":[1,2,3]})",
		 R"([{"op":"replace","path":"/x","value":[1,2,3]}])"},
		{"elements reordered", R"({"x":[1,2]})", R"({"x":[2,1]})",
		 R"([{"op":"replace","path":"/x","value":[2,1]}])"},
		{"an object inside an array", R"({"x":[{"a":1,"b":2}]})",
		 R"({"x":[{"a":1,"b":3}]})",
		 R"([{"op":"replace","path":"/x","value":[{"a":1,"b":3}]}])"},
		{"an array emptied", R"({"x":[[]]})", R"({"x":[]})",
		 R"([{"op":"replace","path":"/x","value":[]}])"},
		/* types */
		{"object to array", R"({"a":{}})", R"({"a":[]})",
		 R"([{"op":"replace","path":"/a","value":[]}])"},
		{"array to object", R"({"a":[1]})", R"({"a":{"0":1}})",
		 R"([{"op":"replace","path":"/a","value":{"0":1}}])"},
		{"number to string", R"({"a":10})", R"({"a":"10"})",
		 R"([{"op":"replace","path":"/a","value":"10"}])"},
		{"null to false", R"({"a":null})", R"({"a":false})",
		 R"([{"op":"replace","path":"/a","value":false}])"},
		{"true to false", R"({"a":true})", R"({"a":false})",
		 R"([{"op":"replace","path":"/a","value":false}])"},
		{"0 to false", R"({"a":0})", R"({"a":false})",
		 R"([{"op":"replace","path":"/a","value":false}])"},
		{"empty string to null", R"({"a":""})", R"({"a":null})",
		 R"([{"op":"replace","path":"/a","value":null}])"},
		{"an object to a scalar inside", R"({"a":{"b":{"c":1}}})", R"({"a":{"b":"c"}})",
		 R"([{"op":"replace","path":"/a/b","value":"c"}])"},
		{"string case", R"({"s":"a"})", R"({"s":"A"})",
		 R"([{"op":"replace","path":"/s","value":"A"}])"},
		/* the root */
		{"an object root to an array", R"({"a":1})", "[1]",
		 R"([{"op":"replace","path":"","value":[1]}])"},
		{"an array root to an object", "[1]", R"({"a":1})",
		 R"([{"op":"replace","path":"","value":{"a":1}}])"},
		{"scalar roots", "1", "2", R"([{"op":"replace","path":"","value":2}])"},
		{"a string root to an object", R"("x")", R"({"x":null})",
		 R"([{"op":"replace","path":"","value":{"x":null}}])"},
		{"a null root to an object", "null", "{}",
		 R"([{"op":"replace","path":"","value":{}}])"},
		{"array roots", "[1,2]", "[1]", R"([{"op":"replace","path":"","value":[1]}])"},
		{"an object root is not replaced", "{}", R"({"a":1})",
		 R"([{"op":"add","path":"/a","value":1}])"},
	};
	size_t bad = 0;
	for (size_t i = 0; i < N(cases); i++)
		bad += !check_diff(&cases[i]);
	if (bad)
		fail_msg("%zu of %zu cases failed", bad, N(cases));
}

/* A member name twice (cJSON_Parse keeps both): a pointer reaches only
 * the first, so such an object, on either side, is replaced whole and
 * the result has both. cJSON_Compare cannot tell these apart, hence the
 * text. */
static void test_diff_duplicate_members(void **state)
{
	(void)state;
	static const char *const pairs[][3] = {
		{R"({"o":{"a":1,"b":2}})", R"({"o":{"a":1,"a":2}})",
		 R"([{"op":"replace","path":"/o","value":{"a":1,"a":2}}])"},
		{R"({"o":{"a":1,"a":2}})", R"({"o":{"a":2}})",
		 R"([{"op":"replace","path":"/o","value":{"a":2}}])"},
		{R"({"a":1,"a":2})", R"({"a":3})",
		 R"([{"op":"replace","path":"","value":{"a":3}}])"},
	};
	for (size_t i = 0; i < N(pairs); i++) {
		cJSON *from = parse(pairs[i][0]), *to = parse(pairs[i][1]);
		cJSON *want = parse(pairs[i][2]), *patch = jsonpatch_diff(from, to), *rev = NULL;
		char err[256] = "";
		if (!same_text(patch, want))
			fail_msg("the diff of %s and %s is %s, want %s", pairs[i][0], pairs[i][1],
				 txt(patch), pairs[i][2]);
		assert_int_equal(jsonpatch_apply(&from, patch, &rev, err, sizeof(err)), CB_OK);
		assert_true(same_text(from, to));
		assert_int_equal(jsonpatch_apply(&from, rev, NULL, err, sizeof(err)), CB_OK);
		cJSON *orig = parse(pairs[i][0]);
		assert_true(same_text(from, orig));
		cJSON_Delete(orig);
		cJSON_Delete(from);
		cJSON_Delete(to);
		cJSON_Delete(want);
		cJSON_Delete(patch);
		cJSON_Delete(rev);
	}
}

/* cJSON's allocations fail after `budget` more (negative: never). */
static long alloc_budget = -1;

static void *failing_malloc(size_t n)
{
	if (alloc_budget == 0)
		return NULL;
	if (alloc_budget > 0)
		alloc_budget--;
	return malloc(n);
}

/* Out of memory at each of the diff's allocations in turn: NULL, nothing
 * leaked (the sanitizer build checks) and the inputs unchanged; once the
 * budget suffices, the full diff. */
static void test_diff_out_of_memory(void **state)
{
	(void)state;
	cJSON *from = parse(R"({"a":{"b/c":1,"d":[1,2]},"e":"x","f":{"g":null}})");
	cJSON *to = parse(R"({"a":{"b/c":2,"d":[2],"h":{"i":true}},"f":{},"j":[{"k":1}]})");
	cJSON *want = parse(R"([{"op":"replace","path":"/a/b~1c","value":2},
		{"op":"replace","path":"/a/d","value":[2]},
		{"op":"add","path":"/a/h","value":{"i":true}},
		{"op":"remove","path":"/e"},{"op":"remove","path":"/f/g"},
		{"op":"add","path":"/j","value":[{"k":1}]}])");
	cJSON *from_copy = dup(from), *to_copy = dup(to), *patch = NULL;
	cJSON_Hooks hooks = {failing_malloc, free};
	long budget;
	for (budget = 0; !patch && budget < 10000; budget++) {
		alloc_budget = budget;
		cJSON_InitHooks(&hooks);
		patch = jsonpatch_diff(from, to);
		alloc_budget = -1;
		cJSON_InitHooks(NULL);
		assert_true(same_text(from, from_copy));
		assert_true(same_text(to, to_copy));
	}
	assert_true(budget > 10); /* it did fail, many times */
	if (!same_text(patch, want))
		fail_msg("with enough memory the diff is %s, want %s", txt(patch), txt(want));
	cJSON_Delete(from);
	cJSON_Delete(to);
	cJSON_Delete(want);
	cJSON_Delete(from_copy);
	cJSON_Delete(to_copy);
	cJSON_Delete(patch);
}

/* ---- generated pairs ---- */

/* A document like `from` with changes here and there: members dropped,
 * changed (deeper, or to anything) or added, members in another order,
 * an array element or a scalar changed; now and then an unrelated one. */
static cJSON *gen_changed(const cJSON *from, int depth)
{
	if (!below(12))
		return gen_value(depth);
	if (cJSON_IsArray(from) && cJSON_GetArraySize(from) && !below(3)) {
		cJSON *a = dup(from);
		int i = below(cJSON_GetArraySize(a));
		cJSON_ReplaceItemViaPointer(a, cJSON_GetArrayItem(a, i),
					    gen_changed(cJSON_GetArrayItem(from, i), depth - 1));
		return a;
	}
	if (!cJSON_IsObject(from))
		return below(3) ? dup(from) : gen_value(depth);
	cJSON *o = cJSON_CreateObject();
	int n = cJSON_GetArraySize(from), rot = below(2) ? below(n + 1) : 0;
	for (int k = 0; k < n; k++) {
		const cJSON *m = cJSON_GetArrayItem(from, (k + rot) % n);
		int what = below(8);
		if (what == 0)
			continue;
		cJSON *v = what < 4 ? gen_changed(m, depth - 1) : dup(m);
		cJSON_AddItemToObject(o, m->string, v);
	}
	for (int k = below(3); k > 0; k--) {
		const char *key = KEYS[below(N(KEYS))];
		if (!cJSON_GetObjectItemCaseSensitive(o, key))
			cJSON_AddItemToObject(o, key, gen_value(depth - 1));
	}
	return o;
}

static const cJSON *member(const cJSON *object, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(object, name);
}

static const node_ref *find_node(const node_list *l, const char *path)
{
	for (int i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].path, path))
			return &l->v[i];
	return NULL;
}

/* Each operation of diff(from, to) is needed and no more than needed: a
 * remove of what only from has, an add of what only to has, a replace of
 * values that differ and are not both objects (or have a name twice,
 * which generated ones never do), each under an object the two share,
 * each path once and none inside another's. */
static bool check_diff_ops(int n, cJSON *from, cJSON *to)
{
	bool ok = true;
	cJSON *patch = jsonpatch_diff(from, to);
	node_list lf = list_nodes(from), lt = list_nodes(to);
	int i = 0;
	for (const cJSON *op = patch ? patch->child : NULL; ok && op; op = op->next, i++) {
		const char *kind = cJSON_GetStringValue(member(op, "op"));
		const char *path = cJSON_GetStringValue(member(op, "path"));
		const cJSON *value = member(op, "value");
		EXPECT(kind && path && cJSON_GetArraySize(op) == 2 + !!value,
		       "generated diff #%d: a malformed operation %s", n, txt(op));
		if (!ok)
			break;
		const node_ref *f = find_node(&lf, path), *t = find_node(&lt, path);
		bool objects = f && t && cJSON_IsObject(f->node) && cJSON_IsObject(t->node);
		if (!strcmp(kind, "remove"))
			EXPECT(f && !t && !value, "generated diff #%d: %s of %s into %s", n,
			       txt(op), txt(from), txt(to));
		else if (!strcmp(kind, "add"))
			EXPECT(!f && t && same(value, t->node),
			       "generated diff #%d: %s of %s into %s", n, txt(op), txt(from),
			       txt(to));
		else
			EXPECT(!strcmp(kind, "replace") && f && t && same(value, t->node) &&
				       !same(f->node, t->node) && !objects,
			       "generated diff #%d: %s of %s into %s", n, txt(op), txt(from),
			       txt(to));
		if (ok && *path) {
			/* the parent's path: up to the last '/' */
			char *up = strdup(path);
			assert_non_null(up);
			*strrchr(up, '/') = 0;
			const node_ref *pf = find_node(&lf, up), *pt = find_node(&lt, up);
			EXPECT(pf && pt && cJSON_IsObject(pf->node) && cJSON_IsObject(pt->node),
			       "generated diff #%d: %s is not under an object both have "
			       "(%s into %s)",
			       n, txt(op), txt(from), txt(to));
			free(up);
		}
		for (const cJSON *o2 = patch->child; ok && o2 != op; o2 = o2->next) {
			const char *p2 = cJSON_GetStringValue(member(o2, "path"));
			EXPECT(strcmp(p2, path) && !is_child(path, p2) && !is_child(p2, path),
			       "generated diff #%d: %s and %s overlap", n, txt(o2), txt(op));
		}
	}
	EXPECT(patch, "generated diff #%d: NULL", n);
	free_nodes(&lf);
	free_nodes(&lt);
	cJSON_Delete(patch);
	return ok;
}

static void test_diff_generated(void **state)
{
	(void)state;
	int bad = 0;
	rng_state = 0xD1B54A32D192ED03ULL;
	for (int n = 0; n < 1000 && bad < 5; n++) {
		cJSON *from = below(20) ? gen_container(4, 2) : gen_scalar();
		cJSON *to = gen_changed(from, 4);
		char name[64];
		snprintf(name, sizeof(name), "generated diff #%d", n);
		bad += !check_diff_pair(name, from, to) || !check_diff_ops(n, from, to) ||
		       !check_diff_ops(n, to, from);
		cJSON_Delete(from);
		cJSON_Delete(to);
	}
	if (bad)
		fail_msg("%d generated pairs failed (stopped at 5)", bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_examples),
		cmocka_unit_test(test_rfc_error_examples),
		cmocka_unit_test(test_atomic),
		cmocka_unit_test(test_pointer_escapes),
		cmocka_unit_test(test_pointer_errors),
		cmocka_unit_test(test_array_indexes),
		cmocka_unit_test(test_array_index_errors),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_wellformed_edges),
		cmocka_unit_test(test_empty_patch),
		cmocka_unit_test(test_test_equality),
		cmocka_unit_test(test_move),
		cmocka_unit_test(test_move_errors),
		cmocka_unit_test(test_arguments),
		cmocka_unit_test(test_generated_round_trips),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_diff_duplicate_members),
		cmocka_unit_test(test_diff_out_of_memory),
		cmocka_unit_test(test_diff_generated),
	};
	return cmocka_run_group_tests_name("jsonpatch", tests, NULL, NULL);
}
