// Realistic Node objects, modelled on what a kubelet registers (plus what the
// node controller and the kubelet's status loop add): labels, annotations,
// conditions, addresses, nodeInfo, images and managedFields, ~8 KB of JSON.

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <array>
#include <boost/asio/ip/address_v4.hpp>
#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <string>

#include "fake-apiserver/fake_apiserver.hpp"
#include "json_util.hpp"

namespace hostgw::testing {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// Deterministic pseudo-random hex (splitmix64), so a node's uid, bootID and
// image digests are stable for a given name.
class HexSource {
 public:
  explicit HexSource(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::string hex(std::size_t digits) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    while (out.size() < digits) {
      std::uint64_t v = next();
      for (int i = 0; i < 16 && out.size() < digits; ++i, v >>= 4) out += kDigits[v & 15];
    }
    return out;
  }
  std::string uuid() {
    return hex(8) + "-" + hex(4) + "-" + hex(4) + "-" + hex(4) + "-" + hex(12);
  }

 private:
  std::uint64_t state_;
};

std::uint64_t hash_name(const std::string& name) {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ULL;
  return h;
}

void kv(Writer& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

// fieldsV1 leaves: {"f:name":{}} for each name.
void empty_fields(Writer& w, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    w.Key(n);
    w.StartObject();
    w.EndObject();
  }
}

struct Image {
  const char* repo;
  const char* tag;
  std::uint64_t size;
};
constexpr std::array<Image, 20> kImages{{
    {"registry.k8s.io/kube-proxy", "v1.29.4", 28417562},
    {"docker.io/calico/node", "v3.27.3", 117393645},
    {"registry.k8s.io/coredns/coredns", "v1.11.1", 18182961},
    {"registry.k8s.io/pause", "3.9", 321520},
    {"quay.io/prometheus/node-exporter", "v1.7.0", 10974392},
    {"docker.io/library/nginx", "1.25.4", 70544635},
    {"registry.k8s.io/ingress-nginx/controller", "v1.10.0", 105436173},
    {"quay.io/jetstack/cert-manager-controller", "v1.14.4", 19827514},
    {"docker.io/grafana/promtail", "2.9.6", 74012451},
    {"registry.k8s.io/metrics-server/metrics-server", "v0.7.1", 19434962},
    {"public.ecr.aws/aws-ec2/aws-node-termination-handler", "v1.21.0", 23650315},
    {"registry.k8s.io/sig-storage/csi-node-driver-registrar", "v2.10.0", 10801281},
    {"registry.k8s.io/sig-storage/livenessprobe", "v2.12.0", 9563912},
    {"public.ecr.aws/ebs-csi-driver/aws-ebs-csi-driver", "v1.29.1", 31246510},
    {"docker.io/fluent/fluent-bit", "2.2.2", 38204114},
    {"quay.io/cilium/hubble-relay", "v1.15.3", 21350271},
    {"docker.io/bitnami/redis", "7.2.4-debian-12-r9", 42637455},
    {"ghcr.io/external-secrets/external-secrets", "v0.9.14", 36051012},
    {"registry.k8s.io/autoscaling/cluster-autoscaler", "v1.29.2", 29875600},
    {"docker.io/library/busybox", "1.36.1", 2224229},
}};

void write_managed_fields(Writer& w, const std::string& time) {
  w.Key("managedFields");
  w.StartArray();
  // kubelet: registration (labels, annotations, providerID).
  w.StartObject();
  kv(w, "manager", "kubelet");
  kv(w, "operation", "Update");
  kv(w, "apiVersion", "v1");
  kv(w, "time", time);
  kv(w, "fieldsType", "FieldsV1");
  w.Key("fieldsV1");
  w.StartObject();
  w.Key("f:metadata");
  w.StartObject();
  w.Key("f:annotations");
  w.StartObject();
  empty_fields(w, {".", "f:volumes.kubernetes.io/controller-managed-attach-detach"});
  w.EndObject();
  w.Key("f:labels");
  w.StartObject();
  empty_fields(w, {".", "f:beta.kubernetes.io/arch", "f:beta.kubernetes.io/os", "f:kubernetes.io/arch",
                   "f:kubernetes.io/hostname", "f:kubernetes.io/os", "f:node.kubernetes.io/instance-type",
                   "f:topology.kubernetes.io/region", "f:topology.kubernetes.io/zone"});
  w.EndObject();
  w.EndObject();
  w.Key("f:spec");
  w.StartObject();
  empty_fields(w, {"f:providerID"});
  w.EndObject();
  w.EndObject();
  w.EndObject();
  // kube-controller-manager: podCIDR allocation and the ttl annotation.
  w.StartObject();
  kv(w, "manager", "kube-controller-manager");
  kv(w, "operation", "Update");
  kv(w, "apiVersion", "v1");
  kv(w, "time", time);
  kv(w, "fieldsType", "FieldsV1");
  w.Key("fieldsV1");
  w.StartObject();
  w.Key("f:metadata");
  w.StartObject();
  w.Key("f:annotations");
  w.StartObject();
  empty_fields(w, {"f:node.alpha.kubernetes.io/ttl"});
  w.EndObject();
  w.EndObject();
  w.Key("f:spec");
  w.StartObject();
  empty_fields(w, {"f:podCIDR", "f:podCIDRs"});
  w.EndObject();
  w.EndObject();
  w.EndObject();
  // kubelet status updates.
  w.StartObject();
  kv(w, "manager", "kubelet");
  kv(w, "operation", "Update");
  kv(w, "apiVersion", "v1");
  kv(w, "time", time);
  kv(w, "fieldsType", "FieldsV1");
  kv(w, "subresource", "status");
  w.Key("fieldsV1");
  w.StartObject();
  w.Key("f:status");
  w.StartObject();
  w.Key("f:allocatable");
  w.StartObject();
  empty_fields(w, {"f:cpu", "f:ephemeral-storage", "f:memory"});
  w.EndObject();
  w.Key("f:capacity");
  w.StartObject();
  empty_fields(w, {"f:ephemeral-storage"});
  w.EndObject();
  w.Key("f:conditions");
  w.StartObject();
  for (const char* type : {"DiskPressure", "MemoryPressure", "PIDPressure", "Ready"}) {
    std::string key = std::string("k:{\"type\":\"") + type + "\"}";
    w.Key(key.c_str());
    w.StartObject();
    empty_fields(w, {"f:lastHeartbeatTime", "f:lastTransitionTime", "f:message", "f:reason", "f:status"});
    w.EndObject();
  }
  w.EndObject();
  empty_fields(w, {"f:images", "f:nodeInfo"});
  w.EndObject();
  w.EndObject();
  w.EndObject();
  w.EndArray();
}

}  // namespace

