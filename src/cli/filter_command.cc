// `glassbox filter`: flags → FilterOptions → Filter over stdin or a file;
// kept rows on stdout, reject records in --rejects, a summary on stderr.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "scan/filter.h"

namespace glassbox::cli {

namespace {

struct FilterFlags {
  std::string input = "-";
  std::string rejects;
  bool drop = false;
  std::string min_severity = "low";
  std::string rules = "unicode,provenance";
  uint64_t max_row_bytes = uint64_t{64} << 20;
  unsigned jobs = 0;
  bool quiet = false;
};

// Closes a descriptor this command opened.
struct FdCloser {
  int fd = -1;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

int RunFilter(int argc, char** argv) {
  FilterFlags fl;
  CLI::App app{"keep clean JSONL rows, set aside the rest", "glassbox filter"};
  app.set_help_flag("-h,--help", "show help");
  app.add_option("input", fl.input, "JSONL file, or - for stdin (the default)");
  app.add_option("--rejects", fl.rejects);
  app.add_flag("--drop", fl.drop);
  app.add_option("--min-severity", fl.min_severity);
  app.add_option("--rules", fl.rules);
  app.add_option("--max-row-bytes", fl.max_row_bytes)->transform(CLI::AsSizeValue(false));
  app.add_option("--jobs", fl.jobs)->check(CLI::Range(1u, 1024u));
  app.add_flag("-q,--quiet", fl.quiet);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return RunHelp("filter");
  } catch (const CLI::ParseError& e) {
    return Fail(fmt::format("filter: {}; see 'glassbox help filter'", e.what()));
  }

  if (fl.rejects.empty() && !fl.drop) {
    return Fail(
        "filter: say where rejected rows go: --rejects FILE, or --drop to discard them; "
        "see 'glassbox help filter'");
  }
  if (!fl.rejects.empty() && fl.drop)
    return Fail("filter: --rejects and --drop exclude each other");
  scan::FilterOptions options;
  if (!ParseSeverity(fl.min_severity, &options.min_severity)) {
    return Fail(fmt::format(
        "filter: --min-severity '{}' is not a severity: use info, low, medium, high or critical",
        fl.min_severity));
  }
  options.unicode = options.provenance = options.secrets = false;
  std::stringstream families(fl.rules);
  std::string fam;
  bool any_family = false;
  while (std::getline(families, fam, ',')) {
    fam.erase(0, fam.find_first_not_of(' '));
    fam.erase(fam.find_last_not_of(' ') + 1);
    if (fam.empty()) continue;
    any_family = true;
    if (fam == "unicode") {
      options.unicode = true;
    } else if (fam == "provenance") {
      options.provenance = true;
    } else if (fam == "secret" || fam == "secrets") {
      options.secrets = true;
    } else if (fam == "all") {
      options.unicode = options.provenance = options.secrets = true;
    } else {
      return Fail(fmt::format(
          "filter: --rules: unknown family '{}' (known: unicode, provenance, secret, all)", fam));
    }
  }
  if (!any_family)
    return Fail("filter: --rules needs at least one family: unicode, provenance, secret");
  if (fl.max_row_bytes == 0) return Fail("filter: --max-row-bytes must be at least 1");
  options.max_row_bytes = fl.max_row_bytes;
  options.jobs = fl.jobs;

  // Input.
  const bool from_stdin = fl.input == "-";
  const std::string input_name = from_stdin ? "<stdin>" : fl.input;
  FdCloser input;
  int input_fd = STDIN_FILENO;
  if (!from_stdin) {
    input.fd = ::open(fl.input.c_str(), O_RDONLY | O_CLOEXEC);
    if (input.fd < 0)
      return Fail(fmt::format("filter: {}: cannot open: {}", fl.input, std::strerror(errno)));
    input_fd = input.fd;
  }
  struct stat in_st {};
  if (::fstat(input_fd, &in_st) == 0 && S_ISDIR(in_st.st_mode)) {
    return Fail(fmt::format("filter: {}: is a directory; name a JSONL file", input_name));
  }

  // Rejects: never the input itself, which opening would truncate.
  FdCloser rejects;
  if (!fl.rejects.empty()) {
    struct stat rj_st {};
    if (::stat(fl.rejects.c_str(), &rj_st) == 0 && rj_st.st_dev == in_st.st_dev &&
        rj_st.st_ino == in_st.st_ino && S_ISREG(rj_st.st_mode)) {
      return Fail(fmt::format("filter: --rejects {} is the input file", fl.rejects));
    }
    rejects.fd = ::open(fl.rejects.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (rejects.fd < 0) {
      return Fail(
          fmt::format("filter: --rejects {}: cannot open: {}", fl.rejects, std::strerror(errno)));
    }
  }

  auto filter = scan::Filter::Create(options);
  if (!filter.ok()) return Fail(filter.status().message());
  if (from_stdin && isatty(STDIN_FILENO) != 0 && !fl.quiet) {
    std::cerr << "glassbox filter: reading JSONL rows from the terminal (Ctrl-D ends; see "
                 "'glassbox help filter')\n";
  }

  scan::FdSink kept(STDOUT_FILENO, "<stdout>");
  scan::FdSink rejects_sink(rejects.fd, fl.rejects);
  scan::FilterStats stats;
  const auto started = std::chrono::steady_clock::now();
  Status st = filter.value()->Run(input_fd, input_name, &kept,
                                  rejects.fd >= 0 ? &rejects_sink : nullptr, &stats);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (rejects.fd >= 0 && ::close(rejects.fd) != 0 && st.ok()) {
    st = Status::Error(fmt::format("{}: write failed: {}", fl.rejects, std::strerror(errno)));
  }
  rejects.fd = -1;

  if (!fl.quiet) {
    const double mb = static_cast<double>(stats.bytes_in) / 1e6;
    std::string detail;
    if (stats.rows_invalid_json > 0 || stats.rows_too_long > 0) {
      detail = fmt::format(" ({} invalid JSON, {} too long)", stats.rows_invalid_json,
                           stats.rows_too_long);
    }
    std::cerr << fmt::format(
        "glassbox filter: {}: {} rows in, {} kept, {} rejected{}{}; "
        "{:.1f} MB in {:.2f} s ({:.0f} MB/s)\n",
        input_name, stats.rows_in, stats.rows_kept, stats.rows_rejected, detail,
        stats.rows_rejected > 0 && !fl.rejects.empty() ? " → " + fl.rejects : "", mb, seconds,
        seconds > 0 ? mb / seconds : 0.0);
  }
  if (!st.ok()) return Fail(fmt::format("filter: {}", st.message()));
  return stats.rows_rejected > 0 ? kExitFindings : kExitClean;
}

}  // namespace glassbox::cli
