// tests/notify/receiver.py (a loopback stand-in for Slack, a signed webhook, Twilio, Jira and an
// SMTP server) in a child process with its own temp dir, for the notify tests.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "core/encoding.h"
#include "core/json.h"

namespace secplat::testing {

inline std::vector<Json> read_jsonl(const std::string& path) {
  std::vector<Json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(Json::parse(line));
  return out;
}

class NotifyReceiver {
 public:
  NotifyReceiver() : dir_("/tmp/secplat-notify-recv-" + hex_encode(random_bytes(6))) {
    std::filesystem::create_directories(dir_);
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string script = std::string(SECPLAT_SOURCE_DIR) + "/tests/notify/receiver.py";
      ::execlp("python3", "python3", script.c_str(), dir_.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // receiver.py writes smtp_port first, then port.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline && !std::filesystem::exists(dir_ + "/port"))
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    port_ = first_line(dir_ + "/port");
    smtp_port_ = first_line(dir_ + "/smtp_port");
  }
  ~NotifyReceiver() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  NotifyReceiver(const NotifyReceiver&) = delete;
  NotifyReceiver& operator=(const NotifyReceiver&) = delete;

  bool ok() const { return !port_.empty() && !smtp_port_.empty(); }
  std::string url() const { return "http://127.0.0.1:" + port_; }
  std::string smtp_url() const { return "smtp://127.0.0.1:" + smtp_port_; }
  // Forget what was received and any scripted answers.
  void reset() const {
    std::error_code ec;
    for (const char* f : {"/requests.jsonl", "/mail.jsonl", "/plan.json"}) std::filesystem::remove(dir_ + f, ec);
  }
  // The next answers, one per request: [{"status", "headers", "body", "hang_ms"}, ...].
  void plan(const Json& answers) const {
    std::ofstream(dir_ + "/plan.json.tmp") << answers.dump();
    std::filesystem::rename(dir_ + "/plan.json.tmp", dir_ + "/plan.json");
  }
  std::vector<Json> requests() const { return read_jsonl(dir_ + "/requests.jsonl"); }
  // Requests received on paths starting with `prefix`.
  std::vector<Json> requests(const std::string& prefix) const {
    std::vector<Json> out;
    for (auto& r : requests())
      if (r["path"].get<std::string>().rfind(prefix, 0) == 0) out.push_back(r);
    return out;
  }
  std::vector<Json> mails() const { return read_jsonl(dir_ + "/mail.jsonl"); }

 private:
  static std::string first_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
  }
  std::string dir_;
  pid_t pid_ = -1;
  std::string port_;
  std::string smtp_port_;
};

}  // namespace secplat::testing
