#include "core/text_kind.h"

#include <algorithm>
#include <iterator>
#include <cctype>
#include <string>

namespace glassbox {

std::string_view TextKindName(TextKind kind) {
  switch (kind) {
    case TextKind::kCode: return "code";
    case TextKind::kShell: return "shell";
    case TextKind::kConfig: return "config";
    case TextKind::kProse: return "prose";
    case TextKind::kData: return "data";
    case TextKind::kUnknown: return "unknown";
  }
  return "unknown";
}

namespace {

template <size_t N>
bool In(std::string_view s, const std::string_view (&set)[N]) {
  return std::find(std::begin(set), std::end(set), s) != std::end(set);
}

constexpr std::string_view kCodeExt[] = {
    "c", "h", "cc", "cpp", "cxx", "hpp", "hh", "hxx", "ipp", "inl", "m", "mm", "js", "mjs", "cjs",
    "jsx", "ts", "tsx", "mts", "cts", "py", "pyi", "pyw", "rb", "go", "rs", "java", "kt", "kts",
    "scala", "swift", "cs", "fs", "php", "pl", "pm", "lua", "r", "jl", "dart", "zig", "nim",
    "ex", "exs", "erl", "hs", "ml", "mli", "clj", "cljs", "groovy", "vue", "svelte", "sql", "sol",
    "v", "sv", "vhd", "tf", "hcl", "proto", "cmake"};
constexpr std::string_view kShellExt[] = {
    "sh", "bash", "zsh", "fish", "ksh", "ps1", "psm1", "bat", "cmd", "mk", "mak", "envrc"};
constexpr std::string_view kConfigExt[] = {
    "json", "jsonc", "json5", "toml", "yaml", "yml", "ini", "cfg", "conf", "properties",
    "xml", "plist", "env", "lock", "gradle", "editorconfig"};
constexpr std::string_view kProseExt[] = {
    "md", "markdown", "mdx", "txt", "rst", "adoc", "asciidoc", "html", "htm", "tex", "org", "textile"};
constexpr std::string_view kShellNames[] = {
    "makefile", "gnumakefile", "dockerfile", "containerfile", "justfile", ".envrc",
    ".bashrc", ".zshrc", ".profile", "rakefile"};
constexpr std::string_view kConfigNames[] = {
    ".gitconfig", ".npmrc", ".yarnrc", ".cursorrules", ".gitattributes", ".env"};
constexpr std::string_view kProseNames[] = {
    "readme", "license", "copying", "authors", "changelog", "notice"};

}  // namespace

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

}  // namespace glassbox
