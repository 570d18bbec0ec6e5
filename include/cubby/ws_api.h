/* ws_api.h: protocol 1's /ws WebSocket, project and file actions and
 * their broadcasts (docs/projects-files.md). */
#pragma once
#include "cubby/net.h"

extern const cb_endpoint ws_api_endpoints[];
