// The S3 adapter: the ObjectStore conformance suite on s3rver (fixture `s3`), an independent boto3
// read-back, SigV4 compared byte for byte with botocore (on a capture server, since s3rver does not
// check signatures), and the error mapping (retries, forbidden, unavailable, multipart abort).
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/encoding.h"
#include "core/json.h"
#include "objects/object_store_conformance.h"
#include "objects/s3_object_store.h"

namespace secplat::objects {
namespace {

namespace fs = std::filesystem;

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// The shared s3rver's endpoint ("" and a test failure when not run under ctest).
std::string s3rver_url() {
  const char* dir = std::getenv("SECPLAT_TEST_S3_DIR");
  std::string url = dir ? read_first_line(std::string(dir) + "/url") : "";
  if (url.empty()) ADD_FAILURE() << "no test S3: run under ctest (fixture s3) or set SECPLAT_TEST_S3_DIR";
  return url;
}

S3Config s3rver_config() {
  S3Config c;
  c.endpoint = s3rver_url();
  c.access_key_id = "S3RVER";
  c.secret_access_key = "S3RVER";
  c.max_attempts = 3;
  c.timeout_s = 60;
  return c;
}

S3Tuning fast_retries() {
  S3Tuning t;
  t.backoff_base_ms = 20;
  t.backoff_cap_ms = 200;
  return t;
}

// Runs a shell command; exit status and combined output.
std::pair<int, std::string> run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, ""};
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

const std::string kScripts = std::string(SECPLAT_SOURCE_DIR) + "/tests/objects/";

INSTANTIATE_TEST_SUITE_P(S3rver, ObjectStoreConformance,
                         ::testing::Values(ObjectStoreFactory{
                             "s3rver", [](const ObjectStoreTestKnobs& knobs) -> std::unique_ptr<ObjectStore> {
                               S3Config c = s3rver_config();
                               c.multipart_threshold_bytes = knobs.multipart_threshold_bytes;
                               c.part_size_bytes = knobs.part_size_bytes;
                               S3Tuning t = fast_retries();
                               t.list_page_size = knobs.list_page_size;
                               return std::make_unique<S3ObjectStore>(c, t);
                             }}),
                         object_store_factory_name);

// tests/objects/sigv4_check.py serving on a free port: records every request, answers like S3
// (or as planned), and later verifies the recorded signatures with botocore.
class CaptureServer {
 public:
  CaptureServer() : dir_("/tmp/secplat-s3-capture-" + random_hex(6)) {
    fs::create_directories(dir_);
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string script = kScripts + "sigv4_check.py";
      ::execlp("python3", "python3", script.c_str(), "serve", dir_.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline && !fs::exists(dir_ + "/port"))
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    port_ = read_first_line(dir_ + "/port");
  }
  ~CaptureServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  CaptureServer(const CaptureServer&) = delete;
  CaptureServer& operator=(const CaptureServer&) = delete;

  bool ok() const { return !port_.empty(); }
  std::string url() const { return "http://127.0.0.1:" + port_; }

  // Planned answers, used up in order of matching (see sigv4_check.py).
  void plan(const Json& entries) const { std::ofstream(dir_ + "/plan.json") << entries.dump(); }

  // "METHOD /path?query" of every request so far.
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    std::ifstream in(dir_ + "/requests.jsonl");
    for (std::string line; std::getline(in, line);) {
      Json r = Json::parse(line);
      std::string q = r["query"].get<std::string>();
      out.push_back(r["method"].get<std::string>() + " " + r["path"].get<std::string>() + (q.empty() ? "" : "?" + q));
    }
    return out;
  }

  std::pair<int, std::string> verify(const std::string& access, const std::string& secret, const std::string& region,
                                     int minimum) const {
    return run("python3 " + kScripts + "sigv4_check.py verify " + dir_ + " " + access + " '" + secret + "' " + region +
               " --min " + std::to_string(minimum));
  }

 private:
  std::string dir_;
  std::string port_;
  pid_t pid_ = -1;
};

const std::string kAccess = "AKIDEXAMPLE";
const std::string kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

