// EventLoop: the I/O threads that the HTTP server and client run on.
//
// One io_context per thread ("one loop per thread"): a connection lives on one
// thread for its whole life, so its handlers never race and need no locks.
// Work posted with Post/PostAfter runs on one of the threads. Asio types stay
// behind the pimpl (net/internal/asio_loop.h is for net/*.cc only).
//
// Thread-safety: Post, PostAfter and Stop may be called from any thread.
// Destroying the loop stops it and joins its threads; objects using it
// (servers, clients) must be destroyed first or stopped.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

namespace glassbox::net {

class EventLoop {
 public:
  // Starts `threads` (at least 1) I/O threads at once.
  explicit EventLoop(int threads);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  int threads() const;
  // Runs `fn` on an I/O thread as soon as possible.
  void Post(std::function<void()> fn);
  // Runs `fn` on the calling thread's loop, after what is already queued
  // there, when called from one of this loop's threads; else as Post().
  void PostHere(std::function<void()> fn);
  // Runs `fn` on an I/O thread after `delay`.
  void PostAfter(std::chrono::milliseconds delay, std::function<void()> fn);
  // Stops the threads (pending handlers are dropped) and joins them. Idempotent.
  void Stop();

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace glassbox::net
