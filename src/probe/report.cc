#include "probe/report.h"

#include <fmt/format.h>

#include <cmath>
#include <map>

#include "core/json_writer.h"
#include "core/unicode.h"
#include "probe/diff.h"

namespace glassbox::probe {
namespace {

constexpr size_t kShownCells = 3;
constexpr size_t kShownPerClass = 25;

std::string CutVisible(std::string_view text, size_t max_cp, bool from_end) {
  std::u32string cps = DecodeForDiff(text);
  if (cps.size() <= max_cp) return std::string(text);
  if (from_end) return "..." + EncodeFromDiff(std::u32string_view(cps).substr(cps.size() - max_cp));
  return EncodeFromDiff(std::u32string_view(cps).substr(0, max_cp)) + "...";
}

std::string ValueOrAbsent(const std::optional<std::string>& v) {
  return v ? *v : std::string("(absent)");
}

// A value as shown in by_cell: whole when short, else the part around the
// first change.
std::string CellExcerpt(const std::optional<std::string>& value, const Difference& d,
                        size_t cell_index, const std::string& label) {
  if (!value) return "(absent)";
  if (value->size() <= 300) return *value;
  for (const auto& c : d.changes) {
    if (c.cell == label) return "..." + c.cell_before + c.cell_text + c.cell_after + "...";
  }
  if (!d.changes.empty() && cell_index == 0) {
    const auto& c = d.changes.front();
    return "..." + c.baseline_before + c.baseline_text + c.baseline_after + "...";
  }
  return CutVisible(*value, 200, false);
}

size_t CountClass(const Analysis& a, DiffClass c) {
  size_t n = 0;
  for (const auto& d : a.differences) n += d.cls == c;
  return n;
}

std::string Plural(size_t n, const char* one, const char* many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string s;
  for (const auto& i : items) s += (s.empty() ? "" : std::string(sep)) + i;
  return s;
}

std::string ClassSummary(const Analysis& a) {
  struct Names {
    DiffClass cls;
    const char* one;
    const char* many;
  };
  static const Names kNames[] = {
      {DiffClass::kCovertMarker, "covert marker", "covert markers"},
      {DiffClass::kOtherDependence, "other dependence", "other dependences"},
      {DiffClass::kUnexplained, "unexplained difference", "unexplained differences"},
      {DiffClass::kLocalisation, "localisation", "localisations"},
      {DiffClass::kClock, "clock difference", "clock differences"},
      {DiffClass::kEcho, "echo", "echoes"}};
  std::vector<std::string> parts;
  for (const auto& n : kNames) {
    size_t fields = CountClass(a, n.cls);
    if (fields == 0) continue;
    size_t groups = 0;
    for (const auto& g : a.groups) groups += g.cls == n.cls;
    std::string part = Plural(fields, n.one, n.many);
    if (groups > 1 && groups < fields) part += fmt::format(" in {} groups", groups);
    parts.push_back(part);
  }
  if (!a.failures.empty()) {
    size_t whole = 0;
    for (const auto& f : a.failures) whole += f.whole_cell;
    if (whole > 0)
      parts.push_back(fmt::format("the agent failed in {}", Plural(whole, "cell", "cells")));
  }
  std::string s;
  for (const auto& p : parts) s += (s.empty() ? "" : ", ") + p;
  return s.empty() ? "no difference between cells" : s;
}

const char* VerdictLine(Verdict v) {
  switch (v) {
    case Verdict::kCovertMarker:
      return "COVERT MARKER: what the agent sends carries hidden marks that follow the environment";
    case Verdict::kEnvironmentDependent:
      return "ENVIRONMENT-DEPENDENT: what the agent sends changes with the environment";
    case Verdict::kInconclusive:
      return "INCONCLUSIVE: some cells say nothing (the agent failed, never reached a provider, or "
             "reached a limit of the sandbox)";
    case Verdict::kNoEnvironmentDependence:
      return "no environment dependence found";
  }
  return "";
}

std::string GroupTitle(const DifferenceGroup& g, const std::vector<Cell>& cells) {
  const bool one = g.members.size() == 1;
  std::string what = one ? "1 field" : fmt::format("{} fields", g.members.size());
  std::string follows;
  if (g.cls == DiffClass::kEcho) {
    follows = fmt::format(
        "{} {}", one ? "echoes" : "echo",
        g.variables.empty() ? std::string("the varied values") : Join(g.variables, ", "));
  } else if (!g.explanation.empty()) {
    follows = fmt::format("{} {}", one ? "follows" : "follow", g.explanation);
  } else {
    follows = fmt::format("{} in some cells, and no one or two settings explain which",
                          one ? "differs" : "differ");
  }
  std::string where = g.cells.size() == 1
                          ? fmt::format("in cell '{}'", cells[g.cells[0]].label)
                          : fmt::format("in {} of {} cells", g.cells.size(), cells.size());
  return fmt::format("{} {} ({})", what, follows, where);
}

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// Escaped HTML of `text` where every code point that is not printable ASCII
// is shown as a highlighted code point badge.
std::string HtmlVisible(std::string_view text, bool highlight_all) {
  std::string out;
  for (char32_t cp : DecodeForDiff(text)) {
    bool plain = cp >= 0x20 && cp < 0x7F;
    if (plain && !highlight_all) {
      out += HtmlEscape(std::string(1, static_cast<char>(cp)));
    } else if (plain) {
      out += "<span class=ch>" + HtmlEscape(std::string(1, static_cast<char>(cp))) + "</span>";
    } else {
      std::string name = cp >= 0xDC80 && cp <= 0xDCFF
                             ? fmt::format("invalid byte 0x{:02X}", cp - 0xDC00)
                             : UnicodeData::Name(cp);
      out += fmt::format("<span class=cp title=\"{}\">{}</span>", HtmlEscape(name),
                         HtmlEscape(CodepointId(cp)));
    }
  }
  return out;
}

}  // namespace

std::string CodepointId(char32_t cp) { return fmt::format("U+{:04X}", static_cast<uint32_t>(cp)); }

std::string VisibleText(std::string_view text) {
  std::string out;
  for (char32_t cp : DecodeForDiff(text)) {
    if (cp == '\\') {
      out += "\\\\";
    } else if (cp >= 0x20 && cp < 0x7F) {
      out.push_back(static_cast<char>(cp));
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp >= 0xDC80 && cp <= 0xDCFF) {
      out += fmt::format("\\x{:02X}", cp - 0xDC00);
    } else if (cp > 0xFFFF) {
      out += fmt::format("\\U{:08X}", static_cast<uint32_t>(cp));
    } else {
      out += fmt::format("\\u{:04X}", static_cast<uint32_t>(cp));
    }
  }
  return out;
}

std::string NamedCodepoints(std::string_view text) {
  if (text.empty()) return "(nothing)";
  std::string out;
  for (char32_t cp : DecodeForDiff(text)) {
    if (cp < 0x80 && std::isalnum(static_cast<int>(cp))) {
      out.push_back(static_cast<char>(cp));
    } else if (cp >= 0xDC80 && cp <= 0xDCFF) {
      out += fmt::format("\u27E6byte 0x{:02X}\u27E7", cp - 0xDC00);
    } else {
      out += fmt::format("\u27E6{} {}\u27E7", CodepointId(cp), UnicodeData::Name(cp));
    }
  }
  return out;
}

namespace {

// The sections of the JSON report, in the order they are written.

template <typename Strings>
void WriteStrings(JsonWriter& w, std::string_view key, const Strings& items) {
  w.Key(key).BeginArray();
  for (const auto& item : items) w.String(item);
  w.EndArray();
}

template <typename Counts>
void WriteCountsByCell(JsonWriter& w, const Counts& by_cell) {
  w.Key("by_cell").BeginObject();
  for (const auto& [label, n] : by_cell) w.Key(label).Int(n);
  w.EndObject();
}

void WriteJsonFailures(JsonWriter& w, const Analysis& a) {
  w.Key("failures").BeginArray();
  for (const auto& f : a.failures) {
    w.BeginObject();
    w.Field("cell", f.label);
    w.Field("status", f.status);
    w.Key("failed_runs").Int(f.failed_runs);
    w.Key("runs").Int(f.runs);
    w.Key("whole_cell").Bool(f.whole_cell);
    w.Field("output", f.output);
    w.EndObject();
  }
  w.EndArray();
}

void WriteJsonGroups(JsonWriter& w, const Analysis& a, const std::vector<Cell>& cells) {
  w.Key("groups").BeginArray();
  for (const auto& g : a.groups) {
    w.BeginObject();
    w.Field("class", DiffClassName(g.cls));
    WriteStrings(w, "variables", g.variables);
    w.Field("explanation", g.explanation);
    w.Key("count").Uint(g.members.size());
    w.Key("cells").BeginArray();
    for (size_t c : g.cells) w.String(cells[c].label);
    w.EndArray();
    w.Key("locations").BeginArray();
    for (size_t i = 0; i < g.members.size() && i < 20; ++i)
      w.String(a.differences[g.members[i]].location);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
}

void WriteStringMap(JsonWriter& w, std::string_view key,
                    const std::map<std::string, std::string>& values) {
  w.Key(key).BeginObject();
  for (const auto& [k, v] : values) w.Field(k, v);
  w.EndObject();
}

void WriteJsonCells(JsonWriter& w, const ReportInput& in) {
  const auto& cells = in.matrix.cells;
  w.Key("cells").BeginArray();
  for (size_t c = 0; c < cells.size(); ++c) {
    const Cell& cell = cells[c];
    w.BeginObject();
    w.Field("label", cell.label);
    WriteStringMap(w, "env", cell.env);
    w.Field("localtime", cell.timezone);
    w.Field("hostname", cell.hostname);
    w.Field("user", cell.username);
    WriteStringMap(w, "varied", cell.varied);
    w.Key("runs").Int(c < in.runs_per_cell.size() ? in.runs_per_cell[c] : 0);
    w.Key("wall_ms").BeginArray();
    if (c < in.wall_ms.size()) {
      for (double ms : in.wall_ms[c]) w.Double(std::round(ms * 10) / 10);
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
}

void WriteJsonChanges(JsonWriter& w, const Difference& d) {
  w.Key("changes").BeginArray();
  for (const auto& ch : d.changes) {
    w.BeginObject();
    w.Field("cell", ch.cell);
    w.Field("reference", ch.reference);
    w.Field("baseline", ch.baseline_text);
    w.Field("value", ch.cell_text);
    w.Field("baseline_named", NamedCodepoints(ch.baseline_text));
    w.Field("value_named", NamedCodepoints(ch.cell_text));
    w.Key("offset").Uint(ch.offset);
    w.EndObject();
  }
  w.EndArray();
}

// The first change in context, else the first differing cell's value.
std::string DifferenceExcerpt(const Difference& d) {
  if (!d.changes.empty()) {
    const auto& ch = d.changes.front();
    return VisibleText(ch.cell_before + ch.cell_text + ch.cell_after);
  }
  if (!d.differing_cells.empty()) {
    return VisibleText(CutVisible(ValueOrAbsent(d.by_cell[d.differing_cells.front()]), 120, false));
  }
  return "";
}

void WriteJsonDifference(JsonWriter& w, const Difference& d, const std::vector<Cell>& cells) {
  w.BeginObject();
  w.Field("location", d.location);
  w.Field("class", DiffClassName(d.cls));
  w.Field("reason", d.reason);
  w.Field("explanation", d.explanation);
  w.Field("reference",
          d.reference_cell < cells.size() ? cells[d.reference_cell].label : std::string());
  WriteStrings(w, "variables", d.variables);
  w.Key("differing_cells").BeginArray();
  for (size_t c : d.differing_cells) w.String(cells[c].label);
  w.EndArray();
  w.Key("by_cell").BeginObject();
  for (size_t c = 0; c < d.by_cell.size() && c < cells.size(); ++c) {
    w.Key(cells[c].label);
    if (d.by_cell[c]) {
      w.String(CellExcerpt(d.by_cell[c], d, c, cells[c].label));
    } else {
      w.Null();
    }
  }
  w.EndObject();
  w.Key("codepoints").BeginArray();
  for (char32_t cp : d.codepoints) {
    if (cp >= 0x20 && cp < 0x7F && std::isalnum(static_cast<int>(cp))) continue;
    w.String(CodepointId(cp));
  }
  w.EndArray();
  WriteJsonChanges(w, d);
  w.Field("excerpt", DifferenceExcerpt(d));
  w.Key("noise_masked").Bool(d.noise_masked);
  w.EndObject();
}

void WriteJsonNoise(JsonWriter& w, const Analysis& a) {
  w.Key("noise").BeginArray();
  for (const auto& n : a.noise) {
    w.BeginObject();
    w.Field("location", n.location);
    WriteStrings(w, "cells", n.cells);
    WriteStrings(w, "examples", n.examples);
    w.Key("masked").Bool(n.masked);
    w.EndObject();
  }
  w.EndArray();
}

void WriteJsonHosts(JsonWriter& w, const Analysis& a) {
  w.Key("hosts").BeginArray();
  for (const auto& h : a.hosts) {
    w.BeginObject();
    w.Field("host", h.host);
    w.Key("requests").Int(h.requests);
    w.Key("ip_literal").Bool(h.ip_literal);
    w.Key("looked_up").Bool(h.looked_up);
    w.Key("via_proxy").Bool(h.via_proxy);
    WriteStrings(w, "dest_ips", h.dest_ips);
    w.Key("ports").BeginArray();
    for (int p : h.ports) w.Int(p);
    w.EndArray();
    WriteCountsByCell(w, h.by_cell);
    w.EndObject();
  }
  w.EndArray();
}

void WriteJsonNetwork(JsonWriter& w, const Analysis& a) {
  w.Key("dns").BeginArray();
  for (const auto& d : a.dns) {
    w.BeginObject();
    w.Field("name", d.name);
    WriteCountsByCell(w, d.by_cell);
    w.EndObject();
  }
  w.EndArray();
  w.Key("tls_failures").BeginArray();
  for (const auto& f : a.tls_failures) {
    w.BeginObject();
    w.Field("cell", f.cell);
    w.Field("sni", f.sni);
    w.Field("dest", f.dest);
    w.Field("reason", f.reason);
    w.EndObject();
  }
  w.EndArray();
  w.Key("unserved_connections").BeginArray();
  for (const auto& c : a.unserved) {
    w.BeginObject();
    w.Field("protocol", c.protocol);
    w.Field("dest", c.dest);
    WriteCountsByCell(w, c.by_cell);
    w.EndObject();
  }
  w.EndArray();
  WriteStrings(w, "foreign_resolvers", a.foreign_resolvers);
  WriteStrings(w, "unused_lookups", a.unused_lookups);
}

void WriteJsonIdentifying(JsonWriter& w, const Analysis& a) {
  w.Key("identifying_headers").BeginArray();
  for (const auto& idf : a.identifying) {
    w.BeginObject();
    w.Field("location", idf.location);
    w.Field("host", idf.host);
    WriteStrings(w, "carries", idf.carries);
    WriteStrings(w, "cells", idf.cells);
    w.Field("example", idf.example);
    w.EndObject();
  }
  w.EndArray();
}

void WriteJsonStats(JsonWriter& w, const ReportInput& in) {
  w.Key("stats").BeginObject();
  w.Key("cells").Uint(in.matrix.cells.size());
  int total_runs = 0;
  for (int r : in.runs_per_cell) total_runs += r;
  w.Key("runs").Int(total_runs);
  w.Key("seconds").Double(in.seconds);
  w.EndObject();
}

}  // namespace

void WriteJsonReport(const ReportInput& in, std::ostream& out) {
  const auto& a = in.analysis;
  JsonWriter w(out, true);
  w.BeginObject();
  w.Field("tool", "glassbox");
  w.Field("version", in.version);
  WriteStrings(w, "command", in.command);
  w.Field("verdict", VerdictName(a.verdict));
  w.Field("summary", ClassSummary(a));
  w.Field("design", DesignName(in.matrix.design));
  WriteStrings(w, "inconclusive_reasons", a.inconclusive_reasons);
  WriteJsonFailures(w, a);
  WriteStrings(w, "warnings", a.warnings);
  WriteJsonGroups(w, a, in.matrix.cells);
  WriteStringMap(w, "fixed", in.matrix.fixed);
  WriteJsonCells(w, in);
  w.Key("differences").BeginArray();
  for (const auto& d : a.differences) WriteJsonDifference(w, d, in.matrix.cells);
  w.EndArray();
  WriteJsonNoise(w, a);
  WriteJsonHosts(w, a);
  WriteJsonNetwork(w, a);
  WriteJsonIdentifying(w, a);
  WriteStrings(w, "notes", a.notes);
  WriteStrings(w, "limits_reached", a.limits_reached);
  WriteJsonStats(w, in);
  w.EndObject();
  out << "\n";
}

namespace {

void WriteTextDifference(const Difference& d, const std::vector<Cell>& cells, std::ostream& out) {
  out << fmt::format("  {}{}\n", VisibleText(d.location),
                     d.noise_masked ? " (generated ids and numbers masked)" : "");
  out << fmt::format("    {}\n", d.reason);
  if (!d.changes.empty()) {
    std::string last_cell;
    size_t shown_cells = 0;
    for (const auto& ch : d.changes) {
      if (ch.cell != last_cell) {
        if (++shown_cells > 2) break;
        out << fmt::format("    in {}:\n", ch.cell);
        if (!ch.reference.empty() && ch.reference != cells[0].label) {
          out << fmt::format("      compared with the nearest cell {}\n", ch.reference);
        }
        last_cell = ch.cell;
      }
      out << fmt::format("      {:<8}: {}\n",
                         cells[d.reference_cell].label == "baseline" ? "baseline" : "reference",
                         VisibleText(CutVisible(ch.baseline_before, 40, true) + ch.baseline_text +
                                     CutVisible(ch.baseline_after, 40, false)));
      out << fmt::format("      cell    : {}\n",
                         VisibleText(CutVisible(ch.cell_before, 40, true) + ch.cell_text +
                                     CutVisible(ch.cell_after, 40, false)));
      if (d.cls == DiffClass::kCovertMarker ||
          (ch.baseline_text.size() <= 8 && ch.cell_text.size() <= 8)) {
        out << fmt::format("      changed : {} -> {}\n", NamedCodepoints(ch.baseline_text),
                           NamedCodepoints(ch.cell_text));
      }
    }
  } else {
    out << fmt::format(
        "      {:<24} {}\n", cells[d.reference_cell].label,
        VisibleText(CutVisible(ValueOrAbsent(d.by_cell[d.reference_cell]), 100, false)));
    size_t shown = 0;
    for (size_t c : d.differing_cells) {
      if (++shown > 2) break;
      out << fmt::format("      {:<24} {}\n", CutVisible(cells[c].label, 24, false),
                         VisibleText(CutVisible(ValueOrAbsent(d.by_cell[c]), 100, false)));
    }
  }
}

}  // namespace

namespace {

// The sections of the text report, in the order they are written.

void WriteTextFailures(const Analysis& a, std::ostream& out) {
  if (!a.failures.empty()) {
    out << "\nWhere the agent failed (not compared; reported as failures, not dependences):\n";
    size_t shown = 0;
    for (const auto& f : a.failures) {
      if (++shown > 6) {
        out << fmt::format("  … {} more (see --format json)\n", a.failures.size() - 6);
        break;
      }
      out << fmt::format("  {}: {} ({} of {} runs)\n", f.label, f.status, f.failed_runs, f.runs);
      std::string_view rest = f.output;
      while (!rest.empty()) {
        size_t nl = rest.find('\n');
        out << fmt::format("    | {}\n", VisibleText(CutVisible(rest.substr(0, nl), 160, false)));
        if (nl == std::string_view::npos) break;
        rest.remove_prefix(nl + 1);
      }
    }
  }
}

void WriteTextGroup(const DifferenceGroup& g, const Analysis& a, const std::vector<Cell>& cells,
                    std::ostream& out) {
  out << fmt::format("\n[{}] {}\n", DiffClassName(g.cls), GroupTitle(g, cells));
  if (!g.variables.empty()) out << fmt::format("  variables: {}\n", Join(g.variables, ", "));
  size_t examples = g.cls == DiffClass::kCovertMarker ? 6 : g.cls == DiffClass::kEcho ? 1 : 2;
  for (size_t i = 0; i < g.members.size() && i < examples; ++i) {
    WriteTextDifference(a.differences[g.members[i]], cells, out);
  }
  if (g.members.size() > examples) {
    out << fmt::format("  … and {} more, e.g.", g.members.size() - examples);
    for (size_t i = examples; i < g.members.size() && i < examples + 3; ++i) {
      out << (i == examples ? " " : ", ") << VisibleText(a.differences[g.members[i]].location);
    }
    out << "\n";
  }
}

void WriteTextGroups(const Analysis& a, const std::vector<Cell>& cells, std::ostream& out) {
  if (!a.groups.empty())
    out << "\nDifferences, worst first (fields that follow the same settings in the same cells are "
           "one group):\n";
  std::map<DiffClass, size_t> shown_per_class;
  for (const auto& g : a.groups) {
    size_t n = ++shown_per_class[g.cls];
    if (n == kShownPerClass + 1) {
      size_t left = 0;
      for (const auto& other : a.groups) left += other.cls == g.cls;
      out << fmt::format("\n… {} more {} groups (see --format json)\n", left - kShownPerClass,
                         DiffClassName(g.cls));
    }
    if (n > kShownPerClass) continue;
    WriteTextGroup(g, a, cells, out);
  }
}

void WriteTextIdentity(const Analysis& a, std::ostream& out) {
  if (!a.identifying.empty()) {
    out << "\nIdentity the agent sent:\n";
    for (const auto& idf : a.identifying) {
      out << fmt::format("  {} carries {} (in {})\n    e.g. {}\n", VisibleText(idf.location),
                         Join(idf.carries, ", "), Plural(idf.cells.size(), "cell", "cells"),
                         VisibleText(CutVisible(idf.example, 100, false)));
    }
  }
}

void WriteTextHosts(const Analysis& a, std::ostream& out) {
  out << "\nHosts contacted:\n";
  if (a.hosts.empty()) out << "  (none)\n";
  for (const auto& h : a.hosts) {
    std::vector<std::string> ports;
    for (int p : h.ports) ports.push_back(std::to_string(p));
    out << fmt::format("  {:<36} {:>5} in {:<9} port {}{}{}\n", h.host,
                       Plural(h.requests, "request", "requests"),
                       Plural(h.by_cell.size(), "cell", "cells"), Join(ports, ","),
                       h.ip_literal ? "  HARD-CODED IP" : "", h.via_proxy ? "  via proxy" : "");
  }
}

// Names looked up but unused, connections not read, foreign resolvers, TLS not intercepted.
void WriteTextNetwork(const Analysis& a, std::ostream& out) {
  if (!a.unused_lookups.empty()) {
    out << fmt::format("\nNames looked up but never connected to by name: {}\n",
                       Join(a.unused_lookups, ", "));
  }
  if (!a.unserved.empty()) {
    out << "\nConnections the capture server could not read (UDP, QUIC, other ports):\n";
    for (const auto& c : a.unserved) {
      out << fmt::format("  {} {} in {}\n", c.protocol, c.dest,
                         Plural(c.by_cell.size(), "cell", "cells"));
    }
  }
  if (!a.foreign_resolvers.empty()) {
    out << fmt::format("\nForeign resolvers (DNS the agent did not ask the system for): {}\n",
                       Join(a.foreign_resolvers, ", "));
  }
  if (!a.tls_failures.empty()) {
    out << "\nTLS connections not intercepted (the agent refused the probe's certificate):\n";
    for (const auto& f : a.tls_failures) {
      out << fmt::format("  {} ({}) in {}: {}\n", f.sni.empty() ? "(no SNI)" : f.sni, f.dest,
                         f.cell, f.reason);
    }
  }
}

void WriteTextNoise(const Analysis& a, std::ostream& out) {
  if (!a.noise.empty()) {
    out << fmt::format("\nNoise (differs between runs of one cell): {}\n",
                       Plural(a.noise.size(), "field", "fields"));
    size_t shown = 0;
    for (const auto& n : a.noise) {
      if (++shown > 8) {
        out << fmt::format("  … {} more (see --format json)\n", a.noise.size() - 8);
        break;
      }
      out << fmt::format(
          "  {}{}\n", VisibleText(n.location),
          n.masked ? " (ids and numbers masked, the rest compared across cells)" : "");
    }
  }
}

}  // namespace

void WriteTextReport(const ReportInput& in, std::ostream& out) {
  const auto& cells = in.matrix.cells;
  const auto& a = in.analysis;
  int total_runs = 0;
  for (int r : in.runs_per_cell) total_runs += r;
  out << fmt::format("glassbox probe: {}\n  {} ({} cells, {} design, {} runs, {:.1f} s)\n",
                     VerdictLine(a.verdict), ClassSummary(a), cells.size(),
                     DesignName(in.matrix.design), total_runs, in.seconds);
  for (const auto& r : a.inconclusive_reasons) out << fmt::format("  inconclusive: {}\n", r);
  for (const auto& w : a.warnings) out << fmt::format("  warning: {}\n", w);
  WriteTextFailures(a, out);
  WriteTextGroups(a, cells, out);
  WriteTextIdentity(a, out);
  WriteTextHosts(a, out);
  WriteTextNetwork(a, out);
  WriteTextNoise(a, out);
  for (const auto& note : a.notes) out << fmt::format("\nnote: {}\n", note);
  for (const auto& limit : a.limits_reached) out << fmt::format("\nlimit reached: {}\n", limit);
}

namespace {

// The sections of the HTML page, in the order they are written.

void WriteHtmlHead(std::ostream& out) {
  out << "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
         "<meta name=viewport content=\"width=device-width\">"
         "<title>glassbox probe report</title><style>\n"
         "body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1a1a1a;max-width:1200px}"
         "h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ccc}"
         ".verdict{padding:10px 14px;border-radius:6px;font-weight:600}"
         ".bad{background:#fde2e1;border:1px solid #d33}.good{background:#e3f6e5;border:1px solid "
         "#2a2}"
         "table{border-collapse:collapse;width:100%;margin:6px 0}td,th{border:1px solid "
         "#ddd;padding:4px 6px;"
         "vertical-align:top;text-align:left}th{background:#f4f4f4}code,.v{font-family:ui-"
         "monospace,monospace;"
         "white-space:pre-wrap;word-break:break-all}"
         ".diff{border:1px solid #ccc;border-radius:6px;padding:8px 12px;margin:12px 0}"
         ".cls{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;color:#fff}"
         ".covert-marker{background:#b00020}.other-dependence{background:#d2691e}.localisation{"
         "background:#3a6ea5}"
         ".clock{background:#6b7b8c}.echo{background:#8a8a8a}.unexplained{background:#9a7b4f}"
         "mark{background:#ffe066}.cp{background:#b00020;color:#fff;border-radius:3px;padding:0 "
         "3px;margin:0 1px;"
         "font-size:12px}.ch{outline:1px solid #b00020}"
         "</style></head><body>\n";
}

// Command, verdict, reasons, failures, groups and the run's size.
void WriteHtmlSummary(const ReportInput& in, std::ostream& out) {
  const auto& cells = in.matrix.cells;
  const auto& a = in.analysis;
  out << "<h1>glassbox probe report</h1>\n";
  out << fmt::format("<p>Command: <code>{}</code></p>\n", HtmlEscape(Join(in.command, " ")));
  out << fmt::format("<p class=\"verdict {}\">{}: {}</p>\n",
                     a.verdict == Verdict::kNoEnvironmentDependence ? "good" : "bad",
                     HtmlEscape(VerdictLine(a.verdict)), HtmlEscape(ClassSummary(a)));
  for (const auto& r : a.inconclusive_reasons)
    out << fmt::format("<p>Inconclusive: {}</p>\n", HtmlEscape(r));
  for (const auto& w : a.warnings) out << fmt::format("<p>Warning: {}</p>\n", HtmlEscape(w));
  if (!a.failures.empty()) {
    out << "<h2>Where the agent "
           "failed</h2>\n<table><tr><th>cell</th><th>status</th><th>runs</th><th>output</th></"
           "tr>\n";
    for (const auto& f : a.failures) {
      out << fmt::format("<tr><td>{}</td><td>{}</td><td>{} of {}</td><td class=v>{}</td></tr>\n",
                         HtmlEscape(f.label), HtmlEscape(f.status), f.failed_runs, f.runs,
                         HtmlVisible(f.output, false));
    }
    out << "</table>\n";
  }
  if (!a.groups.empty()) {
    out << "<h2>Groups</h2>\n<table><tr><th>class</th><th>what</th><th>examples</th></tr>\n";
    for (const auto& g : a.groups) {
      std::string examples;
      for (size_t i = 0; i < g.members.size() && i < 3; ++i) {
        examples +=
            (examples.empty() ? "" : "<br>") + HtmlEscape(a.differences[g.members[i]].location);
      }
      out << fmt::format(
          "<tr><td><span class=\"cls "
          "{0}\">{0}</span></td><td>{1}</td><td><code>{2}</code></td></tr>\n",
          DiffClassName(g.cls), HtmlEscape(GroupTitle(g, cells)), examples);
    }
    out << "</table>\n";
  }
  int total_runs = 0;
  for (int r : in.runs_per_cell) total_runs += r;
  out << fmt::format("<p>{} cells, {} runs, {:.1f} s. glassbox {}.</p>\n", cells.size(), total_runs,
                     in.seconds, HtmlEscape(in.version));
}

void WriteHtmlDifference(const Difference& d, const std::vector<Cell>& cells, std::ostream& out) {
  out << fmt::format("<div class=diff><span class=\"cls {0}\">{0}</span> <code>{1}</code>",
                     DiffClassName(d.cls), HtmlEscape(d.location));
  out << fmt::format("<p>Follows <b>{}</b>{}: {}{}</p>\n", HtmlEscape(Join(d.variables, ", ")),
                     d.explanation.empty() ? "" : " (" + HtmlEscape(d.explanation) + ")",
                     HtmlEscape(d.reason),
                     d.noise_masked ? " (generated ids and numbers masked)" : "");
  if (!d.changes.empty()) {
    out << "<table><tr><th>cell</th><th>baseline</th><th>this cell</th><th>code points</th></tr>\n";
    for (const auto& ch : d.changes) {
      out << fmt::format(
          "<tr><td>{}</td><td class=v>{}<mark>{}</mark>{}</td><td class=v>{}<mark>{}</mark>{}</td>"
          "<td>{} &rarr; {}</td></tr>\n",
          HtmlEscape(ch.cell), HtmlVisible(ch.baseline_before, false),
          HtmlVisible(ch.baseline_text, true), HtmlVisible(ch.baseline_after, false),
          HtmlVisible(ch.cell_before, false), HtmlVisible(ch.cell_text, true),
          HtmlVisible(ch.cell_after, false), HtmlEscape(NamedCodepoints(ch.baseline_text)),
          HtmlEscape(NamedCodepoints(ch.cell_text)));
    }
    out << "</table>\n";
  } else {
    out << "<table><tr><th>cell</th><th>value</th></tr>\n";
    out << fmt::format("<tr><td>{}</td><td class=v>{}</td></tr>\n", HtmlEscape(cells[0].label),
                       HtmlVisible(CutVisible(ValueOrAbsent(d.by_cell[0]), 300, false), false));
    for (size_t c : d.differing_cells) {
      out << fmt::format("<tr><td>{}</td><td class=v>{}</td></tr>\n", HtmlEscape(cells[c].label),
                         HtmlVisible(CutVisible(ValueOrAbsent(d.by_cell[c]), 300, false), false));
    }
    out << "</table>\n";
  }
  out << "</div>\n";
}

void WriteHtmlDifferences(const Analysis& a, const std::vector<Cell>& cells, std::ostream& out) {
  out << "<h2>Differences, worst first</h2>\n";
  if (a.differences.empty())
    out << "<p>None: every cell sent the same thing (apart from noise).</p>\n";
  std::map<DiffClass, size_t> shown_per_class;
  for (const auto& d : a.differences) {
    size_t n = ++shown_per_class[d.cls];
    if (n == 4 * kShownPerClass + 1) {
      out << fmt::format("<p>… {} more {} differences (see the JSON report).</p>\n",
                         CountClass(a, d.cls) - 4 * kShownPerClass, DiffClassName(d.cls));
    }
    if (n > 4 * kShownPerClass) continue;
    WriteHtmlDifference(d, cells, out);
  }
}

void WriteHtmlIdentity(const Analysis& a, std::ostream& out) {
  out << "<h2>Identity the agent sent</h2>\n";
  if (a.identifying.empty()) {
    out << "<p>No field carried the host name, user, zone, locale, kernel, machine id, proxy or "
           "prompt.</p>\n";
  } else {
    out << "<table><tr><th>field</th><th>carries</th><th>cells</th><th>example</th></tr>\n";
    for (const auto& idf : a.identifying) {
      out << fmt::format(
          "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class=v>{}</td></tr>\n",
          HtmlEscape(idf.location), HtmlEscape(Join(idf.carries, ", ")), idf.cells.size(),
          HtmlVisible(CutVisible(idf.example, 160, false), false));
    }
    out << "</table>\n";
  }
}

void WriteHtmlHosts(const Analysis& a, std::ostream& out) {
  out << "<h2>Hosts "
         "contacted</h2>\n<table><tr><th>host</th><th>requests</th><th>cells</th><th>ports</th>"
         "<th>how</th></tr>\n";
  for (const auto& h : a.hosts) {
    std::vector<std::string> ports;
    for (int p : h.ports) ports.push_back(std::to_string(p));
    std::string how = h.ip_literal  ? "hard-coded IP"
                      : h.looked_up ? "DNS name"
                                    : "name (no lookup seen)";
    if (h.via_proxy) how += ", via proxy";
    out << fmt::format(
        "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
        HtmlEscape(h.host), h.requests, h.by_cell.size(), HtmlEscape(Join(ports, ", ")),
        HtmlEscape(how));
  }
  out << "</table>\n";
  if (!a.tls_failures.empty()) {
    out << "<h2>TLS not "
           "intercepted</h2>\n<table><tr><th>SNI</th><th>destination</th><th>cell</th><th>reason</"
           "th></tr>\n";
    for (const auto& f : a.tls_failures) {
      out << fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                         HtmlEscape(f.sni), HtmlEscape(f.dest), HtmlEscape(f.cell),
                         HtmlEscape(f.reason));
    }
    out << "</table>\n";
  }
}

void WriteHtmlNetwork(const Analysis& a, std::ostream& out) {
  if (!a.unused_lookups.empty()) {
    out << fmt::format("<p>Names looked up but never connected to by name: <code>{}</code></p>\n",
                       HtmlEscape(Join(a.unused_lookups, ", ")));
  }
  if (!a.unserved.empty() || !a.foreign_resolvers.empty()) {
    out << "<h2>Connections not "
           "read</h2>\n<table><tr><th>protocol</th><th>destination</th><th>cells</th></tr>\n";
    for (const auto& c : a.unserved) {
      out << fmt::format("<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>\n",
                         HtmlEscape(c.protocol), HtmlEscape(c.dest), c.by_cell.size());
    }
    for (const auto& r : a.foreign_resolvers) {
      out << fmt::format(
          "<tr><td>dns</td><td><code>{}</code> (hard-coded resolver)</td><td></td></tr>\n",
          HtmlEscape(r));
    }
    out << "</table>\n";
  }
}

void WriteHtmlMatrix(const ReportInput& in, std::ostream& out) {
  const auto& cells = in.matrix.cells;
  out << "<h2>Matrix</h2>\n<table><tr><th>cell</th><th>varied</th><th>runs</th></tr>\n";
  for (size_t c = 0; c < cells.size(); ++c) {
    std::vector<std::string> varied;
    for (const auto& [k, v] : cells[c].varied)
      varied.push_back(k + "=" + (v.empty() ? "(unset)" : v));
    out << fmt::format("<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>\n",
                       HtmlEscape(cells[c].label),
                       HtmlEscape(varied.empty() ? "(baseline)" : Join(varied, " ")),
                       c < in.runs_per_cell.size() ? in.runs_per_cell[c] : 0);
  }
  out << "</table>\n";
  {
    std::vector<std::string> base;
    for (const auto& [k, v] : cells[0].env) base.push_back(k + "=" + v);
    base.push_back("/etc/localtime=" + cells[0].timezone);
    base.push_back("hostname=" + cells[0].hostname);
    base.push_back("user=" + cells[0].username);
    out << fmt::format("<p>Baseline: <code>{}</code></p>\n", HtmlEscape(Join(base, " ")));
  }
}

void WriteHtmlNoiseAndNotes(const Analysis& a, std::ostream& out) {
  out << fmt::format("<h2>Noise ({} fields differ between runs of one cell)</h2>\n<ul>\n",
                     a.noise.size());
  for (const auto& n : a.noise) {
    out << fmt::format("<li><code>{}</code>{}</li>\n", HtmlEscape(n.location),
                       n.masked ? " (ids and numbers masked, the rest compared across cells)" : "");
  }
  out << "</ul>\n";
  if (!a.limits_reached.empty()) {
    out << "<h2>Limits reached</h2>\n<ul>\n";
    for (const auto& l : a.limits_reached) out << fmt::format("<li>{}</li>\n", HtmlEscape(l));
    out << "</ul>\n";
  }
  if (!a.notes.empty()) {
    out << "<h2>Notes</h2>\n<ul>\n";
    for (const auto& n : a.notes) out << fmt::format("<li>{}</li>\n", HtmlEscape(n));
    out << "</ul>\n";
  }
}

}  // namespace

void WriteHtmlReport(const ReportInput& in, std::ostream& out) {
  const auto& a = in.analysis;
  WriteHtmlHead(out);
  WriteHtmlSummary(in, out);
  WriteHtmlDifferences(a, in.matrix.cells, out);
  WriteHtmlIdentity(a, out);
  WriteHtmlHosts(a, out);
  WriteHtmlNetwork(a, out);
  WriteHtmlMatrix(in, out);
  WriteHtmlNoiseAndNotes(a, out);
  out << "</body></html>\n";
}

}  // namespace glassbox::probe
