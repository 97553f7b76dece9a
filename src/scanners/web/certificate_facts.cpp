#include "scanners/web/certificate_facts.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <ctime>
#include <memory>

namespace secplat::scanners::web {
namespace {

constexpr std::size_t kMaxNames = 20;
constexpr std::size_t kMaxNameText = 256;

template <class T, void (*F)(T*)>
struct Free {
  void operator()(T* p) const { F(p); }
};
using X509Ptr = std::unique_ptr<X509, Free<X509, X509_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Free<X509_STORE, X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Free<X509_STORE_CTX, X509_STORE_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Free<BIO, BIO_free_all>>;

void free_general_names(GENERAL_NAMES* n) { GENERAL_NAMES_free(n); }
void free_x509_stack(STACK_OF(X509)* s) { sk_X509_free(s); }

X509Ptr parse_der(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  return X509Ptr(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
}

std::string name_text(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) return {};
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  std::string out(data, static_cast<std::size_t>(n > 0 ? n : 0));
  if (out.size() > kMaxNameText) out.resize(kMaxNameText);
  return out;
}

int64_t time_ms(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return int64_t{timegm(&tm)} * 1000;
}

std::string printable(const unsigned char* p, int n) {
  std::string out;
  for (int i = 0; i < n && out.size() < kMaxNameText; ++i) out.push_back(p[i] >= 0x20 && p[i] < 0x7F ? char(p[i]) : '?');
  return out;
}

std::vector<std::string> names_of(X509* leaf) {
  std::vector<std::string> out;
  std::unique_ptr<GENERAL_NAMES, Free<GENERAL_NAMES, free_general_names>> sans(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr)));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans.get()) && out.size() < kMaxNames; ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans.get(), i);
      if (g->type == GEN_DNS) {
        out.push_back(printable(ASN1_STRING_get0_data(g->d.dNSName), ASN1_STRING_length(g->d.dNSName)));
      } else if (g->type == GEN_IPADD) {
        const int len = ASN1_STRING_length(g->d.iPAddress);
        const unsigned char* bytes = ASN1_STRING_get0_data(g->d.iPAddress);
        char text[INET6_ADDRSTRLEN] = {};
        if (len == 4 && inet_ntop(AF_INET, bytes, text, sizeof text) != nullptr) out.emplace_back(text);
        if (len == 16 && inet_ntop(AF_INET6, bytes, text, sizeof text) != nullptr) out.emplace_back(text);
      }
    }
  }
  if (out.empty()) {
    const X509_NAME* subject = X509_get_subject_name(leaf);
    const int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (i >= 0) {
      const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
      out.push_back(printable(ASN1_STRING_get0_data(cn), ASN1_STRING_length(cn)));
    }
  }
  return out;
}

}  // namespace

CertificateFacts inspect_certificate(const std::vector<std::string>& chain_der, const std::string& host,
                                     const std::optional<std::string>& ca_file) {
  CertificateFacts f;
  if (chain_der.empty()) return f;
  X509Ptr leaf = parse_der(chain_der.front());
  if (!leaf) return f;
  f.present = true;
  f.subject = name_text(X509_get_subject_name(leaf.get()));
  f.issuer = name_text(X509_get_issuer_name(leaf.get()));
  f.names = names_of(leaf.get());
  f.not_before_ms = time_ms(X509_get0_notBefore(leaf.get()));
  f.not_after_ms = time_ms(X509_get0_notAfter(leaf.get()));
  f.self_signed = X509_self_signed(leaf.get(), 1) == 1;

  unsigned char ip[16];
  const bool is_ip = inet_pton(AF_INET, host.c_str(), ip) == 1 || inet_pton(AF_INET6, host.c_str(), ip) == 1;
  f.host_matches = is_ip ? X509_check_ip_asc(leaf.get(), host.c_str(), 0) == 1
                         : X509_check_host(leaf.get(), host.data(), host.size(), 0, nullptr) == 1;

  // The rest of the chain is untrusted input that may help build a path to an anchor.
  std::vector<X509Ptr> intermediates;
  std::unique_ptr<STACK_OF(X509), Free<STACK_OF(X509), free_x509_stack>> untrusted(sk_X509_new_null());
  for (std::size_t i = 1; i < chain_der.size(); ++i) {
    if (X509Ptr c = parse_der(chain_der[i])) {
      sk_X509_push(untrusted.get(), c.get());
      intermediates.push_back(std::move(c));
    }
  }
  StorePtr store(X509_STORE_new());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !ctx || !untrusted) {
    f.trust_error = "out of memory";
    return f;
  }
  X509_STORE_set_default_paths(store.get());
  if (ca_file && X509_STORE_load_file(store.get(), ca_file->c_str()) != 1) f.trust_error = "ca_file not loadable";
  if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), untrusted.get()) != 1) {
    f.trust_error = "verification could not start";
    return f;
  }
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_NO_CHECK_TIME);
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  f.chain_trusted = X509_verify_cert(ctx.get()) == 1;
  if (f.chain_trusted) {
    f.trust_error.clear();
  } else {
    f.trust_error = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
  }
  return f;
}

}  // namespace secplat::scanners::web
