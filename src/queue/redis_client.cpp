#include "queue/redis_client.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <charconv>
#include <chrono>

namespace secplat::queue {
namespace {

struct ParsedUrl {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string user;
  std::string password;
  int db = 0;
  std::string display;
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || hex_value(s[i + 1]) < 0 || hex_value(s[i + 2]) < 0)
      return Error::bad_request("redis URL: bad percent-encoding");
    out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
    i += 2;
  }
  return out;
}

bool parse_int(std::string_view s, int& out, int lo, int hi) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && out >= lo && out <= hi;
}

Result<ParsedUrl> parse_url(const std::string& url) {
  constexpr std::string_view kScheme = "redis://";
  if (url.rfind("rediss://", 0) == 0) return Error::bad_request("redis URL: TLS (rediss://) is not supported (hiredis 0.14)");
  if (url.rfind(kScheme, 0) != 0) return Error::bad_request("redis URL must start with redis://");
  std::string_view rest(url);
  rest.remove_prefix(kScheme.size());
  ParsedUrl u;
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view cred = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    auto colon = cred.find(':');
    auto user = percent_decode(cred.substr(0, colon));
    if (!user) return std::move(user).take_error();
    u.user = *user;
    if (colon != std::string_view::npos) {
      auto pw = percent_decode(cred.substr(colon + 1));
      if (!pw) return std::move(pw).take_error();
      u.password = *pw;
    } else {  // redis://secret@host: a lone token is the password (the redis-py convention)
      u.password = u.user;
      u.user.clear();
    }
  }
  std::string_view path;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    path = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  if (!path.empty() && !parse_int(path, u.db, 0, 1 << 20)) return Error::bad_request("redis URL: database must be a number");
  std::string_view host = rest;
  if (!rest.empty() && rest.front() == '[') {  // [::1]:6379
    auto close = rest.find(']');
    if (close == std::string_view::npos) return Error::bad_request("redis URL: unterminated [ in host");
    host = rest.substr(1, close - 1);
    rest.remove_prefix(close + 1);
    if (!rest.empty() && rest.front() != ':') return Error::bad_request("redis URL: bad host");
    if (!rest.empty() && !parse_int(rest.substr(1), u.port, 1, 65535)) return Error::bad_request("redis URL: bad port");
  } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    if (!parse_int(rest.substr(colon + 1), u.port, 1, 65535)) return Error::bad_request("redis URL: bad port");
  }
  if (!host.empty()) u.host = std::string(host);
  u.display = u.host + ":" + std::to_string(u.port) + "/" + std::to_string(u.db);
  return u;
}

RedisReply convert(const redisReply* r) {
  RedisReply out;
  if (r == nullptr) return out;
  switch (r->type) {
    case REDIS_REPLY_STRING: out.type = RedisReply::Type::string; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_STATUS: out.type = RedisReply::Type::status; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_ERROR: out.type = RedisReply::Type::error; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_INTEGER: out.type = RedisReply::Type::integer; out.integer = r->integer; break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::array;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default: break;  // NIL
  }
  return out;
}

timeval to_timeval(int64_t ms) { return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)}; }

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

}  // namespace

std::string RedisReply::error_code() const {
  if (type != Type::error) return {};
  return str.substr(0, str.find(' '));
}

struct RedisClient::Impl {
  RedisOptions options;
  ParsedUrl url;

  struct Conn {
    redisContext* ctx = nullptr;
    int64_t timeout_ms = 0;  // the socket timeout currently set
    bool fresh = true;       // not yet returned to the pool once
  };

  std::mutex mu;  // guards idle and the backoff state
  std::vector<Conn> idle;
  std::chrono::steady_clock::time_point retry_at{};
  int backoff_ms = 50;
  std::string last_error;

  ~Impl() {
    for (auto& c : idle) redisFree(c.ctx);
  }

  Result<Conn> connect_new() {
    {
      std::lock_guard lk(mu);
      if (std::chrono::steady_clock::now() < retry_at)
        return Error::unavailable("redis " + url.display + ": reconnect backoff after: " + last_error);
    }
    auto fail = [&](const std::string& why) -> Error {
      std::lock_guard lk(mu);
      last_error = why;
      retry_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(backoff_ms);
      backoff_ms = std::clamp(backoff_ms * 2, 100, 5000);
      return Error::unavailable("redis " + url.display + ": " + why);
    };
    redisContext* ctx = redisConnectWithTimeout(url.host.c_str(), url.port, to_timeval(options.connect_timeout_ms));
    if (ctx == nullptr) return fail("out of memory");
    if (ctx->err) {
      std::string why = ctx->errstr;
      redisFree(ctx);
      return fail("cannot connect: " + why);
    }
    Conn c{ctx, options.command_timeout_ms, true};
    redisSetTimeout(ctx, to_timeval(c.timeout_ms));
    auto setup = [&](std::vector<std::string> argv) -> std::string {
      auto r = run(c, argv);
      if (!r) return r.error().message;
      if (r->is_error()) return r->str;
      return {};
    };
    std::string why;
    if (!url.password.empty()) {
      why = url.user.empty() ? setup({"AUTH", url.password}) : setup({"AUTH", url.user, url.password});
      if (!why.empty()) why = "AUTH failed: " + why.substr(0, why.find(" script"));
    }
    if (why.empty() && url.db != 0) {
      why = setup({"SELECT", std::to_string(url.db)});
      if (!why.empty()) why = "SELECT " + std::to_string(url.db) + " failed: " + why;
    }
    if (!why.empty()) {
      redisFree(ctx);
      return fail(why);
    }
    std::lock_guard lk(mu);
    backoff_ms = 50;
    return c;
  }

