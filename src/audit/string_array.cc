// The string-array resolver (see internal/string_array.h).
#include "audit/internal/string_array.h"

#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "audit/internal/js_walker.h"

namespace glassbox::audit::internal {
namespace {

std::optional<double> ParseNumber(std::string_view s) {
  if (auto i = ParseInteger(s)) return static_cast<double>(*i);
  std::string clean;
  for (char c : s) {
    if (c != '_') clean.push_back(c);
  }
  char* end = nullptr;
  const double d = std::strtod(clean.c_str(), &end);
  if (end == clean.c_str() || *end != '\0') return std::nullopt;
  return d;
}

// JavaScript's parseInt(string) with no radix.
double JsParseInt(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  double sign = 1;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) sign = s[i++] == '-' ? -1 : 1;
  int base = 10;
  if (i + 1 < s.size() && s[i] == '0' && (s[i + 1] | 0x20) == 'x') {
    base = 16;
    i += 2;
  }
  double v = 0;
  size_t digits = 0;
  for (; i < s.size(); ++i) {
    const int d = HexDigit(s[i]);
    if (d < 0 || d >= base) break;
    v = v * base + d;
    ++digits;
  }
  return digits == 0 ? std::nan("") : sign * v;
}

// javascript-obfuscator's base64 for string arrays: lowercase letters first,
// then percent-decoding of the bytes.
std::optional<std::string> ObfuscatorBase64(std::string_view s) {
  static const std::string_view kAlphabet =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=";
  std::string bytes;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    const size_t v = kAlphabet.find(c);
    if (v == std::string_view::npos) return std::nullopt;
    if (v == 64) break;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return bytes;  // percent-decoding of these bytes gives the same UTF-8
}

// Resolves javascript-obfuscator's rotated string arrays: the array (or the
// function that returns it), the decoder that subtracts an offset from its
// index, and the self-checking loop `while(true){ try { if (parseInt(d(0x1a))/1
// + … === TARGET) break; else a.push(a.shift()) } … }` whose TARGET fixes the
// rotation. The checksum is evaluated natively for each rotation; no code runs.
class StringArrayResolver {
 public:
  StringArrayResolver(std::string_view text, const AuditRules& rules, JsFacts* facts,
                      const Walker& walker)
      : text_(text), rules_(rules), g_(Grammar::Get()), facts_(*facts), walker_(walker) {}

  void Run() {
    for (TSNode call : walker_.rotation_calls) Resolve(call);
    if (!facts_.resolved_arrays.empty()) ResolveBrackets();
  }

 private:
  std::string_view Text(TSNode n) const {
    return text_.substr(ts_node_start_byte(n), ts_node_end_byte(n) - ts_node_start_byte(n));
  }
  std::string_view Text(Range r) const { return text_.substr(r.begin, r.end - r.begin); }
  Kind KindOf(TSNode n) const { return g_.KindOf(n); }

  const StringArrayFact* FindArray(std::string_view name) const {
    const StringArrayFact* best = nullptr;
    for (const FunctionFact& f : facts_.functions) {
      if (f.name != name) continue;
      for (const StringArrayFact& a : facts_.string_arrays) {
        if (f.range.Contains(a.range) && (best == nullptr || a.count > best->count)) best = &a;
      }
    }
    for (const StringArrayFact& a : facts_.string_arrays) {
      if (a.bound_name == name && (best == nullptr || a.count > best->count)) best = &a;
    }
    return best != nullptr && best->count >= 3 ? best : nullptr;
  }

  // The first declarator under `root` whose value calls parseInt.
  TSNode FindChecksum(TSNode root) const {
    TSTreeCursor cursor = ts_tree_cursor_new(root);
    TSNode found{};
    size_t steps = 0;
    for (bool more = true; more && ++steps < 100000;) {
      TSNode n = ts_tree_cursor_current_node(&cursor);
      if (KindOf(n) == Kind::kDeclarator) {
        TSNode v = ts_node_child_by_field_id(n, g_.value);
        if (!ts_node_is_null(v) && Text(v).find("parseInt(") != std::string_view::npos) {
          found = v;
          break;
        }
      }
      if (ts_tree_cursor_goto_first_child(&cursor)) continue;
      while (!ts_tree_cursor_goto_next_sibling(&cursor)) {
        if (!ts_tree_cursor_goto_parent(&cursor)) {
          more = false;
          break;
        }
      }
    }
    ts_tree_cursor_delete(&cursor);
    return found;
  }

