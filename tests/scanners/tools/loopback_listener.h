// Test helpers for network sandboxing: a TCP listener on 127.0.0.1 of the test's own network
// namespace, and a bash snippet that reports whether a process can connect to it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace secplat::scanners::test {

// Connections queue in its backlog; nothing accepts them.
class LoopbackListener {
 public:
  LoopbackListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) == 0 && ::listen(fd_, 16) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0)
      port_ = ntohs(a.sin_port);
  }
  ~LoopbackListener() {
    if (fd_ >= 0) ::close(fd_);
  }
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;
  int port() const { return port_; }  // 0 if it could not listen

 private:
  int fd_ = -1;
  int port_ = 0;
};

// bash: prints "reached" when a connection to 127.0.0.1:port opens, "unreachable" if not.
inline std::string connect_script(int port) {
  return "if exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(port) + "; then echo reached; else echo unreachable; fi";
}

}  // namespace secplat::scanners::test
