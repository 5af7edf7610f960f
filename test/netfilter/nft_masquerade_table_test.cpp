// NftMasqueradeTable against the kernel through libnftables, inside network
// namespaces each test creates and deletes (label `netns`, root only).

#include "netfilter/nft_masquerade_table.hpp"

#include <gtest/gtest.h>

#include "test-support/ip_values.hpp"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <memory>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "netfilter/nft_change_monitor.hpp"
#include "test-support/netns_fixture.hpp"

namespace hostgw::netfilter {
namespace {

using routing::IpAddress;
using routing::IpPrefix;

using test_support::prefixes;
using test_support::addresses;

// RssAnon of this process in kB (heap and other anonymous memory).
long anonymous_rss_kb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("RssAnon:", 0) == 0) return std::stol(line.substr(8));
  return -1;
}

class NftMasqueradeTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) to create network namespaces";
    netns_ = std::make_unique<hostgw::testing::ScopedNetns>();
    // Created after setns(): libnftables' socket lives in the test namespace.
    table_ = std::make_unique<NftMasqueradeTable>();
  }
  void TearDown() override {
    table_.reset();
    netns_.reset();
  }

  // `nft <arguments>` inside the namespace.
  std::string nft(const std::string& arguments) {
    auto result = netns_->exec("nft " + arguments);
    EXPECT_EQ(result.status, 0) << "nft " << arguments << ": " << result.output;
    return result.output;
  }
  // "table inet kube-hostgw { # handle 7": changes only when the table is re-created.
  std::string table_header() {
    std::string listing = nft("-a list table inet kube-hostgw");
    return listing.substr(0, listing.find('\n'));
  }
  MasqueradeTableState read() {
    auto read = table_->read_current();
    EXPECT_TRUE(read.result.ok) << read.result.error;
    return read.state;
  }

  std::unique_ptr<hostgw::testing::ScopedNetns> netns_;
  std::unique_ptr<NftMasqueradeTable> table_;
};

const MasqueradeSets kSets =
    make_masquerade_sets(prefixes({"10.244.0.0/16", "2001:db8:244::/56"}),
                         addresses({"198.51.100.11", "198.51.100.12", "2001:db8:1::11"}), prefixes({"203.0.113.0/24"}));

TEST_F(NftMasqueradeTableTest, CreatesOurTableAndReadsItBackAsOurs) {
  auto absent = read();
  EXPECT_FALSE(absent.present);
  auto plan = plan_masquerade(absent, kSets);
  ASSERT_EQ(plan.action, MasqueradeAction::replace_table);
  auto applied = table_->apply(plan, kSets);
  ASSERT_TRUE(applied.ok) << applied.error;

  auto state = read();
  EXPECT_TRUE(state.structure_is_ours()) << (state.differences.empty() ? "" : state.differences.front());
  EXPECT_EQ(state.sets, kSets);
  EXPECT_EQ(plan_masquerade(state, kSets).action, MasqueradeAction::none);  // a second pass changes nothing

  std::string listing = nft("list table inet kube-hostgw");
  EXPECT_NE(listing.find("type nat hook postrouting priority srcnat; policy accept;"), std::string::npos) << listing;
  EXPECT_NE(listing.find("ip saddr @pod-cidrs-v4 ip daddr != @pod-cidrs-v4 ip daddr != @node-addresses-v4 ip daddr "
                         "!= @no-masquerade-v4 ip daddr != 224.0.0.0/4 masquerade"),
            std::string::npos)
      << listing;
  EXPECT_NE(listing.find("ip6 saddr @pod-cidrs-v6 ip6 daddr != @pod-cidrs-v6"), std::string::npos) << listing;
  EXPECT_NE(listing.find("elements = { 198.51.100.11, 198.51.100.12 }"), std::string::npos) << listing;
  EXPECT_NE(listing.find("elements = { 2001:db8:244::/56 }"), std::string::npos) << listing;
}

