// The probe sandbox's operating-system side: Linux namespaces, the /etc view,
// the loopback-only network and the agent's process. Used by cell_runner.cc
// only; everything here is Linux-specific and documented in
// docs/probe-sandbox.md.
//
// Order of use, in the cell-runner process:
//   1. EnterSandbox()   while the process is still single-threaded;
//   2. start listeners (fake DNS, capture server) on threads;
//   3. SpawnAgent()     forks (async-signal-safe work only in the child)
//      and execs the agent in a nested user namespace;
//   4. WaitForAgent()   with the deadline, killing the process group after.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace glassbox::probe {

// The agent's uid and gid inside its own user namespace.
inline constexpr int kAgentUid = 1000;

struct SandboxSpec {
  std::string work_dir;  // absolute; holds home/, work/, tmp/ and the /etc overlay dirs
  std::string hostname;  // "" = "localhost"
  std::string username;  // required, [a-z_][a-z0-9_.-]* at most 32 bytes
  std::string timezone;  // IANA name under /usr/share/zoneinfo, "" = keep
};

// What EnterSandbox set up, for the agent's environment and the notes.
struct SandboxLayout {
  std::string home_dir;  // the agent's HOME as it sees it (/home/NAME or a work_dir path)
  std::string work_dir;  // the agent's working directory
  std::string tmp_dir;   // the agent's TMPDIR
  std::vector<std::string> notes;  // fallbacks taken, e.g. no IPv6
};

// Checks a SandboxSpec's fields; the error names the bad field and value.
Status ValidateSandboxSpec(const SandboxSpec& spec);

// Unshares user, network, UTS and mount namespaces (the calling process
// becomes root of its own user namespace, mapped to its real uid), sets the
// host name, makes every IPv4 and IPv6 address local on loopback, overlays
// /etc (resolv.conf → 127.0.0.1, hosts, hostname, passwd/group with the
// user, nsswitch.conf without network name services, localtime → the zone)
// and /home (a fresh /home/NAME). Falls back to bind mounts when overlayfs is
// unavailable, with a note. Must be called while single-threaded; on error
// the process should exit (its namespaces may be half set up).
Result<SandboxLayout> EnterSandbox(const SandboxSpec& spec);

struct AgentLaunch {
  std::vector<std::string> argv;   // argv[0] is looked up in PATH from env
  std::vector<std::pair<std::string, std::string>> env;  // the whole environment
  std::string cwd;
  std::string stdout_path;  // files the agent's stdout/stderr go to
  std::string stderr_path;
};

// Forks and execs the agent: new session (so its process group can be
// killed), PID 1 of a new PID namespace (so nothing it starts outlives it;
// the returned pid is then a small waiter process that exits as the agent
// does), stdin /dev/null, a nested user namespace where it is uid/gid
// kAgentUid with no capability over the sandbox's namespaces. Safe to call
// from a multi-threaded process: the child only makes system calls prepared
// before the fork. Returns the pid, or an error naming the command (not
// found, not executable, exec failed).
Result<pid_t> SpawnAgent(const AgentLaunch& launch);

struct AgentExit {
  int exit_code = -1;  // 128+N when killed by signal N
  bool timed_out = false;
};

// Waits for `pid` until `timeout_s` elapses; on timeout kills its process
// group with SIGKILL. Either way, afterwards kills whatever is left of the
// group and reaps `pid`.
AgentExit WaitForAgent(pid_t pid, double timeout_s);

// See cell_runner.h.
Status CheckSandboxSupport();

// Finds `program` in the colon-separated `path` (or uses it as is when it
// contains a '/'). Error when not found or not executable.
Result<std::string> FindExecutable(const std::string& program, const std::string& path);

}  // namespace glassbox::probe
