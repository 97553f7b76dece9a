#include "queue/local_queue.h"

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <string_view>

#include "core/json.h"
#include "queue/delivery.h"

namespace secplat::queue {
namespace {

// Entry ids "<ms>-<n>" packed as ms << 20 | n (see local_queue.h).
constexpr int kSeqBits = 20;
constexpr int64_t kSeqMask = (int64_t{1} << kSeqBits) - 1;
constexpr int64_t kMaxMs = (int64_t{1} << (63 - kSeqBits)) - 1;
constexpr int64_t kPollMs = 50;
constexpr int kMaxBatch = 1000;  // messages per read()/range() call; bounds statement size

int64_t pack(int64_t ms, int64_t n) { return (ms << kSeqBits) | n; }

std::string format_id(int64_t seq) {
  return std::to_string(seq >> kSeqBits) + "-" + std::to_string(seq & kSeqMask);
}

struct ParsedId {
  uint64_t ms = 0;
  uint64_t n = 0;
};

bool parse_u64(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Accepts "", "0", "<ms>" and "<ms>-<n>".
std::optional<ParsedId> parse_id(std::string_view s) {
  ParsedId id;
  if (s.empty()) return id;
  auto dash = s.find('-');
  if (!parse_u64(s.substr(0, dash), id.ms)) return std::nullopt;
  if (dash != std::string_view::npos && !parse_u64(s.substr(dash + 1), id.n)) return std::nullopt;
  return id;
}

// Entries with seq > after_key(id) are exactly those whose id is greater than `id`.
int64_t after_key(const ParsedId& id) {
  if (id.ms > static_cast<uint64_t>(kMaxMs)) return std::numeric_limits<int64_t>::max();
  return pack(static_cast<int64_t>(id.ms), static_cast<int64_t>(std::min<uint64_t>(id.n, kSeqMask)));
}

// The seq of an entry with exactly this id, or nullopt if no entry can have it.
std::optional<int64_t> exact_key(const ParsedId& id) {
  if (id.ms > static_cast<uint64_t>(kMaxMs) || id.n > static_cast<uint64_t>(kSeqMask)) return std::nullopt;
  return pack(static_cast<int64_t>(id.ms), static_cast<int64_t>(id.n));
}

Result<std::string> encode_fields(const Fields& fields) {
  SECPLAT_TRY(check_fields(fields));
  Json j = Json::object();
  for (const auto& [k, v] : fields) j[k] = v;
  return j.dump();
}

Result<Fields> decode_fields(const std::string& text) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Error::internal("queue entry has malformed fields");
  Fields out;
  for (const auto& [k, v] : j.items()) {
    if (v.is_string()) out.emplace(k, v.get<std::string>());
  }
  return out;
}

// "$n" for batched statements with a variable number of parameters.
std::string placeholder(std::size_t n) { return "$" + std::to_string(n); }

class LocalQueue final : public Queue {
 public:
  LocalQueue(store::Db& db, LocalQueueOptions opts)
      : db_(db), opts_(opts), clock_(opts.clock ? opts.clock : &system_clock_), backoff_(opts.retry) {}

  Result<std::string> publish(const std::string& stream, const Fields& fields) override {
    SECPLAT_TRY(check_name("stream", stream));
    auto encoded = encode_fields(fields);
    if (!encoded) return std::move(encoded).take_error();
    const int64_t now = clock_->now_ms();
    std::string id;
    SECPLAT_TRY(db_.transact([&](store::Tx& tx) -> Status {
      auto r = append(tx, stream, *encoded, now);
      if (!r) return std::move(r).take_error();
      id = std::move(*r);
      return ok_status();
    }));
    notify_published();
    return id;
  }

  Result<std::vector<std::string>> publish_batch(const std::string& stream,
                                                 const std::vector<Fields>& batch) override {
    SECPLAT_TRY(check_name("stream", stream));
    std::vector<std::string> encoded;
    encoded.reserve(batch.size());
    for (const auto& fields : batch) {
      auto e = encode_fields(fields);
      if (!e) return std::move(e).take_error();
      encoded.push_back(std::move(*e));
    }
    const int64_t now = clock_->now_ms();
    std::vector<std::string> ids;
    SECPLAT_TRY(db_.transact([&](store::Tx& tx) -> Status {
      ids.clear();
      for (const auto& e : encoded) {
        auto r = append(tx, stream, e, now);
        if (!r) return std::move(r).take_error();
        ids.push_back(std::move(*r));
      }
      return ok_status();
    }));
    if (!ids.empty()) notify_published();
    return ids;
  }

