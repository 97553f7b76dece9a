// The scan pipeline end to end on real SQLite files and real temp directories, with a fixture
// scanner (a real implementation of the Scanner port).
//
// The conformance suite of the ScanLedger port: every test runs twice, with the worker side
// (pipeline, worker pool, its event log, publisher, SARIF import) on the store (ScanStore) and on
// the API's ledger (HttpScanLedger → a real http::Server serving api::scan_internal_routes over the
// same store, with a service API key), as a worker process without database credentials runs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "api/scans_routes.h"
#include "assurance/bundle_publisher.h"
#include "assurance/http_scan_ledger.h"
#include "assurance/pipeline.h"
#include "assurance/scan_service.h"
#include "assurance/scan_worker.h"
#include "auth/audit_log.h"
#include "auth/migrations.h"
#include "core/clock.h"
#include "crypto/ecdsa.h"
#include "http/client.h"
#include "http/test_server.h"
#include "queue/local_queue.h"
#include "store/sqlite_db.h"

namespace fs = std::filesystem;

namespace secplat::assurance {
namespace {

// Writes a SARIF with one result per file containing "TODO".
class TodoScanner final : public scanners::Scanner {
 public:
  std::string id() const override { return "todo"; }
  Result<scanners::ScanOutcome> run(const scanners::ScanContext& ctx) override {
    scanners::ScanOutcome o;
    o.tool = "todo";
    o.version = "1.0";
    o.status = "succeeded";
    Json results = Json::array();
    for (const auto& e : fs::recursive_directory_iterator(ctx.source_root)) {
      if (!e.is_regular_file()) continue;
      std::ifstream in(e.path());
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (text.find("TODO") == std::string::npos) continue;
      std::string rel = fs::relative(e.path(), ctx.source_root).generic_string();
      ctx.log("found TODO in " + rel + " password=hunter2secret");
      results.push_back({{"ruleId", "todo"}, {"level", "warning"}, {"message", {{"text", "TODO"}}},
                         {"partialFingerprints", {{"todo/v1", rel}}}});
      o.by_severity["medium"]++;
    }
    o.findings = static_cast<int64_t>(results.size());
    Json sarif = {{"version", "2.1.0"}, {"runs", Json::array({{{"tool", {{"driver", {{"name", "todo"}}}}}, {"results", results}}})}};
    fs::create_directories(ctx.output_dir + "/reports/sast");
    std::ofstream(ctx.output_dir + "/reports/sast/todo.sarif.json") << sarif.dump();
    o.outputs.push_back("reports/sast/todo.sarif.json");
    return o;
  }
};

class PipelineTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    root = fs::temp_directory_path() / ("secplat-assurance-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root);
    fs::create_directories(root / "data");
    fs::create_directories(root / "src/sub");
    std::ofstream(root / "src/a.txt") << "hello TODO\n";
    std::ofstream(root / "src/sub/b.txt") << "nothing\n";
    open();
    config.data_dir = (root / "data").string();
    config.allowed_source_roots = {root.string()};
    config.assurance.scan_timeout_s = 60;
    build();
  }
  void open() {
    auto d = store::open_sqlite({(root / "data/db.sqlite").string(), 2, 5000});
    ASSERT_TRUE(d.ok());
    db = std::move(*d);
    ASSERT_TRUE(store::migrate(*db, scan_migrations()).ok());
    ASSERT_TRUE(store::migrate(*db, queue::local_queue_migrations()).ok());
    ASSERT_TRUE(store::migrate(*db, auth::auth_migrations()).ok());
    auto q = queue::open_local_queue(*db, {});
    ASSERT_TRUE(q.ok());
    queue = std::move(*q);
  }
  // Everything build() makes but the store, users first.
  void drop_services() {
    service.reset();
    pipeline.reset();
    events.reset();
    api_events.reset();
    ledger_http.reset();
    api.reset();
  }
  void build() {
    drop_services();
    scans = std::make_unique<ScanStore>(*db, clock);
    SarifImporter record = [this](const std::string& c, const Json& s, const std::string&, const std::string&) {
      imported.push_back({c, s});
      return ok_status();
    };
    SarifImporter import = record;
    if (GetParam() == "http") {
      // The API: the internal routes over the store; the worker's side reaches it with a service key.
      HttpConfig limits = http::testing::TestServer::small_limits();
      limits.max_body_bytes = 1 << 20;
      api = std::make_unique<http::testing::TestServer>(api::scan_internal_routes(*scans, record), limits);
      ASSERT_NE(api->port, 0);
      ledger_http = std::make_unique<HttpScanLedger>(api_url(), "service-token");
      import = ledger_http->sarif_importer();
    }
    // The API's event log and the worker's: one object in-process, two over HTTP (as two processes).
    api_events = std::make_unique<ScanEventLog>(*scans, clock);
    events = ledger_http ? std::make_unique<ScanEventLog>(*ledger_http, clock) : nullptr;
    audit = std::make_unique<auth::AuditLog>(*db, clock);
    PipelineOptions po{config.data_dir, config.allowed_source_roots, config.assurance, "", "", ""};
    pipeline = std::make_unique<ScanPipeline>(ledger(), worker_events(), clock, po,
                                              std::vector<std::shared_ptr<scanners::Scanner>>{std::make_shared<TodoScanner>()},
                                              import);
    service = std::make_unique<ScanService>(*scans, *api_events, *queue, *audit, clock, pipeline.get(), config);
  }
  std::string api_url() const { return "http://127.0.0.1:" + std::to_string(api->port); }
  // What the worker side runs on: the store, or the API's ledger.
  ScanLedger& ledger() { return ledger_http ? static_cast<ScanLedger&>(*ledger_http) : *scans; }
  ScanEventLog& worker_events() { return events ? *events : *api_events; }
  void TearDown() override {
    drop_services();
    queue.reset();
    db.reset();
    fs::remove_all(root);
  }
  Json dir_body(const std::string& dir) {
    return {{"workspace_id", "w"}, {"component_id", "comp"}, {"assessment_id", "a"}, {"source_type", "directory"},
            {"directory_path", dir}, {"profile", "ci"},
            {"manifest", {{"product", "p"}, {"profiles", Json::array({{{"name", "ci"}, {"tools", {"todo", "bandit", "nope"}},
                                                                        {"thresholds", {{"medium", 0}}}}})}}}};
  }
  std::vector<Json> event_list(const std::string& id) {
    std::vector<Json> out;
    auto stored = scans->events_after(id, 0);
    for (auto& e : *stored) out.push_back(Json::parse(e.json));
    return out;
  }

