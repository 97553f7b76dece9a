#include "core/net_guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <cstring>

namespace secplat {
namespace {

enum class Verdict { allowed, private_range, refused };

struct Class {
  Verdict verdict = Verdict::allowed;
  const char* what = "";
};

// `a` in host byte order.
Class classify_v4(uint32_t a) {
  if (a == 0) return {Verdict::refused, "unspecified"};
  if ((a >> 24) == 0) return {Verdict::refused, "'this network'"};
  if (a == 0xFFFFFFFFu) return {Verdict::refused, "broadcast"};
  if ((a >> 28) == 0xE) return {Verdict::refused, "multicast"};
  if ((a >> 28) == 0xF) return {Verdict::refused, "reserved"};
  if ((a >> 16) == 0xA9FE) return {Verdict::refused, "link-local"};  // incl. 169.254.169.254
  // Metadata endpoints outside link-local: Alibaba Cloud (inside CGNAT) and Oracle Cloud.
  if (a == 0x646464C8u || a == 0xC00000C0u) return {Verdict::refused, "cloud metadata"};
  if ((a >> 24) == 127) return {Verdict::private_range, "loopback"};
  if ((a >> 24) == 10 || (a >> 20) == 0xAC1 || (a >> 16) == 0xC0A8) return {Verdict::private_range, "private"};
  if ((a & 0xFFC00000u) == 0x64400000u) return {Verdict::private_range, "shared (CGNAT)"};
  return {};
}

uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

bool all_zero(const uint8_t* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (p[i] != 0) return false;
  return true;
}

Class classify_v6(const std::array<uint8_t, 16>& b) {
  const uint8_t* p = b.data();
  if (all_zero(p, 15)) {
    if (p[15] == 0) return {Verdict::refused, "unspecified"};
    if (p[15] == 1) return {Verdict::private_range, "loopback"};
  }
  // IPv4-mapped ::ffff:a.b.c.d — a dual-stack socket connects to the IPv4 address itself.
  if (all_zero(p, 10) && p[10] == 0xFF && p[11] == 0xFF) return classify_v4(load_be32(p + 12));
  if (all_zero(p, 12)) return {Verdict::refused, "IPv4-compatible"};
  // SIIT ::ffff:0:a.b.c.d and NAT64 64:ff9b::/96 are translated to the IPv4 address.
  if (all_zero(p, 8) && p[8] == 0xFF && p[9] == 0xFF && p[10] == 0 && p[11] == 0)
    return classify_v4(load_be32(p + 12));
  if (p[0] == 0x00 && p[1] == 0x64 && p[2] == 0xFF && p[3] == 0x9B && all_zero(p + 4, 8))
    return classify_v4(load_be32(p + 12));
  // 6to4 2002:AABB:CCDD::/48 tunnels to AA.BB.CC.DD.
  if (p[0] == 0x20 && p[1] == 0x02) return classify_v4(load_be32(p + 2));
  if (p[0] == 0xFF) return {Verdict::refused, "multicast"};
  if (p[0] == 0xFE && (p[1] & 0xC0) == 0x80) return {Verdict::refused, "link-local"};
  if (p[0] == 0xFE && (p[1] & 0xC0) == 0xC0) return {Verdict::private_range, "site-local"};
  // AWS's IPv6 instance metadata endpoint fd00:ec2::254 sits inside the unique local range.
  static constexpr std::array<uint8_t, 16> kAwsMetadata{0xFD, 0x00, 0x0E, 0xC2, 0, 0, 0, 0,
                                                       0,    0,    0,    0,    0, 0, 0x02, 0x54};
  if (b == kAwsMetadata) return {Verdict::refused, "cloud metadata"};
  if ((p[0] & 0xFE) == 0xFC) return {Verdict::private_range, "unique local"};
  return {};
}

std::string reason(const Class& c, const NetPolicy& policy, const char* text) {
  if (c.verdict == Verdict::allowed) return {};
  if (c.verdict == Verdict::private_range && policy.allow_private) return {};
  return std::string(c.what) + " address " + text + " is not allowed";
}

std::string check_v4(const in_addr& a, const NetPolicy& policy) {
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &a, text, sizeof text);
  return reason(classify_v4(ntohl(a.s_addr)), policy, text);
}

std::string check_v6(const in6_addr& a, const NetPolicy& policy) {
  std::array<uint8_t, 16> bytes{};
  std::memcpy(bytes.data(), a.s6_addr, 16);
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, &a, text, sizeof text);
  return reason(classify_v6(bytes), policy, text);
}

}  // namespace

std::string refused_address_reason(const sockaddr* addr, const NetPolicy& policy) {
  if (addr == nullptr) return "no address to check";
  if (addr->sa_family == AF_INET) {
    sockaddr_in sin{};
    std::memcpy(&sin, addr, sizeof sin);
    return check_v4(sin.sin_addr, policy);
  }
  if (addr->sa_family == AF_INET6) {
    sockaddr_in6 sin6{};
    std::memcpy(&sin6, addr, sizeof sin6);
    return check_v6(sin6.sin6_addr, policy);
  }
  return "address family " + std::to_string(addr->sa_family) + " is not allowed";
}

std::string refused_address_reason(std::string_view ip_literal, const NetPolicy& policy) {
  std::string_view s = ip_literal;
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  const std::string not_ip = "not an IP address: '" + std::string(ip_literal.substr(0, 64)) + "'";
  if (s.empty() || s.size() > 64) return not_ip;
  if (s.find(':') != std::string_view::npos) {
    if (auto pct = s.find('%'); pct != std::string_view::npos) s = s.substr(0, pct);
    in6_addr a{};
    if (inet_pton(AF_INET6, std::string(s).c_str(), &a) != 1) return not_ip;
    return check_v6(a, policy);
  }
  // inet_aton takes the same legacy forms as the resolver ("127.1", "0x7f.0.0.1", "2130706433"),
  // but also ignores anything after whitespace, so only address characters are let through.
  for (char c : s) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == 'x' ||
                    c == 'X' || c == '.';
    if (!ok) return not_ip;
  }
  in_addr a{};
  if (inet_aton(std::string(s).c_str(), &a) == 0) return not_ip;
  return check_v4(a, policy);
}

}  // namespace secplat
