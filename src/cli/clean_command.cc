// `glassbox clean`: strips what scan reports as hidden, to stdout or in place.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "cli/commands.h"
#include "core/report.h"
#include "core/text_kind.h"
#include "core/utf.h"
#include "scan/atomic_file.h"
#include "scan/clean.h"
#include "scan/clean_stream.h"
#include "scan/content.h"
#include "scan/file_source.h"

namespace glassbox::cli {

namespace {

bool ParseKind(const std::string& s, TextKind* out) {
  static const std::pair<const char*, TextKind> kKinds[] = {{"code", TextKind::kCode},
                                                            {"shell", TextKind::kShell},
                                                            {"config", TextKind::kConfig},
                                                            {"prose", TextKind::kProse},
                                                            {"data", TextKind::kData}};
  for (const auto& [name, kind] : kKinds) {
    if (s == name) {
      *out = kind;
      return true;
    }
  }
  return false;
}

std::string Summary(const scan::CleanResult& r) {
  std::string s;
  if (r.by_codepoint.size() > 6) {
    // Many distinct code points (a tag-character message): say it by rule.
    size_t total = 0;
    for (const auto& [what, n] : r.by_codepoint) total += n;
    for (const auto& [rule, n] : r.by_rule) {
      if (!s.empty()) s += ", ";
      s += fmt::format("{} × {}", n, rule);
    }
    return s + fmt::format(" ({} code points, {} distinct)", total, r.by_codepoint.size());
  }
  for (const auto& [what, n] : r.by_codepoint) {
    if (!s.empty()) s += ", ";
    s += fmt::format("{} × {}", n, what);
  }
  return s;
}

// Why an in-place clean of `path` must not go ahead, or "" when it may.
// *target is the file to rewrite (the link's target with --follow-symlinks).
std::string RefuseInPlace(const std::string& path, bool follow_symlinks, std::string* target,
                          struct stat* checked) {
  struct stat& st = *checked;
  if (lstat(path.c_str(), &st) != 0)
    return fmt::format("{}: cannot stat: {}", path, std::strerror(errno));
  *target = path;
  if (S_ISLNK(st.st_mode)) {
    char* real = realpath(path.c_str(), nullptr);
    const std::string to = real != nullptr ? real : "a missing file";
    free(real);
    if (!follow_symlinks) {
      return fmt::format(
          "{}: a symbolic link to {}; not cleaned (replacing the link would leave its target as it "
          "is); pass --follow-symlinks to clean the target",
          path, to);
    }
    if (real == nullptr)
      return fmt::format("{}: a symbolic link to a missing file; not cleaned", path);
    *target = to;
    if (lstat(target->c_str(), &st) != 0)
      return fmt::format("{}: cannot stat: {}", *target, std::strerror(errno));
  }
  if (S_ISFIFO(st.st_mode)) return fmt::format("{}: a FIFO, not a regular file; not cleaned", path);
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
    return fmt::format("{}: a device, not a regular file; not cleaned", path);
  if (S_ISSOCK(st.st_mode))
    return fmt::format("{}: a socket, not a regular file; not cleaned", path);
  if (!S_ISREG(st.st_mode)) return fmt::format("{}: not a regular file; not cleaned", path);
  if (st.st_nlink > 1) {
    return fmt::format(
        "{}: has {} hard links; not cleaned (replacing it would split them and leave the other "
        "names "
        "with the hidden text); clean it through a copy",
        path, st.st_nlink);
  }
  // Read-only files stay as they are, also for root, who could write them.
  if ((st.st_mode & 0222) == 0) {
    return fmt::format(
        "{}: read-only (mode {:04o}); not cleaned; make it writable first to clean it", path,
        st.st_mode & 07777);
  }
  return "";
}

// The kind a file is cleaned as: --kind, else prose for stdin, else from its
// name and, for names that say nothing, its first window of content.
TextKind KindFor(TextKind forced, bool is_stdin, const std::string& path, std::string_view window) {
  if (forced != TextKind::kUnknown) return forced;
  return is_stdin ? TextKind::kProse : TextKindFor(path, window);
}

scan::CleanOptions OptionsFor(bool is_stdin, const std::string& path, TextKind kind,
                              bool fold_confusables) {
  scan::CleanOptions options;
  options.policy.fold_confusables = fold_confusables;
  options.json = is_stdin ? (kind == TextKind::kData ? JsonSyntax::kLines : JsonSyntax::kNone)
                          : JsonSyntaxForPath(path);
  return options;
}

// Cleans `path` in place as described in scan/atomic_file.h. Returns the
// error, or Ok with *result filled (changes == 0: the file was not touched).
Status CleanInPlace(const std::string& path, const struct stat& checked, TextKind forced,
                    bool fold_confusables, scan::CleanResult* result) {
  uint64_t size = 0;
  auto fd = scan::FileSource::OpenRegular(path, uint64_t{1} << 62, &size);
  if (!fd.ok()) return fd.status();
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd.value()};
  struct stat before;
  if (fstat(fd.value(), &before) != 0)
    return Status::Error(fmt::format("{}: cannot stat: {}", path, std::strerror(errno)));
  // The file opened must be the one checked: a link or FIFO swapped in
  // between is not cleaned.
  if (before.st_dev != checked.st_dev || before.st_ino != checked.st_ino) {
    return Status::Error(fmt::format("{}: replaced while it was being checked; not cleaned", path));
  }
  auto reader = scan::FdWindows(fd.value(), path);
  if (!reader.ok()) return reader.status();
  const scan::ContentKind content = scan::ClassifyContent(path, reader.value()->Window());
  if (content == scan::ContentKind::kUtf16Le || content == scan::ContentKind::kUtf16Be) {
    return Status::Error(
        fmt::format("{}: UTF-16 text is not cleaned (convert it to UTF-8 first)", path));
  }
  if (content == scan::ContentKind::kBinary)
    return Status::Error(
        fmt::format("{}: not UTF-8 text (a binary file, or a legacy 8-bit encoding: convert it to "
                    "UTF-8 first); not cleaned",
                    path));
  const TextKind kind = KindFor(forced, false, path, reader.value()->Window());
  auto replacement = scan::FileReplacement::Begin(path, fd.value(), before);
  if (!replacement.ok()) return replacement.status();
  Status st = scan::CleanWindows(
      *reader.value(), kind, OptionsFor(false, path, kind, fold_confusables),
      [&](std::string_view bytes) { return replacement->Write(bytes); }, result);
  if (!st.ok()) return st;
  if (result->changes == 0) return Status::Ok();  // the replacement is dropped, the file untouched
  return replacement->Commit();
}

// --in-place: cleans one named file (see CleanInPlace).
Status CleanFileInPlace(const std::string& path, bool follow_symlinks, TextKind forced,
                        bool fold_confusables, scan::CleanResult* result) {
  if (path == "-") return Status::Error("clean: --in-place needs files, not stdin");
  std::string target;
  struct stat checked;
  const std::string refused = RefuseInPlace(path, follow_symlinks, &target, &checked);
  if (!refused.empty()) return Status::Error(refused);
  return CleanInPlace(target, checked, forced, fold_confusables, result);
}

// To stdout, or --check (nothing written): reads in windows, whatever the
// input's size.
Status CleanToStdout(const std::string& path, bool check, TextKind forced, bool fold_confusables,
                     scan::CleanResult* result) {
  const bool is_stdin = path == "-";
  int fd = STDIN_FILENO;
  if (!is_stdin) {
    uint64_t size = 0;
    auto opened = scan::FileSource::OpenRegular(path, uint64_t{1} << 62, &size);
    if (!opened.ok()) return opened.status();
    fd = opened.value();
  }
  struct Closer {
    int fd;
    bool own;
    ~Closer() {
      if (own) close(fd);
    }
  } closer{fd, !is_stdin};
  auto reader = scan::FdWindows(fd, is_stdin ? "<stdin>" : path);
  if (!reader.ok()) return reader.status();
  const scan::ContentKind content =
      scan::ClassifyContent(is_stdin ? "" : path, reader.value()->Window());
  if (content == scan::ContentKind::kUtf16Le || content == scan::ContentKind::kUtf16Be) {
    return Status::Error(
        fmt::format("{}: UTF-16 text is not cleaned (convert it to UTF-8 first)", path));
  }
  if (content == scan::ContentKind::kBinary) {
    return Status::Error(
        fmt::format("{}: not UTF-8 text (a binary file, or a legacy 8-bit encoding: convert it to "
                    "UTF-8 first); not cleaned",
                    path));
  }
  const TextKind kind = KindFor(forced, is_stdin, path, reader.value()->Window());
  Status st = scan::CleanWindows(
      *reader.value(), kind, OptionsFor(is_stdin, path, kind, fold_confusables),
      [&](std::string_view bytes) -> Status {
        if (check) return Status::Ok();
        std::cout.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        if (!std::cout) return Status::Error("clean: cannot write to stdout");
        return Status::Ok();
      },
      result);
  std::cout.flush();
  return st;
}

}  // namespace

