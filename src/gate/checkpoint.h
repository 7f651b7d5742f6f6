// Signed checkpoints of the audit log, the way transparency logs
// (Certificate Transparency, Sigstore Rekor, Trillian) make a log provable.
//
// The gate signs the head of its hash chain -- the id and record_hash of the
// newest record, with the retention anchor of that moment -- with an Ed25519
// key every N records or S seconds, after each retention run and when it
// stops, and appends the signed checkpoint to a file of its own, one line
// each. Checked against the checkpoints (AuditLog::Verify), a log proves:
//   * no record was removed from the end: the newest checkpoint names a
//     record the log must still hold;
//   * the chain was not rewritten: every checkpointed record still has the
//     signed hash (a chain recomputed from the documented canonical form,
//     which anyone can do, cannot match without the private key);
//   * the retention anchor was not forged: the log's anchor must be one a
//     checkpoint signed (the gate signs one right after each retention run).
// What they cannot prove: records after the newest checkpoint (up to N
// records or S seconds) can still be cut off unnoticed; and whoever can
// rewrite both the log and the checkpoint file can drop trailing lines of
// both. Keep the checkpoint file where the gate's host cannot rewrite it
// (append-only storage, another machine, forwarded syslog).
//
// Line format (text, one checkpoint per line, fields separated by one space):
//   glassbox-checkpoint-v1 <last_id> <head_hash> <time> <anchor_id> <anchor_hash> <key_id>
//   <signature>
// last_id: decimal id of the newest record (0 for an empty log); head_hash:
// its record_hash (64 zeros for none); time: RFC 3339 UTC; anchor_id and
// anchor_hash: the retention anchor (0 and 64 zeros when none); key_id: the
// first 16 hex digits of the SHA-256 of the public key's DER form; signature:
// base64 of the Ed25519 signature over SignedText(), which is the first six
// fields each followed by "\n".
//
// Thread-safety: CheckpointSigner is immutable after Load and may sign from
// any thread. The free functions are pure or touch only the named file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace glassbox::gate {

struct Checkpoint {
  int64_t last_id = 0;
  std::string head_hash;
  std::string time;
  int64_t anchor_id = 0;
  std::string anchor_hash;
  std::string key_id;
  std::string signature;  // base64
};

// The bytes that are signed.
std::string CheckpointSignedText(const Checkpoint& c);
// One line, without the newline.
std::string FormatCheckpoint(const Checkpoint& c);

class CheckpointSigner {
 public:
  // Reads an Ed25519 private key in PEM (PKCS#8: `openssl genpkey -algorithm
  // ed25519`). Errors name the file and the reason.
  static Result<std::unique_ptr<CheckpointSigner>> Load(const std::string& private_key_pem_path);
  ~CheckpointSigner();
  // Fills key_id and signature of `c`.
  Status Sign(Checkpoint& c) const;
  const std::string& key_id() const { return key_id_; }

 private:
  CheckpointSigner() = default;
  void* key_ = nullptr;  // EVP_PKEY*
  std::string key_id_;
};

// Appends `c` as one line to `path` (created when missing) and, with
// `sync`, fsyncs it.
Status AppendCheckpoint(const std::string& path, const Checkpoint& c, bool sync);

// Reads every checkpoint of `path` and checks each signature with the
// Ed25519 public key in PEM at `public_key_pem_path` (`openssl pkey -pubout`).
// A malformed line, a line signed by another key or a bad signature is an
// error naming the line. Checkpoints must not go backwards (last_id and
// anchor_id never decrease).
Result<std::vector<Checkpoint>> ReadCheckpoints(const std::string& path,
                                                const std::string& public_key_pem_path);

}  // namespace glassbox::gate
