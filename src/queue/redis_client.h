// A small synchronous Redis client over hiredis 0.14 (RESP2): a pool of blocking connections, one
// per concurrent caller, so a worker thread blocked in XREADGROUP never holds up a producer.
//
// URL: redis://[[user]:password@]host[:port][/db] (password percent-decoded; AUTH and SELECT are sent
// on every new connection). rediss:// (TLS) is refused: hiredis 0.14 has no TLS.
//
// Failures: a refused or lost connection is Errc::unavailable naming the cause; while the server
// is down, calls fail fast for a backoff that doubles from 50 ms to 5 s, then one call tries again.
// A call on a pooled connection that the server has since closed (restart) is retried once on a
// new connection, so a command may run twice across a reconnect (at-least-once, like the queue).
// Error replies (-ERR, -NOGROUP...) are not failures of the call: they come back as a reply of
// type `error` for the caller to map.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.h"

namespace secplat::queue {

struct RedisReply {
  enum class Type { nil, string, status, integer, array, error };
  Type type = Type::nil;
  std::string str;          // string, status, error
  long long integer = 0;    // integer
  std::vector<RedisReply> elements;  // array

  bool is_error() const { return type == Type::error; }
  bool is_nil() const { return type == Type::nil; }
  // The error code of an error reply ("NOGROUP", "BUSYGROUP", "ERR"...), else "".
  std::string error_code() const;
};

struct RedisOptions {
  std::string url;
  int max_idle = 16;              // idle connections kept; more are opened on demand
  int connect_timeout_ms = 2000;
  int command_timeout_ms = 5000;  // plus the block time for blocking commands
};

// A Lua script run with EVALSHA; loaded into the server on first use and again after a restart.
class RedisScript {
 public:
  explicit RedisScript(std::string source) : source_(std::move(source)) {}
  const std::string& source() const { return source_; }

 private:
  friend class RedisClient;
  std::string source_;
  std::mutex mu_;
  std::string sha_;  // guarded by mu_; empty until loaded
};

class RedisClient {
 public:
  // Parses the URL and connects once, so a bad URL or an unreachable server is named at start-up.
  static Result<std::unique_ptr<RedisClient>> open(const RedisOptions& options);
  ~RedisClient();

  // One command. block_ms > 0 lengthens the socket timeout for a BLOCK command.
  Result<RedisReply> command(const std::vector<std::string>& argv, int64_t block_ms = 0);
  // Several commands in one round trip; one reply each, in order.
  Result<std::vector<RedisReply>> pipeline(const std::vector<std::vector<std::string>>& commands);
  Result<RedisReply> eval(RedisScript& script, const std::vector<std::string>& keys,
                          const std::vector<std::string>& args);

  // "host:port/db" without credentials, for logs.
  const std::string& display() const;

  struct Impl;

 private:
  explicit RedisClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace secplat::queue
