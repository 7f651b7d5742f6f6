#include "gate/text_policy.h"

#include <algorithm>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/hidden_text.h"
#include "core/json_strings.h"
#include "core/json_writer.h"
#include "core/unicode.h"
#include "core/utf.h"

namespace glassbox::gate {

namespace {

// Findings whose fixes the gate applies: hidden content. Look-alike
// punctuation, unusual spaces and control characters (ANSI colours in tool
// output) are left as sent.
bool StrippedRule(std::string_view rule) {
  return rule == "unicode/tag-characters" || rule == "unicode/invisible-characters" ||
         rule == "unicode/bidi-control" || rule == "unicode/variation-selectors";
}

// End of the string literal whose opening quote is at `open`.
size_t LiteralEnd(std::string_view json, size_t open) {
  for (size_t i = open + 1; i < json.size(); ++i) {
    if (json[i] == '\\') {
      ++i;
    } else if (json[i] == '"') {
      return i + 1;
    }
  }
  return json.size();
}

}  // namespace

bool HasUnicodeEscape(std::string_view raw_json) {
  // Blocks without a backslash are skipped whole (16 bytes at a time with
  // SSE2, else 8). The character after a backslash is never taken for the
  // start of an escape, so "\\\\u" (an escaped backslash, then u) is no \u
  // escape; a pair may straddle two blocks, and the scan then resumes inside
  // the next one.
  const char* p = raw_json.data();
  const size_t n = raw_json.size();
  size_t i = 0;
  // Scalar scan of [i, end): returns true on a \u escape; leaves i at or
  // past end (a pair that straddles `end` moves i one past it).
  auto scan_until = [&](size_t end) {
    while (i < end) {
      if (p[i] != '\\') {
        ++i;
        continue;
      }
      if (i + 1 < n && p[i + 1] == 'u') return true;
      i += 2;
    }
    return false;
  };
#if defined(__SSE2__)
  const __m128i backslashes = _mm_set1_epi8('\\');
  while (i + 16 <= n) {
    const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    if (_mm_movemask_epi8(_mm_cmpeq_epi8(block, backslashes)) == 0) {
      i += 16;
      continue;
    }
    if (scan_until(i + 16)) return true;
  }
#else
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  constexpr uint64_t kBackslashes = 0x5C5C5C5C5C5C5C5CULL;
  while (i + 8 <= n) {
    uint64_t word;
    std::memcpy(&word, p + i, 8);
    const uint64_t x = word ^ kBackslashes;
    if (((x - kOnes) & ~x & kHigh) == 0) {
      i += 8;
      continue;
    }
    if (scan_until(i + 8)) return true;
  }
#endif
  return scan_until(n);
}

bool MayHoldHiddenText(std::string_view raw_json) {
  if (HasUnicodeEscape(raw_json)) return true;
  return !utf::IsAscii(raw_json);
}

namespace {

// The invisible format characters that prose uses for typesetting (ZWNJ,
// word joiner, soft hyphen, combining grapheme joiner) and a watermark uses
// one per word: in UTF-8, U+200C, U+2060, U+00AD, U+034F.
bool HasFormatJoiner(std::string_view text) {
  return text.find("\xE2\x80\x8C") != std::string_view::npos ||
         text.find("\xE2\x81\xA0") != std::string_view::npos ||
         text.find("\xC2\xAD") != std::string_view::npos ||
         text.find("\xCD\x8F") != std::string_view::npos;
}

bool IsFormatJoiner(char32_t c) { return c == 0x200C || c == 0x2060 || c == 0x00AD || c == 0x034F; }

// The core detector's decision for prose keeps those characters inside any
// word (ligature control, hyphenation hints). What an agent sends or
// receives is read by machines, so the gate takes the detector's decision
// for machine text for these four: kept where the script uses them (ZWNJ
// in Arabic, Persian and Indic words; emoji sequences use ZWJ, which this
// does not touch), stripped and reported inside words of other scripts.
// Everything else keeps the prose decision. Appends to *found the machine
// text findings for these characters that the prose pass let through.
void AddFormatJoinerFindings(const HiddenTextDetector& detector, std::string_view text,
                             std::vector<Finding>* found) {
  if (!HasFormatJoiner(text)) return;
  std::vector<Finding> machine;
  detector.Scan(text, TextContext{TextKind::kConfig, false}, &machine);
  for (Finding& f : machine) {
    if (f.rule != "unicode/invisible-characters" || f.codepoints.empty()) continue;
    if (!std::all_of(f.codepoints.begin(), f.codepoints.end(), IsFormatJoiner)) continue;
    // The prose pass may report the character and keep it (a soft hyphen
    // between ASCII letters is a hyphenation hint to clean): the machine
    // decision, which removes it, takes that finding's place.
    auto seen = std::find_if(found->begin(), found->end(), [&](const Finding& g) {
      return g.rule == f.rule && g.byte_offset == f.byte_offset;
    });
    if (seen != found->end() && !seen->fixes.empty()) continue;
    f.severity = std::max(f.severity, Severity::kMedium);
    f.message += " (inside a word of a script that does not use it)";
    if (seen != found->end()) {
      *seen = std::move(f);
    } else {
      found->push_back(std::move(f));
    }
  }
}

// One detector pass: applies the fixes of the stripped rules. Findings go to
// *findings when it is not null.
std::optional<std::string> StripOnce(std::string_view text, const std::string& path,
                                     std::vector<Finding>* findings) {
  static const HiddenTextDetector detector;
  std::vector<Finding> found;
  detector.Scan(text, TextContext{TextKind::kProse, false}, &found);
  AddFormatJoinerFindings(detector, text, &found);
  struct Cut {
    uint64_t begin, end;
    size_t finding;
  };
  std::vector<Cut> cuts;
  for (size_t i = 0; i < found.size(); ++i) {
    if (!StrippedRule(found[i].rule)) continue;
    for (const Fix& fix : found[i].fixes) {
      if (fix.replacement.empty() && fix.begin < fix.end && fix.end <= text.size()) {
        cuts.push_back({fix.begin, fix.end, i});
      }
    }
  }
  if (cuts.empty()) return std::nullopt;
  std::sort(cuts.begin(), cuts.end(), [](const Cut& a, const Cut& b) { return a.begin < b.begin; });
  std::string out;
  out.reserve(text.size());
  uint64_t pos = 0;
  std::vector<bool> reported(found.size(), false);
  for (const Cut& c : cuts) {
    if (c.begin < pos) continue;  // overlapping fixes: the first wins
    out.append(text.substr(pos, c.begin - pos));
    pos = c.end;
    if (findings != nullptr && !reported[c.finding]) {
      reported[c.finding] = true;
      Finding f = std::move(found[c.finding]);
      f.json_path = path;
      f.fixes.clear();
      findings->push_back(std::move(f));
    }
  }
  out.append(text.substr(pos));
  // Removing a character between the halves of a broken sequence cannot glue
  // them into a new one here: the strings are valid UTF-8 (checked or
  // decoded by the JSON walker), so every cut lies on code point boundaries.
  return out;
}

}  // namespace

bool MayHoldStrippable(std::string_view text) {
  const UnicodeData& data = UnicodeData::Get();
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  for (size_t i = utf::NextInteresting(text, 0); i < text.size();
       i = utf::NextInteresting(text, i)) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    const int32_t cp = utf::DecodeOne(p + i, text.size() - i, &len);
    i += len == 0 ? 1 : len;
    if (cp < 0) return true;  // let the detector judge broken text
    if (IsHiddenClass(data.Classify(static_cast<char32_t>(cp)))) return true;
    if (cp == 0x034F) return true;  // combining grapheme joiner (a mark, but invisible)
  }
  return false;
}

