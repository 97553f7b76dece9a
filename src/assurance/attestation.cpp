#include "assurance/attestation.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>

#include <openssl/evp.h>

#include "assurance/signing_key.h"
#include "core/clock.h"
#include "core/encoding.h"
#include "core/json.h"
#include "crypto/dsse.h"

namespace secplat::assurance {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxSignedFileBytes = 64 * 1024 * 1024;

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

Result<std::string> file_digest_hex(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error::internal("cannot open " + file.string());
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return Error::internal("sha256 init failed");
  std::string buf(64 * 1024, '\0');
  while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) {
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) return Error::internal("cannot read " + file.string());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  return hex_encode(std::string_view(reinterpret_cast<char*>(md), len));
}

bool all_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// SLSA ResourceDescriptor digest: "gitCommit" for a git object id, "sha256" for a content hash.
Json source_digest(std::string_view d) {
  if (d.rfind("sha256:", 0) == 0) d.remove_prefix(7);
  if (d.size() == 40 && all_hex(d)) return {{"gitCommit", std::string(d)}};
  if (d.size() == 64 && all_hex(d)) return {{"sha256", std::string(d)}};
  return nullptr;
}

Json provenance_predicate(const AttestationInfo& info) {
  Json source = {{"uri", info.source_uri}};
  Json digest = source_digest(info.source_digest);
  if (!digest.is_null()) source["digest"] = digest;
  Json deps = Json::array({source});
  if (!info.manifest_digest.empty()) {
    deps.push_back({{"name", "manifest.json"}, {"digest", {{"sha256", info.manifest_digest}}}});
  }
  Json metadata = {{"invocationId", info.test_id}};
  if (info.started_ms > 0) metadata["startedOn"] = format_rfc3339(info.started_ms);
  if (info.finished_ms > 0) metadata["finishedOn"] = format_rfc3339(info.finished_ms);
  return {
      {"buildDefinition",
       {{"buildType", "https://secplat.dev/secplat/scan/v1"},
        {"externalParameters",
         {{"test_id", info.test_id},
          {"workspace_id", info.workspace_id},
          {"component_id", info.component_id},
          {"source", {{"uri", info.source_uri}, {"digest", info.source_digest}}}}},
        {"internalParameters", Json::object()},
        {"resolvedDependencies", std::move(deps)}}},
      {"runDetails", {{"builder", {{"id", info.builder_id}}}, {"metadata", std::move(metadata)}}},
  };
}

}  // namespace

Result<std::string> sha256_file_hex(const std::string& path) { return file_digest_hex(fs::path(path)); }

Result<BundleListing> list_bundle_files(const std::string& bundle_dir) {
  std::error_code ec;
  const fs::path root(bundle_dir);
  if (!fs::is_directory(root, ec)) return Error::not_found("bundle directory " + bundle_dir + " does not exist");
  BundleListing listing;
  // Default options: symlinked directories are not followed, so nothing outside root is visited.
  fs::recursive_directory_iterator it(root, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const fs::directory_entry& entry = *it;
    std::string rel = entry.path().lexically_relative(root).generic_string();
    fs::file_status st = entry.symlink_status(ec);
    if (ec) break;
    if (fs::is_directory(st)) continue;
    if (!is_valid_utf8(rel)) {
      listing.refused.push_back("file name is not UTF-8: " + hex_encode(rel));
    } else if (fs::is_symlink(st)) {
      listing.refused.push_back("symlink not allowed in a bundle: " + rel);
    } else if (!fs::is_regular_file(st)) {
      listing.refused.push_back("special file not allowed in a bundle: " + rel);
    } else if (rel != kAttestationPath) {
      auto digest = file_digest_hex(entry.path());
      if (!digest) return digest.error();
      const auto size = static_cast<int64_t>(entry.file_size(ec));
      if (ec) break;
      listing.files.push_back({std::move(rel), std::move(*digest), size});
    }
  }
  if (ec) return Error::internal("cannot list bundle " + bundle_dir + ": " + ec.message());
  std::sort(listing.files.begin(), listing.files.end(),
            [](const BundleFile& a, const BundleFile& b) { return a.path < b.path; });
  return listing;
}

Status write_attestation(const std::string& bundle_dir, const AttestationInfo& info, const crypto::EcKeyPair& key) {
  auto listing = list_bundle_files(bundle_dir);
  if (!listing) return listing.error();
  if (!listing->refused.empty()) return Error::bad_request(listing->refused.front());

  Json subjects = Json::array();
  for (const BundleFile& f : listing->files) {
    subjects.push_back({{"name", f.path}, {"digest", {{"sha256", f.sha256_hex}}}, {"annotations", {{"size", f.size}}}});
  }
  Json statement = {
      {"_type", kStatementType},
      {"subject", std::move(subjects)},
      {"predicateType", kSlsaProvenanceType},
      {"predicate", provenance_predicate(info)},
  };
  // Info strings come from user input (URIs, ids); never let invalid UTF-8 throw out of dump().
  std::string payload = statement.dump(-1, ' ', false, Json::error_handler_t::replace);
  auto envelope = crypto::dsse_sign(kInTotoPayloadType, payload, key.private_pem);
  if (!envelope) return envelope.error();

  fs::path out = fs::path(bundle_dir) / kAttestationPath;
  std::error_code ec;
  fs::create_directories(out.parent_path(), ec);
  if (ec) return Error::internal("cannot create " + out.parent_path().string() + ": " + ec.message());
  return write_file_atomically(out.string(), envelope->dump(2) + "\n", 0644);
}

Status write_detached_signature(const std::string& file_path, const crypto::EcKeyPair& key) {
  auto bytes = read_small_file(file_path, kMaxSignedFileBytes);
  if (!bytes) return bytes.error();
  auto sig = crypto::ec_sign_b64(key.private_pem, *bytes);
  if (!sig) return sig.error();
  return write_file_atomically(fs::path(file_path).replace_extension(".sig").string(), *sig, 0644);
}

}  // namespace secplat::assurance
