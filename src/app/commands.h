// Subcommands of the secplat binary. Each returns the process exit code.
#pragma once

#include <optional>
#include <string>

namespace secplat::app {

inline constexpr const char* kVersion = "0.1.0";

struct CommonFlags {
  std::string config_file;
  std::string listen;
  std::string data_dir;
  std::string log_level;
};

int run_serve(const CommonFlags& flags);

// One role per process, on PostgreSQL and Redis (distributed mode).
enum class Role { api, worker, ingest, deriver, trust, notifier, correlator };
const char* role_name(Role role);
int run_role(const CommonFlags& flags, Role role);
int run_migrate(const CommonFlags& flags);
// Sets the password of `username`; with `create_role`, creates the user first.
int run_user_password(const CommonFlags& flags, const std::string& username,
                      const std::optional<std::string>& create_role);

}  // namespace secplat::app
