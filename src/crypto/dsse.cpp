#include "crypto/dsse.h"

#include "core/encoding.h"
#include "core/json.h"
#include "crypto/ecdsa.h"

namespace secplat::crypto {
namespace {

Error malformed(const std::string& why) { return Error::bad_request("malformed DSSE envelope: " + why); }

}  // namespace

std::string dsse_pae(std::string_view type, std::string_view body) {
  std::string out = "DSSEv1 ";
  out += std::to_string(type.size());
  out += ' ';
  out += type;
  out += ' ';
  out += std::to_string(body.size());
  out += ' ';
  out += body;
  return out;
}

Result<Json> dsse_sign(std::string_view payload_type, std::string_view payload, std::string_view private_pem) {
  auto pub = ec_public_from_private(private_pem);
  if (!pub) return pub.error();
  auto sig = ec_sign_b64(private_pem, dsse_pae(payload_type, payload));
  if (!sig) return sig.error();
  Json signature = {{"keyid", ec_key_id(*pub)}, {"sig", std::move(*sig)}};
  return Json{{"payloadType", std::string(payload_type)},
              {"payload", base64_encode(payload)},
              {"signatures", Json::array({std::move(signature)})}};
}

Result<std::string> dsse_verify(const Json& envelope, std::string_view public_pem) {
  if (!envelope.is_object()) return malformed("not a JSON object");
  auto type = envelope.find("payloadType");
  if (type == envelope.end() || !type->is_string()) return malformed("\"payloadType\" must be a string");
  auto payload_b64 = envelope.find("payload");
  if (payload_b64 == envelope.end() || !payload_b64->is_string()) return malformed("\"payload\" must be a string");
  auto sigs = envelope.find("signatures");
  if (sigs == envelope.end() || !sigs->is_array() || sigs->empty()) {
    return malformed("\"signatures\" must be a non-empty array");
  }
  auto payload = base64_decode(payload_b64->get<std::string>());
  if (!payload) return malformed("\"payload\" is not valid base64");

  std::string key_id = ec_key_id(public_pem);
  if (key_id.empty()) return Error::bad_request("not a P-256 public key");

  const std::string pae = dsse_pae(type->get<std::string>(), *payload);
  bool tried = false;
  for (const Json& s : *sigs) {
    if (!s.is_object()) return malformed("each signature must be an object");
    auto sig = s.find("sig");
    if (sig == s.end() || !sig->is_string()) return malformed("each signature needs a string \"sig\"");
    auto keyid = s.find("keyid");
    if (keyid != s.end() && !keyid->is_null() && !keyid->is_string()) return malformed("\"keyid\" must be a string");
    if (keyid != s.end() && keyid->is_string() && !keyid->get<std::string>().empty() &&
        keyid->get<std::string>() != key_id) {
      continue;
    }
    tried = true;
    if (ec_verify_b64(public_pem, pae, sig->get<std::string>()).ok()) return std::move(*payload);
  }
  return Error::bad_request(tried ? "signature does not verify" : "no signature by this key");
}

}  // namespace secplat::crypto
