#include "scan/agent_config.h"

#include <fmt/format.h>
#include <re2/re2.h>
#include <toml++/toml.h>
#include <yaml.h>

#include <algorithm>
#include <array>
#include <functional>
#include <mutex>
#include <set>
#include <unordered_set>

#include "core/json_strings.h"
#include "core/secrets.h"
#include "scan/walker.h"

namespace glassbox::scan {

namespace {

// One key or scalar value of a parsed configuration file.
struct Entry {
  std::vector<std::string> segments;  // key path: {"mcpServers", "evil", "command"}
  std::string value;                  // scalar value as text; empty for keys
  bool is_key = false;
  size_t offset = 0;  // byte offset in the file
};

enum class Format { kJson, kToml, kYaml, kText };

Format FormatOf(std::string_view path) {
  auto ends = [&](std::string_view ext) {
    return path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext;
  };
  if (ends(".json") || ends(".jsonc") || ends(".code-workspace")) return Format::kJson;
  if (ends(".toml")) return Format::kToml;
  if (ends(".yaml") || ends(".yml")) return Format::kYaml;
  return Format::kText;
}

std::string_view FormatName(Format f) {
  switch (f) {
    case Format::kJson:
      return "JSON";
    case Format::kToml:
      return "TOML";
    case Format::kYaml:
      return "YAML";
    case Format::kText:
      return "text";
  }
  return "text";
}

// Splits a path written by ForEachJsonString ("$.a[\"b.c\"][0]") into segments.
std::vector<std::string> JsonPathSegments(std::string_view path) {
  std::vector<std::string> out;
  size_t i = path.empty() || path[0] != '$' ? 0 : 1;
  while (i < path.size()) {
    if (path[i] == '.') {
      size_t j = i + 1;
      while (j < path.size() && path[j] != '.' && path[j] != '[') ++j;
      out.emplace_back(path.substr(i + 1, j - i - 1));
      i = j;
    } else if (path[i] == '[' && i + 1 < path.size() && path[i + 1] == '"') {
      std::string seg;
      size_t j = i + 2;
      while (j < path.size() && path[j] != '"') {
        if (path[j] == '\\' && j + 1 < path.size()) ++j;
        seg += path[j++];
      }
      out.push_back(std::move(seg));
      i = j + 2;  // past "]
    } else if (path[i] == '[') {
      const size_t j = path.find(']', i);
      out.emplace_back(path.substr(i + 1, j - i - 1));
      i = j == std::string_view::npos ? path.size() : j + 1;
    } else {
      ++i;
    }
  }
  return out;
}

Status FlattenJson(std::string_view text, std::vector<Entry>* out) {
  const std::string plain = StripJsonComments(text);
  JsonWalkOptions options;
  options.visit_scalars = true;
  options.visit_keys = true;
  return ForEachJsonString(
      plain,
      [&](const JsonStringVisit& v) {
        Entry e;
        e.segments = JsonPathSegments(v.path);
        e.is_key = v.is_key;
        if (!v.is_key) e.value = std::string(v.decoded);
        e.offset = v.raw_offset;
        out->push_back(std::move(e));
      },
      options);
}

class LineIndex {
 public:
  explicit LineIndex(std::string_view text) {
    starts_.push_back(0);
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n') starts_.push_back(i + 1);
    }
  }
  // 1-based line and column to a byte offset.
  size_t Offset(size_t line, size_t column) const {
    if (line == 0 || line > starts_.size()) return 0;
    return starts_[line - 1] + (column > 0 ? column - 1 : 0);
  }

