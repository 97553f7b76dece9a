#include "core/encoding.h"

#include <gtest/gtest.h>

#include <set>

#include "core/ids.h"

using namespace secplat;

TEST(Encoding, AppendUtf8EncodesEveryLengthAndRefusesPastTheLastCodePoint) {
  std::string out;
  for (unsigned long cp : {0x41ul, 0xE9ul, 0x2713ul, 0x1D11Eul}) EXPECT_TRUE(append_utf8(out, cp));
  EXPECT_EQ(out, "A\xC3\xA9\xE2\x9C\x93\xF0\x9D\x84\x9E");
  EXPECT_TRUE(is_valid_utf8(out));
  EXPECT_FALSE(append_utf8(out, 0x110000));
  EXPECT_EQ(out.size(), 10u);  // nothing appended
}

TEST(Encoding, HexRoundTrip) {
  EXPECT_EQ(hex_encode("\x01\xab"), "01ab");
  EXPECT_EQ(*hex_decode("01AB"), "\x01\xab");
  EXPECT_FALSE(hex_decode("0g").has_value());
  EXPECT_FALSE(hex_decode("012").has_value());
}

TEST(Encoding, Base64PaddingIsStripped) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    EXPECT_EQ(*base64_decode(base64_encode(s)), s) << s;
    EXPECT_EQ(*base64url_decode(base64url_encode(s)), s) << s;
  }
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_FALSE(base64url_decode("a").has_value());
  EXPECT_FALSE(base64url_decode("ab+c").has_value());
}

TEST(Encoding, Sha256AndHmacKnownAnswers) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // RFC 4231 test case 2
  EXPECT_EQ(hex_encode(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Encoding, Utf8Validation) {
  EXPECT_TRUE(is_valid_utf8("plain"));
  EXPECT_TRUE(is_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xc3"));          // truncated
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));      // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));  // surrogate
  EXPECT_FALSE(is_valid_utf8("\xff"));
}

TEST(Encoding, UrlDecode) {
  EXPECT_EQ(*url_decode("a%20b+c", true), "a b c");
  EXPECT_EQ(*url_decode("a+b", false), "a+b");
  EXPECT_FALSE(url_decode("%2", false).has_value());
  EXPECT_FALSE(url_decode("%zz", false).has_value());
}

TEST(Ids, UuidAndRequestIds) {
  std::string u = new_uuid();
  ASSERT_EQ(u.size(), 36u);
  EXPECT_EQ(u[14], '4');
  EXPECT_NE(new_uuid(), u);
  EXPECT_TRUE(is_sane_request_id("abc-123_X.y"));
  EXPECT_FALSE(is_sane_request_id(""));
  EXPECT_FALSE(is_sane_request_id("has space"));
  EXPECT_FALSE(is_sane_request_id(std::string(129, 'a')));
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
}

TEST(Ids, RequestIdsAreUuidShapedAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = new_request_id();
    ASSERT_EQ(id.size(), 36u);
    EXPECT_EQ(id[14], '4');
    EXPECT_TRUE(is_sane_request_id(id));
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}
