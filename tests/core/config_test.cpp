#include "core/config.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>

using namespace secplat;

namespace {
EnvLookup env_of(std::map<std::string, std::string> m) {
  return [m](const std::string& k) -> std::optional<std::string> {
    auto it = m.find(k);
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
}

std::string write_temp(const std::string& text) {
  char path[] = "/tmp/secplat-config-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  ::close(fd);
  std::ofstream(path) << text;
  return path;
}
}  // namespace

TEST(Config, DefaultsAreUsable) {
  auto c = load_config("", env_of({}), {});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->host, "127.0.0.1");
  EXPECT_EQ(c->port, 8080);
  EXPECT_EQ(c->data_dir, "./.secplat");
  EXPECT_TRUE(c->allowed_source_roots.empty());
  EXPECT_FALSE(c->probe_allow_private);
}

TEST(Config, FileThenEnvThenFlags) {
  std::string f = write_temp("listen: 127.0.0.1:9000\nhttp:\n  max_body_bytes: 2048\nallowed_source_roots: [/srv/a, /srv/b]\n");
  auto c = load_config(f, env_of({{"SECPLAT_HTTP_MAX_BODY_BYTES", "4096"}, {"SECPLAT_LISTEN", "127.0.0.1:9001"}}),
                       {{"listen", "0.0.0.0:9002"}});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->http.max_body_bytes, 4096u);
  EXPECT_EQ(c->port, 9002);
  EXPECT_EQ(c->host, "0.0.0.0");
  ASSERT_EQ(c->allowed_source_roots.size(), 2u);
  EXPECT_EQ(c->allowed_source_roots[1], "/srv/b");
  std::remove(f.c_str());
}

TEST(Config, ErrorsNameTheKey) {
  auto bad_env = load_config("", env_of({{"SECPLAT_HTTP_MAX_BODY_BYTES", "lots"}}), {});
  ASSERT_FALSE(bad_env.ok());
  EXPECT_NE(bad_env.error().message.find("http.max_body_bytes"), std::string::npos);

  std::string f = write_temp("http:\n  max_bodyy_bytes: 1\n");
  auto unknown = load_config(f, env_of({}), {});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("http.max_bodyy_bytes"), std::string::npos);
  std::remove(f.c_str());

  auto listen = load_config("", env_of({{"SECPLAT_LISTEN", "nohostport"}}), {});
  ASSERT_FALSE(listen.ok());
  EXPECT_NE(listen.error().message.find("listen"), std::string::npos);

  auto weak = load_config("", env_of({{"SECPLAT_AUTH_JWT_SECRET", "change_me"}}), {});
  ASSERT_FALSE(weak.ok());
  EXPECT_NE(weak.error().message.find("auth.jwt_secret"), std::string::npos);

  auto rel = load_config("", env_of({{"SECPLAT_ALLOWED_SOURCE_ROOTS", "relative/path"}}), {});
  ASSERT_FALSE(rel.ok());
  EXPECT_NE(rel.error().message.find("allowed_source_roots"), std::string::npos);

  auto hidden = load_config("", env_of({{"SECPLAT_ASSURANCE_TOOL_HIDDEN_PATHS", "/root/.aws:.ssh"}}), {});
  ASSERT_FALSE(hidden.ok());
  EXPECT_NE(hidden.error().message.find("assurance.tool_hidden_paths"), std::string::npos);
  EXPECT_NE(hidden.error().message.find("'.ssh'"), std::string::npos);
  auto fine = load_config("", env_of({{"SECPLAT_ASSURANCE_TOOL_HIDDEN_PATHS", "/root/.aws:/root/.ssh"}}), {});
  ASSERT_TRUE(fine.ok()) << fine.error().message;
  EXPECT_EQ(fine->assurance.tool_hidden_paths, (std::vector<std::string>{"/root/.aws", "/root/.ssh"}));

  // A notifier without a database: the API's URL and a key to call it with, or nothing.
  auto no_key = load_config("", env_of({{"SECPLAT_NOTIFY_API_URL", "http://api:8080"}}), {});
  ASSERT_FALSE(no_key.ok());
  EXPECT_NE(no_key.error().message.find("notify.api_key"), std::string::npos);
  auto not_http = load_config("", env_of({{"SECPLAT_NOTIFY_API_URL", "api:8080"}, {"SECPLAT_NOTIFY_API_KEY", "spk_x"}}), {});
  ASSERT_FALSE(not_http.ok());
  EXPECT_NE(not_http.error().message.find("notify.api_url"), std::string::npos);
  auto remote = load_config("", env_of({{"SECPLAT_NOTIFY_API_URL", "https://api:8080"}, {"SECPLAT_NOTIFY_API_KEY", "spk_x"}}), {});
  ASSERT_TRUE(remote.ok()) << remote.error().message;
  EXPECT_EQ(remote->notify.api_url, "https://api:8080");

  // The same for a worker without a database.
  auto worker_no_key = load_config("", env_of({{"SECPLAT_WORKER_API_URL", "http://api:8080"}}), {});
  ASSERT_FALSE(worker_no_key.ok());
  EXPECT_NE(worker_no_key.error().message.find("worker.api_key"), std::string::npos);
  auto worker_ftp = load_config("", env_of({{"SECPLAT_WORKER_API_URL", "ftp://api"}, {"SECPLAT_WORKER_API_KEY", "spk_x"}}), {});
  ASSERT_FALSE(worker_ftp.ok());
  EXPECT_NE(worker_ftp.error().message.find("worker.api_url"), std::string::npos);
  auto worker = load_config("", env_of({{"SECPLAT_WORKER_API_URL", "http://api:8080/"}, {"SECPLAT_WORKER_API_KEY", "spk_x"}}), {});
  ASSERT_TRUE(worker.ok()) << worker.error().message;
  EXPECT_EQ(worker->worker.api_key, "spk_x");
}

