#include "probe/cell_runner.h"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <openssl/sha.h>
#include <boost/json.hpp>

#include "net/event_loop.h"
#include "probe/capture_server.h"
#include "probe/child_wait.h"
#include "probe/fake_dns.h"
#include "probe/mitm_ca.h"
#include "probe/sandbox.h"

extern char** environ;

namespace glassbox::probe {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr size_t kTailBytes = 64 * 1024;
constexpr int kProxyPort = 8080;
// How long RunCell waits for the cell runner beyond the agent's own timeout
// (namespace set-up, listeners, writing the capture).
constexpr double kRunnerGraceSeconds = 20;

std::string Errno(int err) { return std::strerror(err); }

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error(fmt::format("cannot read {}: {}", path, Errno(errno)));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string Tail(const std::string& path, size_t max) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  std::streamoff size = in.tellg();
  std::streamoff start =
      size > static_cast<std::streamoff>(max) ? size - static_cast<std::streamoff>(max) : 0;
  in.seekg(start);
  std::string out(static_cast<size_t>(size - start), '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  return out;
}

Status WriteFileAtomically(const std::string& path, const std::string& content, mode_t mode) {
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::Error(fmt::format("cannot write {}: {}", tmp, Errno(errno)));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return Status::Error(fmt::format("cannot write {}: {}", tmp, Errno(err)));
    }
    done += static_cast<size_t>(n);
  }
  if (close(fd) != 0 || rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::Error(fmt::format("cannot write {}: {}", path, Errno(errno)));
  }
  return Status::Ok();
}

std::string CurrentUserName() {
  struct passwd pw {};
  struct passwd* found = nullptr;
  char buf[4096];
  if (getpwuid_r(getuid(), &pw, buf, sizeof buf, &found) == 0 && found != nullptr) {
    return found->pw_name;
  }
  return "user";
}

// The spec file RunCell writes and the cell runner reads (then deletes: it
// holds the CA key).
struct CellFile {
  CellSpec cell;
  std::vector<std::string> argv;
  double timeout_s = 60;
  std::string work_dir;
  std::string path;  // PATH for the agent
  std::string ca_cert_pem;
  std::string ca_key_pem;
  CellLimits limits;
};

// CellLimits as JSON, field by field; a missing field keeps its default.
// clang-format off
#define GLASSBOX_CELL_LIMITS(X) \
  X(home_bytes) X(tmp_bytes) X(shm_bytes) X(data_bytes) X(cell_memory_bytes) X(file_bytes) \
  X(open_files) X(tasks) X(cpu_seconds)
// clang-format on

std::string CellFileToJson(const CellFile& f) {
  json::object obj;
  json::array env;
  for (const auto& [name, value] : f.cell.env)
    env.push_back(json::array{json::string(name), json::string(value)});
  obj["env"] = std::move(env);
  obj["timezone"] = f.cell.timezone;
  obj["hostname"] = f.cell.hostname;
  obj["username"] = f.cell.username;
  obj["use_proxy"] = f.cell.use_proxy;
  json::array argv;
  for (const std::string& a : f.argv) argv.emplace_back(a);
  obj["argv"] = std::move(argv);
  obj["timeout_s"] = f.timeout_s;
  obj["work_dir"] = f.work_dir;
  obj["path"] = f.path;
  obj["ca_cert_pem"] = f.ca_cert_pem;
  obj["ca_key_pem"] = f.ca_key_pem;
  json::object limits;
#define GLASSBOX_PUT(name) limits[#name] = f.limits.name;
  GLASSBOX_CELL_LIMITS(GLASSBOX_PUT)
#undef GLASSBOX_PUT
  obj["limits"] = std::move(limits);
  return json::serialize(obj);
}

