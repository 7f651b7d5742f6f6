#include "core/secrets.h"

#include <fmt/format.h>
#include <hs/hs.h>
#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "core/utf.h"

namespace glassbox {

// A stretch of text where a gate's keyword occurred: its rules run there.
struct Window {
  size_t gate;
  size_t begin;
  size_t end;
};

// Room for RE2's DFA cache: the generic rules' bounded repeats make many
// states, and a cache that keeps filling up and resetting is slow.
constexpr int64_t kRegexMemory = int64_t{64} << 20;
// Findings one Scan call stores; the rest are counted (hostile input can hold
// millions of key-shaped strings).
constexpr size_t kMaxFindingsPerScan = 10000;

struct SecretScanner::Impl {
  std::vector<SecretRule> rules;
  // Regexes are compiled on first use: a scan pays only for the rules whose
  // keywords occur (RE2 construction of every built-in rule costs ~40 ms).
  struct LazyRegex {
    std::once_flag once;
    std::unique_ptr<RE2> re;
  };
  std::vector<std::unique_ptr<LazyRegex>> regexes;
  // Per rule: its regex with every counted repeat {n,m} opened to {n,}
  // (WithoutRepeatCaps), when the caps are what makes the regex expensive to
  // compile, else empty. That regex matches wherever the rule's does, so a
  // window it finds nothing in needs the rule's regex neither compiled nor
  // run: the generic XML rule's "{8,200}" pair takes 19.7 million
  // instructions to compile, its capless form 1.5 million.
  std::vector<std::string> capless;
  std::vector<std::unique_ptr<LazyRegex>> capless_regexes;
  // Rules with the same keywords share a gate: one window per hit, and when
  // several rules share it, one RE2::Set pass tells which of them match.
  struct Gate {
    std::vector<size_t> rules;
    bool multiline = false;
    std::unique_ptr<std::once_flag> set_once = std::make_unique<std::once_flag>();
    // Only when rules.size() > 1 (SetFor); null also if it failed to compile:
    // then every rule of the gate is tried.
    std::unique_ptr<RE2::Set> set;
    std::string prefilter;  // shared by every rule of the gate, or empty
    std::unique_ptr<std::once_flag> prefilter_once = std::make_unique<std::once_flag>();
    std::unique_ptr<RE2> prefilter_re;  // compiled on first use (PrefilterFor)
    // Index into the scratch's prefilter_ends when the prefilter is also in
    // the Vectorscan database (see HsPrefilterUsable), else -1.
    int hs_prefilter = -1;
  };