std::optional<std::string> StripHiddenText(std::string_view text, const std::string& path,
                                           std::vector<Finding>* findings) {
  if (utf::IsAscii(text) || !MayHoldStrippable(text)) return std::nullopt;
  std::optional<std::string> current = StripOnce(text, path, findings);
  // The detector lists at most 10,000 findings per text (and one summary of
  // the rest), and a removal can leave a joiner that no longer joins
  // anything: repeat until nothing changes. Only the first pass reports.
  for (int pass = 0; current && pass < 64; ++pass) {
    std::optional<std::string> next = StripOnce(*current, path, nullptr);
    if (!next) break;
    current = std::move(next);
  }
  return current;
}

namespace {

// A key as the JSON walker writes it into a path: ".name" or ["other key"].
std::string PathSegment(std::string_view key) {
  bool simple = !key.empty() && !(key[0] >= '0' && key[0] <= '9');
  for (char c : key) {
    simple = simple && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_');
  }
  if (simple) return "." + std::string(key);
  std::string out = "[\"";
  for (char c : key) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"]";
}

}  // namespace

std::optional<std::string> StripHiddenKey(std::string_view key, const std::string& key_path,
                                          std::vector<Finding>* findings) {
  std::vector<Finding> found;
  std::optional<std::string> stripped = StripHiddenText(key, "", &found);
  if (!stripped) return stripped;
  // The path names the key as it reads once cleaned, so no hidden character
  // reaches the finding (or the log) through it.
  std::string shown = key_path;
  const std::string raw = PathSegment(key);
  if (shown.ends_with(raw)) shown.resize(shown.size() - raw.size());
  shown += PathSegment(*stripped) + " (key)";
  for (Finding& f : found) {
    f.json_path = shown;
    findings->push_back(std::move(f));
  }
  return stripped;
}

