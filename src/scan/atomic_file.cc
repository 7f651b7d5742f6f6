#include "scan/atomic_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace glassbox::scan {

Status WriteFileAtomically(const std::string& path, std::string_view data, mode_t mode, bool keep_mode) {
  if (keep_mode) {
    struct stat st;
    if (stat(path.c_str(), &st) == 0) mode = st.st_mode & 07777;
  }
  std::string tmp = path + ".glassbox-XXXXXX";
  const int fd = mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return Status::Error(fmt::format("{}: cannot create a temporary file: {}", path, std::strerror(errno)));
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
