#include "assurance/manifest.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "assurance/sources.h"
#include "core/encoding.h"
#include "crypto/ecdsa.h"

namespace fs = std::filesystem;

namespace secplat::assurance {

namespace {

constexpr std::size_t kMaxManifestBytes = 1 << 20;

Error field(const char* key, std::string msg) { return Error::invalid({"body", key}, std::move(msg)); }

std::string uri_scheme(const std::string& uri) {
  auto pos = uri.find("://");
  if (pos == std::string::npos) return "";
  std::string s = uri.substr(0, pos);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string local_path(const std::string& uri) { return uri.starts_with("file://") ? uri.substr(7) : uri; }

Result<std::string> read_limited(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::bad_request(what + " not found: " + path);
  std::string text;
  text.resize(kMaxManifestBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxManifestBytes) return Error::bad_request(what + " is larger than 1 MiB: " + path);
  return text;
}

// A file:// (or plain path) URI under an allowed root, or an http(s) URI on an allowed host.
Result<std::string> read_uri(const std::string& uri, const std::string& field_name, const std::string& what,
                             const ManifestPolicy& policy) {
  std::string scheme = uri_scheme(uri);
  if (scheme == "http" || scheme == "https") {
    HttpFetchPolicy http = policy.http;
    http.max_bytes = kMaxManifestBytes;
    return fetch_http_text(uri, field_name, http);
  }
  if (scheme == "s3" || scheme == "oci") {
    if (policy.remote == nullptr) return Error::bad_request(field_name + ": " + scheme + ":// is not configured");
    std::string why = policy.remote->refusal(field_name, uri);
    if (!why.empty()) return Error::bad_request(why);
    return policy.remote->fetch(uri, what == "manifest signature", kMaxManifestBytes);
  }
  auto real = confine_to_roots(local_path(uri), policy.allowed_roots);
  if (!real) return Error::bad_request(field_name + " is not a file under an allowed source root");
  return read_limited(*real, what);
}

bool relative_and_clean(const std::string& p) {
  if (p.empty() || p[0] == '/') return false;
  std::stringstream ss(p);
  std::string part;
  while (std::getline(ss, part, '/'))
    if (part == "..") return false;
  return true;
}

Json yaml_to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return nullptr;
    case YAML::NodeType::Sequence: {
      Json a = Json::array();
      for (const auto& e : n) a.push_back(yaml_to_json(e));
      return a;
    }
    case YAML::NodeType::Map: {
      Json o = Json::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = yaml_to_json(kv.second);
      return o;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted scalar
      if (s == "null" || s == "~" || s == "Null" || s == "NULL") return nullptr;
      if (s == "true" || s == "True" || s == "TRUE") return true;
      if (s == "false" || s == "False" || s == "FALSE") return false;
      try {
        std::size_t used = 0;
        long long v = std::stoll(s, &used, 10);
        if (used == s.size()) return v;
      } catch (...) {
      }
      try {
        std::size_t used = 0;
        double d = std::stod(s, &used);
        if (used == s.size() && s.find_first_of("0123456789") != std::string::npos) return d;
      } catch (...) {
      }
      return s;
    }
  }
  return nullptr;
}

std::string trim_lower(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  s = s.substr(i);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string canonical_tool_id(std::string id) {
  id = trim_lower(std::move(id));
  if (id == "detect-secrets" || id == "gitleaks") return "secrets";
  return id;
}

const std::map<std::string, std::vector<std::string>>& builtin_profiles() {
  static const std::map<std::string, std::vector<std::string>> kProfiles = {
      {"smoke", {"secrets"}},
      {"fast", {"secrets", "bandit"}},
      {"medium", {"secrets", "bandit", "semgrep", "opengrep"}},
      {"standard", {"secrets", "bandit", "shellcheck", "trivy", "sbom"}},
      {"light", {"secrets", "sbom", "bandit", "shellcheck", "cppcheck", "flawfinder", "semgrep", "opengrep", "trivy"}},
      {"full", {"secrets", "sbom", "bandit", "shellcheck", "cppcheck", "flawfinder", "semgrep", "opengrep", "trivy"}},
      {"heavy", {"secrets", "sbom", "bandit", "shellcheck", "cppcheck", "flawfinder", "semgrep", "opengrep", "trivy",
                 "web-exposure", "tls-headers"}},
      {"javascript", {"secrets", "semgrep", "trivy", "sbom"}},
      {"attestation-test", {"sbom"}},
      {"sbom-only", {"sbom"}},
  };
  return kProfiles;
}

}  // namespace

std::vector<std::string> builtin_profile_names() {
  std::vector<std::string> names;
  for (const auto& [name, tools] : builtin_profiles()) names.push_back(name);
  return names;
}

std::vector<std::string> default_profile_tools(const std::string& profile) {
  const auto& profiles = builtin_profiles();
  auto it = profiles.find(trim_lower(profile));
  return it != profiles.end() ? it->second : profiles.at("light");
}

Status check_manifest_fields(const ScanRequest& req, const ManifestPolicy& policy) {
  if (req.manifest_path && !req.manifest_path->empty() && !relative_and_clean(*req.manifest_path))
    return field("manifest_path", "manifest_path must be a relative path inside the source");
  auto check_uri = [&](const char* key, const std::string& uri) -> Status {
    std::string scheme = uri_scheme(uri);
    if (scheme.empty() || scheme == "file") {
      if (!confine_to_roots(local_path(uri), policy.allowed_roots))
        return field(key, std::string(key) + " is not a file under an allowed source root");
      return ok_status();
    }
    if (scheme == "http" || scheme == "https") {
      std::string why = http_host_refusal(key, uri, policy.http);
      return why.empty() ? ok_status() : field(key, why);
    }
    if (scheme == "s3" || scheme == "oci") {
      if (policy.remote == nullptr)
        return field(key, std::string(key) + ": " + scheme + ":// manifests need " +
                              (scheme == "s3" ? "s3.endpoint" : "oci.registry") + " to be configured");
      std::string why = policy.remote->refusal(key, uri);
      return why.empty() ? ok_status() : field(key, why);
    }
    return field(key, "Unsupported manifest URI scheme '" + scheme + "'");
  };
  if (req.manifest_uri && !req.manifest_uri->empty()) SECPLAT_TRY(check_uri("manifest_uri", *req.manifest_uri));
  if (req.manifest_signature_uri && !req.manifest_signature_uri->empty())
    SECPLAT_TRY(check_uri("manifest_signature_uri", *req.manifest_signature_uri));
  return ok_status();
}

Result<Json> parse_manifest_text(const std::string& text) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    try {
      j = yaml_to_json(YAML::Load(text));
    } catch (const std::exception& e) {
      return Error::bad_request(std::string("manifest is neither valid JSON nor YAML: ") + e.what());
    }
  }
  if (!j.is_object()) return Error::bad_request("manifest must be a JSON or YAML object");
  return j;
}

