#include "objects/object_store_conformance.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "core/encoding.h"

namespace secplat::objects {

std::string test_bytes(std::size_t bytes, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(bytes, '\0');
  for (auto& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

TempFile::TempFile(const std::string& content) {
  path_ = "/tmp/secplat-objects-" + random_hex(8);
  std::ofstream(path_, std::ios::binary).write(content.data(), static_cast<std::streamsize>(content.size()));
}

TempFile::~TempFile() { std::remove(path_.c_str()); }

namespace {

std::vector<std::string> keys_of(const std::vector<ObjectInfo>& infos) {
  std::vector<std::string> out;
  for (const auto& i : infos) out.push_back(i.key);
  return out;
}

TEST_P(ObjectStoreConformance, PutBytesRoundTripKeepsContentTypeAndMetadata) {
  const std::string body = "{\"tool\":\"trivy\",\"results\":[]}";
  const Metadata meta{{"test_id", "test_ab12cd34ef56"}, {"workspace-id", "ws 1"}, {"manifest_digest", "sha256:00ff"}};
  ASSERT_TRUE(store_->put_bytes(bucket_, k("reports/sast.json"), body, "application/json", meta).ok());

  auto info = store_->head(bucket_, k("reports/sast.json"));
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->bucket, bucket_);
  EXPECT_EQ(info->key, k("reports/sast.json"));
  EXPECT_EQ(info->size, static_cast<int64_t>(body.size()));
  EXPECT_EQ(info->content_type, "application/json");
  EXPECT_EQ(info->metadata, meta);
  EXPECT_FALSE(info->etag.empty());
  EXPECT_EQ(info->etag.find('"'), std::string::npos);

  auto got = store_->get(bucket_, k("reports/sast.json"), 1 << 20);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(*got, body);

  std::string streamed;
  ASSERT_TRUE(store_->read(bucket_, k("reports/sast.json"), [&](std::string_view c) {
    streamed.append(c);
    return true;
  }).ok());
  EXPECT_EQ(streamed, body);
}

TEST_P(ObjectStoreConformance, PutFileRoundTripWithDefaultContentType) {
  const std::string body = test_bytes((1 << 20) + 17, 1);
  TempFile file(body);
  ASSERT_TRUE(store_->put_file(bucket_, k("artifacts/blob.bin"), file.path(), "", {}).ok());
  auto info = store_->head(bucket_, k("artifacts/blob.bin"));
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->size, static_cast<int64_t>(body.size()));
  EXPECT_EQ(info->content_type, "application/octet-stream");
  EXPECT_TRUE(info->metadata.empty());
  auto got = store_->get(bucket_, k("artifacts/blob.bin"), 4 << 20);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_TRUE(*got == body);
}

TEST_P(ObjectStoreConformance, EmptyObject) {
  ASSERT_TRUE(store_->put_bytes(bucket_, k("empty"), "", "text/plain", {}).ok());
  auto info = store_->head(bucket_, k("empty"));
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->size, 0);
  auto got = store_->get(bucket_, k("empty"), 10);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "");
}

TEST_P(ObjectStoreConformance, UnicodeSpaceAndReservedCharacterKeys) {
  const std::vector<std::string> names = {"dir/a bé.txt",       "файл 名前.bin",      "plus+and&amp=;.txt",
                                          "percent%20literal",  "quote\"'<tag>.xml",  "emoji-😀/x y",
                                          "a?b#c",              "tilde~star*(1).log", ".hidden/.dotfile"};
  std::set<std::string> expected;
  for (const auto& n : names) {
    const std::string key = k(n);
    expected.insert(key);
    Status s = store_->put_bytes(bucket_, key, "content of " + n, "text/plain", {{"name", "x"}});
    ASSERT_TRUE(s.ok()) << n << ": " << s.error().message;
  }
  for (const auto& n : names) {
    auto got = store_->get(bucket_, k(n), 1024);
    ASSERT_TRUE(got.ok()) << n << ": " << got.error().message;
    EXPECT_EQ(*got, "content of " + n);
    auto info = store_->head(bucket_, k(n));
    ASSERT_TRUE(info.ok()) << n;
    EXPECT_EQ(info->metadata.at("name"), "x");
  }
  auto listed = store_->list(bucket_, prefix_);
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  auto keys = keys_of(*listed);
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()), expected);
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
}

