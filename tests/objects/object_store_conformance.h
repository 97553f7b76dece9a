// The `ObjectStore` conformance suite: port-level behaviour every ObjectStore adapter must show.
//
// An adapter's test file instantiates it with a factory that builds a store on which the buckets
// `test` and `golden` can be written:
//
//   INSTANTIATE_TEST_SUITE_P(Filesystem, ObjectStoreConformance,
//                            ::testing::Values(ObjectStoreFactory{"filesystem", make_store}),
//                            object_store_factory_name);
//
// Every test writes under its own random key prefix, so adapters may share a server.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "core/ids.h"
#include "objects/object_store.h"

namespace secplat::objects {

struct ObjectStoreTestKnobs {
  int64_t multipart_threshold_bytes = 5ll << 20;
  int64_t part_size_bytes = 5ll << 20;
  int list_page_size = 100;  // so a few hundred objects take several pages
};

struct ObjectStoreFactory {
  std::string name;
  std::function<std::unique_ptr<ObjectStore>(const ObjectStoreTestKnobs&)> make;
};

inline void PrintTo(const ObjectStoreFactory& f, std::ostream* os) { *os << f.name; }

inline std::string object_store_factory_name(const ::testing::TestParamInfo<ObjectStoreFactory>& info) {
  return info.param.name;
}

class ObjectStoreConformance : public ::testing::TestWithParam<ObjectStoreFactory> {
 protected:
  void SetUp() override { store_ = GetParam().make(ObjectStoreTestKnobs{}); }

  // A key under this test's prefix.
  std::string k(const std::string& rest) const { return prefix_ + rest; }

  std::unique_ptr<ObjectStore> store_;
  const std::string bucket_ = "test";
  const std::string prefix_ = "conformance-" + random_hex(6) + "/";
};

// `bytes` pseudo-random bytes (deterministic for a seed), for content checks.
std::string test_bytes(std::size_t bytes, uint32_t seed);

// Writes `content` to a fresh temp file and returns its path; removed with the object.
class TempFile {
 public:
  explicit TempFile(const std::string& content);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace secplat::objects