  Status ensure_group(const std::string& stream, const std::string& group) override {
    SECPLAT_TRY(check_name("stream", stream));
    SECPLAT_TRY(check_name("group", group));
    auto r = db_.exec(
        "INSERT INTO queue_groups (stream, group_name, last_delivered_seq, created_ms) VALUES ($1, $2, 0, $3) "
        "ON CONFLICT (stream, group_name) DO NOTHING",
        {stream, group, clock_->now_ms()});
    if (!r) return std::move(r).take_error();
    return ok_status();
  }

  Result<std::vector<Message>> read(const std::string& stream, const std::string& group,
                                    const std::string& consumer, int count, int64_t block_ms) override {
    if (count < 1) return Error::bad_request("count must be at least 1");
    count = std::min(count, kMaxBatch);
    const int64_t deadline = steady_ms() + std::max<int64_t>(block_ms, 0);
    uint64_t seen = published_generation();
    auto got = deliver(stream, group, consumer, count);
    if (!got || !got->empty()) return got;
    for (;;) {
      const int64_t left = deadline - steady_ms();
      if (left <= 0) return std::vector<Message>{};
      {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, std::chrono::milliseconds(std::min(left, kPollMs)),
                     [&] { return published_ != seen; });
        seen = published_;
      }
      // A cheap read first, so idle consumers do not queue up on the store's writer lock.
      auto ready = available(stream, group);
      if (!ready) return std::move(ready).take_error();
      if (!*ready) continue;
      got = deliver(stream, group, consumer, count);
      if (!got || !got->empty()) return got;
    }
  }

  Status ack(const std::string& stream, const std::string& group, const std::string& id) override {
    auto parsed = parse_id(id);
    if (!parsed) return Error::bad_request("invalid message id");
    auto key = exact_key(*parsed);
    if (!key) return ok_status();  // no entry can have this id: nothing pending
    auto r = db_.exec("DELETE FROM queue_pending WHERE stream = $1 AND seq = $2 AND group_name = $3",
                      {stream, *key, group});
    if (!r) return std::move(r).take_error();
    return ok_status();
  }

  Result<bool> retry(const Message& msg, const std::string& group, const std::string& error) override {
    auto key = pending_key(msg);
    if (!key) return std::move(key).take_error();
    const int64_t now = clock_->now_ms();
    bool dead = false;
    SECPLAT_TRY(db_.transact([&](store::Tx& tx) -> Status {
      auto rows = tx.query(
          "UPDATE queue_pending SET last_error = $4 WHERE stream = $1 AND seq = $2 AND group_name = $3 "
          "RETURNING attempts",
          {msg.stream, *key, group, error});
      if (!rows) return std::move(rows).take_error();
      if (rows->empty()) return Error::not_found("message is not pending in this group");
      const int attempts = std::max<int>(static_cast<int>(rows->front().i64("attempts")), msg.attempts);
      if (attempts >= opts_.retry.max_attempts) {
        dead = true;
        SECPLAT_TRY(tx.exec("DELETE FROM queue_pending WHERE stream = $1 AND seq = $2 AND group_name = $3",
                            {msg.stream, *key, group}));
        return append_dead_letter(tx, msg, error, /*retryable=*/true, attempts, now);
      }
      auto r = tx.exec(
          // Nobody holds it while it waits out the delay (so a late touch() cannot extend the delay).
          "UPDATE queue_pending SET visible_at_ms = $4, consumer = '' "
          "WHERE stream = $1 AND seq = $2 AND group_name = $3",
          {msg.stream, *key, group, now + backoff_.delay_ms(attempts)});
      if (!r) return std::move(r).take_error();
      return ok_status();
    }));
    if (dead) notify_published();
    return dead;
  }

