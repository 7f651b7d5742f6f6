#include "audit/analysis.h"

#include <fmt/format.h>
#include <hs/hs.h>
#include <re2/re2.h>

#include <cstring>
#include <tuple>

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "audit/js_facts.h"
#include "core/hidden_text.h"
#include "core/json_strings.h"
#include "core/locate.h"
#include "core/unicode.h"
#include "core/utf.h"

namespace glassbox::audit {

using internal::CompareFact;
using internal::CompareKind;
using internal::JsFacts;
using internal::kNone;
using internal::Range;
using internal::StringFact;
using internal::StringOrigin;

// Vectorscan database of every SDK marker (literals), compiled once.
struct Analyzer::SdkDatabase {
  hs_database_t* db = nullptr;
  std::vector<std::pair<uint32_t, uint32_t>> ids;  // pattern id → (sdk, marker)
  ~SdkDatabase() { hs_free_database(db); }
};

Analyzer::Analyzer(AuditRules rules) : rules_(std::move(rules)) {}
Analyzer::~Analyzer() = default;

Result<std::unique_ptr<Analyzer>> Analyzer::Create() {
  auto rules = BuiltinAuditRules();
  if (!rules.ok()) return rules.status();
  return Create(std::move(*rules));
}

Result<std::unique_ptr<Analyzer>> Analyzer::Create(AuditRules rules) {
  std::unique_ptr<Analyzer> analyzer(new Analyzer(std::move(rules)));
  auto db = std::make_unique<SdkDatabase>();
  std::vector<std::string> expressions;
  std::vector<unsigned> flags;
  std::vector<unsigned> ids;
  for (uint32_t s = 0; s < analyzer->rules_.sdks.size(); ++s) {
    for (uint32_t m = 0; m < analyzer->rules_.sdks[s].markers.size(); ++m) {
      std::string escaped;
      for (unsigned char c : analyzer->rules_.sdks[s].markers[m]) escaped += fmt::format("\\x{:02x}", c);
      expressions.push_back(std::move(escaped));
      flags.push_back(HS_FLAG_SINGLEMATCH);
      ids.push_back(static_cast<unsigned>(db->ids.size()));
      db->ids.emplace_back(s, m);
    }
  }
  if (!expressions.empty()) {
    std::vector<const char*> ptrs;
    for (const std::string& e : expressions) ptrs.push_back(e.c_str());
    hs_compile_error_t* error = nullptr;
    if (hs_compile_multi(ptrs.data(), flags.data(), ids.data(), static_cast<unsigned>(ptrs.size()), HS_MODE_BLOCK,
                         nullptr, &db->db, &error) != HS_SUCCESS) {
      std::string message = error != nullptr && error->message != nullptr ? error->message : "unknown error";
      hs_free_compile_error(error);
      return Status::Error("audit SDK markers: cannot compile: " + message);
    }
  }
  analyzer->sdk_db_ = std::move(db);
  return analyzer;
}

ModuleLanguage LanguageOfPath(std::string_view path) {
  const size_t slash = path.find_last_of("/!\\");
  const std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const size_t dot = base.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return ModuleLanguage::kJavaScript;
  std::string ext(base.substr(dot + 1));
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view js : {"js", "mjs", "cjs", "jsx", "ts", "tsx", "mts", "cts"}) {
    if (ext == js) return ModuleLanguage::kJavaScript;
  }
  if (ext == "json") return ModuleLanguage::kJson;
  if (ext == "map") return ModuleLanguage::kSourceMap;
  return ModuleLanguage::kText;
}

const std::vector<RuleInfo>& Analyzer::RuleInfos() {
  static const std::vector<RuleInfo> kRules = {
      {"env-probe/environment-dependent-output", "Output chosen by where or who the user is",
       "A function reads part of the environment (time zone, host name, proxy or base URL, …), compares it "
       "with a hard-coded list or constant, and picks an output string or branch. The agent can behave "
       "differently for some users without telling them. Confirm with `glassbox probe`.",
       Severity::kHigh},
      {"env-probe/timezone", "Reads the time zone", "Time zone reads are common (logging, dates); they matter "
       "when compared with a list (see env-probe/environment-dependent-output).", Severity::kInfo},
      {"env-probe/locale", "Reads the locale", "Locale reads are common; they matter when compared with a list.",
       Severity::kInfo},
      {"env-probe/hostname", "Reads the machine's host name", "Host names identify machines and companies.",
       Severity::kInfo},
      {"env-probe/user-info", "Reads the user account", "User names identify people.", Severity::kInfo},
      {"env-probe/network-interfaces", "Lists network interfaces", "Interface lists carry MAC addresses, a "
       "stable machine identifier.", Severity::kInfo},
      {"env-probe/machine-id", "Reads a machine identifier", "Machine ids (machine-id, DMI, dbus, "
       "IOPlatformUUID, MachineGuid) identify a machine across installs.", Severity::kInfo},
      {"env-probe/proxy-env", "Reads proxy settings", "Proxy host names reveal the network a user is in.",
       Severity::kInfo},
      {"env-probe/base-url-env", "Reads an API base-URL override", "The configured API host (a company "
       "gateway or relay) reveals who the user is.", Severity::kInfo},
      {"env-probe/hardcoded-list", "Hard-coded list of domains or time zones", "A list of domains, "
       "organisations or time zones in code: harmless alone, telling when a probed value is compared with it.",
       Severity::kInfo},
      {"obfuscation/decoded-string", "String hidden by encoding", "A string stored as base64, hex, char codes, "
       "XOR or a rotated string array, decoded by glassbox without running code. Hidden domains and time "
       "zones deserve a look.", Severity::kInfo},
      {"obfuscation/string-array", "Rotated string array (javascript-obfuscator)", "The module hides its "
       "strings in a rotated array read through a decoder function; glassbox resolved the rotation.",
       Severity::kInfo},
      {"endpoint/host", "Host the code can contact", "A URL or host name in a string literal.", Severity::kInfo},
      {"endpoint/telemetry", "Telemetry SDK or service", "Usage data leaves the machine; check what and whether "
       "it can be turned off.", Severity::kLow},
      {"endpoint/error-reporting", "Error-reporting SDK or service", "Crash reports can carry paths, prompts "
       "and environment details.", Severity::kLow},
      {"remote-config/feature-flags", "Feature-flag service", "Behaviour can be switched remotely, per user or "
       "per group, after you approved the version.", Severity::kLow},
      {"remote-config/remote-config", "Remote configuration service", "Configuration fetched at run time can "
       "change behaviour after you approved the version.", Severity::kLow},
      {"unicode/lookalike-from-code", "Look-alike character hidden behind an escape or built by code",
       "A look-alike code point (U+02BC, U+2019, …) written as \\u escape or built with String.fromCharCode "
       "escapes both readers and `glassbox scan`; near prompt text it can mark or alter what a model reads.",
       Severity::kMedium},
      {"unicode/invisible-from-code", "Invisible character hidden behind an escape or built by code",
       "A zero-width, tag or bidi code point written as an escape or built by code.", Severity::kMedium},
  };
  return kRules;
}