TEST_P(ObjectStoreConformance, OverwriteReplacesContentAndMetadata) {
  ASSERT_TRUE(store_->put_bytes(bucket_, k("x"), "first version", "text/plain", {{"v", "1"}, {"old", "yes"}}).ok());
  ASSERT_TRUE(store_->put_bytes(bucket_, k("x"), "second", "application/json", {{"v", "2"}}).ok());
  auto info = store_->head(bucket_, k("x"));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size, 6);
  EXPECT_EQ(info->content_type, "application/json");
  EXPECT_EQ(info->metadata, (Metadata{{"v", "2"}}));
  EXPECT_EQ(*store_->get(bucket_, k("x"), 100), "second");
}

TEST_P(ObjectStoreConformance, ListFollowsEveryPageAndFiltersByPrefix) {
  // 250 objects at a page size of 100: three pages.
  std::set<std::string> expected;
  for (int i = 0; i < 250; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "p/%03d/obj", (i * 37) % 250);  // written out of order
    const std::string key = k(name);
    ASSERT_TRUE(store_->put_bytes(bucket_, key, std::string(static_cast<std::size_t>(i % 7), 'z'), "", {}).ok()) << key;
    expected.insert(key);
  }
  ASSERT_TRUE(store_->put_bytes(bucket_, k("pp"), "string prefix, not a directory", "", {}).ok());
  ASSERT_TRUE(store_->put_bytes(bucket_, k("q/other"), "elsewhere", "", {}).ok());

  auto listed = store_->list(bucket_, k("p/"));
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  auto keys = keys_of(*listed);
  EXPECT_EQ(keys.size(), 250u);
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()), expected);
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  for (const auto& info : *listed) {
    EXPECT_EQ(info.bucket, bucket_);
    EXPECT_FALSE(info.etag.empty()) << info.key;
    EXPECT_TRUE(info.metadata.empty());
  }

  auto with_pp = store_->list(bucket_, k("p"));
  ASSERT_TRUE(with_pp.ok());
  EXPECT_EQ(with_pp->size(), 251u);
  EXPECT_EQ(with_pp->back().key, k("pp"));
  EXPECT_EQ(with_pp->back().size, static_cast<int64_t>(std::string("string prefix, not a directory").size()));

  auto none = store_->list(bucket_, k("nothing-here/"));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_P(ObjectStoreConformance, CopyReplacesMetadataAndKeepsContentType) {
  const std::string body = test_bytes(70000, 2);
  ASSERT_TRUE(store_->put_bytes(bucket_, k("incoming/report é.sarif"), body, "application/sarif+json",
                                {{"test_id", "t1"}, {"stage", "raw"}})
                  .ok());
  const Metadata golden_meta{{"test_id", "t1"}, {"promoted", "true"}};
  Status s = store_->copy(bucket_, k("incoming/report é.sarif"), "golden", k("golden/report é.sarif"), golden_meta);
  ASSERT_TRUE(s.ok()) << s.error().message;

  auto dst = store_->head("golden", k("golden/report é.sarif"));
  ASSERT_TRUE(dst.ok()) << dst.error().message;
  EXPECT_EQ(dst->metadata, golden_meta);
  EXPECT_EQ(dst->content_type, "application/sarif+json");
  EXPECT_EQ(dst->size, static_cast<int64_t>(body.size()));
  auto got = store_->get("golden", k("golden/report é.sarif"), 1 << 20);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(*got == body);

  auto src = store_->head(bucket_, k("incoming/report é.sarif"));
  ASSERT_TRUE(src.ok());
  EXPECT_EQ(src->metadata, (Metadata{{"test_id", "t1"}, {"stage", "raw"}}));
  ASSERT_TRUE(store_->remove("golden", k("golden/report é.sarif")).ok());
}