  static RE2::Options OptionsFor(bool multiline) {
    RE2::Options options;
    options.set_log_errors(false);
    options.set_max_mem(kRegexMemory);
    options.set_dot_nl(multiline);
    return options;
  }
  // Rule r's capless regex, compiled on first use; null when it has none.
  const RE2* CaplessRegex(size_t r) const {
    if (capless[r].empty()) return nullptr;
    LazyRegex& lazy = *capless_regexes[r];
    std::call_once(lazy.once, [&] {
      lazy.re = std::make_unique<RE2>(capless[r], OptionsFor(rules[r].multiline));
    });
    return lazy.re->ok() ? lazy.re.get() : nullptr;
  }
  const RE2& Regex(size_t r) const {
    LazyRegex& lazy = *regexes[r];
    std::call_once(lazy.once, [&] {
      lazy.re = std::make_unique<RE2>(rules[r].regex, OptionsFor(rules[r].multiline));
    });
    return *lazy.re;
  }
  // Compiles the gate's RE2::Set (for two rules or more) on first use;
  // returns it or null. Gates whose prefilter Vectorscan checks get one too:
  // since the generic rules lost their counted repeats their set compiles in
  // ~2.6 million instructions, and one pass over a window instead of one per
  // rule saves 17 us of the gate's 52 us policy on a 100 KB prompt (whose
  // "max_tokens": 64 opens a 4 KB window for the three generic rules).
  const RE2::Set* SetFor(size_t g) const {
    Gate& gate = const_cast<Gate&>(gates[g]);  // lazily filled, guarded by set_once
    std::call_once(*gate.set_once, [&] {
      if (gate.rules.size() < 2) return;
      auto set = std::make_unique<RE2::Set>(OptionsFor(gate.multiline), RE2::UNANCHORED);
      for (size_t r : gate.rules) {
        if (set->Add(rules[r].regex, nullptr) < 0) return;
      }
      if (set->Compile()) gate.set = std::move(set);
    });
    return gate.set.get();
  }
  // The gate's prefilter as an RE2, compiled on first use; null when the gate
  // has none (or it does not compile: the rules alone then decide).
  const RE2* PrefilterFor(size_t g) const {
    Gate& gate = const_cast<Gate&>(gates[g]);  // lazily filled, guarded by prefilter_once
    std::call_once(*gate.prefilter_once, [&] {
      if (gate.prefilter.empty()) return;
      auto re = std::make_unique<RE2>(gate.prefilter, OptionsFor(gate.multiline));
      if (re->ok()) gate.prefilter_re = std::move(re);
    });
    return gate.prefilter_re.get();
  }
  std::vector<Gate> gates;
  std::vector<std::vector<size_t>> keyword_gates;  // literal id -> gate indexes
  // Pattern ids from keyword_gates.size() on are gate prefilters: id - that
  // size indexes hs_prefilter_gates.
  std::vector<size_t> hs_prefilter_gates;
  hs_database_t* db = nullptr;
  std::string db_key;        // DatabaseKey() of db
  bool precompiled = false;  // db came from BuiltinPrecompiledRules()
  ~Impl() {
    if (db != nullptr) hs_free_database(db);
  }
};

struct SecretScratch::Impl {
  hs_scratch_t* scratch = nullptr;
  // Reused between calls so a scan allocates only for what it finds.
  std::vector<size_t> covered;
  std::vector<Window> windows;
  std::vector<re2::StringPiece> groups;
  std::vector<int> which;
  std::vector<size_t> candidates;
  // Per Vectorscan prefilter: end offsets of its matches in the text.
  std::vector<std::vector<size_t>> prefilter_ends;
  // Findings stored in this Scan call, and those past the cap, per rule.
  size_t emitted = 0;
  std::vector<std::pair<size_t, uint64_t>> overflow;  // rule index, count
  ~Impl() {
    if (scratch != nullptr) hs_free_scratch(scratch);
  }
};

SecretScratch::SecretScratch(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SecretScratch::~SecretScratch() = default;
SecretScanner::SecretScanner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SecretScanner::~SecretScanner() = default;

const std::vector<SecretRule>& SecretScanner::rules() const { return impl_->rules; }
const std::string& SecretScanner::database_key() const { return impl_->db_key; }
bool SecretScanner::used_precompiled_database() const { return impl_->precompiled; }

Result<std::string> SecretScanner::SerializeDatabase() const {
  if (impl_->db == nullptr) return Status::Error("secret rules: no keyword database to serialize");
  char* bytes = nullptr;
  size_t length = 0;
  if (hs_serialize_database(impl_->db, &bytes, &length) != HS_SUCCESS) {
    return Status::Error("secret rules: the keyword database did not serialize");
  }
  std::string out(bytes, length);
  std::free(bytes);
  return out;
}

double ShannonEntropy(std::string_view s) {
  if (s.empty()) return 0;
  size_t counts[256] = {};
  for (unsigned char c : s) ++counts[c];
  double h = 0;
  const double n = static_cast<double>(s.size());
  for (size_t c : counts) {
    if (c == 0) continue;
    const double p = static_cast<double>(c) / n;
    h -= p * std::log2(p);
  }
  return h;
}

std::string MaskSecret(std::string_view secret) {
  const size_t n = secret.size();
  size_t head = std::min<size_t>(n / 4, 12);
  const size_t tail = n >= 16 ? 2 : 0;
  // Keep a readable prefix such as "sk-ant-" or "ghp_" but never more than a quarter.
  std::string out(secret.substr(0, head));
  out += fmt::format("…({} chars)…", n);
  out += secret.substr(n - tail);
  // Private key blocks: show the header line only.
  if (secret.rfind("-----BEGIN", 0) == 0) {
    const size_t eol = secret.find('\n');
    out = std::string(
              secret.substr(0, eol == std::string_view::npos ? std::min<size_t>(n, 40) : eol)) +
          fmt::format("…({} chars)", n);
  }
  return out;
}

namespace {

// A gate's prefilter also goes into the Vectorscan database when Vectorscan
// can only over-approximate RE2 on it: then a window with no Vectorscan match
// ending inside it cannot hold an RE2 match either, and RE2 runs only on the
// windows left. That holds for a window of ASCII text (bytes are characters,
// and RE2's Unicode case folding has nothing to fold) and a pattern without
// anchors or word boundaries (the window's edges are not the text's). The
// textual test reads escapes and character classes: '^' and '$' inside a
// class ("[#*^]") or escaped are characters, anywhere else they rule the
// pattern out. (A '^' in a class once did that to the generic rules' shared
// prefilter, and every window of theirs went to RE2.) A class's end is found
// past POSIX names ("[[:alpha:]]"); a pattern it cannot read is ruled out.
bool HsPrefilterUsable(std::string_view pattern) {
  if (pattern.empty()) return false;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\') {
      if (i + 1 == pattern.size()) return false;
      const char e = pattern[++i];
      if (!in_class && (e == 'b' || e == 'B' || e == 'A' || e == 'z' || e == 'Z' || e == 'G'))
        return false;
      continue;
    }
    if (in_class) {
      if (c == '[' && i + 1 < pattern.size() && pattern[i + 1] == ':') {
        const size_t close = pattern.find(":]", i + 2);
        if (close == std::string_view::npos) return false;
        i = close + 1;
      } else if (c == ']') {
        in_class = false;
      }
      continue;
    }
    if (c == '^' || c == '$') return false;
    if (c == '[') {
      in_class = true;
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') ++i;  // negation
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') ++i;  // a leading ']' is a character
    }
  }
  if (in_class) return false;
  hs_expr_info_t* info = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_expression_info(std::string(pattern).c_str(), 0, &info, &err) != HS_SUCCESS) {
    hs_free_compile_error(err);
    return false;
  }
  // An empty match would need HS_FLAG_ALLOWEMPTY and says nothing anyway.
  const bool usable = info->min_width > 0 && info->unordered_matches == 0;
  std::free(info);
  return usable;
}

