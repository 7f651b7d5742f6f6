// RunAudit: the whole of `glassbox audit TARGET` short of printing — unpack
// the target (unpack.h), analyse every JavaScript module (analysis.h) on a
// few threads, and gather one AuditResult with paths on everything. The CLI
// formats it (audit_report.h) or diffs two of them (audit_diff.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "audit/analysis.h"
#include "audit/unpack.h"
#include "core/finding.h"
#include "core/status.h"

namespace glassbox::audit {

struct AuditOptions {
  UnpackLimits limits;
  AnalysisLimits analysis;
  int threads = 0;  // 0: one per core, at most 8
};

// A located item: "path:line:column" (for native strings "path@offset").
struct LocatedDecoded {
  DecodedString decoded;
  std::string location;
};
struct LocatedEndpoint {
  EndpointRef endpoint;
  std::string location;
};
struct LocatedSdk {
  SdkHit sdk;
  std::string location;
};
struct LocatedCorrelation {
  Correlation correlation;
  std::string location;
};

struct AuditResult {
  std::string target;
  std::string kind;           // Unpacked::kind
  std::string object_format;  // "elf", … or ""
  std::string layout;
  std::vector<std::string> notes;  // what could not be read, bytecode next to source, syntax errors
  std::vector<Finding> findings;   // path set; sorted by severity, then path and offset
  std::vector<LocatedDecoded> decoded;
  std::vector<LocatedEndpoint> endpoints;
  std::vector<LocatedSdk> sdks;
  std::vector<LocatedCorrelation> correlations;
  std::vector<std::string> probes;  // distinct probe kinds, sorted
  uint64_t decoder_calls = 0;       // decoder call sites evaluated (js_eval.h)
  uint64_t modules = 0;
  uint64_t bytes = 0;  // bytes analysed: JavaScript, text assets and native strings
  uint64_t target_bytes = 0;
  double seconds = 0;
};

// Errors only when the target cannot be read at all (Unpack's errors).
Result<AuditResult> RunAudit(const std::string& target, const Analyzer& analyzer,
                             const AuditOptions& options = {});

// The same on modules already in memory (tests, fuzzing).
AuditResult AuditUnpacked(const std::string& target, const Unpacked& unpacked,
                          const Analyzer& analyzer, const AuditOptions& options = {});

}  // namespace glassbox::audit
