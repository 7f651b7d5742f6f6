#include "scan/filter.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <vector>

#include "core/json_strings.h"
#include "core/json_writer.h"
#include "core/utf.h"

namespace glassbox::scan {

Status FdSink::Write(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {  // a non-blocking descriptor: wait until it takes more
        pollfd p{fd_, POLLOUT, 0};
        ::poll(&p, 1, -1);
        continue;
      }
      return Status::Error(fmt::format("{}: write failed: {}", name_, std::strerror(errno)));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

namespace {

// A byte buffer that is not zero-filled on allocation (the reader fills it)
// and grows with realloc, which moves large buffers by remapping pages
// rather than copying them, so a long row never needs twice its size.
struct Buffer {
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  std::unique_ptr<char, Free> data;
  size_t size = 0;
  size_t cap = 0;

  // Makes room for `new_cap` bytes in all, keeping the content. False when
  // memory runs out (the buffer is then unchanged).
  [[nodiscard]] bool Reserve(size_t new_cap) {
    if (new_cap <= cap) return true;
    char* p = static_cast<char*>(std::realloc(data.get(), new_cap));
    if (p == nullptr) return false;
    (void)data.release();
    data.reset(p);
    cap = new_cap;
    return true;
  }
  std::string_view view() const { return {data.get(), size}; }
};

// Code points written as \u escapes in a reject record's "original": the
// invisible, format and bidi characters the scan is about, and C1 controls.
// Escaping keeps the record exact (a JSON reader gets the same text back) and
// safe to read in a terminal or paste into a prompt.
bool EscapeInOriginal(uint32_t cp) {
  if (cp < 0xA0) return cp >= 0x7F;  // DEL and C1 controls (C0 are escaped anyway)
  if (cp < 0x2000) {
    return cp == 0xAD || cp == 0x34F || cp == 0x61C || cp == 0x115F || cp == 0x1160 ||
           cp == 0x17B4 || cp == 0x17B5 || (cp >= 0x180B && cp <= 0x180F);
  }
  if (cp <= 0x200F) return true;  // spaces of odd widths, zero-width characters, LRM/RLM
  if (cp >= 0x2028 && cp <= 0x202F) return true;  // separators, bidi embeddings and overrides
  if (cp >= 0x205F && cp <= 0x206F) return true;  // invisible operators, bidi isolates
  if (cp == 0x3164 || cp == 0xFEFF || cp == 0xFFA0) return true;
  if (cp >= 0xFE00 && cp <= 0xFE0F) return true;  // variation selectors
  if (cp >= 0xFFF0 && cp <= 0xFFFB) return true;  // interlinear annotation, object replacement
  if (cp >= 0x1D173 && cp <= 0x1D17A) return true;
  return cp >= 0xE0000 && cp <= 0xE0FFF;  // tag characters, variation selectors supplement
}

// One reason in a reject record.
void AppendReason(std::string_view rule, Severity severity, std::string_view json_path,
                  const std::vector<char32_t>& codepoints, std::string_view decoded,
                  std::string_view message, std::string* out) {
  out->append("{\"rule\":");
  JsonWriter::Escape(rule, out);
  out->append(",\"severity\":\"");
  out->append(SeverityName(severity));
  out->append("\",\"json_path\":");
  JsonWriter::Escape(json_path, out);
  out->append(",\"codepoints\":[");
  for (size_t k = 0; k < codepoints.size(); ++k) {
    if (k > 0) out->push_back(',');
    fmt::format_to(std::back_inserter(*out), "\"U+{:04X}\"", static_cast<uint32_t>(codepoints[k]));
  }
  out->append("],\"decoded\":");
  JsonWriter::Escape(decoded, out);
  out->append(",\"message\":");
  JsonWriter::Escape(message, out);
  out->push_back('}');
}

// The record of a row over the limit, which was never held whole.
void AppendTooLongRecord(uint64_t row, uint64_t bytes, uint64_t limit, std::string* out) {
  fmt::format_to(std::back_inserter(*out), "{{\"row\":{},\"reasons\":[", row);
  AppendReason(kRowTooLongRule, Severity::kHigh, "$", {}, "",
               fmt::format("row is {} bytes, over the limit of {} (--max-row-bytes); not scanned",
                           bytes, limit),
               out);
  fmt::format_to(std::back_inserter(*out), "],\"original\":null,\"original_bytes\":{}}}\n", bytes);
}

// The scanner reports a row that is not JSON as this finding at "$" (and then
// scans the row as plain text); the filter replaces it with its own reason.
bool IsScannerInvalidRowMarker(const Finding& f) {
  return f.rule == "unicode/invalid-encoding" && f.json_path == "$" &&
         f.message.rfind("row is not valid JSON", 0) == 0;
}

// Returns the parser's message when `row` is not exactly one JSON value.
std::optional<std::string> JsonError(std::string_view row) {
  static const std::function<void(const JsonStringVisit&)> kIgnore = [](const JsonStringVisit&) {};
  Status st = ForEachJsonString(row, kIgnore, JsonWalkOptions{.visit_keys = false});
  if (st.ok()) return std::nullopt;
  return st.message();
}

// Rows in `text`: its line ends, and one more for a last row without one.
uint64_t CountRows(std::string_view text) {
  uint64_t rows = 0;
  const char* p = text.data();
  const char* const end = p + text.size();
  while (const void* nl = std::memchr(p, '\n', static_cast<size_t>(end - p))) {
    ++rows;
    p = static_cast<const char*>(nl) + 1;
  }
  return rows + (p != end ? 1 : 0);
}

constexpr size_t kMaxReasonsPerRow = 64;
constexpr size_t kDirectWriteBytes = size_t{256} << 10;
constexpr size_t kOutputBufferBytes = size_t{1} << 20;

}  // namespace

// A run of consecutive rows, scanned by one worker and written in order. A
// batch either holds complete rows (each ends in '\n', except a last row at
// the end of input) or stands for one over-long row that was not kept.
struct Filter::Batch {
  uint64_t first_row = 1;
  Buffer bytes;
  bool want_records = true;     // build reject records (false with --drop)
  uint64_t too_long_bytes = 0;  // > 0: this batch is one over-long row

  // Results.
  std::vector<std::pair<size_t, size_t>> keep;  // [begin, end) byte ranges of `bytes`, in order
  std::string records;                          // reject records, one per line
  FilterStats stats;                            // rows and bytes of this batch
  bool done = false;                            // guarded by the pipeline's mutex
};

Result<std::unique_ptr<Filter>> Filter::Create(const FilterOptions& options) {
  if (options.read_bytes == 0) return Status::Error("filter: read size must be at least 1 byte");
  if (options.max_row_bytes == 0)
    return Status::Error("filter: the row limit must be at least 1 byte");
  ScanOptions so;
  so.unicode = options.unicode;
  so.secrets = options.secrets;
  so.provenance = options.provenance;
  so.agent_config = false;  // about settings files in a repository, not data rows
  so.min_severity = options.min_severity;
  // Data rows are untrusted: a "glassbox:ignore" inside one must not hide it.
  so.inline_suppression = false;
  so.data_mode = true;
  so.jobs = 1;
  // Decided row by row: no cap per input (a row past it would be kept), the
  // most severe findings of a row are enough for its reasons, and the filter
  // shows no line, snippet or fingerprint. A row of 2,000 control bytes made
  // 2,000 located findings: 400 MB of such rows took 2.9 GB at 1-2 MB/s.
  so.max_findings_per_rule = 0;
  so.max_findings_per_row = kMaxReasonsPerRow + 1;
  so.locate = false;
  auto scanner = Scanner::Create(std::move(so));
  if (!scanner.ok()) return scanner.status();
  return std::unique_ptr<Filter>(new Filter(options, std::move(scanner.value())));
}

bool Filter::Selected(const Finding& f) const {
  if (f.severity < options_.min_severity) return false;
  const std::string_view rule = f.rule;
  const std::string_view family = rule.substr(0, rule.find('/'));
  if (family == "unicode") return options_.unicode;
  if (family == "provenance") return options_.provenance;
  if (family == "secret") return options_.secrets;
  return false;
}

namespace {

struct Row {
  size_t begin;
  size_t end;   // before the '\n'
  size_t next;  // after the '\n'
};

// A row that starts with a UTF-16 byte order mark would make the scanner
// transcode the whole batch when it comes first.
bool StartsWithUtf16Bom(std::string_view text, const Row& r) {
  const auto* u = reinterpret_cast<const unsigned char*>(text.data() + r.begin);
  return r.end - r.begin >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF));
}

// Cuts `text` into rows; true when one is special: it holds a NUL byte,
// starts with a UTF-16 byte order mark or is over max_row_bytes.
bool SplitRows(std::string_view text, size_t max_row_bytes, std::vector<Row>* rows) {
  bool any_special = std::memchr(text.data(), 0, text.size()) != nullptr;
  for (size_t at = 0; at < text.size();) {
    const char* nl =
        static_cast<const char*>(std::memchr(text.data() + at, '\n', text.size() - at));
    const size_t end = nl != nullptr ? static_cast<size_t>(nl - text.data()) : text.size();
    rows->push_back({at, end, nl != nullptr ? end + 1 : end});
    any_special = any_special || end - at > max_row_bytes || StartsWithUtf16Bom(text, rows->back());
    at = rows->back().next;
  }
  return any_special;
}

// What a special row gets whatever the scanner says.
enum class Own : uint8_t { kNone, kInvalid, kTooLong };

// Rows the scanner must not see are blanked in a copy (*masked): a NUL byte
// makes it treat the whole batch as binary, a UTF-16 byte order mark makes it
// transcode the batch, and over-long rows are rejected unscanned. None of
// these rows is valid JSON of acceptable size; wherever such a row falls in a
// batch, it gets the same reasons (*own, per row).
void MaskSpecialRows(std::string_view text, const std::vector<Row>& rows, size_t max_row_bytes,
                     std::vector<Own>* own, std::string* masked) {
  own->assign(rows.size(), Own::kNone);
  masked->assign(text);
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    const std::string_view row = text.substr(r.begin, r.end - r.begin);
    if (r.end - r.begin > max_row_bytes) {
      (*own)[i] = Own::kTooLong;
    } else if (StartsWithUtf16Bom(text, r) || row.find('\0') != std::string_view::npos) {
      (*own)[i] = Own::kInvalid;
    } else {
      continue;
    }
    std::fill(masked->begin() + static_cast<ptrdiff_t>(r.begin),
              masked->begin() + static_cast<ptrdiff_t>(r.end), ' ');
  }
}

