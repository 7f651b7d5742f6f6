// Scanner: runs the enabled rule families over buffers, files, directory
// trees, stdin and JSON/JSONL data sets, in parallel, and builds a Report.
//
// A Scanner is immutable after Create() and may serve many scans; each call
// makes its own per-thread state. It reads files but prints nothing: the CLI
// decides what to show and which exit code to return.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/finding.h"
#include "core/report.h"
#include "core/secrets.h"
#include "core/status.h"
#include "core/text_kind.h"

namespace glassbox::scan {

struct WalkedFile;

class AgentConfigScanner;
class WindowReader;

struct ScanOptions {
  bool unicode = true;  // rule families
  bool secrets = true;
  bool provenance = true;
  bool agent_config = true;
  std::vector<std::string> disabled_rules;  // rule ids or families turned off
  std::vector<std::string> excludes;  // globs on the path relative to the scan root, or on the name
  bool respect_gitignore = true;
  bool data_mode = false;  // treat every input as JSON/JSONL data (also on for *.jsonl/*.ndjson)
  uint64_t max_file_bytes = uint64_t{2} << 30;
  unsigned jobs = 0;                        // 0: one per core
  Severity min_severity = Severity::kInfo;  // findings below are dropped
  bool inline_suppression = true;           // honour "glassbox:ignore" comments
  // Findings kept per rule and input: the most severe, the rest counted in a
  // note. 0: no cap (the filter, which decides row by row).
  size_t max_findings_per_rule = 10000;
  // Data sets: findings kept per row (the most severe); 0: no cap.
  size_t max_findings_per_row = 0;
  // Fill line, column, snippet and fingerprint (the filter needs none of them).
  bool locate = true;
  // Called from worker threads now and then with files and bytes done so far.
  std::function<void(uint64_t files, uint64_t bytes)> progress;
};

class Scanner {
 public:
  static Result<std::unique_ptr<Scanner>> Create(ScanOptions options,
                                                 std::vector<SecretRule> extra_rules = {});

  // Scans the inputs: files, directories (recursive), or "-" for stdin.
  // Unreadable inputs are listed in Report::errors; the scan goes on.
  Report ScanPaths(const std::vector<std::string>& inputs) const;

  // Scans one in-memory buffer as if it were the file `path` (its kind comes
  // from the name). Used for stdin, staged blobs and history.
  // Limits reached (findings left out past the per-rule cap) go to *notes.
  void ScanBuffer(std::string_view bytes, const std::string& path, std::vector<Finding>* out,
                  ReportStats* stats, std::vector<std::string>* notes = nullptr) const;

  const SecretScanner* secrets() const { return secrets_.get(); }
  const ScanOptions& options() const { return options_; }
  std::vector<RuleInfo> RuleCatalog() const;

  struct ThreadState;

 private:
  explicit Scanner(ScanOptions options) : options_(std::move(options)) {}
  void ScanText(std::string_view text, const std::string& path, TextKind kind, bool at_file_start,
                ThreadState& ts, std::vector<Finding>* out) const;
  void ScanData(std::string_view text, const std::string& path, ThreadState& ts,
                std::vector<Finding>* out, ReportStats* stats) const;
  // A JSON Lines row that does not parse: reported, and scanned as plain text.
  void ScanMalformedRow(std::string_view line, uint64_t row, size_t offset,
                        const std::string& reason, const std::string& path, ThreadState& ts,
                        std::vector<Finding>* out) const;
  void ScanBytes(std::string_view bytes, const std::string& path, ThreadState& ts,
                 std::vector<Finding>* out, ReportStats* stats,
                 std::vector<std::string>* notes) const;
  // path_kind: TextKindForPath(path), which the caller has looked up.
  void ScanWindows(WindowReader& reader, const std::string& path, TextKind path_kind,
                   ThreadState& ts, std::vector<Finding>* out, ReportStats* stats,
                   std::vector<std::string>* notes) const;
  void ScanStdin(Report* report) const;
  // Opens, reads and scans one file of a walk; false (with the error in
  // *errors) when it could not be read. *size: the file's size.
  bool ScanFile(const WalkedFile& file, ThreadState& ts, std::vector<Finding>* found,
                ReportStats* stats, std::vector<std::string>* errors,
                std::vector<std::string>* notes, uint64_t* size) const;
  bool RuleEnabled(const std::string& rule) const;

  ScanOptions options_;
  std::shared_ptr<const SecretScanner> secrets_;
  std::shared_ptr<const class AgentConfigScanner> agent_config_;
};

}  // namespace glassbox::scan
