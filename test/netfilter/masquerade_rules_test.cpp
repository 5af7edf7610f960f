#include "netfilter/masquerade_rules.hpp"

#include <gtest/gtest.h>

#include "test-support/ip_values.hpp"

namespace hostgw::netfilter {
namespace {

using routing::IpAddress;
using routing::IpPrefix;

using test_support::prefixes;
using test_support::addresses;

TEST(MasqueradeSetsTest, CanonicalFormDropsDuplicatesAndCoveredPrefixes) {
  EXPECT_EQ(normalize_prefixes(prefixes({"10.244.2.0/24", "10.244.0.0/16", "10.244.2.0/24", "2001:db8:0:1::/64",
                                         "2001:db8::/48", "10.245.0.0/24", "10.244.0.0/16"})),
            prefixes({"10.244.0.0/16", "10.245.0.0/24", "2001:db8::/48"}));
  auto sets = make_masquerade_sets(prefixes({"10.244.2.0/24", "10.244.1.0/24"}),
                                   addresses({"198.51.100.12", "198.51.100.11", "198.51.100.12"}), {});
  EXPECT_EQ(sets.pod_cidrs, prefixes({"10.244.1.0/24", "10.244.2.0/24"}));
  EXPECT_EQ(sets.node_addresses, addresses({"198.51.100.11", "198.51.100.12"}));
}

TEST(MasqueradeRulesTest, TableScriptReplacesOnlyOurTableInOneScript) {
  auto sets = make_masquerade_sets(prefixes({"10.244.0.0/16", "2001:db8:244::/56"}),
                                   addresses({"198.51.100.11", "2001:db8:1::11"}), prefixes({"203.0.113.0/24"}));
  EXPECT_EQ(render_table_script(sets),
            "table inet kube-hostgw\n"
            "delete table inet kube-hostgw\n"
            "table inet kube-hostgw {\n"
            "  set pod-cidrs-v4 {\n    type ipv4_addr\n    flags interval\n    elements = { 10.244.0.0/16 }\n  }\n"
            "  set node-addresses-v4 {\n    type ipv4_addr\n    elements = { 198.51.100.11 }\n  }\n"
            "  set no-masquerade-v4 {\n    type ipv4_addr\n    flags interval\n    elements = { 203.0.113.0/24 }\n  }\n"
            "  set pod-cidrs-v6 {\n    type ipv6_addr\n    flags interval\n    elements = { 2001:db8:244::/56 }\n  }\n"
            "  set node-addresses-v6 {\n    type ipv6_addr\n    elements = { 2001:db8:1::11 }\n  }\n"
            "  set no-masquerade-v6 {\n    type ipv6_addr\n    flags interval\n  }\n"
            "  chain postrouting {\n"
            "    type nat hook postrouting priority 100; policy accept;\n"
            "    ip saddr @pod-cidrs-v4 ip daddr != @pod-cidrs-v4 ip daddr != @node-addresses-v4 ip daddr != "
            "@no-masquerade-v4 ip daddr != 224.0.0.0/4 masquerade comment \"masquerade IPv4 pod traffic leaving the "
            "cluster\"\n"
            "    ip6 saddr @pod-cidrs-v6 ip6 daddr != @pod-cidrs-v6 ip6 daddr != @node-addresses-v6 ip6 daddr != "
            "@no-masquerade-v6 ip6 daddr != ff00::/8 masquerade comment \"masquerade IPv6 pod traffic leaving the "
            "cluster\"\n"
            "  }\n"
            "}\n");
  EXPECT_EQ(render_delete_script(), "table inet kube-hostgw\ndelete table inet kube-hostgw\n");
}

TEST(MasqueradeRulesTest, FullLengthPrefixIsWrittenAsAnAddress) {
  auto sets = make_masquerade_sets({}, {}, prefixes({"203.0.113.7/32"}));
  EXPECT_NE(render_table_script(sets).find("elements = { 203.0.113.7 }"), std::string::npos);
}

TEST(MasqueradeRulesTest, NodeAddedOrRemovedIsOneElementUpdate) {
  auto before = make_masquerade_sets(prefixes({"10.244.1.0/24", "10.244.2.0/24"}),
                                     addresses({"198.51.100.11", "198.51.100.12"}), {});
  auto after = make_masquerade_sets(prefixes({"10.244.1.0/24", "10.244.3.0/24"}),
                                    addresses({"198.51.100.11", "198.51.100.13"}), {});
  auto update = diff_masquerade_sets(before, after);
  ASSERT_EQ(update.sets.size(), 2u);
  EXPECT_EQ(update.sets[0], (SetChange{kPodCidrsV4, false, {"10.244.3.0/24"}, {"10.244.2.0/24"}}));
  EXPECT_EQ(update.sets[1], (SetChange{kNodeAddressesV4, false, {"198.51.100.13"}, {"198.51.100.12"}}));
  EXPECT_EQ(update.element_count(), 4u);
  EXPECT_EQ(render_update_script(update),
            "delete element inet kube-hostgw pod-cidrs-v4 { 10.244.2.0/24 }\n"
            "delete element inet kube-hostgw node-addresses-v4 { 198.51.100.12 }\n"
            "add element inet kube-hostgw pod-cidrs-v4 { 10.244.3.0/24 }\n"
            "add element inet kube-hostgw node-addresses-v4 { 198.51.100.13 }\n");
  EXPECT_TRUE(diff_masquerade_sets(after, after).empty());
  EXPECT_EQ(render_update_script({}), "");
}

TEST(MasqueradeRulesTest, OverlappingIntervalChangeFlushesAndRefillsThatSetOnly) {
  auto before = make_masquerade_sets(prefixes({"10.244.1.0/24", "10.244.2.0/24", "2001:db8:244:1::/64"}), {}, {});
  auto after = make_masquerade_sets(prefixes({"10.244.0.0/16", "2001:db8:244:2::/64"}), {}, {});
  auto update = diff_masquerade_sets(before, after);
  ASSERT_EQ(update.sets.size(), 2u);
  EXPECT_EQ(update.sets[0], (SetChange{kPodCidrsV4, true, {"10.244.0.0/16"}, {}}));
  EXPECT_EQ(update.sets[1], (SetChange{kPodCidrsV6, false, {"2001:db8:244:2::/64"}, {"2001:db8:244:1::/64"}}));
  EXPECT_EQ(render_update_script(update),
            "flush set inet kube-hostgw pod-cidrs-v4\n"
            "delete element inet kube-hostgw pod-cidrs-v6 { 2001:db8:244:1::/64 }\n"
            "add element inet kube-hostgw pod-cidrs-v4 { 10.244.0.0/16 }\n"
            "add element inet kube-hostgw pod-cidrs-v6 { 2001:db8:244:2::/64 }\n");
}

// What libnftables 1.0.6 prints for the table render_table_script makes
// (captured from `nft -j list table inet kube-hostgw`), with one foreign
// table's objects mixed in, which must be ignored.
std::string listing(
    const std::string& extra_rule_expr = "",
    const std::string& pod_elements = R"([{"prefix": {"addr": "10.244.0.0", "len": 16}}, "10.245.0.1"])") {
  auto rule = [](const char* p, const char* v, const char* multicast, int len, int handle) {
    std::string family = std::string(v);
    auto match = [&](const char* op, const char* field, const std::string& right) {
      return std::string(R"({"match": {"op": ")") + op + R"(", "left": {"payload": {"protocol": ")" + p +
             R"(", "field": ")" + field + R"("}}, "right": )" + right + "}}";
    };
    return std::string(R"({"rule": {"family": "inet", "table": "kube-hostgw", "chain": "postrouting", "handle": )") +
           std::to_string(handle) + R"(, "comment": "masquerade IPv)" + (family == "v4" ? "4" : "6") +
           R"( pod traffic leaving the cluster", "expr": [)" + match("==", "saddr", "\"@pod-cidrs-" + family + "\"") +
           ", " + match("!=", "daddr", "\"@pod-cidrs-" + family + "\"") + ", " +
           match("!=", "daddr", "\"@node-addresses-" + family + "\"") + ", " +
           match("!=", "daddr", "\"@no-masquerade-" + family + "\"") + ", " +
           match("!=", "daddr",
                 std::string(R"({"prefix": {"addr": ")") + multicast + R"(", "len": )" + std::to_string(len) + "}}") +
           R"(, {"masquerade": null}]}})";
  };
  std::string out =
      R"({"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},)"
      R"({"table": {"family": "inet", "name": "kube-hostgw", "handle": 1}},)"
      R"({"set": {"family": "inet", "name": "pod-cidrs-v4", "table": "kube-hostgw", "type": "ipv4_addr", "handle": 2, "flags": ["interval"], "elem": )" +
      pod_elements +
      R"(}},)"
      R"({"set": {"family": "inet", "name": "node-addresses-v4", "table": "kube-hostgw", "type": "ipv4_addr", "handle": 3, "elem": ["198.51.100.11"]}},)"
      R"({"set": {"family": "inet", "name": "no-masquerade-v4", "table": "kube-hostgw", "type": "ipv4_addr", "handle": 4, "flags": ["interval"]}},)"
      R"({"set": {"family": "inet", "name": "pod-cidrs-v6", "table": "kube-hostgw", "type": "ipv6_addr", "handle": 5, "flags": ["interval"]}},)"
      R"({"set": {"family": "inet", "name": "node-addresses-v6", "table": "kube-hostgw", "type": "ipv6_addr", "handle": 6}},)"
      R"({"set": {"family": "inet", "name": "no-masquerade-v6", "table": "kube-hostgw", "type": "ipv6_addr", "handle": 7, "flags": ["interval"]}},)"
      R"({"set": {"family": "ip", "name": "pod-cidrs-v4", "table": "other", "type": "ipv4_addr", "handle": 2}},)"
      R"({"chain": {"family": "inet", "table": "kube-hostgw", "name": "postrouting", "handle": 1, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}},)";
  out += rule("ip", "v4", "224.0.0.0", 4, 8) + "," + rule("ip6", "v6", "ff00::", 8, 9);
  if (!extra_rule_expr.empty()) {
    out += R"(,{"rule": {"family": "inet", "table": "kube-hostgw", "chain": "postrouting", "handle": 10, "expr": )" +
           extra_rule_expr + "}}";
  }
  out += "]}";
  return out;
}

