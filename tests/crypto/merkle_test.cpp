// RFC 6962 Merkle tree math: the Certificate Transparency reference vectors, then exhaustive
// properties for every tree of up to 64 leaves.
//
// The eight leaf inputs, the roots of every tree size 1..8, the node hashes and the inclusion and
// consistency paths below are the RFC 6962 reference data published by transparency-dev
// (github.com/transparency-dev/merkle: testonly/constants.go and proof/verify_test.go; the same
// vectors as Certificate Transparency's merkle_tree_unittest). Inclusion vectors there number
// leaves from 1; here indexes are 0-based.
#include "crypto/merkle.h"

#include <gtest/gtest.h>

#include <bit>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/encoding.h"

namespace secplat::crypto {
namespace {

std::string unhex(std::string_view h) {
  auto raw = hex_decode(h);
  if (!raw) throw std::invalid_argument("bad hex in test vector");
  return *raw;
}

std::vector<std::string> unhex_all(const std::vector<std::string>& hs) {
  std::vector<std::string> out;
  for (const auto& h : hs) out.push_back(unhex(h));
  return out;
}

const std::vector<std::string>& reference_leaves() {
  static const std::vector<std::string> leaves = unhex_all({
      "",
      "00",
      "10",
      "2021",
      "3031",
      "40414243",
      "5051525354555657",
      "606162636465666768696a6b6c6d6e6f",
  });
  return leaves;
}

std::vector<std::string> reference_leaf_hashes() {
  std::vector<std::string> out;
  for (const auto& d : reference_leaves()) out.push_back(leaf_hash(d));
  return out;
}

// Roots of the trees made of the first 1..8 reference leaves.
const std::vector<std::string> kRoots = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

std::string root_of(uint64_t size) { return unhex(kRoots.at(size - 1)); }

TEST(MerkleVectors, EmptyTreeIsSha256OfNothing) {
  EXPECT_EQ(hex_encode(root_hash({})), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(empty_root_hash(), root_hash({}));
}

TEST(MerkleVectors, LeafHashesOfTheReferenceInputs) {
  const std::vector<std::string> want = {
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
      "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
      "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
      "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
  };
  const auto hashes = reference_leaf_hashes();
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(hex_encode(hashes[i]), want[i]) << "leaf " << i;
  // Level-1 node over leaves 2 and 3, from the same reference.
  EXPECT_EQ(hex_encode(node_hash(hashes[2], hashes[3])),
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e");
}

TEST(MerkleVectors, RootOfEveryTreeSizeOneToEight) {
  const auto all = reference_leaf_hashes();
  for (uint64_t n = 1; n <= 8; ++n) {
    std::vector<std::string> prefix(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_EQ(hex_encode(root_hash(prefix)), kRoots[n - 1]) << "size " << n;
  }
}

struct PathVector {
  uint64_t index;
  uint64_t size;
  std::vector<std::string> path;
};

TEST(MerkleVectors, KnownInclusionPaths) {
  const std::vector<PathVector> vectors = {
      {0, 1, {}},
      {0, 8,
       {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
      {5, 8,
       {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
      {2, 3, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
      {1, 5,
       {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
  };
  const auto all = reference_leaf_hashes();
  for (const auto& v : vectors) {
    std::vector<std::string> tree(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(v.size));
    const auto proof = inclusion_proof(tree, v.index);
    EXPECT_EQ(proof, unhex_all(v.path)) << "leaf " << v.index << " of " << v.size;
    EXPECT_TRUE(verify_inclusion(all[v.index], v.index, v.size, unhex_all(v.path), root_of(v.size)));
  }
}

struct ConsistencyVector {
  uint64_t size1;
  uint64_t size2;
  std::vector<std::string> proof;
};

TEST(MerkleVectors, KnownConsistencyProofs) {
  const std::vector<ConsistencyVector> vectors = {
      {1, 1, {}},
      {1, 8,
       {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
      {6, 8,
       {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
      {2, 5,
       {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
      {6, 7,
       {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
  };
  const auto all = reference_leaf_hashes();
  for (const auto& v : vectors) {
    std::vector<std::string> tree(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(v.size2));
    EXPECT_EQ(consistency_proof(tree, v.size1), unhex_all(v.proof)) << v.size1 << " -> " << v.size2;
    EXPECT_TRUE(verify_consistency(v.size1, v.size2, root_of(v.size1), root_of(v.size2), unhex_all(v.proof)));
  }
}

TEST(MerkleVectors, EdgeCasesOfTheVerifiers) {
  const std::string some = unhex("abacaba000000000000000000000000000000000000000000060061e00123456");
  const std::string empty = empty_root_hash();
  // Inclusion: no leaf is in an empty tree; an index past the end never verifies.
  EXPECT_FALSE(verify_inclusion(some, 0, 0, {}, empty));
  EXPECT_FALSE(verify_inclusion(some, 1, 1, {}, some));
  EXPECT_TRUE(verify_inclusion(some, 0, 1, {}, some));
  EXPECT_FALSE(verify_inclusion(some, 0, 1, {}, empty));
  EXPECT_FALSE(verify_inclusion("short", 0, 1, {}, "short"));  // not 32-byte hashes
  // Consistency.
  EXPECT_TRUE(verify_consistency(0, 0, empty, empty, {}));
  EXPECT_TRUE(verify_consistency(0, 5, empty, root_of(5), {}));
  EXPECT_FALSE(verify_consistency(0, 5, some, root_of(5), {}));
  EXPECT_FALSE(verify_consistency(0, 5, empty, root_of(5), {empty}));
  EXPECT_TRUE(verify_consistency(3, 3, root_of(3), root_of(3), {}));
  EXPECT_FALSE(verify_consistency(3, 3, root_of(3), root_of(4), {}));
  EXPECT_FALSE(verify_consistency(3, 3, root_of(3), root_of(3), {empty}));
  EXPECT_FALSE(verify_consistency(4, 3, root_of(4), root_of(3), {}));
  EXPECT_FALSE(verify_consistency(1, 2, root_of(1), root_of(2), {}));  // a proof is needed
}

TEST(MerkleVectors, ProofGeneratorsRejectImpossibleArguments) {
  const auto all = reference_leaf_hashes();
  EXPECT_THROW(inclusion_proof(all, 8), std::out_of_range);
  EXPECT_THROW(consistency_proof(all, 9), std::out_of_range);
  RangeHashFn never = [](uint64_t, uint64_t) -> Result<std::string> { return Error::internal("unused"); };
  EXPECT_EQ(inclusion_proof(3, 3, never).error().code, Errc::bad_request);
  EXPECT_EQ(consistency_proof(4, 3, never).error().code, Errc::bad_request);
  EXPECT_EQ(range_hash(2, 2, [](SubtreeId) -> Result<std::string> { return std::string(32, 'x'); }).error().code,
            Errc::bad_request);
  // A failing source is reported, not turned into a proof.
  EXPECT_EQ(inclusion_proof(0, 8, never).error().message, "unused");
}

// ---- exhaustive properties over every tree of up to 64 leaves ----

constexpr uint64_t kMaxLeaves = 64;

std::vector<std::string> tree_of(uint64_t n) {
  std::vector<std::string> out;
  for (uint64_t i = 0; i < n; ++i) out.push_back(leaf_hash("leaf " + std::to_string(i)));
  return out;
}

std::string flip_bit(std::string h, std::size_t byte, int bit) {
  h[byte] = static_cast<char>(h[byte] ^ (1 << bit));
  return h;
}

// Subtree hashes computed directly from the leaves, to drive the range-based generators.
SubtreeHashFn subtrees_of(const std::vector<std::string>& leaves) {
  return [&leaves](SubtreeId id) -> Result<std::string> {
    const uint64_t size = uint64_t{1} << id.level;
    std::vector<std::string> part(leaves.begin() + static_cast<std::ptrdiff_t>(id.index * size),
                                  leaves.begin() + static_cast<std::ptrdiff_t>((id.index + 1) * size));
    return root_hash(part);
  };
}

TEST(MerkleProperties, RangeHashFromSubtreesEqualsRootOfEveryPrefix) {
  const auto leaves = tree_of(kMaxLeaves);
  const auto subtree = subtrees_of(leaves);
  for (uint64_t n = 0; n <= kMaxLeaves; ++n) {
    std::vector<std::string> prefix(leaves.begin(), leaves.begin() + static_cast<std::ptrdiff_t>(n));
    auto h = range_hash(0, n, subtree);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(*h, root_hash(prefix)) << n;
    // A root needs one stored subtree per set bit of n.
    if (n > 0) {
      EXPECT_EQ(range_subtrees(0, n).size(), static_cast<std::size_t>(std::popcount(n)));
    }
  }
}

TEST(MerkleProperties, EveryInclusionProofVerifiesAndEveryCorruptionFails) {
  const std::string other_root = leaf_hash("not a root");
  for (uint64_t n = 1; n <= kMaxLeaves; ++n) {
    const auto leaves = tree_of(n);
    const std::string root = root_hash(leaves);
    const auto subtree = subtrees_of(leaves);
    const RangeHashFn by_range = [&](uint64_t b, uint64_t e) { return range_hash(b, e, subtree); };
    for (uint64_t i = 0; i < n; ++i) {
      const auto proof = inclusion_proof(leaves, i);
      SCOPED_TRACE("leaf " + std::to_string(i) + " of " + std::to_string(n));
      ASSERT_TRUE(verify_inclusion(leaves[i], i, n, proof, root));
      // The range-based generator yields the same path.
      auto ranged = inclusion_proof(i, n, by_range);
      ASSERT_TRUE(ranged.ok());
      EXPECT_EQ(*ranged, proof);
      // Path length is the depth of the leaf: never more than ceil(log2 n).
      EXPECT_LE(proof.size(), static_cast<std::size_t>(std::bit_width(n - 1)));

      for (std::size_t k = 0; k < proof.size(); ++k) {
        for (int bit : {0, 7}) {
          auto bad = proof;
          bad[k] = flip_bit(bad[k], k % kMerkleHashSize, bit);
          EXPECT_FALSE(verify_inclusion(leaves[i], i, n, bad, root)) << "flipped bit in proof[" << k << "]";
        }
      }
      for (std::size_t byte : {std::size_t{0}, std::size_t{31}}) {
        EXPECT_FALSE(verify_inclusion(flip_bit(leaves[i], byte, 3), i, n, proof, root));
        EXPECT_FALSE(verify_inclusion(leaves[i], i, n, proof, flip_bit(root, byte, 3)));
      }
      EXPECT_FALSE(verify_inclusion(leaves[i], i, n, proof, other_root));
      for (uint64_t j = 0; j < n; ++j) {
        if (j != i) {
          EXPECT_FALSE(verify_inclusion(leaves[i], j, n, proof, root)) << "wrong index " << j;
        }
      }
      EXPECT_FALSE(verify_inclusion(leaves[i], n, n, proof, root));
      EXPECT_FALSE(verify_inclusion(leaves[i], i, n * 2, proof, root)) << "size * 2";
      if (n / 2 != n) {
        EXPECT_FALSE(verify_inclusion(leaves[i], i, n / 2, proof, root)) << "size / 2";
      }
      if (!proof.empty()) {
        EXPECT_FALSE(verify_inclusion(leaves[i], i, n, {proof.begin(), proof.end() - 1}, root)) << "truncated";
        EXPECT_FALSE(verify_inclusion(leaves[i], i, n, {proof.begin() + 1, proof.end()}, root)) << "head dropped";
      }
      auto longer = proof;
      longer.push_back(root);
      EXPECT_FALSE(verify_inclusion(leaves[i], i, n, longer, root)) << "trailing hash";
      auto prefixed = proof;
      prefixed.insert(prefixed.begin(), leaves[i]);
      EXPECT_FALSE(verify_inclusion(leaves[i], i, n, prefixed, root)) << "leading hash";
    }
  }
}

TEST(MerkleProperties, EveryConsistencyProofVerifiesAndEveryCorruptionFails) {
  const auto all = tree_of(kMaxLeaves);
  std::vector<std::string> roots;  // roots[s] = root of the first s leaves
  for (uint64_t s = 0; s <= kMaxLeaves; ++s)
    roots.push_back(root_hash({all.begin(), all.begin() + static_cast<std::ptrdiff_t>(s)}));
  const auto subtree = subtrees_of(all);
  const RangeHashFn by_range = [&](uint64_t b, uint64_t e) { return range_hash(b, e, subtree); };

  for (uint64_t n = 1; n <= kMaxLeaves; ++n) {
    const std::vector<std::string> leaves(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n));
    for (uint64_t m = 0; m <= n; ++m) {
      SCOPED_TRACE(std::to_string(m) + " -> " + std::to_string(n));
      const auto proof = consistency_proof(leaves, m);
      ASSERT_TRUE(verify_consistency(m, n, roots[m], roots[n], proof));
      auto ranged = consistency_proof(m, n, by_range);
      ASSERT_TRUE(ranged.ok());
      EXPECT_EQ(*ranged, proof);
      if (m == 0 || m == n) {
        EXPECT_TRUE(proof.empty());
        continue;
      }
      ASSERT_FALSE(proof.empty());
      // Never longer than the inclusion path of the old tree's last leaf plus one.
      EXPECT_LE(proof.size(), static_cast<std::size_t>(std::bit_width(n - 1)) + 1);

      for (std::size_t k = 0; k < proof.size(); ++k) {
        auto bad = proof;
        bad[k] = flip_bit(bad[k], (k * 7) % kMerkleHashSize, 4);
        EXPECT_FALSE(verify_consistency(m, n, roots[m], roots[n], bad)) << "flipped bit in proof[" << k << "]";
      }
      EXPECT_FALSE(verify_consistency(m, n, flip_bit(roots[m], 0, 0), roots[n], proof)) << "root1";
      EXPECT_FALSE(verify_consistency(m, n, roots[m], flip_bit(roots[n], 31, 1), proof)) << "root2";
      EXPECT_FALSE(verify_consistency(m, n, roots[n], roots[m], proof)) << "swapped roots";
      EXPECT_FALSE(verify_consistency(m, n, roots[m], roots[n], {proof.begin(), proof.end() - 1})) << "truncated";
      EXPECT_FALSE(verify_consistency(m, n, roots[m], roots[n], {proof.begin() + 1, proof.end()})) << "head dropped";
      auto longer = proof;
      longer.push_back(roots[n]);
      EXPECT_FALSE(verify_consistency(m, n, roots[m], roots[n], longer)) << "trailing hash";
      auto prefixed = proof;
      prefixed.insert(prefixed.begin(), proof.front());
      EXPECT_FALSE(verify_consistency(m, n, roots[m], roots[n], prefixed)) << "leading hash";
      EXPECT_FALSE(verify_consistency(m, n, roots[m], roots[n], {})) << "empty proof";
      // Another old size, claimed with that size's true root, with this proof.
      for (uint64_t m2 = 1; m2 < n; ++m2) {
        if (m2 != m) {
          EXPECT_FALSE(verify_consistency(m2, n, roots[m2], roots[n], proof)) << "size1 " << m2;
        }
      }
      if (n * 2 <= kMaxLeaves) {
        EXPECT_FALSE(verify_consistency(m, n * 2, roots[m], roots[n], proof)) << "size2 * 2";
      }
      if (n / 2 >= m && n / 2 != n) {
        EXPECT_FALSE(verify_consistency(m, n / 2, roots[m], roots[n], proof)) << "size2 / 2";
      }
    }
  }
}

}  // namespace
}  // namespace secplat::crypto