namespace {

// Line and code-point column for byte offsets in one module, fast on
// minified code whose single line is megabytes long.
class Locator {
 public:
  explicit Locator(std::string_view text) : text_(text) {
    line_starts_.push_back(0);
    for (const char* p = text.data(); (p = static_cast<const char*>(
                                           std::memchr(p, '\n', static_cast<size_t>(text.data() + text.size() - p)))) != nullptr;
         ++p) {
      line_starts_.push_back(static_cast<uint64_t>(p - text.data()) + 1);
    }
    uint64_t count = 0;
    block_cps_.reserve(text.size() / kBlock + 1);
    for (size_t block = 0; block * kBlock < text.size(); ++block) {
      block_cps_.push_back(count);
      count += CountCodePoints(block * kBlock, std::min(text.size(), (block + 1) * kBlock));
    }
  }

  Position At(uint64_t offset) const {
    offset = std::min<uint64_t>(offset, text_.size());
    const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    const uint64_t line = static_cast<uint64_t>(it - line_starts_.begin());
    const uint64_t start = *(it - 1);
    // Short distances (ordinary lines) are counted directly; long minified
    // lines go through the per-block counts.
    const uint64_t column = offset - start <= kBlock ? CountCodePoints(start, offset)
                                                     : CodePointsBefore(offset) - CodePointsBefore(start);
    return Position{offset, line, column + 1};
  }

  std::string Label(uint64_t offset) const {
    const Position p = At(offset);
    return fmt::format("{}:{}", p.line, p.column);
  }

  // A short visible excerpt around [offset, offset+length) on its line.
  std::string Snippet(uint64_t offset, uint64_t length) const {
    offset = std::min<uint64_t>(offset, text_.size());
    const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    const uint64_t line_start = *(it - 1);
    uint64_t line_end = it == line_starts_.end() ? text_.size() : *it - 1;
    uint64_t begin = offset > line_start + 60 ? offset - 60 : line_start;
    uint64_t end = std::min(line_end, offset + std::min<uint64_t>(length, 120) + 60);
    while (begin > line_start && (static_cast<unsigned char>(text_[begin]) & 0xC0) == 0x80) --begin;
    while (end < line_end && (static_cast<unsigned char>(text_[end]) & 0xC0) == 0x80) ++end;
    std::string_view window = text_.substr(begin, end - begin);
    const size_t focus_begin = offset - begin;
    const size_t focus_end = std::min<size_t>(window.size(), focus_begin + length);
    std::string out = begin > line_start ? "…" : "";
    out += RenderVisible(window, {}, ByteRange{focus_begin, focus_end});
    if (end < line_end) out += "…";
    return out;
  }

 private:
  static constexpr size_t kBlock = 512;
  // Code points in [begin, end): bytes that are not UTF-8 continuation bytes,
  // eight at a time.
  uint64_t CountCodePoints(uint64_t begin, uint64_t end) const {
    uint64_t count = 0;
    uint64_t i = begin;
    for (; i + 8 <= end; i += 8) {
      uint64_t w;
      std::memcpy(&w, text_.data() + i, 8);
      // A continuation byte is 10xxxxxx: bit 7 set and bit 6 clear.
      const uint64_t continuation = w & ~(w << 1) & 0x8080808080808080ull;
      count += 8 - static_cast<uint64_t>(__builtin_popcountll(continuation));
    }
    for (; i < end; ++i) count += (static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80;
    return count;
  }
  uint64_t CodePointsBefore(uint64_t offset) const {
    const size_t block = offset / kBlock;
    const uint64_t count = block < block_cps_.size() ? block_cps_[block] : 0;
    return count + CountCodePoints(std::min<uint64_t>(block * kBlock, offset), offset);
  }
  std::string_view text_;
  std::vector<uint64_t> line_starts_;
  std::vector<uint64_t> block_cps_;
};

std::string Quote(std::string_view s, size_t max = 60) {
  std::string out = "\"";
  size_t count = 0;
  for (size_t i = 0; i < s.size();) {
    if (count == max) {
      out += "…";
      break;
    }
    size_t len = 1;
    const int32_t cp = utf::DecodeOne(reinterpret_cast<const unsigned char*>(s.data()) + i, s.size() - i, &len);
    if (cp < 0x20 || cp == 0x7F) {
      out += cp == '\n' ? "\\n" : fmt::format("\\x{:02x}", static_cast<unsigned>(s[i]) & 0xFF);
    } else if (cp >= 0x80 && UnicodeData::Get().Classify(static_cast<char32_t>(cp)) != CharClass::kOrdinary) {
      out += fmt::format("⟨U+{:04X}⟩", cp);
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
    ++count;
  }
  return out + "\"";
}

bool IsIdentChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$' ||
         c >= 0x80;
}

// Identifiers in a short piece of code (property names after '.' excluded).
template <typename F>
void ForEachIdentifier(std::string_view code, F&& f) {
  if (code.size() > 2000) code = code.substr(0, 2000);
  size_t i = 0;
  while (i < code.size()) {
    const unsigned char c = static_cast<unsigned char>(code[i]);
    if (c == '"' || c == '\'' || c == '`') {  // skip string contents
      const char q = static_cast<char>(c);
      ++i;
      while (i < code.size() && code[i] != q) i += code[i] == '\\' ? 2 : 1;
      ++i;
      continue;
    }
    if (!IsIdentChar(c) || (c >= '0' && c <= '9')) {
      ++i;
      continue;
    }
    const size_t start = i;
    while (i < code.size() && IsIdentChar(static_cast<unsigned char>(code[i]))) ++i;
    if (start > 0 && code[start - 1] == '.') continue;
    const bool called = i < code.size() && code[i] == '(';
    if (!f(code.substr(start, i - start), called)) return;
  }
}

bool IsNumberLiteral(std::string_view s) {
  if (!s.empty() && s.front() == '-') s.remove_prefix(1);
  if (s.empty() || !(s.front() >= '0' && s.front() <= '9')) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_') return false;
  }
  return true;
}

bool LooksEncoded(std::string_view s) {
  if (s.size() < 8 || s.size() > 4096) return false;
  for (unsigned char c : s) {
    if (!std::isalnum(c) && c != '+' && c != '/' && c != '=' && c != '-' && c != '_') return false;
  }
  return true;
}

// URLs inside a string, and the string itself when it is a bare host name.
template <typename F>
void ForEachEndpoint(std::string_view s, const ShapeData& shapes, F&& f) {
  size_t from = 0;
  bool any = false;
  while (true) {
    const size_t sep = s.find("://", from);
    if (sep == std::string_view::npos) break;
    from = sep + 3;
    size_t start = sep;
    while (start > 0 && std::isalpha(static_cast<unsigned char>(s[start - 1]))) --start;
    const std::string_view scheme = s.substr(start, sep - start);
    if (scheme != "http" && scheme != "https" && scheme != "ws" && scheme != "wss") continue;
    size_t end = sep + 3;
    while (end < s.size()) {
      const unsigned char c = static_cast<unsigned char>(s[end]);
      if (c <= 0x20 || c == '"' || c == '\'' || c == '`' || c == '<' || c == '>' || c == '\\' || c == ')' ||
          c == ']' || c >= 0x7F) {
        break;
      }
      ++end;
    }
    std::string_view url = s.substr(start, end - start);
    std::string_view rest = url.substr(scheme.size() + 3);
    std::string_view host = rest.substr(0, rest.find_first_of("/?#"));
    if (const size_t at = host.rfind('@'); at != std::string_view::npos) host.remove_prefix(at + 1);
    if (!host.empty() && host.front() != '[') host = host.substr(0, host.find(':'));
    if (host.empty()) continue;
    any = true;
    f(url, host, start);
    from = end;
  }
  if (!any && s.size() < 254 && IsHostName(s, shapes)) f(s, s, 0);
}

class ModuleRun {
 public:
  ModuleRun(std::string_view text, const AuditRules& rules, const AnalysisLimits& limits, ModuleAnalysis* out)
      : text_(text), rules_(rules), limits_(limits), out_(*out), locator_(text) {}

