// The SQLite back-end of LogStore: AuditLog, one file, one hash chain.
#include "gate/store.h"

namespace glassbox::gate {
namespace {

class SqliteStore final : public LogStore {
 public:
  SqliteStore(std::string path, std::unique_ptr<AuditLog> log)
      : path_(std::move(path)), log_(std::move(log)) {}

  std::string_view Kind() const override { return "sqlite"; }
  std::string Describe() const override { return path_; }
  Result<std::vector<AuditRecord>> AppendBatch(std::vector<AuditRecord> records) override {
    return log_->AppendBatch(std::move(records));
  }
  bool StoresBodiesAhead() const override { return true; }
  TranslatedBodies KeepsTranslatedBodies() const override {
    return TranslatedBodies::kInlineOrAhead;
  }
  Result<StoredBody> StoreRequestBody(std::string_view body, bool screened,
                                      std::string sha256) override {
    return log_->StoreRequestBody(body, screened, std::move(sha256));
  }
  Status SyncBodies() override { return log_->SyncBodies(); }
  bool NeedsWalCheckpoints() const override { return true; }
  Result<CheckpointResult> Checkpoint(CheckpointMode mode) override {
    return log_->Checkpoint(mode);
  }
  Result<std::vector<AuditRecord>> List() override { return log_->List(); }
  Result<AuditRecord> Get(int64_t id, std::string_view replica) override {
    if (!replica.empty()) {
      return Status::InvalidArgument(path_ + ": a SQLite log has one chain; there is no replica '" +
                                     std::string(replica) + "'");
    }
    return log_->Get(id);
  }
  Result<std::vector<AuditRecord>> Search(std::string_view text) override {
    return log_->Search(text);
  }
  Status ForEach(const RecordFilter& filter,
                 const std::function<bool(AuditRecord&)>& visit) override {
    return log_->ForEach(filter, visit);
  }
  Result<std::vector<UsageRow>> UsageSince(std::string_view since) override {
    return log_->UsageSince(since);
  }
  Result<VerifyResult> Verify(const std::vector<gate::Checkpoint>* checkpoints) override {
    return log_->Verify(checkpoints);
  }
  Result<std::optional<std::string>> TimeOfNewest(int64_t n) override {
    return log_->TimeOfNewest(n);
  }
  Result<Head> ReadHead() override { return log_->ReadHead(); }
  Result<int64_t> DeleteBefore(std::string_view cutoff) override {
    return log_->DeleteBefore(cutoff);
  }

 private:
  std::string path_;
  std::unique_ptr<AuditLog> log_;
};

}  // namespace

Result<std::unique_ptr<LogStore>> OpenSqliteStore(const std::string& path, LogStore::OpenMode mode,
                                                  LogStore::Options options) {
  auto log = AuditLog::Open(path, mode, options);
  if (!log.ok()) return log.status();
  return std::unique_ptr<LogStore>(new SqliteStore(path, std::move(log.value())));
}

}  // namespace glassbox::gate
