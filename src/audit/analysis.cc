#include "audit/analysis.h"

#include <fmt/format.h>
#include <hs/hs.h>
#include <re2/re2.h>

#include <cstring>
#include <initializer_list>
#include <tuple>

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <arpa/inet.h>

#include "audit/js_eval.h"
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
      for (unsigned char c : analyzer->rules_.sdks[s].markers[m])
        escaped += fmt::format("\\x{:02x}", c);
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
    if (hs_compile_multi(ptrs.data(), flags.data(), ids.data(), static_cast<unsigned>(ptrs.size()),
                         HS_MODE_BLOCK, nullptr, &db->db, &error) != HS_SUCCESS) {
      std::string message =
          error != nullptr && error->message != nullptr ? error->message : "unknown error";
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
       "A function reads part of the environment (time zone, host name, proxy or base URL, …), "
       "compares it "
       "with a hard-coded list or constant, and picks an output string or branch. The agent can "
       "behave "
       "differently for some users without telling them. Confirm with `glassbox probe`.",
       Severity::kHigh},
      {"env-probe/covert-marker", "Covert marker chosen by the environment",
       "Code picks between strings that differ only by look-alike, invisible or separator code "
       "points "
       "(U+0027 / U+2019 / U+02BC, a zero-width space, …) under a condition derived from the "
       "environment: "
       "output that looks the same to a reader but lets the receiver tell users apart. The finding "
       "names "
       "the probe, the lists it is compared with, the variants and where the chosen one is used.",
       Severity::kCritical},
      {"env-probe/timezone", "Reads the time zone",
       "Time zone reads are common (logging, dates); they matter "
       "when compared with a list (see env-probe/environment-dependent-output).",
       Severity::kInfo},
      {"env-probe/locale", "Reads the locale",
       "Locale reads are common; they matter when compared with a list.", Severity::kInfo},
      {"env-probe/hostname", "Reads the machine's host name",
       "Host names identify machines and companies.", Severity::kInfo},
      {"env-probe/user-info", "Reads the user account", "User names identify people.",
       Severity::kInfo},
      {"env-probe/network-interfaces", "Lists network interfaces",
       "Interface lists carry MAC addresses, a "
       "stable machine identifier.",
       Severity::kInfo},
      {"env-probe/machine-id", "Reads a machine identifier",
       "Machine ids (machine-id, DMI, dbus, "
       "IOPlatformUUID, MachineGuid) identify a machine across installs.",
       Severity::kInfo},
      {"env-probe/proxy-env", "Reads proxy settings",
       "Proxy host names reveal the network a user is in.", Severity::kInfo},
      {"env-probe/base-url-env", "Reads an API base-URL override",
       "The configured API host (a company "
       "gateway or relay) reveals who the user is.",
       Severity::kInfo},
      {"env-probe/hardcoded-list", "Hard-coded list of domains or time zones",
       "A list of domains, "
       "organisations or time zones in code: harmless alone, telling when a probed value is "
       "compared with it.",
       Severity::kInfo},
      {"obfuscation/decoded-string", "String hidden by encoding",
       "A string stored as base64, hex, char codes, "
       "XOR or a rotated string array, decoded by glassbox without running code. Hidden domains "
       "and time "
       "zones deserve a look.",
       Severity::kInfo},
      {"obfuscation/string-array", "Rotated string array (javascript-obfuscator)",
       "The module hides its "
       "strings in a rotated array read through a decoder function; glassbox resolved the "
       "rotation.",
       Severity::kInfo},
      {"endpoint/host", "Host the code can contact", "A URL or host name in a string literal.",
       Severity::kInfo},
      {"endpoint/telemetry", "Telemetry SDK or service",
       "Usage data leaves the machine; check what and whether "
       "it can be turned off.",
       Severity::kLow},
      {"endpoint/error-reporting", "Error-reporting SDK or service",
       "Crash reports can carry paths, prompts "
       "and environment details.",
       Severity::kLow},
      {"remote-config/feature-flags", "Feature-flag service",
       "Behaviour can be switched remotely, per user or "
       "per group, after you approved the version.",
       Severity::kLow},
      {"remote-config/remote-config", "Remote configuration service",
       "Configuration fetched at run time can "
       "change behaviour after you approved the version.",
       Severity::kLow},
      {"unicode/lookalike-from-code",
       "Look-alike character hidden behind an escape or built by code",
       "A look-alike code point (U+02BC, U+2019, …) written as \\u escape or built with "
       "String.fromCharCode "
       "escapes both readers and `glassbox scan`; near prompt text it can mark or alter what a "
       "model reads.",
       Severity::kMedium},
      {"unicode/invisible-from-code",
       "Invisible character hidden behind an escape or built by code",
       "A zero-width, tag or bidi code point written as an escape or built by code.",
       Severity::kMedium},
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
    for (const char* p = text.data();
         (p = static_cast<const char*>(
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
    const uint64_t column = offset - start <= kBlock
                                ? CountCodePoints(start, offset)
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
    const int32_t cp =
        utf::DecodeOne(reinterpret_cast<const unsigned char*>(s.data()) + i, s.size() - i, &len);
    if (cp < 0x20 || cp == 0x7F) {
      out += cp == '\n' ? "\\n" : fmt::format("\\x{:02x}", static_cast<unsigned>(s[i]) & 0xFF);
    } else if (cp >= 0x80 &&
               UnicodeData::Get().Classify(static_cast<char32_t>(cp)) != CharClass::kOrdinary) {
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
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '$' || c >= 0x80;
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
      if (c <= 0x20 || c == '"' || c == '\'' || c == '`' || c == '<' || c == '>' || c == '\\' ||
          c == ')' || c == ']' || c >= 0x7F) {
        break;
      }
      ++end;
    }
    std::string_view url = s.substr(start, end - start);
    std::string_view rest = url.substr(scheme.size() + 3);
    // A template's `${…}` is filled in at run time: the host is what is written before it.
    std::string_view host = rest.substr(0, std::min(rest.find_first_of("/?#"), rest.find("${")));
    if (const size_t at = host.rfind('@'); at != std::string_view::npos) host.remove_prefix(at + 1);
    if (!host.empty() && host.front() != '[') host = host.substr(0, host.find(':'));
    // A host built at run time (`http://${ip}/…` in a template, `"http://" + h`) is not an
    // endpoint. Not a host: nothing written before a template's `${`, or a regex, a format string
    // or prose
    // (`https://(?:…`, `https://$1.`, `https://...`). Placeholders (`{region}`) and wildcards stay.
    const auto host_char = [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) ||
             std::strchr("-._[]:{}#*%", c) != nullptr;
    };
    const auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
    if (!std::all_of(host.begin(), host.end(), host_char) ||
        std::none_of(host.begin(), host.end(), alnum)) {
      continue;
    }
    any = true;
    f(url, host, start);
    from = end;
  }
  if (!any && s.size() < 254 && IsHostName(s, shapes)) f(s, s, 0);
}

class ModuleRun {
 public:
  // A decoder call evaluated to a string or a list of strings.
  struct EvalHit {
    Range call;
    std::string callee;
    internal::EvalResult result;
    std::string via;
  };
  ModuleRun(std::string_view text, const AuditRules& rules, const AnalysisLimits& limits,
            ModuleAnalysis* out)
      : text_(text), rules_(rules), limits_(limits), out_(*out), locator_(text) {}

  void Run(JsFacts facts, hs_database_t* sdk_db,
           const std::vector<std::pair<uint32_t, uint32_t>>& sdk_ids) {
    facts_ = std::move(facts);
    out_.has_syntax_errors = facts_.has_syntax_errors;
    out_.not_parsed = facts_.not_parsed;
    Probes();
    CollectKeys();
    IndexNames();
    Decode();
    EvaluateDecoders();
    SearchKeys();
    Lists();
    // A module that could not be parsed at all still gets its URLs.
    if (!facts_.not_parsed.empty()) TextEndpoints();
    Endpoints();
    Sdks(sdk_db, sdk_ids);
    PrepareCorrelation();
    CovertMarkers();
    CodeBuiltUnicode();
    RawUnicode(TextKind::kCode);
    Correlate();
    ApplyCaps();
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
        ForEachEndpoint(v.decoded, rules_.shapes,
                        [&](std::string_view url, std::string_view host, size_t) {
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
  void AddFinding(std::string rule, Severity severity, uint64_t offset, uint64_t length,
                  std::string message, std::string decoded = {}) {
    Finding f;
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
    out_.findings.push_back(std::move(f));
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
      std::string detail =
          p.detail.size() > 80 ? "…" + p.detail.substr(p.detail.size() - 80) : p.detail;
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
      if (s.func == kNone || s.value.size() < 2 || s.value.size() > 32 || !xor_funcs.count(s.func))
        continue;
      if (s.origin != StringOrigin::kLiteral) continue;
      bool printable = true;
      for (unsigned char c : s.value) printable &= c > 0x20 && c < 0x7F;
      if (printable) add(s.value);
    }
  }

  void AddDecoded(const internal::Range& range, Decoding d, std::string list) {
    DecodedString ds{
        d.encoding,      d.text, std::string(TextShapeName(d.shape)), locator_.At(range.begin),
        std::move(list), {}};
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
        if (auto d = DecodeStringLiteral(s.value, keys_, rules_.shapes);
            d && LooksEncoded(s.value)) {
          d->encoding = s.encoding + "+" + d->encoding;
          AddDecoded(s.range, std::move(*d), list());
          continue;
        }
        const TextShape shape = ClassifyText(s.value, rules_.shapes);
        if (shape != TextShape::kNone)
          AddDecoded(s.range, Decoding{s.encoding, s.value, shape}, list());
        continue;
      }
      if (s.origin == StringOrigin::kTemplate || !LooksEncoded(s.value)) continue;
      if (auto d = DecodeStringLiteral(s.value, keys_, rules_.shapes))
        AddDecoded(s.range, std::move(*d), list());
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
      if (++reported > 200) {
        out_.notes.push_back(fmt::format(
            "obfuscation/decoded-string: {} decoded strings, findings for the first 200 "
            "(all are in decoded_strings)",
            out_.decoded.size()));
        break;
      }
      AddFinding("obfuscation/decoded-string", Severity::kInfo, d.position.byte_offset, 1,
                 fmt::format("Hidden {} ({}): {}", d.shape, d.encoding, Quote(d.text, 80)), d.text);
    }
    for (const JsFacts::ResolvedArray& r : facts_.resolved_arrays) {
      AddFinding(
          "obfuscation/string-array", Severity::kInfo, r.offset, 1,
          fmt::format("Rotated string array of {} strings (rotation {}) resolved; {} reads decoded",
                      r.size, r.rotation, r.calls));
    }
  }

