#include <gtest/gtest.h>

#include "core/json.h"
#include "http/error_envelope.h"

namespace secplat::http {
namespace {

std::optional<std::string> header(const Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return std::nullopt;
}

TEST(ErrorEnvelope, StatusMappingCoversEveryCode) {
  EXPECT_EQ(http_status(Errc::bad_request), 400);
  EXPECT_EQ(http_status(Errc::unauthorized), 401);
  EXPECT_EQ(http_status(Errc::forbidden), 403);
  EXPECT_EQ(http_status(Errc::not_found), 404);
  EXPECT_EQ(http_status(Errc::method_not_allowed), 405);
  EXPECT_EQ(http_status(Errc::timeout), 408);
  EXPECT_EQ(http_status(Errc::conflict), 409);
  EXPECT_EQ(http_status(Errc::too_large), 413);
  EXPECT_EQ(http_status(Errc::validation), 422);
  EXPECT_EQ(http_status(Errc::rate_limited), 429);
  EXPECT_EQ(http_status(Errc::header_too_large), 431);
  EXPECT_EQ(http_status(Errc::internal), 500);
  EXPECT_EQ(http_status(Errc::unavailable), 503);
}

TEST(ErrorEnvelope, HasExactlyTheDocumentedFields) {
  Response r = error_response(Error::not_found("Scan not found"), "req-1");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  Json j = Json::parse(r.body);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j["detail"], "Scan not found");
  const Json& e = j["error"];
  ASSERT_EQ(e.size(), 5u);
  EXPECT_EQ(e["message"], "Scan not found");
  EXPECT_EQ(e["status_code"], 404);
  EXPECT_EQ(e["retryable"], false);
  EXPECT_EQ(e["detail"], "Scan not found");
  EXPECT_EQ(e["request_id"], "req-1");
  EXPECT_FALSE(header(r, "Retry-After"));
  EXPECT_FALSE(header(r, "WWW-Authenticate"));
}

TEST(ErrorEnvelope, ValidationDetailListsLocAndMsg) {
  Error e = Error::invalid({"body", "limit"}, "Input should be a valid integer");
  e.fields.push_back({{"query", "q"}, "Field required"});
  Json j = Json::parse(error_response(e, "r").body);
  EXPECT_EQ(j["error"]["status_code"], 422);
  EXPECT_EQ(j["detail"], "Request validation failed");
  ASSERT_TRUE(j["error"]["detail"].is_array());
  ASSERT_EQ(j["error"]["detail"].size(), 2u);
  EXPECT_EQ(j["error"]["detail"][0]["loc"], Json::array({"body", "limit"}));
  EXPECT_EQ(j["error"]["detail"][0]["msg"], "Input should be a valid integer");
  EXPECT_EQ(j["error"]["detail"][1]["loc"], Json::array({"query", "q"}));
}

TEST(ErrorEnvelope, RetryableStatusesAndRetryAfter) {
  Response r = error_response(Error::rate_limited("Too many login attempts", 30), "r");
  Json j = Json::parse(r.body);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(j["error"]["retryable"], true);
  EXPECT_EQ(header(r, "Retry-After"), "30");
  EXPECT_TRUE(Json::parse(error_response(Error::unavailable("down"), "r").body)["error"]["retryable"]);
  EXPECT_TRUE(Json::parse(error_response(Error{Errc::timeout, "slow", {}, 0}, "r").body)["error"]["retryable"]);
  EXPECT_FALSE(Json::parse(error_response(Error::conflict("dup"), "r").body)["error"]["retryable"]);
  for (int s : {408, 425, 429, 500, 502, 503, 504}) EXPECT_TRUE(is_retryable_status(s)) << s;
  for (int s : {400, 401, 403, 404, 409, 413, 422}) EXPECT_FALSE(is_retryable_status(s)) << s;
}

TEST(ErrorEnvelope, UnauthorizedAdvertisesBearer) {
  Response r = error_response(Error::unauthorized("Not authenticated"), "r");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(header(r, "WWW-Authenticate"), "Bearer");
}

TEST(ErrorEnvelope, InternalErrorsNeverLeakTheirMessage) {
  Response r = error_response(Error::internal("sqlite: disk I/O error at /var/lib/secplat/db"), "rid");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("sqlite"), std::string::npos);
  Json j = Json::parse(r.body);
  EXPECT_EQ(j["error"]["message"], "Internal server error");
  EXPECT_EQ(j["detail"], "Internal server error");
  EXPECT_EQ(j["error"]["retryable"], true);
  EXPECT_EQ(j["error"]["request_id"], "rid");
}

}  // namespace
}  // namespace secplat::http
