// CniTarget: the conflist is written once this node has a podCIDR, only when
// its content differs, comes back when deleted by hand, follows a podCIDR
// change, and no other file in the folder is ever touched.

#include "controller/cni_target.hpp"

#include <gtest/gtest.h>

#include "test-support/run_until.hpp"
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <fstream>
#include <sstream>

#include "test-support/node_factory.hpp"
#include "test-support/temp_dir.hpp"

namespace hostgw::controller {
namespace {

namespace asio = boost::asio;
using routing::ChangeKind;
using routing::IpAddress;
using routing::IpPrefix;
using test_support::node;
using Type = k8s::NodeEvent::Type;

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class CniTargetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    view_.apply(
        test_support::node_list({node("a", {}, {"198.51.100.11"}), node("b", {"10.244.2.0/24"}, {"198.51.100.12"})}));
    options_.pod_network.cni = true;
    std::ofstream(dir_ / "05-other.conflist") << "{\"name\":\"other\"}\n";
  }

  template <typename T>
  T run(asio::awaitable<T> task) {
    return test_support::run_coroutine(io_, std::move(task));
  }

  Delta full_pass() {
    KernelFacts kernel{connected_, {}};
    DesiredState desired = desired_state(view_, "a", kernel, options_);
    Bindings bindings;
    EXPECT_FALSE(run(target_.read(desired, kernel, bindings)));
    Delta delta = target_.diff(desired, bindings);
    if (!delta.upserts.empty()) {
      auto results = run(target_.apply(delta.upserts));
      for (const auto& result : results) EXPECT_TRUE(result.ok()) << result.message;
    }
    return delta;
  }

  test_support::TempDir dir_{"khg-cni-target"};
  asio::io_context io_;
  CniTarget target_{dir_.path(), false};
  ClusterView view_;
  std::vector<routing::ConnectedNetwork> connected_{
      {IpPrefix::parse("198.51.100.0/24"), IpAddress::parse("198.51.100.11"), 2, "eth0", 1500}};
  DesiredStateOptions options_;
};

TEST_F(CniTargetTest, NothingUntilThisNodeHasAPodCidrThenWrittenOnce) {
  EXPECT_TRUE(full_pass().empty());
  EXPECT_FALSE(std::filesystem::exists(target_.path()));

  view_.apply(test_support::node_event(Type::modified, node("a", {"10.244.1.0/24"}, {"198.51.100.11"})));
  Delta delta = full_pass();
  ASSERT_EQ(delta.upserts.size(), 1u);
  EXPECT_EQ(delta.upserts[0].kind, ChangeKind::add);
  const std::string text = read_text(target_.path());
  EXPECT_NE(text.find("\"subnet\": \"10.244.1.0/24\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"mtu\": 1500"), std::string::npos) << text;

  struct stat before {};
  ASSERT_EQ(::stat(target_.path().c_str(), &before), 0);
  EXPECT_TRUE(full_pass().empty());
  struct stat after {};
  ASSERT_EQ(::stat(target_.path().c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);
  EXPECT_EQ(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
  EXPECT_EQ(read_text(dir_ / "05-other.conflist"), "{\"name\":\"other\"}\n");
}

TEST_F(CniTargetTest, DeletedByHandComesBackChangedPodCidrRewrites) {
  view_.apply(test_support::node_event(Type::modified, node("a", {"10.244.1.0/24"}, {"198.51.100.11"})));
  full_pass();
  std::filesystem::remove(target_.path());
  Delta delta = full_pass();
  ASSERT_EQ(delta.upserts.size(), 1u);
  EXPECT_EQ(delta.upserts[0].kind, ChangeKind::add);
  EXPECT_TRUE(std::filesystem::exists(target_.path()));

  view_.apply(
      test_support::node_event(Type::modified, node("a", {"10.244.1.0/24", "2001:db8:1::/64"}, {"198.51.100.11"})));
  delta = full_pass();
  ASSERT_EQ(delta.upserts.size(), 1u);
  EXPECT_EQ(delta.upserts[0].kind, ChangeKind::replace);
  EXPECT_NE(read_text(target_.path()).find("2001:db8:1::/64"), std::string::npos);
  EXPECT_EQ(read_text(dir_ / "05-other.conflist"), "{\"name\":\"other\"}\n");
}

TEST_F(CniTargetTest, MtuOverrideAndOverlayOverhead) {
  view_.apply(test_support::node_event(Type::modified, node("a", {"10.244.1.0/24"}, {"198.51.100.11"})));
  options_.routes.cross_subnet = CrossSubnet::vxlan;
  full_pass();
  EXPECT_NE(read_text(target_.path()).find("\"mtu\": 1450"), std::string::npos);
  options_.pod_network.mtu = 1400;
  full_pass();
  EXPECT_NE(read_text(target_.path()).find("\"mtu\": 1400"), std::string::npos);
}

TEST_F(CniTargetTest, AnotherNodesChangePlansNothing) {
  DesiredModel model;
  NodeUpdate update;
  update.node = "b";
  auto delta = target_.plan_update(update, model);
  ASSERT_TRUE(delta);
  EXPECT_TRUE(delta->empty());
}

TEST_F(CniTargetTest, DryRunNeverWrites) {
  CniTarget dry(dir_.path(), true);
  view_.apply(test_support::node_event(Type::modified, node("a", {"10.244.1.0/24"}, {"198.51.100.11"})));
  KernelFacts kernel{connected_, {}};
  DesiredState desired = desired_state(view_, "a", kernel, options_);
  Bindings bindings;
  EXPECT_FALSE(run(dry.read(desired, kernel, bindings)));
  Delta delta = dry.diff(desired, bindings);
  ASSERT_EQ(delta.upserts.size(), 1u);
  auto results = run(dry.apply(delta.upserts));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].ok());
  EXPECT_FALSE(std::filesystem::exists(dry.path()));
}

}  // namespace
}  // namespace hostgw::controller
