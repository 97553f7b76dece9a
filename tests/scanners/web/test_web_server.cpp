#include "scanners/web/test_web_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>

namespace secplat::scanners::web::testing {
namespace {

constexpr std::size_t kMaxRequestBytes = 16 * 1024;

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

// Reads and writes either through TLS or the plain socket.
struct Conn {
  int fd = -1;
  SSL* ssl = nullptr;

  long read(char* buf, std::size_t n) const {
    if (ssl != nullptr) return SSL_read(ssl, buf, static_cast<int>(n));
    return ::recv(fd, buf, n, 0);
  }
  bool write_all(const std::string& data) const {
    std::size_t off = 0;
    while (off < data.size()) {
      long n = ssl != nullptr ? SSL_write(ssl, data.data() + off, static_cast<int>(data.size() - off))
                              : ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }
};

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

}  // namespace

TestWebServer::TestWebServer(SSL_CTX* tls) : tls_(tls) {
  // A client that stops reading mid-body must not kill the test process.
  std::signal(SIGPIPE, SIG_IGN);
  if (tls_ != nullptr) SSL_CTX_up_ref(tls_);
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error("socket");
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 16) != 0)
    throw std::runtime_error("bind/listen");
  socklen_t len = sizeof addr;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { run(); });
}

TestWebServer::~TestWebServer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
  if (tls_ != nullptr) SSL_CTX_free(tls_);
}

void TestWebServer::route(const std::string& path, Response r) {
  std::lock_guard lk(mu_);
  routes_[path] = std::move(r);
}

void TestWebServer::fallback(Response r) {
  std::lock_guard lk(mu_);
  fallback_ = std::move(r);
}

std::string TestWebServer::url() const {
  return std::string(tls_ != nullptr ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}

std::vector<std::string> TestWebServer::paths() const {
  std::lock_guard lk(mu_);
  return paths_;
}

void TestWebServer::run() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++connections_;
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    serve(fd);
    ::close(fd);
  }
}

Response TestWebServer::respond(const std::string& path) {
  std::lock_guard lk(mu_);
  paths_.push_back(path);
  const auto it = routes_.find(path);
  return it != routes_.end() ? it->second : fallback_;
}

void TestWebServer::serve(int fd) {
  Conn c{fd, nullptr};
  if (tls_ != nullptr) {
    c.ssl = SSL_new(tls_);
    SSL_set_fd(c.ssl, fd);
    if (SSL_accept(c.ssl) != 1) {  // e.g. the client refused the certificate
      SSL_free(c.ssl);
      return;
    }
  }
  std::string request;
  char buf[4096];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < kMaxRequestBytes) {
    const long n = c.read(buf, sizeof buf);
    if (n <= 0) break;
    request.append(buf, static_cast<std::size_t>(n));
  }
  // "GET /path?query HTTP/1.1"
  const auto sp1 = request.find(' ');
  const auto sp2 = sp1 == std::string::npos ? std::string::npos : request.find(' ', sp1 + 1);
  if (sp2 != std::string::npos) {
    const std::string method = request.substr(0, sp1);
    std::string target = request.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string path = target.substr(0, target.find('?'));
    const Response r = respond(path);
    std::string head = "HTTP/1.1 " + std::to_string(r.status) + " " + reason_phrase(r.status) + "\r\n";
    head += "Content-Length: " + std::to_string(r.body.size()) + "\r\nConnection: close\r\n";
    for (const auto& [k, v] : r.headers) head += k + ": " + v + "\r\n";
    head += "\r\n";
    if (c.write_all(head) && method != "HEAD") (void)c.write_all(r.body);
  }
  if (c.ssl != nullptr) {
    SSL_shutdown(c.ssl);
    SSL_free(c.ssl);
  }
}

namespace {

X509* read_cert(const std::string& pem) {
  BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  return x;
}

EVP_PKEY* read_key(const std::string& pem) {
  BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* k = PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  return k;
}

void add_extension(X509* x, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) throw std::runtime_error("extension " + value);
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
}

}  // namespace

TestCert make_certificate(const CertSpec& spec, const TestCert* issuer) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  X509* x = X509_new();
  if (key == nullptr || x == nullptr) throw std::runtime_error("keygen");
  X509_set_version(x, 2);
  unsigned char serial[8];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7F;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(x), static_cast<long>(spec.not_before_offset_s));
  X509_gmtime_adj(X509_getm_notAfter(x), static_cast<long>(spec.not_after_offset_s));
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1, -1, 0);

  X509* issuer_cert = issuer != nullptr ? read_cert(issuer->cert_pem) : nullptr;
  EVP_PKEY* issuer_key = issuer != nullptr ? read_key(issuer->key_pem) : nullptr;
  if (issuer != nullptr && (issuer_cert == nullptr || issuer_key == nullptr)) throw std::runtime_error("issuer");
  X509_set_issuer_name(x, issuer_cert != nullptr ? X509_get_subject_name(issuer_cert) : name);
  X509* signer_cert = issuer_cert != nullptr ? issuer_cert : x;
  if (spec.is_ca) {
    add_extension(x, signer_cert, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(x, signer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  }
  add_extension(x, signer_cert, NID_subject_key_identifier, "hash");
  if (!spec.subject_alt_names.empty()) add_extension(x, signer_cert, NID_subject_alt_name, spec.subject_alt_names);
  X509_sign(x, issuer_key != nullptr ? issuer_key : key, EVP_sha256());

  TestCert out;
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  out.cert_pem = bio_text(b);
  BIO_free(b);
  b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
  out.key_pem = bio_text(b);
  BIO_free(b);
  X509_free(issuer_cert);
  EVP_PKEY_free(issuer_key);
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
}

SSL_CTX* server_context(const TestCert& cert, int max_version) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) throw std::runtime_error("SSL_CTX_new");
  X509* x = read_cert(cert.cert_pem);
  EVP_PKEY* key = read_key(cert.key_pem);
  if (x == nullptr || key == nullptr || SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1)
    throw std::runtime_error("server certificate");
  X509_free(x);
  EVP_PKEY_free(key);
  if (max_version != 0) {
    SSL_CTX_set_security_level(ctx, 0);
    SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
    SSL_CTX_set_max_proto_version(ctx, max_version);
  }
  return ctx;
}

TempFile::TempFile(const std::string& content) {
  const char* dir = std::getenv("TMPDIR");
  std::string tmpl = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/secplat-web-XXXXXX";
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) throw std::runtime_error("mkstemp");
  std::size_t off = 0;
  while (off < content.size()) {
    const ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n <= 0) break;
    off += static_cast<std::size_t>(n);
  }
  ::close(fd);
  path_ = tmpl;
}

TempFile::~TempFile() { ::unlink(path_.c_str()); }

uint16_t closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace secplat::scanners::web::testing
