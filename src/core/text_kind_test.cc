#include "core/text_kind.h"

#include <gtest/gtest.h>

#include <cctype>
#include <random>
#include <string>

namespace glassbox {
namespace {

TEST(TextKind, NameDecidesWhenItSaysSomething) {
  EXPECT_EQ(TextKindForPath("src/a.cs"), TextKind::kCode);
  EXPECT_EQ(TextKindForPath("scripts/b.csx"), TextKind::kCode);
  EXPECT_EQ(TextKindForPath("Makefile"), TextKind::kShell);
  EXPECT_EQ(TextKindForPath("docs/README"), TextKind::kProse);
  EXPECT_EQ(TextKindForPath("notes.weird"), TextKind::kUnknown);
  EXPECT_EQ(TextKindForPath("data/x.jsonl"), TextKind::kData);
}

// The name is lowered on the stack (a heap copy past 128 bytes) and the
// extension found by a binary search over one table: every listed extension
// keeps its list's kind, in any case and behind a long name, and the plain
// linear order decides where lists overlap (none do today).
TEST(TextKind, ExtensionTableAgreesWithTheLists) {
  const std::pair<const char*, TextKind> listed[] = {
      {"c", TextKind::kCode},        {"cmake", TextKind::kCode},
      {"svelte", TextKind::kCode},   {"ts", TextKind::kCode},
      {"v", TextKind::kCode},        {"sh", TextKind::kShell},
      {"envrc", TextKind::kShell},   {"psm1", TextKind::kShell},
      {"json", TextKind::kConfig},   {"editorconfig", TextKind::kConfig},
      {"lock", TextKind::kConfig},   {"md", TextKind::kProse},
      {"textile", TextKind::kProse}, {"txt", TextKind::kProse},
      {"jsonl", TextKind::kData},    {"ndjson", TextKind::kData},
      {"weird", TextKind::kUnknown}, {"", TextKind::kUnknown},
      {"cc2", TextKind::kUnknown},   {"a", TextKind::kUnknown}};
  for (const auto& [ext, kind] : listed) {
    std::string upper = ext;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(TextKindForPath(std::string("dir/x.") + ext), kind) << ext;
    EXPECT_EQ(TextKindForPath("dir/X." + upper), kind) << ext;
    EXPECT_EQ(TextKindForPath(std::string(300, 'n') + "." + upper), kind) << ext;
  }
  EXPECT_EQ(TextKindForPath(std::string(200, 'a') + "/Dockerfile.dev"), TextKind::kShell);
  EXPECT_EQ(TextKindForPath("x/.ENV.local"), TextKind::kConfig);
  EXPECT_EQ(TextKindForPath("GNUmakefile"), TextKind::kShell);
  // Whole names, from the same kind of table.
  EXPECT_EQ(TextKindForPath("a/Makefile"), TextKind::kShell);
  EXPECT_EQ(TextKindForPath("a/.ENVRC"), TextKind::kShell);
  EXPECT_EQ(TextKindForPath("a/.npmrc"), TextKind::kConfig);
  EXPECT_EQ(TextKindForPath(".env"), TextKind::kConfig);
  EXPECT_EQ(TextKindForPath("docs/CHANGELOG"), TextKind::kProse);
  EXPECT_EQ(TextKindForPath("License"), TextKind::kProse);
  EXPECT_EQ(TextKindForPath("readme.md"), TextKind::kProse);
  EXPECT_EQ(TextKindForPath("readmes"), TextKind::kUnknown);
  EXPECT_EQ(TextKindForPath(".gitignore"), TextKind::kUnknown);
  EXPECT_EQ(JsonSyntaxForPath("a/B.JSON"), JsonSyntax::kDocument);
  EXPECT_EQ(JsonSyntaxForPath("a/b.NDJSON"), JsonSyntax::kLines);
  EXPECT_EQ(JsonSyntaxForPath("a/b.jsonlines"), JsonSyntax::kNone);
  EXPECT_EQ(JsonSyntaxForPath("a.json/b"), JsonSyntax::kNone);
  EXPECT_EQ(JsonSyntaxForPath(std::string(300, 'x') + ".ipynb"), JsonSyntax::kDocument);
}

// Issue 15 item 3: severity followed the extension, so the same bytes were high in .cs and
// nothing under a name nobody listed. An unknown name has its content sniffed.
TEST(TextKind, UnknownNameSniffsCodeLikeContent) {
  const std::string code =
      "import os\n"
      "var total = 0;\n"
      "class Foo {\n"
      "  return total;\n"
      "}\n";
  EXPECT_EQ(SniffTextKind(code), TextKind::kCode);
  EXPECT_EQ(TextKindFor("tool.unknownext", code), TextKind::kCode);
  EXPECT_EQ(TextKindFor("tool.cs", code), TextKind::kCode);
}

TEST(TextKind, UnknownNameSniffsProseManPagesAndShebangs) {
  EXPECT_EQ(SniffTextKind("This is a letter.\nIt has sentences, and words.\nNothing runs here\n"),
            TextKind::kProse);
  EXPECT_EQ(SniffTextKind(".TH LS 1\n.SH NAME\nls \\- list directory contents\n"),
            TextKind::kProse);
  EXPECT_EQ(SniffTextKind("#!/bin/bash\necho hi\n"), TextKind::kShell);
  EXPECT_EQ(SniffTextKind("#!/usr/bin/env python3\nprint(1)\n"), TextKind::kCode);
  // too little to tell: the lenient choice
  EXPECT_EQ(SniffTextKind("x = 1;\n"), TextKind::kProse);
  // Markdown with a few code-ish lines stays prose
  EXPECT_EQ(SniffTextKind("# Title\n\nSome text here.\nMore text, and more.\n## Usage\nRun it.\n"),
            TextKind::kProse);
}

// The name wins over the content: a .md full of code samples is still prose.
TEST(TextKind, KnownNameIsNotOverriddenByContent) {
  const std::string code = "var a = 1;\nvar b = 2;\nvar c = 3;\n";
  EXPECT_EQ(TextKindFor("notes.md", code), TextKind::kProse);
}

}  // namespace
// The fast operator check against the plain one (four substring searches)
// on edge cases and random lines over the characters that matter.
TEST(TextKind, LineHasCodeOperatorMatchesThePlainSearch) {
  auto plain = [](std::string_view line) {
    return line.find("=>") != std::string_view::npos ||
           line.find(" == ") != std::string_view::npos ||
           line.find("&&") != std::string_view::npos || line.find(" = ") != std::string_view::npos;
  };
  std::vector<std::string> lines = {"",    "=",     "&",     "=>",  " == ", " =",   "= ",
                                    " = ", "a ==b", "a== b", " ==", "&&",   "& &",  "x &&",
                                    "===", " === ", "<=>",   "a=b", "a =b", "==> ", " ==="};
  std::mt19937 rng(7);
  const std::string chars = " =&>ab";
  for (int k = 0; k < 20000; ++k) {
    std::string line;
    for (size_t n = rng() % 12; n > 0; --n) line += chars[rng() % chars.size()];
    lines.push_back(line);
  }
  for (const std::string& line : lines)
    EXPECT_EQ(LineHasCodeOperator(line), plain(line)) << '"' << line << '"';
}

}  // namespace glassbox
