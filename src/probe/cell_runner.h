// Runs an agent command once inside the probe sandbox and returns everything
// it sent. This is the one entry point the probe analysis needs:
//
//   auto ca = MitmCa::Generate("glassbox probe CA");          // once per probe
//   CellSpec cell{.env = {{"TZ", "Asia/Tokyo"}}, .timezone = "Asia/Tokyo"};
//   RunOptions run{.argv = {"node", "agent.js"}, .timeout_s = 30,
//                  .work_dir = "/tmp/probe-x/cell3-run1", .ca = ca->get()};
//   Result<RunCapture> capture = RunCell(cell, run);
//
// How: RunCell starts the glassbox binary, from a descriptor held since
// before any agent ran (HeldExecutable), as `glassbox __probe-cell
// SPEC_FILE` (RunProbeCellMain below). That process, single-threaded until its
// namespaces are set up, enters new user, network, UTS and mount namespaces,
// brings up loopback with every IPv4/IPv6 address routed locally, builds the
// agent's new root (read-only system folders and agent package; /etc a
// read-only overlay: resolv.conf → fake DNS, hosts, localtime, passwd/group,
// hostname, nsswitch.conf, machine-id, empty shadow; tmpfs HOME and /tmp),
// starts the fake DNS (UDP+TCP port 53, every address) and the capture
// server (ports 80, 443, 3128, 8080, 8443, each plain or TLS, proxy-capable) on
// threads, spawns the agent (PID 1 of its PID namespace with its own /proc,
// pivot_root'ed, in a nested user namespace with no capability over the
// sandbox's own namespaces, descriptors 3+ closed, rlimits, no_new_privs,
// seccomp) with a clean environment, waits for it with the timeout, kills its
// process group, records the limits it reached, writes
// WORK_DIR/capture.jsonl and exits. RunCell waits and parses that file.
// See docs/probe-sandbox.md for what the sandbox hides and what it cannot.
//
// Thread safety: RunCell may be called concurrently from several threads with
// different work_dirs; each call spawns its own process (posix_spawn; the
// caller is never forked).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "probe/capture.h"

