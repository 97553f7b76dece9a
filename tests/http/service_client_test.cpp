// http::ServiceClient against a bare HTTP/1.1 server on loopback that counts the TCP connections it
// accepts: a role process calling the API for every step of its work keeps its connections open.
#include "http/service_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace secplat::http {
namespace {

// Answers every request on a connection with 200 {"n": <requests so far>}, keeping it open.
class CountingServer {
 public:
  CountingServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] {
      for (;;) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        ++accepted_;
        conns_.emplace_back([this, c] { serve(c); });
      }
    });
  }
  ~CountingServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    acceptor_.join();
    for (auto& t : conns_) t.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int accepted() const { return accepted_.load(); }

 private:
  void serve(int c) {
    std::string buf;
    char chunk[4096];
    for (;;) {
      auto end = buf.find("\r\n\r\n");
      if (end == std::string::npos) {
        ssize_t n = ::read(c, chunk, sizeof chunk);
        if (n <= 0) break;
        buf.append(chunk, static_cast<std::size_t>(n));
        continue;
      }
      buf.erase(0, end + 4);  // GET requests: no body
      const std::string body = "{\"n\": " + std::to_string(++requests_) + "}";
      const std::string resp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\n\r\n" + body;
      if (::write(c, resp.data(), resp.size()) != static_cast<ssize_t>(resp.size())) break;
    }
    ::close(c);
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::atomic<int> requests_{0};
  std::thread acceptor_;
  std::vector<std::thread> conns_;  // acceptor thread only, joined after it
};

TEST(ServiceClient, KeepsItsConnectionOpenAcrossCalls) {
  CountingServer server;
  {
    ServiceClient client("test", server.url(), "spk_key");
    for (int i = 1; i <= 20; ++i) {
      auto r = client.call("GET", "/x");
      ASSERT_TRUE(r.ok()) << r.error().message;
      EXPECT_EQ((*r)["n"], i);
    }
    EXPECT_EQ(server.accepted(), 1) << "20 calls, one connection";

    // Calls in flight at once each get a connection; afterwards they are reused.
    std::vector<std::thread> callers;
    std::atomic<int> ok{0};
    for (int t = 0; t < 4; ++t)
      callers.emplace_back([&] {
        for (int i = 0; i < 25; ++i) ok += client.call("GET", "/x").ok();
      });
    for (auto& t : callers) t.join();
    EXPECT_EQ(ok.load(), 100);
    EXPECT_LE(server.accepted(), 5);
  }
  // A plain perform() (no pool) opens a connection per call.
  const int before = server.accepted();
  for (int i = 0; i < 3; ++i) {
    ClientRequest req;
    req.url = server.url() + "/x";
    ASSERT_TRUE(perform(req).ok());
  }
  EXPECT_EQ(server.accepted(), before + 3);
}

}  // namespace
}  // namespace secplat::http