  fs::path root;
  Config config;
  SystemClock clock;
  std::unique_ptr<store::Db> db;
  std::unique_ptr<queue::Queue> queue;
  std::unique_ptr<ScanStore> scans;
  std::unique_ptr<http::testing::TestServer> api;  // http: the API serving the ledger
  std::unique_ptr<HttpScanLedger> ledger_http;       // http: the worker's ledger
  std::unique_ptr<ScanEventLog> api_events;          // the API's event log (on the store)
  std::unique_ptr<ScanEventLog> events;              // http: the worker's event log (on the API)
  std::unique_ptr<auth::AuditLog> audit;
  std::unique_ptr<ScanPipeline> pipeline;
  std::unique_ptr<ScanService> service;
  std::vector<std::pair<std::string, Json>> imported;
  auth::Actor actor{"alice", "req-1"};
};

TEST_P(PipelineTest, DirectoryScanProducesBundleAndOrderedEvents) {
  auto sub = service->submit(dir_body((root / "src").string()), std::nullopt, actor);
  ASSERT_TRUE(sub.ok()) << sub.error().message;
  const std::string id = sub->record.test_id;
  EXPECT_EQ(id.size(), 17u);
  EXPECT_EQ(sub->record.request.requested_by, "alice");
  ASSERT_TRUE(sub->record.manifest_digest.has_value());

  // A live subscriber registered before the run sees exactly what is persisted, in order.
  std::vector<std::string> live;
  auto subscription = worker_events().subscribe(id, 0, [&](const std::string& t, bool) {
    if (!t.empty()) live.push_back(t);
    return true;
  });
  ASSERT_TRUE(subscription.ok());
  ASSERT_TRUE(pipeline->run(id).ok());

  auto rec = service->get(id);
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->status, "SUCCEEDED") << rec->errors.dump();
  Json status = ScanService::status_json(*rec);
  EXPECT_EQ(status["source"]["type"], "directory");
  EXPECT_EQ(status["policy"]["policy_passed"], false);  // 1 medium > 0
  EXPECT_EQ(status["manifest_digest"], *sub->record.manifest_digest);
  EXPECT_TRUE(status["git_url"].is_null());

  fs::path bundle = root / "data/bundles" / id;
  for (const char* f : {"scan.json", "manifest.json", "manifest-info.json", "summary.json", "policy-result.json",
                        "logs/runner.log", "stream.jsonl", "reports/sast/todo.sarif.json"})
    EXPECT_TRUE(fs::exists(bundle / f)) << f;
  EXPECT_FALSE(fs::exists(root / "data/bundles" / (".tmp-" + id)));
  Json summary = Json::parse(std::ifstream(bundle / "summary.json"));
  EXPECT_EQ(summary["executed"], Json::array({"todo"}));
  EXPECT_EQ(summary["skipped"], Json::array({"bandit"}));
  Json info = Json::parse(std::ifstream(bundle / "manifest-info.json"));
  EXPECT_EQ(info["unsupported_manifest_tools"], Json::array({"nope"}));
  ASSERT_EQ(imported.size(), 1u);
  EXPECT_EQ(imported[0].first, "comp");

