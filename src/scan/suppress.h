// Suppression that survives edits: inline "glassbox:ignore" comments and a
// baseline file of finding fingerprints (rule + path + line content hash).
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/finding.h"
#include "core/status.h"

namespace glassbox::scan {

// True when the finding's line, or the line before it, carries
// "glassbox:ignore" with no rule list, or with a list naming the finding's
// rule or family ("glassbox:ignore unicode/bidi-control, secret").
bool InlineSuppressed(std::string_view text, const Finding& finding);

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
