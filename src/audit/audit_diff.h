// AuditDiff: what changed between two audits of an agent (OLD and NEW
// versions): environment probes, decoded strings, endpoint hosts, SDKs and
// correlations that appeared or disappeared, and NEW's findings with no
// counterpart in OLD (compared by rule and message without positions, so a
// rebuilt bundle whose code merely moved shows nothing). Pure computation.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit.h"

namespace glassbox::audit {

struct DiffItem {
  std::string category;  // "probe", "decoded-string", "host", "sdk", "correlation"
  std::string text;
  std::string location;  // where it is (NEW for added, OLD for removed)
};

struct AuditDiff {
  std::string old_target;
  std::string new_target;
  std::vector<DiffItem> added;
  std::vector<DiffItem> removed;
  std::vector<Finding> new_findings;  // in NEW, not in OLD
};

AuditDiff DiffAudits(const AuditResult& old_result, const AuditResult& new_result);

void WriteDiffText(const AuditDiff& diff, bool color, std::ostream& out);
void WriteDiffJson(const AuditDiff& diff, std::string_view version, std::ostream& out);

}  // namespace glassbox::audit
