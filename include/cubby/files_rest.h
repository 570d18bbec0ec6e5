/* files_rest.h: protocol 3's REST API, `/files` and its alias `/file`
 * (docs/files-api.md): files (nodes), their content (`?alt=media`),
 * permissions and revisions. */
#pragma once
#include "cubby/net.h"

extern const cb_endpoint files_rest_endpoints[];
