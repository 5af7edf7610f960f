#include "k8s-client/config.hpp"

#include <yaml-cpp/yaml.h>

#include <boost/url/parse.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "common/base64.hpp"
#include "common/log.hpp"

namespace hostgw::k8s {

namespace {

namespace fs = std::filesystem;

using Heal = ConfigError::Heal;

// Reads a whole file; nullopt and `error` (strerror) on failure.
std::optional<std::string> read_file(const std::string& path, std::string& error) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    error = "is a folder, not a file";
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) {
    error = "read error";
    return std::nullopt;
  }
  return out.str();
}

bool file_exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

std::string resolve_path(const std::string& path, const std::string& base_file) {
  if (path.empty() || path[0] == '/') return path;
  if (path.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    if (home) return std::string(home) + path.substr(1);
  }
  fs::path base = fs::path(base_file).parent_path();
  return (base / path).lexically_normal().string();
}

bool looks_like_pem(const std::string& text, const char* what) {
  return text.find(std::string("-----BEGIN ") + what) != std::string::npos ||
         (std::strcmp(what, "") == 0 && text.find("-----BEGIN ") != std::string::npos);
}

// Where a kubeconfig entry came from, for messages and relative paths.
struct Entry {
  std::string file;
  std::string kind;  // "cluster", "user", "context"
  std::string name;
  YAML::Node body;
  std::string where() const { return "kubeconfig " + file + ": " + kind + " \"" + name + "\""; }
};

[[noreturn]] void fail(const std::string& where, const std::string& what) { throw ConfigError(where + ": " + what); }

std::optional<std::string> scalar(const Entry& entry, const char* field) {
  const YAML::Node& body = entry.body;
  YAML::Node value = body[field];
  if (!value.IsDefined() || value.IsNull()) return std::nullopt;
  if (!value.IsScalar()) fail(entry.where(), std::string(field) + " must be a string");
  return value.as<std::string>();
}

bool boolean(const Entry& entry, const char* field) {
  const YAML::Node& body = entry.body;
  YAML::Node value = body[field];
  if (!value.IsDefined() || value.IsNull()) return false;
  bool result = false;
  if (!value.IsScalar() || !YAML::convert<bool>::decode(value, result))
    fail(entry.where(), std::string(field) + " must be true or false, not \"" +
                            (value.IsScalar() ? value.Scalar() : std::string("a list or map")) + "\"");
  return result;
}

// `<field>` (a path, relative to the kubeconfig) or `<field>-data` (base64).
std::optional<std::string> file_or_data(const Entry& entry, const std::string& field, const char* pem_kind) {
  auto data = scalar(entry, (field + "-data").c_str());
  auto path = scalar(entry, field.c_str());
  std::string content;
  if (data && !data->empty()) {
    auto decoded = common::base64_decode(*data);
    if (!decoded) fail(entry.where(), field + "-data is not valid base64");
    content = std::move(*decoded);
    if (!looks_like_pem(content, pem_kind)) fail(entry.where(), field + "-data does not contain PEM data");
  } else if (path && !path->empty()) {
    std::string resolved = resolve_path(*path, entry.file);
    std::string error;
    auto read = read_file(resolved, error);
    if (!read) fail(entry.where(), field + " " + resolved + ": " + error);
    content = std::move(*read);
    if (!looks_like_pem(content, pem_kind)) fail(entry.where(), field + " " + resolved + " does not contain PEM data");
  } else {
    return std::nullopt;
  }
  return content;
}

