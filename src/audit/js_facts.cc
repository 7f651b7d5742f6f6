#include "audit/js_facts.h"

#include <re2/re2.h>
#include <fmt/format.h>
#include <tree_sitter/api.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <new>
#include <thread>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "core/utf.h"

extern "C" const TSLanguage* tree_sitter_javascript(void);

namespace glassbox::audit::internal {
namespace {

// Node kinds the walker cares about; everything else is kOther.
enum class Kind : uint8_t {
  kOther,
  kString,
  kTemplateString,
  kTemplateSubstitution,
  kNumber,
  kArray,
  kMember,
  kSubscript,
  kCall,
  kBinary,
  kUnary,
  kDeclarator,
  kAssignment,
  kIf,
  kTernary,
  kSwitch,
  kSwitchBody,
  kSwitchCase,
  kFunctionDecl,
  kFunctionExpr,
  kArrow,
  kMethod,
  kReturn,
  kIdentifier,
  kParenthesized,
  kArguments,
  kExpressionStatement,
  kPair,
  kSpread,
};

bool IsFunction(Kind k) {
  return k == Kind::kFunctionDecl || k == Kind::kFunctionExpr || k == Kind::kArrow || k == Kind::kMethod;
}

// Tree-sitter's memory. While a thread has a TreeArena active, tree-sitter
// allocates from it by bumping a pointer and its frees are no-ops; the parser,
// the tree and the cursors over it are given back at once when the arena is
// destroyed, instead of node by node. Outside an arena, tree-sitter's blocks
// come from malloc. A 16-byte header on every block says which, so a block
// may be freed on any thread. Installed once, before the first parser
// (Grammar::Get()).
class TreeArena {
 public:
  // At most `cap` bytes come from the arena; past that (error recovery on
  // text that is not code churns memory), blocks come from malloc again and
  // are freed one by one.
  explicit TreeArena(size_t cap) : cap_(cap) {}
  TreeArena(const TreeArena&) = delete;
  TreeArena& operator=(const TreeArena&) = delete;
  // A tree that outgrew the arena holds blocks from malloc too: those are
  // freed through ts_tree_delete (whose frees of arena blocks are no-ops).
  ~TreeArena() {
    if (tree_ != nullptr && overflowed_) ts_tree_delete(tree_);
  }
  void set_tree(TSTree* tree) { tree_ = tree; }

  // The arena's budget for a parse of `bytes` bytes of text.
  static size_t CapFor(size_t bytes) { return (size_t{64} << 20) + 48 * bytes; }

  // 16-byte aligned (`n` is a multiple of 16); null when the cap is reached;
  // aborts, as tree-sitter's own allocator does, when memory runs out.
  void* Allocate(size_t n) {
    if (n > kBlock / 4) return NewBlock(n);  // a block of its own; the current one stays in use
    if (n > left_) {
      next_ = NewBlock(kBlock);
      left_ = next_ == nullptr ? 0 : kBlock;
      if (next_ == nullptr) return nullptr;
    }
    char* out = next_;
    next_ += n;
    left_ -= n;
    return out;
  }

 private:
  char* NewBlock(size_t size) {
    if (used_ + size > cap_) {
      overflowed_ = true;
      return nullptr;
    }
    used_ += size;
    blocks_.emplace_back(new (std::nothrow) char[size]);
    if (blocks_.back() == nullptr) std::abort();
    return blocks_.back().get();
  }

  static constexpr size_t kBlock = size_t{1} << 20;
  size_t cap_;
  size_t used_ = 0;
  bool overflowed_ = false;
  TSTree* tree_ = nullptr;
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* next_ = nullptr;
  size_t left_ = 0;
};

thread_local TreeArena* t_tree_arena = nullptr;

// Makes `arena` the calling thread's tree-sitter arena for its lifetime.
class TreeArenaScope {
 public:
  explicit TreeArenaScope(TreeArena* arena) : previous_(t_tree_arena) { t_tree_arena = arena; }
  ~TreeArenaScope() { t_tree_arena = previous_; }
  TreeArenaScope(const TreeArenaScope&) = delete;
  TreeArenaScope& operator=(const TreeArenaScope&) = delete;

 private:
  TreeArena* previous_;
};

struct BlockHeader {
  uint64_t magic;
  uint64_t size;  // bytes the caller asked for
};
static_assert(sizeof(BlockHeader) == 16);
constexpr uint64_t kHeapBlock = 0x676c617373686561ull;   // from malloc
constexpr uint64_t kArenaBlock = 0x676c617373617265ull;  // from a TreeArena

void* TsMalloc(size_t n) {
  if (n > SIZE_MAX / 2) std::abort();
  BlockHeader* h = nullptr;
  if (t_tree_arena != nullptr) {
    h = static_cast<BlockHeader*>(t_tree_arena->Allocate(sizeof(BlockHeader) + ((n + 15) & ~size_t{15})));
    if (h != nullptr) h->magic = kArenaBlock;
  }
  if (h == nullptr) {
    h = static_cast<BlockHeader*>(std::malloc(sizeof(BlockHeader) + n));
    if (h == nullptr) std::abort();
    h->magic = kHeapBlock;
  }
  h->size = n;
  return h + 1;
}

void TsFree(void* p) {
  if (p == nullptr) return;
  BlockHeader* h = static_cast<BlockHeader*>(p) - 1;
  if (h->magic != kHeapBlock) return;  // an arena's block: given back with the arena
  h->magic = 0;
  std::free(h);
}

void* TsCalloc(size_t count, size_t size) {
  if (size != 0 && count > SIZE_MAX / 2 / size) std::abort();
  void* p = TsMalloc(count * size);
  std::memset(p, 0, count * size);
  return p;
}

void* TsRealloc(void* p, size_t n) {
  if (p == nullptr) return TsMalloc(n);
  BlockHeader* h = static_cast<BlockHeader*>(p) - 1;
  if (h->magic == kHeapBlock && t_tree_arena == nullptr) {
    if (n > SIZE_MAX / 2) std::abort();
    h = static_cast<BlockHeader*>(std::realloc(h, sizeof(BlockHeader) + n));
    if (h == nullptr) std::abort();
    h->size = n;
    return h + 1;
  }
  void* out = TsMalloc(n);
  std::memcpy(out, p, std::min<size_t>(h->size, n));
  TsFree(p);
  return out;
}

// The grammar's symbols and fields, resolved once per process. Several
// symbols can share a name (aliases); each maps to the same Kind.
struct Grammar {
  const TSLanguage* language = nullptr;
  std::vector<Kind> kinds;  // by TSSymbol
  TSFieldId object = 0, property = 0, function = 0, arguments = 0, left = 0, right = 0, op = 0, name = 0,
            value = 0, condition = 0, consequence = 0, alternative = 0, body = 0, index = 0, argument = 0, key = 0;

  static const Grammar& Get() {
    static const Grammar* grammar = new Grammar();
    return *grammar;
  }

