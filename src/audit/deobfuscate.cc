#include "audit/deobfuscate.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>

#include "core/base64.h"
#include "core/utf.h"

namespace glassbox::audit {
namespace {

bool IsAsciiLetter(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiDigit(unsigned char c) { return c >= '0' && c <= '9'; }
bool IsVowel(unsigned char c) {
  switch (c | 0x20) {
    case 'a':
    case 'e':
    case 'i':
    case 'o':
    case 'u':
    case 'y':
      return true;
    default:
      return false;
  }
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
  }
  return true;
}

// A DNS label: letters, digits and inner hyphens, 1..63 bytes.
bool IsLabel(std::string_view label) {
  if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
    return false;
  for (unsigned char c : label) {
    if (!IsAsciiLetter(c) && !IsAsciiDigit(c) && c != '-') return false;
  }
  return true;
}

bool ValidUtf8NoControls(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F) return false;
      ++i;
      continue;
    }
    size_t len = 0;
    const int32_t cp =
        utf::DecodeOne(reinterpret_cast<const unsigned char*>(s.data()) + i, s.size() - i, &len);
    if (cp < 0xA0) return false;  // invalid (negative) or a C1 control
    i += len;
  }
  return true;
}

int HexValue(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Words that real hidden text (prompts, commands, field names) is full of
// and that random bytes almost never spell.
bool HasCommonWords(std::string_view s, size_t want) {
  static const char* kWords[] = {
      "the",     "and",      "you",     "your",     "for",     "with",    "that",    "this",
      "user",    "date",     "name",    "machine",  "error",   "request", "token",   "http",
      "api",     "key",      "file",    "time",     "zone",    "model",   "prompt",  "system",
      "session", "device",   "host",    "id",       "is",      "to",      "of",      "in",
      "on",      "etc",      "cat",     "echo",     "true",    "false",   "not",     "are",
      "can",     "from",     "all",     "use",      "get",     "set",     "data",    "url",
      "code",    "agent",    "config",  "password", "secret",  "shell",   "command", "process",
      "env",     "home",     "path",    "proxy",    "version", "region",  "country", "please",
      "answer",  "language", "chinese", "english",  "local",   "server",  "client",  "account",
      "email",   "phone",    "address", "network",  "open",    "read",    "write",   "exec",
      "run",     "bin",      "usr",     "var",      "tmp",     "dev",     "proc",    "sys"};
  std::string lower(s);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t found = 0;
  for (const char* w : kWords) {
    const std::string_view word(w);
    for (size_t at = lower.find(word); at != std::string::npos; at = lower.find(word, at + 1)) {
      const bool left = at == 0 || !std::isalpha(static_cast<unsigned char>(lower[at - 1]));
      const size_t end = at + word.size();
      const bool right =
          end >= lower.size() || !std::isalpha(static_cast<unsigned char>(lower[end]));
      if (left && right) {
        ++found;
        break;
      }
    }
    if (found >= want) return true;
  }
  return false;
}

// Letters that read like a language rather than bytes that happen to be
// printable: no letter repeated four times running, enough distinct letters
// for the length, vowels between 15 % and 70 % of the letters, and most
// letter runs pronounceable (a vowel, no five consonants in a row).
bool ReadsAsLanguage(std::string_view text) {
  size_t letters = 0, vowels = 0, same = 0, tokens = 0, pronounceable = 0;
  std::array<bool, 26> seen{};
  size_t distinct = 0;
  unsigned char prev = 0;
  size_t run = 0, consonants = 0, max_consonants = 0;
  bool run_vowel = false;
  for (size_t i = 0; i <= text.size(); ++i) {
    const unsigned char c = i < text.size() ? static_cast<unsigned char>(text[i]) : ' ';
    // A camelCase step ("deviceId") ends a run as a space does.
    const bool camel =
        IsAsciiLetter(c) && run > 0 && c >= 'A' && c <= 'Z' && prev >= 'a' && prev <= 'z';
    if (!IsAsciiLetter(c) || camel) {
      if (run >= 3) {
        ++tokens;
        pronounceable += run_vowel && max_consonants < 5;
      }
      run = consonants = max_consonants = 0;
      run_vowel = false;
    }
    if (IsAsciiLetter(c)) {
      ++letters;
      ++run;
      const unsigned char lower = static_cast<unsigned char>(c | 0x20);
      if (!seen[lower - 'a']) {
        seen[lower - 'a'] = true;
        ++distinct;
      }
      const bool vowel =
          lower == 'a' || lower == 'e' || lower == 'i' || lower == 'o' || lower == 'u';
      vowels += vowel;
      run_vowel |= vowel || lower == 'y';
      consonants = vowel || lower == 'y' ? 0 : consonants + 1;
      max_consonants = std::max(max_consonants, consonants);
      same = c == prev ? same + 1 : 0;
      if (same >= 3) return false;
    } else {
      same = 0;
    }
    prev = c;
  }
  if (letters < 3) return false;
  if (distinct < std::min<size_t>(letters / 2, 6)) return false;
  if (letters >= 6 && (vowels * 100 < letters * 15 || vowels * 100 > letters * 70)) return false;
  return tokens > 0 && pronounceable * 10 >= tokens * 7;
}

// Text from many XOR trials must be unmistakable: a shape, or two or more
// real-looking words.
bool StrongEnough(std::string_view text, TextShape shape) {
  if (shape != TextShape::kWords) return shape != TextShape::kNone;
  int words = 0;
  size_t run = 0;
  bool vowel = false;
  bool consonant = false;
  for (size_t i = 0; i <= text.size(); ++i) {
    const unsigned char c = i < text.size() ? static_cast<unsigned char>(text[i]) : ' ';
    if (IsAsciiLetter(c)) {
      ++run;
      (IsVowel(c) ? vowel : consonant) = true;
    } else {
      if (run >= 3 && vowel && consonant) ++words;
      run = 0;
      vowel = consonant = false;
    }
  }
  return words >= 2 && ReadsAsLanguage(text) && HasCommonWords(text, text.size() < 24 ? 1 : 2);
}

}  // namespace

