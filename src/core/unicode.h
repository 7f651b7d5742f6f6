// Unicode classification for hidden-text detection, backed by ICU.
//
// Classes come from ICU character properties (Default_Ignorable_Code_Point,
// Bidi_Control, general categories, Emoji, Ideographic, scripts) and UTS #39
// confusable skeletons (uspoof), not from hand-made tables. Results are
// computed on first use per code point and cached in a lock-free table, so a
// UnicodeData may be shared by any number of threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace glassbox {

enum class CharClass : uint8_t {
  kOrdinary = 0,
  kTag,                // U+E0000..E007F
  kVariationSelector,  // FE00..FE0F, E0100..E01EF, Mongolian FVS
  kInvisible,  // other default-ignorable format characters (ZWSP, ZWNJ, ZWJ, WJ, U+2061..2064, CGJ,
               // …)
  kSoftHyphen,        // U+00AD
  kByteOrderMark,     // U+FEFF
  kHangulFiller,      // U+115F, U+1160, U+3164, U+FFA0
  kBidiControl,       // embeddings, overrides, isolates and their terminators
  kBidiMark,          // LRM, RLM, ALM
  kUnusualSpace,      // space separators other than U+0020, and U+2028/2029
  kControl,           // C0/C1 controls other than TAB, LF, CR, FF
  kLookalikePunct,    // non-ASCII, UTS #39 skeleton is one ASCII punctuation or symbol
  kTypographicPunct,  // the lookalikes that belong in prose: curly quotes, dashes, guillemets
  kLookalikeLetter,   // non-ASCII letter or digit whose skeleton is one ASCII letter or digit
};

// The classes a reader cannot see at all (a renderer draws nothing for them):
// what the gate strips, the probe calls hidden and audit counts as hidden.
constexpr bool IsHiddenClass(CharClass c) {
  switch (c) {
    case CharClass::kTag:
    case CharClass::kVariationSelector:
    case CharClass::kInvisible:
    case CharClass::kSoftHyphen:
    case CharClass::kByteOrderMark:
    case CharClass::kHangulFiller:
    case CharClass::kBidiControl:
    case CharClass::kBidiMark:
      return true;
    default:
      return false;
  }
}

// The classes drawn like another, usually ASCII, character.
constexpr bool IsLookalikeClass(CharClass c) {
  return c == CharClass::kLookalikePunct || c == CharClass::kTypographicPunct ||
         c == CharClass::kLookalikeLetter;
}

// Script codes the context rules name (values of ICU's UScriptCode; checked
// against ICU in unicode.cc so ICU headers stay out of this header).
inline constexpr int kScriptGreek = 14;
inline constexpr int kScriptHangul = 18;
inline constexpr int kScriptLatin = 25;
inline constexpr int kScriptMongolian = 27;

class UnicodeData {
 public:
  // The process-wide instance. Immutable in meaning; its cache fills lazily.
  static const UnicodeData& Get();

  CharClass Classify(char32_t cp) const { return static_cast<CharClass>(Entry(cp) & 0x1F); }
  // For kLookalike*: the ASCII character the code point is confusable with.
  char LookalikeAscii(char32_t cp) const { return static_cast<char>((Entry(cp) >> 5) & 0x7F); }

  // Property helpers used by the context rules.
  static bool IsEmojiBase(char32_t cp);  // Emoji or Extended_Pictographic
  static bool IsExtendedPictographic(char32_t cp);
  static bool IsEmojiModifier(char32_t cp);
  static bool IsIdeographic(char32_t cp);
  static bool IsLetterOrMark(char32_t cp);
  static bool IsDecimalDigit(char32_t cp);  // general category Nd, any script
  static bool IsWordChar(char32_t cp);      // XID_Continue or '_'
  static bool IsSymbol(char32_t cp);
  static int Script(char32_t cp);           // UScriptCode
  static bool IsStrongRtl(char32_t cp);     // bidi class R or AL
  static bool IsJoiningScript(int script);  // scripts that use ZWJ/ZWNJ in words
  static bool IsNoSpaceScript(int script);  // scripts that break words with ZWSP
  static bool IsCjkScript(int script);
  static bool IsLatinLikeScript(int script);  // Latin, Common, Inherited
  // Compatibility variants used to spoof letters: fullwidth, mathematical.
  static bool IsFontOrWideVariant(char32_t cp);
  // A top-level domain that exists: an ISO 3166 country code (from ICU's
  // region data, plus the ccTLDs outside ISO 3166) or a common generic TLD.
  // `tld` is lower-case ASCII.
  static bool IsKnownTld(std::string_view tld);
  // "ZERO WIDTH SPACE"; falls back to "U+XXXX" for unnamed code points.
  static std::string Name(char32_t cp);

  // What ICU says for cp (the packed entry: bit 15 set, bits 5..11 the ASCII
  // look-alike, bits 0..4 the CharClass), past the cache and the build-time
  // table: for glassbox_unicodegen, which builds that table, and the test
  // that compares the two.
  uint16_t ComputedEntry(char32_t cp) const { return Compute(cp); }
  // The entry the classifiers use (the build-time table's, else ICU's).
  uint16_t EntryFor(char32_t cp) const { return Entry(cp); }

 private:
  UnicodeData();
  uint16_t Entry(char32_t cp) const {
    if (cp > 0x10FFFF) return 0x8000;
    std::atomic_ref<uint16_t> slot(table_.get()[cp]);
    uint16_t e = slot.load(std::memory_order_relaxed);
    if (e & 0x8000) return e;
    e = Lookup(cp);
    slot.store(e, std::memory_order_relaxed);
    return e;
  }
  // The entry from the build-time table (core/unicode_table.h), or from ICU
  // when the binary has none (glassbox_unicodegen).
  uint16_t Lookup(char32_t cp) const;
  uint16_t Compute(char32_t cp) const;

  struct SpoofHolder;  // the UTS #39 checker, opened on the first non-ASCII code point
  std::unique_ptr<SpoofHolder> spoof_;
  // bit 15: computed; bits 5..11: ASCII lookalike; bits 0..4: CharClass.
  // One entry per code point (2.2 MB), from calloc: the pages stay untouched,
  // and cost nothing at start-up, until a text uses their code points.
  struct FreeDeleter {
    void operator()(uint16_t* p) const;
  };
  std::unique_ptr<uint16_t[], FreeDeleter> table_;
};

}  // namespace glassbox
