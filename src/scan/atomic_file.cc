#include "scan/atomic_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace glassbox::scan {

Status WriteFileAtomically(const std::string& path, std::string_view data, mode_t mode,
                           bool keep_mode) {
  if (keep_mode) {
    struct stat st;
    if (stat(path.c_str(), &st) == 0) mode = st.st_mode & 07777;
  }
  std::string tmp = path + ".glassbox-XXXXXX";
  const int fd = mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0)
    return Status::Error(
        fmt::format("{}: cannot create a temporary file: {}", path, std::strerror(errno)));
  auto fail = [&](const char* what, int err) {
    close(fd);
    unlink(tmp.c_str());
    return Status::Error(fmt::format("{}: {}: {}", path, what, std::strerror(err)));
  };
  for (size_t done = 0; done < data.size();) {
    const ssize_t put = write(fd, data.data() + done, data.size() - done);
    if (put < 0) {
      if (errno == EINTR) continue;
      return fail("write failed", errno);
    }
    done += static_cast<size_t>(put);
  }
  if (fchmod(fd, mode) != 0) return fail("cannot set the file mode", errno);
  if (fsync(fd) != 0) return fail("cannot flush", errno);
  if (close(fd) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    return Status::Error(fmt::format("{}: cannot flush: {}", path, std::strerror(err)));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    return Status::Error(fmt::format("{}: cannot replace: {}", path, std::strerror(err)));
  }
  return Status::Ok();
}

}  // namespace glassbox::scan

namespace glassbox::scan {

namespace {

// Copies every extended attribute of `from` to `to`; ACLs travel this way.
Status CopyXattrs(const std::string& path, int from, int to) {
  ssize_t size = flistxattr(from, nullptr, 0);
  if (size < 0) {
    if (errno == ENOTSUP) return Status::Ok();
    return Status::Error(
        fmt::format("{}: cannot list extended attributes: {}", path, std::strerror(errno)));
  }
  std::string names(static_cast<size_t>(size), '\0');
  size = flistxattr(from, names.data(), names.size());
  if (size < 0)
    return Status::Error(
        fmt::format("{}: cannot list extended attributes: {}", path, std::strerror(errno)));
  names.resize(static_cast<size_t>(size));
  std::string value;
  for (size_t at = 0; at < names.size();) {
    const std::string name = names.c_str() + at;
    at += name.size() + 1;
    if (name.empty()) continue;
    const ssize_t len = fgetxattr(from, name.c_str(), nullptr, 0);
    if (len < 0)
      return Status::Error(
          fmt::format("{}: cannot read attribute {}: {}", path, name, std::strerror(errno)));
    value.resize(static_cast<size_t>(len));
    const ssize_t got = fgetxattr(from, name.c_str(), value.data(), value.size());
    if (got < 0)
      return Status::Error(
          fmt::format("{}: cannot read attribute {}: {}", path, name, std::strerror(errno)));
    if (fsetxattr(to, name.c_str(), value.data(), static_cast<size_t>(got), 0) != 0) {
      return Status::Error(
          fmt::format("{}: cannot keep extended attribute {} on the cleaned copy: {}", path, name,
                      std::strerror(errno)));
    }
  }
  return Status::Ok();
}

bool SameFile(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
         a.st_ctim.tv_sec == b.st_ctim.tv_sec && a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

}  // namespace

Result<FileReplacement> FileReplacement::Begin(const std::string& path, int original_fd,
                                               const struct stat& before) {
  std::string tmp = path + ".glassbox-XXXXXX";
  const int fd = mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0)
    return Status::Error(
        fmt::format("{}: cannot create a temporary file: {}", path, std::strerror(errno)));
  FileReplacement r(path, tmp, fd, original_fd, before);
  struct stat mine;
  if (fstat(fd, &mine) != 0)
    return Status::Error(
        fmt::format("{}: cannot stat the temporary file: {}", path, std::strerror(errno)));
  if (mine.st_uid != before.st_uid || mine.st_gid != before.st_gid) {
    if (fchown(fd, before.st_uid, before.st_gid) != 0) {
      return Status::Error(
          fmt::format("{}: cannot keep its owner and group ({}:{}) on the cleaned copy: {}; not "
                      "cleaned",
                      path, before.st_uid, before.st_gid, std::strerror(errno)));
    }
  }
  if (fchmod(fd, before.st_mode & 07777) != 0) {
    return Status::Error(fmt::format("{}: cannot keep its mode on the cleaned copy: {}", path,
                                     std::strerror(errno)));
  }
  Status st = CopyXattrs(path, original_fd, fd);
  if (!st.ok()) return st;
  return Result<FileReplacement>(std::move(r));
}

FileReplacement::FileReplacement(FileReplacement&& other) noexcept
    : path_(std::move(other.path_)),
      tmp_(std::move(other.tmp_)),
      fd_(other.fd_),
      original_fd_(other.original_fd_),
      before_(other.before_) {
  other.fd_ = -1;
  other.tmp_.clear();
}

FileReplacement::~FileReplacement() { Abandon(); }

void FileReplacement::Abandon() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  if (!tmp_.empty()) unlink(tmp_.c_str());
  tmp_.clear();
}

Status FileReplacement::Write(std::string_view data) {
  for (size_t done = 0; done < data.size();) {
    const ssize_t put = write(fd_, data.data() + done, data.size() - done);
    if (put < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      Abandon();
      return Status::Error(
          fmt::format("{}: write failed: {}; not cleaned", path_, std::strerror(err)));
    }
    done += static_cast<size_t>(put);
  }
  return Status::Ok();
}

Status FileReplacement::Commit() {
  if (fd_ < 0) return Status::Error(fmt::format("{}: not cleaned", path_));
  if (fsync(fd_) != 0 || close(fd_) != 0) {
    const int err = errno;
    fd_ = -1;
    Abandon();
    return Status::Error(fmt::format("{}: cannot flush the cleaned copy: {}; not cleaned", path_,
                                     std::strerror(err)));
  }
  fd_ = -1;
  // A writer that appended or rewrote the file while it was read would lose
  // its work to the rename: compare what the file is now with what was read.
  struct stat now_fd, now_path;
  if (fstat(original_fd_, &now_fd) != 0 || lstat(path_.c_str(), &now_path) != 0 ||
      !SameFile(now_fd, before_) || !SameFile(now_path, before_)) {
    Abandon();
    return Status::Error(
        fmt::format("{}: changed while it was being cleaned (size, time or inode differ); left "
                    "untouched, run clean again",
                    path_));
  }
  if (rename(tmp_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    Abandon();
    return Status::Error(
        fmt::format("{}: cannot replace: {}; not cleaned", path_, std::strerror(err)));
  }
  tmp_.clear();
  return Status::Ok();
}

}  // namespace glassbox::scan
