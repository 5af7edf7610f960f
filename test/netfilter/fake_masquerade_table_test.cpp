#include "netfilter/fake_masquerade_table.hpp"

#include <gtest/gtest.h>

namespace hostgw::netfilter {
namespace {

using routing::IpAddress;
using routing::IpPrefix;

MasqueradeSets sets(std::initializer_list<const char*> pods, std::initializer_list<const char*> nodes) {
  std::vector<IpPrefix> pod_cidrs;
  for (const char* text : pods) pod_cidrs.push_back(IpPrefix::parse(text));
  std::vector<IpAddress> addresses;
  for (const char* text : nodes) addresses.push_back(IpAddress::parse(text));
  return make_masquerade_sets(pod_cidrs, addresses, {});
}

TEST(FakeMasqueradeTableTest, SyncCreatesUpdatesElementsAndDeletes) {
  FakeMasqueradeTable table;
  auto desired = sets({"10.244.0.0/16"}, {"198.51.100.11"});
  auto first = table.sync(desired);
  ASSERT_TRUE(first.result.ok);
  EXPECT_EQ(first.plan.action, MasqueradeAction::replace_table);
  EXPECT_EQ(table.replaces, 1u);
  EXPECT_EQ(table.sync(desired).plan.action, MasqueradeAction::none);

  auto more = sets({"10.244.0.0/16", "2001:db8:244::/48"}, {"198.51.100.11", "198.51.100.12"});
  auto second = table.sync(more);
  ASSERT_TRUE(second.result.ok) << second.result.error;
  EXPECT_EQ(second.plan.action, MasqueradeAction::update_elements);
  EXPECT_EQ(table.elements_changed, 2u);
  EXPECT_EQ(table.state.sets, more);
  EXPECT_EQ(table.replaces, 1u);  // no rebuild

  // Overlapping interval change: flush + refill of that set.
  auto wider = sets({"10.0.0.0/8", "2001:db8:244::/48"}, {"198.51.100.11", "198.51.100.12"});
  ASSERT_TRUE(table.sync(wider).result.ok);
  EXPECT_EQ(table.state.sets, wider);

  auto off = table.sync(std::nullopt);
  EXPECT_EQ(off.plan.action, MasqueradeAction::delete_table);
  EXPECT_FALSE(table.state.present);
}

TEST(FakeMasqueradeTableTest, HandChangedTableIsReplacedFailuresAreValues) {
  FakeMasqueradeTable table;
  auto desired = sets({"10.244.0.0/16"}, {"198.51.100.11"});
  ASSERT_TRUE(table.sync(desired).result.ok);
  table.state.differences = {"chain postrouting has 3 rules instead of 2"};
  EXPECT_EQ(table.sync(desired).plan.action, MasqueradeAction::replace_table);
  EXPECT_TRUE(table.state.differences.empty());

  table.fail_with = "Error: Could not process rule: Operation not permitted";
  auto failed = table.sync(sets({"10.244.0.0/16"}, {"198.51.100.12"}));
  EXPECT_FALSE(failed.result.ok);
  EXPECT_EQ(failed.result.error, table.fail_with);
  EXPECT_EQ(table.state.sets, desired);

  // A delete of a missing element fails the whole update, as nft does.
  table.fail_with.clear();
  MasqueradeUpdate update;
  update.sets.push_back({kNodeAddressesV4, false, {"198.51.100.14"}, {"198.51.100.99"}});
  EXPECT_FALSE(table.update_elements(update).ok);
  EXPECT_EQ(table.state.sets, desired);
}

}  // namespace
}  // namespace hostgw::netfilter
