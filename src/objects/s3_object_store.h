// The S3 ObjectStore adapter: any S3-compatible endpoint (AWS, MinIO, Ceph, s3rver), path-style
// URLs `<endpoint>/<bucket>/<key>`, AWS Signature V4 computed by libcurl (http/client.h).
//
// Signing. libcurl 7.88 signs what it is given, so this adapter supplies what SigV4 needs and curl
// does not do (reference/stack.md 6.5): `x-amz-content-sha256` is the real hex sha256 of every
// payload (files and parts are hashed in a streaming pass before they are sent), query strings are
// emitted sorted by name and RFC 3986-encoded, and a valueless parameter is written "uploads=" as
// botocore canonicalises it. Signatures are checked byte for byte against botocore in
// tests/objects/s3_object_store_test.cpp.
//
// Requests: PutObject; multipart (Create → UploadPart × n → Complete, Abort on any failure) for
// put_file() above multipart_threshold_bytes; HeadObject; GetObject (streamed); CopyObject with
// MetadataDirective REPLACE (objects up to 5 GiB: S3's CopyObject limit); ListObjectsV2 with
// continuation tokens; DeleteObject.
//
// Retries: transport failures, 5xx, 429 and the codes SlowDown / RequestTimeout / InternalError
// are retried up to max_attempts with exponential backoff and full jitter (base 200 ms, cap 5 s);
// a streamed read is retried only while nothing has been handed to the sink yet.
//
// Threading: thread-safe; the store holds only immutable settings.
#pragma once

#include <string>

#include "core/config.h"
#include "http/client.h"
#include "objects/object_store.h"

namespace secplat::objects {

// Knobs beside S3Config, for tests.
struct S3Tuning {
  int list_page_size = 1000;  // max-keys of each ListObjectsV2 page
  int backoff_base_ms = 200;
  int backoff_cap_ms = 5000;
  long connect_timeout_ms = 5000;
};

class S3ObjectStore final : public ObjectStore {
 public:
  explicit S3ObjectStore(S3Config config, S3Tuning tuning = {});

  std::string kind() const override { return "s3"; }
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

 private:
  struct Request;
  // One request with retries; any status that is not retried is returned as a response.
  Result<http::ClientResponse> send(const Request& request) const;
  // send(), then a non-2xx status (or an <Error> document in a 200) mapped to an Error.
  Result<http::ClientResponse> call(const Request& request) const;
  Error to_error(const Request& request, const http::ClientResponse& response) const;
  Status put_multipart(const std::string& bucket, const std::string& key, const std::string& path, int64_t size,
                       const std::string& content_type, const Metadata& meta);

  S3Config config_;
  S3Tuning tuning_;
  std::string endpoint_;  // without a trailing '/'
  std::string host_;      // for messages
};

// Decodes the five XML entities and numeric character references (&#233; &#xE9;) of S3 XML text.
std::string xml_unescape(std::string_view text);

}  // namespace secplat::objects
