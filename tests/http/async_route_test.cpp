// Asynchronous routes (Route::async_handler): where they run, how their replies come back, and that
// a reply cannot be lost — over real sockets on 127.0.0.1.
#include <gtest/gtest.h>

#include <pthread.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <thread>

#include "http/json_body.h"
#include "http/test_client.h"
#include "http/test_server.h"

namespace secplat::http::testing {
namespace {

std::string thread_name() {
  char name[32] = {};
  pthread_getname_np(pthread_self(), name, sizeof name);
  return name;
}

// "<role>-token" needs the store (authenticate only); "cached-<role>-token" is known from memory
// (authenticate_cached answers too); "cached-bad-token" is refused from memory.
class CachingAuth final : public Authenticator {
 public:
  std::atomic<int> full_checks{0};
  Result<Principal> authenticate(std::string_view bearer) override {
    ++full_checks;
    if (bearer.starts_with("cached-")) bearer.remove_prefix(7);
    for (Role r : {Role::viewer, Role::analyst, Role::admin})
      if (bearer == std::string(role_name(r)) + "-token") return Principal{role_name(r), r, "user", 1};
    return Error::unauthorized("Invalid token");
  }
  std::optional<Result<Principal>> authenticate_cached(std::string_view bearer) override {
    if (!bearer.starts_with("cached-")) return std::nullopt;
    bearer.remove_prefix(7);
    for (Role r : {Role::viewer, Role::analyst, Role::admin})
      if (bearer == std::string(role_name(r)) + "-token") return Result<Principal>(Principal{role_name(r), r, "user", 1});
    return Result<Principal>(Error::unauthorized("Invalid token"));
  }
};

// A stand-in for the store's writer: replies are given on its own thread, later.
class Completer {
 public:
  ~Completer() {
    for (auto& t : threads_) t.join();
  }
  void later(std::function<void()> fn) {
    std::lock_guard lk(mu_);
    threads_.emplace_back([fn = std::move(fn)] {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      fn();
    });
  }

 private:
  std::mutex mu_;
  std::vector<std::thread> threads_;
};

struct Fixture {
  CachingAuth auth;
  Metrics metrics;
  Completer completer;
  std::mutex mu;
  std::string handler_thread;  // guarded by mu
  std::unique_ptr<Server> server;
  uint16_t port = 0;
  // Guarded by mu: /keep's reply, answered by the test. Declared after the server so that it goes
  // first: a test that stops early drops it (a 500), and the server's shutdown does not wait on it.
  std::optional<http::Reply> kept;