TEST_F(NftMasqueradeTableTest, ElementUpdatesChangeSetsWithoutRebuildingTheTable) {
  ASSERT_TRUE(table_->replace_table(kSets).ok);
  const std::string header = table_header();
  auto desired = kSets;
  desired.node_addresses = addresses({"198.51.100.11", "198.51.100.13", "2001:db8:1::11"});
  auto plan = plan_masquerade(read(), desired);
  ASSERT_EQ(plan.action, MasqueradeAction::update_elements);
  EXPECT_EQ(plan.update.element_count(), 2u);
  auto applied = table_->apply(plan, desired);
  ASSERT_TRUE(applied.ok) << applied.error;
  EXPECT_EQ(read().sets, desired);
  EXPECT_EQ(table_header(), header);  // same table, same handle

  // An interval change that overlaps what it replaces: the set is flushed
  // and refilled, still in one transaction, still the same table.
  desired.pod_cidrs = normalize_prefixes(prefixes({"10.244.1.0/24", "10.244.2.0/24", "2001:db8:244::/56"}));
  applied = table_->apply(plan_masquerade(read(), desired), desired);
  ASSERT_TRUE(applied.ok) << applied.error;
  desired.pod_cidrs = normalize_prefixes(prefixes({"10.0.0.0/8", "2001:db8:244::/56"}));
  plan = plan_masquerade(read(), desired);
  ASSERT_EQ(plan.action, MasqueradeAction::update_elements);
  ASSERT_TRUE(plan.update.sets[0].replace_all);
  applied = table_->apply(plan, desired);
  ASSERT_TRUE(applied.ok) << applied.error;
  EXPECT_EQ(read().sets, desired);
  EXPECT_EQ(table_header(), header);
}

TEST_F(NftMasqueradeTableTest, SyncCreatesThenChangesNothingThenRemoves) {
  auto first = table_->sync(kSets);
  ASSERT_TRUE(first.result.ok) << first.result.error;
  EXPECT_EQ(first.plan.action, MasqueradeAction::replace_table);
  const std::string ruleset = nft("-a list ruleset");
  // A restart with the same flags: nothing changes, not even handles.
  NftMasqueradeTable restarted;
  auto second = restarted.sync(kSets);
  ASSERT_TRUE(second.result.ok) << second.result.error;
  EXPECT_EQ(second.plan.action, MasqueradeAction::none);
  EXPECT_EQ(nft("-a list ruleset"), ruleset);
  // Restarted without masquerade: our table goes.
  auto off = restarted.sync(std::nullopt);
  ASSERT_TRUE(off.result.ok) << off.result.error;
  EXPECT_EQ(off.plan.action, MasqueradeAction::delete_table);
  EXPECT_EQ(nft("list ruleset"), "");
}

TEST_F(NftMasqueradeTableTest, FailedUpdateChangesNothing) {
  ASSERT_TRUE(table_->replace_table(kSets).ok);
  // Deleting an element that is not there fails the whole transaction,
  // including the valid add before it.
  MasqueradeUpdate update;
  update.sets.push_back({kNodeAddressesV4, false, {"198.51.100.14"}, {"198.51.100.99"}});
  auto result = table_->update_elements(update);
  EXPECT_FALSE(result.ok);
  EXPECT_FALSE(result.error.empty());
  EXPECT_EQ(read().sets, kSets);
}

// Node addresses alone (a node event with --cluster-cidr) go through the
// element socket: nf_tables' own messages, one transaction.
TEST_F(NftMasqueradeTableTest, AddressElementsGoThroughTheElementSocket) {
  ASSERT_TRUE(table_->replace_table(kSets).ok);
  ASSERT_EQ(table_->element_socket_error(), "");
  const std::string header = table_header();
  auto desired = kSets;
  desired.node_addresses = addresses({"198.51.100.11", "198.51.100.13", "2001:db8:1::11", "2001:db8:1::12"});
  auto plan = plan_masquerade(read(), desired);
  ASSERT_EQ(plan.action, MasqueradeAction::update_elements);
  EXPECT_EQ(plan.update.element_count(), 3u);
  auto applied = table_->apply(plan, desired);
  ASSERT_TRUE(applied.ok) << applied.error;
  EXPECT_EQ(table_->element_socket_writes(), 1u);
  EXPECT_EQ(read().sets, desired);
  EXPECT_EQ(table_header(), header);
  EXPECT_NE(nft("list set inet kube-hostgw node-addresses-v6").find("2001:db8:1::12"), std::string::npos);

  // An interval set in the update: libnftables, as before.
  desired.pod_cidrs = normalize_prefixes(prefixes({"10.244.0.0/16", "10.245.0.0/16", "2001:db8:244::/56"}));
  applied = table_->apply(plan_masquerade(read(), desired), desired);
  ASSERT_TRUE(applied.ok) << applied.error;
  EXPECT_EQ(table_->element_socket_writes(), 1u);
  EXPECT_EQ(read().sets, desired);
}

