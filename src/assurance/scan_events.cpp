#include "assurance/scan_events.h"

#include <algorithm>

#include "scanners/secrets/secrets_engine.h"

namespace secplat::assurance {

std::string redact_line(std::string_view line) {
  // Second line of defence (scanners must not log secrets): every shape the secrets engine knows.
  return scanners::secrets::redact_secrets(line);
}

std::shared_ptr<ScanEventLog::Channel> ScanEventLog::channel(const std::string& test_id) {
  std::lock_guard lk(map_mu_);
  auto& ch = channels_[test_id];
  if (!ch) ch = std::make_shared<Channel>();
  return ch;
}

void ScanEventLog::drop_channel(const std::string& test_id) {
  std::lock_guard lk(map_mu_);
  channels_.erase(test_id);
}

Status ScanEventLog::load(const std::string& test_id, Channel& ch) {
  if (ch.loaded) return ok_status();
  auto last = store_.events_after(test_id, 0);
  if (!last) return std::move(last).take_error();
  ch.last_seq = last->empty() ? 0 : last->back().seq;
  ch.closed = !last->empty() && last->back().type == "scan_complete";
  ch.loaded = true;
  return ok_status();
}

Result<int64_t> ScanEventLog::append(const std::string& test_id, const std::string& type, Json fields) {
  if (!fields.is_object()) fields = Json::object();
  if (type == "log") {
    if (auto it = fields.find("line"); it != fields.end() && it->is_string())
      *it = redact_line(it->get<std::string>());
  }
  auto ch = channel(test_id);
  std::vector<std::shared_ptr<Subscription>> finished;
  int64_t seq = 0;
  {
    std::lock_guard lk(ch->mu);
    SECPLAT_TRY(load(test_id, *ch));
    if (ch->closed) return int64_t{0};
    seq = ch->last_seq + 1;
    int64_t now = clock_.now_ms();
    fields["type"] = type;
    fields["timestamp"] = static_cast<double>(now) / 1000.0;
    fields["seq"] = seq;
    std::string text = fields.dump(-1, ' ', false, Json::error_handler_t::replace);
    SECPLAT_TRY(store_.append_event(test_id, seq, type, now, text));
    ch->last_seq = seq;
    bool terminal = type == "scan_complete";
    if (terminal) ch->closed = true;
    std::erase_if(ch->subs, [&](const std::shared_ptr<Subscription>& s) {
      if (!s->active()) return true;
      if (!s->sink_(text, terminal)) {
        s->cancel();
        return true;
      }
      return terminal;
    });
  }
  if (type == "scan_complete") drop_channel(test_id);
  return seq;
}

Result<std::shared_ptr<ScanEventLog::Subscription>> ScanEventLog::subscribe(const std::string& test_id,
                                                                             int64_t since, Sink sink) {
  auto ch = channel(test_id);
  std::lock_guard lk(ch->mu);
  auto history = store_.events_after(test_id, since);
  if (!history) return std::move(history).take_error();
  SECPLAT_TRY(load(test_id, *ch));
  for (const auto& ev : *history) {
    bool terminal = ev.type == "scan_complete";
    if (!sink(ev.json, terminal) || terminal) return std::shared_ptr<Subscription>{};
  }
  if (ch->closed) {
    // Complete, but scan_complete was at or before `since`: nothing more will come.
    sink(std::string(), true);
    return std::shared_ptr<Subscription>{};
  }
  auto sub = std::make_shared<Subscription>();
  sub->sink_ = std::move(sink);
  ch->subs.push_back(sub);
  return sub;
}

int64_t ScanEventLog::live_subscribers() const {
  std::vector<std::shared_ptr<Channel>> chans;
  {
    std::lock_guard lk(map_mu_);
    for (auto& [_, ch] : channels_) chans.push_back(ch);
  }
  int64_t n = 0;
  for (auto& ch : chans) {
    std::lock_guard lk(ch->mu);
    n += std::count_if(ch->subs.begin(), ch->subs.end(), [](const auto& s) { return s->active(); });
  }
  return n;
}

}  // namespace secplat::assurance