Result<ResolvedManifest> resolve_manifest(const ScanRequest& req, const std::string& source_root,
                                          const ManifestPolicy& policy) {
  ResolvedManifest m;
  std::optional<std::string> sig_path;
  if (req.manifest) {
    m.text = canonical_manifest_text(*req.manifest);
    m.origin = "inline";
  } else if (req.manifest_path && !req.manifest_path->empty()) {
    if (!relative_and_clean(*req.manifest_path))
      return Error::bad_request("manifest_path must be a relative path inside the source");
    std::string joined = source_root + "/" + *req.manifest_path;
    auto real = confine_to_roots(joined, {source_root});
    if (!real) {
      std::error_code ec;
      if (!fs::exists(joined, ec)) return Error::bad_request("manifest path " + *req.manifest_path + " not found in source");
      return Error::bad_request("manifest path " + *req.manifest_path + " escapes the source root");
    }
    auto text = read_limited(*real, "manifest path");
    if (!text) return std::move(text).take_error();
    m.text = std::move(*text);
    m.origin = "path";
  } else if (req.manifest_uri && !req.manifest_uri->empty()) {
    // Re-checked at run time (the policy may have changed since submit); the message itself is the
    // scan's error.
    if (auto st = check_manifest_fields(req, policy); !st.ok())
      return Error::bad_request(st.error().fields.empty() ? st.error().message : st.error().fields.front().msg);
    auto text = read_uri(*req.manifest_uri, "manifest_uri", "manifest", policy);
    if (!text) return std::move(text).take_error();
    m.text = std::move(*text);
    m.origin = "uri";
  } else {
    return Error::bad_request("manifest input is required");
  }
  if (req.manifest_signature_uri && !req.manifest_signature_uri->empty()) {
    auto sig = read_uri(*req.manifest_signature_uri, "manifest_signature_uri", "manifest signature", policy);
    if (!sig) return std::move(sig).take_error();
    m.signature = std::move(*sig);
  }
  m.digest = sha256_hex(m.text);

  bool want_verify = policy.require_signed || m.signature.has_value();
  if (want_verify) {
    if (policy.trusted_key_pems.empty()) return Error::bad_request("Manifest verification requires a key reference");
    if (!m.signature || m.signature->empty())
      return Error::bad_request("Manifest signature is required for verification");
    for (const auto& pem : policy.trusted_key_pems) {
      if (crypto::ec_verify_b64(pem, m.text, *m.signature).ok()) {
        m.verified = true;
        m.verified_key_id = crypto::ec_key_id(pem);
        break;
      }
    }
    if (!m.verified) return Error::bad_request("manifest signature does not verify against any trusted key");
  }
  if (req.expected_manifest_digest && *req.expected_manifest_digest != m.digest)
    return Error::bad_request("manifest digest mismatch: expected " + *req.expected_manifest_digest + ", got " +
                              m.digest);
  auto parsed = parse_manifest_text(m.text);
  if (!parsed) return std::move(parsed).take_error();
  m.parsed = std::move(*parsed);
  return m;
}

