// `glassbox probe`: flag parsing and output only; the work is in src/probe/.
#include "cli/commands.h"

namespace glassbox::cli {

const char* ProbeHelpText() { return "glassbox probe: not built yet in this version.\n"; }

int RunProbe(int /*argc*/, char** /*argv*/) {
  return Fail("'probe' is not built yet in this version; see 'glassbox help'");
}

}  // namespace glassbox::cli
