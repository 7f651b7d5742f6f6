// LogWriter's threads and group commit; see log_writer.h.
#include "gate/log_writer.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace glassbox::gate {
namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

class LogWriterImpl {
 public:
  static Result<std::unique_ptr<LogWriterImpl>> Open(const std::string& path,
                                                     LogDurability durability,
                                                     const std::string& replica,
                                                     bool bodies_ahead) {
    LogStore::Options options;
    options.durability = durability;
    options.bodies_ahead = bodies_ahead;
    // Checkpoints run on their own thread and connection (below), so no
    // commit ever waits for the WAL to be copied into the database.
    options.auto_checkpoint = false;
    auto log = OpenLogStore(path, LogStore::OpenMode::kCreate, options, replica);
    if (!log.ok()) return log.status();
    std::unique_ptr<LogStore> checkpointer;
    if ((*log)->NeedsWalCheckpoints()) {
      auto opened = OpenLogStore(path, LogStore::OpenMode::kExisting, options, replica);
      if (!opened.ok()) return opened.status();
      checkpointer = std::move(opened.value());
    }
    auto writer = std::unique_ptr<LogWriterImpl>(new LogWriterImpl(std::move(log.value())));
    // With an fsync per commit, storing a body ahead would cost a second
    // fsync per request; the body then goes inline with its record.
    writer->store_ahead_ =
        durability == LogDurability::kNormal && writer->log_->StoresBodiesAhead();
    const LogStore::TranslatedBodies translated = writer->log_->KeepsTranslatedBodies();
    writer->keep_translated_ = translated != LogStore::TranslatedBodies::kNotKept;
    writer->store_translated_ahead_ =
        writer->store_ahead_ && translated == LogStore::TranslatedBodies::kInlineOrAhead;
    writer->commit_inline_ = durability == LogDurability::kNormal;
    writer->checkpointer_ = std::move(checkpointer);
    writer->thread_ = std::thread([w = writer.get()] { w->Run(); });
    if (writer->checkpointer_)
      writer->checkpoint_thread_ = std::thread([w = writer.get()] { w->RunCheckpoints(); });
    return writer;
  }
  ~LogWriterImpl() { Stop(); }

  // `digest`, when given, normally went through PrepareHere() first (if not,
  // the commit hashes it); its hash becomes the record's request_sha256.
  void Append(AuditRecord record, std::function<void(Status)> done,
              std::shared_ptr<RequestDigest> digest = nullptr) {
    {
      std::unique_lock lock(mu_);
      if (!stopping_ && commit_inline_ && done != nullptr && queue_.empty() &&
          !batch_in_progress_) {
        std::unique_lock log_lock(log_mu_, std::try_to_lock);
        if (log_lock.owns_lock()) {
          lock.unlock();
          std::deque<Item> one;
          one.push_back(Item{std::move(record), std::move(done), std::move(digest), false});
          CommitBatch(one, log_lock);
          return;
        }
      }
      if (!stopping_) {
        queue_.push_back(Item{std::move(record), std::move(done), std::move(digest), false});
        done = nullptr;
      }
    }
    // Notified after unlocking, so the log thread does not wake into a held mutex.
    if (done == nullptr) return cv_.notify_one();
    done(Status::Error("the audit log is closed"));
  }