std::string_view TextShapeName(TextShape shape) {
  switch (shape) {
    case TextShape::kNone:
      return "none";
    case TextShape::kWords:
      return "text";
    case TextShape::kDomain:
      return "domain";
    case TextShape::kUrl:
      return "url";
    case TextShape::kTimezone:
      return "timezone";
    case TextShape::kEmail:
      return "email";
    case TextShape::kPath:
      return "path";
  }
  return "none";
}

bool IsHostName(std::string_view s, const ShapeData& data) {
  if (s.size() < 4 || s.size() > 253) return false;
  if (s.front() == '.') s.remove_prefix(1);       // ".corp.example.com" suffix lists
  if (s.rfind("*.", 0) == 0) s.remove_prefix(2);  // wildcard entries
  size_t labels = 0;
  bool has_letter = false;
  std::string_view last;
  size_t start = 0;
  while (start <= s.size()) {
    size_t dot = s.find('.', start);
    if (dot == std::string_view::npos) dot = s.size();
    std::string_view label = s.substr(start, dot - start);
    if (!IsLabel(label)) return false;
    for (unsigned char c : label) has_letter |= IsAsciiLetter(c);
    ++labels;
    last = label;
    start = dot + 1;
  }
  if (labels < 2 || !has_letter) return false;
  for (const std::string& tld : data.tlds) {
    if (EqualsIgnoreCase(tld, last)) return true;
  }
  return false;
}

bool IsTimezoneName(std::string_view s, const ShapeData& data) {
  const size_t slash = s.find('/');
  if (slash == std::string_view::npos || slash + 2 > s.size()) return false;
  const std::string_view area = s.substr(0, slash);
  if (std::find(data.timezone_areas.begin(), data.timezone_areas.end(), area) ==
      data.timezone_areas.end()) {
    return false;
  }
  std::string_view rest = s.substr(slash + 1);
  if (!std::isupper(static_cast<unsigned char>(rest.front())) && area != "Etc") return false;
  for (unsigned char c : rest) {
    if (!IsAsciiLetter(c) && !IsAsciiDigit(c) && c != '_' && c != '/' && c != '-' && c != '+')
      return false;
  }
  return true;
}

