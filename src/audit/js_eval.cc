// The evaluator behind JsEvaluator (js_eval.h). A snippet is parsed with
// tree-sitter once, compiled into a small tree of Nodes by js_eval_compile.cc
// (only the syntax on the allow-list; anything else makes the snippet
// unusable), and interpreted here over values that live in a per-evaluation
// heap, freed when the evaluation ends. The built-ins are tables: String and
// Array methods by name, callable globals by Native, static members by owner
// and name. Errors inside are C++ exceptions of two private types that never
// leave this file: Stop (limit reached, unknown syntax or name: no result)
// and Thrown (a JavaScript `throw`, which try/catch may handle).
#include "audit/js_eval.h"

#include <fmt/format.h>
#include <re2/re2.h>
#include <tree_sitter/api.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <unordered_map>

#include "audit/js_eval_internal.h"
#include "core/utf.h"

// The grammar's C entry point: its name is fixed by tree-sitter's generated parser.
extern "C" const TSLanguage* tree_sitter_javascript(void);  // NOLINT(readability-identifier-naming)

namespace glassbox::audit::internal {
namespace js_eval {
namespace {

// ------------------------------------------------------------------ values --

struct Arr;
struct Obj;
struct Fn;
struct Scope;

enum class Native : uint8_t {
  kNone,
  kString,
  kFromCharCode,
  kFromCodePoint,
  kAtob,
  kBtoa,
  kParseInt,
  kParseFloat,
  kNumber,
  kBoolean,
  kBuffer,
  kBufferFrom,
  kBufferAlloc,
  kMath,
  kMathFloor,
  kMathCeil,
  kMathRound,
  kMathAbs,
  kMathMin,
  kMathMax,
  kMathPow,
  kMathTrunc,
  kArray,
  kArrayFrom,
  kArrayIsArray,
  kArrayOf,
  kJson,
  kJsonParse,
  kJsonStringify,
  kDecodeUri,
  kEncodeUri,
  kUnescape,
  kEscape,
  kTextDecoder,
  kTextDecoderInstance,
  kTextEncoder,
  kTextEncoderInstance,
  kUint8Array,
  kObject,
  kObjectKeys,
  kObjectValues,
  kObjectEntries,
  kObjectAssign,
  kObjectFreeze,
  kCount,  // the number of kinds, not one
};

struct Val {
  enum T : uint8_t { kUndef, kNull, kBool, kNum, kStr, kArr, kObj, kFn, kNative, kRegex, kPoison };
  T t = kUndef;
  bool b = false;
  Native native = Native::kNone;
  double n = 0;
  // Strings are immutable and shared: a copy of a value (every variable
  // read) costs a reference count, not a copy of the text.
  std::shared_ptr<const std::u16string> sp;
  void* p = nullptr;  // Arr*, Obj*, Fn*, or the regex Node*

  const std::u16string& s() const {
    static const std::u16string kEmpty;
    return sp ? *sp : kEmpty;
  }

