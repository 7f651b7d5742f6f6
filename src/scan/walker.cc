#include "scan/walker.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <git2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include <fmt/format.h>

namespace glassbox::scan {

bool GlobMatch(std::string_view pattern, std::string_view path) {
  // "**/" matches zero or more directories; otherwise fnmatch with FNM_PATHNAME.
  const size_t star2 = pattern.find("**");
  if (star2 == std::string_view::npos) {
    return fnmatch(std::string(pattern).c_str(), std::string(path).c_str(), FNM_PATHNAME) == 0;
  }
  const std::string_view head = pattern.substr(0, star2);
  std::string_view tail = pattern.substr(star2 + 2);
  if (!tail.empty() && tail.front() == '/') tail.remove_prefix(1);
  if (path.size() < head.size()) return false;
  if (!head.empty() &&
      fnmatch(std::string(head).c_str(), std::string(path.substr(0, head.size())).c_str(),
              FNM_PATHNAME) != 0) {
    return false;
  }
  std::string_view rest = path.substr(head.size());
  if (tail.empty()) return true;
  // Try the tail at every directory boundary of the rest.
  while (true) {
    if (GlobMatch(tail, rest)) return true;
    const size_t slash = rest.find('/');
    if (slash == std::string_view::npos) return false;
    rest.remove_prefix(slash + 1);
  }
}

bool PathExcluded(const std::vector<std::string>& globs, std::string_view path) {
  if (path.rfind("./", 0) == 0) path.remove_prefix(2);
  const size_t slash = path.find_last_of('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  for (const std::string& g : globs) {
    if (GlobMatch(g, path) || GlobMatch(g, name)) return true;
    // A pattern naming a folder excludes everything below it.
    std::string_view gv = g;
    if (!gv.empty() && gv.back() == '/') gv.remove_suffix(1);
    if (path.size() > gv.size() && path.compare(0, gv.size(), gv) == 0 && path[gv.size()] == '/')
      return true;
  }
  return false;
}

OpenDir::OpenDir(int fd, std::shared_ptr<std::atomic<size_t>> open_count)
    : fd_(fd), open_count_(std::move(open_count)) {
  open_count_->fetch_add(1, std::memory_order_relaxed);
}

OpenDir::~OpenDir() {
  close(fd_);
  open_count_->fetch_sub(1, std::memory_order_relaxed);
}

namespace {

// True when `dir` or a parent holds ".git". Checked before libgit2 is asked,
// because starting libgit2 costs milliseconds (it loads the TLS trust store).
bool InsideGitWorkTree(const std::string& dir) {
  char* real = realpath(dir.c_str(), nullptr);
  if (real == nullptr) return false;
  std::string path = real;
  free(real);
  while (true) {
    struct stat st;
    if (lstat((path + "/.git").c_str(), &st) == 0) return true;
    const size_t slash = path.find_last_of('/');
    if (slash == std::string::npos || path == "/") return false;
    path = slash == 0 ? "/" : path.substr(0, slash);
  }
}

struct LibGit2 {
  LibGit2() { git_libgit2_init(); }
  ~LibGit2() { git_libgit2_shutdown(); }
};

struct RepoCloser {
  void operator()(git_repository* r) const { git_repository_free(r); }
};

// The dirent type of `path` from lstat, for file systems whose readdir does
// not say; false when it cannot be stat'ed.
bool TypeByStat(const std::string& path, unsigned char* type) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return false;
  *type = S_ISDIR(st.st_mode)    ? DT_DIR
          : S_ISREG(st.st_mode)  ? DT_REG
          : S_ISLNK(st.st_mode)  ? DT_LNK
          : S_ISFIFO(st.st_mode) ? DT_FIFO
          : S_ISSOCK(st.st_mode) ? DT_SOCK
          : S_ISCHR(st.st_mode)  ? DT_CHR
          : S_ISBLK(st.st_mode)  ? DT_BLK
                                 : DT_UNKNOWN;
  return true;
}

// Closes a directory the walk read unless an OpenDir holds it.
class CloseUnlessHeld {
 public:
  CloseUnlessHeld(int fd, bool held) : fd_(fd), held_(held) {}
  CloseUnlessHeld(const CloseUnlessHeld&) = delete;
  CloseUnlessHeld& operator=(const CloseUnlessHeld&) = delete;
  ~CloseUnlessHeld() {
    if (!held_ && fd_ >= 0) close(fd_);
  }

 private:
  int fd_;
  bool held_;
};

class TreeWalker {
 public:
  TreeWalker(const WalkOptions& options, const std::function<void(WalkedFile)>& on_file,
             std::vector<std::string>* errors)
      : options_(options), on_file_(on_file), errors_(errors) {}

