// Internal to src/net: the Asio side of EventLoop. Include only from net/*.cc.
#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "net/event_loop.h"

namespace glassbox::net {

struct EventLoop::Impl {
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  std::atomic<size_t> next{0};
  std::atomic<bool> stopped{false};

  // The context of the calling thread when it is one of this loop's threads,
  // else the next one in round-robin order. Keeping a request's upstream
  // work on the thread that serves its client avoids cross-thread hops.
  boost::asio::io_context& Pick();
  boost::asio::io_context& Next() { return *contexts[next.fetch_add(1) % contexts.size()]; }
};

}  // namespace glassbox::net
