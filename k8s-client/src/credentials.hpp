#pragma once

// Credentials: what ApiClient presents to the API server, kept current.
//
// Owns the TLS client context (the CA to trust and the client certificate,
// from the kubeconfig or from an exec plugin), the bearer token (fixed, or a
// token file re-read about every minute and right after a 401) and the exec
// plugin's cached credential (run when missing, about to expire, or after a
// 401; one run at a time). It never opens a connection and never logs a
// secret. Internal to k8s-client (OpenSSL types stay out of public headers).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/async_mutex.hpp"
#include "common/result.hpp"
#include "k8s-client/api_client.hpp"
#include "k8s-client/config.hpp"
#include "k8s-client/exec_credential.hpp"

namespace hostgw::k8s::detail {

// A TLS client context for `config` with the client certificate/key (PEM; none
// if empty); nullptr and `error` set when something does not load.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const ClusterConfig& config, const std::string& cert_pem,
                                                            const std::string& key_pem, std::string& error);

// OpenSSL's queued errors as one line (and the queue cleared).
std::string openssl_errors();

class Credentials {
 public:
  // Throws ConfigError when the kubeconfig's TLS material cannot be loaded.
  // `config` and `stats` must outlive this object (ApiClient owns all three).
  Credentials(boost::asio::any_io_executor executor, const ClusterConfig& config, const ApiClientOptions& options,
              ApiStats& stats);

  // Makes the credentials current (`after_401`: the server refused the last
  // ones, refresh whatever can be refreshed). An error (credentials_unavailable)
  // says what went wrong.
  boost::asio::awaitable<common::Result<>> refresh(bool after_401);

  // Whether a 401 can be answered with other credentials (token file, exec plugin).
  bool refreshable() const { return config_.exec || !config_.token_file.empty(); }

  // "Bearer ..." or empty.
  std::string authorization() const;
  // Which credential the server saw, for a 401's message ("the token from /var/run/...").
  std::string description() const;

  // The context new connections use, and its generation: it changes when an
  // exec plugin hands out another client certificate (older connections are
  // then not reused).
  const std::shared_ptr<boost::asio::ssl::context>& tls() const { return tls_; }
  std::uint64_t generation() const { return generation_; }

 private:
  void reload_token_file(bool forced);
  bool exec_credential_valid() const;
  // Runs the plugin and adopts its credential; empty, or what went wrong.
  boost::asio::awaitable<std::string> run_exec_plugin_now(bool after_401);
  // Adopts `credential`; a new client certificate makes a new TLS context.
  std::string adopt(ExecCredential credential);

  const ClusterConfig& config_;
  const ApiClientOptions& options_;
  ApiStats& stats_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::uint64_t generation_ = 0;
  std::string token_;
  std::chrono::steady_clock::time_point token_read_at_{};
  std::optional<ExecCredential> exec_credential_;
  common::AsyncMutex exec_running_;  // one plugin run at a time
};

}  // namespace hostgw::k8s::detail