int RunClean(int argc, char** argv) {
  std::vector<std::string> files;
  bool in_place = false;
  bool check = false;
  bool follow_symlinks = false;
  bool fold_confusables = false;
  std::string kind_name;
  CLI::App app{"remove hidden characters", "glassbox clean"};
  app.set_help_flag("-h,--help", "show help");
  app.add_option("files", files);
  app.add_flag("--in-place", in_place);
  app.add_flag("--check", check);
  app.add_flag("--follow-symlinks", follow_symlinks);
  app.add_flag("--fold-confusables", fold_confusables);
  app.add_option("--kind", kind_name);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return RunHelp("clean");
  } catch (const CLI::ParseError& e) {
    return Fail(fmt::format("clean: {}; see 'glassbox help clean'", e.what()));
  }
  TextKind forced = TextKind::kUnknown;
  if (!kind_name.empty() && !ParseKind(kind_name, &forced)) {
    return Fail(fmt::format("clean: --kind '{}' is not one of code, shell, config, prose, data",
                            kind_name));
  }
  if (files.empty()) files.push_back("-");
  if (in_place && check) return Fail("clean: --in-place and --check exclude each other");
  if (!in_place && !check && files.size() > 1) {
    return Fail("clean: several files need --in-place or --check (stdout takes one file)");
  }
  bool any_change = false;
  bool any_error = false;
  auto report_error = [&](const std::string& message) {
    any_error = true;
    Fail(TerminalSafe(message));
  };
  for (const std::string& path : files) {
    scan::CleanResult result;
    Status st = in_place
                    ? CleanFileInPlace(path, follow_symlinks, forced, fold_confusables, &result)
                    : CleanToStdout(path, check, forced, fold_confusables, &result);
    if (!st.ok()) {
      report_error(st.message());
      continue;
    }
    // Said only once the file really is replaced (or written out).
    if (result.changes > 0) {
      any_change = true;
      std::cerr << fmt::format("{}: {} {}: {}\n", TerminalSafe(path == "-" ? "<stdin>" : path),
                               check ? "would change" : "changed", result.changes,
                               TerminalSafe(Summary(result)));
    }
  }
  if (any_error) return kExitError;
  if (check && any_change) return kExitFindings;
  return kExitClean;
}

}  // namespace glassbox::cli
