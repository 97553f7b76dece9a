// Long-lived credentials for scripts and services (table `api_keys`). A key is `spk_` + 43
// URL-safe random characters (256 bits); only its sha256 is stored (a high-entropy key needs no
// slow hash), so the raw key is shown exactly once, when created.
//
// Threading: safe to share between threads (state lives in the Db; the memory of recently checked
// keys is under its own mutex).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/audit_log.h"
#include "core/clock.h"
#include "http/route.h"
#include "store/db.h"

namespace secplat::auth {

struct ApiKey {
  int64_t id = 0;
  std::string name;
  std::string prefix;  // first characters of the raw key, for recognising it in lists
  http::Role role = http::Role::viewer;
  std::string created_by;
  int64_t created_at_ms = 0;
  std::optional<int64_t> last_used_at_ms;
  std::optional<int64_t> revoked_at_ms;
};

struct CreatedApiKey {
  ApiKey key;
  std::string raw_key;  // never stored; give it to the caller once
};

class ApiKeys {
 public:
  ApiKeys(store::Db& db, const Clock& clock, AuditLog& audit) : db_(db), clock_(clock), audit_(audit) {}

  // Errc::conflict "api key name already exists". Audits `apikey.create`.
  Result<CreatedApiKey> create(const std::string& name, http::Role role, const Actor& actor);
  Result<std::vector<ApiKey>> list();  // ordered by id; no secrets
  // Errc::not_found "api key not found". Revoking twice is harmless. Audits `apikey.revoke`.
  Result<ApiKey> revoke(int64_t id, const Actor& actor);

  // The active (not revoked) key for a raw `spk_...` string, or nullopt. Records last_used_at, at
  // most once a minute per key so authentication does not write on every request.
  Result<std::optional<ApiKey>> find_active(std::string_view raw_key);
  // The per-request check: the key as read at most max_age_ms ago (0 = read it now). A revoke
  // through this object forgets what was remembered, at once in this process; a revoke by another
  // process (another API replica) is seen within max_age_ms. Unknown and revoked keys are not
  // remembered (every try at a wrong key reads the store).
  Result<std::optional<ApiKey>> find_active_recent(std::string_view raw_key, int64_t max_age_ms);
  // Only what find_active_recent remembers; nullopt means "ask it". Never touches the store.
  std::optional<ApiKey> recent_only(std::string_view raw_key, int64_t max_age_ms);

  static constexpr std::string_view kPrefix = "spk_";

 private:
  void forget_recent();

  store::Db& db_;
  const Clock& clock_;
  AuditLog& audit_;
  struct Recent {
    ApiKey key;
    int64_t read_at_ms = 0;  // steady clock
  };
  std::mutex recent_mu_;
  std::unordered_map<std::string, Recent> recent_;  // by the key's sha256; guarded by recent_mu_
  uint64_t recent_generation_ = 0;                  // guarded by recent_mu_; bumped by forget_recent()
};

}  // namespace secplat::auth