  explicit Fixture(HttpConfig limits = TestServer::small_limits()) {
    std::vector<Route> routes;
    Route upsert;
    upsert.method = "POST";
    upsert.path = "/things";
    upsert.access = Access::analyst;
    upsert.max_body_bytes = 256 << 10;
    upsert.async_handler = [this](Request& req, http::Reply reply) {
      {
        std::lock_guard lk(mu);
        handler_thread = thread_name();
      }
      auto body = parse_json_object(req);
      if (!body.ok()) return reply(std::move(body).take_error());
      const std::string who = req.principal ? req.principal->subject : "";
      const std::size_t size = req.body.size();
      completer.later([reply, who, size] {
        reply(Response::json(201, Json{{"who", who}, {"bytes", size}, {"on", thread_name() == "secplat-http-io"}}));
      });
    };
    routes.push_back(upsert);
    Route keep;
    keep.method = "POST";
    keep.path = "/keep";
    keep.access = Access::public_route;
    keep.async_handler = [this](Request&, http::Reply reply) {
      std::lock_guard lk(mu);
      kept = reply;
    };
    routes.push_back(keep);
    Route drop;
    drop.method = "POST";
    drop.path = "/drop";
    drop.access = Access::public_route;
    drop.async_handler = [this](Request&, http::Reply reply) { completer.later([reply] { (void)reply; }); };
    routes.push_back(drop);
    Route boom;
    boom.method = "POST";
    boom.path = "/boom";
    boom.access = Access::public_route;
    boom.async_handler = [](Request&, http::Reply) { throw std::runtime_error("secret detail"); };
    routes.push_back(boom);
    server = std::make_unique<Server>(ServerOptions{"127.0.0.1", 0, limits}, std::move(routes), &auth, &metrics);
    auto r = server->start();
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    if (r.ok()) port = *r;
  }
  std::string ran_on() {
    std::lock_guard lk(mu);
    return handler_thread;
  }
};

TEST(AsyncRoute, RunsOnTheIoThreadWhenTheCredentialIsKnownWithoutTheStore) {
  Fixture f;
  TestClient c(f.port);
  auto r = c.request("POST", "/things", R"({"a":1})", {{"Authorization", "Bearer cached-analyst-token"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << r->body;
  EXPECT_EQ(r->json()["who"], "analyst");
  EXPECT_EQ(f.ran_on(), "secplat-http-io");
  EXPECT_EQ(f.auth.full_checks.load(), 0);
  // Keep-alive goes on after an asynchronous reply.
  auto again = c.request("POST", "/things", R"({"a":2})", {{"Authorization", "Bearer cached-admin-token"}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 201);
  EXPECT_EQ(again->json()["who"], "admin");
}

TEST(AsyncRoute, ACredentialThatNeedsTheStoreIsCheckedOnAWorkerFirst) {
  Fixture f;
  TestClient c(f.port);
  auto r = c.request("POST", "/things", R"({"a":1})", {{"Authorization", "Bearer analyst-token"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << r->body;
  EXPECT_EQ(r->json()["who"], "analyst");
  EXPECT_EQ(f.ran_on(), "secplat-worker");
  EXPECT_EQ(f.auth.full_checks.load(), 1);
}

TEST(AsyncRoute, RefusedCredentialsNeverReachTheHandler) {
  Fixture f;
  TestClient c(f.port);
  for (auto [token, status] : {std::pair{"cached-bad-token", 401}, std::pair{"cached-viewer-token", 403},
                               std::pair{"viewer-token", 403}, std::pair{"", 401}}) {
    std::vector<std::pair<std::string, std::string>> h;
    if (*token) h.emplace_back("Authorization", std::string("Bearer ") + token);
    auto r = c.request("POST", "/things", R"({"a":1})", h);
    ASSERT_TRUE(r) << token;
    EXPECT_EQ(r->status, status) << token;
  }
  EXPECT_EQ(f.ran_on(), "") << "the handler ran for a refused credential";
}

TEST(AsyncRoute, ALargeBodyIsParsedOnAWorker) {
  Fixture f;
  TestClient c(f.port);
  const std::string body = R"({"pad":")" + std::string(100 << 10, 'x') + R"("})";
  auto r = c.request("POST", "/things", body, {{"Authorization", "Bearer cached-analyst-token"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << r->body;
  EXPECT_EQ(r->json()["bytes"], body.size());
  EXPECT_EQ(f.ran_on(), "secplat-worker");
}

TEST(AsyncRoute, AnErrorReplyIsTheUsualEnvelope) {
  Fixture f;
  TestClient c(f.port);
  auto r = c.request("POST", "/things", "{not json", {{"Authorization", "Bearer cached-analyst-token"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 422) << r->body;
  EXPECT_TRUE(r->json()["error"].is_object()) << r->body;
}

TEST(AsyncRoute, AReplyDroppedUnansweredIsA500NotAHang) {
  Fixture f;
  TestClient c(f.port);
  auto r = c.request("POST", "/drop", "{}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->json()["error"]["message"], "Internal server error");
}

TEST(AsyncRoute, AThrowingHandlerIsA500WithoutItsText) {
  Fixture f;
  TestClient c(f.port);
  auto r = c.request("POST", "/boom", "{}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body.find("secret"), std::string::npos);
}

TEST(AsyncRoute, OnlyTheFirstAnswerCounts) {
  Fixture f;
  TestClient c(f.port);
  ASSERT_TRUE(c.send_request("POST", "/keep", "{}"));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lk(f.mu);
    return f.kept.has_value();
  }));
  {
    std::lock_guard lk(f.mu);
    (*f.kept)(Response::json(200, Json{{"first", true}}));
    (*f.kept)(Response::json(500, Json{{"first", false}}));
    f.kept.reset();
  }
  auto r = c.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->json()["first"], true);
  auto next = c.request("POST", "/drop", "{}");  // the second answer did not leak into the next request
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 500);
}

// Shutdown does not return while a reply is still outstanding (the replies post to the server's
// I/O contexts, so they must outlive it), even past the grace period.
TEST(AsyncRoute, ShutdownWaitsForAnOutstandingReply) {
  HttpConfig limits = TestServer::small_limits();
  limits.shutdown_grace_s = 1;
  Fixture f(limits);
  TestClient c(f.port);
  ASSERT_TRUE(c.send_request("POST", "/keep", "{}"));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lk(f.mu);
    return f.kept.has_value();
  }));
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    f.server->shutdown();
    stopped = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1800));
  EXPECT_FALSE(stopped.load()) << "shutdown returned with a reply outstanding";
  {
    std::lock_guard lk(f.mu);
    (*f.kept)(Response::json(200, Json{{"late", true}}));
    f.kept.reset();
  }
  EXPECT_TRUE(eventually([&] { return stopped.load(); }));
  stopper.join();
}

}  // namespace
}  // namespace secplat::http::testing
