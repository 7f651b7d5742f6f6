// Split parsing's helpers (see internal/js_split.h).
#include "audit/internal/js_split.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <utility>

#include "audit/internal/js_walker.h"

namespace glassbox::audit::internal {
namespace {

// A light lexer that finds SplitPoints: strings, comments, template literals
// (with ${…} nesting) and regular expressions are skipped so that bracket
// depth is right. A wrong guess costs only time: the pieces then fail to
// parse cleanly and the module is parsed whole.
class SplitLexer {
 public:
  SplitLexer(std::string_view text, size_t piece)
      : text_(text), n_(text.size()), piece_(piece), next_(piece) {}

  // The split points; empty when the lexer loses track.
  std::vector<uint32_t> Run();

 private:
  static bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

  // At an opening quote: moves to the closing quote (or the end of the line).
  void SkipQuoted(char quote);
  // At the opening backquote, or at the '}' that closes a ${…}: moves to the
  // closing backquote, or to the '{' of the next ${ (whose depth it records).
  void SkipTemplateText();
  // At a '/': skips a comment or a regular expression literal, or reads it
  // as division. False when a block comment never ends.
  bool SkipSlash();
  // Whether a '/' after prev_ starts a regular expression rather than divides.
  bool RegexMayStart() const;
  // Whether the word before position i_ is a keyword after which an
  // expression (so a regular expression) starts.
  bool AfterKeyword() const;
  // At the '/' that opens a regular expression: moves to its closing '/'.
  void SkipRegex();
  // At a significant character: records a split point there when it starts a
  // top-level declaration far enough from the last one. False when the
  // declaration is too close to the end to start another piece.
  bool MaybeAddPoint();

