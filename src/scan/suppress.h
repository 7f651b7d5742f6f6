// Suppression that survives edits: inline "glassbox:ignore" comments and a
// baseline file of finding fingerprints (rule + path + line content hash).
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/finding.h"
#include "core/locate.h"
#include "core/status.h"

namespace glassbox::scan {

// True when the finding's line, or the line before it, carries
// "glassbox:ignore" with no rule list, or with a list naming the finding's
// rule or family ("glassbox:ignore unicode/bidi-control, secret").
bool InlineSuppressed(std::string_view text, const Finding& finding);

// The same decision for many findings of one text, in rising offset order,
// in time linear in the text however many findings share a line (the
// one-off InlineSuppressed scans the finding's whole line each time).
class InlineSuppressor {
 public:
  explicit InlineSuppressor(std::string_view text);
  bool Suppressed(const Finding& finding);

 private:
  std::string_view text_;
  bool any_marker_;
  LineCursor cursor_;
  size_t cached_begin_ = std::string_view::npos;  // line whose previous line is known
  size_t cached_prev_begin_ = 0;
};

// True when `rule` is named by `spec`: the exact id, its family ("unicode"),
// or a family wildcard ("unicode/*").
bool RuleMatches(std::string_view spec, std::string_view rule);

class Baseline {
 public:
  // Reads a baseline written by Write(). Errors name the file and the reason.
  static Result<Baseline> Load(const std::string& path);
  // Writes every finding's fingerprint (sorted, with rule and path for review).
  static Status Write(const std::string& path, const std::vector<Finding>& findings);

  bool Contains(const Finding& f) const { return fingerprints_.count(f.fingerprint) != 0; }
  size_t size() const { return fingerprints_.size(); }

 private:
  std::unordered_set<std::string> fingerprints_;
};

}  // namespace glassbox::scan
