/* test_rx_pool.cpp: the pool of WebSocket receive buffers (src/net/
 * rx_pool.cpp), through the allocator it installs in libwebsockets:
 * receive buffers come from page-aligned slots that are not resident
 * until written and are given back when freed; every other allocation,
 * and a receive buffer when the slots are all taken or too small, comes
 * from the heap; a buffer moved out of the pool keeps its bytes; under
 * AddressSanitizer, a slot past its buffer is poisoned. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
extern "C" {
#include <cmocka.h>
}

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../src/net/net_internal.h"

#define BUF 65536

/* libwebsockets' allocation entry point (declared only for event-loop
 * plugins, in lws-eventlib-exports.h):
 * all its lws_malloc() and lws_free() go through it, as here. */
extern "C" void *lws_realloc(void *ptr, size_t size, const char *reason);
static void lws_free(void *p)
{
	lws_realloc(p, 0, "lws_free");
}

static size_t page(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* Whether the page at p is resident (mincore). */
static bool resident(const void *p)
{
	unsigned char v = 0;
	void *pg = (void *)((uintptr_t)p & ~(uintptr_t)(page() - 1));
	assert_int_equal(mincore(pg, page(), &v), 0);
	return v & 1;
}

static int setup(void **state)
{
	(void)state;
	rx_pool_init(2, BUF);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rx_pool_destroy();
	return 0;
}

static void test_slots_are_pages_untouched_until_written(void **state)
{
	(void)state;
	unsigned char *a = (unsigned char *)lws_realloc(NULL, BUF + LWS_PRE + 4, "rx_ubuf");
	unsigned char *b = (unsigned char *)lws_realloc(NULL, BUF + LWS_PRE + 4, "rx_ubuf");
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal((uintptr_t)a % page(), 0);
	assert_int_equal((uintptr_t)b % page(), 0);
	size_t gap = a > b ? (size_t)(a - b) : (size_t)(b - a);
	assert_true(gap >= BUF + LWS_PRE + 4);
	assert_false(resident(a));
	a[LWS_PRE] = 1;
	assert_true(resident(a));
	assert_false(resident(b));
	lws_free(a);
	lws_free(b);
}

static void test_freed_slot_is_given_back_and_reused(void **state)
{
	(void)state;
	unsigned char *a = (unsigned char *)lws_realloc(NULL, BUF, "rx_ubuf");
	memset(a, 0x5a, BUF);
	lws_free(a);
	assert_false(resident(a));
	unsigned char *again = (unsigned char *)lws_realloc(NULL, BUF, "rx_ubuf");
	assert_ptr_equal(again, a);
	assert_int_equal(again[100], 0); /* fresh zero pages, not the old bytes */
	lws_free(again);
}

static void test_full_pool_and_other_allocations_use_the_heap(void **state)
{
	(void)state;
	void *a = lws_realloc(NULL, BUF, "rx_ubuf");
	void *b = lws_realloc(NULL, BUF, "rx_ubuf");
	void *c = lws_realloc(NULL, BUF, "rx_ubuf"); /* the pool has two slots */
	void *big = lws_realloc(NULL, 4 * BUF, "rx_ubuf");
	void *other = lws_realloc(NULL, BUF, "something else");
	assert_non_null(c);
	assert_non_null(big);
	assert_non_null(other);
	size_t slot = (size_t)((unsigned char *)a > (unsigned char *)b ? (unsigned char *)a - (unsigned char *)b
								       : (unsigned char *)b - (unsigned char *)a);
	unsigned char *lo = (unsigned char *)(a < b ? a : b);
	unsigned char *hi_end = lo + 2 * slot;
	void *heap[] = {c, big, other};
	for (void *p : heap)
		assert_true((unsigned char *)p < lo || (unsigned char *)p >= hi_end);
	memset(c, 1, BUF);
	memset(big, 2, 4 * BUF);
	memset(other, 3, BUF);
	lws_free(c);
	lws_free(big);
	lws_free(other);
	lws_free(a);
	lws_free(b);
}

static void test_realloc_moves_out_keeping_the_bytes(void **state)
{
	(void)state;
	unsigned char *a = (unsigned char *)lws_realloc(NULL, 1000, "rx_ubuf");
	for (int i = 0; i < 1000; i++)
		a[i] = (unsigned char)i;
	unsigned char *m = (unsigned char *)lws_realloc(a, 4 * BUF, "grown");
	assert_non_null(m);
	assert_ptr_not_equal(m, a);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(m[i], (unsigned char)i);
	assert_false(resident(a)); /* the slot was given back */
	lws_free(m);
	assert_null(lws_realloc(NULL, 0, "nothing"));
}

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
/* Under AddressSanitizer what lws was not given of a slot is poisoned,
 * and all of a slot once it is given back. */
static void test_slot_beyond_the_buffer_is_poisoned(void **state)
{
	(void)state;
	char *a = (char *)lws_realloc(NULL, 1000, "rx_ubuf");
	assert_false(__asan_address_is_poisoned(a + 999));
	assert_true(__asan_address_is_poisoned(a + 1000));
	lws_free(a);
	assert_true(__asan_address_is_poisoned(a));
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_slots_are_pages_untouched_until_written, setup, teardown),
		cmocka_unit_test_setup_teardown(test_freed_slot_is_given_back_and_reused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_pool_and_other_allocations_use_the_heap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_realloc_moves_out_keeping_the_bytes, setup, teardown),
#if defined(__SANITIZE_ADDRESS__)
		cmocka_unit_test_setup_teardown(test_slot_beyond_the_buffer_is_poisoned, setup, teardown),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
