// The external tool adapters end to end: the real Debian tools (bandit, shellcheck, cppcheck,
// flawfinder) on a fixture tree with known issues, and stand-in scripts for the tools that are
// only used when found on PATH (semgrep, opengrep, trivy, syft) and for misbehaving tools
// (hang, crash, bad exit, garbage output). Every SARIF written is checked for the house rules.
#include "scanners/tools/external_scanners.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/clock.h"
#include "core/json.h"
#include "loopback_listener.h"

namespace fs = std::filesystem;

namespace secplat::scanners {
namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool process_gone(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return true;
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] == 'Z' || stat[paren + 2] == 'X';
}

bool eventually(const std::function<bool()>& cond, int64_t timeout_ms = 5000) {
  int64_t until = steady_ms() + timeout_ms;
  while (steady_ms() < until) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

class ExternalScannersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root = fs::temp_directory_path() / ("secplat-ext-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root);
    src = root / "src";
    out = root / "bundle";
    bin = root / "bin";
    fs::create_directories(src / "sub");
    fs::create_directories(src / "node_modules/dep");
    fs::create_directories(out);
    fs::create_directories(bin);
    write(src / "app.py",
          "import subprocess\n\n\ndef run(cmd):\n    subprocess.call(cmd, shell=True)\n\n\n"
          "def calc(expr):\n    return eval(expr)\n");
    write(src / "sub/run.sh", "#!/bin/sh\ntarget=$1\nrm -rf $target\n");
    write(src / "sub/deploy", "#!/usr/bin/env bash\necho $HOME\n");  // a script by its shebang
    write(src / "vuln.c",
          "#include <stdio.h>\n#include <string.h>\n\nvoid copy(char *dst, const char *src) {\n"
          "  strcpy(dst, src);\n}\n\nint main(void) {\n  char buf[16];\n  gets(buf);\n"
          "  copy(buf, \"x\");\n  return 0;\n}\n");
    write(src / "node_modules/dep/skipped.py", "eval(input())\n");  // dependency dirs are not ours
  }
  void TearDown() override { fs::remove_all(root); }

  static void write(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
  }
  // A stand-in tool in `bin` (a /bin/sh script).
  void fake_tool(const std::string& name, const std::string& body) {
    fs::path p = bin / name;
    write(p, "#!/bin/sh\n" + body);
    ::chmod(p.c_str(), 0755);
  }
  ToolLocator system_tools() const { return ToolLocator({"/usr/local/bin", "/usr/bin", "/bin"}); }
  // The stand-ins first, then the system (for sh, sleep, cat).
  ToolLocator fake_tools() const { return ToolLocator({bin.string(), "/usr/bin", "/bin"}); }

  ScanOutcome run(const std::string& tool, const ToolLocator& locator, int64_t deadline_ms = 0,
                  const std::atomic<bool>* cancelled = nullptr, const ToolSandbox& sandbox = {}) {
    auto scanner = make_external_scanner(tool, locator, sandbox);
    EXPECT_TRUE(scanner);
    ScanContext ctx;
    ctx.source_root = src.string();
    ctx.output_dir = out.string();
    ctx.log = [this](std::string_view line) { logs.emplace_back(line); };
    ctx.cancelled = cancelled;
    ctx.deadline_ms = deadline_ms;
    auto r = scanner->run(ctx);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : ScanOutcome{};
  }

  // The SARIF an adapter wrote, checked against the rules every bundle SARIF follows.
  Json sarif_of(const std::string& tool) {
    fs::path p = out / "reports/sast" / (tool + ".sarif.json");
    EXPECT_TRUE(fs::exists(p)) << p;
    Json doc = Json::parse(slurp(p), nullptr, false);
    EXPECT_TRUE(doc.is_object());
    if (!doc.is_object()) return Json::object();
    EXPECT_EQ(doc.value("version", ""), "2.1.0");
    EXPECT_TRUE(doc.contains("$schema"));
    EXPECT_EQ(doc["runs"].size(), 1u);
    const Json& run = doc["runs"][0];
    EXPECT_TRUE(run["tool"]["driver"]["name"].is_string());
    std::set<std::string> rule_ids;
    for (const auto& r : run["tool"]["driver"]["rules"]) rule_ids.insert(r["id"].get<std::string>());
    for (const auto& r : run["results"]) {
      std::string rule = r.value("ruleId", "");
      EXPECT_TRUE(rule_ids.count(rule)) << "result names an undeclared rule " << rule;
      EXPECT_TRUE(r["level"] == "error" || r["level"] == "warning" || r["level"] == "note") << r.dump();
      EXPECT_TRUE(r["message"]["text"].is_string());
      EXPECT_TRUE(r.contains("partialFingerprints") && r["partialFingerprints"].contains("secplat/v1")) << r.dump();
      const Json& loc = r["locations"][0]["physicalLocation"];
      std::string uri = loc["artifactLocation"]["uri"];
      EXPECT_FALSE(uri.empty());
      EXPECT_NE(uri[0], '/') << uri;
      EXPECT_FALSE(uri.starts_with("./")) << uri;
      EXPECT_EQ(uri.find(".."), std::string::npos) << uri;
      EXPECT_EQ(uri.find(src.string()), std::string::npos) << uri;
      EXPECT_TRUE(r["properties"]["severity"].is_string());
      EXPECT_TRUE(r["properties"]["security-severity"].is_string());
    }
    return run;
  }

  // Does the run hold a result for rule at uri:line?
  static bool has_result(const Json& run, const std::string& rule, const std::string& uri, int line) {
    for (const auto& r : run["results"]) {
      const Json& loc = r["locations"][0]["physicalLocation"];
      if (r["ruleId"] == rule && loc["artifactLocation"]["uri"] == uri && loc.contains("region") &&
          loc["region"]["startLine"] == line)
        return true;
    }
    return false;
  }

  fs::path root, src, out, bin;
  std::vector<std::string> logs;
};

