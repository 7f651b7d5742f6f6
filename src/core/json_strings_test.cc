#include "core/json_strings.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace glassbox {
namespace {

struct Seen {
  std::string path;
  std::string value;
  bool key;
};

std::vector<Seen> Walk(std::string_view json, Status* status = nullptr) {
  std::vector<Seen> seen;
  Status st = ForEachJsonString(json, [&](const JsonStringVisit& v) {
    seen.push_back({v.path, std::string(v.decoded), v.is_key});
  });
  if (status != nullptr) *status = st;
  return seen;
}

TEST(JsonStrings, PathsAndDecodedValues) {
  auto seen = Walk(R"({"messages":[{"role":"user","content":"hi\u200b"}],"a b":"x"})");
  ASSERT_EQ(seen.size(), 7u);
  EXPECT_TRUE(seen[0].key);  // "messages"
  EXPECT_EQ(seen[2].path, "$.messages[0].role");
  EXPECT_EQ(seen[2].value, "user");
  EXPECT_FALSE(seen[2].key);
  EXPECT_EQ(seen[4].path, "$.messages[0].content");
  EXPECT_EQ(seen[4].value, "hi\xE2\x80\x8B");
  EXPECT_EQ(seen[6].path, "$[\"a b\"]");
}

TEST(JsonStrings, SurrogatePairsDecodeToTagCharacters) {
  auto seen = Walk(R"(["\udb40\udc49", "\ud800x", "\udc00"])");
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].value, "\xF3\xA0\x81\x89");  // U+E0049
  EXPECT_EQ(seen[1].value, "\xEF\xBF\xBDx");     // lone high surrogate -> U+FFFD
  EXPECT_EQ(seen[2].value, "\xEF\xBF\xBD");
}

TEST(JsonStrings, EscapedQuotesAndBackslashes) {
  auto seen = Walk(R"(["a\"b\\", "c\\\"d"])");
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].value, "a\"b\\");
  EXPECT_EQ(seen[1].value, "c\\\"d");
}

TEST(JsonStrings, MalformedInputIsAnErrorWithOffset) {
  for (std::string_view bad : {"{", "[1,]", R"({"a" 1})", R"("abc)", R"("\x")", "01x", "[1] 2",
                               "tru", "-", "1.", "1e", "\"a\nb\""}) {
    Status st;
    Walk(bad, &st);
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_NE(st.message().find("byte"), std::string::npos) << st.message();
  }
  for (std::string_view good :
       {"1", "-0.5e+3", "true", "null", "[]", "{}", " [ 1 , {\"a\":[null]} ] "}) {
    Status st;
    Walk(good, &st);
    EXPECT_TRUE(st.ok()) << good << ": " << st.message();
  }
}

// Strings without escapes are handed over as views of the document (no
// copy) and strings with escapes are decoded: check both at every position
// relative to the 16-byte blocks of the scan, with an escape, a quote, a
// control character or a high byte landing in each lane.
TEST(JsonStrings, PlainAndEscapedStringsAtEveryBlockOffset) {
  for (size_t pad = 0; pad < 40; ++pad) {
    const std::string lead(pad, 'a');
    {
      const std::string doc = "[\"" + lead + "\", \"" + lead + "\xC3\xA9\x7F z\"]";
      std::vector<std::string_view> views;
      Status st =
          ForEachJsonString(doc, [&](const JsonStringVisit& v) { views.push_back(v.decoded); });
      ASSERT_TRUE(st.ok()) << pad << " " << st.message();
      ASSERT_EQ(views.size(), 2u);
      EXPECT_EQ(views[0], lead);
      EXPECT_EQ(views[1], lead + "\xC3\xA9\x7F z");
      EXPECT_EQ(views[0].data(), doc.data() + 2) << "a plain string views the document";
    }
    {
      auto seen = Walk("[\"" + lead + "\\u0041\\\"\\\\\", \"" + lead + "\\\\\"]");
      ASSERT_EQ(seen.size(), 2u) << pad;
      EXPECT_EQ(seen[0].value, lead + "A\"\\");
      EXPECT_EQ(seen[1].value, lead + "\\");
    }
    for (char control : {'\n', '\t', '\x01', '\x1F'}) {
      Status st;
      auto seen = Walk("[\"ok\", \"" + lead + control + "x\"]", &st);
      EXPECT_FALSE(st.ok()) << pad << " control " << int(control);
      EXPECT_EQ(seen.size(), 1u);
      EXPECT_NE(st.message().find("raw control character"), std::string::npos) << st.message();
      Walk("[\"" + lead + "\\n" + control + "\"]", &st);
      EXPECT_FALSE(st.ok()) << "after an escape, pad " << pad;
    }
    Status st;
    Walk("[\"" + lead, &st);
    EXPECT_FALSE(st.ok()) << "unterminated, pad " << pad;
  }
}

