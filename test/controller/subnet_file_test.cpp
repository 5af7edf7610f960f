#include "controller/subnet_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "test-support/temp_dir.hpp"

namespace hostgw::controller {
namespace {

using routing::IpPrefix;

std::vector<IpPrefix> prefixes(std::initializer_list<const char*> texts) {
  std::vector<IpPrefix> out;
  for (const char* text : texts) out.push_back(IpPrefix::parse(text));
  return out;
}

TEST(SubnetEnvTest, Ipv4LikeFlannel) {
  SubnetEnv env{prefixes({"10.244.0.0/16"}), prefixes({"10.244.1.0/24"}), 1450, false};
  EXPECT_EQ(render_subnet_env(env),
            "FLANNEL_NETWORK=10.244.0.0/16\n"
            "FLANNEL_SUBNET=10.244.1.1/24\n"
            "FLANNEL_MTU=1450\n"
            "FLANNEL_IPMASQ=false\n");
}

TEST(SubnetEnvTest, DualStack) {
  SubnetEnv env{prefixes({"2001:db8::/48", "10.244.0.0/16"}), prefixes({"10.244.1.0/24", "2001:db8:0:1::/64"}), 1500,
                false};
  EXPECT_EQ(render_subnet_env(env),
            "FLANNEL_NETWORK=10.244.0.0/16\n"
            "FLANNEL_SUBNET=10.244.1.1/24\n"
            "FLANNEL_IPV6_NETWORK=2001:db8::/48\n"
            "FLANNEL_IPV6_SUBNET=2001:db8:0:1::1/64\n"
            "FLANNEL_MTU=1500\n"
            "FLANNEL_IPMASQ=false\n");
}

TEST(SubnetEnvTest, Ipv6OnlyAndCarry) {
  SubnetEnv env{prefixes({"2001:db8::/32"}), prefixes({"2001:db8:ff::/64"}), 9000, false};
  EXPECT_EQ(render_subnet_env(env),
            "FLANNEL_IPV6_NETWORK=2001:db8::/32\n"
            "FLANNEL_IPV6_SUBNET=2001:db8:ff::1/64\n"
            "FLANNEL_MTU=9000\n"
            "FLANNEL_IPMASQ=false\n");
  SubnetEnv host{prefixes({"10.244.0.0/16"}), prefixes({"10.244.1.7/32"}), 1500, false};
  EXPECT_NE(render_subnet_env(host)->find("FLANNEL_SUBNET=10.244.1.7/32\n"), std::string::npos);
}

TEST(SubnetEnvTest, NoPodCidrIsAnError) {
  std::string error;
  EXPECT_FALSE(render_subnet_env(SubnetEnv{prefixes({"10.244.0.0/16"}), {}, 1500, false}, &error));
  EXPECT_EQ(error, "this node has no podCIDR");
}

TEST(SubnetEnvTest, MtuOfTheNodesLink) {
  k8s::NodeInfo self;
  self.internal_ips = {"198.51.100.11"};
  std::vector<routing::ConnectedNetwork> connected = {
      {IpPrefix::parse("203.0.113.0/24"), routing::IpAddress::parse("203.0.113.1"), 3, "eth1", 9000},
      {IpPrefix::parse("198.51.100.0/24"), routing::IpAddress::parse("198.51.100.11"), 2, "eth0", 1450}};
  EXPECT_EQ(node_link_mtu(&self, connected), 1450u);
  EXPECT_EQ(node_link_mtu(nullptr, connected), 9000u);
  EXPECT_EQ(node_link_mtu(nullptr, {}), 1500u);
}

class AtomicWriteTest : public ::testing::Test {
 protected:
  static std::string read(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }
  std::size_t entries() const {
    std::size_t count = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_)) {
      (void)entry;
      ++count;
    }
    return count;
  }

  test_support::TempDir temp_{"khg-subnet"};
  const std::filesystem::path dir_ = temp_.path();
};

TEST_F(AtomicWriteTest, WritesCreatesFolderAndLeavesNoTemporaryFile) {
  auto path = dir_ / "flannel" / "subnet.env";
  auto result = write_file_if_changed(path, "A=1\n");
  ASSERT_FALSE(result.error) << result.message;
  EXPECT_TRUE(result.changed);
  EXPECT_EQ(read(path), "A=1\n");
  EXPECT_EQ(entries(), 2u);  // the folder and the file
  struct stat info {};
  ASSERT_EQ(stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0644u);
}

TEST_F(AtomicWriteTest, SameContentIsNotRewritten) {
  auto path = dir_ / "subnet.env";
  ASSERT_TRUE(write_file_if_changed(path, "A=1\n").changed);
  struct stat before {};
  ASSERT_EQ(stat(path.c_str(), &before), 0);
  auto result = write_file_if_changed(path, "A=1\n");
  EXPECT_FALSE(result.changed);
  EXPECT_FALSE(result.error);
  struct stat after {};
  ASSERT_EQ(stat(path.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);  // not replaced
}

TEST_F(AtomicWriteTest, NewContentReplacesTheFileByRename) {
  auto path = dir_ / "subnet.env";
  ASSERT_TRUE(write_file_if_changed(path, "A=1\n").changed);
  struct stat before {};
  ASSERT_EQ(stat(path.c_str(), &before), 0);
  // A reader holding the old file keeps seeing the old content.
  std::ifstream old_reader(path);
  auto result = write_file_if_changed(path, "A=2\n");
  EXPECT_TRUE(result.changed);
  EXPECT_EQ(read(path), "A=2\n");
  struct stat after {};
  ASSERT_EQ(stat(path.c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino);
  std::string old_content;
  std::getline(old_reader, old_content);
  EXPECT_EQ(old_content, "A=1");
  EXPECT_EQ(entries(), 1u);
}

TEST_F(AtomicWriteTest, FailureNamesThePathAndKeepsTheOldFile) {
  // A regular file where the folder should be.
  auto blocker = dir_ / "not-a-folder";
  ASSERT_TRUE(write_file_if_changed(blocker, "x").changed);
  auto result = write_file_if_changed(blocker / "subnet.env", "A=1\n");
  EXPECT_TRUE(result.error);
  EXPECT_FALSE(result.changed);
  EXPECT_NE(result.message.find(blocker.string()), std::string::npos) << result.message;
  EXPECT_EQ(read(blocker), "x");
}

}  // namespace
}  // namespace hostgw::controller
