// An append-only, signed transparency log (RFC 6962 / RFC 9162 Merkle tree) kept in the `Db`.
//
// Every decision the trust gate makes (a permit, a verified signature, ...) is appended as one
// entry. Its leaf is leaf_hash(canonical JSON of {body, created_ms, entry_id, kind, signer?,
// subject}) -- see entry_leaf_bytes() -- so the metadata a reader acts on is covered by the tree,
// not just the body. Anyone holding the log's public key can check, offline, that an entry is in
// the tree a signed checkpoint commits to (verify_entry_inclusion) and that a later checkpoint
// extends an earlier one (crypto::verify_consistency on a ConsistencyProof).
//
// Storage (migration 700): `transparency_entries` (one row per leaf, idx = 0-based leaf index),
// `transparency_nodes` (the hash of every complete, power-of-two-aligned subtree, written when
// its last leaf is appended) and `transparency_checkpoints` (signed tree heads). A root or a
// proof for any size n is assembled from O(log n) stored subtree hashes read in one query; an
// append reads O(log n) hashes and writes one entry plus ~2 node rows.
//
// Checkpoints use the C2SP checkpoint body ("<origin>\n<size>\n<base64 root>\n"); the signature
// is ECDSA P-256 over exactly that text (base64 DER, as `cosign sign-blob` writes), so
// `openssl dgst -sha256 -verify pub.pem` checks it too.
//
// Threading: a TransparencyLog is thread-safe; share one per process. Appends from several
// threads or processes on the same database get distinct, consecutive indexes: each append is one
// `Db::transact` (the adapters serialise writers, across processes too), retried a few times if
// it loses a race. Reads never block appends.
//
// Errors: bad input is Errc::validation naming the field (Errc::too_large for a big body) or
// Errc::bad_request (negative sizes); an unknown entry or a size beyond the tree is
// Errc::not_found; a database failure is passed through (Errc::unavailable is retryable); a stored
// tree that contradicts itself (a missing node, a checkpoint for another root) is Errc::internal.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/json.h"
#include "crypto/ecdsa.h"
#include "store/db.h"

namespace secplat::trust {

// Schema of the transparency log (version 700; the trust module owns 700..799).
std::vector<store::Migration> transparency_log_migrations();

struct LogEntry {
  int64_t index = 0;       // 0-based leaf index
  std::string entry_id;    // UUID
  std::string kind;        // "permit", "signature", ...
  std::string subject;     // what the entry is about, e.g. "scan:test_ab12..."
  std::string signer;      // key id or name of whoever signed the logged artifact; may be empty
  Json body;               // as appended (canonical form: see canonical_json)
  std::string leaf_hash_hex;
  int64_t created_ms = 0;
};

struct Checkpoint {
  std::string origin;         // the log's name, first line of the note
  int64_t tree_size = 0;
  std::string root_hash_hex;  // MTH of the first tree_size leaves (the note carries it in base64)
  int64_t timestamp_ms = 0;   // when it was first signed; not part of the signed text
  std::string key_id;         // crypto::ec_key_id of the signing key
  std::string signature_b64;  // ECDSA P-256 over note_text
  std::string note_text;      // "<origin>\n<tree_size>\n<base64 root>\n", the exact signed bytes
};

struct InclusionProof {
  int64_t leaf_index = 0;
  int64_t tree_size = 0;
  std::vector<std::string> hashes_hex;  // RFC 6962 PATH order: leaf sibling first
  std::string root_hash_hex;
};

struct ConsistencyProof {
  int64_t first_size = 0;
  int64_t second_size = 0;
  std::vector<std::string> hashes_hex;  // RFC 6962 PROOF order
  std::string first_root_hex;
  std::string second_root_hex;
};

// Unset fields match everything.
struct EntryFilter {
  std::optional<std::string> kind = std::nullopt;
  std::optional<std::string> subject = std::nullopt;
  std::optional<std::string> signer = std::nullopt;
};

struct Page {
  std::vector<LogEntry> entries;  // ascending index
  int64_t total = 0;              // entries matching the filter, ignoring limit/offset
};

class TransparencyLog {
 public:
  static constexpr std::size_t kMaxBodyBytes = 1 << 20;  // canonical JSON of one body
  static constexpr int kMaxListLimit = 1000;

