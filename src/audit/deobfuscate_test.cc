#include "audit/deobfuscate.h"

#include <gtest/gtest.h>

#include "audit/audit_rules.h"

namespace glassbox::audit {
namespace {

const ShapeData& Shapes() {
  static const AuditRules rules = [] {
    auto r = BuiltinAuditRules();
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? std::move(*r) : AuditRules{};
  }();
  return rules.shapes;
}

TEST(Deobfuscate, Base64AndHexDecode) {
  EXPECT_EQ(DecodeBase64("YW50aHJvcGljLmNvbQ==").value_or(""), "anthropic.com");
  EXPECT_EQ(DecodeBase64("YW50aHJvcGljLmNvbQ").value_or(""), "anthropic.com");  // unpadded
  EXPECT_FALSE(DecodeBase64("constructor").has_value());  // one case only: an identifier
  EXPECT_FALSE(DecodeBase64("not base64!").has_value());
  EXPECT_EQ(DecodeHex("72656c6179").value_or(""), "relay");
  EXPECT_FALSE(DecodeHex("72656c617").has_value());  // odd length
}

TEST(Deobfuscate, Shapes) {
  EXPECT_EQ(ClassifyText("api.example.com", Shapes()), TextShape::kDomain);
  EXPECT_EQ(ClassifyText(".corp.example.com", Shapes()), TextShape::kDomain);
  EXPECT_EQ(ClassifyText("Asia/Shanghai", Shapes()), TextShape::kTimezone);
  EXPECT_EQ(ClassifyText("https://x.example.org/v1", Shapes()), TextShape::kUrl);
  EXPECT_EQ(ClassifyText("ops@example.com", Shapes()), TextShape::kEmail);
  EXPECT_EQ(ClassifyText("hello there", Shapes()), TextShape::kWords);
  EXPECT_NE(ClassifyText("index.js", Shapes()), TextShape::kDomain);  // js is not a TLD
  EXPECT_EQ(ClassifyText("\x01\x02\x03\x04", Shapes()), TextShape::kNone);
  EXPECT_EQ(ClassifyText("zq#x!@k", Shapes()), TextShape::kNone);
}

TEST(Deobfuscate, XorWithKeysFromCode) {
  const std::string plain = "acme.corp.com";
  std::string masked = XorBytes(plain, "\x5b");
  // Hex of the masked bytes, decoded with a key the code uses.
  std::string hex;
  for (unsigned char c : masked) {
    static const char* kDigits = "0123456789abcdef";
    hex.push_back(kDigits[c >> 4]);
    hex.push_back(kDigits[c & 15]);
  }
  auto d = DecodeStringLiteral(hex, {XorKey{"\x11"}, XorKey{"\x5b"}}, Shapes());
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->encoding, "hex+xor(0x5b)");
  EXPECT_EQ(d->text, plain);
  EXPECT_EQ(d->shape, TextShape::kDomain);
  // Without the key nothing is claimed.
  EXPECT_FALSE(DecodeStringLiteral(hex, {XorKey{"\x11"}}, Shapes()).has_value());
  EXPECT_EQ(XorKey{"k3y"}.Label(), "\"k3y\"");
}

TEST(Deobfuscate, CharCodes) {
  std::vector<uint32_t> codes;
  for (char c : std::string("Europe/Moscow")) codes.push_back(static_cast<unsigned char>(c));
  auto d = DecodeCharCodes(codes, {}, Shapes());
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->encoding, "charcodes");
  EXPECT_EQ(d->text, "Europe/Moscow");
  // A lookup table is not text.
  EXPECT_FALSE(DecodeCharCodes({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {}, Shapes()).has_value());
  EXPECT_FALSE(CodePointsToUtf8({0xD800}).has_value());
}

// Garbage that key trials produced on real bundles (gemini-cli 0.61.0,
// qwen-code 0.24.4, claude-code 2.1.197): printable, but not text.
TEST(Deobfuscate, KeyTrialGarbageIsNotText) {
  auto masked = [](const std::string& text, const std::string& key) {
    std::vector<uint32_t> codes;
    for (size_t i = 0; i < text.size(); ++i) {
      codes.push_back(static_cast<unsigned char>(text[i] ^ key[i % key.size()]));
    }
    return codes;
  };
  for (const char* garbage :
       {"1ygggg1ygggg1ygggg1ygggg", "srqckdjeifhgo`nambl", "0ydebc`ano:s", "ccpa32eiz",
        "cba`gfedkjihonmlbehcfilgjm`knadofkhmbgdinc`ejolacdmfo`ibklenghaj"}) {
    EXPECT_FALSE(
        DecodeCharCodes(masked(garbage, "0xffff"), {XorKey{"0xffff"}}, Shapes()).has_value())
        << garbage;
    EXPECT_EQ(ScoreAsText(garbage, Shapes()), TextShape::kNone) << garbage;
  }
  // A short base64 result of letter soup is not text either.
  EXPECT_FALSE(DecodeStringLiteral("endHandleg==", {}, Shapes()).has_value());
  // Real hidden text still is: a command and a sentence behind a key.
  for (const char* text :
       {"cat /etc/machine-id", "Please answer in Chinese", "the user's device name"}) {
    auto d = DecodeCharCodes(masked(text, "k3y"), {XorKey{"k3y"}}, Shapes());
    ASSERT_TRUE(d.has_value()) << text;
    EXPECT_EQ(d->text, text);
    EXPECT_NE(ScoreAsText(text, Shapes()), TextShape::kNone) << text;
  }
}

TEST(Deobfuscate, NestedEncodings) {
  // base64 of the hex of a domain.
  auto d = DecodeStringLiteral("NzI2NTZjNjE3OTJlNjU3ODYxNmQ3MDZjNjUyZTZlNjU3NA==", {}, Shapes());
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->encoding, "base64+hex");
  EXPECT_EQ(d->text, "relay.example.net");
}

}  // namespace
}  // namespace glassbox::audit
