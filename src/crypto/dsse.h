// DSSE v1 envelopes (github.com/secure-systems-lab/dsse), signed with ECDSA P-256 (crypto/ecdsa.h).
// The signature covers PAE(payloadType, payload), never the JSON text, so re-serialising an
// envelope does not break it and the payload type cannot be swapped.
// Thread-safe (no shared state).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "core/error.h"

namespace secplat::crypto {

// Pre-Authentication Encoding: "DSSEv1" SP len(type) SP type SP len(body) SP body, lengths in
// decimal bytes. PAE("http://example.com/HelloWorld", "hello world") ==
// "DSSEv1 29 http://example.com/HelloWorld 11 hello world".
std::string dsse_pae(std::string_view type, std::string_view body);

// {"payloadType": payload_type, "payload": base64(payload),
//  "signatures": [{"keyid": ec_key_id(public key), "sig": base64(DER over PAE)}]}
Result<nlohmann::json> dsse_sign(std::string_view payload_type, std::string_view payload, std::string_view private_pem);

// The decoded payload bytes when at least one signature of `envelope` verifies with `public_pem`.
// Signatures whose non-empty "keyid" names another key are skipped (the keyid is only a hint; the
// cryptographic check decides). Errc::bad_request with a reason otherwise: "malformed DSSE
// envelope: ...", "not a P-256 public key", "no signature by this key", "signature does not verify".
// The caller must still check envelope["payloadType"] is the type it expects.
Result<std::string> dsse_verify(const nlohmann::json& envelope, std::string_view public_pem);

}  // namespace secplat::crypto
