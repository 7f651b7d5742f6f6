// The evaluator's compiler (js_eval_internal.h): tree-sitter nodes to Nodes, one compile step per
// node type, dispatched from a table. A type missing from the table is off the allow-list and
// makes the whole snippet unusable. Also the parse-free path for `name(arg, …)` calls.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <unordered_map>

#include "audit/js_eval_internal.h"
#include "audit/js_facts.h"
#include "core/utf.h"

namespace glassbox::audit::internal::js_eval {

std::u16string Utf8To16(std::string_view s) {
  std::u16string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    int32_t cp =
        utf::DecodeOne(reinterpret_cast<const unsigned char*>(s.data()) + i, s.size() - i, &len);
    i += len;
    if (cp < 0) cp = 0xFFFD;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
  }
  return out;
}

std::string Utf16To8(std::u16string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char32_t c = s[i];
    if (c >= 0xD800 && c <= 0xDBFF && i + 1 < s.size() && s[i + 1] >= 0xDC00 &&
        s[i + 1] <= 0xDFFF) {
      c = 0x10000 + ((c - 0xD800) << 10) + (s[i + 1] - 0xDC00);
      ++i;
    } else if (c >= 0xD800 && c <= 0xDFFF) {
      c = 0xFFFD;
    }
    utf::AppendUtf8(c, &out);
  }
  return out;
}

std::optional<double> ParseJsNumber(std::string text) {
  text.erase(std::remove(text.begin(), text.end(), '_'), text.end());
  if (text.empty() || text.back() == 'n') return std::nullopt;  // BigInt
  if (text.size() > 2 && text[0] == '0') {
    const char p = static_cast<char>(text[1] | 0x20);
    const int base = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
    if (base != 0) {
      double v = 0;
      for (size_t i = 2; i < text.size(); ++i) {
        const char c = static_cast<char>(text[i] | 0x20);
        const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : 99;
        if (d >= base) return std::nullopt;
        v = v * base + d;
      }
      return v;
    }
  }
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return v;
}

namespace {

Op OpOf(std::string_view o) {
  static const std::pair<std::string_view, Op> kOps[] = {
      {"+", Op::kAdd},        {"-", Op::kSub},        {"*", Op::kMul},  {"/", Op::kDiv},
      {"%", Op::kMod},        {"**", Op::kPow},       {"^", Op::kXor},  {"&", Op::kAnd},
      {"|", Op::kOr},         {"<<", Op::kShl},       {">>", Op::kShr}, {">>>", Op::kUshr},
      {"===", Op::kStrictEq}, {"!==", Op::kStrictNe}, {"==", Op::kEq},  {"!=", Op::kNe},
      {"<", Op::kLt},         {">", Op::kGt},         {"<=", Op::kLe},  {">=", Op::kGe}};
  for (const auto& [name, op] : kOps) {
    if (name == o) return op;
  }
  return Op::kNone;
}

std::string_view NodeType(TSNode n) { return ts_node_type(n); }

TSNode Field(TSNode n, const char* name) {
  return ts_node_child_by_field_name(n, name, static_cast<uint32_t>(std::strlen(name)));
}

bool IsFunctionType(std::string_view type) {
  return type == "arrow_function" || type == "function_expression" ||
         type == "function_declaration" || type == "function";
}

class Compiler {
 public:
  Compiler(std::string_view text, Snippet* out) : text_(text), out_(*out) {}

  const Node* Compile(TSNode n, int depth = 0) {
    if (ts_node_is_null(n) || depth > 200) return nullptr;
    const std::string_view type = NodeType(n);
    if (type == "ERROR" || ts_node_is_missing(n)) return nullptr;
    if (type == "parenthesized_expression") return Compile(ts_node_named_child(n, 0), depth + 1);
    if (IsFunctionType(type)) return Function(n, depth);
    const auto& rules = Rules();
    auto rule = rules.find(type);
    if (rule == rules.end()) return nullptr;  // not on the allow-list
    Node& node = out_.nodes.emplace_back();
    node.kind = rule->second.kind;
    if (!(this->*rule->second.step)(n, depth, node)) return nullptr;
    return failed_ ? nullptr : &node;
  }

  bool failed() const { return failed_; }

 private:
  // One compile step: fills `node` (whose kind is preset from the table) from `n`; false when
  // the syntax is off the allow-list. A missing required part sets failed_ instead (Need).
  using Step = bool (Compiler::*)(TSNode n, int depth, Node& node);
  struct Rule {
    N kind;
    Step step;
  };