  Status dead_letter(const Message& msg, const std::string& group, const std::string& error) override {
    auto key = pending_key(msg);
    if (!key) return std::move(key).take_error();
    const int64_t now = clock_->now_ms();
    SECPLAT_TRY(db_.transact([&](store::Tx& tx) -> Status {
      auto rows = tx.query(
          "DELETE FROM queue_pending WHERE stream = $1 AND seq = $2 AND group_name = $3 RETURNING attempts",
          {msg.stream, *key, group});
      if (!rows) return std::move(rows).take_error();
      if (rows->empty()) return Error::not_found("message is not pending in this group");
      const int attempts = std::max<int>(static_cast<int>(rows->front().i64("attempts")), msg.attempts);
      return append_dead_letter(tx, msg, error, /*retryable=*/false, attempts, now);
    }));
    notify_published();
    return ok_status();
  }

  Result<StreamStats> stats(const std::string& stream) override {
    StreamStats out;
    const std::string dlq = stream + ".dlq";
    auto lengths = db_.query("SELECT stream, length FROM queue_streams WHERE stream IN ($1, $2)", {stream, dlq});
    if (!lengths) return std::move(lengths).take_error();
    for (const auto& row : *lengths) {
      (row.str("stream") == stream ? out.length : out.dlq_length) = row.i64("length");
    }
    auto groups = db_.query(
        "SELECT g.group_name AS group_name, COUNT(p.seq) AS pending, MIN(p.seq) AS min_seq, "
        "MAX(p.seq) AS max_seq, MIN(p.delivered_ms) AS oldest_ms "
        "FROM queue_groups g LEFT JOIN queue_pending p ON p.stream = g.stream AND p.group_name = g.group_name "
        "WHERE g.stream = $1 GROUP BY g.group_name",
        {stream});
    if (!groups) return std::move(groups).take_error();
    const int64_t now = clock_->now_ms();
    for (const auto& row : *groups) {
      PendingSummary s;
      s.pending = row.i64("pending");
      if (s.pending > 0) {
        s.min_id = format_id(row.i64("min_seq"));
        s.max_id = format_id(row.i64("max_seq"));
        s.oldest_idle_ms = std::max<int64_t>(0, now - row.i64("oldest_ms"));
      }
      out.groups.emplace(row.str("group_name"), std::move(s));
    }
    // Lag: entries past the group's last delivered id (what its next read would hand out new).
    auto lag = db_.query(
        "SELECT g.group_name AS group_name, (SELECT COUNT(*) FROM queue_entries e WHERE e.stream = g.stream "
        "AND e.seq > g.last_delivered_seq) AS lag FROM queue_groups g WHERE g.stream = $1",
        {stream});
    if (!lag) return std::move(lag).take_error();
    for (const auto& row : *lag) {
      auto it = out.groups.find(row.str("group_name"));
      if (it != out.groups.end()) it->second.lag = row.i64("lag");
    }
    return out;
  }

  Result<std::vector<Message>> range(const std::string& stream, const std::string& after_id, int count) override {
    if (count < 1) return Error::bad_request("count must be at least 1");
    auto parsed = parse_id(after_id);
    if (!parsed) return Error::bad_request("invalid message id");
    auto rows = db_.query(
        "SELECT seq, fields FROM queue_entries WHERE stream = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        {stream, after_key(*parsed), int64_t{std::min(count, kMaxBatch)}});
    if (!rows) return std::move(rows).take_error();
    std::vector<Message> out;
    out.reserve(rows->size());
    for (const auto& row : *rows) {
      auto fields = decode_fields(row.str("fields"));
      if (!fields) return std::move(fields).take_error();
      out.push_back(Message{stream, format_id(row.i64("seq")), std::move(*fields), 0, {}});
    }
    return out;
  }

  Result<bool> touch(const Message& msg, const std::string& group) override {
    auto key = pending_key(msg);
    if (!key) return std::move(key).take_error();
    const int64_t now = clock_->now_ms();
    // Only while this consumer still holds this delivery of it.
    auto n = db_.exec(
        "UPDATE queue_pending SET visible_at_ms = $5 WHERE stream = $1 AND seq = $2 AND group_name = $3 "
        "AND consumer = $4 AND consumer <> '' AND attempts = $6",
        {msg.stream, *key, group, msg.consumer, now + opts_.visibility_timeout_ms, int64_t{msg.attempts}});
    if (!n) return std::move(n).take_error();
    return *n == 1;
  }

  Result<std::vector<Message>> tail(const std::string& stream, const std::string& after_id, int count,
                                    int64_t block_ms) override {
    const int64_t deadline = steady_ms() + std::max<int64_t>(block_ms, 0);
    uint64_t seen = published_generation();
    for (;;) {
      auto got = range(stream, after_id, count);
      if (!got || !got->empty()) return got;
      const int64_t left = deadline - steady_ms();
      if (left <= 0) return std::vector<Message>{};
      // Appends by this object wake us at once; other processes' appends within kPollMs.
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(std::min(left, kPollMs)), [&] { return published_ != seen; });
      seen = published_;
    }
  }

