// The probe sandbox's operating-system side: Linux namespaces, the agent's
// new root (read-only system folders, /etc, tmpfs HOME and /tmp, /dev,
// /proc), the loopback-only network, the agent's process with its rlimits,
// no_new_privs and seccomp filter. Used by cell_runner.cc only; everything
// here is Linux-specific and documented in docs/probe-sandbox.md.
//
// Order of use, in the cell-runner process:
//   0. AgentSeccompFilter(), AgentReadOnlyPaths() for the spec;
//   1. EnterSandbox()   while the process is still single-threaded;
//   2. start listeners (fake DNS, capture server) on threads;
//   3. SpawnAgent()     forks (async-signal-safe work only in the child),
//      pivots into the new root and execs the agent in a nested user namespace;
//   4. WaitForAgent()   with the deadline, killing the process group after.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "core/status.h"
#include "probe/capture.h"
#include "probe/cell_runner.h"

namespace glassbox::probe {

// The agent's uid and gid inside its own user namespace.
inline constexpr int kAgentUid = 1000;

// What one cell may use: see CellLimits (cell_runner.h).
using SandboxLimits = CellLimits;

struct SandboxSpec {
  std::string work_dir;  // absolute; holds root/ (the agent's new root), the /etc layer, outputs
  std::string hostname;  // "" = "localhost"
  std::string username;  // required, [a-z_][a-z0-9_.-]* at most 32 bytes
  std::string timezone;  // IANA name under /usr/share/zoneinfo, "" = keep
  // Host paths (files or directories) the agent sees read-only at the same
  // path, besides the system folders: its executable's package, its
  // interpreter, its script (AgentReadOnlyPaths).
  std::vector<std::string> read_only_paths;
  // Files added to the agent's /etc: name relative to /etc ("ssl/certs/x.pem"), content.
  std::vector<std::pair<std::string, std::string>> etc_files;
  std::string machine_id;  // /etc/machine-id (32 hex digits); "" = an empty file
  std::string seed_dir;    // host directory whose content is copied into the working directory
  SandboxLimits limits;
};

// What EnterSandbox set up, for the agent's environment and the notes.
struct SandboxLayout {
  std::string home_dir;  // the agent's HOME as it sees it: /home/NAME
  std::string work_dir;  // the agent's working directory: /home/NAME/project
  std::string tmp_dir;   // the agent's TMPDIR: /tmp
  std::string root_dir;  // host path of the agent's new root (WORK_DIR/root), mounted here
  // The agent's uid and gid in the cell runner's user namespace: 0 (= the
  // invoking user) when glassbox runs unprivileged; kAgentUid, mapped to the
  // an unused host id, when it runs as root (so the agent is never host root).
  int outer_uid = 0;
  std::vector<std::string> notes;  // fallbacks taken, e.g. no IPv6
};

// The host paths an agent command needs to start, besides the system
// folders (/usr, /bin, /lib*, /sbin, /opt): for argv[0] found in `path`, its
// directory or, inside node_modules, the project that holds node_modules
// (both for the path and its real path); the same for the interpreter its
// "#!" line names (through /usr/bin/env too); and the directory of every
// other argument that is an absolute path to an existing file.
std::vector<std::string> AgentReadOnlyPaths(const std::vector<std::string>& argv,
                                            const std::string& path);

// The seccomp filter the agent runs under (docs/probe-sandbox.md lists the
// refused calls and why), as raw BPF instructions (struct sock_filter[]).
// Built with libseccomp; call before threads start, pass to SpawnAgent.
Result<std::string> AgentSeccompFilter();

// Checks a SandboxSpec's fields; the error names the bad field and value.
Status ValidateSandboxSpec(const SandboxSpec& spec);

// Unshares user, network, UTS and mount namespaces (the calling process
// becomes root of its own user namespace, mapped to its real uid), sets the
// host name, makes every IPv4 and IPv6 address local on loopback, and builds
// the agent's new root in WORK_DIR/root: the system folders and
// read_only_paths bound read-only, nosuid, nodev; /etc a read-only overlay of
// generated files (resolv.conf → 127.0.0.1, hosts, hostname, passwd/group
// with the user, nsswitch.conf without network name services, localtime →
// the zone, machine-id, empty shadow/gshadow, etc_files) over the host's;
// tmpfs /home/NAME (NAME/project seeded from seed_dir), /tmp, /dev/shm of
// the limits' sizes; a /dev of null, zero, full, random, urandom and a fresh
// devpts; an empty /proc (mounted by SpawnAgent); no /sys, /run, /root.
// Must be called while single-threaded; on error the process should exit
// (its namespaces may be half set up).
Result<SandboxLayout> EnterSandbox(const SandboxSpec& spec);

struct AgentLaunch {
  std::vector<std::string> argv;                         // argv[0] is looked up in PATH from env
  std::vector<std::pair<std::string, std::string>> env;  // the whole environment
  std::string cwd;                                       // inside the new root
  std::string stdout_path;  // files the agent's stdout/stderr go to (host paths)
  std::string stderr_path;
  std::string root_dir;     // SandboxLayout::root_dir: pivot_root there
  int outer_uid = 0;        // SandboxLayout::outer_uid
  std::string seccomp_bpf;  // AgentSeccompFilter(); "" = none (tests only)
  SandboxLimits limits;
  double timeout_s = 60;  // for RLIMIT_CPU's default
};

// Forks and execs the agent: new session (so its process group can be
// killed), PID 1 of a new PID namespace (so nothing it starts outlives it;
// the returned pid is then a small waiter process that exits as the agent
// does) with a fresh /proc, a mount namespace whose root is root_dir
// (pivot_root; the host's root is detached), stdin /dev/null, a nested user
// namespace where it is uid/gid kAgentUid with no capability over the
// sandbox's namespaces, every descriptor but 0-2 closed, the limits as
// rlimits, PR_SET_NO_NEW_PRIVS and the seccomp filter. Safe to call from a
// multi-threaded process: the child only makes system calls prepared before
// the fork. Returns the pid, or an error naming the command (not found, not
// executable, exec failed) or the step that failed.
Result<pid_t> SpawnAgent(const AgentLaunch& launch);

struct AgentExit {
  int exit_code = -1;  // 128+N when killed by signal N
  bool timed_out = false;
  int peak_tasks = 0;            // most processes and threads seen at once (sampled)
  uint64_t peak_rss_bytes = 0;   // most resident memory of all its processes at once (sampled)
  bool memory_exceeded = false;  // killed: its processes together held more than the limit
};

// Waits for `pid` until `timeout_s` elapses; on timeout kills its process
// group with SIGKILL. Either way, afterwards kills whatever is left of the
// group and reaps `pid`. Samples the tasks and resident memory below `pid`
// every 50 ms while it waits; kills the lot when the memory is above
// `max_rss_bytes` (0 = no limit).
AgentExit WaitForAgent(pid_t pid, double timeout_s, uint64_t max_rss_bytes = 0);

// See cell_runner.h.
Status CheckSandboxSupport();

// The destination of one IP packet, as ConnectionLog needs it.
struct PacketDestination {
  bool tcp_syn = false;  // TCP with SYN set and ACK clear: a new connection
  bool udp = false;
  std::string dest_ip;
  int dest_port = 0;
  int src_port = 0;
};

// Parses an IPv4 or IPv6 packet, network header first (as an AF_PACKET
// SOCK_DGRAM socket delivers it). False for other protocols, truncated
// headers, later fragments, IPv6 extension headers. Pure; never trusts
// lengths in the packet (fuzzed by fuzz/fuzz_probe_packet.cc).
bool ParseIpPacket(std::string_view packet, PacketDestination* out);

// Records where the agent tried to go by watching the sandbox's loopback
// with a packet socket: every outgoing TCP SYN, the first datagram of every
// UDP flow, except DNS (port 53: the fake DNS answers it at every address). Works only inside
// the sandbox's network namespace (needs CAP_NET_RAW there). One thread.
class ConnectionLog {
 public:
  // `served_tcp_ports`: the capture listeners' ports (marks `served`).
  static Result<std::unique_ptr<ConnectionLog>> Start(std::vector<int> served_tcp_ports);
  ~ConnectionLog();
  ConnectionLog(const ConnectionLog&) = delete;
  ConnectionLog& operator=(const ConnectionLog&) = delete;

  // t_ms of each attempt counts from here, by the kernel's time stamp of the
  // packet (not by when the thread read it, which may be much later under load).
  void set_epoch(std::chrono::steady_clock::time_point epoch);
  // Reads what is still queued, stops the thread, returns the attempts in order.
  std::vector<ConnectionAttempt> Stop();
  // Packets the kernel dropped because the thread fell behind (after Stop()).
  uint64_t dropped() const { return dropped_; }

 private:
  ConnectionLog() = default;
  void Run();
  void Drain();

  int fd_ = -1;
  int wake_[2] = {-1, -1};
  std::vector<int> served_;
  std::mutex mutex_;  // guards epoch_ and attempts_
  std::chrono::steady_clock::time_point epoch_ = std::chrono::steady_clock::now();
  std::chrono::system_clock::time_point epoch_wall_ = std::chrono::system_clock::now();
  uint64_t dropped_ = 0;
  std::vector<ConnectionAttempt> attempts_;
  std::set<std::tuple<std::string, int, int>> udp_flows_;  // thread-only
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// Finds `program` in the colon-separated `path` (or uses it as is when it
// contains a '/'). Error when not found or not executable.
Result<std::string> FindExecutable(const std::string& program, const std::string& path);

}  // namespace glassbox::probe
