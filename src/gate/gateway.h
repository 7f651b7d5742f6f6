// Gateway: `glassbox gate` at run time. Listens for agents' API requests,
// applies the Policy (gate/policy.h) outbound, forwards to the upstream with
// pooled keep-alive connections, filters the response back (streams forwarded
// as events arrive), meters usage against budgets, and appends one record per
// exchange to the audit log before the client's response is finished (for
// streams: before the final chunk terminator).
//
// Threads: `io_threads` I/O threads run the HTTP server and client; one log
// thread owns the AuditLog and appends records in order. Handlers never
// block on SQLite: they hand the record to the log thread and finish the
// response when it reports the commit.
//
// Endpoints of its own: GET /_glassbox/health (JSON), GET /_glassbox/metrics
// (Prometheus text format), POST /_glassbox/reload (from a loopback peer
// only; see Reload()).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/status.h"
#include "gate/config.h"
#include "net/tls.h"

namespace glassbox::gate {

struct GatewayOptions {
  GateConfig config;
  std::string log_path;  // the SQLite audit log; created when missing
  int io_threads = 2;
  // Serve TLS on the listener (cert and key given to `glassbox gate`).
  std::shared_ptr<net::TlsContext> listener_tls;
  // Trust for https upstreams; nullptr = the system trust store.
  std::shared_ptr<net::TlsContext> upstream_tls;
  std::chrono::milliseconds upstream_connect_timeout{10'000};
  std::chrono::milliseconds upstream_read_timeout{300'000};
  // A client must send a whole request within client_read_timeout; idle
  // keep-alive connections close after client_idle_timeout.
  std::chrono::milliseconds client_read_timeout{60'000};
  std::chrono::milliseconds client_idle_timeout{60'000};
  // A streamed answer waiting for a client that does not read it is held in
  // memory up to this many bytes; past it the exchange is ended (upstream
  // cancelled, connection closed, recorded as gate/client-too-slow), so a
  // stalled or hostile client cannot make the gate buffer without bound.
  size_t max_client_backlog_bytes = size_t{32} << 20;
  // Told what the operator should know while the gate runs (a warning, a
  // reload refused and why); called from any thread. The CLI prints it.
  std::function<void(const std::string& message)> on_notice;
  // Signed checkpoints of the log's head (checkpoint.h): an Ed25519 private
  // key in PEM turns them on; they go to checkpoint_path (default: the log's
  // path + ".checkpoints") every checkpoint_every_records records or
  // checkpoint_every, after retention and at stop.
  std::string checkpoint_key_path;
  std::string checkpoint_path;
  int64_t checkpoint_every_records = 1000;
  std::chrono::milliseconds checkpoint_every{60'000};
  // Loads the configuration anew for Reload() (SIGHUP, POST
  // /_glassbox/reload from loopback): the CLI reads gate.toml and applies
  // its flags again. Unset: reloading is refused.
  std::function<Result<GateConfig>()> reload_config;
  // Tests only: injects secret-engine failures (Policy::Create).
  std::function<Status(std::string_view text)> secret_scan_fault;
  // The wall clock (tests pass their own).
  std::function<std::chrono::system_clock::time_point()> clock;
};

class Gateway {
 public:
  // Opens the log, builds the policy, binds the listener. Errors name the
  // listen address, log path or config problem.
  static Result<std::unique_ptr<Gateway>> Start(GatewayOptions options);
  ~Gateway();  // Stop()
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  uint16_t port() const;
  // The Prometheus text served at /_glassbox/metrics.
  std::string MetricsText() const;
  // Stops accepting, stops the I/O threads, drains the log queue. Must not
  // be called from an I/O thread. Idempotent.
  void Stop();

  // A graceful stop (SIGTERM): stops accepting connections, lets every
  // exchange in flight finish -- streams included -- until `deadline`, then
  // cancels the upstream requests still running (each exchange is still
  // logged: as truncated, with a gate/drain-deadline finding), waits for
  // their records, and Stop()s. Every exchange that reached the gate is in
  // the log afterwards. Must not be called from an I/O thread.
  struct DrainReport {
    uint64_t finished = 0;  // exchanges that were in flight and ended on their own
    uint64_t cut = 0;       // exchanges cancelled at the deadline
  };
  DrainReport Drain(std::chrono::milliseconds deadline);

  // Replaces users and keys, budgets, prices, policy switches, header rules
  // and upstreams with those of GatewayOptions::reload_config() (or of
  // `config` when given) without closing a connection: exchanges in flight
  // finish under the configuration they started with, new ones get the new
  // one. A configuration that does not load or build is refused and the old
  // one kept; the error says why. The listen address, TLS, the log and its
  // durability need a restart: a change to them is refused too. Any thread.
  Status Reload();
  Status Reload(GateConfig config);

  struct Impl;

 private:
  explicit Gateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace glassbox::gate