void set_server(ClusterConfig& config, const std::string& server, const std::string& where) {
  auto url = boost::urls::parse_uri(server);
  if (!url) fail(where, "server \"" + server + "\" is not a URL: " + url.error().message());
  if (url->scheme() != "https")
    fail(where, "server \"" + server + "\": scheme \"" + std::string(url->scheme()) +
                    "\" is not supported, only https");
  config.server = server;
  switch (url->host_type()) {
    case boost::urls::host_type::ipv6:
      config.host = url->host_ipv6_address().to_string();
      break;
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::name:
      config.host = url->host();
      break;
    default:
      fail(where, "server \"" + server + "\" has no usable host");
  }
  if (config.host.empty()) fail(where, "server \"" + server + "\" has no host");
  // "https://host:/" has an empty port, which means the default (RFC 3986).
  if (url->has_port() && !url->port().empty()) {
    const std::string port(url->port());
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) == 0 ||
        std::stoul(port) > 65535)
      fail(where, "server \"" + server + "\": port \"" + port + "\" is not a port number (1-65535)");
    config.port = port;
  } else {
    config.port = "443";
  }
  config.base_path = url->path();
  while (!config.base_path.empty() && config.base_path.back() == '/') config.base_path.pop_back();
}

void collect(const KubeconfigFile& file, const YAML::Node& root, const char* list_key, const char* body_key,
             const char* kind, std::map<std::string, Entry>& into) {
  YAML::Node list = root[list_key];
  if (!list.IsDefined() || list.IsNull()) return;
  std::string where = "kubeconfig " + file.path;
  if (!list.IsSequence()) fail(where, std::string(list_key) + " must be a list");
  std::size_t index = 0;
  for (const YAML::Node& item : list) {
    std::string item_where = where + ": " + list_key + "[" + std::to_string(index++) + "]";
    if (!item.IsMap()) fail(item_where, "must be a map with name and " + std::string(body_key));
    YAML::Node name = item["name"];
    if (!name.IsDefined() || !name.IsScalar() || name.Scalar().empty()) fail(item_where, "name is missing");
    YAML::Node body = item[body_key];
    if (body.IsDefined() && !body.IsNull() && !body.IsMap())
      fail(where + ": " + kind + " \"" + name.Scalar() + "\"", std::string(body_key) + " must be a map");
    // The first file to define a name wins (client-go merge rule).
    into.try_emplace(name.Scalar(), Entry{file.path, kind, name.Scalar(),
                                        body.IsDefined() && body.IsMap() ? body : YAML::Node(YAML::NodeType::Map)});
  }
}

void load_cluster(ClusterConfig& config, const Entry& cluster) {
  for (const char* unsupported : {"proxy-url"}) {
    if (std::as_const(cluster.body)[unsupported].IsDefined())
      fail(cluster.where(), std::string(unsupported) + " is not supported by kube-hostgw; remove it");
  }
  auto server = scalar(cluster, "server");
  if (!server || server->empty()) fail(cluster.where(), "server is missing");
  set_server(config, *server, cluster.where());
  config.insecure_skip_tls_verify = boolean(cluster, "insecure-skip-tls-verify");
  config.tls_server_name = scalar(cluster, "tls-server-name").value_or("");
  auto ca = file_or_data(cluster, "certificate-authority", "CERTIFICATE");
  if (ca) config.ca_pem = std::move(*ca);
  if (config.insecure_skip_tls_verify && !config.ca_pem.empty())
    fail(cluster.where(), "insecure-skip-tls-verify is true and a certificate authority is given; keep one");
}