Status EditJsonStrings(std::string_view json, const StringEdit& edit, std::string* out,
                       bool* changed, size_t max_depth, const ValueObserver* observe,
                       const StringEdit* key_edit) {
  struct Edit {
    size_t begin, end;
    std::string literal;
  };
  std::vector<Edit> edits;
  JsonWalkOptions options;
  options.visit_keys = key_edit != nullptr;
  options.max_depth = max_depth;
  options.visit_scalars = observe != nullptr;
  const Status st = ForEachJsonString(
      json,
      [&](const JsonStringVisit& v) {
        if (v.is_key) {
          std::optional<std::string> replacement = (*key_edit)(v.decoded, v.path, v.escaped);
          if (!replacement) return;
          Edit e{v.raw_offset, LiteralEnd(json, v.raw_offset), {}};
          JsonWriter::Escape(*replacement, &e.literal);
          edits.push_back(std::move(e));
          return;
        }
        if (observe != nullptr) (*observe)(v.path, v.decoded, v.is_string);
        if (!v.is_string) return;
        std::optional<std::string> replacement = edit(v.decoded, v.path, v.escaped);
        if (!replacement) return;
        Edit e{v.raw_offset, LiteralEnd(json, v.raw_offset), {}};
        JsonWriter::Escape(*replacement, &e.literal);
        edits.push_back(std::move(e));
      },
      options);
  out->clear();
  *changed = false;
  if (!st.ok()) return st;
  if (edits.empty()) return Status::Ok();
  size_t pos = 0;
  out->reserve(json.size());
  for (const Edit& e : edits) {
    out->append(json.substr(pos, e.begin - pos));
    out->append(e.literal);
    pos = e.end;
  }
  out->append(json.substr(pos));
  *changed = true;
  return Status::Ok();
}

bool LooksLikeJson(std::string_view text) {
  const size_t i = text.find_first_not_of(" \t\r\n");
  return i != std::string_view::npos && (text[i] == '{' || text[i] == '[');
}

}  // namespace glassbox::gate
