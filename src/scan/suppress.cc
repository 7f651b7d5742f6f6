#include "scan/suppress.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <tuple>

#include "core/json_strings.h"
#include "core/json_writer.h"
#include "scan/atomic_file.h"

namespace glassbox::scan {

bool RuleMatches(std::string_view spec, std::string_view rule) {
  if (spec == rule || spec == "*" || spec == "all") return true;
  if (spec.size() >= 2 && spec.substr(spec.size() - 2) == "/*") spec.remove_suffix(2);
  return rule.size() > spec.size() && rule.compare(0, spec.size(), spec) == 0 &&
         rule[spec.size()] == '/';
}

namespace {

bool LineSuppresses(std::string_view line, std::string_view rule) {
  static constexpr std::string_view kMarker = "glassbox:ignore";
  const size_t at = line.find(kMarker);
  if (at == std::string_view::npos) return false;
  std::string_view rest = line.substr(at + kMarker.size());
  // The list runs to the end of the line or a comment closer.
  for (std::string_view closer : {"*/", "-->", "#}"}) {
    const size_t c = rest.find(closer);
    if (c != std::string_view::npos) rest = rest.substr(0, c);
  }
  bool any = false;
  size_t i = 0;
  while (i < rest.size()) {
    while (i < rest.size() &&
           (rest[i] == ' ' || rest[i] == ',' || rest[i] == '\t' || rest[i] == ':'))
      ++i;
    size_t j = i;
    while (j < rest.size() && rest[j] != ' ' && rest[j] != ',' && rest[j] != '\t' &&
           rest[j] != '\r')
      ++j;
    if (j == i) break;
    const std::string_view spec = rest.substr(i, j - i);
    // Stop at the first word that is not a rule spec (prose after the list).
    const bool looks_like_rule = spec.find('/') != std::string_view::npos || spec == "unicode" ||
                                 spec == "secret" || spec == "agent-config" || spec == "provenance";
    if (!looks_like_rule) break;
    any = true;
    if (RuleMatches(spec, rule)) return true;
    i = j;
  }
  return !any;
}

}  // namespace

bool InlineSuppressed(std::string_view text, const Finding& f) {
  const size_t off = std::min<size_t>(f.byte_offset, text.size());
  const size_t nl = off == 0 ? std::string_view::npos : text.rfind('\n', off - 1);
  const size_t begin = nl == std::string_view::npos ? 0 : nl + 1;
  size_t end = text.find('\n', off);
  if (end == std::string_view::npos) end = text.size();
  if (LineSuppresses(text.substr(begin, std::min<size_t>(end - begin, 4096)), f.rule)) return true;
  if (begin == 0) return false;
  const size_t pnl = begin >= 2 ? text.rfind('\n', begin - 2) : std::string_view::npos;
  const size_t pbegin = pnl == std::string_view::npos ? 0 : pnl + 1;
  return LineSuppresses(text.substr(pbegin, std::min<size_t>(begin - 1 - pbegin, 4096)), f.rule);
}

InlineSuppressor::InlineSuppressor(std::string_view text)
    : text_(text),
      any_marker_(text.find("glassbox:ignore") != std::string_view::npos),
      cursor_(text) {}

bool InlineSuppressor::Suppressed(const Finding& f) {
  if (!any_marker_) return false;
  const LineCursor::Line line = cursor_.Seek(std::min<size_t>(f.byte_offset, text_.size()));
  size_t end = line.end;
  if (end < text_.size() && text_[end] == '\r') ++end;  // LineSuppresses stops at '\r' itself
  if (LineSuppresses(text_.substr(line.begin, std::min<size_t>(end - line.begin, 4096)), f.rule))
    return true;
  if (line.begin == 0) return false;
  if (cached_begin_ != line.begin) {
    // Once per line: where the line before it starts.
    const size_t pnl = line.begin >= 2 ? text_.rfind('\n', line.begin - 2) : std::string_view::npos;
    cached_prev_begin_ = pnl == std::string_view::npos ? 0 : pnl + 1;
    cached_begin_ = line.begin;
  }
  return LineSuppresses(
      text_.substr(cached_prev_begin_, std::min<size_t>(line.begin - 1 - cached_prev_begin_, 4096)),
      f.rule);
}

Result<Baseline> Baseline::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::Error(fmt::format("{}: cannot read baseline: {}", path, std::strerror(errno)));
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  Baseline b;
  bool versioned = false;
  Status st = ForEachJsonString(text, [&](const JsonStringVisit& v) {
    if (v.is_key) return;
    if (v.path.size() > 12 && v.path.compare(v.path.size() - 12, 12, ".fingerprint") == 0) {
      b.fingerprints_.insert(std::string(v.decoded));
    }
    if (v.path == "$.tool" && v.decoded == "glassbox-baseline") versioned = true;
  });
  if (!st.ok())
    return Status::Error(fmt::format("{}: not a glassbox baseline: {}", path, st.message()));
  if (!versioned)
    return Status::Error(
        fmt::format("{}: not a glassbox baseline (no \"tool\": \"glassbox-baseline\")", path));
  return b;
}

Status Baseline::Write(const std::string& path, const std::vector<Finding>& findings) {
  std::vector<const Finding*> sorted;
  for (const Finding& f : findings) sorted.push_back(&f);
  std::sort(sorted.begin(), sorted.end(), [](const Finding* a, const Finding* b) {
    return std::tie(a->path, a->rule, a->fingerprint) < std::tie(b->path, b->rule, b->fingerprint);
  });
  std::ostringstream out;
  JsonWriter w(out, true);
  w.BeginObject();
  w.Field("tool", "glassbox-baseline");
  w.FieldUint("version", 1);
  w.Key("findings").BeginArray();
  std::string last;
  for (const Finding* f : sorted) {
    if (f->fingerprint == last) continue;
    last = f->fingerprint;
    w.BeginObject()
        .Field("fingerprint", f->fingerprint)
        .Field("rule", f->rule)
        .Field("path", f->path)
        .EndObject();
  }
  w.EndArray();
  w.EndObject();
  out << "\n";
  Status st = WriteFileAtomically(path, out.str());
  if (!st.ok()) return Status::Error("cannot write baseline: " + st.message());
  return Status::Ok();
}

}  // namespace glassbox::scan
