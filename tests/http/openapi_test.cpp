#include <gtest/gtest.h>

#include "core/json.h"
#include "http/openapi.h"

namespace secplat::http {
namespace {

TEST(OpenApi, DescribesEveryRouteAndMarksPublicOnesWithoutSecurity) {
  auto ok = [](Request&) -> Result<Response> { return Response::no_content(); };
  std::vector<Route> routes;
  routes.push_back({"GET", "/health", Access::public_route, ok, nullptr, true, {"Liveness", "ops", "", "", {}, 200}, {}});
  routes.push_back({"POST", "/v1/security-scans", Access::analyst, ok, nullptr, false,
                    {"Start a scan", "scans", R"({"type":"object","properties":{"repo":{"type":"string"}}})", "", {}, 202},
                    {}});
  routes.push_back({"GET", "/v1/security-scans", Access::viewer, ok, nullptr, false,
                    {"List scans", "scans", "", "", {"limit", "status"}, 200}, {}});
  routes.push_back({"GET", "/v1/security-scans/{test_id}", Access::viewer, ok, nullptr, false, {}, {}});
  routes.push_back({"GET", "/v1/security-scans/{test_id}/stream", Access::viewer, nullptr,
                    [](const std::shared_ptr<WsSession>&, const Request&) {}, false, {}, {}});

  Json doc = Json::parse(openapi_document(routes, "SecPlat", "0.1.0"));
  EXPECT_EQ(doc["openapi"], "3.1.0");
  EXPECT_EQ(doc["info"]["title"], "SecPlat");
  for (const Route& r : routes) {
    std::string m = r.method == "GET" ? "get" : "post";
    ASSERT_TRUE(doc["paths"].contains(r.path)) << r.path;
    ASSERT_TRUE(doc["paths"][r.path].contains(m)) << r.path;
  }
  const Json& health = doc["paths"]["/health"]["get"];
  EXPECT_FALSE(health.contains("security"));
  EXPECT_FALSE(health["responses"].contains("401"));
  EXPECT_EQ(health["summary"], "Liveness");
  EXPECT_EQ(health["tags"], Json::array({"ops"}));

  const Json& create = doc["paths"]["/v1/security-scans"]["post"];
  EXPECT_EQ(create["security"], Json::parse(R"([{"bearerAuth":[]}])"));
  EXPECT_TRUE(create["responses"].contains("202"));
  EXPECT_TRUE(create["responses"].contains("401"));
  EXPECT_TRUE(create["responses"].contains("403"));
  EXPECT_TRUE(create["responses"].contains("422"));
  EXPECT_EQ(create["requestBody"]["content"]["application/json"]["schema"]["properties"]["repo"]["type"], "string");
  EXPECT_EQ(create["responses"]["422"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorEnvelope");

  const Json& list = doc["paths"]["/v1/security-scans"]["get"];
  ASSERT_EQ(list["parameters"].size(), 2u);
  EXPECT_EQ(list["parameters"][0]["name"], "limit");
  EXPECT_EQ(list["parameters"][0]["in"], "query");

  const Json& one = doc["paths"]["/v1/security-scans/{test_id}"]["get"];
  EXPECT_EQ(one["parameters"][0]["name"], "test_id");
  EXPECT_EQ(one["parameters"][0]["in"], "path");
  EXPECT_EQ(one["parameters"][0]["required"], true);

  EXPECT_TRUE(doc["paths"]["/v1/security-scans/{test_id}/stream"]["get"]["responses"].contains("101"));
  EXPECT_TRUE(doc["components"]["schemas"].contains("ErrorEnvelope"));
  EXPECT_EQ(doc["components"]["securitySchemes"]["bearerAuth"]["scheme"], "bearer");
}

}  // namespace
}  // namespace secplat::http
