#include "crypto/merkle.h"

#include <bit>
#include <stdexcept>

#include "core/encoding.h"

namespace secplat::crypto {
namespace {

// The split point of MTH: the largest power of two strictly below n (n >= 2).
uint64_t split(uint64_t n) { return std::bit_floor(n - 1); }

bool is_hash(std::string_view h) { return h.size() == kMerkleHashSize; }

void path_ranges(uint64_t m, uint64_t begin, uint64_t end, std::vector<LeafRange>& out) {
  const uint64_t n = end - begin;
  if (n <= 1) return;
  const uint64_t k = split(n);
  if (m < k) {
    path_ranges(m, begin, begin + k, out);
    out.push_back({begin + k, end});
  } else {
    path_ranges(m - k, begin + k, end, out);
    out.push_back({begin, begin + k});
  }
}

// SUBPROOF(m, D[begin:end], complete) of RFC 6962 §2.1.2.
void subproof_ranges(uint64_t m, uint64_t begin, uint64_t end, bool complete, std::vector<LeafRange>& out) {
  const uint64_t n = end - begin;
  if (m == n) {
    if (!complete) out.push_back({begin, end});
    return;
  }
  const uint64_t k = split(n);
  if (m <= k) {
    subproof_ranges(m, begin, begin + k, complete, out);
    out.push_back({begin + k, end});
  } else {
    subproof_ranges(m - k, begin + k, end, false, out);
    out.push_back({begin, begin + k});
  }
}

bool is_aligned_subtree(uint64_t begin, uint64_t n) { return std::has_single_bit(n) && begin % n == 0; }

void collect_subtrees(uint64_t begin, uint64_t end, std::vector<SubtreeId>& out) {
  const uint64_t n = end - begin;
  if (is_aligned_subtree(begin, n)) {
    out.push_back({std::countr_zero(n), begin / n});
    return;
  }
  const uint64_t k = split(n);
  collect_subtrees(begin, begin + k, out);
  collect_subtrees(begin + k, end, out);
}

Result<std::string> compose(uint64_t begin, uint64_t end, const SubtreeHashFn& subtree) {
  const uint64_t n = end - begin;
  if (is_aligned_subtree(begin, n)) {
    auto h = subtree({std::countr_zero(n), begin / n});
    if (h.ok() && !is_hash(*h)) return Error::internal("subtree hash is not 32 bytes");
    return h;
  }
  const uint64_t k = split(n);
  auto left = compose(begin, begin + k, subtree);
  if (!left.ok()) return left;
  auto right = compose(begin + k, end, subtree);
  if (!right.ok()) return right;
  return node_hash(*left, *right);
}

std::string mth(const std::vector<std::string>& leaves, uint64_t begin, uint64_t end) {
  if (end - begin == 1) return leaves[begin];
  const uint64_t k = split(end - begin);
  return node_hash(mth(leaves, begin, begin + k), mth(leaves, begin + k, end));
}

Result<std::vector<std::string>> hashes_of(const std::vector<LeafRange>& ranges, const RangeHashFn& hash_of_range) {
  std::vector<std::string> out;
  out.reserve(ranges.size());
  for (const LeafRange& r : ranges) {
    auto h = hash_of_range(r.begin, r.end);
    if (!h.ok()) return std::move(h).take_error();
    if (!is_hash(*h)) return Error::internal("range hash is not 32 bytes");
    out.push_back(std::move(*h));
  }
  return out;
}

RangeHashFn in_memory(const std::vector<std::string>& leaves) {
  return [&leaves](uint64_t begin, uint64_t end) -> Result<std::string> { return mth(leaves, begin, end); };
}

}  // namespace

std::string leaf_hash(std::string_view data) {
  std::string buf;
  buf.reserve(data.size() + 1);
  buf.push_back('\x00');
  buf.append(data);
  return sha256(buf);
}

std::string node_hash(std::string_view left, std::string_view right) {
  std::string buf;
  buf.reserve(1 + left.size() + right.size());
  buf.push_back('\x01');
  buf.append(left);
  buf.append(right);
  return sha256(buf);
}

std::string empty_root_hash() { return sha256(""); }

std::string root_hash(const std::vector<std::string>& leaf_hashes) {
  if (leaf_hashes.empty()) return empty_root_hash();
  return mth(leaf_hashes, 0, leaf_hashes.size());
}

std::vector<std::string> inclusion_proof(const std::vector<std::string>& leaf_hashes, uint64_t index) {
  if (index >= leaf_hashes.size()) throw std::out_of_range("merkle inclusion_proof: index outside the tree");
  return inclusion_proof(index, leaf_hashes.size(), in_memory(leaf_hashes)).value();
}

std::vector<std::string> consistency_proof(const std::vector<std::string>& leaf_hashes, uint64_t m) {
  if (m > leaf_hashes.size()) throw std::out_of_range("merkle consistency_proof: m larger than the tree");
  return consistency_proof(m, leaf_hashes.size(), in_memory(leaf_hashes)).value();
}

std::vector<LeafRange> inclusion_proof_ranges(uint64_t index, uint64_t tree_size) {
  std::vector<LeafRange> out;
  if (index < tree_size) path_ranges(index, 0, tree_size, out);
  return out;
}

std::vector<LeafRange> consistency_proof_ranges(uint64_t m, uint64_t n) {
  std::vector<LeafRange> out;
  if (m > 0 && m < n) subproof_ranges(m, 0, n, true, out);
  return out;
}

std::vector<SubtreeId> range_subtrees(uint64_t begin, uint64_t end) {
  std::vector<SubtreeId> out;
  if (begin < end) collect_subtrees(begin, end, out);
  return out;
}

Result<std::string> range_hash(uint64_t begin, uint64_t end, const SubtreeHashFn& subtree) {
  if (begin == 0 && end == 0) return empty_root_hash();
  if (begin >= end) return Error::bad_request("empty leaf range");
  return compose(begin, end, subtree);
}

Result<std::vector<std::string>> inclusion_proof(uint64_t index, uint64_t tree_size, const RangeHashFn& hash_of_range) {
  if (index >= tree_size) return Error::bad_request("leaf index outside the tree");
  return hashes_of(inclusion_proof_ranges(index, tree_size), hash_of_range);
}

Result<std::vector<std::string>> consistency_proof(uint64_t m, uint64_t n, const RangeHashFn& hash_of_range) {
  if (m > n) return Error::bad_request("first tree size larger than the second");
  return hashes_of(consistency_proof_ranges(m, n), hash_of_range);
}

bool verify_inclusion(std::string_view leaf, uint64_t index, uint64_t tree_size, const std::vector<std::string>& proof,
                      std::string_view root) {
  if (index >= tree_size || !is_hash(leaf) || !is_hash(root)) return false;
  uint64_t fn = index;
  uint64_t sn = tree_size - 1;
  std::string r(leaf);
  for (const std::string& p : proof) {
    if (!is_hash(p) || sn == 0) return false;
    if ((fn & 1) == 1 || fn == sn) {
      r = node_hash(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

bool verify_consistency(uint64_t size1, uint64_t size2, std::string_view root1, std::string_view root2,
                        const std::vector<std::string>& proof) {
  if (!is_hash(root1) || !is_hash(root2) || size1 > size2) return false;
  if (size1 == size2) return proof.empty() && root1 == root2;
  if (size1 == 0) return proof.empty() && root1 == empty_root_hash();
  if (proof.empty()) return false;
  for (const std::string& p : proof)
    if (!is_hash(p)) return false;

  // Step 1: when size1 is a power of two, the old root is the first node of the path.
  std::vector<std::string_view> path;
  path.reserve(proof.size() + 1);
  if (std::has_single_bit(size1)) path.push_back(root1);
  for (const std::string& p : proof) path.push_back(p);

  uint64_t fn = size1 - 1;
  uint64_t sn = size2 - 1;
  while ((fn & 1) == 1) {
    fn >>= 1;
    sn >>= 1;
  }
  std::string fr(path[0]);
  std::string sr(path[0]);
  for (std::size_t i = 1; i < path.size(); ++i) {
    const std::string_view c = path[i];
    if (sn == 0) return false;
    if ((fn & 1) == 1 || fn == sn) {
      fr = node_hash(c, fr);
      sr = node_hash(c, sr);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = node_hash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && fr == root1 && sr == root2;
}

}  // namespace secplat::crypto
