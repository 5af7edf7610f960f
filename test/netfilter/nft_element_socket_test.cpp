// The element fast path's pure parts: the batch it encodes and how it reads
// the kernel's answers. Against the kernel: nft_masquerade_table_test.cpp.

#include "netfilter/nft_element_socket.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <cerrno>
#include <cstring>

namespace hostgw::netfilter {
namespace {

struct Decoded {
  std::uint16_t type = 0;
  std::uint16_t flags = 0;
  std::uint32_t seq = 0;
  std::uint8_t family = 0;
  std::uint16_t resource = 0;
  std::string table, set;
  std::vector<std::uint8_t> key;
};

std::string attribute_text(const nlattr* attribute) {
  return std::string(mnl_attr_get_str(attribute),
                     strnlen(mnl_attr_get_str(attribute), mnl_attr_get_payload_len(attribute)));
}

// Calls visit(attribute) for each attribute in [data, data + length).
template <typename Visit>
void for_each_attribute(const void* data, std::size_t length, Visit&& visit) {
  const auto* attribute = static_cast<const nlattr*>(data);
  int left = static_cast<int>(length);
  while (mnl_attr_ok(attribute, left)) {
    visit(attribute);
    left -= static_cast<int>(MNL_ALIGN(attribute->nla_len));
    attribute = mnl_attr_next(attribute);
  }
  EXPECT_EQ(left, 0) << "bytes after the last attribute";
}

template <typename Visit>
void for_each_nested(const nlattr* nest, Visit&& visit) {
  for_each_attribute(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), visit);
}

// Every message of a batch, with the attributes of an element message.
std::vector<Decoded> decode(const ElementBatch& batch) {
  std::vector<Decoded> out;
  const auto* header = reinterpret_cast<const nlmsghdr*>(batch.bytes.data());
  int left = static_cast<int>(batch.bytes.size());
  while (mnl_nlmsg_ok(header, left)) {
    Decoded decoded;
    decoded.type = header->nlmsg_type;
    decoded.flags = header->nlmsg_flags;
    decoded.seq = header->nlmsg_seq;
    const auto* generic = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(header));
    decoded.family = generic->nfgen_family;
    decoded.resource = ntohs(generic->res_id);
    const std::size_t offset = MNL_ALIGN(sizeof(nfgenmsg));
    for_each_attribute(static_cast<const std::uint8_t*>(mnl_nlmsg_get_payload(header)) + offset,
                       mnl_nlmsg_get_payload_len(header) - offset, [&](const nlattr* attribute) {
                         switch (mnl_attr_get_type(attribute)) {
                           case NFTA_SET_ELEM_LIST_TABLE:
                             decoded.table = attribute_text(attribute);
                             break;
                           case NFTA_SET_ELEM_LIST_SET:
                             decoded.set = attribute_text(attribute);
                             break;
                           case NFTA_SET_ELEM_LIST_ELEMENTS:
                             for_each_nested(attribute, [&](const nlattr* element) {
                               EXPECT_EQ(mnl_attr_get_type(element), NFTA_LIST_ELEM);
                               for_each_nested(element, [&](const nlattr* part) {
                                 EXPECT_EQ(mnl_attr_get_type(part), NFTA_SET_ELEM_KEY);
                                 for_each_nested(part, [&](const nlattr* value) {
                                   EXPECT_EQ(mnl_attr_get_type(value), NFTA_DATA_VALUE);
                                   const auto* bytes = static_cast<const std::uint8_t*>(mnl_attr_get_payload(value));
                                   decoded.key.assign(bytes, bytes + mnl_attr_get_payload_len(value));
                                 });
                               });
                             });
                             break;
                           default:
                             ADD_FAILURE() << "unexpected attribute " << mnl_attr_get_type(attribute);
                         }
                       });
    out.push_back(std::move(decoded));
    header = mnl_nlmsg_next(header, &left);
  }
  EXPECT_EQ(left, 0) << "bytes after the last message";
  return out;
}

std::vector<std::uint8_t> bytes_of(const char* address) {
  auto parsed = routing::IpAddress::parse(address);
  return {parsed.data(), parsed.data() + parsed.size()};
}

MasqueradeUpdate node_update(std::vector<std::string> add_v4, std::vector<std::string> remove_v4,
                             std::vector<std::string> add_v6 = {}) {
  MasqueradeUpdate update;
  if (!add_v4.empty() || !remove_v4.empty())
    update.sets.push_back({kNodeAddressesV4, false, std::move(add_v4), std::move(remove_v4)});
  if (!add_v6.empty()) update.sets.push_back({kNodeAddressesV6, false, std::move(add_v6), {}});
  return update;
}

