// Signed checkpoints; see checkpoint.h. Ed25519 through OpenSSL's EVP API.
#include "gate/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "gate/audit_log.h"

namespace glassbox::gate {
namespace {

constexpr std::string_view kMagic = "glassbox-checkpoint-v1";

std::string Hex(const unsigned char* p, size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[p[i] >> 4]);
    out.push_back(kDigits[p[i] & 15]);
  }
  return out;
}

// The first 16 hex digits of SHA-256 of the key's SubjectPublicKeyInfo DER.
std::string KeyIdOf(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(key, &der);
  if (n <= 0) return "";
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(der, static_cast<size_t>(n), digest);
  OPENSSL_free(der);
  return Hex(digest, 8);
}

std::string OpenSslError() {
  char buf[256];
  const unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

Result<EVP_PKEY*> ReadKey(const std::string& path, bool is_private) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::Error(fmt::format("'{}': {}", path, std::strerror(errno)));
  EVP_PKEY* key = is_private ? PEM_read_PrivateKey(f, nullptr, nullptr, nullptr)
                             : PEM_read_PUBKEY(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (key == nullptr) {
    return Status::Error(fmt::format("'{}': not a PEM {} key ({})", path,
                                     is_private ? "private" : "public", OpenSslError()));
  }
  if (EVP_PKEY_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    return Status::Error(fmt::format(
        "'{}': not an Ed25519 key (make one with: openssl genpkey -algorithm ed25519)", path));
  }
  return key;
}

bool IsHex64(std::string_view s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

bool ParseInt(std::string_view s, int64_t* out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size() && *out >= 0;
}

}  // namespace

std::string CheckpointSignedText(const Checkpoint& c) {
  return fmt::format("{}\n{}\n{}\n{}\n{}\n{}\n", kMagic, c.last_id, c.head_hash, c.time,
                     c.anchor_id, c.anchor_hash);
}

std::string FormatCheckpoint(const Checkpoint& c) {
  return fmt::format("{} {} {} {} {} {} {} {}", kMagic, c.last_id, c.head_hash, c.time, c.anchor_id,
                     c.anchor_hash, c.key_id, c.signature);
}

Result<std::unique_ptr<CheckpointSigner>> CheckpointSigner::Load(
    const std::string& private_key_pem_path) {
  auto key = ReadKey(private_key_pem_path, true);
  if (!key.ok()) return Status::Error("checkpoint key " + key.status().message());
  auto signer = std::unique_ptr<CheckpointSigner>(new CheckpointSigner());
  signer->key_ = *key;
  signer->key_id_ = KeyIdOf(*key);
  return signer;
}

CheckpointSigner::~CheckpointSigner() { EVP_PKEY_free(static_cast<EVP_PKEY*>(key_)); }

Status CheckpointSigner::Sign(Checkpoint& c) const {
  const std::string text = CheckpointSignedText(c);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned char sig[64];
  size_t sig_len = sizeof sig;
  const bool ok =
      ctx != nullptr &&
      EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, static_cast<EVP_PKEY*>(key_)) == 1 &&
      EVP_DigestSign(ctx, sig, &sig_len, reinterpret_cast<const unsigned char*>(text.data()),
                     text.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) return Status::Error("signing a checkpoint: " + OpenSslError());
  unsigned char b64[4 * ((64 + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(b64, sig, static_cast<int>(sig_len));
  c.key_id = key_id_;
  c.signature.assign(reinterpret_cast<char*>(b64), static_cast<size_t>(n));
  return Status::Ok();
}

Status AppendCheckpoint(const std::string& path, const Checkpoint& c, bool sync) {
  const std::string line = FormatCheckpoint(c) + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    return Status::Error(fmt::format("checkpoint file '{}': {}", path, std::strerror(errno)));
  // One write of a short line with O_APPEND: a reader never sees half of it
  // unless the disk fills.
  const ssize_t n = ::write(fd, line.data(), line.size());
  const int write_errno = errno;
  if (n == static_cast<ssize_t>(line.size()) && sync) ::fdatasync(fd);
  ::close(fd);
  if (n != static_cast<ssize_t>(line.size())) {
    return Status::Error(fmt::format("checkpoint file '{}': {}", path, std::strerror(write_errno)));
  }
  return Status::Ok();
}

Result<std::vector<Checkpoint>> ReadCheckpoints(const std::string& path,
                                                const std::string& public_key_pem_path) {
  auto key = ReadKey(public_key_pem_path, false);
  if (!key.ok()) return Status::Error("public key " + key.status().message());
  const std::string key_id = KeyIdOf(*key);
  std::ifstream in(path);
  if (!in) {
    EVP_PKEY_free(*key);
    return Status::Error(fmt::format("checkpoint file '{}': {}", path, std::strerror(errno)));
  }
  std::vector<Checkpoint> out;
  std::string line;
  int line_no = 0;
  Status failed = Status::Ok();
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  while (failed.ok() && std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    auto bad = [&](std::string_view why) {
      failed = Status::Error(fmt::format("checkpoint file '{}' line {}: {}", path, line_no, why));
    };
    std::istringstream fields(line);
    std::string magic, last_id, anchor_id;
    Checkpoint c;
    if (!(fields >> magic >> last_id >> c.head_hash >> c.time >> anchor_id >> c.anchor_hash >>
          c.key_id >> c.signature) ||
        magic != kMagic || !ParseInt(last_id, &c.last_id) || !ParseInt(anchor_id, &c.anchor_id) ||
        !IsHex64(c.head_hash) || !IsHex64(c.anchor_hash) || !IsRfc3339Utc(c.time)) {
      bad("not a glassbox checkpoint line");
      break;
    }
    if (c.key_id != key_id) {
      bad(fmt::format("signed by key {}, not by the public key given ({})", c.key_id, key_id));
      break;
    }
    unsigned char sig[96];
    const int sig_len =
        EVP_DecodeBlock(sig, reinterpret_cast<const unsigned char*>(c.signature.data()),
                        static_cast<int>(c.signature.size()));
    const std::string text = CheckpointSignedText(c);
    // EVP_DecodeBlock counts the padding's zero bytes: an Ed25519 signature
    // is 64 bytes, 88 characters of base64 with "==".
    const bool verified =
        c.signature.size() == 88 && sig_len == 66 && EVP_MD_CTX_reset(ctx) == 1 &&
        EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, *key) == 1 &&
        EVP_DigestVerify(ctx, sig, 64, reinterpret_cast<const unsigned char*>(text.data()),
                         text.size()) == 1;
    if (!verified) {
      bad("the signature does not match (the line was altered or forged)");
      break;
    }
    if (!out.empty() && (c.last_id < out.back().last_id || c.anchor_id < out.back().anchor_id)) {
      bad("goes backwards from the line before it");
      break;
    }
    out.push_back(std::move(c));
  }
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(*key);
  if (!failed.ok()) return failed;
  return out;
}

}  // namespace glassbox::gate
