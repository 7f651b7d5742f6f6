#include "scan/filter.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/json_strings.h"

namespace glassbox::scan {
namespace {

struct Outcome {
  Status status;
  std::string kept;
  std::string rejects;
  FilterStats stats;
};

// Runs the filter over `input` held in an in-memory file.
Outcome RunOn(const std::string& input, const FilterOptions& options = {}) {
  Outcome out;
  auto filter = Filter::Create(options);
  EXPECT_TRUE(filter.ok()) << filter.status().message();
  if (!filter.ok()) return out;
  const int fd = memfd_create("filter-input", MFD_CLOEXEC);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::write(fd, input.data(), input.size()), static_cast<ssize_t>(input.size()));
  ::lseek(fd, 0, SEEK_SET);
  StringSink kept;
  StringSink rejects;
  out.status = filter.value()->Run(fd, "test-input", &kept, &rejects, &out.stats);
  ::close(fd);
  out.kept = kept.text();
  out.rejects = rejects.text();
  return out;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line)) lines.push_back(line);
  return lines;
}

// A reject record's strings by JSON path ("$.reasons[0].rule" → value).
std::multimap<std::string, std::string> Fields(const std::string& record) {
  std::multimap<std::string, std::string> fields;
  Status st = ForEachJsonString(record, [&](const JsonStringVisit& v) {
    if (!v.is_key) fields.emplace(v.path, std::string(v.decoded));
  });
  EXPECT_TRUE(st.ok()) << st.message() << " in " << record;
  return fields;
}

std::string Field(const std::string& record, const std::string& path) {
  const auto fields = Fields(record);
  const auto it = fields.find(path);
  return it == fields.end() ? "<missing>" : it->second;
}

std::string RowPrefix(uint64_t row) { return "{\"row\":" + std::to_string(row) + ","; }

bool HasRule(const std::string& record, std::string_view prefix) {
  for (const auto& [path, value] : Fields(record)) {
    if (path.size() > 5 && path.compare(path.size() - 5, 5, ".rule") == 0 &&
        value.rfind(prefix, 0) == 0) {
      return true;
    }
  }
  return false;
}

const std::string kClean1 =
    R"({"messages":[{"role":"user","content":"Hello, caf\u00e9 \"quoted\" 😀"}]})";
const std::string kClean2 = R"({"id":2,"text":"plain ascii","n":[1,2.5e3,true,null]})";
// "Ign" in tag characters, written as JSON surrogate-pair escapes.
const std::string kTagsEscaped = R"({"text":"Summarise.\udb40\udc49\udb40\udc67\udb40\udc6e"})";
const std::string kZwspEscaped = R"({"a":{"b":["x","pass\u200bword"]}})";
const std::string kRloRaw =
    "{\"code\":\"if (role != \\\"user\xE2\x80\xAE \xE2\x81\xA6// admin\xE2\x81\xA9\\\")\"}";

TEST(Filter, KeepsCleanRowsByteForByte) {
  const std::string in = kClean1 + "\n" + kClean2 + "\n";
  const Outcome r = RunOn(in);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.kept, in);
  EXPECT_EQ(r.rejects, "");
  EXPECT_EQ(r.stats.rows_in, 2u);
  EXPECT_EQ(r.stats.rows_kept, 2u);
  EXPECT_EQ(r.stats.rows_rejected, 0u);
  EXPECT_EQ(r.stats.bytes_in, in.size());
}

// Issue 16: 400 MB of invalid rows took 2.9 GB at 1-2 MB/s, because every
// control byte of a row became a located finding. A row keeps its most
// severe reasons, and the tag characters after 3,000 control bytes are
// still among them.
TEST(Filter, RowWithThousandsOfFindingsKeepsItsMostSevereReasons) {
  std::string noisy = "{\"t\":\"";
  for (int i = 0; i < 3000; ++i) noisy += "a\\u0001";
  noisy += "\\udb40\\udc49\\udb40\\udc67\"}";
  const std::string in = kClean1 + "\n" + noisy + "\n" + kClean2 + "\n";
  const Outcome r = RunOn(in);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.kept, kClean1 + "\n" + kClean2 + "\n");
  EXPECT_EQ(r.stats.rows_rejected, 1u);
  EXPECT_TRUE(HasRule(r.rejects, "unicode/tag-characters")) << r.rejects.substr(0, 400);
  EXPECT_NE(r.rejects.find("\"reasons_omitted\":"), std::string::npos);
}

