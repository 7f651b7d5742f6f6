// HiddenTextDetector: finds hidden, invisible and look-alike characters in
// UTF-8 text and decides, from context, whether each use is legitimate.
//
// Families (rule ids): unicode/tag-characters, unicode/variation-selectors,
// unicode/invisible-characters, unicode/bidi-control,
// unicode/confusable-identifier, unicode/confusable-host,
// unicode/lookalike-punctuation, unicode/unusual-space,
// unicode/whitespace-steganography, unicode/control-characters,
// unicode/invalid-encoding.
//
// The detector is immutable and may be shared between threads. Scan() is the
// hot path: on clean ASCII it only runs the SIMD skip in core/utf.h and
// allocates nothing. Findings carry byte offsets, code points, decoded text
// and fixes; path, line, column and snippet are filled by LocateFindings().
#pragma once

#include <string_view>
#include <vector>

#include "core/finding.h"
#include "core/json_strings.h"
#include "core/text_index.h"
#include "core/text_kind.h"
#include "core/unicode.h"

namespace glassbox {

struct TextContext {
  TextKind kind = TextKind::kUnknown;
  // True when the text starts at the beginning of a file, where a byte order
  // mark is legitimate.
  bool at_file_start = true;
};

// What `clean` may change. By default it removes hidden content and
// normalises deceptive spaces; look-alike letters and punctuation are
// reported, not replaced: a Cyrillic "а" in a Russian word is a letter, and
// only the reader knows whether a mixed word is an attack.
struct CleanPolicy {
  bool fold_confusables = false;  // also replace look-alikes by the ASCII they mimic
};

// The one decision `scan` and `clean` share: a finding's fix is applied when
// this says so, and a text in which no finding has an applicable fix is
// clean. Every detector decision about legitimacy (emit a finding or not,
// attach a fix or not) is made once, in Scan().
inline bool CleanApplies(const Fix& fix, const CleanPolicy& policy) {
  return fix.kind != FixKind::kFold || policy.fold_confusables;
}

class HiddenTextDetector {
 public:
  HiddenTextDetector() : data_(UnicodeData::Get()) {}

  // Appends what it finds in `text` to *out. Never fails: invalid UTF-8 is
  // itself reported (unicode/invalid-encoding) and skipped. `index`, when
  // given, is the TextIndex of `text` (built by the caller for this pass and
  // the secret views): the bytes to look at are taken from it, not searched.
  void Scan(std::string_view text, const TextContext& context, std::vector<Finding>* out,
            const TextIndex* index = nullptr) const;

  // JSON string escapes ("\u200B", "\udb40\udc41") hide characters from a
  // scan of the raw text. Scans the decoded text of every string literal in
  // `json` that holds an escape (as TextKind::kData) and appends the
  // findings that involve an escaped character, with offsets and fixes
  // mapped back to `json`: a fix covers whole escapes and its replacement is
  // JSON-escaped. `syntax` says whether `json` is one document (JSONC
  // comments allowed) or JSON Lines; documents that do not parse are
  // skipped (the raw scan still covers them). Cheap when `json` holds no
  // "\u".
  // `escaped`: EscapedJsonStrings(json) of a kDocument when the caller has
  // them already (the scanner shares them with the secret views).
  void ScanJsonEscapes(std::string_view json, JsonSyntax syntax, std::vector<Finding>* out,
                       const std::vector<EscapedJsonString>* escaped = nullptr) const;

 private:
  const UnicodeData& data_;
};

}  // namespace glassbox
