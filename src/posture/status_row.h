// Reading one `asset_status` row (internal to the posture module: the deriver and PostureView).
#pragma once

#include "posture/derive_rules.h"
#include "store/db.h"

namespace secplat::posture {

// with_history: also parse the raw-result ring (the deriver needs it; readers do not).
AssetState asset_state_from_row(const store::Row& row, bool with_history);

}  // namespace secplat::posture