TEST(Filter, RejectsEscapedAndRawHiddenCharacters) {
  const std::string in =
      kClean1 + "\n" + kTagsEscaped + "\n" + kZwspEscaped + "\n" + kRloRaw + "\n" + kClean2 + "\n";
  const Outcome r = RunOn(in);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.kept, kClean1 + "\n" + kClean2 + "\n");
  const auto lines = Lines(r.rejects);
  ASSERT_EQ(lines.size(), 3u) << r.rejects;
  EXPECT_EQ(r.stats.rows_rejected, 3u);

  EXPECT_NE(lines[0].find("{\"row\":2,"), std::string::npos) << lines[0];
  EXPECT_EQ(Field(lines[0], "$.reasons[0].rule"), "unicode/tag-characters");
  EXPECT_EQ(Field(lines[0], "$.reasons[0].severity"), "critical");
  EXPECT_EQ(Field(lines[0], "$.reasons[0].json_path"), "$.text");
  EXPECT_EQ(Field(lines[0], "$.reasons[0].decoded"), "Ign");
  EXPECT_EQ(Field(lines[0], "$.reasons[0].codepoints[0]"), "U+E0049");
  // The original comes back exactly from the record.
  EXPECT_EQ(Field(lines[0], "$.original"), kTagsEscaped);

  EXPECT_NE(lines[1].find("{\"row\":3,"), std::string::npos);
  EXPECT_TRUE(HasRule(lines[1], "unicode/")) << lines[1];
  EXPECT_EQ(Field(lines[1], "$.reasons[0].json_path"), "$.a.b[1]");
  EXPECT_EQ(Field(lines[1], "$.reasons[0].codepoints[0]"), "U+200B");

  EXPECT_NE(lines[2].find("{\"row\":4,"), std::string::npos);
  EXPECT_TRUE(HasRule(lines[2], "unicode/bidi-control")) << lines[2];
  // Raw bidi controls are written as escapes, and decode to the original.
  EXPECT_NE(lines[2].find("\\u202e"), std::string::npos);
  EXPECT_EQ(lines[2].find("\xE2\x80\xAE"), std::string::npos);
  EXPECT_EQ(Field(lines[2], "$.original"), kRloRaw);
}

TEST(Filter, RowsSplitAcrossReadsGiveTheSameResult) {
  std::string in;
  for (int i = 0; i < 40; ++i) {
    in += (i % 7 == 3 ? kTagsEscaped : i % 5 == 1 ? kRloRaw : kClean1) + (i % 2 ? "\r\n" : "\n");
  }
  in += "\n  \n";
  in += kClean2;  // no final line end
  FilterOptions big;
  const Outcome whole = RunOn(in, big);
  ASSERT_TRUE(whole.status.ok());
  EXPECT_EQ(whole.stats.rows_in, 43u);
  for (size_t read : {1, 2, 3, 7, 64, 100, 333}) {
    FilterOptions o;
    o.read_bytes = read;
    const Outcome r = RunOn(in, o);
    ASSERT_TRUE(r.status.ok()) << read;
    EXPECT_EQ(r.kept, whole.kept) << "read size " << read;
    EXPECT_EQ(r.rejects, whole.rejects) << "read size " << read;
    EXPECT_EQ(r.stats.rows_in, whole.stats.rows_in);
    EXPECT_EQ(r.stats.bytes_in, in.size());
  }
}

