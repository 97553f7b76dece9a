#include "objects/object_store.h"

#include <openssl/evp.h>

#include <memory>

#include "core/encoding.h"

namespace secplat::objects {

namespace {

constexpr std::size_t kMaxKeyBytes = 1024;
constexpr std::size_t kMaxMetadataBytes = 2048;
constexpr std::size_t kMaxMetadataKeyBytes = 128;

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// Printable ASCII without leading, trailing or repeated spaces: what survives an HTTP header
// round trip (and SigV4's whitespace folding) unchanged.
bool is_header_safe(std::string_view v) {
  if (v.empty()) return false;  // curl 7.88 signs an empty header as "name;" in SignedHeaders
  for (std::size_t i = 0; i < v.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(v[i]);
    if (c < 0x20 || c > 0x7e) return false;
    if (c == ' ' && (i == 0 || i + 1 == v.size() || v[i - 1] == ' ')) return false;
  }
  return true;
}

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

}  // namespace

Status validate_bucket(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63)
    return Error::bad_request("invalid bucket name '" + std::string(bucket) + "': must be 3 to 63 characters");
  for (char c : bucket) {
    if (!is_lower_alnum(c) && c != '.' && c != '-')
      return Error::bad_request("invalid bucket name '" + std::string(bucket) +
                                "': only lower-case letters, digits, '.' and '-' are allowed");
  }
  if (!is_lower_alnum(bucket.front()) || !is_lower_alnum(bucket.back()))
    return Error::bad_request("invalid bucket name '" + std::string(bucket) +
                              "': must start and end with a letter or digit");
  return ok_status();
}

Status validate_key(std::string_view key) {
  // The key is quoted in messages only once it is known to be printable UTF-8.
  if (key.empty()) return Error::bad_request("invalid object key: empty");
  if (key.size() > kMaxKeyBytes)
    return Error::bad_request("invalid object key: " + std::to_string(key.size()) + " bytes, at most 1024 allowed");
  if (!is_valid_utf8(key)) return Error::bad_request("invalid object key: not valid UTF-8");
  for (char c : key) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return Error::bad_request("invalid object key: contains a control character");
  }
  const std::string quoted = "'" + std::string(key) + "'";
  if (key.front() == '/') return Error::bad_request("invalid object key " + quoted + ": starts with '/'");
  if (key.back() == '/') return Error::bad_request("invalid object key " + quoted + ": ends with '/'");
  std::size_t start = 0;
  while (start <= key.size()) {
    std::size_t end = key.find('/', start);
    if (end == std::string_view::npos) end = key.size();
    const std::string_view segment = key.substr(start, end - start);
    if (segment.empty()) return Error::bad_request("invalid object key " + quoted + ": empty path segment ('//')");
    if (segment == "." || segment == "..")
      return Error::bad_request("invalid object key " + quoted + ": '" + std::string(segment) +
                                "' path segments are not allowed");
    start = end + 1;
  }
  return ok_status();
}

Status validate_metadata(const Metadata& meta) {
  std::size_t total = 0;
  for (const auto& [k, v] : meta) {
    if (k.empty() || k.size() > kMaxMetadataKeyBytes)
      return Error::bad_request("invalid metadata key '" + k + "': must be 1 to 128 characters");
    for (char c : k) {
      if (!is_lower_alnum(c) && c != '-' && c != '_')
        return Error::bad_request("invalid metadata key '" + k + "': only a-z, 0-9, '-' and '_' are allowed");
    }
    if (!is_header_safe(v))
      return Error::bad_request("invalid value for metadata key '" + k +
                                "': must be non-empty printable ASCII without leading, trailing or repeated spaces");
    total += k.size() + v.size();
  }
  if (total > kMaxMetadataBytes)
    return Error::bad_request("metadata too large: " + std::to_string(total) + " bytes, at most 2048 allowed");
  return ok_status();
}

Status validate_content_type(std::string_view content_type) {
  if (content_type.empty()) return ok_status();  // the default
  if (content_type.size() > 256 || !is_header_safe(content_type))
    return Error::bad_request("invalid content type: must be at most 256 printable ASCII characters");
  return ok_status();
}

Result<std::string> read_whole(ObjectStore& store, const std::string& bucket, const std::string& key,
                               std::size_t max_bytes, const std::string& what) {
  std::string out;
  bool too_large = false;
  Status s = store.read(bucket, key, [&](std::string_view chunk) {
    if (out.size() + chunk.size() > max_bytes) {
      too_large = true;
      return false;
    }
    out.append(chunk);
    return true;
  });
  if (too_large) return Error::too_large("object " + what + " is larger than " + std::to_string(max_bytes) + " bytes");
  if (!s.ok()) return std::move(s).take_error();
  return out;
}

Result<std::string> sha256_hex_of(ObjectStore& store, const std::string& bucket, const std::string& key) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return Error::internal("sha256 unavailable");
  SECPLAT_TRY(store.read(bucket, key, [&](std::string_view chunk) {
    return EVP_DigestUpdate(ctx.get(), chunk.data(), chunk.size()) == 1;
  }));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1) return Error::internal("sha256 failed");
  return hex_encode(std::string_view(reinterpret_cast<const char*>(digest), len));
}

}  // namespace secplat::objects
