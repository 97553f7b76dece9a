#include "objects/s3_object_store.h"

#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <thread>
#include <utility>

#include "core/encoding.h"

namespace secplat::objects {

namespace {

constexpr const char* kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr int64_t kMinPartBytes = 5ll << 20;  // S3's minimum for every part but the last
constexpr int64_t kMaxParts = 10000;

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct FileClose {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

// Hex sha256 of bytes [offset, offset+length) of a file, read in chunks.
Result<std::string> sha256_hex_of_file(const std::string& path, int64_t offset, int64_t length) {
  std::unique_ptr<std::FILE, FileClose> f(std::fopen(path.c_str(), "rb"));
  if (!f) return Error::not_found("cannot read " + path);
  if (std::fseek(f.get(), static_cast<long>(offset), SEEK_SET) != 0) return Error::internal("cannot seek in " + path);
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return Error::internal("sha256 unavailable");
  std::string buf(1 << 20, '\0');
  int64_t left = length;
  while (left > 0) {
    const std::size_t want = static_cast<std::size_t>(std::min<int64_t>(left, static_cast<int64_t>(buf.size())));
    const std::size_t got = std::fread(buf.data(), 1, want, f.get());
    if (got == 0) return Error::internal("cannot read " + path + ": it is shorter than expected");
    EVP_DigestUpdate(ctx.get(), buf.data(), got);
    left -= static_cast<int64_t>(got);
  }
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), d, &len);
  return hex_encode(std::string_view(reinterpret_cast<const char*>(d), len));
}

// Inner texts of every <tag>…</tag> (or <tag attr=…>…</tag>, or <tag/>) in document order.
// S3's documents never nest an element inside one of the same name, which this relies on.
std::vector<std::string_view> xml_elements(std::string_view doc, std::string_view tag) {
  std::vector<std::string_view> out;
  const std::string open = "<" + std::string(tag);
  const std::string close = "</" + std::string(tag) + ">";
  std::size_t pos = 0;
  while ((pos = doc.find(open, pos)) != std::string_view::npos) {
    const std::size_t after = pos + open.size();
    if (after >= doc.size()) break;
    const char c = doc[after];
    if (c != '>' && c != ' ' && c != '/' && c != '\t' && c != '\n' && c != '\r') {
      pos = after;  // a longer tag name with this prefix
      continue;
    }
    const std::size_t gt = doc.find('>', after);
    if (gt == std::string_view::npos) break;
    if (doc[gt - 1] == '/') {
      out.emplace_back();
      pos = gt + 1;
      continue;
    }
    const std::size_t end = doc.find(close, gt + 1);
    if (end == std::string_view::npos) break;
    out.push_back(doc.substr(gt + 1, end - gt - 1));
    pos = end + close.size();
  }
  return out;
}

std::string xml_text(std::string_view doc, std::string_view tag) {
  auto all = xml_elements(doc, tag);
  return all.empty() ? std::string() : xml_unescape(all.front());
}

std::string xml_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string strip_quotes(std::string s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
  return s;
}

// name=value pairs RFC 3986-encoded and sorted by encoded name, then value: the form SigV4
// canonicalises to, which curl 7.88 signs verbatim.
std::string canonical_query(const std::vector<std::pair<std::string, std::string>>& query) {
  std::vector<std::pair<std::string, std::string>> enc;
  for (const auto& [k, v] : query) enc.emplace_back(http::percent_encode(k, false), http::percent_encode(v, false));
  std::sort(enc.begin(), enc.end());
  std::string out;
  for (const auto& [k, v] : enc) {
    if (!out.empty()) out += '&';
    out += k + "=" + v;
  }
  return out;
}

bool is_retryable_code(const std::string& code) {
  return code == "SlowDown" || code == "RequestTimeout" || code == "InternalError" || code == "ServiceUnavailable" ||
         code == "Throttling" || code == "RequestTimeTooSkewed";
}

int backoff_ms(int attempt, int base, int cap) {
  // Full jitter over [d/2, d], d = min(cap, base * 2^(attempt-1)).
  thread_local std::mt19937_64 rng{std::random_device{}()};
  int64_t d = base;
  for (int i = 1; i < attempt && d < cap; ++i) d *= 2;
  d = std::min<int64_t>(d, cap);
  std::uniform_int_distribution<int64_t> dist(d / 2, d);
  return static_cast<int>(dist(rng));
}

// A decimal size from a header or XML; 0 when absent or malformed (never throws).
int64_t parse_size(const std::string& text) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  return ec == std::errc() && ptr == text.data() + text.size() && v >= 0 ? v : 0;
}

