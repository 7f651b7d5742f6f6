// The light lexer behind SplitPoints and the escape decoder, on small
// samples of each construct they must step over (a piece size of a few
// bytes makes every top-level declaration a candidate).
#include "audit/internal/js_split.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "audit/js_facts.h"

namespace glassbox::audit::internal {
namespace {

std::vector<uint32_t> Points(std::string_view text) { return SplitPoints(text, 8); }

TEST(SplitPoints, TopLevelDeclarationsAfterAStatementEnd) {
  const std::string text =
      "var a = 1;\nvar b = 2;\nfunction f() { return 1; }\nconst c = 3;\nlet d = 4;\n";
  EXPECT_EQ(Points(text), (std::vector<uint32_t>{11, 22, 49, 62}));
}

TEST(SplitPoints, NoneInsideBlocksStringsCommentsOrRegexes) {
  // Each line hides a would-be split point; only the last declaration is one.
  const std::string text =
      "x = { var: 1 };\n"
      "s = \"; var q = 1\";\n"
      "/* ; var r = 1 */ y = 2;\n"
      "// ; var t = 1\n"
      "z = /[/;]var u/.test(s);\n"
      "w = a / b; q = c;\n"
      "var last = 1; var end = 2; var stop = 3;\n";
  const std::vector<uint32_t> points = Points(text);
  ASSERT_FALSE(points.empty());
  EXPECT_EQ(text.substr(points.front(), 8), "var last");
}

TEST(SplitPoints, TemplateSubstitutionsNestAndTheTemplateGoesOnAfterThem) {
  // After the `}` that closes ${…} the lexer is back in template text, where
  // "; var v" is text, not code.
  const std::string text =
      "t = `a ${ {k: 1}.k } ; var v = 1 ${`in ${x}`} b`;\nvar after = 1; var more = 2;\n";
  const std::vector<uint32_t> points = Points(text);
  ASSERT_FALSE(points.empty());
  EXPECT_EQ(text.substr(points.front(), 9), "var after");
}

TEST(SplitPoints, LosesTrackOnAnUnclosedCommentOrAStrayBracket) {
  EXPECT_TRUE(Points("var a = 1; var b = 2; /* never closed var c = 3; var d = 4;").empty());
  EXPECT_TRUE(Points("var a = 1; }) var b = 2; var c = 3; var d = 4; var e = 5;").empty());
}

TEST(SplitPoints, SmallTextIsNotSplit) {
  EXPECT_TRUE(SplitPoints("var a = 1; var b = 2;", 1024).empty());
}

TEST(DecodeJsEscapes, EveryEscapeForm) {
  bool non_ascii = false;
  EXPECT_EQ(DecodeJsEscapes(R"(a\nb\tc\\d\'e\"f\0g)", &non_ascii),
            std::string("a\nb\tc\\d'e\"f\0g", 13));
  EXPECT_FALSE(non_ascii);
  EXPECT_EQ(DecodeJsEscapes(R"(\x41\u0042\u{43}\u{1F600}\uD83D\uDE00)", &non_ascii),
            "ABC\xF0\x9F\x98\x80\xF0\x9F\x98\x80");
  EXPECT_TRUE(non_ascii);
  non_ascii = false;
  // Malformed escapes stand for the escaped character; a lone surrogate is U+FFFD.
  EXPECT_EQ(DecodeJsEscapes(R"(\xZ1\u12\u{110000}\q\01)", &non_ascii), "xZ1u12u{110000}q01");
  EXPECT_FALSE(non_ascii);
  EXPECT_EQ(DecodeJsEscapes(R"(\uD800x)", &non_ascii), "\xEF\xBF\xBDx");
  // A line continuation, and a backslash at the very end.
  EXPECT_EQ(DecodeJsEscapes("a\\\r\nb\\\nc\\", &non_ascii), "abc\\");
}

}  // namespace
}  // namespace glassbox::audit::internal
