#pragma once

// The CNI network configuration kube-hostgw writes for this node: a pure
// renderer (this node's podCIDRs and an MTU in, the conflist text out), the
// MTU choice, and CniConfFile, which owns exactly one file in the CNI conf dir
// (10-kube-hostgw.conflist) and never touches any other file there.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "controller/subnet_file.hpp"
#include "routing/ip.hpp"

namespace hostgw::controller {

// The file we own in --cni-conf-dir. "10-" sorts it before most runtimes'
// defaults; the runtime uses the first file in lexical order.
inline constexpr std::string_view kCniConflistName = "10-kube-hostgw.conflist";
inline constexpr std::string_view kCniNetworkName = "kube-hostgw";
inline constexpr std::string_view kCniBridgeName = "cni0";
// Supported by Debian 12's containernetworking-plugins 1.1.1 (VERSION answers
// 0.1.0 ... 1.0.0) and by every runtime since containerd 1.3 / CRI-O 1.16
// (libcni 0.7); 1.0.0 would shut out runtimes on libcni < 1.0.
inline constexpr std::string_view kCniVersion = "0.4.0";

// VXLAN's encapsulation over an IPv4 underlay: outer IPv4 (20) + UDP (8) +
// VXLAN (8) + inner Ethernet (14).
inline constexpr std::uint32_t kVxlanOverhead = 50;

struct CniConflistSpec {
  std::vector<routing::IpPrefix> pod_cidrs;  // this node's spec.podCIDRs, in order (IPv4 and/or IPv6)
  std::uint32_t mtu = 1500;                  // for the bridge and the pods' veths (choose_pod_mtu)
  // host-local's lease folder; empty: the plugin's default (/var/lib/cni/networks).
  // Tests set it to a temporary folder.
  std::string ipam_data_dir;
};

// The conflist's text (JSON, 2-space indented, newline-terminated):
//   bridge "cni0": isGateway, hairpinMode, ipMasq false, mtu; host-local IPAM
//   with one range set per podCIDR (the plugin's gateway: the first address)
//   and a default route per family present;
//   portmap with capabilities {portMappings: true}.
// nullopt when the node has no podCIDR (nothing to write: kubelet reports the
// network not ready until one is assigned).
std::optional<std::string> render_cni_conflist(const CniConflistSpec& spec);

// The MTU for pods: `override_mtu` (--mtu) when given, else the MTU of the
// link that carries this node's address (node_link_mtu() in subnet_file.hpp)
// minus kVxlanOverhead when the overlay is in use (pods may then talk through
// it). Never below 576 (IPv4's minimum datagram) / the IPv6 minimum 1280 is
// the caller's business: a link MTU that small is reported, not corrected.
std::uint32_t choose_pod_mtu(std::uint32_t link_mtu, bool overlay_in_use, std::optional<std::uint32_t> override_mtu);

// What CniConfFile found or did.
struct CniFileState {
  std::optional<std::string> content;  // nullopt: no file
  std::error_code error;               // reading failed (then content is nullopt)
  std::string message;                 // what failed, naming the path
};

// Owns `<conf_dir>/10-kube-hostgw.conflist`: reads it, writes it atomically
// (temporary file in the same folder, fsync, rename; 0644) only when the
// content differs, removes it. Synchronous (one small file); errors are
// values, nothing throws. Never reads, writes or removes another file in the
// folder.
class CniConfFile {
 public:
  explicit CniConfFile(std::filesystem::path conf_dir);

  const std::filesystem::path& path() const { return path_; }

  // The file's content now (nullopt if absent).
  CniFileState read_current() const;

  // desired set: write it unless the file already holds exactly that.
  // desired nullopt: remove our file if present (changed = it was there).
  WriteResult apply(const std::optional<std::string>& desired) const;

 private:
  std::filesystem::path path_;
};

}  // namespace hostgw::controller
