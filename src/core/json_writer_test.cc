#include "core/json_writer.h"

#include <gtest/gtest.h>

#include <random>
#include <sstream>
#include <string>

#include "core/utf.h"

namespace glassbox {
namespace {

// The plain path: JsonWriter::Escape as it was before its 16-bytes-at-a-time
// fast path, one byte or sequence at a time. The fast path must write the
// same bytes and return the same result for every input.
bool PlainEscape(std::string_view value, std::string* out, JsonWriter::EscapePredicate escape) {
  auto unit = [&](uint32_t u) {
    static constexpr char kHex[] = "0123456789abcdef";
    out->append(
        {'\\', 'u', kHex[(u >> 12) & 15], kHex[(u >> 8) & 15], kHex[(u >> 4) & 15], kHex[u & 15]});
  };
  bool exact = true;
  out->push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(value.data());
  for (size_t i = 0; i < value.size();) {
    const unsigned char c = p[i];
    if (c >= 0x80) {
      size_t len = 0;
      const int32_t cp = utf::DecodeOne(p + i, value.size() - i, &len);
      if (cp == utf::kInvalidCodePoint) {
        exact = false;
        out->append("\\ufffd");
      } else if (escape != nullptr && escape(static_cast<uint32_t>(cp))) {
        if (cp >= 0x10000) {
          unit(0xD800 + ((static_cast<uint32_t>(cp) - 0x10000) >> 10));
          unit(0xDC00 + ((static_cast<uint32_t>(cp) - 0x10000) & 0x3FF));
        } else {
          unit(static_cast<uint32_t>(cp));
        }
      } else {
        out->append(value.substr(i, len));
      }
      i += len;
      continue;
    }
    if (c == '"') {
      out->append("\\\"");
    } else if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '\r') {
      out->append("\\r");
    } else if (c == '\t') {
      out->append("\\t");
    } else if (c == '\b') {
      out->append("\\b");
    } else if (c == '\f') {
      out->append("\\f");
    } else if (c < 0x20 || c == 0x7F) {
      unit(c);
    } else {
      out->push_back(static_cast<char>(c));
    }
    ++i;
  }
  out->push_back('"');
  return exact;
}

bool EscapeNonAscii(uint32_t cp) { return cp >= 0x80; }
bool EscapeHidden(uint32_t cp) { return cp == 0x200B || cp == 0xFEFF || cp >= 0xE0000; }

void ExpectSameAsPlain(const std::string& input) {
  for (JsonWriter::EscapePredicate pred :
       {static_cast<JsonWriter::EscapePredicate>(nullptr), &EscapeNonAscii, &EscapeHidden}) {
    std::string fast = "prefix", plain = "prefix";
    const bool fast_exact = JsonWriter::Escape(input, &fast, pred);
    const bool plain_exact = PlainEscape(input, &plain, pred);
    ASSERT_EQ(fast, plain) << "input bytes: " << ::testing::PrintToString(input);
    ASSERT_EQ(fast_exact, plain_exact) << ::testing::PrintToString(input);
  }
}

TEST(JsonWriterEscape, FastPathMatchesThePlainPathOnEdgeCases) {
  const std::string cases[] = {
      "",
      "plain ascii only, longer than sixteen bytes of it",
      std::string("\x00\x01\x1f\x20\x7e\x7f", 6),
      "quote\" and backslash\\ at 16+ \"\\\"",
      "0123456789abcde\"",                        // a quote as the 16th byte
      "0123456789abcdef\"",                       // ... as the 17th
      "0123456789abcd\xc3\xa9xyz",                // a 2-byte sequence across the 16-byte boundary
      "0123456789abcde\xe6\x97\xa5\xe6\x9c\xac",  // 3-byte sequences across it
      "0123456789abcde\xf0\x9f\x98\x80 emoji",
      "\xc0\x80 overlong",
      "\xed\xa0\x80 a surrogate",
      "\xf4\x90\x80\x80 past U+10FFFF",
      "truncated at the end \xe6\x97",
      "lone continuation \x80\xbf bytes",
      "zero width\xe2\x80\x8bspace and BOM \xef\xbb\xbf and a tag \xf3\xa0\x80\x81",
      "tabs\tnew\nlines\rand\bform\ffeeds",
  };
  for (const std::string& c : cases) ExpectSameAsPlain(c);
}

TEST(JsonWriterEscape, FastPathMatchesThePlainPathOnRandomText) {
  // Random strings built from pieces that hit every branch: plain ASCII,
  // escapes, DEL, valid UTF-8 of every length, invalid and cut sequences.
  const std::vector<std::string> pieces = {"a",
                                           "hello world ",
                                           "0123456789abcdef",
                                           "\"",
                                           "\\",
                                           "\n",
                                           std::string(1, '\0'),
                                           "\x1f",
                                           "\x7f",
                                           "~",
                                           "\xc3\xa9",
                                           "\xe6\x97\xa5",
                                           "\xf0\x9f\x98\x80",
                                           "\xe2\x80\x8b",
                                           "\xef\xbb\xbf",
                                           "\xf3\xa0\x80\x81",
                                           "\x80",
                                           "\xc3",
                                           "\xe6\x97",
                                           "\xf0\x9f\x98",
                                           "\xff",
                                           "\xed\xa0\x80",
                                           "\xc1\xbf"};
  std::mt19937 rng(20);
  for (int round = 0; round < 20000; ++round) {
    std::string s;
    const int n = std::uniform_int_distribution<int>(0, 24)(rng);
    for (int i = 0; i < n; ++i)
      s += pieces[std::uniform_int_distribution<size_t>(0, pieces.size() - 1)(rng)];
    ExpectSameAsPlain(s);
  }
  // And raw random bytes at every length up to 70.
  for (int len = 0; len <= 70; ++len) {
    for (int round = 0; round < 200; ++round) {
      std::string s(static_cast<size_t>(len), '\0');
      for (char& c : s) c = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
      ExpectSameAsPlain(s);
    }
  }
}

TEST(JsonWriterEscape, WriterOutputIsValidJsonText) {
  std::ostringstream out;
  JsonWriter w(out);
  w.BeginObject().Field("k\"ey", "v\x7f\xc3\xa9\xff").EndObject();
  EXPECT_EQ(out.str(), "{\"k\\\"ey\":\"v\\u007f\xc3\xa9\\ufffd\"}");
}

}  // namespace
}  // namespace glassbox
