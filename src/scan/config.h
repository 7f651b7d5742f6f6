// .glassbox.toml: project settings for scan, checked into the repository.
//
//   [scan]
//   exclude = ["testdata/**", "*.min.js"]   # globs, relative to the scan root
//   disable = ["unicode/invalid-encoding"]  # rule ids or families
//   fail_on = "high"                        # default for --fail-on
//   min_severity = "low"                    # default for --min-severity
//
//   [[ignore]]                               # suppress rules for some paths
//   paths = ["docs/**/*.md"]
//   rules = ["unicode/lookalike-punctuation"]
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/report.h"
#include "core/status.h"
#include "scan/suppress.h"

namespace glassbox::scan {

struct PathIgnore {
  std::vector<std::string> paths;
  std::vector<std::string> rules;  // empty: every rule
};

struct ProjectConfig {
  std::string source;  // the file it came from; empty when none
  std::vector<std::string> exclude;
  std::vector<std::string> disable;
  std::optional<std::string> fail_on;
  std::optional<std::string> min_severity;
  std::vector<PathIgnore> ignores;
};

// Parses the file; errors name it, the line and the reason.
Result<ProjectConfig> LoadProjectConfig(const std::string& path);

// Removes findings that the baseline or a path ignore covers, adding their
// number to report->stats.suppressed.
void ApplySuppressions(Report* report, const Baseline* baseline,
                       const std::vector<PathIgnore>& ignores);

}  // namespace glassbox::scan
