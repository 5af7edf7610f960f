#include "routing/netlink_change_monitor.hpp"

// glibc's <net/if.h> first: <linux/if.h> then adds only what glibc lacks
// (IFF_LOWER_UP). Separate blocks keep clang-format from swapping them.
#include <net/if.h>

#include <linux/if.h>
#include <linux/netlink.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <cerrno>
#include <cstring>

#include "routing/netlink_nexthop_message.hpp"
#include "routing/netlink_overlay_message.hpp"
#include "routing/netlink_socket.hpp"

namespace hostgw::routing {

namespace asio = boost::asio;

namespace {
// Flags whose change moves routes: administrative state, operational state, carrier.
constexpr std::uint32_t kStateFlags = IFF_UP | IFF_RUNNING | IFF_LOWER_UP;
constexpr std::size_t kMaxRememberedEvents = 64;

std::vector<unsigned> event_groups(const NetlinkChangeMonitorOptions& options) {
  std::vector<unsigned> groups{RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE, RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR,
                               RTNLGRP_IPV6_IFADDR};
  if (!options.overlay_device.empty()) groups.push_back(RTNLGRP_NEIGH);
  if (options.nexthops) groups.push_back(RTNLGRP_NEXTHOP);
  return groups;
}

std::string link_label(std::uint32_t index, const std::string& name) {
  return "link " + std::to_string(index) + (name.empty() ? "" : " (" + name + ")");
}
}  // namespace

std::optional<std::string> ChangeFilter::relevant_route(const netlink::MessageHeader& header,
                                                        std::span<const std::uint8_t> message) {
  std::string error;
  if (ignored_ports_.count(header.port)) return std::nullopt;
  // Most route events are other protocols' (kernel, dhcp, other agents):
  // rtm_protocol sits in the fixed header, so skip them before parsing attributes.
  if (message.size() >= NLMSG_HDRLEN + sizeof(rtmsg)) {
    rtmsg fixed;
    std::memcpy(&fixed, message.data() + NLMSG_HDRLEN, sizeof fixed);
    if (fixed.rtm_protocol != protocol_ && !adoption_.adopts_protocol(fixed.rtm_protocol)) return std::nullopt;
  }
  auto route = netlink::parse_route_message(message, &error);
  if (!route) return netlink::message_type_name(header.type) + " unreadable: " + error;
  if (route->route.protocol != protocol_) {
    // A route to take over, added (or replaced) by someone else: the next
    // full pass adopts it. Its deletion leaves nothing to do.
    if (header.type == RTM_NEWROUTE && route->is_plain_unicast_or_unreachable() &&
        adoption_.adoptable(route->route))
      return "RTM_NEWROUTE " + route->route.to_string() + " (adoptable)";
    return std::nullopt;
  }
  if (!route->is_plain_unicast_or_unreachable() || route->route.protocol != protocol_ ||
      route->route.table != table_) {
    return std::nullopt;
  }
  last_owned_route_ = OwnedRouteEvent{header.type == RTM_DELROUTE, route->route};
  return netlink::message_type_name(header.type) + " " + route->route.to_string();
}

std::optional<std::string> ChangeFilter::relevant_link(const netlink::MessageHeader& header,
                                                       std::span<const std::uint8_t> message) {
  std::string error;
  auto link = netlink::parse_link_message(message, &error);
  if (!link) return netlink::message_type_name(header.type) + " unreadable: " + error;
  if (!overlay_device_.empty() && link->name == overlay_device_) {
    overlay_index_ = header.type == RTM_DELLINK ? 0 : link->index;
  }
  if (header.type == RTM_NEWLINK && header.port == dump_port_ && header.seq == dump_seq_ && dump_seq_ != 0) {
    link_flags_[link->index] = link->flags;  // our own dump: learn, do not wake
    return std::nullopt;
  }
  if (link->flags & IFF_LOOPBACK) return std::nullopt;
  if (header.type == RTM_DELLINK) {
    link_flags_.erase(link->index);
    return "RTM_DELLINK " + link_label(link->index, link->name);
  }
  auto known = link_flags_.find(link->index);
  // ifi_change names the flags that changed when the kernel knows; carrier
  // changes (linkwatch) arrive with ifi_change 0, so compare with the last
  // flags seen too.
  std::uint32_t changed = link->change & kStateFlags;
  if (known != link_flags_.end()) changed |= (known->second ^ link->flags) & kStateFlags;
  link_flags_[link->index] = link->flags;
  if (changed == 0) return std::nullopt;
  const char* state = !(link->flags & IFF_UP) ? " down" : (link->flags & IFF_RUNNING) ? " up" : " up, no carrier";
  return "RTM_NEWLINK " + link_label(link->index, link->name) + state;
}

std::optional<std::string> ChangeFilter::relevant(const netlink::MessageHeader& header,
                                                  std::span<const std::uint8_t> message) {
  std::string error;
  last_owned_route_.reset();
  switch (header.type) {
    case RTM_NEWROUTE:
    case RTM_DELROUTE:
      return relevant_route(header, message);
    case RTM_NEWNEXTHOP:
    case RTM_DELNEXTHOP: {
      // Our own changes' echoes carry our port; the kernel's own deletions
      // (the link went down or away) carry port 0 and are relevant.
      if (ignored_ports_.count(header.port)) return std::nullopt;
      if (message.size() >= NLMSG_HDRLEN + sizeof(nhmsg)) {
        nhmsg fixed;
        std::memcpy(&fixed, message.data() + NLMSG_HDRLEN, sizeof fixed);
        if (fixed.nh_protocol != protocol_) return std::nullopt;
      }
      auto nexthop = netlink::parse_nexthop_message(message, &error);
      if (!nexthop) return netlink::message_type_name(header.type) + " unreadable: " + error;
      return netlink::message_type_name(header.type) + " " + nexthop->nexthop.to_string();
    }
    case RTM_NEWLINK:
    case RTM_DELLINK:
      return relevant_link(header, message);
    case RTM_NEWADDR:
    case RTM_DELADDR: {
      auto address = netlink::parse_address_message(message, &error);
      if (!address) return netlink::message_type_name(header.type) + " unreadable: " + error;
      // Only global addresses make connected networks (connected_networks()
      // ignores the rest): link-local addresses coming and going change nothing.
      if (address->scope != RT_SCOPE_UNIVERSE) return std::nullopt;
      return netlink::message_type_name(header.type) + " " + address->local.to_string() + "/" +
             std::to_string(address->prefix_length) + " link " + std::to_string(address->index);
    }
    case RTM_NEWNEIGH:
    case RTM_DELNEIGH: {
      // Cheap first: most neighbour churn is ARP/NDP on other links.
      if (overlay_index_ == 0 || header.type != RTM_DELNEIGH) return std::nullopt;
      if (netlink::neighbour_message_index(message).value_or(0) != overlay_index_) return std::nullopt;
      auto entry = netlink::parse_neighbour_message(message, &error);
      if (!entry) return "RTM_DELNEIGH unreadable: " + error;
      std::string what = entry->family == AF_BRIDGE ? "RTM_DELNEIGH fdb" : "RTM_DELNEIGH";
      if (entry->lladdr) what += " " + entry->lladdr->to_string();
      if (entry->destination) what += " " + entry->destination->to_string();
      return what + " dev " + overlay_device_;
    }
    default:
      return std::nullopt;
  }
}

std::optional<std::uint32_t> ChangeFilter::link_flags(std::uint32_t index) const {
  auto it = link_flags_.find(index);
  if (it == link_flags_.end()) return std::nullopt;
  return it->second;
}

NetlinkChangeMonitor::NetlinkChangeMonitor(asio::any_io_executor executor, NetlinkChangeMonitorOptions options)
    : socket_(std::make_unique<netlink::Socket>(
          executor,
          netlink::SocketOptions{event_groups(options), options.receive_buffer, 0, std::chrono::milliseconds(5000)})),
      filter_(options.protocol, options.table),
      backoff_(executor) {
  if (!options.overlay_device.empty()) filter_.watch_overlay_device(options.overlay_device);
  if (options.adoption.enabled()) filter_.watch_adoptable(std::move(options.adoption));
}

NetlinkChangeMonitor::~NetlinkChangeMonitor() = default;

std::error_code NetlinkChangeMonitor::set_receive_buffer(int bytes) {
  return socket_->set_receive_buffer(bytes);
}
int NetlinkChangeMonitor::receive_buffer_size() const {
  return socket_->receive_buffer_size();
}

asio::awaitable<ChangeNotice> NetlinkChangeMonitor::next_change() {
  if (!link_dump_sent_) {
    // Learn every link's flags so a later carrier change (ifi_change 0) is seen.
    const std::uint32_t seq = socket_->reserve_sequence(1);
    if (!socket_->send(netlink::link_dump_request(seq))) filter_.expect_link_dump(socket_->port_id(), seq);
    link_dump_sent_ = true;
  }
  for (;;) {
    ChangeNotice notice;
    notice.only_owned_routes = true;
    std::uint64_t relevant = 0;
    last_events_.clear();
    std::error_code error = co_await socket_->receive_burst(
        [&](const netlink::MessageHeader& header, std::span<const std::uint8_t> message) {
          ++counters_.messages;
          if (auto what = filter_.relevant(header, message)) {
            if (last_events_.size() < kMaxRememberedEvents) last_events_.push_back(*what);
            if (relevant++ == 0) notice.what = std::move(*what);
            const auto& owned = filter_.last_owned_route();
            if (owned && notice.owned_routes.size() < kMaxOwnedRouteEvents) {
              notice.owned_routes.push_back(*owned);
            } else {
              notice.only_owned_routes = false;
            }
          }
        });
    counters_.relevant += relevant;
    if (relevant > 1) notice.what += " (+" + std::to_string(relevant - 1) + " more)";
    if (error.value() == ENOBUFS) {
      ++counters_.overruns;
      notice.relevant = true;
      notice.resync_needed = true;
      notice.only_owned_routes = false;
      notice.what = "netlink event socket overrun (ENOBUFS): events were lost" +
                    (notice.what.empty() ? std::string() : "; last seen: " + notice.what);
      co_return notice;
    }
    if (error == std::errc::operation_canceled) {
      throw boost::system::system_error(asio::error::operation_aborted, "netlink event socket wait cancelled");
    }
    if (error) {
      // Not expected from a bound netlink socket; do not spin on it.
      backoff_.expires_after(std::chrono::seconds(1));
      co_await backoff_.async_wait(asio::as_tuple(asio::use_awaitable));
      notice.relevant = true;
      notice.resync_needed = true;
      notice.only_owned_routes = false;
      notice.what = "netlink event socket receive failed: " + error.message();
      co_return notice;
    }
    if (relevant > 0) {
      notice.relevant = true;
      co_return notice;
    }
  }
}

}  // namespace hostgw::routing
