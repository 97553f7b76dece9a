#include <gtest/gtest.h>

#include "http/router.h"

namespace secplat::http {
namespace {

Route route(std::string method, std::string path) {
  Route r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.handler = [](Request&) -> Result<Response> { return Response::no_content(); };
  return r;
}

Router make_router() {
  return Router({route("GET", "/health"), route("GET", "/auth/users/{username}"), route("DELETE", "/auth/users/{username}"),
                 route("GET", "/auth/users/me"), route("GET", "/scans/{id}/artifacts/{path}"),
                 route("POST", "/scans")});
}

TEST(Router, MatchesLiteralRoute) {
  Router r = make_router();
  RouteMatch m = r.find("GET", "/health");
  ASSERT_EQ(m.outcome, RouteMatch::Outcome::found);
  EXPECT_EQ(m.route->path, "/health");
  EXPECT_TRUE(m.params.empty());
}

TEST(Router, ExtractsNamedParameters) {
  Router r = make_router();
  RouteMatch m = r.find("GET", "/scans/abc/artifacts/report.json");
  ASSERT_EQ(m.outcome, RouteMatch::Outcome::found);
  EXPECT_EQ(m.route->path, "/scans/{id}/artifacts/{path}");
  ASSERT_EQ(m.params.size(), 2u);
  EXPECT_EQ(m.params[0], (std::pair<std::string, std::string>{"id", "abc"}));
  EXPECT_EQ(m.params[1], (std::pair<std::string, std::string>{"path", "report.json"}));
}

TEST(Router, ParameterNeedsOneNonEmptySegment) {
  Router r = make_router();
  EXPECT_EQ(r.find("GET", "/auth/users/").outcome, RouteMatch::Outcome::not_found);
  EXPECT_EQ(r.find("GET", "/auth/users/a/b").outcome, RouteMatch::Outcome::not_found);
}

TEST(Router, UnknownPathIsNotFound) {
  Router r = make_router();
  EXPECT_EQ(r.find("GET", "/nope").outcome, RouteMatch::Outcome::not_found);
  EXPECT_EQ(r.find("GET", "/").outcome, RouteMatch::Outcome::not_found);
}

TEST(Router, OtherMethodIsMethodNotAllowedWithAllow) {
  Router r = make_router();
  RouteMatch m = r.find("PUT", "/auth/users/alice");
  ASSERT_EQ(m.outcome, RouteMatch::Outcome::method_not_allowed);
  EXPECT_EQ(m.allow, "DELETE, GET");
  EXPECT_EQ(r.find("GET", "/scans").allow, "POST");
}

TEST(Router, LiteralSegmentWinsOverParameterRegardlessOfOrder) {
  Router r = make_router();  // "/auth/users/{username}" is registered before "/auth/users/me"
  RouteMatch me = r.find("GET", "/auth/users/me");
  ASSERT_EQ(me.outcome, RouteMatch::Outcome::found);
  EXPECT_EQ(me.route->path, "/auth/users/me");
  RouteMatch bob = r.find("GET", "/auth/users/bob");
  ASSERT_EQ(bob.outcome, RouteMatch::Outcome::found);
  EXPECT_EQ(bob.route->path, "/auth/users/{username}");
  ASSERT_EQ(bob.params.size(), 1u);
  EXPECT_EQ(bob.params[0].second, "bob");
}

// Routes are looked up by the path's first segment; templates that start with a parameter (or are
// "/") are candidates for every path and still lose to a literal at the first differing segment.
TEST(Router, RoutesStartingWithAParameterMatchAnyFirstSegmentAndLoseToLiterals) {
  Router r({route("GET", "/{tenant}/status"), route("GET", "/health/{check}"), route("GET", "/"),
            route("POST", "/{tenant}/status"), route("GET", "/health")});
  RouteMatch acme = r.find("GET", "/acme/status");
  ASSERT_EQ(acme.outcome, RouteMatch::Outcome::found);
  EXPECT_EQ(acme.route->path, "/{tenant}/status");
  EXPECT_EQ(acme.params.at(0).second, "acme");
  RouteMatch both = r.find("GET", "/health/status");  // matches both templates
  ASSERT_EQ(both.outcome, RouteMatch::Outcome::found);
  EXPECT_EQ(both.route->path, "/health/{check}");
  EXPECT_EQ(r.find("GET", "/").route->path, "/");
  EXPECT_EQ(r.find("GET", "/health").route->path, "/health");
  EXPECT_EQ(r.find("PUT", "/acme/status").allow, "GET, POST");
  EXPECT_EQ(r.find("PUT", "/health/status").allow, "GET, POST");
  EXPECT_EQ(r.find("GET", "/acme").outcome, RouteMatch::Outcome::not_found);
}

TEST(Router, PercentDecodesPerSegment) {
  Router r = make_router();
  RouteMatch m = r.find("GET", "/auth/users/a%2Fb%20c");
  ASSERT_EQ(m.outcome, RouteMatch::Outcome::found);
  EXPECT_EQ(m.params[0].second, "a/b c");  // %2F stays inside its segment
  RouteMatch u = r.find("GET", "/auth/users/J%C3%BCrgen");
  ASSERT_EQ(u.outcome, RouteMatch::Outcome::found);
  EXPECT_EQ(u.params[0].second, "J\xC3\xBCrgen");
}

TEST(Router, RejectsBadEncodingAndInvalidUtf8) {
  Router r = make_router();
  EXPECT_EQ(r.find("GET", "/auth/users/%zz").outcome, RouteMatch::Outcome::bad_path);
  EXPECT_EQ(r.find("GET", "/auth/users/%C3").outcome, RouteMatch::Outcome::bad_path);
  EXPECT_EQ(r.find("GET", "/auth/users/%ff%fe").outcome, RouteMatch::Outcome::bad_path);
}

}  // namespace
}  // namespace secplat::http