// ---- the Debian tools, for real ---------------------------------------------------------------

TEST_F(ExternalScannersTest, BanditFindsShellTrueAndEval) {
  ASSERT_TRUE(system_tools().find("bandit")) << "bandit is not installed (scripts/install-deps.sh installs it)";
  auto o = run("bandit", system_tools());
  EXPECT_EQ(o.status, "succeeded") << o.message;
  EXPECT_FALSE(o.version.empty());
  Json run = sarif_of("bandit");
  EXPECT_TRUE(has_result(run, "B602", "app.py", 5)) << run.dump(1);
  EXPECT_TRUE(has_result(run, "B307", "app.py", 9)) << run.dump(1);
  for (const auto& r : run["results"])
    EXPECT_EQ(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "app.py");  // not node_modules
  EXPECT_EQ(o.outputs, std::vector<std::string>{"reports/sast/bandit.sarif.json"});
  EXPECT_EQ(o.findings, static_cast<int64_t>(run["results"].size()));
  EXPECT_GE(o.by_severity["high"], 1);
  EXPECT_EQ(run["tool"]["driver"]["version"], o.version);
}

TEST_F(ExternalScannersTest, ShellCheckFindsUnquotedVariables) {
  ASSERT_TRUE(system_tools().find("shellcheck")) << "shellcheck is not installed";
  auto o = run("shellcheck", system_tools());
  EXPECT_EQ(o.status, "succeeded") << o.message;
  Json run = sarif_of("shellcheck");
  EXPECT_TRUE(has_result(run, "SC2086", "sub/run.sh", 3)) << run.dump(1);
  EXPECT_TRUE(has_result(run, "SC2086", "sub/deploy", 2)) << run.dump(1);
}

TEST_F(ExternalScannersTest, CppcheckFindsGets) {
  ASSERT_TRUE(system_tools().find("cppcheck")) << "cppcheck is not installed";
  auto o = run("cppcheck", system_tools());
  EXPECT_EQ(o.status, "succeeded") << o.message;
  Json run = sarif_of("cppcheck");
  EXPECT_TRUE(has_result(run, "getsCalled", "vuln.c", 10)) << run.dump(1);
}

