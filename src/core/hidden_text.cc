#include "core/hidden_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>

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
            std::vector<Finding>* out)
      : data_(data),
        text_(text),
        p_(reinterpret_cast<const unsigned char*>(text.data())),
        n_(text.size()),
        ctx_(ctx),
        out_(out) {}

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
    bool has_rtl = false;          // strong right-to-left letters
    bool has_other_letters = false;  // letters of scripts other than Latin/Common, excluding lookalikes
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
  CharClass ClassOf(int32_t cp) const {
    return cp < 0 ? CharClass::kOrdinary : data_.Classify(static_cast<char32_t>(cp));
  }

  const LineInfo& Line(size_t i);
  // Where i sits on its line in code: in a string literal, in a comment, or
  // in the code itself. A look-alike inside "…" is usually data; the same
  // character between two tokens changes what the code does.
  enum class Position { kSyntax, kString, kComment };
  Position PositionIn(size_t i);
  bool InHostOrUrl(size_t i, size_t* token_begin, size_t* token_end, bool as_dot = false) const;

  Finding& Emit(std::string_view rule, Severity sev, size_t begin, size_t end, std::string message);
  void AddCodePoints(Finding& f, size_t begin, size_t end) const;

  size_t HandleControl(size_t i);
  size_t HandleTags(size_t i);
  size_t HandleSelectors(size_t i);
  size_t HandleInvisible(size_t i);
  size_t HandleBidi(size_t i);
  size_t HandleBidiMark(size_t i, size_t end);
  size_t HandleSpace(size_t i);
  size_t HandleLookalikeLetter(size_t i);
  size_t HandlePunct(size_t i, int32_t cp, size_t end, bool typographic);
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
    i = utf::NextInteresting(text_, i);
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
      case CharClass::kOrdinary: i += len; break;
      case CharClass::kTag: i = HandleTags(i); break;
      case CharClass::kVariationSelector: i = HandleSelectors(i); break;
      case CharClass::kInvisible:
      case CharClass::kSoftHyphen:
      case CharClass::kByteOrderMark:
      case CharClass::kHangulFiller: i = HandleInvisible(i); break;
      case CharClass::kBidiControl: i = HandleBidi(i); break;
      case CharClass::kBidiMark: i = HandleBidiMark(i, i + len); break;
      case CharClass::kUnusualSpace: i = HandleSpace(i); break;
      case CharClass::kControl: i = HandleControl(i); break;
      case CharClass::kLookalikeLetter: i = HandleLookalikeLetter(i); break;
      case CharClass::kLookalikePunct: i = HandlePunct(i, cp, i + len, false); break;
      case CharClass::kTypographicPunct: i = HandlePunct(i, cp, i + len, true); break;
    }
  }
  FinishTrailing();
  FinishInvalid();
  FinishOverflow();
}