void load_user(ClusterConfig& config, const Entry& user) {
  for (const char* unsupported : {"auth-provider", "username", "password", "as", "as-groups", "as-uid", "as-user-extra"}) {
    if (std::as_const(user.body)[unsupported].IsDefined())
      fail(user.where(), std::string(unsupported) + " is not supported by kube-hostgw; use a token, tokenFile, client certificate or exec plugin");
  }
  auto cert = file_or_data(user, "client-certificate", "CERTIFICATE");
  auto key = file_or_data(user, "client-key", "");
  if (cert && !key) fail(user.where(), "client-certificate is given without client-key");
  if (key && !cert) fail(user.where(), "client-key is given without client-certificate");
  if (cert) {
    config.client_cert_pem = std::move(*cert);
    config.client_key_pem = std::move(*key);
  }
  config.token = scalar(user, "token").value_or("");
  if (auto token_file = scalar(user, "tokenFile"); token_file && !token_file->empty() && config.token.empty()) {
    config.token_file = resolve_path(*token_file, user.file);
    std::string error;
    auto token = read_file(config.token_file, error);
    if (!token) fail(user.where(), "tokenFile " + config.token_file + ": " + error);
  }
  YAML::Node exec = std::as_const(user.body)["exec"];
  if (exec.IsDefined() && !exec.IsNull()) {
    std::string where = user.where() + ": exec";
    if (!exec.IsMap()) fail(user.where(), "exec must be a map");
    Entry entry{user.file, user.kind, user.name, exec};
    ExecConfig plugin;
    plugin.where = where;
    plugin.api_version = scalar(entry, "apiVersion").value_or("");
    if (plugin.api_version != "client.authentication.k8s.io/v1" &&
        plugin.api_version != "client.authentication.k8s.io/v1beta1")
      fail(where, "apiVersion \"" + plugin.api_version +
                      "\" is not supported; use client.authentication.k8s.io/v1 or v1beta1");
    plugin.command = scalar(entry, "command").value_or("");
    if (plugin.command.empty()) fail(where, "command is missing");
    if (plugin.command.find('/') != std::string::npos) plugin.command = resolve_path(plugin.command, user.file);
    if (YAML::Node args = std::as_const(exec)["args"]; args.IsDefined() && !args.IsNull()) {
      if (!args.IsSequence()) fail(where, "args must be a list of strings");
      for (const YAML::Node& arg : args) {
        if (!arg.IsScalar()) fail(where, "args must be a list of strings");
        plugin.args.push_back(arg.Scalar());
      }
    }
    if (YAML::Node env = std::as_const(exec)["env"]; env.IsDefined() && !env.IsNull()) {
      if (!env.IsSequence()) fail(where, "env must be a list of {name, value}");
      std::size_t index = 0;
      for (const YAML::Node& pair : env) {
        YAML::Node name = pair.IsMap() ? pair["name"] : YAML::Node();
        if (!name.IsDefined() || !name.IsScalar() || name.Scalar().empty())
          fail(where, "env[" + std::to_string(index) + "].name is missing");
        YAML::Node value = pair["value"];
        plugin.env.emplace_back(name.Scalar(), value.IsDefined() && value.IsScalar() ? value.Scalar() : "");
        ++index;
      }
    }
    plugin.provide_cluster_info = boolean(entry, "provideClusterInfo");
    plugin.install_hint = scalar(entry, "installHint").value_or("");
    std::string interactive = scalar(entry, "interactiveMode").value_or("");
    if (interactive == "Always")
      fail(where, "interactiveMode is Always, but kube-hostgw runs without a terminal; use Never or IfAvailable");
    config.exec = std::move(plugin);
  }
}

}  // namespace

std::string ClusterConfig::describe() const {
  std::string out = "source=" + source + " server=" + server;
  if (insecure_skip_tls_verify)
    out += " tls=insecure-skip-verify";
  else
    out += std::string(" tls=verify ca=") + (ca_pem.empty() ? "system" : "given") + " name=" + verify_name();
  std::string credential;
  if (exec) credential = "exec:" + exec->command;
  else if (!token.empty()) credential = "token";
  else if (!token_file.empty()) credential = "tokenFile:" + token_file;
  if (!client_cert_pem.empty()) credential += credential.empty() ? "client-certificate" : "+client-certificate";
  out += " credential=" + (credential.empty() ? std::string("none") : credential);
  return out;
}

ConfigEnvironment ConfigEnvironment::from_process() {
  auto get = [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    if (!value) return std::nullopt;
    return std::string(value);
  };
  ConfigEnvironment env;
  env.service_host = get("KUBERNETES_SERVICE_HOST");
  env.service_port = get("KUBERNETES_SERVICE_PORT");
  env.kubeconfig = get("KUBECONFIG");
  env.home = get("HOME").value_or("");
  return env;
}

