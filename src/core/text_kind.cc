#include "core/text_kind.h"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

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

namespace {

// A file name in lower case, on the stack when it is short (most are: a
// heap copy per scanned file cost more than the look-ups).
class LowerName {
 public:
  explicit LowerName(std::string_view name) {
    char* out = buffer_;
    if (name.size() > sizeof buffer_) {
      heap_.resize(name.size());
      out = heap_.data();
    }
    // A-Z only: what std::tolower does in the "C" locale glassbox runs in,
    // without a call per byte.
    for (size_t k = 0; k < name.size(); ++k) {
      const char c = name[k];
      out[k] = c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
    }
    view_ = std::string_view(out, name.size());
  }
  LowerName(const LowerName&) = delete;
  LowerName& operator=(const LowerName&) = delete;
  std::string_view view() const { return view_; }

 private:
  char buffer_[128];
  std::string heap_;
  std::string_view view_;
};

// Every extension and its kind, sorted for a binary search; where lists
// share one, the first list in TextKindForPath's order decides.
class ExtensionTable {
 public:
  ExtensionTable() {
    auto add = [&](const auto& list, TextKind kind) {
      for (std::string_view e : list) {
        if (std::none_of(entries_.begin(), entries_.end(),
                         [&](const auto& x) { return x.first == e; }))
          entries_.emplace_back(e, kind);
      }
    };
    add(kCodeExt, TextKind::kCode);
    add(kShellExt, TextKind::kShell);
    add(kConfigExt, TextKind::kConfig);
    add(kProseExt, TextKind::kProse);
    std::sort(entries_.begin(), entries_.end());
  }
  TextKind Find(std::string_view ext) const {
    const auto it = std::lower_bound(entries_.begin(), entries_.end(), ext,
                                     [](const auto& x, std::string_view e) { return x.first < e; });
    return it != entries_.end() && it->first == ext ? it->second : TextKind::kUnknown;
  }

 private:
  std::vector<std::pair<std::string_view, TextKind>> entries_;
};

}  // namespace

TextKind TextKindForPath(std::string_view path) {
  const size_t slash = path.find_last_of('/');
  const LowerName lower(slash == std::string_view::npos ? path : path.substr(slash + 1));
  const std::string_view name = lower.view();
  if (In(name, kShellNames)) return TextKind::kShell;
  if (In(name, kConfigNames)) return TextKind::kConfig;
  if (In(name, kProseNames)) return TextKind::kProse;
  if (name.rfind("dockerfile", 0) == 0 || name.rfind(".env.", 0) == 0) {
    return name.rfind(".env.", 0) == 0 ? TextKind::kConfig : TextKind::kShell;
  }
  const size_t dot = name.find_last_of('.');
  if (dot == std::string::npos || dot == 0) return TextKind::kUnknown;
  const std::string_view ext = name.substr(dot + 1);
  if (ext == "jsonl" || ext == "ndjson") return TextKind::kData;
  static const ExtensionTable kExtensions;
  return kExtensions.Find(ext);
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
  const std::string_view raw_ext = path.substr(dot + 1);
  if (raw_ext.size() > 6) return JsonSyntax::kNone;  // longer than every name below
  const LowerName lower(raw_ext);
  const std::string_view ext = lower.view();
  if (ext == "jsonl" || ext == "ndjson") return JsonSyntax::kLines;
  if (ext == "json" || ext == "jsonc" || ext == "json5" || ext == "ipynb" || ext == "har")
    return JsonSyntax::kDocument;
  return JsonSyntax::kNone;
}

}  // namespace glassbox
