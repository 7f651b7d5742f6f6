// The compiled form of a JavaScript snippet that JsEvaluator (js_eval.h) interprets, and the
// compiler that makes it from a tree-sitter tree (js_eval_compile.cc). Shared by js_eval.cc and
// js_eval_compile.cc only; nothing outside the evaluator uses it.
#pragma once

#include <tree_sitter/api.h>

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace glassbox::audit::internal::js_eval {

// Node kinds: the syntax on the allow-list.
enum class N : uint8_t {
  kNum,
  kStr,
  kTemplate,
  kIdent,
  kUndef,
  kNull,
  kBool,
  kArray,
  kObject,
  kMember,
  kIndex,
  kCall,
  kNew,
  kBinary,
  kLogical,
  kUnary,
  kUpdate,
  kAssign,
  kCond,
  kSeq,
  kFunc,
  kSpread,
  kRegex,
  kBlock,
  kVar,
  kIf,
  kFor,
  kForOf,
  kWhile,
  kDo,
  kReturn,
  kBreak,
  kContinue,
  kExpr,
  kEmpty,
  kTry,
  kThrow,
};

// Binary operators, resolved once at compile time.
enum class Op : uint8_t {
  kNone,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kXor,
  kAnd,
  kOr,
  kShl,
  kShr,
  kUshr,
  kStrictEq,
  kStrictNe,
  kEq,
  kNe,
  kLt,
  kGt,
  kLe,
  kGe,
};

struct Node {
  N kind = N::kEmpty;
  Op bin = Op::kNone;  // kBinary: the operator; kAssign: the operator of a compound assignment
  bool flag = false;   // bool value; optional chain; prefix update; expression-bodied arrow; for-of
                       // (vs for-in)
  bool decl = false;   // a function declaration (hoisted) or a var declaration with `let`/`const`
  double num = 0;
  std::string op;      // operator, identifier, property or function name, regex pattern
  std::string aux;     // regex flags; catch parameter
  std::u16string str;  // string literal
  std::vector<std::u16string> strs;  // template parts; object keys
  std::vector<std::string> names;    // parameters; declared names
  std::vector<const Node*> kids;     // sub-nodes (may hold nullptr where optional)
  std::vector<const Node*> inits;    // parameter defaults / declarator values (nullptr: none)
  int rest = -1;                     // index of a rest parameter
};

// The nodes of one compiled snippet (pointer-stable) and its root.
struct Snippet {
  std::deque<Node> nodes;
  const Node* root = nullptr;
};

// UTF-8 <-> UTF-16 (JavaScript strings); invalid input becomes U+FFFD.
std::u16string Utf8To16(std::string_view s);
std::string Utf16To8(std::u16string_view s);

// A JavaScript numeric literal (decimal, 0x / 0o / 0b, `_` separators); nullopt for a BigInt or
// anything that is not a number.
std::optional<double> ParseJsNumber(std::string text);

// Compiles the tree-sitter node `root` of `text` (the text the tree was parsed from) into `out`.
// nullptr when any part of it is off the allow-list.
const Node* CompileTree(std::string_view text, TSNode root, Snippet* out);

// `name(arg, …)` with string, number and name arguments: the shape of nearly every decoder call,
// compiled without a parse. nullptr when `text` has another shape.
const Node* CompileSimpleCall(std::string_view text, Snippet* out);

}  // namespace glassbox::audit::internal::js_eval
