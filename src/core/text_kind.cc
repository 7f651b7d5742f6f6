#include "core/text_kind.h"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <string>

namespace glassbox {

std::string_view TextKindName(TextKind kind) {
  switch (kind) {
    case TextKind::kCode:
      return "code";
    case TextKind::kShell:
      return "shell";
    case TextKind::kConfig:
      return "config";
    case TextKind::kProse:
      return "prose";
    case TextKind::kData:
      return "data";
    case TextKind::kUnknown:
      return "unknown";
  }
  return "unknown";
}

namespace {

template <size_t N>
bool In(std::string_view s, const std::string_view (&set)[N]) {
  return std::find(std::begin(set), std::end(set), s) != std::end(set);
}

constexpr std::string_view kCodeExt[] = {
    "c",     "h",   "cc",  "cpp",  "cxx", "hpp", "hh",   "hxx",    "ipp",  "inl",
    "m",     "mm",  "js",  "mjs",  "cjs", "jsx", "ts",   "tsx",    "mts",  "cts",
    "py",    "pyi", "pyw", "rb",   "go",  "rs",  "java", "kt",     "kts",  "scala",
    "swift", "cs",  "csx", "cake", "fs",  "fsx", "fsi",  "vb",     "vbs",  "php",
    "phtml", "pl",  "pm",  "lua",  "r",   "jl",  "dart", "zig",    "nim",  "ex",
    "exs",   "erl", "hs",  "ml",   "mli", "clj", "cljs", "groovy", "vue",  "svelte",
    "sql",   "sol", "v",   "sv",   "vhd", "tf",  "hcl",  "proto",  "cmake"};
constexpr std::string_view kShellExt[] = {"sh",   "bash", "zsh", "fish", "ksh", "ps1",
                                          "psm1", "bat",  "cmd", "mk",   "mak", "envrc"};
constexpr std::string_view kConfigExt[] = {
    "json", "jsonc",      "json5", "toml",  "yaml", "yml",  "ini",    "cfg",
    "conf", "properties", "xml",   "plist", "env",  "lock", "gradle", "editorconfig"};
constexpr std::string_view kProseExt[] = {"md",       "markdown", "mdx", "txt", "rst", "adoc",
                                          "asciidoc", "html",     "htm", "tex", "org", "textile"};
constexpr std::string_view kShellNames[] = {
    "makefile", "gnumakefile", "dockerfile", "containerfile", "justfile",
    ".envrc",   ".bashrc",     ".zshrc",     ".profile",      "rakefile"};
constexpr std::string_view kConfigNames[] = {".gitconfig",   ".npmrc",         ".yarnrc",
                                             ".cursorrules", ".gitattributes", ".env"};
constexpr std::string_view kProseNames[] = {"readme",  "license",   "copying",
                                            "authors", "changelog", "notice"};

// A line of code: it ends like a statement, starts with a keyword or holds
// an operator. The checks stop at the first that holds (the sniffer reads up
// to 64 lines of every file whose name says nothing).
bool LooksLikeStatement(std::string_view line) {
  const char last = line.back();
  if (last == ';' || last == '{' || last == '}' || last == ')' || last == ',') return true;
  static constexpr std::string_view kKeywords[] = {
      "import ", "from ",    "def ",     "class ", "function ",  "const ",         "let ",
      "var ",    "#include", "package ", "using ", "public ",    "private ",       "return ",
      "if (",    "for (",    "func ",    "fn ",    "namespace ", "module.exports", "export "};
  // The keywords' first characters: most lines start with none of them.
  if (std::string_view("ifdclv#purnme").find(line[0]) != std::string_view::npos) {
    for (std::string_view kw : kKeywords) {
      if (line.substr(0, kw.size()) == kw) return true;
    }
  }
  return LineHasCodeOperator(line);
}

}  // namespace

// Looked for from the rare characters ('=' and '&'), not from the spaces two
// of the operators start with: prose has a space every few bytes.
bool LineHasCodeOperator(std::string_view line) {
  auto at = [&](size_t k, char c) { return k < line.size() && line[k] == c; };
  for (size_t k = line.find('='); k != std::string_view::npos; k = line.find('=', k + 1)) {
    const bool space_before = k > 0 && line[k - 1] == ' ';
    if (at(k + 1, '>') || (space_before && at(k + 1, ' ')) ||
        (space_before && at(k + 1, '=') && at(k + 2, ' '))) {
      return true;
    }
  }
  for (size_t k = line.find('&'); k != std::string_view::npos; k = line.find('&', k + 1)) {
    if (at(k + 1, '&')) return true;
  }
  return false;
}

TextKind TextKindForPath(std::string_view path) {
  const size_t slash = path.find_last_of('/');
  std::string name(slash == std::string_view::npos ? path : path.substr(slash + 1));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (In(std::string_view(name), kShellNames)) return TextKind::kShell;
  if (In(std::string_view(name), kConfigNames)) return TextKind::kConfig;
  if (In(std::string_view(name), kProseNames)) return TextKind::kProse;
  if (name.rfind("dockerfile", 0) == 0 || name.rfind(".env.", 0) == 0) {
    return name.rfind(".env.", 0) == 0 ? TextKind::kConfig : TextKind::kShell;
  }
  const size_t dot = name.find_last_of('.');
  if (dot == std::string::npos || dot == 0) return TextKind::kUnknown;
  const std::string_view ext = std::string_view(name).substr(dot + 1);
  if (ext == "jsonl" || ext == "ndjson") return TextKind::kData;
  if (In(ext, kCodeExt)) return TextKind::kCode;
  if (In(ext, kShellExt)) return TextKind::kShell;
  if (In(ext, kConfigExt)) return TextKind::kConfig;
  if (In(ext, kProseExt)) return TextKind::kProse;
  return TextKind::kUnknown;
}

TextKind SniffTextKind(std::string_view head) {
  head = head.substr(0, 4096);
  if (head.substr(0, 2) == "#!") {
    const std::string_view first = head.substr(0, head.find('\n'));
    for (std::string_view sh : {"/sh", "bash", "zsh", "fish", "ksh", "dash", "/make"}) {
      if (first.find(sh) != std::string_view::npos) return TextKind::kShell;
    }
    return TextKind::kCode;
  }
  // roff (man pages): a comment or a title request
  if (head.substr(0, 3) == ".\\\"" || head.substr(0, 3) == "'\\\"" || head.substr(0, 4) == ".TH " ||
      head.find("\n.TH ") != std::string_view::npos) {
    return TextKind::kProse;
  }
  size_t lines = 0;
  size_t code = 0;
  size_t markup = 0;
  for (size_t pos = 0; pos < head.size() && lines < 64;) {
    size_t end = head.find('\n', pos);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(pos, end - pos);
    pos = end + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty()) continue;
    ++lines;
    // roff requests (".SH", ".B", "'\\\""), Markdown headings, reST underlines
    if ((line[0] == '.' && line.size() > 1 && std::isalpha(static_cast<unsigned char>(line[1]))) ||
        line.substr(0, 3) == "'\\\"" || line.substr(0, 2) == "# " || line.substr(0, 3) == "## ") {
      ++markup;
      continue;
    }
    if (LooksLikeStatement(line)) ++code;
  }
  if (lines >= 3 && markup * 5 < lines && code * 2 >= lines) return TextKind::kCode;
  return TextKind::kProse;
}

TextKind TextKindFor(std::string_view path, std::string_view contents) {
  const TextKind kind = TextKindForPath(path);
  return kind == TextKind::kUnknown ? SniffTextKind(contents) : kind;
}

JsonSyntax JsonSyntaxForPath(std::string_view path) {
  const size_t dot = path.find_last_of('.');
  const size_t slash = path.find_last_of('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash))
    return JsonSyntax::kNone;
  std::string ext(path.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == "jsonl" || ext == "ndjson") return JsonSyntax::kLines;
  if (ext == "json" || ext == "jsonc" || ext == "json5" || ext == "ipynb" || ext == "har")
    return JsonSyntax::kDocument;
  return JsonSyntax::kNone;
}

}  // namespace glassbox
