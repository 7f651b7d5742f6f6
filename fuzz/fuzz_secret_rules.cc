// Fuzzes secret rule loading: DecodeSecretRules on the input (the build-time
// form must round-trip), then ParseSecretRules on it as TOML; when it parses
// and the rules compile (RE2 + Vectorscan), scans the same input with them,
// and, for rules with a prefilter, checks that the Vectorscan-checked
// prefilters of CompileForPrecompiling() change no finding. Inputs are capped
// at 4 KiB: compiling arbitrary regexes is costly.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "core/secrets.h"
#include "fuzz_check.h"

namespace {

std::vector<glassbox::Finding> ScanWith(const glassbox::SecretScanner& scanner,
                                        std::string_view text) {
  std::unique_ptr<glassbox::SecretScratch> scratch = scanner.NewScratch();
  std::vector<glassbox::Finding> findings;
  const glassbox::Status st = scanner.Scan(text, *scratch, &findings);
  FUZZ_CHECK(st.ok(), "Scan failed: %s", st.message().c_str());
  return findings;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return -1;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // The build-time binary form: decodes only what encoding makes.
  auto decoded = glassbox::DecodeSecretRules(text);
  if (decoded.ok()) {
    FUZZ_CHECK(glassbox::EncodeSecretRules(decoded.value()) == text,
               "decoded rules do not encode back");
  } else {
    FUZZ_CHECK(!decoded.status().message().empty(), "decode error without a message");
  }
  auto parsed = glassbox::ParseSecretRules(text, "fuzz.toml");
  if (!parsed.ok()) {
    FUZZ_CHECK(!parsed.status().message().empty(), "parse error without a message");
    return 0;
  }
  for (const glassbox::SecretRule& r : *parsed) {
    FUZZ_CHECK(r.id.rfind("secret/", 0) == 0 && !r.description.empty() && !r.regex.empty() &&
                   !r.keywords.empty(),
               "ParseSecretRules accepted an incomplete rule '%s'", r.id.c_str());
  }
  const std::vector<glassbox::SecretRule> rules = parsed.value();
  auto compiled = glassbox::SecretScanner::Compile(std::move(parsed.value()));
  if (!compiled.ok()) return 0;
  const std::vector<glassbox::Finding> findings = ScanWith(*compiled.value(), text);
  // With prefilters also checked by Vectorscan (the build-time database), the
  // findings must not change.
  const bool has_prefilter =
      std::any_of(rules.begin(), rules.end(),
                  [](const glassbox::SecretRule& r) { return !r.prefilter.empty(); });
  if (has_prefilter) {
    auto precompiling = glassbox::SecretScanner::CompileForPrecompiling(rules);
    FUZZ_CHECK(precompiling.ok(),
               "rules compile for Compile() but not for CompileForPrecompiling(): %s",
               precompiling.status().message().c_str());
    const std::vector<glassbox::Finding> again = ScanWith(*precompiling.value(), text);
    FUZZ_CHECK(again.size() == findings.size(),
               "%zu findings with Vectorscan prefilters, %zu without", again.size(),
               findings.size());
    for (size_t k = 0; k < again.size(); ++k) {
      FUZZ_CHECK(again[k].rule == findings[k].rule &&
                     again[k].byte_offset == findings[k].byte_offset &&
                     again[k].byte_length == findings[k].byte_length,
                 "finding %zu differs with Vectorscan prefilters: %s at %llu", k,
                 again[k].rule.c_str(), static_cast<unsigned long long>(again[k].byte_offset));
    }
  }
  for (const glassbox::Finding& f : findings) {
    FUZZ_CHECK(f.byte_offset <= text.size() && f.byte_length <= text.size() - f.byte_offset &&
                   f.byte_length > 0,
               "%s: secret [%llu, +%llu) outside text of %zu bytes", f.rule.c_str(),
               static_cast<unsigned long long>(f.byte_offset),
               static_cast<unsigned long long>(f.byte_length), text.size());
  }
  return 0;
}
