// RouteAdoption (routing/route_adoption.hpp): which routes --adopt-protocol
// may ever take over, dump_adoptable() over the fake, and protocol names.

#include "routing/route_adoption.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "routing/fake_route_table.hpp"

namespace hostgw::routing {
namespace {

Route route(const char* destination, const char* gateway, std::uint8_t protocol = 3, std::uint32_t table = kMainTable) {
  Route r;
  r.destination = IpPrefix::parse(destination);
  if (gateway) r.gateway = IpAddress::parse(gateway);
  r.oif = 2;
  r.protocol = protocol;
  r.table = table;
  return r;
}

RouteAdoption boot_in_cluster() {
  return {{3}, kMainTable, {IpPrefix::parse("10.244.0.0/16"), IpPrefix::parse("2001:db8:244::/48")}};
}

TEST(RouteAdoptionTest, OnlyGatewayRoutesOfTheProtocolInsideTheClusterCidrInTheTable) {
  const RouteAdoption adoption = boot_in_cluster();
  EXPECT_TRUE(adoption.enabled());
  EXPECT_TRUE(adoption.adoptable(route("10.244.2.0/24", "198.51.100.12")));
  EXPECT_TRUE(adoption.adoptable(route("2001:db8:244:2::/64", "2001:db8:100::12")));
  EXPECT_TRUE(adoption.adoptable(route("10.244.0.0/16", "198.51.100.12")));  // the whole CIDR is inside it
  EXPECT_FALSE(adoption.adoptable(route("10.0.0.0/8", "198.51.100.12")));    // covers more than the CIDR
  EXPECT_FALSE(adoption.adoptable(route("203.0.113.0/24", "198.51.100.12")));
  EXPECT_FALSE(adoption.adoptable(route("2001:db8:245::/64", "2001:db8:100::12")));
  EXPECT_FALSE(adoption.adoptable(route("0.0.0.0/0", "198.51.100.1")));
  EXPECT_FALSE(adoption.adoptable(route("10.244.2.0/24", "198.51.100.12", 4)));       // static
  EXPECT_FALSE(adoption.adoptable(route("10.244.2.0/24", "198.51.100.12", 44)));      // ours is not "adopted"
  EXPECT_FALSE(adoption.adoptable(route("10.244.2.0/24", "198.51.100.12", 3, 100)));  // another table
  EXPECT_FALSE(adoption.adoptable(route("10.244.2.0/24", nullptr)));                  // dev cni0, no gateway
  Route unreachable = route("10.244.2.0/24", nullptr);
  unreachable.type = RouteType::unreachable;
  unreachable.oif = 0;
  EXPECT_FALSE(adoption.adoptable(unreachable));
}

TEST(RouteAdoptionTest, DisabledWithoutProtocolsOrClusterCidrs) {
  RouteAdoption adoption = boot_in_cluster();
  adoption.protocols.clear();
  EXPECT_FALSE(adoption.enabled());
  EXPECT_FALSE(adoption.adoptable(route("10.244.2.0/24", "198.51.100.12")));
  adoption = boot_in_cluster();
  adoption.within.clear();
  EXPECT_FALSE(adoption.enabled());
  EXPECT_FALSE(adoption.adoptable(route("10.244.2.0/24", "198.51.100.12")));
  // A default cluster CIDR would make every route "inside": never.
  adoption.within = {IpPrefix::parse("0.0.0.0/0")};
  EXPECT_FALSE(adoption.adoptable(route("10.244.2.0/24", "198.51.100.12")));
}

TEST(RouteAdoptionTest, DumpAdoptableFiltersEveryListedProtocolsDump) {
  boost::asio::io_context io;
  FakeRouteTable table(io.get_executor());
  table.seed(route("10.244.2.0/24", "198.51.100.12"));
  table.seed(route("10.244.3.0/24", "198.51.100.13", 4));
  table.seed(route("10.244.4.0/24", "198.51.100.14", 16));
  table.seed(route("203.0.113.0/24", "198.51.100.13"));
  table.seed(route("10.244.5.0/24", "198.51.100.15", 3, 100));
  RouteAdoption adoption = boot_in_cluster();
  adoption.protocols = {3, 4};
  auto future = boost::asio::co_spawn(io, dump_adoptable(table, adoption), boost::asio::use_future);
  io.run();
  auto result = future.get();
  ASSERT_TRUE(result) << result.error().message;
  std::vector<Route> want{route("10.244.2.0/24", "198.51.100.12"), route("10.244.3.0/24", "198.51.100.13", 4)};
  EXPECT_EQ(*result, want);

  table.fail_next_dump(std::make_error_code(std::errc::timed_out));
  future = boost::asio::co_spawn(io, dump_adoptable(table, adoption), boost::asio::use_future);
  io.restart();
  io.run();
  result = future.get();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, std::errc::timed_out);
  EXPECT_NE(result.error().message.find("proto 3"), std::string::npos) << result.error().message;
}

TEST(RouteProtocolTest, NumbersNamesAndTheRtProtosFile) {
  EXPECT_EQ(parse_route_protocol("boot", ""), 3);
  EXPECT_EQ(parse_route_protocol("static", ""), 4);
  EXPECT_EQ(parse_route_protocol("dhcp", ""), 16);
  EXPECT_EQ(parse_route_protocol("3", ""), 3);
  EXPECT_EQ(parse_route_protocol("255", ""), 255);
  const char* file = "# comment\n  200\tflannel  # ours\n201 kindnet\nbroken line\n";
  EXPECT_EQ(parse_route_protocol("flannel", file), 200);
  EXPECT_EQ(parse_route_protocol("kindnet", file), 201);
  std::string error;
  EXPECT_FALSE(parse_route_protocol("256", file, &error));
  EXPECT_NE(error.find("0 to 255"), std::string::npos) << error;
  EXPECT_FALSE(parse_route_protocol("comment", file, &error));
  EXPECT_NE(error.find("\"comment\" is neither"), std::string::npos) << error;
  EXPECT_FALSE(parse_route_protocol("", file, &error));
  EXPECT_FALSE(parse_route_protocol("-3", file, &error));
  EXPECT_EQ(route_protocol_name(3), "boot");
  EXPECT_EQ(route_protocol_name(44), "44");
}

}  // namespace
}  // namespace hostgw::routing
