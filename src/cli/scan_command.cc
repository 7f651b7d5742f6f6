// `glassbox scan`: flags → ScanOptions → Scanner → report on stdout.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>

#include "cli/commands.h"
#include "core/report.h"
#include "scan/config.h"
#include "scan/history.h"
#include "scan/scanner.h"
#include "scan/staged.h"
#include "scan/walker.h"

namespace glassbox::cli {

namespace {

struct ScanFlags {
  std::vector<std::string> paths;
  std::string format = "text";
  std::string fail_on;
  std::string min_severity;
  std::string rules;
  std::string disable;
  std::vector<std::string> excludes;
  bool no_ignore = false;
  bool data = false;
  bool staged = false;
  std::string git_range;    // with --git: "" (HEAD), A..B, or one revision
  std::string since_state;  // --since-state FILE
  std::string baseline;
  std::string write_baseline;
  std::string config;
  bool no_config = false;
  std::vector<std::string> secret_rules;
  unsigned jobs = 0;
  uint64_t max_size = uint64_t{2} << 30;
  std::string color = "auto";
  bool list_rules = false;
};

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

}  // namespace

int RunScan(int argc, char** argv) {
  ScanFlags fl;
  CLI::App app{"find hidden text and secrets", "glassbox scan"};
  app.set_help_flag("-h,--help", "show help");
  app.add_option("paths", fl.paths, "files, directories, or - for stdin");
  app.add_option("--format", fl.format)->check(CLI::IsMember({"text", "json", "sarif"}));
  app.add_option("--fail-on", fl.fail_on);
  app.add_option("--min-severity", fl.min_severity);
  app.add_option("--rules", fl.rules);
  app.add_option("--disable", fl.disable);
  app.add_option("--exclude", fl.excludes)->allow_extra_args(false);
  app.add_flag("--no-ignore", fl.no_ignore);
  app.add_flag("--data", fl.data);
  app.add_flag("--staged", fl.staged);
  CLI::Option* git_opt = app.add_option("--git", fl.git_range)->expected(0, 1);
  app.add_option("--since-state", fl.since_state);
  app.add_option("--baseline", fl.baseline);
  app.add_option("--write-baseline", fl.write_baseline);
  app.add_option("--config", fl.config);
  app.add_flag("--no-config", fl.no_config);
  app.add_option("--secret-rules", fl.secret_rules)->allow_extra_args(false);
  app.add_option("--jobs", fl.jobs)->check(CLI::Range(1u, 1024u));
  app.add_option("--max-size", fl.max_size);
  app.add_option("--color", fl.color)->check(CLI::IsMember({"auto", "always", "never"}));
  app.add_flag("--list-rules", fl.list_rules);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return RunHelp("scan");
  } catch (const CLI::ParseError& e) {
    return Fail(fmt::format("scan: {}; see 'glassbox help scan'", e.what()));
  }
  const bool git = git_opt->count() > 0;
  if (!fl.since_state.empty() && !git) return Fail("scan: --since-state needs --git; see 'glassbox help scan'");
  if (git && (fl.staged || fl.paths.size() > 1)) {
    return Fail("scan: --git takes one folder inside the repository (default .) and no --staged");
  }

  // Project settings first; flags override them.
  scan::ProjectConfig config;
  if (!fl.no_config) {
    std::string path = fl.config;
    if (path.empty() && access(".glassbox.toml", R_OK) == 0) path = ".glassbox.toml";
    if (!path.empty()) {
      auto loaded = scan::LoadProjectConfig(path);
      if (!loaded.ok()) return Fail(loaded.status().message());
      config = std::move(loaded.value());
    }
  }
  auto severity_flag = [](const std::string& text, const char* flag, Severity* out, bool* none) -> bool {
    if (none != nullptr && text == "none") {
      *none = true;
      return true;
    }
    if (!ParseSeverity(text, out)) {
      Fail(fmt::format("scan: {} '{}' is not a severity: use info, low, medium, high or critical{}", flag, text,
                       none != nullptr ? ", or none" : ""));
      return false;
    }
    return true;
  };
  Severity fail_on = Severity::kHigh;
  bool never_fail = false;
  const std::string fail_text = !fl.fail_on.empty() ? fl.fail_on : config.fail_on.value_or("high");
  if (!severity_flag(fail_text, "--fail-on", &fail_on, &never_fail)) return kExitError;
  Severity min_sev = Severity::kLow;
  const std::string min_text = !fl.min_severity.empty() ? fl.min_severity : config.min_severity.value_or("low");
  if (!severity_flag(min_text, "--min-severity", &min_sev, nullptr)) return kExitError;