void ScanState::FinishOverflow() {
  for (const auto& [rule, o] : overflow_) {
    Finding& f = out_->emplace_back();
    f.rule = rule;
    f.severity = o.worst;
    f.byte_offset = o.first_offset;
    f.byte_length = 0;
    f.message = fmt::format("{} more findings of this rule in this text are not listed (the first {} are)",
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
    if (!rest.empty() && rest[0] == '#' && rest.substr(0, 2) != "#!" && rest.substr(0, 8) != "#include" &&
        rest.substr(0, 7) != "#define" && rest.substr(0, 3) != "#if") {
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
    if (!UnicodeData::IsLatinLikeScript(script) && data_.Classify(c) != CharClass::kLookalikeLetter) {
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
      if (c == '\'' && k > line.begin && IsAsciiAlnum(p_[k - 1]) && k + 1 < i && IsAsciiAlnum(p_[k + 1])) continue;
      quote = c;
    } else if (c == '/' && k + 1 < n_ && (p_[k + 1] == '/' || p_[k + 1] == '*')) {
      return Position::kComment;
    } else if (c == '#' && (k == line.begin || p_[k - 1] == ' ' || p_[k - 1] == '\t')) {
      return Position::kComment;
    } else if (c == '<' && text_.substr(k, 4) == "<!--") {
      return Position::kComment;
    }
  }
  return quote != 0 ? Position::kString : Position::kSyntax;
}

// A token around i that looks like a URL ("scheme://…") or a host name
// ("login.example.com"). Tokens end at white space, quotes and brackets.
// With `as_dot`, the code point at i is read as an ASCII '.' (a look-alike
// dot can only make a host if it were one).
bool ScanState::InHostOrUrl(size_t i, size_t* token_begin, size_t* token_end, bool as_dot) const {
  auto is_stop = [](unsigned char c) {
    return c <= ' ' || c == '"' || c == '\'' || c == '<' || c == '>' || c == '(' || c == ')' ||
           c == '[' || c == ']' || c == '{' || c == '}' || c == '`' || c == ',' || c == ';';
  };
  size_t b = i;
  const size_t lo = i > 512 ? i - 512 : 0;
  while (b > lo && !is_stop(p_[b - 1])) --b;
  size_t e = i;
  const size_t hi = std::min(n_, i + 512);
  while (e < hi && !is_stop(p_[e])) ++e;
  *token_begin = b;
  *token_end = e;
  std::string token(text_.substr(b, e - b));
  if (as_dot) token.replace(i - b, At(i).end - i, ".");
  while (!token.empty() && (token.back() == '.' || token.back() == ':' || token.back() == '!' || token.back() == '?')) {
    token.pop_back();  // sentence punctuation after a host
  }
  if (token.find("://") != std::string::npos) return true;
  // host-like: at least one dot with a letter label after it, no spaces
  const size_t dot = token.rfind('.');
  if (dot == std::string::npos || dot + 2 > token.size() || dot == 0) return false;
  const std::string_view tld = std::string_view(token).substr(dot + 1);
  if (tld.size() < 2 || tld.size() > 24) return false;
  for (unsigned char c : tld) {
    if (c < 0x80 && !IsAsciiLetter(c)) return false;
  }
  const unsigned char before = static_cast<unsigned char>(token[dot - 1]);
  if (before < 0x80 && !IsAsciiAlnum(before) && before != '-') return false;
  return token.find('@') == std::string::npos;
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
      if (c.cp == 0x1B && std::string_view("[]()PX^_=>c78").find(static_cast<char>(nb)) != std::string_view::npos) {
        has_escape = true;
      }
      if (c.cp == 0x9B && ((nb >= '0' && nb <= '9') || nb == ';' || nb == '?')) has_escape = true;
    }
    end = c.end;
  }
  if (end == i) return i + 1;
  const Severity sev = has_escape ? Severity::kMedium : Severity::kLow;
  Finding& f = Emit("unicode/control-characters", sev, i, end,
                    has_escape ? "terminal escape sequence: it can hide or rewrite text when the file is shown in a terminal"
                               : "control character in text");
  AddCodePoints(f, i, end);
  f.fixes.push_back({i, end, ""});
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
  bool flag_shape = base.cp == 0x1F3F4 && cps.size() >= 3 && cps.size() <= 7 && cps.back() == 0xE007F;
  if (flag_shape) {
    for (size_t k = 0; k + 1 < cps.size(); ++k) {
      const int32_t t = cps[k] - 0xE0000;
      if (!((t >= 'a' && t <= 'z') || (t >= '0' && t <= '9'))) flag_shape = false;
    }
  }
  if (flag_shape) {
    if (decoded == "gbeng" || decoded == "gbsct" || decoded == "gbwls") return end;
    Finding& f = Emit("unicode/tag-characters", Severity::kLow, i, end,
                      fmt::format("emoji tag sequence for \"{}\" is not a recommended (RGI) flag", decoded));
    AddCodePoints(f, i, end);
    f.decoded = decoded;
    return end;
  }
  bool spells = false;
  for (char ch : decoded) spells |= ch != ' ';
  Finding& f = Emit("unicode/tag-characters", spells ? Severity::kCritical : Severity::kHigh, i, end,
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
    if (first >= 0x180B && first <= 0x180F) return UnicodeData::Script(base_cp) == kScriptMongolian ||
                                                   UnicodeData::IsLetterOrMark(base_cp);
    if (first == 0xFE00 && (UnicodeData::IsSymbol(base_cp) || UnicodeData::IsLetterOrMark(base_cp))) {
      return base_cp >= 0x80;  // standardized variants of math symbols and some scripts
    }
    return false;
  };
  if (count == 1) {
    if (legit_single()) return end;
    const bool machine = IsMachineText(ctx_.kind);
    const bool in_code = machine && base.cp >= 0 && IsAsciiAlnum(base.cp) && PositionIn(i) != Position::kComment;
    Finding& f = Emit("unicode/variation-selectors", in_code ? Severity::kMedium : Severity::kLow, i, end,
                      "variation selector after a character it does not vary");
    AddCodePoints(f, i, end);
    f.fixes.push_back({i, end, ""});
    return end;
  }
  // Two or more selectors in a row carry data (one byte each).
  const std::string decoded = PrintableOrEmpty(bytes, 2);
  Finding& f = Emit("unicode/variation-selectors", decoded.empty() ? Severity::kHigh : Severity::kCritical,
                    i, end,
                    decoded.empty()
                        ? fmt::format("{} variation selectors in a row encode {} hidden bytes", count, bytes.size())
                        : fmt::format("{} variation selectors in a row encode hidden text: \"{}\"", count, decoded));
  AddCodePoints(f, i, end);
  f.decoded = decoded;
  // Keep a first selector that is legitimate for its base (an emoji's VS16).
  const size_t cut = legit_single() ? first_end : i;
  f.fixes.push_back({cut, end, ""});
  return end;
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
  const CodePoint prev = BaseBefore(i);
  const CodePoint next = At(end);
  const auto pc = static_cast<char32_t>(prev.cp < 0 ? 0 : prev.cp);
  const auto nc = static_cast<char32_t>(next.cp < 0 ? 0 : next.cp);
  const bool machine = IsMachineText(ctx_.kind);
  const bool inside_word = prev.cp >= 0 && next.cp >= 0 && UnicodeData::IsWordChar(pc) &&
                           UnicodeData::IsWordChar(nc);
  if (run.size() == 1) {
    const int32_t cp = run[0];
    const int ps = prev.cp >= 0 ? UnicodeData::Script(pc) : -1;
    const int ns = next.cp >= 0 ? UnicodeData::Script(nc) : -1;
    const bool joining = UnicodeData::IsJoiningScript(ps) || UnicodeData::IsJoiningScript(ns);
    Severity sev = Severity::kLow;
    if (machine) {
      const Position pos = PositionIn(i);
      // In a string literal, high only where it splits ASCII ("admin\u200Bistrator").
      const bool ascii_side = (prev.cp >= 0 && IsAsciiAlnum(prev.cp)) || (next.cp >= 0 && IsAsciiAlnum(next.cp));
      sev = pos == Position::kSyntax   ? (inside_word ? Severity::kHigh : Severity::kMedium)
            : pos == Position::kString ? (inside_word && ascii_side ? Severity::kHigh : Severity::kLow)
                                       : Severity::kLow;
    }
    bool legit = false;
    switch (cp) {
      case 0x200D:  // ZWJ: emoji sequences, joining scripts
        legit = (prev.cp >= 0 && (UnicodeData::IsEmojiBase(pc) || UnicodeData::IsEmojiModifier(pc)) &&
                 next.cp >= 0 && UnicodeData::IsExtendedPictographic(nc)) ||
                joining;
        break;
      case 0x200C:  // ZWNJ: Persian, Indic; and ligature control in prose
        legit = joining || (!machine && inside_word);
        break;
      case 0x200B:  // ZWSP: word breaks in scripts without spaces
        legit = UnicodeData::IsNoSpaceScript(ps) || UnicodeData::IsNoSpaceScript(ns);
        break;
      case 0x00AD:  // soft hyphen: a hyphenation hint inside a prose word
        legit = !machine && inside_word;
        if (machine && !inside_word) sev = Severity::kLow;
        break;
      case 0xFEFF:
        legit = i == 0 && ctx_.at_file_start;
        if (!machine) sev = Severity::kLow;
        break;
      case 0x2060:  // word joiner: typesetting in prose
        legit = !machine;
        break;
      case 0x034F:  // combining grapheme joiner
        legit = !machine;
        if (machine) sev = Severity::kLow;
        break;
      case 0x180E:
        legit = ps == kScriptMongolian || ns == kScriptMongolian;
        break;
      case 0x115F: case 0x1160: case 0x3164: case 0xFFA0:
        legit = ps == kScriptHangul || ns == kScriptHangul;
        if (!legit) sev = machine ? Severity::kHigh : Severity::kMedium;
        break;
      default:
        break;
    }
    if (legit) return end;
    Finding& f = Emit("unicode/invisible-characters", sev, i, end,
                      fmt::format("invisible character {}{}", UnicodeData::Name(static_cast<char32_t>(cp)),
                                  inside_word && machine ? " inside an identifier or word" : ""));
    AddCodePoints(f, i, end);
    f.fixes.push_back({i, end, ""});
    return end;
  }
  // A run of invisible characters. Two distinct ones repeating are bits.
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
  if (machine && run.size() < 4) sev = PositionIn(i) == Position::kSyntax ? Severity::kHigh : Severity::kLow;
  if (!decoded.empty()) sev = Severity::kCritical;
  Finding& f = Emit("unicode/invisible-characters", sev, i, end,
                    decoded.empty() ? fmt::format("{} invisible characters in a row", run.size())
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
    if (tmp.codepoints.size() < kMaxStoredCodePoints) tmp.codepoints.push_back(static_cast<char32_t>(c.cp));
    fixes.push_back({c.begin, c.end, ""});
    switch (c.cp) {
      case 0x202A: case 0x202B: case 0x202D: case 0x202E:  // LRE RLE LRO RLO
        has_override |= c.cp == 0x202D || c.cp == 0x202E;
        stack.push_back(0x202C);
        break;
      case 0x2066: case 0x2067: case 0x2068:  // LRI RLI FSI
        stack.push_back(0x2069);
        break;
      case 0x202C: case 0x2069:
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
    why = unbalanced ? "unterminated bidirectional override or isolate: code can display differently from how it runs (Trojan Source, CVE-2021-42574)"
                     : "bidirectional control characters in code: they reorder how it displays (Trojan Source, CVE-2021-42574)";
  } else if (unbalanced) {
    sev = line.has_rtl ? Severity::kMedium : Severity::kHigh;
    why = "unterminated bidirectional override or isolate reorders the text after it";
  } else if (has_override && !line.has_rtl) {
    sev = Severity::kHigh;
    why = "bidirectional override reverses left-to-right text (used to disguise names and commands)";
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
  if (!IsMachineText(ctx_.kind)) return end;
  const LineInfo& line = Line(i);
  if (line.has_rtl) return end;
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
    fixes.push_back({c.begin, c.end, (c.cp == 0x2028 || c.cp == 0x2029) ? "\n" : " "});
    end = c.end;
  }
  const LineInfo& line = Line(i);
  Severity sev;
  switch (ctx_.kind) {
    case TextKind::kShell:
      sev = line.has_cjk || PositionIn(i) == Position::kComment ? Severity::kLow : Severity::kMedium;
      break;
    case TextKind::kCode:
      sev = line_sep || (!line.has_other_letters && PositionIn(i) == Position::kSyntax) ? Severity::kMedium
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
  Finding& f = Emit("unicode/unusual-space", sev, i, end,
                    line_sep ? "line or paragraph separator: invisible line break that some parsers and editors disagree on"
                             : "unusual space in code or a command: it looks like a space but is not one");
  AddCodePoints(f, i, end);
  f.fixes = std::move(fixes);
  return end;
}

size_t ScanState::HandleLookalikeLetter(size_t i) {
  // Find the word around i: letters, digits, marks and '_'.
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
  bool has_ascii_letter = false;
  bool all_lookalike = true;
  size_t letters = 0;
  bool suspicious = false;  // a foreign-script lookalike mixed into an ASCII word
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
    if (data_.Classify(cc) != CharClass::kLookalikeLetter) {
      all_lookalike = false;
      continue;
    }
    fixes.push_back({c.begin, c.end, std::string(1, data_.LookalikeAscii(cc))});
    const int script = UnicodeData::Script(cc);
    if (UnicodeData::IsFontOrWideVariant(cc)) {
      suspicious = true;
    } else if (script == kScriptGreek) {
      // Greek letters are units and math (μs, Δx); only flag one wedged between ASCII letters.
      const CodePoint a = Before(c.begin);
      const CodePoint b = At(c.end);
      if (IsAsciiLetter(a.cp) && IsAsciiLetter(b.cp)) suspicious = true;
    } else if (!UnicodeData::IsLatinLikeScript(script)) {
      suspicious = true;
    } else if (script != kScriptLatin) {
      suspicious = true;  // Common-script letter-likes (mathematical alphanumerics)
    }
  }
  suspicious = suspicious && has_ascii_letter;
  size_t tb = 0, te = 0;
  const bool host = InHostOrUrl(i, &tb, &te);
  if (host && (suspicious || (all_lookalike && letters >= 2))) {
    Finding& f = Emit("unicode/confusable-host", Severity::kHigh, wb, we,
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
    Finding& f = Emit("unicode/confusable-identifier", high ? Severity::kHigh : Severity::kMedium, wb, we,
                      "word mixes ASCII letters with look-alike letters from another script");
    AddCodePoints(f, wb, we);
    std::string skeleton(text_.substr(wb, we - wb));
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

size_t ScanState::HandlePunct(size_t i, int32_t cp, size_t end, bool typographic) {
  const char ascii = data_.LookalikeAscii(static_cast<char32_t>(cp));
  size_t tb = 0, te = 0;
  if ((ascii == '.' || ascii == '/' || ascii == ':' || ascii == '@') && InHostOrUrl(i, &tb, &te, ascii == '.')) {
    Finding& f = Emit("unicode/confusable-host", Severity::kHigh, i, end,
                      fmt::format("look-alike of {} inside a host name or URL", Quoted(ascii)));
    AddCodePoints(f, i, end);
    f.decoded = std::string(text_.substr(tb, te - tb));
    f.fixes.push_back({i, end, std::string(1, ascii)});
    return end;
  }
  const CodePoint prev = Before(i);
  const CodePoint next = At(end);
  const bool machine = IsMachineText(ctx_.kind);
  if (typographic) {
    if (ctx_.kind != TextKind::kShell) return end;
    const LineInfo& line = Line(i);
    if (line.has_other_letters) return end;
    Finding& f = Emit("unicode/lookalike-punctuation", Severity::kLow, i, end,
                      fmt::format("typographic {} in a command, where the shell expects ASCII", Quoted(ascii)));
    AddCodePoints(f, i, end);
    f.fixes.push_back({i, end, std::string(1, ascii)});
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
  // In prose, a look-alike matters where it can pass for the ASCII it mimics
  // inside words and sentences: apostrophes in "don't", dots and colons.
  auto prose_severity = [&]() {
    if (ascii == '-') return Severity::kLow;  // typographic hyphens and minus signs
    if (ascii == '\'' || ascii == '"' || ascii == '`') return in_word ? Severity::kMedium : Severity::kLow;
    const bool sentence_punct = std::string_view(".,:;!?/@").find(ascii) != std::string_view::npos;
    return sentence_punct && touches_word ? Severity::kMedium : Severity::kLow;
  };
  const Position pos = machine ? PositionIn(i) : Position::kComment;
  if (pos == Position::kComment) {
    sev = prose_severity();
  } else if (line.has_other_letters) {
    sev = Severity::kLow;
  } else if (pos == Position::kString && ctx_.kind != TextKind::kShell) {
    // Inside a string literal: data (a table of symbols) unless it passes
    // for ASCII next to a word, as in "don't" or "-rf".
    sev = touches_word ? Severity::kMedium : Severity::kLow;
  } else {
    sev = Severity::kHigh;
    if (ctx_.kind == TextKind::kConfig && !in_word) sev = Severity::kMedium;
  }
  Finding& f = Emit("unicode/lookalike-punctuation", sev, i, end,
                    fmt::format("look-alike of ASCII {} in otherwise ASCII text", Quoted(ascii)));
  AddCodePoints(f, i, end);
  f.fixes.push_back({i, end, std::string(1, ascii)});
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
  if (trailing_.size() < 8 || trailing_mixed_ < 4 || trailing_mixed_ * 4 < trailing_.size()) return;
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
  Finding& f = Emit("unicode/whitespace-steganography", decoded.empty() ? Severity::kHigh : Severity::kCritical,
                    trailing_.front().begin, trailing_.front().end,
                    fmt::format("{} lines end in mixed spaces and tabs, a pattern that carries hidden bits",
                                trailing_.size()));
  f.decoded = decoded;
  for (const TrailingRun& r : trailing_) f.fixes.push_back({r.begin, r.end, ""});
}

void ScanState::FinishInvalid() {
  if (invalid_count_ == 0) return;
  Emit("unicode/invalid-encoding", Severity::kLow, first_invalid_, first_invalid_ + 1,
       fmt::format("{} invalid UTF-8 sequence{} (first at byte {}); the text may be in another encoding",
                   invalid_count_, invalid_count_ == 1 ? "" : "s", first_invalid_));
}

}  // namespace

void HiddenTextDetector::Scan(std::string_view text, const TextContext& context,
                              std::vector<Finding>* out) const {
  ScanState state(data_, text, context, out);
  state.Run();
}

}  // namespace glassbox
