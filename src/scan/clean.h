// Cleaner: removes or normalises what the hidden-text detector reports
// (never its legitimate uses), and says what it changed. Look-alike letters
// and punctuation are only replaced on request (CleanPolicy). Idempotent: a
// cleaned text scans clean. Every other byte is kept: CRLF, a leading BOM,
// invalid sequences.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "core/hidden_text.h"
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

struct CleanOptions {
  CleanPolicy policy;                   // what may change (core/hidden_text.h)
  JsonSyntax json = JsonSyntax::kNone;  // JSON text: escaped hidden characters are removed too
};

// Applies the fixes that CleanApplies() accepts, until none is left. The
// result scans clean under the same kind, policy and syntax.
CleanResult CleanText(std::string_view text, TextKind kind, const CleanOptions& options = {});

}  // namespace glassbox::scan
