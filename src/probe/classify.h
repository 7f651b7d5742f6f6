// Classifies every difference between the cells of a probe and inventories
// the hosts and identity the agent sent. Analyze runs named passes:
//   1. judge runs     a run that failed (exit status, timeout) or never
//                     reached a provider while others did is not compared;
//                     a cell without a good run is a failure, reported as
//                     such (with its exit status and stderr), never as a
//                     dependence, and makes the verdict inconclusive;
//   2. align          requests and JSON arrays by content (diff.h);
//   2b. references    per cell, besides the primary reference (the
//                     baseline, or the first working cell), the nearest
//                     working cell: among those nearer in content (a field
//                     fingerprint) than the primary, the one that differs in
//                     the fewest matrix settings; passes 4-6 run against it
//                     too, and what they find that the primary comparison
//                     did not (a one-code-point marker inside what against
//                     the baseline is a rewrite) is reported with that
//                     reference;
//   3. noise          a field whose value differs between runs of one cell
//                     is noise; generated tokens (numbers, ids, hashes) are
//                     then masked and, if the rest is stable, the field is
//                     still compared across cells;
//   4. span diff      each cell's value against the reference (the
//                     baseline's, with the cell's own varied values replaced
//                     by the baseline's first, so "Timezone: Asia/Shanghai"
//                     is an echo): minimal changed spans, widened to whole
//                     words unless the change is invisible to a reader;
//                     spans of all cells that overlap form one site;
//   5. attribute      per site and per value, the fewest dimensions (one,
//                     else two) whose levels tell exactly which cells carry
//                     the value ("TZ=Asia/Shanghai when base URL is not the
//                     baseline's"); a value no such set explains is
//                     "unexplained";
//   6. classify       per site and value, worst first:
//        covert-marker  the same text to a reader (look-alikes mapped to
//                       their UTS #39 skeleton, invisible characters
//                       dropped, white space collapsed) or only separators,
//                       punctuation or white space changed, under anything
//                       but a locale;
//        other-dependence  anything else that the attribution explains;
//        unexplained    no one or two settings explain it (randomness seen
//                       once, or with --runs 1 what would be localisation or
//                       clock): listed, not a dependence;
//        localisation   visible text that follows LANG/LC_* only;
//        clock          only digits, signs and zone/day/month names, under
//                       TZ or /etc/localtime, between zones whose UTC
//                       offsets differ;
//        echo           the difference is the varied value itself;
//   7. group          differences of one class that follow the same
//                     settings in the same cells;
//   8. inventory      hosts, DNS, resolvers, identity, warnings;
//   9. verdict        DecideVerdict.
// Pure: the caller passes the facts of the host (kernel release, machine
// id, the time) so tests can drive them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "probe/capture.h"
#include "probe/diff.h"
#include "probe/matrix.h"

