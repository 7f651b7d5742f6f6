// Test helper: the one thing `glassbox __probe-cell SPEC` does, without the
// rest of the CLI, so probe_run's sandbox tests do not depend on src/cli.
#include <cstring>

#include "probe/cell_runner.h"

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "__probe-cell") == 0) {
    return glassbox::probe::RunProbeCellMain(argc - 1, argv + 1);
  }
  return 2;
}