TEST(MasqueradeListingTest, OurTableReadsBackAsOursWithItsElements) {
  std::string error;
  auto state = parse_table_listing(listing(), &error);
  ASSERT_TRUE(state) << error;
  EXPECT_TRUE(state->present);
  EXPECT_TRUE(state->structure_is_ours()) << state->differences.front();
  EXPECT_EQ(state->sets,
            make_masquerade_sets(prefixes({"10.244.0.0/16", "10.245.0.1/32"}), addresses({"198.51.100.11"}), {}));
}

TEST(MasqueradeListingTest, HandAddedRuleOrForeignElementIsADifference) {
  auto extra = parse_table_listing(listing(R"([{"accept": null}])"));
  ASSERT_TRUE(extra);
  ASSERT_FALSE(extra->structure_is_ours());
  EXPECT_EQ(extra->differences[0], "chain postrouting has 3 rules instead of 2");

  auto range = parse_table_listing(listing("", R"([{"range": ["10.244.0.3", "10.244.0.9"]}])"));
  ASSERT_TRUE(range);
  ASSERT_FALSE(range->structure_is_ours());
  EXPECT_EQ(range->differences[0], "set pod-cidrs-v4 holds {range: ...}, which kube-hostgw never writes");
}

TEST(MasqueradeListingTest, ChangedRuleIsADifference) {
  std::string text = listing();
  auto at = text.find("\"@no-masquerade-v4\"");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, std::string("\"@no-masquerade-v4\"").size(), "\"@node-addresses-v4\"");
  auto state = parse_table_listing(text);
  ASSERT_TRUE(state);
  ASSERT_EQ(state->differences.size(), 1u);
  EXPECT_EQ(state->differences[0], "rule 1 of chain postrouting changed");
}

