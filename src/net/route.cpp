/* route.cpp: finds the endpoint of a request by transport, method and
 * path in the modules' endpoint tables (include/cubby/net.h). */
#include <string.h>
#include "net_internal.h"

void route_normalise(char *path)
{
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	if (!n)
		strcpy(path, "/");
}

/* "/a/b" matches "/a/b"; "/a/ *" (no space) matches "/a/x" and "/a/x/y",
 * with *rest = "x" or "x/y"; "/a/ * /c" (no spaces) matches "/a/x/c", with
 * *rest = "x/c". */
static bool pattern_match(const char *pattern, const char *path, const char **rest)
{
	char prev = 0;
	*rest = "";
	while (*pattern) {
		if (pattern[0] == '*' && prev == '/' && (!pattern[1] || pattern[1] == '/')) {
			size_t seg = strcspn(path, "/");
			if (!seg)
				return false;
			if (!**rest)
				*rest = path;
			if (!pattern[1])
				return true; /* a trailing '*' takes the rest */
			prev = *pattern++;
			path += seg;
			continue;
		}
		if ((prev = *pattern++) != *path++)
			return false;
	}
	return !*path;
}

const cb_endpoint *route_find(const cb_endpoint *const *tables, cb_transport transport,
			      unsigned method, const char *path, const char **rest,
			      unsigned *path_methods)
{
	*path_methods = 0;
	for (; *tables; tables++) {
		for (const cb_endpoint *ep = *tables; ep->transport; ep++) {
			if (!ep->path || !pattern_match(ep->path, path, rest))
				continue;
			if (ep->transport == transport &&
			    (transport != CB_HTTP || (ep->methods & method)))
				return ep;
			if (ep->transport == CB_HTTP)
				*path_methods |= ep->methods;
		}
	}
	return NULL;
}
