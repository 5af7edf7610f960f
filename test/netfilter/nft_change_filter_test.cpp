#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <cstring>

#include "netfilter/nft_change_monitor.hpp"

namespace hostgw::netfilter {
namespace {

// One nftables event: header, nfgenmsg, then attributes.
class Event {
 public:
  Event(std::uint16_t type, std::uint8_t family) {
    bytes_.resize(NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg)));
    nlmsghdr header{};
    header.nlmsg_type = static_cast<std::uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | type);
    std::memcpy(bytes_.data(), &header, sizeof header);
    nfgenmsg generic{};
    generic.nfgen_family = family;
    std::memcpy(bytes_.data() + NLMSG_HDRLEN, &generic, sizeof generic);
  }
  Event& text(std::uint16_t type, const std::string& value) { return attribute(type, value.c_str(), value.size() + 1); }
  Event& be32(std::uint16_t type, std::uint32_t value) {
    value = htonl(value);
    return attribute(type, &value, 4);
  }
  std::vector<std::uint8_t> bytes() const {
    auto out = bytes_;
    std::uint32_t length = static_cast<std::uint32_t>(out.size());
    std::memcpy(out.data(), &length, sizeof length);
    return out;
  }

 private:
  Event& attribute(std::uint16_t type, const void* data, std::size_t size) {
    nlattr attr{static_cast<std::uint16_t>(sizeof(nlattr) + size), type};
    std::size_t at = bytes_.size();
    bytes_.resize(at + NLMSG_ALIGN(attr.nla_len));
    std::memcpy(bytes_.data() + at, &attr, sizeof attr);
    std::memcpy(bytes_.data() + at + sizeof attr, data, size);
    return *this;
  }
  std::vector<std::uint8_t> bytes_;
};

std::vector<std::uint8_t> generation(std::uint32_t pid, const std::string& name) {
  return Event(NFT_MSG_NEWGEN, AF_UNSPEC)
      .be32(NFTA_GEN_ID, 7)
      .be32(NFTA_GEN_PROC_PID, pid)
      .text(NFTA_GEN_PROC_NAME, name)
      .bytes();
}

TEST(NftChangeFilterTest, ForeignChangeToOurTableIsReportedAtTheEndOfItsTransaction) {
  NftChangeFilter filter(100, "kube-hostgw");
  EXPECT_FALSE(filter.feed(Event(NFT_MSG_NEWRULE, NFPROTO_INET).text(NFTA_RULE_TABLE, "kube-hostgw").bytes()));
  EXPECT_FALSE(filter.feed(Event(NFT_MSG_NEWRULE, NFPROTO_INET).text(NFTA_RULE_TABLE, "kube-hostgw").bytes()));
  auto what = filter.feed(generation(4242, "nft"));
  ASSERT_TRUE(what);
  EXPECT_EQ(*what, "rule added in table inet kube-hostgw by nft (pid 4242)");
  // The next transaction starts afresh.
  EXPECT_FALSE(filter.feed(generation(4242, "nft")));
}

TEST(NftChangeFilterTest, OurOwnWritesAndOtherTablesAreNotReported) {
  NftChangeFilter filter(100, "kube-hostgw");
  filter.feed(Event(NFT_MSG_NEWSETELEM, NFPROTO_INET).text(NFTA_SET_ELEM_LIST_TABLE, "kube-hostgw").bytes());
  EXPECT_FALSE(filter.feed(generation(100, "kube-hostgw")));
  // In a container the kernel's pid is another one; the process name decides.
  filter.feed(Event(NFT_MSG_DELSETELEM, NFPROTO_INET).text(NFTA_SET_ELEM_LIST_TABLE, "kube-hostgw").bytes());
  EXPECT_FALSE(filter.feed(generation(31337, "kube-hostgw")));
  // Another table, or a table of the same name in another family.
  filter.feed(Event(NFT_MSG_NEWRULE, NFPROTO_INET).text(NFTA_RULE_TABLE, "filter").bytes());
  filter.feed(Event(NFT_MSG_NEWTABLE, NFPROTO_IPV4).text(NFTA_TABLE_NAME, "kube-hostgw").bytes());
  EXPECT_FALSE(filter.feed(generation(4242, "nft")));
  // Messages of other netfilter subsystems or too short are ignored.
  EXPECT_FALSE(filter.feed(std::vector<std::uint8_t>(4, 0)));
}

TEST(NftChangeFilterTest, TableDeletedByHandIsReported) {
  NftChangeFilter filter(100, "kube-hostgw");
  filter.feed(Event(NFT_MSG_DELTABLE, NFPROTO_INET).text(NFTA_TABLE_NAME, "kube-hostgw").bytes());
  EXPECT_EQ(filter.feed(generation(55, "nft")), "table deleted in table inet kube-hostgw by nft (pid 55)");
}

}  // namespace
}  // namespace hostgw::netfilter
