// DSSE v1 envelopes: PAE known answer from the spec, sign/verify, tampering, key selection.
#include "crypto/dsse.h"

#include <gtest/gtest.h>

#include "core/encoding.h"
#include "core/json.h"
#include "crypto/ecdsa.h"

namespace secplat::crypto {
namespace {

TEST(DssePae, MatchesTheSpecExample) {
  EXPECT_EQ(dsse_pae("http://example.com/HelloWorld", "hello world"),
            "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
  EXPECT_EQ(dsse_pae("", ""), "DSSEv1 0  0 ");
  // Lengths count bytes, not characters.
  EXPECT_EQ(dsse_pae("t", "\xc3\xa9"), "DSSEv1 1 t 2 \xc3\xa9");
}

class DsseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto a = ec_p256_generate();
    auto b = ec_p256_generate();
    ASSERT_TRUE(a.ok() && b.ok());
    key_ = *a;
    other_ = *b;
  }
  EcKeyPair key_, other_;
  const std::string type_ = "application/vnd.in-toto+json";
  const std::string payload_ = R"({"_type":"https://in-toto.io/Statement/v1","subject":[]})";
};

TEST_F(DsseTest, SignProducesSpecShapeAndVerifies) {
  auto env = dsse_sign(type_, payload_, key_.private_pem);
  ASSERT_TRUE(env.ok()) << env.error().message;
  EXPECT_EQ((*env)["payloadType"], type_);
  EXPECT_EQ(*base64_decode((*env)["payload"].get<std::string>()), payload_);
  ASSERT_EQ((*env)["signatures"].size(), 1u);
  EXPECT_EQ((*env)["signatures"][0]["keyid"], ec_key_id(key_.public_pem));
  // The signature is a plain ECDSA signature over PAE, checkable without any DSSE code.
  EXPECT_TRUE(ec_verify_b64(key_.public_pem, dsse_pae(type_, payload_),
                            (*env)["signatures"][0]["sig"].get<std::string>())
                  .ok());

  auto payload = dsse_verify(*env, key_.public_pem);
  ASSERT_TRUE(payload.ok()) << payload.error().message;
  EXPECT_EQ(*payload, payload_);
  // Survives a serialisation round trip (the signature is not over the JSON text).
  auto reparsed = dsse_verify(Json::parse(env->dump(2)), key_.public_pem);
  EXPECT_TRUE(reparsed.ok());
}

TEST_F(DsseTest, TamperedPayloadTypeOrSignatureFails) {
  auto env = dsse_sign(type_, payload_, key_.private_pem);
  ASSERT_TRUE(env.ok());

  Json changed_payload = *env;
  changed_payload["payload"] = base64_encode(R"({"_type":"https://in-toto.io/Statement/v1","subject":[1]})");
  auto r1 = dsse_verify(changed_payload, key_.public_pem);
  ASSERT_FALSE(r1.ok());
  EXPECT_EQ(r1.error().message, "signature does not verify");

  Json changed_type = *env;
  changed_type["payloadType"] = "text/plain";
  EXPECT_FALSE(dsse_verify(changed_type, key_.public_pem).ok());

  Json changed_sig = *env;
  auto der = *base64_decode(changed_sig["signatures"][0]["sig"].get<std::string>());
  der.back() = static_cast<char>(der.back() ^ 0x04);
  changed_sig["signatures"][0]["sig"] = base64_encode(der);
  EXPECT_FALSE(dsse_verify(changed_sig, key_.public_pem).ok());
}

TEST_F(DsseTest, WrongKeyIsNoSignatureByThisKey) {
  auto env = dsse_sign(type_, payload_, key_.private_pem);
  ASSERT_TRUE(env.ok());
  auto r = dsse_verify(*env, other_.public_pem);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "no signature by this key");

  // A signature that lies about its keyid (claims ours) still fails the cryptographic check.
  Json lying = *env;
  lying["signatures"][0]["keyid"] = ec_key_id(other_.public_pem);
  auto r2 = dsse_verify(lying, other_.public_pem);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().message, "signature does not verify");
}

TEST_F(DsseTest, AnyOneMatchingSignatureIsEnough) {
  auto mine = dsse_sign(type_, payload_, key_.private_pem);
  auto theirs = dsse_sign(type_, payload_, other_.private_pem);
  ASSERT_TRUE(mine.ok() && theirs.ok());
  Json both = *theirs;
  both["signatures"].push_back((*mine)["signatures"][0]);
  EXPECT_TRUE(dsse_verify(both, key_.public_pem).ok());
  EXPECT_TRUE(dsse_verify(both, other_.public_pem).ok());
  // An empty keyid is tried against the key (DSSE makes keyid optional).
  Json no_keyid = *mine;
  no_keyid["signatures"][0].erase("keyid");
  EXPECT_TRUE(dsse_verify(no_keyid, key_.public_pem).ok());
}

TEST_F(DsseTest, MalformedEnvelopesAreRefusedWithAReason) {
  auto env = dsse_sign(type_, payload_, key_.private_pem);
  ASSERT_TRUE(env.ok());
  std::vector<Json> bad;
  bad.push_back(Json::array());
  bad.push_back(Json{{"payload", (*env)["payload"]}, {"signatures", (*env)["signatures"]}});
  Json no_sigs = *env;
  no_sigs["signatures"] = Json::array();
  bad.push_back(no_sigs);
  Json bad_b64 = *env;
  bad_b64["payload"] = "%%%not-base64%%%";
  bad.push_back(bad_b64);
  Json sig_not_string = *env;
  sig_not_string["signatures"][0]["sig"] = 42;
  bad.push_back(sig_not_string);
  for (const Json& e : bad) {
    auto r = dsse_verify(e, key_.public_pem);
    ASSERT_FALSE(r.ok()) << e.dump();
    EXPECT_EQ(r.error().code, Errc::bad_request);
    EXPECT_EQ(r.error().message.rfind("malformed DSSE envelope: ", 0), 0u) << r.error().message;
  }
}

}  // namespace
}  // namespace secplat::crypto