S3ObjectStore capture_store(const CaptureServer& server, int max_attempts = 4) {
  S3Config c;
  c.endpoint = server.url() + "/";  // a trailing slash is tolerated
  c.region = "eu-central-1";
  c.access_key_id = kAccess;
  c.secret_access_key = kSecret;
  c.multipart_threshold_bytes = 5ll << 20;
  c.part_size_bytes = 5ll << 20;
  c.max_attempts = max_attempts;
  c.timeout_s = 30;
  return S3ObjectStore(c, fast_retries());
}

int count_containing(const std::vector<std::string>& lines, const std::string& needle) {
  int n = 0;
  for (const auto& l : lines) n += l.find(needle) != std::string::npos ? 1 : 0;
  return n;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

TEST(S3SigV4, EveryRequestKindMatchesBotocoreByteForByte) {
  CaptureServer server;
  ASSERT_TRUE(server.ok());
  S3ObjectStore store = capture_store(server);
  const std::string key = "dir/a bé+x&y=z~(1).txt";
  const Metadata meta{{"test_id", "test_ab12cd34ef56"}, {"workspace_id", "ws 1"}, {"x-multi-dash", "a=b;c"}};
  ASSERT_TRUE(store.put_bytes("raw", key, "hello world", "text/plain; charset=utf-8", meta).ok());
  auto listed = store.list("raw", "dir/a b");
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_TRUE(store.head("raw", key).ok());
  auto got = store.get("raw", key, 100);
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_TRUE(store.copy("raw", key, "golden", "security-scans/t1/golden/ü ñ.json", meta).ok());
  ASSERT_TRUE(store.remove("raw", key).ok());
  TempFile big(test_bytes((5 << 20) + 1, 9));
  Status mp = store.put_file("raw", "big/bundle.tar", big.path(), "application/x-tar", {{"test_id", "t1"}});
  ASSERT_TRUE(mp.ok()) << mp.error().message;

  const auto lines = server.lines();
  const std::string all = joined(lines);
  // Each kind of request is there, with its query string sorted and RFC 3986-encoded.
  EXPECT_EQ(count_containing(lines, "PUT /raw/dir/a%20b%C3%A9%2Bx%26y%3Dz~%281%29.txt"), 1) << all;
  EXPECT_EQ(count_containing(lines, "GET /raw?list-type=2&max-keys=1000&prefix=dir%2Fa%20b"), 1) << all;
  EXPECT_EQ(count_containing(lines, "PUT /golden/security-scans/t1/golden/%C3%BC%20%C3%B1.json"), 1) << all;
  EXPECT_EQ(count_containing(lines, "POST /raw/big/bundle.tar?uploads="), 1) << all;
  EXPECT_EQ(count_containing(lines, "PUT /raw/big/bundle.tar?partNumber=1&uploadId=upl-1%26x"), 1) << all;
  EXPECT_EQ(count_containing(lines, "PUT /raw/big/bundle.tar?partNumber=2&uploadId=upl-1%26x"), 1) << all;
  EXPECT_EQ(count_containing(lines, "POST /raw/big/bundle.tar?uploadId=upl-1%26x"), 1) << all;
  EXPECT_EQ(count_containing(lines, "DELETE /raw/dir/"), 1) << all;

  auto [rc, out] = server.verify(kAccess, kSecret, "eu-central-1", 11);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("11/11 signatures match"), std::string::npos) << out;
  // The copy's x-amz-copy-source and metadata directive are signed.
  EXPECT_NE(out.find("x-amz-copy-source;x-amz-date;x-amz-meta-test_id;x-amz-meta-workspace_id;"
                     "x-amz-meta-x-multi-dash;x-amz-metadata-directive"),
            std::string::npos)
      << out;

  // The check can fail: the same requests against a different secret, or another region.
  auto [rc_secret, out_secret] = server.verify(kAccess, "not-the-secret", "eu-central-1", 11);
  EXPECT_EQ(rc_secret, 1) << out_secret;
  EXPECT_NE(out_secret.find("0/11 signatures match"), std::string::npos) << out_secret;
  auto [rc_region, out_region] = server.verify(kAccess, kSecret, "us-east-1", 11);
  EXPECT_EQ(rc_region, 1) << out_region;
}

