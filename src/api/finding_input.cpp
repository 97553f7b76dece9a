#include "api/finding_input.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/json_body.h"

namespace secplat::api {

Result<findings::FindingInput> finding_input_from_json(const Json& body) {
  SECPLAT_TRY(http::reject_unknown_fields(
      body, {"finding_key", "title", "asset_key", "asset_id", "category", "severity", "confidence", "evidence",
             "remediation", "source", "vulnerability_id", "package_ecosystem", "package_name", "package_version",
             "fixed_version", "scanner_metadata_json"}));
  findings::FindingInput in;
  auto key = http::req_string(body, "finding_key");
  if (!key.ok()) return std::move(key).take_error();
  auto title = http::req_string(body, "title");
  if (!title.ok()) return std::move(title).take_error();
  in.finding_key = *key;
  in.title = *title;
  if (in.title.size() > 1000) return Error::invalid({"body", "title"}, "At most 1000 characters");
  for (auto [name, field] : {std::pair{"category", &in.category}, std::pair{"severity", &in.severity},
                             std::pair{"confidence", &in.confidence}, std::pair{"evidence", &in.evidence},
                             std::pair{"remediation", &in.remediation}, std::pair{"source", &in.source},
                             std::pair{"vulnerability_id", &in.vulnerability_id},
                             std::pair{"package_ecosystem", &in.package_ecosystem},
                             std::pair{"package_name", &in.package_name},
                             std::pair{"package_version", &in.package_version},
                             std::pair{"fixed_version", &in.fixed_version}}) {
    auto v = http::opt_string(body, name);
    if (!v.ok()) return std::move(v).take_error();
    *field = *v;
  }
  if (body.contains("scanner_metadata_json") && !body["scanner_metadata_json"].is_null()) {
    if (!body["scanner_metadata_json"].is_object()) {
      return Error::invalid({"body", "scanner_metadata_json"}, "Must be an object");
    }
    in.scanner_metadata_json = body["scanner_metadata_json"].dump();
  }
  auto asset_key = http::opt_string(body, "asset_key");
  if (!asset_key.ok()) return std::move(asset_key).take_error();
  auto asset_id = http::opt_int(body, "asset_id");
  if (!asset_id.ok()) return std::move(asset_id).take_error();
  if (*asset_key && !(*asset_key)->empty()) {
    in.asset_key = **asset_key;
  } else if (*asset_id) {
    in.asset_id = **asset_id;  // resolved by the upsert, in its transaction
  } else {
    return Error::invalid({"body", "asset_key"}, "Provide asset_id or asset_key");
  }
  return in;
}

namespace {

// One pass over the plain case. Every handler answers false ("not the plain case") for anything
// finding_input_from_json() would refuse or that needs a tree (scanner_metadata_json's object);
// the caller then parses again into a tree.
class PlainFindingSax final : public nlohmann::json_sax<Json> {
 public:
  bool null() override {
    if (depth_ != 1) return false;
    if (field_ == Field::asset_id) asset_id_.reset();
    else if (field_ != Field::scanner_metadata_json) text(field_)->reset();
    return true;
  }
  bool boolean(bool) override { return false; }
  bool number_integer(number_integer_t v) override {
    if (depth_ != 1 || field_ != Field::asset_id) return false;
    asset_id_ = v;
    return true;
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (depth_ != 1 || field_ != Field::asset_id || v > static_cast<number_unsigned_t>(INT64_MAX)) return false;
    asset_id_ = static_cast<int64_t>(v);
    return true;
  }
  bool number_float(number_float_t, const string_t&) override { return false; }
  bool string(string_t& v) override {
    if (depth_ != 1 || field_ == Field::asset_id || field_ == Field::scanner_metadata_json) return false;
    *text(field_) = std::move(v);
    return true;
  }
  bool binary(binary_t&) override { return false; }
  bool start_object(std::size_t) override { return depth_++ == 0; }  // the body itself; no nested object
  bool key(string_t& k) override {
    field_ = field_of(k);
    return field_ != Field::unknown;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override { return false; }
  bool end_array() override { return false; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

  // The FindingInput when every rule holds, else nullopt (the tree's rules then say why).
  std::optional<findings::FindingInput> finish() {
    if (!finding_key_ || !title_ || title_->size() > 1000) return std::nullopt;
    if (asset_key_ && !asset_key_->empty()) in_.asset_key = std::move(*asset_key_);
    else if (asset_id_) in_.asset_id = asset_id_;
    else return std::nullopt;
    in_.finding_key = std::move(*finding_key_);
    in_.title = std::move(*title_);
    return std::move(in_);
  }

 private:
  enum class Field {
    finding_key, title, asset_key, asset_id, category, severity, confidence, evidence, remediation, source,
    vulnerability_id, package_ecosystem, package_name, package_version, fixed_version, scanner_metadata_json,
    unknown
  };

  static Field field_of(std::string_view k) {
    static constexpr std::pair<std::string_view, Field> kFields[] = {
        {"finding_key", Field::finding_key}, {"title", Field::title}, {"asset_key", Field::asset_key},
        {"asset_id", Field::asset_id}, {"category", Field::category}, {"severity", Field::severity},
        {"confidence", Field::confidence}, {"evidence", Field::evidence}, {"remediation", Field::remediation},
        {"source", Field::source}, {"vulnerability_id", Field::vulnerability_id},
        {"package_ecosystem", Field::package_ecosystem}, {"package_name", Field::package_name},
        {"package_version", Field::package_version}, {"fixed_version", Field::fixed_version},
        {"scanner_metadata_json", Field::scanner_metadata_json}};
    for (const auto& [name, f] : kFields)
      if (name == k) return f;
    return Field::unknown;
  }

  std::optional<std::string>* text(Field f) {
    switch (f) {
      case Field::finding_key: return &finding_key_;
      case Field::title: return &title_;
      case Field::asset_key: return &asset_key_;
      case Field::category: return &in_.category;
      case Field::severity: return &in_.severity;
      case Field::confidence: return &in_.confidence;
      case Field::evidence: return &in_.evidence;
      case Field::remediation: return &in_.remediation;
      case Field::source: return &in_.source;
      case Field::vulnerability_id: return &in_.vulnerability_id;
      case Field::package_ecosystem: return &in_.package_ecosystem;
      case Field::package_name: return &in_.package_name;
      case Field::package_version: return &in_.package_version;
      case Field::fixed_version: return &in_.fixed_version;
      default: return &in_.scanner_metadata_json;  // not reached: asset_id and the metadata are handled apart
    }
  }

  int depth_ = 0;
  Field field_ = Field::unknown;
  findings::FindingInput in_;  // the optional text fields go straight in
  std::optional<std::string> finding_key_, title_, asset_key_;
  std::optional<int64_t> asset_id_;
};

}  // namespace

Result<findings::FindingInput> parse_finding_body(const http::Request& req) {
  if (!req.body.empty() && http::declares_json_or_nothing(req)) {
    PlainFindingSax sax;
    if (Json::sax_parse(req.body, &sax))
      if (auto in = sax.finish()) return std::move(*in);
  }
  auto body = http::parse_json_object(req);
  if (!body.ok()) return std::move(body).take_error();
  return finding_input_from_json(*body);
}

}  // namespace secplat::api
