#include "scan/clean.h"

#include <algorithm>
#include <vector>

#include "core/hidden_text.h"
#include "core/locate.h"
#include "core/utf.h"

namespace glassbox::scan {

namespace {

// True when deleting the text between `left` and `right` would join an
// incomplete UTF-8 sequence at the end of `left` with stray continuation
// bytes at the start of `right` into a new character ("\xE2" U+200B "\x80\xAE"
// would become U+202E). Found by fuzz_hidden_text.
bool WouldGlue(std::string_view left, std::string_view right) {
  if (left.empty() || right.empty() || (static_cast<unsigned char>(right[0]) & 0xC0) != 0x80)
    return false;
  size_t k = left.size();
  while (k > 0 && left.size() - k < 3 && (static_cast<unsigned char>(left[k - 1]) & 0xC0) == 0x80)
    --k;
  if (k == 0) return false;
  --k;
  std::string joined(left.substr(k));
  joined.append(right.substr(0, 3));
  size_t len = 0;
  return utf::DecodeOne(reinterpret_cast<const unsigned char*>(joined.data()), joined.size(),
                        &len) != utf::kInvalidCodePoint &&
         len > left.size() - k;
}

// The length of the JSON escape \uXXXX (or a \uD8xx\uDCxx pair) at text[k], and its code
// point in *cp; 0 when there is none.
size_t JsonEscapeAt(std::string_view text, size_t k, uint32_t* cp) {
  auto hex4 = [&](size_t at, uint32_t* v) {
    if (at + 6 > text.size() || text[at] != '\\' || text[at + 1] != 'u') return false;
    *v = 0;
    for (size_t j = at + 2; j < at + 6; ++j) {
      const char c = text[j];
      const int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
      if (d < 0) return false;
      *v = *v * 16 + static_cast<uint32_t>(d);
    }
    return true;
  };
  uint32_t hi = 0;
  if (!hex4(k, &hi)) return 0;
  uint32_t lo = 0;
  if (hi >= 0xD800 && hi <= 0xDBFF && hex4(k + 6, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
    *cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
    return 12;
  }
  *cp = hi;
  return 6;
}

// One pass: applies every non-overlapping fix the detector proposes.
size_t CleanOnce(std::string_view text, TextKind kind, const CleanOptions& options,
                 std::string* out, CleanResult* result) {
  std::vector<Finding> findings;
  const HiddenTextDetector detector;
  detector.Scan(text, TextContext{kind, true}, &findings);
  detector.ScanJsonEscapes(text, options.json, &findings);
  std::vector<std::pair<Fix, const Finding*>> fixes;
  for (const Finding& f : findings) {
    for (const Fix& x : f.fixes) {
      if (CleanApplies(x, options.policy)) fixes.emplace_back(x, &f);
    }
  }
  std::stable_sort(fixes.begin(), fixes.end(),
                   [](const auto& a, const auto& b) { return a.first.begin < b.first.begin; });
  out->clear();
  out->reserve(text.size());
  size_t pos = 0;
  size_t applied = 0;
  for (const auto& [fix, finding] : fixes) {
    if (fix.begin < pos || fix.end > text.size() || fix.end < fix.begin) continue;  // overlapping
    out->append(text.substr(pos, fix.begin - pos));
    if (fix.replacement.empty() && WouldGlue(*out, text.substr(fix.end))) {
      out->append("\xEF\xBF\xBD");  // U+FFFD keeps the invalid bytes apart
    } else {
      out->append(fix.replacement);
    }
    pos = fix.end;
    ++applied;
    ++result->by_rule[finding->rule];
    // Count the code points the fix removed or replaced.
    const std::string_view removed = text.substr(fix.begin, fix.end - fix.begin);
    const auto* p = reinterpret_cast<const unsigned char*>(removed.data());
    for (size_t k = 0; k < removed.size();) {
      // A JSON \uXXXX escape (a surrogate pair as one) counts as the code point it writes.
      uint32_t escaped = 0;
      if (const size_t len = JsonEscapeAt(removed, k, &escaped); len > 0) {
        ++result->by_codepoint[DescribeCodePoint(static_cast<char32_t>(escaped)) +
                               " (as a \\u escape)"];
        k += len;
        continue;
      }
      size_t len = 0;
      const int32_t c = utf::DecodeOne(p + k, removed.size() - k, &len);
      ++result->by_codepoint[DescribeCodePoint(c < 0 ? 0xFFFD : static_cast<char32_t>(c))];
      k += len;
    }
  }
  out->append(text.substr(pos));
  return applied;
}

}  // namespace

CleanResult CleanText(std::string_view text, TextKind kind, const CleanOptions& options) {
  CleanResult result;
  std::string current(text);
  std::string next;
  // A fix can reveal another (a joiner left between two emoji that no longer
  // belong together): repeat until nothing changes, a few times at most.
  // The detector lists at most 10,000 findings per pass, so hostile text may
  // need more passes; each pass is linear.
  for (int pass = 0; pass < 256; ++pass) {
    const size_t applied = CleanOnce(current, kind, options, &next, &result);
    if (applied == 0) break;
    result.changes += applied;
    current.swap(next);
  }
  result.text = std::move(current);
  return result;
}

}  // namespace glassbox::scan
