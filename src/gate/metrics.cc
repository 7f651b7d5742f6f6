// Metrics::Text; see metrics.h.
#include "gate/metrics.h"

#include <fmt/format.h>

namespace glassbox::gate {

std::string_view PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kRequestRead:
      return "request_read";
    case Phase::kOutbound:
      return "outbound";
    case Phase::kUpstream:
      return "upstream";
    case Phase::kUpstreamBody:
      return "upstream_body";
    case Phase::kInbound:
      return "inbound";
    case Phase::kLog:
      return "log";
    case Phase::kRespond:
      return "respond";
  }
  return "unknown";
}

void Metrics::Observe(Phase phase, std::chrono::steady_clock::duration elapsed) {
  const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count();
  const uint64_t clamped = ns < 0 ? 0 : static_cast<uint64_t>(ns);
  const double seconds = static_cast<double>(clamped) / 1e9;
  size_t bucket = 0;
  while (bucket < kPhaseBuckets.size() && seconds > kPhaseBuckets[bucket]) ++bucket;
  PhaseHistogram& h = phases_[static_cast<size_t>(phase)];
  h.in_bucket[bucket].fetch_add(1, std::memory_order_relaxed);
  h.sum_ns.fetch_add(clamped, std::memory_order_relaxed);
}

std::string Metrics::Text(const net::ServerStats& server) const {
  std::string out;
  std::lock_guard lock(mu_);
  out += "# HELP glassbox_gate_requests_total Requests answered, by route and HTTP status.\n";
  out += "# TYPE glassbox_gate_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    out += fmt::format("glassbox_gate_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", key.first,
                       key.second, n);
  }
  out += "# HELP glassbox_gate_refusals_total Requests refused by policy, by reason.\n";
  out += "# TYPE glassbox_gate_refusals_total counter\n";
  for (const auto& [code, n] : refusals_) {
    out += fmt::format("glassbox_gate_refusals_total{{code=\"{}\"}} {}\n", code, n);
  }
  out += "# HELP glassbox_gate_findings_total Findings in requests and responses, by rule.\n";
  out += "# TYPE glassbox_gate_findings_total counter\n";
  for (const auto& [rule, n] : findings_) {
    out += fmt::format("glassbox_gate_findings_total{{rule=\"{}\"}} {}\n", rule, n);
  }
  out +=
      "# HELP glassbox_gate_upstream_latency_seconds Time from forwarding a request to the "
      "upstream's response head.\n";
  out += "# TYPE glassbox_gate_upstream_latency_seconds histogram\n";
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    out += fmt::format("glassbox_gate_upstream_latency_seconds_bucket{{le=\"{}\"}} {}\n",
                       kBuckets[i], latency_buckets_[i]);
  }
  out += fmt::format("glassbox_gate_upstream_latency_seconds_bucket{{le=\"+Inf\"}} {}\n",
                     latency_count_);
  out += fmt::format("glassbox_gate_upstream_latency_seconds_sum {}\n", latency_sum_);
  out += fmt::format("glassbox_gate_upstream_latency_seconds_count {}\n", latency_count_);
  out +=
      "# HELP glassbox_gate_phase_seconds Time an exchange spent in each phase inside the gate: "
      "request_read, outbound (checks before forwarding), upstream (to the response head), "
      "upstream_body, inbound (response checks and the record), log (the record's append), "
      "respond.\n";
  out += "# TYPE glassbox_gate_phase_seconds histogram\n";
  for (size_t p = 0; p < kPhaseCount; ++p) {
    const std::string_view name = PhaseName(static_cast<Phase>(p));
    const PhaseHistogram& h = phases_[p];
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kPhaseBuckets.size(); ++i) {
      cumulative += h.in_bucket[i].load(std::memory_order_relaxed);
      out += fmt::format("glassbox_gate_phase_seconds_bucket{{phase=\"{}\",le=\"{}\"}} {}\n", name,
                         kPhaseBuckets[i], cumulative);
    }
    cumulative += h.in_bucket[kPhaseBuckets.size()].load(std::memory_order_relaxed);
    out += fmt::format("glassbox_gate_phase_seconds_bucket{{phase=\"{}\",le=\"+Inf\"}} {}\n", name,
                       cumulative);
    out += fmt::format("glassbox_gate_phase_seconds_sum{{phase=\"{}\"}} {}\n", name,
                       static_cast<double>(h.sum_ns.load(std::memory_order_relaxed)) / 1e9);
    out += fmt::format("glassbox_gate_phase_seconds_count{{phase=\"{}\"}} {}\n", name, cumulative);
  }
  auto counter = [&](const char* name, const char* help, uint64_t v) {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n{} {}\n", name, help, name, name, v);
  };
  counter("glassbox_gate_client_bytes_received_total", "Request bytes received from clients.",
          bytes_from_clients.load());
  counter("glassbox_gate_client_bytes_sent_total", "Response body bytes sent to clients.",
          bytes_to_clients.load());
  counter("glassbox_gate_upstream_bytes_received_total",
          "Response body bytes received from upstreams.", bytes_from_upstreams.load());
  counter("glassbox_gate_upstream_errors_total", "Upstream connections or responses that failed.",
          upstream_errors.load());
  counter("glassbox_gate_cancelled_total", "Exchanges cancelled because the client went away.",
          cancelled.load());
  counter("glassbox_gate_log_errors_total", "Audit log appends that failed.", log_errors.load());
  counter("glassbox_gate_log_bodies_kept_inline_total",
          "Large request bodies kept in their records because the body store refused them.",
          bodies_kept_inline.load());
  out += fmt::format(
      "# HELP glassbox_gate_store_up Whether the audit log's store answers (1) or not (0).\n"
      "# TYPE glassbox_gate_store_up gauge\nglassbox_gate_store_up {}\n",
      store_up.load());
  counter("glassbox_gate_unlogged_exchanges_total",
          "Exchanges served without a record while the store was down (on_store_down = "
          "serve-unlogged).",
          unlogged.load());
  counter("glassbox_gate_store_down_refusals_total",
          "Exchanges refused because the store was down (on_store_down = refuse).",
          store_down_refusals.load());
  counter("glassbox_gate_shared_budget_errors_total",
          "Calls to the fleet's shared budgets that failed.", shared_budget_errors.load());
  counter("glassbox_gate_log_records_lost_total",
          "Records acknowledged to their exchanges that the store could not keep afterwards "
          "(each also named on stderr).",
          records_lost.load());
  out +=
      "# HELP glassbox_gate_log_answers_read_total Answers of the store to records sent without "
      "waiting (PostgreSQL, durability normal), by who read them: an append that found them "
      "there, or a store thread woken for them.\n";
  out += "# TYPE glassbox_gate_log_answers_read_total counter\n";
  out += fmt::format("glassbox_gate_log_answers_read_total{{by=\"append\"}} {}\n",
                     answers_by_appends.load());
  out += fmt::format("glassbox_gate_log_answers_read_total{{by=\"thread\"}} {}\n",
                     answers_by_threads.load());
  out +=
      "# HELP glassbox_gate_reloads_total Configuration reloads (SIGHUP, POST /_glassbox/reload), "
      "by result.\n";
  out += "# TYPE glassbox_gate_reloads_total counter\n";
  out += fmt::format("glassbox_gate_reloads_total{{result=\"ok\"}} {}\n", reloads_ok.load());
  out +=
      fmt::format("glassbox_gate_reloads_total{{result=\"refused\"}} {}\n", reloads_refused.load());
  out += fmt::format(
      "# HELP glassbox_gate_active_connections Open client connections.\n"
      "# TYPE glassbox_gate_active_connections gauge\nglassbox_gate_active_connections {}\n",
      server.connections_active);
  counter("glassbox_gate_connections_total", "Client connections accepted.",
          server.connections_accepted);
  return out;
}

}  // namespace glassbox::gate
