// Internal to src/net: the Asio side of EventLoop. Include only from net/*.cc.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "net/event_loop.h"

namespace glassbox::net {

// An io_context whose pending handlers can be destroyed (shutdown) before
// any context of the loop is destroyed: a handler on one context may own an
// object whose socket belongs to another (a session keeps its server's
// acceptor alive), and destroying that socket after its context is gone is a
// use-after-free (ASan found it in the tests' teardown).
class LoopContext : public boost::asio::io_context {
 public:
  using boost::asio::io_context::io_context;
  void DestroyPendingHandlers() { shutdown(); }
};

struct EventLoop::Impl {
  // Threads joined by EventLoop::Stop() first; then every context's pending
  // handlers are destroyed while all contexts still exist.
  ~Impl() {
    guards.clear();
    for (auto& c : contexts) c->DestroyPendingHandlers();
    std::vector<std::function<void()>> hooks;
    {
      std::lock_guard lock(teardown_mu);
      hooks.swap(teardown);
    }
    for (auto& hook : hooks) hook();
  }
  // `hook` runs once the loop is torn down, after every pending handler is
  // destroyed: it releases what only a running loop would have (a server's
  // sessions still waiting for their handlers' answers hold themselves).
  void AddTeardown(std::function<void()> hook) {
    std::lock_guard lock(teardown_mu);
    teardown.push_back(std::move(hook));
  }
  std::mutex teardown_mu;
  std::vector<std::function<void()>> teardown;
  std::vector<std::unique_ptr<LoopContext>> contexts;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  std::atomic<size_t> next{0};
  std::atomic<bool> stopped{false};

  // The context of the calling thread when it is one of this loop's threads,
  // else the next one in round-robin order. Keeping a request's upstream
  // work on the thread that serves its client avoids cross-thread hops.
  boost::asio::io_context& Pick();
  // The calling thread's context when it is one of this loop's threads, else null.
  boost::asio::io_context* Current();
  boost::asio::io_context& Next() { return *contexts[next.fetch_add(1) % contexts.size()]; }
};

}  // namespace glassbox::net