  // Evaluates the checksum expression; NaN for anything it does not know.
  double Eval(TSNode n, int depth) const {
    if (depth > 64 || ts_node_is_null(n)) return std::nan("");
    switch (KindOf(n)) {
      case Kind::kNumber:
        return ParseNumber(Text(n)).value_or(std::nan(""));
      case Kind::kParenthesized:
        return Eval(ts_node_named_child(n, 0), depth + 1);
      case Kind::kUnary: {
        const std::string_view op = Text(ts_node_child_by_field_id(n, g_.op));
        const double v = Eval(ts_node_child_by_field_id(n, g_.argument), depth + 1);
        return op == "-" ? -v : op == "+" ? v : std::nan("");
      }
      case Kind::kBinary: {
        const std::string_view op = Text(ts_node_child_by_field_id(n, g_.op));
        const double a = Eval(ts_node_child_by_field_id(n, g_.left), depth + 1);
        const double b = Eval(ts_node_child_by_field_id(n, g_.right), depth + 1);
        if (op == "+") return a + b;
        if (op == "-") return a - b;
        if (op == "*") return a * b;
        if (op == "/") return a / b;
        if (op == "%") return std::fmod(a, b);
        return std::nan("");
      }
      case Kind::kCall: {
        TSNode fn = ts_node_child_by_field_id(n, g_.function);
        TSNode args = ts_node_child_by_field_id(n, g_.arguments);
        if (ts_node_is_null(fn) || ts_node_is_null(args) || ts_node_named_child_count(args) < 1)
          return std::nan("");
        if (Text(fn) != "parseInt") return std::nan("");
        TSNode inner = ts_node_named_child(args, 0);
        if (KindOf(inner) != Kind::kCall) return std::nan("");
        TSNode dfn = ts_node_child_by_field_id(inner, g_.function);
        TSNode dargs = ts_node_child_by_field_id(inner, g_.arguments);
        if (ts_node_is_null(dfn) || ts_node_is_null(dargs) ||
            ts_node_named_child_count(dargs) < 1) {
          return std::nan("");
        }
        if (!IsDecoder(Text(dfn))) return std::nan("");
        auto index = ParseInteger(Text(ts_node_named_child(dargs, 0)));
        if (!index) return std::nan("");
        auto s = Item(*index);
        return s ? JsParseInt(*s) : std::nan("");
      }
      default:
        return std::nan("");
    }
  }

  bool IsDecoder(std::string_view name) const {
    return name == decoder_ || std::find(aliases_.begin(), aliases_.end(), name) != aliases_.end();
  }

  std::optional<std::string> Item(int64_t index) const {
    const int64_t i = index - offset_;
    const int64_t n = static_cast<int64_t>(array_->count);
    if (i < 0 || i >= n) return std::nullopt;
    const std::string& raw =
        facts_.strings[array_->first_string + static_cast<uint32_t>((i + rotation_) % n)].value;
    if (!base64_) return raw;
    return ObfuscatorBase64(raw);
  }

  void Resolve(TSNode call) {
    TSNode args = ts_node_child_by_field_id(call, g_.arguments);
    const std::string_view array_name = Text(ts_node_named_child(args, 0));
    auto target = ParseNumber(Text(ts_node_named_child(args, 1)));
    array_ = FindArray(array_name);
    if (array_ == nullptr || !target) return;
    TSNode checksum = FindChecksum(ts_node_child_by_field_id(call, g_.function));
    if (ts_node_is_null(checksum)) return;
    // The decoder: the function called inside parseInt(…), through aliases.
    static const re2::RE2 kInner(R"(parseInt\(\s*([\w$]+)\s*\()");
    std::string callee;
    const std::string_view ct = Text(checksum);
    if (!re2::RE2::PartialMatch(re2::StringPiece(ct.data(), ct.size()), kInner, &callee)) return;
    aliases_.clear();
    decoder_ = callee;
    const Range call_range{ts_node_start_byte(call), ts_node_end_byte(call)};
    for (const DeclFact& d : facts_.decls) {
      if (d.name == callee && call_range.Contains(d.value.begin))
        decoder_ = std::string(Text(d.value));
    }
    const FunctionFact* decoder_fn = nullptr;
    for (const FunctionFact& f : facts_.functions) {
      if (f.name == decoder_) {
        decoder_fn = &f;
        break;
      }
    }
    if (decoder_fn == nullptr) return;
    for (const DeclFact& d : facts_.decls) {
      if (Text(d.value) == decoder_ && d.name != decoder_) aliases_.push_back(d.name);
    }
    const std::string_view body = Text(decoder_fn->range);
    static const re2::RE2 kOffset(R"(([\w$]+)\s*=\s*([\w$]+)\s*-\s*(0x[0-9a-fA-F]+|\d+))");
    re2::StringPiece input(body.data(), body.size());
    std::string a, b, number;
    offset_ = 0;
    while (re2::RE2::FindAndConsume(&input, kOffset, &a, &b, &number)) {
      if (a == b) {
        offset_ = ParseInteger(number).value_or(0);
        break;
      }
    }
    base64_ = body.find("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=") !=
              std::string_view::npos;
    const uint32_t n = array_->count;
    bool found = false;
    for (uint32_t k = 0; k < n; ++k) {
      rotation_ = k;
      if (Eval(checksum, 0) == *target) {
        found = true;
        break;
      }
    }
    if (!found) return;
    uint32_t calls = 0;
    const std::string encoding = fmt_encoding();
    for (const Walker::NumberCall& c : walker_.number_calls) {
      if (!IsDecoder(c.name)) continue;
      auto s = Item(c.number);
      if (!s) continue;
      ++calls;
      facts_.strings.push_back(
          StringFact{c.range, std::move(*s), c.func, StringOrigin::kStringArray, encoding});
    }
    facts_.resolved_arrays.push_back(
        JsFacts::ResolvedArray{array_->range.begin, rotation_, n, calls});
  }

