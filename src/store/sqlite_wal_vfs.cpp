#include "store/sqlite_wal_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

namespace secplat::store {
namespace {

constexpr std::size_t kFlushBytes = 64 * 1024;  // the unix VFS refuses single writes of 128 KiB and more
constexpr int kFrameHeaderBytes = 24;

sqlite3_vfs* g_base = nullptr;

// Our sqlite3_file: SQLite allocates szOsFile bytes and we place this there. `real` is the default
// VFS's file, allocated separately since its size is the default VFS's.
struct File {
  sqlite3_file base;  // first: SQLite sees a File* as a sqlite3_file*
  sqlite3_file* real = nullptr;
  bool wal = false;
  // WAL appends not yet written: they start at buffer_at, and the file's end is append_at.
  std::vector<char> buffer;
  sqlite3_int64 buffer_at = 0;
  sqlite3_int64 append_at = -1;  // unknown until the first write
  bool commit_frame = false;     // the last append was the header of a commit frame
};

File* as_file(sqlite3_file* p) { return reinterpret_cast<File*>(p); }
const sqlite3_io_methods* real_methods(File* f) { return f->real->pMethods; }

int write_through(File* f, const char* data, std::size_t n, sqlite3_int64 at) {
  while (n > 0) {
    const std::size_t chunk = std::min(n, kFlushBytes);
    int rc = real_methods(f)->xWrite(f->real, data, static_cast<int>(chunk), at);
    if (rc != SQLITE_OK) return rc;
    data += chunk;
    at += static_cast<sqlite3_int64>(chunk);
    n -= chunk;
  }
  return SQLITE_OK;
}

int flush(File* f) {
  if (f->buffer.empty()) return SQLITE_OK;
  int rc = write_through(f, f->buffer.data(), f->buffer.size(), f->buffer_at);
  f->buffer.clear();
  if (rc != SQLITE_OK) f->append_at = -1;  // what reached the file is unknown: append nothing more blindly
  return rc;
}

// A commit frame's header carries the database size after the commit (bytes 4..7), others zero.
bool is_commit_frame_header(const void* data, int n) {
  if (n != kFrameHeaderBytes) return false;
  const auto* b = static_cast<const unsigned char*>(data);
  return (b[4] | b[5] | b[6] | b[7]) != 0;
}

int x_write(sqlite3_file* p, const void* data, int n, sqlite3_int64 at) {
  File* f = as_file(p);
  if (!f->wal) return real_methods(f)->xWrite(f->real, data, n, at);
  if (at != f->append_at) {
    // Not an append to what is buffered (the WAL's header, a checksum rewrite, the first write
    // since opening): written in place at once, after what is buffered.
    if (int rc = flush(f); rc != SQLITE_OK) return rc;
    int rc = real_methods(f)->xWrite(f->real, data, n, at);
    f->append_at = rc == SQLITE_OK ? at + n : -1;
    f->commit_frame = rc == SQLITE_OK && is_commit_frame_header(data, n);
    return rc;
  }
  if (f->buffer.empty()) f->buffer_at = at;
  const char* bytes = static_cast<const char*>(data);
  f->buffer.insert(f->buffer.end(), bytes, bytes + n);
  f->append_at = at + n;
  if (f->commit_frame || f->buffer.size() >= kFlushBytes) {  // the commit's last page is in: write it all
    f->commit_frame = false;
    return flush(f);
  }
  f->commit_frame = is_commit_frame_header(data, n);
  return SQLITE_OK;
}

int x_close(sqlite3_file* p) {
  File* f = as_file(p);
  int flushed = flush(f);
  int rc = real_methods(f)->xClose(f->real);
  sqlite3_free(f->real);
  f->~File();
  return flushed != SQLITE_OK ? flushed : rc;
}

int x_read(sqlite3_file* p, void* out, int n, sqlite3_int64 at) {
  File* f = as_file(p);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f)->xRead(f->real, out, n, at);
}

int x_truncate(sqlite3_file* p, sqlite3_int64 size) {
  File* f = as_file(p);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  if (f->append_at > size) f->append_at = size;
  return real_methods(f)->xTruncate(f->real, size);
}

int x_sync(sqlite3_file* p, int flags) {
  File* f = as_file(p);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f)->xSync(f->real, flags);
}