  // Items of a list, decoded where they were decoded.
  std::vector<std::pair<std::string, TextShape>> ListItems(
      const internal::StringArrayFact& a) const {
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
  std::string DescribeList(const std::vector<std::pair<std::string, TextShape>>& items,
                           bool any_shape) const {
    if (items.size() < rules_.min_list_items && !any_shape) return {};
    std::map<TextShape, size_t> shapes;
    for (const auto& [text, shape] : items) ++shapes[shape];
    TextShape best = TextShape::kNone;
    size_t best_count = 0;
    for (const auto& [shape, count] : shapes) {
      if (shape != TextShape::kNone && shape != TextShape::kWords && shape != TextShape::kPath &&
          count > best_count) {
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
      if (decoded_at_.count(facts_.strings[a.first_string + i].range.begin))
        return "hidden " + DescribeList(items, true);
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
      for (uint32_t i = 0; i < a.count; ++i)
        hidden |= decoded_at_.count(facts_.strings[a.first_string + i].range.begin) > 0;
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
      AddFinding("env-probe/hardcoded-list", Severity::kInfo, a.group, 1,
                 "Hard-coded obfuscated " + description);
    }
  }

  void AddEndpoint(std::string_view url, std::string_view host, uint32_t offset, bool hidden,
                   std::string kind = {}, std::string reason = {}) {
    if (!endpoint_urls_.insert(std::string(url)).second) return;
    if (kind.empty()) kind = IpLiteral(host) ? "ip" : url == host ? "host" : "url";
    if (kind == "ip" && reason.empty()) reason = IpReason(offset, url, 0);
    out_.endpoints.push_back(EndpointRef{std::string(url), std::string(host), locator_.At(offset),
                                         hidden, std::move(kind), std::move(reason)});
  }

  // URLs anywhere in the raw text (no bare host names: those need string
  // boundaries), each located where it starts.
  void TextEndpoints() {
    ForEachEndpoint(text_, rules_.shapes,
                    [&](std::string_view url, std::string_view host, size_t at) {
                      AddEndpoint(url, host, static_cast<uint32_t>(at), false);
                    });
  }

  void Endpoints() {
    for (const StringFact& s : facts_.strings) {
      if (s.value.size() > 100000) continue;
      ForEachEndpoint(
          s.value, rules_.shapes, [&](std::string_view url, std::string_view host, size_t) {
            if (IpLiteral(host)) {
              AddEndpoint(url, host, s.range.begin, false, "ip", IpReason(s.range.begin, url, 0));
            } else {
              AddEndpoint(url, host, s.range.begin, false);
            }
          });
    }
    for (const DecodedString& d : out_.decoded) {
      ForEachEndpoint(d.text, rules_.shapes,
                      [&](std::string_view url, std::string_view host, size_t) {
                        AddEndpoint(url, host, static_cast<uint32_t>(d.position.byte_offset), true);
                      });
    }
    IpEndpoints();
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
                 fmt::format("{}{} ({} URL{})", e.hidden ? "Hidden host " : "Host ", host,
                             entry.second, entry.second == 1 ? "" : "s"));
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
    auto on_match = [](unsigned id, unsigned long long, unsigned long long to, unsigned,
                       void* p) -> int {
      auto* c = static_cast<Ctx*>(p);
      const auto [sdk, marker] = (*c->ids)[id];
      auto it = c->first.find(sdk);
      if (it == c->first.end() || to < it->second.second) c->first[sdk] = {marker, to};
      return 0;
    };
    hs_scan(db, text_.data(), static_cast<unsigned>(std::min<size_t>(text_.size(), UINT32_MAX)), 0,
            scratch, on_match, &ctx);
    hs_free_scratch(scratch);
    for (const auto& [sdk_index, hit] : ctx.first) {
      const SdkRule& sdk = rules_.sdks[sdk_index];
      const std::string& marker = sdk.markers[hit.first];
      const uint64_t offset = hit.second - marker.size();
      out_.sdks.push_back(SdkHit{sdk.name, std::string(SdkCategoryName(sdk.category)), marker,
                                 locator_.At(offset)});
      const bool remote =
          sdk.category == SdkCategory::kFeatureFlags || sdk.category == SdkCategory::kRemoteConfig;
      AddFinding(
          (remote ? "remote-config/" : "endpoint/") + std::string(SdkCategoryName(sdk.category)),
          Severity::kLow, offset, marker.size(),
          fmt::format("{} ({}) is built in: {}", sdk.name, SdkCategoryName(sdk.category),
                      Quote(marker)));
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
    auto it = std::lower_bound(prompt_offsets_.begin(), prompt_offsets_.end(),
                               s.range.begin > 512 ? s.range.begin - 512 : 0);
    return it != prompt_offsets_.end() && *it <= s.range.begin + 512;
  }

  void CodeBuiltUnicode() {
    const UnicodeData& data = UnicodeData::Get();
    for (const StringFact& s : facts_.strings) {
      if (s.origin != StringOrigin::kFromCharCode && s.origin != StringOrigin::kEscapedLiteral)
        continue;
      size_t count = 0;
      for (size_t i = 0; i < s.value.size(); ++count) {
        size_t len = 1;
        utf::DecodeOne(reinterpret_cast<const unsigned char*>(s.value.data()) + i,
                       s.value.size() - i, &len);
        i += len;
      }
      std::vector<char32_t> hidden, lookalike;
      for (size_t i = 0; i < s.value.size();) {
        size_t len = 1;
        const int32_t cp = utf::DecodeOne(
            reinterpret_cast<const unsigned char*>(s.value.data()) + i, s.value.size() - i, &len);
        i += len;
        if (cp < 0x80) continue;
        const CharClass cls = data.Classify(static_cast<char32_t>(cp));
        if (IsHiddenClass(cls)) {
          hidden.push_back(static_cast<char32_t>(cp));
        } else if (IsLookalikeClass(cls) || cls == CharClass::kUnusualSpace) {
          lookalike.push_back(static_cast<char32_t>(cp));
        }
      }
      // An escaped typographic quote inside prose is how ASCII-only bundlers
      // write prose, and a look-alike letter escaped alone is usually an icon
      // (U+2139); a look-alike built by code, escaped on its own, or placed
      // in prompt text is not.
      const bool built = s.origin == StringOrigin::kFromCharCode;
      bool strong_lookalike = false;
      for (char32_t c : lookalike)
        strong_lookalike |= data.Classify(c) != CharClass::kTypographicPunct;
      if (!built) {
        lookalike.erase(std::remove_if(lookalike.begin(), lookalike.end(),
                                       [&](char32_t c) {
                                         return data.Classify(c) == CharClass::kLookalikeLetter;
                                       }),
                        lookalike.end());
      }
      if (hidden.empty() && lookalike.empty()) continue;
      if (covert_strings_.count(s.range.begin))
        continue;  // one covert-marker finding names them all
      if (hidden.empty() && !built && count != 1 && !(strong_lookalike && NearPrompt(s))) continue;
      // Whitespace and character-class tables ("\t\n\xa0\u1680\u2000…\ufeff")
      // list many such code points on purpose.
      std::vector<char32_t> distinct = hidden;
      distinct.insert(distinct.end(), lookalike.begin(), lookalike.end());
      std::sort(distinct.begin(), distinct.end());
      distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
      if (distinct.size() >= 4 && s.origin != StringOrigin::kFromCharCode) continue;
      const bool prompt = NearPrompt(s);
      const std::string how = s.origin == StringOrigin::kFromCharCode
                                  ? "built with String.fromCharCode"
                                  : "written as an escape";
      std::vector<char32_t>& cps = hidden.empty() ? lookalike : hidden;
      AddFinding(
          hidden.empty() ? "unicode/lookalike-from-code" : "unicode/invisible-from-code",
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
      const Position p = locator_.At(f.byte_offset);
      f.line = p.line;
      f.column = p.column;
      f.snippet = locator_.Snippet(f.byte_offset, std::max<uint64_t>(f.byte_length, 1));
      f.fixes.clear();
      out_.findings.push_back(std::move(f));
    }
  }

  // --- names, decoders evaluated, key search ------------------------------

  void IndexNames() {
    for (uint32_t i = 0; i < facts_.strings.size(); ++i) {
      string_at_.emplace(facts_.strings[i].range.begin, i);
      strings_sorted_.push_back(i);
    }
    std::sort(strings_sorted_.begin(), strings_sorted_.end(), [&](uint32_t a, uint32_t b) {
      return facts_.strings[a].range.begin < facts_.strings[b].range.begin;
    });
    for (uint32_t i = 0; i < facts_.decls.size(); ++i)
      decls_by_name_[facts_.decls[i].name].push_back(i);
    for (uint32_t i = 0; i < facts_.functions.size(); ++i) {
      if (facts_.functions[i].declaration && !facts_.functions[i].name.empty()) {
        funcs_by_name_[facts_.functions[i].name].push_back(i);
        scoped_names_[facts_.functions[i].name].push_back(
            ScopedName{facts_.functions[i].parent, i, true});
      }
    }
    for (uint32_t i = 0; i < facts_.decls.size(); ++i) {
      scoped_names_[facts_.decls[i].name].push_back(ScopedName{facts_.decls[i].func, i, false});
    }
    for (auto& [name, entries] : scoped_names_) {
      std::stable_sort(entries.begin(), entries.end(),
                       [](const ScopedName& a, const ScopedName& b) { return a.scope < b.scope; });
    }
  }

  // " in name" for a named function, "" otherwise.
  std::string InFunction(uint32_t func) const {
    for (uint32_t f = func; f != kNone; f = facts_.functions[f].parent) {
      if (!facts_.functions[f].name.empty()) return " in " + facts_.functions[f].name;
    }
    return {};
  }

  // The declaration a free name refers to from inside `use_func`: the one in
  // the nearest enclosing scope; none when that scope assigns it twice with
  // different values (not a constant).
  std::optional<internal::Declaration> Resolve(std::string_view name, uint32_t use_func) const {
    // Not cached: the walk is a few binary searches, cheaper than a cache
    // keyed by every (name, scope) pair of a large bundle.
    std::optional<internal::Declaration> found;
    const auto scoped = scoped_names_.find(name);
    if (scoped != scoped_names_.end()) {
      // Entries are (scope, kind, index), sorted by scope: the nearest
      // enclosing scope that declares the name wins.
      const auto& entries = scoped->second;
      for (uint32_t scope = use_func, depth = 0;; scope = facts_.functions[scope].parent, ++depth) {
        auto it = std::lower_bound(entries.begin(), entries.end(), scope,
                                   [](const ScopedName& e, uint32_t s2) { return e.scope < s2; });
        bool ambiguous = false;
        for (; it != entries.end() && it->scope == scope; ++it) {
          internal::Declaration d =
              it->is_function
                  ? internal::Declaration{facts_.functions[it->index].range, scope, true}
                  : internal::Declaration{facts_.decls[it->index].value, scope, false};
          if (!found) {
            found = d;
          } else if (found->is_function_declaration || d.is_function_declaration) {
            if (d.is_function_declaration && !found->is_function_declaration)
              continue;  // `var f = …` wins
          } else {
            ambiguous |= text_.substr(found->value.begin, found->value.end - found->value.begin) !=
                         text_.substr(d.value.begin, d.value.end - d.value.begin);
          }
        }
        if (found || scope == kNone || depth > 256) {
          if (ambiguous) found.reset();
          break;
        }
      }
    }
    return found;
  }

  static bool HasDecoderMarker(std::string_view code) {
    static const std::string_view kMarkers[] = {
        "fromCharCode", "charCodeAt", "codePointAt", "fromCodePoint", "atob(",     "\"base64\"",
        "'base64'",     "\"hex\"",    "'hex'",       "TextDecoder",   "decodeURI", "unescape(",
        ".reverse()",   "^"};
    for (std::string_view m : kMarkers) {
      if (code.find(m) != std::string_view::npos) return true;
    }
    return false;
  }

  // Whether a name refers to something that turns strings into other
  // strings: a small function or value (4 KB at most) that uses a decoding
  // operation, or a tiny one (600 bytes: memo thunks, wrappers) that calls
  // such a thing, up to three levels.
  bool DecoderLike(std::string_view name, uint32_t use_func, int depth = 0) {
    if (depth > 3) return false;
    const auto d = Resolve(name, use_func);
    if (!d) return false;
    auto [it, inserted] = decoder_like_.emplace(d->value.begin, -1);
    if (!inserted) return it->second == 1;
    const std::string_view code = text_.substr(d->value.begin, d->value.end - d->value.begin);
    bool yes = false;
    if (code.size() <= 4096) {
      yes = HasDecoderMarker(code);
      if (!yes && code.size() <= 600) {
        ForEachIdentifier(code, [&](std::string_view id, bool called) {
          if (called && id != name && DecoderLike(id, d->func, depth + 1)) yes = true;
          return !yes;
        });
      }
    }
    decoder_like_[d->value.begin] = yes ? 1 : 0;
    return yes;
  }

  static std::string JoinItems(const std::vector<std::string>& items) {
    std::string all;
    for (const std::string& i : items) all += i + '\n';
    return all;
  }

  // The bookkeeping of one EvaluateDecoders pass over the module's calls.
  struct DecoderPass {
    uint64_t spent = 0;   // evaluator steps so far
    size_t skipped = 0;   // calls left once the module's step budget was spent
    size_t given_up = 0;  // calls of functions that gave up (see GaveUp)
    std::unordered_set<std::string> seen_results;
    // Most callees have one declaration in the module: their answer is
    // cached by name, without resolving each call's scope.
    std::unordered_map<std::string_view, int8_t> by_name;
    std::unordered_map<uint32_t, std::pair<uint32_t, uint32_t>>
        outcomes;  // decoder → (calls tried, results)
  };

  // Calls of decoders whose arguments are constants, evaluated (js_eval.h):
  // what they return is kept when it reads as text and is not simply one of
  // the arguments.
  void EvaluateDecoders() {
    if (facts_.calls.empty()) return;
    internal::JsEvaluator evaluator(
        text_, [this](std::string_view n, uint32_t f) { return Resolve(n, f); });
    internal::EvalLimits limits;
    limits.max_steps = limits_.max_eval_steps_per_call;
    DecoderPass pass;
    for (const internal::CallFact& c : facts_.calls) {
      const std::string_view name = text_.substr(c.callee.begin, c.callee.end - c.callee.begin);
      if (!CalleeMayDecode(name, c.func, &pass)) continue;
      if (pass.spent >= limits_.max_eval_steps_per_module) {
        ++pass.skipped;
        continue;
      }
      const auto decl = Resolve(name, c.func);
      if (!decl) continue;
      auto& [tries, texts] = pass.outcomes[decl->value.begin];
      // A function that gave no text in its first 8 calls is not a
      // decoder of constants (it needs run-time input): its other calls
      // are not evaluated.
      if (GaveUp(tries, texts)) {
        ++pass.given_up;
        continue;
      }
      ++tries;
      ++out_.decoder_calls;
      auto r = evaluator.Evaluate(c.range, c.func, limits);
      pass.spent += r ? std::max<uint64_t>(r->steps, 1) : evaluator.last_steps();
      if (!r || r->decoding_ops == 0) continue;
      ++texts;
      MarkEvaluatedLiterals(c.range);
      auto items = HiddenItems(*r, text_.substr(c.range.begin, c.range.end - c.range.begin));
      if (!items) continue;
      RecordEval(c, name, std::move(*r), std::move(*items), &pass.seen_results);
    }
    NoteDecoderPass(pass);
  }

  static bool GaveUp(uint32_t tries, uint32_t texts) { return tries >= 8 && texts * 4 < tries; }

  // Whether calls of `name` may be decoder calls (cached by name when the
  // name has a single declaration in the module).
  bool CalleeMayDecode(std::string_view name, uint32_t func, DecoderPass* pass) {
    auto [known, inserted] = pass->by_name.emplace(name, -1);
    if (inserted) {
      const auto scoped = scoped_names_.find(name);
      if (scoped == scoped_names_.end()) {
        known->second = 0;
      } else if (scoped->second.size() == 1) {
        known->second = DecoderLike(name, func) ? 1 : 0;
      }
    }
    return known->second == 1 || (known->second == -1 && DecoderLike(name, func));
  }

  // The literal arguments of an evaluated call are decoded now: the key
  // search skips them.
  void MarkEvaluatedLiterals(Range call) {
    for (auto it = std::lower_bound(
             strings_sorted_.begin(), strings_sorted_.end(), call.begin,
             [&](uint32_t i, uint32_t b) { return facts_.strings[i].range.begin < b; });
         it != strings_sorted_.end() && facts_.strings[*it].range.begin < call.end; ++it) {
      evaluated_literals_.insert(facts_.strings[*it].range.begin);
    }
  }

  // What an evaluated call hides, with the shape of each item; nullopt when
  // it hides nothing (a sentinel, text written in the call itself, or items
  // of which fewer than half read as text).
  std::optional<std::vector<std::pair<std::string, TextShape>>> HiddenItems(
      const internal::EvalResult& r, std::string_view call_text) const {
    std::vector<std::pair<std::string, TextShape>> items;
    if (r.is_list) {
      size_t shaped = 0;
      for (const std::string& item : r.items) {
        const TextShape shape = ClassifyText(item, rules_.shapes);
        shaped += shape != TextShape::kNone;
        items.emplace_back(item, shape);
      }
      if (shaped * 2 < items.size() || items.size() > 100000) return std::nullopt;
      return items;
    }
    if (r.text == "undefined" || r.text == "null" || r.text == "NaN") return std::nullopt;
    // Not hidden: the text is right there in the call.
    if (r.text.size() < 3 || call_text.find(r.text) != std::string_view::npos) return std::nullopt;
    const TextShape shape = ClassifyText(r.text, rules_.shapes);
    if (shape == TextShape::kNone) return std::nullopt;
    items.emplace_back(r.text, shape);
    return items;
  }

  // Keeps an evaluated call for the chains and, the first time its result
  // is seen, its items as decoded strings.
  void RecordEval(const internal::CallFact& c, std::string_view name, internal::EvalResult r,
                  std::vector<std::pair<std::string, TextShape>> items,
                  std::unordered_set<std::string>* seen_results) {
    std::string via = std::string(name);
    if (auto d = Resolve(name, c.func)) via += " " + locator_.Label(d->value.begin);
    for (const auto& [used, offset] : r.used) {
      if (used != name) via += fmt::format(", {} {}", used, locator_.Label(offset));
    }
    const bool fresh = seen_results->insert(r.is_list ? JoinItems(r.items) : r.text).second;
    evals_.push_back(EvalHit{c.range, std::string(name), std::move(r), via});
    if (!fresh) return;
    const std::string encoding = "eval(" + std::string(name) + ")";
    const std::string list =
        evals_.back().result.is_list ? locator_.Label(c.range.begin) : std::string();
    for (auto& [text, shape] : items) {
      if (shape == TextShape::kNone) continue;
      AddDecoded(c.range, Decoding{encoding, text, shape}, list);
      out_.decoded.back().via = via;
      decoded_at_.erase(c.range.begin);  // a call is not a string literal
    }
  }

  void NoteDecoderPass(const DecoderPass& pass) {
    if (pass.given_up > 0) {
      size_t functions = 0;
      for (const auto& [at, o] : pass.outcomes) functions += GaveUp(o.first, o.second);
      out_.notes.push_back(
          fmt::format("decoder evaluation: {} calls of {} functions that returned text for fewer "
                      "than a quarter of their "
                      "first calls were not evaluated",
                      pass.given_up, functions));
    }
    if (pass.skipped > 0) {
      out_.notes.push_back(
          fmt::format("decoder evaluation: step budget of {} reached; {} further decoder calls not "
                      "evaluated",
                      limits_.max_eval_steps_per_module, pass.skipped));
    }
  }

  // The evaluated decoder call that starts inside r (its result), or null.
  const EvalHit* EvalIn(Range r) const {
    auto it = std::lower_bound(evals_.begin(), evals_.end(), r.begin,
                               [](const EvalHit& h, uint32_t b) { return h.call.begin < b; });
    for (; it != evals_.end() && it->call.begin < r.end; ++it) {
      if (it->call.end <= r.end) return &*it;
    }
    return nullptr;
  }

  // A decoded list or constant for `against`: no positions (the diff
  // compares it across versions); the decoding step, located, is noted in
  // last_eval_ for the chain.
  std::string DescribeEval(const EvalHit& h) const {
    last_eval_ = &h;
    std::string names = h.callee;
    for (const auto& [used, offset] : h.result.used) {
      if (used != h.callee) names += ", " + used;
    }
    if (h.result.is_list) {
      std::vector<std::pair<std::string, TextShape>> items;
      for (const std::string& i : h.result.items)
        items.emplace_back(i, ClassifyText(i, rules_.shapes));
      return fmt::format("hidden {} (decoded by {})", DescribeList(items, true), names);
    }
    // A lone hidden constant tells users apart only as a host, URL,
    // address or time zone (see ListOrConstant).
    const TextShape shape = ClassifyText(h.result.text, rules_.shapes);
    if (shape != TextShape::kDomain && shape != TextShape::kTimezone && shape != TextShape::kUrl &&
        shape != TextShape::kEmail) {
      last_eval_ = nullptr;
      return {};
    }
    return fmt::format("hidden constant {} (decoded by {})", Quote(h.result.text), names);
  }

  // "decoded at L:C by dec 3:1, k 1:5" for the last DescribeEval, or "".
  std::string TakeDecodingStep() const {
    if (last_eval_ == nullptr) return {};
    std::string step = fmt::format("the list is decoded at {} by {}",
                                   locator_.Label(last_eval_->call.begin), last_eval_->via);
    if (!last_eval_->result.is_list)
      step = fmt::format("the constant is decoded at {} by {}",
                         locator_.Label(last_eval_->call.begin), last_eval_->via);
    last_eval_ = nullptr;
    return step;
  }

  // Long base64 / hex literals that nothing decoded: a search over one-byte
  // XOR keys and repeating keys taken from the module's own literals.
  void SearchKeys() {
    std::vector<std::string> keys;
    std::vector<uint32_t> key_at;
    std::set<std::string> seen;
    for (const XorKey& k : keys_) {
      if (k.bytes.size() >= 2 && seen.insert(k.bytes).second) {
        keys.push_back(k.bytes);
        key_at.push_back(kNone);
      }
    }
    std::unordered_set<uint32_t> xor_funcs;
    for (const internal::XorFact& x : facts_.xors) xor_funcs.insert(x.func);
    // Key-like literals: 4 to 32 printable characters without spaces, from
    // functions that XOR first, then anywhere.
    for (int pass = 0; pass < 2 && keys.size() < 64; ++pass) {
      for (const StringFact& s : facts_.strings) {
        if (keys.size() >= 64) break;
        if (s.origin != StringOrigin::kLiteral || s.value.size() < 4 || s.value.size() > 32)
          continue;
        if ((pass == 0) != (xor_funcs.count(s.func) > 0)) continue;
        bool ok = true;
        for (unsigned char c : s.value) ok &= c > 0x20 && c < 0x7F;
        if (!ok) continue;
        if (seen.insert(s.value).second) {
          keys.push_back(s.value);
          key_at.push_back(s.range.begin);
        }
      }
    }
    size_t tried = 0;
    for (const StringFact& s : facts_.strings) {
      if (s.origin == StringOrigin::kTemplate || s.value.size() < 16 || !LooksEncoded(s.value))
        continue;
      if (decoded_at_.count(s.range.begin) || evaluated_literals_.count(s.range.begin)) continue;
      if (++tried > 2000) {
        out_.notes.push_back(
            "key search: more than 2,000 undecoded base64/hex literals; the rest were not "
            "searched");
        break;
      }
      auto hit = SearchXorKey(s.value, keys, rules_.shapes);
      if (!hit) continue;
      // Zero bytes XOR-ed with a key spell the key: nothing was hidden.
      if (hit->key.size() > 1 &&
          (hit->key + hit->key).find(hit->decoding.text) != std::string::npos)
        continue;
      std::string via;
      if (hit->key.size() == 1) {
        via = fmt::format("key {} found by a search over one-byte keys", XorKey{hit->key}.Label());
      } else {
        const size_t i =
            static_cast<size_t>(std::find(keys.begin(), keys.end(), hit->key) - keys.begin());
        via = i < key_at.size() && key_at[i] != kNone
                  ? fmt::format("key {} from the literal at {}", XorKey{hit->key}.Label(),
                                locator_.Label(key_at[i]))
                  : fmt::format("key {} from the decoder's code", XorKey{hit->key}.Label());
      }
      hit->decoding.encoding += " (key search)";
      AddDecoded(s.range, std::move(hit->decoding), {});
      out_.decoded.back().via = via;
    }
  }

  // --- IP endpoints --------------------------------------------------------

  static bool IpLiteral(std::string_view s) {
    if (s.size() < 2 || s.size() > 45) return false;
    const unsigned char first = static_cast<unsigned char>(s.front());
    if (!std::isxdigit(first) && first != ':' && first != '[') return false;
    std::string v(s);
    if (v.front() == '[' && v.back() == ']') v = v.substr(1, v.size() - 2);
    unsigned char buf[16];
    if (v.find(':') == std::string::npos) {
      // Four decimal parts, none with a leading zero.
      int parts = 1;
      for (size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '.') {
          ++parts;
          if (i + 2 < v.size() && v[i + 1] == '0' &&
              std::isdigit(static_cast<unsigned char>(v[i + 2])))
            return false;
        } else if (!std::isdigit(static_cast<unsigned char>(v[i]))) {
          return false;
        }
      }
      if (parts != 4 || inet_pton(AF_INET, v.c_str(), buf) != 1) return false;
      return v != "0.0.0.0" && v != "255.255.255.255";
    }
    size_t colons = 0, hex_letters = 0;
    for (char c : v) {
      colons += c == ':';
      hex_letters += std::isxdigit(static_cast<unsigned char>(c)) &&
                     !std::isdigit(static_cast<unsigned char>(c));
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
    }
    if (colons < 2 || inet_pton(AF_INET6, v.c_str(), buf) != 1) return false;
    // "2001::" and "fd00::" are network prefixes, "::" the unspecified address.
    if (v.size() >= 2 && v.substr(v.size() - 2) == "::") return false;
    return v.find("::") != std::string::npos || colons == 7;
  }

  // What the code around a value does with it, read backwards from where it
  // starts: the name it is assigned to (`name = value`), the key it is
  // stored under (`key: value`), and the call whose arguments hold it
  // (`net.connect({host: value})`, `fetch(value)`), within 600 bytes and the
  // statement.
  struct ValueContext {
    std::string binding;
    std::string key;
    std::string callee;
  };

  ValueContext ContextOf(uint32_t begin) const {
    ValueContext c;
    const size_t floor = begin > 600 ? begin - 600 : 0;
    size_t i = SkipSpaceBack(begin, floor);
    if (i > floor && text_[i - 1] == '=' &&
        (i < floor + 2 || std::strchr("=!<>", text_[i - 2]) == nullptr)) {
      c.binding = NameBefore(SkipSpaceBack(i - 1, floor), floor);
    } else if (i > floor && text_[i - 1] == ':') {
      i = SkipSpaceBack(i - 1, floor);
      if (i > floor && (text_[i - 1] == '"' || text_[i - 1] == '\'')) {
        const size_t open = text_.rfind(text_[i - 1], i - 2);
        if (open != std::string_view::npos && open >= floor)
          c.key = std::string(text_.substr(open + 1, i - 2 - open));
      } else {
        c.key = NameBefore(i, floor);
      }
    }
    c.callee = EnclosingCallee(begin, floor);
    return c;
  }

  size_t SkipSpaceBack(size_t i, size_t floor) const {
    while (i > floor && std::isspace(static_cast<unsigned char>(text_[i - 1]))) --i;
    return i;
  }

  // The dotted name ending at i (`net.connect`, `A.DEFAULT_BOOTSTRAP_IPS`,
  // `this.#host`), or "".
  std::string NameBefore(size_t i, size_t floor) const {
    size_t b = i;
    while (b > floor && (IsIdentChar(static_cast<unsigned char>(text_[b - 1])) ||
                         text_[b - 1] == '.' || text_[b - 1] == '#')) {
      --b;
    }
    return std::string(text_.substr(b, i - b));
  }

  // The callee of the nearest call whose arguments hold `begin`, climbing out
  // of array and object literals but not out of a block or statement.
  std::string EnclosingCallee(size_t begin, size_t floor) const {
    int depth = 0;
    for (size_t j = begin; j > floor; --j) {
      const char ch = text_[j - 1];
      if (ch == '"' || ch == '\'' || ch == '`') {
        size_t k = j - 1;
        while (k > floor && !(text_[k - 1] == ch && (k < 2 || text_[k - 2] != '\\'))) --k;
        if (k <= floor) return {};
        j = k;  // the loop steps to the character before the opening quote
        continue;
      }
      if (ch == ')' || ch == ']' || ch == '}') {
        ++depth;
      } else if (ch == '(' || ch == '[' || ch == '{') {
        if (depth > 0) {
          --depth;
          continue;
        }
        const size_t k = SkipSpaceBack(j - 1, floor);
        if (ch == '(') {
          std::string name = NameBefore(k, floor);
          // `if (…)`, `switch (…)`: a statement, not a call.
          static const std::set<std::string_view> kKeywords = {
              "if",     "while", "for", "switch", "return", "catch",
              "typeof", "await", "in",  "of",     "case",   "void"};
          return kKeywords.count(name) ? std::string() : name;
        }
        // A block (`) {`, `=> {`) is not a value the call receives.
        if (ch == '{' && k > floor && (text_[k - 1] == ')' || text_[k - 1] == '>')) return {};
      } else if (ch == ';' && depth == 0) {
        return {};
      }
    }
    return {};
  }

  static bool HasAny(std::string_view s, std::initializer_list<std::string_view> words) {
    return std::any_of(words.begin(), words.end(),
                       [&](std::string_view w) { return s.find(w) != std::string_view::npos; });
  }

  // Why an address literal looks like an endpoint, from the syntax around
  // it (the value, or the array `list_begin` that holds it): the name it is
  // assigned to or stored under, the call it is passed to, whether it is a
  // URL. "DoH", "HTTPDNS" (a resolver's bootstrap list), "DNS", "socket",
  // "fetch", else "address literal"; the name or call is quoted.
  std::string IpReason(uint32_t offset, std::string_view literal, size_t list_size,
                       uint32_t list_begin = kNone) const {
    const ValueContext c = ContextOf(list_begin != kNone ? list_begin : offset);
    std::string names = c.binding + " " + c.key + " " + c.callee;
    for (char& ch : names) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::string callee = c.callee;
    for (char& ch : callee) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const std::string_view last = std::string_view(callee).substr(callee.rfind('.') + 1);
    const bool url = literal.find("://") != std::string_view::npos;
    std::string reason;
    if (literal.find("dns-query") != std::string_view::npos || HasAny(names, {"doh"})) {
      reason = "DoH";
    } else if (HasAny(names, {"httpdns", "bootstrap"})) {
      reason = "HTTPDNS";
    } else if (HasAny(names, {"dns", "resolver", "nameserver"}) || last == "setservers") {
      reason = "DNS";
    } else if (literal.rfind("ws://", 0) == 0 || literal.rfind("wss://", 0) == 0 ||
               HasAny(last, {"websocket"}) ||
               (!url &&
                (HasAny(last, {"connect", "socket"}) || last == "send" || last == "bind"))) {
      reason = "socket";
    } else if (url || last == "fetch" || last == "request" || last == "get" || last == "post" ||
               last == "axios" || last == "got" || last == "open") {
      reason = "fetch";
    } else {
      reason = "address literal";
    }
    std::string where;
    if (!c.binding.empty()) {
      where = "assigned to " + c.binding;
    } else if (!c.key.empty()) {
      where = "stored as " + c.key;
    }
    if (!c.callee.empty())
      where += (where.empty() ? "" : ", ") + std::string("passed to ") + c.callee;
    if (list_size >= 2)
      where +=
          fmt::format("{}bootstrap list of {} addresses", where.empty() ? "" : ", ", list_size);
    const std::string_view here = text_.substr(offset, 48);
    if (here.find("127.") == 1 || here.find("::1") == 1) reason = "loopback, " + reason;
    return where.empty() ? reason : reason + " (" + where + ")";
  }

  void IpEndpoints() {
    std::unordered_map<uint32_t, std::pair<uint32_t, uint32_t>>
        listed_in;  // string index → (addresses, array begin)
    for (const internal::StringArrayFact& a : facts_.string_arrays) {
      uint32_t ips = 0;
      for (uint32_t i = 0; i < a.count; ++i)
        ips += IpLiteral(StripPort(facts_.strings[a.first_string + i].value));
      if (ips >= 2) {
        for (uint32_t i = 0; i < a.count; ++i) listed_in[a.first_string + i] = {ips, a.range.begin};
      }
    }
    for (uint32_t i = 0; i < facts_.strings.size(); ++i) {
      const StringFact& s = facts_.strings[i];
      const std::string_view host = StripPort(s.value);
      if (!IpLiteral(host)) continue;
      const auto it = listed_in.find(i);
      const size_t listed = it == listed_in.end() ? 0 : it->second.first;
      std::string reason = IpReason(s.range.begin, s.value, listed,
                                    it == listed_in.end() ? kNone : it->second.second);
      // A four-part OID ("2.5.29.1", "1.3.101.112") is a valid IPv4 literal:
      // it counts as an address only with context that says address.
      if (host.size() == s.value.size() && OidLike(host) &&
          (OidContext(s.range.begin) ||
           (listed < 2 && reason.find("address literal") != std::string::npos))) {
        continue;
      }
      AddEndpoint(s.value, host, s.range.begin, s.origin == StringOrigin::kStringArray, "ip",
                  std::move(reason));
    }
    for (const DecodedString& d : out_.decoded) {
      const std::string_view host = StripPort(d.text);
      if (IpLiteral(host)) {
        AddEndpoint(d.text, host, static_cast<uint32_t>(d.position.byte_offset), true, "ip",
                    IpReason(static_cast<uint32_t>(d.position.byte_offset), d.text, 0));
      }
    }
  }

  // Octets an object identifier could have: an OID starts with arc 0, 1 or
  // 2, and under 0 and 1 the second arc is below 40.
  static bool OidLike(std::string_view dotted) {
    if (dotted.size() < 3 || dotted[1] != '.' || dotted[0] < '0' || dotted[0] > '2') return false;
    if (dotted[0] == '2') return true;
    const size_t dot = dotted.find('.', 2);
    const std::string_view second = dotted.substr(2, dot == std::string_view::npos ? dot : dot - 2);
    return second.size() == 1 || (second.size() == 2 && second < "40");
  }

  // Whether the code around an offset is about object identifiers: ASN.1,
  // X.509 or OID names, or two more dotted numbers starting with 0/1/2
  // (other OIDs, "1.2.840.113549.1.1.1", "2.5.4.3") within 240 bytes.
  bool OidContext(uint32_t offset) const {
    const uint32_t b = offset > 240 ? offset - 240 : 0;
    const uint32_t e = std::min<uint32_t>(static_cast<uint32_t>(text_.size()), offset + 240);
    const std::string_view around = text_.substr(b, e - b);
    for (std::string_view marker :
         {"asn1", "ASN1", "Asn1", "ASN.1", "x509", "X509", "X.509", "OID", "Oid", "oids", "PKCS",
          "pkcs", "ObjectIdentifier", "objectIdentifier"}) {
      if (around.find(marker) != std::string_view::npos) return true;
    }
    size_t others = 0;
    for (size_t i = 1; i + 4 < around.size(); ++i) {
      const char q = around[i - 1];
      if ((q != '"' && q != '\'' && q != '`') || around[i] < '0' || around[i] > '2' ||
          around[i + 1] != '.')
        continue;
      if (b + i == offset + 1) continue;  // the literal itself
      size_t j = i, dots = 0;
      while (j < around.size() &&
             (std::isdigit(static_cast<unsigned char>(around[j])) || around[j] == '.')) {
        dots += around[j] == '.';
        ++j;
      }
      if (j < around.size() && around[j] == q && dots >= 2 && ++others >= 2) return true;
    }
    return false;
  }

  static std::string_view StripPort(std::string_view s) {
    const size_t colon = s.rfind(':');
    if (colon != std::string_view::npos && s.find(':') == colon &&
        s.find('.') != std::string_view::npos) {
      return s.substr(0, colon);
    }
    if (s.size() > 2 && s.front() == '[') {
      const size_t close = s.find(']');
      if (close != std::string_view::npos) return s.substr(1, close - 1);
    }
    return s;
  }

  // --- caps ----------------------------------------------------------------

  // Caps are per kind and keep the most telling items, never the first N;
  // each cap reached leaves a note.
  void ApplyCaps() {
    if (out_.endpoints.size() > limits_.max_endpoints) {
      const size_t found = out_.endpoints.size();
      std::unordered_set<std::string> hosts;
      std::vector<std::pair<int, size_t>> order;
      for (size_t i = 0; i < out_.endpoints.size(); ++i) {
        const EndpointRef& e = out_.endpoints[i];
        int rank = e.hidden ? 0 : e.kind == "ip" ? 1 : hosts.insert(e.host).second ? 2 : 3;
        order.emplace_back(rank, i);
      }
      std::stable_sort(order.begin(), order.end(),
                       [](auto& a, auto& b) { return a.first < b.first; });
      order.resize(limits_.max_endpoints);
      std::sort(order.begin(), order.end(), [](auto& a, auto& b) { return a.second < b.second; });
      std::vector<EndpointRef> kept;
      for (auto& [rank, i] : order) kept.push_back(std::move(out_.endpoints[i]));
      out_.endpoints = std::move(kept);
      out_.notes.push_back(
          fmt::format("endpoints: {} found, {} kept (hidden, addresses and one per host first)",
                      found, limits_.max_endpoints));
    }
    if (out_.decoded.size() > limits_.max_decoded) {
      const size_t found = out_.decoded.size();
      auto rank = [](const DecodedString& d) {
        if (d.shape == "domain" || d.shape == "url" || d.shape == "timezone" || d.shape == "email")
          return 0;
        return d.shape == "path" ? 1 : 2;
      };
      std::stable_sort(
          out_.decoded.begin(), out_.decoded.end(),
          [&](const DecodedString& a, const DecodedString& b) { return rank(a) < rank(b); });
      out_.decoded.resize(limits_.max_decoded);
      std::stable_sort(out_.decoded.begin(), out_.decoded.end(),
                       [](const DecodedString& a, const DecodedString& b) {
                         return a.position.byte_offset < b.position.byte_offset;
                       });
      out_.notes.push_back(
          fmt::format("decoded strings: {} found, {} kept (domains, URLs and time zones first)",
                      found, limits_.max_decoded));
    }
    std::map<std::string, size_t> per_rule;
    for (const Finding& f : out_.findings) ++per_rule[f.rule];
    for (const auto& [rule, count] : per_rule) {
      if (count <= limits_.max_findings_per_rule) continue;
      std::vector<size_t> of_rule;
      for (size_t i = 0; i < out_.findings.size(); ++i) {
        if (out_.findings[i].rule == rule) of_rule.push_back(i);
      }
      std::stable_sort(of_rule.begin(), of_rule.end(), [&](size_t a, size_t b) {
        return out_.findings[a].severity > out_.findings[b].severity;
      });
      std::unordered_set<size_t> drop(
          of_rule.begin() + static_cast<ptrdiff_t>(limits_.max_findings_per_rule), of_rule.end());
      std::vector<Finding> kept;
      for (size_t i = 0; i < out_.findings.size(); ++i) {
        if (!drop.count(i)) kept.push_back(std::move(out_.findings[i]));
      }
      out_.findings = std::move(kept);
      out_.notes.push_back(fmt::format("{}: {} findings, {} kept (most severe first)", rule, count,
                                       limits_.max_findings_per_rule));
    }
  }

  // --- covert markers ------------------------------------------------------

  // `s` with look-alike, invisible and separator code points folded to what
  // a reader sees; *special is set when any was folded.
  static std::string Fold(std::string_view s, bool* special) {
    const UnicodeData& data = UnicodeData::Get();
    std::string out;
    for (size_t i = 0; i < s.size();) {
      size_t len = 1;
      const int32_t cp =
          utf::DecodeOne(reinterpret_cast<const unsigned char*>(s.data()) + i, s.size() - i, &len);
      i += len;
      if (cp < 0x80) {
        out.push_back(cp < 0 ? '?' : static_cast<char>(cp));
        continue;
      }
      const char32_t c = static_cast<char32_t>(cp);
      char ascii = 0;
      switch (c) {
        case 0x2018:
        case 0x2019:
        case 0x201B:
        case 0x02BC:
        case 0x02B9:
        case 0x02BB:
        case 0x02BD:
        case 0x00B4:
        case 0x2032:
        case 0xFF07:
          ascii = '\'';
          break;
        case 0x201C:
        case 0x201D:
        case 0x02BA:
        case 0x2033:
        case 0xFF02:
          ascii = '"';
          break;
        case 0x2010:
        case 0x2011:
        case 0x2012:
        case 0x2013:
        case 0x2014:
        case 0x2015:
        case 0x2212:
        case 0xFE63:
        case 0xFF0D:
          ascii = '-';
          break;
        case 0x2044:
        case 0x2215:
        case 0xFF0F:
          ascii = '/';
          break;
        default:
          break;
      }
      if (ascii == 0) {
        const CharClass cls = data.Classify(c);
        if (IsHiddenClass(cls)) {
          *special = true;
          continue;
        }
        if (cls == CharClass::kUnusualSpace) {
          ascii = ' ';
        } else if (IsLookalikeClass(cls)) {
          ascii = data.LookalikeAscii(c);
        }
      }
      if (ascii != 0) {
        *special = true;
        out.push_back(ascii);
        continue;
      }
      utf::AppendUtf8(c, &out);
    }
    return out;
  }

  static std::string DescribeVariant(std::string_view v) {
    std::string cps;
    for (size_t i = 0; i < v.size();) {
      size_t len = 1;
      const int32_t cp =
          utf::DecodeOne(reinterpret_cast<const unsigned char*>(v.data()) + i, v.size() - i, &len);
      i += len;
      if (cp >= 0x80 || cp == '\'' || cp == '"' || cp == '-' || cp == ' ') {
        cps += fmt::format("{}U+{:04X}", cps.empty() ? "" : " ", static_cast<uint32_t>(cp));
      }
    }
    return fmt::format("{} ({})", Quote(v, 20), cps.empty() ? "ASCII" : cps);
  }

  // Comparisons that decide a condition: inside it, in the values of the
  // names it reads, and in the functions it calls. "… with a X at L:C".
  std::vector<std::string> ComparisonsBehind(Range cond, uint32_t func, uint32_t* probe_out) const {
    std::vector<Range> ranges{cond};
    // The condition, the values of the names it uses and the functions it
    // calls; one level further for those values (`t=probe()` then
    // `t.known`: the comparisons are in probe()).
    std::vector<std::pair<Range, uint32_t>> scan{{cond, func}};
    for (size_t next = 0; next < scan.size() && next < 4; ++next) {
      // Plain variables, not a structured binding: clang 14 (the fuzz build) cannot capture one in
      // a lambda.
      const Range where = scan[next].first;
      const uint32_t in = scan[next].second;
      if (where.end - where.begin > 4000) continue;
      // Only the declaration each name resolves to from here: minified code
      // declares the same short names in every scope, and following a name
      // to all of them joins unrelated code into one chain.
      ForEachIdentifier(text_.substr(where.begin, where.end - where.begin),
                        [&](std::string_view name, bool called) {
                          const auto d = Resolve(name, in);
                          if (!d || d->value.end - d->value.begin >= 4000)
                            return ranges.size() < 16;
                          if (d->is_function_declaration) {
                            if (called) ranges.push_back(d->value);
                            return ranges.size() < 16;
                          }
                          ranges.push_back(d->value);
                          if (next == 0) scan.emplace_back(d->value, d->func);
                          return ranges.size() < 16;
                        });
    }
    std::vector<std::string> out;
    std::set<std::string> seen;
    size_t compared = 0;
    for (const CompareFact& c : facts_.compares) {
      bool inside = false;
      for (Range r : ranges) inside |= r.Contains(c.range);
      if (!inside) continue;
      for (auto [side, value] : {std::pair{c.other, c.value}, std::pair{c.value, c.other}}) {
        const uint32_t probe = ProbeIn(value, c.func);
        const bool tz =
            probe != kNone && rules_.probes[facts_.probes[probe].rule].name == "timezone";
        std::string against = ListOrConstant(side, c.func, tz);
        if (against.empty()) continue;
        if (probe != kNone && *probe_out == kNone) *probe_out = probe;
        std::string decoding = TakeDecodingStep();
        // At most six comparisons; a decoding step does not count (the
        // 11-keyword list of Claude Code 2.1.197 came fifth, after two time
        // zones, the domain list and its decoding step).
        if (seen.insert(against).second && compared < 6) {
          ++compared;
          out.push_back(fmt::format("compares it with a {} at {}{}", against,
                                    locator_.Label(c.range.begin), InFunction(c.func)));
          if (!decoding.empty()) out.push_back(std::move(decoding));
        }
        break;
      }
    }
    return out;
  }

  // Where a function's result goes: the strings built around its calls.
  std::vector<std::string> UsesOf(std::string_view name) const {
    std::vector<std::string> out;
    if (name.size() < 2) return out;
    size_t found = 0;
    for (size_t at = text_.find(name); at != std::string_view::npos && found < 20;
         at = text_.find(name, at + 1)) {
      const size_t end = at + name.size();
      if ((at > 0 && IsIdentChar(static_cast<unsigned char>(text_[at - 1]))) ||
          end >= text_.size() || text_[end] != '(') {
        continue;
      }
      // The declaration itself: `function name(`.
      if (at >= 9 && text_.substr(at - 9, 9) == "function ") continue;
      ++found;
      auto it = std::lower_bound(
          strings_sorted_.begin(), strings_sorted_.end(), static_cast<uint32_t>(at),
          [&](uint32_t i, uint32_t b) { return facts_.strings[i].range.begin < b; });
      std::string use;
      for (int back = 0; back < 64 && it != strings_sorted_.begin(); ++back) {
        --it;
        const StringFact& s = facts_.strings[*it];
        if (s.origin == StringOrigin::kTemplate && s.range.Contains(static_cast<uint32_t>(at))) {
          use = fmt::format("used in the string {} built at {}{}", Quote(s.value, 80),
                            locator_.Label(s.range.begin), InFunction(s.func));
          break;
        }
      }
      if (use.empty()) use = fmt::format("returned to its call at {}", locator_.Label(at));
      if (std::find(out.begin(), out.end(), use) == out.end() && out.size() < 3)
        out.push_back(std::move(use));
    }
    return out;
  }

  // Strings that differ only by look-alike, invisible or separator code
  // points, grouped by function and folded text, with the branches whose
  // arms hold them.
  struct VariantGroup {
    std::set<uint32_t> strings;
    std::set<uint32_t> branches;
    bool special = false;
  };
  using VariantGroups = std::map<std::pair<uint32_t, std::string>, VariantGroup>;

  // The condition that picks a variant: the probe it reads, the branch, the
  // comparisons behind it and, when the probe is in what callers pass, the
  // call that passes it.
  struct VariantCondition {
    uint32_t probe = kNone;
    uint32_t branch = kNone;
    std::vector<std::string> against;
    std::string passed;
  };

  // Calls f(branch, func, string index, string) for the short plain strings
  // in the arms of every branch.
  template <typename F>
  void ForEachArmString(F&& f) const {
    for (uint32_t b = 0; b < facts_.branches.size(); ++b) {
      const internal::BranchFact& br = facts_.branches[b];
      for (Range r : {br.consequence, br.alternative}) {
        if (r.Empty() || r.end - r.begin > 4000) continue;
        ForEachVariantCandidate(
            r, [&](uint32_t index, const StringFact& s) { f(b, br.func, index, s); });
      }
    }
  }

  // Calls f(string index, string) for the strings starting in r that may be
  // a variant: not empty, at most 64 bytes, not a template.
  template <typename F>
  void ForEachVariantCandidate(Range r, F&& f) const {
    auto it =
        std::lower_bound(strings_sorted_.begin(), strings_sorted_.end(), r.begin,
                         [&](uint32_t i, uint32_t x) { return facts_.strings[i].range.begin < x; });
    for (; it != strings_sorted_.end() && facts_.strings[*it].range.begin < r.end; ++it) {
      const StringFact& s = facts_.strings[*it];
      if (s.value.empty() || s.value.size() > 64 || s.origin == StringOrigin::kTemplate) continue;
      f(*it, s);
    }
  }

  // Two passes over the strings in branch arms: those with a look-alike,
  // invisible or separator code point seed the groups (rare), then plain
  // strings join a group of their function with the same folded text; the
  // fall-through `return "…"` after the branches is a variant too.
  VariantGroups CollectVariantGroups() const {
    VariantGroups groups;
    std::unordered_set<uint32_t> seeded_funcs;
    ForEachArmString([&](uint32_t b, uint32_t func, uint32_t index, const StringFact& s) {
      const bool ascii =
          std::all_of(s.value.begin(), s.value.end(), [](char c) { return (c & 0x80) == 0; });
      if (ascii) return;
      bool special = false;
      std::string folded = Fold(s.value, &special);
      if (!special) return;
      VariantGroup& g = groups[{func, std::move(folded)}];
      g.strings.insert(index);
      g.branches.insert(b);
      g.special = true;
      seeded_funcs.insert(func);
    });
    if (groups.empty()) return groups;
    ForEachArmString([&](uint32_t b, uint32_t func, uint32_t index, const StringFact& s) {
      if (!seeded_funcs.count(func)) return;
      auto it = groups.find({func, s.value});
      if (it == groups.end()) return;
      it->second.strings.insert(index);
      it->second.branches.insert(b);
    });
    for (const internal::ReturnFact& r : facts_.returns) {
      if (!seeded_funcs.count(r.func) || r.range.end - r.range.begin > 200) continue;
      ForEachVariantCandidate(r.range, [&](uint32_t index, const StringFact& s) {
        bool special = false;
        auto g = groups.find({r.func, Fold(s.value, &special)});
        if (g != groups.end()) g->second.strings.insert(index);
      });
    }
    return groups;
  }

  static void AddComparisons(std::vector<std::string> cmp, std::vector<std::string>* against) {
    for (std::string& c : cmp) {
      if (std::find(against->begin(), against->end(), c) == against->end() &&
          against->size() < 12) {
        against->push_back(std::move(c));
      }
    }
  }

  // The first branch whose condition reads a probe, directly or through the
  // names and functions it uses.
  VariantCondition ConditionOfBranches(const VariantGroup& g) const {
    VariantCondition cond;
    for (uint32_t b : g.branches) {
      const internal::BranchFact& br = facts_.branches[b];
      uint32_t p = ProbeIn(br.condition, br.func);
      std::vector<std::string> cmp = ComparisonsBehind(br.condition, br.func, &p);
      if (p == kNone) continue;
      if (cond.probe == kNone) {
        cond.probe = p;
        cond.branch = b;
      }
      AddComparisons(std::move(cmp), &cond.against);
    }
    return cond;
  }

  // The conditions test the function's parameters: the probe is in what its
  // callers pass (`pick(flags.known, flags.keyword)`).
  void ConditionFromCallers(uint32_t func, const VariantGroup& g, VariantCondition* cond) const {
    const std::string& name = facts_.functions[func].name;
    // Bounded: a minified one-letter name occurs everywhere.
    size_t calls = 0, looked = 0;
    const std::string call_text = name + "(";
    for (size_t at = text_.find(call_text);
         at != std::string_view::npos && calls < 20 && ++looked <= 400;
         at = text_.find(call_text, at + 1)) {
      const size_t open = at + name.size();
      if (at > 0 &&
          (IsIdentChar(static_cast<unsigned char>(text_[at - 1])) || text_[at - 1] == '.'))
        continue;
      const size_t close = MatchingParen(open);
      if (close == std::string_view::npos) continue;
      const uint32_t caller = FunctionAt(static_cast<uint32_t>(at));
      if (caller == func) continue;  // the declaration's own header, or recursion
      const auto d = Resolve(name, caller);
      if (!d || d->value.begin != facts_.functions[func].range.begin) continue;
      ++calls;
      const Range args{static_cast<uint32_t>(open + 1), static_cast<uint32_t>(close)};
      uint32_t p = ProbeIn(args, caller);
      std::vector<std::string> cmp = ComparisonsBehind(args, caller, &p);
      if (p == kNone) continue;
      cond->probe = p;
      cond->branch = *g.branches.begin();
      AddComparisons(std::move(cmp), &cond->against);
      cond->passed = fmt::format("passes the results to {} at {}{}", name,
                                 locator_.Label(static_cast<uint32_t>(at)), InFunction(caller));
      return;
    }
  }

  // Code that picks between strings that differ only by look-alike,
  // invisible or separator code points, under a condition derived from the
  // environment: one critical finding naming the variants, the condition
  // and every step that leads to it.
  void CovertMarkers() {
    if (!prepared_ || facts_.branches.empty()) return;
    for (const auto& [key, g] : CollectVariantGroups()) {
      std::set<std::string> values;
      for (uint32_t i : g.strings) values.insert(facts_.strings[i].value);
      if (!g.special || values.size() < 2) continue;
      const uint32_t func = key.first;
      VariantCondition cond = ConditionOfBranches(g);
      if (cond.probe == kNone && func != kNone && !facts_.functions[func].name.empty()) {
        ConditionFromCallers(func, g, &cond);
      }
      if (cond.probe == kNone) continue;
      ReportCovertMarker(func, g, values, cond);
    }
  }

  // The critical finding and its correlation for one group of variants.
  void ReportCovertMarker(uint32_t func, const VariantGroup& g, const std::set<std::string>& values,
                          const VariantCondition& cond) {
    const internal::ProbeFact& p = facts_.probes[cond.probe];
    const ProbeRule& rule = rules_.probes[p.rule];
    std::string list;
    std::string plain_list;
    for (const std::string& v : values) {
      list += (list.empty() ? "" : ", ") + DescribeVariant(v);
      plain_list += (plain_list.empty() ? "" : " / ") + v;
    }
    const internal::BranchFact& br = facts_.branches[cond.branch];
    Correlation corr;
    corr.kind = "covert-marker";
    corr.probe = rule.name;
    corr.position = locator_.At(br.condition.begin);
    corr.chain.push_back(fmt::format("reads {} ({}) at {}{}", p.detail, rule.name,
                                     locator_.Label(p.range.begin), InFunction(p.func)));
    for (const std::string& a : cond.against) corr.chain.push_back(a);
    if (!cond.passed.empty()) corr.chain.push_back(cond.passed);
    corr.chain.push_back(fmt::format("which selects one of {} look-alike variants: {} at {}{}",
                                     values.size(), list, locator_.Label(br.condition.begin),
                                     InFunction(func)));
    std::string use_summary;
    if (func != kNone && !facts_.functions[func].name.empty()) {
      for (std::string& u : UsesOf(facts_.functions[func].name)) {
        if (use_summary.empty()) use_summary = u.substr(0, u.find(" built at "));
        corr.chain.push_back(std::move(u));
      }
    }
    corr.against = cond.against.empty()
                       ? "a condition"
                       : cond.against.front().substr(std::string("compares it with a ").size());
    if (const size_t at = corr.against.rfind(" at "); at != std::string::npos)
      corr.against.resize(at);
    corr.output =
        "look-alike variants " + plain_list + (use_summary.empty() ? "" : ", " + use_summary);
    std::string message = "Covert marker: code ";
    for (size_t i = 0; i < corr.chain.size(); ++i) message += (i ? "; " : "") + corr.chain[i];
    AddFinding("env-probe/covert-marker", Severity::kCritical, br.condition.begin,
               br.condition.end - br.condition.begin, message, plain_list);
    out_.findings.back().codepoints = NonAsciiCodePoints(values);
    out_.correlations.push_back(std::move(corr));
    for (uint32_t i : g.strings) covert_strings_.insert(facts_.strings[i].range.begin);
    for (uint32_t b : g.branches) covert_branches_.insert(b);
  }

  // The distinct code points above ASCII in the strings, sorted.
  static std::vector<char32_t> NonAsciiCodePoints(const std::set<std::string>& values) {
    std::vector<char32_t> cps;
    for (const std::string& v : values) {
      for (size_t i = 0; i < v.size();) {
        size_t len = 1;
        const int32_t cp = utf::DecodeOne(reinterpret_cast<const unsigned char*>(v.data()) + i,
                                          v.size() - i, &len);
        i += len;
        if (cp >= 0x80) cps.push_back(static_cast<char32_t>(cp));
      }
    }
    std::sort(cps.begin(), cps.end());
    cps.erase(std::unique(cps.begin(), cps.end()), cps.end());
    return cps;
  }

  // The innermost function around an offset (kNone at module level).
  uint32_t FunctionAt(uint32_t offset) const {
    const auto& fs = facts_.functions;
    auto it = std::upper_bound(
        fs.begin(), fs.end(), offset,
        [](uint32_t o, const internal::FunctionFact& f) { return o < f.range.begin; });
    if (it == fs.begin()) return kNone;
    uint32_t f = static_cast<uint32_t>(it - fs.begin() - 1);
    while (f != kNone && !(fs[f].range.begin <= offset && offset < fs[f].range.end))
      f = fs[f].parent;
    return f;
  }

  // The offset of the parenthesis closing the one at `open`, skipping
  // strings; npos when not found within 2,000 bytes.
  size_t MatchingParen(size_t open) const {
    int depth = 0;
    for (size_t i = open; i < text_.size() && i < open + 2000; ++i) {
      const char c = text_[i];
      if (c == '"' || c == '\'' || c == '`') {
        for (++i; i < text_.size() && text_[i] != c; ++i) i += text_[i] == '\\';
      } else if (c == '(') {
        ++depth;
      } else if (c == ')' && --depth == 0) {
        return i;
      }
    }
    return std::string_view::npos;
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
    auto it = std::lower_bound(
        probes.begin(), probes.end(), r.begin,
        [](const internal::ProbeFact& p, uint32_t b) { return p.range.begin < b; });
    if (it != probes.end() && it->range.begin < r.end)
      return static_cast<uint32_t>(it - probes.begin());
    uint32_t found = kNone;
    if (tainted_.empty()) return found;
    ForEachIdentifier(
        text_.substr(r.begin, r.end - r.begin), [&](std::string_view name, bool called) {
          if (!MayBeTainted(name)) return true;
          auto t = tainted_.find(name);
          if (t == tainted_.end()) return true;
          // The declaration this name refers to from here, when it carries a
          // probe (its value, or the function's return value).
          if (auto d = Resolve(name, func)) {
            if (auto at = tainted_at_.find(d->value.begin); at != tainted_at_.end()) {
              found = at->second;
              return false;
            }
            // The name is bound here to a declaration that carries no probe: a
            // same-named variable elsewhere is another variable.
            return true;
          }
          for (const auto& [decl_func, probe, is_function] : t->second) {
            // Minified code reuses short names in every scope: a name declared at
            // module level, or a function name, counts only when it is long
            // enough to be the same variable wherever it appears.
            // A name that resolves to no single declaration (a parameter, or
            // several declarations in one scope) is followed only when long.
            const bool distinctive = name.size() >= 4;
            if (distinctive &&
                ((is_function && called) || (!is_function && Visible(func, decl_func)))) {
              found = probe;
              return false;
            }
          }
          return true;
        });
    return found;
  }

  // The probe a declaration's value reads by its own code. A function,
  // arrow, method or class nested in the value runs only when called: it
  // counts through its result (its expression body or its own `return`s),
  // and only when that result can become the value, that is when it is
  // called at once (`(() => …)()`) or passed to a call (`memo(() => …)`).
  // An arrow whose body is an expression counts when it is the whole value
  // (a function value's `return`s are followed by its name, see Taint).
  // This keeps a lazy module initialiser (`init_x = lazy(() => { … class {
  // m() { os.hostname() } } })`) and everything that calls it from counting
  // as probed.
  uint32_t ProbeInOwnCode(Range value, uint32_t func, int depth = 0) const {
    const auto& fs = facts_.functions;
    auto it = std::lower_bound(
        fs.begin(), fs.end(), value.begin,
        [](const internal::FunctionFact& f, uint32_t b) { return f.range.begin < b; });
    uint32_t from = value.begin;
    for (; it != fs.end() && it->range.begin < value.end; ++it) {
      if (it->range.begin < from || it->range.end > value.end)
        continue;  // nested in one handled already
      if (it->range.begin == value.begin && it->range.end == value.end && ExpressionBody(*it) != 0)
        continue;
      if (it->range.begin > from) {
        if (const uint32_t p = ProbeIn(Range{from, it->range.begin}, func); p != kNone) return p;
      }
      from = it->range.end;
      if (depth < 3 && ResultFlowsOut(it->range)) {
        const uint32_t p = ProbeInResult(static_cast<uint32_t>(it - fs.begin()), depth + 1);
        if (p != kNone) return p;
      }
    }
    return from < value.end ? ProbeIn(Range{from, value.end}, func) : kNone;
  }

  // The probe a function's result reads: its expression body, or its own
  // `return` statements.
  uint32_t ProbeInResult(uint32_t f, int depth) const {
    const internal::FunctionFact& fn = facts_.functions[f];
    if (const uint32_t body = ExpressionBody(fn); body != 0)
      return ProbeInOwnCode(Range{body, fn.range.end}, f, depth);
    const auto& rs = facts_.returns;
    auto it = std::lower_bound(
        rs.begin(), rs.end(), fn.range.begin,
        [](const internal::ReturnFact& r, uint32_t b) { return r.range.begin < b; });
    for (; it != rs.end() && it->range.begin < fn.range.end; ++it) {
      if (it->func != f || it->range.end - it->range.begin > 4000) continue;
      if (const uint32_t p = ProbeInOwnCode(it->range, f, depth); p != kNone) return p;
    }
    return kNone;
  }

  // Whether the function at `r` is called at once or passed to a call.
  bool ResultFlowsOut(Range r) const {
    size_t after = r.end;
    while (after < text_.size() &&
           (std::isspace(static_cast<unsigned char>(text_[after])) || text_[after] == ')')) {
      ++after;
    }
    if (after < text_.size() && text_[after] == '(') return true;
    size_t before = r.begin;
    while (before > 0 && std::isspace(static_cast<unsigned char>(text_[before - 1]))) --before;
    return before > 0 && (text_[before - 1] == '(' || text_[before - 1] == ',');
  }

  // Where the body of `(…) => expression` starts; 0 when the function is not
  // an arrow whose body is an expression.
  uint32_t ExpressionBody(const internal::FunctionFact& f) const {
    const std::string_view code =
        text_.substr(f.range.begin, std::min<uint32_t>(f.range.end - f.range.begin, 400));
    const size_t arrow = code.find("=>");
    if (arrow == std::string_view::npos ||
        code.substr(0, arrow).find('{') != std::string_view::npos)
      return 0;
    const size_t body = code.find_first_not_of(" \t\r\n", arrow + 2);
    if (body == std::string_view::npos || code[body] == '{') return 0;
    return f.range.begin + static_cast<uint32_t>(body);
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
    for (int round = 0; round < 4; ++round) {
      for (size_t i = 0; i < facts_.decls.size(); ++i) {
        const internal::DeclFact& d = facts_.decls[i];
        if (decl_done[i] || d.value.end - d.value.begin > 4000) continue;
        const uint32_t probe = ProbeInOwnCode(d.value, d.func);
        if (probe == kNone) continue;
        decl_done[i] = true;
        NoteTainted(d.name);
        tainted_at_.emplace(d.value.begin, probe);
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
        tainted_at_.emplace(facts_.functions[r.func].range.begin, probe);
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
    const std::string_view code =
        code_override.empty() ? text_.substr(r.begin, r.end - r.begin) : code_override;
    if (code_override.empty()) {
      if (const EvalHit* h = EvalIn(r)) return DescribeEval(*h);
      if (auto constant = StringConstantAt(r)) return *constant;
    }
    if (IsNumberLiteral(code)) return OffsetConstant(code, timezone_probe);
    if (code_override.empty()) {
      if (std::string d = HiddenArrayLiteral(r, code); !d.empty()) return d;
      if (std::string d = ListInside(r); !d.empty()) return d;
    }
    if (code.size() <= 80) return NamedListOrConstant(code, func, timezone_probe, depth);
    return {};
  }

  // A string literal that is the whole of r: its description when it is a
  // host, URL, address or time zone, "" when it is another constant; nullopt
  // when r is not one string.
  std::optional<std::string> StringConstantAt(Range r) const {
    const auto it = string_at_.find(r.begin);
    if (it == string_at_.end()) return std::nullopt;
    const StringFact& s = facts_.strings[it->second];
    if (s.origin == StringOrigin::kTemplate) return std::string();
    if (s.range.end < r.end - 1) return std::nullopt;
    // Type names, error codes and punctuation are compared everywhere; a
    // host, URL, address or time zone is what tells users apart, hidden or
    // not (a bundle that hides all its strings hides its error messages too).
    const auto d = decoded_at_.find(s.range.begin);
    const bool hidden = d != decoded_at_.end();
    const std::string& value = hidden ? out_.decoded[d->second].text : s.value;
    if (!TellsUsersApart(ClassifyText(value, rules_.shapes))) return std::string();
    if (hidden)
      return "hidden constant " + Quote(value) + " (" + out_.decoded[d->second].encoding + ")";
    return "constant " + Quote(s.value);
  }

  static bool TellsUsersApart(TextShape shape) {
    return shape == TextShape::kDomain || shape == TextShape::kTimezone ||
           shape == TextShape::kUrl || shape == TextShape::kEmail;
  }

  // Only a UTC offset in minutes (getTimezoneOffset() === -480) is telling.
  static std::string OffsetConstant(std::string_view code, bool timezone_probe) {
    const auto minutes = std::strtol(std::string(code).c_str(), nullptr, 10);
    if (!timezone_probe || minutes == 0 || minutes % 15 != 0 || minutes < -840 || minutes > 840)
      return {};
    return "constant " + std::string(code);
  }

  // [d(0x1a1), d(0x1a6)]: an array literal of strings read from a rotated
  // string array.
  std::string HiddenArrayLiteral(Range r, std::string_view code) const {
    if (code.size() <= 2 || code.front() != '[') return {};
    std::vector<std::pair<std::string, TextShape>> items;
    auto it =
        std::lower_bound(strings_sorted_.begin(), strings_sorted_.end(), r.begin,
                         [&](uint32_t i, uint32_t b) { return facts_.strings[i].range.begin < b; });
    for (; it != strings_sorted_.end() && facts_.strings[*it].range.begin < r.end &&
           items.size() < 5000;
         ++it) {
      const StringFact& s = facts_.strings[*it];
      if (s.origin == StringOrigin::kStringArray)
        items.emplace_back(s.value, ClassifyText(s.value, rules_.shapes));
    }
    if (items.empty()) return {};
    std::string d = DescribeList(items, false);
    return d.empty() ? d : "hidden " + d;
  }

  // The first telling array of strings inside r, in the order of
  // facts_.string_arrays.
  std::string ListInside(Range r) const {
    std::vector<uint32_t> inside;
    for (auto it = std::lower_bound(
             arrays_by_begin_.begin(), arrays_by_begin_.end(), r.begin,
             [&](uint32_t i, uint32_t b) { return facts_.string_arrays[i].range.begin < b; });
         it != arrays_by_begin_.end() && facts_.string_arrays[*it].range.begin < r.end; ++it) {
      if (r.Contains(facts_.string_arrays[*it].range)) inside.push_back(*it);
    }
    std::sort(inside.begin(), inside.end());
    for (uint32_t i : inside) {
      std::string d = TellingList(facts_.string_arrays[i]);
      if (!d.empty()) return d;
    }
    return {};
  }

  // A short piece of code that names a list or constant: a name bound to
  // one, a list that is the first name (`LIST.map(decode)`, `new Set(LIST)`),
  // or an array bound to the name.
  std::string NamedListOrConstant(std::string_view code, uint32_t func, bool timezone_probe,
                                  int depth) const {
    std::string_view name = code;
    while (!name.empty() && (name.front() == '(' || name.front() == '!')) name.remove_prefix(1);
    while (!name.empty() && name.back() == ')') name.remove_suffix(1);
    if (std::string d = BoundListOrConstant(name, func, timezone_probe, depth); !d.empty())
      return d;
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
    return {};
  }

  // What a declaration of `name` visible from `func` holds: "… (name)".
  std::string BoundListOrConstant(std::string_view name, uint32_t func, bool timezone_probe,
                                  int depth) const {
    const auto it = decls_by_name_.find(name);
    if (it == decls_by_name_.end()) return {};
    bool visible_decl = false;
    for (uint32_t index : it->second) {
      const internal::DeclFact& d = facts_.decls[index];
      if (!Visible(func, d.func)) continue;
      visible_decl = true;
      std::string inner = ListOrConstant(d.value, d.func, timezone_probe, depth + 1);
      if (inner.empty()) continue;
      // A short module-level name is only trusted for a list, which is
      // telling on its own; a lone constant could be any shadowed name.
      if (d.func == kNone && name.size() < 4 && inner.find("list of") == std::string::npos)
        continue;
      return inner + " (" + std::string(name) + ")";
    }
    // `var L;` at module level, assigned inside a lazy initialiser
    // (`init=once(()=>{L=memo(()=>decode(ENC))})`): the assignment is in
    // another function. Trusted for a list only, and only for a name
    // assigned in few places (a minified `e` is assigned everywhere).
    if (visible_decl || it->second.size() > 4) return {};
    for (uint32_t index : it->second) {
      const internal::DeclFact& d = facts_.decls[index];
      if (d.value.end - d.value.begin > 4000) continue;
      std::string inner = ListOrConstant(d.value, d.func, timezone_probe, depth + 1);
      if (inner.find("list of") == std::string::npos) continue;
      return inner + " (" + std::string(name) + ")";
    }
    return {};
  }

  // The branch a comparison decides, directly or through a flag variable or
  // a function that returns the comparison.
  uint32_t BranchOf(const CompareFact& c) const {
    if (c.condition_of != kNone) return c.condition_of;
    std::vector<std::pair<std::string_view, bool>> flags;  // name, is_function
    for (const internal::DeclFact& d : facts_.decls) {
      if (d.value.Contains(c.range.begin) && d.value.end - d.value.begin < 4000)
        flags.emplace_back(d.name, false);
    }
    for (const internal::ReturnFact& r : facts_.returns) {
      if (r.range.Contains(c.range.begin) && r.func != kNone &&
          !facts_.functions[r.func].name.empty()) {
        flags.emplace_back(facts_.functions[r.func].name, true);
      }
    }
    if (flags.empty()) return kNone;
    for (uint32_t b = 0; b < facts_.branches.size(); ++b) {
      const internal::BranchFact& br = facts_.branches[b];
      if (br.condition.end - br.condition.begin > 2000 || br.condition.begin < c.range.begin)
        continue;
      bool hit = false;
      ForEachIdentifier(text_.substr(br.condition.begin, br.condition.end - br.condition.begin),
                        [&](std::string_view name, bool called) {
                          for (const auto& [flag, is_function] : flags) {
                            if (name == flag && (is_function ? called : Visible(br.func, c.func)))
                              hit = true;
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
      auto it = strings_sorted_.empty()
                    ? strings_sorted_.end()
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
    if (!b.consequence.Empty() && b.consequence.end - b.consequence.begin <= 200) {
      return "a branch that runs " +
             Quote(text_.substr(b.consequence.begin, b.consequence.end - b.consequence.begin));
    }
    return "a branch";
  }

  // Indexes for correlation, and the names that carry a probed value.
  void PrepareCorrelation() {
    if (facts_.probes.empty()) return;
    for (uint32_t i = 0; i < facts_.string_arrays.size(); ++i) {
      arrays_by_begin_.push_back(i);
      if (!facts_.string_arrays[i].bound_name.empty())
        arrays_by_name_[facts_.string_arrays[i].bound_name].push_back(i);
    }
    std::stable_sort(arrays_by_begin_.begin(), arrays_by_begin_.end(), [&](uint32_t a, uint32_t b) {
      return facts_.string_arrays[a].range.begin < facts_.string_arrays[b].range.begin;
    });
    Taint();
    prepared_ = true;
  }

  // Parameter names of a function, from its header.
  std::vector<std::string_view> Params(uint32_t func) const {
    const internal::FunctionFact& f = facts_.functions[func];
    std::string_view code =
        text_.substr(f.range.begin, std::min<uint32_t>(f.range.end - f.range.begin, 400));
    const size_t brace = code.find('{'), arrow = code.find("=>");
    code = code.substr(0, std::min(brace, arrow));
    std::vector<std::string_view> out;
    ForEachIdentifier(code, [&](std::string_view id, bool) {
      if (id != "function" && id != "async" && id != f.name) out.push_back(id);
      return out.size() < 16;
    });
    return out;
  }

  // Function summaries: a named function that compares one of its
  // parameters with a list or constant. A branch whose condition calls it
  // with a probed value is one correlation across the functions.
  void ArgumentSummaries(std::set<std::tuple<uint32_t, std::string, uint32_t>>* reported) {
    struct Summary {
      std::string against;
      uint32_t at;
    };
    // By the function's offset: minified code declares the same short name
    // in many scopes, so a call is matched to the function its name
    // resolves to from the caller's scope, never by name alone.
    std::unordered_map<uint32_t, Summary> tests;
    std::unordered_set<std::string_view> names;  // a cheap filter before resolving
    for (const CompareFact& c : facts_.compares) {
      uint32_t owner = c.func;
      while (owner != kNone && facts_.functions[owner].name.empty())
        owner = facts_.functions[owner].parent;
      if (owner == kNone || tests.count(facts_.functions[owner].range.begin)) continue;
      const std::vector<std::string_view> params = Params(owner);
      if (params.empty()) continue;
      for (auto [value, other] : {std::pair{c.value, c.other}, std::pair{c.other, c.value}}) {
        if (value.end - value.begin > 2000) continue;
        bool uses_param = false;
        ForEachIdentifier(
            text_.substr(value.begin, value.end - value.begin), [&](std::string_view id, bool) {
              uses_param = std::find(params.begin(), params.end(), id) != params.end();
              return !uses_param;
            });
        if (!uses_param || ProbeIn(value, c.func) != kNone) continue;
        std::string against = ListOrConstant(other, c.func, false);
        if (against.empty()) continue;
        tests.emplace(facts_.functions[owner].range.begin,
                      Summary{std::move(against), c.range.begin});
        names.insert(facts_.functions[owner].name);
        break;
      }
    }
    if (tests.empty()) return;
    for (uint32_t b = 0; b < facts_.branches.size(); ++b) {
      const internal::BranchFact& br = facts_.branches[b];
      if (br.condition.end - br.condition.begin > 2000) continue;
      const Summary* summary = nullptr;
      std::string_view callee;
      ForEachIdentifier(text_.substr(br.condition.begin, br.condition.end - br.condition.begin),
                        [&](std::string_view id, bool called) {
                          if (!called || !names.count(id)) return true;
                          const auto d = Resolve(id, br.func);
                          if (!d) return true;
                          auto it = tests.find(d->value.begin);
                          if (it == tests.end()) return true;
                          summary = &it->second;
                          callee = id;
                          return false;
                        });
      if (summary == nullptr) continue;
      const uint32_t probe = ProbeIn(br.condition, br.func);
      if (probe == kNone) continue;
      const internal::ProbeFact& p = facts_.probes[probe];
      const ProbeRule& rule = rules_.probes[p.rule];
      if (!reported->insert({p.rule, summary->against, b}).second) continue;
      uint32_t output_offset = 0;
      const std::string output = OutputOf(br, &output_offset);
      Correlation corr{rule.name,
                       summary->against,
                       output,
                       locator_.At(br.condition.begin),
                       "environment-dependent-output",
                       {}};
      corr.chain = {
          fmt::format("reads {} ({}) at {}{}", p.detail, rule.name, locator_.Label(p.range.begin),
                      InFunction(p.func)),
          fmt::format("passes it to {} at {}{}, which compares its argument with a {} at {}",
                      callee, locator_.Label(br.condition.begin), InFunction(br.func),
                      summary->against, locator_.Label(summary->at)),
          fmt::format("picks {} at {}", output, locator_.Label(output_offset))};
      std::string message = "Output depends on the environment: code ";
      for (size_t i = 0; i < corr.chain.size(); ++i) message += (i ? "; " : "") + corr.chain[i];
      AddFinding("env-probe/environment-dependent-output", Severity::kHigh, br.condition.begin,
                 br.condition.end - br.condition.begin, std::move(message));
      out_.correlations.push_back(std::move(corr));
    }
  }

  void Correlate() {
    if (facts_.compares.empty() || facts_.probes.empty() || !prepared_) return;
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
      last_eval_ = nullptr;
      const std::string against = ListOrConstant(other, c.func, timezone_probe);
      if (against.empty()) continue;
      const std::string decoding = TakeDecodingStep();
      const uint32_t branch = BranchOf(c);
      const internal::ProbeFact& p = facts_.probes[probe];
      const ProbeRule& rule = rules_.probes[p.rule];
      if (!reported.insert({p.rule, against, branch}).second) continue;
      if (branch != kNone && covert_branches_.count(branch))
        continue;  // reported as a covert marker
      if (branch == kNone) {
        AddFinding("env-probe/" + rule.name, Severity::kLow, c.range.begin,
                   c.range.end - c.range.begin,
                   fmt::format("Compares what code {} ({} at {}) with a {}", rule.what, p.detail,
                               locator_.Label(p.range.begin), against));
        continue;
      }
      uint32_t output_offset = 0;
      const std::string output = OutputOf(facts_.branches[branch], &output_offset);
      Correlation corr{
          rule.name, against, output, locator_.At(c.range.begin), "environment-dependent-output",
          {}};
      corr.chain = {fmt::format("reads {} ({}) at {}{}", p.detail, rule.name,
                                locator_.Label(p.range.begin), InFunction(p.func)),
                    fmt::format("compares it with a {} at {}{}", against,
                                locator_.Label(c.range.begin), InFunction(c.func)),
                    fmt::format("picks {} at {}", output, locator_.Label(output_offset))};
      if (!decoding.empty()) corr.chain.insert(corr.chain.begin() + 2, decoding);
      out_.correlations.push_back(std::move(corr));
      AddFinding(
          "env-probe/environment-dependent-output", Severity::kHigh, c.range.begin,
          c.range.end - c.range.begin,
          fmt::format(
              "Output depends on the environment: code {} ({} at {}), compares it with a {} at {}, "
              "and picks {} at {}",
              rule.what, p.detail, locator_.Label(p.range.begin), against,
              locator_.Label(c.range.begin), output, locator_.Label(output_offset)));
    }
    ArgumentSummaries(&reported);
  }

  bool prepared_ = false;
  // Declarations (value offset) and functions (start offset) that carry a probe.
  std::unordered_map<uint32_t, uint32_t> tainted_at_;
  std::unordered_set<uint32_t> covert_branches_;  // branches reported as covert markers
  std::unordered_set<uint32_t> covert_strings_;  // variant strings named by a covert-marker finding
  std::unordered_map<std::string_view, std::vector<uint32_t>>
      funcs_by_name_;  // function declarations
  struct ScopedName {
    uint32_t scope;  // declaring function, kNone at module level
    uint32_t index;  // into decls or functions
    bool is_function;
  };
  std::unordered_map<std::string_view, std::vector<ScopedName>> scoped_names_;
  std::unordered_map<uint32_t, int8_t>
      decoder_like_;            // by declaration offset: 1 yes, 0 no, -1 in progress
  std::vector<EvalHit> evals_;  // in call order (source order)
  mutable const EvalHit* last_eval_ = nullptr;
  std::unordered_set<uint32_t>
      evaluated_literals_;  // string literals passed to a decoder that was evaluated
  std::string_view text_;
  const AuditRules& rules_;
  const AnalysisLimits& limits_;
  ModuleAnalysis& out_;
  Locator locator_;
  JsFacts facts_;
  std::vector<XorKey> keys_;
  std::unordered_map<uint32_t, size_t> decoded_at_;
  std::unordered_set<std::string> endpoint_urls_;
  std::vector<uint32_t> prompt_offsets_;
  std::unordered_set<uint32_t> prompt_funcs_;
  bool prompt_scanned_ = false;
  std::unordered_map<uint32_t, uint32_t> string_at_;
  std::vector<uint32_t> strings_sorted_;
  std::unordered_map<std::string_view, std::vector<uint32_t>> decls_by_name_;
  std::vector<uint32_t> arrays_by_begin_;  // string_arrays indices by range.begin
  std::unordered_map<std::string_view, std::vector<uint32_t>>
      arrays_by_name_;  // by bound_name, in index order
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
  std::stable_sort(
      out.findings.begin(), out.findings.end(),
      [](const Finding& a, const Finding& b) { return a.byte_offset < b.byte_offset; });
  return out;
}

ModuleAnalysis Analyzer::AnalyzeAsset(std::string_view text, std::string_view path,
                                      const AnalysisLimits& limits) const {
  ModuleAnalysis out;
  ModuleRun run(text, rules_, limits, &out);
  run.RunAsset(IsJsonAsset(path), TextKindForPath(path), sdk_db_ ? sdk_db_->db : nullptr,
               sdk_db_ ? sdk_db_->ids : std::vector<std::pair<uint32_t, uint32_t>>{});
  std::stable_sort(
      out.findings.begin(), out.findings.end(),
      [](const Finding& a, const Finding& b) { return a.byte_offset < b.byte_offset; });
  return out;
}

ModuleAnalysis Analyzer::AnalyzeStrings(const std::vector<std::string_view>& strings,
                                        const std::vector<uint64_t>& offsets,
                                        const AnalysisLimits& limits) const {
  ModuleAnalysis out;
  std::unordered_set<std::string> seen;
  std::set<std::string> kinds;
  size_t dropped_endpoints = 0;
  for (size_t i = 0; i < strings.size(); ++i) {
    const std::string_view s = strings[i];
    const uint64_t offset = i < offsets.size() ? offsets[i] : 0;
    const Position pos{offset, 0, 0};
    ForEachEndpoint(s, rules_.shapes, [&](std::string_view url, std::string_view host, size_t) {
      if (!seen.insert(std::string(url)).second) return;
      if (out.endpoints.size() >= limits.max_endpoints) {
        ++dropped_endpoints;
        return;
      }
      out.endpoints.push_back(EndpointRef{
          std::string(url), std::string(host), pos, false, url == host ? "host" : "url", {}});
    });
    if (s.size() <= 200) {
      for (const ProbeRule& r : rules_.probes) {
        const re2::RE2* re = r.string_regex ? r.string_regex.get() : r.env_regex.get();
        if (re == nullptr || !re2::RE2::FullMatch(re2::StringPiece(s.data(), s.size()), *re))
          continue;
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
        if (std::any_of(out.sdks.begin(), out.sdks.end(),
                        [&](const SdkHit& h) { return h.name == sdk.name; }))
          break;
        out.sdks.push_back(
            SdkHit{sdk.name, std::string(SdkCategoryName(sdk.category)), marker, pos});
        const bool remote = sdk.category == SdkCategory::kFeatureFlags ||
                            sdk.category == SdkCategory::kRemoteConfig;
        Finding f;
        f.rule =
            (remote ? "remote-config/" : "endpoint/") + std::string(SdkCategoryName(sdk.category));
        f.severity = Severity::kLow;
        f.byte_offset = offset;
        f.message = fmt::format("{} ({}) is built in: {}", sdk.name, SdkCategoryName(sdk.category),
                                Quote(marker));
        out.findings.push_back(std::move(f));
        break;
      }
    }
  }
  if (dropped_endpoints > 0) {
    out.notes.push_back(
        fmt::format("endpoints: {} found in printable strings, {} kept (first in file order)",
                    out.endpoints.size() + dropped_endpoints, out.endpoints.size()));
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