constexpr std::uint16_t kNewElement = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM;
constexpr std::uint16_t kDeleteElement = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELSETELEM;

TEST(ElementBatchTest, OneMessagePerElementDeletesFirstBetweenBeginAndEnd) {
  auto batch =
      encode_element_batch(node_update({"198.51.100.13", "198.51.100.14"}, {"198.51.100.12"}, {"2001:db8:1::13"}), 41);
  ASSERT_TRUE(batch);
  auto messages = decode(*batch);
  ASSERT_EQ(messages.size(), 6u);

  EXPECT_EQ(messages[0].type, NFNL_MSG_BATCH_BEGIN);
  EXPECT_EQ(messages[0].resource, NFNL_SUBSYS_NFTABLES);
  EXPECT_EQ(messages[5].type, NFNL_MSG_BATCH_END);
  EXPECT_EQ(messages[5].resource, NFNL_SUBSYS_NFTABLES);
  for (std::size_t i = 0; i < messages.size(); ++i) {
    EXPECT_EQ(messages[i].seq, 41 + i) << "message " << i;
    EXPECT_TRUE(messages[i].flags & NLM_F_REQUEST) << "message " << i;
  }

  struct Expected {
    std::uint16_t type;
    const char* set;
    const char* address;
  };
  const Expected expected[] = {{kDeleteElement, "node-addresses-v4", "198.51.100.12"},
                               {kNewElement, "node-addresses-v4", "198.51.100.13"},
                               {kNewElement, "node-addresses-v4", "198.51.100.14"},
                               {kNewElement, "node-addresses-v6", "2001:db8:1::13"}};
  for (std::size_t i = 0; i < 4; ++i) {
    const Decoded& message = messages[i + 1];
    EXPECT_EQ(message.type, expected[i].type) << "element " << i;
    EXPECT_EQ(message.family, NFPROTO_INET) << "element " << i;
    EXPECT_EQ(message.table, "kube-hostgw") << "element " << i;
    EXPECT_EQ(message.set, expected[i].set) << "element " << i;
    EXPECT_EQ(message.key, bytes_of(expected[i].address)) << "element " << i;
    // Adds create (never exclusive: an element already there is fine); only
    // the last message asks for an ACK (errors come anyway).
    EXPECT_EQ(bool(message.flags & NLM_F_CREATE), message.type == kNewElement) << "element " << i;
    EXPECT_FALSE(message.flags & NLM_F_EXCL) << "element " << i;
    EXPECT_EQ(bool(message.flags & NLM_F_ACK), i == 3) << "element " << i;
  }
  EXPECT_EQ(batch->last_seq(), 45u);
  ASSERT_EQ(batch->commands.size(), 4u);
  EXPECT_EQ(batch->commands[0], "delete element inet kube-hostgw node-addresses-v4 { 198.51.100.12 }");
  EXPECT_EQ(batch->commands[3], "add element inet kube-hostgw node-addresses-v6 { 2001:db8:1::13 }");
}

TEST(ElementBatchTest, LeavesEverythingButAddressElementsToLibnftables) {
  EXPECT_FALSE(encode_element_batch({}, 1)) << "nothing to write";
  MasqueradeUpdate interval;
  interval.sets.push_back({kPodCidrsV4, false, {"10.244.7.0/24"}, {}});
  EXPECT_FALSE(encode_element_batch(interval, 1)) << "interval set";
  MasqueradeUpdate mixed = node_update({"198.51.100.13"}, {});
  mixed.sets.push_back(interval.sets.front());
  EXPECT_FALSE(encode_element_batch(mixed, 1)) << "one transaction with an interval set";
  MasqueradeUpdate refill = node_update({"198.51.100.13"}, {});
  refill.sets.front().replace_all = true;
  EXPECT_FALSE(encode_element_batch(refill, 1)) << "refill";
  EXPECT_FALSE(encode_element_batch(node_update({"2001:db8:1::13"}, {}), 1)) << "IPv6 address in the IPv4 set";
  EXPECT_FALSE(encode_element_batch(node_update({"198.51.100.300"}, {}), 1)) << "not an address";

  std::vector<std::string> many;
  for (std::size_t i = 0; i <= kMaxBatchElements; ++i)
    many.push_back("100.64." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1));
  EXPECT_FALSE(encode_element_batch(node_update(many, {}), 1)) << "more than kMaxBatchElements";
  std::vector<std::string> many_v6;
  for (std::size_t i = 0; i < kMaxBatchElements / 2 + 1; ++i) many_v6.push_back("2001:db8:1::" + std::to_string(i + 1));
  const std::vector<std::string> half_v4(many.begin(), many.begin() + kMaxBatchElements / 2);
  EXPECT_FALSE(encode_element_batch(node_update(half_v4, {}, many_v6), 1)) << "more than kMaxBatchElements in two sets";
  many.pop_back();
  auto largest = encode_element_batch(node_update(many, {}), 1);
  ASSERT_TRUE(largest);
  EXPECT_EQ(decode(*largest).size(), kMaxBatchElements + 2);
}

