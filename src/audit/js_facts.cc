// GatherFacts: one parse of a module (whole, or in pieces for a large
// bundle), the walk, and the string-array resolution. The parts live in
// js_arena.cc (tree-sitter's memory), js_walker.cc (the walk and literal
// decoding), string_array.cc (rotated string arrays) and js_split.cc (where a
// bundle may be split, and joining the pieces' facts).
#include "audit/js_facts.h"

#include <fmt/format.h>
#include <tree_sitter/api.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <memory>
#include <optional>
#include <thread>

#include "audit/internal/js_arena.h"
#include "audit/internal/js_split.h"
#include "audit/internal/js_walker.h"
#include "audit/internal/string_array.h"

namespace glassbox::audit::internal {
namespace {

struct ParserDeleter {
  void operator()(TSParser* p) const { ts_parser_delete(p); }
};

constexpr size_t kMaxNesting = 10000;
// Bytes of module text per parse when a large module is parsed in pieces.
constexpr size_t kPiece = size_t{512} << 10;

// Wall time per parse slice (see ParseRange).
constexpr uint64_t kParseSliceMicros = 200'000;

uint64_t ThreadCpuMicros() {
  timespec ts{};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

// Parses text[begin, end) into `arena`, which owns the tree (never passed to
// ts_tree_delete): the tree lives as long as the arena. Null when the parse
// took more than budget_micros of this thread's CPU time or the grammar
// does not load.
TSTree* ParseRange(std::string_view text, uint32_t begin, uint32_t end, TreeArena* arena,
                   uint64_t budget_micros) {
  const TSLanguage* language = Grammar::Get().language;  // installs the allocator first
  TreeArenaScope scope(arena);
  std::unique_ptr<TSParser, ParserDeleter> parser(ts_parser_new());
  if (!ts_parser_set_language(parser.get(), language)) return nullptr;
  if (begin != 0 || end != text.size()) {
    const TSRange range{TSPoint{0, 0}, TSPoint{UINT32_MAX, UINT32_MAX}, begin, end};
    if (!ts_parser_set_included_ranges(parser.get(), &range, 1)) return nullptr;
  }
  // tree-sitter's timeout counts wall time, which on a loaded machine says
  // little about the input: the parse runs in slices and resumes where it
  // stopped until this thread has spent the budget in CPU time (so the
  // result does not depend on the load), or 20 times the budget in wall time.
  ts_parser_set_timeout_micros(parser.get(), std::min<uint64_t>(budget_micros, kParseSliceMicros));
  const uint64_t cpu_start = ThreadCpuMicros();
  const auto wall_start = std::chrono::steady_clock::now();
  TSTree* tree = nullptr;
  for (;;) {
    tree = ts_parser_parse_string(parser.get(), nullptr, text.data(),
                                  static_cast<uint32_t>(text.size()));
    if (tree != nullptr || ThreadCpuMicros() - cpu_start >= budget_micros) break;
    const auto wall = std::chrono::steady_clock::now() - wall_start;
    if (std::chrono::duration_cast<std::chrono::microseconds>(wall).count() >=
        static_cast<int64_t>(budget_micros) * 20) {
      break;
    }
  }
  if (tree == nullptr) ts_parser_reset(parser.get());
  arena->set_tree(tree);
  return tree;
}

}  // namespace

void UseTreeSitterAllocator() { (void)Grammar::Get(); }

uint64_t DefaultParseBudgetMicros(size_t bytes) { return 2'000'000 + static_cast<uint64_t>(bytes); }

JsFacts GatherFacts(std::string_view text, const AuditRules& rules, uint64_t parse_budget_micros) {
  JsFacts facts;
  if (parse_budget_micros == 0) parse_budget_micros = DefaultParseBudgetMicros(text.size());
  auto gave_up = [&] {
    return fmt::format(
        "the parser gave up after {:.1f} s (text that is not JavaScript, or built to stall a "
        "parser)",
        static_cast<double>(parse_budget_micros) / 1e6);
  };
  if (text.size() > UINT32_MAX - 1) {
    facts.not_parsed = "larger than 4 GiB";
    return facts;
  }
  // libtree-sitter 0.20 corrupts its heap on trees nested about 65,000 deep
  // (found by the hostile-input test); such input is not code anyway.
  if (MaxNesting(text) > kMaxNesting) {
    facts.not_parsed = fmt::format("brackets nest deeper than {} levels", kMaxNesting);
    return facts;
  }
  const uint32_t size = static_cast<uint32_t>(text.size());
  // A large bundle is parsed and walked in pieces of about kPiece bytes,
  // split between top-level statements, on two threads; each piece's tree is
  // freed as soon as it is walked (unless the string-array resolver needs
  // it), so tree memory stays bounded by the piece size, not the module
  // size. If any piece does not parse cleanly the split was wrong and the
  // whole is parsed at once.
  const std::vector<uint32_t> points = SplitPoints(text, kPiece);
  if (!points.empty()) {
    struct Piece {
      uint32_t begin = 0, end = 0;
      JsFacts facts;
      std::unique_ptr<TreeArena> tree;  // the parse, kept only when it has rotation calls
      std::optional<Walker> walker;
    };
    std::vector<Piece> pieces(points.size() + 1);
    for (size_t k = 0; k < pieces.size(); ++k) {
      pieces[k].begin = k == 0 ? 0 : points[k - 1];
      pieces[k].end = k == points.size() ? size : points[k];
    }
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    std::atomic<bool> timed_out{false};  // a piece gave up: parsing the whole would too
    auto work = [&] {
      for (size_t k; !failed.load() && (k = next.fetch_add(1)) < pieces.size();) {
        Piece& p = pieces[k];
        auto arena = std::make_unique<TreeArena>(TreeArena::CapFor(p.end - p.begin));
        TSTree* tree = ParseRange(text, p.begin, p.end, arena.get(), parse_budget_micros);
        TreeArenaScope scope(arena.get());  // the cursors below
        if (tree == nullptr || !SplitLooksRight(ts_tree_root_node(tree))) {
          if (tree == nullptr) timed_out = true;
          failed = true;
          return;
        }
        p.facts.has_syntax_errors = ts_node_has_error(ts_tree_root_node(tree));
        p.walker.emplace(text, rules, &p.facts);
        p.walker->Run(ts_tree_root_node(tree));
        if (!p.walker->rotation_calls.empty()) p.tree = std::move(arena);
      }
    };
    std::thread worker(work);
    work();
    worker.join();
    if (timed_out.load()) {
      facts.not_parsed = gave_up();
      return facts;
    }
    if (!failed.load()) {
      Piece& first = pieces.front();
      for (size_t k = 1; k < pieces.size(); ++k) {
        AppendFacts(std::move(pieces[k].facts), std::move(*pieces[k].walker), &first.facts,
                    &*first.walker);
      }
      ResolveStringArrays(text, rules, *first.walker, &first.facts);
      auto by_begin = [](const auto& x, const auto& y) { return x.range.begin < y.range.begin; };
      std::stable_sort(first.facts.probes.begin(), first.facts.probes.end(), by_begin);
      facts = std::move(first.facts);
      return facts;
    }
  }
  TreeArena arena(TreeArena::CapFor(size));
  TSTree* tree = ParseRange(text, 0, size, &arena, parse_budget_micros);
  if (tree == nullptr) {
    facts.not_parsed = gave_up();
    return facts;
  }
  TreeArenaScope scope(&arena);  // the cursors below
  TSNode root = ts_tree_root_node(tree);
  facts.has_syntax_errors = ts_node_has_error(root);
  Walker walker(text, rules, &facts);
  walker.Run(root);
  ResolveStringArrays(text, rules, walker, &facts);
  auto by_begin = [](const auto& a, const auto& b) { return a.range.begin < b.range.begin; };
  std::stable_sort(facts.probes.begin(), facts.probes.end(), by_begin);
  return facts;
}

}  // namespace glassbox::audit::internal
