// TextKind: what sort of text a buffer holds, which decides how severe a
// hidden or look-alike character is. Curly quotes belong in prose and not in
// a shell command; a no-break space is French typography in a README and a
// trap in a Makefile.
#pragma once

#include <string_view>

namespace glassbox {

enum class TextKind : unsigned char {
  kCode,     // source code: identifiers and strings that a machine runs
  kShell,    // commands: shell scripts, Makefiles, Dockerfiles, .envrc
  kConfig,   // JSON, TOML, YAML, INI and agent settings
  kProse,    // Markdown, text, reStructuredText, HTML documents, prompts
  kData,     // strings decoded from JSON/JSONL data sets
  kUnknown,  // treated like prose, the lenient choice
};

std::string_view TextKindName(TextKind kind);

// Picks the kind from a path's file name and extension ("src/a.py" → code,
// "Makefile" → shell, "README" → prose). Pure; reads no file.
TextKind TextKindForPath(std::string_view path);

// True when a line holds "=>", " == ", " = " or "&&" (one of SniffTextKind's
// signs of code).
bool LineHasCodeOperator(std::string_view line);

// For a file whose name says nothing (TextKindForPath gave kUnknown):
// guesses code, shell or prose from its first few kilobytes (a shebang, a
// roff or Markdown heading, statement-like lines). Pure.
TextKind SniffTextKind(std::string_view head);

// TextKindForPath, and SniffTextKind for the contents when the name is not
// enough. What scan and clean use for a file.
TextKind TextKindFor(std::string_view path, std::string_view contents);

// Whether a file holds JSON, whose string escapes can hide characters.
enum class JsonSyntax : unsigned char { kNone, kDocument, kLines };
JsonSyntax JsonSyntaxForPath(std::string_view path);

inline bool IsMachineText(TextKind k) {
  return k == TextKind::kCode || k == TextKind::kShell || k == TextKind::kConfig;
}

}  // namespace glassbox