  static Val Num(double v) {
    Val x;
    x.t = kNum;
    x.n = v;
    return x;
  }
  static Val Str(std::u16string v) {
    Val x;
    x.t = kStr;
    x.sp = std::make_shared<std::u16string>(std::move(v));
    return x;
  }
  static Val Bool(bool v) {
    Val x;
    x.t = kBool;
    x.b = v;
    return x;
  }
  static Val Nat(Native v) {
    Val x;
    x.t = kNative;
    x.native = v;
    return x;
  }
  Arr* arr() const { return static_cast<Arr*>(p); }
  Obj* obj() const { return static_cast<Obj*>(p); }
  Fn* fn() const { return static_cast<Fn*>(p); }
};

struct Arr {
  std::vector<Val> v;
  bool bytes = false;  // a Buffer / Uint8Array: elements are 0..255
};
struct Obj {
  std::vector<std::pair<std::u16string, Val>> props;
  Val* Find(std::u16string_view key) {
    for (auto& [k, v] : props) {
      if (k == key) return &v;
    }
    return nullptr;
  }
};
struct Scope {
  std::vector<std::pair<std::string, Val>> vars;
  Scope* parent = nullptr;
  uint32_t func = kNone;  // for a root scope: the module function whose names it resolves
  bool root = false;
  Val* Find(std::string_view name) {
    for (auto& [k, v] : vars) {
      if (k == name) return &v;
    }
    return nullptr;
  }
};
struct Fn {
  const Node* node;
  Scope* scope;
};

struct Stop {};
struct Thrown {
  Val value;
};

enum class Flow : uint8_t { kNormal, kReturn, kBreak, kContinue };

const std::unordered_map<std::string_view, Native>& Globals() {
  static const auto* g = new std::unordered_map<std::string_view, Native>{
      {"String", Native::kString},
      {"atob", Native::kAtob},
      {"btoa", Native::kBtoa},
      {"parseInt", Native::kParseInt},
      {"parseFloat", Native::kParseFloat},
      {"Number", Native::kNumber},
      {"Boolean", Native::kBoolean},
      {"Buffer", Native::kBuffer},
      {"Math", Native::kMath},
      {"Array", Native::kArray},
      {"JSON", Native::kJson},
      {"decodeURIComponent", Native::kDecodeUri},
      {"decodeURI", Native::kDecodeUri},
      {"encodeURIComponent", Native::kEncodeUri},
      {"unescape", Native::kUnescape},
      {"escape", Native::kEscape},
      {"TextDecoder", Native::kTextDecoder},
      {"TextEncoder", Native::kTextEncoder},
      {"Uint8Array", Native::kUint8Array},
      {"Object", Native::kObject},
  };
  return *g;
}

int B64Value(char16_t c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

// Node's lenient base64: characters outside the alphabet are skipped.
std::vector<uint8_t> Base64Bytes(std::u16string_view s) {
  std::vector<uint8_t> out;
  uint32_t acc = 0;
  int bits = 0;
  for (char16_t c : s) {
    if (c == '=') break;
    const int v = B64Value(c);
    if (v < 0) continue;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
    }
  }
  return out;
}

std::u16string Base64Encode(const std::vector<uint8_t>& bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::u16string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const uint32_t n = (uint32_t{bytes[i]} << 16) |
                       (i + 1 < bytes.size() ? uint32_t{bytes[i + 1]} << 8 : 0) |
                       (i + 2 < bytes.size() ? bytes[i + 2] : 0);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back(i + 2 < bytes.size() ? kAlphabet[n & 63] : '=');
  }
  return out;
}

std::u16string Utf8BytesTo16(const std::vector<uint8_t>& b) {
  return Utf8To16(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
}

std::string NumberToString(double v, int radix = 10) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (radix != 10) {
    if (v != std::trunc(v) || std::fabs(v) > 9e15) return fmt::format("{}", v);
    int64_t i = static_cast<int64_t>(v);
    const bool neg = i < 0;
    uint64_t u = neg ? static_cast<uint64_t>(-i) : static_cast<uint64_t>(i);
    std::string out;
    do {
      out.push_back("0123456789abcdefghijklmnopqrstuvwxyz"[u % radix]);
      u /= radix;
    } while (u != 0);
    if (neg) out.push_back('-');
    std::reverse(out.begin(), out.end());
    return out;
  }
  if (v == std::trunc(v) && std::fabs(v) < 1e21) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

int32_t ToInt32(double v) {
  if (!std::isfinite(v)) return 0;
  double m = std::fmod(std::trunc(v), 4294967296.0);
  if (m < 0) m += 4294967296.0;
  return static_cast<int32_t>(static_cast<uint32_t>(m));
}
uint32_t ToUint32(double v) { return static_cast<uint32_t>(ToInt32(v)); }

// ------------------------------------------------------------- interpreter --

class Machine {
 public:
  Machine(JsEvaluator* owner, const EvalLimits& limits,
          const std::function<const Node*(Range, bool)>& compile, const Resolver& resolver,
          EvalResult* result)
      : limits_(limits), compile_(compile), resolver_(resolver), result_(*result) {
    (void)owner;
  }

  Scope* Root(uint32_t func) {
    auto it = roots_.find(func);
    if (it != roots_.end()) return it->second;
    Scope* s = NewScope(nullptr);
    s->root = true;
    s->func = func;
    roots_[func] = s;
    return s;
  }

  Val Eval(const Node* n, Scope* sc) {
    Step();
    switch (n->kind) {
      case N::kNum:
        return Val::Num(n->num);
      case N::kStr:
        return Val::Str(n->str);
      case N::kBool:
        return Val::Bool(n->flag);
      case N::kUndef:
        return Val{};
      case N::kNull:
        return Null();
      case N::kTemplate:
        return EvalTemplate(n, sc);
      case N::kIdent:
        return Lookup(n->op, sc);
      case N::kArray:
        return EvalArray(n, sc);
      case N::kObject:
        return EvalObject(n, sc);
      case N::kMember:
        return EvalMember(n, sc);
      case N::kIndex:
        return EvalIndex(n, sc);
      case N::kCall:
        return Call(n, sc);
      case N::kNew:
        return New(n, sc);
      case N::kSpread:
        throw Stop{};
      case N::kLogical:
        return EvalLogical(n, sc);
      case N::kBinary: {
        Val l = Eval(n->kids[0], sc);
        return Binary(n->bin, l, Eval(n->kids[1], sc));
      }
      case N::kUnary:
        return EvalUnary(n, sc);
      case N::kUpdate:
        return EvalUpdate(n, sc);
      case N::kAssign:
        return EvalAssign(n, sc);
      case N::kCond:
        return Truthy(Eval(n->kids[0], sc)) ? Eval(n->kids[1], sc) : Eval(n->kids[2], sc);
      case N::kSeq: {
        Val v;
        for (const Node* k : n->kids) v = Eval(k, sc);
        return v;
      }
      case N::kFunc:
        return Ref(Val::kFn, NewFn(n, sc));
      case N::kRegex:
        return Ref(Val::kRegex, const_cast<Node*>(n));
      default:
        throw Stop{};
    }
  }

  // Runs a statement; the value of `return` goes to ret_.
  Flow Exec(const Node* n, Scope* sc) {
    Step();
    switch (n->kind) {
      case N::kBlock:
        return ExecBlock(n, sc);
      case N::kExpr:
        last_ = Val{};  // let go of the previous value first: `s += c` then appends in place
        last_ = Eval(n->kids[0], sc);
        return Flow::kNormal;
      case N::kEmpty:
        return Flow::kNormal;
      case N::kFunc:
        if (n->decl && !n->op.empty()) {
          Declare(sc, n->op, Eval(n, sc));
          return Flow::kNormal;
        }
        last_ = Eval(n, sc);
        return Flow::kNormal;
      case N::kVar:
        for (size_t i = 0; i < n->names.size(); ++i) {
          Declare(sc, n->names[i], n->inits[i] == nullptr ? Val{} : Eval(n->inits[i], sc));
        }
        return Flow::kNormal;
      case N::kIf:
        if (Truthy(Eval(n->kids[0], sc))) return Exec(n->kids[1], sc);
        return n->kids[2] == nullptr ? Flow::kNormal : Exec(n->kids[2], sc);
      case N::kFor:
        return ExecFor(n, sc);
      case N::kForOf:
        return ExecForOf(n, sc);
      case N::kWhile:
        return ExecWhile(n, sc);
      case N::kDo:
        return ExecDo(n, sc);
      case N::kReturn:
        ret_ = n->kids[0] == nullptr ? Val{} : Eval(n->kids[0], sc);
        return Flow::kReturn;
      case N::kBreak:
        return Flow::kBreak;
      case N::kContinue:
        return Flow::kContinue;
      case N::kThrow:
        throw Thrown{Eval(n->kids[0], sc)};
      case N::kTry:
        return ExecTry(n, sc);
      default:
        last_ = Eval(n, sc);
        return Flow::kNormal;
    }
  }

  Val CallValue(const Val& f, std::vector<Val> args) {
    if (f.t == Val::kNative) return CallNative(f.native, args);
    if (f.t != Val::kFn) throw Stop{};
    if (++depth_ > limits_.max_depth) throw Stop{};
    const Node* fn = f.fn()->node;
    Scope* sc = NewScope(f.fn()->scope);
    if (!fn->op.empty() && !fn->decl) Declare(sc, fn->op, f);
    for (size_t i = 0; i < fn->names.size(); ++i) {
      if (static_cast<int>(i) == fn->rest) {
        Arr* a = NewArr();
        for (size_t j = i; j < args.size(); ++j) a->v.push_back(args[j]);
        Declare(sc, fn->names[i], ArrVal(a));
        continue;
      }
      Val v = i < args.size() ? args[i] : Val{};
      if (v.t == Val::kUndef && fn->inits[i] != nullptr) v = Eval(fn->inits[i], sc);
      Declare(sc, fn->names[i], std::move(v));
    }
    Val out;
    if (fn->flag) {
      out = Eval(fn->kids[0], sc);
    } else if (Exec(fn->kids[0], sc) == Flow::kReturn) {
      out = std::move(ret_);
      ret_ = Val{};
    }
    --depth_;
    return out;
  }

  Val last_;
  uint64_t steps() const { return steps_; }
  uint64_t decoding_ops() const { return decoding_ops_; }

 private:
  void Step() {
    if (++steps_ > limits_.max_steps) throw Stop{};
  }
  void Units(size_t n) {
    units_ += n;
    if (units_ > limits_.max_units) throw Stop{};
  }
  bool Exhausted() const { return steps_ > limits_.max_steps || units_ > limits_.max_units; }

  // ------------------------------------------------------ expressions --

  static Val Null() {
    Val v;
    v.t = Val::kNull;
    return v;
  }
  // A value that refers to heap data: an object, a function, a regex node.
  static Val Ref(Val::T t, void* p) {
    Val v;
    v.t = t;
    v.p = p;
    return v;
  }
  static bool IsNullish(const Val& v) { return v.t == Val::kUndef || v.t == Val::kNull; }

  Val EvalTemplate(const Node* n, Scope* sc) {
    std::u16string out = n->strs[0];
    for (size_t i = 0; i < n->kids.size(); ++i) {
      out += ToStr(Eval(n->kids[i], sc));
      out += n->strs[i + 1];
    }
    Units(out.size());
    return Val::Str(std::move(out));
  }

  Val EvalArray(const Node* n, Scope* sc) {
    Arr* a = NewArr();
    for (const Node* k : n->kids) {
      if (k->kind == N::kSpread) {
        Val v = Eval(k->kids[0], sc);
        for (Val& e : Iterate(v)) a->v.push_back(std::move(e));
      } else {
        a->v.push_back(Eval(k, sc));
      }
    }
    Units(a->v.size());
    return ArrVal(a);
  }

  Val EvalObject(const Node* n, Scope* sc) {
    Obj* o = NewObj();
    for (size_t i = 0; i < n->kids.size(); ++i) {
      Val v = EvalProperty(n->kids[i], sc);
      if (Val* existing = o->Find(n->strs[i])) {
        *existing = std::move(v);
      } else {
        o->props.emplace_back(n->strs[i], std::move(v));
      }
    }
    return Ref(Val::kObj, o);
  }

  // A property that cannot be evaluated poisons only itself: the object's
  // other properties stay usable (`{key:"k3y", env:process.env.X}`).
  Val EvalProperty(const Node* value, Scope* sc) {
    try {
      return Eval(value, sc);
    } catch (const Stop&) {
      if (Exhausted()) throw;
      Val v;
      v.t = Val::kPoison;
      return v;
    }
  }

  Val EvalMember(const Node* n, Scope* sc) {
    Val obj = Eval(n->kids[0], sc);
    if (n->flag && IsNullish(obj)) return Val{};
    return Get(obj, n->str);
  }

  Val EvalIndex(const Node* n, Scope* sc) {
    Val obj = Eval(n->kids[0], sc);
    if (n->flag && IsNullish(obj)) return Val{};
    Val key = Eval(n->kids[1], sc);
    return GetIndex(obj, key);
  }

  Val EvalLogical(const Node* n, Scope* sc) {
    Val l = Eval(n->kids[0], sc);
    if (n->op == "&&") return Truthy(l) ? Eval(n->kids[1], sc) : l;
    if (n->op == "||") return Truthy(l) ? l : Eval(n->kids[1], sc);
    return IsNullish(l) ? Eval(n->kids[1], sc) : l;
  }

  Val EvalUnary(const Node* n, Scope* sc) {
    const std::string& op = n->op;
    if (op == "typeof") return EvalTypeof(n->kids[0], sc);
    Val v = Eval(n->kids[0], sc);
    if (op == "!") return Val::Bool(!Truthy(v));
    if (op == "-") return Val::Num(-ToNum(v));
    if (op == "+") return Val::Num(ToNum(v));
    if (op == "~") return Val::Num(~ToInt32(ToNum(v)));
    if (op == "void") return Val{};
    throw Stop{};
  }

  // `typeof x` of a name that cannot be evaluated is "undefined", as for an undeclared name.
  Val EvalTypeof(const Node* arg, Scope* sc) {
    Val v;
    try {
      v = Eval(arg, sc);
    } catch (const Stop&) {
      if (Exhausted()) throw;
      return Val::Str(u"undefined");
    }
    return Val::Str(TypeOf(v));
  }

  Val EvalUpdate(const Node* n, Scope* sc) {
    const double old = ToNum(Eval(n->kids[0], sc));
    const double now = n->op == "++" ? old + 1 : old - 1;
    Assign(n->kids[0], Val::Num(now), sc);
    return Val::Num(n->flag ? now : old);
  }

  Val EvalAssign(const Node* n, Scope* sc) {
    const std::string& op = n->op;
    if (op == "=") return AssignValue(n, sc);
    Val cur = Eval(n->kids[0], sc);
    if (op == "?\?=" || op == "||=" || op == "&&=") {
      const bool assign = op == "?\?=" ? IsNullish(cur) : op == "||=" ? !Truthy(cur) : Truthy(cur);
      return assign ? AssignValue(n, sc) : cur;
    }
    Val rhs = Eval(n->kids[1], sc);
    if (n->bin == Op::kAdd && cur.t == Val::kStr && n->kids[0]->kind == N::kIdent &&
        (rhs.t == Val::kStr || rhs.t == Val::kNum)) {
      if (std::optional<Val> appended = AppendInPlace(n->kids[0]->op, sc, &cur, rhs))
        return *appended;
    }
    Val v = Binary(n->bin, cur, rhs);
    Assign(n->kids[0], v, sc);
    return v;
  }

  // `target = value`: kids[0] is the target, kids[1] the value.
  Val AssignValue(const Node* n, Scope* sc) {
    Val v = Eval(n->kids[1], sc);
    Assign(n->kids[0], v, sc);
    return v;
  }

  // `s += c` in a loop is how decoders build their text: appended in place when
  // the variable holds the only reference, so that it costs (and is charged) the
  // appended units, not a copy per step. `*cur` is the variable's value read
  // before; it lets go of its reference here. nullopt when not appended.
  std::optional<Val> AppendInPlace(const std::string& name, Scope* sc, Val* cur, const Val& rhs) {
    Val* slot = LocalSlot(name, sc);
    if (slot == nullptr || slot->t != Val::kStr || slot->sp != cur->sp) return std::nullopt;
    *cur = Val{};
    if (slot->sp.use_count() == 1) {
      const std::u16string tail = ToStr(rhs);
      Units(tail.size());
      // Strings are created non-const (Val::Str): the cast is sound.
      const_cast<std::u16string&>(*slot->sp) += tail;
      return *slot;
    }
    *cur = *slot;
    return std::nullopt;
  }

  // ------------------------------------------------------- statements --

  Flow ExecBlock(const Node* n, Scope* sc) {
    Scope* inner = NewScope(sc);
    Hoist(n, inner);
    for (const Node* k : n->kids) {
      if (k->kind == N::kFunc && k->decl) continue;
      Flow f = Exec(k, inner);
      if (f != Flow::kNormal) return f;
    }
    return Flow::kNormal;
  }

  // kids: initializer, condition, increment (each may be nullptr), body.
  Flow ExecFor(const Node* n, Scope* sc) {
    Scope* loop = NewScope(sc);
    if (const Node* init = n->kids[0]; init != nullptr) {
      if (init->kind == N::kVar) {
        Exec(init, loop);
      } else {
        Eval(init->kind == N::kExpr ? init->kids[0] : init, loop);
      }
    }
    for (;;) {
      if (const Node* cond = n->kids[1]; cond != nullptr) {
        if (!Truthy(Eval(cond->kind == N::kExpr ? cond->kids[0] : cond, loop))) break;
      }
      Flow f = Exec(n->kids[3], loop);
      if (f == Flow::kReturn) return f;
      if (f == Flow::kBreak) break;
      if (n->kids[2] != nullptr) Eval(n->kids[2], loop);
    }
    return Flow::kNormal;
  }

  // `for (x of …)` over the values, `for (x in …)` over the keys.
  Flow ExecForOf(const Node* n, Scope* sc) {
    Val it = Eval(n->kids[0], sc);
    std::vector<Val> items = n->flag ? Iterate(it) : Keys(it);
    for (Val& v : items) {
      Scope* body = NewScope(sc);
      Declare(body, n->op, std::move(v));
      Flow f = Exec(n->kids[1], body);
      if (f == Flow::kReturn) return f;
      if (f == Flow::kBreak) break;
    }
    return Flow::kNormal;
  }

  // The keys `for … in` visits: indexes of an array or a string, an object's own keys.
  static std::vector<Val> Keys(const Val& it) {
    std::vector<Val> items;
    if (it.t == Val::kArr || it.t == Val::kStr) {
      const size_t len = it.t == Val::kArr ? it.arr()->v.size() : it.s().size();
      for (size_t i = 0; i < len; ++i) items.push_back(Val::Str(Utf8To16(std::to_string(i))));
    } else if (it.t == Val::kObj) {
      for (auto& [k, v] : it.obj()->props) items.push_back(Val::Str(k));
    } else {
      throw Stop{};
    }
    return items;
  }

  Flow ExecWhile(const Node* n, Scope* sc) {
    while (Truthy(Eval(n->kids[0], sc))) {
      Flow f = Exec(n->kids[1], sc);
      if (f == Flow::kReturn) return f;
      if (f == Flow::kBreak) break;
    }
    return Flow::kNormal;
  }

  Flow ExecDo(const Node* n, Scope* sc) {
    do {
      Flow f = Exec(n->kids[0], sc);
      if (f == Flow::kReturn) return f;
      if (f == Flow::kBreak) break;
    } while (Truthy(Eval(n->kids[1], sc)));
    return Flow::kNormal;
  }

  // kids: block, catch block (nullptr: none), finally block (nullptr: none).
  Flow ExecTry(const Node* n, Scope* sc) {
    Flow f = Flow::kNormal;
    try {
      f = Exec(n->kids[0], sc);
    } catch (Thrown& t) {
      if (n->kids[1] == nullptr) throw;
      Scope* h = NewScope(sc);
      if (!n->aux.empty()) Declare(h, n->aux, t.value);
      f = Exec(n->kids[1], h);
    }
    if (n->kids[2] != nullptr) {
      Flow g = Exec(n->kids[2], sc);
      if (g != Flow::kNormal) return g;
    }
    return f;
  }

  Scope* NewScope(Scope* parent) {
    scopes_.push_back(std::make_unique<Scope>());
    scopes_.back()->parent = parent;
    return scopes_.back().get();
  }
  Arr* NewArr() {
    arrs_.push_back(std::make_unique<Arr>());
    return arrs_.back().get();
  }
  Obj* NewObj() {
    objs_.push_back(std::make_unique<Obj>());
    return objs_.back().get();
  }
  Fn* NewFn(const Node* n, Scope* sc) {
    fns_.push_back(std::make_unique<Fn>(Fn{n, sc}));
    return fns_.back().get();
  }
  static Val ArrVal(Arr* a) {
    Val v;
    v.t = Val::kArr;
    v.p = a;
    return v;
  }
  Val Bytes(const std::vector<uint8_t>& b) {
    Arr* a = NewArr();
    a->bytes = true;
    a->v.reserve(b.size());
    for (uint8_t c : b) a->v.push_back(Val::Num(c));
    Units(b.size());
    return ArrVal(a);
  }
  static std::vector<uint8_t> BytesOf(const Val& v) {
    std::vector<uint8_t> out;
    if (v.t != Val::kArr) throw Stop{};
    out.reserve(v.arr()->v.size());
    for (const Val& e : v.arr()->v)
      out.push_back(static_cast<uint8_t>(ToUint32(e.t == Val::kNum ? e.n : 0)));
    return out;
  }

  void Declare(Scope* sc, const std::string& name, Val v) {
    if (Val* existing = sc->Find(name)) {
      *existing = std::move(v);
      return;
    }
    sc->vars.emplace_back(name, std::move(v));
  }

  void Hoist(const Node* block, Scope* sc) {
    for (const Node* k : block->kids) {
      if (k->kind == N::kFunc && k->decl && !k->op.empty()) {
        Val v;
        v.t = Val::kFn;
        v.p = NewFn(k, sc);
        Declare(sc, k->op, v);
      }
    }
  }

  Val Lookup(const std::string& name, Scope* sc) {
    Scope* s = sc;
    for (; s != nullptr; s = s->parent) {
      if (Val* v = s->Find(name)) {
        if (v->t == Val::kPoison) throw Stop{};
        return *v;
      }
      if (s->root) break;
    }
    if (s == nullptr) throw Stop{};
    return Resolve(name, s);
  }

  // A free name: the module's declaration of it, else an allowed built-in.
  Val Resolve(const std::string& name, Scope* root) {
    if (name == "NaN") return Val::Num(std::nan(""));
    if (name == "Infinity") return Val::Num(std::numeric_limits<double>::infinity());
    if (resolving_.size() > 16) throw Stop{};
    for (const auto& r : resolving_) {
      if (r == name) throw Stop{};  // a cycle
    }
    std::optional<Declaration> d = resolver_ ? resolver_(name, root->func) : std::nullopt;
    if (d) {
      const Node* value = compile_(d->value, d->is_function_declaration);
      if (value != nullptr) {
        resolving_.push_back(name);
        Val v;
        bool ok = true;
        try {
          v = Eval(value, Root(d->func));
        } catch (const Stop&) {
          if (Exhausted()) throw;
          ok = false;
        }
        resolving_.pop_back();
        if (ok) {
          if (result_.used.size() < 32) {
            bool seen = false;
            for (const auto& [n, off] : result_.used) seen |= n == name;
            if (!seen) result_.used.emplace_back(name, d->value.begin);
          }
          Declare(root, name, v);
          return v;
        }
      }
    }
    auto it = Globals().find(name);
    if (it == Globals().end()) throw Stop{};
    return Val::Nat(it->second);
  }

  // The slot of a name already bound in this scope chain (no resolution
  // into the module); nullptr otherwise.
  static Val* LocalSlot(const std::string& name, Scope* sc) {
    for (Scope* s = sc; s != nullptr; s = s->parent) {
      if (Val* slot = s->Find(name)) return slot;
      if (s->root) break;
    }
    return nullptr;
  }

  void Assign(const Node* target, Val v, Scope* sc) {
    if (target->kind == N::kIdent) {
      for (Scope* s = sc; s != nullptr; s = s->parent) {
        if (Val* slot = s->Find(target->op)) {
          *slot = std::move(v);
          return;
        }
        if (s->root) {
          Lookup(target->op, s);  // resolves it into the root scope
          *s->Find(target->op) = std::move(v);
          return;
        }
      }
      throw Stop{};
    }
    Val obj = Eval(target->kids[0], sc);
    if (target->kind == N::kMember) {
      SetProp(obj, target->str, std::move(v));
      return;
    }
    Val key = Eval(target->kids[1], sc);
    if (obj.t == Val::kArr && key.t == Val::kNum) {
      const double i = key.n;
      if (i < 0 || i != std::trunc(i) || i > 1e7) throw Stop{};
      auto& vec = obj.arr()->v;
      if (static_cast<size_t>(i) >= vec.size()) {
        if (obj.arr()->bytes) return;  // typed arrays ignore writes past the end
        Units(static_cast<size_t>(i) + 1 - vec.size());
        vec.resize(static_cast<size_t>(i) + 1);
      }
      if (obj.arr()->bytes) v = Val::Num(ToUint32(ToNum(v)) & 0xFF);
      vec[static_cast<size_t>(i)] = std::move(v);
      return;
    }
    SetProp(obj, ToStr(key), std::move(v));
  }

  void SetProp(const Val& obj, const std::u16string& key, Val v) {
    if (obj.t != Val::kObj) throw Stop{};
    if (Val* slot = obj.obj()->Find(key)) {
      *slot = std::move(v);
    } else {
      Units(1);
      obj.obj()->props.emplace_back(key, std::move(v));
    }
  }

  static bool Truthy(const Val& v) {
    switch (v.t) {
      case Val::kUndef:
      case Val::kNull:
        return false;
      case Val::kBool:
        return v.b;
      case Val::kNum:
        return v.n != 0 && !std::isnan(v.n);
      case Val::kStr:
        return !v.s().empty();
      case Val::kPoison:
        throw Stop{};
      default:
        return true;
    }
  }

  static std::u16string TypeOf(const Val& v) {
    switch (v.t) {
      case Val::kUndef:
        return u"undefined";
      case Val::kBool:
        return u"boolean";
      case Val::kNum:
        return u"number";
      case Val::kStr:
        return u"string";
      case Val::kFn:
      case Val::kNative:
        return u"function";
      default:
        return u"object";
    }
  }

  double ToNum(const Val& v) {
    switch (v.t) {
      case Val::kNum:
        return v.n;
      case Val::kBool:
        return v.b ? 1 : 0;
      case Val::kNull:
        return 0;
      case Val::kStr: {
        std::string s = Utf16To8(v.s());
        s.erase(0, s.find_first_not_of(" \t\n\r"));
        s.erase(s.find_last_not_of(" \t\n\r") + 1);
        if (s.empty()) return 0;
        auto n = ParseJsNumber(s);
        return n ? *n : std::nan("");
      }
      case Val::kArr:
        if (v.arr()->v.empty()) return 0;
        if (v.arr()->v.size() == 1) return ToNum(v.arr()->v[0]);
        return std::nan("");
      case Val::kPoison:
        throw Stop{};
      default:
        return std::nan("");
    }
  }

  std::u16string ToStr(const Val& v) {
    switch (v.t) {
      case Val::kStr:
        return v.s();
      case Val::kNum:
        return Utf8To16(NumberToString(v.n));
      case Val::kBool:
        return v.b ? u"true" : u"false";
      case Val::kUndef:
        return u"undefined";
      case Val::kNull:
        return u"null";
      case Val::kArr: {
        if (v.arr()->bytes) return Utf8BytesTo16(BytesOf(v));
        std::u16string out;
        for (size_t i = 0; i < v.arr()->v.size(); ++i) {
          if (i) out += u",";
          const Val& e = v.arr()->v[i];
          if (e.t != Val::kUndef && e.t != Val::kNull) out += ToStr(e);
        }
        Units(out.size());
        return out;
      }
      case Val::kObj:
        return u"[object Object]";
      default:
        throw Stop{};
    }
  }

  Val Binary(Op op, const Val& l, const Val& r) {
    switch (op) {
      case Op::kAdd:
        return Add(l, r);
      case Op::kStrictEq:
      case Op::kEq:
        return Val::Bool(Equal(op == Op::kEq, l, r));
      case Op::kStrictNe:
      case Op::kNe:
        return Val::Bool(!Equal(op == Op::kNe, l, r));
      case Op::kLt:
      case Op::kGt:
      case Op::kLe:
      case Op::kGe:
        return Val::Bool(Compare(op, l, r));
      default: {
        const double a = ToNum(l), b = ToNum(r);
        return Arithmetic(op, a, b);
      }
    }
  }

  // `+`: concatenation when either side is a string, an array or an object; else a sum.
  Val Add(const Val& l, const Val& r) {
    const bool str = l.t == Val::kStr || r.t == Val::kStr || l.t == Val::kArr || r.t == Val::kArr ||
                     l.t == Val::kObj || r.t == Val::kObj;
    if (!str) return Val::Num(ToNum(l) + ToNum(r));
    std::u16string out = ToStr(l);
    out += ToStr(r);
    Units(out.size());
    return Val::Str(std::move(out));
  }

  // `==` (loose) or `===`.
  bool Equal(bool loose, const Val& l, const Val& r) {
    if (loose && IsNullish(l) && IsNullish(r)) return true;
    if (l.t == r.t) return SameTypeEqual(l, r);
    auto primitive = [](const Val& v) {
      return v.t == Val::kNum || v.t == Val::kStr || v.t == Val::kBool;
    };
    return loose && primitive(l) && primitive(r) && ToNum(l) == ToNum(r);
  }

  static bool SameTypeEqual(const Val& l, const Val& r) {
    switch (l.t) {
      case Val::kUndef:
      case Val::kNull:
        return true;
      case Val::kBool:
        return l.b == r.b;
      case Val::kNum:
        return l.n == r.n;
      case Val::kStr:
        return l.s() == r.s();
      case Val::kNative:
        return l.native == r.native;
      default:
        return l.p == r.p;
    }
  }

  // <, >, <=, >=: of code units for two strings, else of numbers.
  bool Compare(Op op, const Val& l, const Val& r) {
    if (l.t == Val::kStr && r.t == Val::kStr) {
      const int c = l.s().compare(r.s());
      return op == Op::kLt ? c < 0 : op == Op::kGt ? c > 0 : op == Op::kLe ? c <= 0 : c >= 0;
    }
    const double a = ToNum(l), b = ToNum(r);
    return op == Op::kLt ? a < b : op == Op::kGt ? a > b : op == Op::kLe ? a <= b : a >= b;
  }

  Val Arithmetic(Op op, double a, double b) {
    switch (op) {
      case Op::kSub:
        return Val::Num(a - b);
      case Op::kMul:
        return Val::Num(a * b);
      case Op::kDiv:
        return Val::Num(a / b);
      case Op::kMod:
        return Val::Num(std::fmod(a, b));
      case Op::kPow:
        return Val::Num(std::pow(a, b));
      case Op::kXor:
        ++decoding_ops_;
        return Val::Num(ToInt32(a) ^ ToInt32(b));
      case Op::kAnd:
        return Val::Num(ToInt32(a) & ToInt32(b));
      case Op::kOr:
        return Val::Num(ToInt32(a) | ToInt32(b));
      case Op::kShl:
        return Val::Num(static_cast<int32_t>(ToUint32(a) << (ToUint32(b) & 31)));
      case Op::kShr:
        return Val::Num(ToInt32(a) >> (ToUint32(b) & 31));
      case Op::kUshr:
        return Val::Num(ToUint32(a) >> (ToUint32(b) & 31));
      default:
        throw Stop{};
    }
  }

  std::vector<Val> Iterate(const Val& v) {
    std::vector<Val> out;
    if (v.t == Val::kArr) return v.arr()->v;
    if (v.t == Val::kStr) {
      for (size_t i = 0; i < v.s().size(); ++i) {
        size_t len = (v.s()[i] >= 0xD800 && v.s()[i] <= 0xDBFF && i + 1 < v.s().size()) ? 2 : 1;
        out.push_back(Val::Str(v.s().substr(i, len)));
        i += len - 1;
      }
      Units(out.size());
      return out;
    }
    throw Stop{};
  }

  static std::optional<size_t> Index(const Val& key) {
    double i = -1;
    if (key.t == Val::kNum) {
      i = key.n;
    } else if (key.t == Val::kStr && !key.s().empty() && key.s().size() < 10 &&
               std::all_of(key.s().begin(), key.s().end(),
                           [](char16_t c) { return c >= '0' && c <= '9'; })) {
      i = std::stod(std::string(key.s().begin(), key.s().end()));
    }
    if (i < 0 || i != std::trunc(i)) return std::nullopt;
    return static_cast<size_t>(i);
  }

  Val GetIndex(const Val& obj, const Val& key) {
    if (obj.t == Val::kArr || obj.t == Val::kStr) {
      if (auto i = Index(key)) {
        if (obj.t == Val::kArr) return *i < obj.arr()->v.size() ? obj.arr()->v[*i] : Val{};
        return *i < obj.s().size() ? Val::Str(std::u16string(1, obj.s()[*i])) : Val{};
      }
    }
    return Get(obj, ToStr(key));
  }

  Val Get(const Val& obj, const std::u16string& key) {
    switch (obj.t) {
      case Val::kStr:
        if (key == u"length") return Val::Num(static_cast<double>(obj.s().size()));
        if (auto i = Index(Val::Str(key)))
          return *i < obj.s().size() ? Val::Str(std::u16string(1, obj.s()[*i])) : Val{};
        return Val{};
      case Val::kArr:
        if (key == u"length") return Val::Num(static_cast<double>(obj.arr()->v.size()));
        if (auto i = Index(Val::Str(key)))
          return *i < obj.arr()->v.size() ? obj.arr()->v[*i] : Val{};
        return Val{};
      case Val::kObj: {
        Val* v = obj.obj()->Find(key);
        if (v == nullptr) return Val{};
        if (v->t == Val::kPoison) throw Stop{};
        return *v;
      }
      case Val::kNative:
        return Val::Nat(StaticMember(obj.native, Utf16To8(key)));
      default:
        throw Stop{};
    }
  }

  // The methods Method() answers for built-in functions and instances.
  static bool IsMethodOfNative(std::string_view name) {
    return name == "call" || name == "apply" || name == "decode" || name == "encode";
  }

  // A member of a built-in namespace or constructor (`String.fromCharCode`, `Math.floor`, …).
  static Native StaticMember(Native owner, std::string_view name) {
    struct Member {
      Native owner;
      std::string_view name;
      Native member;
    };
    static constexpr Member kMembers[] = {
        {Native::kString, "fromCharCode", Native::kFromCharCode},
        {Native::kString, "fromCodePoint", Native::kFromCodePoint},
        {Native::kBuffer, "from", Native::kBufferFrom},
        {Native::kBuffer, "alloc", Native::kBufferAlloc},
        {Native::kUint8Array, "from", Native::kArrayFrom},
        {Native::kMath, "floor", Native::kMathFloor},
        {Native::kMath, "ceil", Native::kMathCeil},
        {Native::kMath, "round", Native::kMathRound},
        {Native::kMath, "abs", Native::kMathAbs},
        {Native::kMath, "min", Native::kMathMin},
        {Native::kMath, "max", Native::kMathMax},
        {Native::kMath, "pow", Native::kMathPow},
        {Native::kMath, "trunc", Native::kMathTrunc},
        {Native::kArray, "from", Native::kArrayFrom},
        {Native::kArray, "isArray", Native::kArrayIsArray},
        {Native::kArray, "of", Native::kArrayOf},
        {Native::kJson, "parse", Native::kJsonParse},
        {Native::kJson, "stringify", Native::kJsonStringify},
        {Native::kObject, "keys", Native::kObjectKeys},
        {Native::kObject, "values", Native::kObjectValues},
        {Native::kObject, "entries", Native::kObjectEntries},
        {Native::kObject, "assign", Native::kObjectAssign},
        {Native::kObject, "freeze", Native::kObjectFreeze},
        {Native::kNumber, "parseInt", Native::kParseInt},
        {Native::kNumber, "parseFloat", Native::kParseFloat},
    };
    for (const Member& m : kMembers) {
      if (m.owner == owner && m.name == name) return m.member;
    }
    throw Stop{};
  }

  std::vector<Val> Args(const Node* n, Scope* sc) {
    std::vector<Val> args;
    for (size_t i = 1; i < n->kids.size(); ++i) {
      const Node* k = n->kids[i];
      if (k->kind == N::kSpread) {
        for (Val& e : Iterate(Eval(k->kids[0], sc))) args.push_back(std::move(e));
      } else {
        args.push_back(Eval(k, sc));
      }
    }
    return args;
  }

  Val New(const Node* n, Scope* sc) {
    Val ctor = Eval(n->kids[0], sc);
    std::vector<Val> args = Args(n, sc);
    if (ctor.t != Val::kNative) throw Stop{};
    switch (ctor.native) {
      case Native::kTextDecoder:
        return Val::Nat(Native::kTextDecoderInstance);
      case Native::kTextEncoder:
        return Val::Nat(Native::kTextEncoderInstance);
      case Native::kUint8Array:
      case Native::kArray: {
        if (!args.empty() && args[0].t == Val::kNum) {
          if (args[0].n < 0 || args[0].n > 1e7) throw Stop{};
          Units(static_cast<size_t>(args[0].n));
          Arr* a = NewArr();
          a->bytes = ctor.native == Native::kUint8Array;
          a->v.assign(static_cast<size_t>(args[0].n), a->bytes ? Val::Num(0) : Val{});
          return ArrVal(a);
        }
        if (ctor.native == Native::kUint8Array && !args.empty()) return Bytes(BytesOf(args[0]));
        Arr* a = NewArr();
        a->v = args;
        return ArrVal(a);
      }
      case Native::kString:
        return Val::Str(args.empty() ? u"" : ToStr(args[0]));
      default:
        throw Stop{};
    }
  }

  Val Call(const Node* n, Scope* sc) {
    const Node* callee = n->kids[0];
    if (callee->kind == N::kMember || callee->kind == N::kIndex) {
      Val obj = Eval(callee->kids[0], sc);
      if (callee->flag && (obj.t == Val::kUndef || obj.t == Val::kNull)) return Val{};
      if (callee->kind == N::kMember) {
        // `String.fromCharCode.apply(null, codes)`, `new TextDecoder().decode(bytes)`: a method of
        // a built-in function or instance, not a member of a namespace.
        if (obj.t == Val::kNative && IsMethodOfNative(callee->op))
          return Method(obj, callee->op, Args(n, sc));
        if (obj.t == Val::kObj || obj.t == Val::kNative) {
          Val f = Get(obj, callee->str);
          if (n->flag && f.t == Val::kUndef) return Val{};
          return CallValue(f, Args(n, sc));
        }
        return Method(obj, callee->op, Args(n, sc));
      }
      const std::u16string name = ToStr(Eval(callee->kids[1], sc));
      if (obj.t == Val::kObj || obj.t == Val::kNative) {
        Val f = Get(obj, name);
        if (n->flag && f.t == Val::kUndef) return Val{};
        return CallValue(f, Args(n, sc));
      }
      return Method(obj, Utf16To8(name), Args(n, sc));
    }
    Val f = Eval(callee, sc);
    if (n->flag && (f.t == Val::kUndef || f.t == Val::kNull)) return Val{};
    return CallValue(f, Args(n, sc));
  }

  double Arg(const std::vector<Val>& a, size_t i, double def) {
    return i < a.size() && a[i].t != Val::kUndef ? ToNum(a[i]) : def;
  }

  // slice-like start/end arguments, clamped.
  static size_t Clamp(double v, size_t len) {
    if (std::isnan(v)) return 0;
    if (v < 0) v = std::max(0.0, static_cast<double>(len) + std::trunc(v));
    return static_cast<size_t>(std::min(std::trunc(v), static_cast<double>(len)));
  }

  Val Method(const Val& self, const std::string& m, std::vector<Val> a) {
    Step();
    if (self.t == Val::kStr) return StringMethod(self.s(), m, a);
    if (self.t == Val::kArr) return ArrayMethod(self, m, a);
    if (self.t == Val::kNum) {
      if (m == "toString")
        return Val::Str(Utf8To16(NumberToString(self.n, static_cast<int>(Arg(a, 0, 10)))));
      if (m == "toFixed" && Arg(a, 0, 0) == 0)
        return Val::Str(Utf8To16(NumberToString(std::round(self.n))));
      throw Stop{};
    }
    if (self.t == Val::kFn || self.t == Val::kNative) {
      if (m == "call") {
        if (!a.empty()) a.erase(a.begin());
        return CallValue(self, std::move(a));
      }
      if (m == "apply") {
        std::vector<Val> args;
        if (a.size() > 1 && a[1].t == Val::kArr) args = a[1].arr()->v;
        return CallValue(self, std::move(args));
      }
      if (self.t == Val::kNative && self.native == Native::kTextDecoderInstance && m == "decode") {
        ++decoding_ops_;
        return Val::Str(Utf8BytesTo16(a.empty() ? std::vector<uint8_t>{} : BytesOf(a[0])));
      }
      if (self.t == Val::kNative && self.native == Native::kTextEncoderInstance && m == "encode") {
        std::string s = a.empty() ? std::string() : Utf16To8(ToStr(a[0]));
        return Bytes(std::vector<uint8_t>(s.begin(), s.end()));
      }
      throw Stop{};
    }
    if (self.t == Val::kRegex && m == "test" && !a.empty()) {
      const Node* re = static_cast<const Node*>(self.p);
      re2::RE2 r(Re2Pattern(re), Re2Options(re));
      if (!r.ok()) throw Stop{};
      return Val::Bool(re2::RE2::PartialMatch(Utf16To8(ToStr(a[0])), r));
    }
    throw Stop{};
  }

  static std::string Re2Pattern(const Node* re) { return re->op; }
  static re2::RE2::Options Re2Options(const Node* re) {
    re2::RE2::Options o;
    o.set_log_errors(false);
    o.set_case_sensitive(re->aux.find('i') == std::string::npos);
    o.set_max_mem(1 << 20);
    return o;
  }

  // ------------------------------------------------------ String methods --

  // The entry of a method table for `name`; a method not in the table stops the evaluation.
  template <typename Fn>
  static Fn MethodNamed(const std::unordered_map<std::string_view, Fn>& table,
                        std::string_view name) {
    auto it = table.find(name);
    if (it == table.end()) throw Stop{};
    return it->second;
  }

  // A method of String.prototype: `m` is its name (one function serves a family).
  using StringFn = Val (Machine::*)(const std::u16string& s, const std::string& m,
                                    std::vector<Val>& a);

  Val StringMethod(const std::u16string& s, const std::string& m, std::vector<Val>& a) {
    static const auto* methods = new std::unordered_map<std::string_view, StringFn>{
        {"charCodeAt", &Machine::StrCharCode},
        {"codePointAt", &Machine::StrCharCode},
        {"charAt", &Machine::StrCharAt},
        {"at", &Machine::StrCharAt},
        {"slice", &Machine::StrSlice},
        {"substring", &Machine::StrSlice},
        {"substr", &Machine::StrSlice},
        {"split", &Machine::StrSplit},
        {"indexOf", &Machine::StrSearch},
        {"lastIndexOf", &Machine::StrSearch},
        {"includes", &Machine::StrSearch},
        {"startsWith", &Machine::StrSearch},
        {"endsWith", &Machine::StrSearch},
        {"replace", &Machine::StrReplace},
        {"replaceAll", &Machine::StrReplace},
        {"toLowerCase", &Machine::StrChangeCase},
        {"toUpperCase", &Machine::StrChangeCase},
        {"trim", &Machine::StrTrim},
        {"trimStart", &Machine::StrTrim},
        {"trimEnd", &Machine::StrTrim},
        {"repeat", &Machine::StrRepeat},
        {"padStart", &Machine::StrPad},
        {"padEnd", &Machine::StrPad},
        {"concat", &Machine::StrConcat},
        {"toString", &Machine::StrItself},
        {"valueOf", &Machine::StrItself},
        {"normalize", &Machine::StrItself},
        {"localeCompare", &Machine::StrLocaleCompare},
    };
    return (this->*MethodNamed(*methods, m))(s, m, a);
  }

  Val StrCharCode(const std::u16string& s, const std::string& m, std::vector<Val>& a) {
    ++decoding_ops_;
    const size_t len = s.size();
    const double i = Arg(a, 0, 0);
    if (i < 0 || i >= static_cast<double>(len) || std::isnan(i)) return Val::Num(std::nan(""));
    const size_t k = static_cast<size_t>(i);
    if (m == "codePointAt" && s[k] >= 0xD800 && s[k] <= 0xDBFF && k + 1 < len &&
        s[k + 1] >= 0xDC00 && s[k + 1] <= 0xDFFF) {
      return Val::Num(0x10000 + ((s[k] - 0xD800) << 10) + (s[k + 1] - 0xDC00));
    }
    return Val::Num(s[k]);
  }

  Val StrCharAt(const std::u16string& s, const std::string& m, std::vector<Val>& a) {
    const size_t len = s.size();
    double i = Arg(a, 0, 0);
    if (m == "at" && i < 0) i += static_cast<double>(len);
    if (i < 0 || i >= static_cast<double>(len)) return m == "at" ? Val{} : Val::Str(u"");
    return Val::Str(std::u16string(1, s[static_cast<size_t>(i)]));
  }

  Val StrSlice(const std::u16string& s, const std::string& m, std::vector<Val>& a) {
    const auto [b, e] = SliceBounds(m, a, s.size());
    if (e <= b) return Val::Str(u"");
    Units(e - b);
    return Val::Str(s.substr(b, e - b));
  }

  // [begin, end) of `slice`, `substring` or `substr` on a string of `len` units.
  std::pair<size_t, size_t> SliceBounds(const std::string& m, const std::vector<Val>& a,
                                        size_t len) {
    if (m == "slice")
      return {Clamp(Arg(a, 0, 0), len), Clamp(Arg(a, 1, static_cast<double>(len)), len)};
    if (m == "substring") {
      double x = std::max(0.0, Arg(a, 0, 0)),
             y = std::max(0.0, Arg(a, 1, static_cast<double>(len)));
      if (std::isnan(x)) x = 0;
      if (std::isnan(y)) y = 0;
      return {static_cast<size_t>(std::min(std::min(x, y), static_cast<double>(len))),
              static_cast<size_t>(std::min(std::max(x, y), static_cast<double>(len)))};
    }
    const size_t b = Clamp(Arg(a, 0, 0), len);
    const double n = Arg(a, 1, static_cast<double>(len));
    return {b, n <= 0 ? b : std::min(len, b + static_cast<size_t>(n))};
  }

  Val StrSplit(const std::u16string& s, const std::string& /*m*/, std::vector<Val>& a) {
    Arr* out = NewArr();
    if (a.empty() || a[0].t == Val::kUndef) {
      out->v.push_back(Val::Str(s));
      return ArrVal(out);
    }
    if (a[0].t == Val::kRegex) {
      SplitByRegex(s, static_cast<const Node*>(a[0].p), out);
    } else {
      SplitBySeparator(s, ToStr(a[0]), out);
    }
    Units(s.size() + out->v.size());
    return ArrVal(out);
  }

  void SplitByRegex(const std::u16string& s, const Node* re, Arr* out) {
    re2::RE2 r("(" + Re2Pattern(re) + ")", Re2Options(re));
    if (!r.ok() || r.NumberOfCapturingGroups() != 1) throw Stop{};
    const std::string u8 = Utf16To8(s);
    re2::StringPiece in(u8), match;
    size_t start = 0;
    while (re2::RE2::FindAndConsume(&in, r, &match)) {
      Step();
      if (match.empty()) throw Stop{};
      const size_t at = static_cast<size_t>(match.data() - u8.data());
      out->v.push_back(Val::Str(Utf8To16(u8.substr(start, at - start))));
      start = at + match.size();
    }
    out->v.push_back(Val::Str(Utf8To16(u8.substr(start))));
  }

  static void SplitBySeparator(const std::u16string& s, const std::u16string& sep, Arr* out) {
    if (sep.empty()) {
      for (char16_t c : s) out->v.push_back(Val::Str(std::u16string(1, c)));
      return;
    }
    size_t start = 0;
    for (;;) {
      const size_t at = s.find(sep, start);
      if (at == std::u16string::npos) break;
      out->v.push_back(Val::Str(s.substr(start, at - start)));
      start = at + sep.size();
    }
    out->v.push_back(Val::Str(s.substr(start)));
  }

  // indexOf, lastIndexOf, includes, startsWith, endsWith.
  Val StrSearch(const std::u16string& s, const std::string& m, std::vector<Val>& a) {
    const std::u16string t = a.empty() ? u"undefined" : ToStr(a[0]);
    if (m == "indexOf") {
      const size_t p = s.find(t, Clamp(Arg(a, 1, 0), s.size()));
      return Val::Num(p == std::u16string::npos ? -1 : static_cast<double>(p));
    }
    if (m == "lastIndexOf") {
      const size_t p = s.rfind(t);
      return Val::Num(p == std::u16string::npos ? -1 : static_cast<double>(p));
    }
    if (m == "includes") return Val::Bool(s.find(t) != std::u16string::npos);
    if (m == "startsWith") return Val::Bool(s.compare(0, t.size(), t) == 0);
    return Val::Bool(s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0);
  }

  Val StrReplace(const std::u16string& s, const std::string& m, std::vector<Val>& a) {
    if (a.size() < 2) throw Stop{};
    if (a[0].t == Val::kRegex)
      return RegexReplace(s, static_cast<const Node*>(a[0].p), a[1], m == "replaceAll");
    const std::u16string from = ToStr(a[0]);
    std::u16string out;
    size_t start = 0;
    for (;;) {
      const size_t at = s.find(from, start);
      if (at == std::u16string::npos || (from.empty() && start > 0)) break;
      out += s.substr(start, at - start);
      out += Replacement(a[1], s.substr(at, from.size()), {});
      start = at + from.size();
      if (m == "replace" || from.empty()) break;
    }
    out += s.substr(std::min(start, s.size()));
    Units(out.size());
    return Val::Str(std::move(out));
  }

  Val StrChangeCase(const std::u16string& s, const std::string& m, std::vector<Val>& /*a*/) {
    std::u16string out = s;
    const bool lower = m == "toLowerCase";
    for (char16_t& c : out) {
      if (lower && c >= 'A' && c <= 'Z') c = static_cast<char16_t>(c + 32);
      if (!lower && c >= 'a' && c <= 'z') c = static_cast<char16_t>(c - 32);
    }
    Units(out.size());
    return Val::Str(std::move(out));
  }

  Val StrTrim(const std::u16string& s, const std::string& m, std::vector<Val>& /*a*/) {
    size_t b = 0, e = s.size();
    auto ws = [](char16_t c) {
      return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xA0 || c == 0xFEFF;
    };
    if (m != "trimEnd") {
      while (b < e && ws(s[b])) ++b;
    }
    if (m != "trimStart") {
      while (e > b && ws(s[e - 1])) --e;
    }
    return Val::Str(s.substr(b, e - b));
  }

  Val StrRepeat(const std::u16string& s, const std::string& /*m*/, std::vector<Val>& a) {
    const double n = Arg(a, 0, 0);
    if (n < 0 || n * static_cast<double>(s.size()) > 1e7) throw Stop{};
    Units(static_cast<size_t>(n) * s.size());
    std::u16string out;
    for (size_t i = 0; i < static_cast<size_t>(n); ++i) out += s;
    return Val::Str(std::move(out));
  }

  Val StrPad(const std::u16string& s, const std::string& m, std::vector<Val>& a) {
    const size_t len = s.size();
    const double n = Arg(a, 0, 0);
    if (n > 1e6) throw Stop{};
    const std::u16string fill = a.size() > 1 ? ToStr(a[1]) : u" ";
    if (fill.empty() || n <= static_cast<double>(len)) return Val::Str(s);
    std::u16string pad;
    while (pad.size() < static_cast<size_t>(n) - len) pad += fill;
    pad.resize(static_cast<size_t>(n) - len);
    return Val::Str(m == "padStart" ? pad + s : s + pad);
  }

  Val StrConcat(const std::u16string& s, const std::string& /*m*/, std::vector<Val>& a) {
    std::u16string out = s;
    for (const Val& v : a) out += ToStr(v);
    Units(out.size());
    return Val::Str(std::move(out));
  }

  // toString, valueOf, normalize (the text is taken as already normalised).
  Val StrItself(const std::u16string& s, const std::string& /*m*/, std::vector<Val>& /*a*/) {
    return Val::Str(s);
  }

  Val StrLocaleCompare(const std::u16string& s, const std::string& /*m*/, std::vector<Val>& a) {
    const int c = s.compare(a.empty() ? u"undefined" : ToStr(a[0]));
    return Val::Num(c < 0 ? -1 : c > 0 ? 1 : 0);
  }

  std::u16string Replacement(const Val& with, const std::u16string& match,
                             const std::vector<std::u16string>& groups) {
    if (with.t == Val::kFn || with.t == Val::kNative) {
      std::vector<Val> args{Val::Str(match)};
      for (const auto& g : groups) args.push_back(Val::Str(g));
      return ToStr(CallValue(with, std::move(args)));
    }
    const std::u16string w = ToStr(with);
    if (w.find(u'$') != std::u16string::npos)
      throw Stop{};  // $1, $& …: not needed by decoders seen so far
    return w;
  }

  Val RegexReplace(const std::u16string& s, const Node* re, const Val& with, bool all) {
    re2::RE2 r(Re2Pattern(re), Re2Options(re));
    if (!r.ok()) throw Stop{};
    const bool global = all || re->aux.find('g') != std::string::npos;
    const std::string u8 = Utf16To8(s);
    const int groups = r.NumberOfCapturingGroups();
    if (groups > 8) throw Stop{};
    std::vector<re2::StringPiece> sub(static_cast<size_t>(groups) + 1);
    std::string out;
    size_t pos = 0;
    while (pos <= u8.size()) {
      Step();
      if (!r.Match(u8, pos, u8.size(), re2::RE2::UNANCHORED, sub.data(), groups + 1)) break;
      const size_t at = static_cast<size_t>(sub[0].data() - u8.data());
      out.append(u8, pos, at - pos);
      std::vector<std::u16string> g;
      for (int i = 1; i <= groups; ++i)
        g.push_back(Utf8To16(std::string(sub[static_cast<size_t>(i)])));
      out += Utf16To8(Replacement(with, Utf8To16(std::string(sub[0])), g));
      pos = at + sub[0].size();
      if (sub[0].empty()) {
        if (pos < u8.size()) out.push_back(u8[pos]);
        ++pos;
      }
      if (!global) break;
    }
    if (pos < u8.size()) out.append(u8, pos, std::string::npos);
    Units(out.size());
    return Val::Str(Utf8To16(out));
  }

  // ------------------------------------------------------- Array methods --

  // A method of Array.prototype (also of a Buffer / Uint8Array): `m` is its name.
  using ArrayFn = Val (Machine::*)(const Val& self, const std::string& m, std::vector<Val>& a);

  Val ArrayMethod(const Val& self, const std::string& m, std::vector<Val>& a) {
    static const auto* methods = new std::unordered_map<std::string_view, ArrayFn>{
        {"map", &Machine::ArrVisit},          {"filter", &Machine::ArrVisit},
        {"forEach", &Machine::ArrVisit},      {"some", &Machine::ArrSearch},
        {"every", &Machine::ArrSearch},       {"find", &Machine::ArrSearch},
        {"findIndex", &Machine::ArrSearch},   {"reduce", &Machine::ArrReduce},
        {"reduceRight", &Machine::ArrReduce}, {"join", &Machine::ArrJoin},
        {"reverse", &Machine::ArrReverse},    {"slice", &Machine::ArrSlice},
        {"subarray", &Machine::ArrSlice},     {"concat", &Machine::ArrConcat},
        {"push", &Machine::ArrInsert},        {"unshift", &Machine::ArrInsert},
        {"pop", &Machine::ArrRemove},         {"shift", &Machine::ArrRemove},
        {"indexOf", &Machine::ArrIndexOf},    {"includes", &Machine::ArrIndexOf},
        {"fill", &Machine::ArrFill},          {"at", &Machine::ArrAt},
        {"flat", &Machine::ArrFlat},          {"toString", &Machine::ArrToString},
    };
    return (this->*MethodNamed(*methods, m))(self, m, a);
  }

  // The callback argument a[i] of map, filter, reduce, …
  static const Val& Callback(const std::vector<Val>& a, size_t i) {
    if (i >= a.size() || (a[i].t != Val::kFn && a[i].t != Val::kNative)) throw Stop{};
    return a[i];
  }

  static Val ByteOf(double x) { return Val::Num(ToUint32(x) & 0xFF); }

  // map, filter, forEach: the callback on every element.
  Val ArrVisit(const Val& self, const std::string& m, std::vector<Val>& a) {
    const Val f = Callback(a, 0);
    Arr* arr = self.arr();
    auto& v = arr->v;
    Arr* out = NewArr();
    out->bytes = arr->bytes && m != "forEach";
    for (size_t i = 0; i < v.size(); ++i) {
      Val r = CallValue(f, {v[i], Val::Num(static_cast<double>(i)), self});
      if (m == "map") {
        out->v.push_back(out->bytes ? ByteOf(ToNum(r)) : std::move(r));
      } else if (m == "filter" && Truthy(r)) {
        out->v.push_back(v[i]);
      }
    }
    Units(out->v.size());
    if (m == "forEach") return Val{};
    return ArrVal(out);
  }

  // some, every, find, findIndex: the callback until it decides.
  Val ArrSearch(const Val& self, const std::string& m, std::vector<Val>& a) {
    const Val f = Callback(a, 0);
    auto& v = self.arr()->v;
    const bool every = m == "every";
    for (size_t i = 0; i < v.size(); ++i) {
      Val r = CallValue(f, {v[i], Val::Num(static_cast<double>(i)), self});
      if (Truthy(r) == every) continue;
      if (m == "find") return v[i];
      if (m == "findIndex") return Val::Num(static_cast<double>(i));
      return Val::Bool(!every);
    }
    if (m == "find") return Val{};
    if (m == "findIndex") return Val::Num(-1);
    return Val::Bool(every);
  }

  Val ArrReduce(const Val& self, const std::string& m, std::vector<Val>& a) {
    const Val f = Callback(a, 0);
    size_t i = 0;
    Val acc;
    std::vector<Val> items = self.arr()->v;
    if (m == "reduceRight") std::reverse(items.begin(), items.end());
    if (a.size() > 1) {
      acc = a[1];
    } else {
      if (items.empty()) throw Stop{};
      acc = items[0];
      i = 1;
    }
    for (; i < items.size(); ++i)
      acc = CallValue(f, {acc, items[i], Val::Num(static_cast<double>(i)), self});
    return acc;
  }

  Val ArrJoin(const Val& self, const std::string& /*m*/, std::vector<Val>& a) {
    const auto& v = self.arr()->v;
    const std::u16string sep = a.empty() || a[0].t == Val::kUndef ? u"," : ToStr(a[0]);
    std::u16string out;
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) out += sep;
      if (!IsNullish(v[i])) out += ToStr(v[i]);
    }
    Units(out.size());
    return Val::Str(std::move(out));
  }