TEST_F(ExternalScannersTest, FlawfinderFindsStrcpyAndGets) {
  ASSERT_TRUE(system_tools().find("flawfinder")) << "flawfinder is not installed";
  auto o = run("flawfinder", system_tools());
  EXPECT_EQ(o.status, "succeeded") << o.message;
  Json run = sarif_of("flawfinder");
  EXPECT_TRUE(has_result(run, "FF1001", "vuln.c", 5)) << run.dump(1);  // buffer/strcpy
  EXPECT_TRUE(has_result(run, "FF1014", "vuln.c", 10)) << run.dump(1);  // buffer/gets
  EXPECT_EQ(o.by_severity["high"], 2);
}

TEST_F(ExternalScannersTest, NothingToScanIsAnEmptyReport) {
  fs::remove(src / "app.py");
  ASSERT_TRUE(system_tools().find("bandit"));
  auto o = run("bandit", system_tools());
  EXPECT_EQ(o.status, "succeeded");
  EXPECT_EQ(o.message, "no Python files");
  EXPECT_EQ(sarif_of("bandit")["results"].size(), 0u);
}

TEST_F(ExternalScannersTest, MissingToolsAreSkippedAndSaySo) {
  ToolLocator nowhere({});
  for (const auto& id : external_tool_ids()) {
    auto scanner = make_external_scanner(id, nowhere);
    ASSERT_TRUE(scanner);
    EXPECT_EQ(scanner->id(), id);
    EXPECT_FALSE(scanner->available());
    auto o = run(id, nowhere);
    EXPECT_EQ(o.status, "skipped");
    EXPECT_EQ(o.message, id + " not installed");
    EXPECT_TRUE(o.outputs.empty());
  }
  EXPECT_FALSE(fs::exists(out / "reports"));
  EXPECT_TRUE(make_external_scanner("bandit", system_tools())->available());
}

// ---- misbehaving tools ------------------------------------------------------------------------

// Shell lines that start `sleep 300` in the background and write its pid as this test sees it:
// tools run in a PID namespace of their own, where `$!` is not the host's pid, but /proc is the
// host's, so the fourth field of /proc/self/stat (the ppid of cut: the shell that becomes the sleep).
std::string background_sleep(const fs::path& pidfile) {
  return "sh -c 'cut -d\" \" -f4 /proc/self/stat > \"" + pidfile.string() + ".tmp\"; mv \"" + pidfile.string() +
         ".tmp\" \"" + pidfile.string() + "\"; exec sleep 300' &\n";
}

TEST_F(ExternalScannersTest, HangingToolTimesOutAndIsGone) {
  fs::path pidfile = root / "grandchild.pid";
  fake_tool("bandit", "[ \"$1\" = --version ] && { echo 'bandit 9.9.9'; exit 0; }\n" +
                          background_sleep(pidfile) + "wait\n");
  int64_t t0 = steady_ms();
  auto o = run("bandit", fake_tools(), steady_ms() + 1500);
  EXPECT_EQ(o.status, "timeout") << o.message;
  EXPECT_EQ(o.version, "9.9.9");
  EXPECT_LT(steady_ms() - t0, 10000);
  EXPECT_TRUE(o.outputs.empty());
  std::ifstream in(pidfile);
  int pid = 0;
  in >> pid;
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(eventually([&] { return process_gone(pid); })) << "the tool's child " << pid << " survived";
}

TEST_F(ExternalScannersTest, CancelledToolIsKilled) {
  fs::path pidfile = root / "grandchild.pid";
  fake_tool("shellcheck", "[ \"$1\" = --version ] && { echo 'version: 0.9.0'; exit 0; }\n" +
                              background_sleep(pidfile) + "wait\n");
  std::atomic<bool> cancelled{false};
  std::thread canceller([&] {
    eventually([&] { return fs::exists(pidfile) && fs::file_size(pidfile) > 0; }, 10000);
    cancelled = true;
  });
  auto o = run("shellcheck", fake_tools(), 0, &cancelled);
  canceller.join();
  EXPECT_EQ(o.status, "cancelled") << o.message;
  std::ifstream in(pidfile);
  int pid = 0;
  in >> pid;
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(eventually([&] { return process_gone(pid); }));
}