std::string object_name(const std::string& bucket, const std::string& key) {
  return key.empty() ? "bucket " + bucket : "object " + bucket + "/" + key;
}

}  // namespace

std::string xml_unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out.push_back(text[i]);
      continue;
    }
    const std::size_t semi = text.find(';', i);
    if (semi == std::string_view::npos || semi - i > 10) {
      out.push_back('&');
      continue;
    }
    const std::string_view ent = text.substr(i + 1, semi - i - 1);
    if (ent == "amp") out.push_back('&');
    else if (ent == "lt") out.push_back('<');
    else if (ent == "gt") out.push_back('>');
    else if (ent == "quot") out.push_back('"');
    else if (ent == "apos") out.push_back('\'');
    else if (ent.size() > 1 && ent[0] == '#') {
      unsigned long cp = 0;
      const bool hex = ent[1] == 'x' || ent[1] == 'X';
      const std::string digits(ent.substr(hex ? 2 : 1));
      char* end = nullptr;
      cp = std::strtoul(digits.c_str(), &end, hex ? 16 : 10);
      if (digits.empty() || end == nullptr || *end != '\0' || !append_utf8(out, cp)) {
        out.append(text.substr(i, semi - i + 1));
      }
    } else {
      out.append(text.substr(i, semi - i + 1));  // unknown entity: keep as is
    }
    i = semi;
  }
  return out;
}

struct S3ObjectStore::Request {
  std::string method = "GET";
  std::string bucket;
  std::string key;  // empty for bucket-level requests
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string body_file;
  int64_t body_offset = 0;
  int64_t body_length = -1;
  std::string payload_sha256;  // hex; empty means sha256(body)
  std::function<bool(std::string_view)> sink;
  bool error_in_200 = false;  // CopyObject / CompleteMultipartUpload may answer 200 with <Error>
  std::string op;             // "PutObject", for messages
};

S3ObjectStore::S3ObjectStore(S3Config config, S3Tuning tuning) : config_(std::move(config)), tuning_(tuning) {
  endpoint_ = config_.endpoint;
  while (!endpoint_.empty() && endpoint_.back() == '/') endpoint_.pop_back();
  host_ = http::url_host(endpoint_);
  if (config_.max_attempts < 1) config_.max_attempts = 1;
}

Result<http::ClientResponse> S3ObjectStore::send(const Request& req) const {
  if (endpoint_.empty()) return Error::unavailable("S3 is not configured (s3.endpoint is empty)");
  http::ClientRequest cr;
  cr.method = req.method;
  cr.url = endpoint_ + "/" + req.bucket;
  if (!req.key.empty()) cr.url += "/" + http::percent_encode(req.key, true);
  if (!req.query.empty()) cr.url += "?" + canonical_query(req.query);
  cr.headers = req.headers;
  cr.headers.emplace_back("x-amz-content-sha256", !req.payload_sha256.empty() ? req.payload_sha256
                                                  : req.body.empty()          ? std::string(kEmptySha256)
                                                                              : sha256_hex(req.body));
  cr.body = req.body;
  cr.body_file = req.body_file;
  cr.body_offset = req.body_offset;
  cr.body_length = req.body_length;
  if (!config_.access_key_id.empty()) {
    cr.userpwd = config_.access_key_id + ":" + config_.secret_access_key;
    cr.aws_sigv4 = "aws:amz:" + config_.region + ":s3";
  }
  cr.timeout_ms = static_cast<long>(config_.timeout_s) * 1000;
  cr.connect_timeout_ms = tuning_.connect_timeout_ms;
  std::size_t delivered = 0;
  if (req.sink) {
    cr.sink = [&](std::string_view chunk) {
      delivered += chunk.size();
      return req.sink(chunk);
    };
  }

  const std::string what = req.op + " of " + object_name(req.bucket, req.key);
  std::string last;
  for (int attempt = 1; attempt <= config_.max_attempts; ++attempt) {
    if (attempt > 1) std::this_thread::sleep_for(std::chrono::milliseconds(
                         backoff_ms(attempt - 1, tuning_.backoff_base_ms, tuning_.backoff_cap_ms)));
    auto r = http::perform(cr);
    if (!r.ok()) {
      if (r.error().code != Errc::unavailable) return std::move(r).take_error();
      last = r.error().message;
      if (delivered > 0) break;  // part of the body already went to the caller
      continue;
    }
    const long status = r->status;
    const bool error_doc = status >= 300 || (req.error_in_200 && r->body.find("<Error>") != std::string::npos);
    const std::string code = error_doc ? xml_text(r->body, "Code") : "";
    if (status >= 500 || status == 429 || (error_doc && is_retryable_code(code))) {
      last = "HTTP " + std::to_string(status) + (code.empty() ? "" : " " + code);
      continue;
    }
    return r;
  }
  return Error::unavailable("S3 at " + host_ + " unavailable for " + what + " after " +
                            std::to_string(config_.max_attempts) + " attempt(s); last: " + last);
}