  Val ArrReverse(const Val& self, const std::string& /*m*/, std::vector<Val>& /*a*/) {
    ++decoding_ops_;
    std::reverse(self.arr()->v.begin(), self.arr()->v.end());
    return self;
  }

  // slice, subarray.
  Val ArrSlice(const Val& self, const std::string& /*m*/, std::vector<Val>& a) {
    const auto& v = self.arr()->v;
    const size_t b = Clamp(Arg(a, 0, 0), v.size()),
                 e = Clamp(Arg(a, 1, static_cast<double>(v.size())), v.size());
    Arr* out = NewArr();
    out->bytes = self.arr()->bytes;
    if (e > b)
      out->v.assign(v.begin() + static_cast<ptrdiff_t>(b), v.begin() + static_cast<ptrdiff_t>(e));
    Units(out->v.size());
    return ArrVal(out);
  }

  // Appends x to out, or x's elements when it is an array (one level, as concat and flat do).
  static void AppendSpread(const Val& x, Arr* out) {
    if (x.t == Val::kArr) {
      out->v.insert(out->v.end(), x.arr()->v.begin(), x.arr()->v.end());
    } else {
      out->v.push_back(x);
    }
  }

  Val ArrConcat(const Val& self, const std::string& /*m*/, std::vector<Val>& a) {
    Arr* out = NewArr();
    out->v = self.arr()->v;
    for (const Val& x : a) AppendSpread(x, out);
    Units(out->v.size());
    return ArrVal(out);
  }

