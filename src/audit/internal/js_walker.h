// The walker over one tree-sitter parse of a JavaScript module: the grammar's
// node kinds and fields (resolved once per process) and the Walker, which
// visits every node iteratively (no recursion, so hostile nesting cannot
// overflow the stack) and appends what it sees to a JsFacts. The string-array
// resolver (string_array.cc) reads the candidate calls it collects.
// Internal to the audit component: only js_*.cc and string_array.cc include it.
#pragma once

#include <tree_sitter/api.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "audit/audit_rules.h"
#include "audit/js_facts.h"

namespace glassbox::audit::internal {

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

inline bool IsFunction(Kind k) {
  return k == Kind::kFunctionDecl || k == Kind::kFunctionExpr || k == Kind::kArrow ||
         k == Kind::kMethod;
}

// The grammar's symbols and fields, resolved once per process. Several
// symbols can share a name (aliases); each maps to the same Kind. The first
// Get() installs the audit's tree-sitter allocator.
struct Grammar {
  const TSLanguage* language = nullptr;
  std::vector<Kind> kinds;  // by TSSymbol
  TSFieldId object = 0, property = 0, function = 0, arguments = 0, left = 0, right = 0, op = 0,
            name = 0, value = 0, condition = 0, consequence = 0, alternative = 0, body = 0,
            index = 0, argument = 0, key = 0;

  static const Grammar& Get();

  Kind KindOf(TSNode n) const {
    const TSSymbol s = ts_node_symbol(n);
    return s < kinds.size() ? kinds[s] : Kind::kOther;
  }

 private:
  Grammar();
};

inline Range RangeOf(TSNode n) { return Range{ts_node_start_byte(n), ts_node_end_byte(n)}; }

// The value of a hexadecimal digit, or -1.
int HexDigit(char c);

// A JavaScript numeric literal as an exact integer when it is one (up to 2^40).
std::optional<int64_t> ParseInteger(std::string_view s);

// One walker per tree (or per piece of a split module), used by one thread.
// `text`, `rules` and `facts` must outlive it; the candidate calls below
// point into the tree, which must stay alive until ResolveStringArrays ran.
class Walker {
 public:
  Walker(std::string_view text, const AuditRules& rules, JsFacts* facts);

  // Visits every node under `root` once, in source order, appending facts.
  void Run(TSNode root);

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
  Kind KindOf(TSNode n) const { return g_.KindOf(n); }
  const Frame* Parent() const {
    return frames_.size() >= 2 ? &frames_[frames_.size() - 2] : nullptr;
  }

  // The field of the cursor's node in its parent, looked up only under the
  // parents whose fields Enter reads (if, ternary, switch, binary, call);
  // 0 elsewhere.
  TSFieldId FieldIfNeeded(const TSTreeCursor* cursor) const;

  void Enter(TSNode node, TSFieldId field);

  void Leave();

  void AddProbe(Range range, uint32_t rule, std::string detail) {
    facts_.probes.push_back(ProbeFact{range, rule, func_, std::move(detail)});
  }

  void CheckEnv(Range range, std::string_view name);

  static bool IsEnvObject(std::string_view object) {
    return object == "process.env" || object == "process[\"env\"]" || object == "process['env']" ||
           object == "Deno.env" ||
           (object.size() > 4 && object.substr(object.size() - 4) == ".env");
  }

  void OnString(TSNode node);

  void CheckStringProbes(const StringFact& s);

  void OnTemplate(TSNode node);

  std::string BoundName() const;

  std::optional<int64_t> IntegerOf(TSNode n) const;

  void OnArray(TSNode node);

  void OnMember(TSNode node, TSFieldId field);

  void OnSubscript(TSNode node, TSFieldId field);

  void AddCompare(TSNode node, CompareKind kind, TSNode value, TSNode other) {
    if (ts_node_is_null(value) || ts_node_is_null(other)) return;
    facts_.compares.push_back(
        CompareFact{RangeOf(node), kind, RangeOf(value), RangeOf(other), func_, condition_});
  }

  void OnCall(TSNode node);
  // object.name(…): Deno.env.get("NAME"), String.fromCharCode(…) and the
  // method calls that compare (includes, endsWith, test, some, …).
  void OnMethodCall(TSNode node, TSNode object, std::string_view name, TSNode args, uint32_t argc);
  // String.fromCharCode / fromCodePoint with constant arguments.
  void AddCharCodeString(TSNode node, TSNode args, uint32_t argc);
  void AddMethodCompare(TSNode node, std::string_view name, TSNode object, TSNode arg0);

  // name(…) with constant or named arguments only, for the decoder evaluator.
  void MaybeConstantCall(TSNode node, TSNode fn, TSNode args, uint32_t argc);

  void MaybeRotationCall(TSNode node, TSNode args);

  void OnBinary(TSNode node);

  void OnDeclaration(TSNode node, Kind kind);

  void OnBranch(TSNode node);

  void OnSwitch(TSNode node);

  // `case "Asia/Shanghai": …` compares the switch value with the case value
  // and picks the case body: a comparison inside a branch of its own.
  void OnSwitchCase(TSNode node);

  void OnFunction(TSNode node, Kind kind);

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

}  // namespace glassbox::audit::internal
