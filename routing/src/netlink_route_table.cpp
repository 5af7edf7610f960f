#include "routing/netlink_route_table.hpp"

// glibc's <net/if.h> first: <linux/if.h> then adds only what glibc lacks
// (IFF_LOWER_UP). Separate blocks keep clang-format from swapping them.
#include <net/if.h>

#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cerrno>
#include <functional>
#include <unordered_map>

#include "routing/netlink_message.hpp"
#include "routing/netlink_socket.hpp"

namespace hostgw::routing {

namespace asio = boost::asio;
using netlink::consistent_dump;
using netlink::DumpVisitor;
using netlink::errno_code;
using netlink::RequestBuilder;

NetlinkRouteTable::NetlinkRouteTable(asio::any_io_executor executor, NetlinkRouteTableOptions options)
    : options_(options),
      socket_(std::make_unique<netlink::Socket>(
          std::move(executor),
          netlink::SocketOptions{{}, options.receive_buffer, options.send_buffer, options.timeout})) {}

NetlinkRouteTable::~NetlinkRouteTable() = default;

std::uint32_t NetlinkRouteTable::port_id() const {
  return socket_->port_id();
}
std::size_t NetlinkRouteTable::window() const {
  return socket_->window();
}
bool NetlinkRouteTable::strict_checking() const {
  return socket_->strict_checking();
}

asio::awaitable<DumpResult> NetlinkRouteTable::dump_routes(std::uint32_t table, std::uint8_t protocol) {
  DumpResult result;
  for (Family family : {Family::v4, Family::v6}) {
    const std::size_t kept = result.routes.size();
    const RequestBuilder request = [&](std::uint32_t seq) {
      return netlink::route_dump_request(family, table, protocol, seq);
    };
    const std::function<void()> restart = [&] { result.routes.resize(kept); };
    const DumpVisitor visit = [&](const netlink::MessageHeader& header, std::span<const std::uint8_t> message) {
      if (header.type != RTM_NEWROUTE) return true;
      auto parsed = netlink::parse_route_message(message);
      if (!parsed) return false;
      // The kernel filters too (strict checking), but not every kernel does.
      if (parsed->is_plain_unicast_or_unreachable() && parsed->route.table == table &&
          parsed->route.protocol == protocol) {
        result.routes.push_back(std::move(parsed->route));
      }
      return true;
    };
    std::error_code error = co_await consistent_dump(*socket_, options_.dump_attempts, request, restart, visit);
    if (error.value() == ENOENT) {
      // Strict checking: the table does not exist in this family (yet), so it is empty.
      restart();
      continue;
    }
    if (error) {
      result.error = error;
      result.routes.clear();
      co_return result;
    }
  }
  co_return result;
}

asio::awaitable<std::vector<ChangeResult>> NetlinkRouteTable::apply(std::vector<RouteChange> changes) {
  co_return co_await netlink::checked_batch<ChangeResult>(
      *socket_, std::move(changes), [](const RouteChange& change) { return netlink::check_route(change.route); },
      [](std::vector<std::uint8_t>& batch, const RouteChange& change, std::uint32_t seq) {
        netlink::append_route_change(batch, change, seq);
      });
}

asio::awaitable<ConnectedResult> NetlinkRouteTable::connected_networks() {
  ConnectedResult result;
  struct Link {
    std::string name;
    std::uint32_t flags = 0;
    std::uint32_t mtu = 0;
  };
  std::unordered_map<std::uint32_t, Link> links;
  const RequestBuilder link_request = [](std::uint32_t seq) { return netlink::link_dump_request(seq); };
  const std::function<void()> restart_links = [&] { links.clear(); };
  const DumpVisitor visit_link = [&](const netlink::MessageHeader& header, std::span<const std::uint8_t> message) {
    if (header.type != RTM_NEWLINK) return true;
    auto link = netlink::parse_link_message(message);
    if (!link) return false;
    links[link->index] = {std::move(link->name), link->flags, link->mtu};
    return true;
  };
  if (std::error_code error =
          co_await consistent_dump(*socket_, options_.dump_attempts, link_request, restart_links, visit_link)) {
    result.error = error;
    co_return result;
  }

  const RequestBuilder address_request = [](std::uint32_t seq) { return netlink::address_dump_request(seq); };
  const std::function<void()> restart_addresses = [&] { result.networks.clear(); };
  const DumpVisitor visit_address = [&](const netlink::MessageHeader& header,
                                        std::span<const std::uint8_t> message) {
    if (header.type != RTM_NEWADDR) return true;
    auto address = netlink::parse_address_message(message);
    if (!address) return false;
    if (address->scope != RT_SCOPE_UNIVERSE || (address->flags & IFA_F_DADFAILED)) return true;
    auto link = links.find(address->index);
    if (link == links.end()) return true;  // appeared after the link dump; the next pass sees it
    if (!(link->second.flags & IFF_UP) || (link->second.flags & IFF_LOOPBACK)) return true;
    result.networks.push_back({IpPrefix::containing(address->local, address->prefix_length), address->local,
                               address->index, link->second.name, link->second.mtu});
    return true;
  };
  if (std::error_code error = co_await consistent_dump(*socket_, options_.dump_attempts, address_request,
                                                       restart_addresses, visit_address)) {
    result.error = error;
    result.networks.clear();
  }
  co_return result;
}

asio::awaitable<NextHopLookup> NetlinkRouteTable::lookup(const IpAddress& address) {
  NextHopLookup result;
  const std::uint32_t seq = socket_->reserve_sequence(1);
  bool malformed = false;
  std::error_code error =
      co_await socket_->query(netlink::route_get_request(address, seq), seq,
                              [&](const netlink::MessageHeader& header, std::span<const std::uint8_t> message) {
                                if (header.type != RTM_NEWROUTE) return;
                                auto parsed = netlink::parse_route_message(message);
                                if (!parsed) {
                                  malformed = true;
                                  return;
                                }
                                result.oif = parsed->route.oif;
                                result.gateway = parsed->route.gateway;
                                result.source = parsed->preferred_source;
                              });
  result.error = error ? error : (malformed ? errno_code(EBADMSG) : std::error_code());
  co_return result;
}

}  // namespace hostgw::routing
