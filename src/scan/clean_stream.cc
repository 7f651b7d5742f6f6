#include "scan/clean_stream.h"

namespace glassbox::scan {

Status CleanWindows(WindowReader& reader, TextKind kind, const CleanOptions& options,
                    const std::function<Status(std::string_view)>& write, CleanResult* result) {
  while (true) {
    const std::string_view window = reader.Window();
    const bool last = reader.AtEnd();
    const size_t cut = last ? window.size() : WindowCut(window, ContentKind::kUtf8Text);
    CleanResult part = CleanText(window.substr(0, cut), kind, options);
    result->changes += part.changes;
    for (const auto& [what, n] : part.by_codepoint) result->by_codepoint[what] += n;
    for (const auto& [rule, n] : part.by_rule) result->by_rule[rule] += n;
    Status st = write(part.text);
    if (!st.ok()) return st;
    if (last) return Status::Ok();
    st = reader.Advance(cut);
    if (!st.ok()) return st;
  }
}

}  // namespace glassbox::scan
