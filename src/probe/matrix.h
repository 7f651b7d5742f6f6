// The environment matrix of `glassbox probe`: which cells to run the agent
// in. A cell is a complete environment (the variables the agent sees, the
// system timezone behind /etc/localtime, the host name and the user name),
// built from a baseline cell plus the values of one or more dimensions.
//
// A dimension varies one setting, or several settings that move together
// (LANG with LC_ALL; all the base-URL variables at once). Besides environment
// variables a dimension may name a pseudo-variable:
//   @localtime  the zone behind /etc/localtime (CellSpec.timezone), apart from TZ
//   @hostname   the host name the agent sees
//   @user       the user name the agent runs as
// An empty value means "unset" for an environment variable.
//
// By default cells vary one dimension at a time around the baseline (so every
// difference points at one dimension); a matrix file may ask for the full
// cross product instead. Everything here is pure: no I/O but reading the
// matrix file the caller names, and the command's own name for detection.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace glassbox::probe {

inline constexpr std::string_view kLocaltimeVar = "@localtime";
inline constexpr std::string_view kHostnameVar = "@hostname";
inline constexpr std::string_view kUserVar = "@user";

// One value of a dimension: what it sets, and a short label for reports.
struct DimensionValue {
  std::string label;                                        // "Asia/Shanghai", "openrouter.ai"
  std::vector<std::pair<std::string, std::string>> assign;  // variable -> value ("" = unset)
};

// A setting that varies, with the values it takes (the baseline's value is
// not repeated here).
struct Dimension {
  std::string name;  // "TZ", "LANG+LC_ALL", "base URL"
  std::vector<std::string> variables;
  std::vector<DimensionValue> values;
};

// A fully resolved cell.
struct Cell {
  std::string label;                          // "baseline", "TZ=Asia/Shanghai"
  std::map<std::string, std::string> env;     // variables set (unset ones are absent)
  std::string timezone;                       // /etc/localtime zone
  std::string hostname;
  std::string username;
  // Variables (and pseudo-variables) whose value differs from the baseline,
  // with their values in this cell ("" = unset).
  std::map<std::string, std::string> varied;

  // The value of a variable or pseudo-variable in this cell ("" when unset).
  std::string Get(std::string_view variable) const;
};

struct Matrix {
  std::vector<Cell> cells;  // cells[0] is the baseline
  std::vector<Dimension> dimensions;
  bool cross_product = false;
};

// The baseline every matrix starts from: TZ unset (so the zone comes from
// /etc/localtime, UTC, as on most machines), LANG=en_US.UTF-8, the official
// provider base URLs, placeholder API keys, host name "devbox-7f3a", user
// "alex".
struct Baseline {
  std::map<std::string, std::string> env;
  std::string timezone = "UTC";
  std::string hostname = "devbox-7f3a";
  std::string username = "alex";
};
Baseline DefaultBaseline();

// Parses a `--vary` flag: "VAR=v1,v2" or "VAR1+VAR2=v1,v2" (the variables
// move together). Errors name the flag and the reason.
Result<Dimension> ParseVary(std::string_view flag);

// The default dimensions: TZ (zones sharing an offset but not a name, and
// zones of other offsets), @localtime, LANG+LC_ALL, the base-URL variables
// (chosen from `argv` when the command names a known agent, else all of
// them) pointed at official, relay, company and foreign hosts, HTTPS_PROXY
// on, @hostname and @user.
std::vector<Dimension> DefaultDimensions(const std::vector<std::string>& argv);

// The base-URL variables to vary for this command: the one its name
// suggests (claude -> ANTHROPIC_BASE_URL, codex/openai -> OPENAI_BASE_URL,
// gemini -> GOOGLE_GEMINI_BASE_URL), else all three.
std::vector<std::string> BaseUrlVariables(const std::vector<std::string>& argv);

// One cell per dimension value around the baseline (plus the baseline), or
// the full cross product when `cross_product`. Fails when the matrix would
// hold more than `max_cells` cells.
Result<Matrix> BuildMatrix(const Baseline& baseline, std::vector<Dimension> dimensions, bool cross_product,
                           size_t max_cells = 512);

// A matrix file (TOML):
//   cross = false                       # optional: full cross product
//   [baseline]                          # optional: overrides of the baseline
//   TZ = "UTC"
//   "@hostname" = "ci-runner-1"
//   [[vary]]
//   variable = "TZ"                     # or: variables = ["LANG", "LC_ALL"]
//   values = ["Asia/Shanghai", "Asia/Singapore"]
// Errors name the file, the line where known, and the reason.
Result<Matrix> LoadMatrixFile(const std::string& path, const Baseline& baseline, size_t max_cells = 512);
Result<Matrix> ParseMatrixToml(std::string_view text, const std::string& name, const Baseline& baseline,
                               size_t max_cells = 512);

// True for names an agent may be given: environment variable names
// ([A-Za-z_][A-Za-z0-9_]*) and the pseudo-variables above.
bool IsValidVariable(std::string_view name);

}  // namespace glassbox::probe
