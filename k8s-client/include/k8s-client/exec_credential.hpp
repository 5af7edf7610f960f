#pragma once

// client-go exec credential plugins (client.authentication.k8s.io/v1, v1beta1):
// the ExecCredential the plugin prints, and running the plugin as a child
// process without blocking the io_context.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "k8s-client/config.hpp"

namespace hostgw::k8s {

struct ExecCredential {
  std::string token;
  std::string client_certificate_pem;  // status.clientCertificateData
  std::string client_key_pem;          // status.clientKeyData
  // status.expirationTimestamp; nullopt = valid until a 401 says otherwise.
  std::optional<std::chrono::system_clock::time_point> expiration;
};

// The credential, or an error whose message names the plugin (exec.where)
// and what is wrong.
using ExecCredentialResult = common::Result<ExecCredential>;

// Parses the plugin's stdout. Checks kind, apiVersion (must equal the
// configured one), that a token or a certificate+key pair is present.
ExecCredentialResult parse_exec_credential(std::string_view json, const ExecConfig& exec);

// The KUBERNETES_EXEC_INFO value given to the plugin.
std::string exec_info_json(const ExecConfig& exec, const ClusterConfig& cluster);

// RFC 3339 ("2026-11-27T12:00:00Z", "...T12:00:00.5+01:00"); nullopt if invalid.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

// Runs the plugin (PATH lookup, exec.env and KUBERNETES_EXEC_INFO added to the
// environment, stdin /dev/null, stderr inherited) and parses its output. The
// child is killed when it has not finished within `timeout`.
boost::asio::awaitable<ExecCredentialResult> run_exec_plugin(const ExecConfig& exec, std::string exec_info,
                                                             std::chrono::milliseconds timeout);

}  // namespace hostgw::k8s