TEST(S3SigV4, ListDecodesXmlEntitiesInKeysAndEtags) {
  CaptureServer server;
  ASSERT_TRUE(server.ok());
  S3ObjectStore store = capture_store(server);
  auto listed = store.list("raw", "dir/");
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].key, "dir/a & b \xc3\xa9\xe2\x82\xac.txt");
  EXPECT_EQ((*listed)[0].etag, "e1");
  EXPECT_EQ((*listed)[0].size, 7);
  EXPECT_EQ(xml_unescape("a&lt;b&gt;&amp;&quot;&apos;&#65;&#x42;&bogus;&#xZZ;"), "a<b>&\"'AB&bogus;&#xZZ;");
}

TEST(S3Errors, ServerErrorsAndThrottlingAreRetriedThenSucceed) {
  CaptureServer server;
  ASSERT_TRUE(server.ok());
  server.plan(Json::array({{{"match", "PUT"}, {"status", 500}, {"body", "<Error><Code>InternalError</Code></Error>"}},
                           {{"match", "PUT"}, {"status", 503}, {"body", "<Error><Code>SlowDown</Code></Error>"}},
                           {{"match", "PUT"}, {"status", 429}, {"body", ""}}}));
  S3ObjectStore store = capture_store(server, 4);
  Status s = store.put_bytes("raw", "k", "body", "", {});
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(count_containing(server.lines(), "PUT /raw/k"), 4);
}

TEST(S3Errors, PersistentServerErrorIsUnavailableNamingHostAndStatus) {
  CaptureServer server;
  ASSERT_TRUE(server.ok());
  Json plan = Json::array();
  for (int i = 0; i < 5; ++i)
    plan.push_back({{"match", "GET"}, {"status", 503}, {"body", "<Error><Code>SlowDown</Code></Error>"}});
  server.plan(plan);
  S3ObjectStore store = capture_store(server, 3);
  auto got = store.get("raw", "k", 100);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, Errc::unavailable);
  EXPECT_NE(got.error().message.find("127.0.0.1:"), std::string::npos) << got.error().message;
  EXPECT_NE(got.error().message.find("HTTP 503 SlowDown"), std::string::npos) << got.error().message;
  EXPECT_EQ(count_containing(server.lines(), "GET /raw/k"), 3) << "max_attempts = 3";
}

TEST(S3Errors, ClientErrorsAreNotRetriedAndCarryS3sCode) {
  CaptureServer server;
  ASSERT_TRUE(server.ok());
  server.plan(Json::array(
      {{{"match", "PUT /raw/bad"},
        {"status", 400},
        {"body", "<Error><Code>InvalidArgument</Code><Message>Metadata &amp; stuff is wrong</Message></Error>"}},
       {{"match", "PUT /raw/denied"},
        {"status", 403},
        {"body", "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not "
                 "match</Message></Error>"}},
       {{"match", "HEAD /raw/denied"}, {"status", 403}}}));
  S3ObjectStore store = capture_store(server);
  Status bad = store.put_bytes("raw", "bad", "x", "", {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::bad_request);
  EXPECT_NE(bad.error().message.find("InvalidArgument: Metadata & stuff is wrong"), std::string::npos)
      << bad.error().message;

  Status denied = store.put_bytes("raw", "denied", "x", "", {});
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code, Errc::forbidden);
  EXPECT_NE(denied.error().message.find("SignatureDoesNotMatch"), std::string::npos) << denied.error().message;
  EXPECT_EQ(denied.error().message.find(kSecret), std::string::npos) << "secret in the message";
  auto head = store.head("raw", "denied");
  ASSERT_FALSE(head.ok());
  EXPECT_EQ(head.error().code, Errc::forbidden);

  const auto lines = server.lines();
  EXPECT_EQ(count_containing(lines, "PUT /raw/bad"), 1);
  EXPECT_EQ(count_containing(lines, "PUT /raw/denied"), 1);
}

