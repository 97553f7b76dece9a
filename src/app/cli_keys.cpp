#include "app/cli_keys.h"

#include <filesystem>
#include <iostream>
#include <iterator>

#include "assurance/bundle_verify.h"
#include "assurance/signing_key.h"
#include "core/json.h"
#include "crypto/ecdsa.h"
#include "trust/transparency_log.h"

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

int run_verify_entry(const std::string& entry_file, const std::string& pub_key_file) {
  auto pem = assurance::read_small_file(pub_key_file, 64 * 1024);
  if (!pem) {
    std::cerr << "verify: cannot read public key: " << pem.error().message << "\n";
    return 2;
  }
  std::string text;
  if (entry_file == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    auto t = assurance::read_small_file(entry_file, 16u << 20);
    if (!t) {
      std::cerr << "verify: cannot read " << entry_file << ": " << t.error().message << "\n";
      return 2;
    }
    text = std::move(*t);
  }
  Json j = Json::parse(text, nullptr, false);
  trust::LogEntry entry;
  trust::InclusionProof proof;
  trust::Checkpoint head;
  try {
    entry.entry_id = j.at("entry_id").get<std::string>();
    entry.index = j.at("log_index").get<int64_t>();
    entry.kind = j.at("kind").get<std::string>();
    entry.subject = j.at("subject").get<std::string>();
    entry.signer = j.at("signer").is_string() ? j["signer"].get<std::string>() : "";
    entry.body = j.at("body");
    entry.created_ms = j.at("created_ms").get<int64_t>();
    entry.leaf_hash_hex = j.at("leaf_hash").get<std::string>();
    const Json& p = j.at("proof");
    proof.leaf_index = p.at("leaf_index").get<int64_t>();
    proof.tree_size = p.at("tree_size").get<int64_t>();
    proof.hashes_hex = p.at("hashes").get<std::vector<std::string>>();
    proof.root_hash_hex = p.at("root_hash").get<std::string>();
    const Json& c = p.at("checkpoint");
    head.origin = c.at("origin").get<std::string>();
    head.tree_size = c.at("tree_size").get<int64_t>();
    head.root_hash_hex = c.at("root_hash").get<std::string>();
    head.key_id = c.at("key_id").get<std::string>();
    head.signature_b64 = c.at("signature").get<std::string>();
    head.note_text = c.at("note").get<std::string>();
  } catch (const std::exception&) {
    std::cerr << "verify: " << entry_file
              << " is not an entry with a proof (GET /v1/transparency/{entry_id}?include_proof=true)\n";
    return 2;
  }
  if (entry.index != proof.leaf_index) {
    std::cout << "entry index " << entry.index << " is not the proof's leaf index " << proof.leaf_index << "\n";
    return 1;
  }
  Status st = trust::verify_entry_inclusion(entry, proof, head, *pem);
  if (!st) {
    std::cout << st.error().message << "\n";
    return 1;
  }
  std::cout << "OK: entry " << entry.entry_id << " is leaf " << entry.index << " of the " << head.tree_size
            << "-entry log " << head.origin << " (root " << head.root_hash_hex << ")\n";
  return 0;
}

}  // namespace secplat::app