  scan::ScanOptions options;
  options.min_severity = min_sev;
  if (!fl.rules.empty()) {
    options.unicode = options.secrets = options.provenance = options.agent_config = false;
    for (const std::string& fam : SplitList(fl.rules)) {
      if (fam == "unicode") {
        options.unicode = true;
      } else if (fam == "secret" || fam == "secrets") {
        options.secrets = true;
      } else if (fam == "provenance") {
        options.provenance = true;
      } else if (fam == "agent-config") {
        options.agent_config = true;
      } else {
        return Fail(fmt::format("scan: --rules: unknown family '{}' (known: unicode, secret, provenance, agent-config)", fam));
      }
    }
  }
  options.disabled_rules = config.disable;
  for (const std::string& d : SplitList(fl.disable)) options.disabled_rules.push_back(d);
  options.excludes = config.exclude;
  for (const std::string& e : fl.excludes) options.excludes.push_back(e);
  options.respect_gitignore = !fl.no_ignore;
  options.data_mode = fl.data;
  options.jobs = fl.jobs;
  options.max_file_bytes = fl.max_size;

  std::vector<SecretRule> extra;
  for (const std::string& file : fl.secret_rules) {
    std::string text;
    if (!ReadFile(file, &text)) return Fail(fmt::format("{}: cannot read secret rules", file));
    auto parsed = ParseSecretRules(text, file);
    if (!parsed.ok()) return Fail(parsed.status().message());
    for (SecretRule& r : parsed.value()) extra.push_back(std::move(r));
  }

  const bool progress_tty = isatty(STDERR_FILENO) != 0;
  std::mutex progress_mu;
  if (progress_tty) {
    options.progress = [&](uint64_t files, uint64_t bytes) {
      std::lock_guard<std::mutex> lock(progress_mu);
      std::cerr << fmt::format("\rscanning: {} files, {:.0f} MB", files, static_cast<double>(bytes) / 1e6)
                << std::flush;
    };
  }
  auto scanner = scan::Scanner::Create(options, std::move(extra));
  if (!scanner.ok()) return Fail(scanner.status().message());

  if (fl.list_rules) {
    for (const RuleInfo& r : scanner.value()->RuleCatalog()) {
      std::cout << fmt::format("{:<40} {:<8} {}\n", r.id, SeverityName(r.default_severity), r.summary);
    }
    return kExitClean;
  }

  Report report;
  if (fl.staged) {
    auto staged = scan::ReadStagedFiles(".");
    if (!staged.ok()) return Fail(staged.status().message());
    const auto started = std::chrono::steady_clock::now();
    for (const scan::StagedFile& f : staged.value()) {
      if (scan::PathExcluded(options.excludes, f.path)) continue;
      scanner.value()->ScanBuffer(f.content, f.path, &report.findings, &report.stats, &report.notes);
    }
    report.stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  } else if (git) {
    scan::HistoryOptions history{fl.paths.empty() ? "." : fl.paths[0], fl.git_range, fl.since_state, nullptr};
    if (progress_tty) {
      history.progress = [](uint64_t commits) { std::cerr << fmt::format("\rscanning history: {} commits", commits); };
    }
    auto done = scan::ScanHistory(*scanner.value(), history, &report);
    if (!done.ok()) {
      if (progress_tty) std::cerr << "\r\033[K";
      return Fail(done.status().message());
    }
    for (const std::string& id : done->unknown_state_commits) {
      std::cerr << fmt::format("glassbox: {}: commit {} is not in this repository; ignored\n", fl.since_state, id);
    }
    if (done->shallow) std::cerr << "glassbox: shallow clone: history older than the fetched commits was not scanned\n";
  } else {
    if (fl.paths.empty()) fl.paths.push_back(".");
    report = scanner.value()->ScanPaths(fl.paths);
  }
  if (progress_tty) std::cerr << "\r\033[K" << std::flush;
  report.tool_version = Version();

  if (!fl.write_baseline.empty()) {
    Status st = scan::Baseline::Write(fl.write_baseline, report.findings);
    if (!st.ok()) return Fail(st.message());
    std::cerr << fmt::format("glassbox: wrote {} findings to {}\n", report.findings.size(), fl.write_baseline);
    return kExitClean;
  }
  std::optional<scan::Baseline> baseline;
  if (!fl.baseline.empty()) {
    auto loaded = scan::Baseline::Load(fl.baseline);
    if (!loaded.ok()) return Fail(loaded.status().message());
    baseline = std::move(loaded.value());
  }
  scan::ApplySuppressions(&report, baseline ? &*baseline : nullptr, config.ignores);

  if (fl.format == "json") {
    WriteJson(report, std::cout);
  } else if (fl.format == "sarif") {
    WriteSarif(report, scanner.value()->RuleCatalog(), std::cout);
  } else {
    TextOptions t;
    t.min_severity = min_sev;
    t.color = fl.color == "always" || (fl.color == "auto" && isatty(STDOUT_FILENO) != 0);
    WriteText(report, t, std::cout);
  }
  std::cout.flush();
  for (const std::string& e : report.errors) std::cerr << "glassbox: " << e << "\n";
  if (!report.errors.empty()) return kExitError;
  if (never_fail) return kExitClean;
  for (const Finding& f : report.findings) {
    if (f.severity >= fail_on) return kExitFindings;
  }
  return kExitClean;
}

}  // namespace glassbox::cli
