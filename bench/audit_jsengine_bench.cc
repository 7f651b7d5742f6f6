// Issue 14, item 1: glassbox's decoder evaluator (src/audit/js_eval.h, a
// bounded evaluator over the tree-sitter tree) against an embedded
// JavaScript engine that Debian ships (Duktape 2.7, duktape-dev), on the
// decoder call sites of a real bundle: time and agreement.
//
// Usage: audit_jsengine_bench TARGET NAME [NAME...]
//   TARGET is anything `glassbox audit` opens (a .js file, an npm tarball, a
//   Bun executable); every JavaScript module that calls NAME(…) is used.
//   Each call NAME(…) whose arguments are constants is evaluated by both:
//   glassbox's evaluator resolves its free names through the module's
//   declarations; Duktape is given the same declarations (those the
//   evaluator used, as `var x = …;` / `function f(){…}` in source order) and
//   then the call's text. Not part of the product: a measurement.
// Built only when duktape-dev is installed (scripts/bootstrap.sh --bench);
// without it, it says so and exits 0.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "audit/analysis.h"
#include "audit/audit_rules.h"
#include "audit/js_eval.h"
#include "audit/js_facts.h"
#include "audit/unpack.h"

#if GLASSBOX_HAVE_DUKTAPE
#include <duktape.h>
#endif

namespace {

using glassbox::audit::internal::CallFact;
using glassbox::audit::internal::Declaration;
using glassbox::audit::internal::JsFacts;
using glassbox::audit::internal::kNone;
using glassbox::audit::internal::Range;

// CPU time of this thread, in seconds (the machine may be shared).
double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Names declared per scope (function index, kNone for the module): the
// nearest enclosing scope that declares a name wins, as in the audit.
class ScopeResolver {
 public:
  explicit ScopeResolver(const JsFacts& facts) : facts_(facts) {
    for (const auto& d : facts.decls)
      by_name_[d.name].push_back({d.func, Declaration{d.value, d.func, false}});
    for (uint32_t f = 0; f < facts.functions.size(); ++f) {
      const auto& fn = facts.functions[f];
      if (fn.declaration && !fn.name.empty()) {
        by_name_[fn.name].push_back({fn.parent, Declaration{fn.range, fn.parent, true}});
      }
    }
  }
  // The declaration whose value starts at `offset` (what EvalResult::used names).
  std::optional<Declaration> At(uint32_t offset) const {
    for (const auto& [name, entries] : by_name_) {
      for (const auto& [scope, d] : entries) {
        if (d.value.begin == offset) return d;
      }
    }
    return std::nullopt;
  }
  std::optional<Declaration> operator()(std::string_view name, uint32_t use_func) const {
    const auto it = by_name_.find(std::string(name));
    if (it == by_name_.end()) return std::nullopt;
    for (uint32_t scope = use_func;; scope = facts_.functions[scope].parent) {
      for (const auto& [s, d] : it->second) {
        if (s == scope) return d;
      }
      if (scope == kNone) return std::nullopt;
    }
  }

 private:
  const JsFacts& facts_;
  std::unordered_map<std::string, std::vector<std::pair<uint32_t, Declaration>>> by_name_;
};

struct Tally {
  size_t calls = 0, results = 0, agree = 0, engine_errors = 0;
  double ours_s = 0, engine_s = 0;
  std::string first_engine_error;
};

#if GLASSBOX_HAVE_DUKTAPE
// One Duktape heap per module: the declarations, then each call. Returns
// the call's string value, or nullopt with *error set.
class Duktape {
 public:
  Duktape() : ctx_(duk_create_heap_default()) {}
  ~Duktape() { duk_destroy_heap(ctx_); }
  Duktape(const Duktape&) = delete;
  Duktape& operator=(const Duktape&) = delete;
  bool Define(const std::string& source, std::string* error) {
    if (duk_peval_lstring(ctx_, source.data(), source.size()) != 0) {
      *error = duk_safe_to_string(ctx_, -1);
      duk_pop(ctx_);
      return false;
    }
    duk_pop(ctx_);
    return true;
  }
  // The call's value as a string; an array as its items joined by "\n".
  std::optional<std::string> Call(std::string_view call, std::string* error) {
    const std::string wrapped = fmt::format(
        "(function(){{var r = ({}); return Array.isArray(r) ? r.join(\"\\n\") : String(r);}})()",
        call);
    if (duk_peval_lstring(ctx_, wrapped.data(), wrapped.size()) != 0) {
      *error = duk_safe_to_string(ctx_, -1);
      duk_pop(ctx_);
      return std::nullopt;
    }
    std::string out = duk_safe_to_string(ctx_, -1);
    duk_pop(ctx_);
    return out;
  }

