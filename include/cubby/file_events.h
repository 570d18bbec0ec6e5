/* file_events.h: protocol 3's event WebSockets (shared/spec/3,
 * docs/files-api.md "Event WebSockets"): `/files` (and `/file`), the
 * metadata events of every node the user may see; `/files/<id>?alt=media`
 * (and `/file/...`), one node's content events and the live streams of
 * protocol 2 (docs/resumable-upload.md). */
#pragma once
#include "cubby/net.h"

extern const cb_endpoint file_events_endpoints[];
