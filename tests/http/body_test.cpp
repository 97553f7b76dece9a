#include <gtest/gtest.h>

#include "http/json_body.h"

namespace secplat::http {
namespace {

Request json_request(std::string body, std::string content_type = "application/json") {
  Request r;
  r.method = "POST";
  r.body = std::move(body);
  if (!content_type.empty()) r.headers.emplace_back("content-type", content_type);
  return r;
}

void expect_422(const Error& e, std::vector<std::string> loc) {
  EXPECT_EQ(e.code, Errc::validation);
  ASSERT_FALSE(e.fields.empty());
  EXPECT_EQ(e.fields[0].loc, loc);
  EXPECT_FALSE(e.fields[0].msg.empty());
}

TEST(JsonBody, ParsesAnObject) {
  auto r = parse_json_object(json_request(R"({"name":"x","n":3})", "application/json; charset=utf-8"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["name"], "x");
  EXPECT_TRUE(parse_json_object(json_request(R"({})", "")).ok());  // no Content-Type: read as JSON
}

TEST(JsonBody, MalformedNonObjectEmptyAndWrongTypeAre422AtBody) {
  auto bad = parse_json_object(json_request(R"({"name":)"));
  ASSERT_FALSE(bad.ok());
  expect_422(bad.error(), {"body"});
  EXPECT_NE(bad.error().fields[0].msg.find("Malformed JSON"), std::string::npos);
  auto arr = parse_json_object(json_request("[1,2]"));
  ASSERT_FALSE(arr.ok());
  expect_422(arr.error(), {"body"});
  EXPECT_NE(arr.error().fields[0].msg.find("object"), std::string::npos);
  auto empty = parse_json_object(json_request(""));
  ASSERT_FALSE(empty.ok());
  expect_422(empty.error(), {"body"});
  auto text = parse_json_object(json_request(R"({"a":1})", "text/plain"));
  ASSERT_FALSE(text.ok());
  expect_422(text.error(), {"body"});
  EXPECT_NE(text.error().fields[0].msg.find("Content-Type"), std::string::npos);
}

TEST(JsonBody, RejectsEachUnknownField) {
  Json j = Json::parse(R"({"name":"a","colour":"red","size":2})");
  auto s = reject_unknown_fields(j, {"name"});
  ASSERT_FALSE(s.ok());
  ASSERT_EQ(s.error().fields.size(), 2u);
  EXPECT_EQ(s.error().fields[0].loc, (std::vector<std::string>{"body", "colour"}));
  EXPECT_EQ(s.error().fields[1].loc, (std::vector<std::string>{"body", "size"}));
  EXPECT_TRUE(reject_unknown_fields(j, {"name", "colour", "size"}).ok());
}

TEST(JsonBody, TypedGettersNameTheField) {
  Json j = Json::parse(R"({"s":"v","b":true,"i":42,"wrong":"7","nul":null,"f":1.5})");
  EXPECT_EQ(*opt_string(j, "s").value(), "v");
  EXPECT_FALSE(opt_string(j, "missing").value().has_value());
  EXPECT_FALSE(opt_string(j, "nul").value().has_value());
  EXPECT_EQ(req_string(j, "s").value(), "v");
  EXPECT_EQ(*opt_bool(j, "b").value(), true);
  EXPECT_EQ(*opt_int(j, "i").value(), 42);
  EXPECT_EQ(req_int(j, "i").value(), 42);

  auto missing = req_string(j, "missing");
  ASSERT_FALSE(missing.ok());
  expect_422(missing.error(), {"body", "missing"});
  EXPECT_EQ(missing.error().fields[0].msg, "Field required");
  auto wrong_int = opt_int(j, "wrong");
  ASSERT_FALSE(wrong_int.ok());
  expect_422(wrong_int.error(), {"body", "wrong"});
  ASSERT_FALSE(opt_int(j, "f").ok());
  auto wrong_str = opt_string(j, "i");
  ASSERT_FALSE(wrong_str.ok());
  expect_422(wrong_str.error(), {"body", "i"});
  auto wrong_bool = opt_bool(j, "s");
  ASSERT_FALSE(wrong_bool.ok());
  expect_422(wrong_bool.error(), {"body", "s"});
}

TEST(QueryInt, DefaultRangeAndGarbage) {
  Request r;
  EXPECT_EQ(query_int(r, "limit", 50, 1, 500).value(), 50);
  r.query = {{"limit", "20"}};
  EXPECT_EQ(query_int(r, "limit", 50, 1, 500).value(), 20);
  for (const char* bad : {"1000000", "0", "-5", "abc", "", "12abc", "99999999999999999999999"}) {
    r.query = {{"limit", bad}};
    auto v = query_int(r, "limit", 50, 1, 500);
    ASSERT_FALSE(v.ok()) << bad;
    expect_422(v.error(), {"query", "limit"});
  }
}

TEST(Form, DecodesPairsInOrder) {
  auto f = parse_form("username=admin&password=p%40ss+word&empty=&flag");
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0], (std::pair<std::string, std::string>{"username", "admin"}));
  EXPECT_EQ(f[1], (std::pair<std::string, std::string>{"password", "p@ss word"}));
  EXPECT_EQ(f[2], (std::pair<std::string, std::string>{"empty", ""}));
  EXPECT_EQ(f[3], (std::pair<std::string, std::string>{"flag", ""}));
  EXPECT_TRUE(parse_form("").empty());
}

}  // namespace
}  // namespace secplat::http