Result<http::ClientResponse> S3ObjectStore::call(const Request& req) const {
  auto r = send(req);
  if (!r.ok()) return r;
  const bool error_doc = r->status >= 300 || (req.error_in_200 && r->body.find("<Error>") != std::string::npos);
  if (!error_doc) return r;
  return to_error(req, *r);
}

Error S3ObjectStore::to_error(const Request& req, const http::ClientResponse& resp) const {
  const long status = resp.status;
  const std::string code = xml_text(resp.body, "Code");
  const std::string message = xml_text(resp.body, "Message");
  const std::string what = object_name(req.bucket, req.key);
  const std::string detail = (code.empty() ? "HTTP " + std::to_string(status) : code) +
                             (message.empty() ? "" : ": " + message);
  if (status == 404 || code == "NoSuchKey" || code == "NoSuchBucket" || code == "NoSuchUpload") {
    if (code == "NoSuchBucket") return Error::not_found("bucket " + req.bucket + " does not exist (" + req.op + ")");
    return Error::not_found(what + " not found");
  }
  if (status == 401 || status == 403)
    return Error::forbidden("S3 at " + host_ + " refused " + req.op + " of " + what + ": " + detail);
  return Error::bad_request("S3 at " + host_ + " rejected " + req.op + " of " + what + ": " + detail +
                            (code.empty() ? "" : " (HTTP " + std::to_string(status) + ")"));
}

namespace {

void add_put_headers(std::vector<std::pair<std::string, std::string>>& headers, const std::string& content_type,
                     const Metadata& meta) {
  headers.emplace_back("Content-Type", content_type.empty() ? "application/octet-stream" : content_type);
  for (const auto& [k, v] : meta) headers.emplace_back("x-amz-meta-" + k, v);
}

}  // namespace

Status S3ObjectStore::put_bytes(const std::string& bucket, const std::string& key, std::string_view bytes,
                                const std::string& content_type, const Metadata& meta) {
  SECPLAT_TRY(validate_bucket(bucket));
  SECPLAT_TRY(validate_key(key));
  SECPLAT_TRY(validate_metadata(meta));
  SECPLAT_TRY(validate_content_type(content_type));
  Request req;
  req.method = "PUT";
  req.op = "PutObject";
  req.bucket = bucket;
  req.key = key;
  req.body.assign(bytes);
  req.payload_sha256 = sha256_hex(bytes);
  add_put_headers(req.headers, content_type, meta);
  SECPLAT_TRY(call(req));
  return ok_status();
}

Status S3ObjectStore::put_file(const std::string& bucket, const std::string& key, const std::string& path,
                               const std::string& content_type, const Metadata& meta) {
  SECPLAT_TRY(validate_bucket(bucket));
  SECPLAT_TRY(validate_key(key));
  SECPLAT_TRY(validate_metadata(meta));
  SECPLAT_TRY(validate_content_type(content_type));
  std::error_code ec;
  const auto size = static_cast<int64_t>(std::filesystem::file_size(path, ec));
  if (ec) return Error::not_found("cannot read " + path + ": " + ec.message());
  if (size > config_.multipart_threshold_bytes && size > kMinPartBytes)
    return put_multipart(bucket, key, path, size, content_type, meta);
  auto hash = sha256_hex_of_file(path, 0, size);
  if (!hash.ok()) return std::move(hash).take_error();
  Request req;
  req.method = "PUT";
  req.op = "PutObject";
  req.bucket = bucket;
  req.key = key;
  req.body_file = path;
  req.body_offset = 0;
  req.body_length = size;
  req.payload_sha256 = *hash;
  add_put_headers(req.headers, content_type, meta);
  SECPLAT_TRY(call(req));
  return ok_status();
}

