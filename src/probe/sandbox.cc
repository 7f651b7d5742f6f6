#include "probe/sandbox.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>


namespace glassbox::probe {

namespace {

std::string Errno(int err) { return std::strerror(err); }

Status WriteFile(const std::string& path, std::string_view content, mode_t mode = 0644) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::Error(fmt::format("cannot write {}: {}", path, Errno(errno)));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return Status::Error(fmt::format("cannot write {}: {}", path, Errno(err)));
    }
    done += static_cast<size_t>(n);
  }
  if (close(fd) != 0) return Status::Error(fmt::format("cannot write {}: {}", path, Errno(errno)));
  return Status::Ok();
}

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Status MakeDir(const std::string& path) {
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::Error(fmt::format("cannot create {}: {}", path, Errno(errno)));
  }
  return Status::Ok();
}

bool IsDirectory(const std::string& path) {
  struct stat st{};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool Exists(const std::string& path) {
  struct stat st{};
  return lstat(path.c_str(), &st) == 0;
}

// Sets IFF_UP on the loopback interface of the current network namespace.
Status BringUpLoopback() {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Error(fmt::format("socket: {}", Errno(errno)));
  ifreq req{};
  std::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
  bool ok = ioctl(fd, SIOCGIFFLAGS, &req) == 0;
  if (ok) {
    req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP);
    ok = ioctl(fd, SIOCSIFFLAGS, &req) == 0;
  }
  int err = errno;
  close(fd);
  if (!ok) return Status::Error(fmt::format("cannot bring up loopback: {}", Errno(err)));
  return Status::Ok();
}

// Adds a route of type "local" for the whole address family on loopback
// (what `ip route add local 0.0.0.0/0 dev lo` does), through rtnetlink.
Status AddLocalDefaultRoute(int family) {
  int ifindex = static_cast<int>(if_nametoindex("lo"));
  if (ifindex == 0) return Status::Error("no loopback interface");
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return Status::Error(fmt::format("netlink socket: {}", Errno(errno)));
  struct {
    nlmsghdr header;
    rtmsg route;
    char attributes[64];
  } request{};
  request.header.nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg));
  request.header.nlmsg_type = RTM_NEWROUTE;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;
  request.header.nlmsg_seq = 1;
  request.route.rtm_family = static_cast<unsigned char>(family);
  request.route.rtm_dst_len = 0;
  request.route.rtm_table = RT_TABLE_LOCAL;
  request.route.rtm_protocol = RTPROT_BOOT;
  request.route.rtm_scope = RT_SCOPE_HOST;
  request.route.rtm_type = RTN_LOCAL;
  auto* attribute = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(&request) +
                                              NLMSG_ALIGN(request.header.nlmsg_len));
  attribute->rta_type = RTA_OIF;
  attribute->rta_len = RTA_LENGTH(sizeof(int));
  std::memcpy(RTA_DATA(attribute), &ifindex, sizeof(int));
  request.header.nlmsg_len = NLMSG_ALIGN(request.header.nlmsg_len) + RTA_ALIGN(attribute->rta_len);

  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  int err = 0;
  if (sendto(fd, &request, request.header.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel),
             sizeof kernel) < 0) {
    err = errno;
  } else {
    // The acknowledgement: an NLMSG_ERROR whose error is 0 on success.
    alignas(nlmsghdr) char reply[1024];
    ssize_t n = recv(fd, reply, sizeof reply, 0);
    if (n < 0) {
      err = errno;
    } else {
      auto* header = reinterpret_cast<nlmsghdr*>(reply);
      if (!NLMSG_OK(header, static_cast<unsigned>(n)) || header->nlmsg_type != NLMSG_ERROR) {
        err = EPROTO;
      } else {
        err = -static_cast<nlmsgerr*>(NLMSG_DATA(header))->error;
      }
    }
  }
  close(fd);
  if (err != 0) {
    return Status::Error(fmt::format("cannot route every {} address to loopback: {}",
                                     family == AF_INET ? "IPv4" : "IPv6", Errno(err)));
  }
  return Status::Ok();
}