  auto evs = event_list(id);
  ASSERT_FALSE(evs.empty());
  for (std::size_t i = 0; i < evs.size(); ++i) EXPECT_EQ(evs[i]["seq"], static_cast<int64_t>(i + 1));
  EXPECT_EQ(evs.back()["type"], "scan_complete");
  EXPECT_EQ(evs.back()["status"], "SUCCEEDED");
  EXPECT_EQ(evs.front()["message"], "Preparing directory source");
  bool redacted = false;
  for (auto& e : evs)
    if (e["type"] == "log") redacted = e["line"].get<std::string>().find("hunter2") == std::string::npos;
  EXPECT_TRUE(redacted);
  ASSERT_EQ(live.size(), evs.size());
  for (std::size_t i = 0; i < evs.size(); ++i) EXPECT_EQ(Json::parse(live[i]), evs[i]);

  // A late subscriber with since= gets the tail, then terminal.
  std::vector<Json> tail;
  bool closed = false;
  auto late = worker_events().subscribe(id, 2, [&](const std::string& t, bool terminal) {
    if (!t.empty()) tail.push_back(Json::parse(t));
    closed = closed || terminal;
    return true;
  });
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(*late, nullptr);
  EXPECT_TRUE(closed);
  ASSERT_EQ(tail.size(), evs.size() - 2);
  EXPECT_EQ(tail.front()["seq"], 3);
}

TEST_P(PipelineTest, SubmitTimeSourcePolicyAndIdempotency) {
  auto outside = service->submit(dir_body("/etc"), std::nullopt, actor);
  ASSERT_FALSE(outside.ok());
  EXPECT_EQ(outside.error().fields.at(0).msg, "directory_path is not under an allowed source root");
  auto a = service->submit(dir_body((root / "src").string()), std::string("k1"), actor);
  ASSERT_TRUE(a.ok());
  auto b = service->submit(dir_body((root / "src").string()), std::string("k1"), actor);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->replayed);
  EXPECT_EQ(b->record.test_id, a->record.test_id);
  Json other = dir_body((root / "src").string());
  other["profile"] = "x";
  auto c = service->submit(other, std::string("k1"), actor);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, Errc::conflict);
}

TEST_P(PipelineTest, UnknownProfileFailsWithoutBundle) {
  Json body = dir_body((root / "src").string());
  body["profile"] = "nosuch";
  auto sub = service->submit(body, std::nullopt, actor);
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(pipeline->run(sub->record.test_id).ok());
  auto rec = service->get(sub->record.test_id);
  EXPECT_EQ(rec->status, "FAILED");
  EXPECT_EQ(rec->errors[0], "manifest profile 'nosuch' not found. Available profiles: ci");
  EXPECT_FALSE(fs::exists(root / "data/bundles" / sub->record.test_id));
  auto evs = event_list(sub->record.test_id);
  EXPECT_EQ(evs[evs.size() - 2]["type"], "error");
  EXPECT_EQ(evs.back()["status"], "FAILED");
}

