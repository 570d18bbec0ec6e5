/* line.h: protocol 4, the newline-delimited JSON line protocol on raw TCP
 * (line_port; docs/line-protocol.md): version, login or signup, then
 * status, list, put, get and close. */
#pragma once
#include "cubby/net.h"

extern const cb_endpoint line_endpoints[];
