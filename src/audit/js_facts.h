// JsFacts: what one parse of a JavaScript module tells the audit — string
// literals (escapes decoded), arrays of strings and of numbers, environment
// probes, comparisons, branches, declarations, functions, XOR operations and
// strings built by code — each with byte offsets into the module text.
// Internal to the audit component: tree-sitter stays inside js_facts.cc and
// the parts it is made of (js_arena, js_walker, string_array, js_split, with
// their headers in internal/), which parse the module exactly once and walk
// the tree iteratively (no recursion, so hostile nesting cannot overflow the
// stack).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit_rules.h"

namespace glassbox::audit::internal {

inline constexpr uint32_t kNone = UINT32_MAX;

struct Range {
  uint32_t begin = 0;
  uint32_t end = 0;
  bool Contains(uint32_t offset) const { return offset >= begin && offset < end; }
  bool Contains(const Range& r) const { return r.begin >= begin && r.end <= end; }
  bool Empty() const { return end <= begin; }
};

struct FunctionFact {
  Range range;
  uint32_t parent = kNone;   // enclosing function, or kNone at module level
  std::string name;          // declared, bound or method name; "" when anonymous
  bool declaration = false;  // `function name(…){…}` (not an expression, arrow or method)
};

// How a string came to be: a literal, or code that builds it.
enum class StringOrigin : uint8_t {
  kLiteral,         // "…" or a template without substitutions
  kEscapedLiteral,  // a literal whose non-ASCII characters are all written as escapes
  kTemplate,        // a template with substitutions; they read as "${…}"
  kFromCharCode,    // String.fromCharCode(…) / String.fromCodePoint(…) with constant arguments
  kStringArray,     // a call that reads a rotated string array (javascript-obfuscator)
};

struct StringFact {
  Range range;
  std::string value;  // UTF-8, escapes decoded
  uint32_t func = kNone;
  StringOrigin origin = StringOrigin::kLiteral;
  std::string encoding;  // for kStringArray: "string-array(rotate N)"
};

struct StringArrayFact {
  Range range;
  uint32_t first_string = 0;  // index into strings of its first item (items are consecutive)
  uint32_t count = 0;
  uint32_t func = kNone;
  std::string bound_name;  // the variable or property it is assigned to, if any
};

struct NumberArrayFact {
  Range range;
  std::vector<uint32_t> values;
  uint32_t func = kNone;
  uint32_t group = kNone;  // begin offset of the enclosing array, when nested in one
};

struct ProbeFact {
  Range range;
  uint32_t rule = 0;  // index into AuditRules::probes
  uint32_t func = kNone;
  std::string detail;  // "process.env.TZ", "os.hostname()"
};

enum class CompareKind : uint8_t {
  kEquals,      // a === b, a != b, switch (a) { case b: }
  kMembership,  // list.includes(v), list.indexOf(v), set.has(v)
  kAffix,       // v.endsWith(c), v.startsWith(c), re.test(v), v.match(re)
  kPredicate,   // list.some(x => …v…), list.find(…)
};

struct CompareFact {
  Range range;
  CompareKind kind = CompareKind::kEquals;
  Range value;  // the side that may hold a probed value (for kEquals: left)
  Range other;  // the list or constant side (for kEquals: right)
  uint32_t func = kNone;
  uint32_t condition_of = kNone;  // innermost branch whose condition holds it
};

struct BranchFact {
  Range condition;
  Range consequence;
  Range alternative;
  uint32_t func = kNone;
};

struct DeclFact {
  std::string name;
  Range value;
  uint32_t func = kNone;
};

struct ReturnFact {
  Range range;
  uint32_t func = kNone;
};

struct XorFact {
  uint32_t offset = 0;
  uint32_t func = kNone;
  int64_t constant = -1;  // the numeric operand, or -1 when neither side is a number
};

// A call of a plain name whose arguments are all constants or names
// (`dec("…")`, `_$d("…", K)`, `L()`): what the decoder evaluator may run.
struct CallFact {
  Range range;   // the whole call
  Range callee;  // the name
  uint32_t func = kNone;
  uint32_t argc = 0;
  bool literal_arg = false;  // at least one argument is a string or number literal
};

struct JsFacts {
  std::vector<FunctionFact> functions;
  // In source order, then the string-array reads resolved after the walk
  // (string arrays index into this vector by position).
  std::vector<StringFact> strings;
  std::vector<StringArrayFact> string_arrays;
  std::vector<NumberArrayFact> number_arrays;
  std::vector<ProbeFact> probes;  // sorted by range.begin
  std::vector<CompareFact> compares;
  std::vector<BranchFact> branches;
  std::vector<DeclFact> decls;
  std::vector<ReturnFact> returns;
  std::vector<XorFact> xors;
  std::vector<CallFact> calls;
  // Rotated string arrays that were resolved: "rotate N of M strings at offset".
  struct ResolvedArray {
    uint32_t offset;
    uint32_t rotation;
    uint32_t size;
    uint32_t calls;
  };
  std::vector<ResolvedArray> resolved_arrays;
  bool has_syntax_errors = false;
  std::string not_parsed;  // why the module was not parsed at all, or ""
  uint64_t nodes = 0;
};

// tree-sitter's error recovery can take minutes on large input that is not
// JavaScript (3 MB of random punctuation: 25 s); each parse gets this much
// CPU time of its thread, 2 s plus 1 s per MB (real bundles parse at 5 MB/s or
// more), after which the module is reported as not parsed and gets the text
// checks only. CPU time, not wall time, so that a loaded machine gives the
// same report (wall time is capped too, at 20 times the budget).
uint64_t DefaultParseBudgetMicros(size_t bytes);

// Decodes the escapes of a JavaScript string body (without its quotes) to
// UTF-8; *escaped_non_ascii is set when an escape produced a non-ASCII code
// point.
std::string DecodeJsEscapes(std::string_view raw, bool* escaped_non_ascii);

// Installs the audit's tree-sitter allocator (idempotent). Call before
// creating any parser of your own in this component.
void UseTreeSitterAllocator();

// Parses `text` (UTF-8 JavaScript) once and gathers the facts. Never fails:
// syntax errors leave error nodes that are skipped (has_syntax_errors says so);
// a parse over its budget (0: DefaultParseBudgetMicros(text.size())) leaves
// no facts and not_parsed says why.
JsFacts GatherFacts(std::string_view text, const AuditRules& rules,
                    uint64_t parse_budget_micros = 0);

}  // namespace glassbox::audit::internal
