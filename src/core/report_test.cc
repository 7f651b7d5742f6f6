#include "core/report.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "core/json_strings.h"
#include "core/locate.h"

namespace glassbox {
namespace {

Report Sample() {
  Report r;
  r.tool_version = "9.9.9";
  Finding f;
  f.rule = "unicode/tag-characters";
  f.severity = Severity::kCritical;
  f.path = "dir with space/p.md";
  f.line = 3;
  f.column = 7;
  f.byte_offset = 42;
  f.codepoints = {U'\U000E0049'};
  f.decoded = "I\"gnore";
  f.message = "hidden";
  f.snippet = "x⟨U+E0049⟩";
  f.fingerprint = "abc";
  r.findings.push_back(f);
  r.stats.files = 2;
  r.stats.bytes = 100;
  return r;
}

std::map<std::string, std::string> Strings(const std::string& json) {
  std::map<std::string, std::string> m;
  Status st = ForEachJsonString(json, [&](const JsonStringVisit& v) {
    if (!v.is_key) m[v.path] = std::string(v.decoded);
  });
  EXPECT_TRUE(st.ok()) << st.message() << "\n" << json;
  return m;
}

TEST(Report, JsonKeepsTheDesignContract) {
  std::ostringstream out;
  WriteJson(Sample(), out);
  auto m = Strings(out.str());
  EXPECT_EQ(m["$.tool"], "glassbox");
  EXPECT_EQ(m["$.version"], "9.9.9");
  EXPECT_EQ(m["$.findings[0].rule"], "unicode/tag-characters");
  EXPECT_EQ(m["$.findings[0].severity"], "critical");
  EXPECT_EQ(m["$.findings[0].codepoints[0]"], "U+E0049");
  EXPECT_EQ(m["$.findings[0].decoded"], "I\"gnore");
  for (const char* key :
       {"\"line\":3", "\"column\":7", "\"byte_offset\":42", "\"files\":2", "\"seconds\":"}) {
    EXPECT_NE(out.str().find(key), std::string::npos) << key;
  }
}

TEST(Report, SarifHasRulesResultsAndFingerprints) {
  std::ostringstream out;
  WriteSarif(Sample(), UnicodeRuleInfos(), out);
  auto m = Strings(out.str());
  EXPECT_EQ(m["$.version"], "2.1.0");
  EXPECT_EQ(m["$.runs[0].tool.driver.name"], "glassbox");
  EXPECT_EQ(m["$.runs[0].tool.driver.rules[0].id"], "unicode/tag-characters");
  EXPECT_EQ(m["$.runs[0].results[0].ruleId"], "unicode/tag-characters");
  EXPECT_EQ(m["$.runs[0].results[0].level"], "error");
  EXPECT_EQ(m["$.runs[0].results[0].partialFingerprints[\"glassbox/v1\"]"], "abc");
  EXPECT_EQ(m["$.runs[0].results[0].locations[0].physicalLocation.artifactLocation.uri"],
            "dir%20with%20space/p.md");
}

TEST(Report, TextShowsLocationCodePointsAndDecodedText) {
  std::ostringstream out;
  WriteText(Sample(), TextOptions{}, out);
  const std::string s = out.str();
  EXPECT_NE(s.find("dir with space/p.md:3:7: CRITICAL unicode/tag-characters"), std::string::npos)
      << s;
  EXPECT_NE(s.find("U+E0049 TAG LATIN CAPITAL LETTER I"), std::string::npos) << s;
  EXPECT_NE(s.find("decoded: \"I\\\"gnore\""), std::string::npos) << s;
  EXPECT_NE(s.find("1 finding (1 critical) in 2 files"), std::string::npos) << s;
}

}  // namespace
}  // namespace glassbox

namespace glassbox {
namespace {

// Fingerprints and baselines are SHA-256 in lower-case hex (FIPS 180-2 test vector).
// Issue 16: file names with ESC, BEL or newlines were printed raw.
TEST(Report, TextEscapesNamesMessagesAndSnippetsForTheTerminal) {
  Report r = Sample();
  r.findings[0].path = "evil\x1b[2J\a\nname\xE2\x80\xAE.md";
  r.findings[0].message =
      "bad \x9b"
      "31m";
  r.findings[0].snippet = "x\x1b]0;title\x07";
  r.errors.push_back("odd\x1b[1mname: cannot open");
  std::ostringstream out;
  WriteText(r, {}, out);
  const std::string text = out.str();
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
  EXPECT_EQ(text.find('\a'), std::string::npos);
  EXPECT_EQ(text.find("\xE2\x80\xAE"), std::string::npos);
  EXPECT_EQ(text.find("\xC2\x9B"), std::string::npos);
  EXPECT_NE(text.find("evil\\e[2J\\x07\\nname\\u{202E}.md"), std::string::npos) << text;
  EXPECT_EQ(TerminalSafe("a\\x41"), "a\\\\x41");  // a literal backslash-x cannot pose as an escape
  EXPECT_EQ(TerminalSafe("caf\xC3\xA9 \xF0\x9F\x98\x80"), "caf\xC3\xA9 \xF0\x9F\x98\x80");
}

TEST(Report, NotesAppearInEveryFormat) {
  Report r = Sample();
  r.notes.push_back("a.txt: 12 more unicode/invalid-encoding findings not listed");
  std::ostringstream text, json, sarif;
  WriteText(r, {}, text);
  WriteJson(r, json);
  WriteSarif(r, UnicodeRuleInfos(), sarif);
  EXPECT_NE(text.str().find("note: a.txt: 12 more"), std::string::npos);
  EXPECT_EQ(Strings(json.str())["$.notes[0]"], r.notes[0]);
  EXPECT_EQ(
      Strings(sarif.str())["$.runs[0].invocations[0].toolExecutionNotifications[0].message.text"],
      r.notes[0]);
}

TEST(Sha256Hex, KnownVectorAndTruncation) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abc", 32), "ba7816bf8f01cfea414140de5dae2223");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

}  // namespace
}  // namespace glassbox
