#include "core/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "core/json_writer.h"
#include "core/locate.h"
#include "core/utf.h"

namespace glassbox {

const std::vector<RuleInfo>& UnicodeRuleInfos() {
  static const std::vector<RuleInfo> kRules = {
      {"unicode/tag-characters", "Invisible Unicode tag characters (U+E0000–E007F)",
       "Tag characters render as nothing but language models read them as ASCII: they smuggle "
       "instructions into prompts, issues and code. Only the England, Scotland and Wales flag "
       "sequences use them legitimately. Remove them with `glassbox clean`.",
       Severity::kCritical},
      {"unicode/variation-selectors", "Variation selectors that carry hidden bytes",
       "A run of variation selectors after one character encodes one byte per selector. A single "
       "VS15/VS16 after an emoji and ideographic variation sequences are normal.",
       Severity::kHigh},
      {"unicode/invisible-characters", "Zero-width and other invisible characters",
       "Zero-width spaces and joiners, word joiners, invisible operators, fillers and misplaced "
       "byte order marks hide text, split keywords and make identifiers that look equal differ. "
       "Joiners inside emoji and in Arabic and Indic words are normal.",
       Severity::kMedium},
      {"unicode/bidi-control", "Bidirectional control characters (Trojan Source)",
       "Overrides and isolates reorder how text displays, so code can look different from what "
       "runs (CVE-2021-42574). Balanced controls around right-to-left text are normal.",
       Severity::kHigh},
      {"unicode/confusable-identifier", "Identifier or word mixing look-alike scripts",
       "Letters from another script that look like ASCII (Cyrillic а, Greek ο, fullwidth and "
       "mathematical letters) make a name look like one it is not (UTS #39).",
       Severity::kHigh},
      {"unicode/confusable-host", "Look-alike characters in a host name or URL",
       "A host or URL with look-alike letters or punctuation points somewhere other than it "
       "appears to (IDN homograph).",
       Severity::kHigh},
      {"unicode/lookalike-punctuation", "Look-alike punctuation in otherwise ASCII text",
       "Modifier-letter apostrophes, primes and look-alike hyphens in ASCII prompts, code and "
       "commands change meaning or mark text invisibly. Typographic quotes in prose are normal.",
       Severity::kMedium},
      {"unicode/unusual-space", "Unusual space characters in code or commands",
       "No-break and other special spaces look like a space but are not one to a shell or a "
       "parser. In prose (French typography, CJK text) they are normal.",
       Severity::kMedium},
      {"unicode/whitespace-steganography", "Trailing whitespace patterns that carry bits",
       "Many lines ending in mixed spaces and tabs is how whitespace steganography hides data.",
       Severity::kHigh},
      {"unicode/control-characters", "Control characters and terminal escape sequences",
       "Escape sequences can hide or rewrite text when a file is shown in a terminal.",
       Severity::kMedium},
      {"unicode/invalid-encoding", "Invalid UTF-8",
       "Bytes that are not valid UTF-8: the file may use another encoding, or be corrupt.",
       Severity::kLow},
  };
  return kRules;
}

std::string TerminalSafe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  for (size_t i = 0; i < text.size();) {
    size_t len = 0;
    const int32_t cp = utf::DecodeOne(p + i, text.size() - i, &len);
    if (cp == utf::kInvalidCodePoint) {
      for (size_t k = 0; k < len; ++k) out += fmt::format("\\x{:02X}", p[i + k]);
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == 0x1B) {
      out += "\\e";
    } else if (cp < 0x20 || cp == 0x7F) {
      out += fmt::format("\\x{:02X}", cp);
    } else if ((cp >= 0x80 && cp < 0xA0) || cp == 0x061C || cp == 0x200E || cp == 0x200F ||
               (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069)) {
      out += fmt::format("\\u{{{:04X}}}", cp);
    } else if (cp == '\\' && i + 1 < text.size() &&
               (p[i + 1] == 'x' || p[i + 1] == 'u' || p[i + 1] == 'e')) {
      out += "\\\\";  // a literal backslash that would read as one of our escapes
    } else {
      out.append(text.substr(i, len));
    }
    i += len;
  }
  return out;
}

