/* fm_url.cpp: protocol 5's file URLs, /u/<user>/<directory>/<filename>
 * (docs/file-manager.md, "File URLs"): made for answers, read back from
 * the url field of update, delete and get_partial_size, and served to
 * whoever may read the file (a public file to anyone, a private one to
 * its owner and those it is shared with, 404 to everyone else), with
 * ranges and ETag by the network layer; ?o=1 serves the original kept by
 * keep_original, ?m=1 adds the panda headers. */
#include <stdio.h>
#include <string.h>

#include "cubby/auth.h"
#include "cubby/blob.h"
#include "cubby/form.h"
#include "cubby/paths.h"
#include "fm_internal.h"

#define URL_PREFIX "/u/"

/* Besides letters and digits, what a URL path's parts keep as they are
 * (RFC 3986 unreserved); the directory keeps its '/' too. */
#define URL_KEEP "-._~"
#define URL_KEEP_SLASH URL_KEEP "/"

void fm_url(const char *user_name, const char *parent, const char *name, char *out, size_t n)
{
	size_t len = (size_t)snprintf(out, n, URL_PREFIX);
	http_percent_encode(user_name, URL_KEEP, out, n, &len);
	http_percent_encode("/", URL_KEEP_SLASH, out, n, &len);
	if (*parent) {
		http_percent_encode(parent, URL_KEEP_SLASH, out, n, &len);
		http_percent_encode("/", URL_KEEP_SLASH, out, n, &len);
	}
	http_percent_encode(name, URL_KEEP, out, n, &len);
}

/* "<user>/<parent>/<name>" (decoded) into its parts; CB_ERR_NOTFOUND
 * when it is not that. */
static cb_status split_user_path(const char *path, char user[CB_USER_NAME_MAX + 1],
				 char parent[CB_PATH_MAX + 1], char name[CB_NAME_MAX + 1])
{
	size_t ulen = strcspn(path, "/");
	if (!ulen || ulen > CB_USER_NAME_MAX || !path[ulen])
		return CB_ERR_NOTFOUND;
	memcpy(user, path, ulen);
	user[ulen] = 0;
	const char *rest = path + ulen + 1;
	if (path_split(rest, strlen(rest), parent, CB_PATH_MAX + 1, name, CB_NAME_MAX + 1))
		return CB_ERR_NOTFOUND;
	return CB_OK;
}

/* The user name and the path after /u/ of a file URL: decoded, the
 * query and any scheme://host dropped. */
static cb_status url_parse(const char *url, char user[CB_USER_NAME_MAX + 1],
			   char parent[CB_PATH_MAX + 1], char name[CB_NAME_MAX + 1])
{
	const char *p = url;
	if (*p != '/') { /* scheme://host/path */
		p = strstr(url, "://");
		if (!p || !(p = strchr(p + 3, '/')))
			return CB_ERR_NOTFOUND;
	}
	size_t len = strcspn(p, "?#"), plen = strlen(URL_PREFIX);
	if (len <= plen || strncmp(p, URL_PREFIX, plen))
		return CB_ERR_NOTFOUND;
	char path[FM_URL_MAX + 1];
	if (len - plen > FM_URL_MAX)
		return CB_ERR_NOTFOUND;
	long n = url_decode(p + plen, len - plen, path);
	if (n < 0 || strlen(path) != (size_t)n) /* a bad escape, or %00 */
		return CB_ERR_NOTFOUND;
	return split_user_path(path, user, parent, name);
}

cb_status fm_url_place(const char *url, const char *user_name, char parent[CB_PATH_MAX + 1],
		       char name[CB_NAME_MAX + 1])
{
	char user[CB_USER_NAME_MAX + 1];
	cb_status s = url_parse(url, user, parent, name);
	return s ? s : strcmp(user, user_name) ? CB_ERR_NOTFOUND : CB_OK;
}

/* The live node of user/<path> that viewer ("" anonymous) may read. */
static cb_status node_at(cb_store *st, const char *viewer, const char *user, const char *parent,
			 const char *name, cb_node *out)
{
	cb_user owner;
	cb_status s = auth_user_get(st, user, &owner);
	return s ? s : store_node_find(st, viewer, owner.id, parent, name, out);
}