TEST(S3Errors, FailedPartAbortsTheMultipartUpload) {
  CaptureServer server;
  ASSERT_TRUE(server.ok());
  server.plan(Json::array({{{"match", "partNumber=2&"},
                            {"status", 400},
                            {"body", "<Error><Code>EntityTooSmall</Code><Message>too small</Message></Error>"}}}));
  S3ObjectStore store = capture_store(server);
  TempFile big(test_bytes((5 << 20) + 100, 7));
  Status s = store.put_file("raw", "big", big.path(), "", {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::bad_request);
  EXPECT_NE(s.error().message.find("EntityTooSmall"), std::string::npos) << s.error().message;
  const auto lines = server.lines();
  EXPECT_EQ(count_containing(lines, "DELETE /raw/big?uploadId=upl-1%26x"), 1) << joined(lines);
  EXPECT_EQ(count_containing(lines, "POST /raw/big?uploadId="), 0) << "completed despite a failed part";
}

TEST(S3Errors, CompleteAnsweringErrorIn200IsHandled) {
  CaptureServer server;
  ASSERT_TRUE(server.ok());
  TempFile big(test_bytes((5 << 20) + 100, 8));
  S3ObjectStore store = capture_store(server);

  // A retryable error document in a 200: retried, then the upload completes.
  server.plan(Json::array({{{"match", "POST /raw/a?uploadId"},
                            {"status", 200},
                            {"body", "<?xml version=\"1.0\"?>\n<Error><Code>InternalError</Code></Error>"}}}));
  Status ok = store.put_file("raw", "a", big.path(), "", {});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(count_containing(server.lines(), "POST /raw/a?uploadId="), 2);

  // A final one: the upload fails and is aborted.
  server.plan(Json::array({{{"match", "POST /raw/b?uploadId"},
                            {"status", 200},
                            {"body", "<Error><Code>InvalidPart</Code><Message>part 2 is gone</Message></Error>"}}}));
  Status failed = store.put_file("raw", "b", big.path(), "", {});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, Errc::bad_request);
  EXPECT_NE(failed.error().message.find("InvalidPart"), std::string::npos) << failed.error().message;
  EXPECT_EQ(count_containing(server.lines(), "DELETE /raw/b?uploadId=upl-1%26x"), 1);
}

TEST(S3Errors, EndpointDownIsUnavailableQuickly) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  ::close(fd);  // nobody listens there now

  S3Config c;
  c.endpoint = "http://127.0.0.1:" + std::to_string(port);
  c.access_key_id = kAccess;
  c.secret_access_key = kSecret;
  c.max_attempts = 3;
  S3ObjectStore store(c, fast_retries());
  const auto start = std::chrono::steady_clock::now();
  Status s = store.put_bytes("raw", "k", "x", "", {});
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::unavailable);
  EXPECT_NE(s.error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("3 attempt"), std::string::npos) << s.error().message;
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST(S3Errors, UnconfiguredEndpointIsUnavailable) {
  S3ObjectStore store(S3Config{}, fast_retries());
  Status s = store.put_bytes("raw", "k", "x", "", {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::unavailable);
}

TEST(S3rverTest, UnknownAccessKeyIsForbiddenWithoutLeakingTheSecret) {
  S3Config c = s3rver_config();
  c.access_key_id = "NOT-A-KEY";
  c.secret_access_key = "super-secret-value-42";
  S3ObjectStore store(c, fast_retries());
  Status s = store.put_bytes("test", "forbidden/x", "x", "", {});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::forbidden);
  EXPECT_NE(s.error().message.find("InvalidAccessKeyId"), std::string::npos) << s.error().message;
  EXPECT_EQ(s.error().message.find("super-secret-value-42"), std::string::npos);
  auto listed = store.list("test", "");
  ASSERT_FALSE(listed.ok());
  EXPECT_EQ(listed.error().code, Errc::forbidden);
}

TEST(S3rverTest, MissingBucketIsNotFoundForListAndRemove) {
  S3ObjectStore store(s3rver_config(), fast_retries());
  auto listed = store.list("no-such-bucket", "");
  ASSERT_FALSE(listed.ok());
  EXPECT_EQ(listed.error().code, Errc::not_found);
  EXPECT_NE(listed.error().message.find("no-such-bucket"), std::string::npos) << listed.error().message;
  Status removed = store.remove("no-such-bucket", "k");
  ASSERT_FALSE(removed.ok());
  EXPECT_EQ(removed.error().code, Errc::not_found);
  Status put = store.put_bytes("no-such-bucket", "k", "x", "", {});
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.error().code, Errc::not_found);
}

