// The probe sandbox's capture server: every HTTP(S) request the agent sends,
// directly, to a hard-coded address or through a proxy, lands here; it is
// recorded as a CapturedRequest and answered as the providers would
// (net::FakeProvider: Anthropic, OpenAI, Gemini; every other host a harmless
// 200 "{}" / 204).
//
// Listeners: one per port (default 80, 443, 3128, 8080, 8443), bound to "::"
// (dual-stack) or, without IPv6, "0.0.0.0". Each sniffs TLS by the first
// byte, terminates it with a leaf the MitmCa mints for the SNI, and accepts
// origin-form, absolute-form (proxy) and CONNECT (proxy tunnel) requests. A
// TLS handshake the client aborts (it refused our certificate) is recorded as
// a TlsFailure with its SNI.
//
// Inside the sandbox every address is local, and the kernel picks the
// destination address as the source of such a connection: the peer address
// the server sees IS the address the agent connected to (dest_ip).
//
// Thread-safe: requests are recorded from the event loop's threads; Take*()
// may be called from any thread (normally after the agent exited).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "probe/capture.h"

namespace glassbox::net {
class EventLoop;
class HttpServer;
class FakeProvider;
}  // namespace glassbox::net

namespace glassbox::probe {

class MitmCa;

struct CaptureServerOptions {
  const MitmCa* ca = nullptr;  // required; must outlive the server
  std::vector<int> ports = {80, 443, 3128, 8080, 8443};
  std::string listen_host;  // "" = "::" falling back to "0.0.0.0"
  // Limits, so that an agent cannot take the cell runner's memory or
  // descriptors (each reached is listed by LimitsReached()):
  size_t max_body_bytes = size_t{8} << 20;  // per request; larger ones get 413
  // Bodies kept per run; later bodies are dropped. The probe holds every
  // run's capture at once: 40 runs of the default matrix stay under 640 MiB.
  size_t max_kept_bytes = size_t{16} << 20;
  size_t max_connections = 32;  // open at once, per listener
  // Time origin of t_ms (the agent's start); set later with set_epoch().
  std::chrono::steady_clock::time_point epoch = std::chrono::steady_clock::now();
};

class CaptureServer {
 public:
  static Result<std::unique_ptr<CaptureServer>> Start(net::EventLoop& loop,
                                                      CaptureServerOptions options);
  ~CaptureServer();
  CaptureServer(const CaptureServer&) = delete;
  CaptureServer& operator=(const CaptureServer&) = delete;

  // The actual port of each listener, in the order of options.ports (port 0
  // picks a free one: for tests outside the sandbox).
  const std::vector<int>& ports() const { return ports_; }
  void set_epoch(std::chrono::steady_clock::time_point epoch);
  // Stops accepting; requests already being read are still recorded.
  void StopAccepting();
  // Waits until no connection is open (the agent's processes are gone, so
  // each of its connections ends as soon as an I/O thread reads the close),
  // at most `limit`: a client that exits right after its last bytes (a TLS
  // alert, a request it does not wait for) is still recorded. True if idle.
  bool WaitForConnectionsToEnd(std::chrono::milliseconds limit);

  std::vector<CapturedRequest> TakeRequests();
  std::vector<TlsFailure> TakeTlsFailures();
  // One line per limit the agent reached so far ("" none), e.g. "capture:
  // 3 connections refused: 32 were open on one port (the limit)".
  std::vector<std::string> LimitsReached() const;

  struct State;  // shared with the handlers (outlives the server if they run late)

 private:
  CaptureServer() = default;
  std::shared_ptr<State> state_;
  std::vector<std::unique_ptr<net::HttpServer>> servers_;
  std::vector<int> ports_;
};

// "203.0.113.7" from "203.0.113.7:5123", "[::ffff:203.0.113.7]:80" or
// "[2001:db8::1]:443"; the port into *port when given.
std::string SplitPeerAddress(const std::string& peer, int* port);

}  // namespace glassbox::probe
