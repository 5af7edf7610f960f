#include "routing/netlink_route_table.hpp"

// glibc's <net/if.h> first: <linux/if.h> then adds only what glibc lacks
// (IFF_LOWER_UP). Separate blocks keep clang-format from swapping them.
#include <net/if.h>

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <unordered_map>

#include "routing/netlink_message.hpp"
#include "routing/netlink_nexthop_message.hpp"
#include "routing/netlink_socket.hpp"

namespace hostgw::routing {

namespace asio = boost::asio;
using netlink::consistent_dump;
using netlink::DumpVisitor;
using netlink::errno_code;
using netlink::RequestBuilder;

NetlinkRouteTable::NetlinkRouteTable(asio::any_io_executor executor, NetlinkTableOptions options)
    : options_(options), socket_(netlink::open_request_socket(std::move(executor), options)) {}

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

asio::awaitable<common::Result<std::vector<Route>>> NetlinkRouteTable::dump_routes(std::uint32_t table,
                                                                                   std::uint8_t protocol) {
  std::vector<Route> routes;
  for (Family family : {Family::v4, Family::v6}) {
    const std::size_t kept = routes.size();
    const RequestBuilder request = [&](std::uint32_t seq) {
      return netlink::route_dump_request(family, table, protocol, seq);
    };
    const std::function<void()> restart = [&] { routes.resize(kept); };
    const DumpVisitor visit = [&](const netlink::MessageHeader& header, std::span<const std::uint8_t> message) {
      if (header.type != RTM_NEWROUTE) return true;
      auto parsed = netlink::parse_route_message(message);
      if (!parsed) return false;
      // The kernel filters too (strict checking), but not every kernel does.
      if (parsed->is_plain_unicast_or_unreachable() && parsed->route.table == table &&
          parsed->route.protocol == protocol) {
        routes.push_back(std::move(parsed->route));
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
      co_return common::Error{error, "dump of " + std::string(to_string(family)) + " routes of table " +
                                         std::to_string(table) + " proto " + std::to_string(protocol) + ": " +
                                         error.message()};
    }
  }
  co_return std::move(routes);
}

asio::awaitable<std::vector<ChangeResult>> NetlinkRouteTable::apply(std::vector<RouteChange> changes) {
  co_return co_await netlink::checked_batch<ChangeResult>(
      *socket_, std::move(changes), [](const RouteChange& change) { return netlink::check_route(change.route); },
      [](std::vector<std::uint8_t>& batch, const RouteChange& change, std::uint32_t seq) {
        netlink::append_route_change(batch, change, seq);
      });
}

asio::awaitable<common::Result<NexthopDump>> NetlinkRouteTable::dump_nexthops(std::uint8_t protocol) {
  NexthopDump result;
  const RequestBuilder request = [](std::uint32_t seq) { return netlink::nexthop_dump_request(seq); };
  const std::function<void()> restart = [&] {
    result.owned.clear();
    result.ids_used.clear();
  };
  const DumpVisitor visit = [&](const netlink::MessageHeader& header, std::span<const std::uint8_t> message) {
    if (header.type != RTM_NEWNEXTHOP) return true;
    auto parsed = netlink::parse_nexthop_message(message);
    if (!parsed) return false;
    result.ids_used.push_back(parsed->nexthop.id);
    if (parsed->single_gateway && parsed->nexthop.protocol == protocol) result.owned.push_back(parsed->nexthop);
    return true;
  };
  // A kernel without nexthop objects answers EOPNOTSUPP (no RTM_GETNEXTHOP handler).
  if (std::error_code error = co_await consistent_dump(*socket_, options_.dump_attempts, request, restart, visit))
    co_return common::Error{error, "dump of nexthops: " + error.message()};
  std::sort(result.ids_used.begin(), result.ids_used.end());
  co_return std::move(result);
}

asio::awaitable<std::vector<NexthopResult>> NetlinkRouteTable::apply_nexthops(std::vector<NexthopChange> changes) {
  co_return co_await netlink::checked_batch<NexthopResult>(
      *socket_, std::move(changes),
      [](const NexthopChange& change) { return netlink::check_nexthop(change.kind, change.nexthop); },
      [](std::vector<std::uint8_t>& batch, const NexthopChange& change, std::uint32_t seq) {
        netlink::append_nexthop_change(batch, change, seq);
      });
}

asio::awaitable<common::Result<std::vector<ConnectedNetwork>>> NetlinkRouteTable::connected_networks() {
  std::vector<ConnectedNetwork> networks;
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
    co_return common::Error{error, "dump of links: " + error.message()};
  }

  const RequestBuilder address_request = [](std::uint32_t seq) { return netlink::address_dump_request(seq); };
  const std::function<void()> restart_addresses = [&] { networks.clear(); };
  const DumpVisitor visit_address = [&](const netlink::MessageHeader& header,
                                        std::span<const std::uint8_t> message) {
    if (header.type != RTM_NEWADDR) return true;
    auto address = netlink::parse_address_message(message);
    if (!address) return false;
    if (address->scope != RT_SCOPE_UNIVERSE || (address->flags & IFA_F_DADFAILED)) return true;
    auto link = links.find(address->index);
    if (link == links.end()) return true;  // appeared after the link dump; the next pass sees it
    if (!(link->second.flags & IFF_UP) || (link->second.flags & IFF_LOOPBACK)) return true;
    networks.push_back({IpPrefix::containing(address->local, address->prefix_length), address->local,
                        address->index, link->second.name, link->second.mtu});
    return true;
  };
  if (std::error_code error = co_await consistent_dump(*socket_, options_.dump_attempts, address_request,
                                                       restart_addresses, visit_address)) {
    co_return common::Error{error, "dump of addresses: " + error.message()};
  }
  co_return std::move(networks);
}

std::error_code probe_nexthop_objects() {
  mnl_socket* socket = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (!socket) return {errno, std::generic_category()};
  std::error_code result;
  if (mnl_socket_bind(socket, 0, MNL_SOCKET_AUTOPID) < 0) {
    result = {errno, std::generic_category()};
  } else {
    const std::vector<std::uint8_t> request = netlink::nexthop_dump_request(1);
    std::vector<std::uint8_t> reply(MNL_SOCKET_BUFFER_SIZE);
    if (mnl_socket_sendto(socket, request.data(), request.size()) < 0) {
      result = {errno, std::generic_category()};
    } else if (ssize_t got = mnl_socket_recvfrom(socket, reply.data(), reply.size()); got < 0) {
      result = {errno, std::generic_category()};
    } else {
      // The first message says it all: a nexthop (or NLMSG_DONE) or an error.
      std::span<const std::uint8_t> datagram(reply.data(), static_cast<std::size_t>(got));
      netlink::for_each_message(datagram, [&](const netlink::MessageHeader& header, std::span<const std::uint8_t> message) {
        if (header.type != NLMSG_ERROR || result) return;
        if (auto ack = netlink::parse_ack(message); ack && ack->error != 0) result = {ack->error, std::generic_category()};
      });
    }
  }
  mnl_socket_close(socket);
  return result;
}

}  // namespace hostgw::routing
