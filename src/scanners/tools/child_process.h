// run_child(): one external program, run to completion under a deadline, cancellable.
//
// The child is forked and exec'd (no shell: argv is passed as is) as the leader of a new process
// group, with stdin on /dev/null, a reset signal mask and default signal dispositions, no
// inherited descriptors beyond 0..2, and only the environment given. Its stdout and stderr are
// drained through pipes into files, each capped at `max_output_bytes` (the rest is read and
// discarded, so a chatty tool never blocks on a full pipe).
//
// Sandbox (every child): no new privileges (setuid binaries gain nothing), no core dumps (a
// crashing tool's memory holds source and secrets), SIGKILL when the thread that started it dies;
// and, per ChildSandbox, address-space and file-size limits, a network namespace of its own
// (loopback only, and down: no connection leaves or reaches the host's interfaces) and a PID
// namespace (always with the network one; alone, when the host allows it, for tools that may use
// the network): the child forked by run_child() stays outside it and relays the tool's end (exit
// code or signal), a small init inside reaps the tool, and when the tool ends the kernel kills
// everything left in the namespace, including descendants that left the process group with
// setsid(). As root the namespaces are created directly; otherwise inside a user namespace mapping
// only the caller's own uid/gid. A network namespace that cannot be set up (namespaces forbidden,
// e.g. in a restricted container) is an error naming the step: the tool does not run unconfined.
// A PID namespace alone that cannot be set up is skipped (the process group remains). Hidden
// directories (ChildSandbox::hidden) are covered in a mount namespace made with the others.
//
// Cancellation and deadlines end the whole process group: SIGTERM, then SIGKILL after
// `kill_grace_ms`. When the leader exits on its own, anything it left behind in its group is
// SIGKILLed before the leader is reaped (the zombie leader keeps the group id from being reused),
// so no grandchild outlives run_child(). (Without a PID namespace, a descendant that leaves the
// group with setsid() or setpgid() escapes this; with one, the namespace catches those too.)
//
// Threading: safe to call from several threads at once; each call owns its child.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"

namespace secplat::scanners {

struct ChildSandbox {
  bool isolate_network = false;    // own network and PID namespaces
  bool isolate_processes = false;  // own PID namespace if the host allows it (implied by isolate_network)
  uint64_t max_memory_bytes = 0;   // RLIMIT_AS; 0 = unlimited
  uint64_t max_file_bytes = 0;     // RLIMIT_FSIZE (a write beyond it: SIGXFSZ); 0 = unlimited
  // Directories the child must not see (the server's data directory: keys, database, other scans'
  // bundles; the scratch directory: other scans' checkouts). In a mount namespace of its own each
  // is covered by an empty read-only tmpfs, except the `visible` directories inside one (the
  // tool's source and work directories), which are bound back at their own paths. Absolute paths;
  // one that does not exist is skipped. Needs the namespaces above (implies isolate_processes);
  // a host that forbids them fails the child when isolate_network is set, and otherwise runs it
  // without (as it runs a PID namespace alone).
  std::vector<std::string> hidden;
  std::vector<std::string> visible;
};

struct ChildSpec {
  std::vector<std::string> argv;   // argv[0]: absolute path of the program
  std::vector<std::string> env;    // complete environment ("KEY=value"); nothing is inherited
  std::string cwd;                 // "" = the caller's working directory
  std::string stdout_path;         // captured stdout (truncated first); "" = discarded
  std::string stderr_path;         // captured stderr; "" = discarded
  uint64_t max_output_bytes = 64ull << 20;  // per stream
  const std::atomic<bool>* cancelled = nullptr;
  int64_t deadline_ms = 0;         // steady_ms() deadline; 0 = none
  int64_t kill_grace_ms = 2000;    // SIGTERM → SIGKILL
  ChildSandbox sandbox;
};

struct ChildResult {
  enum class End { exited, signaled, timeout, cancelled };
  End end = End::exited;
  int exit_code = -1;      // End::exited
  int signal = 0;          // End::signaled (or the signal that ended a timed-out/cancelled child)
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  int64_t duration_ms = 0;
  int pid = 0;             // the child's pid (= its process group id), for diagnostics and tests
};

// Errors: the program could not be started (not found, not executable, fork failure, a sandbox
// step refused) or the output files could not be opened. Everything that happens after the start is a ChildResult.
Result<ChildResult> run_child(const ChildSpec& spec);

// "killed by signal 11 (Segmentation fault)".
std::string describe_signal(int sig);

}  // namespace secplat::scanners
