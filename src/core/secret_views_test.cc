#include "core/secret_views.h"

#include "core/base64.h"
#include "core/hidden_text.h"
#include "core/utf.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace glassbox {
namespace {

const SecretScanner& Builtin() {
  static const std::shared_ptr<const SecretScanner> scanner = [] {
    auto rules = BuiltinSecretRules();
    EXPECT_TRUE(rules.ok());
    auto s = SecretScanner::Compile(std::move(rules.value()));
    EXPECT_TRUE(s.ok());
    return s.value();
  }();
  return *scanner;
}

// The plain scan and the views together, as the scanner runs them.
std::vector<Finding> ScanAll(std::string_view text, JsonSyntax json = JsonSyntax::kNone) {
  auto scratch = Builtin().NewScratch();
  std::vector<Finding> plain;
  EXPECT_TRUE(Builtin().Scan(text, *scratch, &plain).ok());
  std::vector<Finding> all = plain;
  SecretViewOptions o;
  o.json = json;
  EXPECT_TRUE(ScanSecretViews(Builtin(), text, o, *scratch, plain, &all).ok());
  return all;
}

bool Has(const std::vector<Finding>& fs, std::string_view rule, std::string_view how) {
  for (const Finding& f : fs) {
    if (f.rule == rule && f.message.find(how) != std::string::npos) return true;
  }
  return false;
}

std::string Base64(std::string_view in) {
  static const char* kDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kDigits[(v >> s) & 63]);
  }
  if (i + 1 == in.size()) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += std::string{kDigits[(v >> 18) & 63], kDigits[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    const unsigned v =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out +=
        std::string{kDigits[(v >> 18) & 63], kDigits[(v >> 12) & 63], kDigits[(v >> 6) & 63], '='};
  }
  return out;
}

const std::string kPat = "ghp_aBcD1234eFgH5678iJkL9012mNoP3456qRsT";  // GitHub PAT shape, made up

// Regression (issue 15, secret-split-by-invisible): a key split by U+2060 or
// a soft hyphen gave no finding at all.
TEST(SecretViews, RegressionFindsASecretSplitByAnInvisibleCharacter) {
  for (std::string_view hider :
       {"\u2060", "\u00AD", "\u200B", "\u200D", "\uFEFF", "\u202C", "\U000E0041"}) {
    const std::string text =
        "token: ghp_aBcD1234" + std::string(hider) + "eFgH5678iJkL9012mNoP3456qRsT\n";
    const auto fs = ScanAll(text);
    EXPECT_TRUE(Has(fs, "secret/github-pat", "split by invisible characters")) << text;
    for (const Finding& f : fs) EXPECT_LE(f.byte_offset + f.byte_length, text.size());
  }
}

// The invisible view keeps where each of its pieces came from (not a map of
// every byte): a split secret is reported from the text offset of its first
// byte through its last, whatever was removed before it, inside it (one
// character or several in a row) or after it.
TEST(SecretViews, SplitSecretSpansTheSecretsFirstToLastByteInTheText) {
  std::mt19937 rng(15);
  const std::vector<std::string> hiders = {"\u2060", "\u00AD", "\u200B", "\U000E0041"};
  for (int round = 0; round < 200; ++round) {
    std::string text = "note";
    for (int k = static_cast<int>(rng() % 4); k > 0; --k) text += hiders[rng() % hiders.size()];
    text += " x\u200By token: ";
    const size_t first = text.size();
    size_t last = 0;
    for (size_t k = 0; k < kPat.size(); ++k) {
      last = text.size();
      text += kPat[k];
      // Inside the key only: a hider after its last byte is not part of it.
      if (k > 0 && k + 1 < kPat.size() && rng() % 8 == 0) {
        for (int n = 1 + static_cast<int>(rng() % 2); n > 0; --n)
          text += hiders[rng() % hiders.size()];
      }
    }
    const bool split = text.size() - first != kPat.size();
    text += hiders[rng() % hiders.size()];
    text += " end\n";
    const auto fs = ScanAll(text);
    size_t found = 0;
    for (const Finding& f : fs) {
      if (f.rule != "secret/github-pat") continue;
      ++found;
      EXPECT_EQ(f.byte_offset, first) << text;
      EXPECT_EQ(f.byte_offset + f.byte_length, last + 1) << text;
      EXPECT_EQ(f.message.find("split by invisible") != std::string::npos, split) << text;
    }
    EXPECT_EQ(found, 1u) << text;
  }
}