namespace glassbox::probe {

class MitmCa;

// The environment one cell presents to the agent.
struct CellSpec {
  // Environment variables the cell sets, in order; later entries win. The
  // agent's environment holds only: PATH (the caller's), HOME and PWD (fresh
  // directories), USER/LOGNAME (= username), the CA variables
  // (NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE,
  // GIT_SSL_CAINFO), the proxy variables when use_proxy, then these. A cell may
  // override any of them (e.g. PATH).
  std::vector<std::pair<std::string, std::string>> env;
  // IANA zone name for /etc/localtime (a symlink to /usr/share/zoneinfo/NAME,
  // as on a real system, so readers of the link name see it). "" keeps the
  // machine's. TZ is NOT implied: put it in env to set it.
  std::string timezone;
  // Host name inside the UTS namespace (and /etc/hostname). "" = "localhost".
  std::string hostname;
  // User name the agent runs as (uid 1000 in its own user namespace, with
  // /etc/passwd and /etc/group entries and HOME=/home/NAME-like fresh dir).
  // "" = the invoking user's name.
  std::string username;
  // When true, HTTP_PROXY/HTTPS_PROXY/http_proxy/https_proxy/ALL_PROXY point
  // at the capture proxy (http://127.0.0.1:8080); requests through it are
  // marked via_proxy. A proxy URL set in env with any host also works: its
  // name resolves to the capture address and ports 80/443/3128/8080/8443 proxy.
  bool use_proxy = false;
};

// What one cell may use (docs/probe-sandbox.md, "Limits"). Reaching one is
// recorded in the capture (RunCapture::limits_reached).
struct CellLimits {
  uint64_t home_bytes = uint64_t{512} << 20;  // tmpfs /home/NAME: HOME and the working directory
  uint64_t tmp_bytes = uint64_t{256} << 20;   // tmpfs /tmp
  uint64_t shm_bytes = uint64_t{64} << 20;    // tmpfs /dev/shm
  uint64_t data_bytes = uint64_t{2} << 30;    // RLIMIT_DATA, per process
  // Resident memory of all the agent's processes together, sampled every
  // 50 ms; above it the cell is stopped.
  uint64_t cell_memory_bytes = uint64_t{4} << 30;
  uint64_t file_bytes = uint64_t{64} << 20;  // RLIMIT_FSIZE: any file, stdout/stderr included
  uint64_t open_files = 1024;                // RLIMIT_NOFILE, per process
  uint64_t tasks = 512;      // RLIMIT_NPROC: processes and threads in the agent's user namespace
  uint64_t cpu_seconds = 0;  // RLIMIT_CPU per process; 0 = twice the timeout plus 10 s
};

struct RunOptions {
  std::vector<std::string> argv;  // the agent command; argv[0] is searched in PATH
  double timeout_s = 60;          // wall-clock limit; the process group is then killed
  // Per-run scratch directory: created if missing, must be empty otherwise.
  // Holds work/ (copied into the agent's working directory, /home/NAME/project),
  // root/ (the mount point of the agent's new root), the /etc layer,
  // capture.jsonl and the agent's stdout/stderr.
  // The caller deletes it (or keeps it for --out).
  std::string work_dir;
  // The probe's CA (required). Its certificate is what the agent is told to
  // trust; its key mints leaf certificates inside the cell.
  const MitmCa* ca = nullptr;
  // Path of an executable whose main dispatches `__probe-cell` to
  // RunProbeCellMain; "" = this process's own executable (/proc/self/exe).
  std::string glassbox_exe;
  // PATH the agent gets (unless the cell sets PATH); "" = this process's PATH.
  std::string path;
  // Files or directories copied into the agent's working directory before it
  // starts (e.g. the agent's script). Optional.
  std::vector<std::string> copy_into_workdir;
  CellLimits limits;  // the defaults are what `glassbox probe` uses
};

// Runs argv once in a fresh sandbox configured by `cell`. Errors (no user
// namespaces, cannot spawn, the cell runner failed) are a Status naming the
// cause; an agent that fails or times out is NOT an error: see exit_code and
// timed_out in the capture.
Result<RunCapture> RunCell(const CellSpec& cell, const RunOptions& options);

// Ok when this machine lets an unprivileged process create user, network,
// mount, UTS, IPC and cgroup namespaces; otherwise an error saying why and how to enable
// them (kernel.unprivileged_userns_clone, user.max_user_namespaces, AppArmor's
// kernel.apparmor_restrict_unprivileged_userns). Cheap; callable from any thread.
Status CheckSandboxSupport();

// Sets the dest_ip of each request from the connection log: the capture
// server sees IPv6 connections as coming from ::1. A request takes the
// latest TCP connection from its source port to its port that started before
// it (the log's times are the kernel's packet times), else the first one.
void TakeDestinationsFromConnections(RunCapture* capture);

// This process's own executable, opened (O_RDONLY|O_CLOEXEC) by the first
// call and held for the life of the process: RunCell starts every cell
// runner from it, never by a path, so an agent that replaced the file
// cannot have its program run outside the sandbox. `glassbox probe` calls it
// at its start, before any agent runs. Thread-safe.
Result<int> HeldExecutable();

// SIGKILLs every cell runner RunCell is waiting for; their agents and
// namespaces die with them. For an interrupted probe; async-signal-unsafe
// (call it from a thread, not a signal handler).
void KillRunningCells();

// A probe's scratch root (mkdtemp "PREFIXxxxxxx" in a temporary folder) is
// marked with its owner's pid and start time, so a probe killed with -9
// leaves something the next one can recognise and remove.
Status MarkWorkRoot(const std::string& root);
// Removes the roots in `parent` whose names start with `prefix` and whose
// marking process is gone; returns how many. Skips roots of other users and
// of live processes.
int SweepStaleWorkRoots(const std::string& parent, const std::string& prefix);

// Entry point of the hidden internal command `glassbox __probe-cell SPEC_FILE`.
// argv[0] is "__probe-cell"... i.e. main passes (argc - 1, argv + 1). Returns
// the process exit code: 0 when capture.jsonl was written (whatever the agent
// did), 2 with a one-line reason on stderr otherwise. Must be called from a
// single-threaded process (it unshares namespaces before starting threads).
int RunProbeCellMain(int argc, char** argv);

}  // namespace glassbox::probe
