#include "core/unicode.h"

#include <unicode/uchar.h>
#include <unicode/uloc.h>
#include <unicode/uscript.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <new>
#include <set>
#include <string_view>

#include "core/unicode_table.h"

namespace glassbox {

static_assert(kScriptGreek == USCRIPT_GREEK && kScriptHangul == USCRIPT_HANGUL &&
              kScriptLatin == USCRIPT_LATIN && kScriptMongolian == USCRIPT_MONGOLIAN);

struct UnicodeData::SpoofHolder {
  std::once_flag once;
  USpoofChecker* checker = nullptr;  // null when ICU could not open one
  USpoofChecker* Get() {
    std::call_once(once, [this] {
      UErrorCode status = U_ZERO_ERROR;
      checker = uspoof_open(&status);
      if (U_FAILURE(status)) checker = nullptr;
    });
    return checker;
  }
  ~SpoofHolder() {
    if (checker != nullptr) uspoof_close(checker);
  }
};

void UnicodeData::FreeDeleter::operator()(uint16_t* p) const { std::free(p); }

const UnicodeData& UnicodeData::Get() {
  static const UnicodeData* instance = new UnicodeData();  // never destroyed: safe at exit
  return *instance;
}

UnicodeData::UnicodeData()
    : spoof_(std::make_unique<SpoofHolder>()),
      table_(static_cast<uint16_t*>(std::calloc(0x110000, sizeof(uint16_t)))) {
  if (table_ == nullptr) throw std::bad_alloc();
}

namespace {

bool IsTypographic(char32_t cp) {
  switch (cp) {
    case 0x2018:
    case 0x2019:
    case 0x201A:
    case 0x201B:  // single quotes
    case 0x201C:
    case 0x201D:
    case 0x201E:
    case 0x201F:  // double quotes
    case 0x2013:
    case 0x2014:
    case 0x2015:  // dashes
    case 0x00AB:
    case 0x00BB:
    case 0x2039:
    case 0x203A:  // guillemets
    case 0x2026:
    case 0x00B4:
    case 0x02DC:
    case 0x2022:
    case 0x00B7:
    case 0x2215:
    case 0x2044:
    case 0x00D7:
    case 0x00F7:
      return true;
    default:
      return false;
  }
}

}  // namespace

uint16_t UnicodeData::Lookup(char32_t cp) const {
  const internal::UnicodeRuns& runs = internal::PrecomputedUnicodeRuns();
  if (runs.count == 0) return Compute(cp);
  // The last run starting at or before cp (runs start at 0).
  const uint32_t* end = runs.starts + runs.count;
  const uint32_t* it = std::upper_bound(runs.starts, end, static_cast<uint32_t>(cp));
  return runs.entries[static_cast<size_t>(it - runs.starts) - 1];
}

uint16_t UnicodeData::Compute(char32_t cp) const {
  auto pack = [](CharClass c, char ascii = 0) {
    return static_cast<uint16_t>(0x8000 | (static_cast<uint16_t>(ascii & 0x7F) << 5) |
                                 static_cast<uint16_t>(c));
  };
  const UChar32 c = static_cast<UChar32>(cp);
  if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
    if (cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f') return pack(CharClass::kOrdinary);
    return pack(CharClass::kControl);
  }
  if (cp < 0x7F) return pack(CharClass::kOrdinary);
  if (cp >= 0xE0000 && cp <= 0xE007F) return pack(CharClass::kTag);
  if ((cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0xE0100 && cp <= 0xE01EF) ||
      (cp >= 0x180B && cp <= 0x180D) || cp == 0x180F) {
    return pack(CharClass::kVariationSelector);
  }
  if (cp == 0x00AD) return pack(CharClass::kSoftHyphen);
  // BRAILLE PATTERN BLANK shows nothing and is no space: a filler that
  // passes for white space (it is not Default_Ignorable).
  if (cp == 0x2800) return pack(CharClass::kInvisible);
  if (cp == 0xFEFF) return pack(CharClass::kByteOrderMark);
  if (cp == 0x115F || cp == 0x1160 || cp == 0x3164 || cp == 0xFFA0) {
    return pack(CharClass::kHangulFiller);
  }
  if (u_hasBinaryProperty(c, UCHAR_BIDI_CONTROL)) {
    if (cp == 0x200E || cp == 0x200F || cp == 0x061C) return pack(CharClass::kBidiMark);
    return pack(CharClass::kBidiControl);
  }
  if (u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT)) {
    return pack(CharClass::kInvisible);
  }
  const int8_t type = u_charType(c);
  if (type == U_SPACE_SEPARATOR || type == U_LINE_SEPARATOR || type == U_PARAGRAPH_SEPARATOR) {
    return pack(CharClass::kUnusualSpace);
  }
  if (type == U_UNASSIGNED || type == U_PRIVATE_USE_CHAR || type == U_SURROGATE) {
    return pack(CharClass::kOrdinary);
  }
  USpoofChecker* checker = spoof_->Get();
  if (checker == nullptr) return pack(CharClass::kOrdinary);
  // UTS #39 skeleton: is this code point confusable with one ASCII character?
  UChar in[2];
  int32_t in_len = 0;
  U16_APPEND_UNSAFE(in, in_len, c);
  UChar skel[8];
  UErrorCode status = U_ZERO_ERROR;
  const int32_t n = uspoof_getSkeleton(checker, 0, in, in_len, skel, 8, &status);
  // Double-quote look-alikes have the skeleton "''".
  const bool double_quote = n == 2 && skel[0] == 0x27 && skel[1] == 0x27;
  if (U_FAILURE(status) || (n != 1 && !double_quote) || skel[0] >= 0x7F || skel[0] < 0x21) {
    return pack(CharClass::kOrdinary);
  }
  const char ascii = double_quote ? '"' : static_cast<char>(skel[0]);
  const bool alnum = (ascii >= 'a' && ascii <= 'z') || (ascii >= 'A' && ascii <= 'Z') ||
                     (ascii >= '0' && ascii <= '9');
  if (alnum) {
    if (u_isalnum(c)) return pack(CharClass::kLookalikeLetter, ascii);
    return pack(CharClass::kOrdinary);
  }
  if (IsTypographic(cp)) return pack(CharClass::kTypographicPunct, ascii);
  return pack(CharClass::kLookalikePunct, ascii);
}