Result<CellFile> CellFileFromJson(const std::string& text, const std::string& name) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec || !value.is_object()) return Status::Error(fmt::format("{}: not a JSON object", name));
  const json::object& obj = value.get_object();
  CellFile f;
  std::string error;
  auto str = [&](const char* key) -> std::string {
    const json::value* v = obj.if_contains(key);
    if (v == nullptr || !v->is_string()) {
      if (error.empty()) error = fmt::format("\"{}\" missing or not a string", key);
      return {};
    }
    return std::string(v->get_string());
  };
  f.cell.timezone = str("timezone");
  f.cell.hostname = str("hostname");
  f.cell.username = str("username");
  f.work_dir = str("work_dir");
  f.path = str("path");
  f.ca_cert_pem = str("ca_cert_pem");
  f.ca_key_pem = str("ca_key_pem");
  const json::value* proxy = obj.if_contains("use_proxy");
  f.cell.use_proxy = proxy != nullptr && proxy->is_bool() && proxy->get_bool();
  const json::value* timeout = obj.if_contains("timeout_s");
  if (timeout != nullptr && timeout->is_number()) f.timeout_s = timeout->to_number<double>();
  if (const json::value* limits = obj.if_contains("limits");
      limits != nullptr && limits->is_object()) {
#define GLASSBOX_GET(name)                                                                   \
  if (const json::value* v = limits->get_object().if_contains(#name); v && v->is_number()) { \
    f.limits.name = v->to_number<uint64_t>();                                                \
  }
    GLASSBOX_CELL_LIMITS(GLASSBOX_GET)
#undef GLASSBOX_GET
  }
  const json::value* env = obj.if_contains("env");
  if (env != nullptr && env->is_array()) {
    for (const json::value& pair : env->get_array()) {
      const json::array* p = pair.if_array();
      if (p == nullptr || p->size() != 2 || !(*p)[0].is_string() || !(*p)[1].is_string()) {
        error = "\"env\" entries must be [name, value] strings";
        break;
      }
      f.cell.env.emplace_back(std::string((*p)[0].get_string()), std::string((*p)[1].get_string()));
    }
  }
  const json::value* argv = obj.if_contains("argv");
  if (argv != nullptr && argv->is_array()) {
    for (const json::value& a : argv->get_array()) {
      if (!a.is_string()) {
        error = "\"argv\" entries must be strings";
        break;
      }
      f.argv.emplace_back(a.get_string());
    }
  }
  if (f.argv.empty() && error.empty()) error = "\"argv\" is empty";
  if (!error.empty()) return Status::Error(fmt::format("{}: {}", name, error));
  return f;
}

// Sets name=value, replacing an earlier value and keeping the first position.
void SetEnv(std::vector<std::pair<std::string, std::string>>* env, const std::string& name,
            const std::string& value) {
  for (auto& [n, v] : *env) {
    if (n == name) {
      v = value;
      return;
    }
  }
  env->emplace_back(name, value);
}