Status S3ObjectStore::put_multipart(const std::string& bucket, const std::string& key, const std::string& path,
                                    int64_t size, const std::string& content_type, const Metadata& meta) {
  int64_t part_size = std::max(config_.part_size_bytes, kMinPartBytes);
  if ((size + part_size - 1) / part_size > kMaxParts) part_size = (size + kMaxParts - 1) / kMaxParts;

  Request create;
  create.method = "POST";
  create.op = "CreateMultipartUpload";
  create.bucket = bucket;
  create.key = key;
  create.query = {{"uploads", ""}};
  add_put_headers(create.headers, content_type, meta);
  auto created = call(create);
  if (!created.ok()) return std::move(created).take_error();
  const std::string upload_id = xml_text(created->body, "UploadId");
  if (upload_id.empty())
    return Error::bad_request("S3 at " + host_ + " answered CreateMultipartUpload of " + object_name(bucket, key) +
                              " without an UploadId");

  auto upload_parts = [&]() -> Status {
    std::string complete = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
    int number = 0;
    for (int64_t offset = 0; offset < size; offset += part_size) {
      ++number;
      const int64_t length = std::min(part_size, size - offset);
      auto hash = sha256_hex_of_file(path, offset, length);
      if (!hash.ok()) return std::move(hash).take_error();
      Request part;
      part.method = "PUT";
      part.op = "UploadPart " + std::to_string(number);
      part.bucket = bucket;
      part.key = key;
      part.query = {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}};
      part.body_file = path;
      part.body_offset = offset;
      part.body_length = length;
      part.payload_sha256 = *hash;
      auto r = call(part);
      if (!r.ok()) return std::move(r).take_error();
      const std::string etag = r->header("etag");
      if (etag.empty())
        return Error::bad_request("S3 at " + host_ + " answered UploadPart " + std::to_string(number) + " of " +
                                  object_name(bucket, key) + " without an ETag");
      complete += "<Part><PartNumber>" + std::to_string(number) + "</PartNumber><ETag>" + xml_escape(etag) +
                  "</ETag></Part>";
    }
    complete += "</CompleteMultipartUpload>";
    Request done;
    done.method = "POST";
    done.op = "CompleteMultipartUpload";
    done.bucket = bucket;
    done.key = key;
    done.query = {{"uploadId", upload_id}};
    done.headers = {{"Content-Type", "application/xml"}};
    done.body = std::move(complete);
    done.error_in_200 = true;
    SECPLAT_TRY(call(done));
    return ok_status();
  };

  Status st = upload_parts();
  if (!st.ok()) {
    // Nothing half-written stays: the parts are discarded (best effort; the first error wins).
    Request abort;
    abort.method = "DELETE";
    abort.op = "AbortMultipartUpload";
    abort.bucket = bucket;
    abort.key = key;
    abort.query = {{"uploadId", upload_id}};
    (void)send(abort);
  }
  return st;
}

Result<ObjectInfo> S3ObjectStore::head(const std::string& bucket, const std::string& key) {
  SECPLAT_TRY(validate_bucket(bucket));
  SECPLAT_TRY(validate_key(key));
  Request req;
  req.method = "HEAD";
  req.op = "HeadObject";
  req.bucket = bucket;
  req.key = key;
  auto r = call(req);
  if (!r.ok()) return std::move(r).take_error();
  ObjectInfo info;
  info.bucket = bucket;
  info.key = key;
  info.size = parse_size(r->header("content-length"));
  info.etag = strip_quotes(r->header("etag"));
  info.content_type = r->header("content-type");
  for (const auto& [name, value] : r->headers)
    if (name.starts_with("x-amz-meta-")) info.metadata[name.substr(11)] = value;
  return info;
}