 private:
  Grammar() : language(tree_sitter_javascript()) {
    ts_set_allocator(TsMalloc, TsCalloc, TsRealloc, TsFree);
    static const std::pair<const char*, Kind> kNames[] = {
        {"string", Kind::kString},
        {"template_string", Kind::kTemplateString},
        {"template_substitution", Kind::kTemplateSubstitution},
        {"number", Kind::kNumber},
        {"array", Kind::kArray},
        {"member_expression", Kind::kMember},
        {"subscript_expression", Kind::kSubscript},
        {"call_expression", Kind::kCall},
        {"binary_expression", Kind::kBinary},
        {"unary_expression", Kind::kUnary},
        {"variable_declarator", Kind::kDeclarator},
        {"assignment_expression", Kind::kAssignment},
        {"if_statement", Kind::kIf},
        {"ternary_expression", Kind::kTernary},
        {"switch_statement", Kind::kSwitch},
        {"switch_body", Kind::kSwitchBody},
        {"switch_case", Kind::kSwitchCase},
        {"function_declaration", Kind::kFunctionDecl},
        {"generator_function_declaration", Kind::kFunctionDecl},
        {"function_expression", Kind::kFunctionExpr},
        {"generator_function", Kind::kFunctionExpr},
        {"arrow_function", Kind::kArrow},
        {"method_definition", Kind::kMethod},
        {"return_statement", Kind::kReturn},
        {"identifier", Kind::kIdentifier},
        {"parenthesized_expression", Kind::kParenthesized},
        {"arguments", Kind::kArguments},
        {"expression_statement", Kind::kExpressionStatement},
        {"pair", Kind::kPair},
        {"spread_element", Kind::kSpread},
    };
    const uint32_t count = ts_language_symbol_count(language);
    kinds.assign(count, Kind::kOther);
    for (uint32_t s = 0; s < count; ++s) {
      if (ts_language_symbol_type(language, static_cast<TSSymbol>(s)) != TSSymbolTypeRegular) continue;
      const char* n = ts_language_symbol_name(language, static_cast<TSSymbol>(s));
      for (const auto& [want, kind] : kNames) {
        if (std::strcmp(n, want) == 0) kinds[s] = kind;
      }
    }
    auto field = [&](const char* f) { return ts_language_field_id_for_name(language, f, std::strlen(f)); };
    object = field("object");
    property = field("property");
    function = field("function");
    arguments = field("arguments");
    left = field("left");
    right = field("right");
    op = field("operator");
    name = field("name");
    value = field("value");
    condition = field("condition");
    consequence = field("consequence");
    alternative = field("alternative");
    body = field("body");
    index = field("index");
    argument = field("argument");
    key = field("key");
  }
};

Range RangeOf(TSNode n) { return Range{ts_node_start_byte(n), ts_node_end_byte(n)}; }

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

// Decodes the escapes of a JavaScript string body. *escaped_non_ascii is set
// when an escape produced a non-ASCII code point.
std::string DecodeJsEscapes(std::string_view raw, bool* escaped_non_ascii) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c != '\\' || i + 1 >= raw.size()) {
      out.push_back(c);
      continue;
    }
    const char e = raw[++i];
    uint32_t cp = 0;
    switch (e) {
      case 'n': out.push_back('\n'); continue;
      case 't': out.push_back('\t'); continue;
      case 'r': out.push_back('\r'); continue;
      case 'b': out.push_back('\b'); continue;
      case 'f': out.push_back('\f'); continue;
      case 'v': out.push_back('\v'); continue;
      case '0':
        if (i + 1 < raw.size() && raw[i + 1] >= '0' && raw[i + 1] <= '9') break;
        out.push_back('\0');
        continue;
      case '\r':
        if (i + 1 < raw.size() && raw[i + 1] == '\n') ++i;
        continue;
      case '\n': continue;
      case 'x':
        if (i + 2 < raw.size() && HexDigit(raw[i + 1]) >= 0 && HexDigit(raw[i + 2]) >= 0) {
          cp = static_cast<uint32_t>(HexDigit(raw[i + 1]) * 16 + HexDigit(raw[i + 2]));
          i += 2;
          if (cp >= 0x80) *escaped_non_ascii = true;
          utf::AppendUtf8(static_cast<char32_t>(cp), &out);
          continue;
        }
        break;
      case 'u': {
        if (i + 1 < raw.size() && raw[i + 1] == '{') {
          size_t j = i + 2;
          while (j < raw.size() && HexDigit(raw[j]) >= 0 && cp <= 0x10FFFF) cp = cp * 16 + static_cast<uint32_t>(HexDigit(raw[j++]));
          if (j < raw.size() && raw[j] == '}' && cp <= 0x10FFFF) {
            i = j;
            if (cp >= 0x80) *escaped_non_ascii = true;
            utf::AppendUtf8(static_cast<char32_t>(cp), &out);
            continue;
          }
          break;
        }
        if (i + 4 < raw.size()) {
          bool ok = true;
          for (size_t k = 1; k <= 4; ++k) ok &= HexDigit(raw[i + k]) >= 0;
          if (!ok) break;
          for (size_t k = 1; k <= 4; ++k) cp = cp * 16 + static_cast<uint32_t>(HexDigit(raw[i + k]));
          i += 4;
          // A surrogate pair written as two escapes.
          if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 < raw.size() && raw[i + 1] == '\\' && raw[i + 2] == 'u') {
            uint32_t lo = 0;
            bool lo_ok = true;
            for (size_t k = 3; lo_ok && k <= 6; ++k) {
              const int d = HexDigit(raw[i + k]);
              lo_ok = d >= 0;
              lo = lo * 16 + static_cast<uint32_t>(std::max(d, 0));
            }
            if (lo_ok && lo >= 0xDC00 && lo <= 0xDFFF) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
              i += 6;
            }
          }
          if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
          if (cp >= 0x80) *escaped_non_ascii = true;
          utf::AppendUtf8(static_cast<char32_t>(cp), &out);
          continue;
        }
        break;
      }
      default: break;
    }
    out.push_back(e);
  }
  return out;
}

namespace {

// A JavaScript numeric literal as an exact integer when it is one.
std::optional<int64_t> ParseInteger(std::string_view s) {
  std::string digits;
  for (char c : s) {
    if (c != '_') digits.push_back(c);
  }
  if (digits.empty() || digits.back() == 'n') return std::nullopt;
  int base = 10;
  size_t start = 0;
  if (digits.size() > 2 && digits[0] == '0') {
    const char p = static_cast<char>(digits[1] | 0x20);
    if (p == 'x') base = 16;
    if (p == 'o') base = 8;
    if (p == 'b') base = 2;
    if (base != 10) start = 2;
  }
  int64_t v = 0;
  for (size_t i = start; i < digits.size(); ++i) {
    const int d = HexDigit(digits[i]);
    if (d < 0 || d >= base) return std::nullopt;
    v = v * base + d;
    if (v > (int64_t{1} << 40)) return std::nullopt;
  }
  return v;
}

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
  static const std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=";
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

class Walker {
 public:
  Walker(std::string_view text, const AuditRules& rules, JsFacts* facts)
      : text_(text), rules_(rules), g_(Grammar::Get()), facts_(*facts) {
    for (uint32_t i = 0; i < rules.probes.size(); ++i) {
      const ProbeRule& r = rules.probes[i];
      if (!r.call.empty()) call_rules_[r.call].push_back(i);
      if (!r.property.empty()) property_rules_[r.property].push_back(i);
      if (r.env_regex) env_rules_.push_back(i);
      if (r.string_regex) string_rules_.push_back(i);
    }
  }

