// See child_wait.h.
#include "probe/child_wait.h"

#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

namespace glassbox::probe {

ChildWait WaitForChild(pid_t pid, std::chrono::steady_clock::time_point deadline,
                       std::chrono::milliseconds tick, const std::function<bool()>& on_tick) {
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  ChildWait result;
  while (true) {
    const pid_t got = waitpid(pid, &result.status, WNOHANG);
    if (got == pid) {
      result.outcome = ChildWait::Outcome::kExited;
      break;
    }
    if (got < 0 && errno != EINTR) {
      result.outcome = ChildWait::Outcome::kError;
      break;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.outcome = ChildWait::Outcome::kTimedOut;
      break;
    }
    if (pidfd < 0) {
      usleep(2000);
      continue;
    }
    pollfd p{pidfd, POLLIN, 0};
    const int64_t wait_ms = std::min<int64_t>(left.count() + 1, tick.count());
    if (poll(&p, 1, static_cast<int>(wait_ms)) == 0 && on_tick && !on_tick()) {
      result.outcome = ChildWait::Outcome::kStopped;
      break;
    }
  }
  if (pidfd >= 0) close(pidfd);
  return result;
}

}  // namespace glassbox::probe