TEST(Filter, FinalRowWithoutLineEnd) {
  const Outcome kept = RunOn(kClean1 + "\n" + kClean2);
  EXPECT_EQ(kept.kept, kClean1 + "\n" + kClean2);
  EXPECT_EQ(kept.stats.rows_in, 2u);
  const Outcome rejected = RunOn(kClean1 + "\n" + kTagsEscaped);
  EXPECT_EQ(rejected.kept, kClean1 + "\n");
  ASSERT_EQ(Lines(rejected.rejects).size(), 1u);
  EXPECT_NE(rejected.rejects.find("{\"row\":2,"), std::string::npos);
  EXPECT_EQ(Field(Lines(rejected.rejects)[0], "$.original"), kTagsEscaped);
}

TEST(Filter, KeepsCrlfBytesAndBlankLines) {
  const std::string in = kClean1 + "\r\n\r\n" + kTagsEscaped + "\r\n   \n" + kClean2 + "\r\n";
  const Outcome r = RunOn(in);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.kept, kClean1 + "\r\n\r\n   \n" + kClean2 + "\r\n");
  EXPECT_EQ(r.stats.rows_in, 5u);
  EXPECT_EQ(r.stats.rows_kept, 4u);
  const auto lines = Lines(r.rejects);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("{\"row\":3,"), std::string::npos);
  EXPECT_EQ(Field(lines[0], "$.original"), kTagsEscaped);  // without the CR
}

TEST(Filter, RejectsInvalidJsonWhateverTheRules) {
  const std::string nul_row = std::string("{\"a\":\"x\0y\"}", 11);
  const std::vector<std::string> bad = {R"({"a":)", "not json",    R"({"a":1}})", R"({"a":"\x"})",
                                        nul_row,    "{\"a\":1}\f", "'single'"};
  std::string in = kClean1 + "\n";
  for (const std::string& b : bad) in += b + "\n";
  in += kClean2 + "\n";
  FilterOptions strict_rules;
  strict_rules.unicode = strict_rules.provenance = false;
  strict_rules.secrets = true;
  strict_rules.min_severity = Severity::kCritical;
  for (const FilterOptions& o : {FilterOptions{}, strict_rules}) {
    const Outcome r = RunOn(in, o);
    ASSERT_TRUE(r.status.ok());
    EXPECT_EQ(r.kept, kClean1 + "\n" + kClean2 + "\n");
    const auto lines = Lines(r.rejects);
    ASSERT_EQ(lines.size(), bad.size()) << r.rejects;
    EXPECT_EQ(r.stats.rows_invalid_json, bad.size());
    for (size_t i = 0; i < lines.size(); ++i) {
      EXPECT_NE(lines[i].find(RowPrefix(i + 2)), std::string::npos) << lines[i];
      EXPECT_EQ(Field(lines[i], "$.reasons[0].rule"), "data/invalid-json") << lines[i];
      EXPECT_NE(Field(lines[i], "$.reasons[0].message").find("invalid JSON at byte"),
                std::string::npos)
          << lines[i];
      // The scanner's own "not valid JSON" note is replaced, not repeated.
      EXPECT_EQ(lines[i].find("row is not valid JSON"), std::string::npos) << lines[i];
      EXPECT_EQ(Field(lines[i], "$.original"), bad[i]);
    }
  }
}

TEST(Filter, Utf16ByteOrderMarkAtTheStartIsInvalidJsonNotTranscoded) {
  const std::string in =
      std::string("\xFF\xFE{\0}\0", 6) + "\n" + kTagsEscaped + "\n" + kClean2 + "\n";
  const Outcome r = RunOn(in);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.kept, kClean2 + "\n");
  const auto lines = Lines(r.rejects);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(Field(lines[0], "$.reasons[0].rule"), "data/invalid-json");
  EXPECT_NE(lines[0].find("\"original_lossy\":true"), std::string::npos);
  EXPECT_EQ(Field(lines[1], "$.reasons[0].rule"), "unicode/tag-characters");
}

