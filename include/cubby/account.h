/* account.h: the accounts and sessions endpoints (/api/signup, /api/login,
 * /api/logout, /api/me and /users/me, /api/users); docs/accounts.md. */
#pragma once
#include "cubby/net.h"

extern const cb_endpoint account_endpoints[];
