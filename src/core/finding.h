// Finding: one thing a detector reports, the common currency of every command.
// Detectors fill the fields they know; the scanner adds the path, line and
// column. Plain value type.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace glassbox {

enum class Severity : uint8_t { kInfo = 0, kLow = 1, kMedium = 2, kHigh = 3, kCritical = 4 };

std::string_view SeverityName(Severity s);
// Parses "info", "low", "medium", "high", "critical" (also "none", which
// maps to one above critical via the returned bool being false).
bool ParseSeverity(std::string_view text, Severity* out);

// What a fix does to the text, which decides whether `clean` applies it
// (core/hidden_text.h, CleanApplies).
enum class FixKind : uint8_t {
  kRemove,     // deletes hidden content: invisible, tag, bidi and control characters
  kNormalise,  // replaces an unusual space or separator by the ASCII one it stands for
  kFold,       // replaces a look-alike by the ASCII it mimics: changes visible text,
               // so only on request (`clean --fold-confusables`)
};

// A byte-range replacement that `clean` may apply to remove what a finding
// reports. `replacement` is UTF-8 (often empty: delete the range).
struct Fix {
  uint64_t begin = 0;
  uint64_t end = 0;
  std::string replacement;
  FixKind kind = FixKind::kRemove;
};

struct Finding {
  std::string rule;  // "family/name", e.g. "unicode/tag-characters"
  Severity severity = Severity::kInfo;
  std::string path;     // file path, "-" for stdin, or "path:row" for data sets
  uint64_t line = 0;    // 1-based; 0 when unknown
  uint64_t column = 0;  // 1-based, in code points
  uint64_t byte_offset = 0;
  uint64_t byte_length = 0;
  std::vector<char32_t> codepoints;  // the flagged code points, where the finding is about some
  std::string decoded;               // what hidden characters spell, where they spell anything
  std::string message;               // one sentence for a human
  std::string snippet;      // the line, with hidden characters made visible and secrets masked
  std::string json_path;    // for data sets: "$.messages[0].content"
  uint64_t row = 0;         // for data sets: 1-based JSONL row; 0 otherwise
  std::string commit;       // for history scans
  std::string fingerprint;  // stable id: rule + path + content hash (see scan/suppress)
  std::vector<Fix> fixes;   // what `clean` would change; empty when not cleanable
};

}  // namespace glassbox
