// The test Redis (CTest fixture `redis`, tests/support/redis_test_server.sh) for GoogleTest binaries,
// and private servers for tests that stop and restart one.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "core/ids.h"

namespace secplat::testing {

inline std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// The shared server's URL ("" and a test failure when not run under ctest).
inline std::string redis_server_url() {
  const char* dir = std::getenv("SECPLAT_TEST_REDIS_DIR");
  std::string url = dir ? read_first_line(std::string(dir) + "/url") : "";
  if (url.empty()) ADD_FAILURE() << "no test Redis: run under ctest (fixture redis) or set SECPLAT_TEST_REDIS_DIR";
  return url;
}

// A Redis of one's own (stopped and removed with the object), for tests that restart the server.
class PrivateRedis {
 public:
  PrivateRedis() : dir_("/tmp/secplat-redis-" + random_hex(6)) {
    ok_ = control("start") == 0;
    if (ok_) url_ = read_first_line(dir_ + "/url");
  }
  ~PrivateRedis() { control("stop"); }
  PrivateRedis(const PrivateRedis&) = delete;
  PrivateRedis& operator=(const PrivateRedis&) = delete;

  bool ok() const { return ok_; }
  const std::string& url() const { return url_; }
  bool pause() { return control("pause") == 0; }
  bool resume() { return control("resume") == 0; }

 private:
  int control(const std::string& what) {
    const std::string cmd = std::string(SECPLAT_SOURCE_DIR) + "/tests/support/redis_test_server.sh " + what + " " + dir_;
    return std::system(cmd.c_str());
  }
  std::string dir_;
  std::string url_;
  bool ok_ = false;
};

}  // namespace secplat::testing