  Result<std::string> last_id(const std::string& stream) override {
    SECPLAT_TRY(check_name("stream", stream));
    auto rows = db_.query("SELECT last_seq FROM queue_streams WHERE stream = $1", {stream});
    if (!rows) return std::move(rows).take_error();
    if (rows->empty()) return std::string("0-0");
    return format_id(rows->front().i64("last_seq"));
  }

  Status ping() override {
    auto r = db_.query("SELECT 1 AS one FROM queue_streams LIMIT 1");
    if (!r) return std::move(r).take_error();
    return ok_status();
  }

 private:
  int64_t cap_for(const std::string& stream) const { return is_dlq_stream(stream) ? opts_.dlq_max_len : opts_.max_len; }

  // Appends one entry and trims the stream back to its cap. Runs inside the caller's transaction.
  Result<std::string> append(store::Tx& tx, const std::string& stream, const std::string& fields_json, int64_t now) {
    const int64_t base = pack(std::clamp<int64_t>(now, 0, kMaxMs), 0);
    // The first statement writes, so the transaction holds the write lock before it reads anything.
    auto head = tx.query(
        "INSERT INTO queue_streams (stream, last_seq, length) VALUES ($1, $2, 1) "
        "ON CONFLICT (stream) DO UPDATE SET "
        "last_seq = CASE WHEN excluded.last_seq > queue_streams.last_seq THEN excluded.last_seq "
        "ELSE queue_streams.last_seq + 1 END, "
        "length = queue_streams.length + 1 "
        "RETURNING last_seq, length",
        {stream, base});
    if (!head) return std::move(head).take_error();
    if (head->empty()) return Error::internal("queue stream upsert returned no row");
    const int64_t seq = head->front().i64("last_seq");
    const int64_t length = head->front().i64("length");
    std::string id = format_id(seq);
    SECPLAT_TRY(tx.exec("INSERT INTO queue_entries (stream, seq, id, fields, created_ms) VALUES ($1, $2, $3, $4, $5)",
                        {stream, seq, id, fields_json, now}));
    const int64_t cap = cap_for(stream);
    if (length > cap) SECPLAT_TRY(trim(tx, stream, length - cap));
    return id;
  }

  // Deletes the `excess` oldest entries that every group has delivered and none has pending.
  Status trim(store::Tx& tx, const std::string& stream, int64_t excess) {
    auto groups = tx.query(
        "SELECT COUNT(*) AS n, MIN(last_delivered_seq) AS delivered FROM queue_groups WHERE stream = $1", {stream});
    if (!groups) return std::move(groups).take_error();
    const int64_t limit = groups->front().i64("n") == 0 ? std::numeric_limits<int64_t>::max()
                                                         : groups->front().i64("delivered");
    auto deleted = tx.exec(
        "DELETE FROM queue_entries WHERE stream = $1 AND seq IN ("
        "SELECT e.seq FROM queue_entries e WHERE e.stream = $1 AND e.seq <= $2 AND NOT EXISTS ("
        "SELECT 1 FROM queue_pending p WHERE p.stream = e.stream AND p.seq = e.seq) "
        "ORDER BY e.seq LIMIT $3)",
        {stream, limit, excess});
    if (!deleted) return std::move(deleted).take_error();
    if (*deleted < excess) {
      return Error{Errc::unavailable,
                   "stream " + stream + " is full: its oldest entries are not yet delivered or acked", {}, 1};
    }
    SECPLAT_TRY(tx.exec("UPDATE queue_streams SET length = length - $2 WHERE stream = $1", {stream, *deleted}));
    return ok_status();
  }

