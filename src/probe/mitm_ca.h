// The probe's TLS interception authority: a certificate authority generated
// fresh for each probe (EC P-256, valid from a day ago for 30 days), trusted
// only inside the sandboxed runs, which mints leaf certificates per server
// name on demand so the capture server can terminate the agent's TLS.
//
// Immutable after creation except for the leaf caches, which are guarded by a
// mutex: Leaf() and ServerContext() may be called from any thread.
// OpenSSL types appear only as opaque pointers; callers outside src/probe need
// only the PEM accessors.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/status.h"

struct ssl_ctx_st;
struct evp_pkey_st;
struct x509_st;

namespace glassbox::probe {

// A leaf certificate for one server name, signed by the CA.
struct LeafCert {
  std::string server_name;  // as requested (lower-cased)
  std::string cert_pem;     // the leaf alone
  std::string chain_pem;    // leaf followed by the CA certificate
  std::string key_pem;      // the leaf's private key (shared by every leaf of this CA)
};

class MitmCa {
 public:
  // A fresh CA whose subject is CN=common_name, O=glassbox probe.
  static Result<std::unique_ptr<MitmCa>> Generate(std::string_view common_name);
  // Rebuilds a CA from its certificate and private key (as the cell runner
  // does from the spec its parent wrote). Errors name which PEM is bad.
  static Result<std::unique_ptr<MitmCa>> FromPem(std::string_view cert_pem,
                                                 std::string_view key_pem);

  ~MitmCa();
  MitmCa(const MitmCa&) = delete;
  MitmCa& operator=(const MitmCa&) = delete;

  const std::string& cert_pem() const { return cert_pem_; }
  // The CA's private key (PKCS#8 PEM). Secret for the duration of the probe:
  // hand it only to the cell runner.
  const std::string& key_pem() const { return key_pem_; }

  // The leaf for `server_name`: a DNS name (letters, digits, '-', '_', '.')
  // or an IPv4/IPv6 literal (then the certificate carries an IP SAN). Minted
  // on first use, cached afterwards. Error for an empty or malformed name.
  Result<std::shared_ptr<const LeafCert>> Leaf(std::string_view server_name) const;

  // A TLS server context (TLS 1.2+, HTTP/1.1 only) presenting the leaf for
  // `server_name` with the CA in its chain; cached per name. The returned
  // SSL_CTX stays valid as long as this MitmCa lives.
  Result<ssl_ctx_st*> ServerContext(std::string_view server_name) const;

 private:
  MitmCa() = default;
  struct Minted;
  Result<std::shared_ptr<Minted>> MintLocked(const std::string& name) const;

  x509_st* cert_ = nullptr;
  evp_pkey_st* key_ = nullptr;
  evp_pkey_st* leaf_key_ = nullptr;  // one key for every leaf: minting only signs
  std::string cert_pem_;
  std::string key_pem_;
  mutable std::mutex mutex_;
  mutable std::map<std::string, std::shared_ptr<Minted>> minted_;
};

}  // namespace glassbox::probe
