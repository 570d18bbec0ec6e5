/* test_ids.cpp: UUID v4 shape and uniqueness, the UUID syntax check, and
 * hex encoding both ways. */
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

#include "cubby/ids.h"

#define NUUIDS 1000

static char g_uuids[NUUIDS][CB_ID_LEN + 1];

static int cmp_id(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static void test_uuid4(void **state)
{
	(void)state;

	for (int i = 0; i < NUUIDS; i++) {
		char *u = g_uuids[i];
		memset(u, 'Z', CB_ID_LEN + 1);
		assert_int_equal(id_uuid4(u), 0);
		assert_int_equal(strlen(u), CB_ID_LEN);
		assert_true(id_is_uuid(u));
		assert_int_equal(u[14], '4');
		assert_non_null(strchr("89ab", u[19]));
		for (int j = 0; j < CB_ID_LEN; j++)
			assert_true(u[j] < 'A' || u[j] > 'F'); /* lowercase */
	}
	qsort(g_uuids, NUUIDS, sizeof g_uuids[0], cmp_id);
	for (int i = 1; i < NUUIDS; i++)
		assert_string_not_equal(g_uuids[i - 1], g_uuids[i]);
}

static void test_is_uuid(void **state)
{
	(void)state;
	static const char *const good[] = {
		"00000000-0000-0000-0000-000000000000",
		"123e4567-e89b-42d3-a456-426614174000",
		"123E4567-E89B-42D3-A456-426614174000",
		"ffffffff-ffff-1fff-cfff-ffffffffffff", /* not v4, still a UUID */
	};
	static const char *const bad[] = {
		"",
		"123e4567-e89b-42d3-a456-42661417400",   /* 35 */
		"123e4567-e89b-42d3-a456-4266141740000", /* 37 */
		"123e4567e89b-42d3-a456-426614174000-",  /* dash moved */
		"123e4567-e89b-42d3-a4564-26614174000",
		"123e45670e89b042d30a4560426614174000",  /* no dashes */
		"{23e4567-e89b-42d3-a456-426614174000",
		"123e4567-e89b-42d3-a456-42661417400g",
		"123e4567-e89b-42d3-a456-42661417400 ",
		" 123e4567-e89b-42d3-a456-42661417400",
		"123e4567-e89b-42d3-a456_426614174000",
		"123e4567-e89b-42d3-a456-42661417400\n",
		"../../../../../../../../../etc/passw",
		"123e4567-e89b-42d3-a456--26614174000",
	};

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		assert_true(id_is_uuid(good[i]));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (id_is_uuid(bad[i]))
			fail_msg("id_is_uuid accepted \"%s\"", bad[i]);
	assert_false(id_is_uuid(NULL));

	/* the check stops at the NUL: nothing past a short string is read */
	char *shortid = (char *)malloc(9);
	assert_non_null(shortid);
	memcpy(shortid, "123e4567", 9);
	assert_false(id_is_uuid(shortid));
	free(shortid);
}

static void test_random(void **state)
{
	(void)state;
	unsigned char a[64], b[64];

	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	assert_int_equal(id_random(a, sizeof a), 0);
	assert_int_equal(id_random(b, sizeof b), 0);
	assert_memory_not_equal(a, b, sizeof a);
	assert_int_equal(id_random(a, 0), 0);

	/* big enough that getrandom(2) may answer in pieces */
	static unsigned char big[1 << 20];
	assert_int_equal(id_random(big, sizeof big), 0);
	size_t zeros = 0;
	for (size_t i = 0; i < sizeof big; i++)
		zeros += big[i] == 0;
	assert_true(zeros > 2000 && zeros < 6200); /* about 4096 expected */
}

static void test_hex_round_trip(void **state)
{
	(void)state;
	unsigned char in[256], back[256];
	char hex[2 * sizeof in + 1];

	for (int i = 0; i < 256; i++)
		in[i] = (unsigned char)i;
	hex_encode(in, sizeof in, hex);
	assert_int_equal(strlen(hex), 2 * sizeof in);
	assert_memory_equal(hex, "000102", 6);
	assert_string_equal(hex + 2 * 250, "fafbfcfdfeff");
	assert_int_equal(hex_decode(hex, back, sizeof back), 0);
	assert_memory_equal(in, back, sizeof in);

	hex_encode(in, 0, hex);
	assert_string_equal(hex, "");
	assert_int_equal(hex_decode("", back, 0), 0);

	unsigned char two[2];
	assert_int_equal(hex_decode("aBcD", two, 2), 0);
	assert_int_equal(two[0], 0xAB);
	assert_int_equal(two[1], 0xCD);
}

static void test_hex_decode_refuses(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"abc",      /* odd */
		"ab",       /* short */
		"",         /* empty */
		"abcdef",   /* long */
		"abcg",     /* not hex */
		"ab c",
		" abc",
		"0xab",
		"ab\ncd",
		"-1ab",
	};
	unsigned char out[2];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(out, 0x5A, sizeof out);
		if (hex_decode(bad[i], out, sizeof out) != -1)
			fail_msg("hex_decode accepted \"%s\"", bad[i]);
		/* a refused input leaves the output alone */
		assert_int_equal(out[0], 0x5A);
		assert_int_equal(out[1], 0x5A);
	}
	assert_int_equal(hex_decode(NULL, out, sizeof out), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uuid4),
		cmocka_unit_test(test_is_uuid),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_hex_round_trip),
		cmocka_unit_test(test_hex_decode_refuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
