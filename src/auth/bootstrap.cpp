#include "auth/bootstrap.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "auth/user_accounts.h"
#include "core/encoding.h"
#include "core/ids.h"
#include "core/json.h"

namespace secplat::auth {
namespace {

constexpr std::size_t kMinSecret = 32;

Error io_error(const std::string& what, const std::string& path) {
  return Error::internal(what + " " + path + ": " + std::strerror(errno));
}

std::string trim_ws(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

Result<std::optional<std::string>> read_secret_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return std::optional<std::string>{};
    return io_error("cannot read", path);
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string secret = trim_ws(ss.str());
  if (secret.size() < kMinSecret) return Error::internal(path + " holds a secret shorter than 32 characters");
  return std::optional<std::string>{std::move(secret)};
}

Status write_all_and_sync(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::internal(std::string("write failed: ") + std::strerror(errno));
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return Error::internal(std::string("fsync failed: ") + std::strerror(errno));
  return ok_status();
}

}  // namespace

Result<std::string> load_or_create_jwt_secret(const std::string& data_dir, const std::string& configured) {
  if (!configured.empty()) {
    if (configured == "change_me" || configured.size() < kMinSecret) {
      return Error::bad_request("config key auth.jwt_secret: must be at least 32 characters (or unset)");
    }
    return configured;
  }
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return Error::internal("cannot create data dir " + data_dir + ": " + ec.message());
  const std::string path = (std::filesystem::path(data_dir) / "jwt.key").string();

  auto existing = read_secret_file(path);
  if (!existing.ok() || *existing) {
    if (!existing.ok()) return std::move(existing).take_error();
    return std::move(**existing);
  }

  // Write a temporary file, then link() it into place: link fails if another process won the
  // race, in which case its secret is used and ours discarded.
  std::string secret = base64url_encode(random_bytes(48));
  std::string tmp = path + ".tmp." + random_hex(8);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("cannot create", tmp);
  Status written = write_all_and_sync(fd, secret + "\n");
  ::close(fd);
  if (!written.ok()) {
    ::unlink(tmp.c_str());
    return std::move(written).take_error();
  }
  int linked = ::link(tmp.c_str(), path.c_str());
  int link_errno = errno;
  ::unlink(tmp.c_str());
  if (linked != 0) {
    if (link_errno != EEXIST) {
      errno = link_errno;
      return io_error("cannot create", path);
    }
    auto winner = read_secret_file(path);
    if (!winner.ok()) return std::move(winner).take_error();
    if (!*winner) return Error::internal("jwt.key vanished while being created");
    return std::move(**winner);
  }
  if (int dfd = ::open(data_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return secret;
}

Result<std::optional<std::string>> bootstrap_admin(UserRepo& users, AuditLog& audit,
                                                   const std::string& admin_password,
                                                   const crypto::Argon2Params& params) {
  auto existing = users.find_by_name(kBootstrapAdmin);
  if (!existing.ok()) return std::move(existing).take_error();
  if (*existing) return std::optional<std::string>{};

  std::optional<std::string> generated;
  std::string password = admin_password;
  if (password.empty()) {
    password = random_token(18);  // 24 URL-safe characters, 144 bits
    generated = password;
  } else {
    if (!UserAccounts::validate_password(password).ok()) {
      return Error::bad_request("config key admin_password: must be 8 to 1024 characters");
    }
  }
  auto hash = crypto::password_hash(password, params);
  if (!hash.ok()) return std::move(hash).take_error();
  auto created = users.create(std::string(kBootstrapAdmin), http::Role::admin, *hash, false);
  if (!created.ok()) {
    // Another process created it first: that one's password stands.
    if (created.error().code == Errc::conflict) return std::optional<std::string>{};
    return std::move(created).take_error();
  }
  (void)audit.append("user.create", "system", "", Json{{"username", kBootstrapAdmin}, {"role", "admin"}}, "");
  return generated;
}

}  // namespace secplat::auth
