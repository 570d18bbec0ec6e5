/* buf.cpp: the test clients' growable byte string (t_buf, support.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
extern "C" {
#include <cmocka.h>
}
#include <stdlib.h>
#include <string.h>

#include "support.h"

int t_buf_reserve(t_buf *b, size_t more)
{
	if (b->len + more + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *p = (char *)realloc(b->p, cap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

void t_buf_add(t_buf *b, const void *p, size_t n)
{
	assert_int_equal(t_buf_reserve(b, n), 0);
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = 0;
}

void t_buf_str(t_buf *b, const char *s)
{
	t_buf_add(b, s, strlen(s));
}

void t_buf_free(t_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}
