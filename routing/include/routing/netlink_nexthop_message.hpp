#pragma once

// The wire format of nexthop objects (linux/nexthop.h) as pure functions:
// NexthopChanges -> RTM_NEWNEXTHOP/RTM_DELNEXTHOP bytes, the dump request,
// and RTM_NEWNEXTHOP/RTM_DELNEXTHOP messages -> values. Internal to the
// routing module, like netlink_message.hpp; no socket.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "routing/netlink_message.hpp"
#include "routing/nexthop.hpp"

namespace hostgw::routing::netlink {

// Room one nexthop change needs at most (header + nhmsg + 3 attributes).
inline constexpr std::size_t kMaxNexthopMessageSize = 80;

// Empty if `nexthop` can be sent in a `kind` change; else why not ("nexthop
// id 0", "nexthop ... names no output link").
std::string check_nexthop(ChangeKind kind, const Nexthop& nexthop);

// Appends RTM_NEWNEXTHOP (add: NLM_F_CREATE|NLM_F_EXCL; replace:
// NLM_F_CREATE|NLM_F_REPLACE) with nhmsg {family, scope universe, protocol,
// RTNH_F_ONLINK when onlink} and NHA_ID, NHA_GATEWAY, NHA_OIF; or
// RTM_DELNEXTHOP with NHA_ID only (the kernel deletes by id whoever owns it).
// NLM_F_REQUEST|NLM_F_ACK, sequence number `seq`. Returns the message's length.
std::size_t append_nexthop_change(std::vector<std::uint8_t>& buffer, const NexthopChange& change, std::uint32_t seq);

// RTM_GETNEXTHOP|NLM_F_DUMP, all families (strict checking refuses a
// protocol in the header: the protocol is filtered in user space).
std::vector<std::uint8_t> nexthop_dump_request(std::uint32_t seq);

// RTM_NEWNEXTHOP / RTM_DELNEXTHOP.
struct NexthopMessage {
  MessageHeader header;
  Nexthop nexthop;              // id and protocol always; gateway/oif/onlink when single_gateway
  bool single_gateway = false;  // NHA_GATEWAY and NHA_OIF, no group, blackhole or FDB
};
std::optional<NexthopMessage> parse_nexthop_message(std::span<const std::uint8_t> message,
                                                    std::string* error = nullptr);

}  // namespace hostgw::routing::netlink
