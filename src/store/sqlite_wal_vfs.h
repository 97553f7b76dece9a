// A SQLite VFS that writes each commit's WAL frames with a few large writes instead of two small
// ones per frame.
//
// SQLite appends a WAL frame as two writes (its 24-byte header, then the page), so a commit that
// dirtied 40 pages costs 80 pwrite calls and as many page-cache round trips in the kernel. This VFS
// wraps the platform's default one and changes only the WAL file's appends: they collect in a
// buffer that is written out (in chunks the unix VFS accepts) when the commit frame is complete,
// before anything reads, syncs, sizes or truncates the file, before any write elsewhere in it, and
// when the buffer reaches 64 KiB. So a commit is in the file before its write call returns, exactly
// as before, and a failed write (disk full) fails that commit instead of being noticed later;
// readers in this or another process learn of frames only from the WAL index, which SQLite updates
// after the commit frame's write. Everything else goes to the default VFS unchanged.
#pragma once

namespace secplat::store {

// The VFS's name for sqlite3_open_v2, registered (not as the default) on the first call.
const char* wal_batching_vfs();

}  // namespace secplat::store
