/* resumable.h: protocol 2's resumable `/ws/Upload` WebSocket and
 * `DELETE /files/<id>/upload` (docs/resumable-upload.md). */
#pragma once
#include "cubby/net.h"

extern const cb_endpoint resumable_endpoints[];
