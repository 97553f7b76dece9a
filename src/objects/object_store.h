// ObjectStore: the port for artifact storage (scan bundles in the raw and golden buckets).
//
// Adapters: S3 (any S3-compatible endpoint, SigV4 over libcurl; s3_object_store.h) and the local
// filesystem (embedded mode and tests; fs_object_store.h). Domain code includes only this header.
//
// Names. A bucket is 3..63 characters of [a-z0-9.-], starting and ending with a letter or digit.
// A key is 1..1024 bytes of valid UTF-8 without control characters, does not start or end with
// '/', and has no empty, "." or ".." segment (so every key is also a safe relative file path).
// Metadata keys are 1..128 characters of [a-z0-9_-] (lower case: S3 lower-cases them anyway);
// values are non-empty printable ASCII without leading, trailing or repeated spaces (S3 would
// trim or fold them; curl 7.88 mis-signs an empty header); keys and values together are at most 2 KiB (S3's limit). A name that breaks these rules
// is refused with Errc::bad_request before anything is sent or written.
//
// Errors (Status/Result, never exceptions):
//   Errc::not_found    the object (or its bucket) does not exist; the message names bucket/key;
//   Errc::forbidden    credentials refused; the message carries S3's error code, never a secret;
//   Errc::bad_request  an invalid name, or a request the server rejected (S3's Code and Message);
//   Errc::too_large    get() of an object larger than max_bytes;
//   Errc::unavailable  the server stayed down or overloaded (5xx, 429, SlowDown, transport errors)
//                      after the adapter's retries; the message names the endpoint and last status;
//   Errc::conflict     (filesystem) the key collides with another key's directory ("a" vs "a/b");
//   Errc::internal     local I/O failure, or a read() stopped by its sink.
//
// Threading: every method may be called from any number of threads at once; adapters hold no
// per-call state. Calls block (network or disk I/O): never call them on an I/O thread. Writes of
// one key race like S3 PUTs do: the last complete write wins, and a reader sees either the old or
// the new object, never a mix.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/error.h"

namespace secplat::objects {

using Metadata = std::map<std::string, std::string>;  // user metadata (x-amz-meta-*), keys lower-case

struct ObjectInfo {
  std::string bucket, key;
  int64_t size = 0;
  std::string etag;          // without quotes
  std::string content_type;
  Metadata metadata;         // filled by head(), not by list()
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // "s3" or "filesystem".
  virtual std::string kind() const = 0;

  // Stores the file at `path` under bucket/key, replacing any object there. The file is streamed,
  // never loaded whole; S3 uploads files above the multipart threshold in parts, and aborts the
  // upload on failure so no partial object remains. An empty content_type means
  // "application/octet-stream".
  virtual Status put_file(const std::string& bucket, const std::string& key, const std::string& path,
                          const std::string& content_type, const Metadata& meta) = 0;
  virtual Status put_bytes(const std::string& bucket, const std::string& key, std::string_view bytes,
                           const std::string& content_type, const Metadata& meta) = 0;

  // Size, etag, content type and user metadata. Errc::not_found when missing.
  virtual Result<ObjectInfo> head(const std::string& bucket, const std::string& key) = 0;

  // Streams the object to `sink` chunk by chunk (never buffered whole). A sink returning false
  // stops the read; read() then returns Errc::internal.
  virtual Status read(const std::string& bucket, const std::string& key,
                      const std::function<bool(std::string_view)>& sink) = 0;

  // The whole object; Errc::too_large when it is larger than max_bytes.
  virtual Result<std::string> get(const std::string& bucket, const std::string& key, std::size_t max_bytes) = 0;

  // Server-side copy. The copy's user metadata is `meta` (S3 MetadataDirective REPLACE); its
  // content type is the source's.
  virtual Status copy(const std::string& src_bucket, const std::string& src_key, const std::string& dst_bucket,
                      const std::string& dst_key, const Metadata& meta) = 0;

  // Every object whose key starts with `prefix` (all pages), sorted by key (byte order).
  virtual Result<std::vector<ObjectInfo>> list(const std::string& bucket, const std::string& prefix) = 0;

  // Deletes bucket/key; a missing object is not an error.
  virtual Status remove(const std::string& bucket, const std::string& key) = 0;

  // Where the object lives, for records and messages: "s3://bucket/key" (key as is) or
  // "file:///abs/root/bucket/key" (percent-encoded, RFC 8089).
  virtual std::string uri(const std::string& bucket, const std::string& key) const = 0;
};

// get() in terms of read(): the whole object, Errc::too_large (naming `what`) past max_bytes.
// Adapters whose transport has nothing better use it for get().
Result<std::string> read_whole(ObjectStore& store, const std::string& bucket, const std::string& key,
                               std::size_t max_bytes, const std::string& what);

// Streams the object and returns its sha256 hex (for re-verification before promotion).
Result<std::string> sha256_hex_of(ObjectStore& store, const std::string& bucket, const std::string& key);

// Factory used by app/: S3 adapter when config.endpoint is set.
std::unique_ptr<ObjectStore> make_s3_object_store(const S3Config& config);
// Bucket = sub-directory of root_dir (created on first write).
std::unique_ptr<ObjectStore> make_fs_object_store(const std::string& root_dir);

// The name rules above, shared by the adapters. Errc::bad_request naming the offending part.
Status validate_bucket(std::string_view bucket);
Status validate_key(std::string_view key);
Status validate_metadata(const Metadata& meta);
Status validate_content_type(std::string_view content_type);

}  // namespace secplat::objects
