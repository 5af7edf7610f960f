// Checks manifests/kube-hostgw.yaml: the objects a `kubectl apply -f` creates, the
// DaemonSet's security and scheduling properties, and that every flag it passes exists
// in the kube-hostgw binary built from this tree (its --help).

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace {

constexpr const char* kManifest = KHG_MANIFEST;
constexpr const char* kBinary = KHG_HOSTGW_BINARY;

struct Manifest {
  std::vector<YAML::Node> documents;

  // The only object of `kind`; fails the test if there is not exactly one.
  YAML::Node only(const std::string& kind) const {
    std::vector<YAML::Node> found;
    for (const auto& doc : documents) {
      if (doc["kind"] && doc["kind"].as<std::string>() == kind) found.push_back(doc);
    }
    EXPECT_EQ(found.size(), 1u) << kManifest << ": expected exactly one " << kind;
    return found.empty() ? YAML::Node() : found.front();
  }
};

Manifest load_manifest() {
  Manifest manifest;
  for (const auto& doc : YAML::LoadAllFromFile(kManifest)) {
    if (doc.IsNull()) continue;  // an empty document (leading ---)
    manifest.documents.push_back(doc);
  }
  return manifest;
}

std::vector<std::string> strings(const YAML::Node& sequence) {
  std::vector<std::string> out;
  if (!sequence || !sequence.IsSequence()) return out;
  for (const auto& item : sequence) out.push_back(item.as<std::string>());
  return out;
}

YAML::Node pod_spec(const Manifest& manifest) {
  return manifest.only("DaemonSet")["spec"]["template"]["spec"];
}

YAML::Node container(const Manifest& manifest) {
  auto containers = pod_spec(manifest)["containers"];
  EXPECT_TRUE(containers.IsSequence() && containers.size() == 1) << "the DaemonSet should have exactly one container";
  return containers[0];
}

std::vector<std::string> args(const Manifest& manifest) {
  return strings(container(manifest)["args"]);
}

// "--flag=value" or "--flag" -> "--flag".
std::string flag_name(const std::string& arg) {
  return arg.substr(0, arg.find('='));
}

// The value of --flag=value in args, or "" if absent.
std::string flag_value(const std::vector<std::string>& args, const std::string& flag) {
  for (const auto& arg : args) {
    if (arg.rfind(flag + "=", 0) == 0) return arg.substr(flag.size() + 1);
  }
  return {};
}

bool has_flag(const std::vector<std::string>& args, const std::string& flag) {
  return std::any_of(args.begin(), args.end(), [&](const std::string& a) { return flag_name(a) == flag; });
}

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

CommandResult run(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  std::size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// True if `text` mentions `flag` as a whole word ("--resync-period" does not match
// "--resync-period-max").
bool mentions_flag(const std::string& text, const std::string& flag) {
  for (auto pos = text.find(flag); pos != std::string::npos; pos = text.find(flag, pos + 1)) {
    const auto end = pos + flag.size();
    const bool starts_word = pos == 0 || text[pos - 1] == ' ' || text[pos - 1] == ',' || text[pos - 1] == '\n' ||
                             text[pos - 1] == '[' || text[pos - 1] == '\t';
    const bool ends_word = end == text.size() || !(std::isalnum(static_cast<unsigned char>(text[end])) ||
                                                   text[end] == '-' || text[end] == '_');
    if (starts_word && ends_word) return true;
  }
  return false;
}

TEST(Manifest, EveryDocumentIsAKubernetesObject) {
  const auto manifest = load_manifest();
  std::multiset<std::string> kinds;
  for (const auto& doc : manifest.documents) {
    ASSERT_TRUE(doc.IsMap()) << kManifest << ": every document must be an object";
    ASSERT_TRUE(doc["apiVersion"] && doc["kind"]) << kManifest << ": document without apiVersion/kind";
    ASSERT_TRUE(doc["metadata"]["name"]) << kManifest << ": " << doc["kind"].as<std::string>() << " without a name";
    kinds.insert(doc["kind"].as<std::string>());
  }
  EXPECT_EQ(kinds, (std::multiset<std::string>{"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
                                               "DaemonSet"}));
}

TEST(Manifest, NamespacedObjectsLiveInTheManifestsNamespace) {
  const auto manifest = load_manifest();
  const auto ns = manifest.only("Namespace")["metadata"]["name"].as<std::string>();
  EXPECT_EQ(manifest.only("ServiceAccount")["metadata"]["namespace"].as<std::string>(), ns);
  EXPECT_EQ(manifest.only("DaemonSet")["metadata"]["namespace"].as<std::string>(), ns);
  // hostNetwork + NET_ADMIN are refused by the "baseline" Pod Security level.
  EXPECT_EQ(manifest.only("Namespace")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"].as<std::string>(),
            "privileged");
}

TEST(Manifest, ClusterRoleGrantsOnlyNodeReadsAndStatusPatch) {
  const auto manifest = load_manifest();
  const auto rules = manifest.only("ClusterRole")["rules"];
  ASSERT_TRUE(rules.IsSequence());
  std::map<std::string, std::set<std::string>> verbs_by_resource;
  for (const auto& rule : rules) {
    EXPECT_EQ(strings(rule["apiGroups"]), std::vector<std::string>{""}) << "only the core API group";
    for (const auto& resource : strings(rule["resources"])) {
      for (const auto& verb : strings(rule["verbs"])) verbs_by_resource[resource].insert(verb);
    }
  }
  EXPECT_EQ(verbs_by_resource["nodes"], (std::set<std::string>{"get", "list", "watch"}));
  // nodes/status patch exists only for --set-node-network-available.
  if (has_flag(args(manifest), "--set-node-network-available")) {
    EXPECT_EQ(verbs_by_resource["nodes/status"], (std::set<std::string>{"patch"}));
  } else {
    EXPECT_EQ(verbs_by_resource.count("nodes/status"), 0u)
        << "nodes/status patch is only needed with --set-node-network-available";
  }
  EXPECT_EQ(verbs_by_resource.size(), has_flag(args(manifest), "--set-node-network-available") ? 2u : 1u)
      << "no access beyond nodes (+ nodes/status)";
}

TEST(Manifest, BindingGivesTheRoleToTheDaemonSetsServiceAccount) {
  const auto manifest = load_manifest();
  const auto binding = manifest.only("ClusterRoleBinding");
  EXPECT_EQ(binding["roleRef"]["kind"].as<std::string>(), "ClusterRole");
  EXPECT_EQ(binding["roleRef"]["name"].as<std::string>(),
            manifest.only("ClusterRole")["metadata"]["name"].as<std::string>());
  ASSERT_EQ(binding["subjects"].size(), 1u);
  const auto subject = binding["subjects"][0];
  EXPECT_EQ(subject["kind"].as<std::string>(), "ServiceAccount");
  EXPECT_EQ(subject["name"].as<std::string>(), manifest.only("ServiceAccount")["metadata"]["name"].as<std::string>());
  EXPECT_EQ(subject["namespace"].as<std::string>(),
            manifest.only("ServiceAccount")["metadata"]["namespace"].as<std::string>());
  EXPECT_EQ(pod_spec(manifest)["serviceAccountName"].as<std::string>(), subject["name"].as<std::string>());
}

TEST(Manifest, DaemonSetRunsOnEveryNodeInTheHostNetwork) {
  const auto manifest = load_manifest();
  const auto ds = manifest.only("DaemonSet");
  const auto spec = pod_spec(manifest);
  EXPECT_TRUE(spec["hostNetwork"].as<bool>());
  EXPECT_EQ(spec["priorityClassName"].as<std::string>(), "system-node-critical");
  EXPECT_EQ(spec["dnsPolicy"].as<std::string>(), "ClusterFirstWithHostNet");
  // "Tolerate everything": one toleration with operator Exists, no key and no effect.
  bool tolerates_all = false;
  for (const auto& toleration : spec["tolerations"]) {
    if (toleration["operator"].as<std::string>() == "Exists" && !toleration["key"] && !toleration["effect"]) {
      tolerates_all = true;
    }
  }
  EXPECT_TRUE(tolerates_all) << "the DaemonSet must tolerate every taint";
  // The pod template's labels match the selector.
  for (const auto& label : ds["spec"]["selector"]["matchLabels"]) {
    EXPECT_EQ(ds["spec"]["template"]["metadata"]["labels"][label.first.as<std::string>()].as<std::string>(),
              label.second.as<std::string>());
  }
  EXPECT_EQ(ds["spec"]["updateStrategy"]["type"].as<std::string>(), "RollingUpdate");
  EXPECT_EQ(ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"].as<int>(), 1);
}

TEST(Manifest, ContainerHasOnlyNetAdminAndNoEscalation) {
  const auto manifest = load_manifest();
  const auto security = container(manifest)["securityContext"];
  ASSERT_TRUE(security.IsMap());
  EXPECT_EQ(strings(security["capabilities"]["drop"]), std::vector<std::string>{"ALL"});
  EXPECT_EQ(strings(security["capabilities"]["add"]), std::vector<std::string>{"NET_ADMIN"});
  EXPECT_FALSE(security["privileged"] && security["privileged"].as<bool>()) << "must not be privileged";
  ASSERT_TRUE(security["allowPrivilegeEscalation"]);
  EXPECT_FALSE(security["allowPrivilegeEscalation"].as<bool>());
  ASSERT_TRUE(security["readOnlyRootFilesystem"]);
  EXPECT_TRUE(security["readOnlyRootFilesystem"].as<bool>());
  // Root is needed for NET_ADMIN to be effective without privilege escalation (see the
  // comment in the manifest); the two fields must at least agree with each other.
  ASSERT_TRUE(security["runAsUser"]);
  if (security["runAsUser"].as<int>() == 0) {
    ASSERT_TRUE(security["runAsNonRoot"]);
    EXPECT_FALSE(security["runAsNonRoot"].as<bool>());
  } else {
    EXPECT_TRUE(security["allowPrivilegeEscalation"].as<bool>())
        << "a non-root user only gets NET_ADMIN through the binary's file capability";
  }
}

TEST(Manifest, NodeNameComesFromTheDownwardApi) {
  const auto manifest = load_manifest();
  bool found = false;
  for (const auto& env : container(manifest)["env"]) {
    if (env["name"].as<std::string>() == "NODE_NAME") {
      EXPECT_EQ(env["valueFrom"]["fieldRef"]["fieldPath"].as<std::string>(), "spec.nodeName");
      found = true;
    }
  }
  EXPECT_TRUE(found) << "env NODE_NAME missing";
  EXPECT_EQ(flag_value(args(manifest), "--node-name"), "$(NODE_NAME)");
}

// kube-hostgw refuses to start without --cluster-cidr: the DaemonSet gives the
// example network the docs show (10.244.0.0/16, kubeadm's --pod-network-cidr example).
TEST(Manifest, GivesTheRequiredClusterCidr) {
  const auto manifest = load_manifest();
  EXPECT_EQ(flag_value(args(manifest), "--cluster-cidr"), "10.244.0.0/16");
}

TEST(Manifest, ProbesUseTheHealthPortAndEndpoints) {
  const auto manifest = load_manifest();
  const auto c = container(manifest);
  const auto bind = flag_value(args(manifest), "--healthz-bind-address");
  ASSERT_FALSE(bind.empty()) << "the DaemonSet should say where the health endpoint listens";
  const int port = std::stoi(bind.substr(bind.rfind(':') + 1));
  EXPECT_NE(bind.rfind("127.", 0), 0u) << "the kubelet probes the node's address: do not bind to loopback only";
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"].as<std::string>(), "/healthz");
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["port"].as<int>(), port);
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"].as<std::string>(), "/readyz");
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["port"].as<int>(), port);
  EXPECT_EQ(c["ports"][0]["containerPort"].as<int>(), port);
}

TEST(Manifest, ResourcesAreRequestedAndMemoryIsLimited) {
  const auto manifest = load_manifest();
  const auto resources = container(manifest)["resources"];
  EXPECT_EQ(resources["requests"]["cpu"].as<std::string>(), "10m");
  EXPECT_EQ(resources["requests"]["memory"].as<std::string>(), "32Mi");
  EXPECT_EQ(resources["limits"]["memory"].as<std::string>(), "64Mi");
  EXPECT_FALSE(resources["limits"]["cpu"]) << "no CPU limit: throttling would delay route repair";
}

TEST(Manifest, SubnetFileIsOnTheRunFlannelHostPath) {
  const auto manifest = load_manifest();
  const auto file = flag_value(args(manifest), "--subnet-file");
  if (file.empty()) GTEST_SKIP() << "the DaemonSet does not use --subnet-file";
  std::string mount_path, volume_name;
  for (const auto& mount : container(manifest)["volumeMounts"]) {
    const auto path = mount["mountPath"].as<std::string>();
    if (file.rfind(path + "/", 0) == 0) {
      mount_path = path;
      volume_name = mount["name"].as<std::string>();
    }
  }
  ASSERT_FALSE(mount_path.empty()) << file << " is not under any volume mount (the root filesystem is read-only)";
  EXPECT_EQ(mount_path, "/run/flannel");
  bool host_path = false;
  for (const auto& volume : pod_spec(manifest)["volumes"]) {
    if (volume["name"].as<std::string>() == volume_name) {
      EXPECT_EQ(volume["hostPath"]["path"].as<std::string>(), "/run/flannel");
      host_path = true;
    }
  }
  EXPECT_TRUE(host_path) << "volume " << volume_name << " should be the host's /run/flannel";
}

// The hostPath behind the container's mount at `mount_path` (of `c`), or "".
std::string host_path_of(const Manifest& manifest, const YAML::Node& c, const std::string& mount_path) {
  std::string volume_name;
  for (const auto& mount : c["volumeMounts"])
    if (mount["mountPath"].as<std::string>() == mount_path) volume_name = mount["name"].as<std::string>();
  for (const auto& volume : pod_spec(manifest)["volumes"])
    if (volume["name"].as<std::string>() == volume_name && volume["hostPath"])
      return volume["hostPath"]["path"].as<std::string>();
  return {};
}

TEST(Manifest, ConflistGoesToTheHostsCniConfDirAndMasqueradeIsOn) {
  const auto manifest = load_manifest();
  const auto passed = args(manifest);
  EXPECT_EQ(flag_value(passed, "--cni-conf-dir"), "/etc/cni/net.d");
  EXPECT_EQ(host_path_of(manifest, container(manifest), "/etc/cni/net.d"), "/etc/cni/net.d")
      << "--cni-conf-dir must be the host's /etc/cni/net.d (the root filesystem is read-only)";
  EXPECT_TRUE(has_flag(passed, "--masquerade"));
  EXPECT_FALSE(has_flag(passed, "--no-own-pod-cidr-route"));
}

TEST(Manifest, InitContainerCopiesOnlyMissingStandardPluginsIntoOptCniBin) {
  const auto manifest = load_manifest();
  const auto inits = pod_spec(manifest)["initContainers"];
  ASSERT_TRUE(inits.IsSequence() && inits.size() == 1) << "one init container installs the CNI plugins";
  const auto init = inits[0];
  EXPECT_EQ(init["image"].as<std::string>(), container(manifest)["image"].as<std::string>())
      << "the plugins come from the same image";
  EXPECT_EQ(host_path_of(manifest, init, "/host/opt/cni/bin"), "/opt/cni/bin");
  const auto command = strings(init["command"]);
  ASSERT_EQ(command.size(), 3u);
  EXPECT_EQ(command[0], "/bin/sh");
  const std::string& script = command[2];
  for (const char* plugin : {"bridge", "host-local", "portmap"})
    EXPECT_TRUE(mentions_flag(script, plugin)) << plugin << " is not installed by:\n" << script;
  // Only where missing, and never a half-written file under the plugin's name.
  EXPECT_NE(script.find("if [ ! -e \"/host/opt/cni/bin/$plugin\" ]"), std::string::npos) << script;
  EXPECT_NE(script.find("mv "), std::string::npos) << script;
  const auto security = init["securityContext"];
  EXPECT_EQ(strings(security["capabilities"]["drop"]), std::vector<std::string>{"ALL"});
  EXPECT_FALSE(security["capabilities"]["add"]) << "copying files needs no capability";
  EXPECT_FALSE(security["allowPrivilegeEscalation"].as<bool>());
}

TEST(Manifest, EveryFlagPassedExistsInTheBinary) {
  const auto manifest = load_manifest();
  const auto help = run(std::string(kBinary) + " --help");
  ASSERT_EQ(help.exit_code, 0) << kBinary << " --help failed:\n" << help.output;
  const auto passed = args(manifest);
  ASSERT_FALSE(passed.empty());
  for (const auto& arg : passed) {
    ASSERT_EQ(arg.rfind("--", 0), 0u) << "argument " << arg << " is not a --flag";
    EXPECT_TRUE(mentions_flag(help.output, flag_name(arg)))
        << "the DaemonSet passes " << flag_name(arg) << " but `kube-hostgw --help` does not list it:\n"
        << help.output;
  }
}

TEST(Manifest, CrossSubnetFlagsAreConsistent) {
  const auto passed = args(load_manifest());
  const auto mode = flag_value(passed, "--cross-subnet");
  EXPECT_TRUE(mode == "vxlan" || mode == "skip") << "--cross-subnet=" << mode;
  if (mode == "vxlan") {
    // Not flannel's VNI 1 / UDP 8472: a flannel left on the node keeps working.
    EXPECT_NE(flag_value(passed, "--vxlan-vni"), "1");
    EXPECT_NE(flag_value(passed, "--vxlan-port"), "8472");
  }
}

TEST(Manifest, FlagMatchingIsWholeWord) {
  EXPECT_TRUE(mentions_flag("  --resync-period arg (=5m)", "--resync-period"));
  EXPECT_TRUE(mentions_flag("--dry-run", "--dry-run"));
  EXPECT_FALSE(mentions_flag("  --resync-period-max arg", "--resync-period"));
  EXPECT_FALSE(mentions_flag("  --no-dry-run", "--dry-run"));
}

}  // namespace
