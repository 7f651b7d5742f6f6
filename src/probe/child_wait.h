// Waiting for a child process with a deadline: the one loop the sandbox (the
// agent under a cell's limits) and the cell runner (the sandbox host) share.
// It only waits and reaps; what to kill, and how, stays with the caller.
// Any thread may call it for a child of this process.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>

namespace glassbox::probe {

struct ChildWait {
  enum class Outcome {
    kExited,    // reaped: `status` is its waitpid status
    kTimedOut,  // the deadline passed first; the child runs on, unreaped
    kStopped,   // `on_tick` returned false; the child runs on, unreaped
    kError,     // waitpid failed (not a child of this process)
  };
  Outcome outcome = Outcome::kError;
  int status = 0;
};

// Waits for `pid` until it exits or `deadline` passes. Sleeps on a pidfd
// (woken by the exit) at most `tick` at a time; after each sleep that ends
// without the exit it calls `on_tick` (if set), which returns false to stop
// waiting. Without pidfd support it polls waitpid every 2 ms and never
// ticks.
ChildWait WaitForChild(pid_t pid, std::chrono::steady_clock::time_point deadline,
                       std::chrono::milliseconds tick,
                       const std::function<bool()>& on_tick = nullptr);

}  // namespace glassbox::probe
