#include "assurance/scan_events.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <vector>

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

std::shared_ptr<ScanEventLog::Channel> ScanEventLog::find_channel(const std::string& test_id) {
  std::lock_guard lk(map_mu_);
  auto it = channels_.find(test_id);
  return it == channels_.end() ? nullptr : it->second;
}

Status ScanEventLog::load(const std::string& test_id, Channel& ch) {
  if (ch.loaded) return ok_status();
  auto last = store_.last_event(test_id);
  if (!last) return std::move(last).take_error();
  ch.last_seq = *last ? (*last)->seq : 0;
  ch.closed = *last && (*last)->type == "scan_complete";
  ch.loaded = true;
  return ok_status();
}

void ScanEventLog::fan_out(const std::string& test_id, Channel& ch, int64_t seq, const std::string& text,
                           bool terminal) {
  // Subscribers behind by more than this event (it came from another process, or one of theirs was
  // lost): read what they miss from the store once, from the one furthest behind.
  // If the store cannot be read now, they wait for the next event or catch_up() rather than
  // skip one.
  std::vector<StoredEvent> gap;
  int64_t from = seq - 1;
  for (const auto& sub : ch.subs) from = std::min(from, sub->delivered_);
  if (from < seq - 1) {
    auto got = store_.events_after(test_id, from);
    if (got.ok()) gap = std::move(*got);
  }
  std::erase_if(ch.subs, [&](const std::shared_ptr<Subscription>& s) {
    if (!s->active()) return true;
    if (seq <= s->delivered_) return false;
    if (seq > s->delivered_ + 1) {
      for (const auto& ev : gap) {
        if (ev.seq <= s->delivered_ || ev.seq >= seq) continue;
        bool end = ev.type == "scan_complete";
        if (!s->sink_(ev.json, end)) {
          s->cancel();
          return true;
        }
        s->delivered_ = ev.seq;
        if (end) return true;
      }
      if (seq > s->delivered_ + 1) return false;  // still missing some: not this one yet
    }
    if (!s->sink_(text, terminal)) {
      s->cancel();
      return true;
    }
    s->delivered_ = seq;
    return terminal;
  });
}

Result<int64_t> ScanEventLog::append(const std::string& test_id, const std::string& type, Json fields) {
  if (!fields.is_object()) fields = Json::object();
  if (type == "log") {
    if (auto it = fields.find("line"); it != fields.end() && it->is_string())
      *it = redact_line(it->get<std::string>());
  }
  const bool terminal = type == "scan_complete";
  auto ch = channel(test_id);
  int64_t seq = 0;
  {
    std::lock_guard lk(ch->mu);
    std::string text;
    // Another process may take the seq we expect (a cancel on an API replica while a worker logs):
    // the insert then conflicts, and we re-read the log and try again.
    for (int attempt = 0;; ++attempt) {
      SECPLAT_TRY(load(test_id, *ch));
      if (ch->closed) return int64_t{0};
      seq = ch->last_seq + 1;
      int64_t now = clock_.now_ms();
      fields["type"] = type;
      fields["timestamp"] = static_cast<double>(now) / 1000.0;
      fields["seq"] = seq;
      text = fields.dump(-1, ' ', false, Json::error_handler_t::replace);
      Status st = store_.append_event(test_id, seq, type, now, text);
      if (st.ok()) break;
      if (st.error().code != Errc::conflict || attempt >= 8) return std::move(st).take_error();
      ch->loaded = false;
    }
    ch->last_seq = seq;
    if (terminal) ch->closed = true;
    if (publisher_) publisher_(test_id, seq, type, text);
    fan_out(test_id, *ch, seq, text, terminal);
  }
  if (terminal) drop_channel(test_id);
  return seq;
}

void ScanEventLog::deliver(const std::string& test_id, int64_t seq, const std::string& type,
                           const std::string& event_json) {
  auto ch = find_channel(test_id);  // nobody here follows this scan: nothing to do
  if (!ch) return;
  const bool terminal = type == "scan_complete";
  {
    std::lock_guard lk(ch->mu);
    if (ch->loaded && seq > ch->last_seq) {
      ch->last_seq = seq;
      if (terminal) ch->closed = true;
    }
    fan_out(test_id, *ch, seq, event_json, terminal);
  }
  if (terminal) drop_channel(test_id);
}

void ScanEventLog::catch_up() {
  std::vector<std::pair<std::string, std::shared_ptr<Channel>>> chans;
  {
    std::lock_guard lk(map_mu_);
    for (auto& [id, ch] : channels_) chans.emplace_back(id, ch);
  }
  for (auto& [test_id, ch] : chans) {
    bool terminal = false;
    {
      std::lock_guard lk(ch->mu);
      if (ch->subs.empty()) continue;
      int64_t from = std::numeric_limits<int64_t>::max();
      for (const auto& s : ch->subs) from = std::min(from, s->delivered_);
      auto missed = store_.events_after(test_id, from);
      if (!missed.ok()) continue;
      for (const auto& ev : *missed) {
        terminal = ev.type == "scan_complete";
        if (ch->loaded && ev.seq > ch->last_seq) {
          ch->last_seq = ev.seq;
          if (terminal) ch->closed = true;
        }
        fan_out(test_id, *ch, ev.seq, ev.json, terminal);
        if (terminal) break;
      }
    }
    if (terminal) drop_channel(test_id);
  }
}

Result<std::shared_ptr<ScanEventLog::Subscription>> ScanEventLog::subscribe(const std::string& test_id,
                                                                             int64_t since, Sink sink) {
  auto ch = channel(test_id);
  std::lock_guard lk(ch->mu);
  auto history = store_.events_after(test_id, since);
  if (!history) return std::move(history).take_error();
  SECPLAT_TRY(load(test_id, *ch));
  int64_t delivered = since;
  for (const auto& ev : *history) {
    bool terminal = ev.type == "scan_complete";
    if (!sink(ev.json, terminal) || terminal) return std::shared_ptr<Subscription>{};
    delivered = ev.seq;
  }
  if (ch->closed && delivered >= ch->last_seq) {
    // Complete, but scan_complete was at or before `since`: nothing more will come.
    sink(std::string(), true);
    return std::shared_ptr<Subscription>{};
  }
  auto sub = std::make_shared<Subscription>();
  sub->sink_ = std::move(sink);
  sub->delivered_ = delivered;
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