Result<ToolSelection> select_tools(const Json& manifest, const std::string& profile,
                                   const std::vector<std::string>& known_tools) {
  auto profiles = manifest.find("profiles");
  if (profiles == manifest.end() || !profiles->is_array() || profiles->empty())
    return Error::bad_request("manifest is missing 'profiles' entries");
  ToolSelection sel;
  sel.profile_requested = profile;
  const Json* chosen = nullptr;
  std::vector<std::string> names;
  for (const auto& p : *profiles) {
    if (!p.is_object()) continue;
    std::string name = p.value("name", "");
    names.push_back(trim_lower(name));
    if (!chosen && trim_lower(name) == trim_lower(profile)) chosen = &p;
  }
  if (!chosen) {
    std::string avail;
    for (const auto& n : names) avail += (avail.empty() ? "" : ", ") + n;
    return Error::bad_request("manifest profile '" + profile + "' not found. Available profiles: " + avail);
  }
  sel.profile_resolved = trim_lower(chosen->value("name", ""));
  if (auto t = chosen->find("tools"); t != chosen->end() && t->is_array()) {
    for (const auto& e : *t) {
      std::string id;
      if (e.is_string()) id = e.get<std::string>();
      else if (e.is_object()) id = e.contains("id") && e["id"].is_string() ? e["id"].get<std::string>()
                                                                            : e.value("name", "");
      if (id.empty()) continue;
      std::string canon = canonical_tool_id(id);
      if (std::find(known_tools.begin(), known_tools.end(), canon) == known_tools.end()) {
        sel.unsupported.push_back(id);
        continue;
      }
      if (std::find(sel.tools.begin(), sel.tools.end(), canon) == sel.tools.end()) sel.tools.push_back(canon);
      if (e.is_object()) {
        if (auto o = e.find("options"); o != e.end() && o->is_object())
          for (auto it = o->begin(); it != o->end(); ++it)
            sel.options[canon][it.key()] = it->is_string() ? it->get<std::string>() : it->dump();
      }
    }
  }
  if (sel.tools.empty()) {
    sel.tools = default_profile_tools(sel.profile_resolved);
    sel.defaulted = true;
  }
  auto flag = [](const Json& obj, const char* key) {
    auto it = obj.find(key);
    return it != obj.end() && it->is_boolean() && it->get<bool>();
  };
  sel.sample_mode = flag(manifest, "sample_mode") || flag(*chosen, "sample_mode");
  if (auto th = chosen->find("thresholds"); th != chosen->end() && th->is_object()) {
    for (auto it = th->begin(); it != th->end(); ++it) {
      if (it->is_number_integer() || it->is_number_unsigned()) sel.thresholds[trim_lower(it.key())] = it->get<int64_t>();
      else if (it->is_number_float()) sel.thresholds[trim_lower(it.key())] = static_cast<int64_t>(it->get<double>());
      else if (it->is_string()) {
        try {
          std::size_t used = 0;
          long long v = std::stoll(it->get<std::string>(), &used);
          if (used == it->get<std::string>().size()) sel.thresholds[trim_lower(it.key())] = v;
        } catch (...) {
        }
      }
    }
  }
  auto rs = chosen->find("requiresStack");
  sel.requires_stack = (rs != chosen->end() && rs->is_boolean() && rs->get<bool>()) || sel.profile_resolved == "heavy";
  sel.product = manifest.contains("product") ? manifest["product"] : Json(nullptr);
  sel.version = manifest.contains("version") ? manifest["version"] : Json(nullptr);
  return sel;
}

}  // namespace secplat::assurance