  void Run(JsFacts facts, hs_database_t* sdk_db, const std::vector<std::pair<uint32_t, uint32_t>>& sdk_ids) {
    facts_ = std::move(facts);
    out_.has_syntax_errors = facts_.has_syntax_errors;
    out_.not_parsed = facts_.not_parsed;
    Probes();
    CollectKeys();
    Decode();
    Lists();
    // A module that could not be parsed at all still gets its URLs.
    if (!facts_.not_parsed.empty()) TextEndpoints();
    Endpoints();
    Sdks(sdk_db, sdk_ids);
    CodeBuiltUnicode();
    RawUnicode(TextKind::kCode);
    Correlate();
  }

  // An asset that is not JavaScript: URLs and hosts (in JSON, those of every
  // string value, bare host names included), SDK markers, and hidden or
  // look-alike characters in the raw text. Linear in the size of the text.
  void RunAsset(bool json, TextKind kind, hs_database_t* sdk_db,
                const std::vector<std::pair<uint32_t, uint32_t>>& sdk_ids) {
    bool walked = false;
    if (json) {
      const Status status = ForEachJsonString(text_, [&](const JsonStringVisit& v) {
        if (v.is_key || v.decoded.size() > 100000) return;
        ForEachEndpoint(v.decoded, rules_.shapes, [&](std::string_view url, std::string_view host, size_t) {
          AddEndpoint(url, host, static_cast<uint32_t>(v.raw_offset), false);
        });
      });
      walked = status.ok();
    }
    // Not JSON, or JSON that does not parse: URLs found in the raw text.
    if (!walked) TextEndpoints();
    HostFindings();
    // SDK markers are literals: one Vectorscan pass over the raw text.
    Sdks(sdk_db, sdk_ids);
    RawUnicode(kind);
  }

 private:
  void AddFinding(std::string rule, Severity severity, uint64_t offset, uint64_t length, std::string message,
                  std::string decoded = {}) {
    Finding* slot = Slot(rule, severity);
    if (slot == nullptr) return;
    Finding& f = *slot;
    f.rule = std::move(rule);
    f.severity = severity;
    const Position p = locator_.At(offset);
    f.line = p.line;
    f.column = p.column;
    f.byte_offset = offset;
    f.byte_length = length;
    f.message = std::move(message);
    f.decoded = std::move(decoded);
    f.snippet = locator_.Snippet(offset, length);
  }

  void Probes() {
    // One finding per probe kind and detail; the count says how often.
    std::map<std::pair<uint32_t, std::string>, std::pair<const internal::ProbeFact*, size_t>> seen;
    std::set<std::string> kinds;
    for (const internal::ProbeFact& p : facts_.probes) {
      auto& entry = seen[{p.rule, p.detail}];
      if (entry.first == nullptr) entry.first = &p;
      ++entry.second;
      kinds.insert(rules_.probes[p.rule].name);
    }
    for (const auto& [key, value] : seen) {
      const internal::ProbeFact& p = *value.first;
      const ProbeRule& r = rules_.probes[p.rule];
      std::string detail = p.detail.size() > 80 ? "…" + p.detail.substr(p.detail.size() - 80) : p.detail;
      AddFinding("env-probe/" + r.name, Severity::kInfo, p.range.begin, p.range.end - p.range.begin,
                 fmt::format("Code {}: {}{}", r.what, detail,
                             value.second > 1 ? fmt::format(" ({} places)", value.second) : ""));
    }
    out_.probes.assign(kinds.begin(), kinds.end());
  }

  void CollectKeys() {
    std::set<std::string> seen;
    auto add = [&](std::string bytes) {
      if (keys_.size() < 48 && seen.insert(bytes).second) keys_.push_back(XorKey{std::move(bytes)});
    };
    std::set<uint32_t> xor_funcs;
    for (const internal::XorFact& x : facts_.xors) {
      if (x.constant > 0 && x.constant < 256) add(std::string(1, static_cast<char>(x.constant)));
      if (x.constant < 0 && x.func != kNone) xor_funcs.insert(x.func);
    }
    // Multi-byte keys: short literals in functions that XOR with a variable.
    for (const StringFact& s : facts_.strings) {
      if (s.func == kNone || s.value.size() < 2 || s.value.size() > 32 || !xor_funcs.count(s.func)) continue;
      if (s.origin != StringOrigin::kLiteral) continue;
      bool printable = true;
      for (unsigned char c : s.value) printable &= c > 0x20 && c < 0x7F;
      if (printable) add(s.value);
    }
  }

  void AddDecoded(const internal::Range& range, Decoding d, std::string list) {
    if (out_.decoded.size() >= limits_.max_decoded) {
      ++out_.decoded_omitted;
      // Not listed, but what it hides still counts: its URLs become hidden endpoints.
      if (unlisted_decoded_.size() < limits_.max_endpoints && unlisted_texts_.insert(d.text).second) {
        unlisted_decoded_.emplace_back(d.text, range.begin);
      }
      return;
    }
    DecodedString ds{d.encoding, d.text, std::string(TextShapeName(d.shape)), locator_.At(range.begin),
                     std::move(list)};
    decoded_at_[range.begin] = out_.decoded.size();
    out_.decoded.push_back(std::move(ds));
  }

  void Decode() {
    // Which string literals are items of which array, for the lists they form.
    std::unordered_map<uint32_t, uint32_t> item_of;  // string index → array begin
    for (const internal::StringArrayFact& a : facts_.string_arrays) {
      for (uint32_t i = 0; i < a.count; ++i) item_of[a.first_string + i] = a.range.begin;
    }
    for (uint32_t i = 0; i < facts_.strings.size(); ++i) {
      const StringFact& s = facts_.strings[i];
      // The label of the list the string belongs to, computed only for a
      // string that is kept.
      auto list = [&] {
        const auto it = item_of.find(i);
        return it == item_of.end() ? std::string() : locator_.Label(it->second);
      };
      if (s.origin == StringOrigin::kFromCharCode) {
        const TextShape shape = ClassifyText(s.value, rules_.shapes);
        if (shape != TextShape::kNone && s.value.size() >= 3) {
          AddDecoded(s.range, Decoding{"fromCharCode", s.value, shape}, list());
        }
        continue;
      }
      if (s.origin == StringOrigin::kStringArray) {
        if (auto d = DecodeStringLiteral(s.value, keys_, rules_.shapes); d && LooksEncoded(s.value)) {
          d->encoding = s.encoding + "+" + d->encoding;
          AddDecoded(s.range, std::move(*d), list());
          continue;
        }
        const TextShape shape = ClassifyText(s.value, rules_.shapes);
        if (shape != TextShape::kNone) AddDecoded(s.range, Decoding{s.encoding, s.value, shape}, list());
        continue;
      }
      if (s.origin == StringOrigin::kTemplate || !LooksEncoded(s.value)) continue;
      if (auto d = DecodeStringLiteral(s.value, keys_, rules_.shapes)) AddDecoded(s.range, std::move(*d), list());
    }
    for (const internal::NumberArrayFact& a : facts_.number_arrays) {
      if (auto d = DecodeCharCodes(a.values, keys_, rules_.shapes)) {
        AddDecoded(a.range, std::move(*d), a.group == kNone ? "" : locator_.Label(a.group));
      }
    }
    std::map<std::string, size_t> by_encoding;
    for (const DecodedString& d : out_.decoded) ++by_encoding[d.encoding];
    size_t reported = 0;
    for (const DecodedString& d : out_.decoded) {
      // Plain string-array reads are summarised by obfuscation/string-array.
      if (d.encoding.rfind("string-array(", 0) == 0 && d.shape == "text") continue;
      if (++reported > 200) break;
      AddFinding("obfuscation/decoded-string", Severity::kInfo, d.position.byte_offset, 1,
                 fmt::format("Hidden {} ({}): {}", d.shape, d.encoding, Quote(d.text, 80)), d.text);
    }
    for (const JsFacts::ResolvedArray& r : facts_.resolved_arrays) {
      AddFinding("obfuscation/string-array", Severity::kInfo, r.offset, 1,
                 fmt::format("Rotated string array of {} strings (rotation {}) resolved; {} reads decoded", r.size,
                             r.rotation, r.calls));
    }
  }

