#include "probe/diff.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <iterator>
#include <memory>
#include <set>

#include "core/content_encoding.h"
#include "core/json_writer.h"
#include "core/unicode.h"
#include "core/utf.h"
#include "net/fake_provider.h"

namespace glassbox::probe {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

// "api.example.com:443" -> "api.example.com"; "[::1]:80" -> "::1".
std::string HostWithoutPort(std::string_view host) {
  if (!host.empty() && host[0] == '[') {
    size_t close = host.find(']');
    return Lower(
        host.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
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
  if (size_t at = authority.rfind('@'); at != std::string_view::npos)
    authority = authority.substr(at + 1);
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

// The path prefix of a provider's official base URL.
std::string CanonicalBasePath(std::string_view variable) {
  return variable == "OPENAI_BASE_URL" ? "/v1" : "";
}

bool IsHopByHop(std::string_view lower_name) {
  static const std::set<std::string_view> kSkip = {"connection", "proxy-connection",  "keep-alive",
                                                   "te",         "transfer-encoding", "upgrade",
                                                   "trailer",    "content-length"};
  return kSkip.count(lower_name) > 0;
}

bool IsWordCp(char32_t cp) {
  if (cp < 0x80) return std::isalnum(static_cast<int>(cp)) != 0;
  if (cp >= 0xD800 && cp <= 0xDFFF) return false;
  return UnicodeData::IsLetterOrMark(cp) || UnicodeData::IsWordChar(cp);
}

}  // namespace

namespace {

// A provider's base URL in one cell: requests to its host under its path are
// provider requests, keyed by the path under the official base URL.
struct Base {
  std::string variable, host, path;
};

std::vector<Base> BasesOf(const Cell& cell) {
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
  return bases;
}

// The path under the official base URL of a provider API call at any host
// and under any base path ("/compatible-mode/v1/chat/completions" ->
// "/v1/chat/completions"), as the fake provider recognises it; "" when the
// request is not an API client's call of a known API.
std::string OfficialApiPath(std::string_view method, const std::string& path,
                            const std::vector<std::pair<std::string, std::string>>& headers) {
  const std::string route = net::ApiRoute(method, path, headers);
  if (route == "other" || !net::IsApiClient(headers)) return "";
  size_t at = std::string::npos;
  std::string prefix = "/v1";
  if (route.starts_with("anthropic.")) {
    at = route == "anthropic.models" ? path.rfind("/models") : path.rfind("/messages");
  } else if (route.starts_with("openai.")) {
    for (const char* tail :
         {"/chat/completions", "/completions", "/responses", "/embeddings", "/models"}) {
      if (path.ends_with(tail)) {
        at = path.size() - std::string_view(tail).size();
        break;
      }
    }
  } else if (route.starts_with("gemini.")) {
    at = path.rfind("/models");
    prefix = "/v1beta";
  }
  if (at == std::string::npos) return "";
  return prefix + path.substr(at);
}

// A decoded body larger than this is compared as sent.
constexpr size_t kMaxDecodedBody = 32u << 20;

// A request reduced to its key and its non-body fields; the body as sent,
// its Content-Encoding undone.
struct Reduced {
  RequestFields rf;  // key: the base key ("POST /v1/messages"), without " #2"
  std::string body;
};

Reduced ReduceRequest(const CapturedRequest& req, const std::vector<Base>& bases) {
  Reduced out;
  RequestFields& rf = out.rf;
  if (Lower(req.method) == "connect") {
    rf.is_tunnel = true;
    rf.host = HostWithoutPort(req.target);
    rf.key = rf.location = fmt::format("CONNECT {}", req.target);
    return out;
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
  // messages align, whichever base-URL variable the host matched. A call of
  // a provider's API at a host of the agent's own choosing (its default
  // when no base URL is set: DashScope's /compatible-mode/v1/...) is one too.
  const std::string api_path =
      best ? std::string() : OfficialApiPath(req.method, path, req.headers);
  rf.to_base_url = best != nullptr || !api_path.empty();
  std::string key_path = best ? CanonicalBasePath(best->variable) + path.substr(best->path.size())
                         : !api_path.empty() ? api_path
                                             : fmt::format("{}{}", host, path);
  if (key_path.empty()) key_path = "/";
  rf.key = fmt::format("{} {}", req.method, key_path);
  rf.location = rf.key;

  rf.fields["request"] = "present";
  if (!query.empty()) {
    std::map<std::string, int> seen;
    size_t start = 0;
    while (start <= query.size()) {
      size_t amp = query.find('&', start);
      std::string_view param = std::string_view(query).substr(
          start, amp == std::string::npos ? std::string::npos : amp - start);
      if (!param.empty()) {
        size_t eq = param.find('=');
        std::string name = PercentDecode(param.substr(0, eq));
        std::string value =
            eq == std::string_view::npos ? std::string() : PercentDecode(param.substr(eq + 1));
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
  if (!req.sni.empty()) rf.fields["tls sni"] = Lower(req.sni);
  out.body = req.body;
  // A compressed body is compared on what it says (the bytes of two zstd
  // streams of one text differ); one that does not decode stays as sent.
  if (auto enc = rf.fields.find("header content-encoding"); enc != rf.fields.end()) {
    DecodedContent decoded = DecodeContentEncoding(enc->second, req.body, kMaxDecodedBody);
    if (decoded.outcome == DecodedContent::Outcome::kDecoded) out.body = std::move(decoded.body);
  }
  return out;
}

std::optional<boost::json::value> ParseJsonBody(std::string_view body) {
  if (body.empty()) return std::nullopt;
  char first = 0;
  for (char c : body) {
    if (!std::isspace(static_cast<unsigned char>(c))) {
      first = c;
      break;
    }
  }
  if (first != '{' && first != '[') return std::nullopt;
  boost::system::error_code ec;
  boost::json::parse_options options;
  options.max_depth = 256;
  boost::json::value doc = boost::json::parse(body, ec, {}, options);
  if (ec) return std::nullopt;
  return doc;
}

void AppendKey(std::string& path, std::string_view key) {
  if (IsPlainKey(key)) {
    path += '.';
    path += key;
  } else {
    std::string quoted;
    JsonWriter::Escape(key, &quoted);
    path += "[" + quoted + "]";
  }
}

// "key" or "name" when every element of `arr` is an object carrying that
// member as a distinct string: such arrays are aligned by it.
const char* KeyMemberOf(const boost::json::array& arr) {
  if (arr.empty()) return nullptr;
  for (const char* member : {"key", "name"}) {
    std::set<std::string_view> seen;
    bool ok = true;
    for (const auto& e : arr) {
      const auto* obj = e.if_object();
      const boost::json::value* k = obj ? obj->if_contains(member) : nullptr;
      if (!k || !k->is_string() || !seen.insert(std::string_view(k->get_string())).second) {
        ok = false;
        break;
      }
    }
    if (ok) return member;
  }
  return nullptr;
}

std::string KeyedIndex(const char* member, std::string_view value) {
  bool plain = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || u == '_' || u == '-' || u == '.' || u == '/' || u == ':' || u == '@';
  });
  if (plain) return fmt::format("[{}={}]", member, value);
  std::string quoted;
  JsonWriter::Escape(value, &quoted);
  return fmt::format("[{}={}]", member, quoted);
}

bool SameKind(const boost::json::value& a, const boost::json::value& b) {
  auto kind = [](const boost::json::value& v) {
    if (v.is_number()) return 0;
    return static_cast<int>(v.kind()) + 1;
  };
  return kind(a) == kind(b);
}

bool IsSpaceByte(char c) {
  return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

std::vector<std::string_view> Words(std::string_view s) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && IsSpaceByte(s[i])) ++i;
    size_t j = i;
    while (j < s.size() && !IsSpaceByte(s[j])) ++j;
    if (j > i) words.push_back(s.substr(i, j - i));
    i = j;
  }
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
  return words;
}

// The larger of: the share of the longer string in their common prefix and
// suffix, and (for strings of moderate length) the share of words they have
// in common.
double StringSimilarity(std::string_view a, std::string_view b) {
  if (a == b) return 1.0;
  size_t longest = std::max(a.size(), b.size());
  if (longest == 0) return 1.0;
  size_t prefix = 0;
  while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) ++prefix;
  size_t suffix = 0;
  while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
         a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix]) {
    ++suffix;
  }
  double ends = static_cast<double>(prefix + suffix) / static_cast<double>(longest);
  if (ends >= 0.5 || longest > 4000) return ends;
  auto wa = Words(a), wb = Words(b);
  std::vector<std::string_view> common;
  std::set_intersection(wa.begin(), wa.end(), wb.begin(), wb.end(), std::back_inserter(common));
  size_t all = wa.size() + wb.size() - common.size();
  double words = all == 0 ? 0 : static_cast<double>(common.size()) / static_cast<double>(all);
  return std::max(ends, words);
}

// A cheap similarity for long arrays (telemetry batches): the share of
// top-level members with equal scalar values.
double ShallowSimilarity(const boost::json::value& a, const boost::json::value& b) {
  if (!SameKind(a, b)) return 0;
  if (!a.is_object())
    return a == b ? 1 : (a.is_string() ? StringSimilarity(a.get_string(), b.get_string()) : 0.5);
  const auto& x = a.get_object();
  const auto& y = b.get_object();
  size_t keys = 0, equal = 0;
  for (const auto& m : x) {
    ++keys;
    const auto* other = y.if_contains(m.key());
    if (other && !m.value().is_structured() && m.value() == *other) ++equal;
    if (other && m.value().is_structured() && other->is_structured()) ++equal;  // shape only
  }
  for (const auto& m : y) keys += !x.contains(m.key());
  return keys == 0 ? 1 : static_cast<double>(equal) / static_cast<double>(keys);
}

// Two values that could be one element of an array seen twice: same kind,
// and for objects the same "type" and "role".
bool Compatible(const boost::json::value& a, const boost::json::value& b) {
  if (!SameKind(a, b)) return false;
  if (!a.is_object()) return true;
  for (const char* discriminator : {"type", "role"}) {
    const auto* dx = a.get_object().if_contains(discriminator);
    const auto* dy = b.get_object().if_contains(discriminator);
    if ((dx == nullptr) != (dy == nullptr) || (dx && *dx != *dy)) return false;
  }
  return true;
}

// How alike two JSON values are, from 0 to 1: objects by the similarity of
// their members (a different "type" or "role" makes them unrelated), strings
// by their common prefix and suffix.
double JsonSimilarity(const boost::json::value& a, const boost::json::value& b, int depth) {
  if (!SameKind(a, b)) return 0;
  if (a == b) return 1;
  switch (a.kind()) {
    case boost::json::kind::string:
      return StringSimilarity(a.get_string(), b.get_string());
    case boost::json::kind::object: {
      const auto& x = a.get_object();
      const auto& y = b.get_object();
      for (const char* discriminator : {"type", "role"}) {
        const auto* dx = x.if_contains(discriminator);
        const auto* dy = y.if_contains(discriminator);
        if (dx && dy && dx->is_string() && dy->is_string() && *dx != *dy) return 0;
      }
      // Equal discriminators say nothing about which two blocks of a kind pair.
      size_t keys = 0;
      double sum = 0;
      for (const auto& m : x) {
        if ((m.key() == "type" || m.key() == "role") && y.contains(m.key()) &&
            m.value() == y.at(m.key()))
          continue;
        ++keys;
        if (const auto* other = y.if_contains(m.key())) {
          sum += depth >= 3 ? (m.value() == *other ? 1.0 : 0.3)
                            : JsonSimilarity(m.value(), *other, depth + 1);
        }
      }
      for (const auto& m : y) {
        if (!x.contains(m.key())) ++keys;
      }
      return keys == 0 ? 1 : sum / static_cast<double>(keys);
    }
    case boost::json::kind::array: {
      const auto& x = a.get_array();
      const auto& y = b.get_array();
      if (x.empty() || y.empty() || depth >= 3) return 0.3;
      // Each of the first elements of the shorter array against its best
      // partner among the first of the other (an inserted element moves them).
      const auto& shorter = x.size() <= y.size() ? x : y;
      const auto& longer = x.size() <= y.size() ? y : x;
      size_t n = std::min<size_t>(shorter.size(), 4);
      double sum = 0;
      for (size_t i = 0; i < n; ++i) {
        double best = 0;
        for (size_t j = 0; j < longer.size() && j < 8; ++j)
          best = std::max(best, JsonSimilarity(shorter[i], longer[j], depth + 1));
        sum += best;
      }
      double ratio = static_cast<double>(shorter.size()) / static_cast<double>(longer.size());
      return sum / static_cast<double>(n) * (0.5 + 0.5 * ratio);
    }
    default:
      return 0.5;  // numbers, booleans of different values
  }
}

// Between two paired elements, elements left over on both sides at the
// same place were changed rather than inserted and removed (as a line diff
// shows a changed line): pair them in order while they are of one kind.
void PairChangedElements(const boost::json::array& arr, const boost::json::array& ref,
                         std::vector<int>* pairs) {
  std::vector<bool> ref_used(ref.size(), false);
  for (int p : *pairs) {
    if (p >= 0) ref_used[static_cast<size_t>(p)] = true;
  }
  size_t i = 0;
  int prev_ref = -1;
  while (i < arr.size()) {
    if ((*pairs)[i] >= 0) {
      prev_ref = (*pairs)[i++];
      continue;
    }
    size_t gap_end = i;
    while (gap_end < arr.size() && (*pairs)[gap_end] < 0) ++gap_end;
    int next_ref = gap_end < arr.size() ? (*pairs)[gap_end] : static_cast<int>(ref.size());
    size_t j = static_cast<size_t>(prev_ref) + 1;  // prev_ref -1 (none yet) gives 0
    for (size_t k = i; k < gap_end && j < static_cast<size_t>(next_ref); ++k) {
      while (j < static_cast<size_t>(next_ref) && ref_used[j]) ++j;
      if (j >= static_cast<size_t>(next_ref) || !Compatible(arr[k], ref[j])) break;
      (*pairs)[k] = static_cast<int>(j);
      ref_used[j] = true;
      ++j;
    }
    i = gap_end;
  }
}

void AddLeaf(const std::string& path, std::string value, std::map<std::string, std::string>* out) {
  (*out)["body " + (path.empty() ? std::string(".") : path)] = std::move(value);
}

void FlattenAligned(const boost::json::value& v, const boost::json::value* ref, std::string& path,
                    std::map<std::string, std::string>* out);

void FlattenObject(const boost::json::object& obj, const boost::json::value* ref, std::string& path,
                   std::map<std::string, std::string>* out) {
  if (obj.empty()) return AddLeaf(path, "{}", out);
  const auto* ref_obj = ref ? ref->if_object() : nullptr;
  for (const auto& member : obj) {
    size_t mark = path.size();
    std::string_view key(member.key().data(), member.key().size());
    AppendKey(path, key);
    FlattenAligned(member.value(), ref_obj ? ref_obj->if_contains(key) : nullptr, path, out);
    path.resize(mark);
  }
}

// The element of `ref_arr` whose `member` is `key` (the last one), or nullptr.
const boost::json::value* KeyedPartner(const boost::json::array* ref_arr, const char* member,
                                       std::string_view key) {
  const boost::json::value* partner = nullptr;
  if (ref_arr == nullptr) return nullptr;
  for (const auto& r : *ref_arr) {
    const auto* ro = r.if_object();
    const auto* rk = ro ? ro->if_contains(member) : nullptr;
    if (rk && rk->is_string() && std::string_view(rk->get_string()) == key) partner = &r;
  }
  return partner;
}

// A key/value array ([{key, value}], OTel attributes): elements paired by key.
void FlattenKeyedArray(const boost::json::array& arr, const char* member,
                       const boost::json::array* ref_arr, std::string& path,
                       std::map<std::string, std::string>* out) {
  for (const auto& e : arr) {
    std::string_view k = e.get_object().at(member).get_string();
    size_t mark = path.size();
    path += KeyedIndex(member, k);
    FlattenAligned(e, KeyedPartner(ref_arr, member, k), path, out);
    path.resize(mark);
  }
}

// For each element of `arr`, the index of its partner in `ref_arr` or -1:
// a sequence alignment over element similarity (deep for small arrays,
// shallow for large ones, by index past that); without a reference, by index.
std::vector<int> PairElements(const boost::json::array& arr, const boost::json::array* ref_arr) {
  std::vector<int> pairs;
  if (ref_arr && arr.size() == 1 && ref_arr->size() == 1 && Compatible(arr[0], (*ref_arr)[0])) {
    pairs = {0};  // one element each: the same element, changed or not
  } else if (ref_arr && arr.size() * ref_arr->size() <= 400) {
    pairs = AlignSequences(
        arr.size(), ref_arr->size(),
        [&](size_t i, size_t j) { return JsonSimilarity(arr[i], (*ref_arr)[j], 0); }, 0.25);
  } else if (ref_arr && arr.size() * ref_arr->size() <= 250000) {
    pairs = AlignSequences(
        arr.size(), ref_arr->size(),
        [&](size_t i, size_t j) { return ShallowSimilarity(arr[i], (*ref_arr)[j]); }, 0.5);
  } else {
    for (size_t i = 0; i < arr.size(); ++i) {
      pairs.push_back(ref_arr && i < ref_arr->size() ? static_cast<int>(i)
                                                     : (ref_arr ? -1 : static_cast<int>(i)));
    }
  }
  if (ref_arr) PairChangedElements(arr, *ref_arr, &pairs);
  return pairs;
}

void FlattenArray(const boost::json::array& arr, const boost::json::value* ref, std::string& path,
                  std::map<std::string, std::string>* out) {
  if (arr.empty()) return AddLeaf(path, "[]", out);
  const auto* ref_arr = ref ? ref->if_array() : nullptr;
  if (const char* member = KeyMemberOf(arr))
    return FlattenKeyedArray(arr, member, ref_arr, path, out);
  const std::vector<int> pairs = PairElements(arr, ref_arr);
  for (size_t i = 0; i < arr.size(); ++i) {
    size_t mark = path.size();
    const boost::json::value* partner = nullptr;
    if (pairs[i] >= 0) {
      path += fmt::format("[{}]", pairs[i]);
      if (ref_arr) partner = &(*ref_arr)[static_cast<size_t>(pairs[i])];
    } else {
      path += fmt::format("[+{}]", i);
    }
    FlattenAligned(arr[i], partner, path, out);
    path.resize(mark);
  }
}

// Flattens `v` with its arrays aligned to those of `ref` (nullptr: by index).
void FlattenAligned(const boost::json::value& v, const boost::json::value* ref, std::string& path,
                    std::map<std::string, std::string>* out) {
  switch (v.kind()) {
    case boost::json::kind::object:
      return FlattenObject(v.get_object(), ref, path, out);
    case boost::json::kind::array:
      return FlattenArray(v.get_array(), ref, path, out);
    case boost::json::kind::string: {
      const auto& s = v.get_string();
      return AddLeaf(path, std::string(s.data(), s.size()), out);
    }
    default:
      return AddLeaf(path, boost::json::serialize(v), out);
  }
}

// The shape of a request, to pair it with requests of its kind: its field
// names with array positions collapsed, and its short non-numeric values.
void ShapeOf(const boost::json::value& v, std::string& path, int depth,
             std::set<std::string>* shape) {
  if (depth > 12) return;
  switch (v.kind()) {
    case boost::json::kind::object:
      for (const auto& m : v.get_object()) {
        size_t mark = path.size();
        path += '.';
        path.append(m.key().data(), m.key().size());
        ShapeOf(m.value(), path, depth + 1, shape);
        path.resize(mark);
      }
      return;
    case boost::json::kind::array: {
      size_t mark = path.size();
      path += "[]";
      shape->insert(path);
      for (const auto& e : v.get_array()) ShapeOf(e, path, depth + 1, shape);
      path.resize(mark);
      return;
    }
    case boost::json::kind::string: {
      std::string_view s = v.get_string();
      shape->insert(path);
      if (s.size() <= 40 && std::none_of(s.begin(), s.end(), [](char c) {
            return std::isdigit(static_cast<unsigned char>(c));
          })) {
        shape->insert(path + "=" + std::string(s));
      }
      return;
    }
    default:
      shape->insert(path);
      if (v.is_bool()) shape->insert(path + "=" + boost::json::serialize(v));
      return;
  }
}

struct Parsed {
  Reduced reduced;
  std::optional<boost::json::value> json;
  std::set<std::string> shape;
};

double ShapeSimilarity(const std::set<std::string>& a, const std::set<std::string>& b) {
  if (a.empty() && b.empty()) return 1;
  size_t common = 0;
  for (const auto& s : a) common += b.count(s);
  return static_cast<double>(common) / static_cast<double>(a.size() + b.size() - common);
}

std::string Bucket(double ms) {
  if (ms < 1000) return "< 1 s";
  if (ms < 4000) return "1-4 s";
  if (ms < 16000) return "4-16 s";
  return ">= 16 s";
}

bool IsFakeDnsAddress(const std::string& ip) {
  return ip.starts_with("198.18.") || ip.starts_with("198.19.");
}

}  // namespace