// /etc/passwd or /etc/group with any entry for `name` or id kAgentUid
// replaced by the agent's entry.
std::string WithEntry(const std::string& original, const std::string& name,
                      const std::string& entry) {
  std::string out;
  std::istringstream in(original);
  std::string line;
  std::string id = std::to_string(kAgentUid);
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    size_t start = 0;
    while (true) {
      size_t colon = line.find(':', start);
      fields.push_back(line.substr(start, colon == std::string::npos ? std::string::npos
                                                                     : colon - start));
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
    if (!fields.empty() && fields[0] == name) continue;
    if (fields.size() > 2 && fields[2] == id) continue;
    out += line + "\n";
  }
  return out + entry + "\n";
}

bool IsValidZoneName(const std::string& zone) {
  if (zone.empty() || zone.size() > 128 || zone.front() == '/') return false;
  for (char c : zone) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '/' && c != '_' && c != '-' &&
        c != '+') {
      return false;
    }
  }
  return zone.find("//") == std::string::npos;
}

bool IsValidHostname(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') {
      return false;
    }
  }
  return name.front() != '-' && name.front() != '.';
}

bool IsValidUsername(const std::string& name) {
  if (name.empty() || name.size() > 32) return false;
  if (!(std::islower(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  for (char c : name) {
    if (!std::islower(static_cast<unsigned char>(c)) && !std::isdigit(static_cast<unsigned char>(c)) &&
        c != '_' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

Status BringUpNetwork(std::vector<std::string>* notes) {
  Status up = BringUpLoopback();
  if (!up.ok()) return up;
  // Every address is local: connections to any hard-coded address land on the
  // capture listeners bound to the wildcard address.
  Status v4 = AddLocalDefaultRoute(AF_INET);
  if (!v4.ok()) return v4;
  Status v6 = AddLocalDefaultRoute(AF_INET6);
  if (!v6.ok()) {
    notes->push_back("IPv6 is unavailable in the sandbox; IPv6 connections fail instead of "
                     "being captured (" + v6.message() + ")");
  }
  return Status::Ok();
}

// The files the sandbox's /etc holds in place of the machine's.
struct EtcFiles {
  std::vector<std::pair<std::string, std::string>> files;  // name, content
  std::string zone;  // "" = leave localtime alone
};

EtcFiles MakeEtcFiles(const SandboxSpec& spec, const std::string& hostname,
                      const std::string& home) {
  EtcFiles etc;
  etc.files.emplace_back("resolv.conf", "# glassbox probe sandbox: the fake DNS\nnameserver 127.0.0.1\n");
  etc.files.emplace_back("hosts", fmt::format("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost "
                                              "ip6-loopback\n127.0.1.1\t{}\n", hostname));
  etc.files.emplace_back("hostname", hostname + "\n");
  // Name services from files only: no NSS module may reach a resolver daemon
  // (systemd-resolved, nscd) through a Unix socket outside the network namespace.
  etc.files.emplace_back("nsswitch.conf",
                         "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n"
                         "networks: files\nprotocols: files\nservices: files\nethers: files\n"
                         "rpc: files\nnetgroup: files\n");
  etc.files.emplace_back(
      "passwd", WithEntry(ReadSmallFile("/etc/passwd"), spec.username,
                          fmt::format("{0}:x:{1}:{1}:{0}:{2}:/bin/sh", spec.username, kAgentUid, home)));
  etc.files.emplace_back("group", WithEntry(ReadSmallFile("/etc/group"), spec.username,
                                            fmt::format("{}:x:{}:", spec.username, kAgentUid)));
  if (!spec.timezone.empty()) {
    etc.zone = spec.timezone;
    etc.files.emplace_back("timezone", spec.timezone + "\n");
  }
  return etc;
}

Status MountEtc(const SandboxSpec& spec, const EtcFiles& etc, std::vector<std::string>* notes) {
  std::string upper = spec.work_dir + "/etc-upper";
  std::string work = spec.work_dir + "/etc-work";
  for (const std::string& dir : {upper, work}) {
    Status made = MakeDir(dir);
    if (!made.ok()) return made;
  }
  for (const auto& [name, content] : etc.files) {
    Status written = WriteFile(upper + "/" + name, content);
    if (!written.ok()) return written;
  }
  std::string zone_file = "/usr/share/zoneinfo/" + etc.zone;
  if (!etc.zone.empty() && symlink(zone_file.c_str(), (upper + "/localtime").c_str()) != 0) {
    return Status::Error(fmt::format("cannot create the localtime link: {}", Errno(errno)));
  }
  std::string options = fmt::format("lowerdir=/etc,upperdir={},workdir={}", upper, work);
  if (mount("overlay", "/etc", "overlay", 0, options.c_str()) == 0) return Status::Ok();
  int overlay_errno = errno;
  // Without overlayfs: bind each file over the machine's. /etc/localtime is
  // usually a symlink, so the bind lands on the zone file it points to (the
  // link name then still shows the machine's zone).
  notes->push_back(fmt::format("overlayfs over /etc failed ({}); files bind-mounted instead",
                               Errno(overlay_errno)));
  for (const auto& [name, content] : etc.files) {
    std::string target = "/etc/" + name;
    if (!Exists(target)) continue;
    std::string source = upper + "/" + name;
    if (mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      return Status::Error(fmt::format("cannot bind-mount {} over {}: {}", source, target,
                                       Errno(errno)));
    }
  }
  if (!etc.zone.empty() && Exists("/etc/localtime")) {
    if (mount(zone_file.c_str(), "/etc/localtime", nullptr, MS_BIND, nullptr) != 0) {
      return Status::Error(fmt::format("cannot bind-mount {} over /etc/localtime: {}", zone_file,
                                       Errno(errno)));
    }
    notes->push_back("/etc/localtime bind-mounted: its link target still names the machine's zone");
  }
  return Status::Ok();
}

// A fresh /home/NAME over an overlay of /home (the machine's homes stay
// readable, as they are to any process of this user); else HOME is
// WORK_DIR/home with a note.
std::string MountHome(const SandboxSpec& spec, std::vector<std::string>* notes) {
  std::string own = spec.work_dir + "/home";
  if (!IsDirectory("/home")) {
    notes->push_back("no /home on this machine: HOME is " + own);
    return own;
  }
  std::string upper = spec.work_dir + "/home-upper";
  std::string work = spec.work_dir + "/home-work";
  if (!MakeDir(upper).ok() || !MakeDir(work).ok()) return own;
  std::string options = fmt::format("lowerdir=/home,upperdir={},workdir={}", upper, work);
  std::string home = "/home/" + spec.username;
  // Made in the upper layer before mounting: an unprivileged caller may not
  // write into the machine's /home (owned by a uid its namespace does not map).
  if (!MakeDir(upper + "/" + spec.username).ok() ||
      mount("overlay", "/home", "overlay", 0, options.c_str()) != 0 ||
      mount(own.c_str(), home.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    notes->push_back(fmt::format("cannot make /home/{} ({}): HOME is {}", spec.username,
                                 Errno(errno), own));
    return own;
  }
  return home;
}

std::string NamespaceHint() {
  std::string hint;
  std::string clone = ReadSmallFile("/proc/sys/kernel/unprivileged_userns_clone");
  if (!clone.empty() && clone[0] == '0') {
    hint += " kernel.unprivileged_userns_clone is 0: enable it with "
            "'sysctl -w kernel.unprivileged_userns_clone=1'.";
  }
  std::string max = ReadSmallFile("/proc/sys/user/max_user_namespaces");
  if (!max.empty() && max[0] == '0') {
    hint += " user.max_user_namespaces is 0: raise it with "
            "'sysctl -w user.max_user_namespaces=10000'.";
  }
  std::string apparmor = ReadSmallFile("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
  if (!apparmor.empty() && apparmor[0] == '1') {
    hint += " AppArmor restricts unprivileged user namespaces "
            "(kernel.apparmor_restrict_unprivileged_userns=1): set it to 0 or give glassbox an "
            "AppArmor profile that allows 'userns'.";
  }
  if (hint.empty()) {
    hint = " Inside a container, run it with user namespaces allowed (e.g. Docker "
           "--security-opt seccomp=unconfined, or a rootless runtime that permits nesting).";
  }
  return hint;
}

}  // namespace

Status ValidateSandboxSpec(const SandboxSpec& spec) {
  if (spec.work_dir.empty() || spec.work_dir.front() != '/') {
    return Status::Error(fmt::format("sandbox work directory '{}' is not an absolute path",
                                     spec.work_dir));
  }
  // overlayfs takes its directories in a comma- and colon-separated option string.
  if (spec.work_dir.find_first_of(",:\\\n") != std::string::npos) {
    return Status::Error(fmt::format("sandbox work directory '{}' contains ',', ':', '\\' or a "
                                     "line break, which overlayfs options cannot carry",
                                     spec.work_dir));
  }
  if (!spec.hostname.empty() && !IsValidHostname(spec.hostname)) {
    return Status::Error(fmt::format("cell host name '{}' is not a valid host name", spec.hostname));
  }
  if (!IsValidUsername(spec.username)) {
    return Status::Error(fmt::format(
        "cell user name '{}' is not a valid user name (lower-case letters, digits, '_', '-', "
        "'.', at most 32, starting with a letter or '_')", spec.username));
  }
  if (!spec.timezone.empty()) {
    struct stat st{};
    if (!IsValidZoneName(spec.timezone) || spec.timezone.find("..") != std::string::npos ||
        stat(("/usr/share/zoneinfo/" + spec.timezone).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return Status::Error(fmt::format(
          "cell timezone '{}' is not a zone in /usr/share/zoneinfo", spec.timezone));
    }
  }
  return Status::Ok();
}

Result<SandboxLayout> EnterSandbox(const SandboxSpec& spec) {
  Status valid = ValidateSandboxSpec(spec);
  if (!valid.ok()) return valid;
  uid_t uid = getuid();
  gid_t gid = getgid();
  if (unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWNS) != 0) {
    return Status::Error(fmt::format("cannot create the sandbox's namespaces: {}.{}",
                                     Errno(errno), NamespaceHint()));
  }
  Status setgroups = WriteFile("/proc/self/setgroups", "deny");
  if (!setgroups.ok() && errno != ENOENT) return setgroups;
  Status uid_map = WriteFile("/proc/self/uid_map", fmt::format("0 {} 1\n", uid));
  if (!uid_map.ok()) return uid_map;
  Status gid_map = WriteFile("/proc/self/gid_map", fmt::format("0 {} 1\n", gid));
  if (!gid_map.ok()) return gid_map;

  SandboxLayout layout;
  std::string hostname = spec.hostname.empty() ? "localhost" : spec.hostname;
  if (sethostname(hostname.data(), hostname.size()) != 0) {
    return Status::Error(fmt::format("cannot set the sandbox host name: {}.{}", Errno(errno),
                                     NamespaceHint()));
  }
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return Status::Error(fmt::format("cannot make the sandbox's mounts private: {}", Errno(errno)));
  }
  Status net = BringUpNetwork(&layout.notes);
  if (!net.ok()) return net;

  layout.work_dir = spec.work_dir + "/work";
  layout.tmp_dir = spec.work_dir + "/tmp";
  for (const std::string& dir : {spec.work_dir + "/home", layout.work_dir, layout.tmp_dir}) {
    Status made = MakeDir(dir);
    if (!made.ok()) return made;
  }
  layout.home_dir = MountHome(spec, &layout.notes);
  Status etc = MountEtc(spec, MakeEtcFiles(spec, hostname, layout.home_dir), &layout.notes);
  if (!etc.ok()) return etc;
  return layout;
}

Result<std::string> FindExecutable(const std::string& program, const std::string& path) {
  auto usable = [](const std::string& file) {
    struct stat st{};
    return stat(file.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(file.c_str(), X_OK) == 0;
  };
  if (program.empty()) return Status::Error("the agent command is empty");
  if (program.find('/') != std::string::npos) {
    if (usable(program)) return program;
    return Status::Error(fmt::format("agent command '{}' is not an executable file", program));
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t colon = path.find(':', start);
    if (colon == std::string::npos) colon = path.size();
    std::string dir = path.substr(start, colon - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + program;
    if (usable(candidate)) return candidate;
    start = colon + 1;
  }
  return Status::Error(fmt::format("agent command '{}' is not found in PATH ({})", program, path));
}

Result<pid_t> SpawnAgent(const AgentLaunch& launch) {
  if (launch.argv.empty()) return Status::Error("the agent command is empty");
  std::string path_var;
  for (const auto& [name, value] : launch.env) {
    if (name == "PATH") path_var = value;
  }
  Result<std::string> exe = FindExecutable(launch.argv[0], path_var);
  if (!exe.ok()) return exe.status();

  // Everything the child needs, prepared before fork: after it, the child
  // may only make async-signal-safe calls.
  std::vector<std::string> env_strings;
  for (const auto& [name, value] : launch.env) env_strings.push_back(name + "=" + value);
  std::vector<char*> argv;
  for (const std::string& a : launch.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string map = fmt::format("{} 0 1\n", kAgentUid);

  int out_fd = open(launch.stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int err_fd = open(launch.stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int report[2] = {-1, -1};
  auto close_all = [&] {
    for (int fd : {out_fd, err_fd, null_fd, report[0], report[1]}) {
      if (fd >= 0) close(fd);
    }
  };
  if (out_fd < 0 || err_fd < 0 || null_fd < 0 || pipe2(report, O_CLOEXEC) != 0) {
    int err = errno;
    close_all();
    return Status::Error(fmt::format("cannot prepare the agent's output files in {}: {}",
                                     launch.stdout_path, Errno(err)));
  }

  const pid_t runner = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close_all();
    return Status::Error(fmt::format("cannot fork the agent: {}", Errno(err)));
  }
  if (pid == 0) {
    // Child: system calls only. On failure report {stage, errno} and exit.
    auto die = [&](int stage) {
      int msg[2] = {stage, errno};
      [[maybe_unused]] ssize_t n = write(report[1], msg, sizeof msg);
      _exit(127);
    };
    auto write_file = [](const char* file, const char* text, size_t len) {
      int fd = open(file, O_WRONLY | O_CLOEXEC);
      if (fd < 0) return false;
      bool ok = write(fd, text, len) == static_cast<ssize_t>(len);
      close(fd);
      return ok;
    };
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    struct sigaction dfl{};
    dfl.sa_handler = SIG_DFL;
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaction(sig, &dfl, nullptr);
    // If the cell runner dies (Ctrl-C, killed), so does everything below it:
    // this process, then the agent, then its whole PID namespace.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != runner) _exit(127);
    if (setsid() < 0) die(1);
    // The agent becomes PID 1 of a new PID namespace: when it ends, the kernel
    // kills whatever it left running, even outside its process group. This
    // process stays behind to wait for it and pass on how it ended. (Without
    // PID namespaces the agent runs directly; its process group is still killed.)
    if (unshare(CLONE_NEWPID) == 0) {
      pid_t init = fork();
      if (init < 0) die(8);
      if (init > 0) {
        close(report[1]);
        int status = 0;
        while (waitpid(init, &status, 0) < 0) {
          if (errno != EINTR) _exit(127);
        }
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
      }
    }
    if (unshare(CLONE_NEWUSER) != 0) die(2);
    write_file("/proc/self/setgroups", "deny", 4);
    if (!write_file("/proc/self/uid_map", map.data(), map.size())) die(3);
    if (!write_file("/proc/self/gid_map", map.data(), map.size())) die(4);
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // after the credential changes, which clear it
    if (dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) die(5);
    if (chdir(launch.cwd.c_str()) != 0) die(6);
    execve(exe->c_str(), argv.data(), envp.data());
    die(7);
  }
  close(report[1]);
  report[1] = -1;
  int msg[2] = {0, 0};
  ssize_t n;
  do {
    n = read(report[0], msg, sizeof msg);
  } while (n < 0 && errno == EINTR);
  close_all();
  if (n == static_cast<ssize_t>(sizeof msg)) {
    waitpid(pid, nullptr, 0);
    static const char* const kStages[] = {"",
                                          "setsid",
                                          "create its user namespace",
                                          "map its uid",
                                          "map its gid",
                                          "redirect its output",
                                          "enter its working directory",
                                          "execute",
                                          "fork into its PID namespace"};
    int stage = msg[0] >= 1 && msg[0] <= 8 ? msg[0] : 7;
    return Status::Error(fmt::format("cannot start agent '{}': {} failed: {}", *exe,
                                     kStages[stage], Errno(msg[1])));
  }
  return pid;
}

AgentExit WaitForAgent(pid_t pid, double timeout_s) {
  AgentExit result;
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::microseconds(static_cast<int64_t>(timeout_s * 1e6));
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  int status = 0;
  bool reaped = false;
  while (!reaped) {
    pid_t got = waitpid(pid, &status, WNOHANG);
    if (got == pid) {
      reaped = true;
      break;
    }
    if (got < 0 && errno != EINTR) break;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      if (waitpid(pid, &status, 0) == pid) reaped = true;
      break;
    }
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count() + 1, 1000)));
    } else {
      usleep(2000);
    }
  }
  if (pidfd >= 0) close(pidfd);
  kill(-pid, SIGKILL);  // whatever the agent left running in its group
  if (reaped) {
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result.exit_code = 128 + WTERMSIG(status);
  }
  return result;
}

bool ParseIpPacket(std::string_view packet, PacketDestination* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(packet.data());
  size_t n = packet.size();
  if (n < 1) return false;
  int protocol = 0;
  size_t l4 = 0;
  char text[INET6_ADDRSTRLEN] = {0};
  if ((p[0] >> 4) == 4) {
    size_t header = static_cast<size_t>(p[0] & 0x0f) * 4;
    if (header < 20 || n < header) return false;
    uint16_t fragment = static_cast<uint16_t>(((p[6] & 0x1f) << 8) | p[7]);
    if (fragment != 0) return false;  // only the first fragment has the ports
    protocol = p[9];
    if (inet_ntop(AF_INET, p + 16, text, sizeof text) == nullptr) return false;
    l4 = header;
  } else if ((p[0] >> 4) == 6) {
    if (n < 40) return false;
    protocol = p[6];
    if (inet_ntop(AF_INET6, p + 24, text, sizeof text) == nullptr) return false;
    l4 = 40;
  } else {
    return false;
  }
  *out = PacketDestination{};
  if (protocol == 6) {
    if (n < l4 + 14) return false;
    uint8_t flags = p[l4 + 13];
    out->tcp_syn = (flags & 0x02) != 0 && (flags & 0x10) == 0;
  } else if (protocol == 17) {
    if (n < l4 + 8) return false;
    out->udp = true;
  } else {
    return false;
  }
  out->src_port = (p[l4] << 8) | p[l4 + 1];
  out->dest_port = (p[l4 + 2] << 8) | p[l4 + 3];
  out->dest_ip = text;
  return true;
}

Result<std::unique_ptr<ConnectionLog>> ConnectionLog::Start(std::vector<int> served_tcp_ports) {
  std::unique_ptr<ConnectionLog> log(new ConnectionLog());
  log->served_ = std::move(served_tcp_ports);
  log->fd_ = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
  if (log->fd_ < 0) {
    return Status::Error(fmt::format("cannot open a packet socket in the sandbox: {}", Errno(errno)));
  }
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = static_cast<int>(if_nametoindex("lo"));
  if (sll.sll_ifindex == 0 ||
      bind(log->fd_, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) {
    return Status::Error(fmt::format("cannot watch the sandbox's loopback: {}", Errno(errno)));
  }
  if (pipe2(log->wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Status::Error(fmt::format("pipe: {}", Errno(errno)));
  }
  log->thread_ = std::thread([l = log.get()] { l->Run(); });
  return log;
}

ConnectionLog::~ConnectionLog() {
  Stop();
  for (int fd : {fd_, wake_[0], wake_[1]}) {
    if (fd >= 0) close(fd);
  }
}

void ConnectionLog::set_epoch(std::chrono::steady_clock::time_point epoch) {
  std::lock_guard<std::mutex> lock(mutex_);
  epoch_ = epoch;
}

void ConnectionLog::Drain() {
  unsigned char buf[128];  // headers are enough; the rest is truncated away
  while (true) {
    sockaddr_ll from{};
    socklen_t from_len = sizeof from;
    ssize_t n = recvfrom(fd_, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from),
                         &from_len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    // Loopback shows each packet twice: leaving, then arriving. Count it once.
    if (from.sll_pkttype != PACKET_OUTGOING) continue;
    size_t len = std::min(static_cast<size_t>(n), sizeof buf);
    PacketDestination d;
    if (!ParseIpPacket(std::string_view(reinterpret_cast<char*>(buf), len), &d)) continue;
    // DNS is answered at every address and recorded as DnsQuery.
    if (d.dest_port == 53 || (d.udp && d.src_port == 53)) continue;
    if (!d.tcp_syn && !d.udp) continue;
    if (d.udp && !udp_flows_.emplace(d.dest_ip, d.dest_port, d.src_port).second) continue;
    ConnectionAttempt attempt;
    attempt.protocol = d.udp ? "udp" : "tcp";
    attempt.dest_ip = d.dest_ip;
    attempt.dest_port = d.dest_port;
    attempt.src_port = d.src_port;
    attempt.served = !d.udp && std::find(served_.begin(), served_.end(), d.dest_port) != served_.end();
    std::lock_guard<std::mutex> lock(mutex_);
    attempt.t_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - epoch_).count();
    attempts_.push_back(std::move(attempt));
  }
}

void ConnectionLog::Run() {
  while (!stopping_.load()) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 && errno != EINTR) break;
    Drain();
    if (fds[1].revents != 0) break;
  }
  Drain();
}

std::vector<ConnectionAttempt> ConnectionLog::Stop() {
  if (!stopping_.exchange(true) && wake_[1] >= 0) {
    char byte = 0;
    [[maybe_unused]] ssize_t n = write(wake_[1], &byte, 1);
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  return std::move(attempts_);
}

Status CheckSandboxSupport() {
  // A child tries what EnterSandbox does first; the caller stays untouched.
  const std::string uid_map = fmt::format("0 {} 1\n", getuid());
  pid_t pid = fork();
  if (pid < 0) return Status::Error(fmt::format("cannot fork: {}", Errno(errno)));
  if (pid == 0) {
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWNS) != 0) _exit(10);
    int fd = open("/proc/self/uid_map", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, uid_map.data(), uid_map.size()) != static_cast<ssize_t>(uid_map.size())) {
      _exit(11);
    }
    close(fd);
    if (sethostname("glassbox-check", 14) != 0) _exit(12);
    _exit(0);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Status::Error(fmt::format("waitpid: {}", Errno(errno)));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
  std::string what = "cannot create user, network, mount and UTS namespaces";
  if (WIFEXITED(status) && WEXITSTATUS(status) == 11) what = "cannot map the user id in a new user namespace";
  if (WIFEXITED(status) && WEXITSTATUS(status) == 12) {
    what = "a new user namespace grants no capabilities";
  }
  return Status::Error(fmt::format(
      "the probe sandbox is unavailable on this machine: {} without privileges "
      "(glassbox probe needs unprivileged user namespaces).{}", what, NamespaceHint()));
}

}  // namespace glassbox::probe
