#include "assurance/bundle_verify.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "assurance/attestation.h"
#include "assurance/signing_key.h"
#include "core/encoding.h"
#include "core/json.h"
#include "crypto/dsse.h"
#include "crypto/ecdsa.h"

namespace secplat::assurance {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxAttestationBytes = 32 * 1024 * 1024;
constexpr std::size_t kMaxManifestBytes = 64 * 1024 * 1024;

// The attested subjects (path -> sha256), or a problem explaining why there are none.
Result<std::map<std::string, std::string>> signed_subjects(const std::string& bundle_dir, std::string_view public_pem,
                                                           std::vector<std::string>& problems) {
  std::string path = (fs::path(bundle_dir) / kAttestationPath).string();
  auto text = read_small_file(path, kMaxAttestationBytes);
  if (!text) return Error::bad_request(std::string(kAttestationPath) + ": " + text.error().message);
  Json envelope = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (envelope.is_discarded()) return Error::bad_request(std::string(kAttestationPath) + ": not valid JSON");
  auto payload = crypto::dsse_verify(envelope, public_pem);
  if (!payload) return Error::bad_request(std::string(kAttestationPath) + ": " + payload.error().message);
  if (envelope.value("payloadType", "") != kInTotoPayloadType) {
    return Error::bad_request(std::string(kAttestationPath) + ": payloadType is not " + kInTotoPayloadType);
  }
  Json statement = Json::parse(*payload, nullptr, /*allow_exceptions=*/false);
  if (!statement.is_object() || statement.value("_type", "") != kStatementType) {
    return Error::bad_request(std::string(kAttestationPath) + ": payload is not an in-toto Statement v1");
  }
  auto subjects = statement.find("subject");
  if (subjects == statement.end() || !subjects->is_array()) {
    return Error::bad_request(std::string(kAttestationPath) + ": statement has no subject list");
  }
  std::map<std::string, std::string> out;
  for (const Json& s : *subjects) {
    const Json* name = s.is_object() && s.contains("name") ? &s["name"] : nullptr;
    if (name == nullptr || !name->is_string()) {
      problems.push_back("attestation subject without a name: " + s.dump());
      continue;
    }
    std::string n = name->get<std::string>();
    if (!is_clean_relative_path(n)) {
      problems.push_back("attestation subject escapes the bundle: " + n);
      continue;
    }
    std::string digest;
    if (auto d = s.find("digest"); d != s.end() && d->is_object() && d->contains("sha256") && (*d)["sha256"].is_string()) {
      digest = (*d)["sha256"].get<std::string>();
    }
    if (!is_sha256_hex(digest)) {
      problems.push_back("attestation subject has no sha256 digest: " + n);
      continue;
    }
    if (!out.emplace(n, digest).second) problems.push_back("attestation lists a file twice: " + n);
  }
  return out;
}

}  // namespace

Result<BundleReport> verify_bundle(const std::string& bundle_dir, std::string_view public_pem) {
  if (crypto::ec_key_id(public_pem).empty()) return Error::bad_request("not a P-256 public key");
  auto listing = list_bundle_files(bundle_dir);
  if (!listing) return listing.error();

  BundleReport report;
  auto subjects = signed_subjects(bundle_dir, public_pem, report.problems);
  if (!subjects) {
    report.problems.insert(report.problems.begin(), subjects.error().message);
    return report;
  }
  report.problems.insert(report.problems.end(), listing->refused.begin(), listing->refused.end());

  std::map<std::string, std::string> on_disk;
  for (const BundleFile& f : listing->files) on_disk.emplace(f.path, f.sha256_hex);
  for (const auto& [path, digest] : *subjects) {
    auto it = on_disk.find(path);
    if (it == on_disk.end()) {
      report.problems.push_back("missing file: " + path + " is attested but not in the bundle");
    } else if (it->second != digest) {
      report.problems.push_back("modified file: " + path + " does not match its attested sha256");
    } else {
      ++report.files_checked;
    }
  }
  for (const auto& [path, digest] : on_disk) {
    if (!subjects->count(path)) report.problems.push_back("unattested file: " + path + " is not in the attestation");
  }

  if (on_disk.count("manifest.sig")) {
    auto sig = read_small_file((fs::path(bundle_dir) / "manifest.sig").string(), 64 * 1024);
    auto manifest = read_small_file((fs::path(bundle_dir) / "manifest.json").string(), kMaxManifestBytes);
    if (!manifest) {
      report.problems.push_back("manifest.sig: manifest.json cannot be read: " + manifest.error().message);
    } else if (!sig) {
      report.problems.push_back("manifest.sig: " + sig.error().message);
    } else if (Status v = crypto::ec_verify_b64(public_pem, *manifest, *sig); !v.ok()) {
      report.problems.push_back("manifest.sig: " + v.error().message + " for manifest.json");
    }
  }
  report.ok = report.problems.empty();
  return report;
}

}  // namespace secplat::assurance
