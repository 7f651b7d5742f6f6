#include "probe/classify.h"

#include <fmt/format.h>
#include <unicode/timezone.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <functional>
#include <memory>
#include <tuple>

#include "core/unicode.h"
#include "core/utf.h"

namespace glassbox::probe {
namespace {

bool IsLocaleVariable(std::string_view v) {
  return v == "LANG" || v == "LANGUAGE" || v.starts_with("LC_");
}
bool IsClockVariable(std::string_view v) { return v == "TZ" || v == kLocaltimeVar; }

bool IsWordChar(char32_t cp) {
  if (cp < 0x80) return std::isalnum(static_cast<int>(cp)) != 0;
  if (cp >= 0xD800 && cp <= 0xDFFF) return false;
  return UnicodeData::IsLetterOrMark(cp) || UnicodeData::IsWordChar(cp);
}

// Text with look-alikes mapped to their ASCII skeleton, hidden characters
// dropped and runs of white space collapsed: equal outputs mean "the same
// text to a reader".
std::u32string Skeleton(std::u32string_view text) {
  const auto& data = UnicodeData::Get();
  std::u32string out;
  bool in_space = false;
  for (char32_t cp : text) {
    const CharClass cls = cp <= 0x10FFFF ? data.Classify(cp) : CharClass::kOrdinary;
    if (IsHiddenClass(cls)) continue;
    if (cls == CharClass::kUnusualSpace) {
      cp = ' ';
    } else if (IsLookalikeClass(cls)) {
      if (char ascii = data.LookalikeAscii(cp)) cp = static_cast<unsigned char>(ascii);
    }
    bool space = cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f' || cp == '\v';
    if (space) {
      if (!in_space) out.push_back(' ');
      in_space = true;
    } else {
      out.push_back(cp);
      in_space = false;
    }
  }
  return out;
}

bool HasWordChar(std::u32string_view s) { return std::any_of(s.begin(), s.end(), IsWordChar); }

// True when a changed span is made of digits, white space, date/time
// punctuation and zone, day or month names only.
bool IsTimeLike(std::u32string_view span) {
  static const char* const kNames[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", "jan",
                                       "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep",
                                       "oct", "nov", "dec", "am",  "pm",  "t",   "z"};
  size_t i = 0;
  while (i < span.size()) {
    char32_t cp = span[i];
    if (cp < 0x80 &&
        (std::isdigit(static_cast<int>(cp)) || std::isspace(static_cast<int>(cp)) ||
         std::string_view(":+-./,()").find(static_cast<char>(cp)) != std::string_view::npos)) {
      ++i;
      continue;
    }
    if (cp < 0x80 && std::isalpha(static_cast<int>(cp))) {
      size_t j = i;
      std::string word;
      while (j < span.size() && span[j] < 0x80 && std::isalpha(static_cast<int>(span[j]))) {
        word.push_back(static_cast<char>(span[j]));
        ++j;
      }
      bool upper_abbrev = word.size() <= 5 && std::all_of(word.begin(), word.end(), [](char c) {
                            return std::isupper(static_cast<unsigned char>(c));
                          });
      std::string lower = word;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      bool named = false;
      for (const char* n : kNames) {
        std::string_view name(n);
        if (lower == name || (name.size() == 3 && lower.size() >= 3 && lower.starts_with(name)))
          named = true;
      }
      if (!upper_abbrev && !named) return false;
      i = j;
      continue;
    }
    return false;
  }
  return true;
}

// Forms of a variable's value that an agent might send: the value, and for
// URLs the host, for locales the "xx_YY" and "xx-YY" prefixes.
std::vector<std::string> ValueForms(const std::string& value) {
  std::vector<std::string> forms;
  if (value.size() < 2) return forms;
  forms.push_back(value);
  if (size_t scheme = value.find("://"); scheme != std::string::npos) {
    std::string rest = value.substr(scheme + 3);
    std::string host = rest.substr(0, rest.find_first_of("/?#"));
    if (size_t at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);
    std::string bare = host.substr(0, host.find(':'));
    if (!host.empty() && host != value) forms.push_back(host);
    if (!bare.empty() && bare != host) forms.push_back(bare);
  }
  if (value.size() >= 5 && std::isalpha(static_cast<unsigned char>(value[0])) && value[2] == '_' &&
      std::isupper(static_cast<unsigned char>(value[3]))) {
    std::string locale = value.substr(0, 5);
    forms.push_back(locale);
    std::string dashed = locale;
    dashed[2] = '-';
    forms.push_back(dashed);
  }
  return forms;
}

void ReplaceAll(std::string& text, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  size_t pos = 0;
  while ((pos = text.find(from, pos)) != std::string::npos) {
    text.replace(pos, from.size(), to);
    pos += to.size();
  }
}

// Finds `needle` in `hay` as a whole token (not inside a longer run of
// letters and digits).
bool ContainsToken(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return false;
  size_t pos = 0;
  while ((pos = hay.find(needle, pos)) != std::string_view::npos) {
    bool left = pos == 0 || !std::isalnum(static_cast<unsigned char>(hay[pos - 1]));
    size_t end = pos + needle.size();
    bool right = end >= hay.size() || !std::isalnum(static_cast<unsigned char>(hay[end]));
    if (left && right) return true;
    ++pos;
  }
  return false;
}

std::string EffectiveZone(const Cell& cell) {
  std::string tz = cell.Get("TZ");
  if (!tz.empty() && tz[0] == ':') tz = tz.substr(1);
  if (!tz.empty()) return tz;
  return cell.timezone.empty() ? "UTC" : cell.timezone;
}

std::string Truncate(const std::string& s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "…";
}

bool IsIpLiteral(const std::string& host) {
  if (host.empty()) return false;
  if (host.find(':') != std::string::npos) return true;  // IPv6 (ports were stripped)
  return std::all_of(host.begin(), host.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || c == '.';
  });
}

// "body .events[12].env.kernel" -> "body .events[*].env.kernel" (also for
// "[+3]" and "[name=x]"): one identity entry per field, however many
// elements carry it.
std::string CollapseIndices(std::string_view path) {
  std::string out;
  for (size_t i = 0; i < path.size(); ++i) {
    std::string_view rest = path.substr(i);
    bool index = path[i] == '[' && i + 1 < path.size() &&
                 (std::isdigit(static_cast<unsigned char>(path[i + 1])) || path[i + 1] == '+' ||
                  rest.starts_with("[key=") || rest.starts_with("[name="));
    if (index) {
      size_t close = path.find(']', i);
      if (close != std::string_view::npos) {
        out += "[*]";
        i = close;
        continue;
      }
    }
    out.push_back(path[i]);
  }
  return out;
}

std::vector<std::string> Carriers(const std::string& value, const Cell& base, const Cell& cell,
                                  const HostFacts& facts, bool provider_request) {
  std::vector<std::string> carries;
  auto add = [&carries](const char* what) {
    if (std::find(carries.begin(), carries.end(), what) == carries.end()) carries.push_back(what);
  };
  if (cell.hostname.size() >= 3 && ContainsToken(value, cell.hostname)) add("hostname");
  if (cell.username.size() >= 3 && ContainsToken(value, cell.username)) add("user");
  for (const std::string& zone : {cell.Get("TZ"), cell.timezone}) {
    if (zone.find('/') != std::string::npos && ContainsToken(value, zone)) {
      add("timezone");
    }
  }
  for (const char* var : {"LANG", "LC_ALL"}) {
    std::string locale = cell.Get(var);
    if (locale.empty() || (locale == base.Get(var) && cell.label != base.label)) continue;
    if (locale.starts_with("en_US") && cell.label == base.label) continue;  // too common to tell
    for (const auto& form : ValueForms(locale)) {
      if (form.size() >= 5 && ContainsToken(value, form)) add("locale");
    }
  }
  if (facts.kernel_release.size() >= 5 && value.find(facts.kernel_release) != std::string::npos)
    add("kernel");
  if (facts.machine_id.size() >= 8 && value.find(facts.machine_id) != std::string::npos)
    add("machine-id");
  for (const char* var : {"HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY"}) {
    for (const auto& form : ValueForms(cell.Get(var))) {
      if (form.size() >= 4 && value.find(form) != std::string::npos) add("proxy");
    }
  }
  for (const auto& prompt : facts.prompt_texts) {
    // A long prompt anywhere; a short one ("say hi") only as a whole value or line.
    if (prompt.empty()) continue;
    bool found = prompt.size() >= 8 ? value.find(prompt) != std::string::npos
                                    : value == prompt || value.starts_with(prompt + "\n") ||
                                          value.ends_with("\n" + prompt) ||
                                          value.find("\n" + prompt + "\n") != std::string::npos;
    if (found) add("prompt");
  }
  if (!provider_request) {
    for (const auto& [var, v] : cell.env) {
      if ((var.ends_with("_API_KEY") || var.ends_with("_AUTH_TOKEN")) && v.size() >= 8 &&
          value.find(v) != std::string::npos) {
        add("api-key");
      }
    }
  }
  return carries;
}

}  // namespace

const char* DiffClassName(DiffClass c) {
  switch (c) {
    case DiffClass::kCovertMarker:
      return "covert-marker";
    case DiffClass::kOtherDependence:
      return "other-dependence";
    case DiffClass::kUnexplained:
      return "unexplained";
    case DiffClass::kLocalisation:
      return "localisation";
    case DiffClass::kClock:
      return "clock";
    case DiffClass::kEcho:
      return "echo";
  }
  return "other-dependence";
}

std::optional<int> ZoneOffsetMinutes(const std::string& zone, int64_t when_ms) {
  std::unique_ptr<icu::TimeZone> tz(
      icu::TimeZone::createTimeZone(icu::UnicodeString::fromUTF8(zone)));
  if (!tz) return std::nullopt;
  icu::UnicodeString id;
  tz->getID(id);
  if (id == icu::UnicodeString("Etc/Unknown")) return std::nullopt;
  int32_t raw = 0, dst = 0;
  UErrorCode status = U_ZERO_ERROR;
  tz->getOffset(static_cast<UDate>(when_ms), false, raw, dst, status);
  if (U_FAILURE(status)) return std::nullopt;
  return (raw + dst) / 60000;
}

