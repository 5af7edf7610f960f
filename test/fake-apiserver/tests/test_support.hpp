#pragma once

// Shared fixtures for the fake API server's tests.

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <memory>
#include <string>

#include "fake-apiserver/fake_apiserver.hpp"
#include "https_client.hpp"
#include "test-support/pki.hpp"

namespace hostgw::testing {

inline constexpr const char* kToken = "test-token-3f9a";

inline FakeApiServerOptions default_options() {
  FakeApiServerOptions options;
  options.cert_pem = shared_pki().server_cert_pem;
  options.key_pem = shared_pki().server_key_pem;
  options.client_ca_pem = shared_pki().ca_pem;
  options.tokens = {kToken};
  return options;
}

inline ClientOptions client_options(const FakeApiServer& server, std::string token = kToken) {
  ClientOptions options;
  options.port = server.port();
  options.ca_pem = shared_pki().ca_pem;
  options.token = std::move(token);
  return options;
}

inline rapidjson::Document parse(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  EXPECT_FALSE(doc.HasParseError()) << "not JSON: " << text.substr(0, 200);
  return doc;
}

inline std::string small_node(const std::string& name, const std::string& cidr = "10.244.1.0/24",
                              const std::string& ip = "198.51.100.11") {
  NodeSpec spec;
  spec.name = name;
  spec.pod_cidrs = {cidr};
  spec.internal_ips = {ip};
  spec.realistic = false;
  return make_node_json(spec);
}

}  // namespace hostgw::testing
