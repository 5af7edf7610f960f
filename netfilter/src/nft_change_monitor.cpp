#include "netfilter/nft_change_monitor.hpp"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

#include "netfilter/masquerade_rules.hpp"

namespace hostgw::netfilter {

namespace {

// Attributes after the nfgenmsg header: calls visit(type, payload).
template <typename Visit>
void for_each_attribute(std::span<const std::uint8_t> message, Visit&& visit) {
  std::size_t offset = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg));
  while (offset + sizeof(nlattr) <= message.size()) {
    nlattr attr;
    std::memcpy(&attr, message.data() + offset, sizeof attr);
    if (attr.nla_len < sizeof(nlattr) || offset + attr.nla_len > message.size()) return;
    visit(static_cast<std::uint16_t>(attr.nla_type & NLA_TYPE_MASK),
          message.subspan(offset + sizeof(nlattr), attr.nla_len - sizeof(nlattr)));
    offset += NLMSG_ALIGN(attr.nla_len);
  }
}

std::string text_of(std::span<const std::uint8_t> payload) {
  std::string text(reinterpret_cast<const char*>(payload.data()), payload.size());
  if (auto nul = text.find('\0'); nul != std::string::npos) text.resize(nul);
  return text;
}

// What an event does, for the log: "rule added", "set element deleted", ...
const char* change_name(std::uint16_t message_type) {
  switch (message_type) {
    case NFT_MSG_NEWTABLE:
      return "table created";
    case NFT_MSG_DELTABLE:
      return "table deleted";
    case NFT_MSG_NEWCHAIN:
      return "chain added";
    case NFT_MSG_DELCHAIN:
      return "chain deleted";
    case NFT_MSG_NEWRULE:
      return "rule added";
    case NFT_MSG_DELRULE:
      return "rule deleted";
    case NFT_MSG_NEWSET:
      return "set added";
    case NFT_MSG_DELSET:
      return "set deleted";
    case NFT_MSG_NEWSETELEM:
      return "set element added";
    case NFT_MSG_DELSETELEM:
      return "set element deleted";
    default:
      return nullptr;
  }
}

std::string own_process_name() {
  std::ifstream comm("/proc/self/comm");
  std::string name;
  std::getline(comm, name);
  return name;
}

}  // namespace

NftChangeFilter::NftChangeFilter(std::uint32_t own_pid, std::string own_name)
    : own_pid_(own_pid), own_name_(std::move(own_name)) {}

std::optional<std::string> NftChangeFilter::feed(std::span<const std::uint8_t> message) {
  if (message.size() < NLMSG_HDRLEN + sizeof(nfgenmsg)) return std::nullopt;
  nlmsghdr header;
  std::memcpy(&header, message.data(), sizeof header);
  if ((header.nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES) return std::nullopt;
  const std::uint16_t type = header.nlmsg_type & 0xff;
  nfgenmsg generic;
  std::memcpy(&generic, message.data() + NLMSG_HDRLEN, sizeof generic);

  if (type == NFT_MSG_NEWGEN) {
    std::uint32_t pid = 0;
    std::string name;
    for_each_attribute(message, [&](std::uint16_t attribute, std::span<const std::uint8_t> payload) {
      if (attribute == NFTA_GEN_PROC_PID && payload.size() >= 4) {
        std::uint32_t value;
        std::memcpy(&value, payload.data(), 4);
        pid = ntohl(value);
      } else if (attribute == NFTA_GEN_PROC_NAME) {
        name = text_of(payload);
      }
    });
    std::string touched = std::move(touched_);
    touched_.clear();
    if (touched.empty()) return std::nullopt;
    if (pid == own_pid_ || (!own_name_.empty() && name == own_name_)) return std::nullopt;  // our own write
    return touched + " by " + (name.empty() ? std::string("an unnamed process") : name) + " (pid " +
           std::to_string(pid) + ")";
  }

  const char* change = change_name(type);
  if (!change || generic.nfgen_family != NFPROTO_INET || !touched_.empty()) return std::nullopt;
  // Every one of these messages names its table in attribute 1
  // (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE,
  // NFTA_SET_ELEM_LIST_TABLE).
  std::string table;
  for_each_attribute(message, [&](std::uint16_t attribute, std::span<const std::uint8_t> payload) {
    if (attribute == 1) table = text_of(payload);
  });
  if (table == kTableName) {
    touched_ = std::string(change) + " in table " + std::string(kTableFamily) + " " + std::string(kTableName);
  }
  return std::nullopt;
}

NftChangeMonitor::NftChangeMonitor(boost::asio::any_io_executor executor)
    : socket_(executor), filter_(static_cast<std::uint32_t>(getpid()), own_process_name()), buffer_(64 * 1024) {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "nftables events: socket(NETLINK_NETFILTER)");
  socket_.assign(fd);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0)
    throw std::system_error(errno, std::generic_category(), "nftables events: bind");
  int group = NFNLGRP_NFTABLES;
  if (::setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) != 0)
    throw std::system_error(errno, std::generic_category(), "nftables events: join NFNLGRP_NFTABLES");
  // A table replace at 5000 nodes is ~10 000 element events: room for them,
  // and ENOBUFS (then a resync) if even that is not enough.
  int size = 4 * 1024 * 1024;
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

boost::asio::awaitable<NftChangeNotice> NftChangeMonitor::next_change() {
  for (;;) {
    const ssize_t got = ::recv(socket_.native_handle(), buffer_.data(), buffer_.size(), 0);
    if (got < 0) {
      const int error = errno;
      if (error == EINTR) continue;
      if (error == EAGAIN || error == EWOULDBLOCK) {
        auto [ec] = co_await socket_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                                                boost::asio::as_tuple(boost::asio::use_awaitable));
        if (ec) co_return NftChangeNotice{true, "nftables events: wait: " + ec.message()};
        continue;
      }
      if (error == ENOBUFS) co_return NftChangeNotice{true, "nftables events lost (ENOBUFS)"};
      co_return NftChangeNotice{true, std::string("nftables events: recv: ") + std::strerror(error)};
    }
    std::span<const std::uint8_t> datagram(buffer_.data(), static_cast<std::size_t>(got));
    std::string what;
    while (datagram.size() >= NLMSG_HDRLEN) {
      std::uint32_t length;
      std::memcpy(&length, datagram.data(), sizeof length);
      if (length < NLMSG_HDRLEN || length > datagram.size()) break;
      if (auto change = filter_.feed(datagram.first(length)); change && what.empty()) what = std::move(*change);
      datagram = datagram.subspan(std::min<std::size_t>(NLMSG_ALIGN(length), datagram.size()));
    }
    if (!what.empty()) co_return NftChangeNotice{false, std::move(what)};
  }
}

}  // namespace hostgw::netfilter
