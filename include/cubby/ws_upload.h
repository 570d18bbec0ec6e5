/* ws_upload.h: protocol 1's /upload WebSocket, one MD5-checked upload
 * per connection (docs/projects-files.md). */
#pragma once
#include "cubby/net.h"

extern const cb_endpoint ws_upload_endpoints[];