  // Items of a list, decoded where they were decoded.
  std::vector<std::pair<std::string, TextShape>> ListItems(const internal::StringArrayFact& a) const {
    std::vector<std::pair<std::string, TextShape>> items;
    for (uint32_t i = 0; i < a.count; ++i) {
      const StringFact& s = facts_.strings[a.first_string + i];
      if (auto it = decoded_at_.find(s.range.begin); it != decoded_at_.end()) {
        const DecodedString& d = out_.decoded[it->second];
        items.emplace_back(d.text, ClassifyText(d.text, rules_.shapes));
      } else {
        items.emplace_back(s.value, ClassifyText(s.value, rules_.shapes));
      }
    }
    return items;
  }

  // "list of 4 time zones: Asia/Shanghai, Asia/Urumqi, …"; "" unless most
  // items share a shape worth naming.
  std::string DescribeList(const std::vector<std::pair<std::string, TextShape>>& items, bool any_shape) const {
    if (items.size() < rules_.min_list_items && !any_shape) return {};
    std::map<TextShape, size_t> shapes;
    for (const auto& [text, shape] : items) ++shapes[shape];
    TextShape best = TextShape::kNone;
    size_t best_count = 0;
    for (const auto& [shape, count] : shapes) {
      if (shape != TextShape::kNone && shape != TextShape::kWords && shape != TextShape::kPath && count > best_count) {
        best = shape;
        best_count = count;
      }
    }
    if (best_count * 10 < items.size() * 6) {
      if (!any_shape) return {};
      best = TextShape::kNone;
    }
    std::string noun = best == TextShape::kDomain     ? "domains"
                       : best == TextShape::kTimezone ? "time zones"
                       : best == TextShape::kUrl      ? "URLs"
                       : best == TextShape::kEmail    ? "e-mail addresses"
                                                      : "strings";
    std::string out = fmt::format("list of {} {}: ", items.size(), noun);
    for (size_t i = 0; i < items.size() && i < 4; ++i) out += (i ? ", " : "") + items[i].first;
    if (items.size() > 4) out += ", …";
    return out;
  }

  // A list worth comparing a probe with: most items are domains, time zones,
  // URLs or addresses, or the items were hidden by an encoding.
  std::string TellingList(const internal::StringArrayFact& a) const {
    if (a.count > 5000) return {};
    const auto items = ListItems(a);
    std::string d = DescribeList(items, false);
    if (!d.empty()) return d;
    for (uint32_t i = 0; i < a.count; ++i) {
      if (decoded_at_.count(facts_.strings[a.first_string + i].range.begin)) return "hidden " + DescribeList(items, true);
    }
    return {};
  }

  void Lists() {
    size_t reported = 0;
    for (const internal::StringArrayFact& a : facts_.string_arrays) {
      if (a.count < rules_.min_list_items || a.count > 5000) continue;
      const auto items = ListItems(a);
      std::string description = DescribeList(items, false);
      if (description.empty()) continue;
      bool hidden = false;
      for (uint32_t i = 0; i < a.count; ++i) hidden |= decoded_at_.count(facts_.strings[a.first_string + i].range.begin) > 0;
      if (++reported > 100) break;
      std::string all;
      for (const auto& item : items) all += (all.empty() ? "" : "\n") + item.first;
      AddFinding("env-probe/hardcoded-list", Severity::kInfo, a.range.begin, 1,
                 fmt::format("Hard-coded {}{}{}", hidden ? "obfuscated " : "", description,
                             a.bound_name.empty() ? "" : " (" + a.bound_name + ")"),
                 all);
    }
    // Lists formed by decoded char-code arrays nested in one array.
    std::map<std::string, std::vector<std::pair<std::string, TextShape>>> by_list;
    for (const DecodedString& d : out_.decoded) {
      if (d.list.empty() || d.encoding.rfind("charcodes", 0) != 0) continue;
      by_list[d.list].emplace_back(d.text, ClassifyText(d.text, rules_.shapes));
    }
    for (const internal::NumberArrayFact& a : facts_.number_arrays) {
      if (a.group == kNone) continue;
      auto it = by_list.find(locator_.Label(a.group));
      if (it == by_list.end()) continue;
      std::string description = DescribeList(it->second, false);
      by_list.erase(it);
      if (description.empty()) continue;
      AddFinding("env-probe/hardcoded-list", Severity::kInfo, a.group, 1, "Hard-coded obfuscated " + description);
    }
  }

  void AddEndpoint(std::string_view url, std::string_view host, uint32_t offset, bool hidden) {
    if (!endpoint_urls_.insert(std::string(url)).second) return;
    EndpointRef e{std::string(url), std::string(host), locator_.At(offset), hidden};
    if (out_.endpoints.size() < limits_.max_endpoints) {
      if (!hidden) plain_endpoints_.push_back(out_.endpoints.size());
      out_.endpoints.push_back(std::move(e));
      return;
    }
    ++out_.endpoints_omitted;
    // Full: a hidden endpoint takes the place of the latest plain one.
    if (hidden && !plain_endpoints_.empty()) {
      out_.endpoints[plain_endpoints_.back()] = std::move(e);
      plain_endpoints_.pop_back();
    }
  }

  // URLs anywhere in the raw text (no bare host names: those need string
  // boundaries), each located where it starts.
  void TextEndpoints() {
    ForEachEndpoint(text_, rules_.shapes, [&](std::string_view url, std::string_view host, size_t at) {
      AddEndpoint(url, host, static_cast<uint32_t>(at), false);
    });
  }

  void Endpoints() {
    for (const StringFact& s : facts_.strings) {
      if (s.value.size() > 100000) continue;
      ForEachEndpoint(s.value, rules_.shapes, [&](std::string_view url, std::string_view host, size_t) {
        AddEndpoint(url, host, s.range.begin, false);
      });
    }
    for (const DecodedString& d : out_.decoded) {
      ForEachEndpoint(d.text, rules_.shapes, [&](std::string_view url, std::string_view host, size_t) {
        AddEndpoint(url, host, static_cast<uint32_t>(d.position.byte_offset), true);
      });
    }
    for (const auto& [text, offset] : unlisted_decoded_) {
      ForEachEndpoint(text, rules_.shapes, [&](std::string_view url, std::string_view host, size_t) {
        AddEndpoint(url, host, offset, true);
      });
    }
    HostFindings();
  }

