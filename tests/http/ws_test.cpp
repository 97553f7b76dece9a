// WebSocket routes over real sockets.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "http/test_client.h"
#include "http/test_server.h"
#include "http/ws_session.h"

namespace secplat::http::testing {
namespace {

Route ws_route(std::string path, WsHandler h, Access a = Access::viewer) {
  Route r;
  r.method = "GET";
  r.path = std::move(path);
  r.access = a;
  r.ws_handler = std::move(h);
  return r;
}

// Echoes every message back, prefixed with the path parameter.
WsHandler echo_handler() {
  return [](const std::shared_ptr<WsSession>& s, const Request& req) {
    std::weak_ptr<WsSession> weak = s;
    std::string id = req.param("id");
    s->on_message([weak, id](std::string m) {
      if (auto s = weak.lock()) s->send_text(id + ":" + m);
    });
  };
}

TEST(WebSocket, EchoRoundTripWithBearerHeader) {
  TestServer s({ws_route("/ws/{id}", echo_handler())});
  WsTestClient c(s.port, "/ws/7", {{"Authorization", "Bearer viewer-token"}});
  ASSERT_TRUE(c.ok()) << c.handshake_status();
  ASSERT_TRUE(c.send("hello"));
  EXPECT_EQ(c.read(), "7:hello");
  ASSERT_TRUE(c.send("again"));
  EXPECT_EQ(c.read(), "7:again");
}

TEST(WebSocket, AccessTokenQueryParamIsAcceptedForBrowsers) {
  TestServer s({ws_route("/ws/{id}", echo_handler())});
  WsTestClient c(s.port, "/ws/1?access_token=viewer-token");
  ASSERT_TRUE(c.ok()) << c.handshake_status();
  ASSERT_TRUE(c.send("x"));
  EXPECT_EQ(c.read(), "1:x");
}

TEST(WebSocket, UpgradeWithoutTokenOrRoleIsRefused) {
  TestServer s({ws_route("/ws/{id}", echo_handler(), Access::admin)});
  WsTestClient none(s.port, "/ws/1");
  EXPECT_FALSE(none.ok());
  EXPECT_EQ(none.handshake_status(), 401);
  WsTestClient low(s.port, "/ws/1?access_token=viewer-token");
  EXPECT_FALSE(low.ok());
  EXPECT_EQ(low.handshake_status(), 403);
}

TEST(WebSocket, KeepalivePingsDoNotBreakAnIdleConnection) {
  Route r = ws_route("/ws/{id}", echo_handler());
  r.ws_limits.idle_timeout_s = 2;  // the server pings after 1 s of silence
  TestServer s({r});
  WsTestClient c(s.port, "/ws/9", {{"Authorization", "Bearer viewer-token"}});
  ASSERT_TRUE(c.ok());
  auto reply = c.idle_then_roundtrip(3000ms, "still here");
  EXPECT_EQ(reply, "9:still here");
  EXPECT_GE(c.pings_received(), 1);
}

TEST(WebSocket, SlowConsumerIsDroppedWith1008AndMemoryStaysBounded) {
  Route r = ws_route("/flood", nullptr);
  r.ws_limits.max_queued_messages = 16;
  r.ws_limits.max_queued_bytes = 256 << 10;
  struct Outcome {
    int accepted = 0;
    bool final_send = true;
    bool open_after = true;
  };
  std::promise<Outcome> done;
  std::atomic<bool> closed_callback{false};
  r.ws_handler = [&](const std::shared_ptr<WsSession>& s, const Request&) {
    s->on_close([&] { closed_callback = true; });
    const std::string chunk(64 << 10, 'x');
    Outcome o;
    // Without a bound this loop would queue 6.4 GB; the bounded queue must refuse long before.
    for (int i = 0; i < 100000; ++i) {
      if (!s->send_text(chunk)) {
        o.final_send = false;
        break;
      }
      ++o.accepted;
    }
    o.open_after = s->is_open();
    EXPECT_FALSE(s->send_text("later"));
    done.set_value(o);
  };
  TestServer s({r});
  WsTestClient c(s.port, "/flood", {{"Authorization", "Bearer viewer-token"}});  // never reads until told
  ASSERT_TRUE(c.ok());
  auto fut = done.get_future();
  ASSERT_EQ(fut.wait_for(10s), std::future_status::ready);
  Outcome o = fut.get();
  EXPECT_FALSE(o.final_send);
  EXPECT_FALSE(o.open_after);
  // Kernel socket buffers hold a few MB; everything beyond is the bounded queue (16 msgs / 256 KiB).
  EXPECT_LT(o.accepted, 1000);
  // Now drain: the frames already on the wire arrive, then the 1008 close.
  int frames = 0;
  while (c.read(5000ms)) ++frames;
  EXPECT_EQ(c.close_code(), 1008);
  EXPECT_LE(frames, o.accepted);
  EXPECT_TRUE(eventually([&] { return closed_callback.load(); }));
}

TEST(WebSocket, ShutdownClosesWith1001) {
  std::promise<std::shared_ptr<WsSession>> session;
  Route r = ws_route("/ws", [&](const std::shared_ptr<WsSession>& s, const Request&) { session.set_value(s); });
  TestServer s({r});
  WsTestClient c(s.port, "/ws", {{"Authorization", "Bearer viewer-token"}});
  ASSERT_TRUE(c.ok());
  auto fut = session.get_future();
  ASSERT_EQ(fut.wait_for(5s), std::future_status::ready);
  std::shared_ptr<WsSession> held = fut.get();  // kept beyond the server's lifetime on purpose
  EXPECT_TRUE(eventually([&] { return held->is_open(); }));
  std::thread stopper([&] { s.server->shutdown(); });
  EXPECT_FALSE(c.read(5000ms));
  EXPECT_EQ(c.close_code(), 1001);
  stopper.join();
  EXPECT_FALSE(held->is_open());
  EXPECT_FALSE(held->send_text("after shutdown"));
  s.server.reset();
  EXPECT_FALSE(held->send_text("after destruction"));
}

TEST(WebSocket, NormalCloseIsSentAfterEveryQueuedFrame) {
  // A handler that replays history and closes at once (a finished scan's stream) must not lose
  // the frames still queued behind the close.
  Route r = ws_route("/ws", [](const std::shared_ptr<WsSession>& s, const Request&) {
    for (int i = 0; i < 200; ++i) s->send_text("event " + std::to_string(i));
    s->close(1000, "done");
  });
  TestServer s({r});
  WsTestClient c(s.port, "/ws", {{"Authorization", "Bearer viewer-token"}});
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < 200; ++i) ASSERT_EQ(c.read(), "event " + std::to_string(i));
  EXPECT_FALSE(c.read());
  EXPECT_EQ(c.close_code(), 1000);
}

TEST(WebSocket, PlainGetOnWebSocketRouteIs400) {
  TestServer s({ws_route("/ws", echo_handler(), Access::public_route)});
  TestClient c(s.port);
  auto r = c.request("GET", "/ws");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

}  // namespace
}  // namespace secplat::http::testing
