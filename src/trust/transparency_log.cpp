#include "trust/transparency_log.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <map>
#include <stdexcept>
#include <thread>
#include <utility>

#include "core/encoding.h"
#include "core/ids.h"
#include "crypto/merkle.h"

namespace secplat::trust {
namespace {

// Every complete, aligned subtree, keyed by (height, index): height 0 holds the leaf hashes.
const char* kSchema = R"SQL(
CREATE TABLE transparency_entries (
  idx BIGINT PRIMARY KEY,
  entry_id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  signer TEXT,
  body TEXT NOT NULL,
  leaf_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX transparency_entries_kind_idx ON transparency_entries (kind, idx);
CREATE INDEX transparency_entries_subject_idx ON transparency_entries (subject, idx);
CREATE INDEX transparency_entries_signer_idx ON transparency_entries (signer, idx);
CREATE TABLE transparency_nodes (
  height INTEGER NOT NULL,
  idx BIGINT NOT NULL,
  hash TEXT NOT NULL,
  PRIMARY KEY (height, idx)
);
CREATE TABLE transparency_checkpoints (
  origin TEXT NOT NULL,
  key_id TEXT NOT NULL,
  tree_size BIGINT NOT NULL,
  root_hash TEXT NOT NULL,
  ts BIGINT NOT NULL,
  signature TEXT NOT NULL,
  PRIMARY KEY (origin, key_id, tree_size)
))SQL";

constexpr int kAppendAttempts = 6;
constexpr std::size_t kMaxSubject = 512;
constexpr std::size_t kMaxSigner = 512;
constexpr std::size_t kNodesPerQuery = 64;

using NodeKey = std::pair<int, uint64_t>;
using NodeMap = std::map<NodeKey, std::string>;  // raw 32-byte hashes

bool valid_kind(std::string_view k) {
  if (k.empty() || k.size() > 64) return false;
  return std::all_of(k.begin(), k.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

bool has_non_finite(const Json& j) {
  if (j.is_number_float()) return !std::isfinite(j.get<double>());
  if (j.is_structured()) {
    for (const auto& v : j)
      if (has_non_finite(v)) return true;
  }
  return false;
}

// Reads the given subtree hashes with as few statements as possible. The OR-list is padded to a
// power of two so only a handful of distinct statements get prepared.
template <class QueryFn>
Result<NodeMap> fetch_nodes(const QueryFn& query, std::vector<crypto::SubtreeId> ids) {
  std::sort(ids.begin(), ids.end(),
            [](const auto& a, const auto& b) { return std::pair(a.level, a.index) < std::pair(b.level, b.index); });
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  NodeMap out;
  for (std::size_t start = 0; start < ids.size(); start += kNodesPerQuery) {
    const std::size_t count = std::min(kNodesPerQuery, ids.size() - start);
    const std::size_t padded = std::max<std::size_t>(4, std::bit_ceil(count));
    std::string sql = "SELECT height, idx, hash FROM transparency_nodes WHERE ";
    store::Params params;
    for (std::size_t i = 0; i < padded; ++i) {
      const auto& id = ids[start + std::min(i, count - 1)];
      if (i) sql += " OR ";
      sql += "(height = $" + std::to_string(params.size() + 1) + " AND idx = $" + std::to_string(params.size() + 2) + ")";
      params.emplace_back(int64_t{id.level});
      params.emplace_back(static_cast<int64_t>(id.index));
    }
    auto rows = query(sql, params);
    if (!rows.ok()) return std::move(rows).take_error();
    for (const auto& row : *rows) {
      auto raw = hex_decode(row.str("hash"));
      if (!raw || raw->size() != crypto::kMerkleHashSize) return Error::internal("transparency log node is not a hash");
      out[{static_cast<int>(row.i64("height")), static_cast<uint64_t>(row.i64("idx"))}] = std::move(*raw);
    }
  }
  return out;
}

crypto::SubtreeHashFn lookup_in(const NodeMap& nodes) {
  return [&nodes](crypto::SubtreeId id) -> Result<std::string> {
    auto it = nodes.find({id.level, id.index});
    if (it == nodes.end()) {
      return Error::internal("transparency log node (" + std::to_string(id.level) + ", " + std::to_string(id.index) +
                             ") is missing");
    }
    return it->second;
  };
}

void append_subtrees(std::vector<crypto::SubtreeId>& ids, uint64_t begin, uint64_t end) {
  auto more = crypto::range_subtrees(begin, end);
  ids.insert(ids.end(), more.begin(), more.end());
}

std::vector<std::string> to_hex(const std::vector<std::string>& raw) {
  std::vector<std::string> out;
  out.reserve(raw.size());
  for (const auto& h : raw) out.push_back(hex_encode(h));
  return out;
}

Result<LogEntry> entry_from_row(const store::Row& row) {
  LogEntry e;
  e.index = row.i64("idx");
  e.entry_id = row.str("entry_id");
  e.kind = row.str("kind");
  e.subject = row.str("subject");
  e.signer = row.str("signer");
  e.body = Json::parse(row.str("body"), nullptr, false);
  if (e.body.is_discarded()) return Error::internal("transparency entry " + std::to_string(e.index) + " is not JSON");
  e.leaf_hash_hex = row.str("leaf_hash");
  e.created_ms = row.i64("created_at");
  return e;
}

const char* kEntryColumns = "idx, entry_id, kind, subject, signer, body, leaf_hash, created_at";

Json leaf_document(std::string_view entry_id, std::string_view kind, std::string_view subject, std::string_view signer,
                   const Json& body, int64_t created_ms) {
  Json doc = {{"body", body},
              {"created_ms", created_ms},
              {"entry_id", std::string(entry_id)},
              {"kind", std::string(kind)},
              {"subject", std::string(subject)}};
  if (!signer.empty()) doc["signer"] = std::string(signer);
  return doc;
}

}  // namespace

std::vector<store::Migration> transparency_log_migrations() { return {{700, "trust_transparency_log", kSchema, kSchema}}; }

Result<std::string> canonical_json(const Json& value) {
  if (has_non_finite(value)) return Error::bad_request("JSON numbers must be finite");
  try {
    return value.dump(-1, ' ', false, Json::error_handler_t::strict);
  } catch (const Json::exception&) {
    return Error::bad_request("JSON strings must be valid UTF-8");
  }
}

Result<std::string> entry_leaf_bytes(const LogEntry& entry) {
  return canonical_json(
      leaf_document(entry.entry_id, entry.kind, entry.subject, entry.signer, entry.body, entry.created_ms));
}

std::string checkpoint_note_text(std::string_view origin, int64_t tree_size, std::string_view root_hash) {
  std::string text(origin);
  text += '\n';
  text += std::to_string(tree_size);
  text += '\n';
  text += base64_encode(root_hash);
  text += '\n';
  return text;
}

TransparencyLog::TransparencyLog(store::Db& db, crypto::EcKeyPair signing_key, std::string origin, const Clock& clock)
    : db_(db), key_(std::move(signing_key)), origin_(std::move(origin)), clock_(clock) {
  if (origin_.empty() || origin_.find('\n') != std::string::npos || !is_valid_utf8(origin_))
    throw std::invalid_argument("transparency log origin must be one non-empty line");
  if (key_.public_pem.empty()) {
    auto pub = crypto::ec_public_from_private(key_.private_pem);
    if (!pub.ok()) throw std::invalid_argument("transparency log key: " + pub.error().message);
    key_.public_pem = std::move(*pub);
  }
  key_id_ = crypto::ec_key_id(key_.public_pem);
  if (key_id_.empty()) throw std::invalid_argument("transparency log key is not a P-256 key");
}

Result<LogEntry> TransparencyLog::append(std::string_view kind, std::string_view subject, const Json& body,
                                         std::string_view signer) {
  if (!valid_kind(kind)) return Error::invalid({"kind"}, "must be 1..64 characters of [a-z0-9_.-]");
  if (subject.empty() || subject.size() > kMaxSubject || !is_valid_utf8(subject))
    return Error::invalid({"subject"}, "must be 1..512 bytes of UTF-8");
  if (signer.size() > kMaxSigner || !is_valid_utf8(signer))
    return Error::invalid({"signer"}, "must be at most 512 bytes of UTF-8");
  auto body_text = canonical_json(body);
  if (!body_text.ok()) return Error::invalid({"body"}, body_text.error().message);
  if (body_text->size() > kMaxBodyBytes) return Error::too_large("transparency entry body exceeds 1 MiB");

  LogEntry entry;
  entry.kind = std::string(kind);
  entry.subject = std::string(subject);
  entry.signer = std::string(signer);
  // What is stored and returned is the body re-read from its canonical text, so the leaf a
  // verifier rebuilds from a returned entry is byte for byte the leaf hashed here.
  entry.body = Json::parse(*body_text);
  entry.entry_id = new_uuid();
  entry.created_ms = clock_.now_ms();
  auto leaf_bytes = entry_leaf_bytes(entry);
  if (!leaf_bytes.ok()) return std::move(leaf_bytes).take_error();
  const std::string leaf = crypto::leaf_hash(*leaf_bytes);
  entry.leaf_hash_hex = hex_encode(leaf);

  Status last = ok_status();
  for (int attempt = 0; attempt < kAppendAttempts; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(2 << attempt));
    last = db_.transact([&](store::Tx& tx) -> Status {
      auto top = tx.query("SELECT idx FROM transparency_entries ORDER BY idx DESC LIMIT 1");
      if (!top.ok()) return std::move(top).take_error();
      const uint64_t n = top->empty() ? 0 : static_cast<uint64_t>(top->front().i64("idx")) + 1;

      // Leaf n completes one subtree per trailing one bit of n; their left halves are stored.
      std::vector<crypto::SubtreeId> left_ids;
      for (int h = 0; (n >> h) & 1; ++h) left_ids.push_back({h, (n >> h) - 1});
      NodeMap lefts;
      if (!left_ids.empty()) {
        auto got = fetch_nodes([&tx](std::string_view sql, const store::Params& p) { return tx.query(sql, p); },
                               left_ids);
        if (!got.ok()) return std::move(got).take_error();
        lefts = std::move(*got);
      }
      std::string sql = "INSERT INTO transparency_nodes (height, idx, hash) VALUES ($1, $2, $3)";
      store::Params params = {int64_t{0}, static_cast<int64_t>(n), hex_encode(leaf)};
      std::string hash = leaf;
      for (const auto& id : left_ids) {
        auto it = lefts.find({id.level, id.index});
        if (it == lefts.end()) return Error::internal("transparency log node is missing below leaf " + std::to_string(n));
        hash = crypto::node_hash(it->second, hash);
        const std::size_t p = params.size();
        sql += ", ($" + std::to_string(p + 1) + ", $" + std::to_string(p + 2) + ", $" + std::to_string(p + 3) + ")";
        params.emplace_back(int64_t{id.level + 1});
        params.emplace_back(static_cast<int64_t>(n >> (id.level + 1)));
        params.emplace_back(hex_encode(hash));
      }

      auto ins = tx.exec(
          "INSERT INTO transparency_entries (idx, entry_id, kind, subject, signer, body, leaf_hash, created_at) "
          "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
          {static_cast<int64_t>(n), entry.entry_id, entry.kind, entry.subject,
           entry.signer.empty() ? store::null() : store::Value(entry.signer), *body_text, entry.leaf_hash_hex,
           entry.created_ms});
      if (!ins.ok()) return std::move(ins).take_error();
      auto nodes = tx.exec(sql, params);
      if (!nodes.ok()) return std::move(nodes).take_error();
      entry.index = static_cast<int64_t>(n);
      return ok_status();
    });
    if (last.ok()) return entry;
    const Errc code = last.error().code;
    if (code != Errc::conflict && code != Errc::unavailable) break;
    // A commit whose acknowledgement was lost (connection dropped) must not append twice: the
    // entry id is the same on every attempt, so look for it before trying again.
    auto stored = get(entry.entry_id);
    if (stored.ok()) return stored;
  }
  return std::move(last).take_error();
}

Result<int64_t> TransparencyLog::size() {
  auto rows = db_.query("SELECT idx FROM transparency_entries ORDER BY idx DESC LIMIT 1");
  if (!rows.ok()) return std::move(rows).take_error();
  return rows->empty() ? int64_t{0} : rows->front().i64("idx") + 1;
}

Result<std::string> TransparencyLog::root_hash_hex(int64_t tree_size) {
  if (tree_size < 0) return Error::bad_request("tree size must not be negative");
  auto current = size();
  if (!current.ok()) return std::move(current).take_error();
  if (tree_size > *current) return Error::not_found("the log has only " + std::to_string(*current) + " entries");
  const uint64_t n = static_cast<uint64_t>(tree_size);
  auto nodes = fetch_nodes([this](std::string_view sql, const store::Params& p) { return db_.query(sql, p); },
                           crypto::range_subtrees(0, n));
  if (!nodes.ok()) return std::move(nodes).take_error();
  auto root = crypto::range_hash(0, n, lookup_in(*nodes));
  if (!root.ok()) return std::move(root).take_error();
  return hex_encode(*root);
}

Result<InclusionProof> TransparencyLog::inclusion_proof(int64_t index, int64_t tree_size) {
  if (index < 0 || tree_size < 0) return Error::bad_request("index and tree size must not be negative");
  auto current = size();
  if (!current.ok()) return std::move(current).take_error();
  if (tree_size == 0) tree_size = *current;
  if (tree_size > *current) return Error::not_found("the log has only " + std::to_string(*current) + " entries");
  if (index >= tree_size) return Error::not_found("no entry " + std::to_string(index) + " in a tree of " +
                                                  std::to_string(tree_size));
  const uint64_t i = static_cast<uint64_t>(index);
  const uint64_t n = static_cast<uint64_t>(tree_size);
  std::vector<crypto::SubtreeId> ids;
  for (const auto& r : crypto::inclusion_proof_ranges(i, n)) append_subtrees(ids, r.begin, r.end);
  append_subtrees(ids, 0, n);
  auto nodes = fetch_nodes([this](std::string_view sql, const store::Params& p) { return db_.query(sql, p); }, ids);
  if (!nodes.ok()) return std::move(nodes).take_error();
  const auto subtree = lookup_in(*nodes);
  auto path = crypto::inclusion_proof(i, n, [&](uint64_t b, uint64_t e) { return crypto::range_hash(b, e, subtree); });
  if (!path.ok()) return std::move(path).take_error();
  auto root = crypto::range_hash(0, n, subtree);
  if (!root.ok()) return std::move(root).take_error();
  return InclusionProof{index, tree_size, to_hex(*path), hex_encode(*root)};
}

Result<ConsistencyProof> TransparencyLog::consistency_proof(int64_t first, int64_t second) {
  if (first < 0 || first > second) return Error::bad_request("need 0 <= first <= second");
  auto current = size();
  if (!current.ok()) return std::move(current).take_error();
  if (second > *current) return Error::not_found("the log has only " + std::to_string(*current) + " entries");
  const uint64_t m = static_cast<uint64_t>(first);
  const uint64_t n = static_cast<uint64_t>(second);
  std::vector<crypto::SubtreeId> ids;
  for (const auto& r : crypto::consistency_proof_ranges(m, n)) append_subtrees(ids, r.begin, r.end);
  append_subtrees(ids, 0, m);
  append_subtrees(ids, 0, n);
  auto nodes = fetch_nodes([this](std::string_view sql, const store::Params& p) { return db_.query(sql, p); }, ids);
  if (!nodes.ok()) return std::move(nodes).take_error();
  const auto subtree = lookup_in(*nodes);
  auto path = crypto::consistency_proof(m, n, [&](uint64_t b, uint64_t e) { return crypto::range_hash(b, e, subtree); });
  if (!path.ok()) return std::move(path).take_error();
  auto root1 = crypto::range_hash(0, m, subtree);
  if (!root1.ok()) return std::move(root1).take_error();
  auto root2 = crypto::range_hash(0, n, subtree);
  if (!root2.ok()) return std::move(root2).take_error();
  return ConsistencyProof{first, second, to_hex(*path), hex_encode(*root1), hex_encode(*root2)};
}

Result<Checkpoint> TransparencyLog::checkpoint() {
  auto current = size();
  if (!current.ok()) return std::move(current).take_error();
  {
    std::lock_guard lock(mu_);
    if (latest_ && latest_->tree_size == *current) return *latest_;
  }
  auto cp = checkpoint_at(*current);
  if (!cp.ok()) return cp;
  std::lock_guard lock(mu_);
  if (!latest_ || latest_->tree_size < cp->tree_size) latest_ = *cp;
  return cp;
}

Result<Checkpoint> TransparencyLog::checkpoint_at(int64_t tree_size) {
  auto root_hex = root_hash_hex(tree_size);  // checks the size
  if (!root_hex.ok()) return std::move(root_hex).take_error();
  auto stored = [&]() -> Result<std::optional<Checkpoint>> {
    auto rows = db_.query(
        "SELECT root_hash, ts, signature FROM transparency_checkpoints WHERE origin = $1 AND key_id = $2 AND "
        "tree_size = $3",
        {origin_, key_id_, tree_size});
    if (!rows.ok()) return std::move(rows).take_error();
    if (rows->empty()) return std::optional<Checkpoint>{};
    const auto& row = rows->front();
    if (row.str("root_hash") != *root_hex) {
      return Error::internal("stored checkpoint for size " + std::to_string(tree_size) +
                             " does not match the stored tree");
    }
    Checkpoint cp{origin_,  tree_size, *root_hex, row.i64("ts"), key_id_, row.str("signature"),
                  checkpoint_note_text(origin_, tree_size, *hex_decode(*root_hex))};
    return std::optional<Checkpoint>{std::move(cp)};
  };
  auto found = stored();
  if (!found.ok()) return std::move(found).take_error();
  if (*found) return std::move(**found);

  const std::string text = checkpoint_note_text(origin_, tree_size, *hex_decode(*root_hex));
  auto sig = crypto::ec_sign_b64(key_.private_pem, text);
  if (!sig.ok()) return std::move(sig).take_error();
  // Another process may sign the same size at the same time: the first row wins and both
  // return it, so a size has one checkpoint per key.
  auto ins = db_.exec(
      "INSERT INTO transparency_checkpoints (origin, key_id, tree_size, root_hash, ts, signature) "
      "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (origin, key_id, tree_size) DO NOTHING",
      {origin_, key_id_, tree_size, *root_hex, clock_.now_ms(), *sig});
  if (!ins.ok()) return std::move(ins).take_error();
  found = stored();
  if (!found.ok()) return std::move(found).take_error();
  if (!*found) return Error::internal("checkpoint vanished after it was written");
  return std::move(**found);
}

Result<LogEntry> TransparencyLog::get(std::string_view entry_id) {
  auto rows = db_.query(std::string("SELECT ") + kEntryColumns + " FROM transparency_entries WHERE entry_id = $1",
                        {std::string(entry_id)});
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty()) return Error::not_found("no transparency log entry " + std::string(entry_id));
  return entry_from_row(rows->front());
}

Result<LogEntry> TransparencyLog::at(int64_t index) {
  auto rows =
      db_.query(std::string("SELECT ") + kEntryColumns + " FROM transparency_entries WHERE idx = $1", {index});
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty()) return Error::not_found("no transparency log entry at index " + std::to_string(index));
  return entry_from_row(rows->front());
}