// Counted repeats whose caps together allow this many more repetitions than
// their minimums get a capless check (Impl::capless): below it the capless
// regex compiles to nearly the same program.
constexpr size_t kCaplessMinSpan = 64;

// Walks the counted repeats "{n,m}" of an RE2 pattern, outside escapes,
// \Q...\E quotes and character classes, and calls on_repeat(begin, comma,
// end) with the offsets of its '{', ',' and '}'.
template <typename OnRepeat>
void ForEachCountedRepeat(std::string_view p, OnRepeat on_repeat) {
  auto digits_end = [&](size_t k) {
    while (k < p.size() && p[k] >= '0' && p[k] <= '9') ++k;
    return k;
  };
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\') {
      if (i + 1 < p.size() && p[i + 1] == 'Q') {
        const size_t end = p.find("\\E", i + 2);
        i = end == std::string_view::npos ? p.size() : end + 1;
      } else {
        ++i;  // the escaped character
      }
    } else if (in_class) {
      const size_t posix_end =
          c == '[' && i + 1 < p.size() && p[i + 1] == ':' ? p.find(":]", i + 2) : p.npos;
      if (posix_end != std::string_view::npos) {
        i = posix_end + 1;  // "[:alpha:]"
      } else if (c == ']') {
        in_class = false;
      }
    } else if (c == '[') {
      in_class = true;
      if (i + 1 < p.size() && p[i + 1] == '^') ++i;
      if (i + 1 < p.size() && p[i + 1] == ']') ++i;  // a leading ']' is a character
    } else if (c == '{') {
      const size_t comma = digits_end(i + 1);
      if (comma == i + 1 || comma >= p.size() || p[comma] != ',') continue;
      const size_t close = digits_end(comma + 1);
      if (close == comma + 1 || close >= p.size() || p[close] != '}') continue;
      on_repeat(i, comma, close);
      i = close;
    }
  }
}

// How many more repetitions than their minimums the pattern's counted
// repeats allow together ("{8,200}" adds 192).
size_t CapSpan(std::string_view pattern) {
  size_t span = 0;
  ForEachCountedRepeat(pattern, [&](size_t begin, size_t comma, size_t end) {
    size_t n = 0, m = 0;
    std::from_chars(pattern.data() + begin + 1, pattern.data() + comma, n);
    std::from_chars(pattern.data() + comma + 1, pattern.data() + end, m);
    if (m > n) span += m - n;
  });
  return span;
}

}  // namespace

std::string WithoutRepeatCaps(std::string_view pattern) {
  std::string out;
  size_t copied = 0;
  ForEachCountedRepeat(pattern, [&](size_t /*begin*/, size_t comma, size_t end) {
    out.append(pattern.substr(copied, comma + 1 - copied));  // through the comma: "{8,"
    copied = end;                                            // from the '}'
  });
  out.append(pattern.substr(copied));
  return out;
}

namespace {

// One prefilter's line in a database key.
std::string DatabaseKeyEntry(std::string_view pattern, unsigned flags) {
  return fmt::format("P{}:{}:{}\n", flags, pattern.size(), pattern);
}

// What a keyword database is compiled from: literals (a trailing '\x01'
// marks one matched as written), then Vectorscan prefilters with their flags.
std::string DatabaseKey(const std::vector<std::string>& literals,
                        const std::vector<std::string>& patterns,
                        const std::vector<unsigned>& flags) {
  std::string key = fmt::format("glassbox-keywords v1 hs {}\n", hs_version());
  for (const std::string& l : literals) key += fmt::format("L{}:{}\n", l.size(), l);
  for (size_t k = 0; k < patterns.size(); ++k) key += DatabaseKeyEntry(patterns[k], flags[k]);
  return key;
}

// A serialized database, or null when it does not load or does not run on
// this CPU (it was built for the build machine's).
hs_database_t* LoadDatabase(std::string_view bytes) {
  hs_database_t* db = nullptr;
  if (hs_deserialize_database(bytes.data(), bytes.size(), &db) != HS_SUCCESS) return nullptr;
  hs_scratch_t* scratch = nullptr;
  const bool runs =
      hs_alloc_scratch(db, &scratch) == HS_SUCCESS &&
      hs_scan(
          db, "x", 1, 0, scratch,
          [](unsigned, unsigned long long, unsigned long long, unsigned, void*) { return 0; },
          nullptr) == HS_SUCCESS;
  if (scratch != nullptr) hs_free_scratch(scratch);
  if (!runs) {
    hs_free_database(db);
    return nullptr;
  }
  return db;
}

// A literal as a Vectorscan regex: every byte escaped.
std::string EscapeLiteral(std::string_view literal) {
  std::string out;
  for (unsigned char c : literal) out += fmt::format("\\x{:02x}", c);
  return out;
}

}  // namespace

