#include "probe/matrix.h"

#include <fmt/format.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

namespace glassbox::probe {
namespace {

bool IsEnvName(std::string_view name) {
  if (name.empty()) return false;
  auto head = static_cast<unsigned char>(name[0]);
  if (!(std::isalpha(head) || head == '_')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || u == '_';
  });
}

std::vector<std::string> Split(std::string_view text, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t end = text.find(sep, start);
    parts.emplace_back(
        text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return parts;
}

// The base URL a variable takes for a host: OpenAI clients expect the /v1
// prefix in the base URL, Anthropic and Gemini clients add it themselves.
std::string BaseUrlFor(std::string_view variable, std::string_view host_and_path) {
  std::string url = fmt::format("https://{}", host_and_path);
  if (variable == "OPENAI_BASE_URL") url += "/v1";
  return url;
}

void Apply(Cell& cell, const std::string& variable, const std::string& value) {
  if (variable == kLocaltimeVar) {
    cell.timezone = value;
  } else if (variable == kHostnameVar) {
    cell.hostname = value;
  } else if (variable == kUserVar) {
    cell.username = value;
  } else if (value.empty()) {
    cell.env.erase(variable);
  } else {
    cell.env[variable] = value;
  }
}

Cell BaselineCell(const Baseline& baseline) {
  Cell cell;
  cell.label = "baseline";
  cell.env = baseline.env;
  cell.timezone = baseline.timezone;
  cell.hostname = baseline.hostname;
  cell.username = baseline.username;
  return cell;
}

Status CheckDimension(const Dimension& dim) {
  if (dim.variables.empty())
    return Status::Error(fmt::format("dimension '{}' names no variable", dim.name));
  for (const auto& var : dim.variables) {
    if (!IsValidVariable(var)) {
      return Status::Error(
          fmt::format("'{}' is not a variable name (letters, digits, _; or {}, {}, {})", var,
                      kLocaltimeVar, kHostnameVar, kUserVar));
    }
  }
  if (dim.values.empty())
    return Status::Error(fmt::format("dimension '{}' has no values", dim.name));
  for (const auto& value : dim.values) {
    for (const auto& [var, v] : value.assign) {
      if ((var == kHostnameVar || var == kUserVar) &&
          (v.empty() || v.size() > 63 || v.find_first_of("/:\n\r\t ") != std::string::npos)) {
        return Status::Error(fmt::format("{} value '{}' is not a usable name", var, v));
      }
      if (var == kLocaltimeVar && (v.empty() || v.find("..") != std::string::npos || v[0] == '/')) {
        return Status::Error(
            fmt::format("{} value '{}' is not a zone name like Asia/Shanghai", var, v));
      }
      if (v.find('\0') != std::string::npos || v.find('\n') != std::string::npos) {
        return Status::Error(fmt::format("value of {} holds a NUL or newline", var));
      }
    }
  }
  return Status::Ok();
}

}  // namespace

std::string Cell::Get(std::string_view variable) const {
  if (variable == kLocaltimeVar) return timezone;
  if (variable == kHostnameVar) return hostname;
  if (variable == kUserVar) return username;
  auto it = env.find(std::string(variable));
  return it == env.end() ? std::string() : it->second;
}

bool IsValidVariable(std::string_view name) {
  return IsEnvName(name) || name == kLocaltimeVar || name == kHostnameVar || name == kUserVar;
}

Baseline DefaultBaseline() {
  Baseline b;
  b.env = {
      {"LANG", "en_US.UTF-8"},
      {"ANTHROPIC_BASE_URL", "https://api.anthropic.com"},
      {"OPENAI_BASE_URL", "https://api.openai.com/v1"},
      {"GOOGLE_GEMINI_BASE_URL", "https://generativelanguage.googleapis.com"},
      // Keys are placeholders: the fake provider accepts anything, and a
      // report shows which requests carried them.
      {"ANTHROPIC_API_KEY", "sk-ant-probe-0000000000000000"},
      {"OPENAI_API_KEY", "sk-probe-0000000000000000"},
      {"GEMINI_API_KEY", "probe-gemini-key-0000000000"},
  };
  return b;
}

Result<Dimension> ParseVary(std::string_view flag) {
  size_t eq = flag.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return Status::Error(
        fmt::format("--vary '{}': expected VAR=v1,v2,… (or VAR1+VAR2=v1,…)", flag));
  }
  Dimension dim;
  dim.name = std::string(flag.substr(0, eq));
  dim.variables = Split(flag.substr(0, eq), '+');
  for (const auto& raw : Split(flag.substr(eq + 1), ',')) {
    DimensionValue value;
    value.label = raw.empty() ? "(unset)" : raw;
    for (const auto& var : dim.variables) value.assign.emplace_back(var, raw);
    dim.values.push_back(std::move(value));
  }
  if (Status s = CheckDimension(dim); !s.ok())
    return Status::Error(fmt::format("--vary '{}': {}", flag, s.message()));
  return dim;
}

