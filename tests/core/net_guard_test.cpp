#include "core/net_guard.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <string>

using namespace secplat;

namespace {

const NetPolicy kStrict{};
const NetPolicy kPrivateOk{true};

bool allowed(const char* ip, const NetPolicy& p = kStrict) { return refused_address_reason(ip, p).empty(); }

}  // namespace

TEST(net_guard, PublicAddressesAreAllowed) {
  for (const char* ip : {"93.184.216.34", "8.8.8.8", "1.1.1.1", "172.15.255.255", "172.32.0.0", "192.167.1.1",
                         "100.63.255.255", "100.128.0.0", "169.253.255.255", "223.255.255.255", "11.0.0.1",
                         "2606:2800:220:1:248:1893:25c8:1946", "2001:4860:4860::8888", "[2001:db8::1]",
                         "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"}) {
    EXPECT_TRUE(allowed(ip)) << ip << ": " << refused_address_reason(ip, kStrict);
    EXPECT_TRUE(allowed(ip, kPrivateOk)) << ip;
  }
}

TEST(net_guard, PrivateRangesNeedAllowPrivate) {
  for (const char* ip : {"127.0.0.1", "127.255.255.254", "10.0.0.1", "10.255.255.255", "172.16.0.1",
                         "172.31.255.255", "192.168.0.1", "192.168.255.255", "100.64.0.1", "100.127.255.255", "::1",
                         "[::1]", "fc00::1", "fd12:3456:789a::1", "fec0::1", "::ffff:127.0.0.1", "::ffff:10.1.2.3",
                         "::ffff:192.168.1.1", "64:ff9b::a00:1", "2002:c0a8:101::1"}) {
    EXPECT_FALSE(allowed(ip)) << ip;
    EXPECT_TRUE(allowed(ip, kPrivateOk)) << ip << ": " << refused_address_reason(ip, kPrivateOk);
  }
}

TEST(net_guard, DangerousRangesAreAlwaysRefused) {
  for (const char* ip : {"0.0.0.0", "0.1.2.3", "169.254.169.254", "169.254.0.1", "169.254.255.255", "224.0.0.1",
                         "239.255.255.250", "255.255.255.255", "240.0.0.1", "250.1.2.3", "100.100.100.200",
                         "192.0.0.192", "::", "fe80::1", "febf::1", "fe80::1%eth0", "[fe80::1%25eth0]", "ff02::1",
                         "ff05::2", "fd00:ec2::254", "::ffff:169.254.169.254", "::ffff:0.0.0.0", "::ffff:224.0.0.1",
                         "::ffff:0:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1", "::127.0.0.1",
                         "::8.8.8.8"}) {
    EXPECT_FALSE(allowed(ip)) << ip;
    EXPECT_FALSE(allowed(ip, kPrivateOk)) << ip;
  }
}

TEST(net_guard, ReasonsNameTheRangeAndTheAddress) {
  EXPECT_EQ(refused_address_reason("169.254.169.254", kPrivateOk),
            "link-local address 169.254.169.254 is not allowed");
  EXPECT_EQ(refused_address_reason("127.0.0.1", kStrict), "loopback address 127.0.0.1 is not allowed");
  EXPECT_EQ(refused_address_reason("10.1.2.3", kStrict), "private address 10.1.2.3 is not allowed");
  EXPECT_EQ(refused_address_reason("100.64.1.1", kStrict), "shared (CGNAT) address 100.64.1.1 is not allowed");
  EXPECT_EQ(refused_address_reason("fd00:ec2::254", kPrivateOk), "cloud metadata address fd00:ec2::254 is not allowed");
  EXPECT_EQ(refused_address_reason("::ffff:169.254.169.254", kPrivateOk),
            "link-local address ::ffff:169.254.169.254 is not allowed");
  EXPECT_EQ(refused_address_reason("fc00::5", kStrict), "unique local address fc00::5 is not allowed");
  EXPECT_EQ(refused_address_reason("255.255.255.255", kPrivateOk), "broadcast address 255.255.255.255 is not allowed");
  EXPECT_EQ(refused_address_reason("241.0.0.1", kPrivateOk), "reserved address 241.0.0.1 is not allowed");
  EXPECT_EQ(refused_address_reason("::", kPrivateOk), "unspecified address :: is not allowed");
}

TEST(net_guard, LegacyIpv4FormsAreJudgedByTheAddressTheyMean) {
  // The resolver turns these into 127.0.0.1 / 169.254.169.254; so does the guard.
  for (const char* ip : {"127.1", "0x7f.0.0.1", "0177.0.0.1", "2130706433", "0x7f000001"}) {
    EXPECT_EQ(refused_address_reason(ip, kStrict), "loopback address 127.0.0.1 is not allowed") << ip;
  }
  EXPECT_EQ(refused_address_reason("2852039166", kPrivateOk), "link-local address 169.254.169.254 is not allowed");
}

TEST(net_guard, TextThatIsNotAnAddressIsRefused) {
  for (const char* s : {"", "localhost", "example.com", "1.2.3.4 foo", "1.2.3.4.5", "::g", "[::1", "256.1.1.1"}) {
    EXPECT_NE(refused_address_reason(s, kPrivateOk).find("not an IP address"), std::string::npos) << s;
  }
}

TEST(net_guard, ChecksSocketAddresses) {
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  v4.sin_port = htons(80);
  inet_pton(AF_INET, "169.254.169.254", &v4.sin_addr);
  EXPECT_EQ(refused_address_reason(reinterpret_cast<sockaddr*>(&v4), kPrivateOk),
            "link-local address 169.254.169.254 is not allowed");
  inet_pton(AF_INET, "127.0.0.1", &v4.sin_addr);
  EXPECT_FALSE(refused_address_reason(reinterpret_cast<sockaddr*>(&v4), kStrict).empty());
  EXPECT_TRUE(refused_address_reason(reinterpret_cast<sockaddr*>(&v4), kPrivateOk).empty());
  inet_pton(AF_INET, "93.184.216.34", &v4.sin_addr);
  EXPECT_TRUE(refused_address_reason(reinterpret_cast<sockaddr*>(&v4), kStrict).empty());

  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "::ffff:169.254.169.254", &v6.sin6_addr);
  EXPECT_FALSE(refused_address_reason(reinterpret_cast<sockaddr*>(&v6), kPrivateOk).empty());
  inet_pton(AF_INET6, "::1", &v6.sin6_addr);
  EXPECT_FALSE(refused_address_reason(reinterpret_cast<sockaddr*>(&v6), kStrict).empty());
  EXPECT_TRUE(refused_address_reason(reinterpret_cast<sockaddr*>(&v6), kPrivateOk).empty());
  inet_pton(AF_INET6, "2001:4860:4860::8888", &v6.sin6_addr);
  EXPECT_TRUE(refused_address_reason(reinterpret_cast<sockaddr*>(&v6), kStrict).empty());

  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  EXPECT_FALSE(refused_address_reason(reinterpret_cast<sockaddr*>(&un), kPrivateOk).empty());
  EXPECT_FALSE(refused_address_reason(static_cast<const sockaddr*>(nullptr), kPrivateOk).empty());
}
