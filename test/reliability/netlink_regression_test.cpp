// Regression for a netlink reply the fuzzer found
// (test/fuzz/corpus/netlink_dump/regression-ack-error-int-min): an
// NLMSG_ERROR or NLMSG_DONE carrying INT_MIN as its error made parse_ack
// negate INT_MIN (undefined behaviour; UBSan stops there). A corrupt message
// is now refused with a message instead.

#include <gtest/gtest.h>
#include <linux/netlink.h>

#include <climits>
#include <cstring>
#include <vector>

#include "routing/netlink_message.hpp"

namespace hostgw::routing::netlink {
namespace {

std::vector<std::uint8_t> error_message(std::uint16_t type, int code) {
  std::vector<std::uint8_t> bytes(NLMSG_HDRLEN + sizeof(nlmsgerr), 0);
  nlmsghdr header{};
  header.nlmsg_len = static_cast<std::uint32_t>(bytes.size());
  header.nlmsg_type = type;
  header.nlmsg_seq = 7;
  std::memcpy(bytes.data(), &header, sizeof header);
  nlmsgerr err{};
  err.error = code;
  err.msg.nlmsg_seq = 7;
  std::memcpy(bytes.data() + NLMSG_HDRLEN, &err, sizeof err);
  return bytes;
}

TEST(NetlinkRegressionTest, AckWithIntMinErrorIsRefused) {
  std::string error;
  auto ack = parse_ack(error_message(NLMSG_ERROR, INT_MIN), &error);
  RecordProperty("input", "NLMSG_ERROR / NLMSG_DONE with error code INT_MIN (found by netlink_dump_fuzzer)");
  RecordProperty("outcome", ack ? std::string("parsed") : "refused: " + error);
  EXPECT_FALSE(ack.has_value());
  EXPECT_EQ(error, "NLMSG_ERROR carries error -2147483648, not an errno");

  error.clear();
  EXPECT_FALSE(parse_ack(error_message(NLMSG_DONE, INT_MIN), &error).has_value());
  EXPECT_EQ(error, "NLMSG_DONE carries error -2147483648, not an errno");

  // Ordinary errors still parse.
  auto exists = parse_ack(error_message(NLMSG_ERROR, -17), &error);
  ASSERT_TRUE(exists.has_value()) << error;
  EXPECT_EQ(exists->error, 17);
  EXPECT_EQ(exists->acked_seq, 7u);
}

}  // namespace
}  // namespace hostgw::routing::netlink