ClusterConfig in_cluster_config(const std::string& host, const std::string& port, const std::string& dir) {
  ClusterConfig config;
  config.source = "in-cluster (" + dir + ")";
  std::string where = "in-cluster configuration";
  if (host.empty()) fail(where, "KUBERNETES_SERVICE_HOST is empty");
  if (port.empty()) fail(where, "KUBERNETES_SERVICE_PORT is empty");
  std::string bracketed = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  set_server(config, "https://" + bracketed + ":" + port, where + " (KUBERNETES_SERVICE_HOST/PORT)");
  // The kubelet projects these files into the pod and rewrites them: a missing
  // or half-written one may be fine a moment later.
  auto may_heal = [&](const std::string& what) {
    throw ConfigError(where + ": " + what, Heal::may_heal,
                      "the kubelet mounts the service account files; check the pod's serviceAccountName and "
                      "automountServiceAccountToken");
  };
  std::string error;
  std::string ca_path = dir + "/ca.crt";
  auto ca = read_file(ca_path, error);
  if (!ca) may_heal(ca_path + ": " + error);
  if (!looks_like_pem(*ca, "CERTIFICATE")) may_heal(ca_path + " does not contain a PEM certificate");
  config.ca_pem = std::move(*ca);
  config.token_file = dir + "/token";
  auto token = read_file(config.token_file, error);
  if (!token) may_heal(config.token_file + ": " + error);
  return config;
}

ClusterConfig resolve_kubeconfig(const std::vector<KubeconfigFile>& files, const std::string& context_override) {
  std::map<std::string, Entry> clusters, users, contexts;
  std::string current_context;
  std::string names;
  for (const KubeconfigFile& file : files) {
    names += (names.empty() ? "" : ", ") + file.path;
    YAML::Node root;
    try {
      root = YAML::Load(file.text);
    } catch (const YAML::Exception& e) {
      fail("kubeconfig " + file.path, "not valid YAML: " + std::string(e.what()));
    }
    if (root.IsNull() || !root.IsDefined()) continue;  // an empty file is allowed
    if (!root.IsMap()) fail("kubeconfig " + file.path, "must be a YAML map");
    collect(file, root, "clusters", "cluster", "cluster", clusters);
    collect(file, root, "users", "user", "user", users);
    collect(file, root, "contexts", "context", "context", contexts);
    const YAML::Node& const_root = root;
    YAML::Node current = const_root["current-context"];
    if (current_context.empty() && current.IsDefined() && current.IsScalar()) current_context = current.Scalar();
  }
  std::string where = files.size() == 1 ? "kubeconfig " + files[0].path : "kubeconfig (merged " + names + ")";
  std::string context_name = context_override.empty() ? current_context : context_override;
  if (context_name.empty()) fail(where, "current-context is not set; set it or pass --context");
  auto context_it = contexts.find(context_name);
  if (context_it == contexts.end())
    fail(where, "context \"" + context_name + "\" is not defined" +
                    (context_override.empty() ? " (it is the current-context)" : " (from --context)"));
  const Entry& context = context_it->second;
  auto cluster_name = scalar(context, "cluster");
  if (!cluster_name || cluster_name->empty()) fail(context.where(), "cluster is missing");
  auto cluster_it = clusters.find(*cluster_name);
  if (cluster_it == clusters.end()) fail(context.where(), "cluster \"" + *cluster_name + "\" is not defined");

  ClusterConfig config;
  config.source = (files.size() == 1 ? "kubeconfig " + files[0].path : "kubeconfig " + names) + ", context \"" +
                  context_name + "\"";
  load_cluster(config, cluster_it->second);
  auto user_name = scalar(context, "user");
  if (user_name && !user_name->empty()) {
    auto user_it = users.find(*user_name);
    if (user_it == users.end()) fail(context.where(), "user \"" + *user_name + "\" is not defined");
    load_user(config, user_it->second);
  }
  return config;
}

