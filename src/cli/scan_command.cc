// `glassbox scan`: flags → validated ScanPlan → scan → report on stdout.
// Three passes, each a function of its own (STYLE.md habit 9):
//   ParseScanFlags  argv into ScanFlags, as typed (CLI11 checks the syntax);
//   BuildScanPlan   ScanFlags and the project's .glassbox.toml into a
//                   ScanPlan, every value checked; an error names the flag
//                   (or file) and the reason, and the command exits 2;
//   RunScanPlan     the scan, its report and the exit code.
#include <fmt/format.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
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

// The command line as typed: no value checked beyond its syntax.
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
  bool git = false;         // --git given
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

// What to scan and how to report it, every value checked.
struct ScanPlan {
  enum class Source { kPaths, kStaged, kGit };
  Source source = Source::kPaths;
  std::vector<std::string> paths;  // kPaths: never empty; kGit: at most one folder
  std::string git_range;
  std::string since_state;
  scan::ScanOptions options;
  std::vector<SecretRule> extra_rules;    // from --secret-rules files
  std::vector<scan::PathIgnore> ignores;  // the project's path ignores
  Severity fail_on = Severity::kHigh;
  bool never_fail = false;  // --fail-on none
  std::string format;       // text, json or sarif
  std::string color;        // auto, always or never
  std::string baseline;
  std::string write_baseline;
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

// Parses argv into *flags. Returns the exit code when the command ends here
// (help shown, or a syntax error reported), nullopt to go on.
std::optional<int> ParseScanFlags(int argc, char** argv, ScanFlags* flags) {
  ScanFlags& fl = *flags;
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
  fl.git = git_opt->count() > 0;
  return std::nullopt;
}

// The project settings: --config FILE, else ./.glassbox.toml when readable,
// none with --no-config.
Result<scan::ProjectConfig> LoadConfig(const ScanFlags& fl) {
  if (fl.no_config) return scan::ProjectConfig{};
  std::string path = fl.config;
  if (path.empty() && access(".glassbox.toml", R_OK) == 0) path = ".glassbox.toml";
  if (path.empty()) return scan::ProjectConfig{};
  return scan::LoadProjectConfig(path);
}

// `text` as a severity for `flag`; "none" too when `none` is given (it is
// then set).
Status ParseSeverityFlag(const std::string& text, const char* flag, Severity* out, bool* none) {
  if (none != nullptr && text == "none") {
    *none = true;
    return Status::Ok();
  }
  if (ParseSeverity(text, out)) return Status::Ok();
  return Status::Error(
      fmt::format("scan: {} '{}' is not a severity: use info, low, medium, high or critical{}",
                  flag, text, none != nullptr ? ", or none" : ""));
}

// --rules: the families to run (all when the flag is absent).
Status ApplyRuleFamilies(const std::string& list, scan::ScanOptions* options) {
  if (list.empty()) return Status::Ok();
  options->unicode = options->secrets = options->provenance = options->agent_config = false;
  for (const std::string& fam : SplitList(list)) {
    if (fam == "unicode") {
      options->unicode = true;
    } else if (fam == "secret" || fam == "secrets") {
      options->secrets = true;
    } else if (fam == "provenance") {
      options->provenance = true;
    } else if (fam == "agent-config") {
      options->agent_config = true;
    } else {
      return Status::Error(fmt::format(
          "scan: --rules: unknown family '{}' (known: unicode, secret, provenance, agent-config)",
          fam));
    }
  }
  return Status::Ok();
}

// --secret-rules FILE...: each file's rules, in order.
Result<std::vector<SecretRule>> LoadExtraSecretRules(const std::vector<std::string>& files) {
  std::vector<SecretRule> extra;
  for (const std::string& file : files) {
    std::string text;
    if (!ReadFile(file, &text))
      return Status::Error(fmt::format("{}: cannot read secret rules", file));
    auto parsed = ParseSecretRules(text, file);
    if (!parsed.ok()) return parsed.status();
    for (SecretRule& r : parsed.value()) extra.push_back(std::move(r));
  }
  return extra;
}

// Which inputs: --staged, --git [RANGE] [FOLDER], or paths (default ".").
Status ChooseSource(const ScanFlags& fl, ScanPlan* plan) {
  if (!fl.since_state.empty() && !fl.git)
    return Status::Error("scan: --since-state needs --git; see 'glassbox help scan'");
  if (fl.git && (fl.staged || fl.paths.size() > 1)) {
    return Status::Error(
        "scan: --git takes one folder inside the repository (default .) and no --staged");
  }
  plan->paths = fl.paths;
  if (fl.staged) {
    plan->source = ScanPlan::Source::kStaged;
  } else if (fl.git) {
    plan->source = ScanPlan::Source::kGit;
    plan->git_range = fl.git_range;
    plan->since_state = fl.since_state;
  } else if (plan->paths.empty()) {
    plan->paths.push_back(".");
  }
  return Status::Ok();
}

// Checks every flag (flags override the project's settings) and builds
// the plan. Errors are one-line reasons naming the flag or file.
Result<ScanPlan> BuildScanPlan(const ScanFlags& fl) {
  ScanPlan plan;
  if (Status s = ChooseSource(fl, &plan); !s.ok()) return s;
  auto config = LoadConfig(fl);
  if (!config.ok()) return config.status();

  const std::string fail_text = !fl.fail_on.empty() ? fl.fail_on : config->fail_on.value_or("high");
  if (Status s = ParseSeverityFlag(fail_text, "--fail-on", &plan.fail_on, &plan.never_fail);
      !s.ok())
    return s;
  Severity min_severity = Severity::kLow;
  const std::string min_text =
      !fl.min_severity.empty() ? fl.min_severity : config->min_severity.value_or("low");
  if (Status s = ParseSeverityFlag(min_text, "--min-severity", &min_severity, nullptr); !s.ok())
    return s;

  scan::ScanOptions& options = plan.options;
  options.min_severity = min_severity;
  if (Status s = ApplyRuleFamilies(fl.rules, &options); !s.ok()) return s;
  options.disabled_rules = config->disable;
  for (const std::string& d : SplitList(fl.disable)) options.disabled_rules.push_back(d);
  options.excludes = config->exclude;
  for (const std::string& e : fl.excludes) options.excludes.push_back(e);
  options.respect_gitignore = !fl.no_ignore;
  options.data_mode = fl.data;
  options.jobs = fl.jobs;
  options.max_file_bytes = fl.max_size;

  auto extra = LoadExtraSecretRules(fl.secret_rules);
  if (!extra.ok()) return extra.status();
  plan.extra_rules = std::move(extra).value();
  plan.ignores = std::move(config->ignores);
  plan.format = fl.format;
  plan.color = fl.color;
  plan.baseline = fl.baseline;
  plan.write_baseline = fl.write_baseline;
  plan.list_rules = fl.list_rules;
  return plan;
}

// Progress on stderr while it is a terminal: a line rewritten in place.
class Progress {
 public:
  Progress() : shown_(isatty(STDERR_FILENO) != 0) {}
  bool shown() const { return shown_; }
  void Files(uint64_t files, uint64_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    std::cerr << fmt::format("\rscanning: {} files, {:.0f} MB", files,
                             static_cast<double>(bytes) / 1e6)
              << std::flush;
  }
  static void Commits(uint64_t commits) {
    std::cerr << fmt::format("\rscanning history: {} commits", commits);
  }
  void Clear() const {
    if (shown_) std::cerr << "\r\033[K" << std::flush;
  }

