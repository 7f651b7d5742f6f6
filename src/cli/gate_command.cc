// `glassbox gate`: flag parsing and output only; the work is in src/gate/.
#include "cli/commands.h"

namespace glassbox::cli {

const char* GateHelpText() { return "glassbox gate: not built yet in this version.\n"; }

int RunGate(int /*argc*/, char** /*argv*/) {
  return Fail("'gate' is not built yet in this version; see 'glassbox help'");
}

}  // namespace glassbox::cli
