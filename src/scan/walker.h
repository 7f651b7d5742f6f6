// Walker: lists the files under the scan inputs. Includes hidden files and
// folders (agent settings live there), skips .git/, honours .gitignore
// through libgit2 when the input is inside a git work tree, applies
// --exclude globs, and does not follow symbolic links.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace glassbox::scan {

struct WalkOptions {
  std::vector<std::string> excludes;
  bool respect_gitignore = true;
  // Called for each symbolic link under a walked directory whose target lies
  // outside that directory (or cannot be resolved): (link path, target).
  std::function<void(const std::string&, const std::string&)> on_escaping_symlink;
  // Called for each FIFO, socket or device under a walked directory, which
  // is not read (reading could block): (path, "a FIFO" / "a socket" / "a device").
  std::function<void(const std::string&, const char*)> on_special_file;
  // How many directories WalkEachFile may hold open for the files it hands
  // out at once (see OpenDir); past it, files are handed out by path only.
  size_t max_open_dirs = 0;
};

// A directory the walk opened, held open for the files found in it: opening
// a file relative to it (openat) spares the kernel the lookup of every
// directory above it, an eighth of a scan's system time on a deep tree. The
// descriptor closes with the last WalkedFile that holds it; `open_count`
// (shared with the walk) counts the OpenDirs alive.
class OpenDir {
 public:
  OpenDir(int fd, std::shared_ptr<std::atomic<size_t>> open_count);
  ~OpenDir();
  OpenDir(const OpenDir&) = delete;
  OpenDir& operator=(const OpenDir&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
  std::shared_ptr<std::atomic<size_t>> open_count_;
};

// A file the walk found. `path` names it (as WalkEach gives it); when `dir`
// is set, path.substr(name_offset) is its name in that open directory.
struct WalkedFile {
  std::string path;
  std::shared_ptr<const OpenDir> dir;
  size_t name_offset = 0;
};

struct WalkResult {
  std::vector<std::string> files;
  std::vector<std::string> errors;  // "path: reason"
};

// Expands each input: a file is listed as given; a directory is walked.
WalkResult Walk(const std::vector<std::string>& inputs, const WalkOptions& options);

// The same walk, handing each file to `on_file` as soon as it is found (so
// scanning can start before the walk ends). Returns the errors.
std::vector<std::string> WalkEach(const std::vector<std::string>& inputs,
                                  const WalkOptions& options,
                                  const std::function<void(std::string)>& on_file);

// The same walk, handing out each file with the open directory it was found
// in (up to options.max_open_dirs of them at once), for openat.
std::vector<std::string> WalkEachFile(const std::vector<std::string>& inputs,
                                      const WalkOptions& options,
                                      const std::function<void(WalkedFile)>& on_file);

// True when an --exclude glob covers `path` (relative to the scan root): the
// glob matches the path or the file name, or names a folder above it. The
// walker, staged mode and history scans all decide with this.
bool PathExcluded(const std::vector<std::string>& globs, std::string_view path);

// True when an --exclude glob covers `path` (relative to the scan root): the
// glob matches the path or the file name, or names a folder above it. The
// walker, staged mode and history scans all decide with this.
bool PathExcluded(const std::vector<std::string>& globs, std::string_view path);

// fnmatch-style glob with "**" for any number of directories.
bool GlobMatch(std::string_view pattern, std::string_view path);

}  // namespace glassbox::scan