TEST(Filter, InvalidUtf8InAStringIsRejectedAndMarkedLossy) {
  const std::string row = "{\"a\":\"caf\xE9\"}";
  const Outcome r = RunOn(row + "\n");
  EXPECT_EQ(r.kept, "");
  ASSERT_EQ(Lines(r.rejects).size(), 1u);
  EXPECT_TRUE(HasRule(r.rejects, "unicode/invalid-encoding")) << r.rejects;
  EXPECT_NE(r.rejects.find("\"original_lossy\":true"), std::string::npos);
}

TEST(Filter, OverLongRowsAreRejectedWithoutHoldingThem) {
  const std::string long_row = "{\"a\":\"" + std::string(1000, 'x') + "\"}";
  const std::string in = kClean1 + "\n" + long_row + "\n" + kClean2 + "\n" + long_row;
  for (size_t read : {size_t{16}, size_t{64}, size_t{4096}}) {
    FilterOptions o;
    o.max_row_bytes = 200;
    o.read_bytes = read;
    const Outcome r = RunOn(in, o);
    ASSERT_TRUE(r.status.ok());
    EXPECT_EQ(r.kept, kClean1 + "\n" + kClean2 + "\n") << read;
    const auto lines = Lines(r.rejects);
    ASSERT_EQ(lines.size(), 2u) << read;
    EXPECT_EQ(lines[0],
              "{\"row\":2,\"reasons\":[{\"rule\":\"data/"
              "row-too-long\",\"severity\":\"high\",\"json_path\":"
              "\"$\",\"codepoints\":[],\"decoded\":\"\",\"message\":\"row is 1008 bytes, over the "
              "limit of "
              "200 (--max-row-bytes); not scanned\"}],\"original\":null,\"original_bytes\":1008}")
        << read;
    EXPECT_NE(lines[1].find("{\"row\":4,"), std::string::npos) << read;
    EXPECT_EQ(r.stats.rows_too_long, 2u);
    EXPECT_EQ(r.stats.rows_in, 4u);
    EXPECT_EQ(r.stats.bytes_in, in.size());
  }
  // A row exactly at the limit is kept.
  FilterOptions o;
  o.max_row_bytes = long_row.size();
  o.read_bytes = 16;
  EXPECT_EQ(RunOn(long_row + "\n", o).kept, long_row + "\n");
}

TEST(Filter, JobsKeepRowOrder) {
  std::string in;
  std::string want_kept;
  std::vector<uint64_t> want_rows;
  for (int i = 1; i <= 6000; ++i) {
    const bool bad = i % 13 == 0 || i % 97 == 0;
    const std::string n = std::to_string(i);
    const std::string row = bad ? R"({"i":)" + n + R"(,"t":"x\u200by )" + n + R"("})"
                                : R"({"i":)" + n + R"(,"t":"row )" + n + R"("})";
    in += row + "\n";
    if (bad) {
      want_rows.push_back(static_cast<uint64_t>(i));
    } else {
      want_kept += row + "\n";
    }
  }
  for (unsigned jobs : {1u, 2u, 4u, 8u}) {
    FilterOptions o;
    o.jobs = jobs;
    o.read_bytes = 1024;  // many small batches
    const Outcome r = RunOn(in, o);
    ASSERT_TRUE(r.status.ok());
    EXPECT_EQ(r.kept, want_kept) << jobs;
    const auto lines = Lines(r.rejects);
    ASSERT_EQ(lines.size(), want_rows.size()) << jobs;
    for (size_t k = 0; k < lines.size(); ++k) {
      ASSERT_EQ(lines[k].rfind(RowPrefix(want_rows[k]), 0), 0u) << jobs << ": " << lines[k];
    }
  }
}

