#include "net/tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/address.hpp>

#include "net/internal/asio_tls.h"

namespace glassbox::net {
namespace ssl = boost::asio::ssl;

namespace {

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

void HardenServer(ssl::context& ctx) {
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                  ssl::context::single_dh_use);
}

}  // namespace

TlsContext::TlsContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsContext::~TlsContext() = default;

void* TlsContext::native_handle() const { return impl_->ctx.native_handle(); }

Result<std::shared_ptr<TlsContext>> TlsContext::ServerFromFiles(const std::string& cert_file,
                                                                const std::string& key_file) {
  auto impl = std::make_unique<Impl>(ssl::context::tls_server);
  HardenServer(impl->ctx);
  boost::system::error_code ec;
  impl->ctx.use_certificate_chain_file(cert_file, ec);
  if (ec) return Status::Error("TLS certificate '" + cert_file + "': " + ec.message());
  impl->ctx.use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) return Status::Error("TLS key '" + key_file + "': " + ec.message());
  if (SSL_CTX_check_private_key(impl->ctx.native_handle()) != 1) {
    return Status::Error("TLS key '" + key_file + "' does not match certificate '" + cert_file +
                         "'");
  }
  return std::shared_ptr<TlsContext>(new TlsContext(std::move(impl)));
}

Result<std::shared_ptr<TlsContext>> TlsContext::ServerFromPem(const std::string& cert_pem,
                                                              const std::string& key_pem) {
  auto impl = std::make_unique<Impl>(ssl::context::tls_server);
  HardenServer(impl->ctx);
  boost::system::error_code ec;
  impl->ctx.use_certificate_chain(boost::asio::buffer(cert_pem), ec);
  if (ec) return Status::Error("TLS certificate (PEM text): " + ec.message());
  impl->ctx.use_private_key(boost::asio::buffer(key_pem), ssl::context::pem, ec);
  if (ec) return Status::Error("TLS key (PEM text): " + ec.message());
  return std::shared_ptr<TlsContext>(new TlsContext(std::move(impl)));
}

Result<std::shared_ptr<TlsContext>> TlsContext::Client(const std::string& ca_pem) {
  auto impl = std::make_unique<Impl>(ssl::context::tls_client);
  impl->ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  if (ca_pem.empty()) {
    impl->ctx.set_default_verify_paths(ec);
    if (ec) return Status::Error("system trust store: " + ec.message());
  } else {
    impl->ctx.add_certificate_authority(boost::asio::buffer(ca_pem), ec);
    if (ec) return Status::Error("CA certificates (PEM text): " + ec.message());
  }
  impl->ctx.set_verify_mode(ssl::verify_peer);
  return std::shared_ptr<TlsContext>(new TlsContext(std::move(impl)));
}

Result<PemKeyPair> MakeSelfSignedCertificate(const std::vector<std::string>& names, int days) {
  if (names.empty()) return Status::Error("a certificate needs at least one name");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) return Status::Error("key generation: " + OpenSslError());
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(names[0].c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), subject);
  std::string san;
  for (const std::string& n : names) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(n, ec);
    if (!san.empty()) san += ",";
    san += (ec ? "DNS:" : "IP:") + n;
  }
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, san.c_str());
  if (!ext) return Status::Error("subjectAltName '" + san + "': " + OpenSslError());
  X509_add_ext(cert.get(), ext, -1);
  X509_EXTENSION_free(ext);
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return Status::Error("signing: " + OpenSslError());
  }
  auto to_pem = [](auto write) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    write(bio.get());
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(n));
  };
  PemKeyPair out;
  out.cert_pem = to_pem([&](BIO* b) { PEM_write_bio_X509(b, cert.get()); });
  out.key_pem = to_pem([&](BIO* b) {
    PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  return out;
}

}  // namespace glassbox::net
