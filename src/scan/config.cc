#include "scan/config.h"

#include <fmt/format.h>

#include <toml++/toml.h>

#include <algorithm>
#include <utility>

#include "scan/walker.h"

namespace glassbox::scan {

namespace {

Status Strings(const toml::node_view<const toml::node>& node, const std::string& where,
               std::vector<std::string>* out) {
  if (!node) return Status::Ok();
  const toml::array* arr = node.as_array();
  if (arr == nullptr) return Status::Error(where + " must be an array of strings");
  for (const toml::node& n : *arr) {
    const auto* s = n.as_string();
    if (s == nullptr) return Status::Error(where + " must hold only strings");
    out->push_back(s->get());
  }
  return Status::Ok();
}

}  // namespace

Result<ProjectConfig> LoadProjectConfig(const std::string& path) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    // toml++ reports errors as exceptions; they stop here.
    return Status::Error(fmt::format("{}:{}:{}: {}", path, e.source().begin.line,
                                     e.source().begin.column, e.description()));
  }
  ProjectConfig cfg;
  cfg.source = path;
  for (auto&& [key, value] : root) {
    if (key != "scan" && key != "ignore") {
      return Status::Error(
          fmt::format("{}: unknown section [{}] (known: [scan], [[ignore]])", path, key.str()));
    }
  }
  const toml::node_view<const toml::node> scan = std::as_const(root)["scan"];
  if (scan) {
    const toml::table* t = scan.as_table();
    if (t == nullptr) return Status::Error(path + ": [scan] must be a table");
    for (auto&& [key, value] : *t) {
      const std::string k(key.str());
      if (k != "exclude" && k != "disable" && k != "fail_on" && k != "min_severity") {
        return Status::Error(fmt::format(
            "{}: unknown key scan.{} (known: exclude, disable, fail_on, min_severity)", path, k));
      }
    }
    Status st = Strings(scan["exclude"], path + ": scan.exclude", &cfg.exclude);
    if (!st.ok()) return st;
    st = Strings(scan["disable"], path + ": scan.disable", &cfg.disable);
    if (!st.ok()) return st;
    for (auto [key, field] :
         {std::pair{"fail_on", &cfg.fail_on}, std::pair{"min_severity", &cfg.min_severity}}) {
      if (auto v = scan[key].value<std::string>()) {
        Severity s;
        if (!ParseSeverity(*v, &s) && *v != "none") {
          return Status::Error(fmt::format(
              "{}: scan.{} = \"{}\" is not a severity (info, low, medium, high, critical)", path,
              key, *v));
        }
        *field = *v;
      }
    }
  }
  if (const toml::array* list = root["ignore"].as_array()) {
    size_t i = 0;
    for (const toml::node& n : *list) {
      ++i;
      const toml::table* t = n.as_table();
      if (t == nullptr)
        return Status::Error(fmt::format("{}: [[ignore]] #{} must be a table", path, i));
      PathIgnore ig;
      toml::node_view<const toml::node> view(n);
      Status st =
          Strings(view["paths"], fmt::format("{}: [[ignore]] #{} paths", path, i), &ig.paths);
      if (!st.ok()) return st;
      st = Strings(view["rules"], fmt::format("{}: [[ignore]] #{} rules", path, i), &ig.rules);
      if (!st.ok()) return st;
      if (ig.paths.empty())
        return Status::Error(fmt::format("{}: [[ignore]] #{} needs paths", path, i));
      cfg.ignores.push_back(std::move(ig));
    }
  }
  return cfg;
}

void ApplySuppressions(Report* report, const Baseline* baseline,
                       const std::vector<PathIgnore>& ignores) {
  auto covered = [&](const Finding& f) {
    if (baseline != nullptr && baseline->Contains(f)) return true;
    std::string_view p = f.path;
    if (p.rfind("./", 0) == 0) p.remove_prefix(2);
    for (const PathIgnore& ig : ignores) {
      const bool path_hit = std::any_of(ig.paths.begin(), ig.paths.end(),
                                        [&](const std::string& g) { return GlobMatch(g, p); });
      if (!path_hit) continue;
      if (ig.rules.empty()) return true;
      if (std::any_of(ig.rules.begin(), ig.rules.end(),
                      [&](const std::string& r) { return RuleMatches(r, f.rule); })) {
        return true;
      }
    }
    return false;
  };
  const size_t before = report->findings.size();
  report->findings.erase(std::remove_if(report->findings.begin(), report->findings.end(), covered),
                         report->findings.end());
  report->stats.suppressed += before - report->findings.size();
}

}  // namespace glassbox::scan