// A rejected row's reasons: the first kMaxReasonsPerRow as JSON (when records
// are wanted), the rest counted.
struct RowReasons {
  explicit RowReasons(bool records) : want_records(records) {}
  void Clear() {
    count = 0;
    omitted = 0;
    json.clear();
  }
  void Add(std::string_view rule, Severity sev, std::string_view path,
           const std::vector<char32_t>& cps, std::string_view decoded, std::string_view message) {
    if (count == kMaxReasonsPerRow) {
      ++omitted;
      return;
    }
    if (count > 0) json.push_back(',');
    ++count;
    if (want_records) AppendReason(rule, sev, path, cps, decoded, message, &json);
  }
  bool want_records;
  size_t count = 0;
  size_t omitted = 0;
  std::string json;
};

}  // namespace

void Filter::ScanBatch(Batch& b) const {
  if (b.too_long_bytes > 0) {
    b.stats.rows_in = b.stats.rows_rejected = b.stats.rows_too_long = 1;
    if (b.want_records)
      AppendTooLongRecord(b.first_row, b.too_long_bytes, options_.max_row_bytes, &b.records);
    return;
  }

  const std::string_view text = b.bytes.view();
  std::vector<Row> rows;
  const bool any_special = SplitRows(text, options_.max_row_bytes, &rows);
  std::vector<Own> own;
  std::string masked;
  std::string_view scan_text = text;
  if (any_special) {
    MaskSpecialRows(text, rows, options_.max_row_bytes, &own, &masked);
    scan_text = masked;
  }

  std::vector<Finding> findings;
  ReportStats scan_stats;
  scanner_->ScanBuffer(scan_text, "rows.jsonl", &findings, &scan_stats);
  std::stable_sort(findings.begin(), findings.end(),
                   [](const Finding& x, const Finding& y) { return x.row < y.row; });

  size_t fi = 0;
  RowReasons reasons(b.want_records);
  auto keep = [&](const Row& r) {
    if (!b.keep.empty() && b.keep.back().second == r.begin) {
      b.keep.back().second = r.next;
    } else {
      b.keep.emplace_back(r.begin, r.next);
    }
    ++b.stats.rows_kept;
    b.stats.bytes_kept += r.next - r.begin;
  };
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    const std::string_view row = text.substr(r.begin, r.end - r.begin);
    const uint64_t local_row = i + 1;
    const size_t first = fi;
    while (fi < findings.size() && findings[fi].row <= local_row) ++fi;
    ++b.stats.rows_in;
    const Own mine = own.empty() ? Own::kNone : own[i];
    if (first == fi && mine == Own::kNone) {
      keep(r);
      continue;
    }

    if (mine == Own::kTooLong) {
      ++b.stats.rows_rejected;
      ++b.stats.rows_too_long;
      if (b.want_records)
        AppendTooLongRecord(b.first_row + i, row.size(), options_.max_row_bytes, &b.records);
      continue;
    }

    reasons.Clear();
    // The scanner marks a row it could not parse at "$"; only the parser
    // knows for sure, so such rows are parsed again (rare: bad rows only).
    bool suspect = mine == Own::kInvalid;
    for (size_t k = first; k < fi && !suspect; ++k) suspect = findings[k].json_path == "$";
    std::optional<std::string> error;
    if (suspect) error = JsonError(row);
    if (mine == Own::kInvalid && !error) error = "row holds a NUL byte or a UTF-16 byte order mark";
    if (error) {
      ++b.stats.rows_invalid_json;
      reasons.Add(kInvalidJsonRule, Severity::kHigh, "$", {}, "", *error);
    }
    if (fi - first > kMaxReasonsPerRow) {
      // More than fit: the most severe go first, so a critical finding is
      // never among the omitted.
      std::stable_sort(findings.begin() + static_cast<ptrdiff_t>(first),
                       findings.begin() + static_cast<ptrdiff_t>(fi),
                       [](const Finding& x, const Finding& y) { return x.severity > y.severity; });
    }
    for (size_t k = first; k < fi; ++k) {
      const Finding& f = findings[k];
      if (error && IsScannerInvalidRowMarker(f)) continue;
      if (!Selected(f)) continue;
      reasons.Add(f.rule, f.severity, f.json_path, f.codepoints, f.decoded, f.message);
    }
    if (reasons.count == 0) {
      keep(r);
      continue;
    }
    ++b.stats.rows_rejected;
    if (!b.want_records) continue;
    fmt::format_to(std::back_inserter(b.records), "{{\"row\":{},\"reasons\":[", b.first_row + i);
    b.records.append(reasons.json);
    b.records.push_back(']');
    if (reasons.omitted > 0) {
      fmt::format_to(std::back_inserter(b.records), ",\"reasons_omitted\":{}", reasons.omitted);
    }
    std::string_view original = row;
    if (r.next > r.end && !original.empty() && original.back() == '\r') original.remove_suffix(1);
    b.records.append(",\"original\":");
    if (!JsonWriter::Escape(original, &b.records, &EscapeInOriginal))
      b.records.append(",\"original_lossy\":true");
    b.records.append("}\n");
  }
}

