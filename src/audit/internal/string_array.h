// Resolution of javascript-obfuscator's rotated string arrays, after the
// walk: the strings read through the decoder become StringFacts of origin
// kStringArray, and property reads and calls through resolved names become
// probes and comparisons. Internal to the audit component.
#pragma once

#include <string_view>

#include "audit/audit_rules.h"
#include "audit/js_facts.h"

namespace glassbox::audit::internal {

class Walker;

// Runs over the rotation calls, decoder calls and bracket calls `walker`
// collected; the trees they point into must still be alive.
void ResolveStringArrays(std::string_view text, const AuditRules& rules, const Walker& walker,
                         JsFacts* facts);

}  // namespace glassbox::audit::internal
