#include "http/test_client.h"

#include <thread>

namespace secplat::http::testing {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::optional<std::string> Reply::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return std::nullopt;
}

namespace {
Reply to_reply(bhttp::response<bhttp::string_body>& res) {
  Reply r;
  r.status = static_cast<int>(res.result_int());
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers.emplace_back(std::move(name), std::string(f.value()));
  }
  r.body = std::move(res.body());
  r.keep_alive = res.keep_alive();
  return r;
}

template <class Start>
beast::error_code run_op(net::io_context& ioc, Start&& start) {
  beast::error_code result = net::error::would_block;
  ioc.restart();
  start([&](beast::error_code ec, auto&&...) { result = ec; });
  ioc.run();
  return result;
}
}  // namespace

TestClient::TestClient(uint16_t port, std::chrono::milliseconds timeout) : stream_(ioc_) {
  stream_.expires_after(timeout);
  tcp::endpoint ep(net::ip::make_address("127.0.0.1"), port);
  auto ec = run_op(ioc_, [&](auto h) { stream_.async_connect(ep, h); });
  connected_ = !ec;
}

bool TestClient::send_raw(std::string_view bytes, std::chrono::milliseconds timeout) {
  stream_.expires_after(timeout);
  auto ec = run_op(ioc_, [&](auto h) { net::async_write(stream_, net::buffer(bytes.data(), bytes.size()), h); });
  return !ec;
}

bool TestClient::send_request(const std::string& method, const std::string& target, const std::string& body,
                              const std::vector<std::pair<std::string, std::string>>& headers) {
  bhttp::request<bhttp::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(bhttp::field::host, "127.0.0.1");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  stream_.expires_after(5s);
  auto ec = run_op(ioc_, [&](auto h) { bhttp::async_write(stream_, req, h); });
  return !ec;
}

std::optional<Reply> TestClient::read_reply(std::chrono::milliseconds timeout) {
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 << 20);
  stream_.expires_after(timeout);
  auto ec = run_op(ioc_, [&](auto h) { bhttp::async_read(stream_, buffer_, parser, h); });
  if (ec) return std::nullopt;
  auto res = parser.release();
  return to_reply(res);
}

std::optional<Reply> TestClient::request(const std::string& method, const std::string& target,
                                         const std::string& body,
                                         const std::vector<std::pair<std::string, std::string>>& headers,
                                         std::chrono::milliseconds timeout) {
  if (!send_request(method, target, body, headers)) return std::nullopt;
  return read_reply(timeout);
}

bool TestClient::wait_closed(std::chrono::milliseconds timeout) {
  stream_.expires_after(timeout);
  for (;;) {
    char buf[4096];
    std::size_t n = 0;
    beast::error_code result = net::error::would_block;
    ioc_.restart();
    stream_.async_read_some(net::buffer(buf), [&](beast::error_code ec, std::size_t got) {
      result = ec;
      n = got;
    });
    ioc_.run();
    if (result == beast::error::timeout) return false;
    if (result) return true;  // eof or reset: the server closed
    (void)n;                  // data still arriving; keep reading
  }
}

void TestClient::close() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.close();
}

WsTestClient::WsTestClient(uint16_t port, const std::string& target,
                           const std::vector<std::pair<std::string, std::string>>& headers,
                           std::chrono::milliseconds timeout)
    : ws_(ioc_) {
  auto& low = beast::get_lowest_layer(ws_);
  low.expires_after(timeout);
  tcp::endpoint ep(net::ip::make_address("127.0.0.1"), port);
  if (run_op(ioc_, [&](auto h) { low.async_connect(ep, h); })) return;
  ws_.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
    for (const auto& [k, v] : headers) req.set(k, v);
  }));
  ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
    if (kind == websocket::frame_type::ping) ++pings_;
  });
  websocket::response_type res;
  auto ec = run_op(ioc_, [&](auto h) { ws_.async_handshake(res, "127.0.0.1", target, h); });
  handshake_status_ = static_cast<int>(res.result_int());
  ok_ = !ec;
  low.expires_never();
}

bool WsTestClient::send(const std::string& text, std::chrono::milliseconds timeout) {
  beast::get_lowest_layer(ws_).expires_after(timeout);
  ws_.text(true);
  auto ec = run_op(ioc_, [&](auto h) { ws_.async_write(net::buffer(text), h); });
  beast::get_lowest_layer(ws_).expires_never();
  return !ec;
}

std::optional<std::string> WsTestClient::read(std::chrono::milliseconds timeout) {
  beast::get_lowest_layer(ws_).expires_after(timeout);
  auto ec = run_op(ioc_, [&](auto h) { ws_.async_read(buffer_, h); });
  beast::get_lowest_layer(ws_).expires_never();
  if (ec) {
    if (ec == websocket::error::closed) close_code_ = ws_.reason().code;
    return std::nullopt;
  }
  std::string s = beast::buffers_to_string(buffer_.data());
  buffer_.consume(buffer_.size());
  return s;
}

std::optional<std::string> WsTestClient::idle_then_roundtrip(std::chrono::milliseconds idle, const std::string& text) {
  std::optional<std::string> got;
  bool ended = false;
  auto& low = beast::get_lowest_layer(ws_);
  low.expires_after(idle + 5s);
  ioc_.restart();
  ws_.async_read(buffer_, [&](beast::error_code ec, std::size_t) {
    ended = true;
    if (!ec) {
      got = beast::buffers_to_string(buffer_.data());
      buffer_.consume(buffer_.size());
    } else if (ec == websocket::error::closed) {
      close_code_ = ws_.reason().code;
    }
  });
  ioc_.run_for(idle);  // the pending read answers the server's pings meanwhile
  if (ended) return std::nullopt;
  ws_.text(true);
  ws_.async_write(net::buffer(text), [](beast::error_code, std::size_t) {});
  ioc_.run();
  low.expires_never();
  return got;
}

}  // namespace secplat::http::testing
