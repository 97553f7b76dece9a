#include "app/cli_keys.h"

#include <filesystem>
#include <iostream>

#include "assurance/bundle_verify.h"
#include "assurance/signing_key.h"
#include "crypto/ecdsa.h"

namespace secplat::app {

int run_keygen(const std::string& out_dir, bool force) {
  std::error_code ec;
  if (out_dir.empty()) {
    std::cerr << "keygen: --out DIR must not be empty\n";
    return 2;
  }
  if (std::filesystem::exists(out_dir, ec) && !std::filesystem::is_directory(out_dir, ec)) {
    std::cerr << "keygen: " << out_dir << " is not a directory\n";
    return 2;
  }
  auto key = crypto::ec_p256_generate();
  if (!key) {
    std::cerr << "keygen: " << key.error().message << "\n";
    return 1;
  }
  Status saved = assurance::save_signing_key(out_dir, *key, force);
  if (!saved.ok()) {
    std::cerr << "keygen: " << saved.error().message;
    if (saved.error().code == Errc::conflict) std::cerr << " (use --force to replace it)";
    std::cerr << "\n";
    return 1;
  }
  std::filesystem::path dir(out_dir);
  std::cout << "wrote " << (dir / assurance::kSigningKeyFile).string() << " (keep it secret) and "
            << (dir / assurance::kSigningPubFile).string() << "\n"
            << "key id: " << crypto::ec_key_id(key->public_pem) << "\n";
  return 0;
}

int run_verify(const std::string& bundle_dir, const std::string& pub_key_file) {
  auto pem = assurance::read_small_file(pub_key_file, 64 * 1024);
  if (!pem) {
    std::cerr << "verify: cannot read public key: " << pem.error().message << "\n";
    return 2;
  }
  auto report = assurance::verify_bundle(bundle_dir, *pem);
  if (!report) {
    std::cerr << "verify: " << report.error().message << "\n";
    return 2;
  }
  if (report->ok) {
    std::cout << "OK: " << report->files_checked << " files verified\n";
    return 0;
  }
  for (const std::string& p : report->problems) std::cout << p << "\n";
  return 1;
}

}  // namespace secplat::app