std::string MaskGenerated(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  size_t i = 0;
  // '+' and '/' belong to base64; trailing '=' padding is absorbed below.
  auto is_token_char = [](char c) {
    auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || u == '_' || u == '-' || u == '+' || u == '/';
  };
  while (i < value.size()) {
    if (!is_token_char(value[i])) {
      out.push_back(value[i++]);
      continue;
    }
    size_t j = i;
    bool digit = false, alpha = false;
    while (j < value.size() && is_token_char(value[j])) {
      digit = digit || std::isdigit(static_cast<unsigned char>(value[j]));
      alpha = alpha || std::isalpha(static_cast<unsigned char>(value[j]));
      ++j;
    }
    std::string_view token = value.substr(i, j - i);
    if (digit && !alpha) {
      // Keep separators inside dates and numbers: "2026-11-23" -> "0-0-0".
      bool in_digits = false;
      for (char c : token) {
        if (std::isdigit(static_cast<unsigned char>(c))) {
          if (!in_digits) out.push_back('0');
          in_digits = true;
        } else {
          out.push_back(c);
          in_digits = false;
        }
      }
    } else if (digit && token.size() >= 6) {
      out += "\u27E6id\u27E7";
      while (j < value.size() && value[j] == '=') ++j;  // base64 padding varies with the length
    } else {
      out.append(token);
    }
    i = j;
  }
  return out;
}

namespace {

// ---------------------------------------------------------------------------
// Pass 1: judge runs.

bool ReachedProvider(const std::vector<RequestFields>& flat) {
  return std::any_of(flat.begin(), flat.end(),
                     [](const RequestFields& rf) { return rf.to_base_url; });
}

std::string RunStatus(const RunCapture& run, bool reached_provider) {
  if (run.timed_out) return "timed out";
  if (run.exit_code > 128) return fmt::format("killed by signal {}", run.exit_code - 128);
  if (run.exit_code != 0) return fmt::format("exit status {}", run.exit_code);
  if (!reached_provider) return "exit status 0, but no request reached a provider";
  return "ok";
}

// The last few lines of the run's stderr (else stdout), at most ~400 bytes.
std::string OutputExcerpt(const RunCapture& run) {
  std::string_view text = run.stderr_tail;
  auto trim = [](std::string_view t) {
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.remove_suffix(1);
    return t;
  };
  text = trim(text);
  if (text.empty()) text = trim(run.stdout_tail);
  if (text.size() > 400) {
    text = text.substr(text.size() - 400);
    if (size_t nl = text.find('\n'); nl != std::string_view::npos && nl + 1 < text.size())
      text = text.substr(nl + 1);
  }
  size_t lines = 0;
  size_t cut = text.size();
  while (cut > 0) {
    size_t nl = text.rfind('\n', cut - 1);
    if (++lines > 6 || nl == std::string_view::npos) {
      if (nl != std::string_view::npos && lines > 6) text = text.substr(nl + 1);
      break;
    }
    cut = nl;
  }
  return std::string(text);
}

// What every pass shares: the inputs and which runs may be compared.
struct Context {
  const Matrix& matrix;
  const std::vector<std::vector<RunCapture>>& runs;
  const HostFacts& facts;
  size_t cells = 0;
  std::vector<std::vector<std::vector<RequestFields>>> flat;  // [cell][run]: FlattenRun
  std::vector<std::vector<bool>> good;                        // [cell][run]: compared
  std::vector<bool> cell_ok;                                  // the cell has a good run
  bool single_run = true;
  // Per cell, the working cells it may also be compared with, nearest first
  // (ChooseReferences); empty when none is nearer than the primary reference.
  std::vector<std::vector<size_t>> nearest;
  size_t primary = 0;  // the baseline, or the first working cell when it failed
};

void JudgeRuns(Context& ctx, Analysis* a) {
  ctx.flat.resize(ctx.cells);
  ctx.good.resize(ctx.cells);
  ctx.cell_ok.assign(ctx.cells, false);
  bool any_reached = false;
  std::vector<std::vector<bool>> reached(ctx.cells);
  for (size_t c = 0; c < ctx.cells; ++c) {
    if (ctx.runs[c].size() >= 2) ctx.single_run = false;
    for (const auto& run : ctx.runs[c]) {
      ctx.flat[c].push_back(FlattenRun(run, ctx.matrix.cells[c]));
      reached[c].push_back(ReachedProvider(ctx.flat[c].back()));
      any_reached = any_reached || reached[c].back();
    }
  }
  size_t failed_cells = 0;
  for (size_t c = 0; c < ctx.cells; ++c) {
    CellFailure failure;
    failure.cell = c;
    failure.label = ctx.matrix.cells[c].label;
    failure.runs = static_cast<int>(ctx.runs[c].size());
    for (size_t r = 0; r < ctx.runs[c].size(); ++r) {
      const RunCapture& run = ctx.runs[c][r];
      // A run that never reached a provider counts as failed only when
      // other runs did: an agent that calls no model is still compared.
      std::string status = RunStatus(run, reached[c][r] || !any_reached);
      bool ok = status == "ok";
      ctx.good[c].push_back(ok);
      if (ok) {
        ctx.cell_ok[c] = true;
        continue;
      }
      ++failure.failed_runs;
      if (failure.status.empty()) {
        failure.status = status;
        failure.output = OutputExcerpt(run);
      }
    }
    if (failure.failed_runs == 0) continue;
    failure.whole_cell = !ctx.cell_ok[c];
    failed_cells += failure.whole_cell;
    a->failures.push_back(std::move(failure));
  }
  if (failed_cells > 0) {
    const CellFailure* first = nullptr;
    for (const auto& f : a->failures) {
      if (f.whole_cell && !first) first = &f;
    }
    a->inconclusive_reasons.push_back(
        fmt::format("the agent failed in {} of {} cells ({} in {}), so those cells say nothing "
                    "about its behaviour",
                    failed_cells, ctx.cells, first->status, first->label));
  }
  for (const auto& f : a->failures) {
    if (!f.whole_cell) {
      a->notes.push_back(
          fmt::format("{} of {} runs of cell '{}' failed ({}); the other runs were compared",
                      f.failed_runs, f.runs, f.label, f.status));
    }
  }
  a->single_run = ctx.single_run;
}

// ---------------------------------------------------------------------------
// Pass 2b: nearest references. A cell is compared with the primary reference
// (the baseline) and, when another working cell is nearer in content, also
// with the nearest one: a relay host that inserts a block into every cell
// but the baseline would otherwise drown a one-code-point marker between
// two relay cells in a whole-text difference.

// What a cell sent, field by field, for a cheap distance between cells: per
// field a hash of the value (std::nullopt: absent) and its length. Fields
// whose value changes between runs of a cell (noise) are left out.
struct Fingerprint {
  std::vector<std::optional<std::pair<size_t, size_t>>>
      fields;  // per compared field: (hash, bytes)
};

std::vector<Fingerprint> Fingerprints(const Context& ctx,
                                      const std::vector<AlignedField>& aligned) {
  std::vector<Fingerprint> prints(ctx.cells);
  for (const auto& field : aligned) {
    std::vector<std::optional<std::pair<size_t, size_t>>> per_cell(ctx.cells);
    bool stable = true;
    for (size_t c = 0; c < ctx.cells && stable; ++c) {
      const std::optional<std::string>* first = nullptr;
      for (size_t r = 0; r < field.values[c].size() && r < ctx.good[c].size(); ++r) {
        if (!ctx.good[c][r]) continue;
        const auto& v = field.values[c][r];
        if (!first) {
          first = &v;
        } else if (v != *first) {
          stable = false;
          break;
        }
      }
      if (first && first->has_value())
        per_cell[c] = std::make_pair(std::hash<std::string>{}(**first), (*first)->size());
    }
    if (!stable) continue;
    for (size_t c = 0; c < ctx.cells; ++c) prints[c].fields.push_back(per_cell[c]);
  }
  return prints;
}

// Each differing field counts 1, plus a thirty-second per byte of length
// difference: an inserted block weighs far more than a changed character.
double ContentDistance(const Fingerprint& a, const Fingerprint& b) {
  double d = 0;
  for (size_t i = 0; i < a.fields.size() && i < b.fields.size(); ++i) {
    const auto& x = a.fields[i];
    const auto& y = b.fields[i];
    if (x == y) continue;
    size_t bx = x ? x->second : 0, by = y ? y->second : 0;
    d += 1.0 + static_cast<double>(bx > by ? bx - by : by - bx) / 32.0;
  }
  return d;
}

size_t SettingsApart(const Cell& a, const Cell& b) {
  size_t n = 0;
  for (size_t d = 0; d < a.levels.size() && d < b.levels.size(); ++d)
    n += a.levels[d] != b.levels[d];
  return n;
}

// Per working cell, the working cells nearer to it in content than the
// primary reference, ranked: fewest matrix settings apart, then most similar
// in content, then the first. Per field the first of them whose value
// differs from the cell's is its nearest reference (a neighbour that sent
// the same shows nothing). A cell with none (and any cell that failed) is
// compared with the primary only.
void ChooseReferences(Context& ctx, const std::vector<AlignedField>& aligned) {
  ctx.primary = 0;
  while (ctx.primary + 1 < ctx.cells && !ctx.cell_ok[ctx.primary]) ++ctx.primary;
  ctx.nearest.assign(ctx.cells, {});
  const std::vector<Fingerprint> prints = Fingerprints(ctx, aligned);
  for (size_t c = 0; c < ctx.cells; ++c) {
    if (c == ctx.primary || !ctx.cell_ok[c]) continue;
    const double to_primary = ContentDistance(prints[c], prints[ctx.primary]);
    std::vector<std::tuple<size_t, double, size_t>> ranked;
    for (size_t k = 0; k < ctx.cells; ++k) {
      if (k == c || k == ctx.primary || !ctx.cell_ok[k]) continue;
      const double distance = ContentDistance(prints[c], prints[k]);
      if (distance >= to_primary) continue;
      ranked.emplace_back(SettingsApart(ctx.matrix.cells[c], ctx.matrix.cells[k]), distance, k);
    }
    std::sort(ranked.begin(), ranked.end());
    for (const auto& r : ranked) ctx.nearest[c].push_back(std::get<2>(r));
  }
}

// ---------------------------------------------------------------------------
// Pass 5: attribute.

std::string LevelLabel(const Dimension& dim, int level) {
  if (level == 0) return fmt::format("{} as in the baseline", dim.name);
  const auto& label = dim.values[static_cast<size_t>(level - 1)].label;
  return label.find('=') != std::string::npos ? label : fmt::format("{}={}", dim.name, label);
}

std::string ConditionText(const Dimension& dim, const std::set<int>& levels) {
  bool all_but_baseline = levels.size() == dim.values.size() && !levels.count(0);
  if (all_but_baseline) {
    return dim.values.size() == 1 ? LevelLabel(dim, 1)
                                  : fmt::format("{} is not the baseline's", dim.name);
  }
  std::string text;
  for (int l : levels) text += (text.empty() ? "" : " or ") + LevelLabel(dim, l);
  return text;
}

}  // namespace

