#include "probe/mitm_ca.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <gtest/gtest.h>

namespace glassbox::probe {
namespace {

X509* ReadCert(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return cert;
}

// Verifies `leaf_pem` against the CA alone, for `name` (DNS or IP).
bool Verifies(const std::string& ca_pem, const std::string& leaf_pem, const std::string& name,
              bool is_ip, std::string* why) {
  X509* ca = ReadCert(ca_pem);
  X509* leaf = ReadCert(leaf_pem);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  if (is_ip) {
    X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
  }
  bool ok = X509_verify_cert(ctx) == 1;
  if (!ok) *why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  X509_free(leaf);
  X509_free(ca);
  return ok;
}

TEST(MitmCa, LeafVerifiesAgainstTheCaForItsNameOnly) {
  Result<std::unique_ptr<MitmCa>> ca = MitmCa::Generate("glassbox probe test CA");
  ASSERT_TRUE(ca.ok()) << ca.status().message();
  Result<std::shared_ptr<const LeafCert>> leaf = (*ca)->Leaf("API.Anthropic.com");
  ASSERT_TRUE(leaf.ok()) << leaf.status().message();
  EXPECT_EQ((*leaf)->server_name, "api.anthropic.com");
  std::string why;
  EXPECT_TRUE(Verifies((*ca)->cert_pem(), (*leaf)->cert_pem, "api.anthropic.com", false, &why))
      << why;
  EXPECT_FALSE(Verifies((*ca)->cert_pem(), (*leaf)->cert_pem, "api.openai.com", false, &why));
  // Another CA does not vouch for it.
  Result<std::unique_ptr<MitmCa>> other = MitmCa::Generate("other");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(Verifies((*other)->cert_pem(), (*leaf)->cert_pem, "api.anthropic.com", false, &why));
  // The chain is leaf then CA.
  EXPECT_EQ((*leaf)->chain_pem, (*leaf)->cert_pem + (*ca)->cert_pem());
}

TEST(MitmCa, IpLiteralsGetIpSans) {
  Result<std::unique_ptr<MitmCa>> ca = MitmCa::Generate("t");
  ASSERT_TRUE(ca.ok());
  for (const char* ip : {"203.0.113.7", "2001:db8::1"}) {
    Result<std::shared_ptr<const LeafCert>> leaf = (*ca)->Leaf(ip);
    ASSERT_TRUE(leaf.ok()) << leaf.status().message();
    std::string why;
    EXPECT_TRUE(Verifies((*ca)->cert_pem(), (*leaf)->cert_pem, ip, true, &why))
        << ip << ": " << why;
  }
}

TEST(MitmCa, LeavesAreCachedPerName) {
  Result<std::unique_ptr<MitmCa>> ca = MitmCa::Generate("t");
  ASSERT_TRUE(ca.ok());
  auto a = (*ca)->Leaf("x.example");
  auto b = (*ca)->Leaf("X.EXAMPLE");
  auto c = (*ca)->Leaf("y.example");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->get(), b->get());
  EXPECT_NE(a->get(), c->get());
  auto ctx1 = (*ca)->ServerContext("x.example");
  auto ctx2 = (*ca)->ServerContext("x.example");
  ASSERT_TRUE(ctx1.ok() && ctx2.ok());
  EXPECT_EQ(*ctx1, *ctx2);
}

TEST(MitmCa, BadNamesAndPemsAreErrors) {
  Result<std::unique_ptr<MitmCa>> ca = MitmCa::Generate("t");
  ASSERT_TRUE(ca.ok());
  for (const char* name : {"", "a..b", "bad name", "x/y", ".lead", "a\nb"}) {
    auto leaf = (*ca)->Leaf(name);
    EXPECT_FALSE(leaf.ok()) << name;
  }
  auto bad = MitmCa::FromPem("not pem", (*ca)->key_pem());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("certificate PEM"), std::string::npos);
  auto other = MitmCa::Generate("o");
  ASSERT_TRUE(other.ok());
  bad = MitmCa::FromPem((*ca)->cert_pem(), (*other)->key_pem());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("does not match"), std::string::npos);
  auto again = MitmCa::FromPem((*ca)->cert_pem(), (*ca)->key_pem());
  ASSERT_TRUE(again.ok()) << again.status().message();
}

// A full TLS handshake over memory BIOs: a client that trusts only the CA and
// checks the host name connects to a server using ServerContext(name).
TEST(MitmCa, ServerContextCompletesAVerifiedHandshake) {
  Result<std::unique_ptr<MitmCa>> ca = MitmCa::Generate("t");
  ASSERT_TRUE(ca.ok());
  auto server_ctx = (*ca)->ServerContext("api.openai.com");
  ASSERT_TRUE(server_ctx.ok()) << server_ctx.status().message();

  SSL_CTX* client_ctx = SSL_CTX_new(TLS_client_method());
  X509* ca_cert = ReadCert((*ca)->cert_pem());
  X509_STORE_add_cert(SSL_CTX_get_cert_store(client_ctx), ca_cert);
  X509_free(ca_cert);
  SSL_CTX_set_verify(client_ctx, SSL_VERIFY_PEER, nullptr);
  SSL* client = SSL_new(client_ctx);
  SSL_set_tlsext_host_name(client, "api.openai.com");
  SSL_set1_host(client, "api.openai.com");
  SSL* server = SSL_new(*server_ctx);
  BIO* client_bio = nullptr;
  BIO* server_bio = nullptr;
  ASSERT_EQ(BIO_new_bio_pair(&client_bio, 0, &server_bio, 0), 1);
  SSL_set_bio(client, client_bio, client_bio);
  SSL_set_bio(server, server_bio, server_bio);
  SSL_set_connect_state(client);
  SSL_set_accept_state(server);
  bool client_done = false, server_done = false;
  for (int i = 0; i < 20 && !(client_done && server_done); ++i) {
    if (!client_done) client_done = SSL_do_handshake(client) == 1;
    if (!server_done) server_done = SSL_do_handshake(server) == 1;
  }
  EXPECT_TRUE(client_done && server_done);
  EXPECT_EQ(SSL_get_verify_result(client), X509_V_OK);
  SSL_free(client);
  SSL_free(server);
  SSL_CTX_free(client_ctx);
}

}  // namespace
}  // namespace glassbox::probe