TEST_P(ObjectStoreConformance, RemoveAndNotFound) {
  ASSERT_TRUE(store_->put_bytes(bucket_, k("gone"), "bye", "", {}).ok());
  ASSERT_TRUE(store_->remove(bucket_, k("gone")).ok());

  auto info = store_->head(bucket_, k("gone"));
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().code, Errc::not_found);
  EXPECT_NE(info.error().message.find(bucket_ + "/" + k("gone")), std::string::npos) << info.error().message;

  auto got = store_->get(bucket_, k("gone"), 100);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, Errc::not_found);
  EXPECT_NE(got.error().message.find(k("gone")), std::string::npos) << got.error().message;

  Status r = store_->read(bucket_, k("gone"), [](std::string_view) { return true; });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::not_found);

  Status c = store_->copy(bucket_, k("gone"), "golden", k("copy"), {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, Errc::not_found);

  EXPECT_TRUE(store_->remove(bucket_, k("gone")).ok()) << "removing a missing object is not an error";
  EXPECT_TRUE(store_->remove(bucket_, k("never/existed")).ok());

  auto list = store_->list(bucket_, k("gone"));
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
}

TEST_P(ObjectStoreConformance, MissingBucketIsNotFound) {
  auto info = store_->head("no-such-bucket-" + random_hex(4), "k");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().code, Errc::not_found);
  auto got = store_->get("no-such-bucket-" + random_hex(4), "k", 10);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, Errc::not_found);
}

TEST_P(ObjectStoreConformance, Sha256OfStreamedObject) {
  const std::string body = test_bytes(3 * 1024 * 1024 + 5, 3);
  ASSERT_TRUE(store_->put_bytes(bucket_, k("digest-me"), body, "", {}).ok());
  auto digest = sha256_hex_of(*store_, bucket_, k("digest-me"));
  ASSERT_TRUE(digest.ok()) << digest.error().message;
  EXPECT_EQ(*digest, sha256_hex(body));
  auto missing = sha256_hex_of(*store_, bucket_, k("missing"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
}

TEST_P(ObjectStoreConformance, LargeFileReadBackByteForByte) {
  // Above the 5 MiB threshold: S3 uploads it in 3 parts (5 + 5 + 2 MiB and a tail).
  const std::string body = test_bytes((12 << 20) + 123, 4);
  TempFile file(body);
  const Metadata meta{{"test_id", "big"}};
  Status s = store_->put_file(bucket_, k("bundle/big file.tar"), file.path(), "application/x-tar", meta);
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto info = store_->head(bucket_, k("bundle/big file.tar"));
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->size, static_cast<int64_t>(body.size()));
  EXPECT_EQ(info->content_type, "application/x-tar");
  EXPECT_EQ(info->metadata, meta);

  std::string streamed;
  std::size_t chunks = 0;
  ASSERT_TRUE(store_->read(bucket_, k("bundle/big file.tar"), [&](std::string_view c) {
    streamed.append(c);
    ++chunks;
    return true;
  }).ok());
  EXPECT_TRUE(streamed == body) << "read back differs";
  EXPECT_GT(chunks, 1u) << "read() must stream";
  auto digest = sha256_hex_of(*store_, bucket_, k("bundle/big file.tar"));
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(*digest, sha256_hex(body));
}

TEST_P(ObjectStoreConformance, GetRefusesObjectsAboveTheLimit) {
  ASSERT_TRUE(store_->put_bytes(bucket_, k("ten"), "0123456789", "", {}).ok());
  auto got = store_->get(bucket_, k("ten"), 9);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, Errc::too_large);
  auto exact = store_->get(bucket_, k("ten"), 10);
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(*exact, "0123456789");
}

TEST_P(ObjectStoreConformance, ReadStoppedBySinkIsAnError) {
  ASSERT_TRUE(store_->put_bytes(bucket_, k("stop"), test_bytes(1 << 20, 5), "", {}).ok());
  int calls = 0;
  Status s = store_->read(bucket_, k("stop"), [&](std::string_view) { return ++calls < 1; });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::internal);
  EXPECT_EQ(calls, 1);
}

