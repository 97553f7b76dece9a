// The server over real sockets on 127.0.0.1.
#include <gtest/gtest.h>

#include <poll.h>

#include <atomic>
#include <future>
#include <filesystem>
#include <thread>

#include "core/ids.h"
#include "http/json_body.h"
#include "http/test_client.h"
#include "http/test_server.h"

namespace secplat::http::testing {
namespace {

Route get(std::string path, Handler h, Access a = Access::public_route) {
  Route r;
  r.method = "GET";
  r.path = std::move(path);
  r.access = a;
  r.handler = std::move(h);
  return r;
}

Result<Response> ok_json(Request&) { return Response::json(200, Json{{"status", "ok"}}); }

std::vector<Route> basic_routes() {
  std::vector<Route> rs;
  Route health = get("/health", ok_json);
  health.inline_io = true;
  rs.push_back(health);
  rs.push_back(get("/items/{id}", [](Request& r) -> Result<Response> {
    return Response::json(200, Json{{"id", r.param("id")}, {"q", r.query_param("q").value_or("")}});
  }));
  rs.push_back(get("/viewer", [](Request& r) -> Result<Response> {
    return Response::json(200, Json{{"who", r.principal->subject}});
  }, Access::viewer));
  rs.push_back(get("/admin", ok_json, Access::admin));
  rs.push_back(get("/internal/x", ok_json, Access::service));
  rs.push_back(get("/boom", [](Request&) -> Result<Response> { throw std::runtime_error("secret path /etc/x"); }));
  Route echo;
  echo.method = "POST";
  echo.path = "/echo";
  echo.access = Access::public_route;
  echo.handler = [](Request& r) -> Result<Response> {
    auto body = parse_json_object(r);
    if (!body) return std::move(body).take_error();
    return Response::json(200, *body);
  };
  rs.push_back(echo);
  rs.push_back(get("/list", [](Request& r) -> Result<Response> {
    auto limit = query_int(r, "limit", 50, 1, 500);
    if (!limit) return std::move(limit).take_error();
    return Response::json(200, Json{{"limit", *limit}});
  }));
  return rs;
}

void expect_envelope(const Reply& r, int status, const std::string& message) {
  EXPECT_EQ(r.status, status);
  Json j = r.json();
  ASSERT_TRUE(j.is_object()) << r.body;
  EXPECT_EQ(j["error"]["status_code"], status);
  EXPECT_EQ(j["error"]["message"], message);
  EXPECT_EQ(j["detail"], message);
  EXPECT_EQ(j["error"]["request_id"], r.header("x-request-id").value_or("?"));
}

TEST(Server, HealthAnswersWithStandardHeaders) {
  TestServer s(basic_routes());
  TestClient c(s.port);
  auto r = c.request("GET", "/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->json()["status"], "ok");
  EXPECT_EQ(r->header("server"), "secplat");
  EXPECT_EQ(r->header("cache-control"), "no-store");
  EXPECT_EQ(r->header("content-type"), "application/json");
  EXPECT_EQ(r->header("x-request-id").value_or("").size(), 36u);
}

TEST(Server, RoutesWithParamsAndQuery) {
  TestServer s(basic_routes());
  TestClient c(s.port);
  auto r = c.request("GET", "/items/a%20b?q=x+y&z=1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->json()["id"], "a b");
  EXPECT_EQ(r->json()["q"], "x y");
}

TEST(Server, UnknownPathAndWrongMethodAnswerEnvelopes) {
  TestServer s(basic_routes());
  TestClient c(s.port);
  auto nf = c.request("GET", "/nope");
  ASSERT_TRUE(nf);
  expect_envelope(*nf, 404, "Not Found");
  auto na = c.request("DELETE", "/items/1");
  ASSERT_TRUE(na);
  expect_envelope(*na, 405, "Method Not Allowed");
  EXPECT_EQ(na->header("allow"), "GET");
  auto bad = c.request("GET", "/items/%ff");
  ASSERT_TRUE(bad);
  expect_envelope(*bad, 400, "invalid path encoding");
}

TEST(Server, KeepsSaneRequestIdAndReplacesInsaneOne) {
  TestServer s(basic_routes());
  TestClient c(s.port);
  auto sane = c.request("GET", "/nope", "", {{"X-Request-Id", "trace-42.A_b"}});
  ASSERT_TRUE(sane);
  EXPECT_EQ(sane->header("x-request-id"), "trace-42.A_b");
  EXPECT_EQ(sane->json()["error"]["request_id"], "trace-42.A_b");
  auto insane = c.request("GET", "/health", "", {{"X-Request-Id", "bad id; drop table"}});
  ASSERT_TRUE(insane);
  std::string rid = insane->header("x-request-id").value_or("");
  EXPECT_NE(rid, "bad id; drop table");
  EXPECT_EQ(rid.size(), 36u);
  auto too_long = c.request("GET", "/health", "", {{"X-Request-Id", std::string(129, 'a')}});
  ASSERT_TRUE(too_long);
  EXPECT_EQ(too_long->header("x-request-id").value_or("").size(), 36u);
}

TEST(Server, AuthMissingTokenLowRoleAndSuccess) {
  TestServer s(basic_routes());
  TestClient c(s.port);
  auto none = c.request("GET", "/viewer");
  ASSERT_TRUE(none);
  expect_envelope(*none, 401, "Not authenticated");
  EXPECT_EQ(none->header("www-authenticate"), "Bearer");
  auto bad = c.request("GET", "/viewer", "", {{"Authorization", "Bearer nonsense"}});
  ASSERT_TRUE(bad);
  expect_envelope(*bad, 401, "Invalid token");
  auto low = c.request("GET", "/admin", "", {{"Authorization", "Bearer viewer-token"}});
  ASSERT_TRUE(low);
  expect_envelope(*low, 403, "Insufficient permissions");
  auto okr = c.request("GET", "/viewer", "", {{"Authorization", "Bearer analyst-token"}});
  ASSERT_TRUE(okr);
  EXPECT_EQ(okr->status, 200);
  EXPECT_EQ(okr->json()["who"], "analyst");
  auto admin = c.request("GET", "/admin", "", {{"Authorization", "bearer admin-token"}});
  ASSERT_TRUE(admin);
  EXPECT_EQ(admin->status, 200);
}

// A service key (role processes without database credentials) reaches the internal routes and
// nothing else; no user role, admin included, reaches those.
TEST(Server, ServiceRoleIsConfinedToServiceRoutes) {
  TestServer s(basic_routes());
  TestClient c(s.port);
  auto bearer = [](const char* t) { return std::vector<std::pair<std::string, std::string>>{{"Authorization", std::string("Bearer ") + t}}; };
  for (const char* path : {"/viewer", "/admin"}) {
    auto r = c.request("GET", path, "", bearer("service-token"));
    ASSERT_TRUE(r);
    expect_envelope(*r, 403, "Insufficient permissions");
  }
  for (const char* token : {"viewer-token", "analyst-token", "admin-token"}) {
    auto r = c.request("GET", "/internal/x", "", bearer(token));
    ASSERT_TRUE(r);
    expect_envelope(*r, 403, "Insufficient permissions");
  }
  auto none = c.request("GET", "/internal/x");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  auto ok = c.request("GET", "/internal/x", "", bearer("service-token"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST(Server, WithoutAuthenticatorEveryProtectedRouteIs401) {
  TestServer s(basic_routes(), TestServer::small_limits(), /*with_auth=*/false);
  TestClient c(s.port);
  auto r = c.request("GET", "/viewer", "", {{"Authorization", "Bearer admin-token"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  auto pub = c.request("GET", "/health");
  ASSERT_TRUE(pub);
  EXPECT_EQ(pub->status, 200);
}

TEST(Server, HandlerExceptionIs500WithoutLeakingText) {
  TestServer s(basic_routes());
  TestClient c(s.port);
  auto r = c.request("GET", "/boom", "", {{"X-Request-Id", "boom-1"}});
  ASSERT_TRUE(r);
  expect_envelope(*r, 500, "Internal server error");
  EXPECT_EQ(r->body.find("secret"), std::string::npos);
  EXPECT_EQ(r->json()["error"]["request_id"], "boom-1");
  EXPECT_EQ(r->json()["error"]["retryable"], true);
}

TEST(Server, MalformedJsonIs422AndValidJsonEchoes) {
  TestServer s(basic_routes());
  TestClient c(s.port);
  auto bad = c.request("POST", "/echo", R"({"a":)", {{"Content-Type", "application/json"}});
  ASSERT_TRUE(bad);
  expect_envelope(*bad, 422, "Request validation failed");
  EXPECT_EQ(bad->json()["error"]["detail"][0]["loc"], Json::array({"body"}));
  auto good = c.request("POST", "/echo", R"({"a":1})", {{"Content-Type", "application/json"}});
  ASSERT_TRUE(good);
  EXPECT_EQ(good->status, 200);
  EXPECT_EQ(good->json()["a"], 1);
}

TEST(Server, QueryIntLimitsAreEnforced) {
  TestServer s(basic_routes());
  TestClient c(s.port);
  auto big = c.request("GET", "/list?limit=1000000");
  ASSERT_TRUE(big);
  expect_envelope(*big, 422, "Request validation failed");
  EXPECT_EQ(big->json()["error"]["detail"][0]["loc"], Json::array({"query", "limit"}));
  auto abc = c.request("GET", "/list?limit=abc");
  ASSERT_TRUE(abc);
  EXPECT_EQ(abc->status, 422);
  auto fine = c.request("GET", "/list?limit=20");
  ASSERT_TRUE(fine);
  EXPECT_EQ(fine->json()["limit"], 20);
}

TEST(Server, KeepAliveServesTwoRequestsOnOneConnection) {
  TestServer s(basic_routes());
  TestClient c(s.port);
  auto a = c.request("GET", "/health");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->keep_alive);
  EXPECT_EQ(s.server->open_connections(), 1u);
  auto b = c.request("GET", "/items/7");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->status, 200);
  EXPECT_EQ(s.server->open_connections(), 1u);
}

// A body shared with a cache (Response::shared_body) is sent whole, as often as asked, on one
// connection and several, and the cached text is left as it was.
TEST(Server, ASharedBodyIsSentWholeAndLeftIntact) {
  std::string text(3 * 1024 * 1024 + 17, 'x');
  for (std::size_t i = 0; i < text.size(); i += 4099) text[i] = static_cast<char>('a' + i % 26);
  auto cached = std::make_shared<const std::string>(text);
  std::vector<Route> routes = basic_routes();
  routes.push_back(get("/cached", [cached](Request&) -> Result<Response> {
    Response r;
    r.content_type = "text/plain";
    r.shared_body = cached;
    return r;
  }));
  TestServer s(std::move(routes));
  std::vector<std::thread> clients;
  std::atomic<int> whole{0};
  for (int t = 0; t < 3; ++t) {
    clients.emplace_back([&] {
      TestClient c(s.port);
      for (int i = 0; i < 3; ++i) {
        auto r = c.request("GET", "/cached");
        if (r && r->status == 200 && r->body == text && r->header("content-length") == std::to_string(text.size()))
          whole.fetch_add(1);
      }
      auto after = c.request("GET", "/items/7");  // the connection goes on after a shared body
      if (after && after->status == 200) whole.fetch_add(1);
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(whole.load(), 3 * 4);
  EXPECT_EQ(*cached, text);
}

// The answer's head byte for byte: the order Beast wrote, the route's fields replacing ours, no
// Content-Length where the status has no body, and no way for a field to start another.
TEST(ResponseHead, IsWrittenInFullAndCannotBeSplit) {
  std::string head = "left over from the last answer";
  Response r = Response::json(201, Json{{"a", 1}});
  r.headers.emplace_back("Location", "/x/1");
  write_response_head(head, r, "rid-1", 7, true);
  EXPECT_EQ(head,
            "HTTP/1.1 201 Created\r\nServer: secplat\r\nX-Request-Id: rid-1\r\nContent-Type: application/json\r\n"
            "Cache-Control: no-store\r\nLocation: /x/1\r\nContent-Length: 7\r\n\r\n");

  Response page = Response::text(200, "<p>", "text/html");
  page.headers = {{"Cache-Control", "no-cache"}, {"content-type", "text/html; charset=utf-8"},
                  {"Content-Length", "999"}, {"X-A", "1"}, {"X-A", "2"}};
  write_response_head(head, page, "rid-2", 3, false);
  EXPECT_EQ(head,
            "HTTP/1.1 200 OK\r\nServer: secplat\r\nX-Request-Id: rid-2\r\nCache-Control: no-cache\r\n"
            "content-type: text/html; charset=utf-8\r\nX-A: 2\r\nContent-Length: 3\r\nConnection: close\r\n\r\n");

  write_response_head(head, Response::no_content(), "rid-3", 0, true);
  EXPECT_EQ(head.find("Content-Length"), std::string::npos) << head;
  EXPECT_TRUE(head.starts_with("HTTP/1.1 204 No Content\r\n")) << head;

  Response hostile = Response::text(200, "x");
  hostile.headers.emplace_back("X-Name\r\nSet-Cookie: a", std::string("v\r\nSet-Cookie: session=stolen\n") + '\0' + "x");
  write_response_head(head, hostile, "rid-4", 1, true);
  EXPECT_EQ(head.find("\r\nSet-Cookie"), std::string::npos) << head;
  EXPECT_NE(head.find("X-Name  Set-Cookie: a: v  Set-Cookie: session=stolen  x\r\n"), std::string::npos) << head;
}

// Over a socket: a 204 has no body, so the next answer on the connection is read cleanly; an
// unknown status gets a reason; a hostile field value arrives as one field.
TEST(Server, AnswersWithoutABodyKeepTheConnectionInStep) {
  std::vector<Route> routes = basic_routes();
  routes.push_back(get("/none", [](Request&) -> Result<Response> { return Response::no_content(); }));
  routes.push_back(get("/odd", [](Request&) -> Result<Response> {
    Response r = Response::text(299, "odd");
    r.headers.emplace_back("X-Note", "a\r\nX-Injected: yes");
    return r;
  }));
  TestServer s(std::move(routes));
  TestClient c(s.port);
  for (int i = 0; i < 2; ++i) {
    auto none = c.request("GET", "/none");
    ASSERT_TRUE(none);
    EXPECT_EQ(none->status, 204);
    EXPECT_EQ(none->body, "");
    auto odd = c.request("GET", "/odd");
    ASSERT_TRUE(odd);
    EXPECT_EQ(odd->status, 299);
    EXPECT_EQ(odd->body, "odd");
    EXPECT_EQ(odd->header("x-note"), "a  X-Injected: yes");
    EXPECT_FALSE(odd->header("x-injected"));
  }
  EXPECT_EQ(s.server->open_connections(), 1u);
}

TEST(Server, TooLargeContentLengthIs413BeforeTheBodyIsSent) {
  TestServer s(basic_routes());  // max_body_bytes 4096
  TestClient c(s.port);
  ASSERT_TRUE(c.send_raw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         "Content-Length: 10000000\r\n\r\n"));
  auto r = c.read_reply();
  ASSERT_TRUE(r);
  expect_envelope(*r, 413, "Request body too large");
  EXPECT_FALSE(r->keep_alive);
  EXPECT_TRUE(c.wait_closed());
}

// A client that writes its whole request before it reads (Python's http.client, many scripts)
// must still get the 413: the server keeps reading and discarding the refused body for a moment
// instead of closing on unread bytes, which would reset the connection and lose the answer.
TEST(Server, AClientThatSendsAllOfAnOversizedBodyBeforeReadingStillGets413) {
  TestServer s(basic_routes());  // max_body_bytes 4096
  TestClient c(s.port, 10000ms);
  const std::size_t size = 24u << 20;  // well past what the loopback socket buffers hold
  std::string req = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                    std::to_string(size) + "\r\n\r\n";
  req.append(size, 'x');
  ASSERT_TRUE(c.send_raw(req, 10000ms)) << "the server reset the connection while the body was being sent";
  auto r = c.read_reply();
  ASSERT_TRUE(r);
  expect_envelope(*r, 413, "Request body too large");
  EXPECT_TRUE(c.wait_closed());
}

TEST(Server, TooLargeChunkedBodyIs413) {
  TestServer s(basic_routes());
  TestClient c(s.port);
  std::string chunk(3000, 'a');
  std::string req = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) req += "bb8\r\n" + chunk + "\r\n";
  req += "0\r\n\r\n";
  ASSERT_TRUE(c.send_raw(req));
  auto r = c.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_TRUE(c.wait_closed());
}

TEST(Server, HugeHeadersAre431) {
  TestServer s(basic_routes());  // max_header_bytes 4096
  TestClient c(s.port);
  ASSERT_TRUE(c.send_request("GET", "/health", "", {{"X-Big", std::string(8000, 'x')}}));
  auto r = c.read_reply();
  ASSERT_TRUE(r);
  expect_envelope(*r, 431, "Request header fields too large");
  EXPECT_TRUE(c.wait_closed());
}

TEST(Server, SlowlorisIsCutOffWhileOthersAreServed) {
  HttpConfig limits = TestServer::small_limits();
  limits.read_timeout_s = 1;
  TestServer s(basic_routes(), limits);

  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket slow(ioc);
  slow.connect({boost::asio::ip::make_address("127.0.0.1"), s.port});
  const auto started = std::chrono::steady_clock::now();
  std::promise<std::pair<std::string, double>> outcome;  // what the trickler read, and when
  std::thread trickler([&] {
    boost::system::error_code ec;
    boost::asio::write(slow, boost::asio::buffer(std::string("GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")), ec);
    std::string got;
    while (std::chrono::steady_clock::now() - started < 5s) {
      boost::asio::write(slow, boost::asio::buffer("a", 1), ec);
      pollfd p{slow.native_handle(), POLLIN, 0};
      if (::poll(&p, 1, 100) > 0) {
        char buf[4096];
        std::size_t n = slow.read_some(boost::asio::buffer(buf), ec);
        got.append(buf, n);
        if (ec || got.find("\r\n\r\n") != std::string::npos) break;
      }
    }
    outcome.set_value({got, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()});
  });

  // Another client is served while the slow one trickles.
  TestClient other(s.port);
  auto r = other.request("GET", "/health", "", {}, 2000ms);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);

  auto fut = outcome.get_future();
  ASSERT_EQ(fut.wait_for(6s), std::future_status::ready);
  auto [got, seconds] = fut.get();
  trickler.join();
  EXPECT_EQ(got.rfind("HTTP/1.1 408", 0), 0u) << got;
  EXPECT_GE(seconds, 0.9);
  EXPECT_LT(seconds, 4.0);
}

TEST(Server, FullWorkerQueueAnswers503WithRetryAfter) {
  HttpConfig limits = TestServer::small_limits();
  limits.worker_threads = 1;
  limits.worker_queue = 1;
  Gate gate;
  std::atomic<int> entered{0};
  std::vector<Route> routes = basic_routes();
  routes.push_back(get("/slow", [&](Request&) -> Result<Response> {
    ++entered;
    gate.wait();
    return Response::json(200, Json{{"done", true}});
  }));
  TestServer s(routes, limits);

  TestClient busy(s.port), queued(s.port), rejected(s.port);
  ASSERT_TRUE(busy.send_request("GET", "/slow"));
  ASSERT_TRUE(eventually([&] { return entered.load() == 1; }));
  ASSERT_TRUE(queued.send_request("GET", "/slow"));
  ASSERT_TRUE(eventually([&] {
    return s.metrics.render().find("secplat_http_worker_queue_depth 1\n") != std::string::npos;
  }));
  auto r = rejected.request("GET", "/items/1");
  gate.open();
  ASSERT_TRUE(r);
  expect_envelope(*r, 503, "Server busy, retry later");
  EXPECT_EQ(r->header("retry-after"), "1");
  EXPECT_EQ(r->json()["error"]["retryable"], true);
  auto a = busy.read_reply();
  auto b = queued.read_reply();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(b->status, 200);
}

TEST(Server, GracefulShutdownFinishesInFlightAndRefusesNewConnections) {
  Gate gate;
  std::atomic<int> entered{0};
  std::vector<Route> routes = basic_routes();
  routes.push_back(get("/slow", [&](Request&) -> Result<Response> {
    ++entered;
    gate.wait();
    return Response::json(200, Json{{"done", true}});
  }));
  TestServer s(routes);
  TestClient idle(s.port);
  ASSERT_TRUE(idle.request("GET", "/health"));  // an idle keep-alive connection
  TestClient inflight(s.port);
  ASSERT_TRUE(inflight.send_request("GET", "/slow"));
  ASSERT_TRUE(eventually([&] { return entered.load() == 1; }));

  std::thread stopper([&] { s.server->shutdown(); });
  EXPECT_TRUE(idle.wait_closed(3000ms));  // idle connections are closed at once
  EXPECT_TRUE(eventually([&] { return !TestClient(s.port, 500ms).connected(); }));
  gate.open();
  auto r = inflight.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->json()["done"], true);
  EXPECT_FALSE(r->keep_alive);
  inflight.close();
  stopper.join();
  s.server->wait();  // returns at once: shutdown has completed
  EXPECT_EQ(s.server->open_connections(), 0u);
  s.server->shutdown();  // idempotent
}

TEST(Server, MetricsCountRequestsByRouteTemplate) {
  TestServer s(basic_routes());
  TestClient c(s.port);
  ASSERT_TRUE(c.request("GET", "/items/1"));
  ASSERT_TRUE(c.request("GET", "/items/2"));
  ASSERT_TRUE(c.request("GET", "/no/such/path"));
  std::string out = s.metrics.render();
  EXPECT_NE(out.find(R"(secplat_http_requests_total{method="GET",route="/items/{id}",status="200"} 2)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(R"(secplat_http_requests_total{method="GET",route="unmatched",status="404"} 1)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(R"(secplat_http_request_duration_seconds_count{method="GET",route="/items/{id}"} 2)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("secplat_http_connections_open 1"), std::string::npos) << out;
  EXPECT_EQ(out.find("/items/1"), std::string::npos);  // raw paths never become labels
}

TEST(Server, ConnectionsBeyondMaxAreClosed) {
  HttpConfig limits = TestServer::small_limits();
  limits.max_connections = 1;
  TestServer s(basic_routes(), limits);
  TestClient first(s.port);
  ASSERT_TRUE(first.request("GET", "/health"));
  TestClient second(s.port);
  ASSERT_TRUE(second.connected());
  EXPECT_TRUE(second.wait_closed(3000ms));
  ASSERT_TRUE(first.request("GET", "/health"));
}

}  // namespace

namespace {
// /echo keeps the server default (4096 bytes); /upload allows 64 KiB.
std::vector<Route> routes_with_upload() {
  std::vector<Route> rs = basic_routes();
  Route up;
  up.method = "POST";
  up.path = "/upload";
  up.access = Access::public_route;
  up.max_body_bytes = 64 << 10;
  up.handler = [](Request& r) -> Result<Response> { return Response::json(200, Json{{"size", r.body.size()}}); };
  rs.push_back(up);
  return rs;
}
}  // namespace

TEST(Server, PerRouteBodyLimitRaisesOnlyThatRoute) {
  TestServer s(routes_with_upload());
  std::string body(20000, 'x');
  {
    TestClient c(s.port);
    ASSERT_TRUE(c.send_raw("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n" + body));
    auto r = c.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->json()["size"], 20000);
  }
  {
    // The larger limit of /upload does not leak to routes that keep the default.
    TestClient c(s.port);
    ASSERT_TRUE(c.send_raw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           "Content-Length: 20000\r\n\r\n"));
    auto r = c.read_reply();
    ASSERT_TRUE(r);
    expect_envelope(*r, 413, "Request body too large");
  }
  {
    TestClient c(s.port);
    ASSERT_TRUE(c.send_raw("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n"));
    auto r = c.read_reply();
    ASSERT_TRUE(r);
    expect_envelope(*r, 413, "Request body too large");
  }
  {
    // Chunked bodies are counted against the route's limit as they arrive.
    TestClient c(s.port);
    std::string chunk(3000, 'a');
    std::string req = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 3; ++i) req += "bb8\r\n" + chunk + "\r\n";
    req += "0\r\n\r\n";
    ASSERT_TRUE(c.send_raw(req));
    auto r = c.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
  }
  {
    // A header that arrives in pieces still gets the route's limit applied before the body.
    TestClient c(s.port);
    ASSERT_TRUE(c.send_raw("POST /echo HTTP/1.1\r\nHost: x\r\n"));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE(c.send_raw("Content-Length: 10000\r\n\r\n"));
    auto r = c.read_reply();
    ASSERT_TRUE(r);
    expect_envelope(*r, 413, "Request body too large");
  }
}

}  // namespace secplat::http::testing

namespace secplat::http::testing {

TEST(Server, SpooledBodyIsStreamedToAFileTheHandlerCanKeep) {
  std::string spool = std::filesystem::temp_directory_path() / ("secplat-spool-" + random_hex(6));
  std::filesystem::create_directories(spool);
  std::string kept = spool + "/kept.bin";
  std::vector<Route> rs = basic_routes();
  Route up;
  up.method = "POST";
  up.path = "/spool";
  up.access = Access::public_route;
  up.max_body_bytes = 1 << 20;
  up.spool_body = true;
  up.handler = [kept](Request& r) -> Result<Response> {
    Json j = {{"in_memory", r.body.size()}, {"file", r.body_file}};
    if (r.query_param("keep")) std::filesystem::rename(r.body_file, kept);
    return Response::json(200, j);
  };
  rs.push_back(up);
  HttpConfig limits = TestServer::small_limits();
  auto server = std::make_unique<Server>(ServerOptions{"127.0.0.1", 0, limits, spool}, rs, nullptr, nullptr);
  auto port = server->start();
  ASSERT_TRUE(port.ok());

  std::string body(300000, 'z');  // far beyond the 4 KiB default: only this route may take it
  {
    TestClient c(*port);
    ASSERT_TRUE(c.send_raw("POST /spool?keep=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n" + body));
    auto r = c.read_reply();
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->json()["in_memory"], 0);
    EXPECT_EQ(std::filesystem::file_size(kept), 300000u);
  }
  {
    // Not kept by the handler: removed after the answer, nothing left in the spool dir.
    TestClient c(*port);
    ASSERT_TRUE(c.send_raw("POST /spool HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n" + body));
    auto r = c.read_reply();
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    std::string file = r->json()["file"];
    EXPECT_FALSE(std::filesystem::exists(file));
  }
  {
    // A client that gives up halfway leaves no partial file behind.
    TestClient c(*port);
    ASSERT_TRUE(c.send_raw("POST /spool HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n" + body.substr(0, 1000)));
    c.close();
  }
  server->shutdown();
  server.reset();
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(spool)) files += e.path().filename() != "kept.bin";
  EXPECT_EQ(files, 0);
  std::filesystem::remove_all(spool);
}

}  // namespace secplat::http::testing