  Val ArrFlat(const Val& self, const std::string& /*m*/, std::vector<Val>& /*a*/) {
    Arr* out = NewArr();
    for (const Val& x : self.arr()->v) AppendSpread(x, out);
    Units(out->v.size());
    return ArrVal(out);
  }

  // push, unshift.
  Val ArrInsert(const Val& self, const std::string& m, std::vector<Val>& a) {
    auto& v = self.arr()->v;
    Units(a.size());
    v.insert(m == "push" ? v.end() : v.begin(), a.begin(), a.end());
    return Val::Num(static_cast<double>(v.size()));
  }

  // pop, shift.
  Val ArrRemove(const Val& self, const std::string& m, std::vector<Val>& /*a*/) {
    auto& v = self.arr()->v;
    if (v.empty()) return Val{};
    const bool pop = m == "pop";
    Val out = pop ? v.back() : v.front();
    v.erase(pop ? v.end() - 1 : v.begin());
    return out;
  }

  // indexOf, includes (strict equality).
  Val ArrIndexOf(const Val& self, const std::string& m, std::vector<Val>& a) {
    const auto& v = self.arr()->v;
    const bool includes = m == "includes";
    const Val x = a.empty() ? Val{} : a[0];
    for (size_t i = 0; i < v.size(); ++i) {
      if (Truthy(Binary(Op::kStrictEq, v[i], x)))
        return includes ? Val::Bool(true) : Val::Num(static_cast<double>(i));
    }
    return includes ? Val::Bool(false) : Val::Num(-1);
  }

