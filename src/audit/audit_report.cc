#include "audit/audit_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/json_writer.h"

namespace glassbox::audit {
namespace {

Report ToReport(const AuditResult& result, std::string_view version) {
  Report report;
  report.tool_version = std::string(version);
  report.findings = result.findings;
  report.stats.files = result.modules;
  report.stats.bytes = result.bytes;
  report.stats.seconds = result.seconds;
  return report;
}

std::string Plural(size_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

}  // namespace

std::vector<RuleInfo> AuditRuleInfos() {
  std::vector<RuleInfo> rules = Analyzer::RuleInfos();
  for (const RuleInfo& r : UnicodeRuleInfos()) rules.push_back(r);
  return rules;
}

Severity HighestSeverity(const AuditResult& result) {
  Severity s = Severity::kInfo;
  for (const Finding& f : result.findings) s = std::max(s, f.severity);
  return s;
}

void WriteAuditText(const AuditResult& result, const AuditTextOptions& options, std::ostream& out) {
  const char* bold = options.color ? "\033[1m" : "";
  const char* reset = options.color ? "\033[0m" : "";
  std::string what = result.kind;
  if (!result.object_format.empty()) what += ", " + result.object_format;
  if (!result.layout.empty()) what += ", " + result.layout + " layout";
  out << bold << fmt::format("glassbox audit {}", result.target) << reset
      << fmt::format(" ({}; {}, {:.1f} MB of code)\n\n", what,
                     Plural(result.modules, "module", "modules"),
                     static_cast<double>(result.bytes) / 1e6);
  // The few things that matter, first.
  if (!result.correlations.empty()) {
    out << bold << "Behaves differently depending on the environment:" << reset << "\n";
    for (const LocatedCorrelation& c : result.correlations) {
      out << fmt::format("  - reads {}, compares it with a {}, picks {} ({})\n",
                         c.correlation.probe, c.correlation.against, c.correlation.output,
                         c.location);
    }
    out << "\n";
  }
  out << bold << "Summary" << reset << "\n";
  out << "  environment probes: " << (result.probes.empty() ? "none" : "");
  for (size_t i = 0; i < result.probes.size(); ++i) out << (i ? ", " : "") << result.probes[i];
  out << "\n";
  out << "  telemetry, error reporting and remote config: " << (result.sdks.empty() ? "none" : "");
  {
    std::set<std::string> seen;
    bool first = true;
    for (const LocatedSdk& s : result.sdks) {
      if (!seen.insert(s.sdk.name).second) continue;
      out << (first ? "" : ", ") << s.sdk.name << " (" << s.sdk.category << ")";
      first = false;
    }
  }
  out << "\n";
  std::map<std::string, size_t> shapes;
  for (const LocatedDecoded& d : result.decoded) ++shapes[d.decoded.shape];
  out << "  hidden strings decoded: " << result.decoded.size();
  if (!shapes.empty()) {
    out << " (";
    bool first = true;
    for (const auto& [shape, n] : shapes) {
      out << (first ? "" : ", ") << n << " " << shape;
      first = false;
    }
    out << ")";
  }
  out << "\n";
  std::set<std::string> hosts, hidden_hosts;
  for (const LocatedEndpoint& e : result.endpoints) {
    hosts.insert(e.endpoint.host);
    if (e.endpoint.hidden) hidden_hosts.insert(e.endpoint.host);
  }
  out << fmt::format("  endpoints: {} URLs and host names, {} distinct hosts",
                     result.endpoints.size(), hosts.size());
  if (!hidden_hosts.empty()) {
    out << "; hidden:";
    size_t k = 0;
    for (const std::string& h : hidden_hosts) {
      if (++k > 8) {
        out << " …";
        break;
      }
      out << " " << TerminalSafe(h);
    }
  }
  out << "\n\n";
  // Decoded strings that read as domains, URLs or time zones: the telling ones.
  size_t listed = 0;
  for (const LocatedDecoded& d : result.decoded) {
    if (d.decoded.shape == "text" || d.decoded.shape == "path") continue;
    if (listed == 0) out << bold << "Hidden domains, URLs and time zones:" << reset << "\n";
    if (++listed > 20) {
      out << "  …\n";
      break;
    }
    std::string text;
    JsonWriter::Escape(d.decoded.text, &text);
    out << fmt::format("  {} {} ({})\n", TerminalSafe(text), d.decoded.encoding,
                       TerminalSafe(d.location));
  }
  if (listed > 0) out << "\n";
  Report report = ToReport(result, "");
  TextOptions text_options;
  text_options.color = options.color;
  text_options.min_severity = options.min_severity;
  WriteText(report, text_options, out);
  // Notes name archive entries and files the target chose: escaped for the terminal.
  for (const std::string& n : result.notes) out << "note: " << TerminalSafe(n) << "\n";
}

void WriteAuditJson(const AuditResult& result, std::string_view version, std::ostream& out) {
  Report report = ToReport(result, version);
  WriteJson(report, out, [&](JsonWriter& w) {
    w.Field("target", result.target);
    w.Field("kind", result.kind);
    w.Field("object_format", result.object_format);
    w.Field("layout", result.layout);
    w.Key("probes").BeginArray();
    for (const std::string& p : result.probes) w.String(p);
    w.EndArray();
    w.Key("decoded_strings").BeginArray();
    for (const LocatedDecoded& d : result.decoded) {
      w.BeginObject();
      w.Field("encoding", d.decoded.encoding);
      w.Field("text", d.decoded.text);
      w.Field("shape", d.decoded.shape);
      w.Field("location", d.location);
      if (!d.decoded.list.empty()) w.Field("list", d.decoded.list);
      if (!d.decoded.via.empty()) w.Field("via", d.decoded.via);
      w.EndObject();
    }
    w.EndArray();
    w.Key("endpoints").BeginArray();
    for (const LocatedEndpoint& e : result.endpoints) {
      w.BeginObject();
      w.Field("url", e.endpoint.url);
      w.Field("host", e.endpoint.host);
      w.Field("kind", e.endpoint.kind);
      if (!e.endpoint.reason.empty()) w.Field("reason", e.endpoint.reason);
      w.Field("location", e.location);
      w.Key("hidden").Bool(e.endpoint.hidden);
      w.EndObject();
    }
    w.EndArray();
    w.Key("sdks").BeginArray();
    for (const LocatedSdk& s : result.sdks) {
      w.BeginObject();
      w.Field("name", s.sdk.name);
      w.Field("category", s.sdk.category);
      w.Field("marker", s.sdk.marker);
      w.Field("location", s.location);
      w.EndObject();
    }
    w.EndArray();
    w.Key("correlations").BeginArray();
    for (const LocatedCorrelation& c : result.correlations) {
      w.BeginObject();
      w.Field("probe", c.correlation.probe);
      w.Field("against", c.correlation.against);
      w.Field("output", c.correlation.output);
      w.Field("kind", c.correlation.kind);
      w.Key("chain").BeginArray();
      for (const std::string& step : c.correlation.chain) w.String(step);
      w.EndArray();
      w.Field("location", c.location);
      w.EndObject();
    }
    w.EndArray();
    w.Key("notes").BeginArray();
    for (const std::string& n : result.notes) w.String(n);
    w.EndArray();
    w.FieldUint("decoder_calls", result.decoder_calls);
    w.FieldUint("modules", result.modules);
    w.FieldUint("target_bytes", result.target_bytes);
  });
}

void WriteAuditSarif(const AuditResult& result, std::string_view version, std::ostream& out) {
  Report report = ToReport(result, version);
  // SARIF artifact URIs are relative to %SRCROOT%: "/$bunfs/root/cli.js"
  // and absolute targets lose their leading slashes.
  for (Finding& f : report.findings) {
    const size_t start = f.path.find_first_not_of('/');
    f.path = start == std::string::npos ? "-" : f.path.substr(start);
  }
  report.notes = result.notes;  // as tool execution notifications
  WriteSarif(report, AuditRuleInfos(), out);
}

}  // namespace glassbox::audit
