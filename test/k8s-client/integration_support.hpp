#pragma once

// Helpers for the k8s-client integration tests: a FakeApiServer over TLS with
// the shared throwaway PKI (test/support/pki.hpp) and client configurations
// pointing at it.

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "fake-apiserver/fake_apiserver.hpp"
#include "k8s-client/config.hpp"
#include "test-support/pki.hpp"
#include "test-support/run_until.hpp"
#include "test-support/temp_dir.hpp"

namespace hostgw::testing {

using namespace std::chrono_literals;
// The shared drivers (test-support/run_until.hpp, temp_dir.hpp), by their short names.
using test_support::run_coroutine;
using test_support::run_until;
using test_support::TempDir;

inline const std::string kGoodToken = "good-token-1";

inline FakeApiServerOptions fake_options() {
  FakeApiServerOptions options;
  options.cert_pem = shared_pki().server_cert_pem;
  options.key_pem = shared_pki().server_key_pem;
  options.client_ca_pem = shared_pki().ca_pem;
  options.tokens = {kGoodToken};
  return options;
}

// A ClusterConfig for the fake with a fixed token and its CA.
inline k8s::ClusterConfig config_for(const FakeApiServer& server, const std::string& token = kGoodToken) {
  k8s::ClusterConfig config;
  config.source = "test";
  config.server = server.url();
  config.host = "127.0.0.1";
  config.port = std::to_string(server.port());
  config.ca_pem = shared_pki().ca_pem;
  config.token = token;
  return config;
}

inline NodeSpec node_spec(int i, bool realistic = false) {
  NodeSpec spec;
  spec.name = "node-" + std::to_string(i);
  spec.pod_cidrs = {"10.244." + std::to_string(i % 256) + ".0/24"};
  spec.internal_ips = {"198.51.100." + std::to_string(i % 250 + 1)};
  spec.realistic = realistic;
  return spec;
}

}  // namespace hostgw::testing
