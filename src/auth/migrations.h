// Schema of the auth module: users, refresh_tokens, api_keys, audit_events (versions 100..199).
#pragma once

#include <vector>

#include "store/db.h"

namespace secplat::auth {

std::vector<store::Migration> auth_migrations();

}  // namespace secplat::auth
