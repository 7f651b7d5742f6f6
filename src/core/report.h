// Report writers: text for people, JSON (DESIGN.md's contract) and SARIF
// 2.1.0 for CI. They write to the stream they are handed and do no other I/O.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "core/finding.h"

namespace glassbox {

// What a rule is, for SARIF's rule list and `glassbox help rules`.
struct RuleInfo {
  std::string id;
  std::string summary;  // one line
  std::string help;     // what it means and what to do
  Severity default_severity = Severity::kHigh;
};

// The unicode/* rules. Secret rules come from their TOML files.
const std::vector<RuleInfo>& UnicodeRuleInfos();

struct ReportStats {
  uint64_t files = 0;  // files (or inputs) scanned
  uint64_t bytes = 0;
  uint64_t binary_files = 0;  // binary files, searched by a strings pass rather than as text
  uint64_t too_large_skipped = 0;
  uint64_t suppressed = 0;  // findings hidden by baseline, inline comments or config
  uint64_t rows = 0;        // data-set rows (JSONL)
  double seconds = 0;
};

struct Report {
  std::string tool_version;
  std::vector<Finding> findings;
  std::vector<std::string> errors;  // inputs that could not be read, with the reason
  // Limits reached and what was done about them ("a.txt: 12,000 more
  // unicode/invalid-encoding findings not listed; the 10,000 most severe
  // are"). Every writer shows them: nothing is capped silently.
  std::vector<std::string> notes;
  ReportStats stats;
};

struct TextOptions {
  bool color = false;
  Severity min_severity = Severity::kLow;  // findings below are counted but not listed
};

// `text` made safe to print on a terminal: C0 and C1 controls, DEL, bidi
// controls, line and paragraph separators and invalid UTF-8 become visible
// escapes (\n, \e, \x07, \u{202E}, \xFF), so a file name or a message cannot
// move the cursor, ring the bell, recolour or reorder what follows.
std::string TerminalSafe(std::string_view text);

void WriteText(const Report& report, const TextOptions& options, std::ostream& out);
void WriteJson(const Report& report, std::ostream& out);
class JsonWriter;
// WriteJson, then `extra` adds top-level fields before the object closes
// (audit's "decoded_strings" and "endpoints").
void WriteJson(const Report& report, std::ostream& out,
               const std::function<void(JsonWriter&)>& extra);
void WriteSarif(const Report& report, const std::vector<RuleInfo>& rules, std::ostream& out);

}  // namespace glassbox