 private:
  std::vector<size_t> starts_;
};

void FlattenToml(const toml::node& node, std::vector<std::string>& path, const LineIndex& lines,
                 std::vector<Entry>* out) {
  const auto& src = node.source();
  const size_t offset = lines.Offset(src.begin.line, src.begin.column);
  if (const toml::table* t = node.as_table()) {
    for (auto&& [k, v] : *t) {
      path.emplace_back(k.str());
      out->push_back(
          {path, "", true, lines.Offset(k.source().begin.line, k.source().begin.column)});
      FlattenToml(v, path, lines, out);
      path.pop_back();
    }
  } else if (const toml::array* a = node.as_array()) {
    for (size_t i = 0; i < a->size(); ++i) {
      path.push_back(std::to_string(i));
      FlattenToml((*a)[i], path, lines, out);
      path.pop_back();
    }
  } else {
    std::string value;
    if (const auto* s = node.as_string()) {
      value = s->get();
    } else if (const auto* b = node.as_boolean()) {
      value = b->get() ? "true" : "false";
    } else if (const auto* i = node.as_integer()) {
      value = std::to_string(i->get());
    } else if (const auto* f = node.as_floating_point()) {
      value = fmt::format("{}", f->get());
    }
    out->push_back({path, value, false, offset});
  }
}

// YAML through libyaml's event parser (fuzzed widely, no recursion, no
// alias expansion): mapping and sequence events become key paths.
Status FlattenYaml(std::string_view text, const LineIndex& lines, std::vector<Entry>* out) {
  yaml_parser_t parser;
  if (yaml_parser_initialize(&parser) == 0) return Status::Error("cannot start the YAML parser");
  yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()),
                               text.size());
  struct Frame {
    bool mapping;
    size_t index;     // sequences: the next item's index
    bool expect_key;  // mappings: the next scalar is a key
  };
  std::vector<Frame> stack;
  std::vector<std::string> path;
  auto offset_of = [&](const yaml_mark_t& m) { return lines.Offset(m.line + 1, m.column + 1); };
  auto begin_value = [&]() {
    if (!stack.empty() && !stack.back().mapping) path.push_back(std::to_string(stack.back().index));
  };
  auto end_value = [&]() {
    if (stack.empty()) return;
    if (!path.empty()) path.pop_back();
    if (stack.back().mapping) {
      stack.back().expect_key = true;
    } else {
      ++stack.back().index;
    }
  };
  Status status;
  bool done = false;
  while (!done) {
    yaml_event_t event;
    if (yaml_parser_parse(&parser, &event) == 0) {
      status =
          Status::Error(fmt::format("line {}: {}", parser.problem_mark.line + 1,
                                    parser.problem != nullptr ? parser.problem : "invalid YAML"));
      break;
    }
    switch (event.type) {
      case YAML_STREAM_END_EVENT:
        done = true;
        break;
      case YAML_DOCUMENT_START_EVENT:
        stack.clear();
        path.clear();
        break;
      case YAML_MAPPING_START_EVENT:
      case YAML_SEQUENCE_START_EVENT:
        if (stack.size() >= 256) {
          status = Status::Error(
              fmt::format("line {}: nested more than 256 levels", event.start_mark.line + 1));
          done = true;
          break;
        }
        if (!stack.empty() && stack.back().mapping && stack.back().expect_key) {
          path.push_back("?");  // a complex key: its contents are not a key path
          stack.back().expect_key = false;
        } else {
          begin_value();
        }
        stack.push_back({event.type == YAML_MAPPING_START_EVENT, 0, true});
        break;
      case YAML_MAPPING_END_EVENT:
      case YAML_SEQUENCE_END_EVENT:
        if (!stack.empty()) stack.pop_back();
        end_value();
        break;
      case YAML_SCALAR_EVENT:
      case YAML_ALIAS_EVENT: {
        const std::string value =
            event.type == YAML_SCALAR_EVENT
                ? std::string(reinterpret_cast<const char*>(event.data.scalar.value),
                              event.data.scalar.length)
                : "*" + std::string(event.data.alias.anchor != nullptr
                                        ? reinterpret_cast<const char*>(event.data.alias.anchor)
                                        : "");
        if (!stack.empty() && stack.back().mapping && stack.back().expect_key) {
          path.push_back(value);
          out->push_back({path, "", true, offset_of(event.start_mark)});
          stack.back().expect_key = false;
        } else {
          begin_value();
          out->push_back({path, value, false, offset_of(event.start_mark)});
          end_value();
        }
        break;
      }
      default:
        break;
    }
    yaml_event_delete(&event);
  }
  yaml_parser_delete(&parser);
  return status;
}

// Parses a configuration file into entries. toml++'s exceptions stop here
// and become a Status.
Status Flatten(Format format, std::string_view text, std::vector<Entry>* out) {
  if (format == Format::kJson) return FlattenJson(text, out);
  const LineIndex lines(text);
  std::vector<std::string> path;
  if (format == Format::kToml) {
    try {
      toml::table root = toml::parse(text);
      FlattenToml(root, path, lines, out);
    } catch (const toml::parse_error& e) {
      return Status::Error(fmt::format("line {}: {}", e.source().begin.line, e.description()));
    }
    return Status::Ok();
  }
  return FlattenYaml(text, lines, out);
}

bool PathMatchesAny(const std::vector<std::string>& globs, std::string_view path) {
  if (path.rfind("./", 0) == 0) path.remove_prefix(2);
  for (const std::string& g : globs) {
    // A rule's glob names a path inside the repository; the scanned path may
    // have the repository's own folder in front of it.
    std::string_view p = path;
    while (true) {
      if (GlobMatch(g, p)) return true;
      const size_t slash = p.find('/');
      if (slash == std::string_view::npos) break;
      p.remove_prefix(slash + 1);
    }
  }
  return false;
}