  // Hashes digest->original on the log thread, ahead of the record that
  // will use it (the queue is processed in order).
  // As Prepare(), but done by the calling thread when the log is free
  // (else queued for the log thread).
  void PrepareHere(std::shared_ptr<RequestDigest> digest) {
    {
      std::unique_lock log_lock(log_mu_, std::try_to_lock);
      if (log_lock.owns_lock()) {
        PrepareDigest(*digest);
        return;
      }
    }
    Prepare(std::move(digest));
  }
  void Prepare(std::shared_ptr<RequestDigest> digest) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(Item{AuditRecord{}, nullptr, std::move(digest), true});
    }
    cv_.notify_one();
  }

  // Drains the queue and joins the threads (a last checkpoint included).
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      cv_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
    {
      std::lock_guard lock(checkpoint_mu_);
      checkpoint_stopping_ = true;
      checkpoint_cv_.notify_one();
    }
    if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
  }

  LogStore& log() { return *log_; }

  // Called on the log thread when a body could not be stored ahead (it then
  // goes into its record). Call before the gateway serves.
  void OnStoreFailure(std::function<void(const Status&)> callback) {
    on_store_failure_ = std::move(callback);
  }

  void SetCheckpoints(CheckpointOptions options) {
    const auto every = options.every;
    {
      std::lock_guard log_lock(log_mu_);
      checkpoints_ = std::move(options);
      last_checkpoint_ = Clock::now();
    }
    std::lock_guard lock(mu_);
    checkpoint_interval_ = every;
    reconfigured_ = true;
    cv_.notify_one();
  }

  // Signs the head and appends it to the checkpoint file when due (or
  // `force` and anything changed since the last one). With log_mu_ held.
  void MaybeCheckpoint(bool force) {
    if (!checkpoints_.signer) return;
    const bool due =
        records_since_checkpoint_ >= checkpoints_.every_records ||
        (records_since_checkpoint_ > 0 && Clock::now() - last_checkpoint_ >= checkpoints_.every);
    if (!due && !(force && (records_since_checkpoint_ > 0 || !wrote_checkpoint_))) return;
    auto head = log_->ReadHead();
    Status st = head.ok() ? Status::Ok() : head.status();
    Checkpoint c;
    if (st.ok()) {
      c.last_id = head->last_id;
      c.head_hash = head->head_hash;
      c.anchor_id = head->anchor_id;
      c.anchor_hash = head->anchor_hash;
      c.time = checkpoints_.now();
      st = checkpoints_.signer->Sign(c);
    }
    if (st.ok()) st = AppendCheckpoint(checkpoints_.path, c, checkpoints_.sync);
    last_checkpoint_ = Clock::now();
    if (!st.ok()) {
      // Retried at the next commit; the operator is told each time.
      if (checkpoints_.on_failure) checkpoints_.on_failure(st);
      return;
    }
    records_since_checkpoint_ = 0;
    wrote_checkpoint_ = true;
  }

  // Runs `task` on the log thread every `interval` (first after one interval).
  // Call before the gateway serves.
  void SetMaintenance(std::chrono::milliseconds interval, std::function<void(LogStore&)> task) {
    std::lock_guard lock(mu_);
    maintenance_interval_ = interval;
    maintenance_ = std::move(task);
    next_maintenance_ = Clock::now() + interval;
    reconfigured_ = true;
    cv_.notify_one();
  }

 private:
  explicit LogWriterImpl(std::unique_ptr<LogStore> log) : log_(std::move(log)) {}

  // Group commit: everything queued while the last transaction was syncing
  // goes into the next one, so a busy gateway pays one fsync per batch.
  struct Item {
    AuditRecord record;
    std::function<void(Status)> done;
    std::shared_ptr<RequestDigest> digest;
    bool prepare_only = false;  // a Prepare(): hash, no record
  };

  // The original's bytes, wherever they are held.
  static std::string_view Original(const RequestDigest& d) {
    return d.shared_original ? std::string_view(*d.shared_original) : std::string_view(d.original);
  }
  // Copies shared original bytes into the digest's own string, for a record
  // that carries them.
  static void OwnOriginal(RequestDigest& d) {
    if (!d.shared_original) return;
    d.original.assign(*d.shared_original);
    d.shared_original.reset();
  }

  static void Hash(RequestDigest& d) {
    if (d.hex.empty()) {
      d.hex = Sha256Hex(Original(d));
      if (!d.logged_is_original) {  // no longer needed
        std::string().swap(d.original);
        d.shared_original.reset();
      }
    }
    // Only a screened body's digest is of use: an unscreened one may be
    // masked before it is stored, and is hashed then.
    if (d.translated && d.translated_screened && d.translated_hex.empty())
      d.translated_hex = Sha256Hex(*d.translated);
  }

  // Request bodies at least this large are stored ahead of their records
  // while the upstream answers, so the commit the client waits for writes a
  // small row; smaller ones go inline (one transaction fewer).
  static constexpr size_t kStoreAheadBytes = 16 << 10;

  // A Prepare(): the digest, and a large logged body stored ahead. On a
  // failure to store, the body stays for the record to carry inline (in the
  // digest's own string, copied now rather than when the record is
  // appended on the client's path).
  void PrepareDigest(RequestDigest& d) {
    if (d.consumed) return;  // the record came first (a very fast upstream)
    if (!keep_translated_) d.translated.reset();
    Hash(d);
    StoreTranslatedAhead(d);
    if (!d.logged_is_original) return;
    if (store_ahead_ && d.body_at == 0 && Original(d).size() >= kStoreAheadBytes) {
      auto stored = d.shared_original
                        ? log_->StoreRequestBody(*d.shared_original, d.screened, d.hex)
                        : log_->TakeRequestBody(&d.original, d.screened, d.hex);
      if (stored.ok()) {
        d.body_at = stored->at;
        d.body_sha256 = std::move(stored->sha256);
        std::string().swap(d.original);
        d.shared_original.reset();
        return;
      }
      if (on_store_failure_) on_store_failure_(stored.status());
    }
    if (d.body_at == 0) OwnOriginal(d);
  }

  // The translated request's half of PrepareDigest (after Hash).
  void StoreTranslatedAhead(RequestDigest& d) {
    if (!store_translated_ahead_ || !d.translated || d.translated_at != 0 ||
        d.translated->size() < kStoreAheadBytes) {
      return;
    }
    auto stored = log_->TakeRequestBody(&*d.translated, d.translated_screened, d.translated_hex);
    if (!stored.ok()) {
      if (on_store_failure_) on_store_failure_(stored.status());
      return;
    }
    d.translated_at = stored->at;
    d.translated_sha256 = std::move(stored->sha256);
    d.translated.reset();
  }

  // Moves the digests (and bodies, or where they were stored ahead) of
  // `d` into its record.
  static void FillRecord(RequestDigest& d, AuditRecord& record) {
    record.request_sha256 = d.hex;
    if (d.logged_is_original && d.body_at != 0) {
      record.request_body = std::nullopt;
      record.request_body_at = d.body_at;
      record.request_body_sha256 = d.body_sha256;
    } else if (d.logged_is_original) {
      OwnOriginal(d);  // the record came before PrepareDigest
      record.request_body = std::move(d.original);
      record.request_body_sha256 = d.hex;
    }
    if (d.translated_at != 0) {
      record.upstream_request_body = std::nullopt;
      record.upstream_request_body_at = d.translated_at;
      record.upstream_request_body_sha256 = d.translated_sha256;
    } else if (d.translated) {
      record.upstream_request_body = std::move(d.translated);
      record.upstream_request_body_screened = d.translated_screened;
      record.upstream_request_body_sha256 = d.translated_hex;
    }
    d.consumed = true;
  }

  void Run() {
    for (;;) {
      std::deque<Item> batch;
      std::function<void(LogStore&)> maintenance;
      {
        std::unique_lock lock(mu_);
        auto ready = [&] {
          return stopping_ || reconfigured_ || !queue_.empty() ||
                 (maintenance_ && Clock::now() >= next_maintenance_);
        };
        // With checkpoints on, wake at least every checkpoint interval so a
        // quiet log still gets its head signed S seconds after its last record.
        Clock::time_point until = maintenance_ ? next_maintenance_ : Clock::time_point::max();
        if (checkpoint_interval_.count() > 0)
          until = std::min(until, Clock::now() + checkpoint_interval_);
        if (until != Clock::time_point::max()) {
          cv_.wait_until(lock, until, ready);
        } else {
          cv_.wait(lock, ready);
        }
        reconfigured_ = false;  // a timer changed: the next wait uses it
        if (maintenance_ && !stopping_ && Clock::now() >= next_maintenance_) {
          maintenance = maintenance_;
          next_maintenance_ = Clock::now() + maintenance_interval_;
        }
        if (queue_.empty() && stopping_) {
          lock.unlock();
          std::unique_lock log_lock(log_mu_);
          MaybeCheckpoint(/*force=*/true);  // the head at stop
          return;
        }
        batch.swap(queue_);
        batch_in_progress_ = true;
      }
      {
        std::unique_lock log_lock(log_mu_);
        if (maintenance) {
          maintenance(*log_);
          // Retention may have moved the anchor: sign the new one at once.
          MaybeCheckpoint(/*force=*/true);
        }
        if (batch.empty()) {
          MaybeCheckpoint(false);  // the S-seconds timer with no commit since
        } else {
          CommitBatch(batch, log_lock);
        }
      }
      std::lock_guard lock(mu_);
      batch_in_progress_ = false;
    }
  }

  // Hashes the batch's digests (a queued Prepare() precedes its record),
  // commits its records in one transaction, then -- with log_lock released --
  // runs their `done` callbacks.
  void CommitBatch(std::deque<Item>& batch, std::unique_lock<std::mutex>& log_lock) {
    {
      for (Item& item : batch) {
        if (item.prepare_only) PrepareDigest(*item.digest);
      }
      std::vector<AuditRecord> records;
      records.reserve(batch.size());
      for (Item& item : batch) {
        if (item.prepare_only) continue;
        if (item.digest) {
          if (!keep_translated_) item.digest->translated.reset();
          Hash(*item.digest);
          FillRecord(*item.digest, item.record);
        }
        if (!keep_translated_) item.record.upstream_request_body.reset();
        records.push_back(std::move(item.record));
      }
      if (records.empty()) return;
      auto stored = log_->AppendBatch(std::move(records));
      Status st = stored.ok() ? Status::Ok() : stored.status();
      if (stored.ok()) {
        records_since_checkpoint_ += static_cast<int64_t>(stored->size());
        MaybeCheckpoint(false);
      }
      log_lock.unlock();
      for (Item& item : batch) {
        if (!item.prepare_only) item.done(st);
      }
      // The responses are written: follow-up work may wake a thread now,
      // off their path (a wake-up of a thread on an idle CPU cost the waker
      // 9-13 us on the 2-core VM): the checkpoint thread (SQLite), and the
      // store's reading of the commit (PostgreSQL).
      WakeCheckpointer();
      log_->AfterAcknowledged();
    }
  }

  // Records were committed: the checkpoint thread has WAL to copy. Only a
  // checkpoint thread waiting for records needs waking: during its pause
  // between checkpoints a wake-up would only put it back to sleep (one
  // futex call and context switch per request).
  void WakeCheckpointer() {
    if (!checkpointer_) return;
    bool wake;
    {
      std::lock_guard lock(checkpoint_mu_);
      wake = !wal_dirty_ && checkpoint_waiting_;
      wal_dirty_ = true;
    }
    if (wake) checkpoint_cv_.notify_one();
  }

  // Copies the WAL into the database when records arrived, at most every
  // kCheckpointPause (a PASSIVE checkpoint never blocks the writer), so the
  // copy keeps up and the writer can start the WAL over; once more at the
  // end. Only if the WAL still grows
  // past kRestartFrames (a writer that never pauses) does a RESTART
  // checkpoint make appends wait for it, to bound the file.
  void RunCheckpoints() {
    constexpr int64_t kRestartFrames = 16384;  // 64 MB of 4 KB pages
    constexpr auto kCheckpointPause = std::chrono::milliseconds(20);
    std::unique_lock lock(checkpoint_mu_);
    for (;;) {
      checkpoint_waiting_ = true;
      checkpoint_cv_.wait(lock, [&] { return checkpoint_stopping_ || wal_dirty_; });
      checkpoint_waiting_ = false;
      const bool last = checkpoint_stopping_;
      wal_dirty_ = false;
      lock.unlock();
      // A failed checkpoint leaves the records in the WAL, where they are
      // as durable; the next one retries.
      // Bodies stored ahead reach the disk before the records naming them
      // are made durable by the checkpoint (the WAL is synced in it).
      (void)log_->SyncBodies();
      auto done = checkpointer_->Checkpoint(LogStore::CheckpointMode::kPassive);
      if (done.ok() && done->wal_frames > kRestartFrames) {
        (void)checkpointer_->Checkpoint(LogStore::CheckpointMode::kRestart);
      }
      lock.lock();
      if (last) return;
      // Batches a few records per checkpoint (each ends with an fsync of
      // the database) while staying short enough to finish between appends.
      checkpoint_cv_.wait_for(lock, kCheckpointPause, [&] { return checkpoint_stopping_; });
    }
  }

  std::unique_ptr<LogStore> log_;
  std::mutex log_mu_;            // held while log_ is used (after mu_ when both are taken)
  bool store_ahead_ = true;      // see PrepareDigest
  bool keep_translated_ = true;  // the store keeps translated requests (KeepsTranslatedBodies)
  bool store_translated_ahead_ = true;  // see StoreTranslatedAhead
  std::function<void(const Status&)> on_store_failure_;
  bool commit_inline_ = false;              // see the class comment
  std::unique_ptr<LogStore> checkpointer_;  // SQLite only (NeedsWalCheckpoints)
  std::thread thread_;
  std::thread checkpoint_thread_;
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  bool wal_dirty_ = false;
  bool checkpoint_waiting_ = false;  // RunCheckpoints waits for wal_dirty_
  bool checkpoint_stopping_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool batch_in_progress_ = false;  // the log thread took a batch and has not finished it
  bool stopping_ = false;
  std::function<void(LogStore&)> maintenance_;
  CheckpointOptions checkpoints_;                     // guarded by log_mu_
  int64_t records_since_checkpoint_ = 0;              // guarded by log_mu_
  bool wrote_checkpoint_ = false;                     // guarded by log_mu_
  Clock::time_point last_checkpoint_{};               // guarded by log_mu_
  std::chrono::milliseconds checkpoint_interval_{0};  // guarded by mu_
  bool reconfigured_ = false;  // guarded by mu_: a timer was set while the log thread waited
  std::chrono::milliseconds maintenance_interval_{0};
  Clock::time_point next_maintenance_{};
};