 private:
  const bool shown_;
  std::mutex mu_;  // worker threads report
};

// The staged blobs (git's index), as `git commit` would record them.
Status ScanStaged(const scan::Scanner& scanner, const std::vector<std::string>& excludes,
                  Report* report) {
  auto staged = scan::ReadStagedFiles(".");
  if (!staged.ok()) return staged.status();
  const auto started = std::chrono::steady_clock::now();
  for (const scan::StagedFile& f : staged.value()) {
    if (scan::PathExcluded(excludes, f.path)) continue;
    scanner.ScanBuffer(f.content, f.path, &report->findings, &report->stats, &report->notes);
  }
  report->stats.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return Status::Ok();
}

// The history of a repository; notes what it could not scan on stderr.
Status ScanGit(const scan::Scanner& scanner, const ScanPlan& plan, Progress& progress,
               Report* report) {
  scan::HistoryOptions history{plan.paths.empty() ? "." : plan.paths[0], plan.git_range,
                               plan.since_state, nullptr};
  if (progress.shown()) history.progress = &Progress::Commits;
  auto done = scan::ScanHistory(scanner, history, report);
  if (!done.ok()) return done.status();
  for (const std::string& id : done->unknown_state_commits) {
    std::cerr << fmt::format("glassbox: {}: commit {} is not in this repository; ignored\n",
                             plan.since_state, id);
  }
  if (done->shallow)
    std::cerr
        << "glassbox: shallow clone: history older than the fetched commits was not scanned\n";
  return Status::Ok();
}

Result<Report> CollectReport(const scan::Scanner& scanner, const ScanPlan& plan,
                             Progress& progress) {
  Report report;
  Status st = Status::Ok();
  switch (plan.source) {
    case ScanPlan::Source::kStaged:
      st = ScanStaged(scanner, plan.options.excludes, &report);
      break;
    case ScanPlan::Source::kGit:
      st = ScanGit(scanner, plan, progress, &report);
      break;
    case ScanPlan::Source::kPaths:
      report = scanner.ScanPaths(plan.paths);
      break;
  }
  progress.Clear();
  if (!st.ok()) return st;
  report.tool_version = Version();
  return report;
}

void WriteReport(const Report& report, const scan::Scanner& scanner, const ScanPlan& plan) {
  if (plan.format == "json") {
    WriteJson(report, std::cout);
  } else if (plan.format == "sarif") {
    WriteSarif(report, scanner.RuleCatalog(), std::cout);
  } else {
    TextOptions t;
    t.min_severity = plan.options.min_severity;
    t.color = plan.color == "always" || (plan.color == "auto" && isatty(STDOUT_FILENO) != 0);
    WriteText(report, t, std::cout);
  }
  std::cout.flush();
}

// 2 when an input could not be scanned, else 1 for a finding at or above
// --fail-on, else 0.
int ExitCodeFor(const Report& report, const ScanPlan& plan) {
  for (const std::string& e : report.errors) std::cerr << "glassbox: " << e << "\n";
  if (!report.errors.empty()) return kExitError;
  if (plan.never_fail) return kExitClean;
  for (const Finding& f : report.findings) {
    if (f.severity >= plan.fail_on) return kExitFindings;
  }
  return kExitClean;
}

int RunScanPlan(ScanPlan plan) {
  Progress progress;
  if (progress.shown()) {
    plan.options.progress = [&progress](uint64_t files, uint64_t bytes) {
      progress.Files(files, bytes);
    };
  }
  auto scanner = scan::Scanner::Create(plan.options, std::move(plan.extra_rules));
  if (!scanner.ok()) return Fail(scanner.status().message());

  if (plan.list_rules) {
    for (const RuleInfo& r : scanner.value()->RuleCatalog()) {
      std::cout << fmt::format("{:<40} {:<8} {}\n", r.id, SeverityName(r.default_severity),
                               r.summary);
    }
    return kExitClean;
  }

  auto report = CollectReport(*scanner.value(), plan, progress);
  if (!report.ok()) return Fail(report.status().message());

  if (!plan.write_baseline.empty()) {
    Status st = scan::Baseline::Write(plan.write_baseline, report->findings);
    if (!st.ok()) return Fail(st.message());
    std::cerr << fmt::format("glassbox: wrote {} findings to {}\n", report->findings.size(),
                             plan.write_baseline);
    return kExitClean;
  }
  std::optional<scan::Baseline> baseline;
  if (!plan.baseline.empty()) {
    auto loaded = scan::Baseline::Load(plan.baseline);
    if (!loaded.ok()) return Fail(loaded.status().message());
    baseline = std::move(loaded.value());
  }
  scan::ApplySuppressions(&*report, baseline ? &*baseline : nullptr, plan.ignores);

  WriteReport(*report, *scanner.value(), plan);
  return ExitCodeFor(*report, plan);
}

}  // namespace

int RunScan(int argc, char** argv) {
  ScanFlags flags;
  if (std::optional<int> done = ParseScanFlags(argc, argv, &flags)) return *done;
  auto plan = BuildScanPlan(flags);
  if (!plan.ok()) return Fail(plan.status().message());
  return RunScanPlan(std::move(plan).value());
}

}  // namespace glassbox::cli
