// The posture module's schema (versions 600..699): health events, derived asset status, the
// deriver's cursor and report snapshots.
#pragma once

#include <vector>

#include "store/db.h"

namespace secplat::posture {

std::vector<store::Migration> posture_migrations();

}  // namespace secplat::posture