Result<std::shared_ptr<const SecretScanner>> SecretScanner::Compile(std::vector<SecretRule> rules,
                                                                    CompileMode mode) {
  return CompileImpl(std::move(rules), mode, /*hs_prefilters=*/false);
}

Result<std::shared_ptr<const SecretScanner>> SecretScanner::CompileForPrecompiling(
    std::vector<SecretRule> rules) {
  return CompileImpl(std::move(rules), CompileMode::kLazy, /*hs_prefilters=*/true);
}

namespace {

using Impl = SecretScanner::Impl;

// What the keyword database is compiled from.
struct DatabasePlan {
  std::vector<std::string> literals;     // keywords; a trailing '\x01' marks one matched as written
  std::vector<std::string> hs_patterns;  // gate prefilters that Vectorscan checks in the same pass
  std::vector<unsigned> hs_flags;
};

// The gate of `rule` (rule index r): rules with the same keywords and line
// mode share one. A gate has a prefilter only when all its rules share it.
size_t JoinGate(const SecretRule& rule, size_t r, std::vector<std::string>* gate_keys, Impl* impl) {
  std::vector<std::string> sorted_keywords = rule.keywords;
  std::sort(sorted_keywords.begin(), sorted_keywords.end());
  std::string gate_key = rule.multiline ? "M" : "L";
  for (const std::string& kw : sorted_keywords) gate_key += '\0' + kw;
  const size_t gate =
      std::find(gate_keys->begin(), gate_keys->end(), gate_key) - gate_keys->begin();
  if (gate == gate_keys->size()) {
    gate_keys->push_back(gate_key);
    impl->gates.emplace_back();
    impl->gates.back().multiline = rule.multiline;
  }
  Impl::Gate& g = impl->gates[gate];
  if (g.rules.empty()) {
    g.prefilter = rule.prefilter;
  } else if (g.prefilter != rule.prefilter) {
    g.prefilter.clear();
  }
  g.rules.push_back(r);
  return gate;
}

// Adds the keywords of a rule in `gate` to the literals and to
// impl->keyword_gates. A keyword with an upper-case letter ("AKIA", "SG.",
// "eyJ") is matched as written; an all-lower-case one ("secret") in any case.
void AddKeywords(const SecretRule& rule, size_t gate, std::vector<std::string>* literals,
                 Impl* impl) {
  for (const std::string& kw : rule.keywords) {
    const bool caseless =
        std::none_of(kw.begin(), kw.end(), [](unsigned char c) { return std::isupper(c); });
    const std::string lower = caseless ? kw : kw + '\x01';  // distinct entry per case mode
    const size_t id = std::find(literals->begin(), literals->end(), lower) - literals->begin();
    if (id == literals->size()) {
      literals->push_back(lower);
      impl->keyword_gates.emplace_back();
    }
    auto& owners = impl->keyword_gates[id];
    if (std::find(owners.begin(), owners.end(), gate) == owners.end()) owners.push_back(gate);
  }
}

// Picks the gate prefilters that go into the Vectorscan database. Asking
// Vectorscan whether a prefilter is usable costs more than the rest of
// start-up: at run time a prefilter is used only when the build-time
// database has it, and that database was built from patterns that passed.
void ChooseHsPrefilters(bool at_build_time, const PrecompiledRules& pre, Impl* impl,
                        DatabasePlan* plan) {
  for (size_t g = 0; g < impl->gates.size(); ++g) {
    Impl::Gate& gate = impl->gates[g];
    const unsigned flags = gate.multiline ? HS_FLAG_DOTALL : 0u;
    const bool usable = at_build_time
                            ? HsPrefilterUsable(gate.prefilter)
                            : !gate.prefilter.empty() &&
                                  pre.db_key.find("\n" + DatabaseKeyEntry(gate.prefilter, flags)) !=
                                      std::string::npos;
    if (!usable) continue;
    gate.hs_prefilter = static_cast<int>(impl->hs_prefilter_gates.size());
    impl->hs_prefilter_gates.push_back(g);
    plan->hs_patterns.push_back(gate.prefilter);
    plan->hs_flags.push_back(flags);
  }
}

void DropHsPrefilters(Impl* impl, DatabasePlan* plan) {
  for (Impl::Gate& gate : impl->gates) gate.hs_prefilter = -1;
  impl->hs_prefilter_gates.clear();
  plan->hs_patterns.clear();
  plan->hs_flags.clear();
}

// Compiles the keywords and the prefilters into one database (the build-time
// one); on failure the keywords go on alone and RE2 checks every prefilter.
void CompileCombinedDatabase(Impl* impl, DatabasePlan* plan) {
  std::vector<std::string> patterns;
  std::vector<unsigned> flags;
  for (const std::string& literal : plan->literals) {
    const bool exact = literal.back() == '\x01';
    patterns.push_back(EscapeLiteral(exact ? std::string_view(literal).substr(0, literal.size() - 1)
                                           : std::string_view(literal)));
    flags.push_back(exact ? 0u : HS_FLAG_CASELESS);
  }
  patterns.insert(patterns.end(), plan->hs_patterns.begin(), plan->hs_patterns.end());
  flags.insert(flags.end(), plan->hs_flags.begin(), plan->hs_flags.end());
  std::vector<const char*> ptrs;
  std::vector<unsigned> ids;
  for (size_t k = 0; k < patterns.size(); ++k) {
    ptrs.push_back(patterns[k].c_str());
    ids.push_back(static_cast<unsigned>(k));
  }
  // This database is built once and shipped in the binary: it asks for no
  // CPU feature beyond AVX2, so that any x86-64 machine from the last decade
  // (and valgrind) can load it; others compile their own.
  hs_platform_info_t platform;
  hs_platform_info_t* target = nullptr;
  if (hs_populate_platform(&platform) == HS_SUCCESS) {
    platform.tune = HS_TUNE_FAMILY_GENERIC;
    platform.cpu_features &= HS_CPU_FEATURES_AVX2;
    target = &platform;
  }
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(ptrs.data(), flags.data(), ids.data(), static_cast<unsigned>(ptrs.size()),
                       HS_MODE_BLOCK, target, &impl->db, &err) != HS_SUCCESS) {
    hs_free_compile_error(err);
    impl->db = nullptr;
    DropHsPrefilters(impl, plan);
  }
}