  // One endpoint/host finding per distinct host.
  void HostFindings() {
    std::map<std::string, std::pair<const EndpointRef*, size_t>> hosts;
    for (const EndpointRef& e : out_.endpoints) {
      auto& entry = hosts[e.host];
      if (entry.first == nullptr || (e.hidden && !entry.first->hidden)) entry.first = &e;
      ++entry.second;
    }
    for (const auto& [host, entry] : hosts) {
      const EndpointRef& e = *entry.first;
      AddFinding("endpoint/host", Severity::kInfo, e.position.byte_offset, 1,
                 fmt::format("{}{} ({} URL{})", e.hidden ? "Hidden host " : "Host ", host, entry.second,
                             entry.second == 1 ? "" : "s"));
    }
  }

  void Sdks(hs_database_t* db, const std::vector<std::pair<uint32_t, uint32_t>>& ids) {
    if (db == nullptr || text_.empty()) return;
    hs_scratch_t* scratch = nullptr;
    if (hs_alloc_scratch(db, &scratch) != HS_SUCCESS) return;
    struct Ctx {
      const std::vector<std::pair<uint32_t, uint32_t>>* ids;
      std::map<uint32_t, std::pair<uint32_t, uint64_t>> first;  // sdk → (marker, end offset)
    } ctx{&ids, {}};
    auto on_match = [](unsigned id, unsigned long long, unsigned long long to, unsigned, void* p) -> int {
      auto* c = static_cast<Ctx*>(p);
      const auto [sdk, marker] = (*c->ids)[id];
      auto it = c->first.find(sdk);
      if (it == c->first.end() || to < it->second.second) c->first[sdk] = {marker, to};
      return 0;
    };
    hs_scan(db, text_.data(), static_cast<unsigned>(std::min<size_t>(text_.size(), UINT32_MAX)), 0, scratch, on_match,
            &ctx);
    hs_free_scratch(scratch);
    for (const auto& [sdk_index, hit] : ctx.first) {
      const SdkRule& sdk = rules_.sdks[sdk_index];
      const std::string& marker = sdk.markers[hit.first];
      const uint64_t offset = hit.second - marker.size();
      out_.sdks.push_back(SdkHit{sdk.name, std::string(SdkCategoryName(sdk.category)), marker, locator_.At(offset)});
      const bool remote = sdk.category == SdkCategory::kFeatureFlags || sdk.category == SdkCategory::kRemoteConfig;
      AddFinding((remote ? "remote-config/" : "endpoint/") + std::string(SdkCategoryName(sdk.category)),
                 Severity::kLow, offset, marker.size(),
                 fmt::format("{} ({}) is built in: {}", sdk.name, SdkCategoryName(sdk.category), Quote(marker)));
    }
  }

  bool NearPrompt(const StringFact& s) {
    if (prompt_offsets_.empty() && !prompt_scanned_) {
      prompt_scanned_ = true;
      for (const StringFact& p : facts_.strings) {
        if (p.value.size() < 60) continue;
        for (const std::string& marker : rules_.prompt_markers) {
          if (p.value.find(marker) != std::string::npos) {
            prompt_offsets_.push_back(p.range.begin);
            prompt_funcs_.insert(p.func);
            break;
          }
        }
      }
      std::sort(prompt_offsets_.begin(), prompt_offsets_.end());
    }
    if (s.func != kNone) return prompt_funcs_.count(s.func) > 0;
    // At module level: a prompt literal within 512 bytes.
    auto it = std::lower_bound(prompt_offsets_.begin(), prompt_offsets_.end(), s.range.begin > 512 ? s.range.begin - 512 : 0);
    return it != prompt_offsets_.end() && *it <= s.range.begin + 512;
  }

  void CodeBuiltUnicode() {
    const UnicodeData& data = UnicodeData::Get();
    for (const StringFact& s : facts_.strings) {
      if (s.origin != StringOrigin::kFromCharCode && s.origin != StringOrigin::kEscapedLiteral) continue;
      size_t count = 0;
      for (size_t i = 0; i < s.value.size(); ++count) {
        size_t len = 1;
        utf::DecodeOne(reinterpret_cast<const unsigned char*>(s.value.data()) + i, s.value.size() - i, &len);
        i += len;
      }
      std::vector<char32_t> hidden, lookalike;
      for (size_t i = 0; i < s.value.size();) {
        size_t len = 1;
        const int32_t cp =
            utf::DecodeOne(reinterpret_cast<const unsigned char*>(s.value.data()) + i, s.value.size() - i, &len);
        i += len;
        if (cp < 0x80) continue;
        switch (data.Classify(static_cast<char32_t>(cp))) {
          case CharClass::kTag:
          case CharClass::kVariationSelector:
          case CharClass::kInvisible:
          case CharClass::kSoftHyphen:
          case CharClass::kByteOrderMark:
          case CharClass::kHangulFiller:
          case CharClass::kBidiControl:
          case CharClass::kBidiMark: hidden.push_back(static_cast<char32_t>(cp)); break;
          case CharClass::kLookalikePunct:
          case CharClass::kTypographicPunct:
          case CharClass::kLookalikeLetter:
          case CharClass::kUnusualSpace: lookalike.push_back(static_cast<char32_t>(cp)); break;
          default: break;
        }
      }
      // An escaped typographic quote inside prose is how ASCII-only bundlers
      // write prose; a look-alike standing alone or built by code is not.
      // An escaped typographic quote inside prose is how ASCII-only bundlers
      // write prose, and a look-alike letter escaped alone is usually an icon
      // (U+2139); a look-alike built by code, escaped on its own, or placed
      // in prompt text is not.
      const bool built = s.origin == StringOrigin::kFromCharCode;
      bool strong_lookalike = false;
      for (char32_t c : lookalike) strong_lookalike |= data.Classify(c) != CharClass::kTypographicPunct;
      if (!built) {
        lookalike.erase(std::remove_if(lookalike.begin(), lookalike.end(),
                                       [&](char32_t c) { return data.Classify(c) == CharClass::kLookalikeLetter; }),
                        lookalike.end());
      }
      if (hidden.empty() && lookalike.empty()) continue;
      if (hidden.empty() && !built && count != 1 && !(strong_lookalike && NearPrompt(s))) continue;
      // Whitespace and character-class tables ("\t\n\xa0\u1680\u2000…\ufeff")
      // list many such code points on purpose.
      std::vector<char32_t> distinct = hidden;
      distinct.insert(distinct.end(), lookalike.begin(), lookalike.end());
      std::sort(distinct.begin(), distinct.end());
      distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
      if (distinct.size() >= 4 && s.origin != StringOrigin::kFromCharCode) continue;
      const bool prompt = NearPrompt(s);
      const std::string how = s.origin == StringOrigin::kFromCharCode ? "built with String.fromCharCode"
                                                                      : "written as an escape";
      std::vector<char32_t>& cps = hidden.empty() ? lookalike : hidden;
      AddFinding(hidden.empty() ? "unicode/lookalike-from-code" : "unicode/invisible-from-code",
                 prompt ? Severity::kHigh : Severity::kMedium, s.range.begin, s.range.end - s.range.begin,
                 fmt::format("{} {} {}{}", hidden.empty() ? "Look-alike character" : "Invisible character",
                             DescribeCodePoint(cps.front()), how, prompt ? ", near prompt text" : ""));
      if (!out_.findings.empty() && out_.findings.back().byte_offset == s.range.begin) {
        out_.findings.back().codepoints = cps;
      }
    }
  }

