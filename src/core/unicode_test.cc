#include "core/unicode.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace glassbox {
namespace {

// The build-time table (glassbox_unicodegen, core/unicode_table.h) against
// ICU itself, for every code point: the classifiers must say what ICU says.
TEST(UnicodeData, BuildTimeTableAgreesWithIcuForEveryCodePoint) {
  const UnicodeData& data = UnicodeData::Get();
  size_t differ = 0;
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    const uint16_t table = data.EntryFor(cp);
    const uint16_t icu = data.ComputedEntry(cp);
    if (table != icu && ++differ <= 10) {
      ADD_FAILURE() << "U+" << std::hex << static_cast<uint32_t>(cp) << ": table " << table
                    << ", ICU " << icu;
    }
  }
  EXPECT_EQ(differ, 0u);
  // A few whose class the detector's rules depend on.
  EXPECT_EQ(data.Classify(0x200B), CharClass::kInvisible);
  EXPECT_EQ(data.Classify(0x202E), CharClass::kBidiControl);
  EXPECT_EQ(data.Classify(0x00AD), CharClass::kSoftHyphen);
  EXPECT_EQ(data.Classify(0x0430), CharClass::kLookalikeLetter);  // Cyrillic a
  EXPECT_EQ(data.LookalikeAscii(0x0430), 'a');
  EXPECT_EQ(data.Classify('a'), CharClass::kOrdinary);
  EXPECT_EQ(data.Classify(0x110000), CharClass::kOrdinary);  // past Unicode
}

}  // namespace
}  // namespace glassbox
