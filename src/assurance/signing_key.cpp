#include "assurance/signing_key.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace secplat::assurance {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxKeyBytes = 64 * 1024;

std::string errno_text() { return std::strerror(errno); }

// Best effort: makes a completed rename/link durable across a crash.
void fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Writes a fully synced temp file next to `path`; returns its name.
Result<std::string> write_temp(const std::string& path, std::string_view bytes, unsigned mode) {
  std::string tmp = path + ".tmp-XXXXXX";
  int fd = ::mkstemp(tmp.data());  // created 0600
  if (fd < 0) return Error::internal("cannot create a temp file for " + path + ": " + errno_text());
  bool ok = ::fchmod(fd, static_cast<mode_t>(mode)) == 0;
  for (std::size_t off = 0; ok && off < bytes.size();) {
    ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ok = false;
    else off += static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  std::string why = ok ? "" : errno_text();
  ok = (::close(fd) == 0) && ok;
  if (!ok) {
    ::unlink(tmp.c_str());
    return Error::internal("cannot write " + path + ": " + why);
  }
  return tmp;
}

// Like write_file_atomically but fails with Errc::conflict instead of replacing an existing file.
Status create_file_atomically(const std::string& path, std::string_view bytes, unsigned mode) {
  auto tmp = write_temp(path, bytes, mode);
  if (!tmp) return tmp.error();
  int rc = ::link(tmp->c_str(), path.c_str());
  int err = errno;
  ::unlink(tmp->c_str());
  if (rc != 0) {
    if (err == EEXIST) return Error::conflict(path + " already exists");
    return Error::internal("cannot create " + path + ": " + std::strerror(err));
  }
  fsync_dir(fs::path(path).parent_path());
  return ok_status();
}

Status ensure_key_dir(const std::string& key_dir) {
  std::error_code ec;
  if (fs::is_directory(key_dir, ec)) return ok_status();
  if (!fs::create_directories(key_dir, ec) && ec) {
    return Error::internal("cannot create key directory " + key_dir + ": " + ec.message());
  }
  fs::permissions(key_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  return ok_status();
}

std::string key_path(const std::string& key_dir, const char* file) { return (fs::path(key_dir) / file).string(); }

Result<crypto::EcKeyPair> load_private(const std::string& key_file) {
  struct stat st {};
  if (::stat(key_file.c_str(), &st) != 0) {
    if (errno == ENOENT) return Error::not_found("signing key " + key_file + " does not exist");
    return Error::internal("cannot read signing key " + key_file + ": " + errno_text());
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Error::internal("signing key " + key_file + " is readable by other users (mode " + mode +
                           "); run: chmod 600 " + key_file);
  }
  auto pem = read_small_file(key_file, kMaxKeyBytes);
  if (!pem) return pem.error();
  auto pub = crypto::ec_public_from_private(*pem);
  if (!pub) {
    return Error::internal("signing key " + key_file + " is not a usable key: " + pub.error().message);
  }
  return crypto::EcKeyPair{std::move(*pem), std::move(*pub)};
}

// signing.pub must describe the private key; a missing one is re-derived.
Status check_or_write_public(const std::string& key_dir, const crypto::EcKeyPair& key) {
  std::string pub_file = key_path(key_dir, kSigningPubFile);
  auto existing = read_small_file(pub_file, kMaxKeyBytes);
  if (!existing) {
    if (existing.error().code != Errc::not_found) return existing.error();
    return write_file_atomically(pub_file, key.public_pem, 0644);
  }
  std::string id = crypto::ec_key_id(*existing);
  if (id.empty()) return Error::internal("public key " + pub_file + " is not a P-256 public key");
  if (id != crypto::ec_key_id(key.public_pem)) {
    return Error::internal("public key " + pub_file + " does not match the signing key " +
                           key_path(key_dir, kSigningKeyFile));
  }
  return ok_status();
}

}  // namespace

Result<std::string> read_small_file(const std::string& path, std::size_t max_bytes) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return Error::not_found(path + " does not exist");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::internal("cannot open " + path);
  std::string out;
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    out.append(buf, static_cast<std::size_t>(in.gcount()));
    if (out.size() > max_bytes) return Error::too_large(path + " is larger than " + std::to_string(max_bytes) + " bytes");
  }
  if (in.bad()) return Error::internal("cannot read " + path);
  return out;
}

Status write_file_atomically(const std::string& path, std::string_view bytes, unsigned mode) {
  auto tmp = write_temp(path, bytes, mode);
  if (!tmp) return tmp.error();
  if (::rename(tmp->c_str(), path.c_str()) != 0) {
    std::string why = errno_text();
    ::unlink(tmp->c_str());
    return Error::internal("cannot replace " + path + ": " + why);
  }
  fsync_dir(fs::path(path).parent_path());
  return ok_status();
}

Status save_signing_key(const std::string& key_dir, const crypto::EcKeyPair& key, bool overwrite) {
  SECPLAT_TRY(ensure_key_dir(key_dir));
  std::string key_file = key_path(key_dir, kSigningKeyFile);
  std::string pub_file = key_path(key_dir, kSigningPubFile);
  if (!overwrite) {
    std::error_code ec;
    if (fs::exists(key_file, ec)) return Error::conflict(key_file + " already exists");
    if (fs::exists(pub_file, ec)) return Error::conflict(pub_file + " already exists");
    SECPLAT_TRY(create_file_atomically(key_file, key.private_pem, 0600));
  } else {
    SECPLAT_TRY(write_file_atomically(key_file, key.private_pem, 0600));
  }
  return write_file_atomically(pub_file, key.public_pem, 0644);
}

Result<crypto::EcKeyPair> load_signing_key(const std::string& key_dir) {
  auto key = load_private(key_path(key_dir, kSigningKeyFile));
  if (!key) return key;
  std::string pub_file = key_path(key_dir, kSigningPubFile);
  auto existing = read_small_file(pub_file, kMaxKeyBytes);
  if (!existing) return existing.error();
  if (crypto::ec_key_id(*existing) != crypto::ec_key_id(key->public_pem)) {
    return Error::internal("public key " + pub_file + " does not match the signing key " +
                           key_path(key_dir, kSigningKeyFile));
  }
  return key;
}

Result<crypto::EcKeyPair> load_or_create_signing_key(const std::string& data_dir) {
  std::string key_dir = (fs::path(data_dir) / "keys").string();
  SECPLAT_TRY(ensure_key_dir(key_dir));
  std::string key_file = key_path(key_dir, kSigningKeyFile);
  auto key = load_private(key_file);
  if (!key && key.error().code == Errc::not_found) {
    auto fresh = crypto::ec_p256_generate();
    if (!fresh) return fresh.error();
    Status created = create_file_atomically(key_file, fresh->private_pem, 0600);
    if (created.ok()) {
      // A signing.pub left over from a deleted key describes nothing we can sign with: replace it.
      SECPLAT_TRY(write_file_atomically(key_path(key_dir, kSigningPubFile), fresh->public_pem, 0644));
      return fresh;
    }
    if (created.error().code != Errc::conflict) return created.error();
    key = load_private(key_file);  // another process created it first: use theirs
  }
  if (!key) return key;
  SECPLAT_TRY(check_or_write_public(key_dir, *key));
  return key;
}

}  // namespace secplat::assurance
