// The evaluator behind JsEvaluator (js_eval.h). A snippet is parsed with
// tree-sitter once, compiled into a small tree of Nodes (only the syntax on
// the allow-list; anything else makes the snippet unusable), and interpreted
// over values that live in a per-evaluation heap, freed when the evaluation
// ends. Errors inside are C++ exceptions of two private types that never
// leave this file: Stop (limit reached, unknown syntax or name: no result)
// and Thrown (a JavaScript `throw`, which try/catch may handle).
#include "audit/js_eval.h"

#include <fmt/format.h>
#include <re2/re2.h>
#include <tree_sitter/api.h>

#include <algorithm>
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
  kNone, kString, kFromCharCode, kFromCodePoint, kAtob, kBtoa, kParseInt, kParseFloat, kNumber, kBoolean,
  kBuffer, kBufferFrom, kBufferAlloc, kMath, kMathFloor, kMathCeil, kMathRound, kMathAbs, kMathMin, kMathMax,
  kMathPow, kMathTrunc, kArray, kArrayFrom, kArrayIsArray, kArrayOf, kJson, kJsonParse, kJsonStringify,
  kDecodeUri, kEncodeUri, kUnescape, kEscape, kTextDecoder, kTextDecoderInstance, kTextEncoder,
  kTextEncoderInstance, kUint8Array, kObject, kObjectKeys, kObjectValues, kObjectEntries, kObjectAssign,
  kObjectFreeze,
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
      {"String", Native::kString},      {"atob", Native::kAtob},
      {"btoa", Native::kBtoa},          {"parseInt", Native::kParseInt},
      {"parseFloat", Native::kParseFloat}, {"Number", Native::kNumber},
      {"Boolean", Native::kBoolean},    {"Buffer", Native::kBuffer},
      {"Math", Native::kMath},          {"Array", Native::kArray},
      {"JSON", Native::kJson},          {"decodeURIComponent", Native::kDecodeUri},
      {"decodeURI", Native::kDecodeUri}, {"encodeURIComponent", Native::kEncodeUri},
      {"unescape", Native::kUnescape},  {"escape", Native::kEscape},
      {"TextDecoder", Native::kTextDecoder}, {"TextEncoder", Native::kTextEncoder},
      {"Uint8Array", Native::kUint8Array}, {"Object", Native::kObject},
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
    const uint32_t n = (uint32_t{bytes[i]} << 16) | (i + 1 < bytes.size() ? uint32_t{bytes[i + 1]} << 8 : 0) |
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
  Machine(JsEvaluator* owner, const EvalLimits& limits, const std::function<const Node*(Range, bool)>& compile,
          const Resolver& resolver, EvalResult* result)
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
      case N::kNum: return Val::Num(n->num);
      case N::kStr: return Val::Str(n->str);
      case N::kBool: return Val::Bool(n->flag);
      case N::kUndef: return Val{};
      case N::kNull: {
        Val v;
        v.t = Val::kNull;
        return v;
      }
      case N::kTemplate: {
        std::u16string out = n->strs[0];
        for (size_t i = 0; i < n->kids.size(); ++i) {
          out += ToStr(Eval(n->kids[i], sc));
          out += n->strs[i + 1];
        }
        Units(out.size());
        return Val::Str(std::move(out));
      }
      case N::kIdent: return Lookup(n->op, sc);
      case N::kArray: {
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
      case N::kObject: {
        Obj* o = NewObj();
        for (size_t i = 0; i < n->kids.size(); ++i) {
          // A property that cannot be evaluated poisons only itself: the
          // object's other properties stay usable (`{key:"k3y", env:process.env.X}`).
          Val v;
          try {
            v = Eval(n->kids[i], sc);
          } catch (const Stop&) {
            if (Exhausted()) throw;
            v = Val{};
            v.t = Val::kPoison;
          }
          if (Val* existing = o->Find(n->strs[i])) {
            *existing = std::move(v);
          } else {
            o->props.emplace_back(n->strs[i], std::move(v));
          }
        }
        Val v;
        v.t = Val::kObj;
        v.p = o;
        return v;
      }
      case N::kMember: {
        Val obj = Eval(n->kids[0], sc);
        if (n->flag && (obj.t == Val::kUndef || obj.t == Val::kNull)) return Val{};
        return Get(obj, n->str);
      }
      case N::kIndex: {
        Val obj = Eval(n->kids[0], sc);
        if (n->flag && (obj.t == Val::kUndef || obj.t == Val::kNull)) return Val{};
        Val key = Eval(n->kids[1], sc);
        return GetIndex(obj, key);
      }
      case N::kCall: return Call(n, sc);
      case N::kNew: return New(n, sc);
      case N::kSpread: throw Stop{};
      case N::kLogical: {
        Val l = Eval(n->kids[0], sc);
        if (n->op == "&&") return Truthy(l) ? Eval(n->kids[1], sc) : l;
        if (n->op == "||") return Truthy(l) ? l : Eval(n->kids[1], sc);
        return l.t == Val::kUndef || l.t == Val::kNull ? Eval(n->kids[1], sc) : l;
      }
      case N::kBinary: {
        Val l = Eval(n->kids[0], sc);
        return Binary(n->bin, l, Eval(n->kids[1], sc));
      }
      case N::kUnary: {
        const std::string& op = n->op;
        if (op == "typeof") {
          Val v;
          try {
            v = Eval(n->kids[0], sc);
          } catch (const Stop&) {
            if (Exhausted()) throw;
            return Val::Str(u"undefined");
          }
          return Val::Str(TypeOf(v));
        }
        Val v = Eval(n->kids[0], sc);
        if (op == "!") return Val::Bool(!Truthy(v));
        if (op == "-") return Val::Num(-ToNum(v));
        if (op == "+") return Val::Num(ToNum(v));
        if (op == "~") return Val::Num(~ToInt32(ToNum(v)));
        if (op == "void") return Val{};
        throw Stop{};
      }
      case N::kUpdate: {
        const double old = ToNum(Eval(n->kids[0], sc));
        const double now = n->op == "++" ? old + 1 : old - 1;
        Assign(n->kids[0], Val::Num(now), sc);
        return Val::Num(n->flag ? now : old);
      }
      case N::kAssign: {
        const std::string& op = n->op;
        if (op == "=") {
          Val v = Eval(n->kids[1], sc);
          Assign(n->kids[0], v, sc);
          return v;
        }
        Val cur = Eval(n->kids[0], sc);
        if (op == "?\?=" || op == "||=" || op == "&&=") {
          const bool assign = op == "?\?=" ? (cur.t == Val::kUndef || cur.t == Val::kNull)
                              : op == "||=" ? !Truthy(cur)
                                            : Truthy(cur);
          if (!assign) return cur;
          Val v = Eval(n->kids[1], sc);
          Assign(n->kids[0], v, sc);
          return v;
        }
        Val rhs = Eval(n->kids[1], sc);
        if (n->bin == Op::kAdd && cur.t == Val::kStr && n->kids[0]->kind == N::kIdent &&
            (rhs.t == Val::kStr || rhs.t == Val::kNum)) {
          // `s += c` in a loop is how decoders build their text: appended
          // in place when the variable holds the only reference, so that it
          // costs (and is charged) the appended units, not a copy per step.
          if (Val* slot = LocalSlot(n->kids[0]->op, sc); slot != nullptr && slot->t == Val::kStr && slot->sp == cur.sp) {
            cur = Val{};
            if (slot->sp.use_count() == 1) {
              const std::u16string tail = ToStr(rhs);
              Units(tail.size());
              // Strings are created non-const (Val::Str): the cast is sound.
              const_cast<std::u16string&>(*slot->sp) += tail;
              return *slot;
            }
            cur = *slot;
          }
        }
        Val v = Binary(n->bin, cur, rhs);
        Assign(n->kids[0], v, sc);
        return v;
      }
      case N::kCond: return Truthy(Eval(n->kids[0], sc)) ? Eval(n->kids[1], sc) : Eval(n->kids[2], sc);
      case N::kSeq: {
        Val v;
        for (const Node* k : n->kids) v = Eval(k, sc);
        return v;
      }
      case N::kFunc: {
        Fn* f = NewFn(n, sc);
        Val v;
        v.t = Val::kFn;
        v.p = f;
        return v;
      }
      case N::kRegex: {
        Val v;
        v.t = Val::kRegex;
        v.p = const_cast<Node*>(n);
        return v;
      }
      default: throw Stop{};
    }
  }

  // Runs a statement; the value of `return` goes to ret_.
  Flow Exec(const Node* n, Scope* sc) {
    Step();
    switch (n->kind) {
      case N::kBlock: {
        Scope* inner = NewScope(sc);
        Hoist(n, inner);
        for (const Node* k : n->kids) {
          if (k->kind == N::kFunc && k->decl) continue;
          Flow f = Exec(k, inner);
          if (f != Flow::kNormal) return f;
        }
        return Flow::kNormal;
      }
      case N::kExpr:
        last_ = Val{};  // let go of the previous value first: `s += c` then appends in place
        last_ = Eval(n->kids[0], sc);
        return Flow::kNormal;
      case N::kEmpty: return Flow::kNormal;
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
      case N::kFor: {
        Scope* loop = NewScope(sc);
        if (n->kids[0] != nullptr) {
          if (n->kids[0]->kind == N::kVar) {
            Exec(n->kids[0], loop);
          } else {
            Eval(n->kids[0]->kind == N::kExpr ? n->kids[0]->kids[0] : n->kids[0], loop);
          }
        }
        for (;;) {
          if (n->kids[1] != nullptr) {
            const Node* c = n->kids[1]->kind == N::kExpr ? n->kids[1]->kids[0] : n->kids[1];
            if (!Truthy(Eval(c, loop))) break;
          }
          Flow f = Exec(n->kids[3], loop);
          if (f == Flow::kReturn) return f;
          if (f == Flow::kBreak) break;
          if (n->kids[2] != nullptr) Eval(n->kids[2], loop);
        }
        return Flow::kNormal;
      }
      case N::kForOf: {
        Val it = Eval(n->kids[0], sc);
        std::vector<Val> items;
        if (n->flag) {
          items = Iterate(it);
        } else {
          if (it.t == Val::kArr || it.t == Val::kStr) {
            const size_t len = it.t == Val::kArr ? it.arr()->v.size() : it.s().size();
            for (size_t i = 0; i < len; ++i) items.push_back(Val::Str(Utf8To16(std::to_string(i))));
          } else if (it.t == Val::kObj) {
            for (auto& [k, v] : it.obj()->props) items.push_back(Val::Str(k));
          } else {
            throw Stop{};
          }
        }
        for (Val& v : items) {
          Scope* body = NewScope(sc);
          Declare(body, n->op, std::move(v));
          Flow f = Exec(n->kids[1], body);
          if (f == Flow::kReturn) return f;
          if (f == Flow::kBreak) break;
        }
        return Flow::kNormal;
      }
      case N::kWhile:
        while (Truthy(Eval(n->kids[0], sc))) {
          Flow f = Exec(n->kids[1], sc);
          if (f == Flow::kReturn) return f;
          if (f == Flow::kBreak) break;
        }
        return Flow::kNormal;
      case N::kDo:
        do {
          Flow f = Exec(n->kids[0], sc);
          if (f == Flow::kReturn) return f;
          if (f == Flow::kBreak) break;
        } while (Truthy(Eval(n->kids[1], sc)));
        return Flow::kNormal;
      case N::kReturn:
        ret_ = n->kids[0] == nullptr ? Val{} : Eval(n->kids[0], sc);
        return Flow::kReturn;
      case N::kBreak: return Flow::kBreak;
      case N::kContinue: return Flow::kContinue;
      case N::kThrow: throw Thrown{Eval(n->kids[0], sc)};
      case N::kTry: {
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
    for (const Val& e : v.arr()->v) out.push_back(static_cast<uint8_t>(ToUint32(e.t == Val::kNum ? e.n : 0)));
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
      case Val::kNull: return false;
      case Val::kBool: return v.b;
      case Val::kNum: return v.n != 0 && !std::isnan(v.n);
      case Val::kStr: return !v.s().empty();
      case Val::kPoison: throw Stop{};
      default: return true;
    }
  }

  static std::u16string TypeOf(const Val& v) {
    switch (v.t) {
      case Val::kUndef: return u"undefined";
      case Val::kBool: return u"boolean";
      case Val::kNum: return u"number";
      case Val::kStr: return u"string";
      case Val::kFn:
      case Val::kNative: return u"function";
      default: return u"object";
    }
  }

  double ToNum(const Val& v) {
    switch (v.t) {
      case Val::kNum: return v.n;
      case Val::kBool: return v.b ? 1 : 0;
      case Val::kNull: return 0;
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
      case Val::kPoison: throw Stop{};
      default: return std::nan("");
    }
  }

  std::u16string ToStr(const Val& v) {
    switch (v.t) {
      case Val::kStr: return v.s();
      case Val::kNum: return Utf8To16(NumberToString(v.n));
      case Val::kBool: return v.b ? u"true" : u"false";
      case Val::kUndef: return u"undefined";
      case Val::kNull: return u"null";
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
      case Val::kObj: return u"[object Object]";
      default: throw Stop{};
    }
  }

  Val Binary(Op op, const Val& l, const Val& r) {
    switch (op) {
      case Op::kAdd: {
        const bool str = l.t == Val::kStr || r.t == Val::kStr || l.t == Val::kArr || r.t == Val::kArr ||
                         l.t == Val::kObj || r.t == Val::kObj;
        if (str) {
          std::u16string out = ToStr(l);
          out += ToStr(r);
          Units(out.size());
          return Val::Str(std::move(out));
        }
        return Val::Num(ToNum(l) + ToNum(r));
      }
      case Op::kStrictEq:
      case Op::kStrictNe:
      case Op::kEq:
      case Op::kNe: {
        bool eq;
        const bool loose = op == Op::kEq || op == Op::kNe;
        if (loose && (l.t == Val::kUndef || l.t == Val::kNull) && (r.t == Val::kUndef || r.t == Val::kNull)) {
          eq = true;
        } else if (l.t == r.t) {
          switch (l.t) {
            case Val::kUndef:
            case Val::kNull: eq = true; break;
            case Val::kBool: eq = l.b == r.b; break;
            case Val::kNum: eq = l.n == r.n; break;
            case Val::kStr: eq = l.s() == r.s(); break;
            case Val::kNative: eq = l.native == r.native; break;
            default: eq = l.p == r.p; break;
          }
        } else if (loose && (l.t == Val::kNum || l.t == Val::kStr || l.t == Val::kBool) &&
                   (r.t == Val::kNum || r.t == Val::kStr || r.t == Val::kBool)) {
          eq = ToNum(l) == ToNum(r);
        } else {
          eq = false;
        }
        return Val::Bool(op == Op::kStrictEq || op == Op::kEq ? eq : !eq);
      }
      case Op::kLt:
      case Op::kGt:
      case Op::kLe:
      case Op::kGe: {
        if (l.t == Val::kStr && r.t == Val::kStr) {
          const int c = l.s().compare(r.s());
          return Val::Bool(op == Op::kLt ? c < 0 : op == Op::kGt ? c > 0 : op == Op::kLe ? c <= 0 : c >= 0);
        }
        const double a = ToNum(l), b = ToNum(r);
        return Val::Bool(op == Op::kLt ? a < b : op == Op::kGt ? a > b : op == Op::kLe ? a <= b : a >= b);
      }
      default: break;
    }
    const double a = ToNum(l), b = ToNum(r);
    switch (op) {
      case Op::kSub: return Val::Num(a - b);
      case Op::kMul: return Val::Num(a * b);
      case Op::kDiv: return Val::Num(a / b);
      case Op::kMod: return Val::Num(std::fmod(a, b));
      case Op::kPow: return Val::Num(std::pow(a, b));
      case Op::kXor: ++decoding_ops_; return Val::Num(ToInt32(a) ^ ToInt32(b));
      case Op::kAnd: return Val::Num(ToInt32(a) & ToInt32(b));
      case Op::kOr: return Val::Num(ToInt32(a) | ToInt32(b));
      case Op::kShl: return Val::Num(static_cast<int32_t>(ToUint32(a) << (ToUint32(b) & 31)));
      case Op::kShr: return Val::Num(ToInt32(a) >> (ToUint32(b) & 31));
      case Op::kUshr: return Val::Num(ToUint32(a) >> (ToUint32(b) & 31));
      default: throw Stop{};
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
               std::all_of(key.s().begin(), key.s().end(), [](char16_t c) { return c >= '0' && c <= '9'; })) {
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
        if (auto i = Index(Val::Str(key))) return *i < obj.s().size() ? Val::Str(std::u16string(1, obj.s()[*i])) : Val{};
        return Val{};
      case Val::kArr:
        if (key == u"length") return Val::Num(static_cast<double>(obj.arr()->v.size()));
        if (auto i = Index(Val::Str(key))) return *i < obj.arr()->v.size() ? obj.arr()->v[*i] : Val{};
        return Val{};
      case Val::kObj: {
        Val* v = obj.obj()->Find(key);
        if (v == nullptr) return Val{};
        if (v->t == Val::kPoison) throw Stop{};
        return *v;
      }
      case Val::kNative: {
        const std::string k = Utf16To8(key);
        switch (obj.native) {
          case Native::kString:
            if (k == "fromCharCode") return Val::Nat(Native::kFromCharCode);
            if (k == "fromCodePoint") return Val::Nat(Native::kFromCodePoint);
            break;
          case Native::kBuffer:
            if (k == "from") return Val::Nat(Native::kBufferFrom);
            if (k == "alloc") return Val::Nat(Native::kBufferAlloc);
            break;
          case Native::kUint8Array:
            if (k == "from") return Val::Nat(Native::kArrayFrom);
            break;
          case Native::kMath:
            if (k == "floor") return Val::Nat(Native::kMathFloor);
            if (k == "ceil") return Val::Nat(Native::kMathCeil);
            if (k == "round") return Val::Nat(Native::kMathRound);
            if (k == "abs") return Val::Nat(Native::kMathAbs);
            if (k == "min") return Val::Nat(Native::kMathMin);
            if (k == "max") return Val::Nat(Native::kMathMax);
            if (k == "pow") return Val::Nat(Native::kMathPow);
            if (k == "trunc") return Val::Nat(Native::kMathTrunc);
            break;
          case Native::kArray:
            if (k == "from") return Val::Nat(Native::kArrayFrom);
            if (k == "isArray") return Val::Nat(Native::kArrayIsArray);
            if (k == "of") return Val::Nat(Native::kArrayOf);
            break;
          case Native::kJson:
            if (k == "parse") return Val::Nat(Native::kJsonParse);
            if (k == "stringify") return Val::Nat(Native::kJsonStringify);
            break;
          case Native::kObject:
            if (k == "keys") return Val::Nat(Native::kObjectKeys);
            if (k == "values") return Val::Nat(Native::kObjectValues);
            if (k == "entries") return Val::Nat(Native::kObjectEntries);
            if (k == "assign") return Val::Nat(Native::kObjectAssign);
            if (k == "freeze") return Val::Nat(Native::kObjectFreeze);
            break;
          case Native::kNumber:
            if (k == "parseInt") return Val::Nat(Native::kParseInt);
            if (k == "parseFloat") return Val::Nat(Native::kParseFloat);
            break;
          default: break;
        }
        throw Stop{};
      }
      default: throw Stop{};
    }
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
      case Native::kTextDecoder: return Val::Nat(Native::kTextDecoderInstance);
      case Native::kTextEncoder: return Val::Nat(Native::kTextEncoderInstance);
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
      case Native::kString: return Val::Str(args.empty() ? u"" : ToStr(args[0]));
      default: throw Stop{};
    }
  }

  Val Call(const Node* n, Scope* sc) {
    const Node* callee = n->kids[0];
    if (callee->kind == N::kMember || callee->kind == N::kIndex) {
      Val obj = Eval(callee->kids[0], sc);
      if (callee->flag && (obj.t == Val::kUndef || obj.t == Val::kNull)) return Val{};
      if (callee->kind == N::kMember) {
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
      if (m == "toString") return Val::Str(Utf8To16(NumberToString(self.n, static_cast<int>(Arg(a, 0, 10)))));
      if (m == "toFixed" && Arg(a, 0, 0) == 0) return Val::Str(Utf8To16(NumberToString(std::round(self.n))));
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

  Val StringMethod(const std::u16string& s, const std::string& m, std::vector<Val>& a) {
    const size_t len = s.size();
    if (m == "charCodeAt" || m == "codePointAt") {
      ++decoding_ops_;
      const double i = Arg(a, 0, 0);
      if (i < 0 || i >= static_cast<double>(len) || std::isnan(i)) return Val::Num(std::nan(""));
      const size_t k = static_cast<size_t>(i);
      if (m == "codePointAt" && s[k] >= 0xD800 && s[k] <= 0xDBFF && k + 1 < len && s[k + 1] >= 0xDC00 &&
          s[k + 1] <= 0xDFFF) {
        return Val::Num(0x10000 + ((s[k] - 0xD800) << 10) + (s[k + 1] - 0xDC00));
      }
      return Val::Num(s[k]);
    }
    if (m == "charAt" || m == "at") {
      double i = Arg(a, 0, 0);
      if (m == "at" && i < 0) i += static_cast<double>(len);
      if (i < 0 || i >= static_cast<double>(len)) return m == "at" ? Val{} : Val::Str(u"");
      return Val::Str(std::u16string(1, s[static_cast<size_t>(i)]));
    }
    if (m == "slice" || m == "substring" || m == "substr") {
      size_t b, e;
      if (m == "slice") {
        b = Clamp(Arg(a, 0, 0), len);
        e = Clamp(Arg(a, 1, static_cast<double>(len)), len);
      } else if (m == "substring") {
        double x = std::max(0.0, Arg(a, 0, 0)), y = std::max(0.0, Arg(a, 1, static_cast<double>(len)));
        if (std::isnan(x)) x = 0;
        if (std::isnan(y)) y = 0;
        b = static_cast<size_t>(std::min(std::min(x, y), static_cast<double>(len)));
        e = static_cast<size_t>(std::min(std::max(x, y), static_cast<double>(len)));
      } else {
        b = Clamp(Arg(a, 0, 0), len);
        const double n = Arg(a, 1, static_cast<double>(len));
        e = n <= 0 ? b : std::min(len, b + static_cast<size_t>(n));
      }
      if (e <= b) return Val::Str(u"");
      Units(e - b);
      return Val::Str(s.substr(b, e - b));
    }
    if (m == "split") {
      Arr* out = NewArr();
      if (a.empty() || a[0].t == Val::kUndef) {
        out->v.push_back(Val::Str(s));
        return ArrVal(out);
      }
      if (a[0].t == Val::kRegex) {
        const Node* re = static_cast<const Node*>(a[0].p);
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
        Units(s.size() + out->v.size());
        return ArrVal(out);
      }
      const std::u16string sep = ToStr(a[0]);
      if (sep.empty()) {
        for (char16_t c : s) out->v.push_back(Val::Str(std::u16string(1, c)));
      } else {
        size_t start = 0;
        for (;;) {
          const size_t at = s.find(sep, start);
          if (at == std::u16string::npos) break;
          out->v.push_back(Val::Str(s.substr(start, at - start)));
          start = at + sep.size();
        }
        out->v.push_back(Val::Str(s.substr(start)));
      }
      Units(s.size() + out->v.size());
      return ArrVal(out);
    }
    if (m == "indexOf" || m == "lastIndexOf" || m == "includes" || m == "startsWith" || m == "endsWith") {
      const std::u16string t = a.empty() ? u"undefined" : ToStr(a[0]);
      if (m == "indexOf") {
        const size_t p = s.find(t, Clamp(Arg(a, 1, 0), len));
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
    if (m == "replace" || m == "replaceAll") {
      if (a.size() < 2) throw Stop{};
      if (a[0].t == Val::kRegex) return RegexReplace(s, static_cast<const Node*>(a[0].p), a[1], m == "replaceAll");
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
      out += s.substr(std::min(start, len));
      Units(out.size());
      return Val::Str(std::move(out));
    }
    if (m == "toLowerCase" || m == "toUpperCase") {
      std::u16string out = s;
      for (char16_t& c : out) {
        if (m == "toLowerCase" && c >= 'A' && c <= 'Z') c = static_cast<char16_t>(c + 32);
        if (m == "toUpperCase" && c >= 'a' && c <= 'z') c = static_cast<char16_t>(c - 32);
      }
      Units(out.size());
      return Val::Str(std::move(out));
    }
    if (m == "trim" || m == "trimStart" || m == "trimEnd") {
      size_t b = 0, e = len;
      auto ws = [](char16_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xA0 || c == 0xFEFF; };
      if (m != "trimEnd") {
        while (b < e && ws(s[b])) ++b;
      }
      if (m != "trimStart") {
        while (e > b && ws(s[e - 1])) --e;
      }
      return Val::Str(s.substr(b, e - b));
    }
    if (m == "repeat") {
      const double n = Arg(a, 0, 0);
      if (n < 0 || n * static_cast<double>(len) > 1e7) throw Stop{};
      Units(static_cast<size_t>(n) * len);
      std::u16string out;
      for (size_t i = 0; i < static_cast<size_t>(n); ++i) out += s;
      return Val::Str(std::move(out));
    }
    if (m == "padStart" || m == "padEnd") {
      const double n = Arg(a, 0, 0);
      if (n > 1e6) throw Stop{};
      const std::u16string fill = a.size() > 1 ? ToStr(a[1]) : u" ";
      if (fill.empty() || n <= static_cast<double>(len)) return Val::Str(s);
      std::u16string pad;
      while (pad.size() < static_cast<size_t>(n) - len) pad += fill;
      pad.resize(static_cast<size_t>(n) - len);
      return Val::Str(m == "padStart" ? pad + s : s + pad);
    }
    if (m == "concat") {
      std::u16string out = s;
      for (const Val& v : a) out += ToStr(v);
      Units(out.size());
      return Val::Str(std::move(out));
    }
    if (m == "toString" || m == "valueOf" || m == "normalize") return Val::Str(s);
    if (m == "localeCompare") {
      const int c = s.compare(a.empty() ? u"undefined" : ToStr(a[0]));
      return Val::Num(c < 0 ? -1 : c > 0 ? 1 : 0);
    }
    throw Stop{};
  }

  std::u16string Replacement(const Val& with, const std::u16string& match, const std::vector<std::u16string>& groups) {
    if (with.t == Val::kFn || with.t == Val::kNative) {
      std::vector<Val> args{Val::Str(match)};
      for (const auto& g : groups) args.push_back(Val::Str(g));
      return ToStr(CallValue(with, std::move(args)));
    }
    const std::u16string w = ToStr(with);
    if (w.find(u'$') != std::u16string::npos) throw Stop{};  // $1, $& …: not needed by decoders seen so far
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
      for (int i = 1; i <= groups; ++i) g.push_back(Utf8To16(std::string(sub[static_cast<size_t>(i)])));
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

  Val ArrayMethod(const Val& self, const std::string& m, std::vector<Val>& a) {
    Arr* arr = self.arr();
    auto& v = arr->v;
    auto callback = [&](size_t i) -> const Val& {
      if (i >= a.size() || (a[i].t != Val::kFn && a[i].t != Val::kNative)) throw Stop{};
      return a[i];
    };
    if (m == "map" || m == "filter" || m == "forEach" || m == "some" || m == "every" || m == "find" ||
        m == "findIndex") {
      const Val f = callback(0);
      Arr* out = NewArr();
      out->bytes = arr->bytes && m != "forEach";
      for (size_t i = 0; i < v.size(); ++i) {
        Val r = CallValue(f, {v[i], Val::Num(static_cast<double>(i)), self});
        if (m == "map") {
          out->v.push_back(out->bytes ? Val::Num(ToUint32(ToNum(r)) & 0xFF) : std::move(r));
        } else if (m == "filter") {
          if (Truthy(r)) out->v.push_back(v[i]);
        } else if (m == "some" && Truthy(r)) {
          return Val::Bool(true);
        } else if (m == "every" && !Truthy(r)) {
          return Val::Bool(false);
        } else if (m == "find" && Truthy(r)) {
          return v[i];
        } else if (m == "findIndex" && Truthy(r)) {
          return Val::Num(static_cast<double>(i));
        }
      }
      Units(out->v.size());
      if (m == "some") return Val::Bool(false);
      if (m == "every") return Val::Bool(true);
      if (m == "find" || m == "forEach") return Val{};
      if (m == "findIndex") return Val::Num(-1);
      return ArrVal(out);
    }
    if (m == "reduce" || m == "reduceRight") {
      const Val f = callback(0);
      size_t i = 0;
      Val acc;
      std::vector<Val> items = v;
      if (m == "reduceRight") std::reverse(items.begin(), items.end());
      if (a.size() > 1) {
        acc = a[1];
      } else {
        if (items.empty()) throw Stop{};
        acc = items[0];
        i = 1;
      }
      for (; i < items.size(); ++i) acc = CallValue(f, {acc, items[i], Val::Num(static_cast<double>(i)), self});
      return acc;
    }
    if (m == "join") {
      const std::u16string sep = a.empty() || a[0].t == Val::kUndef ? u"," : ToStr(a[0]);
      std::u16string out;
      for (size_t i = 0; i < v.size(); ++i) {
        if (i) out += sep;
        if (v[i].t != Val::kUndef && v[i].t != Val::kNull) out += ToStr(v[i]);
      }
      Units(out.size());
      return Val::Str(std::move(out));
    }
    if (m == "reverse") {
      ++decoding_ops_;
      std::reverse(v.begin(), v.end());
      return self;
    }
    if (m == "slice" || m == "subarray") {
      const size_t b = Clamp(Arg(a, 0, 0), v.size()), e = Clamp(Arg(a, 1, static_cast<double>(v.size())), v.size());
      Arr* out = NewArr();
      out->bytes = arr->bytes;
      if (e > b) out->v.assign(v.begin() + static_cast<ptrdiff_t>(b), v.begin() + static_cast<ptrdiff_t>(e));
      Units(out->v.size());
      return ArrVal(out);
    }
    if (m == "concat") {
      Arr* out = NewArr();
      out->v = v;
      for (const Val& x : a) {
        if (x.t == Val::kArr) {
          out->v.insert(out->v.end(), x.arr()->v.begin(), x.arr()->v.end());
        } else {
          out->v.push_back(x);
        }
      }
      Units(out->v.size());
      return ArrVal(out);
    }
    if (m == "push" || m == "unshift") {
      Units(a.size());
      if (m == "push") {
        v.insert(v.end(), a.begin(), a.end());
      } else {
        v.insert(v.begin(), a.begin(), a.end());
      }
      return Val::Num(static_cast<double>(v.size()));
    }
    if (m == "pop" || m == "shift") {
      if (v.empty()) return Val{};
      Val out = m == "pop" ? v.back() : v.front();
      if (m == "pop") {
        v.pop_back();
      } else {
        v.erase(v.begin());
      }
      return out;
    }
    if (m == "indexOf" || m == "includes") {
      const Val x = a.empty() ? Val{} : a[0];
      for (size_t i = 0; i < v.size(); ++i) {
        if (Truthy(Binary(Op::kStrictEq, v[i], x))) return m == "includes" ? Val::Bool(true) : Val::Num(static_cast<double>(i));
      }
      return m == "includes" ? Val::Bool(false) : Val::Num(-1);
    }
    if (m == "fill") {
      const Val x = a.empty() ? Val{} : a[0];
      for (Val& e : v) e = arr->bytes ? Val::Num(ToUint32(ToNum(x)) & 0xFF) : x;
      return self;
    }
    if (m == "at") {
      double i = Arg(a, 0, 0);
      if (i < 0) i += static_cast<double>(v.size());
      return i >= 0 && i < static_cast<double>(v.size()) ? v[static_cast<size_t>(i)] : Val{};
    }
    if (m == "flat") {
      Arr* out = NewArr();
      for (const Val& x : v) {
        if (x.t == Val::kArr) {
          out->v.insert(out->v.end(), x.arr()->v.begin(), x.arr()->v.end());
        } else {
          out->v.push_back(x);
        }
      }
      Units(out->v.size());
      return ArrVal(out);
    }
    if (m == "toString" && arr->bytes) {
      const std::string enc = a.empty() || a[0].t == Val::kUndef ? "utf8" : Utf16To8(ToStr(a[0]));
      const std::vector<uint8_t> b = BytesOf(self);
      Units(b.size());
      if (enc == "utf8" || enc == "utf-8") return Val::Str(Utf8BytesTo16(b));
      if (enc == "latin1" || enc == "binary" || enc == "ascii") {
        std::u16string out;
        for (uint8_t c : b) out.push_back(enc == "ascii" ? (c & 0x7F) : c);
        return Val::Str(std::move(out));
      }
      if (enc == "hex") {
        std::u16string out;
        for (uint8_t c : b) {
          out.push_back("0123456789abcdef"[c >> 4]);
          out.push_back("0123456789abcdef"[c & 15]);
        }
        return Val::Str(std::move(out));
      }
      if (enc == "base64") return Val::Str(Base64Encode(b));
      throw Stop{};
    }
    if (m == "toString") return Val::Str(ToStr(self));
    throw Stop{};
  }

  std::vector<uint8_t> StringBytes(const std::u16string& s, const std::string& enc) {
    if (enc == "base64" || enc == "base64url") return Base64Bytes(s);
    if (enc == "hex") {
      std::vector<uint8_t> out;
      for (size_t i = 0; i + 1 < s.size(); i += 2) {
        auto h = [](char16_t c) { return c >= '0' && c <= '9' ? c - '0' : (c | 32) >= 'a' && (c | 32) <= 'f' ? (c | 32) - 'a' + 10 : -1; };
        const int x = h(s[i]), y = h(s[i + 1]);
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

  Val CallNative(Native f, const std::vector<Val>& a) {
    Step();
    switch (f) {
      case Native::kFromCharCode:
      case Native::kFromCodePoint:
      case Native::kAtob:
      case Native::kDecodeUri:
      case Native::kUnescape: ++decoding_ops_; break;
      case Native::kBufferFrom:
      case Native::kUint8Array:
        if (a.size() > 1 && a[1].t == Val::kStr && a[1].s() != u"utf8" && a[1].s() != u"utf-8") ++decoding_ops_;
        break;
      case Native::kParseInt:
        if (a.size() > 1 && Arg(a, 1, 10) != 10) ++decoding_ops_;
        break;
      default: break;
    }
    switch (f) {
      case Native::kFromCharCode: {
        std::u16string out;
        for (const Val& v : a) out.push_back(static_cast<char16_t>(ToUint32(ToNum(v)) & 0xFFFF));
        Units(out.size());
        return Val::Str(std::move(out));
      }
      case Native::kFromCodePoint: {
        std::string out;
        for (const Val& v : a) {
          const double c = ToNum(v);
          if (c < 0 || c > 0x10FFFF || c != std::trunc(c)) throw Stop{};
          utf::AppendUtf8(static_cast<char32_t>(c), &out);
        }
        Units(out.size());
        return Val::Str(Utf8To16(out));
      }
      case Native::kAtob: {
        const std::vector<uint8_t> b = Base64Bytes(a.empty() ? u"" : ToStr(a[0]));
        Units(b.size());
        return Val::Str(std::u16string(b.begin(), b.end()));
      }
      case Native::kBtoa: {
        const std::u16string s = a.empty() ? u"undefined" : ToStr(a[0]);
        std::vector<uint8_t> b;
        for (char16_t c : s) {
          if (c > 0xFF) throw Stop{};
          b.push_back(static_cast<uint8_t>(c));
        }
        return Val::Str(Base64Encode(b));
      }
      case Native::kParseInt: {
        std::string s = a.empty() ? std::string() : Utf16To8(ToStr(a[0]));
        int radix = static_cast<int>(Arg(a, 1, 0));
        size_t i = s.find_first_not_of(" \t\n\r");
        if (i == std::string::npos) return Val::Num(std::nan(""));
        bool neg = false;
        if (s[i] == '-' || s[i] == '+') neg = s[i++] == '-';
        if ((radix == 0 || radix == 16) && s.size() > i + 1 && s[i] == '0' && (s[i + 1] | 32) == 'x') {
          radix = 16;
          i += 2;
        }
        if (radix == 0) radix = 10;
        if (radix < 2 || radix > 36) return Val::Num(std::nan(""));
        double v = 0;
        size_t digits = 0;
        for (; i < s.size(); ++i, ++digits) {
          const char c = static_cast<char>(s[i] | 32);
          const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'z' ? c - 'a' + 10 : 99;
          if (d >= radix) break;
          v = v * radix + d;
        }
        if (digits == 0) return Val::Num(std::nan(""));
        return Val::Num(neg ? -v : v);
      }
      case Native::kParseFloat:
      case Native::kNumber: return Val::Num(a.empty() ? 0 : ToNum(a[0]));
      case Native::kBoolean: return Val::Bool(!a.empty() && Truthy(a[0]));
      case Native::kString: return Val::Str(a.empty() ? u"" : ToStr(a[0]));
      case Native::kBufferFrom:
      case Native::kUint8Array: {
        if (a.empty()) throw Stop{};
        if (a[0].t == Val::kStr) {
          const std::string enc = a.size() > 1 && a[1].t == Val::kStr ? Utf16To8(a[1].s()) : "utf8";
          return Bytes(StringBytes(a[0].s(), enc));
        }
        return Bytes(BytesOf(a[0]));
      }
      case Native::kBufferAlloc: {
        const double n = Arg(a, 0, 0);
        if (n < 0 || n > 1e7) throw Stop{};
        return Bytes(std::vector<uint8_t>(static_cast<size_t>(n)));
      }
      case Native::kMathFloor: return Val::Num(std::floor(Arg(a, 0, std::nan(""))));
      case Native::kMathCeil: return Val::Num(std::ceil(Arg(a, 0, std::nan(""))));
      case Native::kMathRound: return Val::Num(std::floor(Arg(a, 0, std::nan("")) + 0.5));
      case Native::kMathAbs: return Val::Num(std::fabs(Arg(a, 0, std::nan(""))));
      case Native::kMathTrunc: return Val::Num(std::trunc(Arg(a, 0, std::nan(""))));
      case Native::kMathPow: return Val::Num(std::pow(Arg(a, 0, std::nan("")), Arg(a, 1, std::nan(""))));
      case Native::kMathMin:
      case Native::kMathMax: {
        double r = f == Native::kMathMin ? std::numeric_limits<double>::infinity()
                                         : -std::numeric_limits<double>::infinity();
        for (const Val& v : a) r = f == Native::kMathMin ? std::min(r, ToNum(v)) : std::max(r, ToNum(v));
        return Val::Num(r);
      }
      case Native::kArrayFrom: {
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
          for (size_t i = 0; i < out->v.size(); ++i) out->v[i] = CallValue(a[1], {out->v[i], Val::Num(static_cast<double>(i))});
        }
        Units(out->v.size());
        return ArrVal(out);
      }
      case Native::kArrayIsArray: return Val::Bool(!a.empty() && a[0].t == Val::kArr);
      case Native::kArrayOf:
      case Native::kArray: {
        Arr* out = NewArr();
        out->v = a;
        return ArrVal(out);
      }
      case Native::kJsonParse: return JsonParse(a.empty() ? std::u16string() : ToStr(a[0]));
      case Native::kDecodeUri:
      case Native::kUnescape: {
        const std::u16string s = a.empty() ? u"" : ToStr(a[0]);
        std::string bytes;
        std::u16string out;
        auto flush = [&] {
          if (!bytes.empty()) out += Utf8To16(bytes);
          bytes.clear();
        };
        for (size_t i = 0; i < s.size(); ++i) {
          auto h = [](char16_t c) { return c >= '0' && c <= '9' ? c - '0' : (c | 32) >= 'a' && (c | 32) <= 'f' ? (c | 32) - 'a' + 10 : -1; };
          if (s[i] == '%' && i + 2 < s.size() && h(s[i + 1]) >= 0 && h(s[i + 2]) >= 0) {
            const int c = h(s[i + 1]) * 16 + h(s[i + 2]);
            if (f == Native::kUnescape) {
              out.push_back(static_cast<char16_t>(c));
            } else {
              bytes.push_back(static_cast<char>(c));
            }
            i += 2;
            continue;
          }
          if (f == Native::kUnescape && s[i] == '%' && i + 5 < s.size() && s[i + 1] == 'u') {
            int c = 0;
            bool ok = true;
            for (size_t k = 2; k < 6; ++k) {
              const int d = h(s[i + k]);
              ok &= d >= 0;
              c = c * 16 + d;
            }
            if (ok) {
              out.push_back(static_cast<char16_t>(c));
              i += 5;
              continue;
            }
          }
          flush();
          out.push_back(s[i]);
        }
        flush();
        Units(out.size());
        return Val::Str(std::move(out));
      }
      case Native::kObjectKeys:
      case Native::kObjectValues: {
        if (a.empty() || a[0].t != Val::kObj) throw Stop{};
        Arr* out = NewArr();
        for (auto& [k, v] : a[0].obj()->props) out->v.push_back(f == Native::kObjectKeys ? Val::Str(k) : v);
        return ArrVal(out);
      }
      case Native::kObjectFreeze: return a.empty() ? Val{} : a[0];
      default: throw Stop{};
    }
  }

  // JSON.parse of arrays, objects, strings, numbers, booleans and null.
  Val JsonParse(const std::u16string& s) {
    size_t i = 0;
    Val v = JsonValue(s, &i, 0);
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r')) ++i;
    if (i != s.size()) throw Thrown{Val::Str(u"SyntaxError")};
    return v;
  }
  Val JsonValue(const std::u16string& s, size_t* i, int depth) {
    Step();
    if (depth > 64) throw Stop{};
    auto ws = [&] {
      while (*i < s.size() && (s[*i] == ' ' || s[*i] == '\n' || s[*i] == '\t' || s[*i] == '\r')) ++*i;
    };
    ws();
    if (*i >= s.size()) throw Thrown{Val::Str(u"SyntaxError")};
    const char16_t c = s[*i];
    if (c == '[') {
      ++*i;
      Arr* a = NewArr();
      ws();
      if (*i < s.size() && s[*i] == ']') {
        ++*i;
        return ArrVal(a);
      }
      for (;;) {
        a->v.push_back(JsonValue(s, i, depth + 1));
        Units(1);
        ws();
        if (*i < s.size() && s[*i] == ',') {
          ++*i;
          continue;
        }
        if (*i < s.size() && s[*i] == ']') {
          ++*i;
          return ArrVal(a);
        }
        throw Thrown{Val::Str(u"SyntaxError")};
      }
    }
    if (c == '{') {
      ++*i;
      Obj* o = NewObj();
      ws();
      if (*i < s.size() && s[*i] == '}') {
        ++*i;
      } else {
        for (;;) {
          ws();
          Val k = JsonValue(s, i, depth + 1);
          if (k.t != Val::kStr) throw Thrown{Val::Str(u"SyntaxError")};
          ws();
          if (*i >= s.size() || s[*i] != ':') throw Thrown{Val::Str(u"SyntaxError")};
          ++*i;
          o->props.emplace_back(k.s(), JsonValue(s, i, depth + 1));
          ws();
          if (*i < s.size() && s[*i] == ',') {
            ++*i;
            continue;
          }
          if (*i < s.size() && s[*i] == '}') {
            ++*i;
            break;
          }
          throw Thrown{Val::Str(u"SyntaxError")};
        }
      }
      Val v;
      v.t = Val::kObj;
      v.p = o;
      return v;
    }
    if (c == '"') {
      std::u16string out;
      for (++*i; *i < s.size() && s[*i] != '"'; ++*i) {
        if (s[*i] != '\\') {
          out.push_back(s[*i]);
          continue;
        }
        if (++*i >= s.size()) break;
        const char16_t e = s[*i];
        if (e == 'n') out.push_back('\n');
        else if (e == 't') out.push_back('\t');
        else if (e == 'r') out.push_back('\r');
        else if (e == 'b') out.push_back('\b');
        else if (e == 'f') out.push_back('\f');
        else if (e == 'u' && *i + 4 < s.size()) {
          out.push_back(static_cast<char16_t>(std::stoi(Utf16To8(s.substr(*i + 1, 4)), nullptr, 16)));
          *i += 4;
        } else out.push_back(e);
      }
      if (*i >= s.size()) throw Thrown{Val::Str(u"SyntaxError")};
      ++*i;
      Units(out.size());
      return Val::Str(std::move(out));
    }
    size_t e = *i;
    while (e < s.size() && s[e] != ',' && s[e] != ']' && s[e] != '}' && s[e] != ' ' && s[e] != '\n') ++e;
    const std::string word = Utf16To8(s.substr(*i, e - *i));
    *i = e;
    if (word == "true") return Val::Bool(true);
    if (word == "false") return Val::Bool(false);
    if (word == "null") {
      Val v;
      v.t = Val::kNull;
      return v;
    }
    auto n = ParseJsNumber(word);
    if (!n) throw Thrown{Val::Str(u"SyntaxError")};
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
    TSTree* tree = ts_parser_parse_string(parser.get(), nullptr, wrapped.data(), static_cast<uint32_t>(wrapped.size()));
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

JsEvaluator::JsEvaluator(std::string_view module_text, Resolver resolver) : impl_(std::make_unique<Impl>()) {
  impl_->text = module_text;
  impl_->resolver = std::move(resolver);
  Impl* impl = impl_.get();
  impl_->compile = [impl](Range r, bool decl) -> const Node* {
    // Decoders, their keys and their constants are small; a large value
    // (a module's object, a class) is not compiled, and all snippets of a
    // module together are bounded, so that a bundle with thousands of
    // near-decoders costs bounded parsing.
    if (r.end <= r.begin || r.end > impl->text.size() || r.end - r.begin > 16 * 1024) return nullptr;
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

std::optional<EvalResult> JsEvaluator::Evaluate(Range expr, uint32_t func, const EvalLimits& limits) {
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

std::optional<EvalResult> JsEvaluator::EvaluateSource(std::string_view source, const EvalLimits& limits) {
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