namespace {

// Adds `hint` to a kubeconfig error that has none.
template <typename Load>
ClusterConfig with_hint(const std::string& hint, Load&& load) {
  try {
    return load();
  } catch (const ConfigError& error) {
    if (!error.hint().empty()) throw;
    throw ConfigError(error.what(), error.may_heal() ? Heal::may_heal : Heal::never, hint);
  }
}

}  // namespace

ClusterConfig load_cluster_config(const ConfigOptions& options, const ConfigEnvironment& environment) {
  auto load_files = [](const std::vector<std::string>& paths, bool missing_is_error) {
    std::vector<KubeconfigFile> files;
    for (const std::string& path : paths) {
      std::string error;
      auto text = read_file(path, error);
      if (!text) {
        if (!missing_is_error && !file_exists(path)) continue;  // client-go skips missing $KUBECONFIG entries
        throw ConfigError("kubeconfig " + path + ": " + error);
      }
      files.push_back({path, std::move(*text)});
    }
    return files;
  };

  if (!options.kubeconfig.empty()) {
    return with_hint("fix the file, or pass a working one with --kubeconfig (kubectl --kubeconfig " +
                         options.kubeconfig + " config view shows what it holds)",
                     [&] { return resolve_kubeconfig(load_files({options.kubeconfig}, true), options.context); });
  }

  const bool in_pod = environment.service_host && environment.service_port;
  if (in_pod && file_exists(options.in_cluster_dir + "/token")) {
    if (!options.context.empty())
      KHG_LOG(warning) << "Ignoring --context: running in-cluster" << log::kv("context", options.context);
    return in_cluster_config(*environment.service_host, *environment.service_port, options.in_cluster_dir);
  }

  if (environment.kubeconfig && !environment.kubeconfig->empty()) {
    std::vector<std::string> paths;
    std::stringstream list(*environment.kubeconfig);
    for (std::string path; std::getline(list, path, ':');) {
      if (path.empty()) continue;
      bool seen = false;
      for (const std::string& p : paths) seen = seen || p == path;
      if (!seen) paths.push_back(path);
    }
    const std::string hint = "fix it, or point $KUBECONFIG (or --kubeconfig) at a working kubeconfig";
    return with_hint(hint, [&] {
      auto files = load_files(paths, false);
      if (files.empty())
        throw ConfigError("no Kubernetes configuration: none of the files in $KUBECONFIG (" +
                          *environment.kubeconfig + ") exists");
      return resolve_kubeconfig(files, options.context);
    });
  }

  std::string home_config = environment.home.empty() ? std::string() : environment.home + "/.kube/config";
  if (!home_config.empty() && file_exists(home_config)) {
    return with_hint("fix it, or pass a working kubeconfig with --kubeconfig",
                     [&] { return resolve_kubeconfig(load_files({home_config}, true), options.context); });
  }

  const std::string not_found =
      "$KUBECONFIG unset, and " +
      (home_config.empty() ? std::string("$HOME unset") : home_config + " does not exist");
  if (in_pod) {
    // A projected service account token appears when the kubelet has mounted it.
    throw ConfigError("no Kubernetes configuration yet: in a pod (KUBERNETES_SERVICE_HOST/PORT set) but " +
                          options.in_cluster_dir + "/token does not exist, " + not_found,
                      Heal::may_heal,
                      "the kubelet mounts the service account token; check the pod's serviceAccountName and "
                      "automountServiceAccountToken, or pass --kubeconfig");
  }
  throw ConfigError("no Kubernetes configuration: not running in a pod (KUBERNETES_SERVICE_HOST/PORT unset), " +
                        not_found,
                    Heal::never,
                    "pass --kubeconfig FILE (outside a cluster), or run kube-hostgw as the DaemonSet in "
                    "manifests/kube-hostgw.yaml (in-cluster service account)");
}

ClusterConfig load_cluster_config(const ConfigOptions& options) {
  return load_cluster_config(options, ConfigEnvironment::from_process());
}

}  // namespace hostgw::k8s