  static const std::unordered_map<std::string_view, Rule>& Rules() {
    static const auto* rules = new std::unordered_map<std::string_view, Rule>{
        {"program", {N::kBlock, &Compiler::NonCommentChildren}},
        {"statement_block", {N::kBlock, &Compiler::NonCommentChildren}},
        {"expression_statement", {N::kExpr, &Compiler::FirstChild}},
        {"empty_statement", {N::kEmpty, &Compiler::Nothing}},
        {"comment", {N::kEmpty, &Compiler::Nothing}},
        {"number", {N::kNum, &Compiler::Number}},
        {"string", {N::kStr, &Compiler::String}},
        {"template_string", {N::kTemplate, &Compiler::Template}},
        {"identifier", {N::kIdent, &Compiler::Identifier}},
        {"shorthand_property_identifier", {N::kIdent, &Compiler::Identifier}},
        {"undefined", {N::kUndef, &Compiler::Nothing}},
        {"null", {N::kNull, &Compiler::Nothing}},
        {"true", {N::kBool, &Compiler::True}},
        {"false", {N::kBool, &Compiler::Nothing}},
        {"array", {N::kArray, &Compiler::AllChildren}},
        {"object", {N::kObject, &Compiler::Object}},
        {"member_expression", {N::kMember, &Compiler::Member}},
        {"subscript_expression", {N::kIndex, &Compiler::Subscript}},
        {"call_expression", {N::kCall, &Compiler::Call}},
        {"new_expression", {N::kNew, &Compiler::Call}},
        {"spread_element", {N::kSpread, &Compiler::FirstChild}},
        {"binary_expression", {N::kBinary, &Compiler::Binary}},
        {"unary_expression", {N::kUnary, &Compiler::Unary}},
        {"update_expression", {N::kUpdate, &Compiler::Update}},
        {"assignment_expression", {N::kAssign, &Compiler::Assignment}},
        {"augmented_assignment_expression", {N::kAssign, &Compiler::Assignment}},
        {"ternary_expression", {N::kCond, &Compiler::Ternary}},
        {"sequence_expression", {N::kSeq, &Compiler::AllChildren}},
        {"regex", {N::kRegex, &Compiler::Regex}},
        {"lexical_declaration", {N::kVar, &Compiler::Declaration}},
        {"variable_declaration", {N::kVar, &Compiler::Declaration}},
        {"if_statement", {N::kIf, &Compiler::If}},
        {"for_statement", {N::kFor, &Compiler::For}},
        {"for_in_statement", {N::kForOf, &Compiler::ForIn}},
        {"while_statement", {N::kWhile, &Compiler::While}},
        {"do_statement", {N::kDo, &Compiler::Do}},
        {"return_statement", {N::kReturn, &Compiler::Return}},
        {"break_statement", {N::kBreak, &Compiler::Jump}},
        {"continue_statement", {N::kContinue, &Compiler::Jump}},
        {"throw_statement", {N::kThrow, &Compiler::FirstChild}},
        {"try_statement", {N::kTry, &Compiler::Try}},
    };
    return *rules;
  }

  std::string_view Text(TSNode n) const {
    if (ts_node_is_null(n)) return {};
    const uint32_t b = ts_node_start_byte(n), e = ts_node_end_byte(n);
    return b <= e && e <= text_.size() ? text_.substr(b, e - b) : std::string_view();
  }

  // A part the node cannot do without: its absence fails the whole snippet.
  const Node* Need(TSNode c, int depth) {
    const Node* p = Compile(c, depth + 1);
    if (p == nullptr) failed_ = true;
    return p;
  }
  // An optional part: nullptr when absent.
  const Node* Optional(TSNode c, int depth) {
    return ts_node_is_null(c) ? nullptr : Need(c, depth);
  }

  void NeedFields(TSNode n, int depth, Node& node, std::initializer_list<const char*> fields) {
    for (const char* f : fields) node.kids.push_back(Need(Field(n, f), depth));
  }

  // The named children but comments: a block's statements, a call's arguments.
  bool NonCommentChildren(TSNode n, int depth, Node& node) {
    const uint32_t named = ts_node_named_child_count(n);
    for (uint32_t i = 0; i < named; ++i) {
      TSNode c = ts_node_named_child(n, i);
      if (NodeType(c) == "comment") continue;
      node.kids.push_back(Need(c, depth));
    }
    return true;
  }