TEST(SecretViews, APlainSecretIsReportedOnce) {
  const auto fs = ScanAll("token: " + kPat + " and a\u200Bb\n");
  size_t n = 0;
  for (const Finding& f : fs) n += f.rule == "secret/github-pat";
  EXPECT_EQ(n, 1u);
}

// Regression (issue 15, json-escapes-only-in-jsonl): \u escapes in a .json
// document were not decoded.
TEST(SecretViews, RegressionDecodesJsonEscapesInAnyJsonDocument) {
  const std::string json =
      "{\n  // settings\n  \"gh\": \"ghp_aBcD1234eFgH5678\\u0069JkL9012mNoP3456qRsT\"\n}\n";
  EXPECT_TRUE(Has(ScanAll(json, JsonSyntax::kDocument), "secret/github-pat", "JSON \\u escapes"));
  EXPECT_FALSE(Has(ScanAll(json, JsonSyntax::kNone), "secret/github-pat", ""));
}

// Regression (issue 15, base64-not-decoded): a Kubernetes Secret's data and a
// base64 AWS key.
TEST(SecretViews, RegressionDecodesBase64ValuesWithTheirContext) {
  const std::string k8s = "apiVersion: v1\nkind: Secret\ndata:\n  AWS_ACCESS_KEY_ID: " +
                          Base64("AKIAZ7Q3XK5M2PLW4RTY") + "\n  github: " + Base64(kPat) + "\n";
  const auto fs = ScanAll(k8s);
  EXPECT_TRUE(Has(fs, "secret/aws-access-key-id", "base64-encoded"));
  EXPECT_TRUE(Has(fs, "secret/github-pat", "base64-encoded"));
}

TEST(SecretViews, DecodesNestedBase64UpToTheDepth) {
  const std::string twice = "blob = \"" + Base64("config: " + Base64("token=" + kPat)) + "\"\n";
  EXPECT_TRUE(Has(ScanAll(twice), "secret/github-pat", "base64-encoded"));
  auto scratch = Builtin().NewScratch();
  std::vector<Finding> out;
  SecretViewOptions one;
  one.max_decode_depth = 1;
  ASSERT_TRUE(ScanSecretViews(Builtin(), twice, one, *scratch, {}, &out).ok());
  EXPECT_FALSE(Has(out, "secret/github-pat", ""));
}

