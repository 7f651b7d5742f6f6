#include "probe/mitm_ca.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace glassbox::probe {

namespace {

constexpr long kDaySeconds = 24L * 60 * 60;

std::string OpenSslError(std::string_view what) {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return std::string(what);
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return fmt::format("{}: {}", what, buf);
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, len > 0 ? static_cast<size_t>(len) : 0);
}

Result<std::string> CertPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return Status::Error(OpenSslError("cannot write certificate PEM"));
  }
  return BioText(bio.get());
}

// A random positive 127-bit serial, as RFC 5280 asks for unpredictable ones.
bool SetRandomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return false;
  bytes[0] &= 0x7f;
  bytes[0] |= 0x01;  // never zero, never leading-zero-stripped below 16 bytes by much
  BIGNUM* bn = BN_bin2bn(bytes, sizeof bytes, nullptr);
  if (bn == nullptr) return false;
  bool ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != nullptr;
  BN_free(bn);
  return ok;
}

bool AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

bool SetName(X509_NAME* name, std::string_view common_name) {
  std::string cn(common_name.substr(0, 64));  // X.520 ub-common-name
  return X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                    reinterpret_cast<const unsigned char*>("glassbox probe"), -1,
                                    -1, 0) == 1 &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                    reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                    0) == 1;
}

bool IsIpLiteral(const std::string& name, bool* is_v6) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, name.c_str(), buf) == 1) {
    *is_v6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, name.c_str(), buf) == 1) {
    *is_v6 = true;
    return true;
  }
  return false;
}

bool IsDnsName(const std::string& name) {
  if (name.empty() || name.size() > 253 || name.front() == '.' || name.back() == '.') {
    return false;
  }
  size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (++label > 63) return false;
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return label > 0;
}

}  // namespace

struct MitmCa::Minted {
  std::shared_ptr<const LeafCert> leaf;
  SSL_CTX* ctx = nullptr;
  ~Minted() { SSL_CTX_free(ctx); }
};

MitmCa::~MitmCa() {
  X509_free(cert_);
  EVP_PKEY_free(key_);
  EVP_PKEY_free(leaf_key_);
}

Result<std::unique_ptr<MitmCa>> MitmCa::Generate(std::string_view common_name) {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Status::Error(OpenSslError("cannot generate the probe CA key"));
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1 || !SetRandomSerial(cert.get()) ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kDaySeconds) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30 * kDaySeconds) == nullptr ||
      !SetName(X509_get_subject_name(cert.get()), common_name) ||
      X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1 ||
      X509_set_pubkey(cert.get(), key.get()) != 1 ||
      !AddExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
      !AddExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !AddExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash") ||
      X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return Status::Error(OpenSslError("cannot build the probe CA certificate"));
  }
  BioPtr key_bio(BIO_new(BIO_s_mem()));
  if (!key_bio || PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                           nullptr) != 1) {
    return Status::Error(OpenSslError("cannot write the probe CA key"));
  }
  Result<std::string> pem = CertPem(cert.get());
  if (!pem.ok()) return pem.status();
  return FromPem(*pem, BioText(key_bio.get()));
}

Result<std::unique_ptr<MitmCa>> MitmCa::FromPem(std::string_view cert_pem,
                                                std::string_view key_pem) {
  BioPtr cert_bio(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  X509Ptr cert(cert_bio ? PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) return Status::Error(OpenSslError("probe CA certificate PEM is not a certificate"));
  BioPtr key_bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  KeyPtr key(key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) return Status::Error(OpenSslError("probe CA key PEM is not a private key"));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return Status::Error(OpenSslError("probe CA key does not match its certificate"));
  }
  if (X509_check_ca(cert.get()) == 0) {
    return Status::Error("probe CA certificate is not a CA certificate");
  }
  KeyPtr leaf_key(EVP_EC_gen("P-256"));
  if (!leaf_key) return Status::Error(OpenSslError("cannot generate the leaf key"));
  std::unique_ptr<MitmCa> ca(new MitmCa());
  ca->cert_ = cert.release();
  ca->key_ = key.release();
  ca->leaf_key_ = leaf_key.release();
  ca->cert_pem_ = std::string(cert_pem);
  ca->key_pem_ = std::string(key_pem);
  return ca;
}