namespace {

const char* Ansi(Severity s) {
  switch (s) {
    case Severity::kCritical:
      return "\033[1;35m";
    case Severity::kHigh:
      return "\033[1;31m";
    case Severity::kMedium:
      return "\033[33m";
    case Severity::kLow:
      return "\033[36m";
    case Severity::kInfo:
      return "\033[2m";
  }
  return "";
}

std::string Upper(std::string_view s) {
  std::string u(s);
  for (char& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return u;
}

std::string Location(const Finding& f) {
  std::string loc = TerminalSafe(f.path);
  if (!f.commit.empty()) loc = f.commit.substr(0, 12) + ":" + loc;
  if (f.row > 0) {
    loc += fmt::format(":{} {}", f.row, TerminalSafe(f.json_path));
    return loc;
  }
  if (f.line > 0) loc += fmt::format(":{}:{}", f.line, f.column);
  return loc;
}

}  // namespace

void WriteText(const Report& report, const TextOptions& options, std::ostream& out) {
  const char* reset = options.color ? "\033[0m" : "";
  const char* dim = options.color ? "\033[2m" : "";
  std::vector<const Finding*> shown;
  for (const Finding& f : report.findings) {
    if (f.severity >= options.min_severity) shown.push_back(&f);
  }
  // What opening the repository with an agent would do comes first, under
  // its own heading; everything else follows.
  std::stable_partition(shown.begin(), shown.end(),
                        [](const Finding* f) { return f->rule.rfind("agent-config/", 0) == 0; });
  const size_t agent_count =
      static_cast<size_t>(std::count_if(shown.begin(), shown.end(), [](const Finding* f) {
        return f->rule.rfind("agent-config/", 0) == 0;
      }));
  const char* bold = options.color ? "\033[1m" : "";
  std::stable_sort(shown.begin(), shown.begin() + static_cast<ptrdiff_t>(agent_count),
                   [](const Finding* a, const Finding* b) { return a->severity > b->severity; });
  if (agent_count > 0) {
    out << bold << "Opening this repository with an agent would:" << reset << "\n";
    for (size_t k = 0; k < agent_count; ++k) {
      out << fmt::format("  - {} ({}, {})\n", TerminalSafe(shown[k]->message), Location(*shown[k]),
                         SeverityName(shown[k]->severity));
    }
    out << "\n";
  }
  for (size_t index = 0; index < shown.size(); ++index) {
    const Finding* f = shown[index];
    if (index == 0 && agent_count > 0) out << bold << "Details:" << reset << "\n\n";
    out << fmt::format("{}: {}{}{} {}\n", Location(*f), options.color ? Ansi(f->severity) : "",
                       Upper(SeverityName(f->severity)), reset, f->rule);
    out << "    " << TerminalSafe(f->message) << "\n";
    if (!f->codepoints.empty()) {
      std::vector<char32_t> distinct;
      for (char32_t c : f->codepoints) {
        if (std::find(distinct.begin(), distinct.end(), c) == distinct.end()) distinct.push_back(c);
      }
      const size_t limit = 4;
      for (size_t k = 0; k < distinct.size() && k < limit; ++k) {
        const auto n = std::count(f->codepoints.begin(), f->codepoints.end(), distinct[k]);
        out << "    " << dim << DescribeCodePoint(distinct[k])
            << (n > 1 ? fmt::format(" ×{}", n) : "") << reset << "\n";
      }
      if (distinct.size() > limit) {
        out << "    " << dim
            << fmt::format("… and {} more distinct code points", distinct.size() - limit) << reset
            << "\n";
      }
    }
    if (!f->snippet.empty()) out << "    | " << TerminalSafe(f->snippet) << "\n";
    if (!f->decoded.empty()) {
      std::string dec;
      JsonWriter::Escape(f->decoded, &dec);
      out << "    decoded: " << TerminalSafe(dec) << "\n";
    }
    out << "\n";
  }
  for (const std::string& e : report.errors) out << "error: " << TerminalSafe(e) << "\n";
  for (const std::string& n : report.notes) out << "note: " << TerminalSafe(n) << "\n";
  std::map<Severity, size_t> by_sev;
  for (const Finding& f : report.findings) ++by_sev[f.severity];
  std::string counts;
  for (Severity s :
       {Severity::kCritical, Severity::kHigh, Severity::kMedium, Severity::kLow, Severity::kInfo}) {
    if (by_sev[s] == 0) continue;
    if (!counts.empty()) counts += ", ";
    counts += fmt::format("{} {}", by_sev[s], SeverityName(s));
  }
  const ReportStats& st = report.stats;
  out << fmt::format("{} finding{}{} in {} file{} ({:.1f} MB) in {:.2f} s", report.findings.size(),
                     report.findings.size() == 1 ? "" : "s",
                     counts.empty() ? "" : " (" + counts + ")", st.files, st.files == 1 ? "" : "s",
                     static_cast<double>(st.bytes) / 1e6, st.seconds);
  if (st.rows > 0) out << fmt::format("; {} data rows", st.rows);
  if (st.binary_files > 0) {
    out << fmt::format("; {} binary file{} searched for strings", st.binary_files,
                       st.binary_files == 1 ? "" : "s");
  }
  if (st.too_large_skipped > 0)
    out << fmt::format("; {} files over the size limit skipped", st.too_large_skipped);
  if (st.suppressed > 0) out << fmt::format("; {} suppressed", st.suppressed);
  if (shown.size() < report.findings.size()) {
    out << fmt::format("; {} below {} not listed", report.findings.size() - shown.size(),
                       SeverityName(options.min_severity));
  }
  out << "\n";
}

namespace {

void WriteFindingJson(const Finding& f, JsonWriter& w) {
  w.BeginObject();
  w.Field("rule", f.rule);
  w.Field("severity", SeverityName(f.severity));
  w.Field("path", f.path);
  w.FieldUint("line", f.line);
  w.FieldUint("column", f.column);
  w.FieldUint("byte_offset", f.byte_offset);
  w.FieldUint("byte_length", f.byte_length);
  w.Key("codepoints").BeginArray();
  for (char32_t c : f.codepoints) w.String(fmt::format("U+{:04X}", static_cast<uint32_t>(c)));
  w.EndArray();
  w.Field("decoded", f.decoded);
  w.Field("message", f.message);
  w.Field("snippet", f.snippet);
  if (f.row > 0) {
    w.FieldUint("row", f.row);
    w.Field("json_path", f.json_path);
  }
  if (!f.commit.empty()) w.Field("commit", f.commit);
  w.Field("fingerprint", f.fingerprint);
  w.EndObject();
}

}  // namespace

void WriteJson(const Report& report, std::ostream& out) { WriteJson(report, out, nullptr); }

void WriteJson(const Report& report, std::ostream& out,
               const std::function<void(JsonWriter&)>& extra) {
  JsonWriter w(out);
  w.BeginObject();
  w.Field("tool", "glassbox");
  w.Field("version", report.tool_version);
  w.Key("findings").BeginArray();
  for (const Finding& f : report.findings) WriteFindingJson(f, w);
  w.EndArray();
  w.Key("errors").BeginArray();
  for (const std::string& e : report.errors) w.String(e);
  w.EndArray();
  w.Key("notes").BeginArray();
  for (const std::string& n : report.notes) w.String(n);
  w.EndArray();
  const ReportStats& st = report.stats;
  w.Key("stats").BeginObject();
  w.FieldUint("files", st.files);
  w.FieldUint("bytes", st.bytes);
  w.Key("seconds").Double(st.seconds);
  w.FieldUint("binary_files", st.binary_files);
  w.FieldUint("too_large_skipped", st.too_large_skipped);
  w.FieldUint("suppressed", st.suppressed);
  w.FieldUint("rows", st.rows);
  w.EndObject();
  if (extra) extra(w);
  w.EndObject();
  out << "\n";
}

namespace {

const char* SarifLevel(Severity s) {
  switch (s) {
    case Severity::kCritical:
    case Severity::kHigh:
      return "error";
    case Severity::kMedium:
      return "warning";
    default:
      return "note";
  }
}

const char* SecuritySeverity(Severity s) {
  switch (s) {
    case Severity::kCritical:
      return "9.5";
    case Severity::kHigh:
      return "8.0";
    case Severity::kMedium:
      return "5.5";
    case Severity::kLow:
      return "3.0";
    case Severity::kInfo:
      return "1.0";
  }
  return "1.0";
}

// SARIF wants a rule's name to differ from its id: "unicode/tag-characters"
// becomes "UnicodeTagCharacters".
std::string DisplayName(std::string_view id) {
  std::string out;
  bool up = true;
  for (char c : id) {
    if (c == '/' || c == '-' || c == '_' || c == '.') {
      up = true;
      continue;
    }
    out.push_back(up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
    up = false;
  }
  return out;
}

// SARIF artifact URIs are relative references: percent-encode what a URI
// may not hold.
std::string UriFromPath(std::string_view path) {
  std::string out;
  if (path.rfind("./", 0) == 0) path.remove_prefix(2);
  for (unsigned char c : path) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
        c == '.' || c == '-' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace

void WriteSarif(const Report& report, const std::vector<RuleInfo>& rules, std::ostream& out) {
  // Only rules that have results or are known are listed; results point at them by index.
  std::vector<const RuleInfo*> listed;
  std::map<std::string, size_t> index;
  for (const RuleInfo& r : rules) {
    index[r.id] = listed.size();
    listed.push_back(&r);
  }
  std::vector<RuleInfo> extra;  // results of rules the catalog lacks
  for (const Finding& f : report.findings) {
    if (index.count(f.rule) == 0) {
      extra.push_back({f.rule, f.rule, f.message, f.severity});
      index[f.rule] = rules.size() + extra.size() - 1;
    }
  }
  JsonWriter w(out);
  w.BeginObject();
  w.Field("$schema", "https://json.schemastore.org/sarif-2.1.0.json");
  w.Field("version", "2.1.0");
  w.Key("runs").BeginArray().BeginObject();
  w.Key("tool").BeginObject().Key("driver").BeginObject();
  w.Field("name", "glassbox");
  w.Field("semanticVersion", report.tool_version);
  w.Field("informationUri", "https://github.com/glassbox-dev/glassbox");
  w.Key("rules").BeginArray();
  auto write_rule = [&](const RuleInfo& r) {
    w.BeginObject();
    w.Field("id", r.id);
    w.Field("name", DisplayName(r.id));
    w.Key("shortDescription").BeginObject().Field("text", r.summary).EndObject();
    w.Key("fullDescription").BeginObject().Field("text", r.help).EndObject();
    w.Key("help").BeginObject().Field("text", r.help).EndObject();
    w.Key("defaultConfiguration")
        .BeginObject()
        .Field("level", SarifLevel(r.default_severity))
        .EndObject();
    w.Key("properties").BeginObject();
    w.Key("tags").BeginArray().String("security").String(r.id.substr(0, r.id.find('/'))).EndArray();
    w.Field("security-severity", SecuritySeverity(r.default_severity));
    w.EndObject();
    w.EndObject();
  };
  for (const RuleInfo* r : listed) write_rule(*r);
  for (const RuleInfo& r : extra) write_rule(r);
  w.EndArray();
  w.EndObject().EndObject();  // driver, tool
  w.Field("columnKind", "unicodeCodePoints");
  w.Key("results").BeginArray();
  for (const Finding& f : report.findings) {
    w.BeginObject();
    w.Field("ruleId", f.rule);
    w.Key("ruleIndex").Uint(index[f.rule]);
    w.Field("level", SarifLevel(f.severity));
    std::string text = f.message;
    if (!f.decoded.empty() && f.message.find(f.decoded) == std::string::npos)
      text += " (decoded: " + f.decoded + ")";
    w.Key("message").BeginObject().Field("text", text).EndObject();
    w.Key("locations").BeginArray().BeginObject();
    w.Key("physicalLocation").BeginObject();
    w.Key("artifactLocation")
        .BeginObject()
        .Field("uri", UriFromPath(f.path))
        .Field("uriBaseId", "%SRCROOT%")
        .EndObject();
    w.Key("region").BeginObject();
    w.FieldUint("startLine", std::max<uint64_t>(f.line, 1));
    w.FieldUint("startColumn", std::max<uint64_t>(f.column, 1));
    if (!f.snippet.empty()) w.Key("snippet").BeginObject().Field("text", f.snippet).EndObject();
    w.EndObject();  // region
    w.EndObject();  // physicalLocation
    w.EndObject().EndArray();
    w.Key("partialFingerprints").BeginObject().Field("glassbox/v1", f.fingerprint).EndObject();
    w.Key("properties").BeginObject();
    w.Field("severity", SeverityName(f.severity));
    w.Key("security-severity").String(SecuritySeverity(f.severity));
    w.Key("codepoints").BeginArray();
    for (char32_t c : f.codepoints) w.String(fmt::format("U+{:04X}", static_cast<uint32_t>(c)));
    w.EndArray();
    if (!f.decoded.empty()) w.Field("decoded", f.decoded);
    if (!f.commit.empty()) w.Field("commit", f.commit);
    if (f.row > 0) w.FieldUint("row", f.row).Field("json_path", f.json_path);
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  // Limits reached, and inputs that could not be read, as SARIF tool
  // execution notifications: a viewer shows them beside the results.
  w.Key("invocations").BeginArray().BeginObject();
  w.Key("executionSuccessful").Bool(report.errors.empty());
  w.Key("toolExecutionNotifications").BeginArray();
  for (const std::string& e : report.errors) {
    w.BeginObject()
        .Field("level", "error")
        .Key("message")
        .BeginObject()
        .Field("text", e)
        .EndObject()
        .EndObject();
  }
  for (const std::string& n : report.notes) {
    w.BeginObject()
        .Field("level", "note")
        .Key("message")
        .BeginObject()
        .Field("text", n)
        .EndObject()
        .EndObject();
  }
  w.EndArray();
  w.EndObject().EndArray();
  w.EndObject().EndArray();  // run, runs
  w.EndObject();
  out << "\n";
}

}  // namespace glassbox