std::optional<size_t> FunctionalDimension(const Matrix& matrix, const std::vector<int>& value_of) {
  std::optional<size_t> best;
  size_t best_levels = SIZE_MAX;
  const size_t cells = std::min(matrix.cells.size(), value_of.size());
  for (size_t d = 0; d < matrix.dimensions.size(); ++d) {
    std::map<int, int> value_at_level;
    bool function = true;
    for (size_t c = 0; c < cells && function; ++c) {
      if (value_of[c] < 0) continue;
      int level = d < matrix.cells[c].levels.size() ? matrix.cells[c].levels[d] : 0;
      auto [it, fresh] = value_at_level.try_emplace(level, value_of[c]);
      function = fresh || it->second == value_of[c];
    }
    // A dimension that takes a different level in every cell explains
    // anything: it must repeat a level somewhere to count.
    size_t observed = 0;
    for (size_t c = 0; c < cells; ++c) observed += value_of[c] >= 0;
    if (!function || value_at_level.size() >= observed) continue;
    if (value_at_level.size() < best_levels) {
      best = d;
      best_levels = value_at_level.size();
    }
  }
  return best;
}

namespace {

// The search for the fewest dimensions whose deviant levels hold exactly in
// the deviant cells (among the observed ones).
class DeviantCells {
 public:
  DeviantCells(const Matrix& matrix, const std::vector<bool>& observed,
               const std::vector<bool>& deviant, const std::vector<size_t>* only)
      : matrix_(matrix),
        observed_(observed),
        deviant_(deviant),
        only_(only),
        cells_(std::min({matrix.cells.size(), observed.size(), deviant.size()})),
        levels_(matrix.dimensions.size()) {
    for (size_t c = 0; c < cells_; ++c) {
      if (!observed_[c] || !deviant_[c]) continue;
      ++count_;
      for (size_t d = 0; d < levels_.size(); ++d) levels_[d].insert(Level(c, d));
    }
  }

  size_t count() const { return count_; }
  // The levels dimension d takes in the deviant cells.
  const std::set<int>& levels(size_t d) const { return levels_[d]; }

  // The single dimension, else the pair, that explains the deviant cells
  // with the fewest levels; empty when none does.
  std::vector<size_t> Best() const {
    std::vector<size_t> best;
    size_t best_size = SIZE_MAX;
    const size_t dims = levels_.size();
    for (size_t d = 0; d < dims; ++d) {
      if (Allowed(d) && levels_[d].size() < best_size && Exact({d})) {
        best = {d};
        best_size = levels_[d].size();
      }
    }
    for (size_t d1 = 0; best.size() != 1 && d1 < dims; ++d1) {
      for (size_t d2 = d1 + 1; d2 < dims; ++d2) {
        if (!Allowed(d1) || !Allowed(d2)) continue;
        size_t size = levels_[d1].size() + levels_[d2].size();
        if (size < best_size && Exact({d1, d2})) {
          best = {d1, d2};
          best_size = size;
        }
      }
    }
    return best;
  }

 private:
  int Level(size_t c, size_t d) const {
    const auto& levels = matrix_.cells[c].levels;
    return d < levels.size() ? levels[d] : 0;
  }
  bool Allowed(size_t d) const {
    return only_ == nullptr || std::find(only_->begin(), only_->end(), d) != only_->end();
  }
  // Whether "every dimension in ds takes one of its deviant levels" holds in
  // exactly the deviant observed cells.
  bool Exact(const std::vector<size_t>& ds) const {
    for (size_t c = 0; c < cells_; ++c) {
      if (!observed_[c]) continue;
      bool holds = true;
      for (size_t d : ds) holds = holds && levels_[d].count(Level(c, d)) > 0;
      if (holds != deviant_[c]) return false;
    }
    return true;
  }

  const Matrix& matrix_;
  const std::vector<bool>& observed_;
  const std::vector<bool>& deviant_;
  const std::vector<size_t>* only_;
  size_t cells_;
  size_t count_ = 0;
  std::vector<std::set<int>> levels_;  // per dimension
};

// The variables of dimension d whose values at `levels` differ from the
// baseline's (all of the dimension's variables when none does).
void AddChangedVariables(const Matrix& matrix, size_t d, const std::set<int>& levels,
                         std::set<std::string>* vars) {
  const Dimension& dim = matrix.dimensions[d];
  const Cell& base = matrix.cells[0];
  for (int l : levels) {
    if (l == 0) continue;
    for (const auto& [var, value] : dim.values[static_cast<size_t>(l - 1)].assign) {
      if (value != base.Get(var)) vars->insert(var);
    }
  }
  if (vars->empty()) vars->insert(dim.variables.begin(), dim.variables.end());
}

}  // namespace

Attribution Attribute(const Matrix& matrix, const std::vector<bool>& observed,
                      const std::vector<bool>& deviant, bool single_run,
                      const std::vector<size_t>* only) {
  Attribution out;
  if (matrix.dimensions.empty()) return out;
  const DeviantCells search(matrix, observed, deviant, only);
  if (search.count() == 0) return out;
  std::vector<size_t> best = search.Best();
  if (best.empty()) return out;
  // One cell in one run could be randomness: not enough to name a cause.
  if (search.count() < 2 && single_run) return out;
  // The more specific condition first: "TZ=Asia/Shanghai when base URL is not the baseline's".
  if (best.size() == 2 && search.levels(best[1]).size() < search.levels(best[0]).size())
    std::swap(best[0], best[1]);
  out.explained = true;
  out.dimensions = best;
  std::set<std::string> vars;
  for (size_t d : best) {
    out.levels.push_back(search.levels(d));
    out.condition += (out.condition.empty() ? "" : " when ") +
                     ConditionText(matrix.dimensions[d], search.levels(d));
    AddChangedVariables(matrix, d, search.levels(d), &vars);
  }
  out.variables.assign(vars.begin(), vars.end());
  return out;
}