bool UnicodeData::IsEmojiBase(char32_t cp) {
  return u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_EMOJI) ||
         u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_EXTENDED_PICTOGRAPHIC);
}
bool UnicodeData::IsExtendedPictographic(char32_t cp) {
  return u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_EXTENDED_PICTOGRAPHIC);
}
bool UnicodeData::IsEmojiModifier(char32_t cp) {
  return u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_EMOJI_MODIFIER);
}
bool UnicodeData::IsIdeographic(char32_t cp) {
  return u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_IDEOGRAPHIC);
}
bool UnicodeData::IsLetterOrMark(char32_t cp) {
  const int32_t mask = U_GET_GC_MASK(static_cast<UChar32>(cp));
  return (mask & (U_GC_L_MASK | U_GC_M_MASK)) != 0;
}
bool UnicodeData::IsDecimalDigit(char32_t cp) {
  return u_charType(static_cast<UChar32>(cp)) == U_DECIMAL_DIGIT_NUMBER;
}

bool UnicodeData::IsKnownTld(std::string_view tld) {
  static const std::set<std::string, std::less<>>* const known = [] {
    auto* s = new std::set<std::string, std::less<>>();
    for (const char* const* c = uloc_getISOCountries(); *c != nullptr; ++c) {
      std::string cc(*c);
      std::transform(cc.begin(), cc.end(), cc.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      s->insert(cc);
    }
    // ccTLDs that are not ISO 3166 codes, and the generic TLDs that phishing
    // and package hosts use most (IANA root zone).
    for (const char* t :
         {"uk",        "eu",        "ac",      "su",     "com",     "org",     "net",
          "edu",       "gov",       "mil",     "int",    "arpa",    "info",    "biz",
          "name",      "pro",       "mobi",    "aero",   "asia",    "cat",     "coop",
          "jobs",      "museum",    "tel",     "travel", "post",    "xxx",     "app",
          "dev",       "page",      "xyz",     "online", "site",    "top",     "club",
          "shop",      "store",     "tech",    "cloud",  "blog",    "news",    "live",
          "link",      "click",     "zip",     "mov",    "website", "space",   "icu",
          "vip",       "work",      "life",    "world",  "email",   "support", "services",
          "security",  "finance",   "bank",    "money",  "pay",     "wallet",  "crypto",
          "network",   "systems",   "digital", "agency", "company", "group",   "global",
          "google",    "microsoft", "apple",   "amazon", "azure",   "aws",     "local",
          "localhost", "internal",  "onion",   "test",   "example", "invalid", "io",
          "ai",        "co",        "me",      "tv",     "ly",      "gg",      "sh",
          "so",        "to",        "cc",      "ws"}) {
      s->insert(t);
    }
    return s;
  }();
  return known->find(tld) != known->end();
}

bool UnicodeData::IsWordChar(char32_t cp) {
  return cp == '_' || u_hasBinaryProperty(static_cast<UChar32>(cp), UCHAR_XID_CONTINUE);
}
bool UnicodeData::IsSymbol(char32_t cp) {
  return (U_GET_GC_MASK(static_cast<UChar32>(cp)) & U_GC_S_MASK) != 0;
}
int UnicodeData::Script(char32_t cp) {
  UErrorCode status = U_ZERO_ERROR;
  const UScriptCode s = uscript_getScript(static_cast<UChar32>(cp), &status);
  return U_FAILURE(status) ? USCRIPT_INVALID_CODE : static_cast<int>(s);
}
bool UnicodeData::IsStrongRtl(char32_t cp) {
  const UCharDirection d = u_charDirection(static_cast<UChar32>(cp));
  return d == U_RIGHT_TO_LEFT || d == U_RIGHT_TO_LEFT_ARABIC;
}
bool UnicodeData::IsJoiningScript(int s) {
  switch (s) {
    case USCRIPT_ARABIC:
    case USCRIPT_SYRIAC:
    case USCRIPT_NKO:
    case USCRIPT_MONGOLIAN:
    case USCRIPT_HEBREW:
    case USCRIPT_DEVANAGARI:
    case USCRIPT_BENGALI:
    case USCRIPT_GURMUKHI:
    case USCRIPT_GUJARATI:
    case USCRIPT_ORIYA:
    case USCRIPT_TAMIL:
    case USCRIPT_TELUGU:
    case USCRIPT_KANNADA:
    case USCRIPT_MALAYALAM:
    case USCRIPT_SINHALA:
    case USCRIPT_MYANMAR:
    case USCRIPT_KHMER:
    case USCRIPT_TIBETAN:
    case USCRIPT_THAI:
    case USCRIPT_LAO:
    case USCRIPT_MANDAIC:
    case USCRIPT_THAANA:
    case USCRIPT_JAVANESE:
    case USCRIPT_BALINESE:
      return true;
    default:
      return false;
  }
}
bool UnicodeData::IsNoSpaceScript(int s) {
  switch (s) {
    case USCRIPT_THAI:
    case USCRIPT_LAO:
    case USCRIPT_KHMER:
    case USCRIPT_MYANMAR:
    case USCRIPT_TIBETAN:
    case USCRIPT_HAN:
    case USCRIPT_HIRAGANA:
    case USCRIPT_KATAKANA:
    case USCRIPT_JAVANESE:
    case USCRIPT_BALINESE:
      return true;
    default:
      return false;
  }
}
bool UnicodeData::IsCjkScript(int s) {
  return s == USCRIPT_HAN || s == USCRIPT_HIRAGANA || s == USCRIPT_KATAKANA ||
         s == USCRIPT_HANGUL || s == USCRIPT_BOPOMOFO;
}
bool UnicodeData::IsLatinLikeScript(int s) {
  return s == USCRIPT_LATIN || s == USCRIPT_COMMON || s == USCRIPT_INHERITED;
}
bool UnicodeData::IsFontOrWideVariant(char32_t cp) {
  const int32_t dt = u_getIntPropertyValue(static_cast<UChar32>(cp), UCHAR_DECOMPOSITION_TYPE);
  return dt == U_DT_FONT || dt == U_DT_WIDE || dt == U_DT_CIRCLE || dt == U_DT_SQUARE;
}

std::string UnicodeData::Name(char32_t cp) {
  char buf[128];
  UErrorCode status = U_ZERO_ERROR;
  int32_t n = u_charName(static_cast<UChar32>(cp), U_UNICODE_CHAR_NAME, buf, sizeof buf, &status);
  if (U_FAILURE(status) || n <= 0) {
    status = U_ZERO_ERROR;
    n = u_charName(static_cast<UChar32>(cp), U_EXTENDED_CHAR_NAME, buf, sizeof buf, &status);
  }
  if (U_FAILURE(status) || n <= 0) return {};
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace glassbox
