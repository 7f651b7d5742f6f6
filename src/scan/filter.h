// Filter: a streaming JSONL filter for ML data pipelines. It reads rows from a
// file descriptor, copies the rows to keep to one sink byte for byte, and
// describes each rejected row, with its reasons and original text, as one
// JSON object on another sink.
//
// A row is rejected when any string in it, decoded from its JSON escapes,
// has a finding at or above the severity floor in a selected rule family
// (unicode, provenance, secret), when it is not valid JSON
// ("data/invalid-json"), or when it is longer than the row limit
// ("data/row-too-long"). Blank lines (only spaces, tabs and CR) are kept.
//
// Memory stays bounded whatever the input: rows are read in chunks, a row is
// held whole only up to the row limit, and a longer row is consumed and
// counted without being held. Rows are scanned by worker threads in batches
// and written in input order.
//
// A Filter is immutable after Create() and may run many times, one Run() per
// input; Run() calls the sinks only from its calling thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/finding.h"
#include "core/status.h"
#include "scan/scanner.h"

namespace glassbox::scan {

// Where the filter writes. Write() either takes all the bytes or fails.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual Status Write(std::string_view bytes) = 0;
};

// Writes to a file descriptor with write(2), retrying short writes and
// EINTR. Does not own or close the descriptor. `name` is used in errors.
class FdSink : public ByteSink {
 public:
  FdSink(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  Status Write(std::string_view bytes) override;

 private:
  int fd_;
  std::string name_;
};

// Collects everything written; for tests and small inputs.
class StringSink : public ByteSink {
 public:
  Status Write(std::string_view bytes) override {
    text_.append(bytes);
    return Status::Ok();
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

struct FilterOptions {
  // Rule families whose findings reject a row.
  bool unicode = true;
  bool provenance = true;
  bool secrets = false;
  Severity min_severity = Severity::kLow;  // findings below it do not reject
  uint64_t max_row_bytes = uint64_t{64}
                           << 20;  // longer rows (without line end) are rejected unread
  size_t read_bytes =
      size_t{4} << 20;  // bytes per read; also the usual batch size (tests use tiny ones)
  unsigned jobs = 1;    // scanning threads; 0: one per core
};

struct FilterStats {
  uint64_t rows_in = 0;  // lines read, blank ones included
  uint64_t rows_kept = 0;
  uint64_t rows_rejected = 0;
  uint64_t rows_invalid_json = 0;  // of the rejected
  uint64_t rows_too_long = 0;      // of the rejected
  uint64_t bytes_in = 0;
  uint64_t bytes_kept = 0;
};

// The rule ids the filter itself reports, besides the scanner's.
inline constexpr std::string_view kInvalidJsonRule = "data/invalid-json";
inline constexpr std::string_view kRowTooLongRule = "data/row-too-long";

class Filter {
 public:
  static Result<std::unique_ptr<Filter>> Create(const FilterOptions& options);

  // Reads JSONL from `input_fd` to its end. Kept rows go to *kept unchanged
  // (line ends included, CRLF too; a last row without a line end stays so).
  // Rejected rows go to *rejects, one JSON object per line:
  //   {"row":N,"reasons":[{"rule":…,"severity":…,"json_path":…,
  //     "codepoints":["U+200B",…],"decoded":…,"message":…}],"original":"…"}
  // where N is the 1-based line number and "original" is the row without its
  // line end (invisible and bidi characters written as \u escapes, so the
  // record is safe to read; invalid UTF-8 becomes U+FFFD and the record says
  // "original_lossy":true). An over-long row has "original":null and
  // "original_bytes". `rejects` may be null: rejected rows are dropped.
  //
  // Returns an error naming `input_name` when reading fails, or the sink's
  // error when writing fails; what was written before stays written, and
  // *stats counts it.
  Status Run(int input_fd, std::string_view input_name, ByteSink* kept, ByteSink* rejects,
             FilterStats* stats) const;

  const FilterOptions& options() const { return options_; }

  struct Batch;

 private:
  Filter(FilterOptions options, std::unique_ptr<Scanner> scanner)
      : options_(options), scanner_(std::move(scanner)) {}
  void ScanBatch(Batch& batch) const;
  bool Selected(const Finding& f) const;

  FilterOptions options_;
  std::unique_ptr<Scanner> scanner_;
};

}  // namespace glassbox::scan