namespace {

// Reads the input and cuts it into batches of whole rows. Runs on its own
// thread so that a slow producer never holds back rows already scanned.
class RowReader {
 public:
  RowReader(int fd, std::string_view name, const FilterOptions& options, bool want_records,
            const std::atomic<bool>& stop)
      : fd_(fd), name_(name), options_(options), want_records_(want_records), stop_(stop) {}

  // Calls emit(batch) for each batch in input order until the input ends, an
  // error occurs, or emit returns false.
  template <typename Emit>
  Status Run(Emit&& emit) {
#ifdef F_SETPIPE_SZ
    // A larger pipe buffer means fewer, larger reads from a fast producer;
    // fails harmlessly on anything that is not a pipe.
    (void)::fcntl(fd_, F_SETPIPE_SZ, 1 << 20);
#endif
    Buffer cur;
    if (!cur.Reserve(options_.read_bytes)) return OutOfMemory(options_.read_bytes);
    uint64_t next_row = 1;
    bool eof = false;
    while (true) {
      if (cur.size > options_.max_row_bytes &&
          std::memchr(cur.data.get(), '\n', cur.size) == nullptr) {
        // The row so far, with no line end yet, is already over the limit.
        auto batch = std::make_unique<Filter::Batch>();
        batch->first_row = next_row++;
        batch->want_records = want_records_;
        Status st = Discard(&cur, &batch->too_long_bytes, &eof);
        if (!st.ok()) return st;
        if (!emit(std::move(batch))) return Status::Ok();
        if (eof && cur.size == 0) return Status::Ok();
        continue;
      }
      if (!eof) {
        Status st = Fill(&cur, &eof);
        if (!st.ok()) return st;
      }
      if (cur.size == 0) return Status::Ok();  // eof
      size_t cut = cur.size;
      if (!eof) {
        const void* nl = memrchr(cur.data.get(), '\n', cur.size);
        if (nl == nullptr) {
          if (cur.size == cur.cap && cur.size <= options_.max_row_bytes) {
            Status st = Grow(&cur);
            if (!st.ok()) return st;
          }
          continue;
        }
        cut = static_cast<size_t>(static_cast<const char*>(nl) - cur.data.get()) + 1;
      }
      // The partial row after the cut starts the next buffer.
      const size_t carry = cur.size - cut;
      Buffer next;
      const size_t next_cap = std::max(options_.read_bytes, std::min(carry * 2, RowCapacity()));
      if (!next.Reserve(next_cap)) return OutOfMemory(next_cap);
      std::memcpy(next.data.get(), cur.data.get() + cut, carry);
      next.size = carry;
      cur.size = cut;

      auto batch = std::make_unique<Filter::Batch>();
      batch->first_row = next_row;
      batch->want_records = want_records_;
      next_row += CountRows(cur.view());
      batch->bytes = std::move(cur);
      cur = std::move(next);
      if (!emit(std::move(batch))) return Status::Ok();
      if (eof && cur.size == 0) return Status::Ok();
    }
  }