std::string Fill(const std::string& message, std::string_view key, std::string_view value) {
  std::string out;
  for (size_t i = 0; i < message.size();) {
    if (message.compare(i, 7, "{value}") == 0) {
      std::string v(value.substr(0, 200));
      if (value.size() > 200) v += "…";
      out += v;
      i += 7;
    } else if (message.compare(i, 5, "{key}") == 0) {
      out += key;
      i += 5;
    } else {
      out += message[i++];
    }
  }
  return out;
}

bool IsHiddenTextRule(std::string_view rule) {
  return rule == "unicode/tag-characters" || rule == "unicode/variation-selectors" ||
         rule == "unicode/invisible-characters" || rule == "unicode/bidi-control";
}

}  // namespace

namespace {

// Expands shell-style braces: "a{b,c/d}e" -> "abe", "ac/de". Nested braces
// work; the number of results is capped.
void ExpandBraces(const std::string& pattern, std::vector<std::string>* out) {
  if (out->size() >= 512) return;
  const size_t open = pattern.find('{');
  if (open == std::string::npos) {
    out->push_back(pattern);
    return;
  }
  int depth = 0;
  size_t close = std::string::npos;
  std::vector<size_t> commas;
  for (size_t i = open; i < pattern.size(); ++i) {
    if (pattern[i] == '{') ++depth;
    if (pattern[i] == '}' && --depth == 0) {
      close = i;
      break;
    }
    if (pattern[i] == ',' && depth == 1) commas.push_back(i);
  }
  if (close == std::string::npos) {
    out->push_back(pattern);  // unbalanced: taken literally
    return;
  }
  const std::string head = pattern.substr(0, open);
  const std::string tail = pattern.substr(close + 1);
  size_t start = open + 1;
  commas.push_back(close);
  for (size_t c : commas) {
    ExpandBraces(head + pattern.substr(start, c - start) + tail, out);
    start = c + 1;
  }
}

bool SplitMatches(std::string_view pattern, const std::vector<std::string>& segments) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= pattern.size()) {
    const size_t slash = pattern.find('/', start);
    const size_t end = slash == std::string_view::npos ? pattern.size() : slash;
    parts.emplace_back(pattern.substr(start, end - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  // Backtracking match with "**" spanning any number of segments.
  std::function<bool(size_t, size_t)> match = [&](size_t pi, size_t si) -> bool {
    if (pi == parts.size()) return si == segments.size();
    if (parts[pi] == "**") {
      for (size_t k = si; k <= segments.size(); ++k) {
        if (match(pi + 1, k)) return true;
      }
      return false;
    }
    if (si == segments.size()) return false;
    if (!GlobMatch(parts[pi], segments[si])) return false;
    return match(pi + 1, si + 1);
  };
  return match(0, 0);
}

}  // namespace

bool KeyPathMatches(std::string_view pattern, const std::vector<std::string>& segments) {
  std::vector<std::string> expanded;
  ExpandBraces(std::string(pattern), &expanded);
  for (const std::string& p : expanded) {
    if (SplitMatches(p, segments)) return true;
  }
  return false;
}

struct AgentConfigScanner::Impl {
  std::vector<AgentConfigRule> rules;
  // Compiled on the first agent file a scan meets (most scans meet none).
  std::once_flag compiled;
  std::vector<std::unique_ptr<RE2>> value_res;  // per rule; null when the rule has none
  std::vector<std::unique_ptr<RE2>> line_res;
  // Compiles every rule's regexes; a rule whose regex fails gets none and
  // never matches (Create checks them first unless told not to).
  void Compile() {
    std::call_once(compiled, [this] {
      RE2::Options options;
      options.set_log_errors(false);
      for (const AgentConfigRule& r : rules) {
        auto make = [&](const std::string& pattern) {
          auto re = pattern.empty() ? nullptr : std::make_unique<RE2>(pattern, options);
          return re && re->ok() ? std::move(re) : nullptr;
        };
        value_res.push_back(make(r.value));
        line_res.push_back(make(r.line));
      }
    });
  }
  std::vector<std::string> all_files;  // union of the rules' globs
  // A cheap first test for Applies(), which runs on every scanned file: the
  // file name against the globs' last components, or a folder named in a
  // "dir/**" glob. Only a file that passes is matched against all_files.
  // Hashed, looked up by string_view: a tree's string comparisons cost a
  // memcmp call each, on every scanned file.
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_set<std::string, NameHash, std::equal_to<>> literal_names;
  std::vector<std::string> wildcard_names;
  // Wildcard names that are "*" and a literal ("*.code-workspace"): a name
  // matches when it ends with the literal (what fnmatch would say, without
  // its two string copies per file).
  std::vector<std::string> suffix_names;
  std::vector<std::string> folder_prefixes;    // ".cursor/rules/"
  std::array<bool, 256> prefix_first_bytes{};  // first bytes of folder_prefixes
  bool empty_folder_prefix = false;            // a "**/x" glob: every path is a candidate
};

AgentConfigScanner::AgentConfigScanner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AgentConfigScanner::~AgentConfigScanner() = default;
const std::vector<AgentConfigRule>& AgentConfigScanner::rules() const { return impl_->rules; }

Result<std::shared_ptr<const AgentConfigScanner>> AgentConfigScanner::Create(
    std::vector<AgentConfigRule> rules, bool check_regexes) {
  auto impl = std::make_unique<Impl>();
  RE2::Options options;
  options.set_log_errors(false);
  for (const AgentConfigRule& r : rules) {
    for (const auto& [pattern, field] :
         {std::pair{&r.value, "value"}, std::pair{&r.line, "line"}}) {
      if (!check_regexes || pattern->empty()) continue;
      RE2 re(*pattern, options);
      if (!re.ok()) {
        return Status::Error(
            fmt::format("{}: rule {}: invalid '{}' regex: {}", r.source, r.id, field, re.error()));
      }
    }
    for (const std::string& f : r.files) {
      if (std::find(impl->all_files.begin(), impl->all_files.end(), f) == impl->all_files.end()) {
        impl->all_files.push_back(f);
      }
    }
  }
  for (const std::string& g : impl->all_files) {
    const size_t star2 = g.find("**");
    if (star2 != std::string::npos) {
      impl->folder_prefixes.push_back(g.substr(0, star2));
      continue;
    }
    const size_t slash = g.find_last_of('/');
    const std::string name = slash == std::string::npos ? g : g.substr(slash + 1);
    const std::string dir = slash == std::string::npos ? "" : g.substr(0, slash + 1);
    if (name.find_first_of("*?[") == std::string::npos) {
      impl->literal_names.insert(name);
    } else if (!dir.empty() && dir.find_first_of("*?[") == std::string::npos) {
      impl->folder_prefixes.push_back(dir);  // ".continue/models/*": the folder decides
    } else if (name.size() > 1 && name[0] == '*' &&
               name.find_first_of("*?[\\", 1) == std::string::npos) {
      impl->suffix_names.push_back(name.substr(1));
    } else {
      impl->wildcard_names.push_back(name);
    }
  }
  for (const std::string& prefix : impl->folder_prefixes) {
    if (prefix.empty()) {
      impl->empty_folder_prefix = true;
    } else {
      impl->prefix_first_bytes[static_cast<unsigned char>(prefix[0])] = true;
    }
  }
  impl->rules = std::move(rules);
  return std::shared_ptr<const AgentConfigScanner>(new AgentConfigScanner(std::move(impl)));
}

bool AgentConfigScanner::Applies(std::string_view path) const {
  const size_t slash = path.find_last_of('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  bool candidate = impl_->literal_names.count(name) != 0;
  for (size_t i = 0; !candidate && i < impl_->suffix_names.size(); ++i) {
    const std::string& suffix = impl_->suffix_names[i];
    candidate = name.size() >= suffix.size() &&
                name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  }
  for (size_t i = 0; !candidate && i < impl_->wildcard_names.size(); ++i) {
    candidate = GlobMatch(impl_->wildcard_names[i], name);
  }
  // A folder prefix counts at the start of any path component. Components
  // whose first byte starts no prefix (almost all of them: the prefixes are
  // dot-folders) cost one table lookup.
  for (size_t pos = 0; !candidate && !impl_->folder_prefixes.empty();) {
    if (impl_->prefix_first_bytes[static_cast<unsigned char>(pos < path.size() ? path[pos]
                                                                               : '\0')] ||
        impl_->empty_folder_prefix) {
      const std::string_view component = path.substr(pos);
      for (const std::string& prefix : impl_->folder_prefixes) {
        if (component.substr(0, prefix.size()) == prefix) {
          candidate = true;
          break;
        }
      }
    }
    const size_t next = path.find('/', pos);
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  return candidate && PathMatchesAny(impl_->all_files, path);
}

namespace {

// A finding of `rule` on text[offset, offset + length), clamped to the text.
void Emit(const AgentConfigRule& rule, std::string_view text, size_t offset, size_t length,
          std::string message, std::vector<Finding>* out) {
  Finding& f = out->emplace_back();
  f.rule = rule.id;
  f.severity = rule.severity;
  f.byte_offset = std::min(offset, text.size());
  f.byte_length = std::min(length, text.size() - f.byte_offset);
  f.message = std::move(message);
}

// A hidden_text rule: the hidden-text findings of the file, under its id.
void AddHiddenTextFindings(const AgentConfigRule& rule,
                           const std::vector<Finding>& unicode_findings,
                           std::vector<Finding>* out) {
  for (const Finding& u : unicode_findings) {
    if (!IsHiddenTextRule(u.rule) || u.severity < Severity::kLow) continue;
    Finding& f = out->emplace_back();
    f.rule = rule.id;
    f.severity = rule.severity;
    f.byte_offset = u.byte_offset;
    f.byte_length = u.byte_length;
    f.codepoints = u.codepoints;
    f.decoded = u.decoded;
    f.message = Fill(rule.message, u.rule, u.decoded);
  }
}

// A line rule: the first match of `re` on each line.
void AddLineFindings(const AgentConfigRule& rule, const RE2& re, std::string_view text,
                     std::vector<Finding>* out) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    re2::StringPiece m;
    if (re.Match(re2::StringPiece(line.data(), line.size()), 0, line.size(), RE2::UNANCHORED, &m,
                 1)) {
      const size_t at = start + static_cast<size_t>(m.data() - line.data());
      Emit(rule, text, at, m.size(), Fill(rule.message, "", std::string_view(m.data(), m.size())),
           out);
    }
    if (end == text.size()) break;
    start = end + 1;
  }
}

// A key rule: each key path it names once, with its value matching value_re
// when there is one. Values first, so that a rule without a value pattern
// quotes the value.
void AddKeyFindings(const AgentConfigRule& rule, const RE2* value_re,
                    const std::vector<Entry>& entries, std::string_view text,
                    std::vector<Finding>* out) {
  std::set<std::vector<std::string>> reported;
  for (int pass = 0; pass < 2; ++pass) {
    for (const Entry& e : entries) {
      if (e.is_key != (pass == 1)) continue;
      if (reported.count(e.segments) != 0) continue;
      if (!KeyPathMatches(rule.key, e.segments)) continue;
      if (value_re != nullptr && (e.is_key || !RE2::PartialMatch(e.value, *value_re))) continue;
      reported.insert(e.segments);
      std::string key;
      for (const std::string& s : e.segments) key += (key.empty() ? "" : ".") + s;
      Emit(rule, text, e.offset, 1, Fill(rule.message, key, e.value), out);
    }
  }
}

}  // namespace

void AgentConfigScanner::Scan(std::string_view path, std::string_view text,
                              const std::vector<Finding>& unicode_findings,
                              std::vector<Finding>* out) const {
  impl_->Compile();
  const Format format = FormatOf(path);
  std::vector<Entry> entries;
  bool parsed = false;
  std::string parse_error;
  for (size_t r = 0; r < impl_->rules.size(); ++r) {
    const AgentConfigRule& rule = impl_->rules[r];
    if (!PathMatchesAny(rule.files, path)) continue;
    if (rule.hidden_text) {
      AddHiddenTextFindings(rule, unicode_findings, out);
      continue;
    }
    if (!rule.line.empty()) {
      if (impl_->line_res[r]) AddLineFindings(rule, *impl_->line_res[r], text, out);
      continue;
    }
    if (rule.key.empty() || format == Format::kText) continue;
    if (!parsed) {
      parsed = true;
      Status st = Flatten(format, text, &entries);
      if (!st.ok()) {
        parse_error = st.message();
        Finding& f = out->emplace_back();
        f.rule = "agent-config/unparsable";
        f.severity = Severity::kMedium;
        f.message = fmt::format(
            "agent settings file is not valid {} ({}); glassbox could not check it, and agents "
            "may read it anyway",
            FormatName(format), parse_error);
      }
    }
    if (!parse_error.empty()) continue;
    const RE2* value_re = impl_->value_res[r].get();
    if (value_re == nullptr && !rule.value.empty()) continue;  // failed to compile
    AddKeyFindings(rule, value_re, entries, text, out);
  }
}

// ---------------------------------------------------------------- built-in rules

// Generated at build time by glassbox_agent_rulegen (agent_rulegen.cc).
std::string_view PrecompiledAgentConfigRules();

Result<std::vector<AgentConfigRule>> BuiltinAgentConfigRules() {
  return DecodeAgentConfigRules(PrecompiledAgentConfigRules());
}

}  // namespace glassbox::scan