TEST_F(NftMasqueradeTableTest, ARefusedElementIsNamedAndNothingOfItsBatchApplies) {
  ASSERT_TRUE(table_->replace_table(kSets).ok);
  MasqueradeUpdate update;
  update.sets.push_back({kNodeAddressesV4, false, {"198.51.100.14"}, {"198.51.100.99"}});
  auto result = table_->update_elements(update);
  EXPECT_EQ(table_->element_socket_writes(), 1u);
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.error.rfind("delete element inet kube-hostgw node-addresses-v4 { 198.51.100.99 }: "
                               "No such file or directory",
                               0),
            0u)
      << result.error;
  EXPECT_EQ(read().sets, kSets);
  // The same socket goes on: the refused batch's answers are not taken for the next one's.
  update.sets.front().remove.clear();
  result = table_->update_elements(update);
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(table_->element_socket_writes(), 2u);
  EXPECT_NE(nft("list set inet kube-hostgw node-addresses-v4").find("198.51.100.14"), std::string::npos);

  // No table at all: the set is named.
  nft("delete table inet kube-hostgw");
  result = table_->update_elements(update);
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.error.rfind("add element inet kube-hostgw node-addresses-v4 { 198.51.100.14 }: ", 0), 0u)
      << result.error;
  EXPECT_EQ(nft("list tables"), "");
}

TEST_F(NftMasqueradeTableTest, HandChangesAreSeenAndRepaired) {
  ASSERT_TRUE(table_->replace_table(kSets).ok);
  nft("add rule inet kube-hostgw postrouting counter accept");
  auto state = read();
  ASSERT_FALSE(state.structure_is_ours());
  EXPECT_EQ(state.differences.front(), "chain postrouting has 3 rules instead of 2");
  auto plan = plan_masquerade(state, kSets);
  ASSERT_EQ(plan.action, MasqueradeAction::replace_table);
  ASSERT_TRUE(table_->apply(plan, kSets).ok);
  EXPECT_TRUE(read().structure_is_ours());

  nft("add set inet kube-hostgw extra { type ipv4_addr\\; }");
  EXPECT_EQ(read().differences, std::vector<std::string>{"set extra is not one of ours"});
  ASSERT_TRUE(table_->replace_table(kSets).ok);

  nft("delete element inet kube-hostgw node-addresses-v4 { 198.51.100.12 }");
  plan = plan_masquerade(read(), kSets);
  EXPECT_EQ(plan.action, MasqueradeAction::update_elements);
  ASSERT_TRUE(table_->apply(plan, kSets).ok);

  nft("delete table inet kube-hostgw");
  plan = plan_masquerade(read(), kSets);
  EXPECT_EQ(plan.action, MasqueradeAction::replace_table);
  ASSERT_TRUE(table_->apply(plan, kSets).ok);
  EXPECT_EQ(read().sets, kSets);
}

TEST_F(NftMasqueradeTableTest, ForeignTablesAreNeverTouched) {
  nft("add table ip foreign");
  nft("add chain ip foreign post { type nat hook postrouting priority 100 \\; }");
  nft("add rule ip foreign post ip saddr 10.244.0.0/16 masquerade");
  nft("add table inet kube-hostgw-other");
  nft("add set inet kube-hostgw-other pod-cidrs-v4 { type ipv4_addr\\; flags interval\\; }");
  const std::string before = nft("list ruleset");

  ASSERT_TRUE(table_->replace_table(kSets).ok);
  auto desired = kSets;
  desired.node_addresses.push_back(IpAddress::parse("198.51.100.20"));
  ASSERT_TRUE(table_->apply(plan_masquerade(read(), desired), desired).ok);
  auto state = read();
  EXPECT_TRUE(state.structure_is_ours());  // other tables are not read as ours
  ASSERT_TRUE(table_->delete_table().ok);
  EXPECT_EQ(nft("list ruleset"), before);
}

