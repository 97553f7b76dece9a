#include "objects/fs_object_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <utility>

#include "core/encoding.h"
#include "core/ids.h"
#include "core/json.h"
#include "http/client.h"

namespace secplat::objects {

namespace {

constexpr std::size_t kChunk = 256 * 1024;
constexpr const char* kMetaDir = ".meta";
constexpr const char* kTmpDir = ".tmp";

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

class Md5 {
 public:
  Md5() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_.get(), EVP_md5(), nullptr); }
  void update(const void* data, std::size_t n) { EVP_DigestUpdate(ctx_.get(), data, n); }
  std::string hex() {
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_.get(), d, &len);
    return hex_encode(std::string_view(reinterpret_cast<const char*>(d), len));
  }

 private:
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx_;
};

std::string errno_text(int e) { return std::strerror(e); }

std::vector<std::string> split_key(const std::string& key) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    std::size_t end = key.find('/', start);
    out.push_back(key.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

std::string describe(const std::string& bucket, const std::string& key) { return bucket + "/" + key; }

Error name_too_long(const std::string& what) {
  return Error::bad_request(what + ": a key segment is longer than the filesystem allows (255 bytes)");
}

// Opens (optionally creating) directory `name` under `parent` without following a symlink.
Result<Fd> open_dir(int parent, const std::string& name, bool create, const std::string& what) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    int fd = ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) return Fd(fd);
    const int e = errno;
    if (e == ENOENT && create && attempt == 0) {
      if (::mkdirat(parent, name.c_str(), 0755) != 0 && errno != EEXIST) {
        if (errno == ENAMETOOLONG) return name_too_long(what);
        return Error::internal("cannot create directory for " + what + ": " + errno_text(errno));
      }
      continue;
    }
    if (e == ENAMETOOLONG) return create ? name_too_long(what) : Error::not_found(what + " not found");
    if (e == ENOENT) return Error::not_found(what + " not found");
    if (e == ELOOP) return Error::forbidden(what + ": refusing to follow a symbolic link in its path");
    if (e == ENOTDIR) {
      // Either a symlink (O_NOFOLLOW on a link to a file) or a regular file where a directory is needed.
      struct stat st{};
      if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
        return Error::forbidden(what + ": refusing to follow a symbolic link in its path");
      if (create) return Error::conflict(what + ": a parent path segment is already an object");
      return Error::not_found(what + " not found");
    }
    return Error::internal("cannot open directory for " + what + ": " + errno_text(e));
  }
  return Error::internal("cannot open directory for " + what);
}

// Walks `segments` (directories only) from `base`, keeping every level's fd (for pruning).
Result<std::vector<Fd>> walk(int base, const std::vector<std::string>& segments, bool create, const std::string& what) {
  std::vector<Fd> chain;
  int parent = base;
  for (const auto& s : segments) {
    auto fd = open_dir(parent, s, create, what);
    if (!fd.ok()) return std::move(fd).take_error();
    chain.push_back(std::move(*fd));
    parent = chain.back().get();
  }
  return chain;
}

Status write_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Error::internal("write failed: " + errno_text(errno));
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return ok_status();
}

// Copies src to dst, hashing what passes.
Status copy_fd(int src, int dst, Md5& md5, int64_t& size) {
  std::string buf(kChunk, '\0');
  while (true) {
    ssize_t r = ::read(src, buf.data(), buf.size());
    if (r < 0) {
      if (errno == EINTR) continue;
      return Error::internal("read failed: " + errno_text(errno));
    }
    if (r == 0) return ok_status();
    md5.update(buf.data(), static_cast<std::size_t>(r));
    size += r;
    SECPLAT_TRY(write_all(dst, buf.data(), static_cast<std::size_t>(r)));
  }
}

