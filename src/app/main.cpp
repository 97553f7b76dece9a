// secplat: one binary, many roles. Exit codes: 0 success, 1 runtime failure, 2 usage/config error.
#include <CLI/CLI.hpp>
#include <malloc.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <string>

#include "app/cli_keys.h"
#include "app/commands.h"
#include "app/scan_command.h"

int main(int argc, char** argv) {
  // Argon2id allocates ~19 MiB per hash: above the fixed 4 MiB mmap threshold, such blocks go back
  // to the system at once (glibc's dynamic threshold would keep them in the heap). Below it, large
  // response bodies (GET /posture is ~600 KB at 1,000 assets) and SQLite page buffers are reused
  // from the heap instead of being mapped, faulted in and unmapped on every request, and up to
  // 16 MiB free at the top of each heap is kept rather than trimmed after each request: together
  // about a third of the CPU of those requests. Two arenas are plenty for a process whose blocking
  // work runs on a bounded pool: idle RSS stays small.
  mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 16 * 1024 * 1024);
  mallopt(M_ARENA_MAX, 2);
  CLI::App app{"secplat: security posture platform and assurance scan pipeline in one binary"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");

  secplat::app::CommonFlags flags;
  auto add_common = [&flags](CLI::App* cmd) {
    cmd->add_option("--config", flags.config_file, "YAML config file (default: $SECPLAT_CONFIG)");
    cmd->add_option("--data-dir", flags.data_dir, "Directory for the embedded store and artifacts");
    cmd->add_option("--log-level", flags.log_level, "debug, info, warn or error");
  };

  auto* serve = app.add_subcommand("serve", "Run every role in one process on the embedded backends");
  add_common(serve);
  serve->add_option("--listen", flags.listen, "HOST:PORT to listen on (default 127.0.0.1:8080)");

  // One role per process, on PostgreSQL and Redis.
  using secplat::app::Role;
  std::map<CLI::App*, Role> roles;
  for (auto [role, help] : {std::pair{Role::api, "Serve the HTTP API and WebSockets (scale horizontally)"},
                            std::pair{Role::worker, "Run scan jobs from the secplat.jobs.scan stream (scale horizontally)"},
                            std::pair{Role::ingest, "Probe assets on their schedules and append health events"},
                            std::pair{Role::deriver, "Fold health events into each asset's posture"},
                            std::pair{Role::trust, "Serve the trust gate and the transparency log over HTTP"},
                            std::pair{Role::notifier, "Deliver secplat.events.notify to Slack, webhooks, Twilio, Jira and email"},
                            std::pair{Role::correlator, "Turn secplat.events.correlation into incidents (after suppression)"}}) {
    auto* cmd = app.add_subcommand(secplat::app::role_name(role),
                                   std::string(help) + " (needs SECPLAT_DATABASE_URL and SECPLAT_REDIS_URL)");
    add_common(cmd);
    cmd->add_option("--listen", flags.listen,
                    role == Role::api || role == Role::trust
                        ? "HOST:PORT to listen on (default 127.0.0.1:8080)"
                        : "HOST:PORT of /health, /ready and /metrics (default 127.0.0.1:8080; 0 = a free port)");
    roles[cmd] = role;
  }

  auto* migrate = app.add_subcommand("migrate", "Apply schema migrations to the store and exit");
  add_common(migrate);

  auto* user = app.add_subcommand("user", "Manage users from the command line");
  user->require_subcommand(1);
  std::string username, role = "viewer";
  auto* reset = user->add_subcommand(
      "reset-password", "Set a user's password (read from $SECPLAT_NEW_PASSWORD or stdin) and re-enable it");
  add_common(reset);
  reset->add_option("username", username, "User name")->required();
  auto* create = user->add_subcommand("create", "Create a user (password from $SECPLAT_NEW_PASSWORD or stdin)");
  add_common(create);
  create->add_option("username", username, "User name")->required();
  create->add_option("--role", role, "viewer, analyst or admin")->check(CLI::IsMember({"viewer", "analyst", "admin"}));

  std::string key_out, bundle_dir, pub_key;
  bool force = false;
  auto* keygen = app.add_subcommand("keygen", "Generate an ECDSA P-256 signing key pair (signing.key, signing.pub)");
  keygen->add_option("--out", key_out, "Directory for the key files (default: <data-dir>/keys)");
  keygen->add_option("--data-dir", flags.data_dir, "Data directory (default ./.secplat)");
  keygen->add_flag("--force", force, "Replace an existing key pair");
  std::string entry_file;
  auto* verify = app.add_subcommand(
      "verify", "Verify offline: a scan bundle (attestation, digests, signatures), or a transparency log entry's "
                "inclusion proof and signed checkpoint (--entry)");
  auto* verify_bundle = verify->add_option("bundle", bundle_dir, "Bundle directory");
  auto* verify_entry = verify->add_option(
      "--entry", entry_file, "JSON of GET /v1/transparency/{entry_id}?include_proof=true ('-' = stdin)");
  verify_bundle->excludes(verify_entry);
  verify->add_option("--key", pub_key, "Public key (PEM) of the signer (the instance's signing.pub)")->required();

  secplat::app::ScanCommandOptions scan_opts;
  auto* scan = app.add_subcommand("scan", "Scan a directory or git repository offline into a signed bundle");
  scan->add_option("target", scan_opts.target, "Directory or git URL (https://, ssh://, user@host:path, file://)")
      ->required();
  scan->add_option("--manifest", scan_opts.manifest_file, "Manifest file, JSON or YAML (default: built-in profile)");
  scan->add_option("--profile", scan_opts.profile, "Profile to run (default light)");
  scan->add_option("--out", scan_opts.out_dir, "Bundle directory (default ./secplat-scan-<test_id>)");
  scan->add_option("--key", scan_opts.key_file, "PEM P-256 private key to sign with (default: an ephemeral key)");

  app.add_subcommand("version", "Print the version and exit");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  if (app.got_subcommand("version")) {
    std::cout << "secplat " << secplat::app::kVersion << "\n";
    return 0;
  }
  if (keygen->parsed()) {
    if (key_out.empty()) key_out = (flags.data_dir.empty() ? std::string("./.secplat") : flags.data_dir) + "/keys";
    return secplat::app::run_keygen(key_out, force);
  }
  if (verify->parsed()) {
    if (!entry_file.empty()) return secplat::app::run_verify_entry(entry_file, pub_key);
    if (bundle_dir.empty()) {
      std::cerr << "verify: give a bundle directory or --entry FILE\n";
      return 2;
    }
    return secplat::app::run_verify(bundle_dir, pub_key);
  }
  if (scan->parsed()) return secplat::app::run_scan(scan_opts);
  if (serve->parsed()) return secplat::app::run_serve(flags);
  for (auto& [cmd, role] : roles)
    if (cmd->parsed()) return secplat::app::run_role(flags, role);
  if (migrate->parsed()) return secplat::app::run_migrate(flags);
  if (reset->parsed()) return secplat::app::run_user_password(flags, username, std::nullopt);
  if (create->parsed()) return secplat::app::run_user_password(flags, username, role);
  return 2;
}