  // `db` must outlive the log and have transparency_log_migrations() applied. `clock` stamps
  // entries and checkpoints. The key signs checkpoints only (an empty public_pem is derived from
  // the private key). Throws std::invalid_argument for an origin that is not one non-empty line
  // or a key that is not P-256: configuration errors, caught at start.
  TransparencyLog(store::Db& db, crypto::EcKeyPair signing_key, std::string origin, const Clock& clock);

  TransparencyLog(const TransparencyLog&) = delete;
  TransparencyLog& operator=(const TransparencyLog&) = delete;

  // Appends one entry and returns it as stored. `kind`: 1..64 of [a-z0-9_.-]; `subject`: 1..512
  // bytes; `signer`: at most 512 bytes; `body`: any JSON value without NaN/Infinity whose
  // canonical form is valid UTF-8 and at most kMaxBodyBytes. Retries (conflict, unavailable) reuse
  // the entry id and first look for it, so a commit whose acknowledgement was lost is not
  // appended twice.
  Result<LogEntry> append(std::string_view kind, std::string_view subject, const Json& body,
                          std::string_view signer = {});

  // The current signed tree head. Signed once per tree size (the first signer in any process
  // wins; later calls for the same size return that checkpoint), cached in memory.
  Result<Checkpoint> checkpoint();

  // The stored checkpoint for `tree_size` signed by this log's key, signing one if none exists.
  // Errc::not_found beyond the current size.
  Result<Checkpoint> checkpoint_at(int64_t tree_size);

  // Number of leaves.
  Result<int64_t> size();
  // MTH of the first `tree_size` leaves, hex. Errc::not_found beyond the current size.
  Result<std::string> root_hash_hex(int64_t tree_size);

  Result<LogEntry> get(std::string_view entry_id);
  Result<LogEntry> at(int64_t index);
  // limit is clamped to 1..kMaxListLimit; offset < 0 is Errc::bad_request. `total` is counted by
  // a separate statement, so it may already include entries appended after the page was read.
  Result<Page> list(const EntryFilter& filter, int limit, int64_t offset);

  // Proof that leaf `index` is in the tree of `tree_size` leaves (0 = the current size).
  Result<InclusionProof> inclusion_proof(int64_t index, int64_t tree_size = 0);
  // Proof that the tree of `first` leaves is a prefix of the tree of `second` leaves.
  Result<ConsistencyProof> consistency_proof(int64_t first, int64_t second);

  // OK when `checkpoint` is signed by `public_pem` and its note_text is exactly the text its
  // fields describe. Errc::bad_request otherwise.
  static Status verify_checkpoint(const Checkpoint& checkpoint, std::string_view public_pem);

 private:
  store::Db& db_;
  crypto::EcKeyPair key_;
  std::string key_id_;
  std::string origin_;
  const Clock& clock_;

  std::mutex mu_;  // guards latest_
  std::optional<Checkpoint> latest_;
};

// The canonical JSON text of a value: compact, object keys sorted by byte, UTF-8 as is, integers
// exact, doubles in shortest round-trip form. Parsing the text and serialising it again gives
// the same bytes. Errc::bad_request for NaN/Infinity or invalid UTF-8.
Result<std::string> canonical_json(const Json& value);

// The exact bytes whose leaf_hash is the entry's leaf, rebuilt from the entry's fields.
Result<std::string> entry_leaf_bytes(const LogEntry& entry);

// The C2SP checkpoint body for (origin, size, raw 32-byte root).
std::string checkpoint_note_text(std::string_view origin, int64_t tree_size, std::string_view root_hash);

// Offline check that `entry` (its fields, re-hashed) is leaf `proof.leaf_index` of the tree that
// `checkpoint` commits to, and that `checkpoint` is signed by `public_pem`. Errc::bad_request
// naming the first thing that does not hold.
Status verify_entry_inclusion(const LogEntry& entry, const InclusionProof& proof, const Checkpoint& checkpoint,
                              std::string_view public_pem);

}  // namespace secplat::trust
