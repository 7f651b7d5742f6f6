#include "probe/sandbox.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "probe/child_wait.h"

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
      fields.push_back(
          line.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
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
    if (!std::islower(static_cast<unsigned char>(c)) &&
        !std::isdigit(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
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
    notes->push_back(
        "IPv6 is unavailable in the sandbox; IPv6 connections fail instead of "
        "being captured (" +
        v6.message() + ")");
  }
  return Status::Ok();
}

// The files the sandbox's /etc holds in place of the machine's.
struct EtcFiles {
  std::vector<std::pair<std::string, std::string>> files;  // name, content
  std::string zone;                                        // "" = leave localtime alone
};

EtcFiles MakeEtcFiles(const SandboxSpec& spec, const std::string& hostname,
                      const std::string& home) {
  EtcFiles etc;
  etc.files.emplace_back("resolv.conf",
                         "# glassbox probe sandbox: the fake DNS\nnameserver 127.0.0.1\n");
  etc.files.emplace_back("hosts", fmt::format("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost "
                                              "ip6-loopback\n127.0.1.1\t{}\n",
                                              hostname));
  etc.files.emplace_back("hostname", hostname + "\n");
  // Name services from files only: no NSS module may reach a resolver daemon
  // (systemd-resolved, nscd) through a Unix socket outside the network namespace.
  etc.files.emplace_back("nsswitch.conf",
                         "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n"
                         "networks: files\nprotocols: files\nservices: files\nethers: files\n"
                         "rpc: files\nnetgroup: files\n");
  etc.files.emplace_back("passwd", WithEntry(ReadSmallFile("/etc/passwd"), spec.username,
                                             fmt::format("{0}:x:{1}:{1}:{0}:{2}:/bin/sh",
                                                         spec.username, kAgentUid, home)));
  etc.files.emplace_back("group", WithEntry(ReadSmallFile("/etc/group"), spec.username,
                                            fmt::format("{}:x:{}:", spec.username, kAgentUid)));
  // The host's secrets and identity stay out: no password hashes, a machine
  // id of the probe's own.
  etc.files.emplace_back("shadow", "");
  etc.files.emplace_back("gshadow", "");
  etc.files.emplace_back("machine-id", spec.machine_id.empty() ? "" : spec.machine_id + "\n");
  if (!spec.timezone.empty()) {
    etc.zone = spec.timezone;
    etc.files.emplace_back("timezone", spec.timezone + "\n");
  }
  for (const auto& file : spec.etc_files) etc.files.push_back(file);
  return etc;
}

// mount_setattr(2) (Linux 5.12), declared here: <linux/mount.h> clashes with
// glibc 2.36's <sys/mount.h>.
struct MountAttr {
  uint64_t attr_set;
  uint64_t attr_clr;
  uint64_t propagation;
  uint64_t userns_fd;
};
constexpr uint64_t kMountAttrRdonly = 0x1;
constexpr uint64_t kMountAttrNosuid = 0x2;
constexpr uint64_t kMountAttrNodev = 0x4;
constexpr uint64_t kMountAttrNoexec = 0x8;
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

// Adds `flags` to the mount at `path` and every mount below it. Flags the
// host set (noexec on /tmp, ...) are kept: only attr_set is given.
Status RestrictMount(const std::string& path, uint64_t flags, bool recursive = true) {
  MountAttr attr{flags, 0, 0, 0};
  if (syscall(SYS_mount_setattr, AT_FDCWD, path.c_str(), recursive ? AT_RECURSIVE : 0, &attr,
              sizeof attr) == 0) {
    return Status::Ok();
  }
  // Before 5.12: the top mount only.
  unsigned long ms = MS_REMOUNT | MS_BIND;
  if (flags & kMountAttrRdonly) ms |= MS_RDONLY;
  if (flags & kMountAttrNosuid) ms |= MS_NOSUID;
  if (flags & kMountAttrNodev) ms |= MS_NODEV;
  if (flags & kMountAttrNoexec) ms |= MS_NOEXEC;
  struct statvfs st {};
  if (statvfs(path.c_str(), &st) == 0) {
    // A remount in a user namespace must repeat the flags the host locked.
    if (st.f_flag & ST_NOEXEC) ms |= MS_NOEXEC;
    if (st.f_flag & ST_NOSUID) ms |= MS_NOSUID;
    if (st.f_flag & ST_NODEV) ms |= MS_NODEV;
    if (st.f_flag & ST_RDONLY) ms |= MS_RDONLY;
    if (st.f_flag & ST_NOATIME) ms |= MS_NOATIME;
    if (st.f_flag & ST_NODIRATIME) ms |= MS_NODIRATIME;
    if (st.f_flag & ST_RELATIME) ms |= MS_RELATIME;
  }
  if (mount(nullptr, path.c_str(), nullptr, ms, nullptr) != 0) {
    return Status::Error(fmt::format("cannot make {} read-only: {}", path, Errno(errno)));
  }
  return Status::Ok();
}

// mkdir -p below `root` (which exists); `relative` starts with '/'.
Status MakeDirs(const std::string& root, const std::string& relative, mode_t mode = 0755) {
  std::string path = root;
  size_t start = 1;
  while (start <= relative.size()) {
    size_t slash = relative.find('/', start);
    if (slash == std::string::npos) slash = relative.size();
    if (slash > start) {
      path += "/" + relative.substr(start, slash - start);
      if (mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
        return Status::Error(fmt::format("cannot create {}: {}", path, Errno(errno)));
      }
    }
    start = slash + 1;
  }
  return Status::Ok();
}

// Binds the host's `source` at the same path below `root`; read-only, nosuid,
// nodev unless `writable` (device nodes).
Status BindInto(const std::string& root, const std::string& source, bool writable = false) {
  struct stat st {};
  if (stat(source.c_str(), &st) != 0) return Status::Ok();  // nothing to show
  std::string target = root + source;
  if (S_ISDIR(st.st_mode)) {
    Status made = MakeDirs(root, source);
    if (!made.ok()) return made;
  } else {
    size_t slash = source.rfind('/');
    Status made = MakeDirs(root, source.substr(0, slash));
    if (!made.ok()) return made;
    int fd = open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EEXIST) {
      return Status::Error(fmt::format("cannot create {}: {}", target, Errno(errno)));
    }
    if (fd >= 0) close(fd);
  }
  if (mount(source.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    return Status::Error(fmt::format("cannot bind {} into the sandbox: {}", source, Errno(errno)));
  }
  return RestrictMount(target, writable ? (kMountAttrNosuid | kMountAttrNoexec)
                                        : (kMountAttrRdonly | kMountAttrNosuid | kMountAttrNodev));
}

Status MountTmpfs(const std::string& target, uint64_t bytes, const std::string& mode, int uid) {
  std::string options = fmt::format("size={},mode={},uid={},gid={}", bytes, mode, uid, uid);
  if (mount("tmpfs", target.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
    return Status::Error(fmt::format("cannot mount a tmpfs on {}: {}", target, Errno(errno)));
  }
  return Status::Ok();
}

// The folders programs expect of a Linux system, read-only.
constexpr const char* kSystemDirs[] = {"/usr",   "/bin",   "/sbin",   "/lib",
                                       "/lib32", "/lib64", "/libx32", "/opt"};

// /etc: a read-only overlay of the generated files over the host's.
Status MountEtc(const SandboxSpec& spec, const EtcFiles& etc, const std::string& root) {
  std::string upper = spec.work_dir + "/etc-layer";
  Status made = MakeDir(upper);
  if (!made.ok()) return made;
  for (const auto& [name, content] : etc.files) {
    size_t slash = name.rfind('/');
    if (slash != std::string::npos) {
      Status dirs = MakeDirs(upper, "/" + name.substr(0, slash));
      if (!dirs.ok()) return dirs;
    }
    Status written =
        WriteFile(upper + "/" + name, content, name == "shadow" || name == "gshadow" ? 0 : 0644);
    if (!written.ok()) return written;
  }
  std::string zone_file = "/usr/share/zoneinfo/" + etc.zone;
  if (!etc.zone.empty() && symlink(zone_file.c_str(), (upper + "/localtime").c_str()) != 0) {
    return Status::Error(fmt::format("cannot create the localtime link: {}", Errno(errno)));
  }
  // Two lower layers and no upper one: overlayfs mounts it read-only.
  std::string options = fmt::format("lowerdir={}:/etc", upper);
  std::string target = root + "/etc";
  if (mount("overlay", target.c_str(), "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV,
            options.c_str()) != 0) {
    return Status::Error(fmt::format(
        "cannot mount the sandbox's /etc (overlayfs in a user namespace, Linux 5.11+): {}",
        Errno(errno)));
  }
  return Status::Ok();
}

// A minimal /dev: the host's harmless device nodes, a fresh devpts, /dev/shm.
Status MountDev(const std::string& root, const SandboxLimits& limits, int uid) {
  std::string dev = root + "/dev";
  Status tmpfs = MountTmpfs(dev, 1 << 20, "0755", 0);
  if (!tmpfs.ok()) return tmpfs;
  for (const char* node : {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"}) {
    Status bound = BindInto(root, node, /*writable=*/true);
    if (!bound.ok()) return bound;
  }
  for (const char* dir : {"/dev/shm", "/dev/pts"}) {
    Status made = MakeDir(root + dir);
    if (!made.ok()) return made;
  }
  Status shm = MountTmpfs(dev + "/shm", limits.shm_bytes, "1777", uid);
  if (!shm.ok()) return shm;
  // A devpts of the sandbox's own (no host terminals); optional.
  if (mount("devpts", (dev + "/pts").c_str(), "devpts", MS_NOSUID | MS_NOEXEC,
            "newinstance,ptmxmode=0666,mode=0620") == 0) {
    [[maybe_unused]] int ignored = symlink("pts/ptmx", (dev + "/ptmx").c_str());
  }
  const std::pair<const char*, const char*> links[] = {{"/proc/self/fd", "fd"},
                                                       {"/proc/self/fd/0", "stdin"},
                                                       {"/proc/self/fd/1", "stdout"},
                                                       {"/proc/self/fd/2", "stderr"}};
  for (const auto& [target, name] : links) {
    if (symlink(target, (dev + "/" + name).c_str()) != 0) {
      return Status::Error(fmt::format("cannot create /dev/{}: {}", name, Errno(errno)));
    }
  }
  return RestrictMount(dev, kMountAttrRdonly | kMountAttrNosuid, /*recursive=*/false);
}

// Copies the content of `from` into `to` (both host paths), owned by uid.
Status SeedDirectory(const std::string& from, const std::string& to, int uid) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (from.empty() || !fs::is_directory(from, ec)) return Status::Ok();
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
  if (ec)
    return Status::Error(fmt::format("cannot copy {} into the sandbox: {}", from, ec.message()));
  if (uid != 0) {
    for (auto it = fs::recursive_directory_iterator(to, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      [[maybe_unused]] int ignored = lchown(it->path().c_str(), uid, uid);
    }
  }
  return Status::Ok();
}

// The agent's new root in WORK_DIR/root (see EnterSandbox).
Status BuildRoot(const SandboxSpec& spec, const std::string& hostname, int uid,
                 SandboxLayout* layout) {
  const std::string root = spec.work_dir + "/root";
  Status made = MakeDir(root);
  if (!made.ok()) return made;
  Status tmpfs = MountTmpfs(root, 4 << 20, "0755", 0);
  if (!tmpfs.ok()) return tmpfs;
  for (const char* dir : {"/proc", "/dev", "/tmp", "/home", "/etc", "/var", "/run"}) {
    made = MakeDir(root + dir);
    if (!made.ok()) return made;
  }
  if (symlink("/tmp", (root + "/var/tmp").c_str()) != 0) {
    return Status::Error(fmt::format("cannot create /var/tmp: {}", Errno(errno)));
  }
  // System folders: a symbolic link stays one (merged /usr), a folder is bound.
  std::vector<std::string> bound;
  for (const char* dir : kSystemDirs) {
    struct stat st {};
    if (lstat(dir, &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      ssize_t n = readlink(dir, target, sizeof target - 1);
      if (n <= 0) continue;
      target[n] = '\0';
      if (symlink(target, (root + dir).c_str()) != 0) {
        return Status::Error(fmt::format("cannot link {} in the sandbox: {}", dir, Errno(errno)));
      }
      bound.push_back(dir);  // what is below it is reached through the link
      continue;
    }
    Status b = BindInto(root, dir);
    if (!b.ok()) return b;
    bound.push_back(dir);
  }
  // The agent's writable folders, before the binds that may land inside them.
  layout->home_dir = "/home/" + spec.username;
  layout->work_dir = layout->home_dir + "/project";
  layout->tmp_dir = "/tmp";
  // HOME is a tmpfs of its own; /home itself stays read-only.
  made = MakeDir(root + layout->home_dir);
  if (!made.ok()) return made;
  Status home = MountTmpfs(root + layout->home_dir, spec.limits.home_bytes, "0755", uid);
  if (!home.ok()) return home;
  made = MakeDir(root + layout->work_dir);
  if (!made.ok()) return made;
  if (uid != 0 && chown((root + layout->work_dir).c_str(), uid, uid) != 0) {
    return Status::Error(
        fmt::format("cannot give {} to the agent: {}", layout->work_dir, Errno(errno)));
  }
  Status seeded = SeedDirectory(spec.seed_dir, root + layout->work_dir, uid);
  if (!seeded.ok()) return seeded;
  Status tmp = MountTmpfs(root + "/tmp", spec.limits.tmp_bytes, "1777", 0);
  if (!tmp.ok()) return tmp;
  // The agent's own files; a path inside one already bound is already there.
  std::vector<std::string> extra = spec.read_only_paths;
  std::sort(extra.begin(), extra.end(),
            [](const std::string& a, const std::string& b) { return a.size() < b.size(); });
  for (const std::string& path : extra) {
    if (path.empty() || path.front() != '/' || path == "/") continue;
    bool covered = false;
    for (const std::string& b : bound) {
      covered |= path == b || (path.size() > b.size() && path.compare(0, b.size(), b) == 0 &&
                               path[b.size()] == '/');
    }
    for (const char* hidden : {"/proc", "/sys", "/dev", "/etc", "/run"}) {
      std::string h = hidden;
      covered |= path == h || path.compare(0, h.size() + 1, h + "/") == 0;
    }
    if (covered) continue;
    // Through a symbolic link already made (e.g. /lib -> usr/lib): nothing to do.
    struct stat st {};
    std::string parent = path.substr(0, path.rfind('/'));
    if (!parent.empty() && lstat((root + parent).c_str(), &st) == 0 && !S_ISDIR(st.st_mode))
      continue;
    Status b = BindInto(root, path);
    if (!b.ok()) return b;
    bound.push_back(path);
  }
  Status etc = MountEtc(spec, MakeEtcFiles(spec, hostname, layout->home_dir), root);
  if (!etc.ok()) return etc;
  Status dev = MountDev(root, spec.limits, uid);
  if (!dev.ok()) return dev;
  // Nothing but the tmpfs mounts is writable; the skeleton neither.
  Status sealed = RestrictMount(root, kMountAttrRdonly | kMountAttrNosuid | kMountAttrNodev,
                                /*recursive=*/false);
  if (!sealed.ok()) return sealed;
  layout->root_dir = root;
  return Status::Ok();
}

std::string NamespaceHint() {
  std::string hint;
  std::string clone = ReadSmallFile("/proc/sys/kernel/unprivileged_userns_clone");
  if (!clone.empty() && clone[0] == '0') {
    hint +=
        " kernel.unprivileged_userns_clone is 0: enable it with "
        "'sysctl -w kernel.unprivileged_userns_clone=1'.";
  }
  std::string max = ReadSmallFile("/proc/sys/user/max_user_namespaces");
  if (!max.empty() && max[0] == '0') {
    hint +=
        " user.max_user_namespaces is 0: raise it with "
        "'sysctl -w user.max_user_namespaces=10000'.";
  }
  std::string apparmor = ReadSmallFile("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
  if (!apparmor.empty() && apparmor[0] == '1') {
    hint +=
        " AppArmor restricts unprivileged user namespaces "
        "(kernel.apparmor_restrict_unprivileged_userns=1): set it to 0 or give glassbox an "
        "AppArmor profile that allows 'userns'.";
  }
  if (hint.empty()) {
    hint =
        " Inside a container, run it with user namespaces allowed (e.g. Docker "
        "--security-opt seccomp=unconfined, or a rootless runtime that permits nesting).";
  }
  return hint;
}

}  // namespace

Status ValidateSandboxSpec(const SandboxSpec& spec) {
  if (spec.work_dir.empty() || spec.work_dir.front() != '/') {
    return Status::Error(
        fmt::format("sandbox work directory '{}' is not an absolute path", spec.work_dir));
  }
  // overlayfs takes its directories in a comma- and colon-separated option string.
  if (spec.work_dir.find_first_of(",:\\\n") != std::string::npos) {
    return Status::Error(
        fmt::format("sandbox work directory '{}' contains ',', ':', '\\' or a "
                    "line break, which overlayfs options cannot carry",
                    spec.work_dir));
  }
  if (!spec.hostname.empty() && !IsValidHostname(spec.hostname)) {
    return Status::Error(
        fmt::format("cell host name '{}' is not a valid host name", spec.hostname));
  }
  if (!IsValidUsername(spec.username)) {
    return Status::Error(fmt::format(
        "cell user name '{}' is not a valid user name (lower-case letters, digits, '_', '-', "
        "'.', at most 32, starting with a letter or '_')",
        spec.username));
  }
  if (!spec.timezone.empty()) {
    struct stat st {};
    if (!IsValidZoneName(spec.timezone) || spec.timezone.find("..") != std::string::npos ||
        stat(("/usr/share/zoneinfo/" + spec.timezone).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return Status::Error(
          fmt::format("cell timezone '{}' is not a zone in /usr/share/zoneinfo", spec.timezone));
    }
  }
  return Status::Ok();
}

namespace {

// When glassbox runs as root, the agent must not be host root (root owns
// most of the host; rlimits do not bind it): it is mapped to this otherwise
// unused host uid and gid.
constexpr int kRootAgentHostId = 2147418112;  // 2^31 - 2^16

// Writes the id maps of `pid`'s new user namespace from outside it: a map of
// more than the writer's own id needs CAP_SETUID in the parent namespace.
bool WriteRootIdMaps(pid_t pid) {
  const std::string map = fmt::format("0 0 1\n{} {} 1\n", kAgentUid, kRootAgentHostId);
  for (const char* name : {"uid_map", "gid_map"}) {
    std::string file = fmt::format("/proc/{}/{}", pid, name);
    int fd = open(file.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = write(fd, map.data(), map.size()) == static_cast<ssize_t>(map.size());
    close(fd);
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<SandboxLayout> EnterSandbox(const SandboxSpec& spec) {
  Status valid = ValidateSandboxSpec(spec);
  if (!valid.ok()) return valid;
  uid_t uid = getuid();
  gid_t gid = getgid();
  const bool root = uid == 0;
  // As root, a helper outside the new namespace writes its two-id maps.
  int sync[2] = {-1, -1};
  pid_t helper = -1;
  if (root) {
    if (pipe2(sync, O_CLOEXEC) != 0) return Status::Error(fmt::format("pipe: {}", Errno(errno)));
    const pid_t self = getpid();
    helper = fork();
    if (helper < 0) return Status::Error(fmt::format("cannot fork: {}", Errno(errno)));
    if (helper == 0) {
      close(sync[1]);
      char byte = 0;
      if (read(sync[0], &byte, 1) != 1) _exit(1);
      _exit(WriteRootIdMaps(self) ? 0 : 1);
    }
    close(sync[0]);
  }
  // IPC: the host's System V shared memory, semaphores and message queues;
  // cgroup: /proc/self/cgroup names the host's cgroup path.
  if (unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWNS | CLONE_NEWIPC |
              CLONE_NEWCGROUP) != 0) {
    int err = errno;
    if (root) close(sync[1]);
    if (helper > 0) waitpid(helper, nullptr, 0);
    return Status::Error(
        fmt::format("cannot create the sandbox's namespaces: {}.{}", Errno(err), NamespaceHint()));
  }
  if (root) {
    char byte = 1;
    bool sent = write(sync[1], &byte, 1) == 1;
    close(sync[1]);
    int status = 0;
    while (waitpid(helper, &status, 0) < 0 && errno == EINTR) {
    }
    if (!sent || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return Status::Error("cannot map the sandbox's user ids (as root)");
    }
  } else {
    Status setgroups = WriteFile("/proc/self/setgroups", "deny");
    if (!setgroups.ok() && errno != ENOENT) return setgroups;
    Status uid_map = WriteFile("/proc/self/uid_map", fmt::format("0 {} 1\n", uid));
    if (!uid_map.ok()) return uid_map;
    Status gid_map = WriteFile("/proc/self/gid_map", fmt::format("0 {} 1\n", gid));
    if (!gid_map.ok()) return gid_map;
  }

  SandboxLayout layout;
  layout.outer_uid = root ? kAgentUid : 0;
  std::string hostname = spec.hostname.empty() ? "localhost" : spec.hostname;
  if (sethostname(hostname.data(), hostname.size()) != 0) {
    return Status::Error(
        fmt::format("cannot set the sandbox host name: {}.{}", Errno(errno), NamespaceHint()));
  }
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return Status::Error(fmt::format("cannot make the sandbox's mounts private: {}", Errno(errno)));
  }
  Status net = BringUpNetwork(&layout.notes);
  if (!net.ok()) return net;
  Status built = BuildRoot(spec, hostname, layout.outer_uid, &layout);
  if (!built.ok()) return built;
  return layout;
}

Result<std::string> FindExecutable(const std::string& program, const std::string& path) {
  auto usable = [](const std::string& file) {
    struct stat st {};
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

namespace {

// The package an executable or script belongs to: inside node_modules, the
// project holding node_modules (its dependencies and native parts sit next
// to it); else the nearest folder above it with a package.json (a script
// that requires "../lib.js" of its own package finds it), but never the
// caller's HOME; otherwise its directory.
// A folder right below "/" (/tmp, /home, /srv) is never shown whole: only
// the file itself.
std::string PackageRoot(const std::string& file) {
  size_t at = file.find("/node_modules/");
  if (at != std::string::npos && file.find('/', 1) < at) return file.substr(0, at);
  size_t slash = file.rfind('/');
  if (slash == std::string::npos || file.find('/', 1) >= slash) return file;
  std::string dir = file.substr(0, slash);
  const char* home = std::getenv("HOME");
  for (std::string up = dir; up.find('/', 1) != std::string::npos;
       up = up.substr(0, up.rfind('/'))) {
    if (home != nullptr && up == home) break;
    struct stat st {};
    if (stat((up + "/package.json").c_str(), &st) == 0 && S_ISREG(st.st_mode)) return up;
  }
  return dir;
}

void AddFileAndPackage(const std::string& file, std::vector<std::string>* out) {
  out->push_back(PackageRoot(file));
  char real[PATH_MAX];
  if (realpath(file.c_str(), real) != nullptr && file != real) out->push_back(PackageRoot(real));
}

// The interpreter named by a "#!" line, through /usr/bin/env too; "" if none.
std::string Interpreter(const std::string& file, const std::string& path) {
  std::ifstream in(file, std::ios::binary);
  char head[256] = {0};
  in.read(head, sizeof head - 1);
  std::string line(head, static_cast<size_t>(in.gcount()));
  if (line.rfind("#!", 0) != 0) return "";
  size_t end = line.find('\n');
  line = line.substr(2, end == std::string::npos ? std::string::npos : end - 2);
  std::istringstream words(line);
  std::string program;
  words >> program;
  if (program.size() >= 4 && program.compare(program.size() - 4, 4, "/env") == 0) {
    std::string word;
    while (words >> word) {
      if (word.empty() || word[0] == '-' || word.find('=') != std::string::npos) continue;
      Result<std::string> found = FindExecutable(word, path);
      return found.ok() ? *found : "";
    }
    return "";
  }
  return program;
}

}  // namespace

std::vector<std::string> AgentReadOnlyPaths(const std::vector<std::string>& argv,
                                            const std::string& path) {
  std::vector<std::string> out;
  if (argv.empty()) return out;
  Result<std::string> exe = FindExecutable(argv[0], path);
  if (exe.ok()) {
    std::string file = *exe;
    if (file.front() != '/') {
      char real[PATH_MAX];
      if (realpath(file.c_str(), real) != nullptr) file = real;
    }
    AddFileAndPackage(file, &out);
    std::string interpreter = Interpreter(file, path);
    if (!interpreter.empty() && interpreter.front() == '/') AddFileAndPackage(interpreter, &out);
  }
  for (size_t i = 1; i < argv.size(); ++i) {
    struct stat st {};
    if (!argv[i].empty() && argv[i].front() == '/' && stat(argv[i].c_str(), &st) == 0 &&
        S_ISREG(st.st_mode)) {
      AddFileAndPackage(argv[i], &out);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<std::string> AgentSeccompFilter() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr) return Status::Error("seccomp_init failed");
  struct Rule {
    const char* name;
    int error;
  };
  // What an agent has no use for, each a way to attack the kernel or to
  // leave the sandbox (docs/probe-sandbox.md, "Seccomp"). ENOSYS where
  // programs fall back (clone3 -> clone, io_uring -> threads).
  static const Rule kRefused[] = {
      {"mount", EPERM},
      {"umount", EPERM},
      {"umount2", EPERM},
      {"pivot_root", EPERM},
      {"chroot", EPERM},
      {"move_mount", EPERM},
      {"open_tree", EPERM},
      {"fsopen", EPERM},
      {"fsconfig", EPERM},
      {"fsmount", EPERM},
      {"fspick", EPERM},
      {"mount_setattr", EPERM},
      {"unshare", EPERM},
      {"setns", EPERM},
      {"clone3", ENOSYS},
      {"ptrace", EPERM},
      {"process_vm_readv", EPERM},
      {"process_vm_writev", EPERM},
      {"kcmp", EPERM},
      {"pidfd_getfd", EPERM},
      {"init_module", EPERM},
      {"finit_module", EPERM},
      {"delete_module", EPERM},
      {"kexec_load", EPERM},
      {"kexec_file_load", EPERM},
      {"reboot", EPERM},
      {"swapon", EPERM},
      {"swapoff", EPERM},
      {"acct", EPERM},
      {"quotactl", EPERM},
      {"keyctl", EPERM},
      {"add_key", EPERM},
      {"request_key", EPERM},
      {"bpf", EPERM},
      {"perf_event_open", EPERM},
      {"userfaultfd", EPERM},
      {"open_by_handle_at", EPERM},
      {"name_to_handle_at", EPERM},
      {"io_uring_setup", ENOSYS},
      {"io_uring_enter", ENOSYS},
      {"io_uring_register", ENOSYS},
      {"fanotify_init", EPERM},
      {"lookup_dcookie", EPERM},
      {"syslog", EPERM},
      {"settimeofday", EPERM},
      {"clock_settime", EPERM},
      {"clock_adjtime", EPERM},
      {"iopl", EPERM},
      {"ioperm", EPERM},
      {"vhangup", EPERM},
      {"uselib", EPERM},
      {"nfsservctl", EPERM},
      {"_sysctl", EPERM},
      {"ustat", EPERM},
      {"sysfs", EPERM},
  };
  int rc = 0;
  for (const Rule& rule : kRefused) {
    int nr = seccomp_syscall_resolve_name(rule.name);
    if (nr == __NR_SCMP_ERROR) continue;  // not a call on this architecture
    rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(static_cast<uint32_t>(rule.error)), nr, 0);
    if (rc != 0) break;
  }
  // clone with any namespace flag: a new namespace is new kernel attack surface.
  constexpr uint64_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
                                       CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | 0x00000080;
  for (uint64_t bit = 1; rc == 0 && bit <= kNamespaceFlags; bit <<= 1) {
    if ((kNamespaceFlags & bit) == 0) continue;
    rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                          SCMP_A0(SCMP_CMP_MASKED_EQ, bit, bit));
  }
  // TIOCSTI pushes input into a terminal; the agent has none, but refuse it.
  if (rc == 0) {
    rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                          SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI));
  }
  std::string bpf;
  if (rc == 0) {
    int fd = memfd_create("glassbox-seccomp", MFD_CLOEXEC);
    if (fd < 0) {
      rc = -errno;
    } else {
      rc = seccomp_export_bpf(ctx, fd);
      if (rc == 0) {
        off_t size = lseek(fd, 0, SEEK_END);
        bpf.resize(size > 0 ? static_cast<size_t>(size) : 0);
        if (pread(fd, bpf.data(), bpf.size(), 0) != static_cast<ssize_t>(bpf.size())) rc = -EIO;
      }
      close(fd);
    }
  }
  seccomp_release(ctx);
  if (rc != 0 || bpf.empty() || bpf.size() % sizeof(sock_filter) != 0) {
    return Status::Error(fmt::format("cannot build the agent's seccomp filter: {}", Errno(-rc)));
  }
  return bpf;
}

namespace {

// Everything the forked child needs, prepared before fork: after it, the
// child may only make async-signal-safe calls (system calls on this data).
struct ChildPlan {
  std::string exe;
  std::vector<std::string> env_strings;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::string map;  // the uid/gid map line of the nested user namespace
  std::string proc_dir;
  std::string root_dir;
  std::string cwd;
  uid_t outer = 0;
  std::vector<std::pair<int, rlimit>> limits;
  std::vector<sock_filter> filter;
  sock_fprog program{};
  int out_fd = -1;
  int err_fd = -1;
  int null_fd = -1;
  int report[2] = {-1, -1};  // the child writes {stage, errno} here when a step fails

  ChildPlan() = default;
  ChildPlan(const ChildPlan&) = delete;
  ChildPlan& operator=(const ChildPlan&) = delete;
  ~ChildPlan() { CloseAll(); }
  void CloseAll() {
    for (int* fd : {&out_fd, &err_fd, &null_fd, &report[0], &report[1]}) {
      if (*fd >= 0) close(*fd);
      *fd = -1;
    }
  }
};

// The steps that can fail in the child, by the number it reports.
constexpr const char* kChildStages[] = {"",
                                        "setsid",
                                        "create its user namespace",
                                        "map its uid",
                                        "map its gid",
                                        "redirect its output",
                                        "enter its working directory",
                                        "execute",
                                        "create its PID namespace",
                                        "create its mount namespace",
                                        "mount its /proc",
                                        "enter its new root (pivot_root)",
                                        "drop to the agent's user id",
                                        "set its resource limits",
                                        "set no_new_privs",
                                        "load its seccomp filter"};

// The rlimits of the agent, never above what this process may set (raising a
// hard limit needs privilege).
std::vector<std::pair<int, rlimit>> AgentRlimits(const AgentLaunch& launch) {
  const SandboxLimits& l = launch.limits;
  const rlim_t cpu =
      l.cpu_seconds > 0 ? l.cpu_seconds : static_cast<rlim_t>(2 * launch.timeout_s + 10);
  const std::pair<int, rlim_t> wanted[] = {{RLIMIT_DATA, l.data_bytes},
                                           {RLIMIT_FSIZE, l.file_bytes},
                                           {RLIMIT_NOFILE, l.open_files},
                                           {RLIMIT_NPROC, l.tasks},
                                           {RLIMIT_CPU, cpu},
                                           {RLIMIT_CORE, 0}};
  std::vector<std::pair<int, rlimit>> limits;
  for (const auto& [resource, value] : wanted) {
    rlimit current{};
    getrlimit(resource, &current);
    rlim_t v = current.rlim_max == RLIM_INFINITY ? value : std::min(value, current.rlim_max);
    limits.push_back({resource, rlimit{v, v}});
  }
  return limits;
}

Status PrepareChild(const AgentLaunch& launch, ChildPlan* plan) {
  std::string path_var;
  for (const auto& [name, value] : launch.env) {
    if (name == "PATH") path_var = value;
  }
  Result<std::string> exe = FindExecutable(launch.argv[0], path_var);
  if (!exe.ok()) return exe.status();
  plan->exe = *exe;
  for (const auto& [name, value] : launch.env) plan->env_strings.push_back(name + "=" + value);
  for (const std::string& a : launch.argv) plan->argv.push_back(const_cast<char*>(a.c_str()));
  plan->argv.push_back(nullptr);
  for (std::string& e : plan->env_strings) plan->envp.push_back(e.data());
  plan->envp.push_back(nullptr);
  plan->map = fmt::format("{} {} 1\n", kAgentUid, launch.outer_uid);
  plan->proc_dir = launch.root_dir + "/proc";
  plan->root_dir = launch.root_dir;
  plan->cwd = launch.cwd;
  plan->outer = static_cast<uid_t>(launch.outer_uid);
  plan->limits = AgentRlimits(launch);
  plan->filter.resize(launch.seccomp_bpf.size() / sizeof(sock_filter));
  if (!plan->filter.empty()) {
    std::memcpy(plan->filter.data(), launch.seccomp_bpf.data(),
                plan->filter.size() * sizeof(sock_filter));
  }
  plan->program = sock_fprog{static_cast<unsigned short>(plan->filter.size()), plan->filter.data()};
  plan->out_fd = open(launch.stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  plan->err_fd = open(launch.stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  plan->null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (plan->out_fd < 0 || plan->err_fd < 0 || plan->null_fd < 0 ||
      pipe2(plan->report, O_CLOEXEC) != 0) {
    int err = errno;
    plan->CloseAll();
    return Status::Error(fmt::format("cannot prepare the agent's output files in {}: {}",
                                     launch.stdout_path, Errno(err)));
  }
  return Status::Ok();
}

// Child side, system calls only. On failure: report {stage, errno}, exit 127.
[[noreturn]] void ChildDie(const ChildPlan& plan, int stage) {
  int msg[2] = {stage, errno};
  [[maybe_unused]] ssize_t n = write(plan.report[1], msg, sizeof msg);
  _exit(127);
}

bool ChildWriteFile(const char* file, const char* text, size_t len) {
  int fd = open(file, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, text, len) == static_cast<ssize_t>(len);
  close(fd);
  return ok;
}

// Clears the signal mask and dispositions the runner set, ties the child's
// life to the runner's, and starts a session.
void ChildResetSignals(const ChildPlan& plan, pid_t runner) {
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaction(sig, &dfl, nullptr);
  // If the cell runner dies (Ctrl-C, killed), so does everything below it:
  // this process, then the agent, then its whole PID namespace.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != runner) _exit(127);
  if (setsid() < 0) ChildDie(plan, 1);
}

// The waiter: stays outside the agent's PID namespace and exits as it does.
[[noreturn]] void ChildWaitFor(const ChildPlan& plan, pid_t init) {
  close(plan.report[1]);
  int status = 0;
  while (waitpid(init, &status, 0) < 0) {
    if (errno != EINTR) _exit(127);
  }
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

// Its own mount namespace: a /proc of its PID namespace, then the new root;
// the host's root is detached and unreachable.
void ChildEnterRoot(const ChildPlan& plan) {
  if (unshare(CLONE_NEWNS) != 0) ChildDie(plan, 9);
  if (mount("proc", plan.proc_dir.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) !=
      0) {
    ChildDie(plan, 10);
  }
  if (chdir(plan.root_dir.c_str()) != 0 || syscall(SYS_pivot_root, ".", ".") != 0 ||
      umount2(".", MNT_DETACH) != 0 || chdir("/") != 0) {
    ChildDie(plan, 11);
  }
}

// As root: become the unprivileged agent id, then kAgentUid of a nested user
// namespace with no capability over the sandbox's namespaces.
void ChildBecomeAgentUser(const ChildPlan& plan) {
  if (plan.outer != 0) {
    if (setgroups(0, nullptr) != 0 || setresgid(plan.outer, plan.outer, plan.outer) != 0 ||
        setresuid(plan.outer, plan.outer, plan.outer) != 0) {
      ChildDie(plan, 12);
    }
    prctl(PR_SET_DUMPABLE, 1);  // so it may write its own /proc/self/uid_map
  }
  if (unshare(CLONE_NEWUSER) != 0) ChildDie(plan, 2);
  ChildWriteFile("/proc/self/setgroups", "deny", 4);
  if (!ChildWriteFile("/proc/self/uid_map", plan.map.data(), plan.map.size())) ChildDie(plan, 3);
  if (!ChildWriteFile("/proc/self/gid_map", plan.map.data(), plan.map.size())) ChildDie(plan, 4);
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // after the credential changes, which clear it
}

// Descriptors, working directory, limits, no_new_privs, seccomp, execve.
[[noreturn]] void ChildExec(const ChildPlan& plan) {
  if (dup2(plan.null_fd, 0) < 0 || dup2(plan.out_fd, 1) < 0 || dup2(plan.err_fd, 2) < 0)
    ChildDie(plan, 5);
  // Nothing but 0-2 reaches the agent: not the listeners, the packet
  // socket, nor whatever the caller of glassbox left open. CLOEXEC, so the
  // report pipe still works until execve.
  if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) != 0) {
    for (int fd = 3; fd < 65536; ++fd) fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  if (chdir(plan.cwd.c_str()) != 0) ChildDie(plan, 6);
  for (const auto& [resource, value] : plan.limits) {
    if (setrlimit(resource, &value) != 0) ChildDie(plan, 13);
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ChildDie(plan, 14);
  if (plan.program.len > 0 && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &plan.program) != 0)
    ChildDie(plan, 15);
  execve(plan.exe.c_str(), plan.argv.data(), plan.envp.data());
  ChildDie(plan, 7);
}

[[noreturn]] void RunChild(const ChildPlan& plan, pid_t runner) {
  ChildResetSignals(plan, runner);
  // The agent becomes PID 1 of a new PID namespace: when it ends, the kernel
  // kills whatever it left running, even outside its process group; and its
  // /proc shows only its own processes. This process stays behind to wait
  // for it and pass on how it ended.
  if (unshare(CLONE_NEWPID) != 0) ChildDie(plan, 8);
  pid_t init = fork();
  if (init < 0) ChildDie(plan, 8);
  if (init > 0) ChildWaitFor(plan, init);
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // the waiter's death ends the agent too
  ChildEnterRoot(plan);
  ChildBecomeAgentUser(plan);
  ChildExec(plan);
}

}  // namespace

Result<pid_t> SpawnAgent(const AgentLaunch& launch) {
  if (launch.argv.empty()) return Status::Error("the agent command is empty");
  if (launch.root_dir.empty()) return Status::Error("the agent has no root directory");
  ChildPlan plan;
  if (Status prepared = PrepareChild(launch, &plan); !prepared.ok()) return prepared;
  const pid_t runner = getpid();
  pid_t pid = fork();
  if (pid < 0) return Status::Error(fmt::format("cannot fork the agent: {}", Errno(errno)));
  if (pid == 0) RunChild(plan, runner);
  close(plan.report[1]);
  plan.report[1] = -1;
  int msg[2] = {0, 0};
  ssize_t n;
  do {
    n = read(plan.report[0], msg, sizeof msg);
  } while (n < 0 && errno == EINTR);
  plan.CloseAll();
  if (n == static_cast<ssize_t>(sizeof msg)) {
    waitpid(pid, nullptr, 0);
    int stage = msg[0] >= 1 && msg[0] <= 15 ? msg[0] : 7;
    return Status::Error(fmt::format("cannot start agent '{}': {} failed: {}", plan.exe,
                                     kChildStages[stage], Errno(msg[1])));
  }
  return pid;
}

namespace {

struct TreeSample {
  int tasks = 0;     // processes and threads, `top`'s own thread not counted
  uint64_t rss = 0;  // resident bytes, summed over the processes
};

// What `top` and everything below it hold right now.
TreeSample SampleTree(pid_t top) {
  static const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  std::vector<pid_t> todo{top};
  TreeSample sample;
  while (!todo.empty() && sample.tasks < 1000000) {
    pid_t p = todo.back();
    todo.pop_back();
    std::string dir = fmt::format("/proc/{}/task", p);
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) continue;
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      ++sample.tasks;
      std::ifstream children(dir + "/" + e->d_name + "/children");
      pid_t child = 0;
      while (children >> child) todo.push_back(child);
    }
    closedir(d);
    if (p != top) {
      std::ifstream statm(fmt::format("/proc/{}/statm", p));
      uint64_t size = 0, resident = 0;
      if (statm >> size >> resident) sample.rss += resident * page;
    }
  }
  if (sample.tasks > 0) --sample.tasks;
  return sample;
}

}  // namespace

AgentExit WaitForAgent(pid_t pid, double timeout_s, uint64_t max_rss_bytes) {
  AgentExit result;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::microseconds(static_cast<int64_t>(timeout_s * 1e6));
  // Wakes at the agent's exit; else every 50 ms to count its tasks and
  // memory, and to stop a cell whose processes together hold too much.
  const ChildWait wait = WaitForChild(pid, deadline, std::chrono::milliseconds(50), [&] {
    const TreeSample sample = SampleTree(pid);
    result.peak_tasks = std::max(result.peak_tasks, sample.tasks);
    result.peak_rss_bytes = std::max(result.peak_rss_bytes, sample.rss);
    result.memory_exceeded = max_rss_bytes > 0 && sample.rss > max_rss_bytes;
    return !result.memory_exceeded;
  });
  int status = wait.status;
  bool reaped = wait.outcome == ChildWait::Outcome::kExited;
  if (wait.outcome == ChildWait::Outcome::kTimedOut ||
      wait.outcome == ChildWait::Outcome::kStopped) {
    result.timed_out = wait.outcome == ChildWait::Outcome::kTimedOut;
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    reaped = waitpid(pid, &status, 0) == pid;
  }
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
    return Status::Error(
        fmt::format("cannot open a packet socket in the sandbox: {}", Errno(errno)));
  }
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = static_cast<int>(if_nametoindex("lo"));
  if (sll.sll_ifindex == 0 || bind(log->fd_, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) {
    return Status::Error(fmt::format("cannot watch the sandbox's loopback: {}", Errno(errno)));
  }
  // Each packet carries the kernel's time stamp of when it was sent; a
  // larger buffer rides out a burst of connections (a flood is reported
  // through dropped()).
  int one = 1;
  int buffer = 4 << 20;
  setsockopt(log->fd_, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  if (setsockopt(log->fd_, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer) != 0) {
    setsockopt(log->fd_, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
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
  // The same instant on the clock the kernel stamps packets with.
  auto wall = std::chrono::system_clock::now() -
              std::chrono::duration_cast<std::chrono::system_clock::duration>(
                  std::chrono::steady_clock::now() - epoch);
  std::lock_guard<std::mutex> lock(mutex_);
  epoch_ = epoch;
  epoch_wall_ = wall;
}

void ConnectionLog::Drain() {
  unsigned char buf[128];  // headers are enough; the rest is truncated away
  while (true) {
    sockaddr_ll from{};
    iovec iov{buf, sizeof buf};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(fd_, &msg, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    std::optional<timespec> stamp;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        timespec ts{};
        std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
        stamp = ts;
      }
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
    attempt.served =
        !d.udp && std::find(served_.begin(), served_.end(), d.dest_port) != served_.end();
    std::lock_guard<std::mutex> lock(mutex_);
    if (stamp) {
      auto sent = std::chrono::system_clock::time_point(
          std::chrono::duration_cast<std::chrono::system_clock::duration>(
              std::chrono::seconds(stamp->tv_sec) + std::chrono::nanoseconds(stamp->tv_nsec)));
      attempt.t_ms = std::chrono::duration<double, std::milli>(sent - epoch_wall_).count();
    } else {
      attempt.t_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - epoch_)
              .count();
    }
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
  tpacket_stats stats{};
  socklen_t stats_len = sizeof stats;
  if (fd_ >= 0 && getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &stats, &stats_len) == 0) {
    dropped_ += stats.tp_drops;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  return std::move(attempts_);
}

Status CheckSandboxSupport() {
  // A child tries what EnterSandbox does first; the caller stays untouched.
  const std::string uid_map = fmt::format("0 {} 1\n", getuid());
  pid_t pid = fork();
  if (pid < 0) return Status::Error(fmt::format("cannot fork: {}", Errno(errno)));
  if (pid == 0) {
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWNS | CLONE_NEWIPC |
                CLONE_NEWCGROUP) != 0) {
      _exit(10);
    }
    int fd = open("/proc/self/uid_map", O_WRONLY | O_CLOEXEC);
    if (fd < 0 ||
        write(fd, uid_map.data(), uid_map.size()) != static_cast<ssize_t>(uid_map.size())) {
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
  std::string what = "cannot create user, network, mount, UTS, IPC and cgroup namespaces";
  if (WIFEXITED(status) && WEXITSTATUS(status) == 11)
    what = "cannot map the user id in a new user namespace";
  if (WIFEXITED(status) && WEXITSTATUS(status) == 12) {
    what = "a new user namespace grants no capabilities";
  }
  return Status::Error(
      fmt::format("the probe sandbox is unavailable on this machine: {} without privileges "
                  "(glassbox probe needs unprivileged user namespaces).{}",
                  what, NamespaceHint()));
}

}  // namespace glassbox::probe