Status CompileLiteralDatabase(const std::vector<std::string>& literals, Impl* impl) {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  std::vector<unsigned> flags;
  std::vector<unsigned> ids;
  for (size_t k = 0; k < literals.size(); ++k) {
    const bool exact = literals[k].back() == '\x01';
    flags.push_back(exact ? 0u : HS_FLAG_CASELESS);
    ptrs.push_back(literals[k].c_str());
    lens.push_back(exact ? literals[k].size() - 1 : literals[k].size());
    ids.push_back(static_cast<unsigned>(k));
  }
  hs_compile_error_t* err = nullptr;
  if (hs_compile_lit_multi(ptrs.data(), flags.data(), ids.data(), lens.data(),
                           static_cast<unsigned>(literals.size()), HS_MODE_BLOCK, nullptr,
                           &impl->db, &err) != HS_SUCCESS) {
    std::string msg = err != nullptr && err->message != nullptr ? err->message : "unknown error";
    hs_free_compile_error(err);
    return Status::Error("secret rules: keyword database did not compile: " + msg);
  }
  return Status::Ok();
}

// kEager: compiles every regex, set and prefilter now; errors name the rule.
Status CompileEveryRegex(const Impl& impl) {
  for (size_t r = 0; r < impl.rules.size(); ++r) {
    const SecretRule& rule = impl.rules[r];
    const RE2& re = impl.Regex(r);
    if (!re.ok()) {
      return Status::Error(
          fmt::format("{}: rule {}: invalid regex: {}", rule.source, rule.id, re.error()));
    }
    if (rule.secret_group < 0 || rule.secret_group > re.NumberOfCapturingGroups()) {
      return Status::Error(fmt::format("{}: rule {}: secret_group {} but the regex has {} groups",
                                       rule.source, rule.id, rule.secret_group,
                                       re.NumberOfCapturingGroups()));
    }
  }
  for (size_t g = 0; g < impl.gates.size(); ++g) {
    impl.SetFor(g);
    impl.PrefilterFor(g);
  }
  return Status::Ok();
}

}  // namespace

