// `glassbox clean`: strips what scan reports as hidden, to stdout or in place.
#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "cli/commands.h"
#include "core/text_kind.h"
#include "core/utf.h"
#include "scan/atomic_file.h"
#include "scan/clean.h"
#include "scan/file_source.h"
#include "scan/scanner.h"

namespace glassbox::cli {

namespace {

bool ParseKind(const std::string& s, TextKind* out) {
  static const std::pair<const char*, TextKind> kKinds[] = {
      {"code", TextKind::kCode}, {"shell", TextKind::kShell}, {"config", TextKind::kConfig},
      {"prose", TextKind::kProse}, {"data", TextKind::kData}};
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

}  // namespace

int RunClean(int argc, char** argv) {
  std::vector<std::string> files;
  bool in_place = false;
  bool check = false;
  bool fold_confusables = false;
  std::string kind_name;
  CLI::App app{"remove hidden characters", "glassbox clean"};
  app.set_help_flag("-h,--help", "show help");
  app.add_option("files", files);
  app.add_flag("--in-place", in_place);
  app.add_flag("--check", check);
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
    return Fail(fmt::format("clean: --kind '{}' is not one of code, shell, config, prose, data", kind_name));
  }
  if (files.empty()) files.push_back("-");
  if (in_place && check) return Fail("clean: --in-place and --check exclude each other");
  if (!in_place && !check && files.size() > 1) {
    return Fail("clean: several files need --in-place or --check (stdout takes one file)");
  }
  bool any_change = false;
  bool any_error = false;
  for (const std::string& path : files) {
    const bool is_stdin = path == "-";
    if (is_stdin && in_place) {
      any_error = true;
      Fail("clean: --in-place needs files, not stdin");
      continue;
    }
    auto src = is_stdin ? scan::FileSource::ReadAll(STDIN_FILENO, "<stdin>")
                        : scan::FileSource::Open(path, uint64_t{2} << 30);
    if (!src.ok()) {
      any_error = true;
      Fail(src.status().message());
      continue;
    }
    const std::string_view bytes = src->bytes();
    const utf::Encoding enc = utf::DetectEncoding(bytes);
    if (enc == utf::Encoding::kUtf16Le || enc == utf::Encoding::kUtf16Be) {
      any_error = true;
      Fail(fmt::format("{}: UTF-16 text is not cleaned (convert it to UTF-8 first)", path));
      continue;
    }
    if (scan::LooksBinary(bytes)) {
      any_error = true;
      Fail(fmt::format("{}: binary file, not cleaned", path));
      continue;
    }
    const TextKind kind = forced != TextKind::kUnknown ? forced
                          : is_stdin                   ? TextKind::kProse
                                                       : TextKindFor(path, bytes);
    scan::CleanOptions clean_options;
    clean_options.policy.fold_confusables = fold_confusables;
    clean_options.json = is_stdin ? (kind == TextKind::kData ? JsonSyntax::kLines : JsonSyntax::kNone)
                                  : JsonSyntaxForPath(path);
    const scan::CleanResult result = scan::CleanText(bytes, kind, clean_options);
    if (result.changes > 0) {
      any_change = true;
      std::cerr << fmt::format("{}: {} {}: {}\n", is_stdin ? "<stdin>" : path,
                               check ? "would change" : "changed", result.changes, Summary(result));
    }
    if (check) continue;
    if (in_place) {
      if (result.changes == 0) continue;
      Status st = scan::WriteFileAtomically(path, result.text, 0644, /*keep_mode=*/true);
      if (!st.ok()) {
        any_error = true;
        Fail(st.message());
      }
    } else {
      std::cout << result.text;
      std::cout.flush();
    }
  }
  if (any_error) return kExitError;
  if (check && any_change) return kExitFindings;
  return kExitClean;
}

}  // namespace glassbox::cli
