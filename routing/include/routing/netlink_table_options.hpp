#pragma once

// NetlinkTableOptions: how a netlink table (NetlinkRouteTable,
// NetlinkOverlayTable) sets up and uses its request socket. A plain value.

#include <chrono>

namespace hostgw::routing {

struct NetlinkTableOptions {
  // Per request (a window of a batch, a dump).
  std::chrono::milliseconds timeout{5000};
  // SO_RCVBUF asked for: with SO_RCVBUFFORCE 8 MiB holds 8000+ ACKs in
  // flight; without CAP_NET_ADMIN the kernel caps it at net.core.rmem_max and
  // batches are sent in smaller windows.
  int receive_buffer = 8 * 1024 * 1024;
  int send_buffer = 4 * 1024 * 1024;
  // A dump the kernel flags NLM_F_DUMP_INTR is repeated up to this many times.
  int dump_attempts = 5;
};

}  // namespace hostgw::routing
