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
#include "core/text_kind.h"
#include "core/unicode.h"

namespace glassbox {

struct TextContext {
  TextKind kind = TextKind::kUnknown;
  // True when the text starts at the beginning of a file, where a byte order
  // mark is legitimate.
  bool at_file_start = true;
};

class HiddenTextDetector {
 public:
  HiddenTextDetector() : data_(UnicodeData::Get()) {}

  // Appends what it finds in `text` to *out. Never fails: invalid UTF-8 is
  // itself reported (unicode/invalid-encoding) and skipped.
  void Scan(std::string_view text, const TextContext& context, std::vector<Finding>* out) const;

 private:
  const UnicodeData& data_;
};

}  // namespace glassbox
