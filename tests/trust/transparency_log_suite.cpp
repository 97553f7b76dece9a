// What the transparency log promises, on any backend: consecutive indexes under concurrency (threads
// and separate database handles), roots equal to the RFC 6962 math, proofs that verify offline
// against a signed checkpoint, tampering that is caught, and a tree that survives a restart.
#include "trust/transparency_log_suite.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/encoding.h"
#include "crypto/ecdsa.h"
#include "crypto/merkle.h"
#include "trust/transparency_log.h"

namespace secplat::trust {
namespace {

constexpr int64_t kStart = 1'800'000'000'000;

crypto::EcKeyPair new_key() {
  auto kp = crypto::ec_p256_generate();
  EXPECT_TRUE(kp.ok());
  return *kp;
}

std::string unhex(const std::string& h) {
  auto raw = hex_decode(h);
  EXPECT_TRUE(raw.has_value()) << h;
  return raw.value_or("");
}

std::vector<std::string> unhex_all(const std::vector<std::string>& hs) {
  std::vector<std::string> out;
  for (const auto& h : hs) out.push_back(unhex(h));
  return out;
}

Json body_for(int i) { return Json{{"n", i}, {"digest", "sha256:" + sha256_hex(std::to_string(i))}, {"ok", i % 2 == 0}}; }

LogEntry must_append(TransparencyLog& log, int i, std::string kind = "permit") {
  auto e = log.append(kind, "scan:test_" + std::to_string(i), body_for(i));
  EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error().message);
  return e.ok() ? *e : LogEntry{};
}

// Every leaf hash in index order, each re-derived from the entry's fields (and checked against
// the stored one).
std::vector<std::string> leaf_hashes_of(TransparencyLog& log) {
  std::vector<std::string> out;
  for (int64_t offset = 0;; offset += TransparencyLog::kMaxListLimit) {
    auto page = log.list({}, TransparencyLog::kMaxListLimit, offset);
    EXPECT_TRUE(page.ok());
    if (!page.ok() || page->entries.empty()) break;
    for (const auto& e : page->entries) {
      EXPECT_EQ(e.index, static_cast<int64_t>(out.size()));
      auto bytes = entry_leaf_bytes(e);
      EXPECT_TRUE(bytes.ok());
      out.push_back(crypto::leaf_hash(*bytes));
      EXPECT_EQ(hex_encode(out.back()), e.leaf_hash_hex);
    }
  }
  return out;
}

TEST_P(TransparencyLogTest, AppendsGetConsecutiveIndexesAndReadBackExactly) {
  ManualClock clock(kStart);
  const auto key = new_key();
  TransparencyLog log(db(), key, "secplat.test/log", clock);
  EXPECT_EQ(*log.size(), 0);
  for (int i = 0; i < 5; ++i) {
    clock.advance_ms(10);
    const Json body = {{"z", 1}, {"a", {{"nested", "é ✓ \u0001"}, {"pi", 3.25}}}, {"i", i}, {"big", 18446744073709551615ull}};
    auto e = log.append("signature", "scan:test_ab12", body, i % 2 ? "key:abc" : "");
    ASSERT_TRUE(e.ok()) << e.error().message;
    EXPECT_EQ(e->index, i);
    EXPECT_EQ(e->created_ms, kStart + 10 * (i + 1));
    EXPECT_EQ(e->body, body);

    auto by_id = log.get(e->entry_id);
    ASSERT_TRUE(by_id.ok());
    auto by_index = log.at(i);
    ASSERT_TRUE(by_index.ok());
    for (const LogEntry* r : {&*by_id, &*by_index}) {
      EXPECT_EQ(r->index, i);
      EXPECT_EQ(r->entry_id, e->entry_id);
      EXPECT_EQ(r->kind, "signature");
      EXPECT_EQ(r->subject, "scan:test_ab12");
      EXPECT_EQ(r->signer, i % 2 ? "key:abc" : "");
      EXPECT_EQ(r->body, body);
      EXPECT_EQ(r->created_ms, e->created_ms);
      EXPECT_EQ(r->leaf_hash_hex, e->leaf_hash_hex);
      // The leaf rebuilt from what was read is the leaf that was hashed at append time.
      auto bytes = entry_leaf_bytes(*r);
      ASSERT_TRUE(bytes.ok());
      EXPECT_EQ(hex_encode(crypto::leaf_hash(*bytes)), e->leaf_hash_hex);
    }
    // The stored body is the canonical text, byte for byte.
    auto row = db().query("SELECT body FROM transparency_entries WHERE idx = $1", {int64_t{i}});
    ASSERT_TRUE(row.ok());
    EXPECT_EQ(row->front().str("body"), *canonical_json(body));
  }
  EXPECT_EQ(*log.size(), 5);
  EXPECT_EQ(log.get("no-such-id").error().code, Errc::not_found);
  EXPECT_EQ(log.at(5).error().code, Errc::not_found);
}

TEST_P(TransparencyLogTest, RootOfEverySizeEqualsTheMerkleMath) {
  ManualClock clock(kStart);
  TransparencyLog log(db(), new_key(), "secplat.test/log", clock);
  EXPECT_EQ(*log.root_hash_hex(0), hex_encode(crypto::empty_root_hash()));
  for (int i = 0; i < 70; ++i) must_append(log, i);
  const auto leaves = leaf_hashes_of(log);
  ASSERT_EQ(leaves.size(), 70u);
  for (int64_t n = 0; n <= 70; ++n) {
    auto root = log.root_hash_hex(n);
    ASSERT_TRUE(root.ok()) << root.error().message;
    EXPECT_EQ(*root, hex_encode(crypto::root_hash({leaves.begin(), leaves.begin() + n}))) << "size " << n;
  }
  EXPECT_EQ(log.root_hash_hex(71).error().code, Errc::not_found);
}

TEST_P(TransparencyLogTest, EveryEntryOfAHundredProvesInclusionInTheSignedCheckpoint) {
  ManualClock clock(kStart);
  const auto key = new_key();
  TransparencyLog log(db(), key, "secplat.test/log", clock);
  for (int i = 0; i < 100; ++i) must_append(log, i, i % 3 ? "permit" : "signature");
  auto cp = log.checkpoint();
  ASSERT_TRUE(cp.ok()) << cp.error().message;
  EXPECT_EQ(cp->tree_size, 100);
  ASSERT_TRUE(TransparencyLog::verify_checkpoint(*cp, key.public_pem).ok());
  EXPECT_EQ(cp->note_text, "secplat.test/log\n100\n" + base64_encode(unhex(cp->root_hash_hex)) + "\n");

  for (int64_t i = 0; i < 100; ++i) {
    auto entry = log.at(i);
    ASSERT_TRUE(entry.ok());
    auto proof = log.inclusion_proof(i);
    ASSERT_TRUE(proof.ok()) << proof.error().message;
    EXPECT_EQ(proof->tree_size, 100);
    auto ok = verify_entry_inclusion(*entry, *proof, *cp, key.public_pem);
    EXPECT_TRUE(ok.ok()) << "entry " << i << ": " << ok.error().message;
    // Another entry's proof, or this proof for another entry, does not verify.
    if (i > 0) {
      auto neighbour = log.at(i - 1);
      EXPECT_FALSE(verify_entry_inclusion(*neighbour, *proof, *cp, key.public_pem).ok());
    }
  }
  // Proofs into an older tree verify against that tree's root.
  const auto leaves = leaf_hashes_of(log);
  for (int64_t n : {1, 2, 37, 64, 99}) {
    const std::string root = crypto::root_hash({leaves.begin(), leaves.begin() + n});
    for (int64_t i = 0; i < n; i += 7) {
      auto proof = log.inclusion_proof(i, n);
      ASSERT_TRUE(proof.ok());
      EXPECT_EQ(proof->root_hash_hex, hex_encode(root));
      EXPECT_TRUE(crypto::verify_inclusion(leaves[i], i, n, unhex_all(proof->hashes_hex), root));
    }
  }
  EXPECT_EQ(log.inclusion_proof(100).error().code, Errc::not_found);
  EXPECT_EQ(log.inclusion_proof(0, 101).error().code, Errc::not_found);
  EXPECT_EQ(log.inclusion_proof(-1).error().code, Errc::bad_request);
}

TEST_P(TransparencyLogTest, ConsistencyProofsBetweenEveryPairOfCheckpointsVerify) {
  ManualClock clock(kStart);
  const auto key = new_key();
  TransparencyLog log(db(), key, "secplat.test/log", clock);
  std::vector<Checkpoint> checkpoints;
  auto take = [&] {
    auto cp = log.checkpoint();
    ASSERT_TRUE(cp.ok()) << cp.error().message;
    ASSERT_TRUE(TransparencyLog::verify_checkpoint(*cp, key.public_pem).ok());
    checkpoints.push_back(*cp);
  };
  take();  // the empty tree
  int appended = 0;
  for (int target : {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 33, 50, 64, 65, 100}) {
    while (appended < target) must_append(log, appended++);
    take();
  }
  for (std::size_t a = 0; a < checkpoints.size(); ++a) {
    for (std::size_t b = a; b < checkpoints.size(); ++b) {
      const Checkpoint& old_cp = checkpoints[a];
      const Checkpoint& new_cp = checkpoints[b];
      auto proof = log.consistency_proof(old_cp.tree_size, new_cp.tree_size);
      ASSERT_TRUE(proof.ok()) << proof.error().message;
      EXPECT_EQ(proof->first_root_hex, old_cp.root_hash_hex);
      EXPECT_EQ(proof->second_root_hex, new_cp.root_hash_hex);
      EXPECT_TRUE(crypto::verify_consistency(old_cp.tree_size, new_cp.tree_size, unhex(old_cp.root_hash_hex),
                                             unhex(new_cp.root_hash_hex), unhex_all(proof->hashes_hex)))
          << old_cp.tree_size << " -> " << new_cp.tree_size;
      // A different (forked) old root is not consistent with the new one.
      if (old_cp.tree_size > 0 && old_cp.tree_size < new_cp.tree_size) {
        std::string forked = unhex(old_cp.root_hash_hex);
        forked[5] ^= 1;
        EXPECT_FALSE(crypto::verify_consistency(old_cp.tree_size, new_cp.tree_size, forked,
                                                unhex(new_cp.root_hash_hex), unhex_all(proof->hashes_hex)));
      }
    }
  }
  EXPECT_EQ(log.consistency_proof(5, 4).error().code, Errc::bad_request);
  EXPECT_EQ(log.consistency_proof(5, 101).error().code, Errc::not_found);
}

TEST_P(TransparencyLogTest, CheckpointSignatureFailsWithAnotherKeyOrOneChangedByte) {
  ManualClock clock(kStart);
  const auto key = new_key();
  TransparencyLog log(db(), key, "secplat.test/log", clock);
  for (int i = 0; i < 11; ++i) must_append(log, i);
  auto cp = log.checkpoint();
  ASSERT_TRUE(cp.ok());
  ASSERT_TRUE(TransparencyLog::verify_checkpoint(*cp, key.public_pem).ok());
  EXPECT_EQ(cp->key_id, crypto::ec_key_id(key.public_pem));
  // The signature is a plain cosign-style blob signature over the note text.
  EXPECT_TRUE(crypto::ec_verify_b64(key.public_pem, cp->note_text, cp->signature_b64).ok());

  EXPECT_FALSE(TransparencyLog::verify_checkpoint(*cp, new_key().public_pem).ok()) << "another key";
  for (std::size_t i = 0; i < cp->note_text.size(); ++i) {
    Checkpoint bad = *cp;
    bad.note_text[i] = static_cast<char>(bad.note_text[i] ^ 0x01);
    EXPECT_FALSE(TransparencyLog::verify_checkpoint(bad, key.public_pem).ok()) << "note byte " << i;
  }
  Checkpoint bad = *cp;
  bad.tree_size = 12;
  EXPECT_FALSE(TransparencyLog::verify_checkpoint(bad, key.public_pem).ok()) << "size";
  bad = *cp;
  bad.root_hash_hex[0] = bad.root_hash_hex[0] == '0' ? '1' : '0';
  EXPECT_FALSE(TransparencyLog::verify_checkpoint(bad, key.public_pem).ok()) << "root";
  bad = *cp;
  bad.origin = "secplat.test/other";
  EXPECT_FALSE(TransparencyLog::verify_checkpoint(bad, key.public_pem).ok()) << "origin";
  // A note rewritten to match tampered fields still lacks a signature over it.
  bad = *cp;
  bad.tree_size = 10;
  bad.note_text = checkpoint_note_text(bad.origin, bad.tree_size, unhex(bad.root_hash_hex));
  EXPECT_FALSE(TransparencyLog::verify_checkpoint(bad, key.public_pem).ok()) << "consistent rewrite";
  bad = *cp;
  auto sig = base64_decode(bad.signature_b64);
  ASSERT_TRUE(sig.has_value());
  (*sig)[sig->size() - 1] ^= 0x01;
  bad.signature_b64 = base64_encode(*sig);
  EXPECT_FALSE(TransparencyLog::verify_checkpoint(bad, key.public_pem).ok()) << "signature";
}

TEST_P(TransparencyLogTest, ACheckpointIsSignedOncePerSizeAndSharedAcrossProcesses) {
  ManualClock clock(kStart);
  const auto key = new_key();
  TransparencyLog log(db(), key, "secplat.test/log", clock);
  for (int i = 0; i < 3; ++i) must_append(log, i);
  auto first = log.checkpoint();
  clock.advance_ms(1000);
  auto again = log.checkpoint();
  ASSERT_TRUE(first.ok() && again.ok());
  EXPECT_EQ(again->signature_b64, first->signature_b64);  // ECDSA is randomised: same text = not re-signed
  EXPECT_EQ(again->timestamp_ms, kStart);

  auto other_db = env_->open_again();
  ASSERT_NE(other_db, nullptr);
  TransparencyLog other(*other_db, key, "secplat.test/log", clock);
  auto theirs = other.checkpoint();
  ASSERT_TRUE(theirs.ok());
  EXPECT_EQ(theirs->signature_b64, first->signature_b64);

  must_append(log, 3);
  auto grown = log.checkpoint();
  ASSERT_TRUE(grown.ok());
  EXPECT_EQ(grown->tree_size, 4);
  EXPECT_EQ(grown->timestamp_ms, kStart + 1000);
  EXPECT_NE(grown->root_hash_hex, first->root_hash_hex);
  auto past = log.checkpoint_at(3);
  ASSERT_TRUE(past.ok());
  EXPECT_EQ(past->signature_b64, first->signature_b64);
  EXPECT_EQ(log.checkpoint_at(5).error().code, Errc::not_found);
}

// Appends `count` entries from each of `logs` at once; returns every index handed out.
std::vector<int64_t> append_concurrently(const std::vector<TransparencyLog*>& logs, int count) {
  std::vector<std::vector<int64_t>> got(logs.size());
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < logs.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < count; ++i) {
        auto e = logs[t]->append("permit", "thread:" + std::to_string(t), Json{{"t", t}, {"i", i}});
        if (!e.ok()) {
          ADD_FAILURE() << "thread " << t << ": " << e.error().message;
          return;
        }
        got[t].push_back(e->index);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<int64_t> all;
  for (const auto& g : got) {
    EXPECT_TRUE(std::is_sorted(g.begin(), g.end()));  // each appender sees its own entries in order
    all.insert(all.end(), g.begin(), g.end());
  }
  std::sort(all.begin(), all.end());
  return all;
}

void expect_gapless_and_matching(TransparencyLog& log, const std::vector<int64_t>& indexes, int64_t n) {
  ASSERT_EQ(static_cast<int64_t>(indexes.size()), n);
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(indexes[i], i) << "gap or duplicate";
  EXPECT_EQ(*log.size(), n);
  const auto leaves = leaf_hashes_of(log);
  ASSERT_EQ(static_cast<int64_t>(leaves.size()), n);
  EXPECT_EQ(*log.root_hash_hex(n), hex_encode(crypto::root_hash(leaves)));
}

TEST_P(TransparencyLogTest, TwoThreadsOnOneLogAppendWithoutGapsOrDuplicates) {
  SystemClock clock;
  TransparencyLog log(db(), new_key(), "secplat.test/log", clock);
  const auto indexes = append_concurrently({&log, &log}, 200);
  expect_gapless_and_matching(log, indexes, 400);
}

TEST_P(TransparencyLogTest, TwoProcessesOnOneDatabaseAppendWithoutGapsOrDuplicates) {
  SystemClock clock;
  const auto key = new_key();
  auto second_db = env_->open_again();
  ASSERT_NE(second_db, nullptr);
  TransparencyLog a(db(), key, "secplat.test/log", clock);
  TransparencyLog b(*second_db, key, "secplat.test/log", clock);
  const auto indexes = append_concurrently({&a, &b}, 200);
  expect_gapless_and_matching(a, indexes, 400);
  EXPECT_EQ(*b.root_hash_hex(400), *a.root_hash_hex(400));
}

TEST_P(TransparencyLogTest, TamperedRowsAreCaughtByTheProofCheck) {
  ManualClock clock(kStart);
  const auto key = new_key();
  TransparencyLog log(db(), key, "secplat.test/log", clock);
  for (int i = 0; i < 10; ++i) must_append(log, i);
  auto cp = log.checkpoint();
  ASSERT_TRUE(cp.ok());
  auto verify = [&](int64_t i) {
    auto entry = log.at(i);
    if (!entry.ok()) return Status(entry.error());  // unreadable counts as caught too
    auto proof = log.inclusion_proof(i, cp->tree_size);
    if (!proof.ok()) return Status(proof.error());
    return verify_entry_inclusion(*entry, *proof, *cp, key.public_pem);
  };
  for (int64_t i = 0; i < 10; ++i) ASSERT_TRUE(verify(i).ok());

  // 1. The body edited in place.
  Json forged = body_for(3);
  forged["ok"] = true;
  ASSERT_TRUE(db().exec("UPDATE transparency_entries SET body = $1 WHERE idx = 3", {*canonical_json(forged)}).ok());
  EXPECT_FALSE(verify(3).ok());
  // 2. The body and its leaf hash edited together: the tree still remembers the real leaf.
  auto e5 = log.at(5);
  ASSERT_TRUE(e5.ok());
  e5->body["n"] = 555;
  const std::string forged_leaf = hex_encode(crypto::leaf_hash(*entry_leaf_bytes(*e5)));
  ASSERT_TRUE(db().exec("UPDATE transparency_entries SET body = $1, leaf_hash = $2 WHERE idx = 5",
                        {*canonical_json(e5->body), forged_leaf})
                  .ok());
  auto reread = log.at(5);
  ASSERT_TRUE(reread.ok());
  EXPECT_EQ(reread->body["n"], 555);
  const Status forged_status = verify(5);
  ASSERT_FALSE(forged_status.ok());
  EXPECT_EQ(forged_status.error().message, "inclusion proof does not verify against the checkpoint");
  // 3. Metadata outside the body (the subject) is covered by the leaf too.
  ASSERT_TRUE(db().exec("UPDATE transparency_entries SET subject = 'scan:someone_else' WHERE idx = 7").ok());
  EXPECT_FALSE(verify(7).ok());
  // Untouched entries still verify.
  for (int64_t i : {0, 1, 2, 4, 6, 8, 9}) EXPECT_TRUE(verify(i).ok()) << i;
}

TEST_P(TransparencyLogTest, ReopeningContinuesTheSameTree) {
  ManualClock clock(kStart);
  const auto key = new_key();
  Checkpoint before;
  {
    TransparencyLog log(db(), key, "secplat.test/log", clock);
    for (int i = 0; i < 7; ++i) must_append(log, i);
    auto cp = log.checkpoint();
    ASSERT_TRUE(cp.ok());
    before = *cp;
  }
  auto reopened_db = env_->open_again();
  ASSERT_NE(reopened_db, nullptr);
  TransparencyLog log(*reopened_db, key, "secplat.test/log", clock);
  auto cp7 = log.checkpoint();
  ASSERT_TRUE(cp7.ok());
  EXPECT_EQ(cp7->signature_b64, before.signature_b64);
  for (int i = 7; i < 12; ++i) EXPECT_EQ(must_append(log, i).index, i);
  auto after = log.checkpoint();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->tree_size, 12);
  auto proof = log.consistency_proof(7, 12);
  ASSERT_TRUE(proof.ok());
  EXPECT_TRUE(crypto::verify_consistency(7, 12, unhex(before.root_hash_hex), unhex(after->root_hash_hex),
                                         unhex_all(proof->hashes_hex)));
  EXPECT_EQ(*log.root_hash_hex(12), hex_encode(crypto::root_hash(leaf_hashes_of(log))));
}

