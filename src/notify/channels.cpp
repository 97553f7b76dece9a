#include "notify/channels.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>

#include "core/encoding.h"
#include "core/json.h"
#include "http/client.h"
#include "notify/rate_limiter.h"

namespace secplat::notify {
namespace {

const Clock& clock_of(const ChannelOptions& o) {
  static const SystemClock system_clock;
  return o.clock != nullptr ? *o.clock : system_clock;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Cuts at a UTF-8 boundary so the result stays valid text.
std::string truncate(const std::string& s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// The part of a URL after scheme://authority (path, query): secret for Slack webhooks.
std::string url_path(const std::string& url) {
  const auto scheme = url.find("://");
  const auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return slash == std::string::npos ? std::string() : url.substr(slash);
}

std::string redact(std::string text, const std::vector<std::string>& secrets) {
  for (const auto& s : secrets) {
    if (s.size() < 2) continue;
    for (auto pos = text.find(s); pos != std::string::npos; pos = text.find(s, pos + 10))
      text.replace(pos, s.size(), "[redacted]");
  }
  return text;
}

std::string summary_line(const Notification& n) {
  std::string s;
  if (!n.severity.empty()) s += "[" + upper(n.severity) + "] ";
  if (n.status == "resolved") s += "Resolved: ";
  return s + n.title;
}

// The one place an HTTP outcome becomes a DeliveryResult (see channel.h for the rules).
DeliveryResult classify(const std::string& kind, const std::string& url, const Result<http::ClientResponse>& r,
                        const Clock& clock, std::vector<std::string> secrets, bool show_body) {
  secrets.push_back(url_path(url));
  DeliveryResult d;
  if (!r.ok()) {
    d.retryable = true;
    d.error = redact(kind + ": " + r.error().message, secrets);
    return d;
  }
  d.http_status = r->status;
  if (r->status >= 200 && r->status < 300) {
    d.ok = true;
    return d;
  }
  d.retryable = r->status == 429 || r->status >= 500;
  if (auto ra = parse_retry_after(r->header("retry-after"), clock.now_ms())) d.retry_after_ms = *ra;
  std::string msg = kind + ": " + http::url_host(url) + " answered HTTP " + std::to_string(r->status);
  if (show_body && !r->body.empty()) msg += ": " + truncate(r->body, 300);
  d.error = redact(std::move(msg), secrets);
  return d;
}

http::ClientRequest json_post(const std::string& url, std::string body, const ChannelOptions& o) {
  http::ClientRequest req;
  req.method = "POST";
  req.url = url;
  req.headers = {{"Content-Type", "application/json; charset=utf-8"}, {"Accept", "application/json"}};
  req.body = std::move(body);
  req.timeout_ms = o.timeout_ms;
  req.connect_timeout_ms = o.connect_timeout_ms;
  req.max_response_bytes = 1u << 20;
  return req;
}

std::string strip_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// Slack mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting#escaping).
std::string slack_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out += c;
  }
  return out;
}

std::string slack_json(const Notification& n) {
  Json blocks = Json::array();
  blocks.push_back({{"type", "header"}, {"text", {{"type", "plain_text"}, {"text", truncate(summary_line(n), 150)}}}});
  if (!n.text.empty())
    blocks.push_back({{"type", "section"}, {"text", {{"type", "mrkdwn"}, {"text", truncate(slack_escape(n.text), 3000)}}}});
  Json fields = Json::array();
  auto add = [&](const std::string& k, const std::string& v) {
    if (!v.empty() && fields.size() < 10)
      fields.push_back({{"type", "mrkdwn"}, {"text", truncate("*" + slack_escape(k) + "*\n" + slack_escape(v), 2000)}});
  };
  add("Severity", n.severity);
  add("Status", n.status);
  add("Asset", n.asset_key);
  add("Incident", n.incident_key);
  for (const auto& [k, v] : n.fields) add(k, v);
  if (!fields.empty()) blocks.push_back({{"type", "section"}, {"fields", fields}});
  if (!n.link.empty() && n.link.find_first_of("<>| ") == std::string::npos)
    blocks.push_back({{"type", "context"},
                      {"elements", Json::array({{{"type", "mrkdwn"}, {"text", "<" + n.link + "|Open in SecPlat>"}}})}});
  return Json{{"text", slack_escape(summary_line(n))}, {"blocks", blocks}}.dump();
}

std::string plain_body(const Notification& n) {
  std::string s = n.text;
  auto line = [&](const std::string& k, const std::string& v) {
    if (!v.empty()) s += (s.empty() ? "" : "\n") + k + ": " + v;
  };
  if (!s.empty()) s += "\n";
  line("Severity", n.severity);
  line("Status", n.status);
  line("Asset", n.asset_key);
  line("Incident", n.incident_key);
  for (const auto& [k, v] : n.fields) line(k, v);
  line("Link", n.link);
  return s;
}

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& kv) {
  std::string out;
  for (const auto& [k, v] : kv) {
    if (!out.empty()) out += '&';
    out += http::percent_encode(k, false) + "=" + http::percent_encode(v, false);
  }
  return out;
}

std::string json_string_member(const std::string& body, const char* name) {
  Json j = Json::parse(body, nullptr, false);
  if (j.is_object() && j.contains(name) && j[name].is_string()) return j[name].get<std::string>();
  return {};
}

}  // namespace