// Streams an open file to sink.
Status stream_fd(int fd, const std::function<bool(std::string_view)>& sink, const std::string& what) {
  std::string buf(kChunk, '\0');
  while (true) {
    ssize_t r = ::read(fd, buf.data(), buf.size());
    if (r < 0) {
      if (errno == EINTR) continue;
      return Error::internal("cannot read " + what + ": " + errno_text(errno));
    }
    if (r == 0) return ok_status();
    if (!sink(std::string_view(buf.data(), static_cast<std::size_t>(r))))
      return Error::internal("read of " + what + " stopped by the caller");
  }
}

struct Sidecar {
  std::string content_type = "application/octet-stream";
  Metadata metadata;
  int64_t size = -1;
  std::string etag;
  uint64_t ino = 0;
};

std::string meta_hash(const std::string& key) { return sha256_hex(key); }

std::vector<std::string> meta_dirs(const std::string& bucket, const std::string& key) {
  return {kMetaDir, bucket, meta_hash(key).substr(0, 2)};
}

std::string meta_name(const std::string& key) { return meta_hash(key) + ".json"; }

std::optional<Sidecar> read_sidecar(int root_fd, const std::string& bucket, const std::string& key) {
  auto dirs = walk(root_fd, meta_dirs(bucket, key), false, "metadata");
  if (!dirs.ok()) return std::nullopt;
  Fd fd(::openat(dirs->back().get(), meta_name(key).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) return std::nullopt;
  std::string text;
  std::string buf(16384, '\0');
  while (text.size() < (1u << 20)) {
    ssize_t r = ::read(fd.get(), buf.data(), buf.size());
    if (r <= 0) break;
    text.append(buf.data(), static_cast<std::size_t>(r));
  }
  Json j = Json::parse(text, nullptr, false);
  if (!j.is_object() || j.value("key", "") != key) return std::nullopt;
  Sidecar s;
  s.content_type = j.value("content_type", "application/octet-stream");
  s.size = j.value("size", int64_t{-1});
  s.etag = j.value("etag", "");
  s.ino = j.value("ino", uint64_t{0});
  if (j.contains("metadata") && j["metadata"].is_object())
    for (auto it = j["metadata"].begin(); it != j["metadata"].end(); ++it)
      if (it->is_string()) s.metadata[it.key()] = it->get<std::string>();
  return s;
}

// The sidecar describes this data file only if it was written with it.
bool sidecar_matches(const Sidecar& s, const struct stat& st) {
  return s.ino == static_cast<uint64_t>(st.st_ino) && s.size == static_cast<int64_t>(st.st_size);
}

}  // namespace

struct FsObjectStore::Staged {
  Md5 md5;
  int64_t size = 0;
};

FsObjectStore::FsObjectStore(const std::string& root_dir) {
  std::error_code ec;
  std::filesystem::create_directories(root_dir, ec);
  if (ec) {
    init_ = Error::internal("object store root " + root_dir + " cannot be created: " + ec.message());
    return;
  }
  root_ = std::filesystem::canonical(root_dir, ec).string();
  if (ec) {
    init_ = Error::internal("object store root " + root_dir + " cannot be resolved: " + ec.message());
    return;
  }
  root_fd_ = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd_ < 0) {
    init_ = Error::internal("object store root " + root_ + " cannot be opened: " + errno_text(errno));
    return;
  }
  auto tmp = open_dir(root_fd_, kTmpDir, true, "object store temp directory");
  if (!tmp.ok()) {
    init_ = std::move(tmp).take_error();
    return;
  }
  tmp_fd_ = tmp->release();
}

FsObjectStore::~FsObjectStore() {
  if (tmp_fd_ >= 0) ::close(tmp_fd_);
  if (root_fd_ >= 0) ::close(root_fd_);
}