TEST_P(PipelineTest, HostileArchivesFailNamingTheEntry) {
  struct Case {
    std::string script, expect;
  };
  std::vector<Case> cases = {
      {"t=tarfile.open(o,'w:gz'); i=tarfile.TarInfo('../evil'); d=b'x'; i.size=1; t.addfile(i, io.BytesIO(d)); t.close()",
       "'../evil': path traversal"},
      {"t=tarfile.open(o,'w'); i=tarfile.TarInfo('/abs'); i.size=1; t.addfile(i, io.BytesIO(b'x')); t.close()",
       "absolute path"},
      {"t=tarfile.open(o,'w'); i=tarfile.TarInfo('link'); i.type=tarfile.SYMTYPE; i.linkname='/etc/passwd'; t.addfile(i); t.close()",
       "'link': symbolic link"},
      {"z=zipfile.ZipFile(o,'w',zipfile.ZIP_DEFLATED); z.writestr('bomb', b'\\0'*(8<<20)); z.close()",
       "compression ratio"},
      {"t=tarfile.open(o,'w')\nfor k in range(30):\n  i=tarfile.TarInfo('f%d'%k); i.size=0; t.addfile(i)\nt.close()",
       "more than 20 entries"},
  };
  config.assurance.archive_max_entries = 20;
  build();
  for (const auto& c : cases) {
    fs::path out = root / "a.bin";
    std::ofstream(root / "mk.py") << "import tarfile, zipfile, io, sys\no=sys.argv[1]\n" << c.script << "\n";
    ASSERT_EQ(std::system(("python3 " + (root / "mk.py").string() + " " + out.string()).c_str()), 0);
    std::ifstream in(out, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string name = c.script.starts_with("z=") ? "x.zip" : "x.tgz";
    auto up = service->store_archive(name, bytes, actor);
    ASSERT_TRUE(up.ok()) << up.error().message;
    Json body = dir_body("");
    body["source_type"] = "archive";
    body["archive_path"] = up->archive_path;
    auto sub = service->submit(body, std::nullopt, actor);
    ASSERT_TRUE(sub.ok()) << sub.error().message;
    ASSERT_TRUE(pipeline->run(sub->record.test_id).ok());
    auto rec = service->get(sub->record.test_id);
    EXPECT_EQ(rec->status, "FAILED") << c.expect;
    EXPECT_NE(rec->errors.dump().find(c.expect), std::string::npos) << rec->errors.dump();
  }
  EXPECT_FALSE(fs::exists(root / "evil"));
  EXPECT_FALSE(fs::exists(root / "data/evil"));
}

TEST_P(PipelineTest, CancelQueuedAndRestartMarksRunningInterrupted) {
  auto a = service->submit(dir_body((root / "src").string()), std::nullopt, actor);
  ASSERT_TRUE(a.ok());
  auto c = service->cancel(a->record.test_id, actor);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->status, "CANCELLED");
  EXPECT_EQ(event_list(a->record.test_id).back()["status"], "CANCELLED");
  EXPECT_EQ(service->cancel(a->record.test_id, actor).error().code, Errc::conflict);
  ASSERT_TRUE(pipeline->run(a->record.test_id).ok());  // no-op: not QUEUED
  EXPECT_EQ(service->get(a->record.test_id)->status, "CANCELLED");

  auto b = service->submit(dir_body((root / "src").string()), std::nullopt, actor);
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(*scans->mark_running(b->record.test_id));  // the "process" dies here
  ScanWorker worker(*queue, *pipeline, ledger(), worker_events());
  if (GetParam() == "http") {
    // Only the single process recovers (it owns the store); a worker on the API hands scans over
    // through leases and is refused.
    auto refused = worker.recover();
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, Errc::forbidden);
    ScanWorker single(*queue, *pipeline, *scans, *api_events);
    ASSERT_TRUE(single.recover().ok());
  } else {
    ASSERT_TRUE(worker.recover().ok());
  }
  auto rec = service->get(b->record.test_id);
  EXPECT_EQ(rec->status, "FAILED");
  EXPECT_EQ(rec->errors, Json::array({"interrupted"}));
  auto retried = service->retry(b->record.test_id, actor);
  ASSERT_TRUE(retried.ok());
  EXPECT_EQ(retried->retry_of, b->record.test_id);

  // The worker picks the retried scan from the queue and runs it.
  ASSERT_TRUE(worker.start(1).ok());
  auto deadline = steady_ms() + 20000;
  while (steady_ms() < deadline && service->get(retried->test_id)->status != "SUCCEEDED")
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  worker.stop();
  EXPECT_EQ(service->get(retried->test_id)->status, "SUCCEEDED");
}

