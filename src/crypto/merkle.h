// Merkle tree math of RFC 6962 §2.1 (Certificate Transparency) with the verifiers of RFC 9162
// §2.1.3.2 and §2.1.4.2. Pure functions, no I/O.
//
// Hashes are raw 32-byte strings (SHA-256). Leaves and interior nodes are domain-separated:
//   leaf_hash(d)    = SHA-256(0x00 || d)
//   node_hash(l, r) = SHA-256(0x01 || l || r)
// and MTH({}) = SHA-256("") for the empty tree.
//
// Proofs can be computed two ways: from all leaf hashes in memory (small trees, tests), or from a
// callback that returns MTH of a range of leaves, so a persisted log that keeps the hashes of
// complete, power-of-two-aligned subtrees answers in O(log n) reads. The ranges a proof asks for
// are always nodes of the tree's MTH recursion: either a complete aligned subtree or a range that
// ends at the tree's right edge and starts at a multiple of a power of two at least its size, so
// range_hash() resolves each of them from O(log n) stored subtrees.
//
// Thread-safe: no shared state.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace secplat::crypto {

inline constexpr std::size_t kMerkleHashSize = 32;

std::string leaf_hash(std::string_view data);
std::string node_hash(std::string_view left, std::string_view right);
std::string empty_root_hash();  // SHA-256 of the empty string

// MTH over leaf hashes (not leaf data). Empty input gives empty_root_hash().
std::string root_hash(const std::vector<std::string>& leaf_hashes);

// PATH(index, D[0:n]) of RFC 6962 §2.1.1, leaf to root. Throws std::out_of_range if
// index >= leaf_hashes.size() (a programming error: callers know their tree).
std::vector<std::string> inclusion_proof(const std::vector<std::string>& leaf_hashes, uint64_t index);

// PROOF(m, D[0:n]) of RFC 6962 §2.1.2. Empty for m == 0 or m == n. Throws std::out_of_range if
// m > leaf_hashes.size().
std::vector<std::string> consistency_proof(const std::vector<std::string>& leaf_hashes, uint64_t m);

// Leaves [begin, end) of a tree, end > begin.
struct LeafRange {
  uint64_t begin = 0;
  uint64_t end = 0;
  bool operator==(const LeafRange&) const = default;
};

// The complete subtree holding leaves [index << level, (index + 1) << level).
struct SubtreeId {
  int level = 0;
  uint64_t index = 0;
  bool operator==(const SubtreeId&) const = default;
};

// MTH of the leaves [begin, end). Errors are passed through unchanged.
using RangeHashFn = std::function<Result<std::string>(uint64_t begin, uint64_t end)>;
// The hash of one complete subtree (level 0 = a leaf hash). Errors are passed through unchanged.
using SubtreeHashFn = std::function<Result<std::string>(SubtreeId id)>;

// The ranges whose MTH make up PATH(index, size) / PROOF(m, n), in proof order. Preconditions as
// for the functions below (empty when they do not hold).
std::vector<LeafRange> inclusion_proof_ranges(uint64_t index, uint64_t tree_size);
std::vector<LeafRange> consistency_proof_ranges(uint64_t m, uint64_t n);

// The complete subtrees range_hash(begin, end, ...) asks for, left to right: one for an aligned
// power-of-two range, O(log n) for a right-edge range. Empty for begin >= end.
std::vector<SubtreeId> range_subtrees(uint64_t begin, uint64_t end);

// MTH of [begin, end) composed from subtree hashes along the MTH recursion. begin == end == 0
// gives empty_root_hash(); begin >= end otherwise is Errc::bad_request.
Result<std::string> range_hash(uint64_t begin, uint64_t end, const SubtreeHashFn& subtree);

// Proofs from a range-hash source. Errc::bad_request when index >= tree_size or m > n.
Result<std::vector<std::string>> inclusion_proof(uint64_t index, uint64_t tree_size, const RangeHashFn& hash_of_range);
Result<std::vector<std::string>> consistency_proof(uint64_t m, uint64_t n, const RangeHashFn& hash_of_range);

// RFC 9162 §2.1.3.2: true iff `proof` shows that `leaf` is leaf number `index` of a tree of
// `tree_size` leaves whose MTH is `root`. Every hash must be 32 bytes.
//
// The tree size is authenticated by whoever signs (size, root) together, not by the proof: a
// proof may also verify for another size whose tree has the same shape along the path.
bool verify_inclusion(std::string_view leaf, uint64_t index, uint64_t tree_size, const std::vector<std::string>& proof,
                      std::string_view root);

// RFC 9162 §2.1.4.2: true iff `proof` shows the tree of size1 leaves with MTH root1 is a prefix of
// the tree of size2 leaves with MTH root2. size1 == size2 needs an empty proof and equal roots;
// size1 == 0 needs an empty proof and root1 == empty_root_hash(); size1 > size2 is false.
bool verify_consistency(uint64_t size1, uint64_t size2, std::string_view root1, std::string_view root2,
                        const std::vector<std::string>& proof);

}  // namespace secplat::crypto
