// Fuzzes the streaming JSONL filter (issue 16 reworked how rows are read,
// held and decided): rows cut across tiny reads, rows past a tiny row limit,
// invalid JSON and UTF-8. Checks that every row is either kept byte for byte,
// in order, or has exactly one reject record; that the records are valid
// UTF-8 lines naming increasing rows; and that the counts add up.
//
// The first input byte picks the read size and the row limit, so the fuzzer
// reaches the paths that a 4 MB read and a 64 MB limit hide.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "scan/filter.h"

namespace {

std::vector<std::string_view> Lines(std::string_view s) {
  std::vector<std::string_view> lines;
  size_t at = 0;
  while (at < s.size()) {
    size_t nl = s.find('\n', at);
    size_t end = nl == std::string_view::npos ? s.size() : nl + 1;
    lines.push_back(s.substr(at, end - at));
    at = end;
  }
  return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > (size_t{1} << 16)) return -1;
  const unsigned shape = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

  glassbox::scan::FilterOptions options;
  options.read_bytes = 1 + (shape & 0x0F) * 7;  // 1 to 106 bytes per read
  options.max_row_bytes = (shape & 0x10) ? 16 + (shape >> 5) * 24 : 1 << 20;  // sometimes tiny
  options.secrets = (shape & 0x80) != 0;
  options.jobs = 1;
  static std::unique_ptr<glassbox::scan::Filter> filters[256];
  if (!filters[shape]) {
    auto created = glassbox::scan::Filter::Create(options);
    FUZZ_CHECK(created.ok(), "Filter::Create failed: %s", created.status().message().c_str());
    filters[shape] = std::move(created.value());
  }

  const int fd = memfd_create("fuzz-filter", MFD_CLOEXEC);
  FUZZ_CHECK(fd >= 0, "memfd_create failed");
  for (size_t done = 0; done < input.size();) {
    ssize_t n = write(fd, input.data() + done, input.size() - done);
    FUZZ_CHECK(n > 0, "write to memfd failed");
    done += static_cast<size_t>(n);
  }
  FUZZ_CHECK(lseek(fd, 0, SEEK_SET) == 0, "lseek failed");
  glassbox::scan::StringSink kept, rejects;
  glassbox::scan::FilterStats stats;
  const glassbox::Status st = filters[shape]->Run(fd, "fuzz", &kept, &rejects, &stats);
  close(fd);
  FUZZ_CHECK(st.ok(), "Run failed: %s", st.message().c_str());

  const std::vector<std::string_view> rows = Lines(input);
  FUZZ_CHECK(stats.rows_in == rows.size(), "rows_in %llu, input has %zu",
             (unsigned long long)stats.rows_in, rows.size());
  FUZZ_CHECK(stats.rows_kept + stats.rows_rejected == stats.rows_in, "kept + rejected != rows");
  FUZZ_CHECK(stats.bytes_in == input.size(), "bytes_in differs");
  FUZZ_CHECK(stats.bytes_kept == kept.text().size(), "bytes_kept differs");

  // Kept rows are input rows, unchanged and in order; the others are the rejected ones.
  const std::vector<std::string_view> kept_rows = Lines(kept.text());
  FUZZ_CHECK(kept_rows.size() == stats.rows_kept, "kept output has %zu rows, stats say %llu",
             kept_rows.size(), (unsigned long long)stats.rows_kept);
  std::vector<uint64_t> rejected_rows;
  size_t k = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    if (k < kept_rows.size() && kept_rows[k] == rows[r]) {
      ++k;
    } else {
      rejected_rows.push_back(r + 1);
    }
  }
  FUZZ_CHECK(k == kept_rows.size(), "a kept row is not an input row in order");

  // One record per rejected row, valid UTF-8, naming rows in increasing order.
  const std::vector<std::string_view> records = Lines(rejects.text());
  FUZZ_CHECK(records.size() == stats.rows_rejected, "%zu reject records for %llu rejected rows",
             records.size(), (unsigned long long)stats.rows_rejected);
  uint64_t last_row = 0;
  for (std::string_view rec : records) {
    FUZZ_CHECK(!rec.empty() && rec.back() == '\n', "a reject record is not a line");
    FUZZ_CHECK(glassbox::fuzz::IsValidUtf8(rec), "a reject record is not UTF-8");
    FUZZ_CHECK(rec.substr(0, 7) == "{\"row\":", "a reject record does not start with its row");
    const uint64_t row = std::strtoull(std::string(rec.substr(7, 20)).c_str(), nullptr, 10);
    FUZZ_CHECK(row > last_row && row <= rows.size(), "reject record row %llu out of order",
               (unsigned long long)row);
    last_row = row;
  }
  // Greedy matching can pair a kept row with an earlier identical rejected
  // one; the count of rejected rows it finds is still exact.
  FUZZ_CHECK(rejected_rows.size() == records.size(), "rows not kept: %zu, records: %zu",
             rejected_rows.size(), records.size());
  return 0;
}
