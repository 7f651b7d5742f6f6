#include "core/finding.h"

namespace glassbox {

std::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kInfo:
      return "info";
    case Severity::kLow:
      return "low";
    case Severity::kMedium:
      return "medium";
    case Severity::kHigh:
      return "high";
    case Severity::kCritical:
      return "critical";
  }
  return "info";
}

bool ParseSeverity(std::string_view text, Severity* out) {
  static constexpr std::pair<std::string_view, Severity> kNames[] = {
      {"info", Severity::kInfo},
      {"low", Severity::kLow},
      {"medium", Severity::kMedium},
      {"high", Severity::kHigh},
      {"critical", Severity::kCritical}};
  for (const auto& [name, sev] : kNames) {
    if (text == name) {
      *out = sev;
      return true;
    }
  }
  return false;
}

}  // namespace glassbox
