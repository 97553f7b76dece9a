// The ObjectStore conformance suite on the filesystem adapter, and what only that adapter promises:
// no escape from the root, no symlink following, atomic writes, sidecar consistency.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/encoding.h"
#include "objects/fs_object_store.h"
#include "objects/object_store_conformance.h"

namespace secplat::objects {
namespace {

namespace fs = std::filesystem;

// A store together with its temporary root, removed when the store goes.
class StoreWithRoot final : public ObjectStore {
 public:
  StoreWithRoot() : root_("/tmp/secplat-fs-objects-" + random_hex(6)), store_(std::make_unique<FsObjectStore>(root_)) {}
  ~StoreWithRoot() override {
    store_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  std::string kind() const override { return store_->kind(); }
  Status put_file(const std::string& b, const std::string& k, const std::string& p, const std::string& ct,
                  const Metadata& m) override {
    return store_->put_file(b, k, p, ct, m);
  }
  Status put_bytes(const std::string& b, const std::string& k, std::string_view bytes, const std::string& ct,
                   const Metadata& m) override {
    return store_->put_bytes(b, k, bytes, ct, m);
  }
  Result<ObjectInfo> head(const std::string& b, const std::string& k) override { return store_->head(b, k); }
  Status read(const std::string& b, const std::string& k, const std::function<bool(std::string_view)>& s) override {
    return store_->read(b, k, s);
  }
  Result<std::string> get(const std::string& b, const std::string& k, std::size_t max) override {
    return store_->get(b, k, max);
  }
  Status copy(const std::string& sb, const std::string& sk, const std::string& db, const std::string& dk,
              const Metadata& m) override {
    return store_->copy(sb, sk, db, dk, m);
  }
  Result<std::vector<ObjectInfo>> list(const std::string& b, const std::string& p) override {
    return store_->list(b, p);
  }
  Status remove(const std::string& b, const std::string& k) override { return store_->remove(b, k); }
  std::string uri(const std::string& b, const std::string& k) const override { return store_->uri(b, k); }

 private:
  std::string root_;
  std::unique_ptr<FsObjectStore> store_;
};

INSTANTIATE_TEST_SUITE_P(Filesystem, ObjectStoreConformance,
                         ::testing::Values(ObjectStoreFactory{
                             "filesystem", [](const ObjectStoreTestKnobs&) -> std::unique_ptr<ObjectStore> {
                               return std::make_unique<StoreWithRoot>();
                             }}),
                         object_store_factory_name);

class FsObjectStoreTest : public ::testing::Test {
 protected:
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
    fs::remove_all(outside_, ec);
  }
  std::string root_ = "/tmp/secplat-fs-objects-" + random_hex(6);
  std::string outside_ = "/tmp/secplat-fs-outside-" + random_hex(6);
  std::unique_ptr<FsObjectStore> store_ = std::make_unique<FsObjectStore>(root_);
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(FsObjectStoreTest, LayoutIsBucketDirectoryAndPlainFile) {
  ASSERT_TRUE(store_->put_bytes("raw", "security-scans/t1/incoming/scan.json", "{}", "application/json",
                                {{"test_id", "t1"}})
                  .ok());
  EXPECT_EQ(slurp(root_ + "/raw/security-scans/t1/incoming/scan.json"), "{}");
  EXPECT_EQ(store_->uri("raw", "security-scans/t1/incoming/scan.json"),
            "file://" + fs::canonical(root_).string() + "/raw/security-scans/t1/incoming/scan.json");
  EXPECT_EQ(store_->kind(), "filesystem");
}

TEST_F(FsObjectStoreTest, SymlinkedDirectoryInsideTheTreeIsNotFollowed) {
  fs::create_directories(outside_);
  fs::create_directories(root_ + "/test");
  fs::create_directory_symlink(outside_, root_ + "/test/escape");

  Status put = store_->put_bytes("test", "escape/planted.txt", "x", "", {});
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.error().code, Errc::forbidden);
  EXPECT_NE(put.error().message.find("symbolic link"), std::string::npos) << put.error().message;
  EXPECT_FALSE(fs::exists(outside_ + "/planted.txt")) << "wrote outside the root";

  std::ofstream(outside_ + "/secret.txt") << "outside";
  auto got = store_->get("test", "escape/secret.txt", 100);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, Errc::forbidden);

  auto listed = store_->list("test", "");
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty()) << "list followed the link to " << (*listed)[0].key;
}