TEST_P(TransparencyLogTest, ListFiltersByKindSubjectAndSignerWithTotals) {
  ManualClock clock(kStart);
  TransparencyLog log(db(), new_key(), "secplat.test/log", clock);
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(log.append(i % 3 == 0 ? "signature" : "permit", "scan:test_" + std::to_string(i % 5), body_for(i),
                           i % 2 ? "key:odd" : "")
                    .ok());
  }
  auto all = log.list({}, 10, 0);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->total, 30);
  ASSERT_EQ(all->entries.size(), 10u);
  EXPECT_EQ(all->entries.front().index, 0);
  auto page = log.list({}, 10, 25);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->entries.size(), 5u);
  EXPECT_EQ(page->entries.front().index, 25);

  auto sigs = log.list({.kind = "signature"}, 100, 0);
  ASSERT_TRUE(sigs.ok());
  EXPECT_EQ(sigs->total, 10);
  for (const auto& e : sigs->entries) EXPECT_EQ(e.index % 3, 0);

  auto subject = log.list({.kind = "permit", .subject = "scan:test_1"}, 100, 0);
  ASSERT_TRUE(subject.ok());
  std::vector<int64_t> idx;
  for (const auto& e : subject->entries) idx.push_back(e.index);
  EXPECT_EQ(idx, (std::vector<int64_t>{1, 11, 16, 26}));
  EXPECT_EQ(subject->total, 4);

  auto signed_by = log.list({.signer = "key:odd"}, 3, 3);
  ASSERT_TRUE(signed_by.ok());
  EXPECT_EQ(signed_by->total, 15);
  ASSERT_EQ(signed_by->entries.size(), 3u);
  EXPECT_EQ(signed_by->entries.front().index, 7);

  EXPECT_EQ(log.list({}, 10, -1).error().code, Errc::bad_request);
}

TEST_P(TransparencyLogTest, BadInputIsRefusedAndNothingIsWritten) {
  ManualClock clock(kStart);
  TransparencyLog log(db(), new_key(), "secplat.test/log", clock);
  EXPECT_EQ(log.append("", "s", Json::object()).error().code, Errc::validation);
  EXPECT_EQ(log.append("Permit", "s", Json::object()).error().code, Errc::validation);
  EXPECT_EQ(log.append("permit", "", Json::object()).error().code, Errc::validation);
  EXPECT_EQ(log.append("permit", std::string(513, 's'), Json::object()).error().code, Errc::validation);
  EXPECT_EQ(log.append("permit", "s", Json{{"x", std::nan("")}}).error().code, Errc::validation);
  EXPECT_EQ(log.append("permit", "s", Json{{"x", std::string("\xff\xfe")}}).error().code, Errc::validation);
  EXPECT_EQ(log.append("permit", "s", Json{{"x", std::string(TransparencyLog::kMaxBodyBytes, 'a')}}).error().code,
            Errc::too_large);
  EXPECT_EQ(*log.size(), 0);
  auto ok = log.append("permit", "s", Json::object());
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->index, 0);
}

}  // namespace
}  // namespace secplat::trust