 private:
  // The largest buffer ever needed: one row at the limit, one byte more to
  // tell that it is over, and a read's worth.
  size_t RowCapacity() const {
    const uint64_t want = options_.max_row_bytes + 1;
    return static_cast<size_t>(std::max<uint64_t>(want, options_.read_bytes));
  }

  Status Grow(Buffer* b) const {
    size_t cap = std::min(b->cap * 2, RowCapacity());
    if (RowCapacity() - cap < options_.read_bytes) cap = RowCapacity();  // no last small step
    return b->Reserve(cap) ? Status::Ok() : OutOfMemory(cap);
  }

  Status OutOfMemory(size_t bytes) const {
    return Status::Error(
        fmt::format("{}: out of memory for a buffer of {} bytes (a lower --max-row-bytes helps)",
                    name_, bytes));
  }

  // Waits until the input is readable, or the filter is stopping. With
  // `have_row`, returns at once: false when nothing is ready yet.
  bool WaitReadable(bool have_row) const {
    while (true) {
      pollfd p{fd_, POLLIN, 0};
      const int r = ::poll(&p, 1, have_row ? 0 : 200);
      if (r > 0) return true;
      if (r < 0 && errno != EINTR) return true;  // not pollable: just read
      if (have_row) return false;
      if (stop_.load(std::memory_order_relaxed)) return false;
    }
  }

