// Replacing a file so that readers see the old content or the new, never a
// torn one: write a temporary file in the same folder, fsync, rename.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <string>
#include <string_view>

#include "core/status.h"

namespace glassbox::scan {

// Writes `data` to `path` atomically. The file gets `mode`, or keeps the mode
// of the file it replaces when keep_mode is true and it exists. Errors name
// `path` and the reason; no temporary file is left behind.
Status WriteFileAtomically(const std::string& path, std::string_view data, mode_t mode = 0644,
                           bool keep_mode = false);

// An in-place edit of an existing regular file done the way a careful editor
// does it. The new content goes to a temporary file beside the original that
// already carries the original's owner, group, mode and extended attributes
// (POSIX ACLs are the xattrs system.posix_acl_*). Commit() fsyncs it and
// renames it over the original only when the original still is the file that
// was read: same inode, size, modification and change time as `before`.
// Otherwise, or on any error, the original is left untouched and the
// temporary file removed (also by the destructor when Commit() never ran).
//
// The caller decides beforehand what it refuses (symbolic links, hard links,
// read-only files, FIFOs and devices): see clean_command.cc.
class FileReplacement {
 public:
  // `original_fd` is open for reading on `path`; `before` is its fstat.
  static Result<FileReplacement> Begin(const std::string& path, int original_fd,
                                       const struct stat& before);
  FileReplacement(FileReplacement&& other) noexcept;
  FileReplacement& operator=(FileReplacement&&) = delete;
  FileReplacement(const FileReplacement&) = delete;
  ~FileReplacement();

  Status Write(std::string_view bytes);
  Status Commit();

 private:
  FileReplacement(std::string path, std::string tmp, int fd, int original_fd,
                  const struct stat& before)
      : path_(std::move(path)),
        tmp_(std::move(tmp)),
        fd_(fd),
        original_fd_(original_fd),
        before_(before) {}
  void Abandon();

  std::string path_;
  std::string tmp_;
  int fd_ = -1;
  int original_fd_ = -1;
  struct stat before_;
};

}  // namespace glassbox::scan