  bool FirstChild(TSNode n, int depth, Node& node) {
    node.kids.push_back(Need(ts_node_named_child(n, 0), depth));
    return true;
  }

  bool AllChildren(TSNode n, int depth, Node& node) {
    const uint32_t named = ts_node_named_child_count(n);
    for (uint32_t i = 0; i < named; ++i)
      node.kids.push_back(Need(ts_node_named_child(n, i), depth));
    return true;
  }

  bool Nothing(TSNode /*n*/, int /*depth*/, Node& /*node*/) { return true; }

  bool True(TSNode /*n*/, int /*depth*/, Node& node) {
    node.flag = true;
    return true;
  }

  bool Number(TSNode n, int /*depth*/, Node& node) {
    auto v = ParseJsNumber(std::string(Text(n)));
    if (!v) return false;
    node.num = *v;
    return true;
  }

  bool String(TSNode n, int /*depth*/, Node& node) {
    std::string_view raw = Text(n);
    if (raw.size() < 2) return false;
    node.str = Decoded(raw.substr(1, raw.size() - 2));
    return true;
  }

  static std::u16string Decoded(std::string_view raw) {
    bool escaped = false;
    return Utf8To16(DecodeJsEscapes(raw, &escaped));
  }

  bool Template(TSNode n, int depth, Node& node) {
    const uint32_t named = ts_node_named_child_count(n);
    uint32_t pos = ts_node_start_byte(n) + 1;
    for (uint32_t i = 0; i < named; ++i) {
      TSNode c = ts_node_named_child(n, i);
      if (NodeType(c) != "template_substitution") continue;
      node.strs.push_back(Decoded(text_.substr(pos, ts_node_start_byte(c) - pos)));
      node.kids.push_back(Need(ts_node_named_child(c, 0), depth));
      pos = ts_node_end_byte(c);
    }
    node.strs.push_back(Decoded(text_.substr(pos, ts_node_end_byte(n) - 1 - pos)));
    return true;
  }

  bool Identifier(TSNode n, int /*depth*/, Node& node) {
    node.op = std::string(Text(n));
    if (node.op == "undefined") node.kind = N::kUndef;
    return true;
  }

  bool Object(TSNode n, int depth, Node& node) {
    const uint32_t named = ts_node_named_child_count(n);
    for (uint32_t i = 0; i < named; ++i) {
      if (!Property(ts_node_named_child(n, i), depth, node)) return false;
    }
    return true;
  }

  // One property of an object literal: `key: value`, a shorthand `name`, or a method `name(){}`.
  bool Property(TSNode c, int depth, Node& node) {
    const std::string_view type = NodeType(c);
    if (type == "pair") {
      std::optional<std::u16string> key = PropertyKey(Field(c, "key"), depth);
      if (!key) return false;
      node.strs.push_back(std::move(*key));
      node.kids.push_back(Need(Field(c, "value"), depth));
      return true;
    }
    if (type == "shorthand_property_identifier") {
      node.strs.push_back(Utf8To16(Text(c)));
      node.kids.push_back(Need(c, depth));
      return true;
    }
    if (type == "method_definition") {
      TSNode name = Field(c, "name");
      if (NodeType(name) != "property_identifier") return false;
      const Node* f = Function(c, depth);
      if (f == nullptr) return false;
      node.strs.push_back(Utf8To16(Text(name)));
      node.kids.push_back(f);
      return true;
    }
    return false;
  }

  std::optional<std::u16string> PropertyKey(TSNode key, int depth) {
    const std::string_view type = NodeType(key);
    if (type == "property_identifier") return Utf8To16(Text(key));
    if (type != "string" && type != "number") return std::nullopt;
    const Node* s = Compile(key, depth + 1);
    if (s == nullptr) return std::nullopt;
    return type == "string" ? s->str : Utf8To16(fmt::format("{}", s->num));
  }

  static bool IsOptionalChain(TSNode n) { return !ts_node_is_null(Field(n, "optional_chain")); }

  bool Member(TSNode n, int depth, Node& node) {
    node.kids.push_back(Need(Field(n, "object"), depth));
    TSNode prop = Field(n, "property");
    if (ts_node_is_null(prop) || NodeType(prop) == "private_property_identifier") return false;
    node.op = std::string(Text(prop));
    node.str = Utf8To16(node.op);
    node.flag = IsOptionalChain(n);
    return true;
  }