std::string CanonicalHost(const std::string& host, const Cell& cell) {
  // Every provider host is one: a cell that points all base URLs at one relay
  // must align with a baseline that reaches each provider's own host.
  for (const auto& base : BasesOf(cell)) {
    if (base.host == host) return "(provider host)";
  }
  for (const auto& [var, value] : cell.env) {
    if (auto url = ParseHttpUrl(value); url && url->host == host)
      return fmt::format("({} host)", var);
  }
  return host;
}

std::vector<int> AlignSequences(size_t a_size, size_t b_size,
                                const std::function<double(size_t, size_t)>& similarity,
                                double threshold) {
  std::vector<int> partner(a_size, -1);
  if (a_size == 0 || b_size == 0) return partner;
  // score[i][j]: best summed similarity aligning a[i..] with b[j..].
  const size_t w = b_size + 1;
  std::vector<double> score((a_size + 1) * w, 0.0);
  std::vector<double> sim(a_size * b_size, 0.0);
  for (size_t i = 0; i < a_size; ++i) {
    for (size_t j = 0; j < b_size; ++j) sim[i * b_size + j] = similarity(i, j);
  }
  for (size_t i = a_size; i-- > 0;) {
    for (size_t j = b_size; j-- > 0;) {
      double best = std::max(score[(i + 1) * w + j], score[i * w + j + 1]);
      double s = sim[i * b_size + j];
      // A pair at the same position wins ties, so equal arrays pair by index.
      if (s >= threshold) best = std::max(best, score[(i + 1) * w + j + 1] + s + 1e-9);
      score[i * w + j] = best;
    }
  }
  size_t i = 0, j = 0;
  while (i < a_size && j < b_size) {
    double s = sim[i * b_size + j];
    if (s >= threshold && score[i * w + j] == score[(i + 1) * w + j + 1] + s + 1e-9) {
      partner[i] = static_cast<int>(j);
      ++i, ++j;
    } else if (score[i * w + j] == score[(i + 1) * w + j]) {
      ++i;
    } else {
      ++j;
    }
  }
  return partner;
}

