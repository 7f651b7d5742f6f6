#include "core/json_strings.h"

#include <fmt/format.h>

#include <charconv>
#include <cstring>

#include "core/utf.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace glassbox {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool ReadHex4(std::string_view s, size_t i, uint32_t* out) {
  if (i + 4 > s.size()) return false;
  uint32_t v = 0;
  for (size_t k = 0; k < 4; ++k) {
    const int h = HexValue(s[i + k]);
    if (h < 0) return false;
    v = (v << 4) | static_cast<uint32_t>(h);
  }
  *out = v;
  return true;
}

// Returns the offset in `s`, from `i`, of the first byte that ends a plain
// run inside a string literal: '"', '\\' or a control character (< 0x20);
// s.size() when there is none. 16 bytes at a time with SSE2.
size_t StringStop(std::string_view s, size_t i) {
  const char* p = s.data();
  const size_t n = s.size();
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i control_max = _mm_set1_epi8(0x1F);
  while (i + 16 <= n) {
    const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i stop = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(block, quote), _mm_cmpeq_epi8(block, backslash)),
        _mm_cmpeq_epi8(_mm_max_epu8(block, control_max), control_max));  // unsigned byte <= 0x1F
    const int mask = _mm_movemask_epi8(stop);
    if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
    i += 16;
  }
#endif
  for (; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(p[i]);
    if (c == '"' || c == '\\' || c < 0x20) return i;
  }
  return n;
}

// The offset in `s`, from `i`, of the first '"' or '\\'; s.size() when there
// is none. 16 bytes at a time with SSE2.
size_t QuoteOrBackslash(std::string_view s, size_t i) {
  const char* p = s.data();
  const size_t n = s.size();
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  while (i + 16 <= n) {
    const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const int mask = _mm_movemask_epi8(
        _mm_or_si128(_mm_cmpeq_epi8(block, quote), _mm_cmpeq_epi8(block, backslash)));
    if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
    i += 16;
  }
#endif
  for (; i < n; ++i) {
    if (p[i] == '"' || p[i] == '\\') return i;
  }
  return n;
}

}  // namespace

std::vector<EscapedJsonString> EscapedJsonStrings(std::string_view document) {
  const bool comments = document.find("//") != std::string_view::npos ||
                        document.find("/*") != std::string_view::npos;
  const std::string stripped = comments ? StripJsonComments(document) : std::string();
  std::vector<EscapedJsonString> strings;
  (void)ForEachJsonString(comments ? std::string_view(stripped) : document,
                          [&](const JsonStringVisit& v) {
                            if (v.escaped && v.is_string)
                              strings.push_back({v.raw_offset, std::string(v.decoded)});
                          });  // a document that does not parse: its valid prefix is used
  return strings;
}

std::string StripJsonComments(std::string_view text) {
  std::string out(text);
  size_t i = 0;
  const size_t n = out.size();
  size_t last_comma = std::string::npos;  // a comma with only space or comments after it so far
  while (i < n) {
    const char c = out[i];
    if (c == '"') {
      // A string's body, skipped to its closing quote (most of a document's
      // bytes: 16 at a time to the next quote or backslash).
      last_comma = std::string::npos;
      ++i;
      while (i < n) {
        i = QuoteOrBackslash(out, i);
        if (i >= n || out[i] == '"') break;
        i += 2;  // the backslash and the byte it escapes
      }
      ++i;
      continue;
    }
    if (c == '/' && i + 1 < n && out[i + 1] == '/') {
      while (i < n && out[i] != '\n') out[i++] = ' ';
      continue;
    }
    if (c == '/' && i + 1 < n && out[i + 1] == '*') {
      out[i] = out[i + 1] = ' ';
      i += 2;
      while (i < n && !(out[i] == '*' && i + 1 < n && out[i + 1] == '/')) {
        if (out[i] != '\n') out[i] = ' ';
        ++i;
      }
      if (i < n) out[i] = out[i + 1] = ' ', i += 2;
      continue;
    }
    if (c == ',') {
      last_comma = i;
    } else if ((c == '}' || c == ']') && last_comma != std::string::npos) {
      out[last_comma] = ' ';
      last_comma = std::string::npos;
    } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
      last_comma = std::string::npos;
    }
    ++i;
  }
  return out;
}

