// FileSource: read-only bytes of a file, mapped when large, read when small.
// Bounded memory: a mapped file costs address space, not resident memory.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace glassbox::scan {

// Memory a thread reuses for the small files it reads, one after another.
struct ReadBuffer {
  std::unique_ptr<char[]> data;
  size_t capacity = 0;
};

class FileSource {
 public:
  FileSource() = default;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;
  FileSource(FileSource&& other) noexcept;
  FileSource& operator=(FileSource&& other) noexcept;
  ~FileSource();

  // Opens `path`. Files larger than max_bytes fail with a message saying so.
  // With `reuse`, a small file is read into that buffer (valid until the next
  // Open with the same buffer) instead of a fresh allocation.
  static Result<FileSource> Open(const std::string& path, uint64_t max_bytes,
                                 ReadBuffer* reuse = nullptr);
  // Opens `path` for reading and checks it is a regular file of at most
  // max_bytes; returns the descriptor (the caller closes it) and its size.
  // Opens without blocking, so a FIFO or a device named as a file is refused,
  // not waited on.
  static Result<int> OpenRegular(const std::string& path, uint64_t max_bytes, uint64_t* size);
  // The same for `name` in the directory open as dir_fd (openat; AT_FDCWD
  // for the working directory); `path` names the file in errors.
  static Result<int> OpenRegularAt(int dir_fd, const char* name, const std::string& path,
                                   uint64_t max_bytes, uint64_t* size);
  // A file the walk listed as regular (its directory entry said so), `name`
  // in the directory open as dir_fd. Most files are read whole by one read
  // into `reuse`: a read that returns less than it asked for ended the file
  // (a regular file's read is short only at its end), so neither fstat nor
  // a read that returns 0 is needed; *rest_fd is -1 then. An empty read or a
  // file that fills the buffer is checked as OpenRegularAt checks it (*size from fstat) and
  // read on up to `read_whole_up_to` bytes (and below the size Load maps);
  // a larger one is left to the caller: no bytes, *rest_fd open at offset 0
  // (the caller's to close). Opened with O_NOFOLLOW: a link put in the
  // file's place after the walk is refused, not followed.
  static Result<FileSource> ReadWalkedAt(int dir_fd, const char* name, const std::string& path,
                                         uint64_t max_bytes, uint64_t read_whole_up_to,
                                         ReadBuffer* reuse, int* rest_fd, uint64_t* size);
  // The `size` bytes of `fd` (from OpenRegular; it stays open and the
  // caller's), as Open reads them: one open per file, not two.
  static Result<FileSource> Load(int fd, uint64_t size, const std::string& path,
                                 ReadBuffer* reuse = nullptr);
  // Reads all of standard input (or any fd) into memory.
  static Result<FileSource> ReadAll(int fd, const std::string& name);

  std::string_view bytes() const { return view_; }

 private:
  void Release();
  std::unique_ptr<char[]> buffer_;  // small files: read into memory, not zero-filled first
  std::string owned_;               // stdin
  void* map_ = nullptr;
  size_t map_len_ = 0;
  std::string_view view_;
};

}  // namespace glassbox::scan
