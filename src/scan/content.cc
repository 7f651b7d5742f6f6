#include "scan/content.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "core/text_kind.h"
#include "core/utf.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace glassbox::scan {

namespace {

// Control characters that text does not hold. Kept out: white space, ESC
// (terminal sequences, which the scan must see), BEL and backspace (roff
// delimits arguments with BEL, nroff overstrikes with backspace; man pages
// hold both).
bool StrayControl(int32_t cp) {
  if (cp == 0x7F) return true;
  if (cp >= 0x20) return false;
  return cp != '\t' && cp != '\n' && cp != '\v' && cp != '\f' && cp != '\r' && cp != 0x1B &&
         cp != 0x07 && cp != 0x08;
}

// UTF-16 without a byte order mark: in text of mostly Latin script one byte
// of every code unit is NUL. Returns kUtf8Text when the lanes do not say so.
ContentKind Utf16ByLanes(std::string_view sample) {
  const size_t units = sample.size() / 2;
  if (units < 2) return ContentKind::kUtf8Text;
  size_t even_nul = 0, odd_nul = 0;
  for (size_t i = 0; i + 1 < sample.size(); i += 2) {
    even_nul += sample[i] == '\0' ? 1 : 0;
    odd_nul += sample[i + 1] == '\0' ? 1 : 0;
  }
  if (odd_nul * 10 >= units * 4 && even_nul * 20 <= units) return ContentKind::kUtf16Le;
  if (even_nul * 10 >= units * 4 && odd_nul * 20 <= units) return ContentKind::kUtf16Be;
  return ContentKind::kUtf8Text;
}

}  // namespace

ContentKind ClassifyContent(std::string_view path, std::string_view head) {
  return ClassifyContent(TextKindForPath(path), head);
}

ContentKind ClassifyContent(TextKind path_kind, std::string_view head) {
  switch (utf::DetectEncoding(head)) {
    case utf::Encoding::kUtf16Le:
      return ContentKind::kUtf16Le;
    case utf::Encoding::kUtf16Be:
      return ContentKind::kUtf16Be;
    default:
      break;
  }
  const std::string_view sample = head.substr(0, kClassifyBytes);
  if (std::memchr(sample.data(), '\0', sample.size()) != nullptr) {
    const ContentKind lanes = Utf16ByLanes(sample);
    if (lanes != ContentKind::kUtf8Text) return lanes;
  }
  if (path_kind != TextKind::kUnknown) return ContentKind::kUtf8Text;
  return internal::StrayBytes(sample) * 32 <= sample.size() ? ContentKind::kUtf8Text
                                                            : ContentKind::kBinary;
}

namespace internal {

size_t StrayBytes(std::string_view sample) {
  const auto* p = reinterpret_cast<const unsigned char*>(sample.data());
  size_t stray = 0;
  for (size_t i = 0; i < sample.size();) {
#if defined(__SSE2__)
    // 16 bytes at a time past printable ASCII (0x20-0x7E), TAB, LF and CR;
    // text has a LF every few dozen bytes, so those are taken in the block.
    if (i + 16 <= sample.size()) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      const __m128i printable = _mm_andnot_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(0x7F)),
                                                 _mm_cmpgt_epi8(v, _mm_set1_epi8(0x1F)));
      const __m128i space = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n')),
                                                      _mm_cmpeq_epi8(v, _mm_set1_epi8('\t'))),
                                         _mm_cmpeq_epi8(v, _mm_set1_epi8('\r')));
      const auto text = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(printable, space)));
      if (text == 0xFFFF) {
        i += 16;
        continue;
      }
      const auto skip = static_cast<size_t>(__builtin_ctz(~text));  // text bytes before another
      if (skip > 0) {
        i += skip;
        continue;
      }
    }
#endif
    if ((p[i] >= 0x20 && p[i] < 0x7F) || p[i] == '\n' || p[i] == '\t' || p[i] == '\r') {
      ++i;
      continue;
    }
    size_t len = 0;
    const int32_t cp = utf::DecodeOne(p + i, sample.size() - i, &len);
    // A sequence cut by the end of the sample is not stray.
    const bool cut =
        cp == utf::kInvalidCodePoint && i + 4 > sample.size() && sample.size() == kClassifyBytes;
    if ((cp == utf::kInvalidCodePoint && !cut) || StrayControl(cp)) stray += len;
    i += len;
  }
  return stray;
}

}  // namespace internal