  void RawUnicode(TextKind kind) {
    HiddenTextDetector detector;
    std::vector<Finding> raw;
    detector.Scan(text_, TextContext{kind, true}, &raw);
    for (Finding& f : raw) {
      Finding* slot = Slot(f.rule, f.severity);
      if (slot == nullptr) continue;
      const Position p = locator_.At(f.byte_offset);
      f.line = p.line;
      f.column = p.column;
      f.snippet = locator_.Snippet(f.byte_offset, std::max<uint64_t>(f.byte_length, 1));
      f.fixes.clear();
      *slot = std::move(f);
    }
  }

  // --- correlation -------------------------------------------------------

  bool Visible(uint32_t use_func, uint32_t decl_func) const {
    if (decl_func == kNone) return true;
    for (uint32_t f = use_func; f != kNone; f = facts_.functions[f].parent) {
      if (f == decl_func) return true;
    }
    return false;
  }

  // The probe a piece of code reads, directly or through a variable or a
  // function that returns one; kNone when none.
  uint32_t ProbeIn(Range r, uint32_t func) const {
    const auto& probes = facts_.probes;
    auto it = std::lower_bound(probes.begin(), probes.end(), r.begin,
                               [](const internal::ProbeFact& p, uint32_t b) { return p.range.begin < b; });
    if (it != probes.end() && it->range.begin < r.end) return static_cast<uint32_t>(it - probes.begin());
    uint32_t found = kNone;
    if (tainted_.empty()) return found;
    ForEachIdentifier(text_.substr(r.begin, r.end - r.begin), [&](std::string_view name, bool called) {
      if (!MayBeTainted(name)) return true;
      auto t = tainted_.find(name);
      if (t == tainted_.end()) return true;
      for (const auto& [decl_func, probe, is_function] : t->second) {
        // Minified code reuses short names in every scope: a name declared at
        // module level, or a function name, counts only when it is long
        // enough to be the same variable wherever it appears.
        const bool distinctive = name.size() >= 4;
        if ((is_function && called && distinctive) ||
            (!is_function && Visible(func, decl_func) && (decl_func != kNone || distinctive))) {
          found = probe;
          return false;
        }
      }
      return true;
    });
    return found;
  }

  // A cheap filter before the hash lookup in tainted_: the first bytes and
  // the lengths (capped at 63) of the names in it.
  void NoteTainted(std::string_view name) {
    if (name.empty()) return;
    tainted_first_[static_cast<unsigned char>(name.front())] = true;
    tainted_lengths_ |= uint64_t{1} << std::min<size_t>(name.size(), 63);
  }
  bool MayBeTainted(std::string_view name) const {
    return !name.empty() && tainted_first_[static_cast<unsigned char>(name.front())] &&
           ((tainted_lengths_ >> std::min<size_t>(name.size(), 63)) & 1) != 0;
  }

  void Taint() {
    // A declaration or return found to read a probe in the first round
    // cannot add anything in the second: its entry is there already.
    std::vector<bool> decl_done(facts_.decls.size()), return_done(facts_.returns.size());
    for (int round = 0; round < 2; ++round) {
      for (size_t i = 0; i < facts_.decls.size(); ++i) {
        const internal::DeclFact& d = facts_.decls[i];
        if (decl_done[i] || d.value.end - d.value.begin > 4000) continue;
        const uint32_t probe = ProbeIn(d.value, d.func);
        if (probe == kNone) continue;
        decl_done[i] = true;
        NoteTainted(d.name);
        auto& entries = tainted_[d.name];
        bool present = false;
        for (const auto& e : entries) present |= std::get<0>(e) == d.func && !std::get<2>(e);
        if (!present) entries.emplace_back(d.func, probe, false);
      }
      for (size_t i = 0; i < facts_.returns.size(); ++i) {
        const internal::ReturnFact& r = facts_.returns[i];
        if (return_done[i] || r.func == kNone || facts_.functions[r.func].name.empty() ||
            r.range.end - r.range.begin > 4000) {
          continue;
        }
        const uint32_t probe = ProbeIn(r.range, r.func);
        if (probe == kNone) continue;
        return_done[i] = true;
        NoteTainted(facts_.functions[r.func].name);
        auto& entries = tainted_[facts_.functions[r.func].name];
        bool present = false;
        for (const auto& e : entries) present |= std::get<2>(e);
        if (!present) entries.emplace_back(kNone, probe, true);
      }
    }
  }

  // Describes the list or constant side of a comparison, "" when it is
  // neither.
  std::string ListOrConstant(Range r, uint32_t func, bool timezone_probe, int depth = 0,
                             std::string_view code_override = {}) const {
    if (r.end - r.begin > 100000 || depth > 2) return {};
    const std::string_view code = code_override.empty() ? text_.substr(r.begin, r.end - r.begin) : code_override;
    if (auto it = string_at_.find(r.begin); code_override.empty() && it != string_at_.end()) {
      const StringFact& s = facts_.strings[it->second];
      if (s.origin == StringOrigin::kTemplate) return {};
      if (s.range.end >= r.end - 1) {
        if (auto d = decoded_at_.find(s.range.begin); d != decoded_at_.end()) {
          return "hidden constant " + Quote(out_.decoded[d->second].text) + " (" + out_.decoded[d->second].encoding + ")";
        }
        // Type names, error codes and punctuation are compared everywhere;
        // a host, URL, address or time zone is what tells users apart.
        const TextShape shape = ClassifyText(s.value, rules_.shapes);
        if (shape != TextShape::kDomain && shape != TextShape::kTimezone && shape != TextShape::kUrl &&
            shape != TextShape::kEmail) {
          return {};
        }
        return "constant " + Quote(s.value);
      }
    }
    if (IsNumberLiteral(code)) {
      // Only a UTC offset in minutes (getTimezoneOffset() === -480) is telling.
      const auto minutes = std::strtol(std::string(code).c_str(), nullptr, 10);
      if (!timezone_probe || minutes == 0 || minutes % 15 != 0 || minutes < -840 || minutes > 840) return {};
      return "constant " + std::string(code);
    }
    // [d(0x1a1), d(0x1a6)]: an array literal of strings read from a
    // rotated string array.
    if (code_override.empty() && code.size() > 2 && code.front() == '[') {
      std::vector<std::pair<std::string, TextShape>> items;
      auto it = std::lower_bound(strings_sorted_.begin(), strings_sorted_.end(), r.begin,
                                 [&](uint32_t i, uint32_t b) { return facts_.strings[i].range.begin < b; });
      for (; it != strings_sorted_.end() && facts_.strings[*it].range.begin < r.end && items.size() < 5000; ++it) {
        const StringFact& s = facts_.strings[*it];
        if (s.origin == StringOrigin::kStringArray) items.emplace_back(s.value, ClassifyText(s.value, rules_.shapes));
      }
      if (!items.empty()) {
        std::string d = DescribeList(items, false);
        if (!d.empty()) return "hidden " + d;
      }
    }
    if (code_override.empty()) {
      // The arrays inside r, in their order in facts_.string_arrays.
      std::vector<uint32_t> inside;
      for (auto it = std::lower_bound(arrays_by_begin_.begin(), arrays_by_begin_.end(), r.begin,
                                      [&](uint32_t i, uint32_t b) { return facts_.string_arrays[i].range.begin < b; });
           it != arrays_by_begin_.end() && facts_.string_arrays[*it].range.begin < r.end; ++it) {
        if (r.Contains(facts_.string_arrays[*it].range)) inside.push_back(*it);
      }
      std::sort(inside.begin(), inside.end());
      for (uint32_t i : inside) {
        std::string d = TellingList(facts_.string_arrays[i]);
        if (!d.empty()) return d;
      }
    }
    if (code.size() <= 80) {
      // A name bound to a list or constant.
      std::string_view name = code;
      while (!name.empty() && (name.front() == '(' || name.front() == '!')) name.remove_prefix(1);
      while (!name.empty() && name.back() == ')') name.remove_suffix(1);
      if (auto it = decls_by_name_.find(name); it != decls_by_name_.end()) {
        for (uint32_t index : it->second) {
          const internal::DeclFact& d = facts_.decls[index];
          if (!Visible(func, d.func)) continue;
          std::string inner = ListOrConstant(d.value, d.func, timezone_probe, depth + 1);
          if (inner.empty()) continue;
          // A short module-level name is only trusted for a list, which is
          // telling on its own; a lone constant could be any shadowed name.
          if (d.func == kNone && name.size() < 4 && inner.find("list of") == std::string::npos) continue;
          return inner + " (" + std::string(name) + ")";
        }
      }
      // `LIST.map(decode)`, `new Set(LIST)`: the list is the first name.
      if (depth == 0) {
        std::string_view first;
        ForEachIdentifier(code, [&](std::string_view id, bool) {
          if (id == "new" || id == "Set" || id == "Array" || id == "Object") return true;
          first = id;
          return false;
        });
        if (!first.empty() && first != name) {
          std::string inner = ListOrConstant(Range{0, 0}, func, timezone_probe, depth + 1, first);
          if (!inner.empty()) return inner;
        }
      }
      if (auto it = arrays_by_name_.find(name); it != arrays_by_name_.end()) {
        for (uint32_t i : it->second) {
          const internal::StringArrayFact& a = facts_.string_arrays[i];
          if (!Visible(func, a.func)) continue;
          std::string d = TellingList(a);
          if (!d.empty()) return d;
        }
      }
    }
    return {};
  }

