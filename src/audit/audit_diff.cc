#include "audit/audit_diff.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "core/json_writer.h"

namespace glassbox::audit {
namespace {

// Category and text of every item of an audit, with one location each.
std::map<std::pair<std::string, std::string>, std::string> Items(const AuditResult& r) {
  std::map<std::pair<std::string, std::string>, std::string> items;
  for (const std::string& p : r.probes) items.emplace(std::pair{std::string("probe"), p}, "");
  for (const LocatedDecoded& d : r.decoded) {
    items.emplace(std::pair{std::string("decoded-string"), d.decoded.shape + ": " + d.decoded.text},
                  d.location);
  }
  for (const LocatedEndpoint& e : r.endpoints) {
    items.emplace(
        std::pair{std::string("host"), e.endpoint.host + (e.endpoint.hidden ? " (hidden)" : "")},
        e.location);
  }
  for (const LocatedSdk& s : r.sdks) {
    items.emplace(std::pair{std::string("sdk"), s.sdk.name + " (" + s.sdk.category + ")"},
                  s.location);
  }
  for (const LocatedCorrelation& c : r.correlations) {
    // One line per chain, free of positions: a chain that appears or
    // disappears between versions is one item.
    items.emplace(std::pair{std::string("correlation"),
                            (c.correlation.kind == "covert-marker" ? "covert marker: " : "") +
                                c.correlation.probe + " compared with a " + c.correlation.against +
                                ", picks " + c.correlation.output},
                  c.location);
  }
  return items;
}

// A finding's identity across versions: rule and message with positions
// ("12:345") and counts removed.
std::string FindingKey(const Finding& f) {
  std::string key = f.rule + "\n";
  for (size_t i = 0; i < f.message.size(); ++i) {
    const char c = f.message[i];
    if (c >= '0' && c <= '9') {
      if (key.empty() || key.back() != '#') key.push_back('#');
      continue;
    }
    key.push_back(c);
  }
  return key;
}

}  // namespace

AuditDiff DiffAudits(const AuditResult& old_result, const AuditResult& new_result) {
  AuditDiff diff;
  diff.old_target = old_result.target;
  diff.new_target = new_result.target;
  const auto old_items = Items(old_result);
  const auto new_items = Items(new_result);
  for (const auto& [key, location] : new_items) {
    if (!old_items.count(key)) diff.added.push_back(DiffItem{key.first, key.second, location});
  }
  for (const auto& [key, location] : old_items) {
    if (!new_items.count(key)) diff.removed.push_back(DiffItem{key.first, key.second, location});
  }
  std::set<std::string> old_keys;
  for (const Finding& f : old_result.findings) old_keys.insert(FindingKey(f));
  for (const Finding& f : new_result.findings) {
    if (!old_keys.count(FindingKey(f))) diff.new_findings.push_back(f);
  }
  return diff;
}

void WriteDiffText(const AuditDiff& diff, bool color, std::ostream& out) {
  const char* bold = color ? "\033[1m" : "";
  const char* reset = color ? "\033[0m" : "";
  out << bold << fmt::format("glassbox audit --diff {} → {}", diff.old_target, diff.new_target)
      << reset << "\n\n";
  static const std::vector<std::pair<std::string, std::string>> kOrder = {
      {"correlation", "environment-dependent output"},
      {"probe", "environment probes"},
      {"sdk", "telemetry and remote-config SDKs"},
      {"decoded-string", "decoded strings"},
      {"host", "endpoint hosts"}};
  for (const auto& [category, title] : kOrder) {
    size_t added = 0, removed = 0;
    for (const DiffItem& i : diff.added) added += i.category == category;
    for (const DiffItem& i : diff.removed) removed += i.category == category;
    if (added + removed == 0) continue;
    out << bold << title << reset << fmt::format(" (+{} −{})\n", added, removed);
    size_t shown = 0;
    for (const DiffItem& i : diff.added) {
      if (i.category != category || ++shown > 50) continue;
      out << "  + " << i.text << (i.location.empty() ? "" : "  (" + i.location + ")") << "\n";
    }
    shown = 0;
    for (const DiffItem& i : diff.removed) {
      if (i.category != category || ++shown > 50) continue;
      out << "  - " << i.text << (i.location.empty() ? "" : "  (" + i.location + ")") << "\n";
    }
    out << "\n";
  }
  size_t serious = 0;
  for (const Finding& f : diff.new_findings) serious += f.severity >= Severity::kLow;
  if (serious > 0) {
    out << bold << "New findings" << reset << "\n";
    for (const Finding& f : diff.new_findings) {
      if (f.severity < Severity::kLow) continue;
      out << fmt::format("  {} {} {}:{}:{}\n    {}\n", SeverityName(f.severity), f.rule, f.path,
                         f.line, f.column, f.message);
    }
    out << "\n";
  }
  out << fmt::format("{} appeared, {} disappeared, {} new finding{}\n", diff.added.size(),
                     diff.removed.size(), diff.new_findings.size(),
                     diff.new_findings.size() == 1 ? "" : "s");
}

void WriteDiffJson(const AuditDiff& diff, std::string_view version, std::ostream& out) {
  JsonWriter w(out);
  w.BeginObject();
  w.Field("tool", "glassbox");
  w.Field("version", version);
  w.Field("old", diff.old_target);
  w.Field("new", diff.new_target);
  for (const auto& [name, items] :
       {std::pair{"added", &diff.added}, std::pair{"removed", &diff.removed}}) {
    w.Key(name).BeginArray();
    for (const DiffItem& i : *items) {
      w.BeginObject()
          .Field("category", i.category)
          .Field("text", i.text)
          .Field("location", i.location)
          .EndObject();
    }
    w.EndArray();
  }
  w.Key("new_findings").BeginArray();
  for (const Finding& f : diff.new_findings) {
    w.BeginObject();
    w.Field("rule", f.rule);
    w.Field("severity", SeverityName(f.severity));
    w.Field("path", f.path);
    w.FieldUint("line", f.line);
    w.FieldUint("column", f.column);
    w.Field("message", f.message);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  out << "\n";
}

}  // namespace glassbox::audit