Result<std::shared_ptr<MitmCa::Minted>> MitmCa::MintLocked(const std::string& name) const {
  auto found = minted_.find(name);
  if (found != minted_.end()) return found->second;

  bool is_v6 = false;
  std::string san;
  if (IsIpLiteral(name, &is_v6)) {
    san = "IP:" + name;
  } else if (IsDnsName(name)) {
    san = "DNS:" + name;
  } else {
    return Status::Error(
        fmt::format("cannot mint a certificate for server name '{}': not a "
                    "DNS name or IP address",
                    name));
  }
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1 || !SetRandomSerial(cert.get()) ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kDaySeconds) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), 7 * kDaySeconds) == nullptr ||
      !SetName(X509_get_subject_name(cert.get()), name) ||
      X509_set_issuer_name(cert.get(), X509_get_subject_name(cert_)) != 1 ||
      X509_set_pubkey(cert.get(), leaf_key_) != 1 ||
      !AddExtension(cert.get(), cert_, NID_basic_constraints, "critical,CA:FALSE") ||
      !AddExtension(cert.get(), cert_, NID_key_usage, "critical,digitalSignature") ||
      !AddExtension(cert.get(), cert_, NID_ext_key_usage, "serverAuth") ||
      !AddExtension(cert.get(), cert_, NID_subject_key_identifier, "hash") ||
      !AddExtension(cert.get(), cert_, NID_authority_key_identifier, "keyid:always") ||
      !AddExtension(cert.get(), cert_, NID_subject_alt_name, san) ||
      X509_sign(cert.get(), key_, EVP_sha256()) == 0) {
    return Status::Error(OpenSslError(fmt::format("cannot mint a certificate for '{}'", name)));
  }
  Result<std::string> pem = CertPem(cert.get());
  if (!pem.ok()) return pem.status();

  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_use_certificate(ctx, cert.get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx, leaf_key_) != 1 || SSL_CTX_add1_chain_cert(ctx, cert_) != 1) {
    SSL_CTX_free(ctx);
    return Status::Error(OpenSslError(fmt::format("cannot build a TLS context for '{}'", name)));
  }
  auto leaf = std::make_shared<LeafCert>();
  leaf->server_name = name;
  leaf->cert_pem = *pem;
  leaf->chain_pem = *pem + cert_pem_;
  BioPtr key_bio(BIO_new(BIO_s_mem()));
  if (!key_bio || PEM_write_bio_PrivateKey(key_bio.get(), leaf_key_, nullptr, nullptr, 0, nullptr,
                                           nullptr) != 1) {
    SSL_CTX_free(ctx);
    return Status::Error(OpenSslError("cannot write the leaf key"));
  }
  leaf->key_pem = BioText(key_bio.get());
  auto minted = std::make_shared<Minted>();
  minted->leaf = std::move(leaf);
  minted->ctx = ctx;
  minted_.emplace(name, minted);
  return minted;
}

Result<std::shared_ptr<const LeafCert>> MitmCa::Leaf(std::string_view server_name) const {
  std::string name(server_name);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::lock_guard<std::mutex> lock(mutex_);
  Result<std::shared_ptr<Minted>> minted = MintLocked(name);
  if (!minted.ok()) return minted.status();
  return (*minted)->leaf;
}

Result<ssl_ctx_st*> MitmCa::ServerContext(std::string_view server_name) const {
  std::string name(server_name);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::lock_guard<std::mutex> lock(mutex_);
  Result<std::shared_ptr<Minted>> minted = MintLocked(name);
  if (!minted.ok()) return minted.status();
  return (*minted)->ctx;
}

}  // namespace glassbox::probe
