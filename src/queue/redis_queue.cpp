#include "queue/redis_queue.h"

#include <algorithm>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "core/log.h"
#include "queue/delivery.h"
#include "queue/redis_client.h"

namespace secplat::queue {
namespace {

constexpr int kMaxBatch = 1000;      // messages per read()/range() call, as the local queue
constexpr int64_t kBlockSliceMs = 250;  // longest single XREADGROUP BLOCK inside read()
constexpr int64_t kClaimEveryMs = 100;  // how often read() looks for due retries and dead consumers' work

// KEYS: stream, delayed zset, attempts hash, autoclaim cursor. ARGV: group, consumer, count,
// visibility ms. Returns {ms until the next scheduled retry or -1, {{id, attempts, {k, v...}}...}}.
RedisScript g_read(R"lua(
local stream, delayed, attempts_key, cursor_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local group, consumer, count, vis = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
-- the group must exist even when only retries are due
redis.call('XPENDING', stream, group)
local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, count)
for _, id in ipairs(due) do
  local n = tonumber(redis.call('HGET', attempts_key, id) or '0')
  redis.call('ZREM', delayed, id)
  redis.call('HDEL', attempts_key, id)
  local claimed = redis.call('XCLAIM', stream, group, consumer, 0, id, 'FORCE', 'RETRYCOUNT', n + 1)
  for _, e in ipairs(claimed) do
    if type(e) == 'table' then out[#out + 1] = {e[1], n + 1, e[2]} end
  end
end
if #out < count then
  local cursor = redis.call('GET', cursor_key) or '0-0'
  local r = redis.call('XAUTOCLAIM', stream, group, consumer, vis, cursor, 'COUNT', count - #out)
  redis.call('SET', cursor_key, r[1])
  for _, e in ipairs(r[2]) do
    if type(e) == 'table' then
      local p = redis.call('XPENDING', stream, group, e[1], e[1], 1)
      local n = 1
      if p[1] then n = p[1][4] end
      out[#out + 1] = {e[1], n, e[2]}
    end
  end
end
if #out < count then
  local r = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', count - #out, 'STREAMS', stream, '>')
  if r then
    for _, e in ipairs(r[1][2]) do out[#out + 1] = {e[1], 1, e[2]} end
  end
end
local wait = -1
local nxt = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
if nxt[2] then wait = math.max(0, tonumber(nxt[2]) - now) end
return {wait, out}
)lua");

// KEYS: stream, delayed zset, attempts hash, dlq stream. ARGV: group, id, max attempts (0 = dead
// letter now), backoff ms, dlq MAXLEN, dlq trim mode ('~' or '='), then the dead letter's fields.
// Returns 1 if dead-lettered, 0 if scheduled for retry; error NOTPENDING if not pending.
RedisScript g_fail(R"lua(
local stream, delayed, attempts_key, dlq = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local group, id, max, delay, dlq_max, mode = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], ARGV[6]
local p = redis.call('XPENDING', stream, group, id, id, 1)
if not p[1] then return redis.error_reply('NOTPENDING message ' .. id .. ' is not pending in group ' .. group) end
local n = tonumber(p[1][4])
if max == 0 or n >= max then
  local args = {'XADD', dlq, 'MAXLEN', mode, dlq_max, '*'}
  for i = 7, #ARGV do args[#args + 1] = ARGV[i] end
  args[#args + 1] = 'attempts'
  args[#args + 1] = tostring(n)
  redis.call(unpack(args))
  redis.call('XACK', stream, group, id)
  return 1
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('XACK', stream, group, id)
redis.call('ZADD', delayed, now + delay, id)
redis.call('HSET', attempts_key, id, n)
return 0
)lua");

// KEYS: stream, delayed zset, attempts hash. ARGV: group, ids...
RedisScript g_ack(R"lua(
local ids = {unpack(ARGV, 2)}
redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
redis.call('ZREM', KEYS[2], unpack(ids))
redis.call('HDEL', KEYS[3], unpack(ids))
return #ids
)lua");

// KEYS: stream, delayed zset. ARGV: group, consumer, id, attempts. 1 when the consumer still held
// that delivery and its idle time was reset (JUSTID: not counted as a delivery), else 0.
RedisScript g_touch(R"lua(
if redis.call('ZSCORE', KEYS[2], ARGV[3]) then return 0 end
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if not p[1] or p[1][2] ~= ARGV[2] or p[1][4] ~= tonumber(ARGV[4]) then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
)lua");

// KEYS: stream, dlq stream. ARGV: key prefix of the delayed sets.
// Returns {length, dlq length, {{group, pending, min id, max id, oldest idle or -1, scheduled,
// lag or -1}...}}.
RedisScript g_stats(R"lua(
local stream, dlq, prefix = KEYS[1], KEYS[2], ARGV[1]
local out = {redis.call('XLEN', stream), redis.call('XLEN', dlq), {}}
if redis.call('EXISTS', stream) == 0 then return out end
for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
  local name, lag = nil, -1
  for i = 1, #g, 2 do
    if g[i] == 'name' then name = g[i + 1] end
    if g[i] == 'lag' and type(g[i + 1]) == 'number' then lag = g[i + 1] end
  end
  local sum = redis.call('XPENDING', stream, name)
  local idle = -1
  if sum[1] > 0 then
    local first = redis.call('XPENDING', stream, name, '-', '+', 1)
    if first[1] then idle = first[1][3] end
  end
  local scheduled = redis.call('ZCARD', prefix .. stream .. ':' .. name)
  out[3][#out[3] + 1] = {name, sum[1], sum[2] or '', sum[3] or '', idle, scheduled, lag}
end
return out
)lua");

// KEYS: stream. ARGV: group, least idle ms, the calling consumer (never removed). Removes the
// group's consumers that hold nothing pending and have not read for that long (processes that
// exited: every start takes a fresh consumer name), and returns their names. A consumer that
// still holds entries keeps them until XAUTOCLAIM hands them on; it goes at a later pass. Redis
// re-creates a removed consumer on its next read, so removing a live one loses nothing.
RedisScript g_prune(R"lua(
local stream, group, least, self = KEYS[1], ARGV[1], tonumber(ARGV[2]), ARGV[3]
local removed = {}
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', stream, group)) do
  local name, pending, idle = nil, 1, 0
  for i = 1, #c, 2 do
    if c[i] == 'name' then name = c[i + 1]
    elseif c[i] == 'pending' then pending = c[i + 1]
    elseif c[i] == 'idle' then idle = c[i + 1] end
  end
  if name and name ~= self and pending == 0 and idle >= least then
    redis.call('XGROUP', 'DELCONSUMER', stream, group, name)
    removed[#removed + 1] = name
  end
end
return removed
)lua");

const std::string kDelayedPrefix = "secplat:queue:delayed:";

std::string delayed_key(const std::string& stream, const std::string& group) {
  return kDelayedPrefix + stream + ":" + group;
}
std::string attempts_key(const std::string& stream, const std::string& group) {
  return "secplat:queue:attempts:" + stream + ":" + group;
}
std::string cursor_key(const std::string& stream, const std::string& group) {
  return "secplat:queue:cursor:" + stream + ":" + group;
}

Fields to_fields(const RedisReply& flat) {
  Fields f;
  // publish() stores an empty message as the placeholder field "_" (entries need one field).
  if (flat.elements.size() == 2 && flat.elements[0].str == "_" && flat.elements[1].str.empty()) return f;
  for (std::size_t i = 0; i + 1 < flat.elements.size(); i += 2) f[flat.elements[i].str] = flat.elements[i + 1].str;
  return f;
}

// [[id, [k, v, ...]], ...] (XRANGE, XREADGROUP) → messages.
std::vector<Message> entries(const RedisReply& list, const std::string& stream, const std::string& consumer,
                             int attempts) {
  std::vector<Message> out;
  for (const auto& e : list.elements) {
    if (e.elements.size() < 2) continue;  // an entry trimmed while pending comes back as nil
    out.push_back(Message{stream, e.elements[0].str, to_fields(e.elements[1]), attempts, consumer});
  }
  return out;
}

class RedisQueue final : public Queue {
 public:
  RedisQueue(std::unique_ptr<RedisClient> client, RedisQueueOptions opts)
      : client_(std::move(client)),
        opts_(std::move(opts)),
        clock_(opts_.clock ? opts_.clock : &system_clock_),
        backoff_(opts_.retry),
        trim_(opts_.trim_exact ? "=" : "~") {}

  std::string backend() const override { return "redis"; }

  Result<std::string> server_version() override {
    auto r = client_->command({"INFO", "server"});
    if (!r) return std::move(r).take_error();
    if (r->is_error()) return Error::unavailable("redis INFO: " + r->str);
    auto at = r->str.find("redis_version:");
    if (at == std::string::npos) return std::string();
    at += 14;
    return r->str.substr(at, r->str.find_first_of("\r\n", at) - at);
  }

  Result<std::string> publish(const std::string& stream, const Fields& fields) override {
    SECPLAT_TRY(check_name("stream", stream));
    SECPLAT_TRY(check_fields(fields));
    auto r = client_->command(xadd(stream, fields));
    if (!r) return std::move(r).take_error();
    if (r->is_error()) return reply_error("XADD", *r);
    return r->str;
  }

  Result<std::vector<std::string>> publish_batch(const std::string& stream,
                                                 const std::vector<Fields>& batch) override {
    SECPLAT_TRY(check_name("stream", stream));
    if (batch.empty()) return std::vector<std::string>{};
    std::vector<std::vector<std::string>> cmds;
    cmds.reserve(batch.size() + 2);
    cmds.push_back({"MULTI"});
    for (const auto& f : batch) {
      SECPLAT_TRY(check_fields(f));
      cmds.push_back(xadd(stream, f));
    }
    cmds.push_back({"EXEC"});
    auto replies = client_->pipeline(cmds);
    if (!replies) return std::move(replies).take_error();
    const RedisReply& exec = replies->back();
    if (exec.is_error()) return reply_error("EXEC", exec);
    if (exec.elements.size() != batch.size()) return Error::internal("redis EXEC: transaction was not applied");
    std::vector<std::string> ids;
    ids.reserve(batch.size());
    for (const auto& r : exec.elements) {
      if (r.is_error()) return reply_error("XADD", r);
      ids.push_back(r.str);
    }
    return ids;
  }

  Status ensure_group(const std::string& stream, const std::string& group) override {
    SECPLAT_TRY(check_name("stream", stream));
    SECPLAT_TRY(check_name("group", group));
    auto r = client_->command({"XGROUP", "CREATE", key(stream), group, "0", "MKSTREAM"});
    if (!r) return std::move(r).take_error();
    if (r->is_error() && r->error_code() != "BUSYGROUP") return reply_error("XGROUP CREATE", *r);
    std::lock_guard lk(claim_mu_);
    ensured_.insert(key(stream) + '\n' + group);
    return ok_status();
  }

  Result<std::vector<Message>> read(const std::string& stream, const std::string& group, const std::string& consumer,
                                    int count, int64_t block_ms) override {
    SECPLAT_TRY(check_name("stream", stream));
    SECPLAT_TRY(check_name("group", group));
    SECPLAT_TRY(check_name("consumer", consumer));
    count = std::clamp(count, 1, kMaxBatch);
    const int64_t deadline = steady_ms() + std::max<int64_t>(block_ms, 0);
    const std::string n = std::to_string(count), k = key(stream);
    const std::string claim_key = k + '\n' + group;
    bool recreated = false;  // at most once per call
    for (;;) {
      const int64_t now = steady_ms();
      const int64_t remaining = deadline - now;
      // Scheduled retries and dead consumers' work: the script, at most every kClaimEveryMs per
      // stream and group in this process (sooner when a retry of ours falls due). In between,
      // new entries come straight from XREADGROUP, which keeps the server's cost per message low.
      int64_t next_claim = claim_at(claim_key);
      if (now >= next_claim) {
        auto r = client_->eval(g_read, {k, delayed_key(k, group), attempts_key(k, group), cursor_key(k, group)},
                               {group, consumer, n, std::to_string(opts_.visibility_timeout_ms)});
        if (!r) return std::move(r).take_error();
        if (r->is_error()) {
          if (!recreated && recreate_lost_group(stream, group, *r)) {
            recreated = true;
            set_claim_at(claim_key, 0);
            continue;
          }
          return group_error(stream, group, *r);
        }
        if (r->elements.size() != 2) return Error::internal("redis: unexpected reply to the read script");
        prune_consumers(stream, group, consumer, now);
        next_claim = now + kClaimEveryMs;
        if (r->elements[0].integer >= 0) next_claim = std::min<int64_t>(next_claim, now + r->elements[0].integer);
        set_claim_at(claim_key, next_claim);
        std::vector<Message> out;
        for (const auto& e : r->elements[1].elements) {
          if (e.elements.size() < 3) continue;
          out.push_back(Message{stream, e.elements[0].str, to_fields(e.elements[2]),
                                static_cast<int>(e.elements[1].integer), consumer});
        }
        if (!out.empty() || remaining <= 0) return out;
      }
      // Block for a slice: until the deadline, the next claim check, or 250 ms, whichever is first.
      const int64_t wait = std::min({remaining, kBlockSliceMs, std::max<int64_t>(next_claim - now, 1)});
      std::vector<std::string> argv{"XREADGROUP", "GROUP", group, consumer, "COUNT", n};
      if (wait > 0) {
        argv.push_back("BLOCK");
        argv.push_back(std::to_string(wait));
      }
      argv.insert(argv.end(), {"STREAMS", k, ">"});
      auto b = client_->command(argv, std::max<int64_t>(wait, 0));
      if (!b) return std::move(b).take_error();
      if (b->is_error()) {
        if (!recreated && recreate_lost_group(stream, group, *b)) {
          recreated = true;
          continue;
        }
        return group_error(stream, group, *b);
      }
      if (!b->elements.empty() && b->elements[0].elements.size() == 2) {
        auto got = entries(b->elements[0].elements[1], stream, consumer, 1);
        if (!got.empty()) return got;
      }
      if (remaining <= 0) return std::vector<Message>{};
    }
  }

  Status ack(const std::string& stream, const std::string& group, const std::string& id) override {
    return ack_batch(stream, group, {id});
  }

  Status ack_batch(const std::string& stream, const std::string& group, const std::vector<std::string>& ids) override {
    const std::string k = key(stream);
    // Chunks of kMaxBatch: Lua's unpack() has a stack limit of a few thousand values.
    for (std::size_t at = 0; at < ids.size(); at += kMaxBatch) {
      const std::size_t end = std::min(ids.size(), at + kMaxBatch);
      std::vector<std::string> args;
      args.reserve(end - at + 1);
      args.push_back(group);
      args.insert(args.end(), ids.begin() + static_cast<std::ptrdiff_t>(at), ids.begin() + static_cast<std::ptrdiff_t>(end));
      auto r = client_->eval(g_ack, {k, delayed_key(k, group), attempts_key(k, group)}, args);
      if (!r) return std::move(r).take_error();
      if (r->is_error()) return reply_error("XACK", *r);
    }
    return ok_status();
  }

  Result<bool> retry(const Message& msg, const std::string& group, const std::string& error) override {
    return fail(msg, group, error, /*retryable=*/true);
  }

  Status dead_letter(const Message& msg, const std::string& group, const std::string& error) override {
    auto r = fail(msg, group, error, /*retryable=*/false);
    if (!r) return std::move(r).take_error();
    return ok_status();
  }

  Result<StreamStats> stats(const std::string& stream) override {
    SECPLAT_TRY(check_name("stream", stream));
    const std::string k = key(stream);
    auto r = client_->eval(g_stats, {k, k + ".dlq"}, {kDelayedPrefix});
    if (!r) return std::move(r).take_error();
    if (r->is_error()) return reply_error("stats", *r);
    if (r->elements.size() != 3) return Error::internal("redis: unexpected reply to the stats script");
    StreamStats st;
    st.length = r->elements[0].integer;
    st.dlq_length = r->elements[1].integer;
    for (const auto& g : r->elements[2].elements) {
      if (g.elements.size() < 6) continue;
      PendingSummary p;
      p.pending = g.elements[1].integer + g.elements[5].integer;
      if (!g.elements[2].str.empty()) p.min_id = g.elements[2].str;
      if (!g.elements[3].str.empty()) p.max_id = g.elements[3].str;
      if (g.elements[4].integer >= 0) p.oldest_idle_ms = g.elements[4].integer;
      if (g.elements.size() >= 7 && g.elements[6].integer >= 0) p.lag = g.elements[6].integer;
      st.groups[g.elements[0].str] = std::move(p);
    }
    return st;
  }

  Result<std::vector<Message>> range(const std::string& stream, const std::string& after_id, int count) override {
    SECPLAT_TRY(check_name("stream", stream));
    count = std::clamp(count, 1, kMaxBatch);
    const std::string start = after_id.empty() || after_id == "0" ? "-" : "(" + after_id;
    auto r = client_->command({"XRANGE", key(stream), start, "+", "COUNT", std::to_string(count)});
    if (!r) return std::move(r).take_error();
    if (r->is_error()) {
      if (r->str.find("Invalid stream ID") != std::string::npos) return Error::bad_request("invalid message id");
      return reply_error("XRANGE", *r);
    }
    return entries(*r, stream, "", 0);
  }

  Result<bool> touch(const Message& msg, const std::string& group) override {
    SECPLAT_TRY(check_name("stream", msg.stream));
    const std::string k = key(msg.stream);
    auto r = client_->eval(g_touch, {k, delayed_key(k, group)},
                           {group, msg.consumer, msg.id, std::to_string(msg.attempts)});
    if (!r) return std::move(r).take_error();
    if (r->is_error()) return group_error(msg.stream, group, *r);
    return r->integer == 1;
  }

  Result<std::vector<Message>> tail(const std::string& stream, const std::string& after_id, int count,
                                    int64_t block_ms) override {
    SECPLAT_TRY(check_name("stream", stream));
    count = std::clamp(count, 1, kMaxBatch);
    const std::string k = key(stream);
    const std::string after = after_id.empty() ? "0-0" : after_id;
    const int64_t deadline = steady_ms() + std::max<int64_t>(block_ms, 0);
    for (;;) {
      // XREAD BLOCK in slices, so a pooled connection is never held for long.
      const int64_t remaining = deadline - steady_ms();
      const int64_t wait = std::clamp<int64_t>(remaining, 0, kBlockSliceMs);
      std::vector<std::string> argv{"XREAD", "COUNT", std::to_string(count)};
      if (wait > 0) argv.insert(argv.end(), {"BLOCK", std::to_string(wait)});
      argv.insert(argv.end(), {"STREAMS", k, after});
      auto r = client_->command(argv, wait);
      if (!r) return std::move(r).take_error();
      if (r->is_error()) {
        if (r->str.find("Invalid stream ID") != std::string::npos) return Error::bad_request("invalid message id");
        return reply_error("XREAD", *r);
      }
      if (!r->elements.empty() && r->elements[0].elements.size() == 2) {
        auto got = entries(r->elements[0].elements[1], stream, "", 0);
        if (!got.empty()) return got;
      }
      if (remaining <= kBlockSliceMs) return std::vector<Message>{};
    }
  }

  Result<std::string> last_id(const std::string& stream) override {
    SECPLAT_TRY(check_name("stream", stream));
    auto r = client_->command({"XREVRANGE", key(stream), "+", "-", "COUNT", "1"});
    if (!r) return std::move(r).take_error();
    if (r->is_error()) return reply_error("XREVRANGE", *r);
    if (r->elements.empty() || r->elements[0].elements.empty()) return std::string("0-0");
    return r->elements[0].elements[0].str;
  }

  Status ping() override {
    auto r = client_->command({"PING"});
    if (!r) return std::move(r).take_error();
    if (r->is_error()) return Error::unavailable("redis PING: " + r->str);
    return ok_status();
  }

 private:
  std::string key(const std::string& stream) const { return opts_.key_prefix + stream; }

  // A group this process created (ensure_group) that the server no longer has: Redis restarted
  // without persistence, or someone deleted the stream. Consumers re-create it and carry on
  // instead of failing every read until the process restarts.
  bool recreate_lost_group(const std::string& stream, const std::string& group, const RedisReply& r) {
    if (r.str.find("NOGROUP") == std::string::npos) return false;
    {
      std::lock_guard lk(claim_mu_);
      if (!ensured_.count(key(stream) + '\n' + group)) return false;
    }
    log::warn("consumer group lost by the queue server; re-creating it",
              {log::str("stream", stream), log::str("group", group)});
    return ensure_group(stream, group).ok();
  }

  // At most once a minute (or once per consumer_prune_idle_ms, if shorter) per stream and group
  // in this process, alongside the claim script. Failure only costs a log line: pruning is
  // housekeeping, the read goes on.
  void prune_consumers(const std::string& stream, const std::string& group, const std::string& self, int64_t now) {
    if (opts_.consumer_prune_idle_ms <= 0) return;
    const std::string k = key(stream);
    {
      std::lock_guard lk(claim_mu_);
      auto [it, inserted] = prune_at_.emplace(k + '\n' + group, 0);
      if (now < it->second) return;
      it->second = now + std::min<int64_t>(60000, opts_.consumer_prune_idle_ms);
    }
    auto r = client_->eval(g_prune, {k}, {group, std::to_string(opts_.consumer_prune_idle_ms), self});
    if (!r || r->is_error()) {
      log::warn("could not prune idle stream consumers",
                {log::str("stream", stream), log::str("group", group),
                 log::str("error", !r ? r.error().message : r->str)});
      return;
    }
    if (!r->elements.empty()) {
      std::string names;
      for (const auto& e : r->elements) names += (names.empty() ? "" : ",") + e.str;
      log::info("removed idle stream consumers",
                {log::str("stream", stream), log::str("group", group), log::str("consumers", names)});
    }
  }

  int64_t claim_at(const std::string& stream_group) {
    std::lock_guard lk(claim_mu_);
    auto it = claim_at_.find(stream_group);
    return it == claim_at_.end() ? 0 : it->second;
  }
  void set_claim_at(const std::string& stream_group, int64_t at) {
    std::lock_guard lk(claim_mu_);
    claim_at_[stream_group] = at;
  }
  // A retry scheduled here is looked for when it falls due, not only at the next periodic check.
  void claim_by(const std::string& stream_group, int64_t at) {
    std::lock_guard lk(claim_mu_);
    auto [it, inserted] = claim_at_.emplace(stream_group, at);
    if (!inserted) it->second = std::min(it->second, at);
  }

  std::vector<std::string> xadd(const std::string& stream, const Fields& fields) const {
    std::vector<std::string> argv{"XADD", key(stream), "MAXLEN", trim_,
                                  std::to_string(is_dlq_stream(stream) ? opts_.dlq_max_len : opts_.max_len), "*"};
    argv.reserve(argv.size() + fields.size() * 2);
    for (const auto& [k, v] : fields) {
      argv.push_back(k);
      argv.push_back(v);
    }
    if (fields.empty()) {  // Redis entries need at least one field
      argv.push_back("_");
      argv.push_back("");
    }
    return argv;
  }

  Result<bool> fail(const Message& msg, const std::string& group, const std::string& error, bool retryable) {
    SECPLAT_TRY(check_name("stream", msg.stream));
    SECPLAT_TRY(check_name("group", group));
    Fields dead = dead_letter_fields(msg, error, retryable, 0, clock_->now_ms());
    dead.erase("attempts");  // the script adds the server's delivery count
    SECPLAT_TRY(check_fields(dead));
    const int64_t delay = backoff_.delay_ms(std::max(msg.attempts, 1));
    std::vector<std::string> args{group,
                                  msg.id,
                                  std::to_string(retryable ? opts_.retry.max_attempts : 0),
                                  std::to_string(delay),
                                  std::to_string(opts_.dlq_max_len),
                                  trim_};
    for (const auto& [k, v] : dead) {
      args.push_back(k);
      args.push_back(v);
    }
    const std::string k = key(msg.stream);
    auto r = client_->eval(g_fail, {k, delayed_key(k, group), attempts_key(k, group), k + ".dlq"}, args);
    if (!r) return std::move(r).take_error();
    if (r->is_error()) {
      if (r->error_code() == "NOTPENDING") return Error::not_found("message is not pending in this group");
      return group_error(msg.stream, group, *r);
    }
    if (r->integer == 0) claim_by(k + '\n' + group, steady_ms() + delay);
    return r->integer == 1;
  }

  static Error group_error(const std::string& stream, const std::string& group, const RedisReply& r) {
    if (r.error_code() == "NOGROUP" || r.str.find("NOGROUP") != std::string::npos)
      return Error::not_found("no consumer group '" + group + "' on stream '" + stream + "'");
    return reply_error("stream " + stream, r);
  }

  static Error reply_error(const std::string& what, const RedisReply& r) {
    if (r.str.find("Invalid stream ID") != std::string::npos) return Error::bad_request("invalid message id");
    // Out of memory, read-only replica, loading: the server cannot take writes now; retry later.
    const std::string code = r.error_code();
    if (code == "OOM" || code == "READONLY" || code == "LOADING" || code == "BUSY" || code == "MASTERDOWN")
      return Error::unavailable("redis " + what + ": " + r.str);
    return Error::internal("redis " + what + ": " + r.str);
  }

  std::unique_ptr<RedisClient> client_;
  const RedisQueueOptions opts_;
  SystemClock system_clock_;
  const Clock* clock_;
  Backoff backoff_;
  const std::string trim_;
  std::mutex claim_mu_;
  std::unordered_map<std::string, int64_t> claim_at_;  // "<key>\n<group>" → steady ms of the next claim check
  std::unordered_set<std::string> ensured_;            // "<key>\n<group>" created through this object
  std::unordered_map<std::string, int64_t> prune_at_;  // "<key>\n<group>" → steady ms of the next consumer prune
};

}  // namespace

Result<std::unique_ptr<Queue>> open_redis_queue(const RedisQueueOptions& options) {
  if (options.retry.backoff_base_ms < 0 || options.retry.backoff_max_ms < options.retry.backoff_base_ms)
    return Error::bad_request("queue backoff must satisfy 0 <= base <= max");
  if (options.retry.max_attempts < 1) return Error::bad_request("queue max_attempts must be at least 1");
  if (options.max_len < 1 || options.dlq_max_len < 1) return Error::bad_request("queue max_len must be at least 1");
  RedisOptions ro;
  ro.url = options.url;
  ro.max_idle = options.max_idle_connections;
  auto client = RedisClient::open(ro);
  if (!client) return std::move(client).take_error();
  log::info("queue on redis", {log::str("server", (*client)->display())});
  return std::unique_ptr<Queue>(new RedisQueue(std::move(*client), options));
}

}  // namespace secplat::queue