Result<Page> TransparencyLog::list(const EntryFilter& filter, int limit, int64_t offset) {
  if (offset < 0) return Error::bad_request("offset must not be negative");
  limit = std::clamp(limit, 1, kMaxListLimit);
  std::string where = " WHERE 1 = 1";
  store::Params params;
  auto add = [&](const char* column, const std::optional<std::string>& value) {
    if (!value) return;
    params.emplace_back(*value);
    where += std::string(" AND ") + column + " = $" + std::to_string(params.size());
  };
  add("kind", filter.kind);
  add("subject", filter.subject);
  add("signer", filter.signer);

  auto count = db_.query("SELECT COUNT(*) AS n FROM transparency_entries" + where, params);
  if (!count.ok()) return std::move(count).take_error();
  Page page;
  page.total = count->empty() ? 0 : count->front().i64("n");

  const std::string paging =
      " ORDER BY idx LIMIT $" + std::to_string(params.size() + 1) + " OFFSET $" + std::to_string(params.size() + 2);
  params.emplace_back(int64_t{limit});
  params.emplace_back(offset);
  auto rows = db_.query(std::string("SELECT ") + kEntryColumns + " FROM transparency_entries" + where + paging, params);
  if (!rows.ok()) return std::move(rows).take_error();
  page.entries.reserve(rows->size());
  for (const auto& row : *rows) {
    auto e = entry_from_row(row);
    if (!e.ok()) return std::move(e).take_error();
    page.entries.push_back(std::move(*e));
  }
  return page;
}