TEST(S3rverTest, Boto3ReadsBackWhatTheAdapterWroteAndViceVersa) {
  S3Config c = s3rver_config();
  c.multipart_threshold_bytes = 5ll << 20;
  c.part_size_bytes = 5ll << 20;
  S3ObjectStore store(c, fast_retries());
  const std::string prefix = "boto3-" + random_hex(4) + "/";
  struct Object {
    std::string key, body, content_type;
    Metadata meta;
  };
  const std::vector<Object> objects = {
      {prefix + "dir/a bé.txt", "unicode key\n", "text/plain", {{"test_id", "t1"}}},
      {prefix + "reports/sast/trivy.sarif.json", "{\"runs\":[]}", "application/sarif+json",
       {{"test_id", "t1"}, {"workspace_id", "w"}, {"component_id", "c"}, {"assessment_id", "a"}}},
      {prefix + "plus+amp&eq=.bin", test_bytes(4096, 11), "application/octet-stream", {}},
      {prefix + "big/multipart 名前.tar", test_bytes((11 << 20) + 333, 12), "application/x-tar",
       {{"manifest_digest", "sha256:abc"}}},
  };
  Json expected = Json::array();
  for (const auto& o : objects) {
    TempFile file(o.body);
    Status s = store.put_file("test", o.key, file.path(), o.content_type, o.meta);
    ASSERT_TRUE(s.ok()) << o.key << ": " << s.error().message;
    expected.push_back({{"key", o.key},
                        {"size", o.body.size()},
                        {"sha256", sha256_hex(o.body)},
                        {"content_type", o.content_type},
                        {"metadata", o.meta}});
  }
  const std::string expected_path = "/tmp/secplat-boto3-expected-" + random_hex(4) + ".json";
  std::ofstream(expected_path) << expected.dump();
  auto [rc, out] = run("python3 " + kScripts + "boto3_readback.py " + c.endpoint + " test '" + prefix + "' " +
                       expected_path);
  std::remove(expected_path.c_str());
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("4/4 objects read back"), std::string::npos) << out;

  auto info = store.head("test", prefix + "from-boto3 ü.txt");
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->content_type, "text/plain");
  EXPECT_EQ(info->metadata, (Metadata{{"writer", "boto3"}}));
  EXPECT_EQ(*store.get("test", prefix + "from-boto3 ü.txt", 100), "written by boto3\n");
}

// A figure, not an assertion (run with --gtest_also_run_disabled_tests).
TEST(S3rverTest, DISABLED_MultipartThroughput64MiB) {
  S3Config c = s3rver_config();  // production part size (8 MiB) and threshold (16 MiB)
  S3ObjectStore store(c, fast_retries());
  const std::string body = test_bytes(64 << 20, 13);
  TempFile file(body);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(store.put_file("test", "bench/64mib.bin", file.path(), "", {}).ok());
  const auto t1 = std::chrono::steady_clock::now();
  std::size_t n = 0;
  ASSERT_TRUE(store.read("test", "bench/64mib.bin", [&](std::string_view c) { n += c.size(); return true; }).ok());
  const auto t2 = std::chrono::steady_clock::now();
  auto digest = sha256_hex_of(store, "test", "bench/64mib.bin");
  const auto t3 = std::chrono::steady_clock::now();
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(*digest, sha256_hex(body));
  auto mibs = [](auto d) { return 64.0 / std::chrono::duration<double>(d).count(); };
  std::printf("64 MiB put_file (8 parts): %.1f MiB/s; read: %.1f MiB/s; sha256_hex_of: %.1f MiB/s\n", mibs(t1 - t0),
              mibs(t2 - t1), mibs(t3 - t2));
  EXPECT_EQ(n, body.size());
}

}  // namespace
}  // namespace secplat::objects
