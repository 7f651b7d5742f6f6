#include "scan/clean.h"

#include <gtest/gtest.h>

#include "core/hidden_text.h"

namespace glassbox::scan {
namespace {

TEST(Clean, RemovesHiddenAndKeepsEverythingElse) {
  const std::string in = "\xEF\xBB\xBFline\xE2\x80\x8B one\r\nflag \xF3\xA0\x81\x89\xF3\xA0\x81\xA7 end\r\n";
  const CleanResult r = CleanText(in, TextKind::kCode);
  EXPECT_EQ(r.text, "\xEF\xBB\xBFline one\r\nflag  end\r\n");
  EXPECT_EQ(r.changes, 2u);
  EXPECT_EQ(r.by_codepoint.at("U+200B ZERO WIDTH SPACE"), 1u);
}

TEST(Clean, NormalisesSpacesAndLookalikes) {
  const CleanResult r = CleanText("sudo\xC2\xA0rm \xE2\x80\x90rf x", TextKind::kShell);
  EXPECT_EQ(r.text, "sudo rm -rf x");
}

TEST(Clean, KeepsLegitimateUses) {
  const std::string family = "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9 \xE2\x9D\xA4\xEF\xB8\x8F";
  EXPECT_EQ(CleanText(family, TextKind::kProse).changes, 0u);
  const std::string persian = "\xD9\x85\xDB\x8C\xE2\x80\x8C\xD8\xAE\xD9\x88\xD8\xA7\xD9\x87\xD9\x85";
  EXPECT_EQ(CleanText(persian, TextKind::kProse).text, persian);
}

TEST(Clean, IsIdempotentAndTheResultScansClean) {
  const std::string in =
      "a\xE2\x80\x8B\xE2\x80\x8C\xE2\x80\x8D b \xE2\x80\xAE x \xF0\x9F\x98\x80\xF3\xA0\x84\x98\xF3\xA0\x84\x95 \x1b[8m";
  const CleanResult once = CleanText(in, TextKind::kCode);
  const CleanResult twice = CleanText(once.text, TextKind::kCode);
  EXPECT_EQ(twice.changes, 0u);
  EXPECT_EQ(twice.text, once.text);
  std::vector<Finding> left;
  HiddenTextDetector().Scan(once.text, TextContext{TextKind::kCode, true}, &left);
  for (const Finding& f : left) EXPECT_TRUE(f.fixes.empty()) << f.rule;
}

}  // namespace
}  // namespace glassbox::scan

namespace glassbox::scan {
namespace {

// Regression (fuzz_hidden_text, clean-creates-rlo): deleting a ZWSP between an
// incomplete lead byte and stray continuation bytes must not join them into
// U+202E RIGHT-TO-LEFT OVERRIDE.
TEST(Clean, RegressionDeletionDoesNotGlueInvalidBytesIntoANewCharacter) {
  const std::string in = "\xe2\xe2\xe2\xe2\xe2\x80\x8b\x80\x8b\x80\x8b\x80\x8b\x80\xae";
  const CleanResult once = CleanText(in, TextKind::kCode);
  EXPECT_EQ(once.text.find("\xe2\x80\xae"), std::string::npos);
  EXPECT_EQ(CleanText(once.text, TextKind::kCode).changes, 0u);
}

}  // namespace
}  // namespace glassbox::scan
