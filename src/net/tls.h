// TLS contexts for the HTTP server and client (OpenSSL behind a pimpl).
//
// A TlsContext is built once and shared (std::shared_ptr) by every
// connection that uses it; it is immutable after creation and safe to use
// from any thread. native_handle() hands the underlying SSL_CTX* out as an
// opaque pointer for callers that mint certificates themselves (the probe's
// per-SNI certificates): cast it to SSL_CTX* in a file that includes OpenSSL.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace glassbox::net {

class TlsContext {
 public:
  // A server context from PEM files (certificate chain, private key). The
  // error names the file and OpenSSL's reason.
  static Result<std::shared_ptr<TlsContext>> ServerFromFiles(const std::string& cert_file,
                                                             const std::string& key_file);
  // A server context from PEM text.
  static Result<std::shared_ptr<TlsContext>> ServerFromPem(const std::string& cert_pem,
                                                           const std::string& key_pem);
  // A client context that verifies peers against the system trust store, or
  // against the PEM certificates in `ca_pem` only when it is not empty.
  static Result<std::shared_ptr<TlsContext>> Client(const std::string& ca_pem = "");

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // The SSL_CTX*, as an opaque pointer. Owned by this object.
  void* native_handle() const;

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  explicit TlsContext(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A self-signed certificate and its key, PEM encoded (for tests and local
// listeners): EC P-256, valid for `days` from now, subjectAltName = the DNS
// names and IP addresses in `names`.
struct PemKeyPair {
  std::string cert_pem;
  std::string key_pem;
};
Result<PemKeyPair> MakeSelfSignedCertificate(const std::vector<std::string>& names, int days = 30);

}  // namespace glassbox::net
