// The shared primitives that used to exist once per component: base64, query
// parameters, UTF-8 validity and the hidden-character classes.
#include <gtest/gtest.h>

#include <string>

#include "core/base64.h"
#include "core/query_string.h"
#include "core/unicode.h"
#include "core/utf.h"

namespace glassbox {
namespace {

TEST(Base64Test, RoundTripsEveryLengthAndByte) {
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    bytes.push_back(static_cast<char>(i * 37 + 11));
    const std::string encoded = Base64Encode(bytes);
    EXPECT_EQ(encoded.size() % 4, 0u);
    const auto decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    EXPECT_EQ(*decoded, bytes);
  }
}

TEST(Base64Test, KnownVectorsFromRfc4648) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Decode("Zm9vYg==").value_or("?"), "foob");
  EXPECT_EQ(Base64Decode("Zm9vYg").value_or("?"), "foob");  // padding optional
}

TEST(Base64Test, UrlSafeAlphabetButNotMixed) {
  EXPECT_EQ(Base64Decode("-_-_").value_or("?"), "\xfb\xff\xbf");
  EXPECT_EQ(Base64Decode("+/+/").value_or("?"), "\xfb\xff\xbf");
  EXPECT_FALSE(Base64Decode("+_+_").has_value());
}

TEST(Base64Test, RefusesWhatCannotBeBase64) {
  EXPECT_FALSE(Base64Decode("Zm9v!").has_value());
  EXPECT_FALSE(Base64Decode("Zm9vY").has_value());    // 4n+1 characters
  EXPECT_FALSE(Base64Decode("Zg=a").has_value());     // padding in the middle
  EXPECT_FALSE(Base64Decode("Zm9vYg=").has_value());  // padding that does not complete a quad
  EXPECT_FALSE(Base64Decode("Zm 9v").has_value());    // callers strip white space
}

TEST(QueryStringTest, FindsAndRemovesParameters) {
  EXPECT_EQ(QueryParam("alt=sse&key=abc", "key"), "abc");
  EXPECT_EQ(QueryParam("key=abc&key=def", "key"), "abc");
  EXPECT_EQ(QueryParam("alt&key=", "alt"), "");
  EXPECT_EQ(QueryParam("keys=1", "key"), "");
  EXPECT_EQ(QueryParam("", "key"), "");
  EXPECT_EQ(WithoutQueryParam("alt=sse&key=abc&x=1", "key"), "alt=sse&x=1");
  EXPECT_EQ(WithoutQueryParam("key=abc", "key"), "");
  EXPECT_EQ(WithoutQueryParam("key=a&key=b&z", "key"), "z");
}

TEST(Utf8ValidityTest, AcceptsWellFormedAndRefusesEveryIllFormedShape) {
  EXPECT_TRUE(utf::IsValidUtf8(""));
  EXPECT_TRUE(utf::IsValidUtf8(std::string(100, 'a') + "Привет, 世界 😀" + std::string(40, 'b')));
  EXPECT_FALSE(utf::IsValidUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(utf::IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(utf::IsValidUtf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(utf::IsValidUtf8("abc\xE2\x82"));       // cut short
  // A bad byte after a long ASCII run (the block loop must not skip it).
  EXPECT_FALSE(utf::IsValidUtf8(std::string(31, 'x') + "\xFF" + std::string(32, 'y')));
}

TEST(HiddenClassTest, OneListForEveryComponent) {
  const auto& data = UnicodeData::Get();
  for (char32_t cp : {U'\u200B', U'\u200D', U'\u2060', U'\u00AD', U'\uFEFF', U'\u3164', U'\u202E',
                      U'\u200E', U'\U000E0041', U'\uFE0F'}) {
    EXPECT_TRUE(IsHiddenClass(data.Classify(cp))) << std::hex << static_cast<uint32_t>(cp);
  }
  for (char32_t cp : {U'a', U'\u00E9', U'\u0430', U'\u2019', U'\u00A0'}) {
    EXPECT_FALSE(IsHiddenClass(data.Classify(cp))) << std::hex << static_cast<uint32_t>(cp);
  }
  EXPECT_TRUE(IsLookalikeClass(data.Classify(U'\u2019')));
  EXPECT_TRUE(IsLookalikeClass(data.Classify(U'\u0430')));
  EXPECT_FALSE(IsLookalikeClass(data.Classify(U'a')));
}

}  // namespace
}  // namespace glassbox
