// The SSRF guard: which addresses outbound requests (probes, web scans, manifest fetches) may reach.
//
// Check the address a socket is about to connect to (after name resolution, e.g. in libcurl's
// CURLOPT_OPENSOCKETFUNCTION), not the host name in a URL: a name can resolve, or be re-bound,
// to any address. IPv4-mapped (::ffff:a.b.c.d), SIIT (::ffff:0:a.b.c.d), NAT64 (64:ff9b::/96)
// and 6to4 (2002::/16) IPv6 addresses are judged by the IPv4 address they carry.
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

struct sockaddr;

namespace secplat {

struct NetPolicy {
  // Private = loopback (127/8, ::1), RFC 1918 (10/8, 172.16/12, 192.168/16), CGNAT (100.64/10),
  // unique local (fc00::/7) and deprecated site-local (fec0::/10) addresses.
  bool allow_private = false;
};

// "" if the address may be contacted, else why not, e.g.
// "link-local address 169.254.169.254 is not allowed".
// Always refused: unspecified (0.0.0.0, ::), "this network" 0/8, link-local (169.254/16,
// fe80::/10), cloud metadata endpoints (169.254.169.254, fd00:ec2::254, 100.100.100.200,
// 192.0.0.192), multicast, broadcast, reserved 240/4, IPv4-compatible ::/96, and address
// families other than IPv4 and IPv6. Refused unless policy.allow_private: the private ranges above.
std::string refused_address_reason(const sockaddr* addr, const NetPolicy& policy);

// Same for an address literal: dotted IPv4 (also the legacy forms the resolver accepts, such as
// "127.1" or "0x7f.0.0.1") or IPv6, optionally in brackets and with a %zone. Text that is not an
// address literal is refused ("not an IP address: ...").
std::string refused_address_reason(std::string_view ip_literal, const NetPolicy& policy);

}  // namespace secplat
