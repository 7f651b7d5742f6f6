#include "core/locate.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>

#include "core/secrets.h"
#include "core/unicode.h"
#include "core/utf.h"

namespace glassbox {

std::string Sha256Hex(std::string_view data, size_t hex_chars) {
  // Fetched once: OpenSSL 3 looks the algorithm up in its providers on every
  // call that passes EVP_sha256(), which cost more than hashing a finding.
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, sha256 != nullptr ? sha256 : EVP_sha256(),
             nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(std::min<size_t>(len * 2, hex_chars), '\0');
  for (size_t i = 0; i < hex.size(); ++i)
    hex[i] = kHex[(digest[i / 2] >> (i % 2 == 0 ? 4 : 0)) & 0xF];
  return hex;
}

std::string DescribeCodePoint(char32_t cp) {
  const std::string name = UnicodeData::Name(cp);
  return name.empty() ? fmt::format("U+{:04X}", static_cast<uint32_t>(cp))
                      : fmt::format("U+{:04X} {}", static_cast<uint32_t>(cp), name);
}

namespace {

bool ShowAsCodePoint(CharClass k) {
  switch (k) {
    case CharClass::kOrdinary:
    case CharClass::kLookalikeLetter:
    case CharClass::kLookalikePunct:
    case CharClass::kTypographicPunct:
      return false;
    default:
      return true;
  }
}

}  // namespace

std::string RenderVisible(std::string_view line, const std::vector<ByteRange>& mask,
                          ByteRange focus) {
  const UnicodeData& ud = UnicodeData::Get();
  std::string out;
  const auto* p = reinterpret_cast<const unsigned char*>(line.data());
  size_t i = 0;
  while (i < line.size()) {
    bool masked = false;
    for (const ByteRange& m : mask) {
      if (i >= m.begin && i < m.end) {
        out += MaskSecret(line.substr(m.begin, std::min(m.end, line.size()) - m.begin));
        i = std::min(m.end, line.size());
        masked = true;
        break;
      }
    }
    if (masked) continue;
    size_t len = 0;
    const int32_t cp = utf::DecodeOne(p + i, line.size() - i, &len);
    if (cp == utf::kInvalidCodePoint) {
      out += fmt::format("⟨0x{:02X}⟩", p[i]);
      i += len;
      continue;
    }
    const auto c = static_cast<char32_t>(cp);
    const CharClass k = ud.Classify(c);
    const bool in_focus = i >= focus.begin && i < focus.end;
    if (cp == '\t' || (cp >= 0x20 && cp < 0x7F) ||
        (!ShowAsCodePoint(k) && !(in_focus && cp >= 0x80 && k != CharClass::kOrdinary))) {
      out.append(line.substr(i, len));
      i += len;
      continue;
    }
    // Collapse a run of the same class.
    size_t j = i + len;
    size_t count = 1;
    char32_t last = c;
    while (j < line.size()) {
      size_t l2 = 0;
      const int32_t c2 = utf::DecodeOne(p + j, line.size() - j, &l2);
      if (c2 < 0 || ud.Classify(static_cast<char32_t>(c2)) != k || !ShowAsCodePoint(k)) break;
      last = static_cast<char32_t>(c2);
      ++count;
      j += l2;
    }
    if (count > 3) {
      out += fmt::format("⟨U+{:04X}…U+{:04X} ×{}⟩", static_cast<uint32_t>(c),
                         static_cast<uint32_t>(last), count);
      i = j;
    } else {
      out += fmt::format("⟨U+{:04X}⟩", static_cast<uint32_t>(c));
      i += len;
    }
  }
  return out;
}

LineCursor::Line LineCursor::Seek(size_t off) {
  const auto* p = reinterpret_cast<const unsigned char*>(text_.data());
  off = std::min(off, text_.size());
  if (line_end_ == std::string_view::npos || off > line_end_) {
    // Past the current line: count the newlines between here and there once,
    // and find where the new line starts.
    const size_t from = line_end_ == std::string_view::npos ? line_begin_ : line_end_;
    const size_t newlines = utf::CountNewlines(text_.substr(from, off - from));
    if (newlines > 0) {
      line_ += newlines;
      const void* nl = memrchr(p + from, '\n', off - from);
      line_begin_ = static_cast<size_t>(static_cast<const unsigned char*>(nl) - p) + 1;
      col_pos_ = line_begin_;
      col_ = 1;
    }
    const void* nl = off < text_.size() ? std::memchr(p + off, '\n', text_.size() - off) : nullptr;
    line_end_ = nl != nullptr ? static_cast<size_t>(static_cast<const unsigned char*>(nl) - p)
                              : text_.size();
  }
  if (off < col_pos_) {  // offsets equal to an earlier one: recount from the line start
    col_pos_ = line_begin_;
    col_ = 1;
  }
  for (size_t k = col_pos_; k < off; ++k) col_ += (p[k] & 0xC0) != 0x80 ? 1 : 0;
  col_pos_ = off;
  size_t end = line_end_;
  if (end > line_begin_ && p[end - 1] == '\r') --end;
  return {line_begin_, end, line_, col_};
}

void LocateFindings(std::string_view text, std::string_view path, std::vector<Finding>* findings,
                    uint64_t line_base) {
  std::sort(findings->begin(), findings->end(),
            [](const Finding& a, const Finding& b) { return a.byte_offset < b.byte_offset; });
  // Secret ranges, by start; a snippet looks only at those that can reach it.
  std::vector<ByteRange> secrets;
  size_t longest_secret = 0;
  for (const Finding& f : *findings) {
    if (f.rule.rfind("secret/", 0) == 0) {
      secrets.push_back({f.byte_offset, f.byte_offset + f.byte_length});
      longest_secret = std::max<size_t>(longest_secret, f.byte_length);
    }
  }
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  LineCursor cursor(text);
  for (Finding& f : *findings) {
    if (f.path.empty()) f.path = std::string(path);
    const size_t off = std::min<size_t>(f.byte_offset, text.size());
    const LineCursor::Line at = cursor.Seek(off);
    const size_t line_begin = at.begin;
    const size_t line_end = std::max(at.end, off);
    f.line = at.number + line_base;
    f.column = at.column;
    // Snippet: the line, cut to a window around the finding on long lines.
    size_t sb = line_begin;
    size_t se = line_end;
    constexpr size_t kBefore = 80;
    constexpr size_t kAfter = 160;
    bool cut_left = false, cut_right = false;
    if (off > sb + kBefore) {
      sb = off - kBefore;
      while (sb < off && (p[sb] & 0xC0) == 0x80) ++sb;
      cut_left = true;
    }
    const size_t focus_end = std::min<size_t>(off + f.byte_length, line_end);
    if (se > focus_end + kAfter) {
      se = focus_end + kAfter;
      while (se > focus_end && (p[se] & 0xC0) == 0x80) --se;
      cut_right = true;
    }
    std::vector<ByteRange> local;
    const size_t reach = sb > longest_secret ? sb - longest_secret : 0;
    auto first = std::lower_bound(secrets.begin(), secrets.end(), reach,
                                  [](const ByteRange& r, size_t v) { return r.begin < v; });
    for (auto r = first; r != secrets.end() && r->begin < se; ++r) {
      if (r->end > sb)
        local.push_back({r->begin > sb ? r->begin - sb : 0, std::min(r->end, se) - sb});
    }
    const std::string_view shown = text.substr(sb, se - sb);
    f.snippet = (cut_left ? "…" : "") + RenderVisible(shown, local, {off - sb, focus_end - sb}) +
                (cut_right ? "…" : "");
    // Fingerprint: rule, path and the line's content, not its number, so it
    // survives edits elsewhere in the file. On a line longer than
    // kFingerprintLine only a window around the finding counts, so hashing
    // stays linear however many findings share one long line.
    constexpr size_t kFingerprintLine = 4096;
    constexpr size_t kFingerprintWindow = 512;
    std::string key = f.rule;
    key += '\0';
    key += f.path;
    key += '\0';
    key += f.json_path;
    key += '\0';
    size_t cb = line_begin;
    size_t ce = line_end;
    if (ce - cb > kFingerprintLine) {
      cb = std::max(line_begin, off > kFingerprintWindow ? off - kFingerprintWindow : 0);
      ce = std::min(line_end, focus_end + kFingerprintWindow);
    }
    std::string_view content = text.substr(cb, ce - cb);
    while (!content.empty() && (content.front() == ' ' || content.front() == '\t'))
      content.remove_prefix(1);
    while (!content.empty() && (content.back() == ' ' || content.back() == '\t'))
      content.remove_suffix(1);
    key += content;
    key += '\0';
    key += text.substr(off, std::min<size_t>(std::min<size_t>(f.byte_length, kFingerprintLine),
                                             text.size() - off));
    f.fingerprint = Sha256Hex(key, 32);
  }
}

}  // namespace glassbox
