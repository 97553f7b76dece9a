// One probe request on a libcurl easy handle: the options that make it a probe (timeouts, no
// redirects, no proxy, http/https only, the SSRF guard at socket open), the body and header
// callbacks, and the classification of the outcome into a ProbeResult. Shared by the scheduled
// Prober and probe_once(). Internal to secplat_prober.
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "posture/probe/prober.h"

namespace secplat::posture {

// A target prepared once per definition: its redacted URL and the credentials to scrub from
// error text.
struct ProbeSpec {
  ProbeTarget target;
  std::string redacted_url;
  std::vector<std::string> secrets;
};
ProbeSpec prepare_probe(ProbeTarget target);

// Runs curl_global_init once per process.
void init_curl_once();

struct EasyDeleter {
  void operator()(CURL* e) const { curl_easy_cleanup(e); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;

// At most this much of a body is read; a longer body is cut off (not an error).
inline constexpr std::size_t kMaxProbeBody = 1 << 20;

class HttpProbe {
 public:
  HttpProbe(std::shared_ptr<const ProbeSpec> spec, const ProberOptions& options);
  HttpProbe(const HttpProbe&) = delete;
  HttpProbe& operator=(const HttpProbe&) = delete;

  // Sets every option on a new or reset easy handle and records the start time. Returns "" or
  // why the target cannot be probed at all (then call failed()). `share` may be null.
  std::string configure(CURL* easy, CURLSH* share);
  // The result of a transfer that ended with `rc`.
  ProbeResult finish(CURLcode rc);
  // The result of a probe that never started.
  ProbeResult failed(const std::string& message) const;

 private:
  static curl_socket_t open_socket(void* self, curlsocktype purpose, curl_sockaddr* address);
  static size_t on_body(char* data, size_t size, size_t n, void* self);
  static size_t on_header(char* data, size_t size, size_t n, void* self);
  void capture_tls();
  ProbeResult base_result() const;
  std::string scrub(std::string text) const;

  std::shared_ptr<const ProbeSpec> spec_;
  const ProberOptions& options_;
  CURL* easy_ = nullptr;
  int64_t started_ms_ = 0;
  int64_t started_steady_ms_ = 0;
  char error_buffer_[CURL_ERROR_SIZE] = {};

  std::string refused_reason_;  // set when the guard refused an address
  std::string refused_ip_;

  std::size_t body_bytes_ = 0;
  bool body_cut_ = false;
  bool keyword_found_ = false;
  std::string keyword_tail_;  // the last keyword.size()-1 body bytes, for matches across chunks

  bool tls_captured_ = false;
  std::optional<std::string> tls_version_;
  std::optional<int64_t> cert_not_after_ms_;
};

}  // namespace secplat::posture
