// Cleaning an input of any size in bounded memory: the input is read in
// fixed windows (scan/content.h), each window ends at a line end where the
// window has one, and each is cleaned by CleanText and handed on.
#pragma once

#include <functional>
#include <string_view>

#include "core/status.h"
#include "core/text_kind.h"
#include "scan/clean.h"
#include "scan/content.h"

namespace glassbox::scan {

// Cleans what `reader` yields, passing the cleaned bytes, in order, to
// `write`. Adds the counts to *result (its `text` stays empty). Stops at the
// first error of `write` or of reading.
Status CleanWindows(WindowReader& reader, TextKind kind, const CleanOptions& options,
                    const std::function<Status(std::string_view)>& write, CleanResult* result);

}  // namespace glassbox::scan
