// Applies gate.toml's [retention] to the audit log. The gateway calls it at
// start-up and then now and again (say hourly); `glassbox log` never does.
// Deletion goes through AuditLog::DeleteBefore, which moves the log's
// retention anchor, so `glassbox log verify` still passes afterwards.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/status.h"
#include "gate/config.h"
#include "gate/usage.h"

namespace glassbox::gate {

class LogStore;

// The cutoff (RFC 3339 UTC) before which records go: the later of
// now - days and the time of the records-th newest record. nullopt when
// nothing is to be deleted.
Result<std::optional<std::string>> RetentionCutoff(const RetentionConfig& retention, LogStore& log,
                                                   TimePoint now);

// Deletes the oldest records as RetentionCutoff says; returns how many.
// Records that share the cutoff's time are kept, so `records` keeps at least
// that many. Also deletes the chain's orphan bodies of earlier runs
// (LogStore::DeleteOrphanBodies). A config without [retention] deletes
// nothing.
Result<int64_t> ApplyRetention(const RetentionConfig& retention, LogStore& log, TimePoint now);

}  // namespace glassbox::gate
