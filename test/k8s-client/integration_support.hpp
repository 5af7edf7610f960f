#pragma once

// Helpers for the k8s-client integration tests: a FakeApiServer over TLS with
// a throwaway PKI, client configurations pointing at it, and running
// coroutines on a test-owned io_context with a time limit.

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

namespace hostgw::testing {

using namespace std::chrono_literals;

inline const std::string kGoodToken = "good-token-1";

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "khg-k8s-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text, bool executable = false) const {
    std::filesystem::path file = std::filesystem::path(path_) / name;
    std::filesystem::create_directories(file.parent_path());
    // Write a new file and rename it over the old one, like a kubelet token rotation.
    std::string temp = file.string() + ".tmp";
    std::ofstream(temp, std::ios::binary | std::ios::trunc) << text;
    if (executable) std::filesystem::permissions(temp, std::filesystem::perms::owner_all);
    std::filesystem::rename(temp, file);
    return file.string();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::string base64(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    std::uint32_t n = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) n |= static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

// One PKI per test binary (key generation is the slow part).
inline const TestPki& shared_pki() {
  static const TestPki pki = make_test_pki({"127.0.0.1", "localhost", "api.internal"});
  return pki;
}

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

// Runs the io_context until `done()` or the limit; false on timeout.
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds limit = 15s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  io.restart();
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.run_for(5ms);
    io.restart();
  }
  return true;
}

template <typename T>
T run_coroutine(boost::asio::io_context& io, boost::asio::awaitable<T> coroutine, std::chrono::milliseconds limit = 15s) {
  auto future = boost::asio::co_spawn(io, std::move(coroutine), boost::asio::use_future);
  bool finished = run_until(io, [&] { return future.wait_for(0s) == std::future_status::ready; }, limit);
  if (!finished) throw std::runtime_error("coroutine did not finish in time");
  return future.get();
}

}  // namespace hostgw::testing