// Random rows of every kind (valid, malformed, hidden characters, NUL and
// stray bytes, CRLF, blank, long): whatever the read size and thread count,
// the output is the same, every input row is either kept unchanged or has a
// record, and nothing is lost.
TEST(Filter, RandomRowsSameResultForAnyReadSizeAndJobs) {
  const std::vector<std::string> pieces = {
      kClean1,    kClean2,    kTagsEscaped, kZwspEscaped,
      kRloRaw,    "{\"a\":",  "[1,2",       std::string("\0", 1),
      "\xFF\xFE", "\xE2\x80", "",           "   ",
      "\r",       "null",     "\"x\"",      std::string(300, 'y')};
  uint32_t seed = 12345;
  auto next = [&seed] {
    seed = seed * 1664525u + 1013904223u;
    return seed >> 8;
  };
  for (int round = 0; round < 20; ++round) {
    std::string in;
    const int rows = 1 + static_cast<int>(next() % 60);
    for (int i = 0; i < rows; ++i) {
      const int parts = 1 + static_cast<int>(next() % 2);
      for (int k = 0; k < parts; ++k) in += pieces[next() % pieces.size()];
      if (i + 1 < rows || next() % 2 == 0) in += next() % 4 == 0 ? "\r\n" : "\n";
    }
    FilterOptions reference;
    reference.max_row_bytes = 256;
    const Outcome want = RunOn(in, reference);
    ASSERT_TRUE(want.status.ok());
    EXPECT_EQ(want.stats.rows_in, want.stats.rows_kept + want.stats.rows_rejected);
    EXPECT_EQ(Lines(want.rejects).size(), want.stats.rows_rejected);
    // Kept rows are input rows, unchanged and in order.
    size_t at = 0;
    for (const std::string& row : Lines(want.kept)) {
      const size_t found = in.find(row, at);
      ASSERT_NE(found, std::string::npos) << round;
      at = found + row.size();
    }
    for (const std::string& record : Lines(want.rejects))
      (void)Fields(record);  // each record is JSON
    for (size_t read : {size_t{1}, size_t{5}, size_t{97}}) {
      for (unsigned jobs : {1u, 3u}) {
        FilterOptions o = reference;
        o.read_bytes = read;
        o.jobs = jobs;
        const Outcome got = RunOn(in, o);
        ASSERT_TRUE(got.status.ok());
        EXPECT_EQ(got.kept, want.kept) << "round " << round << " read " << read << " jobs " << jobs;
        if (got.rejects != want.rejects) {
          const auto g = Lines(got.rejects), w = Lines(want.rejects);
          for (size_t k = 0; k < std::max(g.size(), w.size()); ++k) {
            const std::string gl = k < g.size() ? g[k] : "<none>",
                              wl = k < w.size() ? w[k] : "<none>";
            if (gl != wl) {
              ADD_FAILURE() << "round " << round << " read " << read << " jobs " << jobs
                            << "\n got: " << gl << "\nwant: " << wl;
              break;
            }
          }
        }
      }
    }
  }
}

TEST(Filter, ProvenanceFindingsRejectLikeAnyOther) {
  const std::string row =
      R"({"text":"Fix parser\n\nCo-Authored-By: Claude <noreply@anthropic.com>"})";
  const Outcome on = RunOn(row + "\n");
  ASSERT_EQ(Lines(on.rejects).size(), 1u);
  EXPECT_TRUE(HasRule(on.rejects, "provenance/")) << on.rejects;
  FilterOptions off;
  off.provenance = false;
  EXPECT_EQ(RunOn(row + "\n", off).kept, row + "\n");
}

TEST(Filter, SecretsOnlyWhenSelected) {
  const std::string row =
      R"({"cmd":"export GITHUB_TOKEN=ghp_6IOhwMMPHwAgyf4I2nkuSs1NVk2KnL4qKoB4"})";
  EXPECT_EQ(RunOn(row + "\n").kept, row + "\n");
  FilterOptions o;
  o.secrets = true;
  const Outcome r = RunOn(row + "\n", o);
  EXPECT_EQ(r.kept, "");
  EXPECT_TRUE(HasRule(r.rejects, "secret/github-pat")) << r.rejects;
}