cb_status fm_url_node(cb_store *st, const char *actor, const char *url, cb_node *out)
{
	char user[CB_USER_NAME_MAX + 1], parent[CB_PATH_MAX + 1], name[CB_NAME_MAX + 1];
	cb_status s = url_parse(url, user, parent, name);
	return s ? s : node_at(st, actor, user, parent, name, out);
}

/* ---- serving ---- */

/* j printed as JSON with every non-ASCII character as \uXXXX, so that it
 * fits in a header; false when it does not fit in out. */
static bool ascii_json(const cJSON *j, char *out, size_t n)
{
	char *s = cJSON_PrintUnformatted(j);
	size_t len = 0;
	bool ok = s != NULL;
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); ok && *p;) {
		unsigned cp = *p, extra = 0;
		if (cp >= 0xf0)
			cp &= 0x07, extra = 3;
		else if (cp >= 0xe0)
			cp &= 0x0f, extra = 2;
		else if (cp >= 0xc0)
			cp &= 0x1f, extra = 1;
		for (unsigned i = 1; i <= extra && p[i]; i++)
			cp = (cp << 6) | (p[i] & 0x3f);
		p += 1 + extra;
		int w;
		if (!extra)
			w = snprintf(out + len, n - len, "%c", (char)cp);
		else if (cp < 0x10000)
			w = snprintf(out + len, n - len, "\\u%04x", cp);
		else
			w = snprintf(out + len, n - len, "\\u%04x\\u%04x", 0xd800 + ((cp - 0x10000) >> 10),
				     0xdc00 + ((cp - 0x10000) & 0x3ff));
		ok = w > 0 && (size_t)w < n - len;
		len += ok ? (size_t)w : 0;
	}
	cJSON_free(s);
	return ok;
}

int fm_serve(cb_conn *c)
{
	char user[CB_USER_NAME_MAX + 1], parent[CB_PATH_MAX + 1], name[CB_NAME_MAX + 1], flag[4];
	if (split_user_path(conn_path_rest(c), user, parent, name))
		return http_error(c, 404, "file not found");
	bool original = conn_query(c, "o", flag, sizeof(flag)) && !strcmp(flag, "1");
	bool panda = conn_query(c, "m", flag, sizeof(flag)) && !strcmp(flag, "1");

	cb_store *st = conn_store(c);
	cb_node n;
	node_init(&n);
	const cb_user *viewer = conn_user(c);
	cb_status s = node_at(st, viewer ? viewer->id : "", user, parent, name, &n);
	const char *blob = original ? n.original : n.blob;
	int fd = -1, rc;
	int64_t size = !s && *blob ? blob_size(st, blob) : -1;
	if (s || !*blob) {
		rc = http_error(c, 404, !s && original ? "no original kept" : "file not found");
	} else if (size < 0 || (fd = blob_open(st, blob)) < 0) {
		rc = http_error(c, 500, "cannot read the file");
	} else {
		char etag[CB_ID_LEN + 8], disp[HTTP_DISPOSITION_MAX], url[FM_URL_MAX + 1],
			orig[FM_URL_MAX + 8], tags[2048];
		/* a blob never changes: its id tells one content from another */
		snprintf(etag, sizeof(etag), "\"%s\"", blob);
		http_disposition(n.name, disp, sizeof(disp));
		fm_url(user, n.parent, n.name, url, sizeof(url));
		snprintf(orig, sizeof(orig), "%s?o=1", url);
		cb_header extra[6] = {{"content-disposition:", disp}};
		size_t h = 1;
		if (panda) {
			extra[h++] = {"panda_url:", url};
			extra[h++] = {"panda_is_private:", n.anyone < CB_ROLE_READER ? "1" : "0"};
			if (ascii_json(n.tags, tags, sizeof(tags)))
				extra[h++] = {"panda_tags:", tags};
			if (n.original[0])
				extra[h++] = {"panda_fmp_original_url:", orig};
		}
		extra[h] = {NULL, NULL};
		const char *type = n.mime[0] && mime_printable(n.mime) ? n.mime : CB_MIME_DEFAULT;
		rc = http_serve_fd(c, fd, (uint64_t)size, type, etag, extra);
	}
	node_clear(&n);
	return rc;
}