void StringsPass(std::string_view bytes, bool open_end, std::string* out) {
  out->resize(bytes.size());
  char* o = out->data();
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t run_begin = 0;
  size_t run_cps = 0;
  auto close_run = [&](size_t end) {
    if (run_cps >= kMinStringCodePoints) {
      std::memcpy(o + run_begin, p + run_begin, end - run_begin);
    } else {
      std::memset(o + run_begin, '\n', end - run_begin);
    }
  };
  size_t i = 0;
  while (i < bytes.size()) {
    size_t len = 1;
    int32_t cp = p[i];
    if (cp >= 0x80) cp = utf::DecodeOne(p + i, bytes.size() - i, &len);
    const bool printable = cp != utf::kInvalidCodePoint &&
                           ((cp >= 0x20 && cp != 0x7F) || cp == '\t' || cp == '\n' || cp == '\r');
    if (!printable) {
      if (open_end && cp == utf::kInvalidCodePoint && i + 4 > bytes.size())
        break;  // continued next window
      close_run(i);
      std::memset(o + i, '\n', len);
      i += len;
      run_begin = i;
      run_cps = 0;
      continue;
    }
    ++run_cps;
    i += len;
  }
  if (open_end) {
    std::memcpy(o + run_begin, p + run_begin, bytes.size() - run_begin);
  } else {
    close_run(bytes.size());
  }
}

size_t WindowCut(std::string_view window, ContentKind kind) {
  if (window.size() <= kWindowBytes) return window.size();
  const auto* p = reinterpret_cast<const unsigned char*>(window.data());
  size_t cut = kWindowBytes;
  if (kind == ContentKind::kUtf16Le || kind == ContentKind::kUtf16Be) {
    const unsigned hi = kind == ContentKind::kUtf16Le ? p[cut + 1] : p[cut];
    if (hi >= 0xDC && hi <= 0xDF) cut -= 2;  // a low surrogate: keep the pair together
    return cut;
  }
  const void* nl = memrchr(p + kWindowBytes - kOverlapBytes, '\n', kOverlapBytes);
  if (nl != nullptr) return static_cast<size_t>(static_cast<const unsigned char*>(nl) - p) + 1;
  while (cut > kWindowBytes - 3 && (p[cut] & 0xC0) == 0x80) --cut;
  return cut;
}

namespace {

class FdWindowReader final : public WindowReader {
 public:
  FdWindowReader(int fd, std::string name)
      : fd_(fd), name_(std::move(name)), buf_(new char[kWindowBytes + kOverlapBytes]) {}
  std::string_view Window() const override { return {buf_.get(), have_}; }
  uint64_t base() const override { return base_; }
  bool AtEnd() const override { return eof_; }
  Status Advance(size_t cut) override {
    cut = std::min(cut, have_);
    std::memmove(buf_.get(), buf_.get() + cut, have_ - cut);
    have_ -= cut;
    base_ += cut;
    return Fill();
  }
  Status Fill() {
    constexpr size_t kCap = kWindowBytes + kOverlapBytes;
    while (have_ < kCap && !eof_) {
      const ssize_t n = read(fd_, buf_.get() + have_, kCap - have_);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::Error(fmt::format("{}: read failed: {}", name_, std::strerror(errno)));
      }
      if (n == 0) eof_ = true;
      have_ += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

 private:
  int fd_;
  std::string name_;
  std::unique_ptr<char[]> buf_;
  size_t have_ = 0;
  uint64_t base_ = 0;
  bool eof_ = false;
};

}  // namespace

std::string_view MemoryWindowReader::Window() const {
  return bytes_.substr(base_, std::min(bytes_.size() - base_, kWindowBytes + kOverlapBytes));
}

bool MemoryWindowReader::AtEnd() const { return base_ + Window().size() == bytes_.size(); }

Status MemoryWindowReader::Advance(size_t cut) {
  base_ += std::min(cut, bytes_.size() - base_);
  return Status::Ok();
}

std::unique_ptr<WindowReader> MemoryWindows(std::string_view bytes) {
  return std::make_unique<MemoryWindowReader>(bytes);
}

Result<std::unique_ptr<WindowReader>> FdWindows(int fd, std::string name) {
  auto reader = std::make_unique<FdWindowReader>(fd, std::move(name));
  Status st = reader->Fill();
  if (!st.ok()) return st;
  return std::unique_ptr<WindowReader>(std::move(reader));
}

}  // namespace glassbox::scan
