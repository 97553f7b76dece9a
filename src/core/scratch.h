// Scratch space of this process. Every temporary work directory a secplat process makes (scan
// checkouts and extractions, external tools' work dirs, spooled uploads) goes under one directory
// of its own, `<TMPDIR>/secplat-work-XXXXXX`, which holds a locked `.owner` file (flock) for as long
// as the process lives. A process killed before it could clean up (SIGKILL, the OOM killer) leaves
// its directory unlocked, and the next secplat process to start removes it — so repeated crashes do
// not fill the disk with clones.
#pragma once

#include <cstdint>
#include <string>

#include "core/error.h"

namespace secplat::scratch {

// Removes what dead processes left (see sweep), then creates and locks this process's directory.
// Call once at start, before any thread. Returns the number of directories removed.
Result<int> init();

// This process's directory; the system temp directory when init() was not called (tests, tools).
std::string root();

// This process's directory, or "" when init() was not called.
std::string own();

// Removes this process's directory (a clean exit). root() is the system temp directory afterwards.
void release();

// release() when the scope that called init() ends; declare it before what uses the directory.
struct ReleaseAtExit {
  ReleaseAtExit() = default;
  ReleaseAtExit(const ReleaseAtExit&) = delete;
  ReleaseAtExit& operator=(const ReleaseAtExit&) = delete;
  ~ReleaseAtExit() { release(); }
};

// Removes the `secplat-work-*` directories under `parent` that belong to this user and to no
// living process: the `.owner` lock can be taken, or (a start interrupted before it locked) there
// is no `.owner` and the directory is older than `grace_s`. Symbolic links are never followed.
int sweep(const std::string& parent, int64_t grace_s = 60);

}  // namespace secplat::scratch