Status S3ObjectStore::read(const std::string& bucket, const std::string& key,
                           const std::function<bool(std::string_view)>& sink) {
  SECPLAT_TRY(validate_bucket(bucket));
  SECPLAT_TRY(validate_key(key));
  Request req;
  req.op = "GetObject";
  req.bucket = bucket;
  req.key = key;
  bool refused = false;
  req.sink = [&](std::string_view chunk) {
    if (!sink(chunk)) refused = true;
    return !refused;
  };
  auto r = call(req);
  if (refused) return Error::internal("read of " + bucket + "/" + key + " stopped by the caller");
  if (!r.ok()) return std::move(r).take_error();
  return ok_status();
}

Result<std::string> S3ObjectStore::get(const std::string& bucket, const std::string& key, std::size_t max_bytes) {
  return read_whole(*this, bucket, key, max_bytes, bucket + "/" + key);
}

Status S3ObjectStore::copy(const std::string& src_bucket, const std::string& src_key, const std::string& dst_bucket,
                           const std::string& dst_key, const Metadata& meta) {
  SECPLAT_TRY(validate_bucket(dst_bucket));
  SECPLAT_TRY(validate_key(dst_key));
  SECPLAT_TRY(validate_metadata(meta));
  // REPLACE takes the content type from the request too; keep the source's.
  auto src = head(src_bucket, src_key);
  if (!src.ok()) return std::move(src).take_error();
  Request req;
  req.method = "PUT";
  req.op = "CopyObject";
  req.bucket = dst_bucket;
  req.key = dst_key;
  req.headers = {{"x-amz-copy-source", "/" + src_bucket + "/" + http::percent_encode(src_key, true)},
                 {"x-amz-metadata-directive", "REPLACE"}};
  add_put_headers(req.headers, src->content_type, meta);
  req.error_in_200 = true;
  SECPLAT_TRY(call(req));
  return ok_status();
}

Result<std::vector<ObjectInfo>> S3ObjectStore::list(const std::string& bucket, const std::string& prefix) {
  SECPLAT_TRY(validate_bucket(bucket));
  std::vector<ObjectInfo> out;
  std::string token;
  while (true) {
    Request req;
    req.op = "ListObjectsV2";
    req.bucket = bucket;
    req.query = {{"list-type", "2"}, {"max-keys", std::to_string(tuning_.list_page_size)}};
    if (!prefix.empty()) req.query.emplace_back("prefix", prefix);
    if (!token.empty()) req.query.emplace_back("continuation-token", token);
    auto r = call(req);
    if (!r.ok()) return std::move(r).take_error();
    for (std::string_view contents : xml_elements(r->body, "Contents")) {
      ObjectInfo info;
      info.bucket = bucket;
      info.key = xml_text(contents, "Key");
      info.size = parse_size(xml_text(contents, "Size"));
      info.etag = strip_quotes(xml_text(contents, "ETag"));
      out.push_back(std::move(info));
    }
    if (xml_text(r->body, "IsTruncated") != "true") break;
    token = xml_text(r->body, "NextContinuationToken");
    if (token.empty())
      return Error::bad_request("S3 at " + host_ + " sent a truncated listing of bucket " + bucket +
                                " without a continuation token");
  }
  std::sort(out.begin(), out.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

Status S3ObjectStore::remove(const std::string& bucket, const std::string& key) {
  SECPLAT_TRY(validate_bucket(bucket));
  SECPLAT_TRY(validate_key(key));
  Request req;
  req.method = "DELETE";
  req.op = "DeleteObject";
  req.bucket = bucket;
  req.key = key;
  auto r = send(req);
  if (!r.ok()) return std::move(r).take_error();
  if (r->status < 300) return ok_status();
  // Some S3-compatible servers answer 404 NoSuchKey for a missing object: not an error here.
  if (r->status == 404 && xml_text(r->body, "Code") != "NoSuchBucket") return ok_status();
  return to_error(req, *r);
}

std::string S3ObjectStore::uri(const std::string& bucket, const std::string& key) const {
  return "s3://" + bucket + "/" + key;
}

std::unique_ptr<ObjectStore> make_s3_object_store(const S3Config& config) {
  return std::make_unique<S3ObjectStore>(config);
}

}  // namespace secplat::objects