Status FsObjectStore::put_staged(const std::string& bucket, const std::string& key, const std::string& content_type,
                                 const Metadata& meta,
                                 const std::function<Status(int fd, Staged& staged)>& fill) {
  if (!init_.ok()) return init_;
  SECPLAT_TRY(validate_bucket(bucket));
  SECPLAT_TRY(validate_key(key));
  SECPLAT_TRY(validate_metadata(meta));
  SECPLAT_TRY(validate_content_type(content_type));
  const std::string what = describe(bucket, key);

  const std::string data_tmp = "d-" + random_hex(12);
  const std::string meta_tmp = "m-" + random_hex(12);
  bool data_staged = false, meta_staged = false;
  auto cleanup = [&] {
    if (data_staged) ::unlinkat(tmp_fd_, data_tmp.c_str(), 0);
    if (meta_staged) ::unlinkat(tmp_fd_, meta_tmp.c_str(), 0);
  };

  Staged staged;
  struct stat st{};
  {
    Fd fd(::openat(tmp_fd_, data_tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644));
    if (fd.get() < 0) return Error::internal("cannot stage " + what + ": " + errno_text(errno));
    data_staged = true;
    Status filled = fill(fd.get(), staged);
    if (filled.ok() && ::fsync(fd.get()) != 0) filled = Error::internal("cannot sync " + what + ": " + errno_text(errno));
    if (filled.ok() && ::fstat(fd.get(), &st) != 0) filled = Error::internal("cannot stat " + what);
    if (!filled.ok()) {
      cleanup();
      return filled;
    }
  }

  Json side = {{"key", key},
               {"content_type", content_type.empty() ? "application/octet-stream" : content_type},
               {"metadata", Json::object()},
               {"size", staged.size},
               {"etag", staged.md5.hex()},
               {"ino", static_cast<uint64_t>(st.st_ino)}};
  for (const auto& [k, v] : meta) side["metadata"][k] = v;
  {
    Fd fd(::openat(tmp_fd_, meta_tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644));
    if (fd.get() < 0) {
      cleanup();
      return Error::internal("cannot stage metadata of " + what + ": " + errno_text(errno));
    }
    meta_staged = true;
    const std::string text = side.dump();
    Status written = write_all(fd.get(), text.data(), text.size());
    if (written.ok() && ::fsync(fd.get()) != 0) written = Error::internal("cannot sync metadata of " + what);
    if (!written.ok()) {
      cleanup();
      return written;
    }
  }

  std::unique_lock lock(mu_);
  const std::vector<std::string> segments = split_key(key);
  std::vector<std::string> dirs{bucket};
  dirs.insert(dirs.end(), segments.begin(), segments.end() - 1);
  auto chain = walk(root_fd_, dirs, true, what);
  if (!chain.ok()) {
    cleanup();
    return std::move(chain).take_error();
  }
  auto mchain = walk(root_fd_, meta_dirs(bucket, key), true, "metadata of " + what);
  if (!mchain.ok()) {
    cleanup();
    return std::move(mchain).take_error();
  }
  if (::renameat(tmp_fd_, data_tmp.c_str(), chain->back().get(), segments.back().c_str()) != 0) {
    const int e = errno;
    cleanup();
    if (e == EISDIR || e == ENOTEMPTY || e == EEXIST)
      return Error::conflict(what + ": the key is already a directory of other objects");
    if (e == ENAMETOOLONG) return name_too_long(what);
    return Error::internal("cannot store " + what + ": " + errno_text(e));
  }
  data_staged = false;
  if (::renameat(tmp_fd_, meta_tmp.c_str(), mchain->back().get(), meta_name(key).c_str()) != 0) {
    const int e = errno;
    cleanup();
    return Error::internal("cannot store metadata of " + what + ": " + errno_text(e));
  }
  return ok_status();
}

