#include "posture/probe/probe_servers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "core/clock.h"

namespace secplat::posture::testing {
namespace {

int listen_loopback(uint16_t& port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 128) != 0) {
    close(fd);
    throw std::runtime_error("bind/listen failed");
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

// Waits until `fd` is readable (true) or the wake pipe fired (false).
bool wait_readable(int fd, int wake_fd) {
  pollfd fds[2] = {{fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
  for (;;) {
    int n = poll(fds, 2, -1);
    if (n < 0) continue;
    if (fds[1].revents != 0) return false;
    if (fds[0].revents != 0) return true;
  }
}

bool write_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

std::string http_response(int status, const std::string& body, const std::string& extra_headers) {
  return "HTTP/1.1 " + std::to_string(status) + " Status\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nContent-Type: text/plain\r\n" + extra_headers + "\r\n" + body;
}

uint16_t closed_port() {
  uint16_t port = 0;
  int fd = listen_loopback(port);
  close(fd);
  return port;
}

TestHttpServer::TestHttpServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = listen_loopback(port_);
  if (pipe2(wake_, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  acceptor_ = std::thread([this] { accept_loop(); });
}

TestHttpServer::~TestHttpServer() {
  (void)!write(wake_[1], "x", 1);
  acceptor_.join();
  for (auto& w : workers_) w.join();
  close(listen_fd_);
  close(wake_[0]);
  close(wake_[1]);
}

std::string TestHttpServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<std::string> TestHttpServer::heads() const {
  std::lock_guard lk(mu_);
  return heads_;
}

std::vector<int64_t> TestHttpServer::accept_times() const {
  std::lock_guard lk(mu_);
  return accept_times_;
}

void TestHttpServer::accept_loop() {
  while (wait_readable(listen_fd_, wake_[0])) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    {
      std::lock_guard lk(mu_);
      accept_times_.push_back(steady_ms());
    }
    ++connections_;
    workers_.emplace_back([this, fd] { serve(fd); });
  }
}

void TestHttpServer::serve(int fd) {
  std::string buf;
  char chunk[8192];
  bool silent = false;
  while (wait_readable(fd, wake_[0])) {
    ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    if (silent) continue;
    buf.append(chunk, static_cast<std::size_t>(n));
    std::size_t end;
    while (!silent && (end = buf.find("\r\n\r\n")) != std::string::npos) {
      std::string head = buf.substr(0, end + 2);
      buf.erase(0, end + 4);
      ++requests_;
      {
        std::lock_guard lk(mu_);
        heads_.push_back(head);
      }
      std::string response = handler_(head);
      if (response.empty()) {
        silent = true;
        continue;
      }
      bool sent = true;
      for (std::size_t from = 0; sent && from <= response.size();) {
        const std::size_t pause = std::min(response.find('\x01', from), response.size());
        sent = write_all(fd, response.substr(from, pause - from));
        if (pause < response.size()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        from = pause + 1;
      }
      if (!sent) break;
    }
  }
  close(fd);
}

TestTlsServer::TestTlsServer(const std::string& san, int days) {
  signal(SIGPIPE, SIG_IGN);  // SSL_write to a client that hung up
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  X509_gmtime_adj(X509_getm_notAfter(cert), long{days} * 86400);
  not_after_ms_ = (now_s + int64_t{days} * 86400) * 1000;
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("secplat test"), -1,
                             -1, 0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX v3{};
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert, cert, nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, san.c_str()},
                            std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(cert, key, EVP_sha256());

  char path[] = "/tmp/secplat-probe-cert-XXXXXX";
  int cfd = mkstemp(path);
  if (cfd < 0) throw std::runtime_error("mkstemp failed");
  cert_file_ = path;
  FILE* f = fdopen(cfd, "w");
  PEM_write_X509(f, cert);
  fclose(f);

  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate(ctx, cert);
  SSL_CTX_use_PrivateKey(ctx, key);
  ctx_ = ctx;
  X509_free(cert);
  EVP_PKEY_free(key);

  listen_fd_ = listen_loopback(port_);
  if (pipe2(wake_, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  acceptor_ = std::thread([this] { accept_loop(); });
}

TestTlsServer::~TestTlsServer() {
  (void)!write(wake_[1], "x", 1);
  acceptor_.join();
  close(listen_fd_);
  close(wake_[0]);
  close(wake_[1]);
  SSL_CTX_free(static_cast<SSL_CTX*>(ctx_));
  std::remove(cert_file_.c_str());
}

// One connection at a time: enough for probes, and nothing to join.
void TestTlsServer::accept_loop() {
  while (wait_readable(listen_fd_, wake_[0])) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++connections_;
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    SSL* ssl = SSL_new(static_cast<SSL_CTX*>(ctx_));
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
      ++handshakes_;
      std::string head;
      char buf[4096];
      while (head.find("\r\n\r\n") == std::string::npos) {
        int n = SSL_read(ssl, buf, sizeof buf);
        if (n <= 0) break;
        head.append(buf, static_cast<std::size_t>(n));
      }
      if (head.find("\r\n\r\n") != std::string::npos) {
        const std::string response = http_response(200, "ok", "Connection: close\r\n");
        SSL_write(ssl, response.data(), static_cast<int>(response.size()));
        SSL_shutdown(ssl);
      }
    }
    ERR_clear_error();
    SSL_free(ssl);
    close(fd);
  }
}

}  // namespace secplat::posture::testing
