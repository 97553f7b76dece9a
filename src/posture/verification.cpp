#include "posture/verification.h"

#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>

#include <vector>

#include "posture/probe/prober.h"

namespace secplat::posture {
namespace {

// The TXT strings of `host` (each record's character-strings joined), or an error text.
std::vector<std::string> txt_records(const std::string& host, std::string& error) {
  std::vector<std::string> out;
  struct __res_state state {};
  if (res_ninit(&state) != 0) {
    error = "resolver unavailable";
    return out;
  }
  std::vector<unsigned char> answer(65536);
  const int len = res_nquery(&state, host.c_str(), ns_c_in, ns_t_txt, answer.data(), static_cast<int>(answer.size()));
  if (len < 0) {
    error = "no TXT record found";
    res_nclose(&state);
    return out;
  }
  ns_msg msg;
  if (ns_initparse(answer.data(), len, &msg) != 0) {
    error = "malformed DNS answer";
    res_nclose(&state);
    return out;
  }
  for (int i = 0; i < ns_msg_count(msg, ns_s_an); ++i) {
    ns_rr rr;
    if (ns_parserr(&msg, ns_s_an, i, &rr) != 0 || ns_rr_type(rr) != ns_t_txt) continue;
    const unsigned char* p = ns_rr_rdata(rr);
    const unsigned char* end = p + ns_rr_rdlen(rr);
    std::string text;
    while (p < end) {
      const std::size_t n = *p++;
      if (p + n > end) break;
      text.append(reinterpret_cast<const char*>(p), n);
      p += n;
    }
    out.push_back(std::move(text));
  }
  res_nclose(&state);
  return out;
}

}  // namespace

Result<VerificationOutcome> verify_ownership(const Asset& a, const std::string& method, const NetPolicy& net) {
  if (method != "well_known" && method != "dns_txt")
    return Error::invalid({"body", "method"}, "Must be well_known or dns_txt");
  if (a.type != "external_web") return Error::invalid({"path", "asset_id"}, "Only external_web assets are verified");
  if (!a.verification_token || a.verification_token->empty())
    return Error::invalid({"path", "asset_id"}, "Asset has no verification token");
  VerificationOutcome out;
  out.method = method;
  out.details["method"] = method;
  if (method == "well_known") {
    ProbeTarget t;
    t.asset_key = a.asset_key;
    t.url = "http://" + a.name + "/.well-known/secplat-verification.txt";
    t.expected_status = {{200, 200}};
    t.keyword = *a.verification_token;
    t.timeout_ms = 3000;
    ProbeResult r = probe_once(t, net);
    out.details["url"] = r.url;
    out.details["status_code"] = r.code;
    out.verified = r.up;
    if (!r.up) {
      out.details["error"] = r.error_class == "keyword_missing" ? "the file does not contain the verification token"
                                                                : r.error;
      out.details["error_class"] = r.error_class;
    }
    return out;
  }
  std::string error;
  const std::string needle = "secplat-verification=" + *a.verification_token;
  auto records = txt_records(a.name, error);
  out.details["host"] = a.name;
  out.details["txt_records"] = records.size();
  for (const auto& r : records)
    if (r.find(needle) != std::string::npos) out.verified = true;
  if (!out.verified) out.details["error"] = error.empty() ? "no TXT record holds secplat-verification=<token>" : error;
  return out;
}

}  // namespace secplat::posture
