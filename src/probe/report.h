// Writers of the probe report: JSON (the contract in DESIGN.md), text (a
// verdict, then differences worst first with changed characters made
// visible) and HTML (one self-contained page: no external assets, inline CSS,
// every text HTML-escaped). They only format an Analysis; the caller picks
// the stream.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "probe/classify.h"
#include "probe/matrix.h"

namespace glassbox::probe {

struct ReportInput {
  const Matrix& matrix;
  const Analysis& analysis;
  std::vector<int> runs_per_cell;  // runs that completed, per cell
  std::vector<std::string> command;
  std::string version;
  double seconds = 0;
  std::vector<std::vector<double>>
      wall_ms;  // per cell, each run's wall time (JSON cells[].wall_ms)
};

void WriteJsonReport(const ReportInput& input, std::ostream& out);
void WriteTextReport(const ReportInput& input, std::ostream& out);
void WriteHtmlReport(const ReportInput& input, std::ostream& out);

// "it\u02BCs": printable ASCII as is, "\\" doubled, anything else (non-ASCII,
// controls, invisible characters) as \uXXXX or \UXXXXXXXX; invalid bytes as \xHH.
std::string VisibleText(std::string_view text);

// "⟦U+02BC MODIFIER LETTER APOSTROPHE⟧" for every code point of `text`
// (printable ASCII letters and digits stay as they are).
std::string NamedCodepoints(std::string_view text);

// "U+02BC".
std::string CodepointId(char32_t cp);

}  // namespace glassbox::probe
