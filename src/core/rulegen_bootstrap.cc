// BuiltinPrecompiledRules() for glassbox_rulegen, which produces the real one:
// empty, so the generator parses the TOML files and compiles the database.
#include "core/secrets.h"

namespace glassbox {

const PrecompiledRules& BuiltinPrecompiledRules() {
  static const PrecompiledRules kNone;
  return kNone;
}

}  // namespace glassbox
