// Metrics: the per-phase latency histograms (glassbox_gate_phase_seconds) in
// the Prometheus text format.
#include "gate/metrics.h"

#include <string>

#include <gtest/gtest.h>

namespace glassbox::gate {
namespace {

using namespace std::chrono_literals;

bool Has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(MetricsTest, PhaseHistogramsAreCumulativeWithTheirCountAndSum) {
  Metrics m;
  m.Observe(Phase::kLog, 30us);       // in (25 us, 50 us]
  m.Observe(Phase::kLog, 50us);       // on a bound: counted in it
  m.Observe(Phase::kLog, 120s);       // above every bound
  m.Observe(Phase::kOutbound, -5us);  // a clock that went back counts as 0
  const std::string text = m.Text({});
  EXPECT_TRUE(Has(text, "# TYPE glassbox_gate_phase_seconds histogram")) << text;
  EXPECT_TRUE(Has(text, R"(glassbox_gate_phase_seconds_bucket{phase="log",le="2.5e-05"} 0)"))
      << text;
  EXPECT_TRUE(Has(text, R"(glassbox_gate_phase_seconds_bucket{phase="log",le="5e-05"} 2)")) << text;
  EXPECT_TRUE(Has(text, R"(glassbox_gate_phase_seconds_bucket{phase="log",le="60"} 2)")) << text;
  EXPECT_TRUE(Has(text, R"(glassbox_gate_phase_seconds_bucket{phase="log",le="+Inf"} 3)")) << text;
  EXPECT_TRUE(Has(text, R"(glassbox_gate_phase_seconds_count{phase="log"} 3)")) << text;
  EXPECT_TRUE(Has(text, R"(glassbox_gate_phase_seconds_sum{phase="log"} 120.00008)")) << text;
  EXPECT_TRUE(Has(text, R"(glassbox_gate_phase_seconds_bucket{phase="outbound",le="1e-05"} 1)"))
      << text;
  EXPECT_TRUE(Has(text, R"(glassbox_gate_phase_seconds_sum{phase="outbound"} 0)")) << text;
  // Every phase is listed, those not yet seen at 0.
  for (const char* phase :
       {"request_read", "outbound", "upstream", "upstream_body", "inbound", "log", "respond"}) {
    EXPECT_NE(text.find(std::string("glassbox_gate_phase_seconds_count{phase=\"") + phase + "\"}"),
              std::string::npos)
        << phase;
  }
  EXPECT_TRUE(Has(text, R"(glassbox_gate_phase_seconds_count{phase="respond"} 0)")) << text;
}

}  // namespace
}  // namespace glassbox::gate