TEST(Filter, SeverityFloor) {
  FilterOptions o;
  o.min_severity = Severity::kCritical;
  const Outcome r = RunOn(kZwspEscaped + "\n" + kTagsEscaped + "\n", o);
  EXPECT_EQ(r.kept, kZwspEscaped + "\n");
  EXPECT_EQ(Lines(r.rejects).size(), 1u);
}

TEST(Filter, InlineIgnoreInsideARowDoesNotHideIt) {
  const std::string row = R"({"text":"glassbox:ignore unicode/tag-characters \udb40\udc49"})";
  EXPECT_EQ(RunOn(row + "\n").kept, "");
}

TEST(Filter, DropWritesNoRecords) {
  auto filter = Filter::Create({});
  ASSERT_TRUE(filter.ok());
  const std::string in = kClean1 + "\n" + kTagsEscaped + "\n";
  const int fd = memfd_create("in", MFD_CLOEXEC);
  ASSERT_EQ(::write(fd, in.data(), in.size()), static_cast<ssize_t>(in.size()));
  ::lseek(fd, 0, SEEK_SET);
  StringSink kept;
  FilterStats stats;
  ASSERT_TRUE(filter.value()->Run(fd, "in", &kept, nullptr, &stats).ok());
  ::close(fd);
  EXPECT_EQ(kept.text(), kClean1 + "\n");
  EXPECT_EQ(stats.rows_rejected, 1u);
}

TEST(Filter, RowsFromASlowProducerGoThroughBeforeTheInputEnds) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  auto filter = Filter::Create({});
  ASSERT_TRUE(filter.ok());
  // A sink that reports the first write; the producer waits for it before
  // it closes the pipe, so the row must have gone through on its own.
  struct Notify : ByteSink {
    std::mutex mu;
    std::condition_variable cv;
    std::string text;
    Status Write(std::string_view b) override {
      std::lock_guard<std::mutex> lock(mu);
      text.append(b);
      cv.notify_all();
      return Status::Ok();
    }
  } kept;
  std::thread producer([&] {
    const std::string row = kClean1 + "\n";
    ASSERT_EQ(::write(fds[1], row.data(), row.size()), static_cast<ssize_t>(row.size()));
    std::unique_lock<std::mutex> lock(kept.mu);
    const bool seen =
        kept.cv.wait_for(lock, std::chrono::seconds(10), [&] { return !kept.text.empty(); });
    EXPECT_TRUE(seen) << "the first row waited for the end of input";
    ::close(fds[1]);
  });
  StringSink rejects;
  FilterStats stats;
  const Status st = filter.value()->Run(fds[0], "pipe", &kept, &rejects, &stats);
  producer.join();
  ::close(fds[0]);
  EXPECT_TRUE(st.ok());
  EXPECT_EQ(kept.text, kClean1 + "\n");
}

TEST(Filter, WriteErrorStopsEvenWhileTheInputStaysOpen) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  struct Failing : ByteSink {
    Status Write(std::string_view) override {
      return Status::Error("<out>: write failed: disk full");
    }
  } kept;
  FilterOptions o;
  o.jobs = 2;
  auto filter = Filter::Create(o);
  ASSERT_TRUE(filter.ok());
  const std::string row = kClean1 + "\n";
  ASSERT_EQ(::write(fds[1], row.data(), row.size()), static_cast<ssize_t>(row.size()));
  StringSink rejects;
  FilterStats stats;
  const Status st = filter.value()->Run(fds[0], "pipe", &kept, &rejects, &stats);  // must not hang
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("disk full"), std::string::npos);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(Filter, ReadErrorNamesTheInput) {
  auto filter = Filter::Create({});
  ASSERT_TRUE(filter.ok());
  const int dir = ::open(".", O_RDONLY | O_DIRECTORY);
  StringSink kept;
  FilterStats stats;
  const Status st = filter.value()->Run(dir, "some-dir", &kept, nullptr, &stats);
  ::close(dir);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("some-dir"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace glassbox::scan
