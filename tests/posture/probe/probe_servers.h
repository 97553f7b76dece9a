// Tiny real servers on 127.0.0.1 for the prober tests: a plain HTTP/1.1 server whose answers
// (or silence) a test chooses, and a TLS server with a freshly made self-signed certificate.
// Each counts the connections it accepted, so a test can tell that nothing connected.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace secplat::posture::testing {

// An HTTP/1.1 response with Content-Length.
std::string http_response(int status, const std::string& body, const std::string& extra_headers = "");

// A port on 127.0.0.1 that nothing listens on (bound, then closed).
uint16_t closed_port();

class TestHttpServer {
 public:
  // Called once per request with the request head (request line + headers); returns the raw
  // response to send, or "" to never answer (the connection stays open until the client leaves).
  // A '\x01' byte in a response is not sent: the server pauses 50 ms there instead, so a test can
  // split a body across the client's reads.
  using Handler = std::function<std::string(const std::string& head)>;

  explicit TestHttpServer(Handler handler);
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/") const;
  int connections() const { return connections_.load(); }
  int requests() const { return requests_.load(); }
  std::vector<std::string> heads() const;
  std::vector<int64_t> accept_times() const;  // steady_ms() of each accepted connection

 private:
  void accept_loop();
  void serve(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  mutable std::mutex mu_;
  std::vector<std::string> heads_;
  std::vector<int64_t> accept_times_;
  std::vector<std::thread> workers_;
  std::thread acceptor_;
};

class TestTlsServer {
 public:
  // Serves "HTTP/1.1 200 OK" + body `ok` over TLS with a self-signed certificate whose
  // subjectAltName is `san` (e.g. "DNS:localhost,IP:127.0.0.1") and that expires in `days`.
  explicit TestTlsServer(const std::string& san = "DNS:localhost,IP:127.0.0.1", int days = 30);
  ~TestTlsServer();
  TestTlsServer(const TestTlsServer&) = delete;
  TestTlsServer& operator=(const TestTlsServer&) = delete;

  uint16_t port() const { return port_; }
  const std::string& cert_file() const { return cert_file_; }  // PEM, usable as a CA file
  int64_t not_after_ms() const { return not_after_ms_; }
  int connections() const { return connections_.load(); }
  int handshakes() const { return handshakes_.load(); }

 private:
  void accept_loop();

  void* ctx_ = nullptr;  // SSL_CTX
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::string cert_file_;
  int64_t not_after_ms_ = 0;
  std::atomic<int> connections_{0};
  std::atomic<int> handshakes_{0};
  std::thread acceptor_;
};

}  // namespace secplat::posture::testing
