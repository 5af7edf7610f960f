#include "credentials.hpp"

#include <openssl/err.h>

#include <boost/asio/buffer.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/log.hpp"

namespace hostgw::k8s::detail {

namespace asio = boost::asio;
namespace ssl = asio::ssl;

std::string openssl_errors() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!out.empty()) out += "; ";
    out += buffer;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

namespace {

// Trusts the kubeconfig's CA (or the system's); false and `error` set if it does not load.
bool load_trust(ssl::context& context, const ClusterConfig& config, std::string& error) {
  if (config.insecure_skip_tls_verify) {
    context.set_verify_mode(ssl::verify_none);
    return true;
  }
  boost::system::error_code ec;
  context.set_verify_mode(ssl::verify_peer);
  if (config.ca_pem.empty()) {
    context.set_default_verify_paths(ec);
    if (ec) error = "cannot load the system's CA certificates: " + ec.message();
  } else {
    context.add_certificate_authority(asio::buffer(config.ca_pem), ec);
    if (ec)
      error = "certificate authority of " + config.source + " is not a valid PEM certificate: " + openssl_errors();
  }
  return !ec;
}

std::optional<std::string> read_token_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = std::string(std::strerror(errno));
    return std::nullopt;
  }
  std::ostringstream out;
  out << in.rdbuf();
  std::string token = out.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) {
    error = "file is empty";
    return std::nullopt;
  }
  return token;
}

}  // namespace

std::shared_ptr<ssl::context> make_tls_context(const ClusterConfig& config, const std::string& cert_pem,
                                               const std::string& key_pem, std::string& error) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  ERR_clear_error();
  if (!load_trust(*context, config, error)) return nullptr;
  if (cert_pem.empty()) return context;
  boost::system::error_code ec;
  context->use_certificate_chain(asio::buffer(cert_pem), ec);
  if (ec) {
    error = "client certificate is not a valid PEM certificate: " + openssl_errors();
    return nullptr;
  }
  context->use_private_key(asio::buffer(key_pem), ssl::context::pem, ec);
  if (ec) {
    error = "client key is not a valid PEM private key (or does not match the certificate): " + openssl_errors();
    return nullptr;
  }
  return context;
}

Credentials::Credentials(asio::any_io_executor executor, const ClusterConfig& config, const ApiClientOptions& options,
                         ApiStats& stats)
    : config_(config), options_(options), stats_(stats), exec_running_(std::move(executor)) {
  std::string error;
  tls_ = make_tls_context(config_, config_.client_cert_pem, config_.client_key_pem, error);
  if (!tls_) throw ConfigError(config_.source + ": " + error);
  if (config_.insecure_skip_tls_verify)
    KHG_LOG(warning) << "TLS verification of the API server is off (insecure-skip-tls-verify: true)"
                     << log::kv("server", config_.server);
  token_ = config_.token;
  if (config_.token_file.empty()) return;
  if (auto read = read_token_file(config_.token_file, error)) {
    token_ = std::move(*read);
    token_read_at_ = std::chrono::steady_clock::now();
  } else {
    KHG_LOG(warning) << "Cannot read the token file" << log::kv("file", config_.token_file) << log::kv("error", error);
  }
}

void Credentials::reload_token_file(bool forced) {
  if (config_.token_file.empty()) return;
  auto now = std::chrono::steady_clock::now();
  if (!forced && now - token_read_at_ < options_.token_reload_interval) return;
  token_read_at_ = now;
  std::string error;
  auto read = read_token_file(config_.token_file, error);
  ++stats_.token_reloads;
  if (!read) {
    // Keep the old token: a rotation in progress may leave the file briefly unreadable.
    KHG_LOG(warning) << "Cannot re-read the token file; keeping the previous token"
                     << log::kv("file", config_.token_file) << log::kv("error", error);
    return;
  }
  if (*read != token_)
    KHG_LOG(info) << "Token file changed; using the new token" << log::kv("file", config_.token_file);
  token_ = std::move(*read);
}

bool Credentials::exec_credential_valid() const {
  if (!exec_credential_) return false;
  if (!exec_credential_->expiration) return true;
  // Renew a little before expiry so a request never carries a stale credential.
  return std::chrono::system_clock::now() + std::chrono::seconds(10) < *exec_credential_->expiration;
}

asio::awaitable<common::Result<>> Credentials::refresh(bool after_401) {
  if (!config_.exec) {
    reload_token_file(after_401);
    co_return common::Result<>();
  }
  // Requests that need a credential while the plugin runs wait for its answer.
  common::AsyncMutex::Guard running = co_await exec_running_.lock();
  if (after_401) exec_credential_.reset();
  if (exec_credential_valid()) co_return common::Result<>();
  std::string problem = co_await run_exec_plugin_now(after_401);
  if (problem.empty()) co_return common::Result<>();
  co_return common::Error{make_error_code(ApiErrc::credentials_unavailable), std::move(problem)};
}

asio::awaitable<std::string> Credentials::run_exec_plugin_now(bool after_401) {
  ++stats_.exec_plugin_runs;
  KHG_LOG(info) << "Running the exec credential plugin" << log::kv("command", config_.exec->command)
                << log::kv("reason", after_401          ? "401 Unauthorized"
                                     : exec_credential_ ? "expired"
                                                        : "no credential yet");
  ExecCredentialResult result =
      co_await run_exec_plugin(*config_.exec, exec_info_json(*config_.exec, config_), options_.exec_timeout);
  if (!result) co_return std::move(result.error().message);
  co_return adopt(std::move(*result));
}

std::string Credentials::adopt(ExecCredential credential) {
  const bool cert_changed = !exec_credential_ ||
                            exec_credential_->client_certificate_pem != credential.client_certificate_pem ||
                            exec_credential_->client_key_pem != credential.client_key_pem;
  exec_credential_ = std::move(credential);
  if (!cert_changed || exec_credential_->client_certificate_pem.empty()) return {};
  std::string error;
  auto context =
      make_tls_context(config_, exec_credential_->client_certificate_pem, exec_credential_->client_key_pem, error);
  if (!context) {
    exec_credential_.reset();
    return config_.exec->where + ": " + error;
  }
  tls_ = std::move(context);
  ++generation_;
  return {};
}

std::string Credentials::authorization() const {
  if (config_.exec && exec_credential_ && !exec_credential_->token.empty()) return "Bearer " + exec_credential_->token;
  if (!token_.empty()) return "Bearer " + token_;
  return {};
}

std::string Credentials::description() const {
  if (config_.exec) return "the exec plugin's credential (" + config_.exec->command + ")";
  if (!config_.token_file.empty()) return "the token from " + config_.token_file;
  if (!config_.token.empty()) return "the token from " + config_.source;
  if (!config_.client_cert_pem.empty()) return "the client certificate from " + config_.source;
  return "no credentials (" + config_.source + " has none)";
}

}  // namespace hostgw::k8s::detail
