// The audit log's body store: request bodies stored ahead of their records,
// in append-only segment files beside the database (see
// AuditLog::StoreRequestBody).
//
// Layout: DIR/lock (held by the one writer), DIR/NNNNNNNN.seg. An entry is a
// 16-byte header -- "GBB1", four zero bytes, the body's length as a
// little-endian u64 -- then the body. A body's location packs the segment
// number and the entry's offset: segment << 40 | offset (segments start at
// 1, so 0 means none). A crash can leave a torn entry at a segment's end; no
// record names it and appends continue after it.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace glassbox::gate {

class BodyStore {
 public:
  static constexpr int kOffsetBits = 40;
  static constexpr size_t kHeaderBytes = 16;

  // `dir` need not exist until the first Append().
  BodyStore(std::string dir, uint64_t segment_bytes);
  ~BodyStore();
  BodyStore(const BodyStore&) = delete;
  BodyStore& operator=(const BodyStore&) = delete;

  const std::string& dir() const { return dir_; }
  static uint64_t SegmentOf(int64_t at) { return static_cast<uint64_t>(at) >> kOffsetBits; }
  std::string SegmentPath(uint64_t segment) const;

  // Appends `body`; returns its location. The first call creates the folder
  // and takes the writer's lock: a second writer on the same store gets an
  // error. `sync`: the entry is on disk before this returns.
  Result<int64_t> Append(std::string_view body, bool sync);
  // Syncs every append not yet synced (segments closed since, too).
  Status Sync();
  // The body at `at`; nullopt when the store does not hold it (segment gone,
  // offset past its end, a damaged or torn entry).
  Result<std::optional<std::string>> Read(int64_t at);
  // Deletes the segments numbered below `first_needed` that are older than
  // `min_age_seconds`, except the newest segment. Returns how many went.
  Result<int> DeleteSegmentsBefore(uint64_t first_needed, int64_t min_age_seconds);

 private:
  Status OpenForAppend();  // mu_ held
  Status Roll();           // mu_ held: the next segment
  std::vector<uint64_t> Segments() const;
  int ReadFd(uint64_t segment);  // mu_ held; -1 when the segment cannot be opened

  std::string dir_;
  uint64_t segment_bytes_;
  std::mutex mu_;
  int lock_fd_ = -1;
  uint64_t segment_ = 0;  // the one appended to, 0 before the first append
  int fd_ = -1;
  uint64_t size_ = 0;
  bool dirty_ = false;                // fd_ has appends not yet synced
  std::vector<int> closed_unsynced_;  // rolled-over segments awaiting Sync()
  std::unordered_map<uint64_t, int> read_fds_;
};

}  // namespace glassbox::gate