// A scan whose queue message is dead-lettered (every attempt failed) cannot stay QUEUED: it is
// FAILED with the reason and its log is closed, so followers stop waiting. A scan another worker
// is running under a live lease is left to that worker.
TEST_P(PipelineTest, DeadLetteredScanFailsUnlessAnotherWorkerHoldsIt) {
  // One delivery, then the dead-letter stream.
  auto q = queue::open_local_queue(*db, {queue::RetryPolicy{1, 10, 10}});
  ASSERT_TRUE(q.ok());
  // The store refuses to start any scan (a stand-in for a store that keeps failing).
  ASSERT_TRUE(db->exec("CREATE TRIGGER refuse_start BEFORE UPDATE OF status ON scans "
                       "WHEN NEW.status = 'RUNNING' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END")
                  .ok());
  auto doomed = service->submit(dir_body((root / "src").string()), std::nullopt, actor);
  ASSERT_TRUE(doomed.ok());
  const std::string id = doomed->record.test_id;

  ScanWorker worker(**q, *pipeline, ledger(), worker_events());
  ASSERT_TRUE(worker.start(1).ok());
  auto deadline = steady_ms() + 20000;
  while (steady_ms() < deadline && service->get(id)->status == "QUEUED")
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto rec = service->get(id);
  EXPECT_EQ(rec->status, "FAILED");
  ASSERT_EQ(rec->errors.size(), 1u) << rec->errors.dump();
  const std::string why = rec->errors[0].get<std::string>();
  EXPECT_NE(why.find("gave up after 1 attempts"), std::string::npos) << why;
  EXPECT_NE(why.find("disk on fire"), std::string::npos) << why;
  auto ev = event_list(id);
  ASSERT_GE(ev.size(), 2u);
  EXPECT_EQ(ev.back()["type"], "scan_complete");
  EXPECT_EQ(ev.back()["status"], "FAILED");
  auto dlq = (*q)->stats("secplat.jobs.scan");
  ASSERT_TRUE(dlq.ok());
  EXPECT_EQ(dlq->dlq_length, 1);

  // Another worker holds the next scan under a live lease; a redelivered message for it fails
  // here and is dead-lettered, but the scan stays that worker's.
  ASSERT_TRUE(db->exec("DROP TRIGGER refuse_start").ok());
  auto held = service->submit(dir_body((root / "src").string()), std::nullopt, actor);
  ASSERT_TRUE(held.ok());
  ASSERT_EQ(*scans->claim(held->record.test_id, "other-worker", 60000), ScanStore::Claim::started);
  deadline = steady_ms() + 20000;
  while (steady_ms() < deadline && (*q)->stats("secplat.jobs.scan")->dlq_length < 2)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  worker.stop();
  EXPECT_EQ((*q)->stats("secplat.jobs.scan")->dlq_length, 2);
  EXPECT_EQ(service->get(held->record.test_id)->status, "RUNNING");
  ScanResult done;
  done.status = kSucceeded;
  EXPECT_TRUE(*scans->finish(held->record.test_id, done, std::string("other-worker")));
}

// A gate that permits every upload (the store is what fails in the test below).
class PermitAllGate final : public UploadGate {
 public:
  Result<Json> verify_and_permit(const Json&) override {
    return Json{{"permitted", true}, {"permit", "permit-1"}, {"upload_permission_id", "perm-1"}};
  }
  Status redeem(const std::string&, const std::string&, const std::map<std::string, std::string>&,
                const std::string&) override {
    return ok_status();
  }
};

// An upload whose queue message is dead-lettered does not stay `requested` for ever: it ends
// `upload_failed` with reason "undeliverable" and the last error, and can be requested again.
TEST_P(PipelineTest, DeadLetteredUploadEndsUploadFailed) {
  auto key = crypto::ec_p256_generate();
  ASSERT_TRUE(key.ok());
  PipelineOptions po{config.data_dir, config.allowed_source_roots, config.assurance, key->private_pem, key->public_pem, ""};
  service.reset();
  pipeline = std::make_unique<ScanPipeline>(ledger(), worker_events(), clock, po,
                                            std::vector<std::shared_ptr<scanners::Scanner>>{std::make_shared<TodoScanner>()},
                                            nullptr);
  service = std::make_unique<ScanService>(*scans, *api_events, *queue, *audit, clock, pipeline.get(), config);
  auto sub = service->submit(dir_body((root / "src").string()), std::nullopt, actor);
  ASSERT_TRUE(sub.ok()) << sub.error().message;
  const std::string id = sub->record.test_id;
  ASSERT_TRUE(pipeline->run(id).ok());
  ASSERT_EQ(service->get(id)->status, "SUCCEEDED");
  // The scan message is not needed any more (the scan ran above).
  auto q = queue::open_local_queue(*db, {queue::RetryPolicy{1, 10, 10}});
  ASSERT_TRUE(q.ok());
  ASSERT_TRUE((*q)->ensure_group("secplat.jobs.scan", "workers").ok());
  auto pending = (*q)->read("secplat.jobs.scan", "workers", "drain", 10, 0);
  ASSERT_TRUE(pending.ok()) << pending.error().message;
  for (const auto& m : *pending) ASSERT_TRUE((*q)->ack("secplat.jobs.scan", "workers", m.id).ok());

  ASSERT_TRUE(db->exec("CREATE TRIGGER refuse_permit BEFORE UPDATE OF upload_status ON scans "
                       "WHEN NEW.upload_status = 'permitted' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END")
                  .ok());
  ASSERT_TRUE(service->request_upload(id, Json::object(), actor).ok());
  ASSERT_EQ(service->get(id)->upload_status, "requested");

  PermitAllGate gate;
  PublishSettings settings;
  settings.bundles_dir = (root / "data/bundles").string();
  BundlePublisher publisher(ledger(), gate, nullptr, nullptr, *key, settings, clock);
  ScanWorker worker(**q, *pipeline, ledger(), worker_events());
  worker.set_publisher(&publisher);
  ASSERT_TRUE(worker.start(1).ok());
  auto deadline = steady_ms() + 20000;
  while (steady_ms() < deadline && service->get(id)->upload_status == "requested")
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  worker.stop();
  auto rec = service->get(id);
  EXPECT_EQ(rec->upload_status, "upload_failed");
  EXPECT_EQ(rec->upload["error"]["reason"], "undeliverable") << rec->upload.dump();
  EXPECT_NE(rec->upload["error"]["detail"].get<std::string>().find("disk on fire"), std::string::npos)
      << rec->upload.dump();
  EXPECT_EQ((*q)->stats("secplat.jobs.scan")->dlq_length, 1);

  ASSERT_TRUE(db->exec("DROP TRIGGER refuse_permit").ok());
  ASSERT_TRUE(service->request_upload(id, Json::object(), actor).ok());
  EXPECT_EQ(service->get(id)->upload_status, "requested");
}

