// PrecomputedUnicodeRuns() for glassbox_unicodegen, which produces the real
// one: empty, so that every entry it writes comes from ICU.
#include "core/unicode_table.h"

namespace glassbox::internal {

const UnicodeRuns& PrecomputedUnicodeRuns() {
  static const UnicodeRuns kNone;
  return kNone;
}

}  // namespace glassbox::internal