  bool Subscript(TSNode n, int depth, Node& node) {
    NeedFields(n, depth, node, {"object", "index"});
    node.flag = IsOptionalChain(n);
    return true;
  }

  // A call or a `new`: kids are the callee, then the arguments.
  bool Call(TSNode n, int depth, Node& node) {
    node.kids.push_back(Need(Field(n, node.kind == N::kCall ? "function" : "constructor"), depth));
    node.flag = IsOptionalChain(n);
    TSNode args = Field(n, "arguments");
    if (ts_node_is_null(args)) return true;
    if (NodeType(args) != "arguments") return false;  // tagged template
    return NonCommentChildren(args, depth, node);
  }

  bool Binary(TSNode n, int depth, Node& node) {
    node.op = std::string(Text(Field(n, "operator")));
    if (node.op == "&&" || node.op == "||" || node.op == "??") {
      node.kind = N::kLogical;
    } else {
      node.bin = OpOf(node.op);
      if (node.bin == Op::kNone) return false;  // in, instanceof
    }
    NeedFields(n, depth, node, {"left", "right"});
    return true;
  }

  bool Unary(TSNode n, int depth, Node& node) {
    node.op = std::string(Text(Field(n, "operator")));
    if (node.op == "delete") return false;
    node.kids.push_back(Need(Field(n, "argument"), depth));
    return true;
  }

  bool Update(TSNode n, int depth, Node& node) {
    node.op = std::string(Text(Field(n, "operator")));
    TSNode arg = Field(n, "argument");
    node.flag = ts_node_start_byte(arg) > ts_node_start_byte(n);  // prefix
    node.kids.push_back(Need(arg, depth));
    return true;
  }

  bool Assignment(TSNode n, int depth, Node& node) {
    node.op =
        NodeType(n) == "assignment_expression" ? "=" : std::string(Text(Field(n, "operator")));
    if (node.op != "=" && node.op != "?\?=" && node.op != "||=" && node.op != "&&=") {
      node.bin = OpOf(std::string_view(node.op).substr(0, node.op.size() - 1));
      if (node.bin == Op::kNone) return false;
    }
    const std::string_view target = NodeType(Field(n, "left"));
    if (target != "identifier" && target != "member_expression" &&
        target != "subscript_expression") {
      return false;
    }
    NeedFields(n, depth, node, {"left", "right"});
    return true;
  }

  bool Ternary(TSNode n, int depth, Node& node) {
    NeedFields(n, depth, node, {"condition", "consequence", "alternative"});
    return true;
  }

  bool Regex(TSNode n, int /*depth*/, Node& node) {
    node.op = std::string(Text(Field(n, "pattern")));
    TSNode flags = Field(n, "flags");
    if (!ts_node_is_null(flags)) node.aux = std::string(Text(flags));
    return true;
  }

  // `var` / `let` / `const` with plain names (no destructuring).
  bool Declaration(TSNode n, int depth, Node& node) {
    const uint32_t named = ts_node_named_child_count(n);
    for (uint32_t i = 0; i < named; ++i) {
      TSNode d = ts_node_named_child(n, i);
      if (NodeType(d) != "variable_declarator") continue;
      TSNode name = Field(d, "name");
      if (NodeType(name) != "identifier") return false;
      node.names.emplace_back(Text(name));
      node.inits.push_back(Optional(Field(d, "value"), depth));
    }
    return true;
  }

  bool If(TSNode n, int depth, Node& node) {
    NeedFields(n, depth, node, {"condition", "consequence"});
    TSNode alt = Field(n, "alternative");
    node.kids.push_back(ts_node_is_null(alt) ? nullptr : Need(ts_node_named_child(alt, 0), depth));
    return true;
  }

  // kids: initializer, condition, increment (each may be nullptr), body.
  bool For(TSNode n, int depth, Node& node) {
    for (const char* f : {"initializer", "condition", "increment"}) {
      TSNode c = Field(n, f);
      const std::string_view type = ts_node_is_null(c) ? "" : NodeType(c);
      node.kids.push_back(
          type.empty() || type == "empty_statement" || type == ";" ? nullptr : Need(c, depth));
    }
    node.kids.push_back(Need(Field(n, "body"), depth));
    return true;
  }

