// JsEvaluator: a bounded, side-effect-free evaluator for the small functions
// that agents use to hide strings (base64, hex, char codes, XOR / add /
// rotate with a key, split / join / reverse / map / reduce, memoising
// thunks). It evaluates one expression of a module — a call site whose
// arguments are constants — and resolves the free names it meets through a
// Resolver that the caller backs with the module's declarations (constant
// propagation: module constants, default parameters, closures, object
// properties, memo wrappers).
//
// Safety: nothing from the host is reachable. The only globals are an
// allow-list of pure built-ins (String.fromCharCode, atob, Buffer.from,
// parseInt, Math.*, JSON.parse, …); the syntax it understands is an
// allow-list too (no `this`, classes, generators, async, getters, eval or
// dynamic import): anything else stops the evaluation with no result. Every
// evaluation has a step limit, a memory limit (string code units plus array
// elements allocated) and a call-depth limit, so hostile code ends in bounded
// time and memory. No I/O, no clocks, no randomness.
//
// Internal to the audit component. One JsEvaluator per module and thread;
// it caches the compiled form of each snippet it was given.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/js_facts.h"

namespace glassbox::audit::internal {

struct EvalLimits {
  uint64_t max_steps = 200'000;   // nodes evaluated per call site
  uint64_t max_units = 1u << 20;  // string code units + array elements allocated per call site
  uint32_t max_depth = 48;        // nested calls
};

// Where a free name is declared: the source range of its value (an
// expression, or a whole function declaration) and the function it is
// declared in (kNone at module level), whose scope resolves the value's own
// free names. `parameter` >= 0 when the name is the n-th parameter of `func`'s
// function with a constant default; then `value` is the default.
struct Declaration {
  Range value;
  uint32_t func = kNone;
  bool is_function_declaration = false;  // `value` is `function f(){…}`
};
using Resolver =
    std::function<std::optional<Declaration>(std::string_view name, uint32_t use_func)>;

// What an evaluation produced.
struct EvalResult {
  bool is_list = false;
  std::string text;                // UTF-8, when !is_list
  std::vector<std::string> items;  // UTF-8, when is_list (arrays of strings)
  // Free names resolved on the way, in first-use order, with the offset of
  // their declaration: the decoder, its key, the encoded constant…
  std::vector<std::pair<std::string, uint32_t>> used;
  uint64_t steps = 0;
  // Operations that turn data into other text: fromCharCode, charCodeAt,
  // atob, Buffer.from(…, "base64" | "hex" | …), XOR, reverse, parseInt with
  // a radix, decodeURIComponent, TextDecoder. A result built with none of
  // them (plain concatenation of literals) hides nothing.
  uint64_t decoding_ops = 0;
};

class JsEvaluator {
 public:
  JsEvaluator(std::string_view module_text, Resolver resolver);
  ~JsEvaluator();
  JsEvaluator(const JsEvaluator&) = delete;
  JsEvaluator& operator=(const JsEvaluator&) = delete;

  // Evaluates module_text[expr] as an expression in the scope of `func`.
  // nullopt when it uses anything outside the allow-list, hits a limit, or
  // yields neither a string nor an array of strings.
  std::optional<EvalResult> Evaluate(Range expr, uint32_t func, const EvalLimits& limits = {});

  // Steps the last evaluation took, also when it gave no result.
  uint64_t last_steps() const;

  // Evaluates a standalone snippet (tests): free names go to the resolver.
  std::optional<EvalResult> EvaluateSource(std::string_view source, const EvalLimits& limits = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace glassbox::audit::internal
