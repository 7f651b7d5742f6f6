// Fuzzes secret rule loading: ParseSecretRules on the input as TOML; when it
// parses and the rules compile (RE2 + Vectorscan), scans the same input with
// them. Inputs are capped at 4 KiB: compiling arbitrary regexes is costly.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "core/secrets.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return -1;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = glassbox::ParseSecretRules(text, "fuzz.toml");
  if (!parsed.ok()) {
    FUZZ_CHECK(!parsed.status().message().empty(), "parse error without a message");
    return 0;
  }
  for (const glassbox::SecretRule& r : *parsed) {
    FUZZ_CHECK(r.id.rfind("secret/", 0) == 0 && !r.description.empty() && !r.regex.empty() && !r.keywords.empty(),
               "ParseSecretRules accepted an incomplete rule '%s'", r.id.c_str());
  }
  auto compiled = glassbox::SecretScanner::Compile(std::move(parsed.value()));
  if (!compiled.ok()) return 0;
  const std::shared_ptr<const glassbox::SecretScanner>& scanner = compiled.value();
  std::unique_ptr<glassbox::SecretScratch> scratch = scanner->NewScratch();
  std::vector<glassbox::Finding> findings;
  const glassbox::Status st = scanner->Scan(text, *scratch, &findings);
  FUZZ_CHECK(st.ok(), "Scan failed: %s", st.message().c_str());
  for (const glassbox::Finding& f : findings) {
    FUZZ_CHECK(f.byte_offset <= text.size() && f.byte_length <= text.size() - f.byte_offset && f.byte_length > 0,
               "%s: secret [%llu, +%llu) outside text of %zu bytes", f.rule.c_str(),
               static_cast<unsigned long long>(f.byte_offset), static_cast<unsigned long long>(f.byte_length),
               text.size());
  }
  return 0;
}
