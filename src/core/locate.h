// Turns detector output (byte offsets) into what people and CI read: line,
// column, a visible snippet of the line and a stable fingerprint.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/finding.h"

namespace glassbox {

// For every finding in *findings whose byte_offset lies in `text`: sets path
// (unless already set), line, column (1-based, in code points), snippet and
// fingerprint. Secrets found in the same text are masked in every snippet.
// Sorts *findings by offset. `line_base` is added to line numbers (for text
// that starts mid-file).
void LocateFindings(std::string_view text, std::string_view path, std::vector<Finding>* findings,
                    uint64_t line_base = 0);

// Finds the line around each of a rising sequence of byte offsets in one
// text. Every byte is looked at a bounded number of times over the whole
// sequence, so locating N findings on one long line costs the line's length,
// not N times it. Offsets must not decrease between calls.
class LineCursor {
 public:
  explicit LineCursor(std::string_view text) : text_(text) {}
  struct Line {
    size_t begin;     // first byte of the line
    size_t end;       // the '\n' ending it (or text.size()), before a '\r'
    uint64_t number;  // 1-based
    uint64_t column;  // 1-based code point column of `offset`
  };
  Line Seek(size_t offset);

 private:
  std::string_view text_;
  size_t line_begin_ = 0;
  size_t line_end_ = std::string_view::npos;  // not found yet
  uint64_t line_ = 1;
  size_t col_pos_ = 0;  // column counted up to here
  uint64_t col_ = 1;
};

// Renders `line` for display: hidden and control characters become
// "⟨U+200B⟩" (long runs are collapsed), ranges in `mask` (byte offsets into
// line) are replaced by their masked form, and anything inside `focus`
// that is a look-alike is shown by code point too.
struct ByteRange {
  size_t begin;
  size_t end;
};
std::string RenderVisible(std::string_view line, const std::vector<ByteRange>& mask,
                          ByteRange focus);

// "U+200B ZERO WIDTH SPACE"
std::string DescribeCodePoint(char32_t cp);

// Hex SHA-256 of `data`, truncated to `hex_chars`.
std::string Sha256Hex(std::string_view data, size_t hex_chars = 64);

}  // namespace glassbox
