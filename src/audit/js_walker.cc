// The Walker (see internal/js_walker.h) and the decoding of literals it reads.
#include "audit/internal/js_walker.h"

#include <re2/re2.h>

#include <algorithm>
#include <cstring>

#include "audit/internal/js_arena.h"
#include "core/utf.h"

// The grammar's C entry point (the npm package's name, not ours).
extern "C" const TSLanguage* tree_sitter_javascript(void);  // NOLINT(readability-identifier-naming)

namespace glassbox::audit::internal {

const Grammar& Grammar::Get() {
  static const Grammar* grammar = new Grammar();
  return *grammar;
}

Grammar::Grammar() : language(tree_sitter_javascript()) {
  InstallTreeSitterAllocator();
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
    if (ts_language_symbol_type(language, static_cast<TSSymbol>(s)) != TSSymbolTypeRegular)
      continue;
    const char* n = ts_language_symbol_name(language, static_cast<TSSymbol>(s));
    for (const auto& [want, kind] : kNames) {
      if (std::strcmp(n, want) == 0) kinds[s] = kind;
    }
  }
  auto field = [&](const char* f) {
    return ts_language_field_id_for_name(language, f, std::strlen(f));
  };
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

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

namespace {

// Calls f(child) for each named child of `node`, in order, until f returns
// false. Linear: ts_node_named_child(node, i) walks from the first child on
// every call, which is quadratic over a long array or argument list.
template <typename F>
void ForEachNamedChild(TSNode node, F&& f) {
  TSTreeCursor cursor = ts_tree_cursor_new(node);
  if (ts_tree_cursor_goto_first_child(&cursor)) {
    do {
      const TSNode child = ts_tree_cursor_current_node(&cursor);
      if (ts_node_is_named(child) && !f(child)) break;
    } while (ts_tree_cursor_goto_next_sibling(&cursor));
  }
  ts_tree_cursor_delete(&cursor);
}

// Appends the code point an escape produced.
void AppendEscaped(uint32_t cp, std::string* out, bool* escaped_non_ascii) {
  if (cp >= 0x80) *escaped_non_ascii = true;
  utf::AppendUtf8(static_cast<char32_t>(cp), out);
}

// Four hexadecimal digits at raw[at, at + 4) (the caller checks the length).
std::optional<uint32_t> FourHexDigits(std::string_view raw, size_t at) {
  uint32_t v = 0;
  for (size_t k = 0; k < 4; ++k) {
    const int d = HexDigit(raw[at + k]);
    if (d < 0) return std::nullopt;
    v = v * 16 + static_cast<uint32_t>(d);
  }
  return v;
}

// Each decoder below starts with raw[*i] the character after the backslash.
// On success it leaves *i at the escape's last character and returns true;
// otherwise *i is unchanged and the escaped character stands for itself.

// \n \t \r \b \f \v \0 and line continuations.
bool DecodeSingleCharEscape(std::string_view raw, size_t* i, std::string* out) {
  switch (raw[*i]) {
    case 'n':
      out->push_back('\n');
      return true;
    case 't':
      out->push_back('\t');
      return true;
    case 'r':
      out->push_back('\r');
      return true;
    case 'b':
      out->push_back('\b');
      return true;
    case 'f':
      out->push_back('\f');
      return true;
    case 'v':
      out->push_back('\v');
      return true;
    case '0':
      if (*i + 1 < raw.size() && raw[*i + 1] >= '0' && raw[*i + 1] <= '9') return false;
      out->push_back('\0');
      return true;
    case '\r':
      if (*i + 1 < raw.size() && raw[*i + 1] == '\n') ++*i;
      return true;
    case '\n':
      return true;
    default:
      return false;
  }
}

// \xHH.
bool DecodeHexEscape(std::string_view raw, size_t* i, std::string* out, bool* escaped_non_ascii) {
  if (*i + 2 >= raw.size() || HexDigit(raw[*i + 1]) < 0 || HexDigit(raw[*i + 2]) < 0) return false;
  AppendEscaped(static_cast<uint32_t>(HexDigit(raw[*i + 1]) * 16 + HexDigit(raw[*i + 2])), out,
                escaped_non_ascii);
  *i += 2;
  return true;
}

// \u{H…}.
bool DecodeBracedEscape(std::string_view raw, size_t* i, std::string* out,
                        bool* escaped_non_ascii) {
  uint32_t cp = 0;
  size_t j = *i + 2;
  while (j < raw.size() && HexDigit(raw[j]) >= 0 && cp <= 0x10FFFF)
    cp = cp * 16 + static_cast<uint32_t>(HexDigit(raw[j++]));
  if (j >= raw.size() || raw[j] != '}' || cp > 0x10FFFF) return false;
  *i = j;
  AppendEscaped(cp, out, escaped_non_ascii);
  return true;
}

// \uHHHH, a surrogate pair written as two such escapes, or \u{H…}. A lone
// surrogate becomes U+FFFD.
bool DecodeUnicodeEscape(std::string_view raw, size_t* i, std::string* out,
                         bool* escaped_non_ascii) {
  if (*i + 1 < raw.size() && raw[*i + 1] == '{')
    return DecodeBracedEscape(raw, i, out, escaped_non_ascii);
  if (*i + 4 >= raw.size()) return false;
  const std::optional<uint32_t> high = FourHexDigits(raw, *i + 1);
  if (!high) return false;
  uint32_t cp = *high;
  *i += 4;
  if (cp >= 0xD800 && cp <= 0xDBFF && *i + 6 < raw.size() && raw[*i + 1] == '\\' &&
      raw[*i + 2] == 'u') {
    const std::optional<uint32_t> low = FourHexDigits(raw, *i + 3);
    if (low && *low >= 0xDC00 && *low <= 0xDFFF) {
      cp = 0x10000 + ((cp - 0xD800) << 10) + (*low - 0xDC00);
      *i += 6;
    }
  }
  if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
  AppendEscaped(cp, out, escaped_non_ascii);
  return true;
}

bool DecodeEscape(std::string_view raw, size_t* i, std::string* out, bool* escaped_non_ascii) {
  switch (raw[*i]) {
    case 'x':
      return DecodeHexEscape(raw, i, out, escaped_non_ascii);
    case 'u':
      return DecodeUnicodeEscape(raw, i, out, escaped_non_ascii);
    default:
      return DecodeSingleCharEscape(raw, i, out);
  }
}

}  // namespace

std::string DecodeJsEscapes(std::string_view raw, bool* escaped_non_ascii) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c != '\\' || i + 1 >= raw.size()) {
      out.push_back(c);
      continue;
    }
    ++i;
    if (!DecodeEscape(raw, &i, &out, escaped_non_ascii)) out.push_back(raw[i]);
  }
  return out;
}

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