TEST_F(ExternalScannersTest, CrashBadExitAndGarbageFail) {
  fake_tool("cppcheck", "[ \"$1\" = --version ] && { echo 'Cppcheck 2.10'; exit 0; }\nkill -SEGV $$\n");
  auto crashed = run("cppcheck", fake_tools());
  EXPECT_EQ(crashed.status, "failed");
  EXPECT_NE(crashed.message.find("killed by signal 11 (SIGSEGV)"), std::string::npos) << crashed.message;
  EXPECT_EQ(crashed.exit_code, 128 + 11);

  fake_tool("shellcheck", "[ \"$1\" = --version ] && { echo 'version: 0.9.0'; exit 0; }\necho boom >&2\nexit 3\n");
  auto bad = run("shellcheck", fake_tools());
  EXPECT_EQ(bad.status, "failed");
  EXPECT_EQ(bad.exit_code, 3);
  EXPECT_NE(bad.message.find("exited with status 3: boom"), std::string::npos) << bad.message;

  fake_tool("bandit", "[ \"$1\" = --version ] && { echo 'bandit 1.0.0'; exit 0; }\necho 'this is not json'\n");
  auto garbage = run("bandit", fake_tools());
  EXPECT_EQ(garbage.status, "failed");
  EXPECT_NE(garbage.message.find("cannot read the bandit report"), std::string::npos) << garbage.message;
  EXPECT_FALSE(fs::exists(out / "reports/sast/bandit.sarif.json"));
}

TEST_F(ExternalScannersTest, ToolsRunWithoutNetworkUnlessAllowedAndWithinLimits) {
  test::LoopbackListener listener;
  ASSERT_GT(listener.port(), 0);
  fs::path seen = root / "seen";
  fake_tool("bandit", "[ \"$1\" = --version ] && { echo 'bandit 1.7.5'; exit 0; }\n"
                      "/bin/bash -c '" + test::connect_script(listener.port()) + "' > '" + seen.string() + "' 2>/dev/null\n"
                      "ulimit -v >> '" + seen.string() + "'\n"
                      "echo '{\"results\": []}'\n");
  auto isolated = run("bandit", fake_tools());
  EXPECT_EQ(isolated.status, "succeeded") << isolated.message;
  EXPECT_EQ(slurp(seen), "unreachable\n" + std::to_string(8ull << 20) + "\n");  // KiB: the 8 GiB default

  ToolSandbox allowed;
  allowed.network_allow = {"bandit"};
  allowed.max_memory_bytes = 1ull << 30;
  auto open = run("bandit", fake_tools(), 0, nullptr, allowed);
  EXPECT_EQ(open.status, "succeeded") << open.message;
  EXPECT_EQ(slurp(seen), "reached\n" + std::to_string(1u << 20) + "\n");

  ToolSandbox other;
  other.network_allow = {"trivy"};  // allowing another tool gives bandit nothing
  run("bandit", fake_tools(), 0, nullptr, other);
  EXPECT_EQ(slurp(seen).substr(0, 12), "unreachable\n");
}

TEST_F(ExternalScannersTest, ToolsDoNotSeeTheServersDataDirectory) {
  // A tool exploited by a hostile repository reads what it can and puts it in its report.
  const fs::path data = root / "data";
  write(data / "keys/signing.key", "-----BEGIN PRIVATE KEY-----\n");
  fs::path seen = root / "seen";
  fake_tool("bandit", "[ \"$1\" = --version ] && { echo 'bandit 1.7.5'; exit 0; }\n"
                      "{ cat '" + (data / "keys/signing.key").string() + "' 2>/dev/null || echo no-key\n"
                      "  head -n 1 app.py; } > '" + seen.string() + "'\n"
                      "echo '{\"results\": []}'\n");
  ToolSandbox box;
  box.hidden_paths = {data.string()};
  auto hidden = run("bandit", fake_tools(), 0, nullptr, box);
  EXPECT_EQ(hidden.status, "succeeded") << hidden.message;
  EXPECT_EQ(slurp(seen), "no-key\nimport subprocess\n");  // the source it scans is there

  auto exposed = run("bandit", fake_tools());  // the probe can tell: without the list it reads the key
  EXPECT_EQ(exposed.status, "succeeded") << exposed.message;
  EXPECT_EQ(slurp(seen), "-----BEGIN PRIVATE KEY-----\nimport subprocess\n");
}