// Several workers: a scan whose worker stopped renewing its lease is run again, once, by the next
// worker; the stalled worker can neither renew nor finish it.
TEST_P(PipelineTest, ExpiredLeaseIsTakenOverAndTheStalledRunCannotFinish) {
  auto b = service->submit(dir_body((root / "src").string()), std::nullopt, actor);
  ASSERT_TRUE(b.ok());
  const std::string id = b->record.test_id;
  auto first = scans->claim(id, "stalled", 300);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, ScanStore::Claim::started);
  auto busy = pipeline->run(id, "second", 5000);
  ASSERT_FALSE(busy.ok()) << "ran a scan someone else holds a live lease on";
  EXPECT_EQ(busy.error().code, Errc::unavailable);
  EXPECT_TRUE(*scans->renew_lease(id, "stalled", 300));

  std::this_thread::sleep_for(std::chrono::milliseconds(350));  // "stalled" stops renewing
  ASSERT_TRUE(pipeline->run(id, "second", 5000).ok());
  auto rec = service->get(id);
  EXPECT_EQ(rec->status, "SUCCEEDED");
  auto ev = event_list(id);
  int completes = 0, resumed = 0;
  for (const auto& e : ev) {
    completes += e["type"] == "scan_complete";
    resumed += e.value("line", "").find("stopped responding") != std::string::npos;
  }
  EXPECT_EQ(completes, 1);
  EXPECT_EQ(resumed, 1);
  for (std::size_t i = 0; i < ev.size(); ++i) EXPECT_EQ(ev[i]["seq"], static_cast<int64_t>(i + 1));
  // The stalled worker wakes up: its lease and its result are refused.
  EXPECT_FALSE(*scans->renew_lease(id, "stalled", 300));
  ScanResult late;
  late.status = kFailed;
  EXPECT_FALSE(*scans->finish(id, late, std::string("stalled")));
  EXPECT_EQ(*scans->claim(id, "third", 300), ScanStore::Claim::finished);
  EXPECT_EQ(service->get(id)->status, "SUCCEEDED");
}

// A worker killed after the final row but before `scan_complete`: the redelivered message closes
// the log, so followers are not left waiting.
TEST_P(PipelineTest, RedeliveryClosesTheLogOfAScanWhoseWorkerDiedAfterFinishing) {
  auto b = service->submit(dir_body((root / "src").string()), std::nullopt, actor);
  ASSERT_TRUE(b.ok());
  const std::string id = b->record.test_id;
  ASSERT_EQ(*scans->claim(id, "dies", 30000), ScanStore::Claim::started);
  ScanResult done;
  done.status = kSucceeded;
  ASSERT_TRUE(*scans->finish(id, done, std::string("dies")));  // ... and the process dies here
  const auto before = event_list(id);
  ASSERT_TRUE(before.empty() || before.back()["type"] != "scan_complete");

  ASSERT_TRUE(pipeline->run(id, "next", 30000).ok());
  auto ev = event_list(id);
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev.back()["type"], "scan_complete");
  EXPECT_EQ(ev.back()["status"], "SUCCEEDED");
  ASSERT_TRUE(pipeline->run(id, "again", 30000).ok());  // a second time: nothing more
  EXPECT_EQ(event_list(id).size(), ev.size());
}

