// The instance's bundle-signing key: an ECDSA P-256 key pair kept as two PEM files,
// `<key_dir>/signing.key` (PKCS#8, mode 0600) and `<key_dir>/signing.pub` (SPKI, 0644, the file
// `secplat verify --key` and `cosign verify-blob --key` take). For the server, key_dir is
// `<data_dir>/keys`.
//
// Threading: call at startup or from the CLI. Two processes creating the key at the same time
// still agree on one key (the private key is published with link(2), which never replaces).
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"
#include "crypto/ecdsa.h"

namespace secplat::assurance {

inline constexpr const char* kSigningKeyFile = "signing.key";
inline constexpr const char* kSigningPubFile = "signing.pub";

// Loads `<data_dir>/keys/signing.key`, creating the key pair on first use. An existing but
// unreadable/corrupt/group-readable key file, or a signing.pub that belongs to another key, is an
// error naming the file: a key is never silently replaced, since that would orphan every bundle
// signed so far. A missing signing.pub is re-derived from the private key.
Result<crypto::EcKeyPair> load_or_create_signing_key(const std::string& data_dir);

// Reads and checks the pair in key_dir (same checks as above, nothing is created).
Result<crypto::EcKeyPair> load_signing_key(const std::string& key_dir);

// Writes both files into key_dir (created 0700 when missing). Without `overwrite`,
// Errc::conflict when signing.key or signing.pub already exists.
Status save_signing_key(const std::string& key_dir, const crypto::EcKeyPair& key, bool overwrite);

// Writes `bytes` to a temp file next to `path` (with `mode`), fsyncs it and renames it over
// `path`, so readers see the old file or the new one, never a torn one. Also used for
// attestations and signatures.
Status write_file_atomically(const std::string& path, std::string_view bytes, unsigned mode);

// Reads a whole file of at most max_bytes. Errc::not_found if missing.
Result<std::string> read_small_file(const std::string& path, std::size_t max_bytes);

}  // namespace secplat::assurance