void FlattenBodyAligned(std::string_view body, std::string_view reference,
                        std::map<std::string, std::string>* fields) {
  if (body.empty()) return;
  auto doc = ParseJsonBody(body);
  if (!doc) {
    (*fields)["body"] = std::string(body);
    return;
  }
  auto ref = ParseJsonBody(reference);
  std::string path;
  FlattenAligned(*doc, ref ? &*ref : nullptr, path, fields);
}

namespace {

void FlattenParsedAligned(const Parsed& p, const boost::json::value* reference,
                          std::map<std::string, std::string>* fields) {
  if (p.reduced.body.empty()) return;
  if (!p.json) {
    (*fields)["body"] = p.reduced.body;
    return;
  }
  std::string path;
  FlattenAligned(*p.json, reference, path, fields);
}

}  // namespace

std::vector<RequestFields> FlattenRun(const RunCapture& run, const Cell& cell) {
  const std::vector<Base> bases = BasesOf(cell);
  std::vector<RequestFields> out;
  std::map<std::string, int> occurrences;
  for (const auto& req : run.requests) {
    Reduced reduced = ReduceRequest(req, bases);
    RequestFields rf = std::move(reduced.rf);
    if (!rf.is_tunnel) {
      int n = ++occurrences[rf.key];
      if (n > 1) rf.key = rf.location = fmt::format("{} #{}", rf.key, n);
      FlattenBodyAligned(reduced.body, {}, &rf.fields);
    }
    out.push_back(std::move(rf));
  }
  return out;
}