namespace {

// ---------------------------------------------------------------------------
// Passes 3, 4 and 6: noise, span diff, classify (per aligned field).

// The value a variable has in a cell for the agent: an unset base URL is
// the provider's official one.
std::string EffectiveValue(const Cell& cell, const std::string& var) {
  std::string v = cell.Get(var);
  if (!v.empty()) return v;
  if (var == "ANTHROPIC_BASE_URL") return "https://api.anthropic.com";
  if (var == "OPENAI_BASE_URL") return "https://api.openai.com/v1";
  if (var == "GOOGLE_GEMINI_BASE_URL") return "https://generativelanguage.googleapis.com";
  return v;
}

// The cell's value with the values of the variables varied in it or in the
// reference cell replaced by the reference cell's (the reference is not the
// baseline when the baseline failed: its user name must map back too).
// When several variables hold one value (every base URL at one relay), the
// one whose reference value appears in `ref_value` is used. Returns whether
// anything was replaced; `vars` collects the variables.
bool EchoSubstitute(std::string* text, const Cell& cell, const Cell& ref,
                    const std::string& ref_value, std::set<std::string>* vars) {
  std::set<std::string> varied;
  for (const auto& entry : cell.varied) varied.insert(entry.first);
  for (const auto& entry : ref.varied) varied.insert(entry.first);
  // form in the cell -> (variable, the reference's form)
  std::vector<std::tuple<std::string, std::string, std::string>> swaps;
  for (const auto& var : varied) {
    std::string ref_var_value = EffectiveValue(ref, var);
    if (EffectiveValue(cell, var) == ref_var_value) continue;
    auto cell_forms = ValueForms(EffectiveValue(cell, var));
    auto ref_forms = ValueForms(ref_var_value);
    for (size_t i = 0; i < cell_forms.size(); ++i) {
      std::string to = i < ref_forms.size() ? ref_forms[i] : std::string();
      auto same = std::find_if(swaps.begin(), swaps.end(),
                               [&](const auto& s) { return std::get<0>(s) == cell_forms[i]; });
      if (same == swaps.end()) {
        swaps.emplace_back(cell_forms[i], var, to);
      } else if (ref_value.find(std::get<2>(*same)) == std::string::npos &&
                 ref_value.find(to) != std::string::npos) {
        *same = std::make_tuple(cell_forms[i], var, to);
      }
    }
  }
  // Longer forms first: a URL before its host.
  std::stable_sort(swaps.begin(), swaps.end(), [](const auto& x, const auto& y) {
    return std::get<0>(x).size() > std::get<0>(y).size();
  });
  bool echoed = false;
  for (const auto& [from, var, to] : swaps) {
    if (text->find(from) == std::string::npos) continue;
    echoed = true;
    if (vars) vars->insert(var);
    ReplaceAll(*text, from, to);
  }
  return echoed;
}

bool CovertLike(std::u32string_view a, std::u32string_view b) {
  if (Skeleton(a) == Skeleton(b)) return true;
  return !HasWordChar(a) && !HasWordChar(b);
}

// One cell's side of a compared field.
struct CellSide {
  size_t cell = 0;
  std::u32string text;              // after echo substitution
  std::vector<ChangedSpan> spans;   // against the reference, in order, not overlapping
  std::u32string sent;              // what the agent sent (before the substitution)
  std::vector<ChangedSpan> echoes;  // text -> sent: where the substitution changed it
};

// A position in the substituted text, in what the agent sent.
size_t ToSent(const CellSide& side, size_t pos, bool end) {
  long delta = 0;
  for (const auto& e : side.echoes) {
    if (e.a_end <= pos && !(end && e.a_begin == pos && e.a_end == pos)) {
      delta += static_cast<long>(e.b_end - e.b_begin) - static_cast<long>(e.a_end - e.a_begin);
      continue;
    }
    if (e.a_begin < pos) return end ? e.b_end : e.b_begin;  // inside a substituted span
    break;
  }
  return static_cast<size_t>(std::max<long>(0, static_cast<long>(pos) + delta));
}

// The cell's text over [begin, end) of the reference: the reference's text
// with the cell's spans inside it applied, and where it starts in the cell.
std::u32string TextOver(const std::u32string& ref, const CellSide& side, size_t begin, size_t end,
                        size_t* cell_begin) {
  long delta = 0;
  std::u32string out;
  size_t pos = begin;
  bool started = false;
  for (const auto& s : side.spans) {
    if (s.a_end <= begin && !(s.a_begin == s.a_end && s.a_begin == begin)) {
      delta += static_cast<long>(s.b_end - s.b_begin) - static_cast<long>(s.a_end - s.a_begin);
      continue;
    }
    if (s.a_begin >= end && !(s.a_begin == s.a_end && s.a_begin == end && begin == end)) break;
    if (!started) {
      *cell_begin = static_cast<size_t>(static_cast<long>(begin) + delta);
      started = true;
    }
    out.append(ref, pos, s.a_begin - pos);
    out.append(side.text, s.b_begin, s.b_end - s.b_begin);
    pos = s.a_end;
  }
  if (!started) *cell_begin = static_cast<size_t>(static_cast<long>(begin) + delta);
  if (pos < end) out.append(ref, pos, end - pos);
  return out;
}

struct Site {
  size_t begin = 0, end = 0;  // in the reference
};

// Merges the spans of every cell into sites: overlapping spans (or
// insertions at one point) are one site.
std::vector<Site> Sites(const std::vector<CellSide>& sides) {
  std::vector<Site> all;
  for (const auto& side : sides) {
    for (const auto& s : side.spans) all.push_back({s.a_begin, s.a_end});
  }
  std::sort(all.begin(), all.end(), [](const Site& x, const Site& y) {
    return x.begin != y.begin ? x.begin < y.begin : x.end < y.end;
  });
  std::vector<Site> merged;
  for (const auto& s : all) {
    if (!merged.empty() && (s.begin < merged.back().end || s.begin == merged.back().begin ||
                            (s.begin == merged.back().end &&
                             (s.begin == s.end || merged.back().begin == merged.back().end)))) {
      merged.back().end = std::max(merged.back().end, s.end);
    } else {
      merged.push_back(s);
    }
  }
  return merged;
}

// Minimal spans, widened to whole words where the change is visible;
// a rewrite (many spans, or most of the text) is one span.
std::vector<ChangedSpan> SpansFor(std::u32string_view a, std::u32string_view b) {
  std::vector<ChangedSpan> spans = DiffCodePoints(a, b);
  size_t changed = 0;
  for (const auto& s : spans) changed += std::max(s.a_end - s.a_begin, s.b_end - s.b_begin);
  if (spans.size() > 12 || (spans.size() > 1 && changed * 2 > std::max(a.size(), b.size()))) {
    return {ChangedSpan{spans.front().a_begin, spans.back().a_end, spans.front().b_begin,
                        spans.back().b_end}};
  }
  std::vector<ChangedSpan> out;
  for (const auto& s : spans) {
    if (CovertLike(a.substr(s.a_begin, s.a_end - s.a_begin),
                   b.substr(s.b_begin, s.b_end - s.b_begin))) {
      out.push_back(s);
    } else {
      auto widened = WidenToWords(a, b, {s});
      out.push_back(widened.front());
    }
  }
  // Widening may make neighbours overlap: merge them.
  std::vector<ChangedSpan> merged;
  for (const auto& s : out) {
    if (!merged.empty() && (s.a_begin < merged.back().a_end || s.b_begin < merged.back().b_end)) {
      merged.back().a_end = std::max(merged.back().a_end, s.a_end);
      merged.back().b_end = std::max(merged.back().b_end, s.b_end);
    } else {
      merged.push_back(s);
    }
  }
  return merged;
}

struct Verdictlet {
  DiffClass cls = DiffClass::kOtherDependence;
  std::string reason;
};

// Pass 6 for one value at one site.
Verdictlet ClassifyChange(std::u32string_view ref_text, std::u32string_view text, bool presence,
                          const Attribution& why, const Context& ctx,
                          const std::vector<size_t>& deviant_cells,
                          const std::vector<size_t>& reference_cells) {
  bool locale_only = !why.variables.empty(), clock_only = !why.variables.empty();
  for (const auto& v : why.variables) {
    locale_only = locale_only && IsLocaleVariable(v);
    clock_only = clock_only && IsClockVariable(v);
  }
  auto unconfirmed = [&](const char* what) {
    return Verdictlet{
        DiffClass::kUnexplained,
        fmt::format("{}; with one run per cell it cannot be told from randomness", what)};
  };
  if (presence) {
    if (!why.explained)
      return {DiffClass::kUnexplained,
              "present in some cells only, and no one or two settings explain which"};
    if (locale_only)
      return ctx.single_run
                 ? unconfirmed("present under some locales only")
                 : Verdictlet{DiffClass::kLocalisation, "present under some locales only"};
    return {DiffClass::kOtherDependence, "sent in some cells only"};
  }
  std::vector<ChangedSpan> minimal = DiffCodePoints(ref_text, text);
  bool covert = !minimal.empty();
  for (const auto& s : minimal) {
    covert = covert && CovertLike(ref_text.substr(s.a_begin, s.a_end - s.a_begin),
                                  text.substr(s.b_begin, s.b_end - s.b_begin));
  }
  if (covert && !locale_only) {
    return {
        DiffClass::kCovertMarker,
        Skeleton(ref_text) == Skeleton(text)
            ? "same text to a reader: only look-alike, invisible or white-space code points change"
            : "only separators, punctuation or white space change"};
  }
  if (!why.explained)
    return {DiffClass::kUnexplained, "no one or two settings explain in which cells it changes"};
  if (covert) {
    return ctx.single_run ? unconfirmed("separators or punctuation follow the locale")
                          : Verdictlet{DiffClass::kLocalisation,
                                       "separators or punctuation follow the locale"};
  }
  if (clock_only) {
    bool time_like = true;
    for (const auto& s : WidenToWords(ref_text, text, minimal)) {
      time_like = time_like && IsTimeLike(ref_text.substr(s.a_begin, s.a_end - s.a_begin)) &&
                  IsTimeLike(text.substr(s.b_begin, s.b_end - s.b_begin));
    }
    if (time_like) {
      std::set<int> ref_offsets, cell_offsets;
      bool known = true;
      for (size_t c : reference_cells) {
        auto o = ZoneOffsetMinutes(EffectiveZone(ctx.matrix.cells[c]), ctx.facts.now_ms);
        known = known && o.has_value();
        if (o) ref_offsets.insert(*o);
      }
      for (size_t c : deviant_cells) {
        auto o = ZoneOffsetMinutes(EffectiveZone(ctx.matrix.cells[c]), ctx.facts.now_ms);
        known = known && o.has_value();
        if (o) cell_offsets.insert(*o);
      }
      bool disjoint = known && std::none_of(cell_offsets.begin(), cell_offsets.end(),
                                            [&](int o) { return ref_offsets.count(o) > 0; });
      if (disjoint) {
        if (ctx.single_run) return unconfirmed("date/time text");
        return {DiffClass::kClock, "date/time text; the zones' UTC offsets differ"};
      }
      if (known)
        return {DiffClass::kOtherDependence,
                "date/time text differs between zones with the same UTC offset: it follows the "
                "zone's name"};
    }
  }
  if (locale_only) {
    return ctx.single_run ? unconfirmed("visible text follows the locale")
                          : Verdictlet{DiffClass::kLocalisation, "visible text follows the locale"};
  }
  return {DiffClass::kOtherDependence, "the text changes with the environment"};
}

std::string Context40(const std::u32string& text, size_t begin, size_t end, bool before) {
  if (before) {
    size_t from = begin > 40 ? begin - 40 : 0;
    return EncodeFromDiff(std::u32string_view(text).substr(from, begin - from));
  }
  return EncodeFromDiff(std::u32string_view(text).substr(std::min(end, text.size()), 40));
}

// Arrays whose elements come and go between runs of one cell (telemetry
// batches filled by timers): their elements pair with nothing stable, so
// every field under them is noise. Per request key, the outermost array's
// path ("body .events").
std::map<std::string, std::set<std::string>> UnstableArrays(
    const Context& ctx, const std::vector<AlignedField>& aligned) {
  std::map<std::string, std::set<std::string>> unstable;
  for (const auto& field : aligned) {
    if (field.key == "network") continue;
    // A request that comes and goes between runs of one cell (a telemetry
    // flush on a timer): "" stands for all of its fields.
    const bool whole = field.field == "request";
    size_t bracket = field.field.find('[');
    if (bracket == std::string::npos && !whole) continue;
    for (size_t c = 0; c < ctx.cells; ++c) {
      bool present = false, absent = false;
      for (size_t r = 0; r < field.values[c].size(); ++r) {
        if (!ctx.good[c][r] || (!whole && !field.request_present[c][r])) continue;
        (field.values[c][r] ? present : absent) = true;
      }
      if (present && absent) {
        unstable[field.key].insert(whole ? std::string() : field.field.substr(0, bracket));
        break;
      }
    }
  }
  return unstable;
}

class FieldComparer {
 public:
  FieldComparer(const Context& ctx, Analysis* a,
                std::map<std::string, std::set<std::string>> unstable)
      : ctx_(ctx), a_(a), unstable_(std::move(unstable)) {}

  void Compare(const AlignedField& field) {
    field_ = &field;
    field_first_ = a_->differences.size();
    if (UnderUnstableArray()) return;
    if (!Noise()) return;
    if (!Representatives()) return;
    echo_ref_ = ref_;
    SpanDiff();
    NearestDiffs();
  }

 private:
  bool UnderUnstableArray() {
    auto it = unstable_.find(field_->key);
    if (it == unstable_.end()) return false;
    for (const auto& prefix : it->second) {
      const bool whole = prefix.empty();
      if (whole ? field_->field == "request"
                : field_->field.size() <= prefix.size() ||
                      field_->field.compare(0, prefix.size(), prefix) != 0 ||
                      field_->field[prefix.size()] != '[') {
        continue;
      }
      std::string location = whole ? fmt::format("{} (its fields)", field_->key)
                                   : fmt::format("{} {}[*]", field_->location, prefix);
      if (reported_.insert(location).second) {
        NoiseField noise;
        noise.location = location;
        noise.examples.push_back(
            whole ? "the request comes and goes between runs: its fields are not compared"
                  : "its elements come and go between runs: they are not compared");
        for (size_t c = 0; c < ctx_.cells; ++c) noise.cells.push_back(ctx_.matrix.cells[c].label);
        a_->noise.push_back(std::move(noise));
      }
      return true;
    }
    return false;
  }