// Two processes append to and follow one scan's log (an API replica and a worker), each with its
// own ScanEventLog over one store: seqs never collide, and a follower sees every event once, in
// order, whether it came by deliver() (the relay), with a gap, or only through catch_up().
TEST_P(PipelineTest, EventLogsOfTwoProcessesShareSeqsAndFillGaps) {
  auto sub = service->submit(dir_body((root / "src").string()), std::nullopt, actor);
  ASSERT_TRUE(sub.ok());
  const std::string id = sub->record.test_id;
  ScanEventLog worker_log(ledger(), clock), api_log(*scans, clock);
  std::vector<int64_t> seen;
  bool ended = false;
  auto follow = api_log.subscribe(id, 0, [&](const std::string& text, bool terminal) {
    if (!text.empty()) seen.push_back(Json::parse(text)["seq"].get<int64_t>());
    ended = ended || terminal;
    return true;
  });
  ASSERT_TRUE(follow.ok());
  ASSERT_NE(*follow, nullptr);
  const std::size_t before = seen.size();
  const int64_t base = before == 0 ? 0 : seen.back();

  std::vector<std::string> published;
  worker_log.set_publisher([&](const std::string&, int64_t, const std::string&, const std::string& json) {
    published.push_back(json);
  });
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(worker_log.append(id, "log", {{"line", "step " + std::to_string(i)}}).ok());
  ASSERT_EQ(published.size(), 3u);
  EXPECT_EQ(seen.size(), before) << "nothing crosses processes by itself";
  // Only the last one is relayed: the first two come from the store, before it.
  api_log.deliver(id, base + 3, "log", published.back());
  EXPECT_EQ(std::vector<int64_t>(seen.begin() + before, seen.end()),
            (std::vector<int64_t>{base + 1, base + 2, base + 3}));
  api_log.deliver(id, base + 3, "log", published.back());  // duplicates are ignored
  EXPECT_EQ(seen.size(), before + 3);

  // Both append: the API replica's cached seq is current (it was delivered), the worker's is not
  // stale either; then the worker's next append loses the race and takes the next seq.
  auto from_api = api_log.append(id, "log", {{"line", "cancel requested"}});
  ASSERT_TRUE(from_api.ok());
  EXPECT_EQ(*from_api, base + 4);
  auto from_worker = worker_log.append(id, "log", {{"line", "still going"}});
  ASSERT_TRUE(from_worker.ok()) << from_worker.error().message;
  EXPECT_EQ(*from_worker, base + 5);
  EXPECT_EQ(seen.back(), base + 4);
  api_log.catch_up();  // the worker's event was never relayed: the store has it
  EXPECT_EQ(seen.back(), base + 5);

  ASSERT_TRUE(worker_log.append(id, "scan_complete", {{"status", "SUCCEEDED"}}).ok());
  api_log.deliver(id, base + 6, "scan_complete", published.back());
  EXPECT_TRUE(ended);
  EXPECT_EQ(seen.size(), before + 6);
  for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_EQ(seen[i], seen[i - 1] + 1);
  auto closed = api_log.append(id, "log", {{"line", "too late"}});
  ASSERT_TRUE(closed.ok());
  EXPECT_EQ(*closed, 0) << "appended after scan_complete";
  EXPECT_EQ(api_log.live_subscribers(), 0);
}

TEST_P(PipelineTest, GitScanOfLocalBareRepo) {
  std::string r = root.string();
  std::string script = "set -e; cd " + r + "; git init -q -b main work; cd work; git config user.email t@t; "
                       "git config user.name t; echo 'TODO one' > a.txt; git add a.txt; git commit -qm one; "
                       "git rev-parse HEAD > ../first; git checkout -qb dev; echo 'TODO two' > b.txt; git add b.txt; "
                       "git commit -qm two; cd ..; git clone -q --bare work repo.git";
  ASSERT_EQ(std::system(("bash -c \"" + script + "\" >/dev/null 2>&1").c_str()), 0);
  std::string first;
  std::ifstream(root / "first") >> first;
  Json body = dir_body("");
  body["source_type"] = "git";
  body["git_url"] = "file://" + r + "/repo.git";
  body["branch"] = "dev";
  auto sub = service->submit(body, std::nullopt, actor);
  ASSERT_TRUE(sub.ok()) << sub.error().message;
  ASSERT_TRUE(pipeline->run(sub->record.test_id).ok());
  auto rec = service->get(sub->record.test_id);
  ASSERT_EQ(rec->status, "SUCCEEDED") << rec->errors.dump();
  EXPECT_EQ(rec->source["branch"], "dev");
  EXPECT_EQ(rec->tools[0]["findings"], 2);

  body["commit"] = first;
  sub = service->submit(body, std::nullopt, actor);
  ASSERT_TRUE(pipeline->run(sub->record.test_id).ok());
  rec = service->get(sub->record.test_id);
  ASSERT_EQ(rec->status, "SUCCEEDED") << rec->errors.dump();
  EXPECT_EQ(rec->source["resolved_commit"], first);
  EXPECT_EQ(rec->tools[0]["findings"], 1);

  body.erase("commit");
  body["branch"] = "nosuch";
  sub = service->submit(body, std::nullopt, actor);
  ASSERT_TRUE(pipeline->run(sub->record.test_id).ok());
  rec = service->get(sub->record.test_id);
  EXPECT_EQ(rec->status, "FAILED");
  EXPECT_NE(rec->errors.dump().find("nosuch"), std::string::npos) << rec->errors.dump();

  body["git_url"] = "-upload-pack=touch /tmp/x";
  EXPECT_FALSE(service->submit(body, std::nullopt, actor).ok());
}

