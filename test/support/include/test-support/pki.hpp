#pragma once

// One throwaway PKI per test program (key generation is the slow part): a CA,
// a server certificate for the loopback names tests connect to, and a client
// certificate (CN test-admin). Made by the fake API server's make_test_pki;
// programs using this header link fake_apiserver.

#include "fake-apiserver/fake_apiserver.hpp"

namespace hostgw::testing {

inline const TestPki& shared_pki() {
  static const TestPki pki = make_test_pki({"127.0.0.1", "::1", "localhost", "api.internal"}, "test-admin");
  return pki;
}

}  // namespace hostgw::testing