Walker::Walker(std::string_view text, const AuditRules& rules, JsFacts* facts)
    : text_(text), rules_(rules), g_(Grammar::Get()), facts_(*facts) {
  for (uint32_t i = 0; i < rules.probes.size(); ++i) {
    const ProbeRule& r = rules.probes[i];
    if (!r.call.empty()) call_rules_[r.call].push_back(i);
    if (!r.property.empty()) property_rules_[r.property].push_back(i);
    if (r.env_regex) env_rules_.push_back(i);
    if (r.string_regex) string_rules_.push_back(i);
  }
}

void Walker::Run(TSNode root) {
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

TSFieldId Walker::FieldIfNeeded(const TSTreeCursor* cursor) const {
  if (frames_.empty()) return 0;
  const Kind pk = frames_.back().kind;
  if (pk != Kind::kIf && pk != Kind::kTernary && pk != Kind::kSwitch && pk != Kind::kBinary &&
      pk != Kind::kCall) {
    return 0;
  }
  return ts_tree_cursor_current_field_id(cursor);
}

void Walker::Enter(TSNode node, TSFieldId field) {
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
    case Kind::kString:
      OnString(node);
      break;
    case Kind::kTemplateString:
      OnTemplate(node);
      break;
    case Kind::kArray:
      OnArray(node);
      break;
    case Kind::kMember:
      OnMember(node, field);
      break;
    case Kind::kSubscript:
      OnSubscript(node, field);
      break;
    case Kind::kCall:
      OnCall(node);
      break;
    case Kind::kBinary:
      OnBinary(node);
      break;
    case Kind::kDeclarator:
    case Kind::kAssignment:
      OnDeclaration(node, kind);
      break;
    case Kind::kIf:
    case Kind::kTernary:
      OnBranch(node);
      break;
    case Kind::kSwitch:
      OnSwitch(node);
      break;
    case Kind::kSwitchCase:
      OnSwitchCase(node);
      break;
    case Kind::kReturn:
      facts_.returns.push_back(ReturnFact{RangeOf(node), func_});
      break;
    default:
      break;
  }
  if (IsFunction(kind)) OnFunction(node, kind);
}

