/* line_internal.h: what the two files of the line protocol share:
 * line.cpp (framing, version, login, dispatch) and line_files.cpp (the
 * commands on files). Private to them. */
#pragma once
#include <stdint.h>
#include <cjson/cJSON.h>
#include "cubby/auth.h"
#include "cubby/blob.h"
#include "cubby/net.h"

#define LINE_FILE_MAX (CB_PATH_MAX + 1 + CB_NAME_MAX) /* "folder/name" */
#define LIST_CHUNK 100 /* names per listdata (DESIGN §7) */

/* A transfer of one file in chunks (put or get): which, and how far. */
struct line_transfer {
	bool active;
	char file[LINE_FILE_MAX + 1]; /* the name as the client gave it */
	uint64_t size;                /* bytes */
	uint64_t chunks;
	uint64_t next;                /* the chunk expected next */
};

struct line_conn {
	/* framing: input not yet taken (in[0..len)), of which the first
	 * `scanned` bytes hold no '\n' */
	char *in;
	size_t len, cap, scanned;
	bool paused;      /* reading stopped until the answers go out */
	bool closing;     /* the last answer is queued: read no more */
	enum { LINE_VERSION, LINE_LOGIN, LINE_READY } phase;
	cb_user user;

	line_transfer put;
	cb_upload *up;    /* the put's upload */
	uint64_t received;

	line_transfer get;
	int fd;           /* the get's content, opened at `get`; -1 none */

	/* list: the names taken at `list`, NUL-separated, and the order
	 * they are sent in; the first of the next chunk */
	bool listing;
	uint64_t items, list_chunks, list_next;
	char *names;
	size_t names_len, names_cap;
	const char **order;
	uint64_t order_pos;
};

/* Queues j as one line (minimised, '\n') and frees it. 0, or -1 when the
 * connection is being dropped. */
int line_send(cb_conn *c, cJSON *j);
/* The connection closes once the answers queued are out. */
void line_finish(cb_conn *c);

/* line_files.cpp: the commands (j: the parsed line) and the cleanup. */
int line_status(cb_conn *c, const cJSON *j);
int line_list(cb_conn *c, const cJSON *j);
int line_listdata(cb_conn *c, const cJSON *j);
int line_put(cb_conn *c, const cJSON *j);
int line_putdata(cb_conn *c, const cJSON *j);
int line_get(cb_conn *c, const cJSON *j);
int line_getdata(cb_conn *c, const cJSON *j);
/* Ends whatever put, get and list is going on (the put stores nothing). */
void line_files_end(line_conn *l);