// Keys are views too, and the path built from them stays right.
TEST(JsonStrings, PlainKeysBuildPaths) {
  auto seen = Walk(R"({"a":{"b c":["x",{"d\u0065":"y"}]}})");
  ASSERT_EQ(seen.size(), 5u);  // a, "b c", "x", "de", "y"
  EXPECT_EQ(seen[2].path, "$.a[\"b c\"][0]");
  EXPECT_TRUE(seen[3].key);
  EXPECT_EQ(seen[3].value, "de");
  EXPECT_EQ(seen[4].path, "$.a[\"b c\"][1].de");
  EXPECT_EQ(seen[4].value, "y");
}

TEST(JsonStrings, DepthIsBounded) {
  const std::string deep(100000, '[');
  Status st;
  Walk(deep, &st);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("nesting"), std::string::npos);
}

// StripJsonComments skips string bodies 16 bytes at a time: it must give
// what a byte-at-a-time walk gives, on random JSONC with comments, URLs and
// comment markers inside strings, escaped quotes and backslashes (a string
// ending in a backslash at the very end of the text too), trailing commas,
// and strings of every length around the 16-byte blocks.
TEST(JsonStrings, StripJsonCommentsSkipsStringsLikeAPlainWalk) {
  auto reference = [](std::string_view text) {
    std::string out(text);
    size_t i = 0;
    const size_t n = out.size();
    size_t last_comma = std::string::npos;
    while (i < n) {
      const char c = out[i];
      if (c == '"') {
        last_comma = std::string::npos;
        ++i;
        while (i < n && out[i] != '"') i += out[i] == '\\' ? 2 : 1;
        ++i;
        continue;
      }
      if (c == '/' && i + 1 < n && out[i + 1] == '/') {
        while (i < n && out[i] != '\n') out[i++] = ' ';
        continue;
      }
      if (c == '/' && i + 1 < n && out[i + 1] == '*') {
        out[i] = out[i + 1] = ' ';
        i += 2;
        while (i < n && !(out[i] == '*' && i + 1 < n && out[i + 1] == '/')) {
          if (out[i] != '\n') out[i] = ' ';
          ++i;
        }
        if (i < n) out[i] = out[i + 1] = ' ', i += 2;
        continue;
      }
      if (c == ',') {
        last_comma = i;
      } else if ((c == '}' || c == ']') && last_comma != std::string::npos) {
        out[last_comma] = ' ';
        last_comma = std::string::npos;
      } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
        last_comma = std::string::npos;
      }
      ++i;
    }
    return out;
  };
  std::mt19937 rng(16);
  const std::vector<std::string> pieces = {"\"",
                                           "\\",
                                           "\\\"",
                                           "\\\\",
                                           "//",
                                           "/*",
                                           "*/",
                                           ",",
                                           "}",
                                           "]",
                                           "{",
                                           "[",
                                           " ",
                                           "\n",
                                           "https://example.com/a",
                                           "abcdefghijklmnopqrstuvwxyz",
                                           ":",
                                           "1",
                                           "\u00e9"};
  for (int round = 0; round < 5000; ++round) {
    std::string text;
    for (size_t k = rng() % 40; k > 0; --k) {
      const std::string& piece = pieces[rng() % pieces.size()];
      text += rng() % 4 == 0 ? piece.substr(0, rng() % (piece.size() + 1)) : piece;
    }
    ASSERT_EQ(StripJsonComments(text), reference(text)) << text;
  }
  for (const std::string& text : {std::string("\"abc\\"), std::string("\"") + std::string(40, 'x'),
                                  std::string("{\"a\": \"") + std::string(33, '\\') + "\", }"}) {
    EXPECT_EQ(StripJsonComments(text), reference(text)) << text;
  }
}

}  // namespace
}  // namespace glassbox

namespace glassbox {
namespace {

TEST(JsonStrings, ScalarsAreVisitedWhenAsked) {
  std::vector<std::string> seen;
  JsonWalkOptions o;
  o.visit_scalars = true;
  o.visit_keys = false;
  Status st = ForEachJsonString(
      R"({"a":true,"b":[1,null,"x"]})",
      [&](const JsonStringVisit& v) { seen.push_back(v.path + "=" + std::string(v.decoded)); }, o);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"$.a=true", "$.b[0]=1", "$.b[1]=null", "$.b[2]=x"}));
}

TEST(JsonStrings, JsoncCommentsAndTrailingCommasKeepOffsets) {
  const std::string jsonc = "{\n  // hooks\n  \"a\": \"x//y\", /* c */\n  \"b\": [1, 2,],\n}\n";
  const std::string plain = StripJsonComments(jsonc);
  ASSERT_EQ(plain.size(), jsonc.size());
  EXPECT_EQ(std::count(plain.begin(), plain.end(), '\n'), 5);
  std::vector<std::string> values;
  Status st = ForEachJsonString(plain, [&](const JsonStringVisit& v) {
    if (!v.is_key) values.push_back(std::string(v.decoded));
  });
  ASSERT_TRUE(st.ok()) << st.message() << "\n" << plain;
  EXPECT_EQ(values, (std::vector<std::string>{"x//y"}));
}

}  // namespace
}  // namespace glassbox