std::string make_node_json(const NodeSpec& spec) {
  if (spec.name.empty()) throw std::invalid_argument("make_node_json: NodeSpec.name is empty");
  HexSource random(hash_name(spec.name));
  const std::string now = rfc3339_now();
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  kv(w, "kind", "Node");
  kv(w, "apiVersion", "v1");

  w.Key("metadata");
  w.StartObject();
  kv(w, "name", spec.name);
  if (spec.realistic) {
    kv(w, "uid", random.uuid());
    kv(w, "creationTimestamp", now);
  }
  w.Key("labels");
  w.StartObject();
  kv(w, "kubernetes.io/hostname", spec.name);
  kv(w, "kubernetes.io/os", "linux");
  kv(w, "kubernetes.io/arch", "amd64");
  if (spec.realistic) {
    const std::string zone = std::string("eu-west-1") + static_cast<char>('a' + hash_name(spec.name) % 3);
    kv(w, "beta.kubernetes.io/arch", "amd64");
    kv(w, "beta.kubernetes.io/instance-type", "m6i.2xlarge");
    kv(w, "beta.kubernetes.io/os", "linux");
    kv(w, "failure-domain.beta.kubernetes.io/region", "eu-west-1");
    kv(w, "failure-domain.beta.kubernetes.io/zone", zone);
    kv(w, "node-role.kubernetes.io/worker", "");
    kv(w, "node.kubernetes.io/instance-type", "m6i.2xlarge");
    kv(w, "topology.kubernetes.io/region", "eu-west-1");
    kv(w, "topology.kubernetes.io/zone", zone);
    kv(w, "topology.ebs.csi.aws.com/zone", zone);
    kv(w, "node.kubernetes.io/lifecycle", "on-demand");
    kv(w, "example.com/nodepool", "general-purpose");
  }
  w.EndObject();
  if (spec.realistic) {
    const std::string instance = "i-0" + random.hex(16);
    w.Key("annotations");
    w.StartObject();
    kv(w, "node.alpha.kubernetes.io/ttl", "0");
    kv(w, "volumes.kubernetes.io/controller-managed-attach-detach", "true");
    kv(w, "kubeadm.alpha.kubernetes.io/cri-socket", "unix:///var/run/containerd/containerd.sock");
    kv(w, "csi.volume.kubernetes.io/nodeid", "{\"ebs.csi.aws.com\":\"" + instance + "\"}");
    kv(w, "alpha.kubernetes.io/provided-node-ip", spec.internal_ips.empty() ? "" : spec.internal_ips.front());
    kv(w, "cluster.x-k8s.io/machine", spec.name + "-machine-" + random.hex(5));
    w.EndObject();
    write_managed_fields(w, now);
  }
  w.EndObject();  // metadata

  w.Key("spec");
  w.StartObject();
  if (!spec.pod_cidrs.empty()) {
    kv(w, "podCIDR", spec.pod_cidrs.front());
    w.Key("podCIDRs");
    w.StartArray();
    for (const auto& cidr : spec.pod_cidrs) w.String(cidr.c_str());
    w.EndArray();
  }
  if (spec.realistic) kv(w, "providerID", "aws:///eu-west-1a/i-0" + random.hex(16));
  w.EndObject();

  w.Key("status");
  w.StartObject();
  if (spec.realistic) {
    w.Key("capacity");
    w.StartObject();
    kv(w, "cpu", "8");
    kv(w, "ephemeral-storage", "104845292Ki");
    kv(w, "hugepages-1Gi", "0");
    kv(w, "hugepages-2Mi", "0");
    kv(w, "memory", "32386544Ki");
    kv(w, "pods", "110");
    w.EndObject();
    w.Key("allocatable");
    w.StartObject();
    kv(w, "cpu", "7910m");
    kv(w, "ephemeral-storage", "95551679124");
    kv(w, "hugepages-1Gi", "0");
    kv(w, "hugepages-2Mi", "0");
    kv(w, "memory", "31369712Ki");
    kv(w, "pods", "110");
    w.EndObject();
    struct Condition {
      const char *type, *status, *reason, *message;
    };
    static constexpr Condition kConditions[] = {
        {"NetworkUnavailable", "False", "RouteCreated", "RouteController created a route"},
        {"MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"},
        {"DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"},
        {"PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"},
        {"Ready", "True", "KubeletReady", "kubelet is posting ready status. AppArmor enabled"},
    };
    w.Key("conditions");
    w.StartArray();
    for (const auto& c : kConditions) {
      w.StartObject();
      kv(w, "type", c.type);
      kv(w, "status", c.status);
      kv(w, "lastHeartbeatTime", now);
      kv(w, "lastTransitionTime", now);
      kv(w, "reason", c.reason);
      kv(w, "message", c.message);
      w.EndObject();
    }
    w.EndArray();
  }
  w.Key("addresses");
  w.StartArray();
  for (const auto& ip : spec.internal_ips) {
    w.StartObject();
    kv(w, "type", "InternalIP");
    kv(w, "address", ip);
    w.EndObject();
  }
  for (const auto& ip : spec.external_ips) {
    w.StartObject();
    kv(w, "type", "ExternalIP");
    kv(w, "address", ip);
    w.EndObject();
  }
  w.StartObject();
  kv(w, "type", "Hostname");
  kv(w, "address", spec.name);
  w.EndObject();
  w.EndArray();
  if (spec.realistic) {
    w.Key("daemonEndpoints");
    w.StartObject();
    w.Key("kubeletEndpoint");
    w.StartObject();
    w.Key("Port");
    w.Int(10250);
    w.EndObject();
    w.EndObject();
    w.Key("nodeInfo");
    w.StartObject();
    kv(w, "machineID", random.hex(32));
    kv(w, "systemUUID", "ec2" + random.hex(5) + "-" + random.hex(4) + "-" + random.hex(4) + "-" + random.hex(4) +
                            "-" + random.hex(12));
    kv(w, "bootID", random.uuid());
    kv(w, "kernelVersion", "6.1.0-18-cloud-amd64");
    kv(w, "osImage", "Debian GNU/Linux 12 (bookworm)");
    kv(w, "containerRuntimeVersion", "containerd://1.7.13");
    kv(w, "kubeletVersion", "v1.29.4");
    kv(w, "kubeProxyVersion", "v1.29.4");
    kv(w, "operatingSystem", "linux");
    kv(w, "architecture", "amd64");
    w.EndObject();
    w.Key("images");
    w.StartArray();
    HexSource digests(42);  // the same images (and digests) on every node, as in a real cluster
    for (const auto& image : kImages) {
      w.StartObject();
      w.Key("names");
      w.StartArray();
      std::string by_digest = std::string(image.repo) + "@sha256:" + digests.hex(64);
      std::string by_tag = std::string(image.repo) + ":" + image.tag;
      w.String(by_digest.c_str());
      w.String(by_tag.c_str());
      w.EndArray();
      w.Key("sizeBytes");
      w.Uint64(image.size);
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();  // status
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::vector<NodeSpec> make_node_specs(const GenerateOptions& options) {
  using boost::asio::ip::make_address_v4;
  auto parse_base = [](const std::string& text, const char* what) {
    auto slash = text.find('/');
    if (slash == std::string::npos)
      throw std::invalid_argument(std::string("generate: ") + what + " \"" + text + "\" is not ADDRESS/LENGTH");
    boost::system::error_code ec;
    auto address = make_address_v4(text.substr(0, slash), ec);
    unsigned length = 0;
    if (ec || std::sscanf(text.c_str() + slash + 1, "%u", &length) != 1 || length > 32)
      throw std::invalid_argument(std::string("generate: ") + what + " \"" + text + "\" is not an IPv4 prefix");
    return std::pair{address.to_uint(), length};
  };
  auto [cidr_base, cidr_base_len] = parse_base(options.pod_cidr_base, "pod_cidr_base");
  auto [ip_base, ip_base_len] = parse_base(options.node_ip_base, "node_ip_base");
  const std::uint64_t total = options.first_index + options.count;
  unsigned size = options.pod_cidr_size;
  if (size == 0) {
    size = 24;  // kube-controller-manager's default --node-cidr-mask-size
    while (size < 32 && (std::uint64_t{1} << (size - cidr_base_len)) < total) ++size;
  }
  if (size < cidr_base_len || size > 32 || (std::uint64_t{1} << (size - cidr_base_len)) < total)
    throw std::invalid_argument("generate: " + std::to_string(total) + " pod CIDRs of /" + std::to_string(size) +
                                " do not fit in " + options.pod_cidr_base);
  const std::uint64_t addresses = options.node_ip_count == 0 ? total : options.node_ip_count;
  if ((std::uint64_t{1} << (32 - ip_base_len)) < addresses + 2 || (options.node_ip_count != 0 && addresses < 2))
    throw std::invalid_argument("generate: " + std::to_string(addresses) + " node addresses do not fit in " +
                                options.node_ip_base);
  std::vector<NodeSpec> specs;
  specs.reserve(options.count);
  for (std::size_t i = 0; i < options.count; ++i) {
    const std::uint64_t index = options.first_index + i;
    NodeSpec spec;
    spec.name = options.name_prefix + std::to_string(index);
    const std::uint32_t cidr = cidr_base + static_cast<std::uint32_t>(index << (32 - size));
    spec.pod_cidrs.push_back(boost::asio::ip::address_v4(cidr).to_string() + "/" + std::to_string(size));
    const std::uint64_t host = options.node_ip_count == 0 || index == 0 ? index + 1 : 2 + (index - 1) % (addresses - 1);
    spec.internal_ips.push_back(boost::asio::ip::address_v4(ip_base + static_cast<std::uint32_t>(host)).to_string());
    spec.realistic = options.realistic;
    specs.push_back(std::move(spec));
  }
  return specs;
}

}  // namespace hostgw::testing