Result<std::shared_ptr<const SecretScanner>> SecretScanner::CompileImpl(
    std::vector<SecretRule> rules, CompileMode mode, bool hs_prefilters) {
  auto impl = std::make_unique<Impl>();
  DatabasePlan plan;
  std::vector<std::string> gate_keys;  // sorted keywords + multiline flag, per gate
  for (size_t r = 0; r < rules.size(); ++r) {
    const SecretRule& rule = rules[r];
    if (rule.keywords.empty()) {
      return Status::Error(
          fmt::format("{}: rule {}: needs at least one keyword", rule.source, rule.id));
    }
    for (size_t k = 0; k < rule.keywords.size(); ++k) {
      if (rule.keywords[k].empty()) {
        return Status::Error(fmt::format(
            "{}: rule {}: keyword {} is empty (a keyword is a literal the text must contain)",
            rule.source, rule.id, k + 1));
      }
    }
    impl->regexes.push_back(std::make_unique<Impl::LazyRegex>());
    impl->capless.push_back(CapSpan(rule.regex) >= kCaplessMinSpan ? WithoutRepeatCaps(rule.regex)
                                                                   : std::string());
    impl->capless_regexes.push_back(std::make_unique<Impl::LazyRegex>());
    AddKeywords(rule, JoinGate(rule, r, &gate_keys, impl.get()), &plan.literals, impl.get());
  }
  const PrecompiledRules& pre = BuiltinPrecompiledRules();
  ChooseHsPrefilters(hs_prefilters, pre, impl.get(), &plan);
  const std::string combined_key = DatabaseKey(plan.literals, plan.hs_patterns, plan.hs_flags);
  const std::string literal_key = DatabaseKey(plan.literals, {}, {});
  // The database built into the binary, when it was made for these rules.
  if (!plan.literals.empty() && !pre.database.empty() &&
      (pre.db_key == combined_key || pre.db_key == literal_key)) {
    impl->db = LoadDatabase(pre.database);
    if (impl->db != nullptr) {
      impl->precompiled = true;
      if (pre.db_key != combined_key) DropHsPrefilters(impl.get(), &plan);
    }
  }
  // Compiling the prefilters into the database costs far more than it saves
  // in one run: only the build-time database has them.
  if (impl->db == nullptr && !hs_prefilters) DropHsPrefilters(impl.get(), &plan);
  if (impl->db == nullptr && !plan.hs_patterns.empty()) CompileCombinedDatabase(impl.get(), &plan);
  if (impl->db == nullptr && !plan.literals.empty()) {
    DropHsPrefilters(impl.get(), &plan);
    Status st = CompileLiteralDatabase(plan.literals, impl.get());
    if (!st.ok()) return st;
  }
  impl->db_key = plan.hs_patterns.empty() ? literal_key : combined_key;
  impl->rules = std::move(rules);
  if (mode == CompileMode::kEager) {
    Status st = CompileEveryRegex(*impl);
    if (!st.ok()) return st;
  }
  return std::shared_ptr<const SecretScanner>(new SecretScanner(std::move(impl)));
}

std::unique_ptr<SecretScratch> SecretScanner::NewScratch() const {
  auto s = std::make_unique<SecretScratch::Impl>();
  if (impl_->db != nullptr) hs_alloc_scratch(impl_->db, &s->scratch);
  return std::make_unique<SecretScratch>(std::move(s));
}

namespace {

struct HitContext {
  const SecretScanner::Impl* impl;
  std::string_view text;
  std::vector<size_t>* covered_until;  // per gate: windows already cover text before this offset
  std::vector<Window>* windows;
  std::vector<std::vector<size_t>>* prefilter_ends;
};

constexpr size_t kLineReach = 4096;
constexpr size_t kMultilineReach = 16384;

int OnKeyword(unsigned int id, unsigned long long /*from*/, unsigned long long to,
              unsigned int /*flags*/, void* ctx_ptr) {
  auto* ctx = static_cast<HitContext*>(ctx_ptr);
  const size_t hit = static_cast<size_t>(to);
  if (id >= ctx->impl->keyword_gates.size()) {
    (*ctx->prefilter_ends)[id - ctx->impl->keyword_gates.size()].push_back(hit);
    return 0;
  }
  const std::string_view text = ctx->text;
  for (size_t r : ctx->impl->keyword_gates[id]) {
    if (hit <= (*ctx->covered_until)[r]) continue;
    const size_t lo = hit > kLineReach ? hit - kLineReach : 0;
    // The line start, looked for no further back than `lo`.
    const void* nl = hit > lo ? memrchr(text.data() + lo, '\n', hit - lo) : nullptr;
    size_t begin =
        nl != nullptr ? static_cast<size_t>(static_cast<const char*>(nl) - text.data()) + 1 : lo;
    begin = std::max(begin, (*ctx->covered_until)[r]);
    size_t end;
    if (ctx->impl->gates[r].multiline) {
      end = std::min(text.size(), hit + kMultilineReach);
    } else {
      end = text.find('\n', hit);
      if (end == std::string_view::npos) end = text.size();
      end = std::min(end, hit + kLineReach);
    }
    (*ctx->covered_until)[r] = end;
    if (!ctx->windows->empty() && ctx->windows->back().gate == r &&
        ctx->windows->back().end >= begin) {
      ctx->windows->back().end = end;
    } else {
      ctx->windows->push_back({r, begin, end});
    }
  }
  return 0;
}

bool IsSecretRule(std::string_view id) { return id.rfind("secret/", 0) == 0; }

// A provider rule says more than a generic one: where a "secret/generic-*"
// finding overlaps another rule's finding, only the specific one stays.
void DropGenericOverlaps(std::vector<Finding>* out, size_t first) {
  auto is_generic = [](const Finding& f) { return f.rule.rfind("secret/generic", 0) == 0; };
  auto is_secret = [](const Finding& f) { return IsSecretRule(f.rule); };
  std::vector<bool> drop(out->size(), false);
  for (size_t a = first; a < out->size(); ++a) {
    if (!is_generic((*out)[a])) continue;
    const Finding& g = (*out)[a];
    for (size_t b = first; b < out->size(); ++b) {
      const Finding& s = (*out)[b];
      if (b == a || !is_secret(s) || (is_generic(s) && !(b < a && s.byte_offset == g.byte_offset)))
        continue;
      if (s.byte_offset < g.byte_offset + g.byte_length &&
          g.byte_offset < s.byte_offset + s.byte_length) {
        drop[a] = true;
        break;
      }
    }
  }
  size_t w = first;
  for (size_t r = first; r < out->size(); ++r) {
    if (drop[r]) continue;
    if (w != r) (*out)[w] = std::move((*out)[r]);
    ++w;
  }
  out->resize(w);
}

bool ContainsCaseless(std::string_view hay, std::string_view needle) {
  if (needle.empty() || needle.size() > hay.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    size_t k = 0;
    while (k < needle.size() && std::tolower(static_cast<unsigned char>(hay[i + k])) ==
                                    std::tolower(static_cast<unsigned char>(needle[k]))) {
      ++k;
    }
    if (k == needle.size()) return true;
  }
  return false;
}

// The identifier a match starts in: scanning left from the match over name
// characters, and right to the end of the name.
std::string_view NameAt(std::string_view text, size_t pos) {
  auto is_name = [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '-' || c == '.';
  };
  size_t b = pos;
  while (b > 0 && pos - b < 128 && is_name(static_cast<unsigned char>(text[b - 1]))) --b;
  size_t e = pos;
  while (e < text.size() && e - pos < 128 && is_name(static_cast<unsigned char>(text[e]))) ++e;
  return text.substr(b, e - b);
}

bool Stopped(const SecretRule& rule, std::string_view name, std::string_view secret) {
  for (const std::string& w : rule.stopwords) {
    if (ContainsCaseless(name, w) || ContainsCaseless(secret, w)) return true;
  }
  return false;
}

bool LooksLikeExample(const SecretRule& rule, std::string_view secret) {
  for (const std::string& e : rule.examples) {
    if (secret == e) return true;
  }
  return secret.find("EXAMPLE") != std::string_view::npos;
}

}  // namespace

