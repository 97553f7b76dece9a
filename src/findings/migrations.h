// Schema of assets and findings (versions 300..399). The assets table lives here rather than in
// posture because findings reference it and the findings module sits below posture.
#pragma once

#include <vector>

#include "store/db.h"

namespace secplat::findings {

std::vector<store::Migration> findings_migrations();

}  // namespace secplat::findings
