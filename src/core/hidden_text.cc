#include "core/hidden_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <string>

#include "core/json_strings.h"
#include "core/utf.h"

namespace glassbox {
namespace {

constexpr size_t kMaxStoredCodePoints = 256;
constexpr size_t kMaxFindingsPerText = 10000;
constexpr size_t kLineWindow = 2048;  // bytes of a line looked at around a character

std::string Quoted(char ascii) { return ascii == '\'' ? "\"'\"" : fmt::format("'{}'", ascii); }

bool IsAsciiLetter(int32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiAlnum(int32_t c) { return IsAsciiLetter(c) || (c >= '0' && c <= '9'); }

std::string PrintableOrEmpty(const std::string& bytes, size_t min_chars) {
  // Decoded hidden text is kept when it reads as text: valid UTF-8, mostly
  // printable, and long enough to mean something.
  size_t printable = 0;
  size_t total = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  for (size_t i = 0; i < bytes.size();) {
    size_t len = 0;
    const int32_t cp = utf::DecodeOne(p + i, bytes.size() - i, &len);
    if (cp == utf::kInvalidCodePoint) return {};
    ++total;
    if (cp >= 0x20 ? cp != 0x7F : (cp == '\n' || cp == '\t' || cp == '\r')) ++printable;
    i += len;
  }
  if (total < min_chars || printable * 10 < total * 9) return {};
  return bytes;
}

// Everything one Scan() call needs, so the helpers stay small.
class ScanState {
 public:
  ScanState(const UnicodeData& data, std::string_view text, const TextContext& ctx,
            std::vector<Finding>* out, const TextIndex* index)
      : data_(data),
        text_(text),
        p_(reinterpret_cast<const unsigned char*>(text.data())),
        n_(text.size()),
        ctx_(ctx),
        out_(out),
        index_(index) {}

  void Run();

 private:
  struct CodePoint {
    int32_t cp = -1;  // -1 when none (start or end of text, or invalid)
    size_t begin = 0;
    size_t end = 0;
  };
  struct LineInfo {
    size_t begin = 0;
    size_t end = 0;
    bool has_rtl = false;  // strong right-to-left letters
    bool has_other_letters =
        false;  // letters of scripts other than Latin/Common, excluding lookalikes
    bool has_cjk = false;
    bool comment = false;  // the line starts like a comment (//, /*, *, #, --, <!--)
  };
  struct TrailingRun {
    size_t begin;
    size_t end;  // exclusive; before the CR if any
  };

  CodePoint At(size_t i) const {
    if (i >= n_) return {-1, n_, n_};
    size_t len = 0;
    const int32_t cp = utf::DecodeOne(p_ + i, n_ - i, &len);
    return {cp, i, i + len};
  }
  CodePoint Before(size_t i) const {
    if (i == 0) return {-1, 0, 0};
    size_t start = 0;
    const int32_t cp = utf::DecodeBefore(text_, i, &start);
    return {cp, start, i};
  }
  // The nearest code point before i that is not a variation selector or a
  // combining mark: the base a selector or joiner attaches to.
  CodePoint BaseBefore(size_t i) const {
    CodePoint c = Before(i);
    int guard = 0;
    while (c.cp >= 0 && guard++ < 8 &&
           (data_.Classify(static_cast<char32_t>(c.cp)) == CharClass::kVariationSelector ||
            UnicodeData::IsEmojiModifier(static_cast<char32_t>(c.cp)))) {
      c = Before(c.begin);
    }
    return c;
  }
  // The script of the nearest letter before `i` (or from `i` on, when
  // `forward`), looking past a few spaces, digits, punctuation and
  // invisible characters on the same line; -1 when there is none.
  int NearbyLetterScript(size_t i, bool forward) const {
    size_t k = i;
    for (int step = 0; step < 8; ++step) {
      const CodePoint c = forward ? At(k) : Before(k);
      if (c.cp < 0 || c.cp == '\n') return -1;
      if (IsAsciiLetter(c.cp)) return kScriptLatin;
      if (c.cp >= 0x80 && UnicodeData::IsLetterOrMark(static_cast<char32_t>(c.cp))) {
        const int script = UnicodeData::Script(static_cast<char32_t>(c.cp));
        if (!UnicodeData::IsLatinLikeScript(script) || script == kScriptLatin) return script;
      }
      k = forward ? c.end : c.begin;
    }
    return -1;
  }
  CharClass ClassOf(int32_t cp) const {
    return cp < 0 ? CharClass::kOrdinary : data_.Classify(static_cast<char32_t>(cp));
  }

  const LineInfo& Line(size_t i);
  // Where i sits on its line in code: in a string literal, in a comment, or
  // in the code itself. A look-alike inside "…" is usually data; the same
  // character between two tokens changes what the code does.
  enum class Position { kSyntax, kString, kComment };
  Position PositionIn(size_t i);
  bool InHostOrUrl(size_t i, size_t* token_begin, size_t* token_end) const;

  Finding& Emit(std::string_view rule, Severity sev, size_t begin, size_t end, std::string message);
  void AddCodePoints(Finding& f, size_t begin, size_t end) const;

  size_t HandleControl(size_t i);
  size_t HandleTags(size_t i);
  size_t HandleSelectors(size_t i);
  size_t HandleInvisible(size_t i);
  // What an invisible character (or a run of them, text[i, end)) stands
  // between: the code points and letter scripts around it.
  struct InvisibleContext {
    CodePoint prev;  // the base character before (past combining marks)
    CodePoint next;
    char32_t pc = 0;  // prev.cp and next.cp, 0 for none
    char32_t nc = 0;
    bool machine = false;      // code, shell or config (IsMachineText)
    bool inside_word = false;  // word characters on both sides
    bool ascii_both = false;   // ASCII letters on both sides
    int ps = -1;               // scripts of the nearest letters before and after
    int ns = -1;
    bool joining = false;   // either is a joining script (Arabic, Indic, ...)
    bool no_space = false;  // either is a script written without spaces
  };
  InvisibleContext InvisibleContextAt(size_t i, size_t end);
  size_t HandleSingleInvisible(size_t i, size_t end, int32_t cp, bool alone,
                               const InvisibleContext& c);
  // True when a lone invisible character cp is a legitimate use; may lower
  // or raise *sev and clear *fixable for the finding otherwise made.
  bool SingleInvisibleIsLegit(size_t i, int32_t cp, Position pos, const InvisibleContext& c,
                              Severity* sev, bool* fixable) const;
  size_t EmitInvisibleRun(size_t i, size_t end, const std::vector<int32_t>& run, bool machine);
  size_t HandleBidi(size_t i);
  size_t HandleBidiMark(size_t i, size_t end);
  size_t HandleSpace(size_t i);
  // The word around i (*word_begin, *word_end), without a formatting code
  // ("\\fI", "%s") that touches it.
  void WordAround(size_t i, size_t* word_begin, size_t* word_end);
  size_t HandleLookalikeLetter(size_t i);
  size_t HandlePunct(size_t i, int32_t cp, size_t end, bool typographic);
  // True when text from `end` on is the tail of an English contraction
  // ("t", "s", "re", "ll", "ve", "d", "m" and no more letters): "Donʼt".
  bool ContractionTailAt(size_t end) const;
  void FindEscapedMarkers();
  void RecordTrailing(size_t lf);
  void FinishTrailing();
  void FinishInvalid();
  void FinishOverflow();

  const UnicodeData& data_;
  std::string_view text_;
  const unsigned char* p_;
  size_t n_;
  TextContext ctx_;
  std::vector<Finding>* out_;
  const TextIndex* index_;  // of text_, or null

  LineInfo line_{};
  bool line_valid_ = false;
  size_t bidi_done_until_ = 0;
  uint64_t invalid_count_ = 0;
  size_t first_invalid_ = 0;
  std::vector<TrailingRun> trailing_;
  struct Overflow {
    uint64_t count = 0;
    size_t first_offset = 0;
    Severity worst = Severity::kInfo;
  };
  size_t emitted_ = 0;
  std::map<std::string, Overflow> overflow_;
  Finding scratch_;  // where findings past the cap are written and forgotten
  size_t trailing_mixed_ = 0;
};

void ScanState::Run() {
  size_t i = 0;
  while (true) {
    i = index_ != nullptr ? index_->NextInteresting(i) : utf::NextInteresting(text_, i);
    if (i >= n_) break;
    const unsigned char b = p_[i];
    if (b == '\n') {
      RecordTrailing(i);
      ++i;
      continue;
    }
    if (b < 0x80) {
      i = HandleControl(i);
      continue;
    }
    size_t len = 0;
    const int32_t cp = utf::DecodeOne(p_ + i, n_ - i, &len);
    if (cp == utf::kInvalidCodePoint) {
      if (invalid_count_++ == 0) first_invalid_ = i;
      i += len;
      continue;
    }
    switch (data_.Classify(static_cast<char32_t>(cp))) {
      case CharClass::kOrdinary:
        i += len;
        break;
      case CharClass::kTag:
        i = HandleTags(i);
        break;
      case CharClass::kVariationSelector:
        i = HandleSelectors(i);
        break;
      case CharClass::kInvisible:
      case CharClass::kSoftHyphen:
      case CharClass::kByteOrderMark:
      case CharClass::kHangulFiller:
        i = HandleInvisible(i);
        break;
      case CharClass::kBidiControl:
        i = HandleBidi(i);
        break;
      case CharClass::kBidiMark:
        i = HandleBidiMark(i, i + len);
        break;
      case CharClass::kUnusualSpace:
        i = HandleSpace(i);
        break;
      case CharClass::kControl:
        i = HandleControl(i);
        break;
      case CharClass::kLookalikeLetter:
        i = HandleLookalikeLetter(i);
        break;
      case CharClass::kLookalikePunct:
        i = HandlePunct(i, cp, i + len, false);
        break;
      case CharClass::kTypographicPunct:
        i = HandlePunct(i, cp, i + len, true);
        break;
    }
  }
  FinishTrailing();
  FinishInvalid();
  if (ctx_.kind == TextKind::kCode) FindEscapedMarkers();
  FinishOverflow();
}

// GlassWorm-style markers written as escapes: a string literal in code that
// holds nothing but one escaped invisible character ("\u200B",
// '\u{E0041}', "\uFE0F" after nothing). Its only use is to be found again:
// a separator or a marker for a hidden payload. Reported, not fixed (the
// escape is code).
void ScanState::FindEscapedMarkers() {
  for (size_t k = text_.find("\\u"); k != std::string_view::npos; k = text_.find("\\u", k + 2)) {
    if (k == 0 || (p_[k - 1] != '"' && p_[k - 1] != '\'' && p_[k - 1] != '`')) continue;
    const char quote = static_cast<char>(p_[k - 1]);
    size_t q = k + 2;
    const bool braces = q < n_ && p_[q] == '{';
    if (braces) ++q;
    const size_t digits = q;
    uint32_t cp = 0;
    while (q < n_ && q - digits < 6 && std::isxdigit(p_[q])) {
      cp = cp * 16 + static_cast<uint32_t>(std::isdigit(p_[q]) ? p_[q] - '0'
                                                               : (std::tolower(p_[q]) - 'a' + 10));
      ++q;
    }
    if (q - digits < 4 || (!braces && q - digits != 4)) continue;
    if (braces) {
      if (q >= n_ || p_[q] != '}') continue;
      ++q;
    }
    if (q >= n_ || p_[q] != static_cast<unsigned char>(quote) || cp > 0x10FFFF) continue;
    const CharClass c = data_.Classify(cp);
    if (!(c == CharClass::kInvisible || c == CharClass::kTag ||
          c == CharClass::kVariationSelector || c == CharClass::kHangulFiller ||
          c == CharClass::kBidiControl || c == CharClass::kSoftHyphen)) {
      continue;
    }
    if (PositionIn(k - 1) == Position::kComment) continue;
    Finding& f =
        Emit(c == CharClass::kTag                 ? "unicode/tag-characters"
             : c == CharClass::kVariationSelector ? "unicode/variation-selectors"
             : c == CharClass::kBidiControl       ? "unicode/bidi-control"
                                                  : "unicode/invisible-characters",
             Severity::kMedium, k - 1, q + 1,
             fmt::format(
                 "string literal holding only an escaped {}: a marker or separator for hidden data",
                 UnicodeData::Name(static_cast<char32_t>(cp))));
    f.codepoints.push_back(static_cast<char32_t>(cp));
  }
}

void ScanState::FinishOverflow() {
  for (const auto& [rule, o] : overflow_) {
    Finding& f = out_->emplace_back();
    f.rule = rule;
    f.severity = o.worst;
    f.byte_offset = o.first_offset;
    f.byte_length = 0;
    f.message =
        fmt::format("{} more findings of this rule in this text are not listed (the first {} are)",
                    o.count, kMaxFindingsPerText);
  }
}

const ScanState::LineInfo& ScanState::Line(size_t i) {
  if (line_valid_ && i >= line_.begin && i < line_.end) return line_;
  const size_t lo = i > kLineWindow ? i - kLineWindow : 0;
  size_t begin = i;
  while (begin > lo && p_[begin - 1] != '\n') --begin;
  const size_t hi = std::min(n_, i + kLineWindow);
  const void* nl = std::memchr(p_ + i, '\n', hi - i);
  const size_t end = nl ? static_cast<size_t>(static_cast<const unsigned char*>(nl) - p_) : hi;
  LineInfo info{begin, std::max(end, i + 1), false, false, false, false};
  {
    size_t k = begin;
    while (k < end && (p_[k] == ' ' || p_[k] == '\t')) ++k;
    const std::string_view rest = text_.substr(k, end - k);
    for (std::string_view opener : {"//", "/*", "* ", "*/", "--", "<!--", ";;", "\"\"\"", "'''"}) {
      if (rest.substr(0, opener.size()) == opener) info.comment = true;
    }
    if (rest == "*") info.comment = true;
    if (!rest.empty() && rest[0] == '#' && rest.substr(0, 2) != "#!" &&
        rest.substr(0, 8) != "#include" && rest.substr(0, 7) != "#define" &&
        rest.substr(0, 3) != "#if") {
      info.comment = true;
    }
  }
  for (size_t k = begin; k < end;) {
    if (p_[k] < 0x80) {
      ++k;
      continue;
    }
    size_t len = 0;
    const int32_t cp = utf::DecodeOne(p_ + k, end - k, &len);
    k += len;
    if (cp < 0) continue;
    const auto c = static_cast<char32_t>(cp);
    if (!UnicodeData::IsLetterOrMark(c)) continue;
    if (UnicodeData::IsStrongRtl(c)) info.has_rtl = true;
    const int script = UnicodeData::Script(c);
    if (UnicodeData::IsCjkScript(script)) info.has_cjk = true;
    if (!UnicodeData::IsLatinLikeScript(script) &&
        data_.Classify(c) != CharClass::kLookalikeLetter) {
      info.has_other_letters = true;
    }
    if (UnicodeData::IsLatinLikeScript(script) && data_.Classify(c) == CharClass::kOrdinary) {
      // Accented Latin letters (é, ß, ł): natural-language text, not "otherwise ASCII".
      info.has_other_letters = true;
    }
  }
  line_ = info;
  line_valid_ = true;
  return line_;
}

ScanState::Position ScanState::PositionIn(size_t i) {
  const LineInfo& line = Line(i);
  if (line.comment) return Position::kComment;
  char quote = 0;
  for (size_t k = line.begin; k < i; ++k) {
    const char c = static_cast<char>(p_[k]);
    if (quote != 0) {
      if (c == '\\') {
        ++k;
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == '"' || c == '\'' || c == '`') {
      // An apostrophe inside a word ("don't") does not open a string.
      if (c == '\'' && k > line.begin && IsAsciiAlnum(p_[k - 1]) && k + 1 < i &&
          IsAsciiAlnum(p_[k + 1]))
        continue;
      quote = c;
    } else if (c == '/' && ctx_.kind == TextKind::kCode && k + 1 < n_ && p_[k + 1] != '/' &&
               p_[k + 1] != '*') {
      // A regular expression literal holds data like a string: it starts
      // where an operand is expected (after "(", ",", "=", ":" or at the
      // start of a line), where a '/' cannot divide.
      size_t q = k;
      while (q > line.begin && (p_[q - 1] == ' ' || p_[q - 1] == '\t')) --q;
      if (q == line.begin || (p_[q - 1] != 0 && std::strchr("(,=:[!&|?{};", p_[q - 1]) != nullptr))
        quote = '/';
    } else if ((c == '/' && k + 1 < n_ && (p_[k + 1] == '/' || p_[k + 1] == '*')) ||
               (c == '#' && (k == line.begin || p_[k - 1] == ' ' || p_[k - 1] == '\t')) ||
               (c == '<' && text_.substr(k, 4) == "<!--")) {
      return Position::kComment;  // "//", "/*", a "#" that starts a word, "<!--"
    }
  }
  return quote != 0 ? Position::kString : Position::kSyntax;
}

// A token around i that is a URL ("scheme://…") whose scheme or host holds
// i, or an ASCII host name ("login.example.com") that holds i: labels of
// letters, digits and '-' joined by dots, ending in a top-level domain that
// exists. Look-alikes count as the ASCII they mimic; any other non-ASCII
// letter makes the token something else (an IDN, or just words: "сл.об.",
// "۸۶۰۱", Greek words joined by dots). Tokens end at white space, quotes and
// brackets.
bool ScanState::InHostOrUrl(size_t i, size_t* token_begin, size_t* token_end) const {
  auto is_stop = [](unsigned char c) {
    return c <= ' ' || c == '"' || c == '\'' || c == '<' || c == '>' || c == '(' || c == ')' ||
           c == '[' || c == ']' || c == '{' || c == '}' || c == '`' || c == ',' || c == ';' ||
           c == '\\';
  };
  size_t b = i;
  const size_t lo = i > 512 ? i - 512 : 0;
  while (b > lo && !is_stop(p_[b - 1])) --b;
  size_t e = i;
  const size_t hi = std::min(n_, i + 512);
  while (e < hi && !is_stop(p_[e])) ++e;
  *token_begin = b;
  *token_end = e;
  std::string folded;
  size_t at = std::string::npos;
  size_t foreign_total = 0;  // non-ASCII code points that are no look-alike
  for (size_t k = b; k < e;) {
    const CodePoint c = At(k);
    if (k == i) at = folded.size();
    k = std::max(c.end, k + 1);
    if (c.cp >= 0 && c.cp < 0x80) {
      folded.push_back(static_cast<char>(c.cp));
      continue;
    }
    const CharClass cls = ClassOf(c.cp);
    if (c.cp >= 0 && (cls == CharClass::kLookalikeLetter || cls == CharClass::kLookalikePunct ||
                      cls == CharClass::kTypographicPunct)) {
      folded.push_back(data_.LookalikeAscii(static_cast<char32_t>(c.cp)));
    } else {
      folded.push_back('\x01');  // stands for a character no host name has
      ++foreign_total;
    }
  }
  if (at == std::string::npos) return false;
  const size_t scheme_sep = folded.find("://");
  if (scheme_sep != std::string::npos) {
    size_t s = scheme_sep;
    while (s > 0 && (IsAsciiAlnum(folded[s - 1]) || folded[s - 1] == '+' || folded[s - 1] == '-' ||
                     folded[s - 1] == '.')) {
      --s;
    }
    if (s == scheme_sep || !IsAsciiLetter(folded[s])) return false;
    size_t host_end = folded.find_first_of("/?#", scheme_sep + 3);
    if (host_end == std::string::npos) host_end = folded.size();
    return at >= s && at < host_end;
  }
  if (foreign_total > 0) return false;
  // host[:port][/path]: i must be in the host
  size_t host_begin = 0;
  const size_t at_sign = folded.rfind('@');
  if (at_sign != std::string::npos)
    return false;  // an e-mail address or user@host: not a host alone
  size_t host_end = folded.find_first_of("/?#:", host_begin);
  if (host_end == std::string::npos) host_end = folded.size();
  if (at >= host_end) return false;
  std::string host = folded.substr(host_begin, host_end - host_begin);
  while (!host.empty() && (host.back() == '.' || host.back() == '!' || host.back() == '?'))
    host.pop_back();
  if (at >= host.size()) return false;
  const size_t dot = host.rfind('.');
  if (dot == std::string::npos || dot == 0) return false;
  size_t labels = 0;
  for (size_t k = 0, start = 0; k <= host.size(); ++k) {
    if (k < host.size() && host[k] != '.') {
      if (!IsAsciiAlnum(host[k]) && host[k] != '-' && host[k] != '_') return false;
      continue;
    }
    if (k == start) return false;  // empty label
    ++labels;
    start = k + 1;
  }
  std::string tld = host.substr(dot + 1);
  for (char& c : tld) {
    if (!IsAsciiLetter(c)) return false;
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return labels >= 2 && UnicodeData::IsKnownTld(tld);
}

Finding& ScanState::Emit(std::string_view rule, Severity sev, size_t begin, size_t end,
                         std::string message) {
  // Hostile text can hold millions of hidden characters: past a cap, findings
  // are counted per rule, not stored, and summarised at the end.
  if (emitted_ >= kMaxFindingsPerText) {
    Overflow& o = overflow_[std::string(rule)];
    if (o.count++ == 0) o.first_offset = begin;
    o.worst = std::max(o.worst, sev);
    scratch_ = Finding();
    return scratch_;
  }
  ++emitted_;
  Finding& f = out_->emplace_back();
  f.rule = std::string(rule);
  f.severity = sev;
  f.byte_offset = begin;
  f.byte_length = end - begin;
  f.message = std::move(message);
  return f;
}

void ScanState::AddCodePoints(Finding& f, size_t begin, size_t end) const {
  for (size_t k = begin; k < end && f.codepoints.size() < kMaxStoredCodePoints;) {
    size_t len = 0;
    const int32_t cp = utf::DecodeOne(p_ + k, end - k, &len);
    if (cp >= 0 && (cp >= 0x80 || ClassOf(cp) == CharClass::kControl || cp == ' ' || cp == '\t')) {
      f.codepoints.push_back(static_cast<char32_t>(cp));
    }
    k += len;
  }
}

size_t ScanState::HandleControl(size_t i) {
  // Group a run of control characters (C0 bytes and C1 code points).
  size_t end = i;
  bool has_escape = false;
  while (end < n_) {
    const CodePoint c = At(end);
    if (c.cp < 0 || ClassOf(c.cp) != CharClass::kControl) break;
    // An escape sequence, not just an ESC byte: ESC [ … or CSI followed by a parameter.
    if (c.end < n_) {
      const unsigned char nb = p_[c.end];
      if (c.cp == 0x1B &&
          std::string_view("[]()PX^_=>c78").find(static_cast<char>(nb)) != std::string_view::npos) {
        has_escape = true;
      }
      if (c.cp == 0x9B && ((nb >= '0' && nb <= '9') || nb == ';' || nb == '?')) has_escape = true;
    }
    end = c.end;
  }
  if (end == i) return i + 1;
  // What can rewrite text shown in a terminal is removed: escape sequences,
  // C1 controls, and a backspace over a character of the line. Other
  // controls are data (roff delimits \\w and \\h arguments with BEL).
  bool rewrites = has_escape;
  for (size_t k = i; k < end && !rewrites;) {
    const CodePoint c = At(k);
    k = std::max(c.end, k + 1);
    if (c.cp >= 0x80) rewrites = true;
    if (c.cp == 0x08 && i > 0 && p_[i - 1] != '\n' && p_[i - 1] != '\r' && end < n_ &&
        p_[end] != '\n' && p_[end] != '\r') {
      // "X\bX" and "_\bX" are nroff's bold and underline: they show X.
      const CodePoint over = At(end);
      const CodePoint under = Before(i);
      rewrites = !(end - i == 1 && (under.cp == over.cp || under.cp == '_'));
    }
  }
  const Severity sev = has_escape ? Severity::kMedium : Severity::kLow;
  Finding& f = Emit("unicode/control-characters", sev, i, end,
                    has_escape ? "terminal escape sequence: it can hide or rewrite text when the "
                                 "file is shown in a terminal"
                               : "control character in text");
  AddCodePoints(f, i, end);
  if (rewrites) f.fixes.push_back({i, end, ""});
  return end;
}

size_t ScanState::HandleTags(size_t i) {
  size_t end = i;
  std::string decoded;
  std::vector<int32_t> cps;
  while (end < n_) {
    const CodePoint c = At(end);
    if (c.cp < 0 || ClassOf(c.cp) != CharClass::kTag) break;
    if (c.cp >= 0xE0020 && c.cp <= 0xE007E) decoded.push_back(static_cast<char>(c.cp - 0xE0000));
    if (cps.size() < 16) cps.push_back(c.cp);
    end = c.end;
  }
  // Emoji tag sequence: U+1F3F4, tag letters or digits, U+E007F CANCEL TAG.
  const CodePoint base = Before(i);
  bool flag_shape =
      base.cp == 0x1F3F4 && cps.size() >= 3 && cps.size() <= 7 && cps.back() == 0xE007F;
  if (flag_shape) {
    for (size_t k = 0; k + 1 < cps.size(); ++k) {
      const int32_t t = cps[k] - 0xE0000;
      if (!((t >= 'a' && t <= 'z') || (t >= '0' && t <= '9'))) flag_shape = false;
    }
  }
  if (flag_shape) {
    if (decoded == "gbeng" || decoded == "gbsct" || decoded == "gbwls") return end;
    Finding& f =
        Emit("unicode/tag-characters", Severity::kLow, i, end,
             fmt::format("emoji tag sequence for \"{}\" is not a recommended (RGI) flag", decoded));
    AddCodePoints(f, i, end);
    f.decoded = decoded;
    return end;
  }
  bool spells = false;
  for (char ch : decoded) spells |= ch != ' ';
  Finding& f =
      Emit("unicode/tag-characters", spells ? Severity::kCritical : Severity::kHigh, i, end,
           spells ? fmt::format("invisible tag characters spell hidden text: \"{}\"", decoded)
                  : "invisible tag characters");
  AddCodePoints(f, i, end);
  f.decoded = decoded;
  f.fixes.push_back({i, end, ""});
  return end;
}

size_t ScanState::HandleSelectors(size_t i) {
  size_t end = i;
  std::string bytes;
  size_t count = 0;
  int32_t first = -1;
  size_t first_end = i;
  while (end < n_) {
    const CodePoint c = At(end);
    if (c.cp < 0 || ClassOf(c.cp) != CharClass::kVariationSelector) break;
    if (count == 0) {
      first = c.cp;
      first_end = c.end;
    }
    if (c.cp >= 0xFE00 && c.cp <= 0xFE0F) bytes.push_back(static_cast<char>(c.cp - 0xFE00));
    if (c.cp >= 0xE0100 && c.cp <= 0xE01EF) bytes.push_back(static_cast<char>(c.cp - 0xE0100 + 16));
    ++count;
    end = c.end;
  }
  const CodePoint base = Before(i);
  const auto base_cp = static_cast<char32_t>(base.cp < 0 ? 0 : base.cp);
  // Is a single selector after this base a normal variation sequence?
  auto legit_single = [&]() {
    if (base.cp < 0) return false;
    if ((first == 0xFE0E || first == 0xFE0F) && UnicodeData::IsEmojiBase(base_cp)) return true;
    if (UnicodeData::IsIdeographic(base_cp)) return true;  // IVS and CJK compatibility variants
    if (first >= 0x180B && first <= 0x180F) {
      return UnicodeData::Script(base_cp) == kScriptMongolian ||
             UnicodeData::IsLetterOrMark(base_cp) ||
             NearbyLetterScript(i, false) == kScriptMongolian ||
             NearbyLetterScript(end, true) == kScriptMongolian;
    }
    if (first == 0xFE00 &&
        (UnicodeData::IsSymbol(base_cp) || UnicodeData::IsLetterOrMark(base_cp))) {
      return base_cp >= 0x80;  // standardized variants of math symbols and some scripts
    }
    return false;
  };
  // Only FE00..FE0F and E0100..E01EF carry bytes; a doubled Mongolian free
  // variation selector (a typo in CLDR's Mongolian names) carries none.
  if (count == 1 || bytes.empty()) {
    if (legit_single()) return end;
    const bool machine = IsMachineText(ctx_.kind);
    // In code a selector after a character it does not vary is a marker
    // (GlassWorm-style payloads start with one), wherever it is but comments.
    const bool in_code = machine && base.cp >= 0 && PositionIn(i) != Position::kComment;
    // No variation sequence starts with an ASCII letter (Unicode defines none, and no emoji
    // is one): there the selector is a marker in prose too.
    const bool after_ascii_letter = base.cp >= 0 && base.cp < 0x80 && std::isalpha(base.cp) != 0;
    Finding& f = Emit("unicode/variation-selectors",
                      in_code || after_ascii_letter ? Severity::kMedium : Severity::kLow, i, end,
                      "variation selector after a character it does not vary");
    AddCodePoints(f, i, end);
    f.fixes.push_back({i, end, ""});
    return end;
  }
  // Two or more selectors in a row carry data (one byte each).
  const std::string decoded = PrintableOrEmpty(bytes, 2);
  Finding& f = Emit("unicode/variation-selectors",
                    decoded.empty() ? Severity::kHigh : Severity::kCritical, i, end,
                    decoded.empty()
                        ? fmt::format("{} variation selectors in a row encode {} hidden bytes",
                                      count, bytes.size())
                        : fmt::format("{} variation selectors in a row encode hidden text: \"{}\"",
                                      count, decoded));
  AddCodePoints(f, i, end);
  f.decoded = decoded;
  // Keep a first selector that is legitimate for its base (an emoji's VS16).
  const size_t cut = legit_single() ? first_end : i;
  f.fixes.push_back({cut, end, ""});
  return end;
}

namespace {

// Outside code, one invisible character alone in a table cell, in quotes or
// in brackets is a mention of it (a charset table, a Compose entry, CLDR's
// zero-width currency symbol), not a hidden use. A table cell is bounded by a
// tab or a line end on at least one side; between two plain spaces of
// running text (" fox \u200B jumps") the character is hidden, not mentioned.
bool MentionDelimiters(int32_t a, int32_t b) {
  const bool space_a = a < 0 || a == ' ' || a == '\t' || a == '\n' || a == '\r';
  const bool space_b = b < 0 || b == ' ' || b == '\t' || b == '\n' || b == '\r';
  return (space_a && space_b && !(a == ' ' && b == ' ')) || (a == '"' && b == '"') ||
         (a == '\'' && b == '\'') || (a == '`' && b == '`') || (a == '(' && b == ')') ||
         (a == '[' && b == ']');
}

}  // namespace

ScanState::InvisibleContext ScanState::InvisibleContextAt(size_t i, size_t end) {
  InvisibleContext c;
  c.prev = BaseBefore(i);
  c.next = At(end);
  c.pc = static_cast<char32_t>(c.prev.cp < 0 ? 0 : c.prev.cp);
  c.nc = static_cast<char32_t>(c.next.cp < 0 ? 0 : c.next.cp);
  c.machine = IsMachineText(ctx_.kind);
  c.inside_word = c.prev.cp >= 0 && c.next.cp >= 0 && UnicodeData::IsWordChar(c.pc) &&
                  UnicodeData::IsWordChar(c.nc);
  c.ascii_both = IsAsciiLetter(c.prev.cp) && IsAsciiLetter(c.next.cp);
  // The scripts of the nearest letters: a Khmer word separator may stand
  // between a space and "{0}" in a Khmer format string.
  c.ps = NearbyLetterScript(i, false);
  c.ns = NearbyLetterScript(end, true);
  c.joining = UnicodeData::IsJoiningScript(c.ps) || UnicodeData::IsJoiningScript(c.ns);
  c.no_space = UnicodeData::IsNoSpaceScript(c.ps) || UnicodeData::IsNoSpaceScript(c.ns);
  return c;
}

size_t ScanState::HandleInvisible(size_t i) {
  size_t end = i;
  std::vector<int32_t> run;
  while (end < n_) {
    const CodePoint c = At(end);
    const CharClass k = ClassOf(c.cp);
    if (c.cp < 0 || !(k == CharClass::kInvisible || k == CharClass::kSoftHyphen ||
                      k == CharClass::kByteOrderMark || k == CharClass::kHangulFiller)) {
      break;
    }
    run.push_back(c.cp);
    end = c.end;
  }
  const InvisibleContext c = InvisibleContextAt(i, end);
  // The same character typed two or three times (or a run of joiners in a
  // joining script, as dictionaries have) carries no bits: judge it as one.
  bool same = true;
  bool joiners = true;  // only ZWNJ and ZWJ: Indic half-forms write "\u200C\u200D"
  for (int32_t cp : run) {
    same &= cp == run[0];
    joiners &= cp == 0x200C || cp == 0x200D;
  }
  const bool script_run =
      (joiners && c.joining) || (same && run[0] == 0x200B && c.no_space) ||
      (same && run[0] == 0x180E && (c.ps == kScriptMongolian || c.ns == kScriptMongolian));
  if (script_run && run.size() > 1 && run.size() <= 16) return end;
  const bool as_single = run.size() == 1 || (same && !c.ascii_both && run.size() <= 3);
  if (as_single) return HandleSingleInvisible(i, end, run[0], run.size() == 1, c);
  return EmitInvisibleRun(i, end, run, c.machine);
}

size_t ScanState::HandleSingleInvisible(size_t i, size_t end, int32_t cp, bool alone,
                                        const InvisibleContext& c) {
  Severity sev = Severity::kLow;
  const Position pos = c.machine ? PositionIn(i) : Position::kComment;
  if (c.machine) {
    // In a string literal, high only where it splits ASCII ("admin\u200Bistrator").
    const bool ascii_side =
        (c.prev.cp >= 0 && IsAsciiAlnum(c.prev.cp)) || (c.next.cp >= 0 && IsAsciiAlnum(c.next.cp));
    sev = pos == Position::kSyntax ? (c.inside_word ? Severity::kHigh : Severity::kMedium)
          : pos == Position::kString
              ? (c.inside_word && ascii_side ? Severity::kHigh : Severity::kLow)
              : Severity::kLow;
    // A string that holds nothing but the invisible character ("\u200B"
    // as a literal): a marker or a payload separator (GlassWorm).
    if ((ctx_.kind == TextKind::kCode || ctx_.kind == TextKind::kShell) &&
        pos == Position::kString && i > 0 && end < n_ && p_[end] == p_[i - 1] &&
        (p_[end] == '"' || p_[end] == '\'' || p_[end] == '`')) {
      sev = std::max(sev, Severity::kMedium);
    }
  }
  if (alone && ctx_.kind != TextKind::kCode && ctx_.kind != TextKind::kShell && cp != 0xFEFF &&
      MentionDelimiters(Before(i).cp, c.next.cp)) {
    return end;
  }
  bool fixable = true;
  if (SingleInvisibleIsLegit(i, cp, pos, c, &sev, &fixable)) return end;
  Finding& f =
      Emit("unicode/invisible-characters", sev, i, end,
           fmt::format("invisible character {}{}", UnicodeData::Name(static_cast<char32_t>(cp)),
                       c.inside_word && c.machine ? " inside an identifier or word" : ""));
  AddCodePoints(f, i, end);
  if (fixable) f.fixes.push_back({i, end, ""});
  return end;
}

bool ScanState::SingleInvisibleIsLegit(size_t i, int32_t cp, Position pos,
                                       const InvisibleContext& c, Severity* sev,
                                       bool* fixable) const {
  // Next to a space or a line end a lone zero-width character splits no
  // word; in a string away from ASCII it is part of people's text (a
  // Gujarati phrase in a date library) unless the string holds only it.
  const bool beside_space = c.prev.cp < 0 || c.next.cp < 0 || c.prev.cp == ' ' ||
                            c.next.cp == ' ' || c.prev.cp == '\n' || c.next.cp == '\n' ||
                            c.prev.cp == '\t' || c.next.cp == '\t';
  const bool other_script =
      (c.ps >= 0 && c.ps != kScriptLatin) || (c.ns >= 0 && c.ns != kScriptLatin);
  const bool text_in_string = c.machine && pos == Position::kString && *sev < Severity::kMedium &&
                              !IsAsciiAlnum(c.prev.cp) && !IsAsciiAlnum(c.next.cp) && other_script;
  switch (cp) {
    case 0x200D:  // ZWJ: emoji sequences, joining scripts
      return (c.prev.cp >= 0 &&
              (UnicodeData::IsEmojiBase(c.pc) || UnicodeData::IsEmojiModifier(c.pc)) &&
              c.next.cp >= 0 && UnicodeData::IsExtendedPictographic(c.nc)) ||
             c.joining || text_in_string;
    case 0x200C:  // ZWNJ: Persian, Indic; and ligature control in prose
      return c.joining || (!c.machine && c.inside_word && !c.ascii_both) || text_in_string;
    case 0x200B:  // ZWSP: word breaks in scripts without spaces
      return c.no_space ||
             ((!c.machine || (pos == Position::kString && *sev < Severity::kMedium)) &&
              beside_space && other_script) ||
             text_in_string;
    case 0x00AD:  // soft hyphen: a hyphenation hint inside a word ("Reyk\u00ADja\u00ADvík")
      if (c.machine) {
        if (!c.inside_word) *sev = Severity::kLow;
        return c.inside_word && pos != Position::kSyntax;
      }
      // Between ASCII letters of prose it may be hyphenation or a split
      // keyword: reported, but a hint is not removed.
      *fixable = !c.inside_word;
      return c.inside_word && !c.ascii_both;
    case 0xFEFF:
      if (!c.machine) *sev = Severity::kLow;
      return i == 0 && ctx_.at_file_start;
    case 0x2060:  // word joiner: typesetting ("{0}\u2060{1}" in CLDR patterns)
      return c.machine ? pos != Position::kSyntax && !c.ascii_both : !c.ascii_both;
    case 0x2800: {  // braille pattern blank: the space of braille text
      const bool legit = (c.pc >= 0x2801 && c.pc <= 0x28FF) || (c.nc >= 0x2801 && c.nc <= 0x28FF);
      if (!legit) *sev = std::max(*sev, Severity::kMedium);
      return legit;
    }
    case 0x034F:  // combining grapheme joiner
      if (c.machine) *sev = Severity::kLow;
      return !c.machine;
    case 0x180E:
      return c.ps == kScriptMongolian || c.ns == kScriptMongolian;
    case 0x115F:
    case 0x1160:
    case 0x3164:
    case 0xFFA0: {
      const bool legit = c.ps == kScriptHangul || c.ns == kScriptHangul;
      if (!legit) *sev = c.machine ? Severity::kHigh : Severity::kMedium;
      return legit;
    }
    default:
      return false;
  }
}

// A run of invisible characters. Two distinct ones repeating are bits.
size_t ScanState::EmitInvisibleRun(size_t i, size_t end, const std::vector<int32_t>& run,
                                   bool machine) {
  std::vector<int32_t> distinct = run;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  std::string decoded;
  if (distinct.size() == 2 && run.size() >= 8) {
    std::string bytes;
    for (size_t k = 0; k + 8 <= run.size(); k += 8) {
      unsigned v = 0;
      for (size_t b = 0; b < 8; ++b) v = (v << 1) | (run[k + b] == distinct[1] ? 1u : 0u);
      bytes.push_back(static_cast<char>(v));
    }
    decoded = PrintableOrEmpty(bytes, 1);
  }
  Severity sev = run.size() >= 4 ? Severity::kHigh : Severity::kMedium;
  if (machine && run.size() < 4)
    sev = PositionIn(i) == Position::kSyntax ? Severity::kHigh : Severity::kLow;
  if (!decoded.empty()) sev = Severity::kCritical;
  Finding& f = Emit("unicode/invisible-characters", sev, i, end,
                    decoded.empty()
                        ? fmt::format("{} invisible characters in a row", run.size())
                        : fmt::format("{} invisible characters encode hidden text as bits: \"{}\"",
                                      run.size(), decoded));
  AddCodePoints(f, i, end);
  f.decoded = decoded;
  f.fixes.push_back({i, end, ""});
  return end;
}

size_t ScanState::HandleBidi(size_t i) {
  if (i < bidi_done_until_) {
    return At(i).end;
  }
  const LineInfo line = Line(i);
  // Walk the line's bidi controls, checking that they nest and close.
  std::vector<int32_t> stack;
  bool unbalanced = false;
  bool has_override = false;
  size_t first = n_;
  size_t last = i;
  Finding tmp;
  std::vector<Fix> fixes;
  for (size_t k = i; k < line.end;) {
    if (p_[k] < 0x80) {
      ++k;
      continue;
    }
    const CodePoint c = At(k);
    k = std::max(c.end, k + 1);
    if (c.cp < 0 || ClassOf(c.cp) != CharClass::kBidiControl) continue;
    first = std::min(first, c.begin);
    last = c.end;
    if (tmp.codepoints.size() < kMaxStoredCodePoints)
      tmp.codepoints.push_back(static_cast<char32_t>(c.cp));
    fixes.push_back({c.begin, c.end, ""});
    switch (c.cp) {
      case 0x202A:
      case 0x202B:
      case 0x202D:
      case 0x202E:  // LRE RLE LRO RLO
        has_override |= c.cp == 0x202D || c.cp == 0x202E;
        stack.push_back(0x202C);
        break;
      case 0x2066:
      case 0x2067:
      case 0x2068:  // LRI RLI FSI
        stack.push_back(0x2069);
        break;
      case 0x202C:
      case 0x2069:
        if (stack.empty() || stack.back() != c.cp) {
          unbalanced = true;
        } else {
          stack.pop_back();
        }
        break;
      default:
        break;
    }
  }
  // Controls before i on this line were handled by an earlier call only when
  // bidi_done_until_ covered them, so the line from i onward is complete.
  unbalanced |= !stack.empty();
  bidi_done_until_ = line.end;
  const bool machine = IsMachineText(ctx_.kind);
  Severity sev;
  std::string why;
  if (machine) {
    sev = unbalanced ? Severity::kCritical : Severity::kHigh;
    why = unbalanced ? "unterminated bidirectional override or isolate: code can display "
                       "differently from how it runs (Trojan Source, CVE-2021-42574)"
                     : "bidirectional control characters in code: they reorder how it displays "
                       "(Trojan Source, CVE-2021-42574)";
  } else if (unbalanced) {
    sev = line.has_rtl ? Severity::kMedium : Severity::kHigh;
    why = "unterminated bidirectional override or isolate reorders the text after it";
  } else if (has_override && !line.has_rtl) {
    sev = Severity::kHigh;
    why =
        "bidirectional override reverses left-to-right text (used to disguise names and commands)";
  } else if (line.has_rtl) {
    return last;  // balanced embeddings and isolates around right-to-left text: normal
  } else {
    sev = Severity::kLow;
    why = "bidirectional control characters in text with no right-to-left script";
  }
  Finding& f = Emit("unicode/bidi-control", sev, first, last, why);
  f.codepoints = std::move(tmp.codepoints);
  f.fixes = std::move(fixes);
  return last;
}

size_t ScanState::HandleBidiMark(size_t i, size_t end) {
  if (!IsMachineText(ctx_.kind)) {
    // Prose: marks order numbers and punctuation around right-to-left words.
    // Between two ASCII letters a mark has nothing to order: it splits a word.
    if (!(IsAsciiLetter(Before(i).cp) && IsAsciiLetter(At(end).cp))) return end;
    Finding& f =
        Emit("unicode/bidi-control", Severity::kLow, i, end, "directional mark inside a word");
    AddCodePoints(f, i, end);
    f.fixes.push_back({i, end, ""});
    return end;
  }
  const LineInfo& line = Line(i);
  if (line.has_rtl) return end;
  // In a string or comment a mark is data: CLDR's right-to-left date and
  // number formats ("d\u200F/M\u200F/y") are marks between digits and ASCII.
  if (PositionIn(i) != Position::kSyntax) return end;
  Finding& f = Emit("unicode/bidi-control", Severity::kLow, i, end,
                    "directional mark in code with no right-to-left text");
  AddCodePoints(f, i, end);
  f.fixes.push_back({i, end, ""});
  return end;
}

size_t ScanState::HandleSpace(size_t i) {
  size_t end = i;
  bool line_sep = false;
  std::vector<Fix> fixes;
  while (end < n_) {
    const CodePoint c = At(end);
    if (c.cp < 0 || ClassOf(c.cp) != CharClass::kUnusualSpace) break;
    line_sep |= c.cp == 0x2028 || c.cp == 0x2029;
    fixes.push_back(
        {c.begin, c.end, (c.cp == 0x2028 || c.cp == 0x2029) ? "\n" : " ", FixKind::kNormalise});
    end = c.end;
  }
  const LineInfo& line = Line(i);
  Severity sev;
  switch (ctx_.kind) {
    case TextKind::kShell:
      sev =
          line.has_cjk || PositionIn(i) == Position::kComment ? Severity::kLow : Severity::kMedium;
      break;
    case TextKind::kCode:
      sev = line_sep || (!line.has_other_letters && PositionIn(i) == Position::kSyntax)
                ? Severity::kMedium
                : Severity::kLow;
      break;
    case TextKind::kConfig:
      sev = Severity::kLow;
      break;
    default:
      if (!line_sep) return end;  // prose: French and CJK typography use these
      sev = Severity::kLow;
      break;
  }
  Finding& f =
      Emit("unicode/unusual-space", sev, i, end,
           line_sep ? "line or paragraph separator: invisible line break that some parsers and "
                      "editors disagree on"
                    : "unusual space in code or a command: it looks like a space but is not one");
  AddCodePoints(f, i, end);
  // A low finding is a space that belongs to its text (French typography in a
  // string, an ideographic space in a CJK comment): reported, never rewritten.
  if (sev >= Severity::kMedium) f.fixes = std::move(fixes);
  return end;
}

void ScanState::WordAround(size_t i, size_t* word_begin, size_t* word_end) {
  // Letters, digits, marks and '_', at most 256 bytes either way.
  size_t wb = i;
  const size_t lo = i > 256 ? i - 256 : 0;
  while (wb > lo) {
    const CodePoint c = Before(wb);
    if (c.cp < 0 || !UnicodeData::IsWordChar(static_cast<char32_t>(c.cp))) break;
    wb = c.begin;
  }
  size_t we = i;
  const size_t hi = std::min(n_, i + 256);
  while (we < hi) {
    const CodePoint c = At(we);
    if (c.cp < 0 || !UnicodeData::IsWordChar(static_cast<char32_t>(c.cp))) break;
    we = c.end;
  }
  if (we <= i) we = At(i).end;
  // Formatting codes are not part of the word they touch: roff's "\fI" and
  // "\fB" before a Russian word, C's "\n" before a Greek one, printf's "%s".
  if (wb < i && wb > 0 && (p_[wb - 1] == '\\' || p_[wb - 1] == '%')) {
    size_t skip = 1;
    if (p_[wb - 1] == '\\' && p_[wb] == 'f' && wb + 1 < i && IsAsciiAlnum(p_[wb + 1])) skip = 2;
    if (p_[wb - 1] == '%') {
      while (wb + skip < i && std::strchr("lhzjtqL", p_[wb + skip - 1]) != nullptr) ++skip;
    }
    if (wb + skip <= i && p_[wb + skip] >= 0x80) wb += skip;
  }
  *word_begin = wb;
  *word_end = we;
}

size_t ScanState::HandleLookalikeLetter(size_t i) {
  size_t wb = 0, we = 0;
  WordAround(i, &wb, &we);
  bool has_ascii_letter = false;
  bool all_lookalike = true;
  size_t letters = 0;
  bool suspicious = false;  // a foreign-script lookalike mixed into an ASCII word
  bool reads_foreign = false;
  std::vector<Fix> fixes;
  for (size_t k = wb; k < we;) {
    const CodePoint c = At(k);
    k = std::max(c.end, k + 1);
    if (c.cp < 0) continue;
    if (c.cp < 0x80) {
      if (IsAsciiLetter(c.cp)) {
        has_ascii_letter = true;
        ++letters;
        all_lookalike = false;
      }
      continue;
    }
    const auto cc = static_cast<char32_t>(c.cp);
    if (!UnicodeData::IsLetterOrMark(cc)) continue;
    ++letters;
    const int script = UnicodeData::Script(cc);
    if (data_.Classify(cc) != CharClass::kLookalikeLetter) {
      all_lookalike = false;
      // A letter of another script that looks like no ASCII letter: the word
      // cannot pass for an ASCII one ("\\fIфайл", a Latin "a" typed into a
      // Serbian word, a date pattern letter before an Arabic suffix).
      if (!UnicodeData::IsLatinLikeScript(script)) reads_foreign = true;
      continue;
    }
    fixes.push_back({c.begin, c.end, std::string(1, data_.LookalikeAscii(cc)), FixKind::kFold});
    if (UnicodeData::IsStrongRtl(cc)) {
      // Right-to-left letters reorder: they cannot sit unnoticed inside a
      // left-to-right word without bidi controls, which are reported anyway.
      continue;
    }
    // Greek letters are units and math (μs, Δx): only one wedged between
    // ASCII letters is suspicious. Any other script is, and so are font or
    // wide variants and Common-script letter-likes (mathematical alphanumerics).
    const bool greek_in_ascii =
        script == kScriptGreek && IsAsciiLetter(Before(c.begin).cp) && IsAsciiLetter(At(c.end).cp);
    if (UnicodeData::IsFontOrWideVariant(cc) ||
        (script == kScriptGreek ? greek_in_ascii : script != kScriptLatin)) {
      suspicious = true;
    }
  }
  // A Latin letter typed into a word of another script (a keyboard-layout
  // slip, common in real text) makes no ASCII look-alike: reported low.
  const bool slipped = suspicious && has_ascii_letter && reads_foreign;
  suspicious = suspicious && has_ascii_letter && !reads_foreign;
  size_t tb = 0, te = 0;
  const bool host = InHostOrUrl(i, &tb, &te);
  if (host && (suspicious || (all_lookalike && letters >= 2))) {
    Finding& f = Emit(
        "unicode/confusable-host", Severity::kHigh, wb, we,
        "host name or URL contains characters that look like ASCII letters from another script");
    AddCodePoints(f, wb, we);
    f.fixes = std::move(fixes);
    f.decoded = std::string(text_.substr(tb, te - tb));
    return we;
  }
  if (suspicious) {
    const bool machine = IsMachineText(ctx_.kind);
    // In code, high unless the line is natural language of that script (a
    // Latin letter slipped into Cyrillic text) or a comment.
    const bool high = machine && !Line(i).has_other_letters && PositionIn(i) != Position::kComment;
    Finding& f =
        Emit("unicode/confusable-identifier", high ? Severity::kHigh : Severity::kMedium, wb, we,
             "word mixes ASCII letters with look-alike letters from another script");
    AddCodePoints(f, wb, we);
    std::string skeleton(text_.substr(wb, we - wb));
    f.fixes = std::move(fixes);
    return we;
  }
  if (slipped) {
    Finding& f = Emit("unicode/confusable-identifier", Severity::kLow, wb, we,
                      "word mixes scripts: a letter that looks the same from another script (a "
                      "keyboard-layout slip?)");
    AddCodePoints(f, wb, we);
    f.fixes = std::move(fixes);
    return we;
  }
  if (ctx_.kind == TextKind::kCode && all_lookalike && letters >= 3 && !Line(i).has_other_letters &&
      PositionIn(i) == Position::kSyntax) {
    Finding& f = Emit("unicode/confusable-identifier", Severity::kMedium, wb, we,
                      "identifier written entirely in look-alike letters of another script");
    AddCodePoints(f, wb, we);
    f.fixes = std::move(fixes);
  }
  return we;
}

namespace {

// In prose, a look-alike of `ascii` matters where it can pass for the ASCII
// it mimics inside words and sentences: apostrophes in "don't", dots and colons.
Severity ProsePunctSeverity(char ascii, bool in_word, bool touches_word) {
  if (ascii == '-') return Severity::kLow;  // typographic hyphens and minus signs
  if (ascii == '\'' || ascii == '"' || ascii == '`')
    return in_word ? Severity::kMedium : Severity::kLow;
  const bool sentence_punct = std::string_view(".,:;!?/@").find(ascii) != std::string_view::npos;
  return sentence_punct && touches_word ? Severity::kMedium : Severity::kLow;
}

}  // namespace

bool ScanState::ContractionTailAt(size_t end) const {
  size_t k = end;
  while (k < n_ && IsAsciiLetter(p_[k]) && k - end < 3) ++k;
  if (k < n_ && (IsAsciiLetter(p_[k]) || p_[k] >= 0x80)) return false;
  const std::string_view tail = text_.substr(end, k - end);
  for (std::string_view t : {"t", "s", "re", "ll", "ve", "d", "m"}) {
    if (tail == t) return true;
  }
  return false;
}

size_t ScanState::HandlePunct(size_t i, int32_t cp, size_t end, bool typographic) {
  const char ascii = data_.LookalikeAscii(static_cast<char32_t>(cp));
  size_t tb = 0, te = 0;
  if ((ascii == '.' || ascii == '/' || ascii == ':' || ascii == '@') && InHostOrUrl(i, &tb, &te)) {
    Finding& f = Emit("unicode/confusable-host", Severity::kHigh, i, end,
                      fmt::format("look-alike of {} inside a host name or URL", Quoted(ascii)));
    AddCodePoints(f, i, end);
    f.decoded = std::string(text_.substr(tb, te - tb));
    f.fixes.push_back({i, end, std::string(1, ascii), FixKind::kFold});
    return end;
  }
  const CodePoint prev = Before(i);
  const CodePoint next = At(end);
  const bool machine = IsMachineText(ctx_.kind);
  // A letter or digit that looks like punctuation is a letter or digit: the
  // ʼ of Gwichʼin (U+02BC), the Hawaiian ʻokina (U+02BB), the saltillo, the
  // click letter ǃ, a Persian zero. Only between tokens of code can it pass
  // for the ASCII it resembles.
  const auto c32 = static_cast<char32_t>(cp);
  // In code it deceives where it stands like a quote or a dot: on one side of
  // a word only ("ʼadminʼ"), not inside one or between symbols ("c[ʼ\\']hwe").
  // In prose an apostrophe look-alike inside an English contraction ("Donʼt")
  // stands in for the ASCII apostrophe; inside "Gwichʼin" it is a letter.
  const bool contraction =
      cp == 0x02BC && !machine && IsAsciiLetter(prev.cp) && ContractionTailAt(end);
  if ((UnicodeData::IsLetterOrMark(c32) || UnicodeData::IsDecimalDigit(c32)) && !contraction) {
    const bool quote_like = IsAsciiAlnum(prev.cp) != IsAsciiAlnum(next.cp);
    if (!(machine && quote_like && PositionIn(i) == Position::kSyntax)) return end;
  }
  if (typographic) {
    if (ctx_.kind != TextKind::kShell) return end;
    const LineInfo& line = Line(i);
    if (line.has_other_letters) return end;
    Finding& f = Emit(
        "unicode/lookalike-punctuation", Severity::kLow, i, end,
        fmt::format("typographic {} in a command, where the shell expects ASCII", Quoted(ascii)));
    AddCodePoints(f, i, end);
    f.fixes.push_back({i, end, std::string(1, ascii), FixKind::kFold});
    return end;
  }
  const bool prime = cp == 0x2032 || cp == 0x2033 || cp == 0x2035 || cp == 0x02B9 || cp == 0x02BA;
  if (prime && prev.cp >= '0' && prev.cp <= '9') return end;  // 45′ 30″: measurements
  const LineInfo& line = Line(i);
  if (line.has_other_letters || line.has_cjk) {
    if (!machine) return end;  // natural-language text in another script
  }
  Severity sev;
  const bool in_word = IsAsciiAlnum(prev.cp) && IsAsciiAlnum(next.cp);
  const bool touches_word = IsAsciiAlnum(prev.cp) || IsAsciiAlnum(next.cp);
  const Position pos = machine ? PositionIn(i) : Position::kComment;
  if (pos == Position::kComment) {
    sev = ProsePunctSeverity(ascii, in_word, touches_word);
  } else if (line.has_other_letters) {
    sev = Severity::kLow;
  } else if (pos == Position::kString && ctx_.kind != TextKind::kShell) {
    // Inside a string literal: data (a table of symbols) unless it passes
    // for ASCII next to a word, as in "don't" or "-rf".
    sev = touches_word ? Severity::kMedium : Severity::kLow;
    // Settings hold people's text too: a minus sign or non-breaking hyphen in
    // a format string ("−{0}") is typography.
    if (ctx_.kind == TextKind::kConfig && ascii == '-') sev = Severity::kLow;
  } else {
    sev = Severity::kHigh;
    if (ctx_.kind == TextKind::kConfig && !in_word) sev = Severity::kMedium;
  }
  Finding& f = Emit("unicode/lookalike-punctuation", sev, i, end,
                    fmt::format("look-alike of ASCII {} in otherwise ASCII text", Quoted(ascii)));
  AddCodePoints(f, i, end);
  f.fixes.push_back({i, end, std::string(1, ascii), FixKind::kFold});
  return end;
}

void ScanState::RecordTrailing(size_t lf) {
  size_t e = lf;
  if (e > 0 && p_[e - 1] == '\r') --e;
  size_t b = e;
  bool sp = false, tab = false;
  while (b > 0 && (p_[b - 1] == ' ' || p_[b - 1] == '\t')) {
    (p_[b - 1] == ' ' ? sp : tab) = true;
    --b;
  }
  if (b == e) return;
  if (b == 0 || p_[b - 1] == '\n' || p_[b - 1] == '\r') return;  // blank line with indentation
  if (sp && tab) ++trailing_mixed_;
  trailing_.push_back({b, e});
}

void ScanState::FinishTrailing() {
  // Text that ends without a newline can still end with a trailing run.
  if (n_ > 0 && p_[n_ - 1] != '\n' && (p_[n_ - 1] == ' ' || p_[n_ - 1] == '\t')) {
    // Treat the end as a line end for the analysis.
    size_t b = n_;
    bool sp = false, tab = false;
    while (b > 0 && (p_[b - 1] == ' ' || p_[b - 1] == '\t')) {
      (p_[b - 1] == ' ' ? sp : tab) = true;
      --b;
    }
    if (b > 0 && p_[b - 1] != '\n') {
      if (sp && tab) ++trailing_mixed_;
      trailing_.push_back({b, n_});
    }
  }
  // A pattern, not a habit: most lines carry mixed runs (a man page's few
  // "tab then spaces" line ends are formatting).
  if (trailing_.size() < 8 || trailing_mixed_ < 6 || trailing_mixed_ * 2 < trailing_.size()) return;
  // Space = 0, tab = 1, in order: the simplest whitespace code.
  std::string bytes;
  unsigned acc = 0;
  int bits = 0;
  for (const TrailingRun& r : trailing_) {
    for (size_t k = r.begin; k < r.end; ++k) {
      acc = (acc << 1) | (p_[k] == '\t' ? 1u : 0u);
      if (++bits == 8) {
        bytes.push_back(static_cast<char>(acc));
        acc = 0;
        bits = 0;
      }
    }
  }
  const std::string decoded = PrintableOrEmpty(bytes, 2);
  Finding& f = Emit(
      "unicode/whitespace-steganography", decoded.empty() ? Severity::kHigh : Severity::kCritical,
      trailing_.front().begin, trailing_.front().end,
      fmt::format("{} lines end in mixed spaces and tabs, a pattern that carries hidden bits",
                  trailing_.size()));
  f.decoded = decoded;
  for (const TrailingRun& r : trailing_) f.fixes.push_back({r.begin, r.end, ""});
}

void ScanState::FinishInvalid() {
  if (invalid_count_ == 0) return;
  Emit("unicode/invalid-encoding", Severity::kLow, first_invalid_, first_invalid_ + 1,
       fmt::format(
           "{} invalid UTF-8 sequence{} (first at byte {}); the text may be in another encoding",
           invalid_count_, invalid_count_ == 1 ? "" : "s", first_invalid_));
}

}  // namespace

void HiddenTextDetector::Scan(std::string_view text, const TextContext& context,
                              std::vector<Finding>* out, const TextIndex* index) const {
  ScanState state(data_, text, context, out, index);
  state.Run();
}

namespace {

// A JSON string literal decoded with, for every decoded byte, the offset of
// the source token (a plain byte or a whole escape) it came from.
struct DecodedLiteral {
  std::string text;
  std::vector<uint32_t> source;  // size text.size() + 1: source[text.size()] is the closing quote
  std::vector<bool> escaped;     // per decoded byte: written as a \u escape
};

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool Hex4(std::string_view s, size_t i, uint32_t* v) {
  if (i + 4 > s.size()) return false;
  *v = 0;
  for (size_t k = 0; k < 4; ++k) {
    const int h = Hex(s[i + k]);
    if (h < 0) return false;
    *v = (*v << 4) | static_cast<uint32_t>(h);
  }
  return true;
}

// Decodes the literal whose opening quote is at json[open]. False when it is
// malformed (the walker accepted it, so this does not happen in practice).
bool DecodeLiteral(std::string_view json, size_t open, DecodedLiteral* out) {
  out->text.clear();
  out->source.clear();
  out->escaped.clear();
  size_t i = open + 1;
  auto put = [&](std::string_view bytes, size_t from, bool esc) {
    for (char b : bytes) {
      out->text.push_back(b);
      out->source.push_back(static_cast<uint32_t>(from));
      out->escaped.push_back(esc);
    }
  };
  while (i < json.size() && json[i] != '"') {
    if (json[i] != '\\') {
      put(json.substr(i, 1), i, false);
      ++i;
      continue;
    }
    if (i + 1 >= json.size()) return false;
    const char e = json[i + 1];
    if (e != 'u') {
      static constexpr std::string_view kFrom = "\"\\/bfnrt";
      static constexpr std::string_view kTo = "\"\\/\b\f\n\r\t";
      const size_t k = kFrom.find(e);
      if (k == std::string_view::npos) return false;
      put(kTo.substr(k, 1), i, false);
      i += 2;
      continue;
    }
    uint32_t cp = 0;
    if (!Hex4(json, i + 2, &cp)) return false;
    size_t len = 6;
    uint32_t low = 0;
    if (cp >= 0xD800 && cp <= 0xDBFF && i + 12 <= json.size() && json[i + 6] == '\\' &&
        json[i + 7] == 'u' && Hex4(json, i + 8, &low) && low >= 0xDC00 && low <= 0xDFFF) {
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
      len = 12;
    } else if (cp >= 0xD800 && cp <= 0xDFFF) {
      cp = 0xFFFD;  // a lone surrogate, as the walker decodes it
    }
    char buf[4];
    size_t n = 0;
    if (cp < 0x80) {
      buf[n++] = static_cast<char>(cp);
    } else if (cp < 0x800) {
      buf[n++] = static_cast<char>(0xC0 | (cp >> 6));
      buf[n++] = static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      buf[n++] = static_cast<char>(0xE0 | (cp >> 12));
      buf[n++] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      buf[n++] = static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      buf[n++] = static_cast<char>(0xF0 | (cp >> 18));
      buf[n++] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      buf[n++] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      buf[n++] = static_cast<char>(0x80 | (cp & 0x3F));
    }
    put(std::string_view(buf, n), i, true);
    i += len;
  }
  if (i >= json.size()) return false;
  out->source.push_back(static_cast<uint32_t>(i));
  return true;
}

// A fix's replacement written so that it can stand inside a JSON string.
std::string JsonEscaped(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

void HiddenTextDetector::ScanJsonEscapes(std::string_view json, JsonSyntax syntax,
                                         std::vector<Finding>* out,
                                         const std::vector<EscapedJsonString>* escaped) const {
  if (syntax == JsonSyntax::kNone || json.find("\\u") == std::string_view::npos) return;
  DecodedLiteral lit;
  std::vector<Finding> found;
  auto scan_document = [&](std::string_view doc, size_t base,
                           const std::vector<EscapedJsonString>* known) {
    // (A document that does not parse still had its raw text scanned; the
    // literals of its valid prefix are looked at here.)
    std::vector<size_t> literals;
    if (known != nullptr) {
      for (const EscapedJsonString& e : *known) literals.push_back(e.raw_offset);
    } else if (syntax == JsonSyntax::kDocument) {
      for (const EscapedJsonString& e : EscapedJsonStrings(doc)) literals.push_back(e.raw_offset);
    } else {
      (void)ForEachJsonString(doc, [&](const JsonStringVisit& v) {
        if (v.escaped && v.is_string) literals.push_back(v.raw_offset);
      });
    }
    for (size_t open : literals) {
      if (!DecodeLiteral(doc, open, &lit)) continue;
      bool any_escape = false;
      for (bool e : lit.escaped) any_escape |= e;
      if (!any_escape) continue;
      found.clear();
      Scan(lit.text, TextContext{TextKind::kData, false}, &found);
      for (Finding& f : found) {
        const size_t b = std::min<size_t>(f.byte_offset, lit.text.size());
        const size_t e = std::min<size_t>(f.byte_offset + f.byte_length, lit.text.size());
        bool involves_escape = false;
        for (size_t k = b; k < e && !involves_escape; ++k) involves_escape = lit.escaped[k];
        for (const Fix& x : f.fixes) {
          for (size_t k = x.begin; k < x.end && k < lit.text.size() && !involves_escape; ++k) {
            involves_escape = lit.escaped[k];
          }
        }
        if (!involves_escape) continue;  // a raw character: the raw scan reports it
        f.byte_offset = base + lit.source[b];
        f.byte_length = lit.source[e] - lit.source[b];
        for (Fix& x : f.fixes) {
          const size_t xb = std::min<size_t>(x.begin, lit.text.size());
          const size_t xe = std::min<size_t>(x.end, lit.text.size());
          x.begin = base + lit.source[xb];
          x.end = base + lit.source[xe];
          x.replacement = JsonEscaped(x.replacement);
        }
        f.message += " (written as a JSON escape)";
        out->push_back(std::move(f));
      }
    }
  };
  if (syntax == JsonSyntax::kDocument) {
    scan_document(json, 0, escaped);
    return;
  }
  for (size_t start = 0; start < json.size();) {
    size_t end = json.find('\n', start);
    if (end == std::string_view::npos) end = json.size();
    const std::string_view line = json.substr(start, end - start);
    if (line.find("\\u") != std::string_view::npos) scan_document(line, start, nullptr);
    start = end + 1;
  }
}

}  // namespace glassbox
