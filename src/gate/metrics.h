// Metrics: the counters behind GET /_glassbox/metrics (Prometheus text
// format). Thread-safe: every method may be called from any thread.
// Internal to the gate component.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/finding.h"
#include "net/http_server.h"

namespace glassbox::gate {

// The phases of one exchange, in the order they happen: where the time
// between a request's head and the end of its answer goes
// (glassbox_gate_phase_seconds, docs/gate.md).
enum class Phase : uint8_t {
  kRequestRead,   // the request's head read -> its last body byte read
  kOutbound,      // the checks before forwarding (route, headers, budget, body
                  // screening and redaction) -> handed to the upstream connection
  kUpstream,      // handed to the upstream connection -> the upstream's response head
  kUpstreamBody,  // the response head -> its last byte (a stream: the whole stream)
  kInbound,       // the response's checks and building the record -> handed to the log
  kLog,           // the record's append: committed (SQLite), sent whole (PostgreSQL)
  kRespond,       // the log's acknowledgment -> the end of the answer handed to the
                  // client's connection
};
inline constexpr size_t kPhaseCount = 7;
// The `phase` label of `phase`: "request_read", "outbound", ...
std::string_view PhaseName(Phase phase);

// Counters behind /_glassbox/metrics.
class Metrics {
 public:
  static constexpr std::array<double, 12> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                      0.1,   0.25,   0.5,   1,    2.5,   10};

  void Request(const std::string& route, int status) {
    std::lock_guard lock(mu_);
    ++requests_[{route, status}];
  }
  void Refusal(const std::string& code) {
    std::lock_guard lock(mu_);
    ++refusals_[code];
  }
  void Findings(const std::vector<Finding>& findings) {
    if (findings.empty()) return;
    std::lock_guard lock(mu_);
    for (const Finding& f : findings) ++findings_[f.rule];
  }
  void Reload(bool ok) { (ok ? reloads_ok : reloads_refused).fetch_add(1); }
  void UpstreamLatency(double seconds) {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      if (seconds <= kBuckets[i]) ++latency_buckets_[i];
    }
    latency_sum_ += seconds;
    ++latency_count_;
  }
  // Buckets of glassbox_gate_phase_seconds: the gate's own phases take tens
  // to hundreds of microseconds, the upstream's up to minutes.
  static constexpr std::array<double, 16> kPhaseBuckets = {
      0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
      0.005,   0.01,     0.025,   0.1,    0.5,     1,      10,    60};
  // Counts one exchange's time in `phase`. Lock-free (relaxed atomics): it
  // runs on the exchange's path.
  void Observe(Phase phase, std::chrono::steady_clock::duration elapsed);

  std::atomic<uint64_t> bytes_from_clients{0}, bytes_to_clients{0}, bytes_from_upstreams{0};
  std::atomic<uint64_t> upstream_errors{0}, log_errors{0}, cancelled{0}, bodies_kept_inline{0};
  std::atomic<uint64_t> reloads_ok{0}, reloads_refused{0};
  // The log's store (PostgreSQL): reachable now (1/0), exchanges served
  // without a record under on_store_down = serve-unlogged, refused because it
  // was down, failed calls to the shared budgets, and records acknowledged
  // but then not stored (LogStore::RecordsLost).
  std::atomic<int> store_up{1};
  std::atomic<uint64_t> unlogged{0}, store_down_refusals{0}, shared_budget_errors{0};
  std::atomic<uint64_t> records_lost{0};
  // Who read the store's answers (LogStore::AnswersRead).
  std::atomic<uint64_t> answers_by_appends{0}, answers_by_threads{0};

  // The Prometheus text format of every counter, with the server's own.
  std::string Text(const net::ServerStats& server) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, uint64_t> refusals_;
  std::map<std::string, uint64_t> findings_;
  std::array<uint64_t, kBuckets.size()> latency_buckets_{};
  double latency_sum_ = 0;
  uint64_t latency_count_ = 0;
  // Per phase: the count in each bucket alone (the last: above every
  // bound), cumulated when the text is made, and the sum in nanoseconds.
  struct PhaseHistogram {
    std::array<std::atomic<uint64_t>, kPhaseBuckets.size() + 1> in_bucket{};
    std::atomic<uint64_t> sum_ns{0};
  };
  std::array<PhaseHistogram, kPhaseCount> phases_{};
};

}  // namespace glassbox::gate