  void Run(TSNode root) {
    TSTreeCursor cursor = ts_tree_cursor_new(root);
    Enter(ts_tree_cursor_current_node(&cursor), 0);
    for (;;) {
      if (ts_tree_cursor_goto_first_child(&cursor)) {
        Enter(ts_tree_cursor_current_node(&cursor), FieldIfNeeded(&cursor));
        continue;
      }
      Leave();
      bool done = false;
      while (!ts_tree_cursor_goto_next_sibling(&cursor)) {
        if (!ts_tree_cursor_goto_parent(&cursor)) {
          done = true;
          break;
        }
        Leave();
      }
      if (done) break;
      Enter(ts_tree_cursor_current_node(&cursor), FieldIfNeeded(&cursor));
    }
    ts_tree_cursor_delete(&cursor);
  }

  // Candidate rotation calls and decoder calls, for ResolveStringArrays.
  struct NumberCall {
    Range range;
    std::string_view name;
    int64_t number;
    uint32_t func;
  };
  std::vector<TSNode> rotation_calls;
  std::vector<NumberCall> number_calls;
  struct BracketCall {
    Range subscript;
    Range object;
    uint32_t index_begin;  // the call inside the brackets
    Range call;            // when the subscript is called: the whole call
    Range arg0;            // and its first argument
    uint32_t func;
    uint32_t condition;
  };
  std::vector<BracketCall> bracket_calls;

 private:
  struct Frame {
    TSNode node;
    Kind kind;
    uint32_t prev_func;
    uint32_t prev_condition;
    uint32_t branch;  // branch id for if/ternary/switch
  };

  std::string_view Text(TSNode n) const {
    const uint32_t b = ts_node_start_byte(n), e = ts_node_end_byte(n);
    return b <= e && e <= text_.size() ? text_.substr(b, e - b) : std::string_view();
  }
  std::string_view Text(Range r) const { return text_.substr(r.begin, r.end - r.begin); }
  Kind KindOf(TSNode n) const {
    const TSSymbol s = ts_node_symbol(n);
    return s < g_.kinds.size() ? g_.kinds[s] : Kind::kOther;
  }
  const Frame* Parent() const { return frames_.size() >= 2 ? &frames_[frames_.size() - 2] : nullptr; }

  // The field of the cursor's node in its parent, looked up only under the
  // parents whose fields Enter reads (if, ternary, switch, binary, call);
  // 0 elsewhere.
  TSFieldId FieldIfNeeded(const TSTreeCursor* cursor) const {
    if (frames_.empty()) return 0;
    const Kind pk = frames_.back().kind;
    if (pk != Kind::kIf && pk != Kind::kTernary && pk != Kind::kSwitch && pk != Kind::kBinary && pk != Kind::kCall) {
      return 0;
    }
    return ts_tree_cursor_current_field_id(cursor);
  }

  void Enter(TSNode node, TSFieldId field) {
    ++facts_.nodes;
    const Kind kind = KindOf(node);
    frames_.push_back(Frame{node, kind, func_, condition_, kNone});
    const Frame* parent = Parent();
    if (parent != nullptr && parent->branch != kNone) {
      const Kind pk = parent->kind;
      if (((pk == Kind::kIf || pk == Kind::kTernary) && field == g_.condition) ||
          (pk == Kind::kSwitch && field == g_.value) || (pk == Kind::kBinary && field == g_.left)) {
        condition_ = parent->branch;
      }
    }
    switch (kind) {
      case Kind::kString: OnString(node); break;
      case Kind::kTemplateString: OnTemplate(node); break;
      case Kind::kArray: OnArray(node); break;
      case Kind::kMember: OnMember(node, field); break;
      case Kind::kSubscript: OnSubscript(node, field); break;
      case Kind::kCall: OnCall(node); break;
      case Kind::kBinary: OnBinary(node); break;
      case Kind::kDeclarator:
      case Kind::kAssignment: OnDeclaration(node, kind); break;
      case Kind::kIf:
      case Kind::kTernary: OnBranch(node); break;
      case Kind::kSwitch: OnSwitch(node); break;
      case Kind::kSwitchCase: OnSwitchCase(node); break;
      case Kind::kReturn: facts_.returns.push_back(ReturnFact{RangeOf(node), func_}); break;
      default: break;
    }
    if (IsFunction(kind)) OnFunction(node, kind);
  }

  void Leave() {
    func_ = frames_.back().prev_func;
    condition_ = frames_.back().prev_condition;
    frames_.pop_back();
  }

  void AddProbe(Range range, uint32_t rule, std::string detail) {
    facts_.probes.push_back(ProbeFact{range, rule, func_, std::move(detail)});
  }

  void CheckEnv(Range range, std::string_view name) {
    for (uint32_t i : env_rules_) {
      if (re2::RE2::FullMatch(re2::StringPiece(name.data(), name.size()), *rules_.probes[i].env_regex)) {
        AddProbe(range, i, "process.env." + std::string(name));
      }
    }
  }

  static bool IsEnvObject(std::string_view object) {
    return object == "process.env" || object == "process[\"env\"]" || object == "process['env']" ||
           object == "Deno.env" || (object.size() > 4 && object.substr(object.size() - 4) == ".env");
  }

  void OnString(TSNode node) {
    std::string_view raw = Text(node);
    if (raw.size() < 2) return;
    raw = raw.substr(1, raw.size() - 2);
    bool escaped = false;
    StringFact s{RangeOf(node), DecodeJsEscapes(raw, &escaped), func_,
                 escaped ? StringOrigin::kEscapedLiteral : StringOrigin::kLiteral, {}};
    CheckStringProbes(s);
    facts_.strings.push_back(std::move(s));
  }

  void CheckStringProbes(const StringFact& s) {
    if (s.value.size() > 200 || s.value.empty()) return;
    for (uint32_t i : string_rules_) {
      if (re2::RE2::FullMatch(s.value, *rules_.probes[i].string_regex)) AddProbe(s.range, i, "\"" + s.value + "\"");
    }
  }

  void OnTemplate(TSNode node) {
    const Range r = RangeOf(node);
    if (r.end - r.begin < 2) return;
    std::string value;
    bool escaped = false;
    bool substituted = false;
    uint32_t pos = r.begin + 1;
    const uint32_t n = ts_node_named_child_count(node);
    for (uint32_t i = 0; i < n; ++i) {
      TSNode child = ts_node_named_child(node, i);
      if (KindOf(child) != Kind::kTemplateSubstitution) continue;
      value += DecodeJsEscapes(text_.substr(pos, ts_node_start_byte(child) - pos), &escaped);
      value += "${…}";
      substituted = true;
      pos = ts_node_end_byte(child);
    }
    if (pos < r.end - 1) value += DecodeJsEscapes(text_.substr(pos, r.end - 1 - pos), &escaped);
    StringFact s{r, std::move(value), func_,
                 substituted ? StringOrigin::kTemplate
                             : (escaped ? StringOrigin::kEscapedLiteral : StringOrigin::kLiteral),
                 {}};
    if (!substituted) CheckStringProbes(s);
    facts_.strings.push_back(std::move(s));
  }

