#include "probe/classify.h"

#include <fmt/format.h>
#include <unicode/timezone.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "core/unicode.h"
#include "core/utf.h"

namespace glassbox::probe {
namespace {

bool IsLocaleVariable(std::string_view v) { return v == "LANG" || v == "LANGUAGE" || v.starts_with("LC_"); }
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
    CharClass cls = cp <= 0x10FFFF ? data.Classify(cp) : CharClass::kOrdinary;
    switch (cls) {
      case CharClass::kTag:
      case CharClass::kVariationSelector:
      case CharClass::kInvisible:
      case CharClass::kSoftHyphen:
      case CharClass::kByteOrderMark:
      case CharClass::kHangulFiller:
      case CharClass::kBidiControl:
      case CharClass::kBidiMark:
        continue;
      case CharClass::kUnusualSpace:
        cp = ' ';
        break;
      case CharClass::kLookalikePunct:
      case CharClass::kTypographicPunct:
      case CharClass::kLookalikeLetter:
        if (char ascii = data.LookalikeAscii(cp)) cp = static_cast<unsigned char>(ascii);
        break;
      default:
        break;
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
  static const char* const kNames[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", "jan", "feb", "mar",
                                       "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", "am",
                                       "pm", "t", "z"};
  size_t i = 0;
  while (i < span.size()) {
    char32_t cp = span[i];
    if (cp < 0x80 && (std::isdigit(static_cast<int>(cp)) || std::isspace(static_cast<int>(cp)) ||
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
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
      bool named = false;
      for (const char* n : kNames) {
        std::string_view name(n);
        if (lower == name || (name.size() == 3 && lower.size() >= 3 && lower.starts_with(name))) named = true;
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

struct CellVerdict {
  DiffClass cls;
  std::string reason;
  std::vector<ChangedSpan> spans;  // in (baseline, cell') coordinates
  std::u32string a, b;             // baseline and the cell's value after echo substitution
};

CellVerdict ClassifyCell(const std::optional<std::string>& base_value, const std::optional<std::string>& cell_value,
                         const Cell& base, const Cell& cell, bool is_presence, const std::string& request_key,
                         const HostFacts& facts) {
  CellVerdict v;
  bool locale_only = !cell.varied.empty();
  bool clock_only = !cell.varied.empty();
  for (const auto& [var, value] : cell.varied) {
    locale_only = locale_only && IsLocaleVariable(var);
    clock_only = clock_only && IsClockVariable(var);
  }
  // Echo substitution: the cell's varied values become the baseline's.
  std::string substituted = cell_value.value_or("");
  std::string key_substituted = request_key;
  bool echoed = false;
  for (const auto& [var, value] : cell.varied) {
    auto cell_forms = ValueForms(value);
    auto base_forms = ValueForms(base.Get(var));
    for (size_t i = 0; i < cell_forms.size(); ++i) {
      std::string to = i < base_forms.size() ? base_forms[i] : std::string();
      if (substituted.find(cell_forms[i]) != std::string::npos) echoed = true;
      ReplaceAll(substituted, cell_forms[i], to);
      ReplaceAll(key_substituted, cell_forms[i], to);
    }
  }
  if (!base_value || !cell_value) {
    bool present_somewhere = base_value.has_value() || cell_value.has_value();
    (void)present_somewhere;
    if (is_presence && key_substituted != request_key) {
      v.cls = DiffClass::kEcho;
      v.reason = "the request's path holds the varied value";
    } else if (locale_only) {
      v.cls = DiffClass::kLocalisation;
      v.reason = "present under some locales only";
    } else if (cell_value && echoed && substituted.empty()) {
      v.cls = DiffClass::kEcho;
      v.reason = "holds only the varied value";
    } else {
      v.cls = DiffClass::kOtherDependence;
      v.reason = is_presence ? "the request is sent in some cells only" : "the field is present in some cells only";
    }
    return v;
  }
  v.a = DecodeForDiff(*base_value);
  v.b = DecodeForDiff(substituted);
  if (v.a == v.b) {
    v.cls = DiffClass::kEcho;
    v.reason = "the difference is the varied value itself";
    return v;
  }
  v.spans = DiffCodePoints(v.a, v.b);
  if (Skeleton(v.a) == Skeleton(v.b)) {
    v.cls = DiffClass::kCovertMarker;
    v.reason = "same text to a reader: only look-alike, invisible or white-space code points change";
    return v;
  }
  bool punct_only = true;
  for (const auto& s : v.spans) {
    if (HasWordChar(std::u32string_view(v.a).substr(s.a_begin, s.a_end - s.a_begin)) ||
        HasWordChar(std::u32string_view(v.b).substr(s.b_begin, s.b_end - s.b_begin))) {
      punct_only = false;
    }
  }
  if (punct_only) {
    if (locale_only) {
      v.cls = DiffClass::kLocalisation;
      v.reason = "separators or punctuation follow the locale";
    } else {
      v.cls = DiffClass::kCovertMarker;
      v.reason = "only separators, punctuation or white space change";
    }
    return v;
  }
  if (clock_only) {
    auto base_offset = ZoneOffsetMinutes(EffectiveZone(base), facts.now_ms);
    auto cell_offset = ZoneOffsetMinutes(EffectiveZone(cell), facts.now_ms);
    bool time_like = true;
    for (const auto& s : WidenToWords(v.a, v.b, v.spans)) {
      time_like = time_like && IsTimeLike(std::u32string_view(v.a).substr(s.a_begin, s.a_end - s.a_begin)) &&
                  IsTimeLike(std::u32string_view(v.b).substr(s.b_begin, s.b_end - s.b_begin));
    }
    if (time_like && base_offset && cell_offset && *base_offset != *cell_offset) {
      v.cls = DiffClass::kClock;
      v.reason = fmt::format("date/time text; the zones' UTC offsets differ ({:+} vs {:+} minutes)", *base_offset,
                             *cell_offset);
      return v;
    }
    if (time_like && base_offset && cell_offset) {
      v.cls = DiffClass::kOtherDependence;
      v.reason = "date/time text differs between zones with the same UTC offset: it follows the zone's name";
      return v;
    }
  }
  if (locale_only) {
    v.cls = DiffClass::kLocalisation;
    v.reason = "visible text follows the locale";
    return v;
  }
  v.cls = DiffClass::kOtherDependence;
  v.reason = "the text changes with the environment";
  return v;
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
  return std::all_of(host.begin(), host.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; });
}

// "body .events[12].env.kernel" -> "body .events[*].env.kernel": one
// identity entry per field, however many elements carry it.
std::string CollapseIndices(std::string_view path) {
  std::string out;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '[' && i + 1 < path.size() && std::isdigit(static_cast<unsigned char>(path[i + 1]))) {
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
  if (facts.kernel_release.size() >= 5 && value.find(facts.kernel_release) != std::string::npos) add("kernel");
  if (facts.machine_id.size() >= 8 && value.find(facts.machine_id) != std::string::npos) add("machine-id");
  for (const char* var : {"HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY"}) {
    for (const auto& form : ValueForms(cell.Get(var))) {
      if (form.size() >= 4 && value.find(form) != std::string::npos) add("proxy");
    }
  }
  for (const auto& prompt : facts.prompt_texts) {
    if (prompt.size() >= 8 && value.find(prompt) != std::string::npos) add("prompt");
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
  std::unique_ptr<icu::TimeZone> tz(icu::TimeZone::createTimeZone(icu::UnicodeString::fromUTF8(zone)));
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

Analysis Analyze(const Matrix& matrix, const std::vector<std::vector<RunCapture>>& runs, const HostFacts& facts) {
  Analysis analysis;
  const size_t cells = std::min(matrix.cells.size(), runs.size());
  if (cells == 0) return analysis;
  const Cell& base = matrix.cells[0];

  std::vector<AlignedField> aligned = AlignRuns(matrix, runs);
  // Arrays whose length changes between runs of one cell (telemetry batches
  // filled by timers): their elements do not align, so every field under
  // them is noise. Keyed by request key; the value is "body .events".
  std::map<std::string, std::set<std::string>> unstable_arrays;
  for (const auto& field : aligned) {
    size_t bracket = field.field.find('[');
    if (bracket == std::string::npos || bracket + 1 >= field.field.size() ||
        !std::isdigit(static_cast<unsigned char>(field.field[bracket + 1]))) {
      continue;
    }
    for (size_t c = 0; c < cells; ++c) {
      bool present = false, absent = false;
      for (size_t r = 0; r < field.values[c].size(); ++r) {
        if (!field.request_present[c][r]) continue;
        (field.values[c][r] ? present : absent) = true;
      }
      if (present && absent) {
        unstable_arrays[field.key].insert(field.field.substr(0, bracket));
        break;
      }
    }
  }
  auto under_unstable_array = [&unstable_arrays](const AlignedField& field) -> const std::string* {
    auto it = unstable_arrays.find(field.key);
    if (it == unstable_arrays.end()) return nullptr;
    for (const auto& prefix : it->second) {
      if (field.field.size() > prefix.size() && field.field.compare(0, prefix.size(), prefix) == 0 &&
          field.field[prefix.size()] == '[') {
        return &prefix;
      }
    }
    return nullptr;
  };
  std::set<std::string> reported_arrays;

  for (auto& field : aligned) {
    const bool is_presence = field.field == "request";
    if (const std::string* prefix = under_unstable_array(field)) {
      std::string location = fmt::format("{} {}[*]", field.location, *prefix);
      if (reported_arrays.insert(location).second) {
        NoiseField noise;
        noise.location = location;
        noise.examples.push_back("the array's length changes between runs: its elements are not compared");
        for (size_t c = 0; c < cells; ++c) noise.cells.push_back(matrix.cells[c].label);
        analysis.noise.push_back(std::move(noise));
      }
      continue;
    }
    // Values per cell and run, with absent requests skipped for fields.
    auto run_values = [&](size_t c, bool masked) {
      std::vector<std::optional<std::string>> vals;
      for (size_t r = 0; r < field.values[c].size(); ++r) {
        if (!is_presence && !field.request_present[c][r]) continue;
        auto v = field.values[c][r];
        if (masked && v) v = MaskGenerated(*v);
        vals.push_back(std::move(v));
      }
      return vals;
    };
    auto varies = [](const std::vector<std::optional<std::string>>& vals) {
      return std::any_of(vals.begin(), vals.end(), [&](const auto& v) { return v != vals.front(); });
    };
    NoiseField noise;
    noise.location = FieldLocation(field);
    for (size_t c = 0; c < cells; ++c) {
      auto vals = run_values(c, false);
      if (!vals.empty() && varies(vals)) {
        noise.cells.push_back(matrix.cells[c].label);
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
    }
    bool masked = false;
    if (!noise.cells.empty()) {
      bool still = is_presence;
      for (size_t c = 0; c < cells && !still; ++c) {
        auto vals = run_values(c, true);
        still = !vals.empty() && varies(vals);
      }
      noise.masked = !still;
      analysis.noise.push_back(noise);
      if (still) continue;
      masked = true;
    }

    // Representative value per cell: the first run that has the request.
    std::vector<std::optional<std::string>> rep(cells);
    std::vector<bool> has_request(cells, false);
    for (size_t c = 0; c < cells; ++c) {
      for (size_t r = 0; r < field.values[c].size(); ++r) {
        if (is_presence || field.request_present[c][r]) {
          rep[c] = field.values[c][r];
          if (masked && rep[c]) rep[c] = MaskGenerated(*rep[c]);
          has_request[c] = field.request_present[c][r];
          break;
        }
      }
      if (is_presence) {
        has_request[c] = true;
      }
    }
    if (!is_presence && !has_request[0]) continue;  // covered by the request's presence

    Difference diff;
    diff.location = FieldLocation(field);
    diff.request_key = field.key;
    diff.field = field.field;
    diff.noise_masked = masked;
    diff.cls = DiffClass::kEcho;
    std::set<std::string> variables;
    std::set<char32_t> codepoints;
    bool worst_set = false;
    for (size_t c = 1; c < cells; ++c) {
      if (!has_request[c] || rep[c] == rep[0]) continue;
      const Cell& cell = matrix.cells[c];
      CellVerdict verdict = ClassifyCell(rep[0], rep[c], base, cell, is_presence, field.key, facts);
      diff.differing_cells.push_back(c);
      for (const auto& [var, value] : cell.varied) variables.insert(var);
      if (!worst_set || verdict.cls < diff.cls) {
        diff.cls = verdict.cls;
        diff.reason = verdict.reason;
        worst_set = true;
      }
      if (verdict.cls == DiffClass::kEcho) continue;
      // Code-point spans explain a covert marker; visible rewording reads
      // better as one span of whole words.
      std::vector<ChangedSpan> spans = verdict.spans;
      if (verdict.cls != DiffClass::kCovertMarker && !spans.empty()) {
        spans = WidenToWords(verdict.a, verdict.b, spans);
        ChangedSpan merged{spans.front().a_begin, spans.back().a_end, spans.front().b_begin, spans.back().b_end};
        spans = {merged};
      }
      int shown = 0;
      for (const auto& s : spans) {
        std::u32string_view a_span = std::u32string_view(verdict.a).substr(s.a_begin, s.a_end - s.a_begin);
        std::u32string_view b_span = std::u32string_view(verdict.b).substr(s.b_begin, s.b_end - s.b_begin);
        for (char32_t cp : a_span) codepoints.insert(cp);
        for (char32_t cp : b_span) codepoints.insert(cp);
        if (shown++ < 4) {
          CodepointChange change{cell.label, EncodeFromDiff(a_span), EncodeFromDiff(b_span), s.b_begin};
          auto context = [](const std::u32string& text, size_t begin, size_t end, std::string* before,
                            std::string* after) {
            size_t from = begin > 40 ? begin - 40 : 0;
            *before = EncodeFromDiff(std::u32string_view(text).substr(from, begin - from));
            *after = EncodeFromDiff(std::u32string_view(text).substr(end, 40));
          };
          context(verdict.a, s.a_begin, s.a_end, &change.baseline_before, &change.baseline_after);
          context(verdict.b, s.b_begin, s.b_end, &change.cell_before, &change.cell_after);
          diff.changes.push_back(std::move(change));
        }
      }
    }
    if (diff.differing_cells.empty()) continue;
    diff.variables.assign(variables.begin(), variables.end());
    for (char32_t cp : codepoints) {
      if (diff.codepoints.size() >= 64) break;
      diff.codepoints.push_back(cp);
    }
    diff.by_cell = rep;
    analysis.differences.push_back(std::move(diff));
  }
  std::stable_sort(analysis.differences.begin(), analysis.differences.end(),
                   [](const Difference& x, const Difference& y) { return x.cls < y.cls; });
  for (const auto& d : analysis.differences) {
    if (d.cls == DiffClass::kCovertMarker || d.cls == DiffClass::kOtherDependence) analysis.environment_dependent = true;
  }

  // Hosts, DNS, TLS failures and identity, over every run.
  std::map<std::string, HostEntry> hosts;
  std::map<std::string, DnsEntry> dns;
  std::map<std::string, IdentityField> identity;
  std::map<std::string, UnservedConnection> unserved;
  std::set<std::tuple<std::string, std::string, std::string, std::string>> tls_seen;
  size_t silent_runs = 0, timeouts = 0, total_runs = 0;
  for (size_t c = 0; c < cells; ++c) {
    const Cell& cell = matrix.cells[c];
    for (size_t r = 0; r < runs[c].size(); ++r) {
      const RunCapture& run = runs[c][r];
      ++total_runs;
      if (run.requests.empty()) ++silent_runs;
      if (run.timed_out) ++timeouts;
      std::set<std::string> looked_up;
      for (const auto& q : run.dns) {
        looked_up.insert(q.name);
        auto& entry = dns[q.name];
        entry.name = q.name;
        ++entry.by_cell[cell.label];
      }
      for (const auto& q : run.dns) {
        if (!q.server.empty() && q.server != "127.0.0.1" && q.server != "::1" &&
            std::find(analysis.foreign_resolvers.begin(), analysis.foreign_resolvers.end(), q.server) ==
                analysis.foreign_resolvers.end()) {
          analysis.foreign_resolvers.push_back(q.server);
        }
      }
      for (const auto& conn : run.connections) {
        if (conn.served) continue;
        std::string dest = conn.dest_ip.find(':') != std::string::npos
                               ? fmt::format("[{}]:{}", conn.dest_ip, conn.dest_port)
                               : fmt::format("{}:{}", conn.dest_ip, conn.dest_port);
        auto& entry = unserved[conn.protocol + " " + dest];
        entry.protocol = conn.protocol;
        entry.dest = dest;
        ++entry.by_cell[cell.label];
      }
      for (const auto& f : run.tls_failures) {
        auto key = std::make_tuple(cell.label, f.sni, fmt::format("{}:{}", f.dest_ip, f.dest_port), f.reason);
        if (tls_seen.insert(key).second) {
          analysis.tls_failures.push_back({cell.label, f.sni, std::get<2>(key), f.reason});
        }
      }
      for (const auto& note : run.notes) {
        if (std::find(analysis.notes.begin(), analysis.notes.end(), note) == analysis.notes.end()) {
          analysis.notes.push_back(note);
        }
      }
      for (const auto& limit : run.limits_reached) {
        analysis.limits_reached.push_back(fmt::format("{} (cell {}, run {})", limit, cell.label, r + 1));
      }
      auto flat = FlattenRun(run, cell);
      for (size_t i = 0; i < run.requests.size() && i < flat.size(); ++i) {
        const auto& req = run.requests[i];
        const auto& rf = flat[i];
        auto& h = hosts[rf.host];
        h.host = rf.host;
        h.ip_literal = IsIpLiteral(rf.host);
        if (rf.is_tunnel) {  // the tunnel's requests are counted themselves
          h.via_proxy = true;
          continue;
        }
        ++h.requests;
        ++h.by_cell[cell.label];
        if (!req.dest_ip.empty()) h.dest_ips.insert(req.dest_ip);
        if (req.dest_port) h.ports.insert(req.dest_port);
        h.via_proxy = h.via_proxy || req.via_proxy;
        h.looked_up = h.looked_up || looked_up.count(rf.host) > 0;
        if (r != 0) continue;  // identity: first run of each cell is enough
        bool provider = rf.to_base_url;
        for (const auto& [name, value] : rf.fields) {
          if (name == "request" || name == "header host") continue;
          auto carries = Carriers(value, base, cell, facts, provider);
          if (carries.empty()) continue;
          std::string location = rf.location + " " + CollapseIndices(name);
          auto& idf = identity[location];
          if (idf.location.empty()) {
            idf.location = location;
            idf.host = rf.host;
            idf.example = Truncate(value, 160);
          }
          for (const auto& what : carries) {
            if (std::find(idf.carries.begin(), idf.carries.end(), what) == idf.carries.end()) idf.carries.push_back(what);
          }
          if (std::find(idf.cells.begin(), idf.cells.end(), cell.label) == idf.cells.end()) idf.cells.push_back(cell.label);
        }
      }
    }
  }
  for (auto& [name, h] : hosts) analysis.hosts.push_back(std::move(h));
  std::stable_sort(analysis.hosts.begin(), analysis.hosts.end(),
                   [](const HostEntry& x, const HostEntry& y) { return x.requests > y.requests; });
  for (auto& [name, d] : dns) analysis.dns.push_back(std::move(d));
  for (auto& [loc, idf] : identity) analysis.identifying.push_back(std::move(idf));
  for (auto& [key, conn] : unserved) analysis.unserved.push_back(std::move(conn));
  if (silent_runs == total_runs && total_runs > 0) {
    analysis.notes.push_back("the agent sent no request in any run: check that it ran (see the exit status and stderr)");
  }
  bool single_run = true;
  for (size_t c = 0; c < cells; ++c) single_run = single_run && runs[c].size() < 2;
  if (single_run) {
    analysis.notes.push_back("one run per cell: random ids and timestamps cannot be told from dependence; use --runs 2 or more");
  }
  if (timeouts > 0) analysis.notes.push_back(fmt::format("{} of {} runs timed out", timeouts, total_runs));
  return analysis;
}

std::string VerdictName(const Analysis& analysis) {
  if (analysis.environment_dependent) return "environment-dependent";
  if (!analysis.limits_reached.empty()) return "inconclusive";
  return "no-environment-dependence";
}

}  // namespace glassbox::probe