Status TransparencyLog::verify_checkpoint(const Checkpoint& checkpoint, std::string_view public_pem) {
  if (checkpoint.origin.empty() || checkpoint.origin.find('\n') != std::string::npos)
    return Error::bad_request("checkpoint origin must be one non-empty line");
  if (checkpoint.tree_size < 0) return Error::bad_request("checkpoint tree size is negative");
  auto root = hex_decode(checkpoint.root_hash_hex);
  if (!root || root->size() != crypto::kMerkleHashSize) return Error::bad_request("checkpoint root is not a hash");
  const std::string text = checkpoint_note_text(checkpoint.origin, checkpoint.tree_size, *root);
  if (checkpoint.note_text != text) return Error::bad_request("checkpoint note does not match its fields");
  return crypto::ec_verify_b64(public_pem, text, checkpoint.signature_b64);
}

Status verify_entry_inclusion(const LogEntry& entry, const InclusionProof& proof, const Checkpoint& checkpoint,
                              std::string_view public_pem) {
  SECPLAT_TRY(TransparencyLog::verify_checkpoint(checkpoint, public_pem));
  if (proof.tree_size != checkpoint.tree_size) return Error::bad_request("proof is for another tree size");
  auto root = hex_decode(checkpoint.root_hash_hex);
  auto proof_root = hex_decode(proof.root_hash_hex);
  if (!proof_root || *proof_root != *root) return Error::bad_request("proof is for another root");
  if (proof.leaf_index != entry.index) return Error::bad_request("proof is for another leaf index");
  if (entry.index < 0) return Error::bad_request("entry index is negative");
  auto bytes = entry_leaf_bytes(entry);
  if (!bytes.ok()) return std::move(bytes).take_error();
  const std::string leaf = crypto::leaf_hash(*bytes);
  if (hex_encode(leaf) != entry.leaf_hash_hex) return Error::bad_request("entry does not match its leaf hash");
  std::vector<std::string> path;
  path.reserve(proof.hashes_hex.size());
  for (const auto& h : proof.hashes_hex) {
    auto raw = hex_decode(h);
    if (!raw) return Error::bad_request("proof hash is not hex");
    path.push_back(std::move(*raw));
  }
  if (!crypto::verify_inclusion(leaf, static_cast<uint64_t>(entry.index), static_cast<uint64_t>(proof.tree_size), path,
                                *root))
    return Error::bad_request("inclusion proof does not verify against the checkpoint");
  return ok_status();
}

}  // namespace secplat::trust
