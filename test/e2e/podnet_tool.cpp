// khg-podnet-tool: the pod network pieces of kube-hostgw driven from a shell, for
// the netns end-to-end scenarios until the controller writes the conflist and the
// masquerade table itself. Every subcommand acts in the network namespace it is
// started in (the scenarios run it with `ip netns exec`).
//
//   render-conflist --conf-dir DIR --pod-cidr CIDR... [--mtu N] [--ipam-data-dir DIR]
//   masquerade [--cluster-cidr CIDR...] [--pod-cidr CIDR...] [--node-address IP...] [--no-masquerade CIDR...]
//   masquerade-off
//   udp-listen ADDRESS PORT SECONDS     prints the source address of the first datagram
//   udp-send ADDRESS PORT               sends one datagram
//
// Prints one line saying what it did; exits 1 with a message on any error.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "controller/cni_config.hpp"
#include "controller/desired_pod_network.hpp"
#include "netfilter/nft_masquerade_table.hpp"

namespace {

using hostgw::routing::IpAddress;
using hostgw::routing::IpPrefix;

int fail(const std::string& what) {
  std::cerr << "khg-podnet-tool: " << what << "\n";
  return 1;
}

// "--name value" pairs; repeated names collect.
std::map<std::string, std::vector<std::string>> options(int argc, char** argv, int first) {
  std::map<std::string, std::vector<std::string>> out;
  for (int i = first; i + 1 < argc; i += 2) out[argv[i]].push_back(argv[i + 1]);
  return out;
}

std::vector<IpPrefix> prefixes(const std::vector<std::string>& texts) {
  std::vector<IpPrefix> out;
  for (const auto& text : texts) out.push_back(IpPrefix::parse(text));
  return out;
}

int render_conflist(const std::map<std::string, std::vector<std::string>>& args) {
  if (!args.count("--conf-dir")) return fail("render-conflist needs --conf-dir");
  hostgw::controller::CniConflistSpec spec;
  if (args.count("--pod-cidr")) spec.pod_cidrs = prefixes(args.at("--pod-cidr"));
  spec.mtu = args.count("--mtu") ? static_cast<std::uint32_t>(std::stoul(args.at("--mtu").front())) : 1500;
  if (args.count("--ipam-data-dir")) spec.ipam_data_dir = args.at("--ipam-data-dir").front();
  hostgw::controller::CniConfFile file(args.at("--conf-dir").front());
  auto result = file.apply(hostgw::controller::render_cni_conflist(spec));
  if (result.error) return fail(result.message);
  std::cout << file.path().string() << (result.changed ? " written" : " unchanged") << "\n";
  return 0;
}

int masquerade(const std::map<std::string, std::vector<std::string>>& args, bool on) {
  auto list = [&](const char* name) { return args.count(name) ? args.at(name) : std::vector<std::string>{}; };
  std::vector<IpAddress> node_addresses;
  for (const auto& text : list("--node-address")) node_addresses.push_back(IpAddress::parse(text));
  std::optional<hostgw::netfilter::MasqueradeSets> desired;
  if (on) {
    desired =
        hostgw::controller::desired_masquerade_sets(prefixes(list("--cluster-cidr")), prefixes(list("--pod-cidr")),
                                                    node_addresses, prefixes(list("--no-masquerade")));
  }
  hostgw::netfilter::NftMasqueradeTable table;
  auto [plan, applied] = table.sync(desired);
  if (!applied.ok) return fail(std::string(to_string(plan.action)) + ": " + applied.error);
  std::cout << "action: " << to_string(plan.action);
  if (!plan.reason.empty()) std::cout << " (" << plan.reason << ")";
  std::cout << "\n";
  return 0;
}

// Binds ADDRESS:PORT (IPv4 or IPv6), waits for one datagram, prints its source address.
int udp_listen(const std::string& address_text, int port, int seconds) {
  IpAddress address = IpAddress::parse(address_text);
  int fd = socket(address.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(std::string("socket: ") + std::strerror(errno));
  sockaddr_storage local{};
  socklen_t length;
  if (address.is_v4()) {
    auto* in = reinterpret_cast<sockaddr_in*>(&local);
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<std::uint16_t>(port));
    std::memcpy(&in->sin_addr, address.data(), 4);
    length = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&local);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<std::uint16_t>(port));
    std::memcpy(&in6->sin6_addr, address.data(), 16);
    length = sizeof(sockaddr_in6);
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), length) != 0)
    return fail("bind " + address_text + ":" + std::to_string(port) + ": " + std::strerror(errno));
  std::cout << "listening" << std::endl;  // the scenario waits for this line
  pollfd wait{fd, POLLIN, 0};
  if (poll(&wait, 1, seconds * 1000) != 1) return fail("no datagram within " + std::to_string(seconds) + " s");
  sockaddr_storage peer{};
  socklen_t peer_length = sizeof peer;
  char buffer[512];
  if (recvfrom(fd, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&peer), &peer_length) < 0)
    return fail(std::string("recvfrom: ") + std::strerror(errno));
  std::optional<IpAddress> source;
  if (peer.ss_family == AF_INET)
    source = IpAddress::from_bytes(&reinterpret_cast<sockaddr_in*>(&peer)->sin_addr, 4);
  else
    source = IpAddress::from_bytes(&reinterpret_cast<sockaddr_in6*>(&peer)->sin6_addr, 16);
  std::cout << "from " << (source ? source->to_string() : "?") << std::endl;
  close(fd);
  return 0;
}

int udp_send(const std::string& address_text, int port) {
  IpAddress address = IpAddress::parse(address_text);
  int fd = socket(address.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(std::string("socket: ") + std::strerror(errno));
  sockaddr_storage remote{};
  socklen_t length;
  if (address.is_v4()) {
    auto* in = reinterpret_cast<sockaddr_in*>(&remote);
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<std::uint16_t>(port));
    std::memcpy(&in->sin_addr, address.data(), 4);
    length = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&remote);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<std::uint16_t>(port));
    std::memcpy(&in6->sin6_addr, address.data(), 16);
    length = sizeof(sockaddr_in6);
  }
  const char text[] = "kube-hostgw e2e";
  if (sendto(fd, text, sizeof text, 0, reinterpret_cast<sockaddr*>(&remote), length) < 0)
    return fail("sendto " + address_text + ": " + std::strerror(errno));
  close(fd);
  std::cout << "sent" << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return fail("usage: khg-podnet-tool render-conflist|masquerade|masquerade-off|udp-listen|udp-send ...");
  const std::string command = argv[1];
  try {
    if (command == "render-conflist") return render_conflist(options(argc, argv, 2));
    if (command == "masquerade") return masquerade(options(argc, argv, 2), true);
    if (command == "masquerade-off") return masquerade({}, false);
    if (command == "udp-listen" && argc == 5) return udp_listen(argv[2], std::stoi(argv[3]), std::stoi(argv[4]));
    if (command == "udp-send" && argc == 4) return udp_send(argv[2], std::stoi(argv[3]));
  } catch (const std::exception& error) {
    return fail(command + ": " + error.what());
  }
  return fail("unknown command or wrong arguments: " + command);
}
