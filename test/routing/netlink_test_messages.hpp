#pragma once

// Hand-built kernel messages (what the kernel would send) for unit tests of
// the parsers and the change filter. Built field by field with the uapi
// structs, independently of the code under test.

// glibc's <net/if.h> first: <linux/if.h> then adds only what glibc lacks
// (IFF_LOWER_UP). Separate blocks keep clang-format from swapping them.
#include <net/if.h>

#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace hostgw::testing {

class MessageBuilder {
 public:
  MessageBuilder(std::uint16_t type, std::uint16_t flags, std::uint32_t seq, std::uint32_t port) {
    nlmsghdr header{};
    header.nlmsg_type = type;
    header.nlmsg_flags = flags;
    header.nlmsg_seq = seq;
    header.nlmsg_pid = port;
    append(&header, sizeof header);
  }
  template <typename Fixed>
  MessageBuilder& fixed(const Fixed& value) {
    append(&value, sizeof value);
    return *this;
  }
  MessageBuilder& attribute(std::uint16_t type, const void* data, std::size_t size) {
    nlattr attr{};
    attr.nla_len = static_cast<std::uint16_t>(sizeof(nlattr) + size);
    attr.nla_type = type;
    append(&attr, sizeof attr);
    append(data, size);
    return *this;
  }
  MessageBuilder& u32(std::uint16_t type, std::uint32_t value) { return attribute(type, &value, sizeof value); }
  MessageBuilder& text(std::uint16_t type, const std::string& value) {
    return attribute(type, value.c_str(), value.size() + 1);
  }
  std::vector<std::uint8_t> bytes() const {
    std::vector<std::uint8_t> out = bytes_;
    const auto length = static_cast<std::uint32_t>(out.size());
    std::memcpy(out.data(), &length, sizeof length);
    return out;
  }

 private:
  void append(const void* data, std::size_t size) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    bytes_.insert(bytes_.end(), p, p + size);
    bytes_.resize((bytes_.size() + 3) & ~std::size_t{3}, 0);
  }
  std::vector<std::uint8_t> bytes_;
};

inline std::vector<std::uint8_t> link_message(std::uint16_t type, int index, unsigned flags, unsigned change,
                                              const std::string& name, std::uint32_t port = 0, std::uint32_t seq = 0) {
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = index;
  ifi.ifi_flags = flags;
  ifi.ifi_change = change;
  return MessageBuilder(type, 0, seq, port).fixed(ifi).text(IFLA_IFNAME, name).u32(IFLA_MTU, 1500).bytes();
}

inline std::vector<std::uint8_t> address_message(std::uint16_t type, int family, const void* address, std::size_t size,
                                                 std::uint8_t prefix_length, std::uint8_t scope, std::uint32_t index) {
  ifaddrmsg ifa{};
  ifa.ifa_family = static_cast<std::uint8_t>(family);
  ifa.ifa_prefixlen = prefix_length;
  ifa.ifa_scope = scope;
  ifa.ifa_index = index;
  MessageBuilder builder(type, 0, 0, 0);
  builder.fixed(ifa).attribute(IFA_ADDRESS, address, size);
  if (family == AF_INET) builder.attribute(IFA_LOCAL, address, size);
  return builder.bytes();
}

}  // namespace hostgw::testing
