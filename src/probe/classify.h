// Classifies every difference between the cells of a probe and inventories
// the hosts and identity the agent sent.
//
// Input: the matrix and, for each cell, the captures of its runs (all runs of
// a cell share one environment). Each aligned field (see diff.h) is:
//   1. noise when its value differs between runs of one cell. Tokens that
//      look generated (numbers, ids, hashes, uuids) are then masked in every
//      cell and the runs compared again: a field whose rest is stable is still
//      compared across cells on the masked value (so a timestamp in a system
//      prompt does not hide a marker next to it); otherwise it is only noise.
//   2. compared between each cell and the baseline. A cell that differs is
//      classified, first with the cell's own varied values replaced by the
//      baseline's (so "Timezone: Asia/Shanghai" is an echo, and a marker next
//      to it is still seen):
//        echo           the difference is the varied value itself;
//        covert-marker  same text once look-alike characters are mapped to
//                       their UTS #39 skeleton, invisible characters dropped
//                       and white space collapsed, or a change of separators,
//                       punctuation or white space only (not under a locale
//                       variable) — the most serious class;
//        clock          only digits, signs and zone/day/month names changed,
//                       under TZ or /etc/localtime, between zones whose UTC
//                       offset differs at the time of the probe;
//        localisation   visible text changed under locale variables only;
//        other-dependence  anything else.
//      A difference takes the worst class over its cells.
// The verdict is environment-dependent when any covert marker or other
// dependence is found. Pure: the caller passes the facts of the host (kernel
// release, machine id, the time) so tests can drive them.
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
enum class DiffClass { kCovertMarker = 0, kOtherDependence, kLocalisation, kClock, kEcho };
// "covert-marker", "other-dependence", "localisation", "clock", "echo".
const char* DiffClassName(DiffClass c);

// One changed span in one cell, against the baseline.
struct CodepointChange {
  std::string cell;            // the cell's label
  std::string baseline_text;   // the span's text in the baseline ("'")
  std::string cell_text;       // and in the cell ("\u02BC")
  size_t offset = 0;           // code point offset of the span in the cell's value
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
  std::string reason;                       // one line: why this class
  std::vector<std::string> variables;       // the varied variables it follows
  std::vector<std::optional<std::string>> by_cell;  // value per cell (nullopt: absent)
  std::vector<size_t> differing_cells;      // indices of cells that differ from the baseline
  std::vector<CodepointChange> changes;     // at most a few per cell
  std::vector<char32_t> codepoints;         // distinct code points in the changed spans
  bool noise_masked = false;                // generated tokens were masked before comparing
};

struct NoiseField {
  std::string location;
  std::vector<std::string> cells;     // cells whose runs differ
  std::vector<std::string> examples;  // two values from different runs of the first such cell
  bool masked = false;                // the rest of the field was still compared across cells
};

struct HostEntry {
  std::string host;      // name, or IP literal
  bool ip_literal = false;
  int requests = 0;      // over all cells and runs
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
  bool environment_dependent = false;
  std::vector<Difference> differences;  // worst class first
  std::vector<NoiseField> noise;
  std::vector<HostEntry> hosts;
  std::vector<DnsEntry> dns;
  std::vector<TlsFailureEntry> tls_failures;
  std::vector<UnservedConnection> unserved;
  std::vector<std::string> foreign_resolvers;  // DNS servers the agent queried other than the sandbox's
  std::vector<IdentityField> identifying;
  std::vector<std::string> notes;  // timeouts, silent agents, sandbox notes
  // Sandbox limits the agent reached ("LIMIT (cell LABEL, run N)"), from
  // RunCapture::limits_reached: the captures may be incomplete, so the
  // verdict is at least inconclusive (VerdictName).
  std::vector<std::string> limits_reached;
};

// "environment-dependent", else "inconclusive" when a sandbox limit was
// reached, else "no-environment-dependence".
std::string VerdictName(const Analysis& analysis);

// runs[c] holds the captures of matrix.cells[c]; every cell needs >= 1 run.
Analysis Analyze(const Matrix& matrix, const std::vector<std::vector<RunCapture>>& runs, const HostFacts& facts);

// Replaces generated-looking tokens (digit runs, ids, hashes, uuids) by
// placeholders: "req 1732 ab12cd34ef" -> "req 0 ⟨id⟩".
std::string MaskGenerated(std::string_view value);

// The UTC offset of an IANA zone at `when_ms`, in minutes; nullopt for an
// unknown zone.
std::optional<int> ZoneOffsetMinutes(const std::string& zone, int64_t when_ms);

}  // namespace glassbox::probe