TextShape ClassifyText(std::string_view s, const ShapeData& data) {
  if (s.size() < 3 || !ValidUtf8NoControls(s)) return TextShape::kNone;
  for (std::string_view scheme : {"https://", "http://", "wss://", "ws://"}) {
    if (s.rfind(scheme, 0) == 0 && s.size() > scheme.size() + 3 &&
        s.find(' ') == std::string_view::npos) {
      return TextShape::kUrl;
    }
  }
  if (IsTimezoneName(s, data)) return TextShape::kTimezone;
  if (IsHostName(s, data)) return TextShape::kDomain;
  const size_t at = s.find('@');
  if (at != std::string_view::npos && at > 0 && IsHostName(s.substr(at + 1), data) &&
      s.find(' ') == std::string_view::npos) {
    return TextShape::kEmail;
  }
  if (s.front() == '/' && s.size() >= 4 && s.find(' ') == std::string_view::npos) {
    size_t letters = 0;
    for (unsigned char c : s) letters += IsAsciiLetter(c);
    if (letters * 2 >= s.size()) return TextShape::kPath;
  }
  // Words: mostly letters and spaces, a little punctuation, and at least one
  // run of three or more letters with both a vowel and a consonant.
  size_t letters = 0;
  size_t spaces = 0;
  size_t other = 0;
  size_t run = 0;
  bool vowel = false;
  bool consonant = false;
  bool word = false;
  for (size_t i = 0; i <= s.size(); ++i) {
    const unsigned char c = i < s.size() ? static_cast<unsigned char>(s[i]) : ' ';
    if (IsAsciiLetter(c)) {
      ++letters;
      ++run;
      (IsVowel(c) ? vowel : consonant) = true;
      continue;
    }
    if (run >= 3 && vowel && consonant) word = true;
    run = 0;
    vowel = consonant = false;
    if (i == s.size()) break;
    if (c == ' ' || c == '\n' || c == '\t') {
      ++spaces;
    } else if (c >= 0x80) {
      ++letters;  // a byte of a non-ASCII letter; counted generously
    } else if (!IsAsciiDigit(c) &&
               std::string_view(".,:;-_'\"!?()/&%+#@=").find(static_cast<char>(c)) ==
                   std::string_view::npos) {
      ++other;
    }
  }
  if (!word) return TextShape::kNone;
  if ((letters + spaces) * 10 < s.size() * 7) return TextShape::kNone;
  if (other * 10 > s.size()) return TextShape::kNone;
  return TextShape::kWords;
}

std::optional<std::string> DecodeBase64(std::string_view s, size_t min_chars) {
  while (!s.empty() && s.back() == '=') s.remove_suffix(1);
  if (s.size() < min_chars) return std::nullopt;
  // Identifiers and words ("constructor") are valid base64 too; real base64
  // of text mixes cases.
  const bool upper =
      std::any_of(s.begin(), s.end(), [](unsigned char c) { return c >= 'A' && c <= 'Z'; });
  const bool lower =
      std::any_of(s.begin(), s.end(), [](unsigned char c) { return c >= 'a' && c <= 'z'; });
  if (!upper || !lower) return std::nullopt;
  return Base64Decode(s);
}