  Val ArrFill(const Val& self, const std::string& /*m*/, std::vector<Val>& a) {
    const Val x = a.empty() ? Val{} : a[0];
    for (Val& e : self.arr()->v) e = self.arr()->bytes ? ByteOf(ToNum(x)) : x;
    return self;
  }

  Val ArrAt(const Val& self, const std::string& /*m*/, std::vector<Val>& a) {
    const auto& v = self.arr()->v;
    double i = Arg(a, 0, 0);
    if (i < 0) i += static_cast<double>(v.size());
    return i >= 0 && i < static_cast<double>(v.size()) ? v[static_cast<size_t>(i)] : Val{};
  }

  // An array's text; a Buffer's in an encoding (utf8 by default).
  Val ArrToString(const Val& self, const std::string& /*m*/, std::vector<Val>& a) {
    if (!self.arr()->bytes) return Val::Str(ToStr(self));
    const std::string enc = a.empty() || a[0].t == Val::kUndef ? "utf8" : Utf16To8(ToStr(a[0]));
    const std::vector<uint8_t> b = BytesOf(self);
    Units(b.size());
    return Val::Str(BytesToText(b, enc));
  }

  static std::u16string BytesToText(const std::vector<uint8_t>& b, const std::string& enc) {
    if (enc == "utf8" || enc == "utf-8") return Utf8BytesTo16(b);
    if (enc == "latin1" || enc == "binary" || enc == "ascii") {
      std::u16string out;
      for (uint8_t c : b) out.push_back(enc == "ascii" ? (c & 0x7F) : c);
      return out;
    }
    if (enc == "hex") {
      std::u16string out;
      for (uint8_t c : b) {
        out.push_back("0123456789abcdef"[c >> 4]);
        out.push_back("0123456789abcdef"[c & 15]);
      }
      return out;
    }
    if (enc == "base64") return Base64Encode(b);
    throw Stop{};
  }