TEST(MasqueradeListingTest, MissingSetAndNotAListing) {
  std::string text = listing();
  auto at = text.find("{\"set\": {\"family\": \"inet\", \"name\": \"no-masquerade-v6\"");
  auto end = text.find("}},", at);
  text.erase(at, end + 3 - at);
  auto state = parse_table_listing(text);
  ASSERT_TRUE(state);
  EXPECT_EQ(state->differences, std::vector<std::string>{"set no-masquerade-v6 is missing"});

  std::string error;
  EXPECT_FALSE(parse_table_listing("Error: garbage", &error));
  EXPECT_NE(error.find("not an nftables JSON listing"), std::string::npos) << error;
}

TEST(MasqueradePlanTest, EachStateGetsTheSmallestFix) {
  auto desired = make_masquerade_sets(prefixes({"10.244.0.0/16"}), addresses({"198.51.100.11"}), {});
  MasqueradeTableState absent;
  EXPECT_EQ(plan_masquerade(absent, desired).action, MasqueradeAction::replace_table);
  EXPECT_EQ(plan_masquerade(absent, desired).reason, "table inet kube-hostgw is missing");
  EXPECT_EQ(plan_masquerade(absent, std::nullopt).action, MasqueradeAction::none);

  MasqueradeTableState same{true, desired, {}};
  EXPECT_EQ(plan_masquerade(same, desired).action, MasqueradeAction::none);
  EXPECT_EQ(plan_masquerade(same, std::nullopt).action, MasqueradeAction::delete_table);

  MasqueradeTableState fewer{true, make_masquerade_sets(prefixes({"10.244.0.0/16"}), {}, {}), {}};
  auto plan = plan_masquerade(fewer, desired);
  EXPECT_EQ(plan.action, MasqueradeAction::update_elements);
  EXPECT_EQ(plan.update.element_count(), 1u);

  MasqueradeTableState changed{true, desired, {"rule 1 of chain postrouting changed", "set x is not one of ours"}};
  plan = plan_masquerade(changed, desired);
  EXPECT_EQ(plan.action, MasqueradeAction::replace_table);
  EXPECT_EQ(plan.reason, "table inet kube-hostgw differs from ours: rule 1 of chain postrouting changed (and 1 more)");
  EXPECT_EQ(to_string(MasqueradeAction::update_elements), "update elements");
}

}  // namespace
}  // namespace hostgw::netfilter