std::optional<std::string> DecodeHex(std::string_view s, size_t min_chars) {
  if (s.size() < min_chars || s.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(s.size() / 2);
  for (size_t i = 0; i < s.size(); i += 2) {
    const int hi = HexValue(static_cast<unsigned char>(s[i]));
    const int lo = HexValue(static_cast<unsigned char>(s[i + 1]));
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

std::optional<std::string> CodePointsToUtf8(const std::vector<uint32_t>& code_points) {
  std::string out;
  for (uint32_t cp : code_points) {
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
    utf::AppendUtf8(static_cast<char32_t>(cp), &out);
  }
  return out;
}

std::string XorKey::Label() const {
  if (bytes.size() == 1) return fmt::format("0x{:02x}", static_cast<unsigned char>(bytes[0]));
  std::string label = "\"";
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
      label.push_back(static_cast<char>(c));
    } else {
      label += fmt::format("\\x{:02x}", c);
    }
  }
  return label + "\"";
}

std::string XorBytes(std::string_view data, std::string_view key) {
  std::string out(data);
  if (key.empty()) return out;
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(out[i] ^ key[i % key.size()]);
  return out;
}

std::optional<std::string> XorCodePoints(const std::vector<uint32_t>& code_points,
                                         std::string_view key) {
  if (key.empty()) return std::nullopt;
  std::vector<uint32_t> x(code_points.size());
  for (size_t i = 0; i < code_points.size(); ++i) {
    x[i] = code_points[i] ^ static_cast<unsigned char>(key[i % key.size()]);
  }
  return CodePointsToUtf8(x);
}

namespace {

// One layer: base64 or hex of `s`; appends candidates with their encoding.
void DecodeLayer(std::string_view s, std::vector<std::pair<std::string, std::string>>* out) {
  if (auto hex = DecodeHex(s)) {
    out->emplace_back("hex", std::move(*hex));
  } else if (auto b64 = DecodeBase64(s)) {
    out->emplace_back("base64", std::move(*b64));
  }
}

std::optional<Decoding> Judge(std::string encoding, std::string text, const ShapeData& data,
                              bool strict) {
  const TextShape shape = ClassifyText(text, data);
  if (shape == TextShape::kNone) return std::nullopt;
  if (strict && !StrongEnough(text, shape)) return std::nullopt;
  // A short decoded result needs more than printable letters ("zwGjwez").
  if (!strict && shape == TextShape::kWords && text.size() < 24 && !ReadsAsLanguage(text))
    return std::nullopt;
  return Decoding{std::move(encoding), std::move(text), shape};
}

std::optional<Decoding> TryKeys(const std::string& encoding, std::string_view bytes,
                                const std::vector<XorKey>& keys, const ShapeData& data) {
  for (const XorKey& key : keys) {
    if (auto d = Judge(fmt::format("{}+xor({})", encoding, key.Label()), XorBytes(bytes, key.bytes),
                       data, true)) {
      return d;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<Decoding> DecodeStringLiteral(std::string_view literal,
                                            const std::vector<XorKey>& keys, const ShapeData& data,
                                            size_t max_input) {
  if (literal.size() < 8 || literal.size() > max_input) return std::nullopt;
  std::vector<std::pair<std::string, std::string>> layer;
  DecodeLayer(literal, &layer);
  for (int depth = 0; depth < 3 && !layer.empty(); ++depth) {
    auto [encoding, bytes] = std::move(layer.front());
    layer.clear();
    if (auto d = Judge(encoding, bytes, data, false)) {
      // A decoded result that is itself base64 or hex of text goes one deeper.
      std::vector<std::pair<std::string, std::string>> next;
      DecodeLayer(d->text, &next);
      if (!next.empty()) {
        if (auto deeper =
                Judge(encoding + "+" + next.front().first, next.front().second, data, false))
          return deeper;
      }
      return d;
    }
    if (auto d = TryKeys(encoding, bytes, keys, data)) return d;
    DecodeLayer(bytes, &layer);
    for (auto& [enc, b] : layer) enc = encoding + "+" + enc;
  }
  return std::nullopt;
}

std::optional<Decoding> DecodeCharCodes(const std::vector<uint32_t>& code_points,
                                        const std::vector<XorKey>& keys, const ShapeData& data) {
  if (code_points.size() < 4) return std::nullopt;
  if (auto text = CodePointsToUtf8(code_points)) {
    if (auto d = Judge("charcodes", *text, data, code_points.size() < 8)) return d;
  }
  for (const XorKey& key : keys) {
    if (auto text = XorCodePoints(code_points, key.bytes)) {
      if (auto d =
              Judge(fmt::format("charcodes+xor({})", key.Label()), std::move(*text), data, true))
        return d;
    }
  }
  return std::nullopt;
}

}  // namespace glassbox::audit

namespace glassbox::audit {
namespace {

double PrintableRatio(std::string_view s, size_t limit) {
  size_t printable = 0, n = std::min(s.size(), limit);
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    printable += (c >= 0x20 && c < 0x7F) || c == '\n' || c == '\t';
  }
  return n == 0 ? 0 : static_cast<double>(printable) / static_cast<double>(n);
}

}  // namespace

TextShape ScoreAsText(std::string_view s, const ShapeData& data) {
  if (s.size() < 6 || PrintableRatio(s, s.size()) < 0.97) return TextShape::kNone;
  // A list: items between separators, most of them domains, URLs, time zones.
  for (char sep : {',', ';', '|', '\n'}) {
    if (s.find(sep) == std::string_view::npos) continue;
    size_t items = 0, shaped = 0;
    std::map<TextShape, size_t> shapes;
    for (size_t b = 0; b <= s.size();) {
      size_t e = s.find(sep, b);
      if (e == std::string_view::npos) e = s.size();
      std::string_view item = s.substr(b, e - b);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      if (!item.empty()) {
        ++items;
        const TextShape shape = ClassifyText(item, data);
        if (shape == TextShape::kDomain || shape == TextShape::kUrl ||
            shape == TextShape::kTimezone || shape == TextShape::kEmail) {
          ++shaped;
          ++shapes[shape];
        }
      }
      b = e + 1;
    }
    if (items >= 2 && shaped * 10 >= items * 6) {
      return std::max_element(shapes.begin(), shapes.end(),
                              [](auto& a, auto& b) { return a.second < b.second; })
          ->first;
    }
  }
  const TextShape shape = ClassifyText(s, data);
  if (shape == TextShape::kDomain || shape == TextShape::kUrl || shape == TextShape::kTimezone ||
      shape == TextShape::kEmail || shape == TextShape::kPath) {
    return shape;
  }
  // Words: dictionary hits (two, or three for a long text), and letters
  // that read as a language; a short result needs more than being printable.
  if (ReadsAsLanguage(s) && HasCommonWords(s, s.size() < 24 ? 2 : 3)) return TextShape::kWords;
  return TextShape::kNone;
}

std::optional<KeySearchHit> SearchXorKey(std::string_view literal,
                                         const std::vector<std::string>& repeating_keys,
                                         const ShapeData& data) {
  if (literal.size() < 16 || literal.size() > 8192) return std::nullopt;
  std::string bytes, layer;
  if (auto b = DecodeBase64(literal, 16)) {
    bytes = std::move(*b);
    layer = "base64";
  } else if (auto h = DecodeHex(literal, 16)) {
    bytes = std::move(*h);
    layer = "hex";
  } else {
    return std::nullopt;
  }
  auto judge = [&](const std::string& key) -> std::optional<KeySearchHit> {
    // Cheap test on the first bytes before the whole string.
    size_t printable = 0;
    const size_t n = std::min<size_t>(bytes.size(), 24);
    for (size_t i = 0; i < n; ++i) {
      const unsigned char c = static_cast<unsigned char>(bytes[i] ^ key[i % key.size()]);
      printable += c >= 0x20 && c < 0x7F;
    }
    if (printable * 10 < n * 9) return std::nullopt;
    std::string text = XorBytes(bytes, key);
    const TextShape shape = ScoreAsText(text, data);
    if (shape == TextShape::kNone) return std::nullopt;
    return KeySearchHit{
        Decoding{layer + "+xor(" + XorKey{key}.Label() + ")", std::move(text), shape}, key};
  };
  for (int k = 1; k < 256; ++k) {
    if (auto hit = judge(std::string(1, static_cast<char>(k)))) return hit;
  }
  for (const std::string& key : repeating_keys) {
    if (key.size() < 2) continue;
    if (auto hit = judge(key)) return hit;
  }
  return std::nullopt;
}

}  // namespace glassbox::audit
