// Cleaner: removes or normalises what the hidden-text detector reports
// (never its legitimate uses), and says what it changed. Idempotent: a
// cleaned text scans clean. Every other byte is kept: CRLF, a leading BOM,
// invalid sequences.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "core/text_kind.h"

namespace glassbox::scan {

struct CleanResult {
  std::string text;
  size_t changes = 0;  // edits applied
  // What was removed or replaced: "U+200B ZERO WIDTH SPACE" -> count, and
  // "rule" -> count.
  std::map<std::string, size_t> by_codepoint;
  std::map<std::string, size_t> by_rule;
};

CleanResult CleanText(std::string_view text, TextKind kind);

}  // namespace glassbox::scan