  // The branch a comparison decides, directly or through a flag variable or
  // a function that returns the comparison.
  uint32_t BranchOf(const CompareFact& c) const {
    if (c.condition_of != kNone) return c.condition_of;
    std::vector<std::pair<std::string_view, bool>> flags;  // name, is_function
    for (const internal::DeclFact& d : facts_.decls) {
      if (d.value.Contains(c.range.begin) && d.value.end - d.value.begin < 4000) flags.emplace_back(d.name, false);
    }
    for (const internal::ReturnFact& r : facts_.returns) {
      if (r.range.Contains(c.range.begin) && r.func != kNone && !facts_.functions[r.func].name.empty()) {
        flags.emplace_back(facts_.functions[r.func].name, true);
      }
    }
    if (flags.empty()) return kNone;
    for (uint32_t b = 0; b < facts_.branches.size(); ++b) {
      const internal::BranchFact& br = facts_.branches[b];
      if (br.condition.end - br.condition.begin > 2000 || br.condition.begin < c.range.begin) continue;
      bool hit = false;
      ForEachIdentifier(text_.substr(br.condition.begin, br.condition.end - br.condition.begin),
                        [&](std::string_view name, bool called) {
                          for (const auto& [flag, is_function] : flags) {
                            if (name == flag && (is_function ? called : Visible(br.func, c.func))) hit = true;
                          }
                          return !hit;
                        });
      if (hit) return b;
    }
    return kNone;
  }

  std::string OutputOf(const internal::BranchFact& b, uint32_t* offset) const {
    for (Range r : {b.consequence, b.alternative}) {
      if (r.Empty()) continue;
      auto it = strings_sorted_.empty() ? strings_sorted_.end()
                                        : std::lower_bound(strings_sorted_.begin(), strings_sorted_.end(), r.begin,
                                                           [&](uint32_t i, uint32_t b2) {
                                                             return facts_.strings[i].range.begin < b2;
                                                           });
      for (; it != strings_sorted_.end() && facts_.strings[*it].range.begin < r.end; ++it) {
        const StringFact& s = facts_.strings[*it];
        if (s.value.size() < 2) continue;
        *offset = s.range.begin;
        return "output string " + Quote(s.value);
      }
    }
    *offset = b.consequence.Empty() ? b.condition.begin : b.consequence.begin;
    return "a branch";
  }

  void Correlate() {
    if (facts_.compares.empty() || facts_.probes.empty()) return;
    for (uint32_t i = 0; i < facts_.strings.size(); ++i) {
      string_at_.emplace(facts_.strings[i].range.begin, i);
      strings_sorted_.push_back(i);
    }
    std::sort(strings_sorted_.begin(), strings_sorted_.end(),
              [&](uint32_t a, uint32_t b) { return facts_.strings[a].range.begin < facts_.strings[b].range.begin; });
    for (uint32_t i = 0; i < facts_.decls.size(); ++i) decls_by_name_[facts_.decls[i].name].push_back(i);
    for (uint32_t i = 0; i < facts_.string_arrays.size(); ++i) {
      arrays_by_begin_.push_back(i);
      if (!facts_.string_arrays[i].bound_name.empty()) arrays_by_name_[facts_.string_arrays[i].bound_name].push_back(i);
    }
    std::stable_sort(arrays_by_begin_.begin(), arrays_by_begin_.end(), [&](uint32_t a, uint32_t b) {
      return facts_.string_arrays[a].range.begin < facts_.string_arrays[b].range.begin;
    });
    Taint();
    std::set<std::tuple<uint32_t, std::string, uint32_t>> reported;
    for (const CompareFact& c : facts_.compares) {
      uint32_t probe = ProbeIn(c.value, c.func);
      Range other = c.other;
      if (probe == kNone && c.kind == CompareKind::kEquals) {
        probe = ProbeIn(c.other, c.func);
        other = c.value;
      }
      if (probe == kNone) continue;
      const bool timezone_probe = rules_.probes[facts_.probes[probe].rule].name == "timezone";
      const std::string against = ListOrConstant(other, c.func, timezone_probe);
      if (against.empty()) continue;
      const uint32_t branch = BranchOf(c);
      const internal::ProbeFact& p = facts_.probes[probe];
      const ProbeRule& rule = rules_.probes[p.rule];
      if (!reported.insert({p.rule, against, branch}).second) continue;
      if (branch == kNone) {
        AddFinding("env-probe/" + rule.name, Severity::kLow, c.range.begin, c.range.end - c.range.begin,
                   fmt::format("Compares what code {} ({} at {}) with a {}", rule.what, p.detail,
                               locator_.Label(p.range.begin), against));
        continue;
      }
      uint32_t output_offset = 0;
      const std::string output = OutputOf(facts_.branches[branch], &output_offset);
      out_.correlations.push_back(Correlation{rule.name, against, output, locator_.At(c.range.begin)});
      AddFinding("env-probe/environment-dependent-output", Severity::kHigh, c.range.begin, c.range.end - c.range.begin,
                 fmt::format("Output depends on the environment: code {} ({} at {}), compares it with a {} at {}, "
                             "and picks {} at {}",
                             rule.what, p.detail, locator_.Label(p.range.begin), against,
                             locator_.Label(c.range.begin), output, locator_.Label(output_offset)));
    }
  }

