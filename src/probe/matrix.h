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
// Three designs say which cells to run:
//   one-at-a-time  each value of each dimension around the baseline (what
//                  --vary asks for: every difference points at one dimension);
//   pairwise       a 2-way covering array: every pair of values of every two
//                  dimensions (the baseline's value counting as one) appears in
//                  at least one cell, so a behaviour that needs two settings at
//                  once is seen, in about as many cells as the two largest
//                  dimensions multiplied (the default matrix's design);
//   cross          the full cross product.
// Every cell records its level in each dimension (Cell::levels), which the
// analysis uses to attribute a difference to the fewest settings that explain
// it. Everything here is pure: no I/O but reading the matrix file the caller
// names, and the command's own name for detection.
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

// One value of a dimension: what it sets, and a short label for reports. A
// label holding '=' ("TZ=Asia/Shanghai") names the cell by itself; any other
// is shown as "DIMENSION=LABEL".
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
  std::string label;                       // "baseline", "TZ=Asia/Shanghai"
  std::map<std::string, std::string> env;  // variables set (unset ones are absent)
  std::string timezone;                    // /etc/localtime zone
  std::string hostname;
  std::string username;
  // Variables (and pseudo-variables) whose value differs from the baseline,
  // with their values in this cell ("" = unset).
  std::map<std::string, std::string> varied;
  // Per dimension of the matrix: 0 for the baseline's value, k for
  // dimensions[d].values[k - 1].
  std::vector<int> levels;

  // The value of a variable or pseudo-variable in this cell ("" when unset).
  std::string Get(std::string_view variable) const;
};

enum class Design { kOneAtATime, kPairwise, kCross };
// "one-at-a-time", "pairwise", "cross".
const char* DesignName(Design design);

struct Matrix {
  std::vector<Cell> cells;  // cells[0] is the baseline
  std::vector<Dimension> dimensions;
  Design design = Design::kOneAtATime;
  // The variables every cell sets to one value (--set, [baseline] entries
  // that no dimension varies), for the report.
  std::map<std::string, std::string> fixed;
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

// The baseline for a matrix over `dimensions`, for the command `argv`: only
// what the matrix uses is set — LANG=en_US.UTF-8 when a dimension varies
// LANG, every other varied variable unset (a base URL unset is the official
// host, as on most machines) — plus a placeholder API key for each provider
// the command may call (so that it runs at all). `--set` values then fix a
// variable in every cell.
Baseline BaselineFor(const std::vector<Dimension>& dimensions, const std::vector<std::string>& argv,
                     const std::map<std::string, std::string>& set = {});

// Parses a `--set VAR=VALUE` flag into `set`. Errors name the flag.
Status ParseSet(std::string_view flag, std::map<std::string, std::string>* set);

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

// The cells of `design` over `dimensions` (the baseline first). No
// dimension at all gives the baseline alone. Fails when the matrix would
// hold more than `max_cells` cells.
Result<Matrix> BuildMatrix(const Baseline& baseline, std::vector<Dimension> dimensions,
                           Design design, size_t max_cells = 512);

// The rows of a 2-way covering array over dimensions of `levels[d]` levels
// each (level 0 first): every pair of levels of every two dimensions appears
// in some row; row 0 is all zeros. Greedy in the manner of IPOG (Lei et al.):
// deterministic, close to the product of the two largest level counts.
std::vector<std::vector<int>> CoveringArray(const std::vector<int>& levels);

// A matrix file (TOML):
//   design = "pairwise"                 # optional: one-at-a-time (default),
//                                       # pairwise or cross
//   cross = false                       # optional, older spelling of design = "cross"
//   [baseline]                          # optional: overrides of the baseline
//   TZ = "UTC"
//   "@hostname" = "ci-runner-1"
//   [[vary]]
//   variable = "TZ"                     # or: variables = ["LANG", "LC_ALL"]
//   values = ["Asia/Shanghai", "Asia/Singapore"]
// Errors name the file, the line where known, and the reason.
// The baseline is BaselineFor(the file's dimensions, argv, set), then the
// file's [baseline] entries. A file with a [baseline] and no [[vary]] is a
// one-cell matrix.
Result<Matrix> LoadMatrixFile(const std::string& path, const std::vector<std::string>& argv,
                              const std::map<std::string, std::string>& set = {},
                              size_t max_cells = 512);
Result<Matrix> ParseMatrixToml(std::string_view text, const std::string& name,
                               const std::vector<std::string>& argv,
                               const std::map<std::string, std::string>& set = {},
                               size_t max_cells = 512);

// True for names an agent may be given: environment variable names
// ([A-Za-z_][A-Za-z0-9_]*) and the pseudo-variables above.
bool IsValidVariable(std::string_view name);

}  // namespace glassbox::probe