  std::string BoundName() const {
    const Frame* parent = Parent();
    if (parent == nullptr) return {};
    if (parent->kind == Kind::kDeclarator) {
      TSNode name = ts_node_child_by_field_id(parent->node, g_.name);
      if (!ts_node_is_null(name)) return std::string(Text(name));
    }
    if (parent->kind == Kind::kAssignment) {
      TSNode left = ts_node_child_by_field_id(parent->node, g_.left);
      if (!ts_node_is_null(left) && ts_node_end_byte(left) - ts_node_start_byte(left) <= 80) {
        return std::string(Text(left));
      }
    }
    if (parent->kind == Kind::kPair) {
      TSNode key = ts_node_child_by_field_id(parent->node, g_.key);
      if (!ts_node_is_null(key) && ts_node_end_byte(key) - ts_node_start_byte(key) <= 80) {
        return std::string(Text(key));
      }
    }
    return {};
  }

  std::optional<int64_t> IntegerOf(TSNode n) const {
    const Kind k = KindOf(n);
    if (k == Kind::kNumber) return ParseInteger(Text(n));
    if (k == Kind::kUnary) {
      TSNode op = ts_node_child_by_field_id(n, g_.op);
      TSNode arg = ts_node_child_by_field_id(n, g_.argument);
      if (!ts_node_is_null(op) && !ts_node_is_null(arg) && Text(op) == "-" && KindOf(arg) == Kind::kNumber) {
        if (auto v = ParseInteger(Text(arg))) return -*v;
      }
    }
    return std::nullopt;
  }

  void OnArray(TSNode node) {
    const uint32_t n = ts_node_named_child_count(node);
    if (n == 0) return;
    bool strings = true;
    bool numbers = true;
    std::vector<uint32_t> values;
    for (uint32_t i = 0; i < n && (strings || numbers); ++i) {
      TSNode child = ts_node_named_child(node, i);
      const Kind k = KindOf(child);
      if (k != Kind::kString) strings = false;
      if (numbers) {
        auto v = IntegerOf(child);
        if (!v || *v < 0 || *v > 0x10FFFF) {
          numbers = false;
        } else {
          values.push_back(static_cast<uint32_t>(*v));
        }
      }
    }
    const Frame* parent = Parent();
    if (strings && n >= 2) {
      facts_.string_arrays.push_back(StringArrayFact{RangeOf(node), static_cast<uint32_t>(facts_.strings.size()), n,
                                                     func_, BoundName()});
    } else if (numbers && n >= 4) {
      const uint32_t group =
          parent != nullptr && parent->kind == Kind::kArray ? ts_node_start_byte(parent->node) : kNone;
      facts_.number_arrays.push_back(NumberArrayFact{RangeOf(node), std::move(values), func_, group});
    }
  }

  void OnMember(TSNode node, TSFieldId field) {
    const Frame* parent = Parent();
    if (parent != nullptr && parent->kind == Kind::kCall && field == g_.function) return;  // OnCall has it
    TSNode prop = ts_node_child_by_field_id(node, g_.property);
    TSNode object = ts_node_child_by_field_id(node, g_.object);
    if (ts_node_is_null(prop) || ts_node_is_null(object)) return;
    const std::string_view name = Text(prop);
    const std::string_view object_text = Text(object);
    if (IsEnvObject(object_text)) {
      CheckEnv(RangeOf(node), name);
      return;
    }
    auto it = property_rules_.find(name);
    if (it == property_rules_.end()) return;
    std::string_view tail = object_text.size() > 200 ? object_text.substr(object_text.size() - 200) : object_text;
    for (uint32_t i : it->second) {
      const ProbeRule& r = rules_.probes[i];
      if (r.object_regex && !re2::RE2::PartialMatch(re2::StringPiece(tail.data(), tail.size()), *r.object_regex)) {
        continue;
      }
      AddProbe(RangeOf(node), i, std::string(tail) + "." + std::string(name));
    }
  }

  void OnSubscript(TSNode node, TSFieldId field) {
    TSNode object = ts_node_child_by_field_id(node, g_.object);
    TSNode index = ts_node_child_by_field_id(node, g_.index);
    if (ts_node_is_null(object) || ts_node_is_null(index)) return;
    if (KindOf(index) == Kind::kCall) {
      // obj[_0x3e(0x1a4)]: a property named by a string-array read, resolved
      // after the walk.
      TSNode fn = ts_node_child_by_field_id(index, g_.function);
      if (ts_node_is_null(fn) || KindOf(fn) != Kind::kIdentifier) return;
      BracketCall b{RangeOf(node), RangeOf(object), ts_node_start_byte(index), {}, {}, func_, condition_};
      const Frame* parent = Parent();
      if (parent != nullptr && parent->kind == Kind::kCall && field == g_.function) {
        b.call = RangeOf(parent->node);
        TSNode args = ts_node_child_by_field_id(parent->node, g_.arguments);
        if (!ts_node_is_null(args) && ts_node_named_child_count(args) > 0) b.arg0 = RangeOf(ts_node_named_child(args, 0));
      }
      bracket_calls.push_back(b);
      return;
    }
    if (KindOf(index) != Kind::kString) return;
    if (!IsEnvObject(Text(object))) return;
    std::string_view raw = Text(index);
    if (raw.size() < 2) return;
    bool escaped = false;
    CheckEnv(RangeOf(node), DecodeJsEscapes(raw.substr(1, raw.size() - 2), &escaped));
  }

  void AddCompare(TSNode node, CompareKind kind, TSNode value, TSNode other) {
    if (ts_node_is_null(value) || ts_node_is_null(other)) return;
    facts_.compares.push_back(CompareFact{RangeOf(node), kind, RangeOf(value), RangeOf(other), func_, condition_});
  }

