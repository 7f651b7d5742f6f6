// `glassbox audit`: flag parsing and output only; the work is in src/audit/.
#include "cli/commands.h"

namespace glassbox::cli {

const char* AuditHelpText() { return "glassbox audit: not built yet in this version.\n"; }

int RunAudit(int /*argc*/, char** /*argv*/) {
  return Fail("'audit' is not built yet in this version; see 'glassbox help'");
}

}  // namespace glassbox::cli