namespace glassbox::probe {

// Worst first.
enum class DiffClass {
  kCovertMarker = 0,
  kOtherDependence,
  kUnexplained,
  kLocalisation,
  kClock,
  kEcho
};
// "covert-marker", "other-dependence", "unexplained", "localisation", "clock", "echo".
const char* DiffClassName(DiffClass c);

// One changed span in one cell, against its reference (the baseline, or
// the cell's nearest one: see Analyze, pass 2b).
struct CodepointChange {
  std::string cell;           // the cell's label
  std::string reference;      // the label of the cell it was compared with
  std::string baseline_text;  // the span's text in the baseline ("'")
  std::string cell_text;      // and in the cell ("\u02BC")
  size_t offset = 0;          // code point offset of the span in the cell's value
  // Up to 40 code points of context before and after the span, on each side
  // (the cell's side after its varied values were replaced by the baseline's).
  std::string baseline_before, baseline_after;
  std::string cell_before, cell_after;
};

struct Difference {
  std::string location;  // "POST /v1/messages body .system[1].text"
  std::string request_key;
  std::string field;
  DiffClass cls = DiffClass::kOtherDependence;
  std::string reason;                               // one line: why this class
  std::vector<std::string> variables;               // the varied variables it follows
  std::vector<std::optional<std::string>> by_cell;  // value per cell (nullopt: absent)
  std::vector<size_t> differing_cells;   // indices of cells that differ from the baseline
  std::vector<CodepointChange> changes;  // at most a few per cell
  std::vector<char32_t> codepoints;      // distinct code points in the changed spans
  bool noise_masked = false;             // generated tokens were masked before comparing
  // Which settings explain it: "TZ=Asia/Shanghai when base URL is not the
  // baseline's"; "" for an echo or an unexplained difference.
  std::string explanation;
  // The cell compared against: the baseline unless it failed, or a cell's
  // nearest reference (pass 2b) for what only that comparison shows.
  size_t reference_cell = 0;
};

// Differences of one class that follow the same settings in the same cells.
struct DifferenceGroup {
  DiffClass cls = DiffClass::kOtherDependence;
  std::vector<std::string> variables;
  std::string explanation;
  std::vector<size_t> cells;
  std::vector<size_t> members;  // indices into Analysis::differences, first the ones with changes
};

// A cell (or some runs of it) where the agent failed or never reached a provider.
struct CellFailure {
  size_t cell = 0;
  std::string label;
  int failed_runs = 0;
  int runs = 0;
  bool whole_cell = false;  // no run of the cell could be compared
  std::string
      status;  // "exit status 1", "timed out", "exit status 0, but no request reached a provider"
  std::string output;  // the end of its stderr (else stdout), a few lines
};

enum class Verdict {
  kCovertMarker,
  kEnvironmentDependent,
  kInconclusive,
  kNoEnvironmentDependence
};
// "covert-marker", "environment-dependent", "inconclusive", "no-environment-dependence".
const char* VerdictName(Verdict v);

struct NoiseField {
  std::string location;
  std::vector<std::string> cells;     // cells whose runs differ
  std::vector<std::string> examples;  // two values from different runs of the first such cell
  bool masked = false;                // the rest of the field was still compared across cells
};

struct HostEntry {
  std::string host;  // name, or IP literal
  bool ip_literal = false;
  int requests = 0;  // over all cells and runs
  std::map<std::string, int> by_cell;
  std::set<std::string> dest_ips;
  std::set<int> ports;
  bool via_proxy = false;
  bool looked_up = false;  // a DNS query for the name was seen
};

struct DnsEntry {
  std::string name;
  std::map<std::string, int> by_cell;
};

// Connections the capture server could not read: UDP flows (QUIC, a
// hard-coded DNS resolver, raw protocols) and TCP ports it does not serve.
struct UnservedConnection {
  std::string protocol;  // "tcp" or "udp"
  std::string dest;      // "203.0.113.9:9000", "[2001:db8::1]:443"
  std::map<std::string, int> by_cell;
};

struct TlsFailureEntry {
  std::string cell;
  std::string sni;
  std::string dest;
  std::string reason;
};

// A field that carries a fact about the machine or the user.
struct IdentityField {
  std::string location;
  std::string host;
  std::vector<std::string> carries;  // "hostname", "user", "timezone", "locale", "kernel",
                                     // "machine-id", "proxy", "prompt", "api-key"
  std::vector<std::string> cells;
  std::string example;
};

// Facts about the machine the agent could learn, to recognise them in what it sent.
struct HostFacts {
  std::string kernel_release;             // uname -r
  std::string machine_id;                 // /etc/machine-id
  std::vector<std::string> prompt_texts;  // free-text arguments of the command
  int64_t now_ms = 0;                     // when the probe ran (for zone offsets)
};

struct Analysis {
  Verdict verdict = Verdict::kNoEnvironmentDependence;
  bool environment_dependent = false;   // verdict is covert-marker or environment-dependent
  std::vector<Difference> differences;  // worst class first
  std::vector<DifferenceGroup> groups;  // worst class first, then largest
  std::vector<CellFailure> failures;
  // Why the probe could not answer (a failed cell, a limit reached): any
  // entry makes the verdict at least inconclusive.
  std::vector<std::string> inconclusive_reasons;
  std::vector<std::string> warnings;        // e.g. a varied base URL the agent ignored
  std::vector<std::string> unused_lookups;  // names looked up but never connected to by name
  bool single_run = false;                  // one run per cell: noise cannot be told apart
  std::vector<NoiseField> noise;
  std::vector<HostEntry> hosts;
  std::vector<DnsEntry> dns;
  std::vector<TlsFailureEntry> tls_failures;
  std::vector<UnservedConnection> unserved;
  std::vector<std::string>
      foreign_resolvers;  // DNS servers the agent queried other than the sandbox's
  std::vector<IdentityField> identifying;
  std::vector<std::string> notes;  // timeouts, silent agents, sandbox notes
  // Sandbox limits the agent reached ("LIMIT (cell LABEL, run N)"), from
  // RunCapture::limits_reached: the captures may be incomplete, so the
  // verdict is at least inconclusive (VerdictName).
  std::vector<std::string> limits_reached;
};

// The verdict from a finished analysis: covert-marker or
// environment-dependent when such differences exist; else inconclusive when
// inconclusive_reasons is not empty; else no-environment-dependence.
Verdict DecideVerdict(const Analysis& analysis);

// Which dimensions explain exactly the cells `deviant` among the `observed`
// ones (see pass 5). `explained` is false when no one or two dimensions do,
// or the evidence is one cell seen in one run.
struct Attribution {
  bool explained = false;
  std::vector<size_t> dimensions;      // indices into matrix.dimensions
  std::vector<std::set<int>> levels;   // per dimension: the levels that carry it
  std::vector<std::string> variables;  // the variables those levels set
  std::string condition;               // "TZ=Asia/Shanghai when base URL is not the baseline's"
};
// `only` restricts the search to those dimensions (nullptr: all).
Attribution Attribute(const Matrix& matrix, const std::vector<bool>& observed,
                      const std::vector<bool>& deviant, bool single_run,
                      const std::vector<size_t>* only = nullptr);

// The one dimension of which a value is a function: `value_of[c]` is the
// value's id in cell c (-1: not observed). When several are, the one with
// the fewest levels among the observed cells (the simplest function);
// nullopt when none is. A site whose cells carry several different values
// (one text per language) is explained by such a dimension before each value
// is explained on its own.
std::optional<size_t> FunctionalDimension(const Matrix& matrix, const std::vector<int>& value_of);

// runs[c] holds the captures of matrix.cells[c]; every cell needs >= 1 run.
Analysis Analyze(const Matrix& matrix, const std::vector<std::vector<RunCapture>>& runs,
                 const HostFacts& facts);

// Replaces generated-looking tokens (digit runs, ids, hashes, uuids) by
// placeholders: "req 1732 ab12cd34ef" -> "req 0 ⟨id⟩".
std::string MaskGenerated(std::string_view value);

// The UTC offset of an IANA zone at `when_ms`, in minutes; nullopt for an
// unknown zone.
std::optional<int> ZoneOffsetMinutes(const std::string& zone, int64_t when_ms);

}  // namespace glassbox::probe
