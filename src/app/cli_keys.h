// `secplat keygen` and `secplat verify`: offline key and bundle tools. Each returns the exit code:
// 0 success, 1 refused or failed (verification failed, key exists, I/O error), 2 usage (bad
// arguments, missing input files). Output goes to stdout, errors to stderr.
#pragma once

#include <string>

namespace secplat::app {

// Writes <out_dir>/signing.key (0600) and signing.pub; refuses to replace either without `force`.
int run_keygen(const std::string& out_dir, bool force);

// Verifies a bundle directory against a PEM public key file; prints "OK: N files verified" or
// one line per problem.
int run_verify(const std::string& bundle_dir, const std::string& pub_key_file);
// `secplat verify --entry FILE --key PUB`: FILE is the JSON of
// GET /v1/transparency/{entry_id}?include_proof=true. Re-hashes the entry, checks its inclusion
// proof against the proof's checkpoint and the checkpoint's signature. 0 verified, 1 not, 2 usage.
int run_verify_entry(const std::string& entry_file, const std::string& pub_key_file);

}  // namespace secplat::app