// An nlmsgerr answer to `seq`: error 0 is an ACK. With `message`, an extended
// ACK carrying it (the request capped, as NETLINK_CAP_ACK asks).
std::vector<std::uint8_t> answer(std::uint32_t seq, int error, const char* message = nullptr) {
  std::vector<std::uint8_t> bytes(256);
  nlmsghdr* header = mnl_nlmsg_put_header(bytes.data());
  header->nlmsg_type = NLMSG_ERROR;
  header->nlmsg_seq = seq;
  header->nlmsg_flags = NLM_F_CAPPED;
  auto* body = static_cast<nlmsgerr*>(mnl_nlmsg_put_extra_header(header, sizeof(nlmsgerr)));
  body->error = error;
  body->msg.nlmsg_seq = seq;
  body->msg.nlmsg_len = 100;  // the request's length: not what follows, when capped
  if (message) {
    header->nlmsg_flags |= NLM_F_ACK_TLVS;
    mnl_attr_put_strz(header, NLMSGERR_ATTR_MSG, message);
  }
  bytes.resize(header->nlmsg_len);
  return bytes;
}

TEST(BatchAnswersTest, TheLastElementsAckIsSuccess) {
  auto batch = encode_element_batch(node_update({"198.51.100.13", "198.51.100.14"}, {}), 7);
  ASSERT_TRUE(batch);
  BatchAnswers answers(*batch);
  EXPECT_FALSE(answers.complete());
  answers.feed(answer(8, 0));        // an ACK for an element that did not ask: not the end
  answers.feed(answer(3, -ENOENT));  // an earlier batch's answer: ignored
  EXPECT_FALSE(answers.complete());
  EXPECT_FALSE(answers.result().ok);
  EXPECT_EQ(answers.result().error, "nf_tables did not answer the batch");
  answers.feed(answer(9, 0));
  EXPECT_TRUE(answers.complete());
  EXPECT_TRUE(answers.result().ok) << answers.result().error;
}

TEST(BatchAnswersTest, ARefusedElementIsNamedWithTheKernelsWords) {
  auto batch = encode_element_batch(node_update({"198.51.100.13"}, {"198.51.100.99", "198.51.100.98"}), 100);
  ASSERT_TRUE(batch);
  BatchAnswers answers(*batch);
  // Both deletes refused, the add acknowledged, all in one datagram.
  std::vector<std::uint8_t> datagram = answer(101, -ENOENT, "element not found");
  auto second = answer(102, -ENOENT);
  auto ack = answer(103, 0);
  datagram.insert(datagram.end(), second.begin(), second.end());
  datagram.insert(datagram.end(), ack.begin(), ack.end());
  answers.feed(datagram);
  EXPECT_TRUE(answers.complete());
  EXPECT_TRUE(answers.last_acked());
  auto result = answers.result();
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.error,
            "delete element inet kube-hostgw node-addresses-v4 { 198.51.100.99 }: No such file or directory "
            "(element not found) (and 1 more elements refused); nothing of the batch applied");
}

TEST(BatchAnswersTest, ARefusedBatchBeginFailsTheWholeBatch) {
  auto batch = encode_element_batch(node_update({"198.51.100.13"}, {}), 20);
  ASSERT_TRUE(batch);
  BatchAnswers answers(*batch);
  answers.feed(answer(20, -EPERM));
  EXPECT_TRUE(answers.complete());
  EXPECT_FALSE(answers.last_acked());
  EXPECT_EQ(answers.result().error, "nf_tables batch: Operation not permitted; nothing of the batch applied");
}

TEST(BatchAnswersTest, TruncatedOrForeignMessagesAreIgnored) {
  auto batch = encode_element_batch(node_update({"198.51.100.13"}, {}), 20);
  ASSERT_TRUE(batch);
  BatchAnswers answers(*batch);
  auto ack = answer(21, 0);
  answers.feed(std::span<const std::uint8_t>(ack).first(ack.size() - 4));  // cut short
  EXPECT_FALSE(answers.complete());
  auto other = ack;
  reinterpret_cast<nlmsghdr*>(other.data())->nlmsg_type = NLMSG_DONE;
  answers.feed(other);
  EXPECT_FALSE(answers.complete());
  answers.feed(ack);
  EXPECT_TRUE(answers.result().ok);
}

}  // namespace
}  // namespace hostgw::netfilter