  void WalkRoot(const std::string& root) {
    root_ = root;
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
    repo_.reset();
    workdir_.clear();
    if (options_.respect_gitignore && InsideGitWorkTree(root_)) {
      if (!libgit2_) libgit2_.emplace();
      git_repository* repo = nullptr;
      if (git_repository_open_ext(&repo, root_.c_str(), 0, nullptr) == 0) {
        repo_.reset(repo);
        const char* wd = git_repository_workdir(repo);
        if (wd != nullptr) {
          char* real = realpath(wd, nullptr);
          if (real != nullptr) {
            workdir_ = real;
            free(real);
            if (workdir_.back() != '/') workdir_ += '/';
          }
        }
      }
    }
    char* real_root = realpath(root_.c_str(), nullptr);
    real_root_ = real_root != nullptr ? real_root : root_;
    free(real_root);
    Dir(-1, "", root_, real_root_, "");
  }

 private:
  bool Excluded(const std::string& rel, const std::string& /*name*/) const {
    return PathExcluded(options_.excludes, rel);
  }
  bool Ignored(const std::string& real_path, bool is_dir) const {
    if (!repo_ || workdir_.empty()) return false;
    if (real_path.size() < workdir_.size() || real_path.compare(0, workdir_.size(), workdir_) != 0)
      return false;
    std::string rel = real_path.substr(workdir_.size());
    if (is_dir) rel += '/';
    int ignored = 0;
    if (git_ignore_path_is_ignored(&ignored, repo_.get(), rel.c_str()) != 0) return false;
    return ignored != 0;
  }
  // Opens directory `path`, `name` in the directory open as parent_fd (or
  // `path` itself when parent_fd is -1), and reads its entries (not "." and
  // ".."), sorted by name, with their dirent types. Returns the directory's
  // descriptor, still open (the caller closes it), or -1 with an error.
  int ReadEntries(int parent_fd, const std::string& name, const std::string& path,
                  std::vector<std::pair<std::string, unsigned char>>* entries) {
    constexpr int kFlags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK;  // as opendir
    const int fd =
        parent_fd >= 0 ? openat(parent_fd, name.c_str(), kFlags) : open(path.c_str(), kFlags);
    if (fd < 0) {
      errors_->push_back(fmt::format("{}: cannot open directory: {}", path, std::strerror(errno)));
      return -1;
    }
    // getdents64 on the descriptor itself, which stays open for openat (a
    // DIR would need a copy of it: two more system calls per directory).
    dirent_buffer_.resize(32 * 1024);
    while (true) {
      const ssize_t n = getdents64(fd, dirent_buffer_.data(), dirent_buffer_.size());
      if (n < 0) {
        errors_->push_back(
            fmt::format("{}: cannot read directory: {}", path, std::strerror(errno)));
        close(fd);
        return -1;
      }
      if (n == 0) break;
      for (ssize_t at = 0; at < n;) {
        const auto* e = reinterpret_cast<const dirent64*>(dirent_buffer_.data() + at);
        at += e->d_reclen;
        const char* entry = e->d_name;
        if (entry[0] == '.' && (entry[1] == '\0' || (entry[1] == '.' && entry[2] == '\0')))
          continue;
        entries->emplace_back(entry, e->d_type);
      }
    }
    std::sort(entries->begin(), entries->end());
    return fd;
  }

  // `path` is `name` in the directory open as parent_fd (-1: a root, opened
  // by its path).
  // Directories deeper than this are not held open while their
  // subdirectories are walked: a hostile tree thousands of levels deep must
  // not run the process out of descriptors. Below it, they and their files
  // are opened by path, as before the walk held directories open.
  static constexpr size_t kMaxHeldDepth = 64;

  // The directory just read, open as *fd: closed now when it is too deep to
  // hold (*fd becomes -1). Else it stays open while its subdirectories are
  // walked (openat), and is handed out with its files (the OpenDir
  // returned) while fewer than max_open_dirs are; null: the caller closes it.
  std::shared_ptr<const OpenDir> HoldOpen(int* fd, size_t depth) {
    if (depth >= kMaxHeldDepth) {
      close(*fd);
      *fd = -1;
      return nullptr;
    }
    if (open_dirs_->load(std::memory_order_relaxed) >= options_.max_open_dirs) return nullptr;
    return std::make_shared<const OpenDir>(*fd, open_dirs_);
  }

