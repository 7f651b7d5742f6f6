// Split parsing: a large bundle is parsed and walked in pieces, split
// between top-level statements, and the pieces' facts are joined. These are
// the pieces' helpers; GatherFacts (js_facts.cc) runs them. Internal to the
// audit component.
#pragma once

#include <tree_sitter/api.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "audit/js_facts.h"

namespace glassbox::audit::internal {

class Walker;

// Deepest bracket nesting, counted roughly (brackets inside strings count
// too; legitimate code stays far below the limit either way).
size_t MaxNesting(std::string_view text);

// Where further parsers may start: top-level `var`, `function`, `class`,
// `let` or `const` statements about `piece` bytes apart (none closer than
// half a piece to the end). Empty when the text is smaller than two pieces,
// when the light lexer loses track, or when there is no such statement.
std::vector<uint32_t> SplitPoints(std::string_view text, size_t piece);

// Whether the parse of one piece of a split module shows that the split was
// right. Syntax the grammar does not know (`using` declarations, …) leaves
// errors inside top-level statements, as it would in a parse of the whole;
// a split inside a string, template or block instead leaves an error among
// the top-level statements or a missing token at the piece's start or end.
bool SplitLooksRight(TSNode root);

// Appends the facts (and the walker's candidate calls) of a later piece of
// the module to those of the first, renumbering indices.
void AppendFacts(JsFacts&& b, Walker&& wb, JsFacts* a, Walker* wa);

}  // namespace glassbox::audit::internal
