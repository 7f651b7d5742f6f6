#include "probe/diff.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <set>

#include "core/json_writer.h"
#include "core/unicode.h"
#include "core/utf.h"

namespace glassbox::probe {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// "api.example.com:443" -> "api.example.com"; "[::1]:80" -> "::1".
std::string HostWithoutPort(std::string_view host) {
  if (!host.empty() && host[0] == '[') {
    size_t close = host.find(']');
    return Lower(host.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
  }
  size_t colon = host.find(':');
  if (colon != std::string_view::npos && host.find(':', colon + 1) == std::string_view::npos) {
    host = host.substr(0, colon);
  }
  return Lower(host);
}

struct ParsedUrl {
  std::string host;
  std::string path;  // without query, "" or starting with '/'
};

// Splits "scheme://host[:port]/path?query" without validating more than that.
std::optional<ParsedUrl> ParseHttpUrl(std::string_view url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  std::string scheme = Lower(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") return std::nullopt;
  std::string_view rest = url.substr(scheme_end + 3);
  size_t path_start = rest.find_first_of("/?#");
  ParsedUrl parsed;
  std::string_view authority = rest.substr(0, path_start);
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) authority = authority.substr(at + 1);
  parsed.host = HostWithoutPort(authority);
  if (path_start != std::string_view::npos && rest[path_start] == '/') {
    std::string_view path = rest.substr(path_start);
    parsed.path = std::string(path.substr(0, path.find_first_of("?#")));
  }
  while (!parsed.path.empty() && parsed.path.back() == '/') parsed.path.pop_back();
  return parsed;
}

bool IsBaseUrlVariable(std::string_view name) {
  return name.find("BASE_URL") != std::string_view::npos || name.ends_with("_API_BASE") ||
         name.ends_with("_ENDPOINT");
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool IsPlainKey(std::string_view key) {
  if (key.empty()) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || u == '_' || u == '-' || u == '$' || u == '@';
  });
}

void FlattenJson(const boost::json::value& v, std::string& path, std::map<std::string, std::string>& out) {
  switch (v.kind()) {
    case boost::json::kind::object: {
      const auto& obj = v.get_object();
      if (obj.empty()) {
        out["body " + (path.empty() ? std::string(".") : path)] = "{}";
        return;
      }
      for (const auto& member : obj) {
        size_t mark = path.size();
        std::string_view key(member.key().data(), member.key().size());
        if (IsPlainKey(key)) {
          path += '.';
          path += key;
        } else {
          std::string quoted;
          JsonWriter::Escape(key, &quoted);
          path += "[" + quoted + "]";
        }
        FlattenJson(member.value(), path, out);
        path.resize(mark);
      }
      return;
    }
    case boost::json::kind::array: {
      const auto& arr = v.get_array();
      if (arr.empty()) {
        out["body " + (path.empty() ? std::string(".") : path)] = "[]";
        return;
      }
      for (size_t i = 0; i < arr.size(); ++i) {
        size_t mark = path.size();
        path += fmt::format("[{}]", i);
        FlattenJson(arr[i], path, out);
        path.resize(mark);
      }
      return;
    }
    case boost::json::kind::string: {
      const auto& s = v.get_string();
      out["body " + (path.empty() ? std::string(".") : path)] = std::string(s.data(), s.size());
      return;
    }
    default:
      out["body " + (path.empty() ? std::string(".") : path)] = boost::json::serialize(v);
      return;
  }
}

// The path prefix of a provider's official base URL.
std::string CanonicalBasePath(std::string_view variable) { return variable == "OPENAI_BASE_URL" ? "/v1" : ""; }

bool IsHopByHop(std::string_view lower_name) {
  static const std::set<std::string_view> kSkip = {"connection", "proxy-connection", "keep-alive", "te",
                                                   "transfer-encoding", "upgrade", "trailer", "content-length"};
  return kSkip.count(lower_name) > 0;
}

bool IsWordCp(char32_t cp) {
  if (cp < 0x80) return std::isalnum(static_cast<int>(cp)) != 0;
  if (cp >= 0xD800 && cp <= 0xDFFF) return false;
  return UnicodeData::IsLetterOrMark(cp) || UnicodeData::IsWordChar(cp);
}

}  // namespace