std::vector<std::pair<std::string, std::string>> AgentEnvironment(const CellFile& f,
                                                                  const SandboxLayout& layout,
                                                                  const std::string& ca_file) {
  std::vector<std::pair<std::string, std::string>> env;
  SetEnv(&env, "PATH", f.path);
  SetEnv(&env, "HOME", layout.home_dir);
  SetEnv(&env, "PWD", layout.work_dir);
  SetEnv(&env, "TMPDIR", layout.tmp_dir);
  SetEnv(&env, "USER", f.cell.username);
  SetEnv(&env, "LOGNAME", f.cell.username);
  for (const char* name : {"NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE",
                           "CURL_CA_BUNDLE", "GIT_SSL_CAINFO"}) {
    SetEnv(&env, name, ca_file);
  }
  if (f.cell.use_proxy) {
    std::string proxy = fmt::format("http://127.0.0.1:{}", kProxyPort);
    for (const char* name :
         {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"}) {
      SetEnv(&env, name, proxy);
    }
  }
  for (const auto& [name, value] : f.cell.env) SetEnv(&env, name, value);
  return env;
}

// A per-probe machine id, the same in every cell of one probe: derived from
// the probe's CA certificate, which is made afresh for each probe.
std::string MachineIdFor(const std::string& ca_cert_pem) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(ca_cert_pem.data()), ca_cert_pem.size(), digest);
  std::string hex;
  for (int i = 0; i < 16; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

// Where the agent finds the probe's CA certificate.
constexpr const char* kCaFile = "/etc/ssl/certs/glassbox-probe-ca.pem";

// The limits a finished run reached, each as one line for the capture.
std::vector<std::string> LimitsReached(const CellFile& f, const SandboxLayout& layout,
                                       const SandboxLimits& limits, const AgentExit& exit) {
  std::vector<std::string> out;
  auto mib = [](uint64_t bytes) { return bytes >> 20; };
  if (exit.timed_out) {
    out.push_back(
        fmt::format("time: the agent ran past the {:g} s timeout and was killed", f.timeout_s));
  }
  if (exit.exit_code == 128 + SIGXCPU)
    out.push_back("cpu: a process of the agent used up its CPU time");
  if (exit.exit_code == 128 + SIGXFSZ) {
    out.push_back(
        fmt::format("file size: the agent wrote a file past {} MiB", mib(limits.file_bytes)));
  }
  // Sampled every 50 ms: a fork bomb that hits the limit and then exits at
  // once may be seen below it, so half the limit already counts.
  if (static_cast<uint64_t>(exit.peak_tasks) * 2 >= limits.tasks) {
    out.push_back(
        fmt::format("processes: the agent ran {} processes and threads at once (limit {})",
                    exit.peak_tasks, limits.tasks));
  }
  if (exit.memory_exceeded) {
    out.push_back(
        fmt::format("memory: the agent's processes together held {} MiB (limit {} MiB per "
                    "cell); the run was stopped",
                    exit.peak_rss_bytes >> 20, mib(limits.cell_memory_bytes)));
  }
  rusage usage{};
  if (getrusage(RUSAGE_CHILDREN, &usage) == 0 &&
      static_cast<uint64_t>(usage.ru_maxrss) * 1024 >= limits.data_bytes / 4 * 3) {
    out.push_back(
        fmt::format("memory: a process of the agent grew to {} MiB (limit {} MiB per process)",
                    static_cast<uint64_t>(usage.ru_maxrss) >> 10, mib(limits.data_bytes)));
  }
  const std::pair<std::string, uint64_t> disks[] = {{layout.home_dir, limits.home_bytes},
                                                    {"/tmp", limits.tmp_bytes},
                                                    {"/dev/shm", limits.shm_bytes}};
  for (const auto& [dir, size] : disks) {
    struct statvfs st {};
    if (statvfs((layout.root_dir + dir).c_str(), &st) == 0 &&
        static_cast<uint64_t>(st.f_bavail) * st.f_frsize < (uint64_t{1} << 20)) {
      out.push_back(fmt::format("disk: the agent filled {} ({} MiB)", dir, mib(size)));
    }
  }
  for (const char* stream : {"stdout", "stderr"}) {
    struct stat st {};
    std::string file = f.work_dir + "/agent." + stream;
    if (stat(file.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) >= limits.file_bytes) {
      out.push_back(fmt::format("output: the agent's {} reached {} MiB; the rest was not kept",
                                stream, mib(limits.file_bytes)));
    }
  }
  return out;
}

// The cell runner's work once the spec is read; errors end the runner.
Status RunInsideSandbox(const CellFile& f) {
  std::vector<std::pair<std::string, std::string>> env_for_path =
      AgentEnvironment(f, SandboxLayout{}, kCaFile);
  std::string agent_path;
  for (const auto& [name, value] : env_for_path) {
    if (name == "PATH") agent_path = value;
  }
  SandboxSpec spec{f.work_dir, f.cell.hostname, f.cell.username, f.cell.timezone};
  spec.read_only_paths = AgentReadOnlyPaths(f.argv, agent_path);
  spec.etc_files.emplace_back(std::string(kCaFile).substr(5), f.ca_cert_pem);
  spec.machine_id = MachineIdFor(f.ca_cert_pem);
  spec.seed_dir = f.work_dir + "/work";
  spec.limits = f.limits;
  Result<std::string> seccomp = AgentSeccompFilter();  // before any thread starts
  if (!seccomp.ok()) return seccomp.status();
  Result<SandboxLayout> layout = EnterSandbox(spec);
  if (!layout.ok()) return layout.status();
  Result<std::unique_ptr<MitmCa>> ca = MitmCa::FromPem(f.ca_cert_pem, f.ca_key_pem);
  if (!ca.ok()) return ca.status();

  RunCapture capture;
  capture.notes = layout->notes;
  auto epoch = std::chrono::steady_clock::now();
  std::mutex dns_mutex;
  std::vector<DnsQuery> dns;
  {
    net::EventLoop loop(2);
    FakeDnsZone zone;
    Result<std::unique_ptr<FakeDnsServer>> dns_server = FakeDnsServer::Start(
        "0.0.0.0", 53, &zone,
        [&](const DnsQuestion& q, std::string_view transport, const std::string& server) {
          double t =
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - epoch)
                  .count();
          std::lock_guard<std::mutex> lock(dns_mutex);
          dns.push_back({t, q.name, DnsTypeName(q.qtype), std::string(transport), server});
        });
    if (!dns_server.ok()) return dns_server.status();
    CaptureServerOptions capture_options;
    capture_options.ca = ca->get();
    Result<std::unique_ptr<CaptureServer>> server = CaptureServer::Start(loop, capture_options);
    if (!server.ok()) return server.status();
    Result<std::unique_ptr<ConnectionLog>> connections = ConnectionLog::Start((*server)->ports());
    if (!connections.ok()) {
      capture.notes.push_back("connection attempts are not recorded: " +
                              connections.status().message());
    }

    AgentLaunch launch;
    launch.argv = f.argv;
    launch.env = AgentEnvironment(f, *layout, kCaFile);
    launch.cwd = layout->work_dir;
    launch.stdout_path = f.work_dir + "/agent.stdout";
    launch.stderr_path = f.work_dir + "/agent.stderr";
    launch.root_dir = layout->root_dir;
    launch.outer_uid = layout->outer_uid;
    launch.seccomp_bpf = *seccomp;
    launch.limits = spec.limits;
    launch.timeout_s = f.timeout_s;
    epoch = std::chrono::steady_clock::now();
    (*server)->set_epoch(epoch);
    if (connections.ok()) (*connections)->set_epoch(epoch);
    Result<pid_t> pid = SpawnAgent(launch);
    if (!pid.ok()) return pid.status();
    AgentExit exit = WaitForAgent(*pid, f.timeout_s, spec.limits.cell_memory_bytes);
    capture.wall_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - epoch).count();
    capture.exit_code = exit.exit_code;
    capture.timed_out = exit.timed_out;
    capture.limits_reached = LimitsReached(f, *layout, spec.limits, exit);
    // Regression: under load a TLS alert sent just before curl exited was
    // not read yet when the capture was taken (no tls_failure recorded).
    // Still accepting meanwhile, so connections waiting to be accepted are
    // served rather than dropped.
    (*server)->WaitForConnectionsToEnd(std::chrono::seconds(2));
    (*server)->StopAccepting();
    (*dns_server)->Stop();
    if (connections.ok()) {
      capture.connections = (*connections)->Stop();
      if ((*connections)->dropped() > 0) {
        capture.limits_reached.push_back(fmt::format(
            "connection log: {} packets were not seen (the agent opened connections faster than "
            "they could be logged)",
            (*connections)->dropped()));
      }
    }
    for (std::string& limit : (*server)->LimitsReached())
      capture.limits_reached.push_back(std::move(limit));
    capture.requests = (*server)->TakeRequests();
    capture.tls_failures = (*server)->TakeTlsFailures();
    server->reset();
    loop.Stop();
  }
  capture.dns = std::move(dns);
  TakeDestinationsFromConnections(&capture);
  capture.stdout_tail = Tail(f.work_dir + "/agent.stdout", kTailBytes);
  capture.stderr_tail = Tail(f.work_dir + "/agent.stderr", kTailBytes);
  return WriteFileAtomically(f.work_dir + "/capture.jsonl", CaptureToJsonl(capture), 0600);
}

