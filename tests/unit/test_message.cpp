/* test_message.cpp: assembling WebSocket text messages from the pieces
 * on_receive gets (cb_message in include/cubby/net.h): one piece, several,
 * an empty message, the size limit (over it in several pieces, exactly at
 * it, the next message fine again) and the buffer a reset frees; and
 * json_whole_number(), which reads sizes, offsets and counts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
/* cmocka 1.1's header declares its functions without extern "C" */
extern "C" {
#include <cmocka.h>
}

#include <stdlib.h>
#include <string.h>

#include "cubby/net.h"

#define WHOLE (CB_MSG_FIRST | CB_MSG_FINAL)

/* msg_add() of a C string. */
static int add(cb_message *m, const char *piece, unsigned flags, size_t max)
{
	return msg_add(m, piece, strlen(piece), flags, max);
}

/* `len` bytes of a pattern that shows where each byte came from. */
static char *make_text(size_t len, unsigned seed)
{
	char *p = (char *)malloc(len + 1);
	for (size_t i = 0; i < len; i++)
		p[i] = (char)('a' + (i * 7 + seed) % 26);
	p[len] = 0;
	return p;
}

/* Adds text[0, len) in pieces of `chunk` bytes as one message; returns
 * what msg_add() said for the last piece (0 for every earlier one). */
static int add_in_pieces(cb_message *m, const char *text, size_t len, size_t chunk, size_t max)
{
	int r = -2;
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		unsigned flags = (off == 0 ? CB_MSG_FIRST : 0) |
				 (off + n == len ? CB_MSG_FINAL : 0);
		r = msg_add(m, text + off, n, flags, max);
		if (off + n < len)
			assert_int_equal(r, 0);
	}
	return r;
}

static void assert_message(const cb_message *m, const char *want, size_t len)
{
	assert_false(m->too_big);
	assert_int_equal(m->len, len);
	assert_non_null(m->data);
	assert_memory_equal(m->data, want, len);
	assert_int_equal(m->data[len], '\0');
}

static void assert_freed(const cb_message *m)
{
	assert_null(m->data);
	assert_int_equal(m->len, 0);
	assert_int_equal(m->cap, 0);
	assert_false(m->too_big);
}

static void test_one_piece(void **state)
{
	(void)state;
	cb_message m;
	memset(&m, 0, sizeof(m));
	assert_int_equal(add(&m, "{\"action\":\"ping\"}", WHOLE, 1024), 1);
	assert_message(&m, "{\"action\":\"ping\"}", 17);
	assert_string_equal(m.data, "{\"action\":\"ping\"}");
	msg_free(&m);
	assert_freed(&m);
}

static void test_several_pieces(void **state)
{
	(void)state;
	cb_message m;
	memset(&m, 0, sizeof(m));
	assert_int_equal(add(&m, "{\"a\":", CB_MSG_FIRST, 1024), 0);
	assert_int_equal(add(&m, "1,", 0, 1024), 0);
	assert_int_equal(add(&m, "", 0, 1024), 0); /* an empty piece in between */
	assert_int_equal(add(&m, "\"b\":2}", CB_MSG_FINAL, 1024), 1);
	assert_message(&m, "{\"a\":1,\"b\":2}", 13);

	/* many pieces, the buffer growing several times */
	const size_t len = 100 * 1000 + 3;
	char *text = make_text(len, 1);
	assert_int_equal(add_in_pieces(&m, text, len, 999, 1 << 20), 1);
	assert_message(&m, text, len);
	free(text);
	msg_free(&m);
}

/* Each message starts afresh: nothing of the one before stays. */
static void test_next_message_replaces(void **state)
{
	(void)state;
	cb_message m;
	memset(&m, 0, sizeof(m));
	assert_int_equal(add(&m, "a long first message", WHOLE, 1024), 1);
	assert_int_equal(add(&m, "sh", CB_MSG_FIRST, 1024), 0);
	assert_int_equal(add(&m, "ort", CB_MSG_FINAL, 1024), 1);
	assert_message(&m, "short", 5);
	msg_free(&m);
}

static void test_empty_message(void **state)
{
	(void)state;
	cb_message m;
	memset(&m, 0, sizeof(m));
	assert_int_equal(msg_add(&m, "", 0, WHOLE, 1024), 1);
	assert_message(&m, "", 0);
	assert_string_equal(m.data, "");

	/* also after a message that left bytes in the buffer */
	assert_int_equal(add(&m, "not empty", WHOLE, 1024), 1);
	assert_int_equal(msg_add(&m, "", 0, WHOLE, 1024), 1);
	assert_message(&m, "", 0);
	assert_string_equal(m.data, "");

	/* and in pieces: an empty first and an empty last */
	assert_int_equal(msg_add(&m, "", 0, CB_MSG_FIRST, 1024), 0);
	assert_int_equal(msg_add(&m, "", 0, CB_MSG_FINAL, 1024), 1);
	assert_message(&m, "", 0);
	msg_free(&m);

	/* with a limit of 0, the empty message still fits */
	assert_int_equal(msg_add(&m, "", 0, WHOLE, 0), 1);
	assert_message(&m, "", 0);
	msg_free(&m);
}

/* Over the limit in several pieces: complete, too_big, nothing kept past
 * the limit; the next message is fine again. */
