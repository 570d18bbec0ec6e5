/* jsonpatch.h: RFC 6902 JSON Patch over cJSON, with RFC 6901 pointers
 * ("~0" is '~', "~1" is '/', "-" the end of an array), for spec 3's
 * "reversible" patches (DESIGN §7): applying a patch also yields the
 * patch that undoes it.
 *
 * (Debian's libcjson-dev ships no cJSON_Utils, which has a patch
 * implementation but no inverse.) */
#pragma once
#include <stddef.h>
#include <cjson/cJSON.h>
#include "cubby/status.h"

/* Applies `patch` (an array of operations) to *doc, all or nothing: on
 * CB_OK *doc is the patched document (the old one is freed or reused)
 * and, when revert is not NULL, *revert a new patch that turns the result
 * back into the original. On failure *doc is as it was, *revert NULL and
 * err says which operation failed and why:
 *   CB_ERR_INVAL  the patch is malformed (not an array, an unknown op, a
 *                 missing or duplicated member, a bad pointer), or an
 *                 operation cannot apply (no such path, an index out of
 *                 range, a move into its own child);
 *   CB_ERR_TEST   a "test" operation found another value;
 *   CB_ERR_NOMEM. */
cb_status jsonpatch_apply(cJSON **doc, const cJSON *patch, cJSON **revert, char *err,
			  size_t errsz);

/* A patch that turns `from` into `to` (neither is changed; equal as
 * cJSON_Compare says, member order aside): objects are compared member
 * by member, recursively, removes and replaces in `from`'s member order,
 * then adds in `to`'s; anything else that differs (arrays, scalars, a
 * change of type, an object with a member name twice) is replaced whole,
 * the root at "". Equal documents give []. NULL when out of memory. */
cJSON *jsonpatch_diff(const cJSON *from, const cJSON *to);