// ---- tools used when found on PATH (stand-ins with their real command lines) -------------------

// A stand-in that records its arguments and writes `sarif` to the path after `flag`.
std::string sarif_writer_script(const fs::path& args_file, const std::string& flag, const std::string& sarif) {
  return "[ \"$1\" = --version ] && { echo '1.2.3'; exit 0; }\n"
         "printf '%s\\n' \"$@\" > '" + args_file.string() + "'\n"
         "out=''\nprev=''\nfor a in \"$@\"; do\n"
         "  case \"$a\" in " + flag + "=*) out=\"${a#*=}\";; esac\n"
         "  [ \"$prev\" = '" + flag + "' ] && out=\"$a\"\n  prev=\"$a\"\ndone\n"
         "cat > \"$out\" <<'SARIF'\n" + sarif + "\nSARIF\n";
}

TEST_F(ExternalScannersTest, SemgrepSarifIsNormalised) {
  std::string sarif = R"J({"version":"2.1.0","runs":[{"tool":{"driver":{"name":"Semgrep OSS","rules":[
      {"id":"secplat.python.eval","defaultConfiguration":{"level":"warning"},"shortDescription":{"text":"eval"}}]}},
    "results":[
      {"ruleId":"secplat.python.eval","message":{"text":"eval() of a non-literal"},
       "fingerprints":{"matchBasedId/v1":"m1"},
       "locations":[{"physicalLocation":{"artifactLocation":{"uri":"file://)J" + src.string() + R"J(/app.py"},
                                          "region":{"startLine":9,"startColumn":12,"endLine":9,"endColumn":22,
                                                    "snippet":{"text":"return eval(expr)"}}}}]},
      {"ruleId":"secplat.python.eval","message":{"text":"outside"},
       "locations":[{"physicalLocation":{"artifactLocation":{"uri":"/etc/passwd"},"region":{"startLine":1}}}]}]}]})J";
  fake_tool("semgrep", sarif_writer_script(root / "args", "--output", sarif));
  auto o = run("semgrep", fake_tools());
  EXPECT_EQ(o.status, "succeeded") << o.message;
  EXPECT_EQ(o.version, "1.2.3");
  EXPECT_NE(o.message.find("1 outside the source tree ignored"), std::string::npos) << o.message;
  std::string args = slurp(root / "args");
  EXPECT_NE(args.find("scan\n--config\n"), std::string::npos) << args;
  EXPECT_NE(args.find("secplat-baseline.yml\n--sarif\n--output\n"), std::string::npos) << args;
  EXPECT_NE(args.find("--metrics=off"), std::string::npos);
  Json run = sarif_of("semgrep");
  ASSERT_EQ(run["results"].size(), 1u);
  EXPECT_TRUE(has_result(run, "secplat.python.eval", "app.py", 9));
  const Json& r = run["results"][0];
  EXPECT_EQ(r["partialFingerprints"]["matchBasedId/v1"], "m1");
  EXPECT_EQ(r["properties"]["severity"], "medium");
  EXPECT_FALSE(r["locations"][0]["physicalLocation"]["region"].contains("snippet"));  // snippets never copied
}

TEST_F(ExternalScannersTest, SemgrepConfigOptionIsConfined) {
  fake_tool("semgrep", sarif_writer_script(root / "args", "--output", R"J({"version":"2.1.0","runs":[]})J"));
  auto scanner = make_external_scanner("semgrep", fake_tools());
  ScanContext ctx;
  ctx.source_root = src.string();
  ctx.output_dir = out.string();
  ctx.options["config"] = "../../etc/rules.yml";
  auto o = scanner->run(ctx);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->status, "failed");
  EXPECT_NE(o->message.find("inside the source"), std::string::npos) << o->message;
}