  // Values of the good runs of cell c (absent requests skipped for fields).
  std::vector<std::optional<std::string>> RunValues(size_t c, bool masked) const {
    std::vector<std::optional<std::string>> vals;
    for (size_t r = 0; r < field_->values[c].size(); ++r) {
      if (!ctx_.good[c][r]) continue;
      if (field_->field != "request" && field_->key != "network" && !field_->request_present[c][r])
        continue;
      auto v = field_->values[c][r];
      if (masked && v) v = MaskGenerated(*v);
      vals.push_back(std::move(v));
    }
    return vals;
  }

  // Pass 3. False when the field is only noise.
  bool Noise() {
    auto varies = [](const std::vector<std::optional<std::string>>& vals) {
      return std::any_of(vals.begin(), vals.end(),
                         [&](const auto& v) { return v != vals.front(); });
    };
    NoiseField noise;
    noise.location = CollapseIndices(FieldLocation(*field_));
    // An element that comes and goes between runs (a telemetry batch of
    // varying length): one entry for the array, not one per leaf.
    bool comes_and_goes = false;
    for (size_t c = 0; c < ctx_.cells && !comes_and_goes; ++c) {
      auto vals = RunValues(c, false);
      comes_and_goes =
          std::any_of(vals.begin(), vals.end(), [](const auto& v) { return !v.has_value(); }) &&
          std::any_of(vals.begin(), vals.end(), [](const auto& v) { return v.has_value(); });
    }
    if (size_t star = noise.location.rfind("[*]"); comes_and_goes && star != std::string::npos) {
      noise.location.resize(star + 3);
    }
    for (size_t c = 0; c < ctx_.cells; ++c) {
      auto vals = RunValues(c, false);
      if (vals.empty() || !varies(vals)) continue;
      noise.cells.push_back(ctx_.matrix.cells[c].label);
      if (noise.examples.empty()) {
        noise.examples.push_back(Truncate(vals.front().value_or("(absent)"), 200));
        for (const auto& v : vals) {
          if (v != vals.front()) {
            noise.examples.push_back(Truncate(v.value_or("(absent)"), 200));
            break;
          }
        }
      }
    }
    masked_ = false;
    if (noise.cells.empty()) return true;
    bool still = false;
    for (size_t c = 0; c < ctx_.cells && !still; ++c) {
      auto vals = RunValues(c, true);
      still = !vals.empty() && varies(vals);
    }
    noise.masked = !still;
    // One entry per collapsed location ("body .events[*].time").
    auto it = std::find_if(a_->noise.begin(), a_->noise.end(),
                           [&](const NoiseField& n) { return n.location == noise.location; });
    if (it == a_->noise.end()) {
      a_->noise.push_back(noise);
    } else {
      it->masked = it->masked && noise.masked;
      for (const auto& c : noise.cells) {
        if (std::find(it->cells.begin(), it->cells.end(), c) == it->cells.end())
          it->cells.push_back(c);
      }
    }
    if (still) return false;
    masked_ = true;
    return true;
  }

  // The value of each observed cell (its first good run with the request)
  // and the reference cell. False when there is nothing to compare.
  bool Representatives() {
    const bool is_request = field_->field == "request";
    const bool network = field_->key == "network";
    rep_.assign(ctx_.cells, std::nullopt);
    observed_.assign(ctx_.cells, false);
    for (size_t c = 0; c < ctx_.cells; ++c) {
      for (size_t r = 0; r < field_->values[c].size(); ++r) {
        if (!ctx_.good[c][r]) continue;
        if (!is_request && !network && !field_->request_present[c][r]) continue;
        rep_[c] = field_->values[c][r];
        if (masked_ && rep_[c]) rep_[c] = MaskGenerated(*rep_[c]);
        observed_[c] = true;
        break;
      }
    }
    // The baseline is the reference unless it failed; a field of a request
    // the baseline did not send is covered by the request's presence.
    ref_ = 0;
    if (!ctx_.cell_ok[0]) {
      ref_ = SIZE_MAX;
      for (size_t c = 0; c < ctx_.cells && ref_ == SIZE_MAX; ++c) {
        if (observed_[c]) ref_ = c;
      }
      if (ref_ == SIZE_MAX) return false;
    } else if (!observed_[0]) {
      return false;
    }
    for (size_t c = 0; c < ctx_.cells; ++c) {
      if (observed_[c] && rep_[c] != rep_[ref_]) return true;
    }
    return false;
  }

  Difference NewDifference(DiffClass cls, std::string reason) const {
    Difference d;
    d.location = FieldLocation(*field_);
    d.request_key = field_->key;
    d.field = field_->field;
    d.cls = cls;
    d.reason = std::move(reason);
    d.by_cell = rep_;
    d.noise_masked = masked_;
    d.reference_cell = ref_;
    return d;
  }

  // A presence field named after a varied value ("lookup (HTTPS_PROXY host)")
  // is an echo of it.
  bool NamesVaried(const Cell& cell, std::set<std::string>* vars) const {
    bool any = false;
    const std::string key = field_->key + " " + field_->field;
    for (const auto& [var, value] : cell.varied) {
      std::string marker = fmt::format("({} host)", var);
      if (field_->field.find(marker) != std::string::npos ||
          field_->key.find(marker) != std::string::npos) {
        vars->insert(var);
        any = true;
      }
      for (const auto& form : ValueForms(value)) {
        if (form.size() >= 4 && key.find(form) != std::string::npos) {
          vars->insert(var);
          any = true;
        }
      }
    }
    return any;
  }

  // A value of cell c that is nothing but a varied value ("apiBaseUrlHost":
  // "openrouter.ai") echoes it; `vars` gets the variables.
  bool OnlyVariedValue(size_t c, std::set<std::string>* vars) const {
    if (!rep_[c].has_value()) return false;
    const Cell& cell = ctx_.matrix.cells[c];
    const Cell& ref_cell = ctx_.matrix.cells[echo_ref_];
    std::string substituted = *rep_[c];
    std::set<std::string> echoed;
    bool only_varied = EchoSubstitute(&substituted, cell, ref_cell, "", &echoed) &&
                       (substituted.empty() || ValueForms(substituted).empty() ||
                        std::any_of(echoed.begin(), echoed.end(), [&](const std::string& var) {
                          for (const auto& form : ValueForms(EffectiveValue(ref_cell, var))) {
                            if (form == substituted) return true;
                          }
                          return false;
                        }));
    if (only_varied) *vars = echoed;
    return only_varied;
  }

  // Cell c's value with its varied values replaced by the primary
  // reference's, as code points; `vars` gets the variables replaced. Against
  // a nearest reference both sides are mapped to the primary's values, so
  // two cells that echo their own user names compare equal.
  CellSide SideOf(size_t c, std::set<std::string>* vars) const {
    std::string substituted = *rep_[c];
    EchoSubstitute(&substituted, ctx_.matrix.cells[c], ctx_.matrix.cells[echo_ref_],
                   rep_[echo_ref_].value_or(""), vars);
    CellSide side;
    side.cell = c;
    side.text = DecodeForDiff(substituted);
    if (substituted != *rep_[c]) {
      side.sent = DecodeForDiff(*rep_[c]);
      side.echoes = DiffCodePoints(side.text, side.sent);
    }
    return side;
  }

  // Pass 4 to 6 again against each cell's nearest reference (pass 2b) that
  // sent another value than the cell in this field. The comparison runs over every observed cell,
  // so the attribution still says which settings carry the change; of its
  // differences only those are kept that tell something the primary
  // comparison did not: a dependence whose class is worse than any the
  // primary gave a cell that has this nearest reference (a one-code-point
  // marker inside what the baseline comparison saw as a rewrite).
  void NearestDiffs() {
    const size_t primary = ref_;
    const size_t primary_first = field_first_;
    const size_t primary_end = a_->differences.size();
    // The worst class the primary comparison gave each cell in this field.
    std::vector<int> worst(ctx_.cells, INT_MAX);
    for (size_t i = primary_first; i < primary_end; ++i) {
      const Difference& d = a_->differences[i];
      for (size_t c : d.differing_cells) worst[c] = std::min(worst[c], static_cast<int>(d.cls));
    }
    // Each cell's nearest reference for this field: the first of its ranked
    // neighbours whose value differs from its own.
    std::vector<size_t> reference_of(ctx_.cells, primary);
    std::set<size_t> references;
    for (size_t c = 0; c < ctx_.cells; ++c) {
      if (!observed_[c] || c == primary || rep_[c] == rep_[primary]) continue;
      for (size_t k : ctx_.nearest[c]) {
        if (!observed_[k] || rep_[k] == rep_[c]) continue;
        reference_of[c] = k;
        references.insert(k);
        break;
      }
    }
    field_first_ = primary_end;  // differences found against several references merge
    echo_ref_ = primary;
    for (size_t k : references) {
      const size_t begin = a_->differences.size();
      ref_ = k;
      SpanDiff();
      auto news = [&](const Difference& d) {
        if (d.cls != DiffClass::kCovertMarker && d.cls != DiffClass::kOtherDependence) return false;
        return std::any_of(d.differing_cells.begin(), d.differing_cells.end(), [&](size_t c) {
          return reference_of[c] == k && static_cast<int>(d.cls) < worst[c];
        });
      };
      size_t kept = begin;
      for (size_t i = begin; i < a_->differences.size(); ++i) {
        Difference& d = a_->differences[i];
        if (!news(d)) continue;
        d.reason += primary == 0 ? " (against the nearest cell, not the baseline)"
                                 : " (against the nearest cell)";
        if (kept != i) a_->differences[kept] = std::move(d);
        ++kept;
      }
      a_->differences.resize(kept);
    }
    DropMirrors(primary_end, primary_first);
    ref_ = primary;
    ref32_ = rep_[ref_] ? DecodeForDiff(*rep_[ref_]) : std::u32string();
    field_first_ = primary_first;
  }

