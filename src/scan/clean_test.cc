#include "scan/clean.h"

#include <gtest/gtest.h>

#include <iterator>

#include "core/hidden_text.h"

namespace glassbox::scan {
namespace {

TEST(Clean, RemovesHiddenAndKeepsEverythingElse) {
  const std::string in =
      "\xEF\xBB\xBFline\xE2\x80\x8B one\r\nflag \xF3\xA0\x81\x89\xF3\xA0\x81\xA7 end\r\n";
  const CleanResult r = CleanText(in, TextKind::kCode);
  EXPECT_EQ(r.text, "\xEF\xBB\xBFline one\r\nflag  end\r\n");
  EXPECT_EQ(r.changes, 2u);
  EXPECT_EQ(r.by_codepoint.at("U+200B ZERO WIDTH SPACE"), 1u);
}

TEST(Clean, NormalisesSpacesAndFoldsLookalikesOnlyOnRequest) {
  const CleanResult r = CleanText("sudo\xC2\xA0rm \xE2\x80\x90rf x", TextKind::kShell);
  EXPECT_EQ(r.text, "sudo rm \xE2\x80\x90rf x");
  CleanOptions fold;
  fold.policy.fold_confusables = true;
  EXPECT_EQ(CleanText("sudo\xC2\xA0rm \xE2\x80\x90rf x", TextKind::kShell, fold).text,
            "sudo rm -rf x");
}

// Regression (issue 15, clean-creates-homoglyphs): clean turned Russian
// "параметры" into "пapaмeтpы" with Latin letters.
TEST(Clean, RegressionNeverReplacesLettersOfARealScript) {
  const std::string russian =
      "\xD0\xBF\xD0\xB0\xD1\x80\xD0\xB0\xD0\xBC\xD0\xB5\xD1\x82\xD1\x80\xD1\x8B";  // параметры
  for (TextKind k : {TextKind::kProse, TextKind::kCode, TextKind::kConfig, TextKind::kShell}) {
    EXPECT_EQ(CleanText("\\fI" + russian + "\\fR x", k).text, "\\fI" + russian + "\\fR x");
    EXPECT_EQ(CleanText("name = \"" + russian + "\"", k).text, "name = \"" + russian + "\"");
  }
  // Hebrew geresh, Persian digits, a heavy plus sign, Katakana no, Arabic alef.
  for (const std::string legit :
       {"\xD7\x99\xD7\x95\xD7\x9D \xD7\x90\xD7\xB3", "\xDB\xB8\xDB\xB6\xDB\xB0\xDB\xB1",
        "{\"key\": \"\xE2\x9E\x95\"}", "\xE3\x83\x8E\xE3\x83\xBC\xE3\x83\x88",
        "\xD8\xA7\xD9\x84\xD9\x83\xD8\xAA\xD8\xA7\xD8\xA8"}) {
    for (TextKind k : {TextKind::kProse, TextKind::kCode, TextKind::kConfig})
      EXPECT_EQ(CleanText(legit, k).text, legit);
  }
}

// Regression (issue 15, clean-strips-cldr-marks): RLM and ALM in CLDR's
// right-to-left date formats are data.
TEST(Clean, RegressionKeepsDirectionalMarksInFormatStrings) {
  const std::string json = "{\"yMd\": \"d\xE2\x80\x8F/M\xE2\x80\x8F/y\", \"x\": \"\xD8\x9C%\"}";
  CleanOptions o;
  o.json = JsonSyntax::kDocument;
  EXPECT_EQ(CleanText(json, TextKind::kConfig, o).text, json);
}

// Regression (issue 15, clean-leaves-escaped-tags): \u-escaped tag and bidi
// characters in JSON(L) are removed like raw ones, so the result scans clean.
TEST(Clean, RegressionRemovesEscapedHiddenCharactersInJson) {
  CleanOptions lines;
  lines.json = JsonSyntax::kLines;
  const CleanResult r =
      CleanText("{\"t\":\"hi\\udb40\\udc41\\udb40\\udc42 x\\u202Ey\"}\n{\"t\":\"ok\"}\n",
                TextKind::kData, lines);
  EXPECT_EQ(r.text, "{\"t\":\"hi xy\"}\n{\"t\":\"ok\"}\n");
  CleanOptions doc;
  doc.json = JsonSyntax::kDocument;
  const CleanResult d =
      CleanText("{\"a\": \"ad\\u200Bmin\", \"b\": \"\\u2028\"}", TextKind::kConfig, doc);
  EXPECT_EQ(d.text, "{\"a\": \"admin\", \"b\": \"\\u2028\"}");
}

// What clean reports for an escaped character is the character the escape writes (a surrogate
// pair as one), not the six bytes of "\u202E" counted as a backslash, a 'u' and digits.
TEST(Clean, RegressionReportsEscapedCharactersByWhatTheyWrite) {
  CleanOptions lines;
  lines.json = JsonSyntax::kLines;
  const CleanResult r =
      CleanText("{\"t\":\"x\\u202Ey\", \"u\":\"\\udb40\\udc41\"}\n", TextKind::kData, lines);
  EXPECT_EQ(r.text, "{\"t\":\"xy\", \"u\":\"\"}\n");
  ASSERT_EQ(r.by_codepoint.size(), 2u);
  for (const auto& [what, n] : r.by_codepoint) {
    EXPECT_EQ(n, 1u) << what;
    EXPECT_NE(what.find("(as a \\u escape)"), std::string::npos) << what;
  }
  EXPECT_NE(r.by_codepoint.begin()->first.find("U+202E"), std::string::npos);
  EXPECT_NE(std::next(r.by_codepoint.begin())->first.find("U+E0041"), std::string::npos);
}

TEST(Clean, KeepsLegitimateUses) {
  const std::string family =
      "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9 \xE2\x9D\xA4\xEF\xB8\x8F";
  EXPECT_EQ(CleanText(family, TextKind::kProse).changes, 0u);
  const std::string persian =
      "\xD9\x85\xDB\x8C\xE2\x80\x8C\xD8\xAE\xD9\x88\xD8\xA7\xD9\x87\xD9\x85";
  EXPECT_EQ(CleanText(persian, TextKind::kProse).text, persian);
}

TEST(Clean, IsIdempotentAndTheResultScansClean) {
  const std::string in =
      "a\xE2\x80\x8B\xE2\x80\x8C\xE2\x80\x8D b \xE2\x80\xAE x "
      "\xF0\x9F\x98\x80\xF3\xA0\x84\x98\xF3\xA0\x84\x95 \x1b[8m";
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