std::string webhook_json(const Notification& n) {
  Json fields = Json::object();
  for (const auto& [k, v] : n.fields) fields[k] = v;
  return Json{{"event_type", n.event_type}, {"severity", n.severity},   {"title", n.title},
              {"text", n.text},             {"asset_key", n.asset_key}, {"incident_key", n.incident_key},
              {"status", n.status},         {"link", n.link},           {"fields", fields},
              {"dedupe_key", n.dedupe_key}}
      .dump();
}

// ---- Slack

SlackChannel::SlackChannel(std::string webhook_url, ChannelOptions options)
    : url_(std::move(webhook_url)), opt_(options) {}

DeliveryResult SlackChannel::send(const Notification& n) {
  auto r = http::perform(json_post(url_, slack_json(n), opt_));
  // Slack's error bodies are short codes ("invalid_payload", "no_text") and safe to show.
  return classify("slack", url_, r, clock_of(opt_), {}, true);
}

// ---- Generic webhook

WebhookChannel::WebhookChannel(std::string url, std::string secret, ChannelOptions options)
    : url_(std::move(url)), secret_(std::move(secret)), opt_(options) {}

DeliveryResult WebhookChannel::send(const Notification& n) {
  const std::string ts = std::to_string(clock_of(opt_).now_ms() / 1000);
  auto req = json_post(url_, webhook_json(n), opt_);
  req.headers.emplace_back("X-SecPlat-Timestamp", ts);
  if (!secret_.empty())
    req.headers.emplace_back("X-SecPlat-Signature", "sha256=" + hex_encode(hmac_sha256(secret_, ts + "." + req.body)));
  auto r = http::perform(req);
  return classify("webhook", url_, r, clock_of(opt_), {secret_}, false);
}

// ---- Twilio

TwilioChannel::TwilioChannel(TwilioSettings settings, ChannelOptions options) : s_(std::move(settings)), opt_(options) {}

DeliveryResult TwilioChannel::send(const Notification& n) {
  const std::string url = strip_slash(s_.base_url) + "/2010-04-01/Accounts/" + http::percent_encode(s_.account_sid, false) +
                          "/Messages.json";
  std::string body = summary_line(n);
  if (!n.text.empty()) body += "\n" + n.text;
  if (!n.link.empty()) body += "\n" + n.link;
  http::ClientRequest req;
  req.method = "POST";
  req.url = url;
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}};
  req.body = form_encode({{"To", s_.to}, {"From", s_.from}, {"Body", truncate(body, 1600)}});
  req.userpwd = s_.account_sid + ":" + s_.auth_token;
  req.timeout_ms = opt_.timeout_ms;
  req.connect_timeout_ms = opt_.connect_timeout_ms;
  req.max_response_bytes = 1u << 20;
  auto r = http::perform(req);
  DeliveryResult d = classify("twilio", s_.base_url, r, clock_of(opt_), {s_.auth_token}, true);
  if (d.ok) d.remote_id = json_string_member(r->body, "sid");
  return d;
}

// ---- Jira

JiraChannel::JiraChannel(JiraSettings settings, ChannelOptions options) : s_(std::move(settings)), opt_(options) {}