  // `for (x of …)` (flag) or `for (x in …)` over a plain name.
  bool ForIn(TSNode n, int depth, Node& node) {
    TSNode left = Field(n, "left");
    if (NodeType(left) != "identifier") return false;
    node.op = std::string(Text(left));
    node.flag = Text(Field(n, "operator")) == "of";
    NeedFields(n, depth, node, {"right", "body"});
    return true;
  }

  bool While(TSNode n, int depth, Node& node) {
    NeedFields(n, depth, node, {"condition", "body"});
    return true;
  }

  bool Do(TSNode n, int depth, Node& node) {
    NeedFields(n, depth, node, {"body", "condition"});
    return true;
  }

  bool Return(TSNode n, int depth, Node& node) {
    node.kids.push_back(ts_node_named_child_count(n) > 0 ? Need(ts_node_named_child(n, 0), depth)
                                                         : nullptr);
    return true;
  }

  // `break` / `continue` without a label.
  bool Jump(TSNode n, int /*depth*/, Node& /*node*/) { return ts_node_named_child_count(n) == 0; }

  // kids: block, catch block (nullptr: none), finally block (nullptr: none); aux: the catch
  // parameter.
  bool Try(TSNode n, int depth, Node& node) {
    node.kids.push_back(Need(Field(n, "body"), depth));
    TSNode handler = Field(n, "handler");
    TSNode fin = Field(n, "finalizer");
    if (!ts_node_is_null(handler)) {
      TSNode param = Field(handler, "parameter");
      if (!ts_node_is_null(param)) {
        if (NodeType(param) != "identifier") return false;
        node.aux = std::string(Text(param));
      }
    }
    node.kids.push_back(ts_node_is_null(handler) ? nullptr : Need(Field(handler, "body"), depth));
    node.kids.push_back(ts_node_is_null(fin) ? nullptr : Need(Field(fin, "body"), depth));
    return true;
  }

  // Functions, arrows and methods; not async functions or generators.
  const Node* Function(TSNode n, int depth) {
    const std::string_view type = NodeType(n);
    if (ts_node_child_count(n) > 0 &&
        (Text(ts_node_child(n, 0)) == "async" || Text(n).substr(0, 9) == "function*")) {
      return nullptr;
    }
    Node& node = out_.nodes.emplace_back();
    node.kind = N::kFunc;
    node.decl = type == "function_declaration";
    TSNode name = Field(n, "name");
    if (!ts_node_is_null(name) && type != "method_definition") node.op = std::string(Text(name));
    if (!Parameters(n, depth, node)) return nullptr;
    TSNode body = Field(n, "body");
    node.flag = NodeType(body) != "statement_block";
    const Node* b = Compile(body, depth + 1);
    if (b == nullptr) return nullptr;
    node.kids.push_back(b);
    return &node;
  }

  // An arrow's single parameter, or the list: names, defaults, a rest parameter.
  bool Parameters(TSNode n, int depth, Node& node) {
    TSNode single = Field(n, "parameter");
    if (!ts_node_is_null(single)) {
      node.names.emplace_back(Text(single));
      node.inits.push_back(nullptr);
      return true;
    }
    TSNode params = Field(n, "parameters");
    const uint32_t count = ts_node_is_null(params) ? 0 : ts_node_named_child_count(params);
    for (uint32_t i = 0; i < count; ++i) {
      if (!Parameter(ts_node_named_child(params, i), depth, node)) return false;
    }
    return true;
  }

  bool Parameter(TSNode p, int depth, Node& node) {
    const std::string_view type = NodeType(p);
    if (type == "comment") return true;
    TSNode name = type == "identifier"           ? p
                  : type == "assignment_pattern" ? Field(p, "left")
                  : type == "rest_pattern"       ? ts_node_named_child(p, 0)
                                                 : TSNode{};
    if (ts_node_is_null(name) || NodeType(name) != "identifier") return false;  // destructuring
    const Node* init = nullptr;
    if (type == "assignment_pattern") {
      init = Compile(Field(p, "right"), depth + 1);
      if (init == nullptr) return false;
    }
    if (type == "rest_pattern") node.rest = static_cast<int>(node.names.size());
    node.names.emplace_back(Text(name));
    node.inits.push_back(init);
    return true;
  }