void Walker::Leave() {
  func_ = frames_.back().prev_func;
  condition_ = frames_.back().prev_condition;
  frames_.pop_back();
}

void Walker::CheckEnv(Range range, std::string_view name) {
  for (uint32_t i : env_rules_) {
    if (re2::RE2::FullMatch(re2::StringPiece(name.data(), name.size()),
                            *rules_.probes[i].env_regex)) {
      AddProbe(range, i, "process.env." + std::string(name));
    }
  }
}

void Walker::OnString(TSNode node) {
  std::string_view raw = Text(node);
  if (raw.size() < 2) return;
  raw = raw.substr(1, raw.size() - 2);
  bool escaped = false;
  StringFact s{RangeOf(node),
               DecodeJsEscapes(raw, &escaped),
               func_,
               escaped ? StringOrigin::kEscapedLiteral : StringOrigin::kLiteral,
               {}};
  CheckStringProbes(s);
  facts_.strings.push_back(std::move(s));
}

void Walker::CheckStringProbes(const StringFact& s) {
  if (s.value.size() > 200 || s.value.empty()) return;
  for (uint32_t i : string_rules_) {
    if (re2::RE2::FullMatch(s.value, *rules_.probes[i].string_regex))
      AddProbe(s.range, i, "\"" + s.value + "\"");
  }
}

void Walker::OnTemplate(TSNode node) {
  const Range r = RangeOf(node);
  if (r.end - r.begin < 2) return;
  std::string value;
  bool escaped = false;
  bool substituted = false;
  uint32_t pos = r.begin + 1;
  ForEachNamedChild(node, [&](TSNode child) {
    if (KindOf(child) != Kind::kTemplateSubstitution) return true;
    value += DecodeJsEscapes(text_.substr(pos, ts_node_start_byte(child) - pos), &escaped);
    value += "${…}";
    substituted = true;
    pos = ts_node_end_byte(child);
    return true;
  });
  if (pos < r.end - 1) value += DecodeJsEscapes(text_.substr(pos, r.end - 1 - pos), &escaped);
  StringFact s{r,
               std::move(value),
               func_,
               substituted ? StringOrigin::kTemplate
                           : (escaped ? StringOrigin::kEscapedLiteral : StringOrigin::kLiteral),
               {}};
  if (!substituted) CheckStringProbes(s);
  facts_.strings.push_back(std::move(s));
}