  // One change seen from both sides (cells with the marker against a cell
  // without it, and the other way round) is found twice: against nearest
  // references, or once against the primary and once, from the other side,
  // against a nearest reference (cells that differ from the primary in
  // something else, a date a zone is a day behind on, take a marked cell as
  // their nearest). Of the differences from `first` on, those that no
  // setting explains are dropped when one of the field's differences from
  // `explained_from` on with the same location, class and code points is
  // explained.
  void DropMirrors(size_t first, size_t explained_from) {
    auto& diffs = a_->differences;
    std::vector<bool> drop(diffs.size(), false);
    for (size_t i = first; i < diffs.size(); ++i) {
      if (!diffs[i].explanation.empty()) continue;
      for (size_t j = explained_from; j < diffs.size(); ++j) {
        if (j != i && !diffs[j].explanation.empty() && diffs[j].location == diffs[i].location &&
            diffs[j].cls == diffs[i].cls && diffs[j].codepoints == diffs[i].codepoints) {
          drop[i] = true;
          break;
        }
      }
    }
    size_t kept = first;
    for (size_t i = first; i < diffs.size(); ++i) {
      if (drop[i]) continue;
      if (kept != i) diffs[kept] = std::move(diffs[i]);
      ++kept;
    }
    diffs.resize(kept);
  }

  // Pass 4 and, per site and value, 5 and 6: each cell's value against the
  // reference's; echoes, presence flips and changed sites.
  void SpanDiff() {
    const Cell& ref_cell = ctx_.matrix.cells[ref_];
    const std::optional<std::string>& ref_value = rep_[ref_];
    // A nearest reference's own varied values mapped to the primary's, as
    // every cell's are (SideOf).
    std::optional<std::string> ref_normal = ref_value;
    if (ref_normal && ref_ != echo_ref_) {
      EchoSubstitute(&*ref_normal, ref_cell, ctx_.matrix.cells[echo_ref_],
                     rep_[echo_ref_].value_or(""), nullptr);
    }
    std::vector<size_t> echo_cells;
    std::set<std::string> echo_vars;
    std::vector<CellSide> sides;
    std::vector<size_t> absent_flip;  // cells where the field's presence differs
    ref32_ = ref_normal ? DecodeForDiff(*ref_normal) : std::u32string();
    for (size_t c = 0; c < ctx_.cells; ++c) {
      if (!observed_[c] || c == ref_ || rep_[c] == ref_value) continue;
      const Cell& cell = ctx_.matrix.cells[c];
      std::set<std::string> vars;
      if (!rep_[c].has_value() || !ref_value.has_value()) {
        if (OnlyVariedValue(c, &vars) || NamesVaried(rep_[c] ? cell : ref_cell, &vars) ||
            NamesVaried(cell, &vars)) {
          echo_cells.push_back(c);
          echo_vars.insert(vars.begin(), vars.end());
        } else {
          absent_flip.push_back(c);
        }
        continue;
      }
      CellSide side = SideOf(c, &vars);
      // Nothing but the cell's own varied value (the Host header of a
      // relay, where the reference reached the agent's default host):
      // the difference is the varied value itself, whatever the reference sent.
      if (side.text == ref32_ || OnlyVariedValue(c, &vars)) {
        echo_cells.push_back(c);
        echo_vars.insert(vars.begin(), vars.end());
        continue;
      }
      side.spans = SpansFor(ref32_, side.text);
      sides.push_back(std::move(side));
    }
    if (!echo_cells.empty()) {
      Difference d = NewDifference(DiffClass::kEcho, "the difference is the varied value itself");
      d.differing_cells = echo_cells;
      d.variables.assign(echo_vars.begin(), echo_vars.end());
      a_->differences.push_back(std::move(d));
    }
    if (!absent_flip.empty()) PresenceDifference(absent_flip);
    for (const Site& site : Sites(sides)) SiteDifferences(site, sides);
  }

  void PresenceDifference(const std::vector<size_t>& flipped) {
    std::vector<bool> deviant(ctx_.cells, false);
    for (size_t c : flipped) deviant[c] = true;
    Attribution why = Attribute(ctx_.matrix, observed_, deviant, ctx_.single_run);
    std::vector<size_t> ref_cells;
    for (size_t c = 0; c < ctx_.cells; ++c) {
      if (observed_[c] && !deviant[c]) ref_cells.push_back(c);
    }
    Verdictlet v = ClassifyChange({}, {}, true, why, ctx_, flipped, ref_cells);
    // Behind a proxy the agent resolves and dials the proxy instead of the
    // hosts: what the network pseudo-request loses there echoes the proxy.
    bool proxy_only =
        why.explained && !why.variables.empty() &&
        std::all_of(why.variables.begin(), why.variables.end(), [](const std::string& var) {
          std::string lower = var;
          std::transform(lower.begin(), lower.end(), lower.begin(),
                         [](unsigned char ch) { return std::tolower(ch); });
          return lower.ends_with("_proxy");
        });
    if (field_->key == "network" && proxy_only)
      v = {DiffClass::kEcho, "reached through the proxy instead"};
    Difference d = NewDifference(v.cls, v.reason);
    if (v.cls == DiffClass::kEcho) {
      // the reason above
    } else if (field_->field == "request") {
      d.reason = rep_[ref_] ? "the request is not sent in some cells"
                            : "the request is sent in some cells only";
      if (v.cls == DiffClass::kUnexplained) d.reason += " (no one or two settings explain which)";
    } else if (v.cls != DiffClass::kUnexplained) {
      d.reason = rep_[ref_] ? "absent in some cells" : "present in some cells only";
    }
    d.differing_cells = flipped;
    d.variables = why.variables;
    d.explanation = why.condition;
    a_->differences.push_back(std::move(d));
  }

  // Several values at one site (one text per language): the dimension of
  // which the text is a function explains them all, if there is one.
  std::vector<size_t> DimensionOfTexts(
      const std::map<std::u32string, std::vector<size_t>>& by_text) const {
    if (by_text.size() <= 1) return {};
    std::vector<int> value_of(ctx_.cells, -1);
    for (size_t c = 0; c < ctx_.cells; ++c) value_of[c] = observed_[c] ? 0 : -1;
    int id = 1;
    for (const auto& [text, cells] : by_text) {
      for (size_t c : cells) value_of[c] = id;
      ++id;
    }
    if (auto d = FunctionalDimension(ctx_.matrix, value_of)) return {*d};
    return {};
  }

  void SiteDifferences(const Site& site, const std::vector<CellSide>& sides) {
    std::u32string ref_text = ref32_.substr(site.begin, site.end - site.begin);
    // Cells by their text at this site.
    std::map<std::u32string, std::vector<size_t>> by_text;
    std::map<size_t, std::pair<const CellSide*, size_t>>
        where;  // cell -> (side, start of the site in its text)
    for (const auto& side : sides) {
      size_t cell_begin = 0;
      std::u32string text = TextOver(ref32_, side, site.begin, site.end, &cell_begin);
      if (text == ref_text) continue;
      by_text[text].push_back(side.cell);
      where[side.cell] = {&side, cell_begin};
    }
    // Classes at this site: one Difference per class.
    std::map<DiffClass, Difference> per_class;
    std::map<DiffClass, std::vector<bool>> deviant_of;
    const std::vector<size_t> fd = DimensionOfTexts(by_text);
    const std::vector<size_t>* only = fd.empty() ? nullptr : &fd;
    for (const auto& [text, cells] : by_text) {
      std::vector<bool> deviant(ctx_.cells, false);
      for (size_t c : cells) deviant[c] = true;
      Attribution why = Attribute(ctx_.matrix, observed_, deviant, ctx_.single_run, only);
      if (!why.explained && only) why = Attribute(ctx_.matrix, observed_, deviant, ctx_.single_run);
      std::vector<size_t> ref_cells;
      for (size_t c = 0; c < ctx_.cells; ++c) {
        if (observed_[c] && !deviant[c] &&
            !std::any_of(by_text.begin(), by_text.end(), [&](const auto& e) {
              return std::find(e.second.begin(), e.second.end(), c) != e.second.end();
            })) {
          ref_cells.push_back(c);
        }
      }
      Verdictlet v = ClassifyChange(ref_text, text, false, why, ctx_, cells, ref_cells);
      auto [it, fresh] = per_class.try_emplace(v.cls, NewDifference(v.cls, v.reason));
      Difference& d = it->second;
      auto& dev = deviant_of[v.cls];
      if (dev.empty()) dev.assign(ctx_.cells, false);
      for (size_t c : cells) dev[c] = true;
      for (const auto& var : why.variables) {
        if (std::find(d.variables.begin(), d.variables.end(), var) == d.variables.end())
          d.variables.push_back(var);
      }
      if (!why.condition.empty() && d.explanation.find(why.condition) == std::string::npos) {
        d.explanation += (d.explanation.empty() ? "" : "; ") + why.condition;
      }
      for (size_t c : cells) {
        d.differing_cells.push_back(c);
        AddChanges(&d, ref_text, text, site, c, where[c]);
      }
    }
    for (auto& [cls, d] : per_class) {
      std::sort(d.differing_cells.begin(), d.differing_cells.end());
      std::sort(d.variables.begin(), d.variables.end());
      // One explanation for all of the class's cells reads better than a list.
      if (d.explanation.find(';') != std::string::npos) {
        Attribution all = Attribute(ctx_.matrix, observed_, deviant_of[cls], ctx_.single_run, only);
        if (all.explained) {
          d.explanation = all.condition;
          d.variables = all.variables;
        }
      }
      MergeIntoField(std::move(d));
    }
  }

  // Sites of one field that carry the same class in the same cells for the
  // same reason are one difference with several changes (both separators of
  // a date), not one per site.
  void MergeIntoField(Difference d) {
    for (size_t i = field_first_; i < a_->differences.size(); ++i) {
      Difference& m = a_->differences[i];
      if (m.cls != d.cls || m.differing_cells != d.differing_cells ||
          m.explanation != d.explanation || m.location != d.location) {
        continue;
      }
      for (auto& ch : d.changes) {
        // The same change found against another reference is shown once.
        const bool seen =
            std::any_of(m.changes.begin(), m.changes.end(), [&](const CodepointChange& x) {
              return x.cell == ch.cell && x.offset == ch.offset && x.cell_text == ch.cell_text;
            });
        if (!seen && m.changes.size() < 24) m.changes.push_back(std::move(ch));
      }
      std::set<char32_t> cps(m.codepoints.begin(), m.codepoints.end());
      cps.insert(d.codepoints.begin(), d.codepoints.end());
      m.codepoints.assign(cps.begin(), cps.end());
      if (m.codepoints.size() > 64) m.codepoints.resize(64);
      std::stable_sort(
          m.changes.begin(), m.changes.end(),
          [](const CodepointChange& x, const CodepointChange& y) { return x.cell < y.cell; });
      return;
    }
    std::stable_sort(
        d.changes.begin(), d.changes.end(),
        [](const CodepointChange& x, const CodepointChange& y) { return x.cell < y.cell; });
    a_->differences.push_back(std::move(d));
  }