bool DecodeJsonString(std::string_view body, std::string* out) {
  out->clear();
  out->reserve(body.size());
  size_t i = 0;
  while (i < body.size()) {
    const char* bs = static_cast<const char*>(std::memchr(body.data() + i, '\\', body.size() - i));
    const size_t stop = bs ? static_cast<size_t>(bs - body.data()) : body.size();
    for (size_t k = i; k < stop; ++k) {
      if (static_cast<unsigned char>(body[k]) < 0x20) return false;
    }
    out->append(body.substr(i, stop - i));
    i = stop;
    if (i >= body.size()) break;
    if (i + 1 >= body.size()) return false;
    const char e = body[i + 1];
    i += 2;
    switch (e) {
      case '"':
        out->push_back('"');
        break;
      case '\\':
        out->push_back('\\');
        break;
      case '/':
        out->push_back('/');
        break;
      case 'b':
        out->push_back('\b');
        break;
      case 'f':
        out->push_back('\f');
        break;
      case 'n':
        out->push_back('\n');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case 't':
        out->push_back('\t');
        break;
      case 'u': {
        uint32_t u = 0;
        if (!ReadHex4(body, i, &u)) return false;
        i += 4;
        if (u >= 0xD800 && u <= 0xDBFF) {
          uint32_t lo = 0;
          if (i + 1 < body.size() && body[i] == '\\' && body[i + 1] == 'u' &&
              ReadHex4(body, i + 2, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
            i += 6;
            utf::AppendUtf8(0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00), out);
          } else {
            utf::AppendUtf8(0xFFFD, out);
          }
        } else if (u >= 0xDC00 && u <= 0xDFFF) {
          utf::AppendUtf8(0xFFFD, out);
        } else {
          utf::AppendUtf8(u, out);
        }
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

namespace {

class Walker {
 public:
  Walker(std::string_view s, const std::function<void(const JsonStringVisit&)>& visit,
         const JsonWalkOptions& options)
      : s_(s), visit_(visit), options_(options) {}

  Status Run() {
    path_ = "$";
    SkipWs();
    Status st = Value(0);
    if (!st.ok()) return st;
    SkipWs();
    if (i_ != s_.size()) return Error("end of input after the JSON value");
    return Status::Ok();
  }

 private:
  Status Error(std::string_view expected) const {
    return Status::Error(fmt::format("invalid JSON at byte {}: expected {}", i_, expected));
  }
  void SkipWs() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  // Reads a string literal at i_ (on the quote); its value is left in
  // value_. A literal without escapes (the common case) is not copied:
  // value_ views the document. Only one with a backslash is decoded into
  // decoded_.
  Status String(size_t* begin) {
    *begin = i_;
    ++i_;
    const size_t body = i_;
    const size_t stop = StringStop(s_, i_);
    if (stop < s_.size() && s_[stop] == '"') {
      value_ = s_.substr(body, stop - body);
      escaped_ = false;
      i_ = stop + 1;
      return Status::Ok();
    }
    if (stop < s_.size() && s_[stop] != '\\') {  // a raw control character
      i_ = body;
      return Error("a valid string (bad escape or raw control character)");
    }
    while (true) {
      const char* q = static_cast<const char*>(std::memchr(s_.data() + i_, '"', s_.size() - i_));
      if (q == nullptr) {
        i_ = s_.size();
        return Error("closing '\"' of a string");
      }
      size_t pos = static_cast<size_t>(q - s_.data());
      size_t slashes = 0;
      while (pos - slashes > body && s_[pos - slashes - 1] == '\\') ++slashes;
      i_ = pos + 1;
      if (slashes % 2 == 0) break;
    }
    if (!DecodeJsonString(s_.substr(body, i_ - 1 - body), &decoded_)) {
      i_ = body;
      return Error("a valid string (bad escape or raw control character)");
    }
    value_ = decoded_;
    escaped_ = true;
    return Status::Ok();
  }
  Status Value(size_t depth) {
    if (depth > options_.max_depth)
      return Error(fmt::format("nesting no deeper than {}", options_.max_depth));
    if (i_ >= s_.size()) return Error("a value");
    const char c = s_[i_];
    if (c == '"') {
      size_t begin = 0;
      Status st = String(&begin);
      if (!st.ok()) return st;
      visit_(JsonStringVisit{path_, value_, begin, false, true, escaped_});
      return Status::Ok();
    }
    if (c == '{') return Object(depth);
    if (c == '[') return Array(depth);
    const size_t begin = i_;
    Status st = Scalar();
    if (st.ok() && options_.visit_scalars) {
      visit_(JsonStringVisit{path_, s_.substr(begin, i_ - begin), begin, false, false});
    }
    return st;
  }
  Status Object(size_t depth) {
    ++i_;
    SkipWs();
    if (i_ < s_.size() && s_[i_] == '}') {
      ++i_;
      return Status::Ok();
    }
    const size_t base = path_.size();
    while (true) {
      SkipWs();
      if (i_ >= s_.size() || s_[i_] != '"') return Error("'\"' starting an object key");
      size_t begin = 0;
      Status st = String(&begin);
      if (!st.ok()) return st;
      AppendKey(value_);
      if (options_.visit_keys) visit_(JsonStringVisit{path_, value_, begin, true, true, escaped_});
      SkipWs();
      if (i_ >= s_.size() || s_[i_] != ':') return Error("':' after an object key");
      ++i_;
      SkipWs();
      st = Value(depth + 1);
      if (!st.ok()) return st;
      path_.resize(base);
      SkipWs();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < s_.size() && s_[i_] == '}') {
        ++i_;
        return Status::Ok();
      }
      return Error("',' or '}' in an object");
    }
  }
  Status Array(size_t depth) {
    ++i_;
    SkipWs();
    if (i_ < s_.size() && s_[i_] == ']') {
      ++i_;
      return Status::Ok();
    }
    const size_t base = path_.size();
    for (size_t index = 0;; ++index) {
      path_.resize(base);
      char digits[24];
      const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, index);
      path_ += '[';
      path_.append(digits, ec == std::errc() ? end : digits);
      path_ += ']';
      SkipWs();
      Status st = Value(depth + 1);
      if (!st.ok()) return st;
      path_.resize(base);
      SkipWs();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < s_.size() && s_[i_] == ']') {
        ++i_;
        return Status::Ok();
      }
      return Error("',' or ']' in an array");
    }
  }
  Status Scalar() {
    const size_t start = i_;
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-' || c == '+' || c == '.' ||
          c == 'E') {
        ++i_;
      } else {
        break;
      }
    }
    const std::string_view tok = s_.substr(start, i_ - start);
    if (tok == "true" || tok == "false" || tok == "null") return Status::Ok();
    if (tok.empty()) return Error("a value");
    // A number: optional minus, digits, fraction, exponent.
    size_t k = 0;
    if (tok[k] == '-') ++k;
    size_t digits = 0;
    while (k < tok.size() && tok[k] >= '0' && tok[k] <= '9') ++k, ++digits;
    if (digits == 0) {
      i_ = start;
      return Error("a value");
    }
    if (k < tok.size() && tok[k] == '.') {
      ++k;
      size_t frac = 0;
      while (k < tok.size() && tok[k] >= '0' && tok[k] <= '9') ++k, ++frac;
      if (frac == 0) return Error("digits after '.'");
    }
    if (k < tok.size() && (tok[k] == 'e' || tok[k] == 'E')) {
      ++k;
      if (k < tok.size() && (tok[k] == '+' || tok[k] == '-')) ++k;
      size_t exp = 0;
      while (k < tok.size() && tok[k] >= '0' && tok[k] <= '9') ++k, ++exp;
      if (exp == 0) return Error("digits in an exponent");
    }
    if (k != tok.size()) {
      i_ = start + k;
      return Error("a number");
    }
    return Status::Ok();
  }
  void AppendKey(std::string_view key) {
    bool simple = !key.empty() && !(key[0] >= '0' && key[0] <= '9');
    for (char c : key) {
      simple = simple && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '_');
    }
    if (simple) {
      path_ += '.';
      path_ += key;
    } else {
      path_ += "[\"";
      for (char c : key) {
        if (c == '"' || c == '\\') path_ += '\\';
        path_ += c;
      }
      path_ += "\"]";
    }
  }

  std::string_view s_;
  const std::function<void(const JsonStringVisit&)>& visit_;
  JsonWalkOptions options_;
  size_t i_ = 0;
  std::string path_;
  std::string decoded_;     // the last string with escapes, decoded
  std::string_view value_;  // the last string's value: into s_ or decoded_
  bool escaped_ = false;    // the last string had escapes (value_ is decoded_)
};

}  // namespace

Status ForEachJsonString(std::string_view json,
                         const std::function<void(const JsonStringVisit&)>& visit,
                         const JsonWalkOptions& options) {
  Walker w(json, visit, options);
  return w.Run();
}

}  // namespace glassbox
