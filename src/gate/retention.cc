#include "gate/retention.h"

#include "gate/store.h"

namespace glassbox::gate {

Result<std::optional<std::string>> RetentionCutoff(const RetentionConfig& retention, LogStore& log,
                                                   TimePoint now) {
  std::optional<std::string> cutoff;
  if (retention.days)
    cutoff = FormatRfc3339(now - std::chrono::hours(24) * static_cast<int>(*retention.days));
  if (retention.records) {
    Result<std::optional<std::string>> newest =
        log.TimeOfNewest(static_cast<int64_t>(*retention.records));
    if (!newest.ok()) return newest.status();
    // RFC 3339 UTC strings compare as the times they name.
    if (*newest && (!cutoff || **newest > *cutoff)) cutoff = **newest;
  }
  return cutoff;
}

Result<int64_t> ApplyRetention(const RetentionConfig& retention, LogStore& log, TimePoint now) {
  if (!retention.days && !retention.records) return int64_t{0};
  // Orphan bodies first: no record's hash covers them, so they are not
  // part of the audit trail, only request data kept past its use.
  if (Result<int64_t> orphans = log.DeleteOrphanBodies(); !orphans.ok()) return orphans.status();
  Result<std::optional<std::string>> cutoff = RetentionCutoff(retention, log, now);
  if (!cutoff.ok()) return cutoff.status();
  if (!*cutoff) return int64_t{0};
  return log.DeleteBefore(**cutoff);
}

}  // namespace glassbox::gate