  Result<Conn> acquire() {
    {
      std::lock_guard lk(mu);
      if (!idle.empty()) {
        Conn c = idle.back();
        idle.pop_back();
        return c;
      }
    }
    return connect_new();
  }

  void release(Conn c) {
    if (c.ctx->err) {
      redisFree(c.ctx);
      return;
    }
    c.fresh = false;
    std::lock_guard lk(mu);
    if (static_cast<int>(idle.size()) >= options.max_idle) {
      redisFree(c.ctx);
      return;
    }
    idle.push_back(c);
  }

  void set_timeout(Conn& c, int64_t ms) {
    if (c.timeout_ms == ms) return;
    redisSetTimeout(c.ctx, to_timeval(ms));
    c.timeout_ms = ms;
  }

  static Error io_error(const Conn& c) {
    std::string why = c.ctx->errstr[0] ? c.ctx->errstr : "connection lost";
    return Error::unavailable("redis: " + why);
  }

  static std::vector<const char*> argv_ptrs(const std::vector<std::string>& argv, std::vector<size_t>& lens) {
    std::vector<const char*> ptrs;
    ptrs.reserve(argv.size());
    lens.clear();
    for (const auto& a : argv) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
    return ptrs;
  }

  Result<RedisReply> run(Conn& c, const std::vector<std::string>& argv) {
    std::vector<size_t> lens;
    auto ptrs = argv_ptrs(argv, lens);
    ReplyPtr r(static_cast<redisReply*>(
        redisCommandArgv(c.ctx, static_cast<int>(argv.size()), ptrs.data(), lens.data())));
    if (!r) return io_error(c);
    return convert(r.get());
  }

  Result<std::vector<RedisReply>> run_pipeline(Conn& c, const std::vector<std::vector<std::string>>& commands) {
    std::vector<size_t> lens;
    for (const auto& argv : commands) {
      auto ptrs = argv_ptrs(argv, lens);
      if (redisAppendCommandArgv(c.ctx, static_cast<int>(argv.size()), ptrs.data(), lens.data()) != REDIS_OK)
        return io_error(c);
    }
    std::vector<RedisReply> out;
    out.reserve(commands.size());
    for (std::size_t i = 0; i < commands.size(); ++i) {
      void* raw = nullptr;
      if (redisGetReply(c.ctx, &raw) != REDIS_OK) return io_error(c);
      ReplyPtr r(static_cast<redisReply*>(raw));
      out.push_back(convert(r.get()));
    }
    return out;
  }

  // Runs fn on a pooled connection; once more on a new connection if a reused one turns out dead.
  template <class Fn>
  auto with_conn(int64_t timeout_ms, Fn fn) -> decltype(fn(std::declval<Conn&>())) {
    for (int attempt = 0;; ++attempt) {
      auto c = acquire();
      if (!c) return std::move(c).take_error();
      set_timeout(*c, timeout_ms);
      auto r = fn(*c);
      const bool stale = !r.ok() && !c->fresh && c->ctx->err != 0;
      release(*c);
      if (stale && attempt == 0) continue;
      return r;
    }
  }
};

RedisClient::RedisClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RedisClient::~RedisClient() = default;

Result<std::unique_ptr<RedisClient>> RedisClient::open(const RedisOptions& options) {
  auto url = parse_url(options.url);
  if (!url) return std::move(url).take_error();
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->url = std::move(*url);
  auto c = impl->connect_new();
  if (!c) return std::move(c).take_error();
  impl->release(*c);
  return std::unique_ptr<RedisClient>(new RedisClient(std::move(impl)));
}

const std::string& RedisClient::display() const { return impl_->url.display; }

Result<RedisReply> RedisClient::command(const std::vector<std::string>& argv, int64_t block_ms) {
  const int64_t timeout = impl_->options.command_timeout_ms + std::max<int64_t>(block_ms, 0);
  return impl_->with_conn(timeout, [&](Impl::Conn& c) { return impl_->run(c, argv); });
}

Result<std::vector<RedisReply>> RedisClient::pipeline(const std::vector<std::vector<std::string>>& commands) {
  return impl_->with_conn(impl_->options.command_timeout_ms,
                          [&](Impl::Conn& c) { return impl_->run_pipeline(c, commands); });
}

Result<RedisReply> RedisClient::eval(RedisScript& script, const std::vector<std::string>& keys,
                                     const std::vector<std::string>& args) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::string sha;
    {
      std::lock_guard lk(script.mu_);
      sha = script.sha_;
    }
    if (sha.empty()) {
      auto loaded = command({"SCRIPT", "LOAD", script.source_});
      if (!loaded) return loaded;
      if (loaded->is_error()) return Error::internal("redis SCRIPT LOAD: " + loaded->str);
      sha = loaded->str;
      std::lock_guard lk(script.mu_);
      script.sha_ = sha;
    }
    std::vector<std::string> argv{"EVALSHA", sha, std::to_string(keys.size())};
    argv.insert(argv.end(), keys.begin(), keys.end());
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = command(argv);
    if (r.ok() && r->error_code() == "NOSCRIPT") {  // the server restarted and lost its script cache
      std::lock_guard lk(script.mu_);
      script.sha_.clear();
      continue;
    }
    return r;
  }
  return Error::internal("redis: script not found after loading it");
}

}  // namespace secplat::queue
