// A real Server on 127.0.0.1:<free port> plus small test doubles used by the server tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "core/metrics.h"
#include "http/client.h"
#include "http/server.h"

namespace secplat::http::testing {

// Authenticator test double: "<role>-token" authenticates as that role (service too).
class TokenTableAuth final : public Authenticator {
 public:
  Result<Principal> authenticate(std::string_view bearer) override {
    for (Role r : {Role::viewer, Role::analyst, Role::admin, Role::service}) {
      if (bearer == std::string(role_name(r)) + "-token") return Principal{role_name(r), r, "user", 1};
    }
    return Error::unauthorized("Invalid token");
  }
};

// A one-shot latch a handler can block on, with deadlines on both sides.
class Gate {
 public:
  void open() {
    std::lock_guard lk(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool wait(std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// POSTs `body` (raw text, sent as JSON) to `url` with a service key ("service-token"), as a role
// process calls the API's /internal routes; the response, or status 0 when nothing answered.
inline ClientResponse post_as_service(const std::string& url, const std::string& body) {
  ClientRequest req;
  req.method = "POST";
  req.url = url;
  req.headers = {{"Authorization", "Bearer service-token"}, {"Content-Type", "application/json"}};
  req.body = body;
  auto r = perform(req);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? *r : ClientResponse{};
}

struct TestServer {
  Metrics metrics;
  TokenTableAuth auth;
  std::unique_ptr<Server> server;
  uint16_t port = 0;

  explicit TestServer(std::vector<Route> routes, HttpConfig limits = small_limits(), bool with_auth = true) {
    server = std::make_unique<Server>(ServerOptions{"127.0.0.1", 0, limits}, std::move(routes),
                                      with_auth ? &auth : nullptr, &metrics);
    auto r = server->start();
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    if (r.ok()) port = *r;
  }

  static HttpConfig small_limits() {
    HttpConfig c;
    c.max_body_bytes = 4096;
    c.max_header_bytes = 4096;
    c.read_timeout_s = 5;
    c.idle_timeout_s = 5;
    c.io_threads = 2;
    c.worker_threads = 2;
    c.worker_queue = 64;
    c.shutdown_grace_s = 5;
    return c;
  }
};

}  // namespace secplat::http::testing