// Waits for `pid` up to `timeout_s`; kills it after. Returns the wait status,
// or -1 when it had to be killed.
int WaitWithDeadline(pid_t pid, double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::microseconds(static_cast<int64_t>(timeout_s * 1e6));
  const ChildWait wait = WaitForChild(pid, deadline, std::chrono::seconds(1));
  switch (wait.outcome) {
    case ChildWait::Outcome::kExited:
      return wait.status;
    case ChildWait::Outcome::kTimedOut:
    case ChildWait::Outcome::kStopped: {
      kill(pid, SIGKILL);
      int status = 0;
      waitpid(pid, &status, 0);
      return -1;
    }
    case ChildWait::Outcome::kError:
      break;
  }
  return -1;
}

std::string LastLine(const std::string& text) {
  std::string t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  size_t nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

// The executable a cell runner is started from, opened read-only.
Result<int> OpenExecutable(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Status::Error(fmt::format("cannot open the cell runner '{}': {}", path, Errno(errno)));
  // Kept away from 0-3, which posix_spawn's file actions set.
  int high = fcntl(fd, F_DUPFD_CLOEXEC, 10);
  close(fd);
  if (high < 0)
    return Status::Error(fmt::format("cannot open the cell runner '{}': {}", path, Errno(errno)));
  return high;
}

std::mutex cells_mutex;
std::set<pid_t>* running_cells = new std::set<pid_t>();  // never freed: used from signal threads

void RegisterCell(pid_t pid, bool running) {
  std::lock_guard<std::mutex> lock(cells_mutex);
  if (running) {
    running_cells->insert(pid);
  } else {
    running_cells->erase(pid);
  }
}

}  // namespace

