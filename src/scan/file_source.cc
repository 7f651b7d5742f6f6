#include "scan/file_source.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace glassbox::scan {

namespace {
constexpr size_t kMapThreshold = size_t{1} << 20;

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};
}  // namespace

FileSource::FileSource(FileSource&& other) noexcept { *this = std::move(other); }

FileSource& FileSource::operator=(FileSource&& other) noexcept {
  if (this == &other) return *this;
  Release();
  const bool from_string = other.view_.data() == other.owned_.data() && !other.owned_.empty();
  owned_ = std::move(other.owned_);
  buffer_ = std::move(other.buffer_);
  map_ = other.map_;
  map_len_ = other.map_len_;
  view_ = from_string ? std::string_view(owned_) : other.view_;
  other.map_ = nullptr;
  other.map_len_ = 0;
  other.view_ = {};
  return *this;
}

FileSource::~FileSource() { Release(); }

void FileSource::Release() {
  if (map_ != nullptr) munmap(map_, map_len_);
  map_ = nullptr;
  map_len_ = 0;
  view_ = {};
}

Result<int> FileSource::OpenRegular(const std::string& path, uint64_t max_bytes, uint64_t* size) {
  return OpenRegularAt(AT_FDCWD, path.c_str(), path, max_bytes, size);
}

namespace {

// The checks of OpenRegularAt on an open file: a regular file of at most
// max_bytes; its size.
Result<uint64_t> RegularSize(int fd, const std::string& path, uint64_t max_bytes) {
  struct stat st;
  if (fstat(fd, &st) != 0)
    return Status::Error(fmt::format("{}: cannot stat: {}", path, std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) {
    const char* what = S_ISFIFO(st.st_mode)                         ? "a FIFO"
                       : S_ISSOCK(st.st_mode)                       ? "a socket"
                       : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
                       : S_ISDIR(st.st_mode)                        ? "a directory"
                                                                    : "not a regular file";
    return Status::Error(fmt::format("{}: {}, not read (only regular files are)", path, what));
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes) {
    return Status::Error(fmt::format("{}: {} bytes is over the size limit of {} bytes (--max-size)",
                                     path, size, max_bytes));
  }
  return size;
}

// Reads into[done, want) from fd until `want` bytes or the end; the bytes read.
Result<size_t> ReadUpTo(int fd, char* into, size_t done, size_t want, const std::string& path) {
  while (done < want) {
    const ssize_t n = read(fd, into + done, want - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Error(fmt::format("{}: read failed: {}", path, std::strerror(errno)));
    }
    if (n == 0) break;  // the end (a file that shrank while we read it)
    done += static_cast<size_t>(n);
  }
  return done;
}

// The first read of a walked file: one read() of up to `want` bytes.
Result<size_t> FirstRead(int fd, char* into, size_t want, const std::string& path) {
  while (true) {
    const ssize_t n = read(fd, into, want);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR)
      return Status::Error(fmt::format("{}: read failed: {}", path, std::strerror(errno)));
  }
}

// The buffer a walked file is first read into: most files fit.
constexpr size_t kWalkedReadBytes = size_t{256} << 10;

}  // namespace

Result<int> FileSource::OpenRegularAt(int dir_fd, const char* name, const std::string& path,
                                      uint64_t max_bytes, uint64_t* size) {
  // O_NONBLOCK: opening a FIFO with no writer would otherwise wait forever.
  Fd f{openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)};
  if (f.fd < 0)
    return Status::Error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  auto checked = RegularSize(f.fd, path, max_bytes);
  if (!checked.ok()) return checked.status();
  *size = checked.value();
  // O_NONBLOCK stays set: it means nothing to a regular file's reads (and
  // clearing it cost two fcntl calls per file, ~4% of a scan's system time).
  const int fd = f.fd;
  f.fd = -1;
  return fd;
}

Result<FileSource> FileSource::ReadWalkedAt(int dir_fd, const char* name, const std::string& path,
                                            uint64_t max_bytes, uint64_t read_whole_up_to,
                                            ReadBuffer* reuse, int* rest_fd, uint64_t* size) {
  *rest_fd = -1;
  Fd f{openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW)};
  if (f.fd < 0)
    return Status::Error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  if (reuse->capacity < kWalkedReadBytes) {
    reuse->capacity = kWalkedReadBytes;
    reuse->data.reset(new char[reuse->capacity]);
  }
  // One byte past the limit tells a file over it.
  const size_t want =
      max_bytes < reuse->capacity ? static_cast<size_t>(max_bytes) + 1 : reuse->capacity;
  auto first = FirstRead(f.fd, reuse->data.get(), want, path);
  if (!first.ok()) return first.status();
  FileSource src;
  // (Nothing read may be a FIFO put in the file's place after the walk: the
  // checks below tell it from an empty file.)
  if (first.value() < want && first.value() > 0) {
    *size = first.value();
    src.view_ = std::string_view(reuse->data.get(), first.value());
    return src;
  }
  auto checked = RegularSize(f.fd, path, max_bytes);
  if (!checked.ok()) return checked.status();
  *size = checked.value();
  if (*size >= kMapThreshold || *size > read_whole_up_to) {
    if (lseek(f.fd, 0, SEEK_SET) != 0)
      return Status::Error(fmt::format("{}: cannot seek: {}", path, std::strerror(errno)));
    *rest_fd = f.fd;
    f.fd = -1;
    return src;
  }
  if (reuse->capacity < *size + 1) {
    std::unique_ptr<char[]> grown(new char[*size + 1]);
    std::memcpy(grown.get(), reuse->data.get(), first.value());
    reuse->data = std::move(grown);
    reuse->capacity = *size + 1;
  }
  auto done = ReadUpTo(f.fd, reuse->data.get(), first.value(), *size, path);
  if (!done.ok()) return done.status();
  src.view_ = std::string_view(reuse->data.get(), done.value());
  return src;
}

Result<FileSource> FileSource::Open(const std::string& path, uint64_t max_bytes,
                                    ReadBuffer* reuse) {
  uint64_t size = 0;
  auto opened = OpenRegular(path, max_bytes, &size);
  if (!opened.ok()) return opened.status();
  Fd f{opened.value()};
  return Load(f.fd, size, path, reuse);
}

Result<FileSource> FileSource::Load(int fd, uint64_t size, const std::string& path,
                                    ReadBuffer* reuse) {
  FileSource src;
  if (size >= kMapThreshold) {
    void* m = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m != MAP_FAILED) {
      madvise(m, size, MADV_SEQUENTIAL);
      src.map_ = m;
      src.map_len_ = size;
      src.view_ = std::string_view(static_cast<const char*>(m), size);
      return src;
    }
  }
  char* into;
  if (reuse != nullptr) {
    if (reuse->capacity < size + 1) {
      reuse->capacity = std::max<size_t>(size + 1, 64 * 1024);
      reuse->data.reset(new char[reuse->capacity]);
    }
    into = reuse->data.get();
  } else {
    src.buffer_.reset(new char[size + 1]);
    into = src.buffer_.get();
  }
  auto done = ReadUpTo(fd, into, 0, size, path);
  if (!done.ok()) return done.status();
  src.view_ = std::string_view(into, done.value());
  return src;
}

Result<FileSource> FileSource::ReadAll(int fd, const std::string& name) {
  FileSource src;
  char buf[1 << 16];
  while (true) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Error(fmt::format("{}: read failed: {}", name, std::strerror(errno)));
    }
    if (n == 0) break;
    src.owned_.append(buf, static_cast<size_t>(n));
  }
  src.view_ = src.owned_;
  return src;
}

}  // namespace glassbox::scan