TEST_F(ExternalScannersTest, OpengrepUsesSarifOutputFlag) {
  fake_tool("opengrep", sarif_writer_script(root / "args", "--sarif-output",
                                            R"J({"version":"2.1.0","runs":[{"tool":{"driver":{"name":"opengrep"}},"results":[
      {"ruleId":"secplat.c.unbounded-copy","level":"error","message":{"text":"strcpy"},
       "locations":[{"physicalLocation":{"artifactLocation":{"uri":"vuln.c"},"region":{"startLine":5}}}]}]}]})J"));
  auto o = run("opengrep", fake_tools());
  EXPECT_EQ(o.status, "succeeded") << o.message;
  Json run = sarif_of("opengrep");
  EXPECT_TRUE(has_result(run, "secplat.c.unbounded-copy", "vuln.c", 5));
  EXPECT_EQ(run["results"][0]["level"], "error");
  EXPECT_EQ(o.by_severity["high"], 1);
}

TEST_F(ExternalScannersTest, TrivySarifWithRootPathBase) {
  write(src / "package-lock.json", "{}\n");
  fake_tool("trivy", sarif_writer_script(root / "args", "--output",
                                         R"J({"version":"2.1.0","runs":[{"tool":{"driver":{"name":"Trivy","rules":[
      {"id":"CVE-2021-23337","shortDescription":{"text":"lodash: command injection"},
       "properties":{"security-severity":"7.2","tags":["vulnerability","security","HIGH"]}}]}},
    "originalUriBaseIds":{"ROOTPATH":{"uri":"file://)J" + src.string() + R"J(/"}},
    "results":[{"ruleId":"CVE-2021-23337","ruleIndex":0,"level":"error","message":{"text":"Package: lodash"},
      "locations":[{"physicalLocation":{"artifactLocation":{"uri":"package-lock.json","uriBaseId":"ROOTPATH"},
                                         "region":{"startLine":1,"startColumn":1,"endLine":1,"endColumn":1}}}]}]}]})J"));
  auto scanner = make_external_scanner("trivy", fake_tools());
  ScanContext ctx;
  ctx.source_root = src.string();
  ctx.output_dir = out.string();
  ctx.options["offline"] = "true";
  ctx.deadline_ms = steady_ms() + 120000;
  auto o = scanner->run(ctx);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->status, "succeeded") << o->message;
  std::string args = slurp(root / "args");
  EXPECT_NE(args.find("fs\n--scanners\nvuln,secret,misconfig\n--format\nsarif\n"), std::string::npos) << args;
  EXPECT_NE(args.find("--skip-db-update"), std::string::npos);
  Json run = sarif_of("trivy");
  EXPECT_TRUE(has_result(run, "CVE-2021-23337", "package-lock.json", 1));
  EXPECT_EQ(run["results"][0]["properties"]["severity"], "high");
  EXPECT_EQ(run["results"][0]["properties"]["security-severity"], "8.0");
}

TEST_F(ExternalScannersTest, SyftWritesBothSboms) {
  fake_tool("syft",
            "[ \"$1\" = version ] && { printf 'Application: syft\\nVersion: 1.4.1\\n'; exit 0; }\n"
            "for a in \"$@\"; do case \"$a\" in\n"
            "  cyclonedx-json=*) echo '{\"bomFormat\":\"CycloneDX\",\"components\":[{\"name\":\"a\"},{\"name\":\"b\"}]}' > \"${a#*=}\";;\n"
            "  spdx-json=*) echo '{\"spdxVersion\":\"SPDX-2.3\",\"packages\":[]}' > \"${a#*=}\";;\n"
            "esac; done\n");
  auto o = run("syft", fake_tools());
  EXPECT_EQ(o.status, "succeeded") << o.message;
  EXPECT_EQ(o.version, "1.4.1");
  EXPECT_EQ(o.findings, 2);
  EXPECT_EQ(o.outputs, (std::vector<std::string>{"reports/sbom/syft.cyclonedx.json", "reports/sbom/syft.spdx.json"}));
  EXPECT_TRUE(fs::exists(out / "reports/sbom/syft.spdx.json"));
}

}  // namespace
}  // namespace secplat::scanners