 private:
  duk_context* ctx_;
};
#endif

void RunModule(std::string_view text, const std::set<std::string>& names,
               const glassbox::audit::AuditRules& rules, std::map<std::string, Tally>* tallies) {
  const JsFacts facts = glassbox::audit::internal::GatherFacts(text, rules);
  const ScopeResolver resolver(facts);
  glassbox::audit::internal::JsEvaluator evaluator(
      text, [&](std::string_view n, uint32_t f) { return resolver(n, f); });
  std::vector<const CallFact*> calls;
  for (const CallFact& c : facts.calls) {
    if (names.count(std::string(text.substr(c.callee.begin, c.callee.end - c.callee.begin))))
      calls.push_back(&c);
  }
  if (calls.empty()) return;
  // Ours: every call, timed together.
  std::vector<std::optional<glassbox::audit::internal::EvalResult>> ours(calls.size());
  const double t0 = CpuSeconds();
  for (size_t i = 0; i < calls.size(); ++i)
    ours[i] = evaluator.Evaluate(calls[i]->range, calls[i]->func);
  const double ours_s = CpuSeconds() - t0;
  // The declarations the evaluator resolved, in source order, for the engine.
  std::map<uint32_t, std::string> definitions;
  for (const auto& r : ours) {
    if (!r) continue;
    for (const auto& [name, offset] : r->used) {
      if (definitions.count(offset)) continue;
      const auto d = resolver.At(offset);
      if (!d) continue;
      const std::string_view value = text.substr(d->value.begin, d->value.end - d->value.begin);
      definitions[offset] = d->is_function_declaration ? std::string(value)
                                                       : fmt::format("var {} = {};", name, value);
    }
  }
  for (size_t i = 0; i < calls.size(); ++i) {
    const std::string name(
        text.substr(calls[i]->callee.begin, calls[i]->callee.end - calls[i]->callee.begin));
    Tally& t = (*tallies)[name];
    ++t.calls;
    t.results += ours[i].has_value();
    t.ours_s += ours_s / static_cast<double>(calls.size());
  }
#if GLASSBOX_HAVE_DUKTAPE
  Duktape duk;
  std::string error;
  const double t1 = CpuSeconds();
  bool defined = true;
  for (const auto& [offset, source] : definitions) {
    if (!duk.Define(source, &error)) {
      defined = false;
      break;
    }
  }
  for (size_t i = 0; i < calls.size(); ++i) {
    const std::string name(
        text.substr(calls[i]->callee.begin, calls[i]->callee.end - calls[i]->callee.begin));
    Tally& t = (*tallies)[name];
    std::optional<std::string> got;
    std::string call_error = error;
    if (defined)
      got =
          duk.Call(text.substr(calls[i]->range.begin, calls[i]->range.end - calls[i]->range.begin),
                   &call_error);
    if (!got) {
      ++t.engine_errors;
      if (t.first_engine_error.empty()) t.first_engine_error = call_error.substr(0, 160);
      continue;
    }
    if (ours[i]) {
      std::string mine = ours[i]->text;
      if (ours[i]->is_list) {
        mine.clear();
        for (size_t k = 0; k < ours[i]->items.size(); ++k)
          mine += (k ? "\n" : "") + ours[i]->items[k];
      }
      t.agree += mine == *got;
    }
  }
  const double engine_s = CpuSeconds() - t1;
  for (auto& [name, t] : *tallies) t.engine_s += engine_s / static_cast<double>(tallies->size());
#else
  (void)definitions;
#endif
}

}  // namespace

int main(int argc, char** argv) {
#if !GLASSBOX_HAVE_DUKTAPE
  (void)argc;
  (void)argv;
  std::fprintf(stderr,
               "audit_jsengine_bench: built without Duktape (duktape-dev is not installed: run "
               "scripts/bootstrap.sh --bench, then reconfigure); skipped\n");
  return 0;
#else
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TARGET NAME [NAME...]\n", argv[0]);
    return 2;
  }
  auto rules = glassbox::audit::BuiltinAuditRules();
  if (!rules.ok()) {
    std::fprintf(stderr, "audit_jsengine_bench: %s\n", rules.status().message().c_str());
    return 2;
  }
  auto unpacked = glassbox::audit::Unpack(argv[1]);
  if (!unpacked.ok()) {
    std::fprintf(stderr, "audit_jsengine_bench: %s: %s\n", argv[1],
                 unpacked.status().message().c_str());
    return 2;
  }
  std::set<std::string> names(argv + 2, argv + argc);
  std::map<std::string, Tally> tallies;
  for (const auto& m : unpacked->modules) {
    if (glassbox::audit::LanguageOfPath(m.path) != glassbox::audit::ModuleLanguage::kJavaScript)
      continue;
    bool calls = false;
    for (const std::string& n : names) calls |= m.text.find(n + "(") != std::string::npos;
    if (calls) RunModule(m.text, names, *rules, &tallies);
  }
  std::printf(
      "| decoder | calls | glassbox: results | glassbox CPU s | Duktape %ld.%ld.%ld: agree | "
      "Duktape errors | Duktape CPU s | first Duktape error |\n",
      DUK_VERSION / 10000L, DUK_VERSION / 100L % 100L, DUK_VERSION % 100L);
  std::printf("|---|---:|---:|---:|---:|---:|---:|---|\n");
  for (const auto& [name, t] : tallies) {
    std::printf("| %s | %zu | %zu | %.3f | %zu | %zu | %.3f | %s |\n", name.c_str(), t.calls,
                t.results, t.ours_s, t.agree, t.engine_errors, t.engine_s,
                t.first_engine_error.c_str());
  }
  return 0;
#endif
}