void SecretScanner::MatchRule(size_t r, std::string_view text, re2::StringPiece piece,
                              std::vector<re2::StringPiece>* groups, SecretScratch::Impl* scratch,
                              std::vector<Finding>* out) const {
  const SecretRule& rule = impl_->rules[r];
  const RE2* capless = impl_->CaplessRegex(r);
  if (capless != nullptr && !RE2::PartialMatch(piece, *capless))
    return;  // the rule cannot match here
  const RE2& re = impl_->Regex(r);
  if (!re.ok() || rule.secret_group > re.NumberOfCapturingGroups())
    return;  // checked when compiled eagerly
  const int ngroups = re.NumberOfCapturingGroups() + 1;
  groups->resize(static_cast<size_t>(ngroups));
  size_t pos = 0;
  while (pos < piece.size() &&
         re.Match(piece, pos, piece.size(), RE2::UNANCHORED, groups->data(), ngroups)) {
    const re2::StringPiece whole = (*groups)[0];
    const re2::StringPiece secret = (*groups)[static_cast<size_t>(rule.secret_group)];
    pos = static_cast<size_t>(whole.data() - piece.data()) + std::max<size_t>(whole.size(), 1);
    if (secret.data() == nullptr || secret.empty()) continue;
    const std::string_view sv(secret.data(), secret.size());
    if (rule.entropy > 0 && ShannonEntropy(sv) < rule.entropy) continue;
    if (!rule.stopwords.empty() &&
        Stopped(rule, NameAt(text, static_cast<size_t>(whole.data() - text.data())), sv)) {
      continue;
    }
    if (scratch->emitted >= kMaxFindingsPerScan) {
      auto it = std::find_if(scratch->overflow.begin(), scratch->overflow.end(),
                             [&](const auto& o) { return o.first == r; });
      if (it == scratch->overflow.end()) {
        scratch->overflow.emplace_back(r, 1);
      } else {
        ++it->second;
      }
      continue;
    }
    ++scratch->emitted;
    Finding& f = out->emplace_back();
    f.rule = rule.id;
    f.byte_offset = static_cast<uint64_t>(secret.data() - text.data());
    f.byte_length = secret.size();
    if (IsSecretRule(rule.id)) {
      const bool example = LooksLikeExample(rule, sv);
      f.severity = example ? Severity::kLow : rule.severity;
      f.message = fmt::format("{}{}: {}", rule.description,
                              example ? " (documented example value)" : "", MaskSecret(sv));
    } else {
      // Provenance and other non-secret patterns: the matched text is the evidence.
      f.severity = rule.severity;
      f.message = fmt::format("{}: \"{}\"", rule.description, sv.substr(0, 160));
    }
  }
}