  void OnCall(TSNode node) {
    TSNode fn = ts_node_child_by_field_id(node, g_.function);
    TSNode args = ts_node_child_by_field_id(node, g_.arguments);
    if (ts_node_is_null(fn)) return;
    const Kind fk = KindOf(fn);
    std::string_view name;
    TSNode object{};
    bool has_object = false;
    if (fk == Kind::kMember) {
      TSNode prop = ts_node_child_by_field_id(fn, g_.property);
      object = ts_node_child_by_field_id(fn, g_.object);
      if (ts_node_is_null(prop) || ts_node_is_null(object)) return;
      name = Text(prop);
      has_object = true;
    } else if (fk == Kind::kIdentifier) {
      name = Text(fn);
    } else if (fk == Kind::kParenthesized || fk == Kind::kFunctionExpr) {
      MaybeRotationCall(node, args);
      return;
    } else {
      return;
    }
    const bool args_ok = !ts_node_is_null(args) && KindOf(args) == Kind::kArguments;
    const uint32_t argc = args_ok ? ts_node_named_child_count(args) : 0;
    TSNode arg0 = argc > 0 ? ts_node_named_child(args, 0) : TSNode{};
    if (auto it = call_rules_.find(name); it != call_rules_.end()) {
      for (uint32_t i : it->second) AddProbe(RangeOf(node), i, std::string(Text(fn)) + "()");
    }
    if (has_object && name == "get" && argc == 1 && KindOf(arg0) == Kind::kString) {
      const std::string_view obj = Text(object);
      if (obj == "Deno.env" || (obj.size() >= 4 && obj.substr(obj.size() - 4) == ".env")) {
        std::string_view raw = Text(arg0);
        bool escaped = false;
        if (raw.size() >= 2) CheckEnv(RangeOf(node), DecodeJsEscapes(raw.substr(1, raw.size() - 2), &escaped));
      }
    }
    if (has_object && (name == "fromCharCode" || name == "fromCodePoint") && Text(object) == "String" && argc > 0) {
      std::string value;
      for (uint32_t i = 0; i < argc; ++i) {
        auto v = IntegerOf(ts_node_named_child(args, i));
        if (!v || *v < 0 || *v > 0x10FFFF || (*v >= 0xD800 && *v <= 0xDFFF)) return;
        utf::AppendUtf8(static_cast<char32_t>(*v), &value);
      }
      facts_.strings.push_back(StringFact{RangeOf(node), std::move(value), func_, StringOrigin::kFromCharCode, {}});
      return;
    }
    if (has_object && argc >= 1) {
      if (name == "includes" || name == "indexOf" || name == "lastIndexOf" || name == "has") {
        AddCompare(node, CompareKind::kMembership, arg0, object);
      } else if (name == "endsWith" || name == "startsWith" || name == "match" || name == "search" ||
                 name == "localeCompare") {
        AddCompare(node, CompareKind::kAffix, object, arg0);
      } else if (name == "test" || name == "exec") {
        AddCompare(node, CompareKind::kAffix, arg0, object);
      } else if (name == "some" || name == "find" || name == "every" || name == "filter" || name == "findIndex") {
        AddCompare(node, CompareKind::kPredicate, arg0, object);
      }
    }
    if (fk == Kind::kIdentifier && argc <= 4) MaybeConstantCall(node, fn, args, argc);
    if (fk == Kind::kIdentifier && (argc == 1 || argc == 2)) {
      if (auto v = IntegerOf(arg0); v && *v >= 0) {
        number_calls.push_back(NumberCall{RangeOf(node), name, *v, func_});
      }
    }
  }

  // name(…) with constant or named arguments only, for the decoder evaluator.
  void MaybeConstantCall(TSNode node, TSNode fn, TSNode args, uint32_t argc) {
    bool literal = false;
    for (uint32_t i = 0; i < argc; ++i) {
      TSNode a = ts_node_named_child(args, i);
      const Kind k = KindOf(a);
      if (k == Kind::kString || k == Kind::kNumber) {
        literal = true;
      } else if (k == Kind::kTemplateString) {
        if (ts_node_named_child_count(a) > 0) {
          for (uint32_t j = 0; j < ts_node_named_child_count(a); ++j) {
            if (KindOf(ts_node_named_child(a, j)) == Kind::kTemplateSubstitution) return;
          }
        }
        literal = true;
      } else if (k == Kind::kUnary) {
        if (!IntegerOf(a)) return;
        literal = true;
      } else if (k != Kind::kIdentifier) {
        return;
      }
    }
    facts_.calls.push_back(CallFact{RangeOf(node), RangeOf(fn), func_, argc, literal});
  }

  void MaybeRotationCall(TSNode node, TSNode args) {
    if (ts_node_is_null(args) || KindOf(args) != Kind::kArguments || ts_node_named_child_count(args) != 2) return;
    TSNode a0 = ts_node_named_child(args, 0);
    TSNode a1 = ts_node_named_child(args, 1);
    if (KindOf(a0) == Kind::kIdentifier && KindOf(a1) == Kind::kNumber) rotation_calls.push_back(node);
  }

  void OnBinary(TSNode node) {
    TSNode op = ts_node_child_by_field_id(node, g_.op);
    if (ts_node_is_null(op)) return;
    const std::string_view o = Text(op);
    TSNode left = ts_node_child_by_field_id(node, g_.left);
    TSNode right = ts_node_child_by_field_id(node, g_.right);
    if (o == "===" || o == "==" || o == "!==" || o == "!=") {
      AddCompare(node, CompareKind::kEquals, left, right);
    } else if (o == "^") {
      int64_t constant = -1;
      for (TSNode side : {left, right}) {
        if (ts_node_is_null(side)) continue;
        if (auto v = IntegerOf(side); v && *v > 0) constant = *v;
      }
      facts_.xors.push_back(XorFact{ts_node_start_byte(node), func_, constant});
    } else if (o == "&&" || o == "||") {
      const Frame* parent = Parent();
      if (parent != nullptr && parent->kind == Kind::kExpressionStatement && !ts_node_is_null(left) &&
          !ts_node_is_null(right)) {
        frames_.back().branch = static_cast<uint32_t>(facts_.branches.size());
        facts_.branches.push_back(BranchFact{RangeOf(left), RangeOf(right), {}, func_});
      }
    }
  }

  void OnDeclaration(TSNode node, Kind kind) {
    TSNode name = ts_node_child_by_field_id(node, kind == Kind::kDeclarator ? g_.name : g_.left);
    TSNode value = ts_node_child_by_field_id(node, kind == Kind::kDeclarator ? g_.value : g_.right);
    if (ts_node_is_null(name) || ts_node_is_null(value)) return;
    const std::string_view n = Text(name);
    if (n.empty() || n.size() > 80) return;
    facts_.decls.push_back(DeclFact{std::string(n), RangeOf(value), func_});
  }

  void OnBranch(TSNode node) {
    TSNode c = ts_node_child_by_field_id(node, g_.condition);
    TSNode t = ts_node_child_by_field_id(node, g_.consequence);
    TSNode e = ts_node_child_by_field_id(node, g_.alternative);
    if (ts_node_is_null(c)) return;
    frames_.back().branch = static_cast<uint32_t>(facts_.branches.size());
    facts_.branches.push_back(BranchFact{RangeOf(c), ts_node_is_null(t) ? Range{} : RangeOf(t),
                                         ts_node_is_null(e) ? Range{} : RangeOf(e), func_});
  }

  void OnSwitch(TSNode node) {
    TSNode v = ts_node_child_by_field_id(node, g_.value);
    TSNode b = ts_node_child_by_field_id(node, g_.body);
    if (ts_node_is_null(v) || ts_node_is_null(b)) return;
    frames_.back().branch = static_cast<uint32_t>(facts_.branches.size());
    facts_.branches.push_back(BranchFact{RangeOf(v), RangeOf(b), {}, func_});
  }

