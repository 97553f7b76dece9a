// The filesystem ObjectStore adapter: embedded mode and tests.
//
// Layout under the root directory:
//   <bucket>/<key>                              the object's bytes, a plain file
//   .meta/<bucket>/<h[0:2]>/<h>.json            sidecar, h = sha256 hex of the key: content type,
//                                               user metadata, size, etag and the data file's inode
//   .tmp/                                       files being written
// Bucket names cannot start with '.', so the two service directories never clash with a bucket.
//
// Safety: every path is opened relative to the root with O_NOFOLLOW at each step, so neither a
// key (validated: no "..", no leading '/') nor a symbolic link planted inside the tree can reach
// outside the root; a symbolic link met on the way is refused (Errc::forbidden), never followed.
//
// Atomicity: data and sidecar are written to .tmp, fsynced, then renamed into place under the
// store's lock, so a reader in this process sees the old or the new object, never a mix. A crash
// between the two renames leaves new data with the old sidecar; head() notices (the inode does not
// match), recomputes the etag and reports no metadata. Several processes may share a root, but
// then the data/sidecar pairing is only as good as that inode check.
//
// Differences from S3 a caller may notice: buckets are created on first write (list() of a bucket
// never written is empty rather than not_found); a key cannot be both an object and the directory
// of another key ("a" and "a/b"): the second write fails with Errc::conflict; the etag is the MD5
// hex of the content (as S3 gives for single-part uploads).
#pragma once

#include <memory>
#include <shared_mutex>
#include <string>

#include "objects/object_store.h"

namespace secplat::objects {

class FsObjectStore final : public ObjectStore {
 public:
  // Creates root_dir if needed. If that fails, every call returns the error.
  explicit FsObjectStore(const std::string& root_dir);
  ~FsObjectStore() override;
  FsObjectStore(const FsObjectStore&) = delete;
  FsObjectStore& operator=(const FsObjectStore&) = delete;

  std::string kind() const override { return "filesystem"; }
  Status put_file(const std::string& bucket, const std::string& key, const std::string& path,
                  const std::string& content_type, const Metadata& meta) override;
  Status put_bytes(const std::string& bucket, const std::string& key, std::string_view bytes,
                   const std::string& content_type, const Metadata& meta) override;
  Result<ObjectInfo> head(const std::string& bucket, const std::string& key) override;
  Status read(const std::string& bucket, const std::string& key,
              const std::function<bool(std::string_view)>& sink) override;
  Result<std::string> get(const std::string& bucket, const std::string& key, std::size_t max_bytes) override;
  Status copy(const std::string& src_bucket, const std::string& src_key, const std::string& dst_bucket,
              const std::string& dst_key, const Metadata& meta) override;
  Result<std::vector<ObjectInfo>> list(const std::string& bucket, const std::string& prefix) override;
  Status remove(const std::string& bucket, const std::string& key) override;
  std::string uri(const std::string& bucket, const std::string& key) const override;

  // The absolute root directory.
  const std::string& root() const { return root_; }

 private:
  struct Staged;
  // Writes fill()'s bytes to a temp file, then the sidecar, then renames both into place.
  Status put_staged(const std::string& bucket, const std::string& key, const std::string& content_type,
                    const Metadata& meta, const std::function<Status(int fd, Staged& staged)>& fill);
  Result<int> open_object(const std::string& bucket, const std::string& key);  // shared lock held by caller

  std::string root_;
  int root_fd_ = -1;
  int tmp_fd_ = -1;
  Status init_;
  // Exclusive for renames and removals (short), shared while a path is resolved and opened.
  mutable std::shared_mutex mu_;
};

}  // namespace secplat::objects