std::vector<RequestFields> FlattenRun(const RunCapture& run, const Cell& cell) {
  // Base URLs of this cell, by host.
  struct Base {
    std::string variable, host, path;
  };
  std::vector<Base> bases;
  for (const auto& [var, value] : cell.env) {
    if (!IsBaseUrlVariable(var)) continue;
    if (auto url = ParseHttpUrl(value)) bases.push_back({var, url->host, url->path});
  }
  // The official hosts count as provider hosts even when a cell unsets or
  // moves the variable (the agent then falls back to them).
  bases.push_back({"ANTHROPIC_BASE_URL", "api.anthropic.com", ""});
  bases.push_back({"OPENAI_BASE_URL", "api.openai.com", "/v1"});
  bases.push_back({"GOOGLE_GEMINI_BASE_URL", "generativelanguage.googleapis.com", ""});

  std::vector<RequestFields> out;
  std::map<std::string, int> occurrences;
  for (const auto& req : run.requests) {
    RequestFields rf;
    if (Lower(req.method) == "connect") {
      rf.is_tunnel = true;
      rf.host = HostWithoutPort(req.target);
      rf.key = rf.location = fmt::format("CONNECT {}", req.target);
      out.push_back(std::move(rf));
      continue;
    }
    std::string_view target = req.target;
    std::string host = HostWithoutPort(req.host.empty() ? req.sni : req.host);
    std::string path_and_query(target);
    if (auto abs = ParseHttpUrl(target)) {
      if (host.empty()) host = abs->host;
      size_t scheme_end = target.find("://");
      size_t slash = target.find_first_of("/?", scheme_end + 3);
      path_and_query = slash == std::string_view::npos ? "/" : std::string(target.substr(slash));
    }
    if (host.empty()) host = req.dest_ip;
    rf.host = host;
    std::string path = path_and_query.substr(0, path_and_query.find('?'));
    std::string query = path_and_query.find('?') == std::string::npos
                            ? std::string()
                            : path_and_query.substr(path_and_query.find('?') + 1);

    const Base* best = nullptr;
    for (const auto& base : bases) {
      if (base.host != host) continue;
      if (!base.path.empty() && !(path == base.path || path.starts_with(base.path + "/"))) continue;
      if (!best || base.path.size() > best->path.size() ||
          (base.path.size() == best->path.size() && base.variable < best->variable)) {
        best = &base;
      }
    }
    // A provider request is keyed by its path as the official API spells
    // it: the cell's base path is replaced by the official one, so
    // https://openrouter.ai/api/v1/messages and https://api.anthropic.com/v1/
    // messages align, whichever base-URL variable the host matched.
    rf.to_base_url = best != nullptr;
    std::string key_path = best ? CanonicalBasePath(best->variable) + path.substr(best->path.size())
                                : fmt::format("{}{}", host, path);
    if (key_path.empty()) key_path = "/";
    std::string base_key = fmt::format("{} {}", req.method, key_path);
    int n = ++occurrences[base_key];
    rf.key = n == 1 ? base_key : fmt::format("{} #{}", base_key, n);
    rf.location = rf.key;

    rf.fields["request"] = "present";
    if (!query.empty()) {
      std::map<std::string, int> seen;
      size_t start = 0;
      while (start <= query.size()) {
        size_t amp = query.find('&', start);
        std::string_view param = std::string_view(query).substr(start, amp == std::string::npos ? std::string::npos : amp - start);
        if (!param.empty()) {
          size_t eq = param.find('=');
          std::string name = PercentDecode(param.substr(0, eq));
          std::string value = eq == std::string_view::npos ? std::string() : PercentDecode(param.substr(eq + 1));
          int k = ++seen[name];
          rf.fields[k == 1 ? "query " + name : fmt::format("query {} #{}", name, k)] = value;
        }
        if (amp == std::string::npos) break;
        start = amp + 1;
      }
    }
    for (const auto& [name, value] : req.headers) {
      std::string lower = Lower(name);
      if (IsHopByHop(lower)) continue;
      std::string field = "header " + lower;
      auto it = rf.fields.find(field);
      if (it == rf.fields.end()) {
        rf.fields[field] = value;
      } else {
        it->second += ", " + value;
      }
    }
    if (!req.body.empty()) {
      boost::system::error_code ec;
      boost::json::parse_options options;
      options.max_depth = 256;
      boost::json::value doc = boost::json::parse(req.body, ec, {}, options);
      if (!ec && (doc.is_object() || doc.is_array())) {
        std::string json_path;
        FlattenJson(doc, json_path, rf.fields);
      } else {
        rf.fields["body"] = req.body;
      }
    }
    out.push_back(std::move(rf));
  }

  RequestFields process;
  process.key = "process";
  process.location = "process";
  process.fields["request"] = "present";
  process.fields["exit status"] = run.timed_out ? "timeout"
                                  : run.exit_code > 128 ? fmt::format("signal {}", run.exit_code - 128)
                                                        : fmt::format("{}", run.exit_code);
  out.push_back(std::move(process));
  return out;
}