LogWriter::LogWriter(std::unique_ptr<LogWriterImpl> impl) : impl_(std::move(impl)) {}
LogWriter::~LogWriter() { Stop(); }

Result<std::unique_ptr<LogWriter>> LogWriter::Open(const std::string& path,
                                                   LogDurability durability, std::string replica,
                                                   bool bodies_ahead) {
  auto impl = LogWriterImpl::Open(path, durability, replica, bodies_ahead);
  if (!impl.ok()) return impl.status();
  return std::unique_ptr<LogWriter>(new LogWriter(std::move(impl.value())));
}
void LogWriter::Append(AuditRecord record, std::function<void(Status)> done,
                       std::shared_ptr<RequestDigest> digest) {
  impl_->Append(std::move(record), std::move(done), std::move(digest));
}
void LogWriter::PrepareHere(std::shared_ptr<RequestDigest> digest) {
  impl_->PrepareHere(std::move(digest));
}
void LogWriter::Stop() {
  if (impl_) impl_->Stop();
}
LogStore& LogWriter::log() { return impl_->log(); }
void LogWriter::OnStoreFailure(std::function<void(const Status&)> callback) {
  impl_->OnStoreFailure(std::move(callback));
}
void LogWriter::SetCheckpoints(CheckpointOptions options) {
  impl_->SetCheckpoints(std::move(options));
}

void LogWriter::SetMaintenance(std::chrono::milliseconds interval,
                               std::function<void(LogStore&)> task) {
  impl_->SetMaintenance(interval, std::move(task));
}

}  // namespace glassbox::gate
