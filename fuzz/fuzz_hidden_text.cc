// Fuzzes HiddenTextDetector::Scan with every TextKind and scan::CleanText.
// Input: byte 0 picks the kind (and whether the text is at the start of a
// file); the rest is the text.
// Checks: every finding and every fix lies inside the text; cleaning is
// idempotent (cleaning a cleaned text changes nothing).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/hidden_text.h"
#include "core/text_kind.h"
#include "fuzz_check.h"
#include "scan/clean.h"

namespace {

constexpr glassbox::TextKind kKinds[] = {glassbox::TextKind::kCode,   glassbox::TextKind::kShell,
                                         glassbox::TextKind::kConfig, glassbox::TextKind::kProse,
                                         glassbox::TextKind::kData,   glassbox::TextKind::kUnknown};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > (size_t{1} << 16)) return -1;
  const glassbox::TextKind kind = kKinds[data[0] % 6];
  const bool at_file_start = (data[0] & 0x80) == 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  static const glassbox::HiddenTextDetector detector;
  std::vector<glassbox::Finding> findings;
  detector.Scan(text, glassbox::TextContext{kind, at_file_start}, &findings);
  for (const glassbox::Finding& f : findings) {
    FUZZ_CHECK(f.byte_offset <= text.size() && f.byte_length <= text.size() - f.byte_offset,
               "%s: finding [%llu, +%llu) outside text of %zu bytes", f.rule.c_str(),
               static_cast<unsigned long long>(f.byte_offset),
               static_cast<unsigned long long>(f.byte_length), text.size());
    FUZZ_CHECK(!f.rule.empty(), "finding without a rule");
    for (const glassbox::Fix& x : f.fixes) {
      FUZZ_CHECK(x.begin <= x.end && x.end <= text.size(),
                 "%s: fix [%llu, %llu) outside text of %zu bytes", f.rule.c_str(),
                 static_cast<unsigned long long>(x.begin), static_cast<unsigned long long>(x.end),
                 text.size());
    }
  }

  const glassbox::scan::CleanResult once = glassbox::scan::CleanText(text, kind);
  FUZZ_CHECK((once.changes == 0) == (once.text == text), "changes=%zu but text %s", once.changes,
             once.text == text ? "unchanged" : "changed");
  const glassbox::scan::CleanResult twice = glassbox::scan::CleanText(once.text, kind);
  FUZZ_CHECK(
      twice.changes == 0 && twice.text == once.text,
      "CleanText is not idempotent (kind %d): second pass made %zu changes (%zu -> %zu bytes)",
      static_cast<int>(kind), twice.changes, once.text.size(), twice.text.size());
  return 0;
}