// The capture server knows a connection by its peer address, which inside
// the sandbox equals the destination for IPv4 but is ::1 for IPv6. The
// connection log saw the real destination: take it from the latest TCP
// connection made from the request's source port to its port before the
// request (the log's times are the kernel's packet times, so a log thread
// that fell behind under load does not matter); failing that, the first such
// connection at all.
void TakeDestinationsFromConnections(RunCapture* capture) {
  for (CapturedRequest& r : capture->requests) {
    if (r.client_port == 0) continue;
    const ConnectionAttempt* before = nullptr;
    const ConnectionAttempt* any = nullptr;
    for (const ConnectionAttempt& c : capture->connections) {
      if (c.protocol != "tcp" || c.src_port != r.client_port || c.dest_port != r.dest_port)
        continue;
      if (any == nullptr) any = &c;
      if (c.t_ms <= r.t_ms) before = &c;
    }
    if (before != nullptr) {
      r.dest_ip = before->dest_ip;
    } else if (any != nullptr) {
      r.dest_ip = any->dest_ip;
    }
  }
}

Result<int> HeldExecutable() {
  static const Result<int> held = OpenExecutable("/proc/self/exe");
  return held;
}

void KillRunningCells() {
  std::lock_guard<std::mutex> lock(cells_mutex);
  for (pid_t pid : *running_cells) kill(pid, SIGKILL);
}

