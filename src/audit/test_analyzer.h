// One Analyzer for the audit analysis tests (built once: compiling the rules'
// Vectorscan database takes a while).
#pragma once

#include <gtest/gtest.h>

#include "audit/analysis.h"

namespace glassbox::audit {

inline const Analyzer& TheAnalyzer() {
  static const Analyzer* analyzer = [] {
    auto a = Analyzer::Create();
    EXPECT_TRUE(a.ok()) << a.status().message();
    return a.ok() ? a->release() : nullptr;
  }();
  return *analyzer;
}

}  // namespace glassbox::audit
