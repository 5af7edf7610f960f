#pragma once

// Where the API server is and how to authenticate to it, resolved the way
// client-go does it:
//
//   --kubeconfig given            → that file
//   else in a pod                 → in-cluster (KUBERNETES_SERVICE_HOST/PORT set and
//                                   the service account token file exists)
//   (in a pod without the token file, and none of the below: an error that may heal)
//   else $KUBECONFIG              → its files (colon-separated), merged
//   else ~/.kube/config
//
// Resolution reads the files once (kubeconfigs, CA and client certificate
// files) and throws ConfigError on any problem, naming the file, the entry and
// the field:  kubeconfig /root/.kube/config: user "admin": client-key-data is
// not valid base64.  Credentials that change at run time (token files, exec
// plugins) are only described here; ApiClient reads / runs them.

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace hostgw::k8s {

struct ConfigOptions {
  std::string kubeconfig;  // --kubeconfig ("" = not given)
  std::string context;     // --context ("" = current-context)
  std::string in_cluster_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
};

// A configuration that cannot be used. may_heal() says whether it can become
// usable without anyone acting: only inside a pod, where the service account's
// token and CA files are projected by the kubelet and may not be there yet.
// A kubeconfig that is missing, unreadable or invalid, or no configuration at
// all outside a pod, never heals: the daemon exits with it (status 1).
// hint() says what to do, for the exit message ("" if the message says it).
class ConfigError : public std::runtime_error {
 public:
  enum class Heal { never, may_heal };
  explicit ConfigError(const std::string& message, Heal heal = Heal::never, std::string hint = "")
      : runtime_error(message), heal_(heal), hint_(std::move(hint)) {}

  bool may_heal() const { return heal_ == Heal::may_heal; }
  const std::string& hint() const { return hint_; }

 private:
  Heal heal_;
  std::string hint_;
};

// users[].user.exec of a kubeconfig: a client-go credential plugin.
struct ExecConfig {
  std::string api_version;  // client.authentication.k8s.io/v1 or .../v1beta1
  std::string command;      // a relative path with a '/' is resolved against the kubeconfig's folder
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // added to the plugin's environment
  bool provide_cluster_info = false;
  std::string install_hint;
  std::string where;  // "kubeconfig FILE: user \"NAME\": exec" for messages
};

struct ClusterConfig {
  // Where this came from, e.g. `kubeconfig /root/.kube/config, context "kind"` or
  // `in-cluster (/var/run/secrets/kubernetes.io/serviceaccount)`.
  std::string source;

  // The server URL and its parts. host has no brackets ("::1"); base_path is the
  // URL's path without a trailing '/' ("" usually, "/k8s/clusters/x" behind proxies).
  std::string server;
  std::string host;
  std::string port = "443";
  std::string base_path;

  // TLS. ca_pem empty = the system trust store.
  std::string ca_pem;
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;  // checked (and sent as SNI) instead of host when set
  std::string client_cert_pem;
  std::string client_key_pem;

  // Bearer token: a fixed one, or a file re-read about every minute and after a 401.
  std::string token;
  std::string token_file;
  // Credential plugin, run when a credential is needed and after a 401.
  std::optional<ExecConfig> exec;

  // The name the server certificate must carry.
  const std::string& verify_name() const { return tls_server_name.empty() ? host : tls_server_name; }

  // One line for logs: source, server, TLS mode, credential kind. Never secrets.
  std::string describe() const;
};

ClusterConfig load_cluster_config(const ConfigOptions& options);

// --- the pure parts, exposed for tests ---

// What load_cluster_config reads from the process environment.
struct ConfigEnvironment {
  std::optional<std::string> service_host;  // KUBERNETES_SERVICE_HOST
  std::optional<std::string> service_port;  // KUBERNETES_SERVICE_PORT
  std::optional<std::string> kubeconfig;    // KUBECONFIG
  std::string home;                         // HOME
  static ConfigEnvironment from_process();
};
ClusterConfig load_cluster_config(const ConfigOptions& options, const ConfigEnvironment& environment);

// In-cluster configuration from a service account folder (ca.crt, token).
ClusterConfig in_cluster_config(const std::string& host, const std::string& port, const std::string& dir);

// A kubeconfig already read: its path (for messages and relative paths) and text.
struct KubeconfigFile {
  std::string path;
  std::string text;
};
// Merges the files (for each cluster/user/context name the first file that
// defines it wins; the first non-empty current-context wins) and resolves the
// context (`context` overrides current-context).
ClusterConfig resolve_kubeconfig(const std::vector<KubeconfigFile>& files, const std::string& context = "");

}  // namespace hostgw::k8s
