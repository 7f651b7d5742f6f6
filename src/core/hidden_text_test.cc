#include "core/hidden_text.h"

#include <gtest/gtest.h>

namespace glassbox {
namespace {

std::vector<Finding> ScanAs(std::string_view text, TextKind kind) {
  std::vector<Finding> out;
  HiddenTextDetector().Scan(text, TextContext{kind, true}, &out);
  return out;
}

TEST(HiddenText, CleanAsciiFindsNothing) {
  EXPECT_TRUE(ScanAs("int main() { return 0; }\n", TextKind::kCode).empty());
}

// Issue 15 item 6: a single variation selector after a character it does not vary was low
// in prose. After an ASCII letter no variation sequence exists, so it is a marker: medium.
// After an emoji base it is the emoji presentation, and after other symbols it stays low.
TEST(HiddenText, VariationSelectorAfterAsciiLetterIsMediumInProse) {
  auto letter = ScanAs("Just text a\xEF\xB8\x81 here.\n", TextKind::kProse);  // a U+FE01
  ASSERT_EQ(letter.size(), 1u);
  EXPECT_EQ(letter[0].rule, "unicode/variation-selectors");
  EXPECT_EQ(letter[0].severity, Severity::kMedium);
  EXPECT_TRUE(
      ScanAs("I \xE2\x9D\xA4\xEF\xB8\x8F it\n", TextKind::kProse).empty());  // U+2764 U+FE0F
  auto symbol = ScanAs("a \xE2\x86\x90\xEF\xB8\x81 b\n", TextKind::kProse);  // U+2190 U+FE01
  for (const Finding& f : symbol) EXPECT_LE(f.severity, Severity::kLow) << f.message;
}

// A zero-width space alone in a table cell (tabs around it, as man pages' charset tables have)
// is a mention of the character; between two plain spaces of running text it is hidden (the
// gate strips it from a model's answer).
TEST(HiddenText, RegressionZeroWidthSpaceBetweenPlainSpacesIsHiddenNotAMention) {
  auto running = ScanAs(" brown fox \xE2\x80\x8B jumps\n", TextKind::kProse);
  ASSERT_EQ(running.size(), 1u);
  EXPECT_EQ(running[0].rule, "unicode/invisible-characters");
  EXPECT_EQ(running[0].fixes.size(), 1u);
  EXPECT_TRUE(ScanAs("200B\t\xE2\x80\x8B\tZERO WIDTH SPACE\n", TextKind::kProse).empty());
  EXPECT_TRUE(ScanAs("the character \"\xE2\x80\x8B\" is invisible\n", TextKind::kProse).empty());
}

TEST(HiddenText, TagRunReportsOffsetsCodePointsAndFix) {
  const std::string text = "ok\xF3\xA0\x81\x89\xF3\xA0\x81\xA7!";  // U+E0049 U+E0067
  auto f = ScanAs(text, TextKind::kProse);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].rule, "unicode/tag-characters");
  EXPECT_EQ(f[0].byte_offset, 2u);
  EXPECT_EQ(f[0].byte_length, 8u);
  EXPECT_EQ(f[0].decoded, "Ig");
  ASSERT_EQ(f[0].codepoints.size(), 2u);
  EXPECT_EQ(f[0].codepoints[0], U'\U000E0049');
  ASSERT_EQ(f[0].fixes.size(), 1u);
  EXPECT_EQ(f[0].fixes[0].begin, 2u);
  EXPECT_EQ(f[0].fixes[0].end, 10u);
}

TEST(HiddenText, InvalidUtf8IsReportedOnceAndDoesNotStopTheScan) {
  const std::string text = "a\xFF\xFE b \xE2\x80 c \xE2\x80\x8B";  // two bad spots, then a ZWSP
  auto f = ScanAs(text, TextKind::kCode);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].rule, "unicode/invisible-characters");
  EXPECT_EQ(f[1].rule, "unicode/invalid-encoding");
  EXPECT_EQ(f[1].byte_offset, 1u);
  EXPECT_NE(f[1].message.find("3 invalid"), std::string::npos) << f[1].message;
}

TEST(HiddenText, TruncatedSequenceAtTheEnd) {
  auto f = ScanAs("abc\xF3\xA0\x81", TextKind::kProse);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].rule, "unicode/invalid-encoding");
}

TEST(HiddenText, SeverityFollowsContext) {
  const std::string nbsp_cmd = "sudo\xC2\xA0rm -rf /tmp/x";
  auto shell = ScanAs(nbsp_cmd, TextKind::kShell);
  ASSERT_EQ(shell.size(), 1u);
  EXPECT_EQ(shell[0].severity, Severity::kMedium);
  EXPECT_TRUE(ScanAs(nbsp_cmd, TextKind::kProse).empty());
}

TEST(HiddenText, BidiInCodeIsCriticalWhenUnterminated) {
  auto f = ScanAs("x = 1; /* \xE2\x80\xAE */", TextKind::kCode);  // U+202E with no PDF
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kCritical);
}

TEST(HiddenText, ControlBytesAreGrouped) {
  auto f = ScanAs("a\x1b[31mred\x1b[0m", TextKind::kProse);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].rule, "unicode/control-characters");
  EXPECT_EQ(f[0].severity, Severity::kMedium);
}

TEST(HiddenText, NulAndLoneControlsAreLow) {
  auto f = ScanAs(std::string("a\x01"
                              "b",
                              3),
                  TextKind::kProse);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::kLow);
}

}  // namespace
}  // namespace glassbox

namespace glassbox {
namespace {

TEST(HiddenText, FindingsAreCappedOnHostileInput) {
  std::string text;
  for (int i = 0; i < 50000; ++i) text += "a\xE2\x80\x8B";  // 50,000 separate zero-width spaces
  std::vector<Finding> out;
  HiddenTextDetector().Scan(text, TextContext{TextKind::kCode, true}, &out);
  ASSERT_EQ(out.size(), 10001u);
  EXPECT_NE(out.back().message.find("40000 more findings"), std::string::npos)
      << out.back().message;
}

}  // namespace
}  // namespace glassbox