  Status append_dead_letter(store::Tx& tx, const Message& msg, const std::string& error, bool retryable,
                            int attempts, int64_t now) {
    auto encoded = encode_fields(dead_letter_fields(msg, error, retryable, attempts, now));
    if (!encoded) return std::move(encoded).take_error();
    auto r = append(tx, msg.stream + ".dlq", *encoded, now);
    if (!r) return std::move(r).take_error();
    return ok_status();
  }

  // Reclaims due pending entries, then delivers new ones; one transaction.
  Result<std::vector<Message>> deliver(const std::string& stream, const std::string& group,
                                       const std::string& consumer, int count) {
    const int64_t now = clock_->now_ms();
    const int64_t visible_at = now + opts_.visibility_timeout_ms;
    std::vector<Message> out;
    SECPLAT_TRY(db_.transact([&](store::Tx& tx) -> Status {
      out.clear();
      // A no-op write on the group row first: it tells whether the group exists and serialises the
      // group's consumers before anything is read (a row lock on PostgreSQL under READ COMMITTED;
      // on SQLite the transaction already holds the write lock).
      auto g = tx.query(
          "UPDATE queue_groups SET last_delivered_seq = last_delivered_seq WHERE stream = $1 AND group_name = $2 "
          "RETURNING last_delivered_seq",
          {stream, group});
      if (!g) return std::move(g).take_error();
      if (g->empty()) return Error::not_found("no such group");
      const int64_t last = g->front().i64("last_delivered_seq");

      auto due = tx.query(
          "SELECT p.seq AS seq, p.attempts AS attempts, e.fields AS fields FROM queue_pending p "
          "JOIN queue_entries e ON e.stream = p.stream AND e.seq = p.seq "
          "WHERE p.stream = $1 AND p.group_name = $2 AND p.visible_at_ms <= $3 "
          "ORDER BY p.visible_at_ms LIMIT $4",
          {stream, group, now, int64_t{count}});
      if (!due) return std::move(due).take_error();
      if (!due->empty()) {
        store::Params params{stream, group, consumer, now, visible_at};
        std::string sql =
            "UPDATE queue_pending SET consumer = $3, delivered_ms = $4, visible_at_ms = $5, attempts = attempts + 1 "
            "WHERE stream = $1 AND group_name = $2 AND seq IN (";
        for (const auto& row : *due) {
          auto fields = decode_fields(row.str("fields"));
          if (!fields) return std::move(fields).take_error();
          const int64_t seq = row.i64("seq");
          if (params.size() > 5) sql += ", ";
          params.emplace_back(seq);
          sql += placeholder(params.size());
          out.push_back(Message{stream, format_id(seq), std::move(*fields),
                                static_cast<int>(row.i64("attempts")) + 1, consumer});
        }
        sql += ")";
        SECPLAT_TRY(tx.exec(sql, params));
      }

      const int64_t want = count - static_cast<int64_t>(out.size());
      if (want <= 0) return ok_status();
      auto fresh = tx.query("SELECT seq, fields FROM queue_entries WHERE stream = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                            {stream, last, want});
      if (!fresh) return std::move(fresh).take_error();
      if (fresh->empty()) return ok_status();
      store::Params params{stream, group, consumer, now, visible_at};
      std::string sql =
          "INSERT INTO queue_pending (stream, seq, group_name, consumer, delivered_ms, visible_at_ms, attempts) VALUES ";
      int64_t max_seq = last;
      for (const auto& row : *fresh) {
        auto fields = decode_fields(row.str("fields"));
        if (!fields) return std::move(fields).take_error();
        const int64_t seq = row.i64("seq");
        max_seq = std::max(max_seq, seq);
        if (params.size() > 5) sql += ", ";
        params.emplace_back(seq);
        sql += "($1, " + placeholder(params.size()) + ", $2, $3, $4, $5, 1)";
        out.push_back(Message{stream, format_id(seq), std::move(*fields), 1, consumer});
      }
      SECPLAT_TRY(tx.exec(sql, params));
      SECPLAT_TRY(tx.exec("UPDATE queue_groups SET last_delivered_seq = $3 WHERE stream = $1 AND group_name = $2",
                          {stream, group, max_seq}));
      return ok_status();
    }));
    return out;
  }

  // Whether deliver() would find something, from a read connection. not_found if no group.
  Result<bool> available(const std::string& stream, const std::string& group) {
    auto rows = db_.query(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM queue_pending p WHERE p.stream = $1 AND p.group_name = $2 "
        "AND p.visible_at_ms <= $3) OR EXISTS (SELECT 1 FROM queue_entries e WHERE e.stream = $1 "
        "AND e.seq > g.last_delivered_seq) THEN 1 ELSE 0 END AS ready "
        "FROM queue_groups g WHERE g.stream = $1 AND g.group_name = $2",
        {stream, group, clock_->now_ms()});
    if (!rows) return std::move(rows).take_error();
    if (rows->empty()) return Error::not_found("no such group");
    return rows->front().i64("ready") != 0;
  }

  Result<int64_t> pending_key(const Message& msg) const {
    auto parsed = parse_id(msg.id);
    if (!parsed) return Error::bad_request("invalid message id");
    auto key = exact_key(*parsed);
    if (!key) return Error::not_found("message is not pending in this group");
    return *key;
  }

  uint64_t published_generation() {
    std::lock_guard lock(mu_);
    return published_;
  }

  void notify_published() {
    {
      std::lock_guard lock(mu_);
      ++published_;
    }
    cv_.notify_all();
  }

  store::Db& db_;
  const LocalQueueOptions opts_;
  SystemClock system_clock_;
  const Clock* clock_;

  std::mutex mu_;  // guards published_
  std::condition_variable cv_;
  uint64_t published_ = 0;  // bumped after every committed append by this object

  Backoff backoff_;
};

constexpr const char* kSchema = R"sql(
CREATE TABLE queue_streams (
  stream TEXT PRIMARY KEY,
  last_seq BIGINT NOT NULL,
  length BIGINT NOT NULL
);
CREATE TABLE queue_entries (
  stream TEXT NOT NULL,
  seq BIGINT NOT NULL,
  id TEXT NOT NULL,
  fields TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  PRIMARY KEY (stream, seq)
);
CREATE TABLE queue_groups (
  stream TEXT NOT NULL,
  group_name TEXT NOT NULL,
  last_delivered_seq BIGINT NOT NULL,
  created_ms BIGINT NOT NULL,
  PRIMARY KEY (stream, group_name)
);
CREATE TABLE queue_pending (
  stream TEXT NOT NULL,
  seq BIGINT NOT NULL,
  group_name TEXT NOT NULL,
  consumer TEXT NOT NULL,
  delivered_ms BIGINT NOT NULL,
  visible_at_ms BIGINT NOT NULL,
  attempts INTEGER NOT NULL,
  last_error TEXT,
  PRIMARY KEY (stream, seq, group_name)
);
CREATE INDEX queue_pending_due ON queue_pending (stream, group_name, visible_at_ms)
)sql";

}  // namespace

std::vector<store::Migration> local_queue_migrations() {
  return {store::Migration{200, "queue_tables", kSchema, kSchema}};
}

Result<std::unique_ptr<Queue>> open_local_queue(store::Db& db, LocalQueueOptions opts) {
  if (opts.visibility_timeout_ms <= 0) return Error::bad_request("queue visibility timeout must be positive");
  if (opts.max_len < 1 || opts.dlq_max_len < 1) return Error::bad_request("queue max lengths must be at least 1");
  if (opts.retry.max_attempts < 1) return Error::bad_request("queue max_attempts must be at least 1");
  if (opts.retry.backoff_base_ms < 0 || opts.retry.backoff_max_ms < opts.retry.backoff_base_ms) {
    return Error::bad_request("queue backoff must satisfy 0 <= base <= max");
  }
  auto q = std::make_unique<LocalQueue>(db, opts);
  if (auto s = q->ping(); !s) {
    return Error::unavailable("queue tables are missing or unreadable (apply local_queue_migrations()): " +
                              s.error().message);
  }
  return std::unique_ptr<Queue>(std::move(q));
}

}  // namespace secplat::queue
