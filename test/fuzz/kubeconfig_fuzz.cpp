// Fuzz target: kubeconfig parsing and resolution (k8s-client/config.hpp,
// yaml-cpp), from a string.
//
// The kubeconfig "lives" in a folder that does not exist, so relative file
// references fail cleanly; nothing is executed (exec plugins are only
// described at this stage).
//
// Properties:
//  - the only exception that ever leaves resolve_kubeconfig is ConfigError
//    (a YAML::Exception, std::out_of_range, bad_alloc... is a bug);
//  - every ConfigError names the file;
//  - a resolved config has an https server with a host and a numeric port in
//    1..65535, and a base path without a trailing '/';
//  - describe() (what the daemon logs) never contains the bearer token;
//  - the same text resolves the same way twice, also when merged with an empty file.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include "fuzz_check.hpp"
#include "k8s-client/config.hpp"

using namespace hostgw::k8s;

namespace {

constexpr const char* kPath = "/nonexistent-khg-fuzz/kubeconfig";

struct Outcome {
  bool ok = false;
  std::string error;
  ClusterConfig config;
};

Outcome resolve(const std::vector<KubeconfigFile>& files) {
  Outcome out;
  try {
    out.config = resolve_kubeconfig(files);
    out.ok = true;
  } catch (const ConfigError& e) {
    out.error = e.what();
  } catch (const std::exception& e) {
    KHG_FUZZ_CHECK(false, "resolve_kubeconfig threw something other than ConfigError: %s", e.what());
  }
  return out;
}

bool same(const ClusterConfig& a, const ClusterConfig& b) {
  return a.server == b.server && a.host == b.host && a.port == b.port && a.base_path == b.base_path &&
         a.ca_pem == b.ca_pem && a.insecure_skip_tls_verify == b.insecure_skip_tls_verify &&
         a.tls_server_name == b.tls_server_name && a.client_cert_pem == b.client_cert_pem &&
         a.client_key_pem == b.client_key_pem && a.token == b.token && a.token_file == b.token_file &&
         a.exec.has_value() == b.exec.has_value() && (!a.exec || (a.exec->command == b.exec->command && a.exec->args == b.exec->args));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Keep single inputs small: YAML anchors/aliases can expand, and the
  // interesting structure fits in a few KiB.
  if (size > 16 * 1024) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);

  Outcome first = resolve({{kPath, text}});
  if (!first.ok) {
    KHG_FUZZ_CHECK(first.error.find("kubeconfig " + std::string(kPath)) != std::string::npos,
                   "error does not name the file: %s", first.error.c_str());
  } else {
    const ClusterConfig& config = first.config;
    KHG_FUZZ_CHECK(config.server.rfind("https:", 0) == 0, "server \"%s\" is not https", config.server.c_str());
    KHG_FUZZ_CHECK(!config.host.empty(), "no host for server \"%s\"", config.server.c_str());
    bool numeric = !config.port.empty() && config.port.size() <= 5 &&
                   config.port.find_first_not_of("0123456789") == std::string::npos;
    KHG_FUZZ_CHECK(numeric && std::stoul(config.port) >= 1 && std::stoul(config.port) <= 65535,
                   "server \"%s\" resolved to port \"%s\"", config.server.c_str(), config.port.c_str());
    KHG_FUZZ_CHECK(config.base_path.empty() || config.base_path.back() != '/', "base path \"%s\" ends in /",
                   config.base_path.c_str());
    KHG_FUZZ_CHECK(!(config.insecure_skip_tls_verify && !config.ca_pem.empty()), "insecure and a CA at once");
    const std::string described = config.describe();
    // The token may legitimately be a substring of a name that is logged
    // (server, context, command); only a token that is not is checked.
    const std::string visible = config.source + " " + config.server + " " + config.verify_name() + " " +
                                config.token_file + (config.exec ? " " + config.exec->command : "");
    if (!config.token.empty() && visible.find(config.token) == std::string::npos)
      KHG_FUZZ_CHECK(described.find(config.token) == std::string::npos, "describe() shows the token: %s",
                     described.c_str());
  }

  Outcome merged = resolve({{kPath, text}, {"/nonexistent-khg-fuzz/empty", ""}});
  KHG_FUZZ_CHECK(merged.ok == first.ok, "merging an empty file changes the outcome: %s / %s", first.error.c_str(),
                 merged.error.c_str());
  if (first.ok) KHG_FUZZ_CHECK(same(first.config, merged.config), "merging an empty file changes the config");
  return 0;
}