DeliveryResult JiraChannel::send(const Notification& n) {
  const std::string sev = lower(n.severity);
  Json fields = {{"project", {{"key", s_.project_key}}},
                 {"summary", truncate(summary_line(n), 255)},
                 {"description", plain_body(n)},
                 {"issuetype", {{"name", sev == "critical" || sev == "high" ? "Bug" : "Task"}}}};
  Json labels = Json::array();
  if (!n.incident_key.empty()) {
    std::string label = n.incident_key;
    std::replace_if(label.begin(), label.end(), [](unsigned char c) { return std::isspace(c) != 0; }, '-');
    labels.push_back(label);
  }
  fields["labels"] = labels;
  auto req = json_post(strip_slash(s_.base_url) + "/rest/api/2/issue", Json{{"fields", fields}}.dump(), opt_);
  req.userpwd = s_.email + ":" + s_.api_token;
  auto r = http::perform(req);
  DeliveryResult d = classify("jira", s_.base_url, r, clock_of(opt_), {s_.api_token}, true);
  if (d.ok) d.remote_id = json_string_member(r->body, "key");
  return d;
}

DeliveryResult JiraChannel::comment(const std::string& issue_key, const std::string& text) {
  auto req = json_post(strip_slash(s_.base_url) + "/rest/api/2/issue/" + http::percent_encode(issue_key, false) + "/comment",
                       Json{{"body", text}}.dump(), opt_);
  req.userpwd = s_.email + ":" + s_.api_token;
  auto r = http::perform(req);
  DeliveryResult d = classify("jira", s_.base_url, r, clock_of(opt_), {s_.api_token}, true);
  if (d.ok) d.remote_id = issue_key;
  return d;
}

DeliveryResult JiraChannel::transition_resolved(const std::string& issue_key) {
  const std::string url =
      strip_slash(s_.base_url) + "/rest/api/2/issue/" + http::percent_encode(issue_key, false) + "/transitions";
  http::ClientRequest get;
  get.url = url;
  get.headers = {{"Accept", "application/json"}};
  get.userpwd = s_.email + ":" + s_.api_token;
  get.timeout_ms = opt_.timeout_ms;
  get.connect_timeout_ms = opt_.connect_timeout_ms;
  get.max_response_bytes = 1u << 20;
  auto r = http::perform(get);
  DeliveryResult d = classify("jira", s_.base_url, r, clock_of(opt_), {s_.api_token}, true);
  if (!d.ok) return d;

  Json j = Json::parse(r->body, nullptr, false);
  std::string id;
  for (const char* wanted : {"done", "resolved", "closed"}) {
    if (!j.is_object() || !j.contains("transitions") || !j["transitions"].is_array()) break;
    for (const auto& t : j["transitions"]) {
      if (!t.is_object() || !t.contains("name") || !t["name"].is_string() || !t.contains("id")) continue;
      if (lower(t["name"].get<std::string>()) != wanted) continue;
      id = t["id"].is_string() ? t["id"].get<std::string>() : t["id"].dump();
      break;
    }
    if (!id.empty()) break;
  }
  if (id.empty()) {
    DeliveryResult none;
    none.http_status = r->status;
    none.error = "jira: issue " + issue_key + " has no Done, Resolved or Closed transition";
    return none;
  }
  auto post = json_post(url, Json{{"transition", {{"id", id}}}}.dump(), opt_);
  post.userpwd = get.userpwd;
  auto pr = http::perform(post);
  d = classify("jira", s_.base_url, pr, clock_of(opt_), {s_.api_token}, true);
  if (d.ok) d.remote_id = issue_key;
  return d;
}

// ---- Email

namespace {

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\r' || c == '\n') c = ' ';
  return s;
}

// RFC 2047 encoded-word when the header text is not plain ASCII.
std::string header_text(const std::string& s) {
  const bool ascii = std::all_of(s.begin(), s.end(), [](unsigned char c) { return c >= 0x20 && c < 0x7f; });
  return ascii ? s : "=?UTF-8?B?" + base64_encode(s) + "?=";
}

std::string rfc5322_date(int64_t now_ms) {
  const std::time_t t = static_cast<std::time_t>(now_ms / 1000);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  static const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
                months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string crlf(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') continue;
    if (s[i] == '\n') out += "\r\n";
    else out += s[i];
  }
  return out;
}

struct Upload {
  const std::string* data;
  std::size_t pos = 0;
};

size_t read_upload(char* buf, size_t size, size_t nitems, void* user) {
  auto* u = static_cast<Upload*>(user);
  const std::size_t n = std::min(size * nitems, u->data->size() - u->pos);
  std::memcpy(buf, u->data->data() + u->pos, n);
  u->pos += n;
  return n;
}

struct CurlSlist {
  curl_slist* p = nullptr;
  ~CurlSlist() { curl_slist_free_all(p); }
};

