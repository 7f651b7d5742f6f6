// The CLI's commands. Only cli/ prints to stdout and decides exit codes:
// 0 clean, 1 findings at or above --fail-on, 2 usage or runtime error.
#pragma once

#include <string>
#include <vector>

namespace glassbox::cli {

inline constexpr int kExitClean = 0;
inline constexpr int kExitFindings = 1;
inline constexpr int kExitError = 2;

int RunScan(int argc, char** argv);
int RunClean(int argc, char** argv);
// 0 every row kept, 1 some rows rejected, 2 usage or runtime error.
int RunFilter(int argc, char** argv);
// `glassbox log`: 0 ok (verify: chain intact), 1 verify found a break, 2 error.
int RunLog(int argc, char** argv);
// gate, probe and audit live in <command>_command.cc with their help text.
int RunGate(int argc, char** argv);
int RunProbe(int argc, char** argv);
int RunAudit(int argc, char** argv);
const char* GateHelpText();
const char* ProbeHelpText();
const char* AuditHelpText();
// Prints the help for `topic` ("" for the overview). Returns an exit code.
int RunHelp(const std::string& topic);
const char* Version();

// Prints "glassbox: MESSAGE" on stderr and returns kExitError.
int Fail(const std::string& message);

}  // namespace glassbox::cli