  void AddChanges(Difference* d, const std::u32string& ref_text, const std::u32string& text,
                  const Site& site, size_t c, const std::pair<const CellSide*, size_t>& at) {
    std::set<char32_t> cps(d->codepoints.begin(), d->codepoints.end());
    const bool covert = d->cls == DiffClass::kCovertMarker;
    std::vector<ChangedSpan> spans = DiffCodePoints(ref_text, text);
    if (!covert && !spans.empty()) {
      spans = WidenToWords(ref_text, text, spans);
      spans = {ChangedSpan{spans.front().a_begin, spans.back().a_end, spans.front().b_begin,
                           spans.back().b_end}};
    }
    size_t shown = 0;
    for (const auto& ch : d->changes) shown += ch.cell == ctx_.matrix.cells[c].label;
    for (const auto& s : spans) {
      std::u32string_view a = std::u32string_view(ref_text).substr(s.a_begin, s.a_end - s.a_begin);
      std::u32string_view b = std::u32string_view(text).substr(s.b_begin, s.b_end - s.b_begin);
      for (char32_t cp : a) cps.insert(cp);
      for (char32_t cp : b) cps.insert(cp);
      if (shown++ >= 4 || d->changes.size() >= 24) continue;
      const std::u32string& cell_text = at.first->text;
      size_t a_begin = site.begin + s.a_begin, a_end = site.begin + s.a_end;
      size_t b_begin = at.second + s.b_begin, b_end = at.second + s.b_end;
      CodepointChange change;
      change.cell = ctx_.matrix.cells[c].label;
      change.reference = ctx_.matrix.cells[ref_].label;
      change.baseline_text = EncodeFromDiff(a);
      change.cell_text = EncodeFromDiff(b);
      change.offset = b_begin;
      change.baseline_before = Context40(ref32_, a_begin, a_end, true);
      change.baseline_after = Context40(ref32_, a_begin, a_end, false);
      if (at.first->sent.empty()) {
        change.cell_before = Context40(cell_text, b_begin, b_end, true);
        change.cell_after = Context40(cell_text, b_begin, b_end, false);
      } else {
        // Show what the agent sent, not the text with its varied values replaced.
        size_t sb = ToSent(*at.first, b_begin, false),
               se = std::max(sb, ToSent(*at.first, b_end, true));
        change.cell_before = Context40(at.first->sent, sb, se, true);
        change.cell_after = Context40(at.first->sent, sb, se, false);
        change.offset = sb;
      }
      d->changes.push_back(std::move(change));
    }
    d->codepoints.clear();
    for (char32_t cp : cps) {
      if (d->codepoints.size() >= 64) break;
      d->codepoints.push_back(cp);
    }
  }

