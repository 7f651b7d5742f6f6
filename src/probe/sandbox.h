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

#include <atomic>
#include <chrono>
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

  void set_epoch(std::chrono::steady_clock::time_point epoch);
  // Reads what is still queued, stops the thread, returns the attempts in order.
  std::vector<ConnectionAttempt> Stop();

 private:
  ConnectionLog() = default;
  void Run();
  void Drain();

  int fd_ = -1;
  int wake_[2] = {-1, -1};
  std::vector<int> served_;
  std::mutex mutex_;  // guards epoch_ and attempts_
  std::chrono::steady_clock::time_point epoch_ = std::chrono::steady_clock::now();
  std::vector<ConnectionAttempt> attempts_;
  std::set<std::tuple<std::string, int, int>> udp_flows_;  // thread-only
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// Finds `program` in the colon-separated `path` (or uses it as is when it
// contains a '/'). Error when not found or not executable.
Result<std::string> FindExecutable(const std::string& program, const std::string& path);

}  // namespace glassbox::probe