Status FsObjectStore::put_file(const std::string& bucket, const std::string& key, const std::string& path,
                               const std::string& content_type, const Metadata& meta) {
  Fd src(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (src.get() < 0) return Error::not_found("cannot read " + path + ": " + errno_text(errno));
  return put_staged(bucket, key, content_type, meta,
                    [&](int fd, Staged& s) { return copy_fd(src.get(), fd, s.md5, s.size); });
}

Status FsObjectStore::put_bytes(const std::string& bucket, const std::string& key, std::string_view bytes,
                                const std::string& content_type, const Metadata& meta) {
  return put_staged(bucket, key, content_type, meta, [&](int fd, Staged& s) {
    s.md5.update(bytes.data(), bytes.size());
    s.size = static_cast<int64_t>(bytes.size());
    return write_all(fd, bytes.data(), bytes.size());
  });
}

Result<int> FsObjectStore::open_object(const std::string& bucket, const std::string& key) {
  const std::string what = "object " + describe(bucket, key);
  const std::vector<std::string> segments = split_key(key);
  std::vector<std::string> dirs{bucket};
  dirs.insert(dirs.end(), segments.begin(), segments.end() - 1);
  auto chain = walk(root_fd_, dirs, false, what);
  if (!chain.ok()) return std::move(chain).take_error();
  int fd = ::openat(chain->back().get(), segments.back().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    if (e == ENOENT || e == ENOTDIR || e == ENAMETOOLONG) return Error::not_found(what + " not found");
    if (e == ELOOP) return Error::forbidden(what + " is a symbolic link (not followed)");
    return Error::internal("cannot open " + what + ": " + errno_text(e));
  }
  Fd owned(fd);
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return Error::not_found(what + " not found");
  return owned.release();
}

Result<ObjectInfo> FsObjectStore::head(const std::string& bucket, const std::string& key) {
  if (!init_.ok()) return init_.error();
  SECPLAT_TRY(validate_bucket(bucket));
  SECPLAT_TRY(validate_key(key));
  ObjectInfo info{bucket, key, 0, "", "application/octet-stream", {}};
  Fd fd;
  std::optional<Sidecar> side;
  {
    std::shared_lock lock(mu_);
    auto opened = open_object(bucket, key);
    if (!opened.ok()) return std::move(opened).take_error();
    fd = Fd(*opened);
    side = read_sidecar(root_fd_, bucket, key);
  }
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return Error::internal("cannot stat " + describe(bucket, key));
  info.size = static_cast<int64_t>(st.st_size);
  if (side && sidecar_matches(*side, st)) {
    info.etag = side->etag;
    info.content_type = side->content_type;
    info.metadata = side->metadata;
  } else {
    // Written outside the store, or a crash between the renames: the content is all we know.
    Md5 md5;
    SECPLAT_TRY(stream_fd(fd.get(), [&](std::string_view c) { md5.update(c.data(), c.size()); return true; },
                          describe(bucket, key)));
    info.etag = md5.hex();
  }
  return info;
}

Status FsObjectStore::read(const std::string& bucket, const std::string& key,
                           const std::function<bool(std::string_view)>& sink) {
  if (!init_.ok()) return init_;
  SECPLAT_TRY(validate_bucket(bucket));
  SECPLAT_TRY(validate_key(key));
  Fd fd;
  {
    std::shared_lock lock(mu_);
    auto opened = open_object(bucket, key);
    if (!opened.ok()) return std::move(opened).take_error();
    fd = Fd(*opened);
  }
  return stream_fd(fd.get(), sink, describe(bucket, key));
}

Result<std::string> FsObjectStore::get(const std::string& bucket, const std::string& key, std::size_t max_bytes) {
  return read_whole(*this, bucket, key, max_bytes, describe(bucket, key));
}

Status FsObjectStore::copy(const std::string& src_bucket, const std::string& src_key, const std::string& dst_bucket,
                           const std::string& dst_key, const Metadata& meta) {
  if (!init_.ok()) return init_;
  SECPLAT_TRY(validate_bucket(src_bucket));
  SECPLAT_TRY(validate_key(src_key));
  auto src_info = head(src_bucket, src_key);
  if (!src_info.ok()) return std::move(src_info).take_error();
  Fd src;
  {
    std::shared_lock lock(mu_);
    auto opened = open_object(src_bucket, src_key);
    if (!opened.ok()) return std::move(opened).take_error();
    src = Fd(*opened);
  }
  return put_staged(dst_bucket, dst_key, src_info->content_type, meta,
                    [&](int fd, Staged& s) { return copy_fd(src.get(), fd, s.md5, s.size); });
}

Result<std::vector<ObjectInfo>> FsObjectStore::list(const std::string& bucket, const std::string& prefix) {
  if (!init_.ok()) return init_.error();
  SECPLAT_TRY(validate_bucket(bucket));
  std::vector<ObjectInfo> out;
  std::shared_lock lock(mu_);
  auto bucket_fd = open_dir(root_fd_, bucket, false, "bucket " + bucket);
  if (!bucket_fd.ok()) {
    if (bucket_fd.error().code == Errc::not_found) return out;  // created on first write
    return std::move(bucket_fd).take_error();
  }
  // Depth-first over directories that can hold keys starting with `prefix`; symlinks are skipped.
  struct Pending {
    Fd fd;
    std::string path;  // key prefix of this directory: "" or "a/b/"
  };
  std::vector<Pending> stack;
  stack.push_back({std::move(*bucket_fd), ""});
  while (!stack.empty()) {
    Pending dir = std::move(stack.back());
    stack.pop_back();
    int dup_fd = ::dup(dir.fd.get());
    if (dup_fd < 0) return Error::internal("cannot list bucket " + bucket + ": " + errno_text(errno));
    DIR* d = ::fdopendir(dup_fd);
    if (d == nullptr) {
      ::close(dup_fd);
      return Error::internal("cannot list bucket " + bucket + ": " + errno_text(errno));
    }
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      const std::string path = dir.path + name;
      struct stat st{};
      if (::fstatat(dir.fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // removed meanwhile
      if (S_ISDIR(st.st_mode)) {
        const std::string sub = path + "/";
        if (!(sub.starts_with(prefix) || prefix.starts_with(sub))) continue;
        int fd = ::openat(dir.fd.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) stack.push_back({Fd(fd), sub});
      } else if (S_ISREG(st.st_mode) && path.starts_with(prefix) && validate_key(path).ok()) {
        ObjectInfo info{bucket, path, static_cast<int64_t>(st.st_size), "", "", {}};
        if (auto side = read_sidecar(root_fd_, bucket, path); side && sidecar_matches(*side, st)) {
          info.etag = side->etag;
          info.content_type = side->content_type;
        }
        out.push_back(std::move(info));
      }
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

Status FsObjectStore::remove(const std::string& bucket, const std::string& key) {
  if (!init_.ok()) return init_;
  SECPLAT_TRY(validate_bucket(bucket));
  SECPLAT_TRY(validate_key(key));
  const std::string what = describe(bucket, key);
  const std::vector<std::string> segments = split_key(key);
  std::vector<std::string> dirs{bucket};
  dirs.insert(dirs.end(), segments.begin(), segments.end() - 1);
  std::unique_lock lock(mu_);
  auto chain = walk(root_fd_, dirs, false, what);
  if (!chain.ok()) return chain.error().code == Errc::not_found ? ok_status() : Status(std::move(chain).take_error());
  if (::unlinkat(chain->back().get(), segments.back().c_str(), 0) != 0) {
    const int e = errno;
    // Missing, or a directory of other keys: either way no object of that name exists.
    if (e != ENOENT && e != EISDIR && e != EPERM && e != ENAMETOOLONG) return Error::internal("cannot remove " + what + ": " + errno_text(e));
  }
  if (auto mchain = walk(root_fd_, meta_dirs(bucket, key), false, "metadata"); mchain.ok())
    ::unlinkat(mchain->back().get(), meta_name(key).c_str(), 0);
  // Prune directories the key leaves empty (never the bucket itself); stops at the first non-empty one.
  for (std::size_t i = chain->size() - 1; i >= 1; --i) {
    if (::unlinkat((*chain)[i - 1].get(), dirs[i].c_str(), AT_REMOVEDIR) != 0) break;
  }
  return ok_status();
}

std::string FsObjectStore::uri(const std::string& bucket, const std::string& key) const {
  return "file://" + http::percent_encode(root_ + "/" + bucket + "/" + key, true);
}

std::unique_ptr<ObjectStore> make_fs_object_store(const std::string& root_dir) {
  return std::make_unique<FsObjectStore>(root_dir);
}

}  // namespace secplat::objects