std::string Walker::BoundName() const {
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

std::optional<int64_t> Walker::IntegerOf(TSNode n) const {
  const Kind k = KindOf(n);
  if (k == Kind::kNumber) return ParseInteger(Text(n));
  if (k == Kind::kUnary) {
    TSNode op = ts_node_child_by_field_id(n, g_.op);
    TSNode arg = ts_node_child_by_field_id(n, g_.argument);
    if (!ts_node_is_null(op) && !ts_node_is_null(arg) && Text(op) == "-" &&
        KindOf(arg) == Kind::kNumber) {
      if (auto v = ParseInteger(Text(arg))) return -*v;
    }
  }
  return std::nullopt;
}

void Walker::OnArray(TSNode node) {
  const uint32_t n = ts_node_named_child_count(node);
  if (n == 0) return;
  bool strings = true;
  bool numbers = true;
  std::vector<uint32_t> values;
  ForEachNamedChild(node, [&](TSNode child) {
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
    return strings || numbers;
  });
  const Frame* parent = Parent();
  if (strings && n >= 2) {
    facts_.string_arrays.push_back(StringArrayFact{
        RangeOf(node), static_cast<uint32_t>(facts_.strings.size()), n, func_, BoundName()});
  } else if (numbers && n >= 4) {
    const uint32_t group = parent != nullptr && parent->kind == Kind::kArray
                               ? ts_node_start_byte(parent->node)
                               : kNone;
    facts_.number_arrays.push_back(NumberArrayFact{RangeOf(node), std::move(values), func_, group});
  }
}

void Walker::OnMember(TSNode node, TSFieldId field) {
  const Frame* parent = Parent();
  if (parent != nullptr && parent->kind == Kind::kCall && field == g_.function)
    return;  // OnCall has it
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
  std::string_view tail =
      object_text.size() > 200 ? object_text.substr(object_text.size() - 200) : object_text;
  for (uint32_t i : it->second) {
    const ProbeRule& r = rules_.probes[i];
    if (r.object_regex &&
        !re2::RE2::PartialMatch(re2::StringPiece(tail.data(), tail.size()), *r.object_regex)) {
      continue;
    }
    AddProbe(RangeOf(node), i, std::string(tail) + "." + std::string(name));
  }
}

void Walker::OnSubscript(TSNode node, TSFieldId field) {
  TSNode object = ts_node_child_by_field_id(node, g_.object);
  TSNode index = ts_node_child_by_field_id(node, g_.index);
  if (ts_node_is_null(object) || ts_node_is_null(index)) return;
  if (KindOf(index) == Kind::kCall) {
    // obj[_0x3e(0x1a4)]: a property named by a string-array read, resolved
    // after the walk.
    TSNode fn = ts_node_child_by_field_id(index, g_.function);
    if (ts_node_is_null(fn) || KindOf(fn) != Kind::kIdentifier) return;
    BracketCall b{RangeOf(node), RangeOf(object), ts_node_start_byte(index), {}, {},
                  func_,         condition_};
    const Frame* parent = Parent();
    if (parent != nullptr && parent->kind == Kind::kCall && field == g_.function) {
      b.call = RangeOf(parent->node);
      TSNode args = ts_node_child_by_field_id(parent->node, g_.arguments);
      if (!ts_node_is_null(args) && ts_node_named_child_count(args) > 0)
        b.arg0 = RangeOf(ts_node_named_child(args, 0));
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

void Walker::OnCall(TSNode node) {
  TSNode fn = ts_node_child_by_field_id(node, g_.function);
  TSNode args = ts_node_child_by_field_id(node, g_.arguments);
  if (ts_node_is_null(fn)) return;
  const Kind fk = KindOf(fn);
  if (fk == Kind::kParenthesized || fk == Kind::kFunctionExpr) {
    MaybeRotationCall(node, args);
    return;
  }
  if (fk != Kind::kMember && fk != Kind::kIdentifier) return;
  std::string_view name = Text(fn);
  TSNode object{};
  if (fk == Kind::kMember) {
    TSNode prop = ts_node_child_by_field_id(fn, g_.property);
    object = ts_node_child_by_field_id(fn, g_.object);
    if (ts_node_is_null(prop) || ts_node_is_null(object)) return;
    name = Text(prop);
  }
  const bool args_ok = !ts_node_is_null(args) && KindOf(args) == Kind::kArguments;
  const uint32_t argc = args_ok ? ts_node_named_child_count(args) : 0;
  if (auto it = call_rules_.find(name); it != call_rules_.end()) {
    for (uint32_t i : it->second) AddProbe(RangeOf(node), i, std::string(Text(fn)) + "()");
  }
  if (fk == Kind::kMember) {
    OnMethodCall(node, object, name, args, argc);
    return;
  }
  if (argc <= 4) MaybeConstantCall(node, fn, args, argc);
  if (argc == 1 || argc == 2) {
    if (auto v = IntegerOf(ts_node_named_child(args, 0)); v && *v >= 0) {
      number_calls.push_back(NumberCall{RangeOf(node), name, *v, func_});
    }
  }
}

void Walker::OnMethodCall(TSNode node, TSNode object, std::string_view name, TSNode args,
                          uint32_t argc) {
  TSNode arg0 = argc > 0 ? ts_node_named_child(args, 0) : TSNode{};
  if (name == "get" && argc == 1 && KindOf(arg0) == Kind::kString) {
    const std::string_view obj = Text(object);
    if (obj == "Deno.env" || (obj.size() >= 4 && obj.substr(obj.size() - 4) == ".env")) {
      std::string_view raw = Text(arg0);
      bool escaped = false;
      if (raw.size() >= 2)
        CheckEnv(RangeOf(node), DecodeJsEscapes(raw.substr(1, raw.size() - 2), &escaped));
    }
    return;
  }
  if ((name == "fromCharCode" || name == "fromCodePoint") && Text(object) == "String" && argc > 0) {
    AddCharCodeString(node, args, argc);
    return;
  }
  if (argc >= 1) AddMethodCompare(node, name, object, arg0);
}

void Walker::AddCharCodeString(TSNode node, TSNode args, uint32_t argc) {
  std::string value;
  bool all = true;
  ForEachNamedChild(args, [&](TSNode a) {
    auto v = IntegerOf(a);
    all = v && *v >= 0 && *v <= 0x10FFFF && !(*v >= 0xD800 && *v <= 0xDFFF);
    if (all) utf::AppendUtf8(static_cast<char32_t>(*v), &value);
    return all;
  });
  if (!all || argc == 0) return;
  facts_.strings.push_back(
      StringFact{RangeOf(node), std::move(value), func_, StringOrigin::kFromCharCode, {}});
}

void Walker::AddMethodCompare(TSNode node, std::string_view name, TSNode object, TSNode arg0) {
  if (name == "includes" || name == "indexOf" || name == "lastIndexOf" || name == "has") {
    AddCompare(node, CompareKind::kMembership, arg0, object);
  } else if (name == "endsWith" || name == "startsWith" || name == "match" || name == "search" ||
             name == "localeCompare") {
    AddCompare(node, CompareKind::kAffix, object, arg0);
  } else if (name == "test" || name == "exec") {
    AddCompare(node, CompareKind::kAffix, arg0, object);
  } else if (name == "some" || name == "find" || name == "every" || name == "filter" ||
             name == "findIndex") {
    AddCompare(node, CompareKind::kPredicate, arg0, object);
  }
}

void Walker::MaybeConstantCall(TSNode node, TSNode fn, TSNode args, uint32_t argc) {
  bool literal = false;
  bool constant = true;
  // argc is 0 when `args` is not an argument list (a tagged template): no
  // arguments to check.
  if (argc > 0) {
    ForEachNamedChild(args, [&](TSNode a) {
      const Kind k = KindOf(a);
      if (k == Kind::kString || k == Kind::kNumber) {
        literal = true;
      } else if (k == Kind::kTemplateString) {
        ForEachNamedChild(a, [&](TSNode part) {
          constant = KindOf(part) != Kind::kTemplateSubstitution;
          return constant;
        });
        literal = true;
      } else if (k == Kind::kUnary) {
        constant = IntegerOf(a).has_value();
        literal = true;
      } else if (k != Kind::kIdentifier) {
        constant = false;
      }
      return constant;
    });
  }
  if (!constant) return;
  facts_.calls.push_back(CallFact{RangeOf(node), RangeOf(fn), func_, argc, literal});
}

void Walker::MaybeRotationCall(TSNode node, TSNode args) {
  if (ts_node_is_null(args) || KindOf(args) != Kind::kArguments ||
      ts_node_named_child_count(args) != 2)
    return;
  TSNode a0 = ts_node_named_child(args, 0);
  TSNode a1 = ts_node_named_child(args, 1);
  if (KindOf(a0) == Kind::kIdentifier && KindOf(a1) == Kind::kNumber)
    rotation_calls.push_back(node);
}

void Walker::OnBinary(TSNode node) {
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

void Walker::OnDeclaration(TSNode node, Kind kind) {
  TSNode name = ts_node_child_by_field_id(node, kind == Kind::kDeclarator ? g_.name : g_.left);
  TSNode value = ts_node_child_by_field_id(node, kind == Kind::kDeclarator ? g_.value : g_.right);
  if (ts_node_is_null(name) || ts_node_is_null(value)) return;
  const std::string_view n = Text(name);
  if (n.empty() || n.size() > 80) return;
  facts_.decls.push_back(DeclFact{std::string(n), RangeOf(value), func_});
}

void Walker::OnBranch(TSNode node) {
  TSNode c = ts_node_child_by_field_id(node, g_.condition);
  TSNode t = ts_node_child_by_field_id(node, g_.consequence);
  TSNode e = ts_node_child_by_field_id(node, g_.alternative);
  if (ts_node_is_null(c)) return;
  frames_.back().branch = static_cast<uint32_t>(facts_.branches.size());
  facts_.branches.push_back(BranchFact{RangeOf(c), ts_node_is_null(t) ? Range{} : RangeOf(t),
                                       ts_node_is_null(e) ? Range{} : RangeOf(e), func_});
}

void Walker::OnSwitch(TSNode node) {
  TSNode v = ts_node_child_by_field_id(node, g_.value);
  TSNode b = ts_node_child_by_field_id(node, g_.body);
  if (ts_node_is_null(v) || ts_node_is_null(b)) return;
  frames_.back().branch = static_cast<uint32_t>(facts_.branches.size());
  facts_.branches.push_back(BranchFact{RangeOf(v), RangeOf(b), {}, func_});
}

void Walker::OnSwitchCase(TSNode node) {
  if (frames_.size() < 3) return;
  const Frame& sw = frames_[frames_.size() - 3];
  if (sw.kind != Kind::kSwitch) return;
  TSNode value = ts_node_child_by_field_id(node, g_.value);
  TSNode switched = ts_node_child_by_field_id(sw.node, g_.value);
  if (ts_node_is_null(value) || ts_node_is_null(switched)) return;
  const uint32_t branch = static_cast<uint32_t>(facts_.branches.size());
  facts_.branches.push_back(BranchFact{
      RangeOf(value), Range{ts_node_end_byte(value), ts_node_end_byte(node)}, {}, func_});
  facts_.compares.push_back(CompareFact{RangeOf(value), CompareKind::kEquals, RangeOf(switched),
                                        RangeOf(value), func_, branch});
}

void Walker::OnFunction(TSNode node, Kind kind) {
  std::string name;
  if (kind != Kind::kArrow) {
    TSNode n = ts_node_child_by_field_id(node, g_.name);
    if (!ts_node_is_null(n)) name = std::string(Text(n));
  }
  if (name.empty()) name = BoundName();
  facts_.functions.push_back(FunctionFact{RangeOf(node), frames_.back().prev_func, std::move(name),
                                          kind == Kind::kFunctionDecl});
  func_ = static_cast<uint32_t>(facts_.functions.size() - 1);
}

}  // namespace glassbox::audit::internal