Result<RunCapture> RunCell(const CellSpec& cell, const RunOptions& options) {
  if (options.argv.empty()) return Status::Error("probe cell: the agent command is empty");
  if (options.ca == nullptr) return Status::Error("probe cell: no interception CA given");
  if (options.work_dir.empty()) return Status::Error("probe cell: no work directory given");
  if (!(options.timeout_s > 0)) return Status::Error("probe cell: the timeout must be positive");

  std::error_code ec;
  fs::path work = fs::absolute(options.work_dir, ec);
  if (ec)
    return Status::Error(
        fmt::format("probe cell work directory '{}': {}", options.work_dir, ec.message()));
  CellFile f;
  f.cell = cell;
  if (f.cell.username.empty()) f.cell.username = CurrentUserName();
  f.argv = options.argv;
  f.timeout_s = options.timeout_s;
  f.work_dir = work.string();
  f.path = options.path;
  if (f.path.empty()) {
    const char* path = getenv("PATH");  // the caller's: the agent must find its interpreter
    f.path = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  }
  f.ca_cert_pem = options.ca->cert_pem();
  f.ca_key_pem = options.ca->key_pem();
  f.limits = options.limits;
  Status valid =
      ValidateSandboxSpec({f.work_dir, f.cell.hostname, f.cell.username, f.cell.timezone});
  if (!valid.ok()) return valid;
  fs::create_directories(work, ec);
  if (ec)
    return Status::Error(fmt::format("cannot create probe cell work directory '{}': {}",
                                     work.string(), ec.message()));
  if (!fs::is_empty(work, ec)) {
    return Status::Error(fmt::format("probe cell work directory '{}' is not empty", work.string()));
  }

  // Look the command up now, with the agent's PATH, for a clear early error.
  std::string agent_path = f.path;
  for (const auto& [name, value] : f.cell.env) {
    if (name == "PATH") agent_path = value;
  }
  if (f.argv[0].find('/') == std::string::npos || f.argv[0].front() == '/') {
    Result<std::string> exe = FindExecutable(f.argv[0], agent_path);
    if (!exe.ok()) return exe.status();
  }

  fs::path agent_work = work / "work";
  fs::create_directories(agent_work, ec);
  if (ec)
    return Status::Error(fmt::format("cannot create {}: {}", agent_work.string(), ec.message()));
  for (const std::string& item : options.copy_into_workdir) {
    fs::path source(item);
    fs::copy(source, agent_work / source.filename(),
             fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
    if (ec)
      return Status::Error(fmt::format("cannot copy '{}' into the cell: {}", item, ec.message()));
  }

  std::string spec_path = (work / "cell.json").string();
  Status wrote = WriteFileAtomically(spec_path, CellFileToJson(f), 0600);
  if (!wrote.ok()) return wrote;

  // The runner is started from a descriptor held since before the first
  // agent ran, never by a path: an agent that replaced the file behind
  // /proc/self/exe ("glassbox (deleted)") cannot get its own program run.
  Result<int> exe_fd =
      options.glassbox_exe.empty() ? HeldExecutable() : OpenExecutable(options.glassbox_exe);
  if (!exe_fd.ok()) return exe_fd.status();
  std::string log_path = (work / "runner.log").string();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_adddup2(&actions, *exe_fd, 3);
  // Nothing else of this process (other cells' files, whatever glassbox's
  // caller left open) reaches the runner, let alone the agent.
  posix_spawn_file_actions_addclosefrom_np(&actions, 4);
  std::string arg0 = "glassbox";
  std::string arg1 = "__probe-cell";
  char* argv[] = {arg0.data(), arg1.data(), spec_path.data(), nullptr};
  pid_t pid = 0;
  int rc = posix_spawn(&pid, "/proc/self/fd/3", &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (!options.glassbox_exe.empty()) close(*exe_fd);
  if (rc != 0) return Status::Error(fmt::format("cannot start the cell runner: {}", Errno(rc)));
  RegisterCell(pid, true);
  int status = WaitWithDeadline(pid, options.timeout_s + kRunnerGraceSeconds);
  RegisterCell(pid, false);
  unlink(spec_path.c_str());  // normally already gone: it holds the CA key
  Result<std::string> log = ReadFile(log_path);
  std::string reason = log.ok() ? LastLine(*log) : "";
  if (status == -1) {
    return Status::Error(fmt::format("probe cell runner did not finish within {:.0f} s; killed",
                                     options.timeout_s + kRunnerGraceSeconds));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::Error(
        reason.empty() ? fmt::format("probe cell runner failed (status {})", status) : reason);
  }
  std::string capture_path = (work / "capture.jsonl").string();
  Result<std::string> text = ReadFile(capture_path);
  if (!text.ok()) return text.status();
  return CaptureFromJsonl(*text, capture_path);
}

namespace {

// "PID STARTTIME": the start time (in clock ticks after boot, field 22 of
// /proc/PID/stat) tells a live owner from a new process with a reused pid.
std::string ProcessStamp(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string line;
  std::getline(in, line);
  size_t paren = line.rfind(')');
  if (paren == std::string::npos) return "";
  std::istringstream fields(line.substr(paren + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i == 22) return fmt::format("{} {}", pid, field);
  }
  return "";
}

}  // namespace

Status MarkWorkRoot(const std::string& root) {
  return WriteFileAtomically(root + "/owner", ProcessStamp(getpid()) + "\n", 0600);
}

int SweepStaleWorkRoots(const std::string& parent, const std::string& prefix) {
  int removed = 0;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(parent, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    struct stat st {};
    if (lstat(entry.path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid())
      continue;
    Result<std::string> owner = ReadFile((entry.path() / "owner").string());
    if (!owner.ok() || owner->empty()) continue;  // not marked (yet): leave it
    std::string stamp = owner->substr(0, owner->find('\n'));
    pid_t pid = static_cast<pid_t>(std::atoi(stamp.c_str()));
    if (pid <= 0 || ProcessStamp(pid) == stamp) continue;  // its probe still runs
    std::error_code ignored;
    fs::remove_all(entry.path(), ignored);
    if (!ignored) ++removed;
  }
  return removed;
}

int RunProbeCellMain(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "glassbox: __probe-cell is internal: usage __probe-cell SPEC_FILE\n");
    return 2;
  }
  // Ends with the process that started it (RunCell's thread), so an
  // interrupted probe leaves no cell behind; the agent follows (sandbox.cc).
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Only 0-2 are meant for this process (RunCell passes its own executable
  // as 3, to start it): nothing inherited may reach the agent.
  if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0) {
    for (int fd = 3; fd < 1024; ++fd) close(fd);
  }
  std::string spec_path = argv[1];
  Result<std::string> text = ReadFile(spec_path);
  unlink(spec_path.c_str());
  if (!text.ok()) {
    std::fprintf(stderr, "glassbox: probe cell: %s\n", text.status().message().c_str());
    return 2;
  }
  Result<CellFile> f = CellFileFromJson(*text, spec_path);
  if (!f.ok()) {
    std::fprintf(stderr, "glassbox: probe cell: %s\n", f.status().message().c_str());
    return 2;
  }
  Status done = RunInsideSandbox(*f);
  if (!done.ok()) {
    std::fprintf(stderr, "glassbox: probe cell: %s\n", done.message().c_str());
    return 2;
  }
  return 0;
}

}  // namespace glassbox::probe
