// Content: what an input holds (text, UTF-16 text or binary) and how a large
// input is read in fixed windows, so that scan and clean work in bounded
// memory and linear time whatever the input's size and line length.
//
// Deciding "binary" must not be a way to hide text: a file named like text
// (AGENTS.md, .env, a.js) is text whatever bytes it holds, and so is one that
// decodes as UTF-8 or UTF-16 apart from a few stray bytes. Only what is left
// is binary, and even a binary gets a strings pass (as secret scanners do):
// its runs of printable UTF-8 are scanned like text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/text_kind.h"

namespace glassbox::scan {

enum class ContentKind { kUtf8Text, kUtf16Le, kUtf16Be, kBinary };

// How many leading bytes ClassifyContent looks at.
inline constexpr size_t kClassifyBytes = 64 * 1024;

// Decides from the path's name and the first kClassifyBytes of `head`.
// Text: a UTF-16 byte order mark; a name TextKindForPath knows; UTF-16
// without a mark (most of one byte lane NUL, the other not); or at most 1 in
// 32 stray bytes (NUL, control bytes other than TAB, LF, VT, FF, CR, ESC, and
// bytes that are not UTF-8). Everything else is binary.
ContentKind ClassifyContent(std::string_view path, std::string_view head);
// The same, for a caller that already has TextKindForPath(path).
ContentKind ClassifyContent(TextKind path_kind, std::string_view head);

namespace internal {
// The bytes of `sample` that text does not hold (invalid UTF-8, stray control
// characters), which ClassifyContent weighs; a sequence cut by the end of a
// full kClassifyBytes sample is not counted. Exposed for the tests.
size_t StrayBytes(std::string_view sample);
}  // namespace internal

// The strings pass over a binary: copies `bytes` to *out, keeping runs of at
// least kMinStringCodePoints printable code points (valid UTF-8, no C0
// control but TAB, no DEL) and turning every other byte into '\n'. Offsets
// in *out are offsets in `bytes`. A run reaching the end of `bytes` is kept
// when `open_end` (the next window continues it).
inline constexpr size_t kMinStringCodePoints = 4;
void StringsPass(std::string_view bytes, bool open_end, std::string* out);

// Fixed windows over one input. Each window starts where the previous one's
// `cut` was; a window holds up to kWindowBytes + kOverlapBytes bytes, so a
// match that starts before the cut and runs on is still seen whole by the
// window it starts in (up to kOverlapBytes past the cut).
inline constexpr size_t kWindowBytes = size_t{8} << 20;
inline constexpr size_t kOverlapBytes = size_t{64} << 10;

class WindowReader {
 public:
  virtual ~WindowReader() = default;
  // The current window, starting at input offset base().
  virtual std::string_view Window() const = 0;
  virtual uint64_t base() const = 0;
  // True when Window() reaches the end of the input.
  virtual bool AtEnd() const = 0;
  // Drops the first `cut` bytes of the window and reads on.
  virtual Status Advance(size_t cut) = 0;
};

// Windows over bytes already in memory (no copy). A value type, so that a
// scan of a file in memory needs no allocation for it.
class MemoryWindowReader final : public WindowReader {
 public:
  explicit MemoryWindowReader(std::string_view bytes) : bytes_(bytes) {}
  std::string_view Window() const override;
  uint64_t base() const override { return base_; }
  bool AtEnd() const override;
  Status Advance(size_t cut) override;

 private:
  std::string_view bytes_;
  size_t base_ = 0;
};
std::unique_ptr<WindowReader> MemoryWindows(std::string_view bytes);
// Windows read from a file descriptor into one reused buffer; `name` is used
// in errors. The descriptor is not closed.
Result<std::unique_ptr<WindowReader>> FdWindows(int fd, std::string name);

// Where to end a window that is not the input's last: after the last LF in
// the final kOverlapBytes before kWindowBytes, else at kWindowBytes moved back
// to the start of a UTF-8 sequence (or to an even offset for UTF-16, not
// between a surrogate pair).
size_t WindowCut(std::string_view window, ContentKind kind);

}  // namespace glassbox::scan