TEST_F(FsObjectStoreTest, SymlinkedObjectIsNotRead) {
  fs::create_directories(outside_);
  std::ofstream(outside_ + "/secret.txt") << "outside";
  fs::create_directories(root_ + "/test");
  fs::create_symlink(outside_ + "/secret.txt", root_ + "/test/link.txt");
  auto got = store_->get("test", "link.txt", 100);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, Errc::forbidden);
  EXPECT_FALSE(store_->head("test", "link.txt").ok());
  // Overwriting replaces the link itself, never the file it points to.
  ASSERT_TRUE(store_->put_bytes("test", "link.txt", "inside", "", {}).ok());
  EXPECT_EQ(slurp(outside_ + "/secret.txt"), "outside");
  EXPECT_EQ(*store_->get("test", "link.txt", 100), "inside");
}

TEST_F(FsObjectStoreTest, SymlinkedBucketIsRefused) {
  fs::create_directories(outside_);
  fs::create_directory_symlink(outside_, root_ + "/golden");
  Status put = store_->put_bytes("golden", "x", "x", "", {});
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.error().code, Errc::forbidden);
  EXPECT_TRUE(fs::is_empty(outside_));
}

TEST_F(FsObjectStoreTest, FailedWritesLeaveNothingBehind) {
  Status missing = store_->put_file("test", "a/b", "/nonexistent/file", "", {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
  ASSERT_TRUE(store_->put_bytes("test", "a/b", "one", "", {}).ok());
  Status conflict = store_->put_bytes("test", "a/b/c", "two", "", {});
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code, Errc::conflict);
  Status conflict2 = store_->put_bytes("test", "a", "three", "", {});
  ASSERT_FALSE(conflict2.ok());
  EXPECT_EQ(conflict2.error().code, Errc::conflict);
  EXPECT_TRUE(fs::is_empty(root_ + "/.tmp")) << "temp files left behind";
  EXPECT_EQ(*store_->get("test", "a/b", 10), "one");
}

TEST_F(FsObjectStoreTest, RemovePrunesEmptyDirectoriesButKeepsTheBucket) {
  ASSERT_TRUE(store_->put_bytes("test", "d1/d2/d3/obj", "x", "", {}).ok());
  ASSERT_TRUE(store_->put_bytes("test", "d1/keep", "x", "", {}).ok());
  ASSERT_TRUE(store_->remove("test", "d1/d2/d3/obj").ok());
  EXPECT_FALSE(fs::exists(root_ + "/test/d1/d2"));
  EXPECT_TRUE(fs::exists(root_ + "/test/d1/keep"));
  ASSERT_TRUE(store_->remove("test", "d1/keep").ok());
  EXPECT_FALSE(fs::exists(root_ + "/test/d1"));
  EXPECT_TRUE(fs::is_directory(root_ + "/test"));
  // "d1" is now neither an object nor a directory; removing a directory of keys removes nothing.
  ASSERT_TRUE(store_->put_bytes("test", "e/f", "x", "", {}).ok());
  ASSERT_TRUE(store_->remove("test", "e").ok());
  EXPECT_TRUE(store_->head("test", "e/f").ok());
}

TEST_F(FsObjectStoreTest, FileReplacedBehindTheStoresBackLosesItsSidecar) {
  ASSERT_TRUE(store_->put_bytes("test", "obj", "original", "text/plain", {{"k", "v"}}).ok());
  // Another program swaps the data file (new inode), as a crash between the two renames would leave it.
  const std::string path = root_ + "/test/obj";
  std::ofstream(path + ".new") << "replaced!";
  fs::rename(path + ".new", path);
  auto info = store_->head("test", "obj");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size, 9);
  EXPECT_TRUE(info->metadata.empty()) << "metadata of the old content reported for the new";
  EXPECT_EQ(info->content_type, "application/octet-stream");
  EXPECT_EQ(info->etag.size(), 32u);
  EXPECT_NE(info->etag, "");
}

TEST_F(FsObjectStoreTest, EtagIsMd5OfContent) {
  ASSERT_TRUE(store_->put_bytes("test", "obj", "hello", "", {}).ok());
  EXPECT_EQ(store_->head("test", "obj")->etag, "5d41402abc4b2a76b9719d911017c592");
  auto listed = store_->list("test", "");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].etag, "5d41402abc4b2a76b9719d911017c592");
}

TEST_F(FsObjectStoreTest, SegmentLongerThanTheFilesystemAllowsIsABadRequest) {
  Status s = store_->put_bytes("test", std::string(300, 'x'), "x", "", {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::bad_request);
  EXPECT_EQ(store_->head("test", std::string(300, 'x')).error().code, Errc::not_found);
}

TEST_F(FsObjectStoreTest, UnusableRootFailsEveryCall) {
  std::ofstream(outside_) << "a file, not a directory";
  FsObjectStore bad(outside_ + "/root");
  Status s = bad.put_bytes("test", "k", "x", "", {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::internal);
  EXPECT_FALSE(bad.head("test", "k").ok());
  EXPECT_FALSE(bad.list("test", "").ok());
}

}  // namespace
}  // namespace secplat::objects
