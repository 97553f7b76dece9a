// Blocking test clients with deadlines, on Beast's tcp_stream (each call runs its own io_context
// until the operation finishes or the stream's timeout closes the socket, so nothing can hang).
#pragma once

#include <utility>  // before Asio: Boost 1.74 on GCC 12

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/json.h"

namespace secplat::http::testing {

using namespace std::chrono_literals;

struct Reply {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  bool keep_alive = false;

  std::optional<std::string> header(std::string_view name) const;
  Json json() const { return Json::parse(body, nullptr, false); }
};

class TestClient {
 public:
  explicit TestClient(uint16_t port, std::chrono::milliseconds timeout = 5000ms);
  bool connected() const { return connected_; }

  // Sends a request and reads its reply; nullopt on a transport error or timeout.
  std::optional<Reply> request(const std::string& method, const std::string& target, const std::string& body = "",
                               const std::vector<std::pair<std::string, std::string>>& headers = {},
                               std::chrono::milliseconds timeout = 5000ms);
  bool send_request(const std::string& method, const std::string& target, const std::string& body = "",
                    const std::vector<std::pair<std::string, std::string>>& headers = {});
  bool send_raw(std::string_view bytes, std::chrono::milliseconds timeout = 5000ms);
  std::optional<Reply> read_reply(std::chrono::milliseconds timeout = 5000ms);
  // True when the server closes the connection (EOF or reset) within the timeout.
  bool wait_closed(std::chrono::milliseconds timeout = 5000ms);
  void close();

 private:
  boost::asio::io_context ioc_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  bool connected_ = false;
};

class WsTestClient {
 public:
  // Connects and upgrades `target`; check ok() / handshake_status().
  WsTestClient(uint16_t port, const std::string& target,
               const std::vector<std::pair<std::string, std::string>>& headers = {},
               std::chrono::milliseconds timeout = 5000ms);
  bool ok() const { return ok_; }
  int handshake_status() const { return handshake_status_; }

  bool send(const std::string& text, std::chrono::milliseconds timeout = 5000ms);
  // Next text message; nullopt when the connection closed (see close_code()) or on timeout.
  std::optional<std::string> read(std::chrono::milliseconds timeout = 5000ms);
  // Keeps a read pending for `idle` (answering the server's pings), then sends `text` and returns
  // the next message; nullopt if the connection ended during the idle time or the round trip.
  std::optional<std::string> idle_then_roundtrip(std::chrono::milliseconds idle, const std::string& text);
  int close_code() const { return close_code_; }
  int pings_received() const { return pings_; }

 private:
  boost::asio::io_context ioc_;
  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::flat_buffer buffer_;
  bool ok_ = false;
  int handshake_status_ = 0;
  int close_code_ = 0;
  int pings_ = 0;
};

// Polls `cond` until it is true or the deadline passes.
template <class Cond>
bool eventually(Cond&& cond, std::chrono::milliseconds timeout = 5000ms) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return cond();
}

}  // namespace secplat::http::testing