std::map<std::string, std::string> NamesOfAddresses(const RunCapture& run) {
  // The fake DNS hands out 198.18.0.1, .2, ... to new names in the order of
  // their A queries; requests name the host behind an address too.
  std::map<std::string, std::string> name_of;
  std::set<std::string> named;
  uint32_t next = 1;
  for (const auto& q : run.dns) {
    if (q.type != "A" || q.name.empty() || !named.insert(q.name).second) continue;
    uint32_t addr = (198u << 24) | (18u << 16) | next++;
    name_of[fmt::format("{}.{}.{}.{}", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
                        addr & 0xff)] = q.name;
  }
  for (const auto& req : run.requests) {
    if (req.via_proxy || req.dest_ip.empty()) continue;
    std::string host = HostWithoutPort(req.sni.empty() ? req.host : req.sni);
    if (!host.empty() && !name_of.count(req.dest_ip)) name_of[req.dest_ip] = host;
  }
  return name_of;
}

RequestFields NetworkFields(const RunCapture& run, const Cell& cell) {
  RequestFields net;
  net.key = net.location = "network";
  net.fields["request"] = "present";
  const std::map<std::string, std::string> name_of = NamesOfAddresses(run);
  // A host the agent called a provider's API at is the provider host too
  // (its own default when no base URL is set), so its lookup and connection
  // align with a relay's; the Host header still tells the hosts apart.
  std::set<std::string> api_hosts;
  const std::vector<Base> bases = BasesOf(cell);
  for (const auto& req : run.requests) {
    Reduced reduced = ReduceRequest(req, bases);
    if (reduced.rf.to_base_url && !reduced.rf.host.empty())
      api_hosts.insert(Lower(reduced.rf.host));
  }
  auto canonical = [&](const std::string& host) {
    return api_hosts.count(Lower(host)) ? std::string("(provider host)")
                                        : CanonicalHost(host, cell);
  };
  for (const auto& q : run.dns) {
    net.fields["lookup " + canonical(q.name)] = "present";
    if (!q.server.empty() && q.server != "127.0.0.1" && q.server != "::1") {
      net.fields["resolver " + q.server] = "present";
    }
  }
  double first = -1;
  for (const auto& conn : run.connections) {
    if (first < 0 || conn.t_ms < first) first = conn.t_ms;
    std::string host;
    if (auto it = name_of.find(conn.dest_ip); it != name_of.end()) {
      host = canonical(it->second);
    } else if (IsFakeDnsAddress(conn.dest_ip)) {
      host = "(a looked-up name)";
    } else {
      host = conn.dest_ip.find(':') != std::string::npos ? "[" + conn.dest_ip + "]" : conn.dest_ip;
    }
    bool loopback = conn.dest_ip.starts_with("127.") || conn.dest_ip == "::1";
    std::string port =
        loopback && conn.dest_port >= 1024 ? "(local port)" : std::to_string(conn.dest_port);
    net.fields[fmt::format("connect {} {}:{}", conn.protocol, host, port)] = "present";
  }
  for (const auto& f : run.tls_failures) {
    net.fields["tls refused " + (f.sni.empty() ? f.dest_ip : canonical(Lower(f.sni)))] = "present";
  }
  for (const auto& req : run.requests) {
    if (first < 0 || req.t_ms < first) first = req.t_ms;
  }
  if (first >= 0) net.fields["first connection after"] = Bucket(first);
  return net;
}