  // `case "Asia/Shanghai": …` compares the switch value with the case value
  // and picks the case body: a comparison inside a branch of its own.
  void OnSwitchCase(TSNode node) {
    if (frames_.size() < 3) return;
    const Frame& sw = frames_[frames_.size() - 3];
    if (sw.kind != Kind::kSwitch) return;
    TSNode value = ts_node_child_by_field_id(node, g_.value);
    TSNode switched = ts_node_child_by_field_id(sw.node, g_.value);
    if (ts_node_is_null(value) || ts_node_is_null(switched)) return;
    const uint32_t branch = static_cast<uint32_t>(facts_.branches.size());
    facts_.branches.push_back(
        BranchFact{RangeOf(value), Range{ts_node_end_byte(value), ts_node_end_byte(node)}, {}, func_});
    facts_.compares.push_back(
        CompareFact{RangeOf(value), CompareKind::kEquals, RangeOf(switched), RangeOf(value), func_, branch});
  }

  void OnFunction(TSNode node, Kind kind) {
    std::string name;
    if (kind != Kind::kArrow) {
      TSNode n = ts_node_child_by_field_id(node, g_.name);
      if (!ts_node_is_null(n)) name = std::string(Text(n));
    }
    if (name.empty()) name = BoundName();
    facts_.functions.push_back(
        FunctionFact{RangeOf(node), frames_.back().prev_func, std::move(name), kind == Kind::kFunctionDecl});
    func_ = static_cast<uint32_t>(facts_.functions.size() - 1);
  }