  // Property accesses and calls through resolved names, obj[d(0x1a4)]():
  // probes and comparisons as if written obj.resolvedOptions().
  void ResolveBrackets() {
    std::unordered_map<uint32_t, const std::string*> resolved;
    for (const StringFact& s : facts_.strings) {
      if (s.origin == StringOrigin::kStringArray) resolved[s.range.begin] = &s.value;
    }
    for (const Walker::BracketCall& b : walker_.bracket_calls) {
      auto it = resolved.find(b.index_begin);
      if (it == resolved.end()) continue;
      const std::string& name = *it->second;
      const std::string object = Normalized(b.object, resolved);
      if (b.call.Empty()) {
        AddBracketProperty(b, object, name);
      } else {
        AddBracketCall(b, object, name);
      }
    }
  }

  // The source text of `r` with each bracket read of a resolved name written
  // as a property access: a[d(0x1)].b → a.resolvedOptions.b.
  std::string Normalized(Range r,
                         const std::unordered_map<uint32_t, const std::string*>& resolved) const {
    std::string out;
    uint32_t pos = r.begin;
    for (uint32_t i = r.begin; i < r.end; ++i) {
      if (text_[i] != '[' || i + 1 >= r.end) continue;
      auto it = resolved.find(i + 1);
      if (it == resolved.end()) continue;
      const size_t close = text_.find(']', i + 1);
      if (close == std::string_view::npos || close >= r.end) continue;
      out.append(text_.substr(pos, i - pos));
      out += "." + *it->second;
      pos = static_cast<uint32_t>(close + 1);
      i = static_cast<uint32_t>(close);
    }
    out.append(text_.substr(pos, r.end - pos));
    return out;
  }

  // object[d(…)](arg0): a call probe, or a comparison as for object.name(arg0).
  void AddBracketCall(const Walker::BracketCall& b, const std::string& object,
                      const std::string& name) {
    for (uint32_t i = 0; i < rules_.probes.size(); ++i) {
      if (rules_.probes[i].call == name)
        facts_.probes.push_back(ProbeFact{b.call, i, b.func, object + "." + name + "()"});
    }
    if (b.arg0.Empty()) return;
    if (name == "includes" || name == "indexOf" || name == "lastIndexOf" || name == "has") {
      facts_.compares.push_back(
          CompareFact{b.call, CompareKind::kMembership, b.arg0, b.object, b.func, b.condition});
    } else if (name == "endsWith" || name == "startsWith" || name == "match") {
      facts_.compares.push_back(
          CompareFact{b.call, CompareKind::kAffix, b.object, b.arg0, b.func, b.condition});
    } else if (name == "some" || name == "find" || name == "every" || name == "filter") {
      facts_.compares.push_back(
          CompareFact{b.call, CompareKind::kPredicate, b.arg0, b.object, b.func, b.condition});
    }
  }

  // object[d(…)] read, not called: a property probe.
  void AddBracketProperty(const Walker::BracketCall& b, const std::string& object,
                          const std::string& name) {
    for (uint32_t i = 0; i < rules_.probes.size(); ++i) {
      const ProbeRule& r = rules_.probes[i];
      if (r.property != name) continue;
      if (r.object_regex && !re2::RE2::PartialMatch(object, *r.object_regex)) continue;
      facts_.probes.push_back(ProbeFact{b.subscript, i, b.func, object + "." + name});
    }
  }

  std::string fmt_encoding() const {
    return (base64_ ? "string-array+base64(rotate " : "string-array(rotate ") +
           std::to_string(rotation_) + ")";
  }

  std::string_view text_;
  const AuditRules& rules_;
  const Grammar& g_;
  JsFacts& facts_;
  const Walker& walker_;
  const StringArrayFact* array_ = nullptr;
  std::string decoder_;
  std::vector<std::string> aliases_;
  int64_t offset_ = 0;
  uint32_t rotation_ = 0;
  bool base64_ = false;
};

}  // namespace

void ResolveStringArrays(std::string_view text, const AuditRules& rules, const Walker& walker,
                         JsFacts* facts) {
  StringArrayResolver(text, rules, facts, walker).Run();
}

}  // namespace glassbox::audit::internal
