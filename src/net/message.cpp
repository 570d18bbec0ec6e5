/* message.cpp: puts a WebSocket text message together from the pieces
 * libwebsockets delivers (at most rx_buffer_size bytes each), within a
 * size limit, for the modules that read whole JSON messages; and reads
 * the whole numbers (sizes, offsets, counts) of such messages. */
#include <stdlib.h>
#include <string.h>
#include "cubby/net.h"

#define MSG_KEEP 4096 /* a buffer up to this size is kept between messages */

int msg_add(cb_message *m, const void *piece, size_t len, unsigned flags, size_t max)
{
	if (flags & CB_MSG_FIRST) {
		m->len = 0;
		m->too_big = false;
	}
	if (!m->too_big && m->len + len > max) {
		m->too_big = true;
		m->len = 0;
	}
	if (!m->too_big) {
		if (m->len + len + 1 > m->cap) {
			size_t cap = m->cap ? m->cap : 256;
			while (cap < m->len + len + 1)
				cap *= 2;
			char *d = (char *)realloc(m->data, cap);
			if (!d)
				return -1;
			m->data = d;
			m->cap = cap;
		}
		if (len)
			memcpy(m->data + m->len, piece, len);
		m->len += len;
		m->data[m->len] = 0;
	}
	return (flags & CB_MSG_FINAL) ? 1 : 0;
}

void msg_reset(cb_message *m)
{
	m->len = 0;
	m->too_big = false;
	if (m->cap > MSG_KEEP)
		msg_free(m);
}

void msg_free(cb_message *m)
{
	free(m->data);
	memset(m, 0, sizeof(*m));
}

int64_t json_whole_number(const cJSON *v)
{
	const double exact_max = 9007199254740992.0; /* 2^53 */
	if (!cJSON_IsNumber(v))
		return -1;
	double d = v->valuedouble;
	return d >= 0 && d < exact_max && d == (double)(int64_t)d ? (int64_t)d : -1;
}