  std::string_view text_;
  size_t n_;
  size_t piece_;
  size_t next_;                 // the next split point is at or after this
  size_t i_ = 0;                // the current position
  std::vector<int> templates_;  // depth at which each open ${ … } started
  int depth_ = 0;
  char prev_ = ';';  // last significant character
  std::vector<uint32_t> points_;
};

std::vector<uint32_t> SplitLexer::Run() {
  for (i_ = 0; i_ < n_; ++i_) {
    const char c = text_[i_];
    if (IsSpace(c)) continue;
    switch (c) {
      case '"':
      case '\'':
        SkipQuoted(c);
        prev_ = 'a';
        continue;
      case '`':
        SkipTemplateText();
        prev_ = 'a';
        continue;
      case '/':
        if (!SkipSlash()) return {};
        continue;
      case '(':
      case '[':
      case '{':
        ++depth_;
        break;
      case ')':
      case ']':
        --depth_;
        break;
      case '}':
        --depth_;
        if (!templates_.empty() && templates_.back() == depth_) {
          // The end of a ${…}: the template's text goes on.
          templates_.pop_back();
          SkipTemplateText();
          prev_ = 'a';
          continue;
        }
        break;
      default:
        break;
    }
    if (depth_ < 0) return {};
    if (!MaybeAddPoint()) return points_;
    prev_ = c;
  }
  return points_;
}

void SplitLexer::SkipQuoted(char quote) {
  for (++i_; i_ < n_ && text_[i_] != quote && text_[i_] != '\n'; ++i_) {
    if (text_[i_] == '\\') ++i_;
  }
}

void SplitLexer::SkipTemplateText() {
  for (++i_; i_ < n_ && text_[i_] != '`'; ++i_) {
    if (text_[i_] == '\\') {
      ++i_;
    } else if (text_[i_] == '$' && i_ + 1 < n_ && text_[i_ + 1] == '{') {
      templates_.push_back(depth_);
      ++depth_;
      ++i_;
      return;
    }
  }
}

bool SplitLexer::SkipSlash() {
  if (i_ + 1 < n_ && text_[i_ + 1] == '/') {
    while (i_ < n_ && text_[i_] != '\n') ++i_;
    return true;
  }
  if (i_ + 1 < n_ && text_[i_ + 1] == '*') {
    const size_t end = text_.find("*/", i_ + 2);
    if (end == std::string_view::npos) return false;
    i_ = end + 1;
    return true;
  }
  if (RegexMayStart()) {
    SkipRegex();
    prev_ = 'a';
    return true;
  }
  prev_ = '/';
  return true;
}

bool SplitLexer::RegexMayStart() const {
  return AfterKeyword() ||
         std::string_view("(,=:[!&|?{};+-*%<>~^").find(prev_) != std::string_view::npos;
}

bool SplitLexer::AfterKeyword() const {
  if (!std::isalpha(static_cast<unsigned char>(prev_))) return false;
  size_t w = i_;
  while (w > 0 && std::isspace(static_cast<unsigned char>(text_[w - 1]))) --w;
  size_t b = w;
  while (b > 0 && (std::isalnum(static_cast<unsigned char>(text_[b - 1])) || text_[b - 1] == '_' ||
                   text_[b - 1] == '$')) {
    --b;
  }
  const std::string_view word = text_.substr(b, w - b);
  for (std::string_view k : {"return", "typeof", "case", "do", "else", "in", "of", "void", "yield",
                             "await", "delete", "throw", "new", "instanceof"}) {
    if (word == k) return true;
  }
  return false;
}

void SplitLexer::SkipRegex() {
  bool in_class = false;
  for (++i_; i_ < n_ && text_[i_] != '\n'; ++i_) {
    if (text_[i_] == '\\') {
      ++i_;
    } else if (text_[i_] == '[') {
      in_class = true;
    } else if (text_[i_] == ']') {
      in_class = false;
    } else if (text_[i_] == '/' && !in_class) {
      return;
    }
  }
}

bool SplitLexer::MaybeAddPoint() {
  if (i_ < next_ || depth_ != 0 || !templates_.empty() || (prev_ != ';' && prev_ != '}'))
    return true;
  for (std::string_view start : {"var ", "function ", "class ", "let ", "const "}) {
    if (text_.compare(i_, start.size(), start) != 0) continue;
    if (n_ - i_ < piece_ / 2) return false;
    points_.push_back(static_cast<uint32_t>(i_));
    next_ = i_ + piece_;
    break;
  }
  return true;
}

}  // namespace

size_t MaxNesting(std::string_view text) {
  size_t depth = 0, max_depth = 0;
  for (char c : text) {
    if (c == '(' || c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
    } else if ((c == ')' || c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return max_depth;
}

std::vector<uint32_t> SplitPoints(std::string_view text, size_t piece) {
  if (text.size() < 2 * piece) return {};
  return SplitLexer(text, piece).Run();
}

bool SplitLooksRight(TSNode root) {
  if (!ts_node_has_error(root)) return true;
  const uint32_t n = ts_node_child_count(root);
  if (n == 0) return false;
  TSTreeCursor cursor = ts_tree_cursor_new(root);
  bool clean = true;
  for (bool more = ts_tree_cursor_goto_first_child(&cursor); more && clean;
       more = ts_tree_cursor_goto_next_sibling(&cursor)) {
    TSNode child = ts_tree_cursor_current_node(&cursor);
    clean = !ts_node_is_missing(child) && std::strcmp(ts_node_type(child), "ERROR") != 0;
  }
  ts_tree_cursor_delete(&cursor);
  if (!clean) return false;
  // The first statement's left edge and the last statement's right edge.
  for (const bool last : {false, true}) {
    TSNode n2 = ts_node_child(root, last ? n - 1 : 0);
    for (int depth = 0; depth < 10000 && !ts_node_is_null(n2); ++depth) {
      if (ts_node_is_missing(n2) || std::strcmp(ts_node_type(n2), "ERROR") == 0) return false;
      const uint32_t c = ts_node_child_count(n2);
      if (c == 0) break;
      n2 = ts_node_child(n2, last ? c - 1 : 0);
    }
  }
  return true;
}

void AppendFacts(JsFacts&& b, Walker&& wb, JsFacts* a, Walker* wa) {
  const uint32_t f0 = static_cast<uint32_t>(a->functions.size());
  const uint32_t s0 = static_cast<uint32_t>(a->strings.size());
  const uint32_t b0 = static_cast<uint32_t>(a->branches.size());
  auto fn = [&](uint32_t x) { return x == kNone ? kNone : x + f0; };
  auto br = [&](uint32_t x) { return x == kNone ? kNone : x + b0; };
  for (FunctionFact& x : b.functions) {
    x.parent = fn(x.parent);
    a->functions.push_back(std::move(x));
  }
  for (StringFact& x : b.strings) {
    x.func = fn(x.func);
    a->strings.push_back(std::move(x));
  }
  for (StringArrayFact& x : b.string_arrays) {
    x.func = fn(x.func);
    x.first_string += s0;
    a->string_arrays.push_back(std::move(x));
  }
  for (NumberArrayFact& x : b.number_arrays) {
    x.func = fn(x.func);
    a->number_arrays.push_back(std::move(x));
  }
  for (ProbeFact& x : b.probes) {
    x.func = fn(x.func);
    a->probes.push_back(std::move(x));
  }
  for (CompareFact& x : b.compares) {
    x.func = fn(x.func);
    x.condition_of = br(x.condition_of);
    a->compares.push_back(x);
  }
  for (BranchFact& x : b.branches) {
    x.func = fn(x.func);
    a->branches.push_back(x);
  }
  for (DeclFact& x : b.decls) {
    x.func = fn(x.func);
    a->decls.push_back(std::move(x));
  }
  for (ReturnFact& x : b.returns) {
    x.func = fn(x.func);
    a->returns.push_back(x);
  }
  for (XorFact& x : b.xors) {
    x.func = fn(x.func);
    a->xors.push_back(x);
  }
  for (CallFact& x : b.calls) {
    x.func = fn(x.func);
    a->calls.push_back(x);
  }
  a->has_syntax_errors |= b.has_syntax_errors;
  a->nodes += b.nodes;
  wa->rotation_calls.insert(wa->rotation_calls.end(), wb.rotation_calls.begin(),
                            wb.rotation_calls.end());
  for (Walker::NumberCall& c : wb.number_calls) {
    c.func = fn(c.func);
    wa->number_calls.push_back(c);
  }
  for (Walker::BracketCall& c : wb.bracket_calls) {
    c.func = fn(c.func);
    c.condition = br(c.condition);
    wa->bracket_calls.push_back(c);
  }
}

}  // namespace glassbox::audit::internal
