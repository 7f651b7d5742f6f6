// Fuzzes the audit log's body store reader (gate/body_store.h) on arbitrary
// segment files: Read() must not crash, read out of range or allocate more
// than the file holds, and what it returns must be the bytes the entry's
// header names. Also round-trips the input through Append().
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "fuzz_check.h"
#include "gate/body_store.h"

namespace {

struct Stores {
  std::string dir;
  glassbox::gate::BodyStore* reader = nullptr;
  Stores() {
    char tmpl[] = "/tmp/glassbox-fuzz-body-store.XXXXXX";
    const char* made = mkdtemp(tmpl);
    FUZZ_CHECK(made != nullptr, "mkdtemp failed");
    dir = made;
    reader = new glassbox::gate::BodyStore(dir + "/read", 1 << 20);
  }
  // libFuzzer ends a timed run with exit(), which runs this: no directory is left behind.
  ~Stores() {
    delete reader;
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  Stores(const Stores&) = delete;
  Stores& operator=(const Stores&) = delete;
};

Stores& Get() {
  static Stores stores;
  return stores;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using glassbox::gate::BodyStore;
  Stores& s = Get();
  const std::string input(reinterpret_cast<const char*>(data), size);
  // The input as segment 1 of the reading store.
  (void)mkdir((s.dir + "/read").c_str(), 0700);
  const std::string segment = s.reader->SegmentPath(1);
  const int fd = open(segment.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  FUZZ_CHECK(fd >= 0, "cannot write %s", segment.c_str());
  FUZZ_CHECK(write(fd, input.data(), input.size()) == static_cast<ssize_t>(input.size()),
             "short write");
  close(fd);
  // Entries at offset 0 and at an offset the input picks.
  uint64_t pick = 0;
  std::memcpy(&pick, input.data(), std::min<size_t>(input.size(), sizeof pick));
  for (uint64_t offset : {uint64_t{0}, size == 0 ? 0 : pick % (size + 32)}) {
    const int64_t at = static_cast<int64_t>((uint64_t{1} << BodyStore::kOffsetBits) | offset);
    auto body = s.reader->Read(at);
    if (!body.ok() || !body->has_value()) continue;
    const std::string& got = **body;
    FUZZ_CHECK(offset + BodyStore::kHeaderBytes + got.size() <= input.size(),
               "body past the end of the file");
    FUZZ_CHECK(input.compare(offset + BodyStore::kHeaderBytes, got.size(), got) == 0,
               "body differs from the file");
  }
  // Round trip: what is appended reads back the same.
  BodyStore writer(s.dir + "/write", 1 << 16);
  auto at = writer.Append(input, /*sync=*/false);
  FUZZ_CHECK(at.ok(), "append failed: %s", at.status().message().c_str());
  auto back = writer.Read(*at);
  FUZZ_CHECK(back.ok() && back->has_value() && **back == input, "appended body does not read back");
  return 0;
}