std::vector<AlignedField> AlignRuns(const Matrix& matrix, const std::vector<std::vector<RunCapture>>& runs) {
  const size_t cells = std::min(matrix.cells.size(), runs.size());
  // flat[c][r]: key -> fields
  std::vector<std::vector<std::map<std::string, RequestFields>>> flat(cells);
  std::map<std::pair<std::string, std::string>, std::string> locations;  // (key, field) -> location
  for (size_t c = 0; c < cells; ++c) {
    for (const auto& run : runs[c]) {
      std::map<std::string, RequestFields> by_key;
      for (auto& rf : FlattenRun(run, matrix.cells[c])) {
        if (rf.is_tunnel) continue;
        for (const auto& [field, value] : rf.fields) locations.emplace(std::make_pair(rf.key, field), rf.location);
        std::string key = rf.key;
        by_key.emplace(std::move(key), std::move(rf));
      }
      flat[c].push_back(std::move(by_key));
    }
  }
  std::vector<AlignedField> out;
  out.reserve(locations.size());
  for (const auto& [kf, location] : locations) {
    AlignedField af;
    af.key = kf.first;
    af.field = kf.second;
    af.location = location;
    af.values.resize(cells);
    af.request_present.resize(cells);
    for (size_t c = 0; c < cells; ++c) {
      for (const auto& by_key : flat[c]) {
        auto it = by_key.find(af.key);
        af.request_present[c].push_back(it != by_key.end());
        std::optional<std::string> value;
        if (it != by_key.end()) {
          auto f = it->second.fields.find(af.field);
          if (f != it->second.fields.end()) value = f->second;
        }
        af.values[c].push_back(std::move(value));
      }
    }
    out.push_back(std::move(af));
  }
  return out;
}

std::string FieldLocation(const AlignedField& field) {
  if (field.field == "request") return field.location;
  return fmt::format("{} {}", field.location, field.field);
}

std::u32string DecodeForDiff(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  size_t i = 0;
  while (i < text.size()) {
    size_t len = 1;
    int32_t cp = utf::DecodeOne(p + i, text.size() - i, &len);
    if (cp < 0) {
      for (size_t k = 0; k < len; ++k) out.push_back(0xDC00 + p[i + k]);
    } else {
      out.push_back(static_cast<char32_t>(cp));
    }
    i += len;
  }
  return out;
}

std::string EncodeFromDiff(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : text) {
    if (cp >= 0xDC80 && cp <= 0xDCFF) {
      out.push_back(static_cast<char>(cp - 0xDC00));
    } else {
      utf::AppendUtf8(cp, &out);
    }
  }
  return out;
}

