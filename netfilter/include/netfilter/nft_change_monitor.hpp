#pragma once

// Notices that someone else changed kube-hostgw's nftables table, from the
// kernel's nftables events (the NFNLGRP_NFTABLES netlink group, what
// `nft monitor` reads). A transaction's events end with NFT_MSG_NEWGEN, which
// names the process that made it: changes made by this process are not
// reported, changes to other tables are not reported, and a lost event
// (ENOBUFS) is reported as "resync needed".
//
// NftChangeFilter is the pure part (bytes in, a description out);
// NftChangeMonitor owns one NETLINK_NETFILTER socket in the network namespace
// of the thread that constructed it, registered with the caller's io_context.
// It only listens; it never sends a request.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace hostgw::netfilter {

class NftChangeFilter {
 public:
  // `own_pid`/`own_name`: this process (getpid(), /proc/self/comm). The kernel
  // reports the pid as seen from its initial pid namespace, which differs from
  // getpid() in a container: the process name (comm) then decides.
  NftChangeFilter(std::uint32_t own_pid, std::string own_name);

  // Feeds one netlink message. Returns a description ("rule added to table
  // inet kube-hostgw by nft (pid 4242)") when it ends a transaction, made by
  // another process, that touched our table; nullopt otherwise.
  std::optional<std::string> feed(std::span<const std::uint8_t> message);

 private:
  std::uint32_t own_pid_;
  std::string own_name_;
  std::string touched_;  // first change to our table in the current transaction, "" if none
};

struct NftChangeNotice {
  bool resync_needed = false;  // events were lost (or the socket failed): read the table again
  std::string what;
};

class NftChangeMonitor {
 public:
  // Throws std::system_error if the socket cannot be opened or joined to the
  // group (start-up only).
  explicit NftChangeMonitor(boost::asio::any_io_executor executor);

  // Waits for the next foreign change to our table (or lost events). Never
  // throws: a failed wait is reported as resync_needed.
  boost::asio::awaitable<NftChangeNotice> next_change();

 private:
  boost::asio::posix::stream_descriptor socket_;
  NftChangeFilter filter_;
  std::vector<std::uint8_t> buffer_;
};

}  // namespace hostgw::netfilter