struct CurlEasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};

}  // namespace

EmailChannel::EmailChannel(EmailSettings settings, ChannelOptions options) : s_(std::move(settings)), opt_(options) {}

DeliveryResult EmailChannel::send(const Notification& n) {
  static std::once_flag curl_once;
  std::call_once(curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  const std::string host = http::url_host(s_.smtp_url);
  DeliveryResult d;
  if (s_.to.empty()) {
    d.error = "email: no recipients";
    return d;
  }

  const int64_t now = clock_of(opt_).now_ms();
  std::string to_header;
  for (const auto& t : s_.to) to_header += (to_header.empty() ? "" : ", ") + one_line(t);
  const std::string message = "Date: " + rfc5322_date(now) + "\r\n" +
                              "From: SecPlat <" + one_line(s_.from) + ">\r\n" +
                              "To: " + to_header + "\r\n" +
                              "Subject: " + header_text(one_line(summary_line(n))) + "\r\n" +
                              "Message-ID: <" + hex_encode(random_bytes(16)) + "@secplat>\r\n" +
                              "MIME-Version: 1.0\r\n"
                              "Content-Type: text/plain; charset=utf-8\r\n"
                              "Content-Transfer-Encoding: 8bit\r\n"
                              "\r\n" +
                              crlf(plain_body(n)) + "\r\n";

  std::unique_ptr<CURL, CurlEasyDeleter> h(curl_easy_init());
  if (!h) {
    d.retryable = true;
    d.error = "email: could not start an SMTP transfer";
    return d;
  }
  CurlSlist rcpt;
  for (const auto& t : s_.to) rcpt.p = curl_slist_append(rcpt.p, ("<" + one_line(t) + ">").c_str());
  const std::string mail_from = "<" + one_line(s_.from) + ">";
  Upload up{&message};
  CURL* c = h.get();
  curl_easy_setopt(c, CURLOPT_URL, s_.smtp_url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_TRY));
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, mail_from.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt.p);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, read_upload);
  curl_easy_setopt(c, CURLOPT_READDATA, &up);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, opt_.timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, opt_.connect_timeout_ms);
  const CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) {
    d.ok = true;
    return d;
  }
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  // SMTP 4yz replies are transient, 5yz permanent (RFC 5321 §4.2.1); no reply at all is transport.
  d.retryable = rc != CURLE_LOGIN_DENIED && !(code >= 500 && code < 600);
  d.error = "email: " + host + " " + curl_easy_strerror(rc) + (code > 0 ? " (SMTP " + std::to_string(code) + ")" : "");
  return d;
}

// ---- Factory

std::vector<std::unique_ptr<Channel>> make_channels(const NotifyConfig& c) {
  std::vector<std::unique_ptr<Channel>> out;
  if (!c.slack_webhook_url.empty()) out.push_back(std::make_unique<SlackChannel>(c.slack_webhook_url));
  if (!c.webhook_url.empty()) out.push_back(std::make_unique<WebhookChannel>(c.webhook_url, c.webhook_secret));
  if (!c.twilio_account_sid.empty() && !c.twilio_auth_token.empty() && !c.twilio_from.empty() && !c.twilio_to.empty())
    out.push_back(std::make_unique<TwilioChannel>(
        TwilioSettings{c.twilio_base_url, c.twilio_account_sid, c.twilio_auth_token, c.twilio_from, c.twilio_to}));
  if (!c.jira_base_url.empty() && !c.jira_email.empty() && !c.jira_api_token.empty() && !c.jira_project_key.empty())
    out.push_back(
        std::make_unique<JiraChannel>(JiraSettings{c.jira_base_url, c.jira_email, c.jira_api_token, c.jira_project_key}));
  if (!c.smtp_url.empty() && !c.alert_email_to.empty()) {
    EmailSettings e;
    e.smtp_url = c.smtp_url;
    std::string cur;
    for (char ch : c.alert_email_to + ",") {
      if (ch == ',') {
        while (!cur.empty() && cur.front() == ' ') cur.erase(cur.begin());
        while (!cur.empty() && cur.back() == ' ') cur.pop_back();
        if (!cur.empty()) e.to.push_back(cur);
        cur.clear();
      } else {
        cur += ch;
      }
    }
    if (!e.to.empty()) out.push_back(std::make_unique<EmailChannel>(std::move(e)));
  }
  return out;
}

}  // namespace secplat::notify