  // Reads into *b until it is full, the input ends, or at least one whole
  // row is there and no more input is ready right now (so rows from a slow
  // producer go through without waiting for a full buffer).
  Status Fill(Buffer* b, bool* eof) {
    bool have_row = std::memchr(b->data.get(), '\n', b->size) != nullptr;
    while (b->size < b->cap) {
      if (!WaitReadable(have_row)) {
        if (have_row) break;
        return Status::Error(fmt::format("{}: reading stopped", name_));
      }
      const ssize_t n = ::read(fd_, b->data.get() + b->size, b->cap - b->size);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return Status::Error(fmt::format("{}: read failed: {}", name_, std::strerror(errno)));
      }
      if (n == 0) {
        *eof = true;
        break;
      }
      have_row =
          have_row || std::memchr(b->data.get() + b->size, '\n', static_cast<size_t>(n)) != nullptr;
      b->size += static_cast<size_t>(n);
      bytes_read_ += static_cast<uint64_t>(n);
    }
    return Status::Ok();
  }

  // *b holds the start of a row with no line end, over the limit. Reads on
  // to the end of that row and drops it; what follows stays in *b.
  Status Discard(Buffer* b, uint64_t* row_bytes, bool* eof) {
    *row_bytes = b->size;
    b->size = 0;
    while (!*eof) {
      Status st = Fill(b, eof);
      if (!st.ok()) return st;
      const char* nl = static_cast<const char*>(std::memchr(b->data.get(), '\n', b->size));
      if (nl == nullptr) {
        *row_bytes += b->size;
        b->size = 0;
        continue;
      }
      const size_t line = static_cast<size_t>(nl - b->data.get());
      *row_bytes += line;
      std::memmove(b->data.get(), nl + 1, b->size - line - 1);
      b->size -= line + 1;
      break;
    }
    return Status::Ok();
  }

 public:
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  int fd_;
  std::string_view name_;
  const FilterOptions& options_;
  bool want_records_;
  const std::atomic<bool>& stop_;
  uint64_t bytes_read_ = 0;
};

