// `glassbox audit`: flags → AuditOptions → RunAudit → report (or diff) on
// stdout. The work is in src/audit/.
#include <fmt/format.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <iostream>

#include "audit/audit.h"
#include "audit/audit_diff.h"
#include "audit/audit_report.h"
#include "cli/commands.h"

namespace glassbox::cli {

const char* AuditHelpText() {
  return R"(glassbox audit — what is inside this agent package or binary?

Usage: glassbox audit [options] TARGET

TARGET is an npm tarball (npm pack), a package directory or node_modules tree,
a single-file executable (Bun, Node SEA, pkg, deno compile), an Electron .asar,
a plain JavaScript file, or any other binary (its printable strings are read).
Nothing runs: the code is unpacked in memory, parsed with tree-sitter and
read. The report says
  - which parts of the environment the code reads (time zone, locale, host
    and user names, network interfaces, machine ids, proxy and *_BASE_URL
    variables),
  - strings it hides (base64, hex, char codes, XOR, rotated string arrays),
    decoded, and the lists of domains or time zones they form,
  - every URL and host, and the telemetry, error-reporting, feature-flag and
    remote-config SDKs built in,
  - look-alike or invisible characters hidden behind escapes or built by code,
  - and, as one HIGH finding, any place where a probed value is compared with
    a list or constant that picks an output string or branch.

Options:
  --format text|json|sarif   output (default text); json adds "decoded_strings",
                             "endpoints", "sdks", "correlations" to scan's shape
  --diff OLD                 compare with an older version OLD (same kinds of
                             TARGET): what appeared and disappeared
  --fail-on SEVERITY|none    exit 1 when a finding is at or above it
                             (default high; with --diff: a NEW finding)
  --min-severity SEVERITY    text output lists findings from here up (default low)
  --jobs N                   modules analysed in parallel (default: cores)
  --color auto|always|never

Examples:
  npm pack @acme/agent-cli@2.1.0 && glassbox audit acme-agent-cli-2.1.0.tgz
  glassbox audit ~/.bun/bin/agent                 # a Bun single-file executable
  glassbox audit --format json node_modules/@acme/agent-cli | jq '.decoded_strings'
  glassbox audit --diff agent-2.0.0.tgz agent-2.1.0.tgz   # approve an upgrade
  glassbox audit --format sarif agent.tgz > audit.sarif   # CI / code scanning

Exit codes: 0 nothing at or above --fail-on, 1 something is, 2 the target
cannot be read or a flag is wrong (one line on stderr says why).
)";
}

namespace {

struct AuditFlags {
  std::string target;
  std::string format = "text";
  std::string diff;
  std::string fail_on = "high";
  std::string min_severity = "low";
  std::string color = "auto";
  int jobs = 0;
};

bool ParseSeverityFlag(const std::string& text, const char* flag, Severity* out, bool* none) {
  if (none != nullptr && text == "none") {
    *none = true;
    return true;
  }
  if (ParseSeverity(text, out)) return true;
  Fail(fmt::format("audit: {} '{}' is not a severity: use info, low, medium, high or critical{}",
                   flag, text, none != nullptr ? ", or none" : ""));
  return false;
}

}  // namespace

int RunAudit(int argc, char** argv) {
  AuditFlags fl;
  CLI::App app{"static audit of an agent package or binary", "glassbox audit"};
  app.set_help_flag("-h,--help", "show help");
  app.add_option("target", fl.target);
  app.add_option("--format", fl.format)->check(CLI::IsMember({"text", "json", "sarif"}));
  app.add_option("--diff", fl.diff);
  app.add_option("--fail-on", fl.fail_on);
  app.add_option("--min-severity", fl.min_severity);
  app.add_option("--color", fl.color)->check(CLI::IsMember({"auto", "always", "never"}));
  app.add_option("--jobs", fl.jobs)->check(CLI::Range(1, 64));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return RunHelp("audit");
  } catch (const CLI::ParseError& e) {
    return Fail(fmt::format("audit: {}; see 'glassbox help audit'", e.what()));
  }
  if (fl.target.empty()) return Fail("audit: no TARGET given; see 'glassbox help audit'");
  Severity fail_on = Severity::kHigh;
  bool never_fail = false;
  Severity min_severity = Severity::kLow;
  if (!ParseSeverityFlag(fl.fail_on, "--fail-on", &fail_on, &never_fail)) return kExitError;
  if (!ParseSeverityFlag(fl.min_severity, "--min-severity", &min_severity, nullptr))
    return kExitError;
  if (!fl.diff.empty() && fl.format == "sarif")
    return Fail("audit: --diff writes text or json, not sarif");

  auto analyzer = audit::Analyzer::Create();
  if (!analyzer.ok()) return Fail("audit: " + analyzer.status().message());
  audit::AuditOptions options;
  options.threads = fl.jobs;
  auto result = audit::RunAudit(fl.target, **analyzer, options);
  if (!result.ok()) return Fail(fmt::format("audit: {}", result.status().message()));
  const bool color = fl.color == "always" || (fl.color == "auto" && isatty(STDOUT_FILENO) != 0);

  if (!fl.diff.empty()) {
    auto old_result = audit::RunAudit(fl.diff, **analyzer, options);
    if (!old_result.ok())
      return Fail(fmt::format("audit: --diff: {}", old_result.status().message()));
    const audit::AuditDiff diff = audit::DiffAudits(*old_result, *result);
    if (fl.format == "json") {
      audit::WriteDiffJson(diff, Version(), std::cout);
    } else {
      audit::WriteDiffText(diff, color, std::cout);
    }
    std::cout.flush();
    if (never_fail) return kExitClean;
    for (const Finding& f : diff.new_findings) {
      if (f.severity >= fail_on) return kExitFindings;
    }
    return kExitClean;
  }

  if (fl.format == "json") {
    audit::WriteAuditJson(*result, Version(), std::cout);
  } else if (fl.format == "sarif") {
    audit::WriteAuditSarif(*result, Version(), std::cout);
  } else {
    audit::AuditTextOptions text;
    text.color = color;
    text.min_severity = min_severity;
    audit::WriteAuditText(*result, text, std::cout);
  }
  std::cout.flush();
  if (never_fail) return kExitClean;
  return audit::HighestSeverity(*result) >= fail_on && !result->findings.empty() ? kExitFindings
                                                                                 : kExitClean;
}

}  // namespace glassbox::cli
