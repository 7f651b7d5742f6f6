// The parts of LogStore common to both back-ends; see store.h.
#include "gate/store.h"

namespace glassbox::gate {

Result<AuditRecord> LogStore::Append(AuditRecord record) {
  std::vector<AuditRecord> one;
  one.push_back(std::move(record));
  auto stored = AppendBatch(std::move(one));
  if (!stored.ok()) return stored.status();
  return std::move(stored->front());
}

Result<LogStore::StoredBody> LogStore::StoreRequestBody(std::string_view, bool, std::string) {
  return Status::Error(Describe() + ": this log keeps request bodies in their records");
}

Result<LogStore::CheckpointResult> LogStore::Checkpoint(CheckpointMode) {
  return CheckpointResult{};
}

bool IsPostgresUrl(std::string_view location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

std::string RedactStoreLocation(std::string_view location) {
  if (!IsPostgresUrl(location)) return std::string(location);
  // scheme://user:password@host...: mask the password.
  const size_t start = location.find("://") + 3;
  const size_t at = location.find('@', start);
  if (at == std::string_view::npos) return std::string(location);
  const size_t colon = location.find(':', start);
  if (colon == std::string_view::npos || colon > at) return std::string(location);
  return std::string(location.substr(0, colon + 1)) + "***" + std::string(location.substr(at));
}

Result<std::unique_ptr<LogStore>> OpenLogStore(const std::string& location, LogStore::OpenMode mode,
                                               LogStore::Options options, std::string replica) {
  if (IsPostgresUrl(location)) return OpenPgStore(location, mode, options, std::move(replica));
  return OpenSqliteStore(location, mode, options);
}

}  // namespace glassbox::gate