TEST(SecretViews, BenignBase64AndIdentifiersGiveNothing) {
  const std::string text = "img = \"data:image/png;base64," +
                           Base64(std::string(120, '\x01') + "\x89PNG") + "\"\nmsg = \"" +
                           Base64("The quick brown fox jumps over the lazy dog again and again") +
                           "\"\nThisIsAVeryLongCamelCaseIdentifierNameForTesting = 1\n";
  EXPECT_TRUE(ScanAll(text).empty());
}

}  // namespace
// The candidate search of every SIMD level the CPU has finds exactly the
// runs a byte-at-a-time walk finds (maximal runs of 27 or more alphabet
// bytes) and says alike whether a byte past ASCII occurred: on random text
// of alphabet and other bytes, runs of 26 to 28 bytes and of several chunks
// placed across the 64-byte chunk edges, '=' padding, and non-ASCII bytes
// anywhere, the short tail included.
TEST(SecretViews, Base64CandidateSearchOfEveryLevelMatchesAPlainWalk) {
  auto reference = [](std::string_view text, bool* non_ascii) {
    std::vector<std::pair<size_t, size_t>> runs;
    *non_ascii = false;
    size_t i = 0;
    while (i < text.size()) {
      const auto c = static_cast<unsigned char>(text[i]);
      *non_ascii = *non_ascii || c >= 0x80;
      if (Base64Digit(c) < 0) {
        ++i;
        continue;
      }
      size_t e = i;
      while (e < text.size() && Base64Digit(static_cast<unsigned char>(text[e])) >= 0) ++e;
      if (e - i >= 27) runs.emplace_back(i, e);
      i = e;
    }
    return runs;
  };
  using utf::internal::ScanLevel;
  std::mt19937 rng(27);
  const std::string alphabet = "ABCxyz0189+/_-";
  const std::string other = " \n.,:=\"'%\\";
  const std::vector<std::string> wide = {"\u00e9", "\u2060", "\xff", "\x80"};
  size_t compared = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    const size_t target = rng() % 400;
    while (text.size() < target) {
      switch (rng() % 6) {
        case 0:  // a run near the length that counts
          text += std::string(26 + rng() % 3, alphabet[rng() % alphabet.size()]);
          break;
        case 1:  // a long run, across chunk edges
          for (size_t k = 40 + rng() % 200; k > 0; --k) text += alphabet[rng() % alphabet.size()];
          break;
        case 2:
          text += std::string(1 + rng() % 3, '=');
          break;
        case 3:
          if (rng() % 4 == 0) text += wide[rng() % wide.size()];
          break;
        default:
          for (size_t k = 1 + rng() % 12; k > 0; --k) {
            text +=
                rng() % 3 == 0 ? other[rng() % other.size()] : alphabet[rng() % alphabet.size()];
          }
      }
    }
    bool want_non_ascii = false;
    const auto want = reference(text, &want_non_ascii);
    for (ScanLevel level : {ScanLevel::kSse2, ScanLevel::kAvx2, ScanLevel::kAvx512}) {
      if (!utf::internal::CpuSupports(level)) continue;
      bool non_ascii = !want_non_ascii;
      EXPECT_EQ(internal::Base64RunsAt(level, text, &non_ascii), want)
          << "level " << static_cast<int>(level) << ": " << text;
      EXPECT_EQ(non_ascii, want_non_ascii) << "level " << static_cast<int>(level) << ": " << text;
      ++compared;
    }
  }
  EXPECT_GE(compared, 3000u);
  // Edge cases: empty, all alphabet, all other, one run ending at the end.
  for (const std::string& text :
       {std::string(), std::string(64, 'A'), std::string(130, 'A'), std::string(200, ' '),
        std::string(37, ' ') + std::string(27, 'b'), std::string(63, 'c') + "\u00e9"}) {
    bool want_non_ascii = false;
    const auto want = reference(text, &want_non_ascii);
    for (ScanLevel level : {ScanLevel::kSse2, ScanLevel::kAvx2, ScanLevel::kAvx512}) {
      if (!utf::internal::CpuSupports(level)) continue;
      bool non_ascii = false;
      EXPECT_EQ(internal::Base64RunsAt(level, text, &non_ascii), want) << text;
      EXPECT_EQ(non_ascii, want_non_ascii) << text;
    }
  }
}

// The invisible view skips texts that the base64 pass found all ASCII: the
// views with that pass (depth 2) must find every split secret that they find
// without it (depth 0, where the invisible view checks the text itself), with
// the invisible character anywhere relative to the pass's 64-byte chunks,
// among base64 runs, other non-ASCII text or none, and in the short tail.
TEST(SecretViews, Base64PassSeesEveryNonAsciiByteTheInvisibleViewNeeds) {
  std::mt19937 rng(15);
  const std::string filler = "abcXYZ019+/ =_-.,;:\n\"'";
  const std::vector<std::string> invisible = {"\u200b", "\u2060", "\u00ad", "\ufeff", "\U000e0041"};
  auto split_findings = [](std::string_view text, int depth) {
    auto scratch = Builtin().NewScratch();
    std::vector<Finding> plain;
    EXPECT_TRUE(Builtin().Scan(text, *scratch, &plain).ok());
    std::vector<Finding> views;
    SecretViewOptions o;
    o.max_decode_depth = depth;
    EXPECT_TRUE(ScanSecretViews(Builtin(), text, o, *scratch, plain, &views).ok());
    std::vector<std::string> split;
    for (const Finding& f : views) {
      if (f.message.find("split by invisible") != std::string::npos) {
        split.push_back(f.rule + "@" + std::to_string(f.byte_offset));
      }
    }
    return split;
  };
  size_t with_split = 0;
  for (int round = 0; round < 300; ++round) {
    std::string text;
    const size_t before = rng() % 300;
    for (size_t k = 0; k < before; ++k) text += filler[rng() % filler.size()];
    if (rng() % 3 == 0) text += Base64(std::string(40 + rng() % 100, 'q'));
    std::string key = kPat;
    key.insert(4 + rng() % (key.size() - 5), invisible[rng() % invisible.size()]);
    text += "token = " + key;
    if (rng() % 2 == 0) text += " \u00e9t\u00e9 ";  // other non-ASCII text after it
    for (size_t k = rng() % 80; k > 0; --k) text += filler[rng() % filler.size()];
    const auto fast = split_findings(text, 2);
    EXPECT_EQ(fast, split_findings(text, 0)) << text;
    with_split += fast.empty() ? 0 : 1;
  }
  EXPECT_GE(with_split, 250u);
  // ASCII only: nothing split, with and without the pass.
  EXPECT_TRUE(split_findings("token = " + kPat + std::string(100, 'x'), 2).empty());
}

