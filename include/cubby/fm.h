/* fm.h: protocol 5, the file manager (docs/file-manager.md): POST /fm
 * (add, update, delete, get_partial_size, reset, commit) and the file
 * URLs GET /u/<user>/<path>. */
#pragma once
#include "cubby/net.h"

extern const cb_endpoint fm_endpoints[];
