/* file_events.h: protocol 3's event WebSockets (shared/spec/3). So far
 * the media socket `/files/<id>?alt=media`, relaying live streams
 * (docs/resumable-upload.md). */
#pragma once
#include "cubby/net.h"

extern const cb_endpoint file_events_endpoints[];
