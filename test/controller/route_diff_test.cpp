#include "controller/route_diff.hpp"

#include <gtest/gtest.h>

namespace hostgw::controller {
namespace {

using routing::ChangeKind;
using routing::IpAddress;
using routing::IpPrefix;
using routing::Route;

Route route(const char* destination, const char* gateway, std::uint32_t oif = 2, std::uint32_t metric = 0) {
  Route r;
  r.destination = IpPrefix::parse(destination);
  r.gateway = IpAddress::parse(gateway);
  r.oif = oif;
  r.metric = metric;
  return r;
}

struct DiffCase {
  const char* title;
  std::vector<Route> desired, actual;
  std::vector<Route> adds, replaces, deletes;
};

class RouteDiffTest : public ::testing::TestWithParam<DiffCase> {};

TEST_P(RouteDiffTest, ComputesAddsReplacesDeletes) {
  const auto& c = GetParam();
  RouteDiff result = diff(c.desired, c.actual);
  EXPECT_EQ(result.adds, c.adds) << c.title;
  EXPECT_EQ(result.replaces, c.replaces) << c.title;
  EXPECT_EQ(result.deletes, c.deletes) << c.title;
}

const Route kB = route("10.244.2.0/24", "198.51.100.12");
const Route kC = route("10.244.3.0/24", "198.51.100.13");
const Route kD = route("10.244.4.0/24", "198.51.100.14");
const Route kBNewGateway = route("10.244.2.0/24", "198.51.100.99");
const Route kBNewLink = route("10.244.2.0/24", "198.51.100.12", 5);
const Route kBOtherMetric = route("10.244.2.0/24", "198.51.100.12", 2, 100);
const Route kV6 = route("2001:db8:2::/64", "2001:db8:ffff::12", 2, 1024);
const Route kV6Other = route("2001:db8:2::/64", "2001:db8:ffff::99", 2, 1024);

INSTANTIATE_TEST_SUITE_P(
    Table, RouteDiffTest,
    ::testing::Values(DiffCase{"both empty", {}, {}, {}, {}, {}},
                      DiffCase{"nothing installed", {kB, kC}, {}, {kB, kC}, {}, {}},
                      DiffCase{"all installed", {kB, kC}, {kC, kB}, {}, {}, {}},
                      DiffCase{"nothing wanted", {}, {kB, kC}, {}, {}, {kB, kC}},
                      DiffCase{"gateway changed", {kBNewGateway}, {kB}, {}, {kBNewGateway}, {}},
                      DiffCase{"link changed", {kBNewLink}, {kB}, {}, {kBNewLink}, {}},
                      DiffCase{"other metric is another key", {kBOtherMetric}, {kB}, {kBOtherMetric}, {}, {kB}},
                      DiffCase{"mixed", {kBNewGateway, kC, kV6}, {kB, kD, kV6}, {kC}, {kBNewGateway}, {kD}},
                      DiffCase{"two routes under one key, one wanted", {kV6}, {kV6Other, kV6}, {}, {}, {kV6Other}},
                      DiffCase{"two routes under one key, none wanted",
                               {kV6},
                               {kV6Other, route("2001:db8:2::/64", "2001:db8:ffff::98", 2, 1024)},
                               {kV6},
                               {},
                               {route("2001:db8:2::/64", "2001:db8:ffff::98", 2, 1024), kV6Other}}),
    [](const auto& info) {
      std::string name = info.param.title;
      for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return name;
    });

TEST(RouteDiffBatchTest, DeletesComeFirstThenReplacesThenAdds) {
  RouteDiff result = diff({kBNewGateway, kC}, {kB, kD});
  auto changes = result.changes();
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].kind, ChangeKind::remove);
  EXPECT_EQ(changes[0].route, kD);
  EXPECT_EQ(changes[1].kind, ChangeKind::replace);
  EXPECT_EQ(changes[1].route, kBNewGateway);
  EXPECT_EQ(changes[2].kind, ChangeKind::add);
  EXPECT_EQ(changes[2].route, kC);
  EXPECT_EQ(result.size(), 3u);
  EXPECT_FALSE(result.empty());
  EXPECT_TRUE(diff({kB}, {kB}).empty());
}

}  // namespace
}  // namespace hostgw::controller