  const Context& ctx_;
  Analysis* a_;
  std::map<std::string, std::set<std::string>> unstable_;
  std::set<std::string> reported_;
  const AlignedField* field_ = nullptr;
  size_t field_first_ = 0;  // the first difference of this field in a_->differences
  bool masked_ = false;
  std::vector<std::optional<std::string>> rep_;
  std::vector<bool> observed_;
  size_t ref_ = 0;
  size_t echo_ref_ = 0;  // varied values are mapped to this cell's: the primary reference
  std::u32string ref32_;
};

// ---------------------------------------------------------------------------
// Pass 7: group.

void GroupDifferences(Analysis* a) {
  std::stable_sort(a->differences.begin(), a->differences.end(),
                   [](const Difference& x, const Difference& y) { return x.cls < y.cls; });
  std::map<std::tuple<DiffClass, std::vector<std::string>, std::string, std::vector<size_t>>,
           size_t>
      index;
  for (size_t i = 0; i < a->differences.size(); ++i) {
    const Difference& d = a->differences[i];
    auto key = std::make_tuple(d.cls, d.variables, d.explanation, d.differing_cells);
    auto [it, fresh] = index.try_emplace(key, a->groups.size());
    if (fresh) {
      DifferenceGroup g;
      g.cls = d.cls;
      g.variables = d.variables;
      g.explanation = d.explanation;
      g.cells = d.differing_cells;
      a->groups.push_back(std::move(g));
    }
    a->groups[it->second].members.push_back(i);
  }
  for (auto& g : a->groups) {
    std::stable_sort(g.members.begin(), g.members.end(), [&](size_t x, size_t y) {
      return !a->differences[x].changes.empty() && a->differences[y].changes.empty();
    });
  }
  std::stable_sort(a->groups.begin(), a->groups.end(),
                   [](const DifferenceGroup& x, const DifferenceGroup& y) {
                     if (x.cls != y.cls) return x.cls < y.cls;
                     return x.members.size() > y.members.size();
                   });
}

// ---------------------------------------------------------------------------
// Pass 8: inventory.

// DNS over HTTPS or an HTTPDNS service: the agent resolves names itself.
bool LooksLikeHttpDns(const CapturedRequest& req, const RequestFields& rf) {
  std::string target = req.target;
  std::transform(target.begin(), target.end(), target.begin(),
                 [](unsigned char ch) { return std::tolower(ch); });
  for (const auto& [name, value] : req.headers) {
    std::string n = name, v = value;
    std::transform(n.begin(), n.end(), n.begin(),
                   [](unsigned char ch) { return std::tolower(ch); });
    std::transform(v.begin(), v.end(), v.begin(),
                   [](unsigned char ch) { return std::tolower(ch); });
    if ((n == "content-type" || n == "accept") &&
        (v.find("application/dns-message") != std::string::npos ||
         v.find("application/dns-json") != std::string::npos)) {
      return true;
    }
  }
  if (target.find("/dns-query") != std::string::npos) return true;
  if (target.find("/resolve?") != std::string::npos && target.find("name=") != std::string::npos)
    return true;
  // HTTPDNS services take the name as dn= or host= on a hard-coded address.
  if (IsIpLiteral(rf.host) &&
      (target.find("dn=") != std::string::npos || target.find("host=") != std::string::npos)) {
    return true;
  }
  return false;
}

// What the inventory collects over every run before it is written out.
struct InventoryState {
  std::map<std::string, HostEntry> hosts;
  std::map<std::string, DnsEntry> dns;
  std::map<std::string, IdentityField> identity;
  std::map<std::string, UnservedConnection> unserved;
  std::set<std::tuple<std::string, std::string, std::string, std::string>> tls_seen;
  std::set<std::string> used_names;
  std::set<std::string> unrecognised;
  size_t silent_runs = 0, timeouts = 0, total_runs = 0;
};

void AddResolver(const std::string& r, Analysis* a) {
  if (std::find(a->foreign_resolvers.begin(), a->foreign_resolvers.end(), r) ==
      a->foreign_resolvers.end()) {
    a->foreign_resolvers.push_back(r);
  }
}

void AddIdentity(const std::string& location, const std::string& host, const std::string& example,
                 const std::vector<std::string>& carries, const std::string& cell,
                 InventoryState* st) {
  auto& idf = st->identity[location];
  if (idf.location.empty()) {
    idf.location = location;
    idf.host = host;
    idf.example = Truncate(example, 160);
  }
  for (const auto& what : carries) {
    if (std::find(idf.carries.begin(), idf.carries.end(), what) == idf.carries.end())
      idf.carries.push_back(what);
  }
  if (std::find(idf.cells.begin(), idf.cells.end(), cell) == idf.cells.end())
    idf.cells.push_back(cell);
}

// A run's DNS lookups: counted per name and cell; a query to a server other
// than the sandbox's is a foreign resolver. Returns the names looked up.
std::set<std::string> InventoryLookups(const RunCapture& run, const Cell& cell, InventoryState* st,
                                       Analysis* a) {
  std::set<std::string> looked_up;
  for (const auto& q : run.dns) {
    looked_up.insert(q.name);
    auto& entry = st->dns[q.name];
    entry.name = q.name;
    ++entry.by_cell[cell.label];
    if (!q.server.empty() && q.server != "127.0.0.1" && q.server != "::1") AddResolver(q.server, a);
  }
  return looked_up;
}

// Connections the capture server did not read, TLS refusals, sandbox notes
// and limits reached.
void InventoryUnread(const RunCapture& run, const Cell& cell, size_t r, InventoryState* st,
                     Analysis* a) {
  const auto names = NamesOfAddresses(run);
  for (const auto& conn : run.connections) {
    if (auto it = names.find(conn.dest_ip); it != names.end()) st->used_names.insert(it->second);
    if (conn.served) continue;
    std::string dest = conn.dest_ip.find(':') != std::string::npos
                           ? fmt::format("[{}]:{}", conn.dest_ip, conn.dest_port)
                           : fmt::format("{}:{}", conn.dest_ip, conn.dest_port);
    auto& entry = st->unserved[conn.protocol + " " + dest];
    entry.protocol = conn.protocol;
    entry.dest = dest;
    ++entry.by_cell[cell.label];
  }
  for (const auto& f : run.tls_failures) {
    if (!f.sni.empty()) st->used_names.insert(f.sni);
    auto key =
        std::make_tuple(cell.label, f.sni, fmt::format("{}:{}", f.dest_ip, f.dest_port), f.reason);
    if (st->tls_seen.insert(key).second)
      a->tls_failures.push_back({cell.label, f.sni, std::get<2>(key), f.reason});
  }
  for (const auto& note : run.notes) {
    if (std::find(a->notes.begin(), a->notes.end(), note) == a->notes.end())
      a->notes.push_back(note);
  }
  for (const auto& limit : run.limits_reached) {
    a->limits_reached.push_back(fmt::format("{} (cell {}, run {})", limit, cell.label, r + 1));
  }
}

// "https://resolver.example/dns-query (DNS over HTTP)" for an HTTPDNS / DoH request.
std::string HttpDnsResolver(const CapturedRequest& req, const RequestFields& rf) {
  std::string path = req.target.substr(0, req.target.find('?'));
  if (size_t scheme = path.find("://");
      scheme != std::string::npos) {  // absolute form, through a proxy
    size_t slash = path.find('/', scheme + 3);
    path = slash == std::string::npos ? "/" : path.substr(slash);
  }
  return fmt::format("{}://{}{} (DNS over HTTP)", req.scheme.empty() ? "http" : req.scheme, rf.host,
                     path);
}

// One request in the host inventory. Returns false for a proxy tunnel (its
// requests are counted themselves).
bool InventoryHost(const CapturedRequest& req, const RequestFields& rf, const Cell& cell,
                   const std::set<std::string>& looked_up, InventoryState* st, Analysis* a) {
  st->used_names.insert(rf.host);
  auto& h = st->hosts[rf.host];
  h.host = rf.host;
  h.ip_literal = IsIpLiteral(rf.host);
  if (rf.is_tunnel) {
    h.via_proxy = true;
    return false;
  }
  ++h.requests;
  ++h.by_cell[cell.label];
  if (!req.dest_ip.empty()) h.dest_ips.insert(req.dest_ip);
  if (req.dest_port) h.ports.insert(req.dest_port);
  h.via_proxy = h.via_proxy || req.via_proxy;
  h.looked_up = h.looked_up || looked_up.count(rf.host) > 0;
  if (LooksLikeHttpDns(req, rf)) AddResolver(HttpDnsResolver(req, rf), a);
  if (rf.to_base_url && req.response_status == 404) st->unrecognised.insert(rf.key);
  return true;
}

// The identity a request's fields carry (host name, user, zone, ...).
void InventoryIdentity(const Context& ctx, const Cell& cell, const RequestFields& rf,
                       InventoryState* st) {
  const Cell& base = ctx.matrix.cells[0];
  for (const auto& [name, value] : rf.fields) {
    if (name == "request" || name == "header host" || name == "tls sni") continue;
    auto carries = Carriers(value, base, cell, ctx.facts, rf.to_base_url);
    if (!carries.empty())
      AddIdentity(rf.location + " " + CollapseIndices(name), rf.host, value, carries, cell.label,
                  st);
  }
}

// One run: its lookups, unread connections, TLS refusals, notes, hosts and
// (for the first run of a cell) the identity its fields and names carry.
void InventoryRun(const Context& ctx, size_t c, size_t r, InventoryState* st, Analysis* a) {
  const Cell& base = ctx.matrix.cells[0];
  const Cell& cell = ctx.matrix.cells[c];
  const RunCapture& run = ctx.runs[c][r];
  ++st->total_runs;
  if (run.requests.empty()) ++st->silent_runs;
  if (run.timed_out) ++st->timeouts;
  const std::set<std::string> looked_up = InventoryLookups(run, cell, st, a);
  InventoryUnread(run, cell, r, st, a);
  const auto& flat = ctx.flat[c][r];
  for (size_t i = 0; i < run.requests.size() && i < flat.size(); ++i) {
    const bool counted = InventoryHost(run.requests[i], flat[i], cell, looked_up, st, a);
    if (counted && r == 0)
      InventoryIdentity(ctx, cell, flat[i], st);  // the first run of each cell is enough
  }
  if (r != 0) return;
  // Names looked up carry identity too ("wks-berlin-042.t.example").
  for (const auto& name : looked_up) {
    auto carries = Carriers(name, base, cell, ctx.facts, false);
    if (!carries.empty()) AddIdentity("DNS lookup " + name, name, name, carries, cell.label, st);
  }
}

// The host part of a base URL value ("https://h:8080/v1" -> "h").
std::string BaseUrlHost(const std::string& value) {
  std::string host =
      value.substr(value.find("://") == std::string::npos ? 0 : value.find("://") + 3);
  return host.substr(0, host.find_first_of("/:?#"));
}

bool IsBaseUrlVariable(const std::string& var) {
  return var.find("BASE_URL") != std::string::npos || var.ends_with("_API_BASE") ||
         var.ends_with("_ENDPOINT");
}

// How many working cells set dimension d to value v, and whether any of them
// sent a request to `host` or looked it up.
std::pair<size_t, bool> CellsThatContacted(const Context& ctx, size_t d, size_t v,
                                           const std::string& host) {
  size_t cells_with = 0;
  bool contacted = false;
  for (size_t c = 0; c < ctx.cells; ++c) {
    const auto& levels = ctx.matrix.cells[c].levels;
    if (d >= levels.size() || levels[d] != static_cast<int>(v + 1) || !ctx.cell_ok[c]) continue;
    ++cells_with;
    for (const auto& flat : ctx.flat[c]) {
      for (const auto& rf : flat) contacted = contacted || rf.host == host;
    }
    for (const auto& run : ctx.runs[c]) {
      for (const auto& q : run.dns) contacted = contacted || q.name == host;
    }
  }
  return {cells_with, contacted};
}

// A varied base URL whose host no cell that sets it ever contacted: the
// agent ignored the variable, so those cells tested nothing.
void WarnIgnoredBaseUrls(const Context& ctx, Analysis* a) {
  for (size_t d = 0; d < ctx.matrix.dimensions.size(); ++d) {
    const Dimension& dim = ctx.matrix.dimensions[d];
    for (size_t v = 0; v < dim.values.size(); ++v) {
      for (const auto& [var, value] : dim.values[v].assign) {
        const std::string host = BaseUrlHost(value);
        if (!IsBaseUrlVariable(var) || host.empty()) continue;
        const auto [cells_with, contacted] = CellsThatContacted(ctx, d, v, host);
        if (cells_with == 0 || contacted) continue;
        std::string w = fmt::format(
            "the agent ignored {}: no request reached {} in the {} it was set in", var, host,
            cells_with == 1 ? std::string("cell") : fmt::format("{} cells", cells_with));
        if (std::find(a->warnings.begin(), a->warnings.end(), w) == a->warnings.end())
          a->warnings.push_back(w);
      }
    }
  }
}

void Inventory(const Context& ctx, Analysis* a) {
  InventoryState st;
  for (size_t c = 0; c < ctx.cells; ++c) {
    for (size_t r = 0; r < ctx.runs[c].size(); ++r) InventoryRun(ctx, c, r, &st, a);
  }
  for (auto& [name, h] : st.hosts) a->hosts.push_back(std::move(h));
  std::stable_sort(a->hosts.begin(), a->hosts.end(),
                   [](const HostEntry& x, const HostEntry& y) { return x.requests > y.requests; });
  for (auto& [name, d] : st.dns) {
    if (!st.used_names.count(name)) a->unused_lookups.push_back(name);
    a->dns.push_back(std::move(d));
  }
  for (auto& [loc, idf] : st.identity) a->identifying.push_back(std::move(idf));
  for (auto& [key, conn] : st.unserved) a->unserved.push_back(std::move(conn));
  WarnIgnoredBaseUrls(ctx, a);
  if (!st.unrecognised.empty()) {
    std::string list;
    for (const auto& k : st.unrecognised) list += (list.empty() ? "" : ", ") + k;
    a->notes.push_back(fmt::format(
        "the fake provider did not recognise (answered 404 in the provider's error shape): {}",
        list));
  }
  if (st.silent_runs == st.total_runs && st.total_runs > 0) {
    a->notes.push_back(
        "the agent sent no request in any run: check that it ran (see the exit status and stderr)");
  }
  if (ctx.single_run) {
    a->notes.push_back(
        "one run per cell: random ids and timestamps cannot be told from dependence, so nothing is "
        "labelled "
        "localisation or clock; use --runs 2 or more");
  }
  if (st.timeouts > 0)
    a->notes.push_back(fmt::format("{} of {} runs timed out", st.timeouts, st.total_runs));
}

}  // namespace

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kCovertMarker:
      return "covert-marker";
    case Verdict::kEnvironmentDependent:
      return "environment-dependent";
    case Verdict::kInconclusive:
      return "inconclusive";
    case Verdict::kNoEnvironmentDependence:
      return "no-environment-dependence";
  }
  return "inconclusive";
}

Verdict DecideVerdict(const Analysis& analysis) {
  bool covert = false, dependent = false;
  for (const auto& d : analysis.differences) {
    covert = covert || d.cls == DiffClass::kCovertMarker;
    dependent = dependent || d.cls == DiffClass::kOtherDependence;
  }
  if (covert) return Verdict::kCovertMarker;
  if (dependent) return Verdict::kEnvironmentDependent;
  if (!analysis.inconclusive_reasons.empty()) return Verdict::kInconclusive;
  return Verdict::kNoEnvironmentDependence;
}

Analysis Analyze(const Matrix& matrix, const std::vector<std::vector<RunCapture>>& runs,
                 const HostFacts& facts) {
  Analysis analysis;
  Context ctx{matrix, runs, facts};
  ctx.cells = std::min(matrix.cells.size(), runs.size());
  if (ctx.cells == 0) return analysis;
  JudgeRuns(ctx, &analysis);
  const std::vector<AlignedField> aligned = AlignRuns(matrix, runs);
  ChooseReferences(ctx, aligned);
  FieldComparer comparer(ctx, &analysis, UnstableArrays(ctx, aligned));
  for (const auto& field : aligned) comparer.Compare(field);
  GroupDifferences(&analysis);
  Inventory(ctx, &analysis);
  // With one run per cell a difference that no setting explains cannot be
  // told from noise: the probe cannot say there is no dependence.
  if (analysis.single_run) {
    size_t unexplained = 0;
    for (const auto& d : analysis.differences) unexplained += d.cls == DiffClass::kUnexplained;
    if (unexplained > 0) {
      analysis.inconclusive_reasons.push_back(
          fmt::format("{} difference{} between cells that no one or two settings explain, and with "
                      "one run per cell they "
                      "cannot be told from noise (run with --runs 2 or more)",
                      unexplained, unexplained == 1 ? "" : "s"));
    }
  }
  // A sandbox limit reached: the captures may be incomplete, so no clean verdict.
  if (!analysis.limits_reached.empty()) {
    analysis.inconclusive_reasons.push_back(fmt::format(
        "the agent reached a limit of the sandbox ({}{}), so the captures may be incomplete",
        analysis.limits_reached.front(),
        analysis.limits_reached.size() > 1
            ? fmt::format("; {} limits in all", analysis.limits_reached.size())
            : ""));
  }
  analysis.verdict = DecideVerdict(analysis);
  analysis.environment_dependent = analysis.verdict == Verdict::kCovertMarker ||
                                   analysis.verdict == Verdict::kEnvironmentDependent;
  return analysis;
}

}  // namespace glassbox::probe
