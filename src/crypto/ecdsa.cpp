#include "crypto/ecdsa.h"

#include <memory>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/encoding.h"

namespace secplat::crypto {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Bio = std::unique_ptr<BIO, BioFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

// OpenSSL keeps failures on a per-thread queue; drop them so they cannot surface later in an
// unrelated call (e.g. a TLS read) on the same thread.
Error fail(std::string msg) {
  ERR_clear_error();
  return Error::bad_request(std::move(msg));
}

// Returning 0 from the passphrase callback makes PEM readers fail on encrypted keys instead of
// prompting on the terminal.
int no_passphrase(char*, int, int, void*) { return 0; }

Bio read_bio(std::string_view pem) {
  if (pem.size() > 64 * 1024) return nullptr;
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

bool is_p256(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC") != 1) return false;  // SM2 and other curves-as-types are not "EC"
  char group[64] = {};
  std::size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1) return false;
  return std::string_view(group, len) == SN_X9_62_prime256v1;
}

Pkey load_private(std::string_view pem) {
  Bio bio = read_bio(pem);
  if (!bio) return nullptr;
  Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key || !is_p256(key.get())) return nullptr;
  return key;
}

Pkey load_public(std::string_view pem) {
  Bio bio = read_bio(pem);
  if (!bio) return nullptr;
  Pkey key(PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key || !is_p256(key.get())) return nullptr;
  return key;
}

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

Result<std::string> public_pem_of(EVP_PKEY* key) {
  Bio out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_PUBKEY(out.get(), key) != 1) {
    ERR_clear_error();
    return Error::internal("cannot encode EC public key");
  }
  return bio_contents(out.get());
}

std::string without_whitespace(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f') out.push_back(c);
  }
  return out;
}

}  // namespace

Result<EcKeyPair> ec_p256_generate() {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) {
    ERR_clear_error();
    return Error::internal("EC P-256 key generation failed");
  }
  Bio priv(BIO_new(BIO_s_mem()));
  // PEM_write_bio_PrivateKey writes PKCS#8 ("BEGIN PRIVATE KEY"), unencrypted with a null cipher.
  if (!priv || PEM_write_bio_PrivateKey(priv.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    ERR_clear_error();
    return Error::internal("cannot encode EC private key");
  }
  auto pub = public_pem_of(key.get());
  if (!pub) return pub.error();
  return EcKeyPair{bio_contents(priv.get()), std::move(*pub)};
}

Result<std::string> ec_public_from_private(std::string_view private_pem) {
  Pkey key = load_private(private_pem);
  if (!key) return fail("not a P-256 private key (unencrypted PKCS#8 PEM expected)");
  return public_pem_of(key.get());
}

Result<std::string> ec_sign_b64(std::string_view private_pem, std::string_view blob) {
  Pkey key = load_private(private_pem);
  if (!key) return fail("not a P-256 private key (unencrypted PKCS#8 PEM expected)");
  MdCtx ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, nullptr, 0) != 1) {
    ERR_clear_error();
    return Error::internal("ECDSA signing failed");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(blob.data()), blob.size()) != 1) {
    ERR_clear_error();
    return Error::internal("ECDSA signing failed");
  }
  sig.resize(len);  // DER length varies (70-72 bytes for P-256)
  return base64_encode(sig);
}

Status ec_verify_b64(std::string_view public_pem, std::string_view blob, std::string_view sig_b64) {
  Pkey key = load_public(public_pem);
  if (!key) return fail("not a P-256 public key");
  auto der = base64_decode(without_whitespace(sig_b64));
  // A DER ECDSA-Sig-Value for P-256 is at most 72 bytes; anything much larger is not one.
  if (!der || der->empty() || der->size() > 256) return fail("malformed signature");
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1) {
    ERR_clear_error();
    return Error::internal("ECDSA verification could not start");
  }
  // 1 = valid; 0 = well-formed but wrong; < 0 = not a DER ECDSA-Sig-Value (OpenSSL also refuses
  // non-canonical DER here, so one signature has one accepted encoding).
  int rc = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(der->data()), der->size(),
                            reinterpret_cast<const unsigned char*>(blob.data()), blob.size());
  if (rc == 1) return ok_status();
  return fail(rc == 0 ? "signature does not verify" : "malformed signature");
}

std::string ec_key_id(std::string_view public_pem) {
  Pkey key = load_public(public_pem);
  if (!key) {
    ERR_clear_error();
    return {};
  }
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(key.get(), &der);
  if (n <= 0) {
    ERR_clear_error();
    return {};
  }
  std::string id = sha256_hex(std::string_view(reinterpret_cast<char*>(der), static_cast<std::size_t>(n)));
  OPENSSL_free(der);
  return id;
}

}  // namespace secplat::crypto
