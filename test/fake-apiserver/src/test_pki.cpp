// Run-time test PKI with the OpenSSL 3 API: a CA, a server certificate with
// the requested subjectAltNames, and a client certificate for client-cert auth.

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <memory>
#include <stdexcept>
#include <string>

#include "fake-apiserver/fake_apiserver.hpp"

namespace hostgw::testing {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Free>;
using CertPtr = std::unique_ptr<X509, Free>;
using BioPtr = std::unique_ptr<BIO, Free>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Free>;
using BnPtr = std::unique_ptr<BIGNUM, Free>;

[[noreturn]] void fail(const std::string& what) {
  std::string message = "make_test_pki: " + what;
  if (unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    message += ": ";
    message += buf;
  }
  ERR_clear_error();
  throw std::runtime_error(message);
}

KeyPtr make_key() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) fail("generating a P-256 key");
  return key;
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext) fail("building extension " + std::string(OBJ_nid2sn(nid)) + " = " + value);
  if (!X509_add_ext(cert, ext.get(), -1)) fail("adding extension " + std::string(OBJ_nid2sn(nid)));
}

void set_name(X509_NAME* name, const std::string& cn, const std::string& org) {
  if (!org.empty())
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(org.c_str()), -1,
                               -1, 0);
  if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                                  -1, 0))
    fail("setting subject CN " + cn);
}

// A certificate for `key` named `cn`, signed by issuer_key (self-signed when issuer is null).
CertPtr make_cert(EVP_PKEY* key, const std::string& cn, const std::string& org, X509* issuer) {
  CertPtr cert(X509_new());
  if (!cert) fail("X509_new");
  X509_set_version(cert.get(), 2);
  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) fail("random serial");
  serial_bytes[0] &= 0x7f;
  BnPtr serial(BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr));
  if (!serial || !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()))) fail("setting serial");
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  if (!X509_set_pubkey(cert.get(), key)) fail("setting public key");
  set_name(X509_get_subject_name(cert.get()), cn, org);
  X509* signer = issuer ? issuer : cert.get();
  if (!X509_set_issuer_name(cert.get(), X509_get_subject_name(signer))) fail("setting issuer");
  return cert;
}

void sign(X509* cert, EVP_PKEY* key, const std::string& what) {
  if (!X509_sign(cert, key, EVP_sha256())) fail("signing the " + what + " certificate");
}

std::string cert_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || !PEM_write_bio_X509(bio.get(), cert)) fail("writing a certificate as PEM");
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string key_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || !PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr))
    fail("writing a private key as PEM");
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace

TestPki make_test_pki(const std::vector<std::string>& server_sans, const std::string& client_cn) {
  if (server_sans.empty()) throw std::invalid_argument("make_test_pki: at least one server SAN is needed");
  TestPki pki;

  KeyPtr ca_key = make_key();
  CertPtr ca = make_cert(ca_key.get(), "kube-hostgw-test-ca", "", nullptr);
  add_extension(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_extension(ca.get(), ca.get(), NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
  add_extension(ca.get(), ca.get(), NID_subject_key_identifier, "hash");
  sign(ca.get(), ca_key.get(), "CA");
  pki.ca_pem = cert_pem(ca.get());

  std::string sans;
  for (const auto& san : server_sans) {
    if (san.empty() || san.find_first_of(",\n") != std::string::npos)
      throw std::invalid_argument("make_test_pki: server SAN \"" + san + "\" is empty or contains ',' or newline");
    boost::system::error_code ec;
    auto address = boost::asio::ip::make_address(san, ec);
    if (!sans.empty()) sans += ',';
    sans += ec ? "DNS:" + san : "IP:" + address.to_string();
  }
  KeyPtr server_key = make_key();
  CertPtr server = make_cert(server_key.get(), server_sans.front(), "", ca.get());
  add_extension(server.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(server.get(), ca.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment");
  add_extension(server.get(), ca.get(), NID_ext_key_usage, "serverAuth");
  add_extension(server.get(), ca.get(), NID_subject_alt_name, sans);
  add_extension(server.get(), ca.get(), NID_authority_key_identifier, "keyid:always");
  sign(server.get(), ca_key.get(), "server");
  pki.server_cert_pem = cert_pem(server.get());
  pki.server_key_pem = key_pem(server_key.get());

  KeyPtr client_key = make_key();
  CertPtr client = make_cert(client_key.get(), client_cn, "system:masters", ca.get());
  add_extension(client.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(client.get(), ca.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment");
  add_extension(client.get(), ca.get(), NID_ext_key_usage, "clientAuth");
  add_extension(client.get(), ca.get(), NID_authority_key_identifier, "keyid:always");
  sign(client.get(), ca_key.get(), "client");
  pki.client_cert_pem = cert_pem(client.get());
  pki.client_key_pem = key_pem(client_key.get());
  return pki;
}

}  // namespace hostgw::testing
