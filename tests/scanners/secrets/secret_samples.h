// Synthetic credentials, one or more per built-in rule, generated at run time.
//
// Values are assembled from a seeded PRNG and split prefixes so the repository never contains
// a live-looking secret (keeps push protection quiet). None is a real credential.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace secplat::scanners::secrets::testing {

struct SecretSample {
  std::string rule_id;  // the rule expected to report it
  std::string text;     // file content (one line, or several for PEM blocks), no trailing newline
  std::string secret;   // exact value the rule should capture; "" if only presence is checked
};

// One sample per built-in rule family member; `seed` varies all random parts.
std::vector<SecretSample> secret_samples(uint64_t seed);

}  // namespace secplat::scanners::secrets::testing