TEST_F(NftMasqueradeTableTest, DeleteRemovesOnlyOurTableAndIsIdempotent) {
  ASSERT_TRUE(table_->replace_table(kSets).ok);
  auto plan = plan_masquerade(read(), std::nullopt);
  ASSERT_EQ(plan.action, MasqueradeAction::delete_table);
  ASSERT_TRUE(table_->apply(plan, {}).ok);
  EXPECT_FALSE(read().present);
  auto again = table_->delete_table();
  EXPECT_TRUE(again.ok) << again.error;
  EXPECT_EQ(nft("list ruleset"), "");
}

// Waits for a notice, at most `limit`; nullopt on timeout.
std::optional<NftChangeNotice> next_change(boost::asio::io_context& io, NftChangeMonitor& monitor,
                                           std::chrono::milliseconds limit) {
  using namespace boost::asio::experimental::awaitable_operators;
  auto wait = [&]() -> boost::asio::awaitable<std::optional<NftChangeNotice>> {
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, limit);
    auto result = co_await (monitor.next_change() || timer.async_wait(boost::asio::use_awaitable));
    if (result.index() == 0) co_return std::get<0>(result);
    co_return std::nullopt;
  };
  auto future = boost::asio::co_spawn(io, wait(), boost::asio::use_future);
  io.restart();
  io.run();
  return future.get();
}

TEST_F(NftMasqueradeTableTest, ChangeMonitorSeesHandChangesToOurTableOnly) {
  boost::asio::io_context io;
  NftChangeMonitor monitor(io.get_executor());
  // Our own writes (this process) do not wake it.
  ASSERT_TRUE(table_->replace_table(kSets).ok);
  auto desired = kSets;
  desired.node_addresses.push_back(IpAddress::parse("198.51.100.30"));
  ASSERT_TRUE(table_->sync(desired).result.ok);
  EXPECT_EQ(table_->element_socket_writes(), 1u) << "the added address went through the element socket";
  EXPECT_FALSE(next_change(io, monitor, std::chrono::milliseconds(300)));
  // Nor does another table.
  nft("add table ip foreign");
  EXPECT_FALSE(next_change(io, monitor, std::chrono::milliseconds(300)));
  // A rule added to ours by hand does.
  nft("add rule inet kube-hostgw postrouting counter accept");
  auto notice = next_change(io, monitor, std::chrono::seconds(2));
  ASSERT_TRUE(notice);
  EXPECT_FALSE(notice->resync_needed);
  EXPECT_EQ(notice->what.rfind("rule added in table inet kube-hostgw by nft (pid ", 0), 0u) << notice->what;
  // So does an element deleted by hand, and the table deleted.
  nft("delete element inet kube-hostgw node-addresses-v4 { 198.51.100.30 }");
  notice = next_change(io, monitor, std::chrono::seconds(2));
  ASSERT_TRUE(notice);
  EXPECT_EQ(notice->what.rfind("set element deleted in table inet kube-hostgw by nft", 0), 0u) << notice->what;
  nft("delete table inet kube-hostgw");
  notice = next_change(io, monitor, std::chrono::seconds(2));
  ASSERT_TRUE(notice);
  EXPECT_NE(notice->what.find("table inet kube-hostgw by nft"), std::string::npos) << notice->what;
}

