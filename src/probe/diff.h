// Diffing what an agent sent across the runs and cells of a probe.
//
// Each captured request is reduced to comparable fields: its presence, the
// query parameters, the headers (names lower-cased, hop-by-hop and
// Content-Length left out because they follow from other fields), the TLS
// server name, and the body — a JSON body as the leaves of its tree with keys
// sorted (".system[1].text"), any other body as one value. A request to the
// host of a base-URL variable is keyed by its path under the official base
// URL ("POST /v1/messages"), so it aligns however the cell sets the variable.
//
// Alignment is by content, not position (AlignRuns):
//  - requests: within each run, the requests with one method and path are
//    paired with the kinds of request seen so far (the baseline's runs
//    first) by similarity of their body's shape, so an extra or missing
//    request shifts nothing; a request like none seen before starts a new
//    kind ("POST /v1/messages #2");
//  - JSON arrays: elements are paired with the elements of the first request
//    of the kind by a sequence alignment over element similarity (as diff
//    does over lines), so a block inserted in front keeps the others in
//    place; an element with no partner is named by its own index with a
//    "+" (".content[+0]"). Arrays whose elements each carry a distinct
//    "key" or "name" (OpenTelemetry attributes, tool lists) are aligned by
//    it: ".attributes[key=host.name].value.stringValue".
// Each run also gets a pseudo-request "network": the names it looked up,
// the resolvers it asked, the destinations it dialled, the TLS server names
// that refused interception and when it first connected, so those channels
// are compared across cells like request fields.
//
// Inside strings, DiffCodePoints finds the changed spans and hence the code
// points that changed. Pure functions over values; thread-compatible.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "probe/capture.h"
#include "probe/matrix.h"

namespace glassbox::probe {

// A request reduced to fields.
struct RequestFields {
  // Alignment key: "POST /v1/messages" for a provider request (to the host
  // of a base-URL variable or an official API host), "POST host/path"
  // otherwise; " #2" for the second such request of a run.
  std::string key;
  std::string location;      // for reports; the key
  std::string host;          // host name or IP literal, lower case, without port
  bool to_base_url = false;  // a provider request
  // A proxy CONNECT: it opens a tunnel whose requests are captured on their
  // own, so it is counted in the host inventory but not compared.
  bool is_tunnel = false;
  // field name -> value. Field names: "request" (always "present"),
  // "query NAME", "header NAME", "body .json.path" (a JSON body's leaves;
  // empty objects and arrays are leaves "{}" and "[]"), "body" (any other
  // body, as bytes).
  std::map<std::string, std::string> fields;
};

// Reduces every request of one run on its own (array elements named by
// index, the second request with one key " #2"). `cell` supplies the
// base-URL values that key provider requests.
std::vector<RequestFields> FlattenRun(const RunCapture& run, const Cell& cell);

// The pseudo-request "network" of one run. Fields (each "present" unless
// said): "lookup NAME", "resolver ADDRESS" (a DNS server other than the
// sandbox's), "connect tcp|udp HOST:PORT" (HOST: the name the agent looked
// up for that address, or the address it dialled), "tls refused NAME",
// "first connection after" (a time bucket: "< 1 s", "1-4 s", ...). A provider
// host (a base-URL host of the cell or an official one) is written
// "(provider host)", the host of another URL the cell sets "(VARIABLE host)",
// so that they align across cells.
RequestFields NetworkFields(const RunCapture& run, const Cell& cell);

// The name behind each address the agent dialled: the fake DNS's answers
// (rebuilt from the order of the run's A queries) and the hosts requests
// named for their address.
std::map<std::string, std::string> NamesOfAddresses(const RunCapture& run);

// "(provider host)" when `host` is a base-URL host of `cell` or an official
// provider host, "(HTTPS_PROXY host)" when it is the host of another
// URL-valued variable of `cell`; else `host`.
std::string CanonicalHost(const std::string& host, const Cell& cell);

// Pairs the elements of two sequences by similarity: returns, for each
// element of `a`, the index of its partner in `b` or -1. Pairs keep their
// order (a sequence alignment maximising the summed similarity of pairs
// whose similarity is at least `threshold`).
std::vector<int> AlignSequences(size_t a_size, size_t b_size,
                                const std::function<double(size_t, size_t)>& similarity,
                                double threshold = 0.5);

// Flattens a JSON body (or any body: "body" when it is not JSON) into
// `fields`, aligning its arrays with those of `reference` (the body of the
// first request of its kind; nullptr or non-JSON: by index).
void FlattenBodyAligned(std::string_view body, std::string_view reference,
                        std::map<std::string, std::string>* fields);

// One field of one aligned request, with its value in every run of every
// cell (nullopt: the request or the field is absent there).
struct AlignedField {
  std::string key;       // request key
  std::string location;  // request location (from the first run that has it)
  std::string field;     // field name
  std::vector<std::vector<std::optional<std::string>>> values;  // [cell][run]
  std::vector<std::vector<bool>> request_present;               // [cell][run]
};

// Aligns the runs of every cell by content (see above): runs[c] holds the
// captures of cell c. Fields come out sorted by request key, then field name.
std::vector<AlignedField> AlignRuns(const Matrix& matrix,
                                    const std::vector<std::vector<RunCapture>>& runs);

// "POST /v1/messages body .system[1].text"; "POST /v1/messages" for the
// field "request".
std::string FieldLocation(const AlignedField& field);

// A changed span between two code-point strings, as [begin, end) indices.
struct ChangedSpan {
  size_t a_begin = 0, a_end = 0;
  size_t b_begin = 0, b_end = 0;
};

// Decodes UTF-8; an invalid byte B becomes the lone surrogate U+DC00+B so
// that different invalid bytes stay different and the text round-trips.
std::u32string DecodeForDiff(std::string_view text);
std::string EncodeFromDiff(std::u32string_view text);

// The changed spans turning `a` into `b`, in order (Myers' O(ND) diff over
// code points, runs of adjacent edits merged). When more than `max_edits`
// code points differ, returns one span from the first to the last
// difference instead.
std::vector<ChangedSpan> DiffCodePoints(std::u32string_view a, std::u32string_view b,
                                        size_t max_edits = 2000);

// Widens each span to whole words (runs of letters and digits) on both
// sides, merging spans that come to touch.
std::vector<ChangedSpan> WidenToWords(std::u32string_view a, std::u32string_view b,
                                      std::vector<ChangedSpan> spans);

}  // namespace glassbox::probe