int x_file_size(sqlite3_file* p, sqlite3_int64* size) {
  File* f = as_file(p);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f)->xFileSize(f->real, size);
}

int x_file_control(sqlite3_file* p, int op, void* arg) {
  File* f = as_file(p);
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return real_methods(f)->xFileControl(f->real, op, arg);
}

int x_lock(sqlite3_file* p, int level) { return real_methods(as_file(p))->xLock(as_file(p)->real, level); }
int x_unlock(sqlite3_file* p, int level) { return real_methods(as_file(p))->xUnlock(as_file(p)->real, level); }
int x_check_reserved_lock(sqlite3_file* p, int* out) {
  return real_methods(as_file(p))->xCheckReservedLock(as_file(p)->real, out);
}
int x_sector_size(sqlite3_file* p) { return real_methods(as_file(p))->xSectorSize(as_file(p)->real); }
int x_device_characteristics(sqlite3_file* p) {
  return real_methods(as_file(p))->xDeviceCharacteristics(as_file(p)->real);
}
int x_shm_map(sqlite3_file* p, int region, int size, int extend, void volatile** out) {
  return real_methods(as_file(p))->xShmMap(as_file(p)->real, region, size, extend, out);
}
int x_shm_lock(sqlite3_file* p, int offset, int n, int flags) {
  return real_methods(as_file(p))->xShmLock(as_file(p)->real, offset, n, flags);
}
void x_shm_barrier(sqlite3_file* p) { real_methods(as_file(p))->xShmBarrier(as_file(p)->real); }
int x_shm_unmap(sqlite3_file* p, int delete_flag) {
  return real_methods(as_file(p))->xShmUnmap(as_file(p)->real, delete_flag);
}
int x_fetch(sqlite3_file* p, sqlite3_int64 at, int n, void** out) {
  return real_methods(as_file(p))->xFetch(as_file(p)->real, at, n, out);
}
int x_unfetch(sqlite3_file* p, sqlite3_int64 at, void* ptr) {
  return real_methods(as_file(p))->xUnfetch(as_file(p)->real, at, ptr);
}

// Version 3 methods; a file whose default-VFS methods are older gets them passed through as
// version 1 (no shared memory there means no WAL either).
const sqlite3_io_methods kMethods = {3,           x_close,       x_read,       x_write,      x_truncate,
                                     x_sync,      x_file_size,   x_lock,       x_unlock,     x_check_reserved_lock,
                                     x_file_control, x_sector_size, x_device_characteristics,
                                     x_shm_map,   x_shm_lock,    x_shm_barrier, x_shm_unmap, x_fetch,
                                     x_unfetch};

int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* p, int flags, int* out_flags) {
  File* f = new (p) File();
  f->base.pMethods = nullptr;  // SQLite must not call xClose if opening fails
  f->real = static_cast<sqlite3_file*>(sqlite3_malloc(g_base->szOsFile));
  if (!f->real) {
    f->~File();
    return SQLITE_NOMEM;
  }
  std::memset(f->real, 0, static_cast<std::size_t>(g_base->szOsFile));
  int rc = g_base->xOpen(g_base, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK || !f->real->pMethods || f->real->pMethods->iVersion < 3) {
    if (f->real->pMethods) f->real->pMethods->xClose(f->real);
    sqlite3_free(f->real);
    f->~File();
    return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
  }
  f->wal = (flags & SQLITE_OPEN_WAL) != 0;
  f->base.pMethods = &kMethods;
  return SQLITE_OK;
}

sqlite3_vfs g_vfs;

}  // namespace

const char* wal_batching_vfs() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_base = sqlite3_vfs_find(nullptr);
    g_vfs = *g_base;  // every other method (and the default VFS's own data) as they are
    g_vfs.szOsFile = static_cast<int>(sizeof(File));
    g_vfs.zName = "secplat-wal-batching";
    g_vfs.pNext = nullptr;
    g_vfs.xOpen = x_open;
    sqlite3_vfs_register(&g_vfs, 0);
  });
  return g_vfs.zName;
}

}  // namespace secplat::store