  std::string_view text_;
  Snippet& out_;
  bool failed_ = false;
};

bool IsIdentStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '$';
}
bool IsIdentPart(char c) { return IsIdentStart(c) || std::isdigit(static_cast<unsigned char>(c)); }

// Reads `name(arg, …)` left to right; each step returns false when the text has another shape.
class SimpleCallReader {
 public:
  SimpleCallReader(std::string_view text, Snippet* out) : t_(text), out_(*out) {}

  const Node* Read() {
    const std::string_view callee = Identifier();
    if (callee.empty() || i_ >= t_.size() || t_[i_] != '(') return nullptr;
    ++i_;
    Node& call = out_.nodes.emplace_back();
    call.kind = N::kCall;
    Node& fn = out_.nodes.emplace_back();
    fn.kind = N::kIdent;
    fn.op = std::string(callee);
    call.kids.push_back(&fn);
    SkipSpace();
    if (i_ < t_.size() && t_[i_] == ')') {
      ++i_;
    } else if (!Arguments(call)) {
      return nullptr;
    }
    SkipSpace();
    return i_ == t_.size() ? &call : nullptr;
  }

 private:
  void SkipSpace() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\n' || t_[i_] == '\t' || t_[i_] == '\r'))
      ++i_;
  }

  std::string_view Identifier() {
    if (i_ >= t_.size() || !IsIdentStart(t_[i_])) return {};
    const size_t b = i_;
    while (i_ < t_.size() && IsIdentPart(t_[i_])) ++i_;
    return t_.substr(b, i_ - b);
  }

  // The arguments up to and with the closing parenthesis.
  bool Arguments(Node& call) {
    for (;;) {
      SkipSpace();
      if (i_ >= t_.size()) return false;
      Node& arg = out_.nodes.emplace_back();
      if (!Argument(arg)) return false;
      call.kids.push_back(&arg);
      SkipSpace();
      if (i_ < t_.size() && t_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < t_.size() && t_[i_] == ')') {
        ++i_;
        return true;
      }
      return false;
    }
  }

  bool Argument(Node& arg) {
    const char c = t_[i_];
    if (c == '"' || c == '\'') return StringArgument(arg);
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.')
      return NumberArgument(arg);
    return NameArgument(arg);
  }

  bool StringArgument(Node& arg) {
    const char quote = t_[i_];
    const size_t b = ++i_;
    while (i_ < t_.size() && t_[i_] != quote) {
      if (t_[i_] == '\\') ++i_;
      if (i_ >= t_.size() || t_[i_] == '\n') return false;
      ++i_;
    }
    if (i_ >= t_.size()) return false;
    bool escaped = false;
    arg.kind = N::kStr;
    arg.str = Utf8To16(DecodeJsEscapes(t_.substr(b, i_ - b), &escaped));
    ++i_;
    return true;
  }

  bool NumberArgument(Node& arg) {
    const size_t b = i_++;
    while (i_ < t_.size() &&
           (std::isalnum(static_cast<unsigned char>(t_[i_])) || t_[i_] == '.' || t_[i_] == '_')) {
      ++i_;
    }
    std::string_view num = t_.substr(b, i_ - b);
    const bool neg = !num.empty() && num.front() == '-';
    if (neg) num.remove_prefix(1);
    auto v = ParseJsNumber(std::string(num));
    if (!v) return false;
    arg.kind = N::kNum;
    arg.num = neg ? -*v : *v;
    return true;
  }

  // A name, or one of the literal words undefined / true / false / null.
  bool NameArgument(Node& arg) {
    const std::string_view name = Identifier();
    if (name.empty()) return false;
    arg.kind = name == "undefined" ? N::kUndef : N::kIdent;
    arg.op = std::string(name);
    if (name == "true" || name == "false") {
      arg.kind = N::kBool;
      arg.flag = name == "true";
    } else if (name == "null") {
      arg.kind = N::kNull;
    }
    return true;
  }

  std::string_view t_;
  Snippet& out_;
  size_t i_ = 0;
};

}  // namespace

const Node* CompileTree(std::string_view text, TSNode root, Snippet* out) {
  Compiler c(text, out);
  const Node* result = c.Compile(root);
  return c.failed() ? nullptr : result;
}

const Node* CompileSimpleCall(std::string_view text, Snippet* out) {
  return SimpleCallReader(text, out).Read();
}

}  // namespace glassbox::audit::internal::js_eval