  static int HexDigit(char16_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    const int lower = c | 32;
    return lower >= 'a' && lower <= 'f' ? lower - 'a' + 10 : -1;
  }

  // The bytes of `Buffer.from(s, enc)`.
  std::vector<uint8_t> StringBytes(const std::u16string& s, const std::string& enc) {
    if (enc == "base64" || enc == "base64url") return Base64Bytes(s);
    if (enc == "hex") {
      std::vector<uint8_t> out;
      for (size_t i = 0; i + 1 < s.size(); i += 2) {
        const int x = HexDigit(s[i]), y = HexDigit(s[i + 1]);
        if (x < 0 || y < 0) break;
        out.push_back(static_cast<uint8_t>(x * 16 + y));
      }
      return out;
    }
    if (enc == "latin1" || enc == "binary" || enc == "ascii") {
      std::vector<uint8_t> out;
      for (char16_t c : s) out.push_back(static_cast<uint8_t>(c));
      return out;
    }
    if (enc == "utf8" || enc == "utf-8") {
      const std::string u8 = Utf16To8(s);
      return std::vector<uint8_t>(u8.begin(), u8.end());
    }
    throw Stop{};
  }

  // ------------------------------------------------------------ built-ins --

  // When a call of a built-in counts as a decoding operation (EvalResult::decoding_ops).
  enum class Decodes : uint8_t {
    kNever,
    kAlways,
    kWithEncoding,  // an encoding other than utf8 in the second argument
    kWithRadix,     // a radix other than 10 in the second argument
  };
  struct NativeSpec;
  using NativeFn = Val (Machine::*)(const NativeSpec& spec, const std::vector<Val>& a);
  struct NativeSpec {
    Native id = Native::kNone;
    NativeFn call = nullptr;  // nullptr: not callable
    Decodes decodes = Decodes::kNever;
    double (*math)(double) = nullptr;  // the function of a one-argument Math method
  };

