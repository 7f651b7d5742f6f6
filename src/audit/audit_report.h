// Writers for an AuditResult: text for people (the findings that matter
// first, then a summary of probes, SDKs, hidden strings and endpoints), JSON
// (DESIGN.md's scan shape plus "decoded_strings" and "endpoints", and
// "sdks", "correlations", "probes", "notes"), and SARIF 2.1.0. They write to
// the stream they are handed and do no other I/O.
#pragma once

#include <ostream>
#include <string_view>
#include <vector>

#include "audit/audit.h"
#include "core/report.h"

namespace glassbox::audit {

struct AuditTextOptions {
  bool color = false;
  Severity min_severity = Severity::kLow;  // findings listed in full from here up
};

void WriteAuditText(const AuditResult& result, const AuditTextOptions& options, std::ostream& out);
void WriteAuditJson(const AuditResult& result, std::string_view version, std::ostream& out);
void WriteAuditSarif(const AuditResult& result, std::string_view version, std::ostream& out);

// Every rule the audit can report (its own and the unicode/* rules).
std::vector<RuleInfo> AuditRuleInfos();

// The highest severity among the findings; kInfo when there are none.
Severity HighestSeverity(const AuditResult& result);

}  // namespace glassbox::audit
