/* test_base64.cpp: standard base64 (src/core/base64.cpp): RFC 4648's
 * test vectors both ways, every length and byte value round-tripped
 * (also decoded in place), and every way a string is not standard
 * base64 refused: a length not a multiple of 4, a character outside the
 * alphabet (URL-safe ones too), padding in the wrong place. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
extern "C" {
#include <cmocka.h>
}

#include <string.h>

#include "cubby/base64.h"

static const struct {
	const char *plain, *coded;
} rfc4648[] = {
	{"", ""},
	{"f", "Zg=="},
	{"fo", "Zm8="},
	{"foo", "Zm9v"},
	{"foob", "Zm9vYg=="},
	{"fooba", "Zm9vYmE="},
	{"foobar", "Zm9vYmFy"},
};

static void test_rfc4648_vectors(void **state)
{
	(void)state;
	for (const auto &v : rfc4648) {
		char out[16] = {0};
		size_t n = strlen(v.plain);
		assert_int_equal(base64_encoded_len(n), strlen(v.coded));
		assert_int_equal(base64_encode(v.plain, n, out), strlen(v.coded));
		assert_string_equal(out, v.coded);
		unsigned char back[16];
		assert_int_equal(base64_decode(v.coded, strlen(v.coded), back), (int64_t)n);
		assert_memory_equal(back, v.plain, n);
	}
}

static void test_round_trip_every_length_in_place(void **state)
{
	(void)state;
	unsigned char bytes[300];
	for (int i = 0; i < 300; i++)
		bytes[i] = (unsigned char)(i * 37 + 11); /* every byte value */
	for (size_t n = 0; n <= sizeof(bytes); n++) {
		char coded[404];
		size_t c = base64_encode(bytes, n, coded);
		assert_int_equal(c, base64_encoded_len(n));
		assert_int_equal(base64_decode(coded, c, coded), (int64_t)n); /* in place */
		assert_memory_equal(coded, bytes, n);
	}
}

static void test_not_standard_base64_refused(void **state)
{
	(void)state;
	const char *bad[] = {
		"Zg=",      /* not a multiple of 4 */
		"Zm9vY",
		"Zm9-",     /* URL-safe alphabet */
		"Zm9_",
		"Zm 9",     /* a space */
		"Zm9\n",
		"Z===",     /* too much padding */
		"====",
		"Zg==Zm9v", /* padding before the end */
		"Zm=v",
		"Zm9v\xc3\xa9==",
	};
	for (const char *s : bad) {
		char out[16];
		assert_int_equal(base64_decode(s, strlen(s), out), -1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_round_trip_every_length_in_place),
		cmocka_unit_test(test_not_standard_base64_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