  std::string_view text_;
  const AuditRules& rules_;
  const AnalysisLimits& limits_;
  ModuleAnalysis& out_;
  Locator locator_;
  JsFacts facts_;
  std::vector<XorKey> keys_;
  // Where a finding of `rule` at `severity` goes: a new element of
  // out_.findings, or, past max_findings_per_rule, the place of the latest
  // kept finding of that rule with the lowest severity below `severity`;
  // nullptr when none is less severe (the finding is only counted).
  Finding* Slot(const std::string& rule, Severity severity) {
    PerRule& r = per_rule_[rule];
    const size_t sev = static_cast<size_t>(severity);
    if (r.kept < limits_.max_findings_per_rule) {
      ++r.kept;
      r.by_severity[sev].push_back(out_.findings.size());
      return &out_.findings.emplace_back();
    }
    ++out_.findings_omitted;
    for (size_t lower = 0; lower < sev; ++lower) {
      if (r.by_severity[lower].empty()) continue;
      const size_t at = r.by_severity[lower].back();
      r.by_severity[lower].pop_back();
      r.by_severity[sev].push_back(at);
      out_.findings[at] = Finding();
      return &out_.findings[at];
    }
    return nullptr;
  }
  struct PerRule {
    size_t kept = 0;
    std::array<std::vector<size_t>, 5> by_severity;  // indexes into out_.findings
  };
  std::map<std::string, PerRule> per_rule_;
  std::vector<size_t> plain_endpoints_;  // indexes of endpoints that are not hidden
  std::vector<std::pair<std::string, uint32_t>> unlisted_decoded_;  // decoded past max_decoded: text, offset
  std::unordered_set<std::string> unlisted_texts_;  // distinct texts of unlisted_decoded_
  std::unordered_map<uint32_t, size_t> decoded_at_;
  std::unordered_set<std::string> endpoint_urls_;
  std::vector<uint32_t> prompt_offsets_;
  std::unordered_set<uint32_t> prompt_funcs_;
  bool prompt_scanned_ = false;
  std::unordered_map<uint32_t, uint32_t> string_at_;
  std::vector<uint32_t> strings_sorted_;
  std::unordered_map<std::string_view, std::vector<uint32_t>> decls_by_name_;
  std::vector<uint32_t> arrays_by_begin_;  // string_arrays indices by range.begin
  std::unordered_map<std::string_view, std::vector<uint32_t>> arrays_by_name_;  // by bound_name, in index order
  // name → (declaring function, probe index, is a function name)
  std::unordered_map<std::string_view, std::vector<std::tuple<uint32_t, uint32_t, bool>>> tainted_;
  std::array<bool, 256> tainted_first_{};
  uint64_t tainted_lengths_ = 0;
};

}  // namespace

ModuleAnalysis Analyzer::Analyze(std::string_view js, const AnalysisLimits& limits) const {
  ModuleAnalysis out;
  ModuleRun run(js, rules_, limits, &out);
  run.Run(internal::GatherFacts(js, rules_), sdk_db_ ? sdk_db_->db : nullptr,
          sdk_db_ ? sdk_db_->ids : std::vector<std::pair<uint32_t, uint32_t>>{});
  std::stable_sort(out.findings.begin(), out.findings.end(),
                   [](const Finding& a, const Finding& b) { return a.byte_offset < b.byte_offset; });
  return out;
}

ModuleAnalysis Analyzer::AnalyzeAsset(std::string_view text, std::string_view path,
                                      const AnalysisLimits& limits) const {
  ModuleAnalysis out;
  ModuleRun run(text, rules_, limits, &out);
  run.RunAsset(IsJsonAsset(path), TextKindForPath(path), sdk_db_ ? sdk_db_->db : nullptr,
               sdk_db_ ? sdk_db_->ids : std::vector<std::pair<uint32_t, uint32_t>>{});
  std::stable_sort(out.findings.begin(), out.findings.end(),
                   [](const Finding& a, const Finding& b) { return a.byte_offset < b.byte_offset; });
  return out;
}

ModuleAnalysis Analyzer::AnalyzeStrings(const std::vector<std::string_view>& strings,
                                        const std::vector<uint64_t>& offsets, const AnalysisLimits& limits) const {
  ModuleAnalysis out;
  std::unordered_set<std::string> seen;
  std::set<std::string> kinds;
  for (size_t i = 0; i < strings.size(); ++i) {
    const std::string_view s = strings[i];
    const uint64_t offset = i < offsets.size() ? offsets[i] : 0;
    const Position pos{offset, 0, 0};
    ForEachEndpoint(s, rules_.shapes, [&](std::string_view url, std::string_view host, size_t) {
      if (!seen.insert(std::string(url)).second) return;
      if (out.endpoints.size() < limits.max_endpoints) {
        out.endpoints.push_back(EndpointRef{std::string(url), std::string(host), pos, false});
      } else {
        ++out.endpoints_omitted;
      }
    });
    if (s.size() <= 200) {
      for (const ProbeRule& r : rules_.probes) {
        const re2::RE2* re = r.string_regex ? r.string_regex.get() : r.env_regex.get();
        if (re == nullptr || !re2::RE2::FullMatch(re2::StringPiece(s.data(), s.size()), *re)) continue;
        if (!kinds.insert(r.name + "\n" + std::string(s)).second) continue;
        Finding f;
        f.rule = "env-probe/" + r.name;
        f.severity = Severity::kInfo;
        f.byte_offset = offset;
        f.byte_length = s.size();
        f.message = fmt::format("Binary holds {} ({})", Quote(s), r.what);
        out.findings.push_back(std::move(f));
      }
    }
    for (size_t k = 0; k < rules_.sdks.size(); ++k) {
      const SdkRule& sdk = rules_.sdks[k];
      for (const std::string& marker : sdk.markers) {
        if (s.find(marker) == std::string_view::npos) continue;
        if (std::any_of(out.sdks.begin(), out.sdks.end(), [&](const SdkHit& h) { return h.name == sdk.name; })) break;
        out.sdks.push_back(SdkHit{sdk.name, std::string(SdkCategoryName(sdk.category)), marker, pos});
        const bool remote = sdk.category == SdkCategory::kFeatureFlags || sdk.category == SdkCategory::kRemoteConfig;
        Finding f;
        f.rule = (remote ? "remote-config/" : "endpoint/") + std::string(SdkCategoryName(sdk.category));
        f.severity = Severity::kLow;
        f.byte_offset = offset;
        f.message = fmt::format("{} ({}) is built in: {}", sdk.name, SdkCategoryName(sdk.category), Quote(marker));
        out.findings.push_back(std::move(f));
        break;
      }
    }
  }
  std::map<std::string, std::pair<const EndpointRef*, size_t>> hosts;
  for (const EndpointRef& e : out.endpoints) {
    auto& entry = hosts[e.host];
    if (entry.first == nullptr) entry.first = &e;
    ++entry.second;
  }
  for (const auto& [host, entry] : hosts) {
    Finding f;
    f.rule = "endpoint/host";
    f.byte_offset = entry.first->position.byte_offset;
    f.message = fmt::format("Host {} ({} URL{})", host, entry.second, entry.second == 1 ? "" : "s");
    out.findings.push_back(std::move(f));
  }
  for (const std::string& k : kinds) out.probes.push_back(k.substr(0, k.find('\n')));
  std::sort(out.probes.begin(), out.probes.end());
  out.probes.erase(std::unique(out.probes.begin(), out.probes.end()), out.probes.end());
  return out;
}

}  // namespace glassbox::audit