static void test_over_limit_in_pieces(void **state)
{
	(void)state;
	const size_t max = 4096;
	cb_message m;
	memset(&m, 0, sizeof(m));
	assert_int_equal(add(&m, "{\"data\":\"", CB_MSG_FIRST, max), 0);
	assert_false(m.too_big);
	char *big = make_text(64 * 1024, 2);
	for (int i = 0; i < 16; i++) {
		assert_int_equal(msg_add(&m, big, 64 * 1024, 0, max), 0);
		assert_true(m.too_big);
		/* what is over the limit is not kept */
		assert_true(m.cap <= 2 * (max + 1));
	}
	assert_int_equal(add(&m, "\"}", CB_MSG_FINAL, max), 1);
	assert_true(m.too_big);

	/* the next message is fine again */
	assert_int_equal(add(&m, "{\"ok\":true}", WHOLE, max), 1);
	assert_message(&m, "{\"ok\":true}", 11);

	/* a message whose first piece is already too big */
	assert_int_equal(msg_add(&m, big, max + 1, CB_MSG_FIRST, max), 0);
	assert_true(m.too_big);
	assert_int_equal(add(&m, "x", CB_MSG_FINAL, max), 1);
	assert_true(m.too_big);
	/* ... and one over the limit in a single piece */
	assert_int_equal(msg_add(&m, big, max + 1, WHOLE, max), 1);
	assert_true(m.too_big);
	assert_int_equal(add(&m, "{}", WHOLE, max), 1);
	assert_message(&m, "{}", 2);
	free(big);
	msg_free(&m);
}

static void test_exactly_at_limit(void **state)
{
	(void)state;
	const size_t max = 1000;
	char *text = make_text(max + 1, 3);
	cb_message m;
	memset(&m, 0, sizeof(m));
	/* max bytes in one piece, and in pieces of every size that divides
	 * it unevenly: fits */
	assert_int_equal(msg_add(&m, text, max, WHOLE, max), 1);
	assert_message(&m, text, max);
	const size_t chunks[] = {1, 7, 333, 999};
	for (size_t chunk : chunks) {
		assert_int_equal(add_in_pieces(&m, text, max, chunk, max), 1);
		assert_message(&m, text, max);
	}
	/* one byte more: too big, however it arrives */
	assert_int_equal(msg_add(&m, text, max + 1, WHOLE, max), 1);
	assert_true(m.too_big);
	for (size_t chunk : chunks) {
		assert_int_equal(add_in_pieces(&m, text, max + 1, chunk, max), 1);
		assert_true(m.too_big);
	}
	/* an empty last piece does not push a message at the limit over it */
	assert_int_equal(msg_add(&m, text, max, CB_MSG_FIRST, max), 0);
	assert_int_equal(msg_add(&m, "", 0, CB_MSG_FINAL, max), 1);
	assert_message(&m, text, max);
	free(text);
	msg_free(&m);
}

static void test_reset(void **state)
{
	(void)state;
	const size_t max = 1 << 20;
	cb_message m;
	memset(&m, 0, sizeof(m));

	/* after a large message the buffer is freed */
	const size_t len = 256 * 1024;
	char *text = make_text(len, 4);
	assert_int_equal(add_in_pieces(&m, text, len, 64 * 1024, max), 1);
	assert_message(&m, text, len);
	assert_true(m.cap > len);
	msg_reset(&m);
	assert_freed(&m);
	assert_int_equal(add(&m, "next", WHOLE, max), 1);
	assert_message(&m, "next", 4);

	/* a small one: ready for the next (its buffer may stay) */
	msg_reset(&m);
	assert_int_equal(m.len, 0);
	assert_false(m.too_big);
	assert_int_equal(add(&m, "then", WHOLE, max), 1);
	assert_message(&m, "then", 4);

	/* a reset in the middle of a message that went over the limit
	 * forgets that too */
	assert_int_equal(msg_add(&m, text, len, CB_MSG_FIRST, 1000), 0);
	assert_true(m.too_big);
	msg_reset(&m);
	assert_int_equal(m.len, 0);
	assert_false(m.too_big);
	assert_int_equal(add(&m, "{}", WHOLE, 1000), 1);
	assert_message(&m, "{}", 2);

	/* a reset of a freed message, and a second free, are harmless */
	msg_free(&m);
	msg_reset(&m);
	assert_freed(&m);
	msg_free(&m);
	assert_freed(&m);
	free(text);
}

/* Whole numbers from 0 to 2^53 - 1 are read exactly; anything else
 * (negative, fractional, too large, not a number) is -1. */
static void test_whole_number(void **)
{
	static const struct {
		const char *json;
		int64_t want;
	} cases[] = {
		{"0", 0},
		{"1", 1},
		{"49152", 49152},
		{"4294967296", 4294967296LL},
		{"1e3", 1000},
		{"2.0", 2},
		{"9007199254740991", 9007199254740991LL},
		{"9007199254740992", -1},
		{"1e300", -1},
		{"-1", -1},
		{"-0.5", -1},
		{"1.5", -1},
		{"\"12\"", -1},
		{"true", -1},
		{"null", -1},
		{"[1]", -1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *j = cJSON_Parse(cases[i].json);
		assert_non_null(j);
		assert_int_equal(json_whole_number(j), cases[i].want);
		cJSON_Delete(j);
	}
	assert_int_equal(json_whole_number(NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_piece),
		cmocka_unit_test(test_several_pieces),
		cmocka_unit_test(test_next_message_replaces),
		cmocka_unit_test(test_empty_message),
		cmocka_unit_test(test_over_limit_in_pieces),
		cmocka_unit_test(test_exactly_at_limit),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_whole_number),
	};
	return cmocka_run_group_tests_name("message", tests, NULL, NULL);
}
