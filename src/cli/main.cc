// glassbox: makes AI coding agents auditable. This file only dispatches to a
// command; each command parses its own flags.
#include <cstring>
#include <iostream>
#include <string>

#include "cli/commands.h"
#include "probe/cell_runner.h"

int main(int argc, char** argv) {
  using namespace glassbox::cli;
  if (argc < 2) {
    RunHelp("");
    return kExitError;
  }
  const std::string cmd = argv[1];
  // Internal: one sandboxed probe cell, re-executed by `glassbox probe` (see
  // probe/cell_runner.h). Dispatched first, while the process is single-threaded.
  if (cmd == "__probe-cell") return glassbox::probe::RunProbeCellMain(argc - 1, argv + 1);
  if (cmd == "--version" || cmd == "-V" || cmd == "version") {
    std::cout << "glassbox " << Version() << "\n";
    return kExitClean;
  }
  if (cmd == "help" || cmd == "--help" || cmd == "-h") return RunHelp(argc > 2 ? argv[2] : "");
  if (cmd == "scan") return RunScan(argc - 1, argv + 1);
  if (cmd == "clean") return RunClean(argc - 1, argv + 1);
  if (cmd == "filter") return RunFilter(argc - 1, argv + 1);
  if (cmd == "log") return RunLog(argc - 1, argv + 1);
  if (cmd == "gate") return RunGate(argc - 1, argv + 1);
  if (cmd == "probe") return RunProbe(argc - 1, argv + 1);
  if (cmd == "audit") return RunAudit(argc - 1, argv + 1);
  return Fail("unknown command '" + cmd + "'; see 'glassbox help'");
}
