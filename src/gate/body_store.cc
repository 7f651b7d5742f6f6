// Append-only segment files for request bodies (see body_store.h).
#include "gate/body_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

namespace glassbox::gate {
namespace {

constexpr char kMagic[4] = {'G', 'B', 'B', '1'};
constexpr uint64_t kOffsetMask = (uint64_t{1} << BodyStore::kOffsetBits) - 1;
// Larger than any body the gate accepts (max_body_bytes is 32 MiB by
// default): a damaged length never makes a reader allocate more.
constexpr uint64_t kMaxBodyBytes = uint64_t{1} << 32;

std::string Errno() { return std::strerror(errno); }

// "00000042.seg" -> 42; 0 for anything else.
uint64_t SegmentNumber(std::string_view name) {
  if (name.size() != 12 || name.substr(8) != ".seg") return 0;
  uint64_t n = 0;
  for (char c : name.substr(0, 8)) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

bool PreadAll(int fd, char* into, size_t n, uint64_t at) {
  size_t done = 0;
  while (done < n) {
    const ssize_t got = pread(fd, into + done, n - done, static_cast<off_t>(at + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    done += static_cast<size_t>(got);
  }
  return true;
}

}  // namespace

BodyStore::BodyStore(std::string dir, uint64_t segment_bytes)
    : dir_(std::move(dir)), segment_bytes_(std::max<uint64_t>(segment_bytes, 1)) {}

BodyStore::~BodyStore() {
  (void)Sync();
  if (fd_ >= 0) close(fd_);
  for (auto& [segment, fd] : read_fds_) close(fd);
  if (lock_fd_ >= 0) close(lock_fd_);  // releases the lock
}

std::string BodyStore::SegmentPath(uint64_t segment) const {
  return fmt::format("{}/{:08}.seg", dir_, segment);
}

std::vector<uint64_t> BodyStore::Segments() const {
  std::vector<uint64_t> out;
  DIR* d = opendir(dir_.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    if (uint64_t n = SegmentNumber(e->d_name); n != 0) out.push_back(n);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

Status BodyStore::OpenForAppend() {
  if (mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::Error(fmt::format("{}: cannot create the body store: {}", dir_, Errno()));
  }
  const std::string lock = dir_ + "/lock";
  lock_fd_ = open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) return Status::Error(fmt::format("{}: cannot open: {}", lock, Errno()));
  if (flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const std::string why = errno == EWOULDBLOCK ? "another gate is writing to this log" : Errno();
    close(lock_fd_);
    lock_fd_ = -1;
    return Status::Error(fmt::format("{}: body store in use: {}", dir_, why));
  }
  const std::vector<uint64_t> segments = Segments();
  segment_ = segments.empty() ? 1 : segments.back();
  fd_ = open(SegmentPath(segment_).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  struct stat st;
  if (fd_ < 0 || fstat(fd_, &st) != 0) {
    Status failed =
        Status::Error(fmt::format("{}: cannot open: {}", SegmentPath(segment_), Errno()));
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    return failed;
  }
  size_ = static_cast<uint64_t>(st.st_size);  // after any torn entry a crash left
  return Status::Ok();
}

Status BodyStore::Roll() {
  if (fd_ >= 0) {
    if (dirty_) {
      closed_unsynced_.push_back(fd_);
    } else {
      close(fd_);
    }
  }
  fd_ = -1;
  dirty_ = false;
  const uint64_t next = segment_ + 1;
  if (next >= (uint64_t{1} << (63 - kOffsetBits)))
    return Status::Error(dir_ + ": body store is full");
  const int fd = open(SegmentPath(next).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return Status::Error(fmt::format("{}: cannot create: {}", SegmentPath(next), Errno()));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return Status::Error(fmt::format("{}: cannot stat: {}", SegmentPath(next), Errno()));
  }
  segment_ = next;
  fd_ = fd;
  size_ = static_cast<uint64_t>(st.st_size);
  return Status::Ok();
}

Result<int64_t> BodyStore::Append(std::string_view body, bool sync) {
  std::lock_guard lock(mu_);
  if (lock_fd_ < 0) {
    if (Status s = OpenForAppend(); !s.ok()) return s;
  }
  if (body.size() > kMaxBodyBytes)
    return Status::Error(fmt::format("{}: body too large to store", dir_));
  const uint64_t entry = kHeaderBytes + body.size();
  if (fd_ < 0 || (size_ > 0 && size_ + entry > segment_bytes_) || size_ > kOffsetMask - entry) {
    if (Status s = Roll(); !s.ok()) return s;
  }
  char header[kHeaderBytes] = {};
  std::memcpy(header, kMagic, sizeof kMagic);
  uint64_t n = body.size();
  for (int i = 0; i < 8; ++i) header[8 + i] = static_cast<char>((n >> (8 * i)) & 0xff);
  const uint64_t at = size_;
  uint64_t done = 0;
  while (done < entry) {
    // After a short write, the rest of the header, then of the body.
    iovec rest[2];
    int count = 0;
    if (done < kHeaderBytes) rest[count++] = {header + done, kHeaderBytes - done};
    const uint64_t body_done = done > kHeaderBytes ? done - kHeaderBytes : 0;
    if (body_done < body.size()) {
      rest[count++] = {const_cast<char*>(body.data()) + body_done, body.size() - body_done};
    }
    const ssize_t wrote = pwritev(fd_, rest, count, static_cast<off_t>(at + done));
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) {
      const std::string why = wrote < 0 ? Errno() : "nothing written";
      // Whatever part landed stays as a torn entry no record names.
      struct stat st;
      if (fstat(fd_, &st) == 0) size_ = std::max(size_, static_cast<uint64_t>(st.st_size));
      return Status::Error(fmt::format("{}: cannot write: {}", SegmentPath(segment_), why));
    }
    done += static_cast<uint64_t>(wrote);
  }
  size_ = at + entry;
  dirty_ = true;
  if (sync) {
    if (fdatasync(fd_) != 0)
      return Status::Error(fmt::format("{}: cannot sync: {}", SegmentPath(segment_), Errno()));
    dirty_ = false;
  }
  return static_cast<int64_t>((segment_ << kOffsetBits) | at);
}

Status BodyStore::Sync() {
  std::vector<int> closed;
  int current = -1;
  {
    std::lock_guard lock(mu_);
    closed.swap(closed_unsynced_);
    if (fd_ >= 0 && dirty_) {
      current = dup(fd_);  // synced outside the lock: appends go on meanwhile
      dirty_ = current < 0;
    }
  }
  Status result = Status::Ok();
  for (int fd : closed) {
    if (fdatasync(fd) != 0 && result.ok())
      result = Status::Error(fmt::format("{}: cannot sync: {}", dir_, Errno()));
    close(fd);
  }
  if (current >= 0) {
    if (fdatasync(current) != 0 && result.ok()) {
      result = Status::Error(fmt::format("{}: cannot sync: {}", dir_, Errno()));
      std::lock_guard lock(mu_);
      dirty_ = true;
    }
    close(current);
  }
  return result;
}

int BodyStore::ReadFd(uint64_t segment) {
  if (auto it = read_fds_.find(segment); it != read_fds_.end()) return it->second;
  const int fd = open(SegmentPath(segment).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  if (read_fds_.size() >= 64) {  // bounded: a log with many segments read in order
    for (auto& [s, f] : read_fds_) close(f);
    read_fds_.clear();
  }
  read_fds_[segment] = fd;
  return fd;
}

Result<std::optional<std::string>> BodyStore::Read(int64_t at) {
  const uint64_t segment = SegmentOf(at);
  const uint64_t offset = static_cast<uint64_t>(at) & kOffsetMask;
  if (at <= 0 || segment == 0) return std::optional<std::string>();
  std::lock_guard lock(mu_);
  const int fd = ReadFd(segment);
  if (fd < 0) return std::optional<std::string>();
  struct stat st;
  if (fstat(fd, &st) != 0)
    return Status::Error(fmt::format("{}: cannot stat: {}", SegmentPath(segment), Errno()));
  const auto file_size = static_cast<uint64_t>(st.st_size);
  char header[kHeaderBytes];
  if (offset + kHeaderBytes > file_size || !PreadAll(fd, header, kHeaderBytes, offset) ||
      std::memcmp(header, kMagic, sizeof kMagic) != 0) {
    return std::optional<std::string>();
  }
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(header[8 + i]);
  if (n > kMaxBodyBytes || n > file_size - offset - kHeaderBytes)
    return std::optional<std::string>();
  std::string body(n, '\0');
  if (n > 0 && !PreadAll(fd, body.data(), n, offset + kHeaderBytes)) {
    return Status::Error(fmt::format("{}: cannot read: {}", SegmentPath(segment), Errno()));
  }
  return std::optional<std::string>(std::move(body));
}

Result<int> BodyStore::DeleteSegmentsBefore(uint64_t first_needed, int64_t min_age_seconds) {
  const std::vector<uint64_t> segments = Segments();
  if (segments.size() < 2) return 0;
  const uint64_t newest = segments.back();
  const time_t now = time(nullptr);
  int deleted = 0;
  for (uint64_t segment : segments) {
    if (segment >= first_needed || segment == newest) break;
    const std::string path = SegmentPath(segment);
    struct stat st;
    if (stat(path.c_str(), &st) != 0 || now - st.st_mtime < min_age_seconds) continue;
    {
      std::lock_guard lock(mu_);
      if (segment == segment_) continue;  // this writer's current segment
      if (auto it = read_fds_.find(segment); it != read_fds_.end()) {
        close(it->second);
        read_fds_.erase(it);
      }
    }
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Status::Error(fmt::format("{}: cannot delete: {}", path, Errno()));
    }
    ++deleted;
  }
  return deleted;
}

}  // namespace glassbox::gate