namespace {

// A kind of request seen so far under one base key; the first request of a
// kind is its reference for array alignment.
struct RequestKind {
  std::string key;
  std::set<std::string> shape;
  std::shared_ptr<const boost::json::value> body;  // parsed once; null when not JSON
};

// One run's requests, reduced and parsed, grouped by base key (tunnels dropped).
std::map<std::string, std::vector<Parsed>> ParseRunRequests(const RunCapture& run,
                                                            const std::vector<Base>& bases) {
  std::map<std::string, std::vector<Parsed>> by_base_key;
  for (const auto& req : run.requests) {
    Parsed p;
    p.reduced = ReduceRequest(req, bases);
    if (p.reduced.rf.is_tunnel) continue;
    p.json = ParseJsonBody(p.reduced.body);
    std::string path;
    if (p.json) ShapeOf(*p.json, path, 0, &p.shape);
    for (const auto& [name, value] : p.reduced.rf.fields) {
      if (name.starts_with("header ") || name.starts_with("query ")) p.shape.insert(name);
    }
    std::string key = p.reduced.rf.key;
    by_base_key[key].push_back(std::move(p));
  }
  return by_base_key;
}

// The known kind of each request (-1: none): greedy pairing, most similar pair
// first; ties to the pair closest in order (request i, kind k).
std::vector<int> MatchKinds(const std::vector<Parsed>& requests,
                            const std::vector<RequestKind>& known) {
  std::vector<std::tuple<double, size_t, size_t>> pairs;
  for (size_t i = 0; i < requests.size(); ++i) {
    for (size_t k = 0; k < known.size(); ++k) {
      double sim = ShapeSimilarity(requests[i].shape, known[k].shape);
      if (sim >= 0.3) pairs.emplace_back(sim, i, k);
    }
  }
  auto distance = [](const auto& t) {
    return std::get<1>(t) > std::get<2>(t) ? std::get<1>(t) - std::get<2>(t)
                                           : std::get<2>(t) - std::get<1>(t);
  };
  std::stable_sort(pairs.begin(), pairs.end(), [&](const auto& x, const auto& y) {
    if (std::get<0>(x) != std::get<0>(y)) return std::get<0>(x) > std::get<0>(y);
    return distance(x) < distance(y);
  });
  std::vector<int> kind_of(requests.size(), -1);
  std::vector<bool> kind_used(known.size(), false);
  for (const auto& [sim, i, k] : pairs) {
    if (kind_of[i] >= 0 || kind_used[k]) continue;
    kind_of[i] = static_cast<int>(k);
    kind_used[k] = true;
  }
  return kind_of;
}

// Flattens each request under its kind's key, adding a new kind ("KEY #2", ...)
// for a request that matches none.
void FlattenUnderKinds(const std::string& base_key, std::vector<Parsed>* requests,
                       std::vector<RequestKind>* known,
                       std::map<std::string, RequestFields>* by_key) {
  std::vector<int> kind_of = MatchKinds(*requests, *known);
  for (size_t i = 0; i < requests->size(); ++i) {
    Parsed& request = (*requests)[i];
    if (kind_of[i] < 0) {
      RequestKind kind;
      kind.key = known->empty() ? base_key : fmt::format("{} #{}", base_key, known->size() + 1);
      kind.shape = request.shape;
      if (request.json) kind.body = std::make_shared<const boost::json::value>(*request.json);
      kind_of[i] = static_cast<int>(known->size());
      known->push_back(std::move(kind));
    }
    const RequestKind& kind = (*known)[static_cast<size_t>(kind_of[i])];
    RequestFields rf = std::move(request.reduced.rf);
    rf.key = rf.location = kind.key;
    FlattenParsedAligned(request, kind.body.get(), &rf.fields);
    by_key->emplace(kind.key, std::move(rf));
  }
}

// One field across every run of every cell.
AlignedField CollectField(
    const std::string& key, const std::string& field, const std::string& location,
    const std::vector<std::vector<std::map<std::string, RequestFields>>>& flat) {
  AlignedField af;
  af.key = key;
  af.field = field;
  af.location = location;
  af.values.resize(flat.size());
  af.request_present.resize(flat.size());
  for (size_t c = 0; c < flat.size(); ++c) {
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
  return af;
}

}  // namespace

std::vector<AlignedField> AlignRuns(const Matrix& matrix,
                                    const std::vector<std::vector<RunCapture>>& runs) {
  const size_t cells = std::min(matrix.cells.size(), runs.size());
  std::map<std::string, std::vector<RequestKind>> kinds;  // per base key
  std::vector<std::vector<std::map<std::string, RequestFields>>> flat(cells);
  std::map<std::pair<std::string, std::string>, std::string> locations;  // (key, field) -> location
  for (size_t c = 0; c < cells; ++c) {
    const Cell& cell = matrix.cells[c];
    const std::vector<Base> bases = BasesOf(cell);
    for (const auto& run : runs[c]) {
      std::map<std::string, RequestFields> by_key;
      for (auto& [base_key, requests] : ParseRunRequests(run, bases)) {
        FlattenUnderKinds(base_key, &requests, &kinds[base_key], &by_key);
      }
      by_key.emplace("network", NetworkFields(run, cell));
      for (const auto& [key, rf] : by_key) {
        for (const auto& [field, value] : rf.fields)
          locations.emplace(std::make_pair(key, field), rf.location);
      }
      flat[c].push_back(std::move(by_key));
    }
  }
  std::vector<AlignedField> out;
  out.reserve(locations.size());
  for (const auto& [kf, location] : locations)
    out.push_back(CollectField(kf.first, kf.second, location, flat));
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

std::vector<ChangedSpan> DiffCodePoints(std::u32string_view a, std::u32string_view b,
                                        size_t max_edits) {
  size_t prefix = 0;
  while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) ++prefix;
  size_t suffix = 0;
  while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
         a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix]) {
    ++suffix;
  }
  if (prefix == a.size() && prefix == b.size()) return {};
  std::u32string_view mid_a = a.substr(prefix, a.size() - prefix - suffix);
  std::u32string_view mid_b = b.substr(prefix, b.size() - prefix - suffix);
  const ChangedSpan whole{prefix, prefix + mid_a.size(), prefix, prefix + mid_b.size()};
  if (mid_a.empty() || mid_b.empty()) return {whole};

  const long n = static_cast<long>(mid_a.size());
  const long m = static_cast<long>(mid_b.size());
  const long max = std::min<long>(n + m, static_cast<long>(max_edits));
  const long offset = max + 1;
  std::vector<long> v(static_cast<size_t>(2 * max + 3), 0);
  std::vector<std::vector<long>> trace;
  long found_d = -1;
  for (long d = 0; d <= max && found_d < 0; ++d) {
    trace.push_back(v);
    for (long k = -d; k <= d; k += 2) {
      long x = (k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1]))
                   ? v[offset + k + 1]
                   : v[offset + k - 1] + 1;
      long y = x - k;
      while (x < n && y < m && mid_a[x] == mid_b[y]) ++x, ++y;
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found_d = d;
        break;
      }
    }
  }
  if (found_d < 0) return {whole};

  // Backtrack into per-position edit marks.
  std::vector<bool> a_changed(mid_a.size(), false), b_changed(mid_b.size(), false);
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
  while (i < mid_a.size() || j < mid_b.size()) {
    if (i < mid_a.size() && j < mid_b.size() && !a_changed[i] && !b_changed[j]) {
      ++i, ++j;
      continue;
    }
    ChangedSpan span{prefix + i, prefix + i, prefix + j, prefix + j};
    while (i < mid_a.size() && a_changed[i]) ++i;
    while (j < mid_b.size() && b_changed[j]) ++j;
    span.a_end = prefix + i;
    span.b_end = prefix + j;
    spans.push_back(span);
  }
  return spans;
}

std::vector<ChangedSpan> WidenToWords(std::u32string_view a, std::u32string_view b,
                                      std::vector<ChangedSpan> spans) {
  for (auto& s : spans) {
    while (s.a_begin > 0 && s.b_begin > 0 && a[s.a_begin - 1] == b[s.b_begin - 1] &&
           IsWordCp(a[s.a_begin - 1])) {
      --s.a_begin, --s.b_begin;
    }
    while (s.a_end < a.size() && s.b_end < b.size() && a[s.a_end] == b[s.b_end] &&
           IsWordCp(a[s.a_end])) {
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