// 5000 nodes: how long the calls the controller makes on its loop thread take
// (printed; not asserted, the machine is shared).
TEST_F(NftMasqueradeTableTest, FiveThousandNodesTimings) {
  std::vector<IpPrefix> pod_cidrs;
  std::vector<IpAddress> node_addresses;
  for (int i = 0; i < 5000; ++i) {
    pod_cidrs.push_back(IpPrefix::parse("10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24"));
    node_addresses.push_back(IpAddress::parse("100.64." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1)));
  }
  auto all = make_masquerade_sets(pod_cidrs, node_addresses, {});
  const long rss_before = anonymous_rss_kb();
  auto created = table_->replace_table(all);
  ASSERT_TRUE(created.ok) << created.error;
  auto read = table_->read_current();
  ASSERT_TRUE(read.result.ok) << read.result.error;
  EXPECT_EQ(read.state.sets, all);
  EXPECT_TRUE(read.state.structure_is_ours());
  // libnftables' cache and the listing are gone after each call (context per
  // call, heap trimmed): what stays is our own copy of the sets.
  const long rss_after = anonymous_rss_kb();
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer keeps freed memory in quarantine: RSS says nothing there.
#else
  EXPECT_LT(rss_after - rss_before, 3 * 1024) << "RssAnon grew from " << rss_before << " to " << rss_after << " kB";
#endif

  auto one_more = all;
  one_more.node_addresses = node_addresses;
  one_more.node_addresses.push_back(IpAddress::parse("100.64.30.1"));
  one_more.pod_cidrs.push_back(IpPrefix::parse("10.200.0.0/24"));
  one_more = make_masquerade_sets(one_more.pod_cidrs, one_more.node_addresses, {});
  auto plan = plan_masquerade(read.state, one_more);
  ASSERT_EQ(plan.update.element_count(), 2u);
  auto one = table_->apply(plan, one_more);
  ASSERT_TRUE(one.ok) << one.error;

  // What a node event writes with --cluster-cidr: its address alone, through
  // the element socket (median of 21 adds and 21 deletes).
  std::vector<double> address_add_ms, address_delete_ms;
  for (int i = 0; i < 21; ++i) {
    MasqueradeUpdate add;
    add.sets.push_back({kNodeAddressesV4, false, {"100.64.40." + std::to_string(i + 1)}, {}});
    MasqueradeUpdate remove;
    remove.sets.push_back({kNodeAddressesV4, false, {}, {"100.64.40." + std::to_string(i + 1)}});
    auto added = table_->update_elements(add);
    ASSERT_TRUE(added.ok) << added.error;
    auto removed = table_->update_elements(remove);
    ASSERT_TRUE(removed.ok) << removed.error;
    address_add_ms.push_back(added.took.count() / 1000.0);
    address_delete_ms.push_back(removed.took.count() / 1000.0);
  }
  EXPECT_EQ(table_->element_socket_writes(), 42u);
  std::sort(address_add_ms.begin(), address_add_ms.end());
  std::sort(address_delete_ms.begin(), address_delete_ms.end());

  // From empty sets to 5000 + 5000 elements as one element update.
  auto empty = make_masquerade_sets({}, {}, {});
  ASSERT_TRUE(table_->replace_table(empty).ok);
  auto bulk_plan = plan_masquerade(table_->read_current().state, all);
  ASSERT_EQ(bulk_plan.update.element_count(), 10000u);
  auto bulk = table_->apply(bulk_plan, all);
  ASSERT_TRUE(bulk.ok) << bulk.error;

  std::cout << "[ timing   ] replace table with 5000+5000 elements: " << created.took.count() / 1000.0 << " ms\n"
            << "[ timing   ] read back 5000+5000 elements: " << read.result.took.count() / 1000.0 << " ms\n"
            << "[ timing   ] one node added (2 elements, one an interval): " << one.took.count() / 1000.0 << " ms\n"
            << "[ timing   ] one node address added / deleted (element socket), median: " << address_add_ms[10] << " / "
            << address_delete_ms[10] << " ms\n"
            << "[ timing   ] 10000 elements added in one update: " << bulk.took.count() / 1000.0 << " ms\n"
            << "[ memory   ] RssAnon before/after replace+read of 5000+5000: " << rss_before << " / " << rss_after
            << " kB\n";
  RecordProperty("replace_ms", static_cast<int>(created.took.count() / 1000));
  RecordProperty("one_node_ms", static_cast<int>(one.took.count() / 1000));
}

}  // namespace
}  // namespace hostgw::netfilter