std::vector<ChangedSpan> DiffCodePoints(std::u32string_view a, std::u32string_view b, size_t max_edits) {
  size_t prefix = 0;
  while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) ++prefix;
  size_t suffix = 0;
  while (suffix < a.size() - prefix && suffix < b.size() - prefix && a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix]) {
    ++suffix;
  }
  if (prefix == a.size() && prefix == b.size()) return {};
  std::u32string_view A = a.substr(prefix, a.size() - prefix - suffix);
  std::u32string_view B = b.substr(prefix, b.size() - prefix - suffix);
  const ChangedSpan whole{prefix, prefix + A.size(), prefix, prefix + B.size()};
  if (A.empty() || B.empty()) return {whole};

  const long n = static_cast<long>(A.size());
  const long m = static_cast<long>(B.size());
  const long max = std::min<long>(n + m, static_cast<long>(max_edits));
  const long offset = max + 1;
  std::vector<long> v(static_cast<size_t>(2 * max + 3), 0);
  std::vector<std::vector<long>> trace;
  long found_d = -1;
  for (long d = 0; d <= max && found_d < 0; ++d) {
    trace.push_back(v);
    for (long k = -d; k <= d; k += 2) {
      long x = (k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1])) ? v[offset + k + 1]
                                                                               : v[offset + k - 1] + 1;
      long y = x - k;
      while (x < n && y < m && A[x] == B[y]) ++x, ++y;
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found_d = d;
        break;
      }
    }
  }
  if (found_d < 0) return {whole};

  // Backtrack into per-position edit marks.
  std::vector<bool> a_changed(A.size(), false), b_changed(B.size(), false);
  long x = n, y = m;
  for (long d = found_d; d > 0; --d) {
    const auto& pv = trace[static_cast<size_t>(d)];
    long k = x - y;
    long prev_k = (k == -d || (k != d && pv[offset + k - 1] < pv[offset + k + 1])) ? k + 1 : k - 1;
    long prev_x = pv[offset + prev_k];
    long prev_y = prev_x - prev_k;
    while (x > prev_x && y > prev_y) --x, --y;
    if (x == prev_x) {
      b_changed[static_cast<size_t>(prev_y)] = true;
    } else {
      a_changed[static_cast<size_t>(prev_x)] = true;
    }
    x = prev_x;
    y = prev_y;
  }
  // Walk both sequences: unchanged positions pair up in order.
  std::vector<ChangedSpan> spans;
  size_t i = 0, j = 0;
  while (i < A.size() || j < B.size()) {
    if (i < A.size() && j < B.size() && !a_changed[i] && !b_changed[j]) {
      ++i, ++j;
      continue;
    }
    ChangedSpan span{prefix + i, prefix + i, prefix + j, prefix + j};
    while (i < A.size() && a_changed[i]) ++i;
    while (j < B.size() && b_changed[j]) ++j;
    span.a_end = prefix + i;
    span.b_end = prefix + j;
    spans.push_back(span);
  }
  return spans;
}

std::vector<ChangedSpan> WidenToWords(std::u32string_view a, std::u32string_view b, std::vector<ChangedSpan> spans) {
  for (auto& s : spans) {
    while (s.a_begin > 0 && s.b_begin > 0 && a[s.a_begin - 1] == b[s.b_begin - 1] && IsWordCp(a[s.a_begin - 1])) {
      --s.a_begin, --s.b_begin;
    }
    while (s.a_end < a.size() && s.b_end < b.size() && a[s.a_end] == b[s.b_end] && IsWordCp(a[s.a_end])) {
      ++s.a_end, ++s.b_end;
    }
  }
  std::vector<ChangedSpan> merged;
  for (const auto& s : spans) {
    if (!merged.empty() && s.a_begin <= merged.back().a_end && s.b_begin <= merged.back().b_end) {
      merged.back().a_end = std::max(merged.back().a_end, s.a_end);
      merged.back().b_end = std::max(merged.back().b_end, s.b_end);
    } else {
      merged.push_back(s);
    }
  }
  return merged;
}

}  // namespace glassbox::probe
