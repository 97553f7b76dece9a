// ECDSA P-256 / SHA-256 signatures in the form cosign uses for key-file signatures:
// `cosign sign-blob --key` writes base64 (standard alphabet, padded) of the ASN.1 DER
// ECDSA-Sig-Value over SHA-256(blob); `cosign verify-blob --key pub.pem` and
// `openssl dgst -sha256 -verify pub.pem -signature sig.der blob` accept what ec_sign_b64 returns.
//
// Keys travel as PEM text: private keys as unencrypted PKCS#8 ("BEGIN PRIVATE KEY"), public keys
// as SubjectPublicKeyInfo ("BEGIN PUBLIC KEY", the format of cosign.pub). Only P-256 keys are
// accepted anywhere; RSA, P-384, Ed25519, ... are refused, so a verifier cannot be steered onto
// another algorithm by the key it is handed. Encrypted private keys are refused (never prompted for).
//
// Thread-safe: no shared state; every call parses its own key.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace secplat::crypto {

struct EcKeyPair {
  std::string private_pem;  // PKCS#8, unencrypted: keep it 0600
  std::string public_pem;   // SPKI
};

// A fresh P-256 key pair from the OpenSSL CSPRNG.
Result<EcKeyPair> ec_p256_generate();

// The SPKI PEM of a PKCS#8 P-256 private key. Errc::bad_request when the PEM is not one.
Result<std::string> ec_public_from_private(std::string_view private_pem);

// base64(DER ECDSA signature over SHA-256(blob)), no trailing newline. ECDSA signatures are
// randomised: signing the same blob twice gives different (equally valid) signatures.
Result<std::string> ec_sign_b64(std::string_view private_pem, std::string_view blob);

// OK when `sig_b64` (ASCII whitespace anywhere is ignored, so a signature file ending in a newline
// or wrapped by `base64` still works) is a valid signature of `blob` by `public_pem`.
// Errors, all Errc::bad_request: "not a P-256 public key", "malformed signature",
// "signature does not verify".
Status ec_verify_b64(std::string_view public_pem, std::string_view blob, std::string_view sig_b64);

// Lower-case hex SHA-256 of the DER SubjectPublicKeyInfo: the same key gives the same id however
// its PEM is wrapped. Empty when `public_pem` is not a P-256 public key.
std::string ec_key_id(std::string_view public_pem);

}  // namespace secplat::crypto
