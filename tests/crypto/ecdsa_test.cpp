// ECDSA P-256 signatures, cross-checked against the real `openssl` CLI in both directions.
#include "crypto/ecdsa.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <sys/wait.h>

#include "core/encoding.h"

namespace secplat::crypto {
namespace {

namespace fs = std::filesystem;

class EcdsaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("secplat-ecdsa-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void write(const std::string& name, std::string_view bytes) const {
    std::ofstream(path(name), std::ios::binary) << bytes;
  }
  std::string read(const std::string& name) const {
    std::ifstream in(path(name), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  // Runs a shell command inside the temp dir; returns its exit status.
  int sh(const std::string& cmd) const {
    int rc = std::system(("cd '" + dir_.string() + "' && " + cmd + " >/dev/null 2>&1").c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }

  fs::path dir_;
};

TEST_F(EcdsaTest, GeneratesPkcs8PrivateAndSpkiPublicPem) {
  auto kp = ec_p256_generate();
  ASSERT_TRUE(kp.ok()) << kp.error().message;
  EXPECT_EQ(kp->private_pem.rfind("-----BEGIN PRIVATE KEY-----\n", 0), 0u);
  EXPECT_EQ(kp->public_pem.rfind("-----BEGIN PUBLIC KEY-----\n", 0), 0u);
  auto pub = ec_public_from_private(kp->private_pem);
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(*pub, kp->public_pem);
  auto other = ec_p256_generate();
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->private_pem, kp->private_pem);
  // openssl sees a P-256 key.
  write("k.pem", kp->private_pem);
  EXPECT_EQ(sh("openssl pkey -in k.pem -noout -text | grep -q 'NIST CURVE: P-256'"), 0);
}

TEST_F(EcdsaTest, SignThenVerify) {
  auto kp = ec_p256_generate();
  ASSERT_TRUE(kp.ok());
  auto sig = ec_sign_b64(kp->private_pem, "the manifest bytes");
  ASSERT_TRUE(sig.ok()) << sig.error().message;
  // A DER signature (68-72 bytes: r and s lose a leading zero byte 1 time in 256) is 92-96
  // base64 characters, one line, padded.
  EXPECT_GE(sig->size(), 92u);
  EXPECT_LE(sig->size(), 96u);
  EXPECT_EQ(sig->size() % 4, 0u);
  EXPECT_EQ(sig->find('\n'), std::string::npos);
  EXPECT_TRUE(ec_verify_b64(kp->public_pem, "the manifest bytes", *sig).ok());
  // A signature file with a trailing newline (e.g. written by `echo`) still verifies.
  EXPECT_TRUE(ec_verify_b64(kp->public_pem, "the manifest bytes", *sig + "\n").ok());
}

TEST_F(EcdsaTest, OpensslCliVerifiesOurSignature) {
  auto kp = ec_p256_generate();
  ASSERT_TRUE(kp.ok());
  std::string blob = "blob with\0 a NUL and bytes \xff\xfe";
  blob += std::string("\0tail", 5);
  auto sig = ec_sign_b64(kp->private_pem, blob);
  ASSERT_TRUE(sig.ok());
  write("pub.pem", kp->public_pem);
  write("blob", blob);
  write("sig.der", *base64_decode(*sig));
  write("sig.b64", *sig);
  EXPECT_EQ(sh("openssl dgst -sha256 -verify pub.pem -signature sig.der blob"), 0);
  // `base64 -d` of what we write is the DER signature openssl checked.
  EXPECT_EQ(sh("base64 -d sig.b64 | cmp -s - sig.der"), 0);
  write("blob", blob + "x");
  EXPECT_NE(sh("openssl dgst -sha256 -verify pub.pem -signature sig.der blob"), 0);
}

TEST_F(EcdsaTest, VerifiesOpensslCliSignatureAndSignsWithItsKey) {
  ASSERT_EQ(sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out k.pem"), 0);
  ASSERT_EQ(sh("openssl pkey -in k.pem -pubout -out pub.pem"), 0);
  write("blob", "signed by the openssl CLI");
  ASSERT_EQ(sh("openssl dgst -sha256 -sign k.pem -out sig.der blob"), 0);
  std::string pub = read("pub.pem");
  std::string sig = base64_encode(read("sig.der"));
  EXPECT_TRUE(ec_verify_b64(pub, "signed by the openssl CLI", sig).ok());
  auto bad = ec_verify_b64(pub, "signed by the openssl CLI!", sig);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "signature does not verify");

  // A key made by openssl works for signing too, and derives the same public key.
  auto derived = ec_public_from_private(read("k.pem"));
  ASSERT_TRUE(derived.ok());
  EXPECT_EQ(*derived, pub);
  auto ours = ec_sign_b64(read("k.pem"), "blob2");
  ASSERT_TRUE(ours.ok());
  EXPECT_TRUE(ec_verify_b64(pub, "blob2", *ours).ok());
}

TEST_F(EcdsaTest, TamperedBlobOrSignatureAndWrongKeyFail) {
  auto kp = ec_p256_generate();
  auto other = ec_p256_generate();
  ASSERT_TRUE(kp.ok() && other.ok());
  auto sig = ec_sign_b64(kp->private_pem, "payload");
  ASSERT_TRUE(sig.ok());

  auto tampered = ec_verify_b64(kp->public_pem, "payloaD", *sig);
  ASSERT_FALSE(tampered.ok());
  EXPECT_EQ(tampered.error().code, Errc::bad_request);
  EXPECT_EQ(tampered.error().message, "signature does not verify");

  auto wrong_key = ec_verify_b64(other->public_pem, "payload", *sig);
  ASSERT_FALSE(wrong_key.ok());
  EXPECT_EQ(wrong_key.error().message, "signature does not verify");

  // Flip one bit of s (the last byte of the DER): still well-formed, no longer valid.
  std::string der = *base64_decode(*sig);
  der.back() = static_cast<char>(der.back() ^ 0x01);
  auto flipped = ec_verify_b64(kp->public_pem, "payload", base64_encode(der));
  ASSERT_FALSE(flipped.ok());
  EXPECT_EQ(flipped.error().message, "signature does not verify");
}

TEST_F(EcdsaTest, MalformedSignaturesAreNamedAsSuch) {
  auto kp = ec_p256_generate();
  ASSERT_TRUE(kp.ok());
  for (std::string bad : {std::string("not base64 at all!"), std::string(""), base64_encode("hello"),
                          base64_encode(std::string(70, '\x30'))}) {
    auto r = ec_verify_b64(kp->public_pem, "payload", bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().message, "malformed signature") << bad;
  }
  // A valid signature with trailing garbage after the DER is refused too.
  auto sig = ec_sign_b64(kp->private_pem, "payload");
  ASSERT_TRUE(sig.ok());
  auto padded = ec_verify_b64(kp->public_pem, "payload", base64_encode(*base64_decode(*sig) + "xyz"));
  EXPECT_FALSE(padded.ok());
}

TEST_F(EcdsaTest, RefusesKeysThatAreNotP256) {
  ASSERT_EQ(sh("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa.pem"), 0);
  ASSERT_EQ(sh("openssl pkey -in rsa.pem -pubout -out rsa.pub"), 0);
  ASSERT_EQ(sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out p384.pem"), 0);
  ASSERT_EQ(sh("openssl pkey -in p384.pem -pubout -out p384.pub"), 0);
  ASSERT_EQ(sh("openssl genpkey -algorithm ED25519 -out ed.pem"), 0);
  ASSERT_EQ(sh("openssl pkey -in ed.pem -pubout -out ed.pub"), 0);
  write("blob", "x");
  for (const char* name : {"rsa", "p384"}) {
    ASSERT_EQ(sh(std::string("openssl dgst -sha256 -sign ") + name + ".pem -out " + name + ".sig blob"), 0);
  }

  for (const char* name : {"rsa", "p384", "ed"}) {
    std::string pub = read(std::string(name) + ".pub");
    std::string priv = read(std::string(name) + ".pem");
    ASSERT_FALSE(pub.empty());
    std::string sig = name == std::string("ed") ? base64_encode("x") : base64_encode(read(std::string(name) + ".sig"));
    auto v = ec_verify_b64(pub, "x", sig);
    ASSERT_FALSE(v.ok()) << name;
    EXPECT_EQ(v.error().message, "not a P-256 public key") << name;
    EXPECT_FALSE(ec_sign_b64(priv, "x").ok()) << name;
    EXPECT_FALSE(ec_public_from_private(priv).ok()) << name;
    EXPECT_EQ(ec_key_id(pub), "") << name;
  }
  auto garbage = ec_verify_b64("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "x", base64_encode("x"));
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().message, "not a P-256 public key");
}

TEST_F(EcdsaTest, RefusesEncryptedPrivateKeyWithoutPrompting) {
  ASSERT_EQ(sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes-256-cbc -pass pass:secret "
               "-out enc.pem"),
            0);
  std::string enc = read("enc.pem");
  ASSERT_NE(enc.find("ENCRYPTED PRIVATE KEY"), std::string::npos);
  auto r = ec_sign_b64(enc, "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::bad_request);
}

TEST_F(EcdsaTest, KeyIdIsSha256OfDerSpkiAsOpensslComputesIt) {
  auto kp = ec_p256_generate();
  ASSERT_TRUE(kp.ok());
  write("pub.pem", kp->public_pem);
  ASSERT_EQ(sh("openssl pkey -pubin -in pub.pem -outform DER -out pub.der"), 0);
  std::string id = ec_key_id(kp->public_pem);
  EXPECT_EQ(id, sha256_hex(read("pub.der")));
  EXPECT_EQ(id.size(), 64u);
  // Re-wrapping the PEM (CRLF line endings) does not change the id.
  std::string crlf;
  for (char c : kp->public_pem) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  EXPECT_EQ(ec_key_id(crlf), id);
}

}  // namespace
}  // namespace secplat::crypto