// The HTTP adapter's own behaviour (instantiated for "http" only).
class PipelineApiTest : public PipelineTest {};

// The ledger's routes admit service keys alone, and a body that does not fit an operation is a 422
// naming the field with nothing written.
TEST_P(PipelineApiTest, TheLedgerRoutesAdmitOnlyServiceKeysAndRejectMalformedBodies) {
  auto sub = service->submit(dir_body((root / "src").string()), std::nullopt, actor);
  ASSERT_TRUE(sub.ok()) << sub.error().message;
  const std::string id = sub->record.test_id;
  for (const char* key : {"viewer-token", "analyst-token", "admin-token", "", "spk_not-a-key"}) {
    HttpScanLedger other(api_url(), key);
    auto s = other.status_of(id);
    ASSERT_FALSE(s.ok()) << key;
    EXPECT_EQ(s.error().code, Errc::forbidden) << key << ": " << s.error().message;
  }
  auto post = [&](const std::string& op, const std::string& body) {
    return http::testing::post_as_service(api_url() + "/internal/scans/" + op, body);
  };
  const auto events_before = scans->events_after(id, 0)->size();
  const std::string tid = "\"test_id\": \"" + id + "\"";
  struct Bad {
    std::string op, body, field;
  };
  for (const Bad& b : std::vector<Bad>{
           {"finish", "{" + tid + R"(, "result": {"status": "DONE"}})", "result"},
           {"finish", "{" + tid + R"(, "result": {"status": "SUCCEEDED", "tools": {}}})", "result"},
           {"claim", "{" + tid + R"(, "owner": "w1", "lease_ms": 0})", "lease_ms"},
           {"claim", "{" + tid + R"(, "owner": "", "lease_ms": 1000})", "owner"},
           {"append-event", "{" + tid + R"(, "seq": 7, "type": "log", "ts_ms": 1, "event": "{\"seq\": 8, \"type\": \"log\"}"})", "event"},
           {"append-event", "{" + tid + R"(, "seq": 7, "type": "log", "ts_ms": 1, "event": "not json"})", "event"},
           {"set-upload", "{" + tid + R"(, "from": "pending", "to": "uploaded"})", "upload"},
           {"status", R"({"test_id": 5})", "test_id"},
           {"import-sarif", R"({"component_id": "comp", "tool": "todo", "test_id": "t", "sarif": "x"})", "sarif"},
       }) {
    auto r = post(b.op, b.body);
    EXPECT_EQ(r.status, 422) << b.op << " " << b.body << ": " << r.body;
    EXPECT_NE(r.body.find("\"" + b.field + "\""), std::string::npos) << b.op << ": " << r.body;
  }
  EXPECT_EQ(post("finish", "{not json").status, 422);
  EXPECT_EQ(post("no-such-op", "{}").status, 404);
  // Nothing was written: the scan is as submitted.
  auto rec = service->get(id);
  EXPECT_EQ(rec->status, "QUEUED");
  EXPECT_EQ(rec->upload_status, "pending");
  EXPECT_EQ(scans->events_after(id, 0)->size(), events_before);
  EXPECT_TRUE(imported.empty());
}

// With the API unreachable the worker cannot take the scan: the run fails retryably and the scan
// stays QUEUED (its queue message is tried again); once the API answers it runs, once.
TEST_P(PipelineApiTest, AnUnreachableApiLeavesTheScanQueuedUntilItAnswers) {
  auto sub = service->submit(dir_body((root / "src").string()), std::nullopt, actor);
  ASSERT_TRUE(sub.ok()) << sub.error().message;
  const std::string id = sub->record.test_id;
  api.reset();  // nothing listens on the API's port now
  auto down = pipeline->run(id, "w1", 30000);
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code, Errc::unavailable) << down.error().message;
  EXPECT_EQ(service->get(id)->status, "QUEUED");

  build();  // the API is back (on a new port; the worker follows its address)
  ASSERT_TRUE(pipeline->run(id, "w1", 30000).ok());
  auto rec = service->get(id);
  EXPECT_EQ(rec->status, "SUCCEEDED") << rec->errors.dump();
  ASSERT_EQ(imported.size(), 1u);  // the findings went through the API once
  int completes = 0;
  for (const auto& e : event_list(id)) completes += e["type"] == "scan_complete";
  EXPECT_EQ(completes, 1);
}

INSTANTIATE_TEST_SUITE_P(Ledgers, PipelineTest, ::testing::Values("sql", "http"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Ledgers, PipelineApiTest, ::testing::Values("http"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace secplat::assurance
