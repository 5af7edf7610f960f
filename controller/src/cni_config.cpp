#include "controller/cni_config.hpp"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <cerrno>
#include <fstream>
#include <sstream>

namespace hostgw::controller {

using routing::Family;
using routing::IpPrefix;

namespace {

using Writer = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

void key(Writer& writer, std::string_view name) {
  writer.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
}
void string(Writer& writer, std::string_view value) {
  writer.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void write_ipam(Writer& writer, const CniConflistSpec& spec) {
  writer.StartObject();
  key(writer, "type");
  string(writer, "host-local");
  if (!spec.ipam_data_dir.empty()) {
    key(writer, "dataDir");
    string(writer, spec.ipam_data_dir);
  }
  key(writer, "ranges");
  writer.StartArray();
  bool has4 = false;
  bool has6 = false;
  for (const IpPrefix& prefix : spec.pod_cidrs) {
    (prefix.family() == Family::v4 ? has4 : has6) = true;
    writer.StartArray();  // one range set: one address of this range per pod
    writer.StartObject();
    key(writer, "subnet");
    string(writer, prefix.to_string());
    writer.EndObject();
    writer.EndArray();
  }
  writer.EndArray();
  key(writer, "routes");
  writer.StartArray();
  for (auto [present, destination] : {std::pair{has4, "0.0.0.0/0"}, std::pair{has6, "::/0"}}) {
    if (!present) continue;
    writer.StartObject();
    key(writer, "dst");
    string(writer, destination);
    writer.EndObject();
  }
  writer.EndArray();
  writer.EndObject();
}

}  // namespace

std::optional<std::string> render_cni_conflist(const CniConflistSpec& spec) {
  if (spec.pod_cidrs.empty()) return std::nullopt;
  rapidjson::StringBuffer buffer;
  Writer writer(buffer);
  writer.SetIndent(' ', 2);
  writer.StartObject();
  key(writer, "cniVersion");
  string(writer, kCniVersion);
  key(writer, "name");
  string(writer, kCniNetworkName);
  key(writer, "plugins");
  writer.StartArray();

  writer.StartObject();
  key(writer, "type");
  string(writer, "bridge");
  key(writer, "bridge");
  string(writer, kCniBridgeName);
  key(writer, "isGateway");
  writer.Bool(true);
  key(writer, "hairpinMode");
  writer.Bool(true);
  // Egress NAT is kube-hostgw's own (nftables, --masquerade): the bridge
  // plugin's would also hide pod-to-pod traffic behind the node's address.
  key(writer, "ipMasq");
  writer.Bool(false);
  key(writer, "mtu");
  writer.Uint(spec.mtu);
  key(writer, "ipam");
  write_ipam(writer, spec);
  writer.EndObject();

  writer.StartObject();
  key(writer, "type");
  string(writer, "portmap");
  key(writer, "capabilities");
  writer.StartObject();
  key(writer, "portMappings");
  writer.Bool(true);
  writer.EndObject();
  writer.EndObject();

  writer.EndArray();
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

std::uint32_t choose_pod_mtu(std::uint32_t link_mtu, bool overlay_in_use, std::optional<std::uint32_t> override_mtu) {
  if (override_mtu) return *override_mtu;
  if (overlay_in_use && link_mtu > kVxlanOverhead) return link_mtu - kVxlanOverhead;
  return link_mtu;
}

CniConfFile::CniConfFile(std::filesystem::path conf_dir) : path_(std::move(conf_dir) / kCniConflistName) {}

CniFileState CniConfFile::read_current() const {
  CniFileState state;
  std::ifstream in(path_, std::ios::binary);
  if (!in) {
    const int error = errno;
    std::error_code exists_error;
    if (!std::filesystem::exists(path_, exists_error) && !exists_error) return state;  // absent: nothing of ours
    state.error = std::error_code(error ? error : EIO, std::generic_category());
    state.message = "read " + path_.string() + ": " + state.error.message();
    return state;
  }
  std::ostringstream content;
  content << in.rdbuf();
  state.content = content.str();
  return state;
}

WriteResult CniConfFile::apply(const std::optional<std::string>& desired) const {
  if (desired) return write_file_if_changed(path_, *desired);
  WriteResult result;
  std::error_code error;
  result.changed = std::filesystem::remove(path_, error);
  if (error) {
    result.changed = false;
    result.error = error;
    result.message = "remove " + path_.string() + ": " + error.message();
  }
  return result;
}

}  // namespace hostgw::controller