// The scanner walks a JSON document's escaped strings once and hands them to
// the hidden-text detector and the secret views; each must find what its own
// walk finds, on documents with and without comments, URLs ("//" in a
// string), escaped secrets and escaped invisible characters.
TEST(SecretViews, SharedJsonStringsFindWhatEachOwnWalkFinds) {
  std::mt19937 rng(20);
  const std::vector<std::string> pieces = {
      R"("a": "plain")",
      R"("u": "https://example.com/x")",
      R"("k": "gh\u0070_aBcD1234eFgH5678iJkL9012mNoP3456qRsT")",
      R"("z": "admin\u200bistrator")",
      R"("t": "\u0041\u0042")",
      R"("n": 12)",
      "// a comment\n",
      "/* block */",
      R"("e": "caf\u00e9")",
      R"("s": "tab\tend")"};
  auto key = [](const Finding& f) {
    return f.rule + "@" + std::to_string(f.byte_offset) + ":" + f.message;
  };
  for (int round = 0; round < 200; ++round) {
    std::string doc = "{";
    const size_t n = 1 + rng() % 6;
    for (size_t k = 0; k < n; ++k) {
      const std::string& piece = pieces[rng() % pieces.size()];
      const bool member = piece[0] == '"';
      if (member && doc.back() != '{' && doc.back() != '\n') doc += ", ";
      doc += member ? piece : " " + piece;
    }
    doc += "}";
    if (rng() % 4 == 0) doc.resize(rng() % doc.size());  // a document cut short
    const std::vector<EscapedJsonString> shared = EscapedJsonStrings(doc);
    std::vector<Finding> own, given;
    HiddenTextDetector().ScanJsonEscapes(doc, JsonSyntax::kDocument, &own);
    HiddenTextDetector().ScanJsonEscapes(doc, JsonSyntax::kDocument, &given, &shared);
    ASSERT_EQ(own.size(), given.size()) << doc;
    for (size_t k = 0; k < own.size(); ++k) EXPECT_EQ(key(own[k]), key(given[k])) << doc;
    auto scratch = Builtin().NewScratch();
    SecretViewOptions o;
    o.json = JsonSyntax::kDocument;
    std::vector<Finding> views_own, views_given;
    EXPECT_TRUE(ScanSecretViews(Builtin(), doc, o, *scratch, {}, &views_own).ok());
    o.json_strings = &shared;
    EXPECT_TRUE(ScanSecretViews(Builtin(), doc, o, *scratch, {}, &views_given).ok());
    ASSERT_EQ(views_own.size(), views_given.size()) << doc;
    for (size_t k = 0; k < views_own.size(); ++k)
      EXPECT_EQ(key(views_own[k]), key(views_given[k])) << doc;
  }
  // The escaped PAT is found through the shared strings.
  const std::string doc = R"({"k": "gh\u0070_aBcD1234eFgH5678iJkL9012mNoP3456qRsT"})";
  const std::vector<EscapedJsonString> shared = EscapedJsonStrings(doc);
  ASSERT_EQ(shared.size(), 1u);
  auto scratch = Builtin().NewScratch();
  SecretViewOptions o;
  o.json = JsonSyntax::kDocument;
  o.json_strings = &shared;
  std::vector<Finding> found;
  EXPECT_TRUE(ScanSecretViews(Builtin(), doc, o, *scratch, {}, &found).ok());
  EXPECT_TRUE(Has(found, "secret/github-pat", "JSON")) << doc;
}

}  // namespace glassbox