  // The callable built-ins, by Native.
  static const NativeSpec& Spec(Native f) {
    static const auto* specs = [] {
      static constexpr NativeSpec kSpecs[] = {
          {Native::kFromCharCode, &Machine::FromCharCode, Decodes::kAlways},
          {Native::kFromCodePoint, &Machine::FromCodePoint, Decodes::kAlways},
          {Native::kAtob, &Machine::Atob, Decodes::kAlways},
          {Native::kBtoa, &Machine::Btoa},
          {Native::kParseInt, &Machine::ParseInt, Decodes::kWithRadix},
          {Native::kParseFloat, &Machine::NumberOf},
          {Native::kNumber, &Machine::NumberOf},
          {Native::kBoolean, &Machine::BooleanOf},
          {Native::kString, &Machine::StringOf},
          {Native::kBufferFrom, &Machine::BufferFrom, Decodes::kWithEncoding},
          {Native::kUint8Array, &Machine::BufferFrom, Decodes::kWithEncoding},
          {Native::kBufferAlloc, &Machine::BufferAlloc},
          {Native::kMathFloor, &Machine::MathUnary, Decodes::kNever,
           [](double x) { return std::floor(x); }},
          {Native::kMathCeil, &Machine::MathUnary, Decodes::kNever,
           [](double x) { return std::ceil(x); }},
          {Native::kMathRound, &Machine::MathUnary, Decodes::kNever,
           [](double x) { return std::floor(x + 0.5); }},
          {Native::kMathAbs, &Machine::MathUnary, Decodes::kNever,
           [](double x) { return std::fabs(x); }},
          {Native::kMathTrunc, &Machine::MathUnary, Decodes::kNever,
           [](double x) { return std::trunc(x); }},
          {Native::kMathPow, &Machine::MathPow},
          {Native::kMathMin, &Machine::MathMinMax},
          {Native::kMathMax, &Machine::MathMinMax},
          {Native::kArrayFrom, &Machine::ArrayFrom},
          {Native::kArrayIsArray, &Machine::ArrayIsArray},
          {Native::kArrayOf, &Machine::ArrayOf},
          {Native::kArray, &Machine::ArrayOf},
          {Native::kJsonParse, &Machine::JsonParseCall},
          {Native::kDecodeUri, &Machine::PercentDecodeCall, Decodes::kAlways},
          {Native::kUnescape, &Machine::PercentDecodeCall, Decodes::kAlways},
          {Native::kObjectKeys, &Machine::ObjectKeysOrValues},
          {Native::kObjectValues, &Machine::ObjectKeysOrValues},
          {Native::kObjectFreeze, &Machine::ObjectFreeze},
      };
      auto* by_id = new std::array<NativeSpec, static_cast<size_t>(Native::kCount)>{};
      for (const NativeSpec& s : kSpecs) (*by_id)[static_cast<size_t>(s.id)] = s;
      return by_id;
    }();
    return (*specs)[static_cast<size_t>(f)];
  }

  bool CountsAsDecoding(Decodes decodes, const std::vector<Val>& a) {
    switch (decodes) {
      case Decodes::kAlways:
        return true;
      case Decodes::kWithEncoding:
        return a.size() > 1 && a[1].t == Val::kStr && a[1].s() != u"utf8" && a[1].s() != u"utf-8";
      case Decodes::kWithRadix:
        return a.size() > 1 && Arg(a, 1, 10) != 10;
      default:
        return false;
    }
  }

  Val CallNative(Native f, const std::vector<Val>& a) {
    Step();
    const NativeSpec& spec = Spec(f);
    if (CountsAsDecoding(spec.decodes, a)) ++decoding_ops_;
    if (spec.call == nullptr) throw Stop{};
    return (this->*spec.call)(spec, a);
  }

  Val FromCharCode(const NativeSpec& /*spec*/, const std::vector<Val>& a) {
    std::u16string out;
    for (const Val& v : a) out.push_back(static_cast<char16_t>(ToUint32(ToNum(v)) & 0xFFFF));
    Units(out.size());
    return Val::Str(std::move(out));
  }

  Val FromCodePoint(const NativeSpec& /*spec*/, const std::vector<Val>& a) {
    std::string out;
    for (const Val& v : a) {
      const double c = ToNum(v);
      if (c < 0 || c > 0x10FFFF || c != std::trunc(c)) throw Stop{};
      utf::AppendUtf8(static_cast<char32_t>(c), &out);
    }
    Units(out.size());
    return Val::Str(Utf8To16(out));
  }

  Val Atob(const NativeSpec& /*spec*/, const std::vector<Val>& a) {
    const std::vector<uint8_t> b = Base64Bytes(a.empty() ? u"" : ToStr(a[0]));
    Units(b.size());
    return Val::Str(std::u16string(b.begin(), b.end()));
  }

  Val Btoa(const NativeSpec& /*spec*/, const std::vector<Val>& a) {
    const std::u16string s = a.empty() ? u"undefined" : ToStr(a[0]);
    std::vector<uint8_t> b;
    for (char16_t c : s) {
      if (c > 0xFF) throw Stop{};
      b.push_back(static_cast<uint8_t>(c));
    }
    return Val::Str(Base64Encode(b));
  }

  Val ParseInt(const NativeSpec& /*spec*/, const std::vector<Val>& a) {
    const std::string s = a.empty() ? std::string() : Utf16To8(ToStr(a[0]));
    return Val::Num(ParseIntText(s, static_cast<int>(Arg(a, 1, 0))));
  }

  // parseInt(s, radix): leading space, a sign, 0x for radix 0 or 16, then digits up to the first
  // that is not one. NaN when there is none.
  static double ParseIntText(const std::string& s, int radix) {
    size_t i = s.find_first_not_of(" \t\n\r");
    if (i == std::string::npos) return std::nan("");
    bool neg = false;
    if (s[i] == '-' || s[i] == '+') neg = s[i++] == '-';
    if ((radix == 0 || radix == 16) && s.size() > i + 1 && s[i] == '0' && (s[i + 1] | 32) == 'x') {
      radix = 16;
      i += 2;
    }
    if (radix == 0) radix = 10;
    if (radix < 2 || radix > 36) return std::nan("");
    double v = 0;
    size_t digits = 0;
    for (; i < s.size(); ++i, ++digits) {
      const char c = static_cast<char>(s[i] | 32);
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'z' ? c - 'a' + 10 : 99;
      if (d >= radix) break;
      v = v * radix + d;
    }
    if (digits == 0) return std::nan("");
    return neg ? -v : v;
  }

  // Number(x), parseFloat(x).
  Val NumberOf(const NativeSpec& /*spec*/, const std::vector<Val>& a) {
    return Val::Num(a.empty() ? 0 : ToNum(a[0]));
  }
  Val BooleanOf(const NativeSpec& /*spec*/, const std::vector<Val>& a) {
    return Val::Bool(!a.empty() && Truthy(a[0]));
  }
  Val StringOf(const NativeSpec& /*spec*/, const std::vector<Val>& a) {
    return Val::Str(a.empty() ? u"" : ToStr(a[0]));
  }

  // Buffer.from(string, encoding) or Buffer.from(array); Uint8Array(…) likewise.
  Val BufferFrom(const NativeSpec& /*spec*/, const std::vector<Val>& a) {
    if (a.empty()) throw Stop{};
    if (a[0].t != Val::kStr) return Bytes(BytesOf(a[0]));
    const std::string enc = a.size() > 1 && a[1].t == Val::kStr ? Utf16To8(a[1].s()) : "utf8";
    return Bytes(StringBytes(a[0].s(), enc));
  }

  Val BufferAlloc(const NativeSpec& /*spec*/, const std::vector<Val>& a) {
    const double n = Arg(a, 0, 0);
    if (n < 0 || n > 1e7) throw Stop{};
    return Bytes(std::vector<uint8_t>(static_cast<size_t>(n)));
  }

  Val MathUnary(const NativeSpec& spec, const std::vector<Val>& a) {
    return Val::Num(spec.math(Arg(a, 0, std::nan(""))));
  }
  Val MathPow(const NativeSpec& /*spec*/, const std::vector<Val>& a) {
    return Val::Num(std::pow(Arg(a, 0, std::nan("")), Arg(a, 1, std::nan(""))));
  }
  Val MathMinMax(const NativeSpec& spec, const std::vector<Val>& a) {
    const bool min = spec.id == Native::kMathMin;
    double r =
        min ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
    for (const Val& v : a) r = min ? std::min(r, ToNum(v)) : std::max(r, ToNum(v));
    return Val::Num(r);
  }

  // Array.from(iterable or {length}, mapFn?), Uint8Array.from likewise.
  Val ArrayFrom(const NativeSpec& /*spec*/, const std::vector<Val>& a) {
    if (a.empty()) throw Stop{};
    Arr* out = NewArr();
    if (a[0].t == Val::kObj) {
      Val* len = a[0].obj()->Find(u"length");
      if (len == nullptr || len->t != Val::kNum || len->n < 0 || len->n > 1e6) throw Stop{};
      out->v.assign(static_cast<size_t>(len->n), Val{});
    } else {
      out->v = Iterate(a[0]);
    }
    if (a.size() > 1) {
      for (size_t i = 0; i < out->v.size(); ++i)
        out->v[i] = CallValue(a[1], {out->v[i], Val::Num(static_cast<double>(i))});
    }
    Units(out->v.size());
    return ArrVal(out);
  }

  Val ArrayIsArray(const NativeSpec& /*spec*/, const std::vector<Val>& a) {
    return Val::Bool(!a.empty() && a[0].t == Val::kArr);
  }

  // Array.of(…) and Array(…).
  Val ArrayOf(const NativeSpec& /*spec*/, const std::vector<Val>& a) {
    Arr* out = NewArr();
    out->v = a;
    return ArrVal(out);
  }

  Val JsonParseCall(const NativeSpec& /*spec*/, const std::vector<Val>& a) {
    return JsonParse(a.empty() ? std::u16string() : ToStr(a[0]));
  }

  // decodeURIComponent / decodeURI, unescape.
  Val PercentDecodeCall(const NativeSpec& spec, const std::vector<Val>& a) {
    std::u16string out = PercentDecode(a.empty() ? u"" : ToStr(a[0]), spec.id == Native::kUnescape);
    Units(out.size());
    return Val::Str(std::move(out));
  }

