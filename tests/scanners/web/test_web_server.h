// Loopback test doubles for the web checks: a small HTTP/1.1 server (plain or TLS over OpenSSL)
// with configurable responses that records what it saw, and self-signed certificates made with
// the OpenSSL API.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace secplat::scanners::web::testing {

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Serves 127.0.0.1:<free port> on its own thread, one connection at a time, one request per
// connection (Connection: close). Routes match the path exactly (query ignored); every other
// path gets the fallback (404 unless set).
class TestWebServer {
 public:
  // With `tls`, connections are TLS (the server takes its own reference to the context).
  explicit TestWebServer(SSL_CTX* tls = nullptr);
  ~TestWebServer();
  TestWebServer(const TestWebServer&) = delete;
  TestWebServer& operator=(const TestWebServer&) = delete;

  void route(const std::string& path, Response r);
  void fallback(Response r);

  uint16_t port() const { return port_; }
  // "http://127.0.0.1:<port>" or "https://..."
  std::string url() const;
  int connections() const { return connections_.load(); }
  std::vector<std::string> paths() const;  // request paths in arrival order

 private:
  void run();
  void serve(int fd);
  Response respond(const std::string& path);

  SSL_CTX* tls_ = nullptr;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  mutable std::mutex mu_;
  std::map<std::string, Response> routes_;
  Response fallback_{404, {{"Content-Type", "text/plain"}}, "not found"};
  std::vector<std::string> paths_;
  std::thread thread_;
};

struct CertSpec {
  std::string common_name = "localhost";
  std::string subject_alt_names = "DNS:localhost,IP:127.0.0.1";  // OpenSSL config syntax; "" = none
  int64_t not_before_offset_s = -86400;       // relative to now
  int64_t not_after_offset_s = 365 * 86400;
  bool is_ca = false;  // basicConstraints CA:TRUE (for an issuer)
};

struct TestCert {
  std::string cert_pem;
  std::string key_pem;
};

// An EC P-256 certificate signed (SHA-256) by `issuer`, or self-signed without one.
TestCert make_certificate(const CertSpec& spec, const TestCert* issuer = nullptr);
inline TestCert make_self_signed(const CertSpec& spec) { return make_certificate(spec); }

// A server context for `cert`; max_version 0 = library default, else e.g. TLS1_1_VERSION (then
// older protocols are enabled and the security level lowered so they can be negotiated).
// The caller owns the result (SSL_CTX_free).
SSL_CTX* server_context(const TestCert& cert, int max_version = 0);

// Writes `content` to a new file under the temp dir and returns its path; removed by the
// destructor.
class TempFile {
 public:
  explicit TempFile(const std::string& content);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A loopback port with nothing listening (bound once, then closed).
uint16_t closed_port();

}  // namespace secplat::scanners::web::testing
