#include "trust/trust_gate.h"

#include <algorithm>
#include <set>

#include "core/encoding.h"
#include "core/ids.h"
#include "core/log.h"
#include "crypto/dsse.h"
#include "trust/transparency_log.h"

namespace secplat::trust {

namespace {

constexpr const char* kInTotoPayloadType = "application/vnd.in-toto+json";
constexpr const char* kStatementType = "https://in-toto.io/Statement/v1";
constexpr const char* kSignatureAlgorithm = "ECDSA-P256-SHA256";
constexpr const char* kTokenPrefix = "spv1.";
constexpr std::size_t kMaxArtifacts = 100000;

const char* kPermitsSqlite = R"SQL(
CREATE TABLE trust_permits (
  permit_id TEXT PRIMARY KEY,
  scan_id TEXT NOT NULL,
  tier TEXT NOT NULL,
  claims_json TEXT NOT NULL,
  issued_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  log_entry_id TEXT,
  redeemed_at BIGINT,
  redeemed_by TEXT
);
CREATE INDEX trust_permits_scan_idx ON trust_permits (scan_id, issued_at))SQL";

bool is_test_id(const std::string& s) {
  return s.size() == 17 && s.rfind("test_", 0) == 0 &&
         std::all_of(s.begin() + 5, s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

const Json* field(const Json& obj, const char* name) {
  auto it = obj.find(name);
  return it == obj.end() ? nullptr : &*it;
}

void need_string(const Json& obj, const char* name, std::vector<std::string> loc, std::vector<FieldError>& errs,
                 bool nullable = false) {
  const Json* v = field(obj, name);
  loc.push_back(name);
  if (v == nullptr) {
    if (!nullable) errs.push_back({loc, "Field required"});
  } else if (v->is_null()) {
    if (!nullable) errs.push_back({loc, "Input should be a valid string"});
  } else if (!v->is_string()) {
    errs.push_back({loc, "Input should be a valid string"});
  }
}

// The reference's request shape plus `attestation` and `documents`; field errors named as the
// reference (FastAPI) names them.
Status validate(const Json& req) {
  std::vector<FieldError> errs;
  if (!req.is_object()) return Error::invalid({"body"}, "Input should be a valid dictionary");
  need_string(req, "scan_id", {"body"}, errs);
  if (const Json* v = field(req, "scan_id"); v && v->is_string() && !is_test_id(v->get<std::string>()))
    errs.push_back({{"body", "scan_id"}, "scan_id must be test_ followed by 12 hex characters"});
  need_string(req, "tier", {"body"}, errs);
  if (const Json* v = field(req, "tier"); v && v->is_string() && *v != "basic" && *v != "verified")
    errs.push_back({{"body", "tier"}, "String should match pattern '^(basic|verified)$'"});
  const Json* inner = field(req, "inner_signature");
  if (inner == nullptr || !inner->is_object()) {
    errs.push_back({{"body", "inner_signature"}, inner ? "Input should be a valid dictionary" : "Field required"});
  } else {
    for (const char* k : {"signer", "timestamp", "signature", "algorithm"}) need_string(*inner, k, {"body", "inner_signature"}, errs);
    need_string(*inner, "certificate", {"body", "inner_signature"}, errs, /*nullable=*/true);
  }
  const Json* arts = field(req, "artifacts");
  if (arts == nullptr || !arts->is_array()) {
    errs.push_back({{"body", "artifacts"}, arts ? "Input should be a valid list" : "Field required"});
  } else if (arts->size() > kMaxArtifacts) {
    errs.push_back({{"body", "artifacts"}, "at most " + std::to_string(kMaxArtifacts) + " artifacts"});
  } else {
    for (std::size_t i = 0; i < arts->size(); ++i) {
      const Json& a = (*arts)[i];
      std::vector<std::string> loc = {"body", "artifacts", std::to_string(i)};
      if (!a.is_object()) {
        errs.push_back({loc, "Input should be a valid dictionary"});
        continue;
      }
      need_string(a, "name", loc, errs);
      need_string(a, "hash", loc, errs);
      const Json* size = field(a, "size");
      if (size == nullptr || !size->is_number_integer() || size->get<int64_t>() < 0) {
        auto l = loc;
        l.push_back("size");
        errs.push_back({l, size ? "Input should be a non-negative integer" : "Field required"});
      }
      if (const Json* n = field(a, "name"); n && n->is_string() && !is_clean_relative_path(n->get<std::string>())) {
        auto l = loc;
        l.push_back("name");
        errs.push_back({l, "must be a relative path inside the bundle"});
      }
      if (const Json* h = field(a, "hash"); h && h->is_string()) {
        std::string text = h->get<std::string>();
        if (text.rfind("sha256:", 0) != 0 || !is_sha256_hex(text.substr(7))) {
          auto l = loc;
          l.push_back("hash");
          errs.push_back({l, "expected sha256:<64 lower-case hex>"});
        }
      }
    }
  }
  const Json* meta = field(req, "metadata");
  if (meta == nullptr || !meta->is_object()) {
    errs.push_back({{"body", "metadata"}, meta ? "Input should be a valid dictionary" : "Field required"});
  } else {
    // Directory and archive scans have no git_url: null is accepted (the reference refused it and
    // then failed open).
    need_string(*meta, "git_url", {"body", "metadata"}, errs, true);
    need_string(*meta, "branch", {"body", "metadata"}, errs, true);
    need_string(*meta, "commit", {"body", "metadata"}, errs, true);
    need_string(*meta, "requested_by", {"body", "metadata"}, errs, true);
  }
  if (const Json* dest = field(req, "storage_destinations"); dest && !dest->is_null() && !dest->is_object())
    errs.push_back({{"body", "storage_destinations"}, "Input should be a valid dictionary"});
  const Json* att = field(req, "attestation");
  if (att == nullptr || !att->is_object())
    errs.push_back({{"body", "attestation"}, att ? "Input should be a DSSE envelope object" : "Field required"});
  if (const Json* docs = field(req, "documents"); docs && !docs->is_null()) {
    if (!docs->is_object()) {
      errs.push_back({{"body", "documents"}, "Input should be a valid dictionary"});
    } else {
      for (const auto& [k, v] : docs->items())
        if (!v.is_string()) errs.push_back({{"body", "documents", k}, "Input should be a valid string"});
    }
  }
  if (errs.empty()) return ok_status();
  Error e = Error::invalid(errs.front().loc, errs.front().msg);
  e.fields = std::move(errs);
  return e;
}

Json claims_json(const PermitClaims& c) {
  Json digests = Json::object();
  for (const auto& [k, v] : c.digests) digests[k] = v;
  Json sizes = Json::object();
  for (const auto& [k, v] : c.sizes) sizes[k] = v;
  return {{"v", 1},           {"permit_id", c.permit_id}, {"scan_id", c.scan_id},   {"tier", c.tier},
          {"digests", digests}, {"sizes", sizes},       {"signer_key_id", c.signer_key_id},
          {"iat", c.issued_ms}, {"exp", c.expires_ms}};
}

Result<PermitClaims> claims_from(const Json& j) {
  PermitClaims c;
  try {
    if (j.at("v").get<int>() != 1) return Error::forbidden("unknown permit version");
    c.permit_id = j.at("permit_id").get<std::string>();
    c.scan_id = j.at("scan_id").get<std::string>();
    c.tier = j.at("tier").get<std::string>();
    for (const auto& [k, v] : j.at("digests").items()) c.digests[k] = v.get<std::string>();
    for (const auto& [k, v] : j.at("sizes").items()) c.sizes[k] = v.get<int64_t>();
    c.signer_key_id = j.at("signer_key_id").get<std::string>();
    c.issued_ms = j.at("iat").get<int64_t>();
    c.expires_ms = j.at("exp").get<int64_t>();
  } catch (const std::exception&) {
    return Error::forbidden("malformed permit claims");
  }
  return c;
}

Json denial(const Json& req, const std::string& reason, const std::string& detail, const Json& checks) {
  return {{"upload_permission_id", nullptr},
          {"scan_id", req.value("scan_id", "")},
          {"tier", req.value("tier", "")},
          {"permitted", false},
          {"reason", reason},
          {"detail", detail},
          {"verification_proof", nullptr},
          {"storage_config", nullptr},
          {"permit", nullptr},
          {"checks", checks}};
}

}  // namespace

std::vector<store::Migration> trust_gate_migrations() {
  return {{710, "trust_permits", kPermitsSqlite, kPermitsSqlite}};
}

TrustGate::TrustGate(store::Db& db, TransparencyLog& log, crypto::EcKeyPair key, GateSettings settings,
                     const Clock& clock)
    : db_(db), log_(log), key_(std::move(key)), settings_(std::move(settings)), clock_(clock) {
  key_id_ = crypto::ec_key_id(key_.public_pem);
  if (settings_.trusted_keys.empty()) settings_.trusted_keys.push_back(key_.public_pem);
}

Result<Json> TrustGate::verify_and_permit(const Json& req) {
  SECPLAT_TRY(validate(req));
  const std::string scan_id = req["scan_id"].get<std::string>();
  const std::string tier = req["tier"].get<std::string>();
  const Json& inner = req["inner_signature"];
  const Json& envelope = req["attestation"];
  Json checks = Json::object();
  auto deny = [&](const std::string& reason, const std::string& detail) -> Result<Json> {
    log::info("upload denied", {log::str("scan_id", scan_id), log::str("reason", reason), log::str("detail", detail)});
    return denial(req, reason, detail, checks);
  };

  if (req["artifacts"].empty()) return deny("no_artifacts", "Upload request contains no artifacts");
  if (inner["algorithm"] != kSignatureAlgorithm)
    return deny("invalid_signature", std::string("inner_signature.algorithm must be ") + kSignatureAlgorithm);

  // 1. The attestation's signature, by a trusted key (the one named by `certificate` if given).
  std::vector<std::string> candidates;
  if (const Json* cert = field(inner, "certificate"); cert && cert->is_string()) {
    const std::string id = crypto::ec_key_id(cert->get<std::string>());
    for (const auto& k : settings_.trusted_keys)
      if (crypto::ec_key_id(k) == id) candidates.push_back(k);
    if (candidates.empty()) {
      checks["inner_signature_valid"] = false;
      return deny("untrusted_signer", "inner_signature.certificate is not a trusted key");
    }
  } else {
    candidates = settings_.trusted_keys;
  }
  std::string payload, signer_pem;
  for (const auto& k : candidates) {
    auto p = crypto::dsse_verify(envelope, k);
    if (p) {
      payload = std::move(*p);
      signer_pem = k;
      break;
    }
  }
  if (signer_pem.empty()) {
    checks["inner_signature_valid"] = false;
    return deny("untrusted_signer", "the attestation's signature does not verify with any trusted key");
  }
  const std::string signer_key_id = crypto::ec_key_id(signer_pem);
  bool sig_matches = false;
  std::string attestation_sig;
  if (const Json* sigs = field(envelope, "signatures"); sigs && sigs->is_array())
    for (const auto& s : *sigs)
      if (s.is_object() && s.value("sig", "") == inner["signature"].get<std::string>()) {
        sig_matches = true;
        attestation_sig = s.value("sig", "");
      }
  if (!sig_matches) {
    checks["inner_signature_valid"] = false;
    return deny("invalid_signature", "inner_signature.signature is not the attestation's signature");
  }
  checks["inner_signature_valid"] = true;
  checks["signer_key_id"] = signer_key_id;

  // 2. The statement: in-toto v1, about this scan.
  Json statement = Json::parse(payload, nullptr, false);
  if (envelope.value("payloadType", "") != kInTotoPayloadType || !statement.is_object() ||
      statement.value("_type", "") != kStatementType || !statement.contains("subject") ||
      !statement["subject"].is_array())
    return deny("invalid_statement", "the attestation is not an in-toto Statement v1 with subjects");
  std::string statement_scan;
  try {
    statement_scan = statement.at("predicate").at("buildDefinition").at("externalParameters").at("test_id").get<std::string>();
  } catch (const std::exception&) {
  }
  if (statement_scan != scan_id)
    return deny("scan_mismatch", "the attestation is about scan '" + statement_scan + "', not '" + scan_id + "'");

  // 3. Signer identity per tier.
  if (tier == "verified") {
    const auto& allowed = settings_.verified_signers;
    bool ok = allowed.empty() ? signer_key_id == crypto::ec_key_id(settings_.trusted_keys.front())
                              : std::find(allowed.begin(), allowed.end(), signer_key_id) != allowed.end();
    if (!ok) return deny("invalid_signer", "key " + signer_key_id + " may not sign verified-tier bundles");
  }

  // 4. Artifacts against subjects: same set, same digests, same sizes.
  std::map<std::string, std::pair<std::string, int64_t>> subjects;  // path -> (sha256, size or -1)
  for (const auto& s : statement["subject"]) {
    if (!s.is_object() || !s.contains("name") || !s["name"].is_string()) continue;
    std::string digest;
    if (s.contains("digest") && s["digest"].is_object()) digest = s["digest"].value("sha256", "");
    int64_t size = -1;
    if (s.contains("annotations") && s["annotations"].is_object() && s["annotations"].contains("size") &&
        s["annotations"]["size"].is_number_integer())
      size = s["annotations"]["size"].get<int64_t>();
    subjects[s["name"].get<std::string>()] = {digest, size};
  }
  PermitClaims claims;
  for (const auto& a : req["artifacts"]) {
    const std::string name = a["name"].get<std::string>();
    const std::string hex = a["hash"].get<std::string>().substr(7);
    const int64_t size = a["size"].get<int64_t>();
    auto it = subjects.find(name);
    if (it == subjects.end()) return deny("unattested_artifact", name + " is not a subject of the attestation");
    if (it->second.first != hex) return deny("digest_mismatch", name + ": sha256 " + hex + " is not the attested " + it->second.first);
    if (it->second.second >= 0 && it->second.second != size)
      return deny("size_mismatch", name + ": " + std::to_string(size) + " bytes, attested " + std::to_string(it->second.second));
    if (!claims.digests.emplace(name, hex).second) return deny("invalid_request", name + " is listed twice");
    claims.sizes[name] = size;
  }
  for (const auto& [name, _] : subjects)
    if (!claims.digests.count(name)) return deny("missing_artifact", name + " is attested but not in the upload");
  checks["digests_match"] = true;

  // 5. Documents the gate reads: each must be the attested file.
  Json docs = req.contains("documents") && req["documents"].is_object() ? req["documents"] : Json::object();
  auto doc = [&](const std::string& name) -> const Json* {
    auto it = docs.find(name);
    return it == docs.end() ? nullptr : &*it;
  };
  for (const auto& [name, text] : docs.items()) {
    auto it = subjects.find(name);
    if (it == subjects.end()) return deny("unattested_artifact", "document " + name + " is not a subject of the attestation");
    if (sha256_hex(text.get<std::string>()) != it->second.first)
      return deny("digest_mismatch", "document " + name + " does not match its attested sha256");
  }
  if (subjects.count("manifest.sig")) {
    const Json* m = doc("manifest.json");
    const Json* s = doc("manifest.sig");
    if (m == nullptr || s == nullptr)
      return deny("manifest_unverifiable", "the bundle has a signed manifest; send manifest.json and manifest.sig in documents");
    if (!crypto::ec_verify_b64(signer_pem, m->get<std::string>(), s->get<std::string>()))
      return deny("invalid_manifest_signature", "manifest.sig is not a signature of manifest.json by the bundle's signer");
    checks["manifest_signature_valid"] = true;
  }
  if (subjects.count("manifest.json") && doc("manifest.json"))
    checks["manifest_digest"] = subjects["manifest.json"].first;

  // 6. Policy.
  if (const Json* p = doc("policy-result.json")) {
    Json policy = Json::parse(p->get<std::string>(), nullptr, false);
    bool passed = policy.is_object() && policy.value("policy_passed", false) == true;
    checks["policy_passed"] = passed;
    if (!passed && tier == "verified") return deny("policy_failed", "the scan did not pass its policy");
  } else if (tier == "verified") {
    return deny("policy_missing", "tier verified needs policy-result.json in documents");
  }

  // 7. Permitted: log the signature and the permit, then hand out the token.
  const int64_t now = clock_.now_ms();
  claims.permit_id = new_uuid();
  claims.scan_id = scan_id;
  claims.tier = tier;
  claims.signer_key_id = signer_key_id;
  claims.issued_ms = now;
  claims.expires_ms = now + int64_t{settings_.permit_ttl_s} * 1000;
  Json cj = claims_json(claims);
  const std::string claims_text = cj.dump();
  auto permit_sig = crypto::ec_sign_b64(key_.private_pem, claims_text);
  if (!permit_sig) return permit_sig.error();
  const std::string token = kTokenPrefix + base64url_encode(claims_text) + "." + *permit_sig;

  auto sig_entry = log_.append("signature", "scan:" + scan_id,
                               Json{{"scan_id", scan_id},
                                    {"key_id", signer_key_id},
                                    {"payload_type", kInTotoPayloadType},
                                    {"payload_sha256", sha256_hex(payload)},
                                    {"signature", attestation_sig}},
                               signer_key_id);
  if (!sig_entry) return Error::unavailable("transparency log: " + sig_entry.error().message);
  auto permit_entry = log_.append("permit", "scan:" + scan_id,
                                  Json{{"claims", cj}, {"signature", *permit_sig}}, key_id_);
  if (!permit_entry) return Error::unavailable("transparency log: " + permit_entry.error().message);
  auto saved = db_.exec(
      "INSERT INTO trust_permits (permit_id, scan_id, tier, claims_json, issued_at, expires_at, log_entry_id) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7)",
      {claims.permit_id, scan_id, tier, claims_text, now, claims.expires_ms, permit_entry->entry_id});
  if (!saved) return Error::unavailable("permit store: " + saved.error().message);
  auto head = log_.checkpoint();
  if (!head) return Error::unavailable("transparency log: " + head.error().message);
  auto proof = log_.inclusion_proof(permit_entry->index, head->tree_size);
  if (!proof) return Error::unavailable("transparency log: " + proof.error().message);

  const std::string ts = format_rfc3339(now);
  Json verification = {
      {"chain_verified", true},
      {"inner_signature_valid", true},
      {"outer_signature_valid", true},
      {"chain_unbroken", true},
      {"signer_inner", inner["signer"]},
      {"signer_outer", "secplat-trust:" + key_id_},
      {"sigstore_timestamp", ts},
      {"verification_timestamp", ts},
      {"rekor_entry_uuid", permit_entry->entry_id},
      {"cosign_signature", *permit_sig},
      {"transparency",
       {{"entry_id", permit_entry->entry_id},
        {"log_index", permit_entry->index},
        {"signature_entry_id", sig_entry->entry_id},
        {"signature_log_index", sig_entry->index},
        {"leaf_hash", permit_entry->leaf_hash_hex},
        {"inclusion_proof",
         {{"leaf_index", proof->leaf_index}, {"tree_size", proof->tree_size}, {"hashes", proof->hashes_hex},
          {"root_hash", proof->root_hash_hex}}},
        {"checkpoint",
         {{"origin", head->origin},
          {"tree_size", head->tree_size},
          {"root_hash", head->root_hash_hex},
          {"key_id", head->key_id},
          {"note", head->note_text},
          {"signature", head->signature_b64}}}}},
      {"checks", checks}};
  const Json dest = req.contains("storage_destinations") && req["storage_destinations"].is_object()
                        ? req["storage_destinations"]
                        : Json::object();
  Json storage = {
      {"raw_s3_bucket", settings_.raw_bucket},
      {"raw_s3_prefix", settings_.raw_prefix + "/" + scan_id + "/incoming"},
      {"oci_registry", settings_.oci_registry.empty() ? Json(nullptr) : Json(settings_.oci_registry)},
      {"oci_repository", settings_.oci_repository.empty() ? Json(nullptr) : Json(settings_.oci_repository)},
      {"upload_to_s3", dest.value("raw_s3", true)},
      {"upload_to_oci", dest.value("oci_registry", true)}};
  log::info("upload permitted", {log::str("scan_id", scan_id), log::str("permit_id", claims.permit_id),
                                 log::str("tier", tier), log::integer("log_index", permit_entry->index)});
  return Json{{"upload_permission_id", claims.permit_id},
              {"scan_id", scan_id},
              {"tier", tier},
              {"permitted", true},
              {"reason", nullptr},
              {"detail", nullptr},
              {"verification_proof", verification},
              {"storage_config", storage},
              {"permit", token},
              {"expires_at", format_rfc3339(claims.expires_ms)},
              {"checks", checks}};
}

Result<PermitClaims> TrustGate::decode(const std::string& token) const {
  if (token.rfind(kTokenPrefix, 0) != 0) return Error::forbidden("not a permit token");
  const std::string rest = token.substr(std::string(kTokenPrefix).size());
  auto dot = rest.find('.');
  if (dot == std::string::npos) return Error::forbidden("not a permit token");
  auto claims_text = base64url_decode(rest.substr(0, dot));
  if (!claims_text) return Error::forbidden("not a permit token");
  if (!crypto::ec_verify_b64(key_.public_pem, *claims_text, rest.substr(dot + 1)))
    return Error::forbidden("the permit's signature does not verify");
  Json j = Json::parse(*claims_text, nullptr, false);
  if (!j.is_object()) return Error::forbidden("malformed permit claims");
  return claims_from(j);
}

Result<PermitClaims> TrustGate::redeem(const std::string& token, const std::string& scan_id,
                                       const std::map<std::string, std::string>& digests, const std::string& redeemed_by) {
  auto claims = decode(token);
  if (!claims) return claims;
  if (claims->scan_id != scan_id) return Error::forbidden("the permit is for scan " + claims->scan_id + ", not " + scan_id);
  if (claims->digests != digests) return Error::forbidden("the permit does not cover exactly these files and digests");
  const int64_t now = clock_.now_ms();
  if (now >= claims->expires_ms) return Error::forbidden("permit expired at " + format_rfc3339(claims->expires_ms));
  auto changed = db_.exec(
      "UPDATE trust_permits SET redeemed_at = $1, redeemed_by = $2 WHERE permit_id = $3 AND redeemed_at IS NULL",
      {now, redeemed_by, claims->permit_id});
  if (!changed) return Error::unavailable("permit store: " + changed.error().message);
  if (*changed == 1) return claims;
  auto row = db_.query("SELECT redeemed_at FROM trust_permits WHERE permit_id = $1", {claims->permit_id});
  if (!row) return Error::unavailable("permit store: " + row.error().message);
  if (row->empty()) return Error::forbidden("unknown permit " + claims->permit_id);
  return Error::forbidden("permit already used at " + format_rfc3339(row->front().i64("redeemed_at")));
}

}  // namespace secplat::trust