// Gathers small writes into large ones.
class BufferedOut {
 public:
  explicit BufferedOut(ByteSink* sink) : sink_(sink) {}
  Status Write(std::string_view bytes) {
    if (bytes.size() >= kDirectWriteBytes) {
      Status st = Flush();
      if (!st.ok()) return st;
      return sink_->Write(bytes);
    }
    buf_.append(bytes);
    return buf_.size() >= kOutputBufferBytes ? Flush() : Status::Ok();
  }
  Status Flush() {
    if (buf_.empty()) return Status::Ok();
    Status st = sink_->Write(buf_);
    buf_.clear();
    return st;
  }

 private:
  ByteSink* sink_;
  std::string buf_;
};

void Add(FilterStats* to, const FilterStats& s) {
  to->rows_in += s.rows_in;
  to->rows_kept += s.rows_kept;
  to->rows_rejected += s.rows_rejected;
  to->rows_invalid_json += s.rows_invalid_json;
  to->rows_too_long += s.rows_too_long;
  to->bytes_kept += s.bytes_kept;
}

}  // namespace

Status Filter::Run(int input_fd, std::string_view input_name, ByteSink* kept, ByteSink* rejects,
                   FilterStats* stats) const {
  *stats = FilterStats{};
  const unsigned jobs =
      options_.jobs != 0 ? options_.jobs : std::max(1u, std::thread::hardware_concurrency());
  const size_t max_in_flight = 2 * size_t{jobs} + 2;

  // Batches move reader → workers → this thread, which writes them in order.
  std::mutex mu;
  std::condition_variable reader_cv, worker_cv, writer_cv;
  std::deque<std::unique_ptr<Batch>> in_order;  // every batch not yet written
  std::deque<Batch*> todo;                      // batches waiting for a worker
  bool reader_done = false;
  std::atomic<bool> stop{false};
  Status read_status;

  RowReader reader(input_fd, input_name, options_, rejects != nullptr, stop);
  auto read_all = [&] {
    Status st = reader.Run([&](std::unique_ptr<Batch> batch) {
      std::unique_lock<std::mutex> lock(mu);
      reader_cv.wait(lock, [&] { return in_order.size() < max_in_flight || stop.load(); });
      if (stop.load()) return false;
      if (batch->too_long_bytes > 0) {
        ScanBatch(*batch);  // nothing to scan: only the record to write
        batch->done = true;
        writer_cv.notify_one();
      } else {
        todo.push_back(batch.get());
        worker_cv.notify_one();
      }
      in_order.push_back(std::move(batch));
      return true;
    });
    std::lock_guard<std::mutex> lock(mu);
    read_status = std::move(st);
    reader_done = true;
    worker_cv.notify_all();
    writer_cv.notify_all();
  };
  auto work = [&] {
    std::unique_lock<std::mutex> lock(mu);
    while (true) {
      worker_cv.wait(lock, [&] { return !todo.empty() || reader_done || stop.load(); });
      if (stop.load() || todo.empty()) return;
      Batch* batch = todo.front();
      todo.pop_front();
      lock.unlock();
      ScanBatch(*batch);
      lock.lock();
      batch->done = true;
      writer_cv.notify_one();
    }
  };

  std::vector<std::thread> threads;
  Status status;
  try {
    threads.emplace_back(read_all);
    for (unsigned t = 0; t < jobs; ++t) threads.emplace_back(work);
  } catch (const std::system_error& e) {
    status = Status::Error(fmt::format("filter: cannot start threads: {}", e.what()));
  }

  BufferedOut out(kept);
  std::unique_lock<std::mutex> lock(mu);
  while (status.ok()) {
    writer_cv.wait(lock, [&] {
      return (!in_order.empty() && in_order.front()->done) || (reader_done && in_order.empty());
    });
    if (in_order.empty()) break;
    std::unique_ptr<Batch> batch = std::move(in_order.front());
    in_order.pop_front();
    reader_cv.notify_one();
    lock.unlock();
    for (const auto& [begin, end] : batch->keep) {
      status = out.Write(batch->bytes.view().substr(begin, end - begin));
      if (!status.ok()) break;
    }
    if (status.ok()) status = out.Flush();
    if (status.ok() && rejects != nullptr && !batch->records.empty())
      status = rejects->Write(batch->records);
    if (status.ok()) Add(stats, batch->stats);
    lock.lock();
  }
  stop.store(true);
  reader_cv.notify_all();
  worker_cv.notify_all();
  lock.unlock();
  for (std::thread& t : threads) t.join();
  stats->bytes_in = reader.bytes_read();
  if (!status.ok()) return status;
  return read_status;
}

}  // namespace glassbox::scan
