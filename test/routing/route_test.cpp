#include "routing/route.hpp"

#include <gtest/gtest.h>

#include <set>

#include "routing/route_table.hpp"

namespace hostgw::routing {
namespace {

Route route(const char* dst, const char* via, std::uint32_t oif = 2) {
  Route r;
  r.destination = IpPrefix::parse(dst);
  r.gateway = IpAddress::parse(via);
  r.oif = oif;
  return r;
}

TEST(RouteTest, DefaultsAreMainTableAndOurProtocol) {
  Route r;
  EXPECT_EQ(r.table, 254u);
  EXPECT_EQ(r.protocol, kDefaultRouteProtocol);
  EXPECT_EQ(r.metric, 0u);
  EXPECT_FALSE(r.gateway);
}

TEST(RouteTest, ToStringNamesEveryField) {
  Route r = route("10.244.2.0/24", "198.51.100.12", 3);
  EXPECT_EQ(r.to_string(), "10.244.2.0/24 via 198.51.100.12 dev #3 table 254 proto 44 metric 0");
  r.onlink = true;
  r.table = 1000;
  r.metric = 7;
  EXPECT_EQ(r.to_string(), "10.244.2.0/24 via 198.51.100.12 dev #3 table 1000 proto 44 metric 7 onlink");
}

TEST(RouteTest, UnreachableRouteToStringStartsWithTheType) {
  Route r;
  r.destination = IpPrefix::parse("10.244.1.0/24");
  r.type = RouteType::unreachable;
  r.metric = 4278198272u;
  EXPECT_EQ(r.to_string(), "unreachable 10.244.1.0/24 table 254 proto 44 metric 4278198272");
  EXPECT_EQ(to_string(RouteType::unicast), "unicast");
}

TEST(RouteTest, EqualityCoversEveryField) {
  const Route base = route("10.244.2.0/24", "198.51.100.12");
  std::vector<Route> variants(8, base);
  variants[0].destination = IpPrefix::parse("10.244.3.0/24");
  variants[1].gateway = IpAddress::parse("198.51.100.13");
  variants[2].oif = 9;
  variants[3].table = 100;
  variants[4].protocol = 4;
  variants[5].metric = 1;
  variants[6].onlink = true;
  variants[7].type = RouteType::unreachable;
  for (const Route& v : variants) {
    EXPECT_NE(v, base) << v.to_string();
    EXPECT_TRUE(v < base || base < v) << v.to_string();
  }
  EXPECT_EQ(route("10.244.2.0/24", "198.51.100.12"), base);
}

TEST(RouteTest, SetsOfRoutesCanBeDiffed) {
  std::set<Route> desired = {route("10.244.1.0/24", "198.51.100.11"), route("10.244.2.0/24", "198.51.100.12")};
  std::set<Route> actual = {route("10.244.2.0/24", "198.51.100.12"), route("10.244.3.0/24", "198.51.100.13")};
  std::vector<Route> only_desired, only_actual;
  std::set_difference(desired.begin(), desired.end(), actual.begin(), actual.end(), std::back_inserter(only_desired));
  std::set_difference(actual.begin(), actual.end(), desired.begin(), desired.end(), std::back_inserter(only_actual));
  ASSERT_EQ(only_desired.size(), 1u);
  ASSERT_EQ(only_actual.size(), 1u);
  EXPECT_EQ(only_desired[0].destination.to_string(), "10.244.1.0/24");
  EXPECT_EQ(only_actual[0].destination.to_string(), "10.244.3.0/24");
}

TEST(RouteTest, KeyIgnoresGatewayAndLink) {
  Route a = route("10.244.2.0/24", "198.51.100.12", 2);
  Route b = route("10.244.2.0/24", "198.51.100.99", 5);
  EXPECT_EQ(key_of(a), key_of(b));
  b.metric = 10;
  EXPECT_NE(key_of(a), key_of(b));
}

TEST(RouteTest, ChangeKindNames) {
  EXPECT_EQ(to_string(ChangeKind::add), "add");
  EXPECT_EQ(to_string(ChangeKind::replace), "replace");
  EXPECT_EQ(to_string(ChangeKind::remove), "delete");
}

}  // namespace
}  // namespace hostgw::routing