TEST_P(ObjectStoreConformance, InvalidNamesAreRefused) {
  const std::vector<std::string> bad_keys = {"",     "/abs", "a/../b",   "..",       "./a", "a//b",
                                             "dir/", "a\nb", "\xff\xfe", "a\x7f", std::string(1025, 'k')};
  for (const auto& key : bad_keys) {
    Status put = store_->put_bytes(bucket_, key, "x", "", {});
    ASSERT_FALSE(put.ok()) << "key accepted: " << key;
    EXPECT_EQ(put.error().code, Errc::bad_request) << key;
    EXPECT_NE(put.error().message.find("key"), std::string::npos) << put.error().message;
    auto info = store_->head(bucket_, key);
    ASSERT_FALSE(info.ok());
    EXPECT_EQ(info.error().code, Errc::bad_request);
    EXPECT_EQ(store_->remove(bucket_, key).error().code, Errc::bad_request);
  }
  const std::string nul_key("a\0b", 3);
  EXPECT_EQ(store_->put_bytes(bucket_, nul_key, "x", "", {}).error().code, Errc::bad_request);
  // 1024 bytes in segments of at most 200 (a filesystem allows 255 bytes per name).
  std::string longest = prefix_;
  while (longest.size() < 1024) {
    const std::size_t n = std::min<std::size_t>(200, 1024 - longest.size());
    longest += longest.size() + n < 1024 ? std::string(n - 1, 'k') + "/" : std::string(n, 'k');
  }
  ASSERT_EQ(longest.size(), 1024u);
  Status long_ok = store_->put_bytes(bucket_, longest, "x", "", {});
  EXPECT_TRUE(long_ok.ok()) << "a 1024-byte key is allowed: " << long_ok.error().message;

  for (const auto& [mk, mv] : std::vector<std::pair<std::string, std::string>>{
           {"Upper", "v"}, {"sp ace", "v"}, {"", "v"}, {"ok", "caf\xc3\xa9"}, {"ok", "line\nbreak"}, {"ok", " lead"}, {"ok", ""},
           {"ok", "two  spaces"}}) {
    Status s = store_->put_bytes(bucket_, k("meta"), "x", "", {{mk, mv}});
    ASSERT_FALSE(s.ok()) << "metadata accepted: " << mk << "=" << mv;
    EXPECT_EQ(s.error().code, Errc::bad_request);
    EXPECT_NE(s.error().message.find("metadata"), std::string::npos) << s.error().message;
  }
  Status too_big = store_->put_bytes(bucket_, k("meta"), "x", "", {{"big", std::string(2100, 'v')}});
  EXPECT_EQ(too_big.error().code, Errc::bad_request);

  for (const std::string bucket : {"UPPER", "ab", "-dash", "has_underscore", "../etc", ".meta"}) {
    Status s = store_->put_bytes(bucket, k("x"), "x", "", {});
    ASSERT_FALSE(s.ok()) << "bucket accepted: " << bucket;
    EXPECT_EQ(s.error().code, Errc::bad_request);
    EXPECT_NE(s.error().message.find("bucket"), std::string::npos) << s.error().message;
  }
  auto listed = store_->list(bucket_, prefix_);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 1u) << "only the valid 1024-byte key was written";
}

TEST_P(ObjectStoreConformance, ConcurrentWritersAndReaders) {
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::vector<std::string> failures(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const std::string key = k("c/" + std::to_string(t) + "/" + std::to_string(i));
        const std::string body = test_bytes(1000 + static_cast<std::size_t>(i), static_cast<uint32_t>(t * 100 + i));
        if (!store_->put_bytes(bucket_, key, body, "", {{"t", std::to_string(t)}}).ok()) failures[t] = "put " + key;
        // Everybody also overwrites one shared key: the last complete write wins, never a mix.
        (void)store_->put_bytes(bucket_, k("shared"), std::string(4096, static_cast<char>('a' + t)), "", {});
        auto got = store_->get(bucket_, key, 1 << 20);
        if (!got.ok() || *got != body) failures[t] = "get " + key;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& f : failures) EXPECT_EQ(f, "");
  auto shared = store_->get(bucket_, k("shared"), 1 << 20);
  ASSERT_TRUE(shared.ok());
  ASSERT_EQ(shared->size(), 4096u);
  EXPECT_EQ(shared->find_first_not_of((*shared)[0]), std::string::npos) << "a mix of two writes";
  auto listed = store_->list(bucket_, k("c/"));
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), static_cast<std::size_t>(kThreads * 10));
}

TEST_P(ObjectStoreConformance, UriNamesBucketAndKey) {
  const std::string uri = store_->uri(bucket_, k("a b/c.json"));
  if (store_->kind() == "s3") {
    EXPECT_EQ(uri, "s3://test/" + k("a b/c.json"));
  } else {
    EXPECT_EQ(store_->kind(), "filesystem");
    EXPECT_TRUE(uri.starts_with("file:///")) << uri;
    EXPECT_TRUE(uri.ends_with("/test/" + k("a%20b/c.json"))) << uri;
  }
}

}  // namespace
}  // namespace secplat::objects
