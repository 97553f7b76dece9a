// Transparency log costs on a real SQLite store: appending N entries (one transaction each), then
// an inclusion proof, a consistency proof and a checkpoint in the N-entry log. The anchor is the
// same number of single-row INSERT transactions into a plain table in the same database: the
// floor any durable, one-transaction-per-entry log pays.
// usage: transparency_bench [entries=10000]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "crypto/merkle.h"
#include "store/sqlite_db.h"
#include "trust/transparency_log.h"

using namespace secplat;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

[[noreturn]] void die(const char* what, const Error& e) {
  std::fprintf(stderr, "%s: %s\n", what, e.message.c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::max<int64_t>(2, std::atoll(argv[1])) : 10000;
  const auto dir = std::filesystem::temp_directory_path() / ("secplat-tlog-bench-" + random_hex(6));
  std::filesystem::create_directories(dir);
  auto db = store::open_sqlite({.path = (dir / "bench.db").string()});
  if (!db.ok()) die("open", db.error());
  if (auto s = store::migrate(**db, trust::transparency_log_migrations()); !s.ok()) die("migrate", s.error());
  auto key = crypto::ec_p256_generate();
  if (!key.ok()) die("key", key.error());
  SystemClock clock;
  trust::TransparencyLog log(**db, *key, "bench.secplat/log", clock);

  // Anchor: one single-row INSERT transaction per entry, same body size.
  if (auto r = (*db)->exec("CREATE TABLE anchor (id BIGINT PRIMARY KEY, body TEXT NOT NULL)"); !r.ok())
    die("anchor table", r.error());
  const Json body = {{"decision", "permit"}, {"digest", "sha256:" + std::string(64, 'a')}, {"scan", "test_ab12cd34ef56"}};
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n; ++i) {
    auto s = (*db)->transact([&](store::Tx& tx) -> Status {
      auto r = tx.exec("INSERT INTO anchor (id, body) VALUES ($1, $2)", {i, body.dump()});
      if (!r.ok()) return std::move(r).take_error();
      return ok_status();
    });
    if (!s.ok()) die("anchor insert", s.error());
  }
  const double anchor_s = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n; ++i) {
    auto e = log.append("permit", "scan:test_" + std::to_string(i), body);
    if (!e.ok()) die("append", e.error());
  }
  const double append_s = seconds_since(t0);

  // Inclusion proofs for leaves spread over the log (each: size read + one node read).
  const int proofs = 1000;
  t0 = std::chrono::steady_clock::now();
  std::size_t path_len = 0;
  for (int i = 0; i < proofs; ++i) {
    auto p = log.inclusion_proof((static_cast<int64_t>(i) * 7919) % n);
    if (!p.ok()) die("inclusion proof", p.error());
    path_len = std::max(path_len, p->hashes_hex.size());
  }
  const double proof_us = seconds_since(t0) * 1e6 / proofs;

  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < proofs; ++i) {
    auto p = log.consistency_proof(1 + (static_cast<int64_t>(i) * 7919) % (n - 1), n);
    if (!p.ok()) die("consistency proof", p.error());
  }
  const double consistency_us = seconds_since(t0) * 1e6 / proofs;

  t0 = std::chrono::steady_clock::now();
  auto cp = log.checkpoint();
  if (!cp.ok()) die("checkpoint", cp.error());
  const double checkpoint_ms = seconds_since(t0) * 1e3;
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < proofs; ++i) {
    if (auto c = log.checkpoint(); !c.ok()) die("cached checkpoint", c.error());
  }
  const double cached_us = seconds_since(t0) * 1e6 / proofs;

  std::printf("entries                  %lld\n", static_cast<long long>(n));
  std::printf("anchor insert tx         %.0f rows/s (%.1f us each)\n", n / anchor_s, anchor_s * 1e6 / n);
  std::printf("append                   %.0f entries/s (%.1f us each, %.2fx the anchor); %lld entries in %.2f s\n",
              n / append_s, append_s * 1e6 / n, append_s / anchor_s, static_cast<long long>(n), append_s);
  std::printf("inclusion proof          %.1f us (path up to %zu hashes)\n", proof_us, path_len);
  std::printf("consistency proof        %.1f us\n", consistency_us);
  std::printf("checkpoint (sign+store)  %.2f ms; cached %.1f us\n", checkpoint_ms, cached_us);

  db->reset();
  std::filesystem::remove_all(dir);
  return 0;
}
