// SseParser: an incremental Server-Sent Events parser (WHATWG HTML, "Parsing
// an event stream"), for the gateway (`glassbox gate`) and the fake provider.
//
// Feed() takes the stream in chunks split anywhere (inside a line, between
// CR and LF, inside a UTF-8 sequence or a field name) and appends one
// SseBlock per blank-line-terminated block; the result is the same however
// the stream is split. Every block carries the exact byte range of the raw
// input it came from, and the ranges of all blocks tile the input in order
// with no gap, so a gateway can forward the bytes unchanged and know which
// bytes it has checked.
//
// Memory is bounded by max_event_bytes: a block whose raw size would exceed
// it puts the parser in an error state (Feed and Finish return the error
// from then on); the parser keeps at most one partial line, and a block's
// decoded fields are at most 3x its raw size (an invalid byte becomes U+FFFD).
//
// One parser per stream; thread-compatible. No exceptions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace glassbox::net {

// One block of the stream: the lines up to and including a blank line (or,
// from Finish(), up to the end of the stream).
struct SseBlock {
  // [begin, end): absolute offsets into the raw stream, including a leading
  // BOM, comment lines and the terminating blank line.
  uint64_t begin = 0;
  uint64_t end = 0;
  // True when WHATWG would dispatch an event: the block had a data line.
  // Blocks of only comments, ids or retries are reported with dispatch=false.
  bool dispatch = false;
  // False for the trailing block that Finish() reports when the stream ended
  // without a blank line; WHATWG discards such an event, a gateway may not.
  bool complete = true;
  std::string type;               // the event field; "message" when there was none
  std::string data;               // data lines joined with '\n' (UTF-8, invalid bytes -> U+FFFD)
  std::string last_event_id;      // the last-event-id buffer when the block ended
  std::optional<uint64_t> retry;  // a valid retry field in this block, in ms
  size_t comment_lines = 0;       // lines starting with ':' (": ping")

  bool operator==(const SseBlock&) const = default;
};

struct SseOptions {
  // Largest raw size of one block, in bytes, terminators included.
  size_t max_event_bytes = size_t{16} << 20;
};

class SseParser {
 public:
  explicit SseParser(SseOptions options = {}) : options_(options) {}

  // Parses `chunk`, appending each block it completes to *out. A blank line
  // ended by a lone CR at the very end of a chunk is reported on the next
  // Feed (or Finish), once it is known whether an LF follows. Returns an
  // error (and keeps returning it) once a block exceeds max_event_bytes or
  // after Finish(); blocks completed before the error are still appended.
  Status Feed(std::string_view chunk, std::vector<SseBlock>* out);

  // Ends the stream: reports a pending block and any bytes after the last
  // blank line as one block with complete=false. Further calls are errors.
  Status Finish(std::vector<SseBlock>* out);

  uint64_t bytes_fed() const { return fed_; }
  // Offset up to which every byte belongs to a reported block.
  uint64_t bytes_reported() const { return block_begin_; }
  const Status& status() const { return status_; }

 private:
  void ProcessLine(std::string_view line);
  void EmitBlock(uint64_t end, bool complete, std::vector<SseBlock>* out);
  bool CheckSize(uint64_t position);

  SseOptions options_;
  Status status_;
  bool finished_ = false;
  bool bom_checked_ = false;
  bool after_cr_ = false;          // the last byte seen was a CR ending a line
  bool dispatch_pending_ = false;  // ... and that line was blank
  uint64_t fed_ = 0;
  uint64_t block_begin_ = 0;
  std::string pending_;  // the current partial line
  // The block being built.
  bool has_data_ = false;
  std::string data_;
  std::string type_;
  std::optional<uint64_t> retry_;
  size_t comments_ = 0;
  std::string last_event_id_;
};

}  // namespace glassbox::net