std::vector<std::string> BaseUrlVariables(const std::vector<std::string>& argv) {
  std::string joined;
  for (const auto& arg : argv) {
    size_t slash = arg.rfind('/');
    joined += (slash == std::string::npos ? arg : arg.substr(slash + 1)) + " ";
  }
  std::transform(joined.begin(), joined.end(), joined.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  std::vector<std::string> vars;
  if (joined.find("claude") != std::string::npos || joined.find("anthropic") != std::string::npos) {
    vars.push_back("ANTHROPIC_BASE_URL");
  }
  if (joined.find("codex") != std::string::npos || joined.find("openai") != std::string::npos) {
    vars.push_back("OPENAI_BASE_URL");
  }
  if (joined.find("gemini") != std::string::npos) vars.push_back("GOOGLE_GEMINI_BASE_URL");
  if (vars.empty()) vars = {"ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "GOOGLE_GEMINI_BASE_URL"};
  return vars;
}

std::vector<Dimension> DefaultDimensions(const std::vector<std::string>& argv) {
  std::vector<Dimension> dims;
  auto simple = [](std::string name, std::vector<std::string> variables,
                   std::vector<std::string> values) {
    Dimension dim;
    dim.name = std::move(name);
    dim.variables = std::move(variables);
    for (auto& v : values) {
      DimensionValue value;
      value.label = v.empty() ? "(unset)" : v;
      for (const auto& var : dim.variables) value.assign.emplace_back(var, v);
      dim.values.push_back(std::move(value));
    }
    return dim;
  };
  // One zone dimension for TZ and /etc/localtime: a TZ value shadows the
  // system zone, so crossing them would only waste cells. Shanghai and
  // Singapore share UTC+8 all year: only the zone's name tells them apart,
  // which is what an agent keyed to "China" would read.
  Dimension zone;
  zone.name = "zone";
  zone.variables = {"TZ", std::string(kLocaltimeVar)};
  for (const char* tz : {"Asia/Shanghai", "Asia/Singapore", "America/New_York"}) {
    zone.values.push_back({fmt::format("TZ={}", tz), {{"TZ", tz}}});
  }
  zone.values.push_back({fmt::format("{}=Asia/Shanghai", kLocaltimeVar),
                         {{"TZ", ""}, {std::string(kLocaltimeVar), "Asia/Shanghai"}}});
  dims.push_back(std::move(zone));
  dims.push_back(
      simple("LANG+LC_ALL", {"LANG", "LC_ALL"}, {"zh_CN.UTF-8", "de_DE.UTF-8", "ja_JP.UTF-8"}));

  Dimension base;
  base.name = "base URL";
  base.variables = BaseUrlVariables(argv);
  // An OpenRouter-like relay (with a base path), a company gateway, and a
  // gateway under a country domain. Every name resolves to the capture
  // server inside the sandbox. Four levels with the official host, like the
  // zone's five: the pairwise design needs 5 x 4 = 20 cells, which keeps a
  // real agent's default probe under 90 s on two cores.
  for (const char* host :
       {"openrouter.ai/api", "llm-gw.example-corp.com", "api.relay-example.cn"}) {
    DimensionValue value;
    std::string_view h(host);
    value.label = std::string(h.substr(0, h.find('/')));
    for (const auto& var : base.variables) value.assign.emplace_back(var, BaseUrlFor(var, host));
    base.values.push_back(std::move(value));
  }
  dims.push_back(std::move(base));
  dims.push_back(simple("HTTPS_PROXY+HTTP_PROXY", {"HTTPS_PROXY", "HTTP_PROXY"},
                        {"http://proxy.example-corp.com:8080"}));
  dims.push_back(
      simple(std::string(kHostnameVar), {std::string(kHostnameVar)}, {"wks-berlin-042"}));
  dims.push_back(simple(std::string(kUserVar), {std::string(kUserVar)}, {"li.wei"}));
  return dims;
}

const char* DesignName(Design design) {
  switch (design) {
    case Design::kOneAtATime:
      return "one-at-a-time";
    case Design::kPairwise:
      return "pairwise";
    case Design::kCross:
      return "cross";
  }
  return "one-at-a-time";
}

Baseline BaselineFor(const std::vector<Dimension>& dimensions, const std::vector<std::string>& argv,
                     const std::map<std::string, std::string>& set) {
  Baseline b;
  for (const auto& dim : dimensions) {
    for (const auto& var : dim.variables) {
      if (var == "LANG") b.env["LANG"] = "en_US.UTF-8";
    }
  }
  // Placeholder keys: the fake provider accepts anything, and a report shows
  // which requests carried them. Only for the providers the command may call.
  static const std::map<std::string, std::pair<std::string, std::string>> kKeys = {
      {"ANTHROPIC_BASE_URL", {"ANTHROPIC_API_KEY", "sk-ant-probe-0000000000000000"}},
      {"OPENAI_BASE_URL", {"OPENAI_API_KEY", "sk-probe-0000000000000000"}},
      {"GOOGLE_GEMINI_BASE_URL", {"GEMINI_API_KEY", "probe-gemini-key-0000000000"}},
  };
  for (const auto& var : BaseUrlVariables(argv)) {
    if (auto it = kKeys.find(var); it != kKeys.end()) b.env[it->second.first] = it->second.second;
  }
  for (const auto& [var, value] : set) {
    if (var == kLocaltimeVar) {
      b.timezone = value;
    } else if (var == kHostnameVar) {
      b.hostname = value;
    } else if (var == kUserVar) {
      b.username = value;
    } else if (value.empty()) {
      b.env.erase(var);
    } else {
      b.env[var] = value;
    }
  }
  return b;
}

Status ParseSet(std::string_view flag, std::map<std::string, std::string>* set) {
  size_t eq = flag.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return Status::Error(fmt::format("--set '{}': expected VAR=VALUE", flag));
  }
  std::string var(flag.substr(0, eq));
  std::string value(flag.substr(eq + 1));
  if (!IsValidVariable(var)) {
    return Status::Error(
        fmt::format("--set '{}': '{}' is not a variable name (letters, digits, _; or {}, {}, {})",
                    flag, var, kLocaltimeVar, kHostnameVar, kUserVar));
  }
  if (value.find('\0') != std::string::npos || value.find('\n') != std::string::npos) {
    return Status::Error(fmt::format("--set '{}': the value holds a NUL or newline", flag));
  }
  (*set)[var] = value;
  return Status::Ok();
}

namespace {

// The in-parameter-order (IPOG) construction of a 2-way covering array, one
// step per function: seed the first two dimensions, then per further
// dimension grow horizontally (choose its level in each row) and vertically
// (add what is still missing), then fill the "don't care" entries.

constexpr int kFree = -1;  // "don't care" until the end

size_t At(int level) { return static_cast<size_t>(level); }

// The pairs (dimension e = v, dimension d = w), e < d, that no row covers yet.
class PairsLeft {
 public:
  PairsLeft(const std::vector<int>& levels, size_t d) : d_(d), left_(d) {
    for (size_t e = 0; e < d; ++e)
      left_[e].assign(At(levels[e]), std::vector<bool>(At(levels[d]), true));
  }
  bool Has(size_t e, int v, int w) const { return left_[e][At(v)][At(w)]; }
  void Clear(size_t e, int v, int w) { left_[e][At(v)][At(w)] = false; }
  // Marks every pair the row covers.
  void Cover(const std::vector<int>& row) {
    if (row[d_] == kFree) return;
    for (size_t e = 0; e < d_; ++e) {
      if (row[e] != kFree) Clear(e, row[e], row[d_]);
    }
  }
  // How many uncovered pairs the row would cover with dimension d = w.
  int Gain(const std::vector<int>& row, int w) const {
    int gain = 0;
    for (size_t e = 0; e < d_; ++e) gain += row[e] != kFree && Has(e, row[e], w);
    return gain;
  }

 private:
  size_t d_;
  std::vector<std::vector<std::vector<bool>>> left_;  // [e][v][w]
};

// Every pair of levels of the first two dimensions, one row each.
std::vector<std::vector<int>> SeedFirstTwo(const std::vector<int>& levels) {
  std::vector<std::vector<int>> rows;
  for (int a = 0; a < levels[0]; ++a) {
    for (int b = 0; b < levels[1]; ++b) {
      std::vector<int> row(levels.size(), kFree);
      row[0] = a;
      row[1] = b;
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

// Horizontal growth: each row takes the level of dimension d that covers most
// new pairs (ties: the level used least, then the lowest); row 0 stays all
// zeros.
void GrowHorizontally(const std::vector<int>& levels, size_t d, PairsLeft* left,
                      std::vector<std::vector<int>>* rows) {
  std::vector<int> use(At(levels[d]), 0);  // how often each level of d was chosen
  for (size_t r = 0; r < rows->size(); ++r) {
    std::vector<int>& row = (*rows)[r];
    int best = 0;
    int best_gain = -1;
    for (int w = 0; r != 0 && w < levels[d]; ++w) {
      const int gain = left->Gain(row, w);
      if (gain > best_gain || (gain == best_gain && use[At(w)] < use[At(best)])) {
        best = w;
        best_gain = gain;
      }
    }
    row[d] = best;
    ++use[At(best)];
    left->Cover(row);
  }
}

// Puts the pair (e = v, d = w) into a row (not the baseline) whose entries
// for e and d are free or already equal, one of them free; else a new row.
void PlacePair(size_t e, int v, size_t d, int w, std::vector<std::vector<int>>* rows) {
  for (size_t r = 1; r < rows->size(); ++r) {
    std::vector<int>& row = (*rows)[r];
    const bool fits = (row[e] == kFree || row[e] == v) && (row[d] == kFree || row[d] == w);
    if (fits && (row[e] == kFree || row[d] == kFree)) {
      row[e] = v;
      row[d] = w;
      return;
    }
  }
  std::vector<int> row(rows->front().size(), kFree);
  row[e] = v;
  row[d] = w;
  rows->push_back(std::move(row));
}

// Vertical growth: each pair with dimension d still missing gets a place.
void GrowVertically(const std::vector<int>& levels, size_t d, PairsLeft* left,
                    std::vector<std::vector<int>>* rows) {
  for (size_t e = 0; e < d; ++e) {
    for (int v = 0; v < levels[e]; ++v) {
      for (int w = 0; w < levels[d]; ++w) {
        if (!left->Has(e, v, w)) continue;
        PlacePair(e, v, d, w, rows);
        left->Clear(e, v, w);
      }
    }
  }
}

// Free entries take the level used least in their dimension, so every value
// is seen in several cells (what the attribution needs).
void FillFree(const std::vector<int>& levels, std::vector<std::vector<int>>* rows) {
  for (size_t d = 0; d < levels.size(); ++d) {
    std::vector<int> count(At(levels[d]), 0);
    for (const auto& row : *rows) {
      if (row[d] != kFree) ++count[At(row[d])];
    }
    for (auto& row : *rows) {
      if (row[d] != kFree) continue;
      const int least =
          static_cast<int>(std::min_element(count.begin(), count.end()) - count.begin());
      row[d] = least;
      ++count[At(least)];
    }
  }
}

}  // namespace

std::vector<std::vector<int>> CoveringArray(const std::vector<int>& levels) {
  const size_t n = levels.size();
  if (n == 0) return {std::vector<int>()};
  std::vector<std::vector<int>> rows;
  if (n == 1) {
    for (int v = 0; v < levels[0]; ++v) rows.push_back({v});
    return rows;
  }
  rows = SeedFirstTwo(levels);
  for (size_t d = 2; d < n; ++d) {
    PairsLeft left(levels, d);
    GrowHorizontally(levels, d, &left, &rows);
    GrowVertically(levels, d, &left, &rows);
  }
  FillFree(levels, &rows);
  return rows;
}

namespace {

// The level of each dimension per cell (0: the baseline's value, v: the
// dimension's value v-1), baseline first, for each design.

std::vector<std::vector<int>> OneAtATimeRows(const std::vector<Dimension>& dimensions) {
  const size_t dims = dimensions.size();
  std::vector<std::vector<int>> rows{std::vector<int>(dims, 0)};
  for (size_t d = 0; d < dims; ++d) {
    for (size_t v = 0; v < dimensions[d].values.size(); ++v) {
      std::vector<int> row(dims, 0);
      row[d] = static_cast<int>(v + 1);
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

Result<std::vector<std::vector<int>>> CrossRows(const std::vector<Dimension>& dimensions,
                                                size_t max_cells) {
  const size_t dims = dimensions.size();
  size_t total = 1;
  for (const auto& dim : dimensions) {
    total *= dim.values.size() + 1;
    if (total > max_cells)
      return Status::Error(fmt::format("the cross product has more than {} cells", max_cells));
  }
  std::vector<std::vector<int>> rows{std::vector<int>(dims, 0)};
  std::vector<int> index(dims, 0);
  for (size_t n = 1; n < total; ++n) {
    for (size_t d = 0; d < dims; ++d) {
      if (static_cast<size_t>(++index[d]) <= dimensions[d].values.size()) break;
      index[d] = 0;
    }
    rows.push_back(index);
  }
  return rows;
}

std::vector<std::vector<int>> PairwiseRows(const std::vector<Dimension>& dimensions) {
  const size_t dims = dimensions.size();
  std::vector<int> levels;
  for (const auto& dim : dimensions) levels.push_back(static_cast<int>(dim.values.size()) + 1);
  // The covering array works best with the largest dimensions first.
  std::vector<size_t> order(dims);
  for (size_t d = 0; d < dims; ++d) order[d] = d;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t x, size_t y) { return levels[x] > levels[y]; });
  std::vector<int> sorted_levels;
  for (size_t d : order) sorted_levels.push_back(levels[d]);
  std::vector<std::vector<int>> rows;
  for (const auto& sorted_row : CoveringArray(sorted_levels)) {
    std::vector<int> row(dims, 0);
    for (size_t i = 0; i < order.size(); ++i) row[order[i]] = sorted_row[i];
    rows.push_back(std::move(row));
  }
  return rows;
}

Result<std::vector<std::vector<int>>> DesignRows(const std::vector<Dimension>& dimensions,
                                                 Design design, size_t max_cells) {
  if (design == Design::kOneAtATime) return OneAtATimeRows(dimensions);
  if (design == Design::kCross) return CrossRows(dimensions, max_cells);
  return PairwiseRows(dimensions);
}

// The cell of one row: the baseline with each non-zero level's assignments
// applied, labelled by them, and `varied` = what differs from the baseline.
Cell CellForRow(const Cell& base, const std::vector<Dimension>& dimensions,
                const std::vector<int>& row) {
  Cell cell = base;
  cell.levels = row;
  std::string label;
  for (size_t d = 0; d < dimensions.size(); ++d) {
    if (row[d] == 0) continue;
    const auto& value = dimensions[d].values[static_cast<size_t>(row[d] - 1)];
    for (const auto& [var, v] : value.assign) Apply(cell, var, v);
    std::string part = value.label.find('=') != std::string::npos
                           ? value.label
                           : fmt::format("{}={}", dimensions[d].name, value.label);
    label += (label.empty() ? "" : " ") + part;
  }
  cell.label = label;
  cell.varied.clear();
  auto note = [&](const std::string& var) {
    std::string now = cell.Get(var);
    if (now != base.Get(var)) cell.varied[var] = now;
  };
  for (const auto& [var, v] : cell.env) note(var);
  for (const auto& [var, v] : base.env) note(var);
  note(std::string(kLocaltimeVar));
  note(std::string(kHostnameVar));
  note(std::string(kUserVar));
  return cell;
}

// Two cells with the same label would be indistinguishable in reports: " #2", ...
void MakeLabelsUnique(std::vector<Cell>* cells) {
  std::map<std::string, int> seen;
  for (auto& cell : *cells) {
    if (int n = seen[cell.label]++; n > 0) cell.label += fmt::format(" #{}", n + 1);
  }
}

}  // namespace

Result<Matrix> BuildMatrix(const Baseline& baseline, std::vector<Dimension> dimensions,
                           Design design, size_t max_cells) {
  for (const auto& dim : dimensions) {
    if (Status s = CheckDimension(dim); !s.ok()) return s;
  }
  Matrix matrix;
  matrix.design = design;
  Cell base = BaselineCell(baseline);
  base.levels.assign(dimensions.size(), 0);
  Result<std::vector<std::vector<int>>> rows = DesignRows(dimensions, design, max_cells);
  if (!rows.ok()) return rows.status();

  std::set<std::map<std::string, std::string>> seen_settings;
  for (size_t r = 0; r < rows->size(); ++r) {
    Cell cell = CellForRow(base, dimensions, (*rows)[r]);
    if (r == 0) cell.label = "baseline";
    if (r != 0 && cell.varied.empty()) continue;  // the baseline's own value
    // Two rows that set the same environment are one cell.
    if (!seen_settings.insert(cell.varied).second) continue;
    if (matrix.cells.size() >= max_cells) {
      return Status::Error(fmt::format("the matrix has more than {} cells", max_cells));
    }
    matrix.cells.push_back(std::move(cell));
  }
  MakeLabelsUnique(&matrix.cells);
  std::set<std::string> varied_vars;
  for (const auto& dim : dimensions) varied_vars.insert(dim.variables.begin(), dim.variables.end());
  for (const auto& [var, value] : base.env) {
    if (!varied_vars.count(var)) matrix.fixed[var] = value;
  }
  matrix.dimensions = std::move(dimensions);
  return matrix;
}

namespace {

// What a matrix file says, key by key.
struct MatrixFile {
  std::map<std::string, std::string> overrides;  // [baseline]
  std::vector<Dimension> dims;                   // [[vary]]
  Design design = Design::kOneAtATime;
  bool has_baseline = false;
};

Status ParseDesign(const toml::node& node, const std::string& name, Design* design) {
  constexpr std::pair<std::string_view, Design> kDesigns[] = {
      {"pairwise", Design::kPairwise},
      {"cross", Design::kCross},
      {"one-at-a-time", Design::kOneAtATime}};
  if (auto d = node.value<std::string>()) {
    for (const auto& [design_name, value] : kDesigns) {
      if (*d == design_name) {
        *design = value;
        return Status::Ok();
      }
    }
  }
  return Status::Error(
      fmt::format("{}: 'design' must be \"one-at-a-time\", \"pairwise\" or \"cross\"", name));
}

Status ParseBaselineTable(const toml::node& node, const std::string& name, MatrixFile* file) {
  const auto* t = node.as_table();
  if (!t) return Status::Error(fmt::format("{}: [baseline] must be a table", name));
  file->has_baseline = true;
  for (const auto& [var_key, v] : *t) {
    std::string var(var_key.str());
    auto value = v.value<std::string>();
    if (!IsValidVariable(var) || !value) {
      return Status::Error(
          fmt::format("{}: baseline entry '{}' must be VARIABLE = \"string\"", name, var));
    }
    file->overrides[var] = *value;
  }
  return Status::Ok();
}

// 'variable = "X"' or 'variables = ["X", "Y"]' of one [[vary]] table.
Status ParseVaryVariables(const toml::table& t, const std::string& where, Dimension* dim) {
  if (auto v = t["variable"].value<std::string>()) {
    dim->variables.push_back(*v);
  } else if (const auto* vars = t["variables"].as_array()) {
    for (const auto& e : *vars) {
      auto s = e.value<std::string>();
      if (!s) return Status::Error(fmt::format("{}: 'variables' must hold strings", where));
      dim->variables.push_back(*s);
    }
  } else {
    return Status::Error(fmt::format("{}: [[vary]] needs 'variable' or 'variables'", where));
  }
  dim->name = dim->variables.empty() ? "" : dim->variables[0];
  for (size_t i = 1; i < dim->variables.size(); ++i) dim->name += "+" + dim->variables[i];
  return Status::Ok();
}

Result<Dimension> ParseVaryTable(const toml::node& item, const std::string& name) {
  const auto* t = item.as_table();
  const std::string where = fmt::format("{}:{}", name, item.source().begin.line);
  if (!t) return Status::Error(fmt::format("{}: each [[vary]] must be a table", where));
  Dimension dim;
  if (Status s = ParseVaryVariables(*t, where, &dim); !s.ok()) return s;
  const auto* values = (*t)["values"].as_array();
  if (!values) return Status::Error(fmt::format("{}: [[vary]] needs 'values = [...]'", where));
  for (const auto& e : *values) {
    auto s = e.value<std::string>();
    if (!s) return Status::Error(fmt::format("{}: 'values' must hold strings", where));
    DimensionValue value;
    value.label = s->empty() ? "(unset)" : *s;
    for (const auto& var : dim.variables) value.assign.emplace_back(var, *s);
    dim.values.push_back(std::move(value));
  }
  if (Status s = CheckDimension(dim); !s.ok())
    return Status::Error(fmt::format("{}: {}", where, s.message()));
  return dim;
}

Status ParseVaryArray(const toml::node& node, const std::string& name, MatrixFile* file) {
  const auto* arr = node.as_array();
  if (!arr)
    return Status::Error(fmt::format("{}: 'vary' must be an array of tables ([[vary]])", name));
  for (const auto& item : *arr) {
    Result<Dimension> dim = ParseVaryTable(item, name);
    if (!dim.ok()) return dim.status();
    file->dims.push_back(std::move(dim).value());
  }
  return Status::Ok();
}

Status ParseMatrixKey(const std::string& key, const toml::node& node, const std::string& name,
                      MatrixFile* file) {
  if (key == "cross") {
    auto b = node.value<bool>();
    if (!b) return Status::Error(fmt::format("{}: 'cross' must be true or false", name));
    if (*b) file->design = Design::kCross;
    return Status::Ok();
  }
  if (key == "design") return ParseDesign(node, name, &file->design);
  if (key == "baseline") return ParseBaselineTable(node, name, file);
  if (key == "vary") return ParseVaryArray(node, name, file);
  return Status::Error(fmt::format(
      "{}: unknown key '{}' (expected design, cross, [baseline], [[vary]])", name, key));
}

}  // namespace

Result<Matrix> ParseMatrixToml(std::string_view text, const std::string& name,
                               const std::vector<std::string>& argv,
                               const std::map<std::string, std::string>& set, size_t max_cells) {
  toml::table table;
  try {
    table = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    return Status::Error(fmt::format("{}:{}: {}", name, e.source().begin.line, e.description()));
  }
  MatrixFile file;
  for (const auto& [key, node] : table) {
    if (Status s = ParseMatrixKey(std::string(key.str()), node, name, &file); !s.ok()) return s;
  }
  if (file.dims.empty() && !file.has_baseline) {
    return Status::Error(fmt::format("{}: neither a [baseline] nor a [[vary]] dimension", name));
  }
  // The file's baseline entries win over --set, which wins over the defaults.
  std::map<std::string, std::string> all_set = set;
  for (const auto& [var, value] : file.overrides) all_set[var] = value;
  Baseline base = BaselineFor(file.dims, argv, all_set);
  auto matrix = BuildMatrix(base, std::move(file.dims), file.design, max_cells);
  if (!matrix.ok()) return Status::Error(fmt::format("{}: {}", name, matrix.status().message()));
  return matrix;
}

Result<Matrix> LoadMatrixFile(const std::string& path, const std::vector<std::string>& argv,
                              const std::map<std::string, std::string>& set, size_t max_cells) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error(fmt::format("{}: cannot open the matrix file", path));
  std::ostringstream text;
  text << in.rdbuf();
  return ParseMatrixToml(text.str(), path, argv, set, max_cells);
}

}  // namespace glassbox::probe
