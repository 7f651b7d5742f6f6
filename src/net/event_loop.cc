#include "net/event_loop.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "net/internal/asio_loop.h"

namespace glassbox::net {
namespace asio = boost::asio;

namespace {
thread_local asio::io_context* current_context = nullptr;
}  // namespace

asio::io_context* EventLoop::Impl::Current() {
  for (auto& c : contexts) {
    if (c.get() == current_context) return c.get();
  }
  return nullptr;
}

asio::io_context& EventLoop::Impl::Pick() {
  asio::io_context* here = Current();
  return here != nullptr ? *here : Next();
}

EventLoop::EventLoop(int threads) : impl_(std::make_unique<Impl>()) {
  if (threads < 1) threads = 1;
  for (int i = 0; i < threads; ++i) {
    impl_->contexts.push_back(std::make_unique<LoopContext>(1));
    impl_->guards.push_back(asio::make_work_guard(*impl_->contexts.back()));
  }
  for (int i = 0; i < threads; ++i) {
    asio::io_context* ctx = impl_->contexts[i].get();
    impl_->threads.emplace_back([ctx] {
      current_context = ctx;
      // Handlers do not throw (the net contract); a stray exception would end
      // this thread's loop, so keep running until stopped.
      for (;;) {
        try {
          ctx->run();
          return;
        } catch (...) {
        }
      }
    });
  }
}

EventLoop::~EventLoop() { Stop(); }

int EventLoop::threads() const { return static_cast<int>(impl_->contexts.size()); }

void EventLoop::Post(std::function<void()> fn) { asio::post(impl_->Next(), std::move(fn)); }

void EventLoop::PostHere(std::function<void()> fn) { asio::post(impl_->Pick(), std::move(fn)); }

void EventLoop::PostAfter(std::chrono::milliseconds delay, std::function<void()> fn) {
  auto& ctx = impl_->Next();
  auto timer = std::make_shared<asio::steady_timer>(ctx, delay);
  timer->async_wait([timer, fn = std::move(fn)](const boost::system::error_code& ec) {
    if (!ec) fn();
  });
}

void EventLoop::Stop() {
  if (impl_->stopped.exchange(true)) return;
  impl_->guards.clear();
  for (auto& c : impl_->contexts) c->stop();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
}

}  // namespace glassbox::net
