#include "controller/subnet_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

namespace hostgw::controller {

using routing::Family;
using routing::IpAddress;
using routing::IpPrefix;

namespace {

// The first host address: network + 1 (the network itself for /32 and /128).
IpAddress first_address(const IpPrefix& prefix) {
  if (prefix.length() == prefix.address().bit_width()) return prefix.address();
  std::uint8_t bytes[IpAddress::kMaxBytes] = {};
  const std::size_t size = prefix.address().size();
  std::copy(prefix.address().data(), prefix.address().data() + size, bytes);
  for (std::size_t i = size; i-- > 0;) {
    if (++bytes[i] != 0) break;
  }
  return *IpAddress::from_bytes(bytes, size);
}

const IpPrefix* first_of(const std::vector<IpPrefix>& prefixes, Family family) {
  for (const auto& prefix : prefixes)
    if (prefix.family() == family) return &prefix;
  return nullptr;
}

}  // namespace

std::optional<std::string> render_subnet_env(const SubnetEnv& env, std::string* error) {
  const IpPrefix* subnet4 = first_of(env.pod_cidrs, Family::v4);
  const IpPrefix* subnet6 = first_of(env.pod_cidrs, Family::v6);
  if (!subnet4 && !subnet6) {
    if (error) *error = "this node has no podCIDR";
    return std::nullopt;
  }
  const IpPrefix* network4 = first_of(env.cluster_cidrs, Family::v4);
  const IpPrefix* network6 = first_of(env.cluster_cidrs, Family::v6);
  std::string out;
  if (subnet4) {
    if (network4) out += "FLANNEL_NETWORK=" + network4->to_string() + "\n";
    out += "FLANNEL_SUBNET=" + first_address(*subnet4).to_string() + "/" + std::to_string(subnet4->length()) + "\n";
  }
  if (subnet6) {
    if (network6) out += "FLANNEL_IPV6_NETWORK=" + network6->to_string() + "\n";
    out +=
        "FLANNEL_IPV6_SUBNET=" + first_address(*subnet6).to_string() + "/" + std::to_string(subnet6->length()) + "\n";
  }
  out += "FLANNEL_MTU=" + std::to_string(env.mtu) + "\n";
  out += std::string("FLANNEL_IPMASQ=") + (env.ipmasq ? "true" : "false") + "\n";
  return out;
}

std::vector<IpPrefix> parse_pod_cidrs(const k8s::NodeInfo& node) {
  std::vector<IpPrefix> out;
  for (const auto& text : node.pod_cidrs) {
    if (auto prefix = IpPrefix::try_parse(text)) out.push_back(*prefix);
  }
  return out;
}

std::uint32_t node_link_mtu(const k8s::NodeInfo* node, const std::vector<routing::ConnectedNetwork>& connected) {
  if (node) {
    for (const auto& text : node->internal_ips) {
      auto address = IpAddress::try_parse(text);
      if (!address) continue;
      for (const auto& network : connected)
        if (network.local_address == *address && network.mtu) return network.mtu;
      for (const auto& network : connected)
        if (network.prefix.contains(*address) && network.mtu) return network.mtu;
    }
  }
  for (const auto& network : connected)
    if (network.mtu) return network.mtu;
  return 1500;
}

WriteResult write_file_if_changed(const std::filesystem::path& path, std::string_view content) {
  WriteResult result;
  auto fail = [&](std::string what, int error) {
    result.error = std::error_code(error, std::generic_category());
    result.message = what + ": " + result.error.message();
    return result;
  };
  {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::ostringstream existing;
      existing << in.rdbuf();
      if (existing.str() == content) return result;
    }
  }
  std::filesystem::path folder = path.parent_path();
  if (folder.empty()) folder = ".";
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) return fail("create folder " + folder.string(), ec.value());

  // Built in steps: GCC 12 at -O3 reports a false -Werror=restrict on
  // `"." + std::string` (GCC bug 105329).
  std::string temp_name = ".";
  temp_name += path.filename().string();
  temp_name += ".XXXXXX";
  std::string temp = (folder / temp_name).string();
  int fd = mkstemp(temp.data());
  if (fd < 0) return fail("create temporary file in " + folder.string(), errno);
  auto abandon = [&](std::string what) {
    int error = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    return fail(std::move(what), error);
  };
  if (fchmod(fd, 0644) != 0) return abandon("chmod " + temp);
  std::size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return abandon("write " + temp);
    }
    written += static_cast<std::size_t>(n);
  }
  if (fsync(fd) != 0) return abandon("fsync " + temp);
  if (::close(fd) != 0) {
    int error = errno;
    ::unlink(temp.c_str());
    return fail("close " + temp, error);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    int error = errno;
    ::unlink(temp.c_str());
    return fail("rename " + temp + " to " + path.string(), error);
  }
  result.changed = true;
  return result;
}

}  // namespace hostgw::controller