  // %XX escapes: UTF-8 bytes (decodeURIComponent), or code units with %uXXXX too (unescape).
  // Anything else, malformed escapes included, is kept as it is.
  static std::u16string PercentDecode(const std::u16string& s, bool unescape) {
    std::string bytes;  // pending UTF-8 bytes of %XX escapes
    std::u16string out;
    auto flush = [&] {
      if (!bytes.empty()) out += Utf8To16(bytes);
      bytes.clear();
    };
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 && HexDigit(s[i + 2]) >= 0) {
        const int c = HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2]);
        if (unescape) {
          out.push_back(static_cast<char16_t>(c));
        } else {
          bytes.push_back(static_cast<char>(c));
        }
        i += 2;
        continue;
      }
      if (unescape && s[i] == '%' && i + 5 < s.size() && s[i + 1] == 'u') {
        if (std::optional<char16_t> c = Hex4(s, i + 2)) {
          out.push_back(*c);
          i += 5;
          continue;
        }
      }
      flush();
      out.push_back(s[i]);
    }
    flush();
    return out;
  }

  // The code unit of four hex digits at s[at…at+3]; nullopt when one is not a hex digit.
  static std::optional<char16_t> Hex4(const std::u16string& s, size_t at) {
    int c = 0;
    bool ok = true;
    for (size_t k = at; k < at + 4; ++k) {
      const int d = HexDigit(s[k]);
      ok &= d >= 0;
      c = c * 16 + d;
    }
    if (!ok) return std::nullopt;
    return static_cast<char16_t>(c);
  }

  // Object.keys, Object.values.
  Val ObjectKeysOrValues(const NativeSpec& spec, const std::vector<Val>& a) {
    if (a.empty() || a[0].t != Val::kObj) throw Stop{};
    Arr* out = NewArr();
    for (auto& [k, v] : a[0].obj()->props)
      out->v.push_back(spec.id == Native::kObjectKeys ? Val::Str(k) : v);
    return ArrVal(out);
  }

  Val ObjectFreeze(const NativeSpec& /*spec*/, const std::vector<Val>& a) {
    return a.empty() ? Val{} : a[0];
  }

  // JSON.parse of arrays, objects, strings, numbers, booleans and null.
  Val JsonParse(const std::u16string& s) {
    size_t i = 0;
    Val v = JsonValue(s, &i, 0);
    SkipJsonSpace(s, &i);
    if (i != s.size()) throw JsonSyntaxError();
    return v;
  }

  static Thrown JsonSyntaxError() { return Thrown{Val::Str(u"SyntaxError")}; }

  static void SkipJsonSpace(const std::u16string& s, size_t* i) {
    while (*i < s.size() && (s[*i] == ' ' || s[*i] == '\n' || s[*i] == '\t' || s[*i] == '\r')) ++*i;
  }

  // After a value in a list: true after a comma (another value follows), false after `close`.
  static bool JsonListGoesOn(const std::u16string& s, size_t* i, char16_t close) {
    SkipJsonSpace(s, i);
    if (*i < s.size() && s[*i] == ',') {
      ++*i;
      return true;
    }
    if (*i < s.size() && s[*i] == close) {
      ++*i;
      return false;
    }
    throw JsonSyntaxError();
  }

  // True (and past it) when the list opened just before ends at once.
  static bool JsonListIsEmpty(const std::u16string& s, size_t* i, char16_t close) {
    SkipJsonSpace(s, i);
    if (*i < s.size() && s[*i] == close) {
      ++*i;
      return true;
    }
    return false;
  }

  Val JsonValue(const std::u16string& s, size_t* i, int depth) {
    Step();
    if (depth > 64) throw Stop{};
    SkipJsonSpace(s, i);
    if (*i >= s.size()) throw JsonSyntaxError();
    switch (s[*i]) {
      case '[':
        return JsonArray(s, i, depth);
      case '{':
        return JsonObject(s, i, depth);
      case '"':
        return JsonString(s, i);
      default:
        return JsonWord(s, i);
    }
  }

  Val JsonArray(const std::u16string& s, size_t* i, int depth) {
    ++*i;
    Arr* a = NewArr();
    if (JsonListIsEmpty(s, i, ']')) return ArrVal(a);
    do {
      a->v.push_back(JsonValue(s, i, depth + 1));
      Units(1);
    } while (JsonListGoesOn(s, i, ']'));
    return ArrVal(a);
  }

  Val JsonObject(const std::u16string& s, size_t* i, int depth) {
    ++*i;
    Obj* o = NewObj();
    if (JsonListIsEmpty(s, i, '}')) return Ref(Val::kObj, o);
    do {
      SkipJsonSpace(s, i);
      Val k = JsonValue(s, i, depth + 1);
      if (k.t != Val::kStr) throw JsonSyntaxError();
      SkipJsonSpace(s, i);
      if (*i >= s.size() || s[*i] != ':') throw JsonSyntaxError();
      ++*i;
      o->props.emplace_back(k.s(), JsonValue(s, i, depth + 1));
    } while (JsonListGoesOn(s, i, '}'));
    return Ref(Val::kObj, o);
  }

  Val JsonString(const std::u16string& s, size_t* i) {
    std::u16string out;
    for (++*i; *i < s.size() && s[*i] != '"'; ++*i) {
      if (s[*i] != '\\') {
        out.push_back(s[*i]);
        continue;
      }
      if (++*i >= s.size()) break;
      const char16_t e = s[*i];
      if (e == 'u' && *i + 4 < s.size()) {
        // Four hex digits, else a SyntaxError as in JavaScript.
        const std::optional<char16_t> c = Hex4(s, *i + 1);
        if (!c) throw JsonSyntaxError();
        out.push_back(*c);
        *i += 4;
      } else {
        out.push_back(JsonEscaped(e));
      }
    }
    if (*i >= s.size()) throw JsonSyntaxError();
    ++*i;
    Units(out.size());
    return Val::Str(std::move(out));
  }

  // The character a one-letter escape `\e` stands for.
  static char16_t JsonEscaped(char16_t e) {
    switch (e) {
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      default:
        return e;
    }
  }

  // true, false, null or a number.
  Val JsonWord(const std::u16string& s, size_t* i) {
    size_t e = *i;
    while (e < s.size() && s[e] != ',' && s[e] != ']' && s[e] != '}' && s[e] != ' ' && s[e] != '\n')
      ++e;
    const std::string word = Utf16To8(s.substr(*i, e - *i));
    *i = e;
    if (word == "true") return Val::Bool(true);
    if (word == "false") return Val::Bool(false);
    if (word == "null") return Null();
    auto n = ParseJsNumber(word);
    if (!n) throw JsonSyntaxError();
    return Val::Num(*n);
  }

  const EvalLimits& limits_;
  const std::function<const Node*(Range, bool)>& compile_;
  const Resolver& resolver_;
  EvalResult& result_;
  std::map<uint32_t, Scope*> roots_;
  std::vector<std::string> resolving_;
  std::vector<std::unique_ptr<Scope>> scopes_;
  std::vector<std::unique_ptr<Arr>> arrs_;
  std::vector<std::unique_ptr<Obj>> objs_;
  std::vector<std::unique_ptr<Fn>> fns_;
  Val ret_;
  uint64_t steps_ = 0;
  uint64_t units_ = 0;
  uint64_t decoding_ops_ = 0;  // operations that turn data into other text (see EvalResult)
  uint32_t depth_ = 0;
};

bool ToResult(const Val& v, EvalResult* out) {
  if (v.t == Val::kStr) {
    out->text = Utf16To8(v.s());
    return true;
  }
  if (v.t == Val::kArr) {
    if (v.arr()->bytes) {
      std::string s;
      for (const Val& e : v.arr()->v) s.push_back(static_cast<char>(static_cast<uint8_t>(e.n)));
      out->text = std::move(s);
      return true;
    }
    for (const Val& e : v.arr()->v) {
      if (e.t != Val::kStr) return false;
      out->items.push_back(Utf16To8(e.s()));
    }
    out->is_list = true;
    return !out->items.empty();
  }
  return false;
}

struct ParserDeleter {
  void operator()(TSParser* p) const { ts_parser_delete(p); }
};

}  // namespace
}  // namespace js_eval

using js_eval::CompileSimpleCall;
using js_eval::CompileTree;
using js_eval::Machine;
using js_eval::Node;
using js_eval::ParserDeleter;
using js_eval::Snippet;
using js_eval::Stop;
using js_eval::Thrown;
using js_eval::ToResult;
using js_eval::Val;

struct JsEvaluator::Impl {
  std::string_view text;
  Resolver resolver;
  std::unique_ptr<TSParser, ParserDeleter> parser;
  // Compiled snippets by (begin, end, as-declaration); null when a snippet
  // uses syntax outside the allow-list.
  std::map<std::tuple<uint32_t, uint32_t, bool>, std::unique_ptr<Snippet>> cache;
  std::vector<std::unique_ptr<Snippet>> sources;
  std::function<const Node*(Range, bool)> compile;
  uint64_t last_steps = 0;
  uint64_t compiled_bytes = 0;  // snippet text compiled so far (bounded)

  const Node* CompileText(std::string_view code, Snippet* out, bool program) {
    if (!parser) {
      UseTreeSitterAllocator();
      parser.reset(ts_parser_new());
      ts_parser_set_language(parser.get(), tree_sitter_javascript());
    }
    ts_parser_set_timeout_micros(parser.get(), 200'000);
    std::string wrapped = program ? std::string(code) : "(" + std::string(code) + "\n)";
    TSTree* tree = ts_parser_parse_string(parser.get(), nullptr, wrapped.data(),
                                          static_cast<uint32_t>(wrapped.size()));
    ts_parser_reset(parser.get());
    if (tree == nullptr) return nullptr;
    TSNode root = ts_tree_root_node(tree);
    const Node* result = nullptr;
    if (!ts_node_has_error(root)) {
      if (program) {
        result = CompileTree(wrapped, root, out);
      } else if (ts_node_named_child_count(root) == 1) {
        TSNode stmt = ts_node_named_child(root, 0);
        if (std::string_view(ts_node_type(stmt)) == "expression_statement") {
          result = CompileTree(wrapped, ts_node_named_child(stmt, 0), out);
        }
      }
    }
    ts_tree_delete(tree);
    return result;
  }
};

JsEvaluator::JsEvaluator(std::string_view module_text, Resolver resolver)
    : impl_(std::make_unique<Impl>()) {
  impl_->text = module_text;
  impl_->resolver = std::move(resolver);
  Impl* impl = impl_.get();
  impl_->compile = [impl](Range r, bool decl) -> const Node* {
    // Decoders, their keys and their constants are small; a large value
    // (a module's object, a class) is not compiled, and all snippets of a
    // module together are bounded, so that a bundle with thousands of
    // near-decoders costs bounded parsing.
    if (r.end <= r.begin || r.end > impl->text.size() || r.end - r.begin > 16 * 1024)
      return nullptr;
    if (impl->compiled_bytes > 8u << 20) return nullptr;
    auto key = std::make_tuple(r.begin, r.end, decl);
    auto it = impl->cache.find(key);
    if (it != impl->cache.end()) return it->second ? it->second->root : nullptr;
    auto snippet = std::make_unique<Snippet>();
    const std::string_view code = impl->text.substr(r.begin, r.end - r.begin);
    impl->compiled_bytes += code.size();
    if (!decl) snippet->root = CompileSimpleCall(code, snippet.get());
    if (snippet->root == nullptr) {
      snippet->nodes.clear();
      snippet->root = impl->CompileText(code, snippet.get(), false);
    }
    const Node* root = snippet->root;
    impl->cache[key] = root != nullptr ? std::move(snippet) : nullptr;
    return root;
  };
}

JsEvaluator::~JsEvaluator() = default;

uint64_t JsEvaluator::last_steps() const { return impl_->last_steps; }

std::optional<EvalResult> JsEvaluator::Evaluate(Range expr, uint32_t func,
                                                const EvalLimits& limits) {
  const Node* node = impl_->compile(expr, false);
  if (node == nullptr) return std::nullopt;
  EvalResult result;
  Machine m(this, limits, impl_->compile, impl_->resolver, &result);
  bool ok = false;
  try {
    Val v = m.Eval(node, m.Root(func));
    ok = ToResult(v, &result);
  } catch (const Stop&) {
  } catch (const Thrown&) {
  }
  impl_->last_steps = m.steps();
  result.steps = m.steps();
  result.decoding_ops = m.decoding_ops();
  if (!ok) return std::nullopt;
  return result;
}

std::optional<EvalResult> JsEvaluator::EvaluateSource(std::string_view source,
                                                      const EvalLimits& limits) {
  auto snippet = std::make_unique<Snippet>();
  std::string copy(source);
  snippet->root = impl_->CompileText(copy, snippet.get(), true);
  if (snippet->root == nullptr) return std::nullopt;
  const Node* root = snippet->root;
  impl_->sources.push_back(std::move(snippet));
  EvalResult result;
  Machine m(this, limits, impl_->compile, impl_->resolver, &result);
  try {
    m.Exec(root, m.Root(kNone));
    result.steps = m.steps();
    result.decoding_ops = m.decoding_ops();
    if (!ToResult(m.last_, &result)) return std::nullopt;
  } catch (const Stop&) {
    return std::nullopt;
  } catch (const Thrown&) {
    return std::nullopt;
  }
  return result;
}

}  // namespace glassbox::audit::internal