  void Dir(int parent_fd, const std::string& name_in_parent, const std::string& path,
           const std::string& real, const std::string& rel, size_t depth = 0) {
    std::vector<std::pair<std::string, unsigned char>> entries;
    int fd = ReadEntries(parent_fd, name_in_parent, path, &entries);
    if (fd < 0) return;
    const std::shared_ptr<const OpenDir> open_dir = HoldOpen(&fd, depth);
    const CloseUnlessHeld closer{fd, open_dir != nullptr};
    // The real and the relative path are built only when something reads them:
    // most entries are plain files with no --exclude and no .gitignore to test.
    const bool excludes = !options_.excludes.empty();
    const bool ignores = repo_ != nullptr && !workdir_.empty();
    for (auto& [name, type] : entries) {
      // One allocation (path + "/" + name made a temporary, then grew it).
      std::string child;
      if (path == ".") {
        child = name;
      } else {
        child.reserve(path.size() + 1 + name.size());
        child += path;
        if (path != "/") child += '/';
        child += name;
      }
      if (type == DT_UNKNOWN && !TypeByStat(child, &type)) continue;
      const bool need_rel = excludes || type == DT_DIR;
      const bool need_real = ignores || type != DT_REG;
      const std::string child_real =
          need_real ? (real == "/" ? "/" + name : real + "/" + name) : std::string();
      const std::string child_rel =
          need_rel ? (rel.empty() ? name : rel + "/" + name) : std::string();
      if (type == DT_DIR) {
        if (name == ".git") continue;
        if (Excluded(child_rel, name) || Ignored(child_real, true)) continue;
        Dir(fd, name, child, child_real, child_rel, depth + 1);
      } else if (type == DT_REG) {
        if (Excluded(child_rel, name) || Ignored(child_real, false)) continue;
        const size_t name_offset = child.size() - name.size();
        on_file_(WalkedFile{std::move(child), open_dir, name_offset});
      } else if (type == DT_LNK) {
        if (options_.on_escaping_symlink && !Excluded(child_rel, name))
          CheckSymlink(child, child_real);
      } else if (type == DT_FIFO || type == DT_SOCK || type == DT_CHR || type == DT_BLK) {
        if (options_.on_special_file && !Excluded(child_rel, name)) {
          options_.on_special_file(child, type == DT_FIFO   ? "a FIFO"
                                          : type == DT_SOCK ? "a socket"
                                                            : "a device");
        }
      }
      // Symbolic links are never followed; sockets and devices are not read.
    }
  }

  // Reports a link whose target resolves outside the walked root.
  void CheckSymlink(const std::string& path, const std::string& real_path) const {
    char target[4096];
    const ssize_t n = readlink(path.c_str(), target, sizeof target - 1);
    if (n < 0) return;
    target[n] = '\0';
    char* resolved = realpath(real_path.c_str(), nullptr);
    std::string where;
    if (resolved != nullptr) {
      where = resolved;
      free(resolved);
    } else {
      // Dangling: judge the target lexically.
      const std::string t = target;
      if (!t.empty() && t[0] == '/') {
        where = t;
      } else {
        where = real_path.substr(0, real_path.find_last_of('/') + 1) + t;
        if (t.find("..") == std::string::npos) return;  // stays inside by construction
      }
    }
    const std::string root = real_root_ == "/" ? "/" : real_root_ + "/";
    if (where == real_root_ || where.rfind(root, 0) == 0) {
      if (where.find("/../") == std::string::npos) return;
    }
    options_.on_escaping_symlink(path, target);
  }

  const WalkOptions& options_;
  const std::function<void(WalkedFile)>& on_file_;
  std::vector<std::string>* errors_;
  std::vector<char> dirent_buffer_;  // ReadEntries' getdents64 buffer
  // OpenDirs alive (held by files not yet read, or by the walk itself).
  std::shared_ptr<std::atomic<size_t>> open_dirs_ = std::make_shared<std::atomic<size_t>>(0);
  std::string root_;
  std::string real_root_;
  std::optional<LibGit2> libgit2_;  // started on first use, before repo_ and shut down after it
  std::unique_ptr<git_repository, RepoCloser> repo_;
  std::string workdir_;
};

}  // namespace

std::vector<std::string> WalkEach(const std::vector<std::string>& inputs,
                                  const WalkOptions& options,
                                  const std::function<void(std::string)>& on_file) {
  WalkOptions by_path = options;
  by_path.max_open_dirs = 0;
  return WalkEachFile(inputs, by_path, [&](WalkedFile file) { on_file(std::move(file.path)); });
}

std::vector<std::string> WalkEachFile(const std::vector<std::string>& inputs,
                                      const WalkOptions& options,
                                      const std::function<void(WalkedFile)>& on_file) {
  std::vector<std::string> errors;
  TreeWalker walker(options, on_file, &errors);
  for (const std::string& input : inputs) {
    struct stat st;
    if (stat(input.c_str(), &st) != 0) {
      errors.push_back(fmt::format("{}: {}", input, std::strerror(errno)));
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      walker.WalkRoot(input);
    } else if (S_ISREG(st.st_mode)) {
      on_file(WalkedFile{input, nullptr, 0});
    } else {
      // Named, never opened: a FIFO or a device could block the scan.
      const char* what = S_ISFIFO(st.st_mode)   ? "a FIFO"
                         : S_ISSOCK(st.st_mode) ? "a socket"
                         : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)
                             ? "a device"
                             : "not a regular file or directory";
      errors.push_back(
          fmt::format("{}: {}, not read (only regular files and directories are)", input, what));
    }
  }
  return errors;
}

WalkResult Walk(const std::vector<std::string>& inputs, const WalkOptions& options) {
  WalkResult result;
  result.errors =
      WalkEach(inputs, options, [&](std::string path) { result.files.push_back(std::move(path)); });
  return result;
}

}  // namespace glassbox::scan