  std::string_view text_;
  const AuditRules& rules_;
  const Grammar& g_;
  JsFacts& facts_;
  std::vector<Frame> frames_;
  uint32_t func_ = kNone;
  uint32_t condition_ = kNone;
  std::unordered_map<std::string_view, std::vector<uint32_t>> call_rules_;
  std::unordered_map<std::string_view, std::vector<uint32_t>> property_rules_;
  std::vector<uint32_t> env_rules_;
  std::vector<uint32_t> string_rules_;
};

// Resolves javascript-obfuscator's rotated string arrays: the array (or the
// function that returns it), the decoder that subtracts an offset from its
// index, and the self-checking loop `while(true){ try { if (parseInt(d(0x1a))/1
// + … === TARGET) break; else a.push(a.shift()) } … }` whose TARGET fixes the
// rotation. The checksum is evaluated natively for each rotation; no code runs.
class StringArrayResolver {
 public:
  StringArrayResolver(std::string_view text, const AuditRules& rules, JsFacts* facts, const Walker& walker)
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
  Kind KindOf(TSNode n) const {
    const TSSymbol s = ts_node_symbol(n);
    return s < g_.kinds.size() ? g_.kinds[s] : Kind::kOther;
  }

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
      case Kind::kNumber: return ParseNumber(Text(n)).value_or(std::nan(""));
      case Kind::kParenthesized: return Eval(ts_node_named_child(n, 0), depth + 1);
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
        if (ts_node_is_null(fn) || ts_node_is_null(args) || ts_node_named_child_count(args) < 1) return std::nan("");
        if (Text(fn) != "parseInt") return std::nan("");
        TSNode inner = ts_node_named_child(args, 0);
        if (KindOf(inner) != Kind::kCall) return std::nan("");
        TSNode dfn = ts_node_child_by_field_id(inner, g_.function);
        TSNode dargs = ts_node_child_by_field_id(inner, g_.arguments);
        if (ts_node_is_null(dfn) || ts_node_is_null(dargs) || ts_node_named_child_count(dargs) < 1) {
          return std::nan("");
        }
        if (!IsDecoder(Text(dfn))) return std::nan("");
        auto index = ParseInteger(Text(ts_node_named_child(dargs, 0)));
        if (!index) return std::nan("");
        auto s = Item(*index);
        return s ? JsParseInt(*s) : std::nan("");
      }
      default: return std::nan("");
    }
  }

  bool IsDecoder(std::string_view name) const {
    return name == decoder_ || std::find(aliases_.begin(), aliases_.end(), name) != aliases_.end();
  }

  std::optional<std::string> Item(int64_t index) const {
    const int64_t i = index - offset_;
    const int64_t n = static_cast<int64_t>(array_->count);
    if (i < 0 || i >= n) return std::nullopt;
    const std::string& raw = facts_.strings[array_->first_string + static_cast<uint32_t>((i + rotation_) % n)].value;
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
      if (d.name == callee && call_range.Contains(d.value.begin)) decoder_ = std::string(Text(d.value));
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
    base64_ = body.find("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=") != std::string_view::npos;
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
      facts_.strings.push_back(StringFact{c.range, std::move(*s), c.func, StringOrigin::kStringArray, encoding});
    }
    facts_.resolved_arrays.push_back(JsFacts::ResolvedArray{array_->range.begin, rotation_, n, calls});
  }

  // Property accesses and calls through resolved names, obj[d(0x1a4)]():
  // probes and comparisons as if written obj.resolvedOptions().
  void ResolveBrackets() {
    std::unordered_map<uint32_t, const std::string*> resolved;
    for (const StringFact& s : facts_.strings) {
      if (s.origin == StringOrigin::kStringArray) resolved[s.range.begin] = &s.value;
    }
    auto normalized = [&](Range r) {
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
    };
    for (const Walker::BracketCall& b : walker_.bracket_calls) {
      auto it = resolved.find(b.index_begin);
      if (it == resolved.end()) continue;
      const std::string& name = *it->second;
      const std::string object = normalized(b.object);
      if (!b.call.Empty()) {
        for (uint32_t i = 0; i < rules_.probes.size(); ++i) {
          if (rules_.probes[i].call == name) facts_.probes.push_back(ProbeFact{b.call, i, b.func, object + "." + name + "()"});
        }
        if (!b.arg0.Empty()) {
          if (name == "includes" || name == "indexOf" || name == "lastIndexOf" || name == "has") {
            facts_.compares.push_back(CompareFact{b.call, CompareKind::kMembership, b.arg0, b.object, b.func, b.condition});
          } else if (name == "endsWith" || name == "startsWith" || name == "match") {
            facts_.compares.push_back(CompareFact{b.call, CompareKind::kAffix, b.object, b.arg0, b.func, b.condition});
          } else if (name == "some" || name == "find" || name == "every" || name == "filter") {
            facts_.compares.push_back(CompareFact{b.call, CompareKind::kPredicate, b.arg0, b.object, b.func, b.condition});
          }
        }
        continue;
      }
      for (uint32_t i = 0; i < rules_.probes.size(); ++i) {
        const ProbeRule& r = rules_.probes[i];
        if (r.property != name) continue;
        if (r.object_regex && !re2::RE2::PartialMatch(object, *r.object_regex)) continue;
        facts_.probes.push_back(ProbeFact{b.subscript, i, b.func, object + "." + name});
      }
    }
  }

  std::string fmt_encoding() const {
    return (base64_ ? "string-array+base64(rotate " : "string-array(rotate ") + std::to_string(rotation_) + ")";
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

struct ParserDeleter {
  void operator()(TSParser* p) const { ts_parser_delete(p); }
};

constexpr size_t kMaxNesting = 10000;
// Bytes of module text per parse when a large module is parsed in pieces.
constexpr size_t kPiece = size_t{512} << 10;

// Deepest bracket nesting, counted roughly (brackets inside strings count
// too; legitimate code stays far below the limit either way).
size_t MaxNesting(std::string_view text) {
  size_t depth = 0, max_depth = 0;
  for (char c : text) {
    if (c == '(' || c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
    } else if ((c == ')' || c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return max_depth;
}

}  // namespace

namespace {

// Where further parsers may start: top-level `var`, `function`, `class`,
// `let` or `const` statements about `piece` bytes apart (none closer than
// half a piece to the end). Empty when the text is smaller than two pieces,
// when the light lexer loses track, or when there is no such statement.
std::vector<uint32_t> SplitPoints(std::string_view text, size_t piece) {
  std::vector<uint32_t> points;
  if (text.size() < 2 * piece) return points;
  // A light lexer: strings, comments, template literals (with ${…} nesting)
  // and regular expressions are skipped so that bracket depth is right. A
  // wrong guess costs only time: the halves then fail to parse cleanly.
  const size_t n = text.size();
  size_t next = piece;
  std::vector<int> templates;  // depth at which each open ${ … } started
  int depth = 0;
  char prev = ';';  // last significant character
  for (size_t i = 0; i < n; ++i) {
    const char c = text[i];
    switch (c) {
      case ' ': case '\t': case '\n': case '\r': continue;
      case '"': case '\'': {
        for (++i; i < n && text[i] != c && text[i] != '\n'; ++i) {
          if (text[i] == '\\') ++i;
        }
        prev = 'a';
        continue;
      }
      case '`': {
      template_body:
        for (++i; i < n && text[i] != '`'; ++i) {
          if (text[i] == '\\') {
            ++i;
          } else if (text[i] == '$' && i + 1 < n && text[i + 1] == '{') {
            templates.push_back(depth);
            ++depth;
            ++i;
            break;
          }
        }
        prev = 'a';
        continue;
      }
      case '/': {
        if (i + 1 < n && text[i + 1] == '/') {
          while (i < n && text[i] != '\n') ++i;
          continue;
        }
        if (i + 1 < n && text[i + 1] == '*') {
          const size_t end = text.find("*/", i + 2);
          if (end == std::string_view::npos) return {};
          i = end + 1;
          continue;
        }
        bool after_keyword = false;
        if (std::isalpha(static_cast<unsigned char>(prev))) {
          size_t w = i;
          while (w > 0 && std::isspace(static_cast<unsigned char>(text[w - 1]))) --w;
          size_t b = w;
          while (b > 0 && (std::isalnum(static_cast<unsigned char>(text[b - 1])) || text[b - 1] == '_' ||
                           text[b - 1] == '$')) {
            --b;
          }
          const std::string_view word = text.substr(b, w - b);
          for (std::string_view k : {"return", "typeof", "case", "do", "else", "in", "of", "void", "yield", "await",
                                     "delete", "throw", "new", "instanceof"}) {
            after_keyword |= word == k;
          }
        }
        if (after_keyword || std::string_view("(,=:[!&|?{};+-*%<>~^").find(prev) != std::string_view::npos) {
          bool in_class = false;
          for (++i; i < n && text[i] != '\n'; ++i) {
            if (text[i] == '\\') {
              ++i;
            } else if (text[i] == '[') {
              in_class = true;
            } else if (text[i] == ']') {
              in_class = false;
            } else if (text[i] == '/' && !in_class) {
              break;
            }
          }
          prev = 'a';
          continue;
        }
        prev = c;
        continue;
      }
      case '(': case '[': case '{': ++depth; break;
      case ')': case ']': --depth; break;
      case '}':
        --depth;
        if (!templates.empty() && templates.back() == depth) {
          templates.pop_back();
          goto template_body;
        }
        break;
      default: break;
    }
    if (depth < 0) return {};
    if (i >= next && depth == 0 && templates.empty() && (prev == ';' || prev == '}')) {
      for (std::string_view start : {"var ", "function ", "class ", "let ", "const "}) {
        if (text.compare(i, start.size(), start) != 0) continue;
        if (n - i < piece / 2) return points;
        points.push_back(static_cast<uint32_t>(i));
        next = i + piece;
        break;
      }
    }
    prev = c;
  }
  return points;
}

// Whether the parse of one piece of a split module shows that the split was
// right. Syntax the grammar does not know (`using` declarations, …) leaves
// errors inside top-level statements, as it would in a parse of the whole;
// a split inside a string, template or block instead leaves an error among
// the top-level statements or a missing token at the piece's start or end.
bool SplitLooksRight(TSNode root) {
  if (!ts_node_has_error(root)) return true;
  const uint32_t n = ts_node_child_count(root);
  if (n == 0) return false;
  TSTreeCursor cursor = ts_tree_cursor_new(root);
  bool clean = true;
  for (bool more = ts_tree_cursor_goto_first_child(&cursor); more && clean;
       more = ts_tree_cursor_goto_next_sibling(&cursor)) {
    TSNode child = ts_tree_cursor_current_node(&cursor);
    clean = !ts_node_is_missing(child) && std::strcmp(ts_node_type(child), "ERROR") != 0;
  }
  ts_tree_cursor_delete(&cursor);
  if (!clean) return false;
  // The first statement's left edge and the last statement's right edge.
  for (const bool last : {false, true}) {
    TSNode n2 = ts_node_child(root, last ? n - 1 : 0);
    for (int depth = 0; depth < 10000 && !ts_node_is_null(n2); ++depth) {
      if (ts_node_is_missing(n2) || std::strcmp(ts_node_type(n2), "ERROR") == 0) return false;
      const uint32_t c = ts_node_child_count(n2);
      if (c == 0) break;
      n2 = ts_node_child(n2, last ? c - 1 : 0);
    }
  }
  return true;
}

// Parses text[begin, end) into `arena`, which owns the tree (never passed to
// ts_tree_delete): the tree lives as long as the arena. Null when the parse
// took longer than budget_micros (tree-sitter gives up) or the grammar does
// not load.
TSTree* ParseRange(std::string_view text, uint32_t begin, uint32_t end, TreeArena* arena, uint64_t budget_micros) {
  const TSLanguage* language = Grammar::Get().language;  // installs the allocator first
  TreeArenaScope scope(arena);
  std::unique_ptr<TSParser, ParserDeleter> parser(ts_parser_new());
  if (!ts_parser_set_language(parser.get(), language)) return nullptr;
  ts_parser_set_timeout_micros(parser.get(), budget_micros);
  if (begin != 0 || end != text.size()) {
    const TSRange range{TSPoint{0, 0}, TSPoint{UINT32_MAX, UINT32_MAX}, begin, end};
    if (!ts_parser_set_included_ranges(parser.get(), &range, 1)) return nullptr;
  }
  TSTree* tree = ts_parser_parse_string(parser.get(), nullptr, text.data(), static_cast<uint32_t>(text.size()));
  arena->set_tree(tree);
  return tree;
}

// Appends the facts of a later part of the module, renumbering indices.
void AppendFacts(JsFacts&& b, Walker&& wb, JsFacts* a, Walker* wa) {
  const uint32_t f0 = static_cast<uint32_t>(a->functions.size());
  const uint32_t s0 = static_cast<uint32_t>(a->strings.size());
  const uint32_t b0 = static_cast<uint32_t>(a->branches.size());
  auto fn = [&](uint32_t x) { return x == kNone ? kNone : x + f0; };
  auto br = [&](uint32_t x) { return x == kNone ? kNone : x + b0; };
  for (FunctionFact& x : b.functions) {
    x.parent = fn(x.parent);
    a->functions.push_back(std::move(x));
  }
  for (StringFact& x : b.strings) {
    x.func = fn(x.func);
    a->strings.push_back(std::move(x));
  }
  for (StringArrayFact& x : b.string_arrays) {
    x.func = fn(x.func);
    x.first_string += s0;
    a->string_arrays.push_back(std::move(x));
  }
  for (NumberArrayFact& x : b.number_arrays) {
    x.func = fn(x.func);
    a->number_arrays.push_back(std::move(x));
  }
  for (ProbeFact& x : b.probes) {
    x.func = fn(x.func);
    a->probes.push_back(std::move(x));
  }
  for (CompareFact& x : b.compares) {
    x.func = fn(x.func);
    x.condition_of = br(x.condition_of);
    a->compares.push_back(x);
  }
  for (BranchFact& x : b.branches) {
    x.func = fn(x.func);
    a->branches.push_back(x);
  }
  for (DeclFact& x : b.decls) {
    x.func = fn(x.func);
    a->decls.push_back(std::move(x));
  }
  for (ReturnFact& x : b.returns) {
    x.func = fn(x.func);
    a->returns.push_back(x);
  }
  for (XorFact& x : b.xors) {
    x.func = fn(x.func);
    a->xors.push_back(x);
  }
  for (CallFact& x : b.calls) {
    x.func = fn(x.func);
    a->calls.push_back(x);
  }
  a->has_syntax_errors |= b.has_syntax_errors;
  a->nodes += b.nodes;
  wa->rotation_calls.insert(wa->rotation_calls.end(), wb.rotation_calls.begin(), wb.rotation_calls.end());
  for (Walker::NumberCall& c : wb.number_calls) {
    c.func = fn(c.func);
    wa->number_calls.push_back(c);
  }
  for (Walker::BracketCall& c : wb.bracket_calls) {
    c.func = fn(c.func);
    c.condition = br(c.condition);
    wa->bracket_calls.push_back(c);
  }
}

}  // namespace

void UseTreeSitterAllocator() { (void)Grammar::Get(); }

uint64_t DefaultParseBudgetMicros(size_t bytes) { return 2'000'000 + static_cast<uint64_t>(bytes); }

JsFacts GatherFacts(std::string_view text, const AuditRules& rules, uint64_t parse_budget_micros) {
  JsFacts facts;
  if (parse_budget_micros == 0) parse_budget_micros = DefaultParseBudgetMicros(text.size());
  auto gave_up = [&] {
    return fmt::format("the parser gave up after {:.1f} s (text that is not JavaScript, or built to stall a parser)",
                       static_cast<double>(parse_budget_micros) / 1e6);
  };
  if (text.size() > UINT32_MAX - 1) {
    facts.not_parsed = "larger than 4 GiB";
    return facts;
  }
  // libtree-sitter 0.20 corrupts its heap on trees nested about 65,000 deep
  // (found by the hostile-input test); such input is not code anyway.
  if (MaxNesting(text) > kMaxNesting) {
    facts.not_parsed = fmt::format("brackets nest deeper than {} levels", kMaxNesting);
    return facts;
  }
  const uint32_t size = static_cast<uint32_t>(text.size());
  // A large bundle is parsed and walked in pieces of about kPiece bytes,
  // split between top-level statements, on two threads; each piece's tree is
  // freed as soon as it is walked (unless the string-array resolver needs
  // it), so tree memory stays bounded by the piece size, not the module
  // size. If any piece does not parse cleanly the split was wrong and the
  // whole is parsed at once.
  const std::vector<uint32_t> points = SplitPoints(text, kPiece);
  if (!points.empty()) {
    struct Piece {
      uint32_t begin = 0, end = 0;
      JsFacts facts;
      std::unique_ptr<TreeArena> tree;  // the parse, kept only when it has rotation calls
      std::optional<Walker> walker;
    };
    std::vector<Piece> pieces(points.size() + 1);
    for (size_t k = 0; k < pieces.size(); ++k) {
      pieces[k].begin = k == 0 ? 0 : points[k - 1];
      pieces[k].end = k == points.size() ? size : points[k];
    }
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    std::atomic<bool> timed_out{false};  // a piece gave up: parsing the whole would too
    auto work = [&] {
      for (size_t k; !failed.load() && (k = next.fetch_add(1)) < pieces.size();) {
        Piece& p = pieces[k];
        auto arena = std::make_unique<TreeArena>(TreeArena::CapFor(p.end - p.begin));
        TSTree* tree = ParseRange(text, p.begin, p.end, arena.get(), parse_budget_micros);
        TreeArenaScope scope(arena.get());  // the cursors below
        if (tree == nullptr || !SplitLooksRight(ts_tree_root_node(tree))) {
          if (tree == nullptr) timed_out = true;
          failed = true;
          return;
        }
        p.facts.has_syntax_errors = ts_node_has_error(ts_tree_root_node(tree));
        p.walker.emplace(text, rules, &p.facts);
        p.walker->Run(ts_tree_root_node(tree));
        if (!p.walker->rotation_calls.empty()) p.tree = std::move(arena);
      }
    };
    std::thread worker(work);
    work();
    worker.join();
    if (timed_out.load()) {
      facts.not_parsed = gave_up();
      return facts;
    }
    if (!failed.load()) {
      Piece& first = pieces.front();
      for (size_t k = 1; k < pieces.size(); ++k) {
        AppendFacts(std::move(pieces[k].facts), std::move(*pieces[k].walker), &first.facts, &*first.walker);
      }
      StringArrayResolver(text, rules, &first.facts, *first.walker).Run();
      auto by_begin = [](const auto& x, const auto& y) { return x.range.begin < y.range.begin; };
      std::stable_sort(first.facts.probes.begin(), first.facts.probes.end(), by_begin);
      facts = std::move(first.facts);
      return facts;
    }
  }
  TreeArena arena(TreeArena::CapFor(size));
  TSTree* tree = ParseRange(text, 0, size, &arena, parse_budget_micros);
  if (tree == nullptr) {
    facts.not_parsed = gave_up();
    return facts;
  }
  TreeArenaScope scope(&arena);  // the cursors below
  TSNode root = ts_tree_root_node(tree);
  facts.has_syntax_errors = ts_node_has_error(root);
  Walker walker(text, rules, &facts);
  walker.Run(root);
  StringArrayResolver(text, rules, &facts, walker).Run();
  auto by_begin = [](const auto& a, const auto& b) { return a.range.begin < b.range.begin; };
  std::stable_sort(facts.probes.begin(), facts.probes.end(), by_begin);
  return facts;
}

}  // namespace glassbox::audit::internal