TEST(Config, BackendUrlsSelectPostgresAndRedis) {
  auto c = load_config("", env_of({{"SECPLAT_DATABASE_URL", "postgresql://secplat@db/secplat"},
                                   {"SECPLAT_REDIS_URL", "redis://:pw@queue:6379/2"},
                                   {"SECPLAT_QUEUE_REDIS_PREFIX", "staging:"}}),
                       {});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->database_url, "postgresql://secplat@db/secplat");
  EXPECT_EQ(c->redis_url, "redis://:pw@queue:6379/2");
  EXPECT_EQ(c->queue.redis_prefix, "staging:");

  auto bad = load_config("", env_of({{"SECPLAT_REDIS_URL", "rediss://queue:6380"}}), {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("redis_url"), std::string::npos) << bad.error().message;
  auto db = load_config("", env_of({{"SECPLAT_DATABASE_URL", "mysql://db"}}), {});
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.error().message.find("database_url"), std::string::npos) << db.error().message;
}

TEST(Config, EnvNamesFollowTheKeys) {
  EXPECT_EQ(env_name_for("http.max_body_bytes"), "SECPLAT_HTTP_MAX_BODY_BYTES");
  EXPECT_EQ(env_name_for("probe_allow_private"), "SECPLAT_PROBE_ALLOW_PRIVATE");
}

TEST(Config, DeclaredAssetsComeFromTheFileOrSecplatAssets) {
  std::string f = write_temp(
      "assets:\n"
      "  - asset_key: web-1\n"
      "    type: app\n"
      "    name: \"007\"\n"
      "    probe: {url: 'http://web-1.internal/health', interval_seconds: 30}\n"
      "    tags: [prod, edge]\n"
      "posture:\n  debounce_samples: 3\n");
  auto c = load_config(f, env_of({}), {});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->posture.debounce_samples, 3);
  EXPECT_EQ(c->declared_assets_json,
            R"([{"asset_key":"web-1","name":"007","probe":{"interval_seconds":30,"url":"http://web-1.internal/health"},)"
            R"("tags":["prod","edge"],"type":"app"}])");
  std::remove(f.c_str());

  auto from_env = load_config("", env_of({{"SECPLAT_ASSETS", R"([{"asset_key":"a"}])"}}), {});
  ASSERT_TRUE(from_env.ok());
  EXPECT_EQ(from_env->declared_assets_json, R"([{"asset_key":"a"}])");

  std::string bad = write_temp("assets:\n  - name: no-key\n");
  auto e = load_config(bad, env_of({}), {});
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("assets[0]"), std::string::npos) << e.error().message;
  std::remove(bad.c_str());
  EXPECT_FALSE(load_config("", env_of({{"SECPLAT_ASSETS", "{not json"}}), {}).ok());
}