Status SecretScanner::Scan(std::string_view text, SecretScratch& scratch,
                           std::vector<Finding>* out) const {
  if (impl_->db == nullptr || text.empty()) return Status::Ok();
  const size_t first = out->size();
  SecretScratch::Impl& sc = scratch.impl();
  sc.emitted = 0;
  sc.overflow.clear();
  std::vector<size_t>& covered = sc.covered;
  covered.assign(impl_->gates.size(), 0);
  std::vector<Window>& windows = sc.windows;
  windows.clear();
  sc.prefilter_ends.resize(impl_->hs_prefilter_gates.size());
  for (std::vector<size_t>& ends : sc.prefilter_ends) ends.clear();
  HitContext ctx{impl_.get(), text, &covered, &windows, &sc.prefilter_ends};
  // Vectorscan takes an unsigned length: scan huge buffers in slices that overlap
  // by the longest keyword.
  constexpr size_t kSlice = size_t{1} << 30;
  for (size_t off = 0; off < text.size(); off += kSlice) {
    const size_t len = std::min(kSlice + 256, text.size() - off);
    HitContext slice_ctx = ctx;
    slice_ctx.text = text;
    struct Shift {
      HitContext* base;
      size_t off;
    } shift{&slice_ctx, off};
    auto cb = [](unsigned int id, unsigned long long from, unsigned long long to,
                 unsigned int flags, void* p) -> int {
      auto* s = static_cast<Shift*>(p);
      return OnKeyword(id, from + s->off, to + s->off, flags, s->base);
    };
    const hs_error_t rc = hs_scan(impl_->db, text.data() + off, static_cast<unsigned>(len), 0,
                                  scratch.impl().scratch, cb, &shift);
    if (rc != HS_SUCCESS)
      return Status::Error(fmt::format("secret scan failed (Vectorscan error {})", rc));
  }
  std::sort(windows.begin(), windows.end(),
            [](const Window& a, const Window& b) { return a.begin < b.begin; });
  for (std::vector<size_t>& ends : sc.prefilter_ends) {
    if (!std::is_sorted(ends.begin(), ends.end())) std::sort(ends.begin(), ends.end());
  }
  // Matches that cross a slice boundary may be missed: trust Vectorscan's
  // prefilter only when the text was one slice.
  const bool hs_prefilter_complete = text.size() <= kSlice;
  std::vector<re2::StringPiece>& groups = sc.groups;
  std::vector<int>& which = sc.which;
  std::vector<size_t>& candidates = sc.candidates;
  for (const Window& w : windows) {
    // The window is the regex's whole text, so '^' and '$' mean its line.
    const re2::StringPiece piece(text.data() + w.begin, w.end - w.begin);
    const Impl::Gate& gate = impl_->gates[w.gate];
    candidates.clear();
    // The prefilter is only a shortcut: the rules' own regexes decide, so
    // skipping it never changes a finding.
    bool check_prefilter = !gate.prefilter.empty();
    if (gate.hs_prefilter >= 0 && hs_prefilter_complete) {
      // No Vectorscan prefilter match ends inside the window: RE2 would find
      // none either, unless the window holds non-ASCII text. (Checked before
      // anything is compiled, so that a gate whose windows all end here
      // compiles no RE2.) When one does end inside, RE2 need not check the
      // prefilter again.
      const std::vector<size_t>& ends = sc.prefilter_ends[static_cast<size_t>(gate.hs_prefilter)];
      const auto it = std::upper_bound(ends.begin(), ends.end(), w.begin);
      const bool hs_hit = it != ends.end() && *it <= w.end;
      if (!hs_hit && utf::IsAscii(std::string_view(piece.data(), piece.size()))) continue;
      check_prefilter = check_prefilter && !hs_hit;
    }
    if (check_prefilter) {
      const RE2* prefilter = impl_->PrefilterFor(w.gate);
      if (prefilter != nullptr && !RE2::PartialMatch(piece, *prefilter)) continue;
    }
    const RE2::Set* set = impl_->SetFor(w.gate);
    if (set != nullptr) {
      which.clear();
      if (!set->Match(piece, &which)) continue;
      std::sort(which.begin(),
                which.end());  // gate order, as without a set: overlaps resolve the same way
      for (int k : which) candidates.push_back(gate.rules[static_cast<size_t>(k)]);
    } else {
      candidates.assign(gate.rules.begin(), gate.rules.end());  // no set: every rule of the gate
    }
    for (size_t r : candidates) MatchRule(r, text, piece, &groups, &sc, out);
  }
  for (const auto& [r, count] : sc.overflow) {
    Finding& f = out->emplace_back();
    f.rule = impl_->rules[r].id;
    f.severity = impl_->rules[r].severity;
    f.message =
        fmt::format("{} more matches of this rule in this text are not listed (the first {} are)",
                    count, kMaxFindingsPerScan);
  }
  DropGenericOverlaps(out, first);
  return Status::Ok();
}

}  // namespace glassbox
