// Fuzzes the audit's JavaScript analysis (tree-sitter parse, fact walk,
// rotated-string-array resolution, decoding, correlation) and its asset
// checks (text and JSON) on arbitrary bytes:
// it must not crash, hang or read out of range, and every finding must point
// inside the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "audit/analysis.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const glassbox::audit::Analyzer* analyzer = [] {
    auto a = glassbox::audit::Analyzer::Create();
    if (!a.ok()) std::abort();
    return a->release();
  }();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const glassbox::audit::ModuleAnalysis out = analyzer->Analyze(input);
  for (const glassbox::Finding& f : out.findings) {
    if (f.byte_offset > size || f.line == 0) std::abort();
  }
  for (const glassbox::audit::DecodedString& d : out.decoded) {
    if (d.position.byte_offset > size) std::abort();
  }
  // The same bytes as a text asset and as a JSON asset (never parsed as code).
  for (const char* path : {"asset.txt", "asset.json"}) {
    const glassbox::audit::ModuleAnalysis asset = analyzer->AnalyzeAsset(input, path);
    for (const glassbox::Finding& f : asset.findings) {
      if (f.byte_offset > size || f.line == 0) std::abort();
    }
    for (const glassbox::audit::EndpointRef& e : asset.endpoints) {
      if (e.position.byte_offset > size) std::abort();
    }
  }
  return 0;
}
