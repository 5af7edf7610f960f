#include "controller/forwarding_check.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

namespace hostgw::controller {
namespace {

TEST(ForwardingCheckTest, ParsesSysctlText) {
  EXPECT_EQ(parse_sysctl_flag("1\n"), true);
  EXPECT_EQ(parse_sysctl_flag("0\n"), false);
  EXPECT_EQ(parse_sysctl_flag("2"), true);
  EXPECT_EQ(parse_sysctl_flag(""), std::nullopt);
  EXPECT_EQ(parse_sysctl_flag("yes\n"), std::nullopt);
  EXPECT_EQ(parse_sysctl_flag("1 2\n"), std::nullopt);
}

class ForwardingFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/khg-sysctl-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    root_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  void write(std::string_view file, const std::string& text) {
    auto path = root_ / file;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  std::filesystem::path root_;
};

TEST_F(ForwardingFilesTest, ReadsBothFamilies) {
  write(kIpv4ForwardingFile, "1\n");
  write(kIpv6ForwardingFile, "0\n");
  ForwardingState state = read_forwarding(root_);
  EXPECT_EQ(state.ipv4, true);
  EXPECT_EQ(state.ipv6, false);
  EXPECT_EQ(state.error, "");
  EXPECT_EQ(forwarding_gauge(state.ipv4), 1);
  EXPECT_EQ(forwarding_gauge(state.ipv6), 0);
}

TEST_F(ForwardingFilesTest, MissingIpv6IsNoIpv6MissingIpv4IsAnError) {
  ForwardingState state = read_forwarding(root_);
  EXPECT_EQ(state.ipv4, std::nullopt);
  EXPECT_EQ(state.ipv6, std::nullopt);
  EXPECT_NE(state.error.find((root_ / kIpv4ForwardingFile).string()), std::string::npos) << state.error;
  EXPECT_EQ(forwarding_gauge(state.ipv4), -1);
  write(kIpv4ForwardingFile, "garbage");
  state = read_forwarding(root_);
  EXPECT_EQ(state.ipv4, std::nullopt);
  EXPECT_NE(state.error.find("not a number"), std::string::npos) << state.error;
}

TEST(ForwardingCheckTest, ReadsTheRealProcFilesWithoutWriting) {
  ForwardingState state = read_forwarding();
  EXPECT_TRUE(state.ipv4.has_value()) << state.error;
}

TEST(ForwardingCheckTest, LogsOnceWhenOffAndOnceWhenBack) {
  ForwardingCheck check;
  ForwardingState off{false, true, ""};
  auto lines = check.update(off, true, true);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].rfind("error: net.ipv4.ip_forward is 0", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("does not change sysctls"), std::string::npos);
  EXPECT_TRUE(check.update(off, true, true).empty());  // once, not on every pass
  EXPECT_TRUE(check.update(off, true, true).empty());
  ForwardingState on{true, true, ""};
  lines = check.update(on, true, true);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].rfind("info: net.ipv4.ip_forward is 1 again", 0), 0u) << lines[0];
  EXPECT_TRUE(check.update(on, true, true).empty());
  EXPECT_EQ(check.update(off, true, true).size(), 1u);  // off again: said again
}

TEST(ForwardingCheckTest, OnlyFamiliesThisNodeNeedsAreReported) {
  ForwardingCheck check;
  ForwardingState v6_off{true, false, ""};
  EXPECT_TRUE(check.update(v6_off, true, false).empty());  // IPv4-only node
  auto lines = check.update(v6_off, true, true);           // an IPv6 podCIDR arrived
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].rfind("error: net.ipv6.conf.all.forwarding is 0", 0), 0u) << lines[0];
  ForwardingState unknown{std::nullopt, true, "cannot read /proc/sys/net/ipv4/ip_forward: Permission denied"};
  lines = check.update(unknown, true, true);  // IPv4 unreadable, IPv6 back on
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("warning: cannot tell whether IPv4 forwarding is on", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("Permission denied"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[1], "info: net.ipv6.conf.all.forwarding is 1 again: IPv6 forwarding problem resolved");
}

}  // namespace
}  // namespace hostgw::controller
