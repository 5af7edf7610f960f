#include "routing/overlay_table.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <cerrno>
#include <set>

#include "routing/fake_overlay_table.hpp"

namespace hostgw::routing {
namespace {

namespace asio = boost::asio;

// --- MacAddress ---------------------------------------------------------------

TEST(MacAddressTest, ParsesAndPrintsLowerCase) {
  MacAddress mac = MacAddress::parse("0E:68:C6:33:64:0b");
  EXPECT_EQ(mac.bytes(), (std::array<std::uint8_t, 6>{0x0e, 0x68, 0xc6, 0x33, 0x64, 0x0b}));
  EXPECT_EQ(mac.to_string(), "0e:68:c6:33:64:0b");
  EXPECT_EQ(MacAddress::parse(mac.to_string()), mac);
  EXPECT_EQ(MacAddress::parse("ff:ff:ff:ff:ff:ff").to_string(), "ff:ff:ff:ff:ff:ff");
  EXPECT_EQ(MacAddress().to_string(), "00:00:00:00:00:00");
}

TEST(MacAddressTest, RefusesMalformedTextNamingIt) {
  struct Case {
    const char* text;
    const char* reason;
  };
  for (const Case& c :
       {Case{"", "is 0 characters long"}, Case{"0e:68:c6:33:64", "is 14 characters long"},
        Case{"0e:68:c6:33:64:0b:", "is 18 characters long"}, Case{"0e-68-c6-33-64-0b", "byte 2 is not preceded by ':'"},
        Case{"0e:68:c6:33:64:0g", "byte 6 is not two hex digits"},
        Case{"0e:68:c6:33:6 :0b", "byte 5 is not two hex digits"},
        Case{"0e:68:c6:33:64+0b", "byte 6 is not preceded by ':'"},
        Case{"0e:68:c6:33:64:\n1", "byte 6 is not two hex digits"}}) {
    try {
      MacAddress::parse(c.text);
      ADD_FAILURE() << "accepted \"" << c.text << "\"";
    } catch (const ParseError& error) {
      std::string what = error.what();
      EXPECT_NE(what.find(c.reason), std::string::npos) << what;
      EXPECT_NE(what.find("MAC address \""), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << "control bytes must be escaped: " << what;
    }
  }
}

TEST(MacAddressTest, OrdersByBytes) {
  EXPECT_LT(MacAddress::parse("0e:68:00:00:00:01"), MacAddress::parse("0e:68:00:00:01:00"));
  EXPECT_NE(MacAddress::parse("0e:68:00:00:00:01"), MacAddress::parse("0e:68:00:00:00:02"));
}

// --- vtep_mac / vtep_address --------------------------------------------------

TEST(VtepMacTest, DerivedFromTheIpv4AddressBytes) {
  struct Case {
    const char* address;
    const char* mac;
  };
  for (const Case& c : {Case{"198.51.100.11", "0e:68:c6:33:64:0b"}, Case{"203.0.113.7", "0e:68:cb:00:71:07"},
                        Case{"10.0.0.1", "0e:68:0a:00:00:01"}, Case{"255.255.255.255", "0e:68:ff:ff:ff:ff"},
                        Case{"100.64.3.232", "0e:68:64:40:03:e8"}}) {
    auto mac = vtep_mac(IpAddress::parse(c.address));
    ASSERT_TRUE(mac) << c.address;
    EXPECT_EQ(mac->to_string(), c.mac) << c.address;
  }
}

TEST(VtepMacTest, LocallyAdministeredUnicastAndUniquePerAddress) {
  std::set<MacAddress> seen;
  // 100.64.0.0/16 is what the 1000-peer benchmark uses: no two collide.
  for (unsigned i = 0; i < 65536; i += 7) {
    IpAddress address = IpAddress::v4({100, 64, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)});
    auto mac = vtep_mac(address);
    ASSERT_TRUE(mac);
    EXPECT_TRUE(mac->bytes()[0] & 0x02) << "locally administered bit: " << mac->to_string();
    EXPECT_FALSE(mac->bytes()[0] & 0x01) << "multicast bit: " << mac->to_string();
    EXPECT_TRUE(seen.insert(*mac).second) << address.to_string();
  }
  // Deterministic: every node computes the same MAC for a peer.
  EXPECT_EQ(vtep_mac(IpAddress::parse("198.51.100.12")), vtep_mac(IpAddress::parse("198.51.100.12")));
}

TEST(VtepMacTest, Ipv6UnderlayIsNotSupported) {
  EXPECT_FALSE(vtep_mac(IpAddress::parse("2001:db8:1::1")));
  EXPECT_FALSE(vtep_mac(IpAddress::parse("::ffff:198.51.100.1")));
}

TEST(VtepAddressTest, FirstAddressOfThePodCidr) {
  EXPECT_EQ(vtep_address(IpPrefix::parse("10.244.9.0/24")), IpAddress::parse("10.244.9.0"));
  EXPECT_EQ(vtep_address(IpPrefix::parse("10.244.128.0/17")), IpAddress::parse("10.244.128.0"));
  EXPECT_EQ(vtep_address(IpPrefix::parse("2001:db8:9::/64")), IpAddress::parse("2001:db8:9::"));
}

// --- check_device_spec ----------------------------------------------------------

VxlanDeviceSpec good_spec() {
  VxlanDeviceSpec spec;
  spec.vni = 4097;
  spec.port = 4790;
  spec.local = IpAddress::parse("198.51.100.11");
  spec.underlay_oif = 2;
  spec.mtu = 1450;
  spec.mac = *vtep_mac(spec.local);
  spec.address = IpPrefix::parse("10.244.1.0/32");
  return spec;
}

TEST(CheckDeviceSpecTest, AcceptsAGoodSpecAndNamesTheBadField) {
  EXPECT_EQ(check_device_spec(good_spec()), "");
  struct Case {
    void (*mutate)(VxlanDeviceSpec&);
    const char* reason;
  };
  const Case cases[] = {
      {[](VxlanDeviceSpec& s) { s.name = ""; }, "device name"},
      {[](VxlanDeviceSpec& s) { s.name = "a-very-long-device-name"; }, "1-15 characters"},
      {[](VxlanDeviceSpec& s) { s.name = "a/b"; }, "contains"},
      {[](VxlanDeviceSpec& s) { s.vni = 0; }, "VNI 0 is outside 1-16777215"},
      {[](VxlanDeviceSpec& s) { s.vni = 1u << 24; }, "VNI 16777216"},
      {[](VxlanDeviceSpec& s) { s.port = 0; }, "UDP port 0"},
      {[](VxlanDeviceSpec& s) { s.local = IpAddress::parse("2001:db8:1::1"); }, "IPv6 underlays are not supported"},
      {[](VxlanDeviceSpec& s) { s.local = IpAddress(); }, "local address 0.0.0.0"},
      {[](VxlanDeviceSpec& s) { s.underlay_oif = 0; }, "underlay_oif 0"},
      {[](VxlanDeviceSpec& s) { s.mtu = 67; }, "MTU 67"},
      {[](VxlanDeviceSpec& s) { s.mtu = 65500; }, "MTU 65500"},
      {[](VxlanDeviceSpec& s) { s.mac = MacAddress::parse("01:00:5e:00:00:01"); }, "multicast"},
      {[](VxlanDeviceSpec& s) { s.mac = MacAddress(); }, "00:00:00:00:00:00"},
      {[](VxlanDeviceSpec& s) { s.address = IpPrefix::parse("10.244.1.0/24"); }, "not an IPv4 /32"},
      {[](VxlanDeviceSpec& s) { s.address6 = IpPrefix::parse("2001:db8:1::/64"); }, "not an IPv6 /128"},
      {[](VxlanDeviceSpec& s) { s.address6 = IpPrefix::parse("10.244.1.0/32"); }, "not an IPv6 /128"},
  };
  VxlanDeviceSpec dual = good_spec();
  dual.address6 = IpPrefix::parse("2001:db8:1::/128");
  EXPECT_EQ(check_device_spec(dual), "");
  for (const Case& c : cases) {
    VxlanDeviceSpec spec = good_spec();
    c.mutate(spec);
    std::string problem = check_device_spec(spec);
    EXPECT_NE(problem.find(c.reason), std::string::npos) << "want '" << c.reason << "', got '" << problem << "'";
  }
}

// --- FakeOverlayTable -----------------------------------------------------------

NeighbourEntry neighbour(const char* address, const char* node) {
  return {IpAddress::parse(address), *vtep_mac(IpAddress::parse(node))};
}
FdbEntry fdb(const char* node) {
  IpAddress address = IpAddress::parse(node);
  return {*vtep_mac(address), address};
}

class FakeOverlayTableTest : public ::testing::Test {
 protected:
  template <typename T>
  T run(asio::awaitable<T> work) {
    auto future = asio::co_spawn(io_, std::move(work), asio::use_future);
    io_.restart();
    io_.run();
    return future.get();
  }
  // ensure_device / dump that must succeed: the value (a failure is recorded).
  EnsuredDevice ensure(const VxlanDeviceSpec& spec) {
    common::Result<EnsuredDevice> result = run(table_.ensure_device(spec));
    if (!result) {
      ADD_FAILURE() << result.error().message;
      return {};
    }
    return *result;
  }
  std::vector<OverlayChangeResult> apply(std::uint32_t index, std::vector<OverlayChange> changes) {
    return run(table_.apply(index, std::move(changes)));
  }
  OverlayDump dump(std::uint32_t index) {
    common::Result<OverlayDump> result = run(table_.dump(index));
    if (!result) {
      ADD_FAILURE() << result.error().message;
      return {};
    }
    return *result;
  }

  asio::io_context io_;
  FakeOverlayTable table_;
};

TEST_F(FakeOverlayTableTest, CreatesOnceThenLeavesAMatchingDeviceAlone) {
  EnsuredDevice first = ensure(good_spec());
  EXPECT_TRUE(first.created);
  EXPECT_NE(first.index, 0u);
  EnsuredDevice second = ensure(good_spec());
  EXPECT_FALSE(second.created);
  EXPECT_FALSE(second.changed);
  EXPECT_EQ(second.index, first.index);
  EXPECT_EQ(table_.creations(), 1u);
  EXPECT_EQ(table_.ensure_calls(), 2u);
  EXPECT_EQ(run(table_.device_index(std::string(kVxlanDeviceName))), first.index);
  const FakeVxlanDevice* device = table_.device(std::string(kVxlanDeviceName));
  ASSERT_NE(device, nullptr);
  EXPECT_EQ(device->spec, good_spec());
  EXPECT_TRUE(device->up);
}

TEST_F(FakeOverlayTableTest, RecreatesOnIdentityChangeDroppingEntries) {
  const std::uint32_t index = ensure(good_spec()).index;
  ASSERT_TRUE(apply(index, {{ChangeKind::add, neighbour("10.244.9.0", "203.0.113.9")}})[0].ok());
  for (auto mutate : {+[](VxlanDeviceSpec& s) { s.vni = 4098; }, +[](VxlanDeviceSpec& s) { s.port = 4791; },
                      +[](VxlanDeviceSpec& s) { s.local = IpAddress::parse("198.51.100.12"); },
                      +[](VxlanDeviceSpec& s) { s.underlay_oif = 3; }}) {
    VxlanDeviceSpec spec = good_spec();
    mutate(spec);
    ensure(good_spec());
    const std::uint32_t before = *run(table_.device_index(spec.name));
    EnsuredDevice result = ensure(spec);
    EXPECT_TRUE(result.created);
    EXPECT_NE(result.index, before);
    EXPECT_TRUE(dump(result.index).neighbours.empty());
    common::Result<OverlayDump> gone = run(table_.dump(before));
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.error().code, std::error_code(ENODEV, std::system_category()));
    EXPECT_EQ(gone.error().message,
              "dump of overlay entries on link " + std::to_string(before) + ": " + gone.error().code.message());
  }
}

TEST_F(FakeOverlayTableTest, FixesMtuMacAddressAndUpStateInPlace) {
  const std::uint32_t index = ensure(good_spec()).index;
  ASSERT_TRUE(apply(index, {{ChangeKind::add, fdb("203.0.113.9")}})[0].ok());
  ASSERT_TRUE(table_.set_mtu_externally(std::string(kVxlanDeviceName), 9000));
  ASSERT_TRUE(table_.set_down_externally(std::string(kVxlanDeviceName)));
  EnsuredDevice result = ensure(good_spec());
  EXPECT_FALSE(result.created);
  EXPECT_TRUE(result.changed);
  EXPECT_EQ(result.index, index);
  EXPECT_EQ(table_.device(index)->spec.mtu, 1450u);
  EXPECT_TRUE(table_.device(index)->up);
  EXPECT_EQ(dump(index).fdb.size(), 1u) << "entries survive an in-place fix";

  VxlanDeviceSpec spec = good_spec();
  spec.address = IpPrefix::parse("10.244.7.0/32");
  result = ensure(spec);
  EXPECT_TRUE(result.changed);
  EXPECT_FALSE(result.created);
  EXPECT_EQ(table_.device(index)->spec.address, spec.address);
}

TEST_F(FakeOverlayTableTest, ReplacesAForeignDeviceOfThatName) {
  const std::uint32_t foreign = table_.seed_foreign_device(std::string(kVxlanDeviceName));
  common::Result<void> left = run(table_.delete_device(std::string(kVxlanDeviceName)));
  ASSERT_FALSE(left) << "delete_device leaves a non-VXLAN device alone";
  EXPECT_EQ(left.error().code.value(), EMEDIUMTYPE);
  EXPECT_EQ(left.error().message.rfind("device hostgw.vxlan: left alone", 0), 0u) << left.error().message;
  EXPECT_NE(table_.device(foreign), nullptr);
  EnsuredDevice result = ensure(good_spec());
  EXPECT_TRUE(result.created);
  EXPECT_NE(result.index, foreign);
  EXPECT_TRUE(table_.device(result.index)->is_vxlan);
}

TEST_F(FakeOverlayTableTest, AdoptsASeededDeviceFromAPreviousRun) {
  const std::uint32_t seeded = table_.seed_device(good_spec());
  ASSERT_TRUE(table_.seed(seeded, neighbour("10.244.9.0", "203.0.113.9")));
  EnsuredDevice result = ensure(good_spec());
  EXPECT_FALSE(result.created);
  EXPECT_FALSE(result.changed);
  EXPECT_EQ(result.index, seeded);
  EXPECT_EQ(dump(seeded).neighbours, std::vector<NeighbourEntry>{neighbour("10.244.9.0", "203.0.113.9")});
}

TEST_F(FakeOverlayTableTest, RefusesABadSpecWithoutTouchingAnything) {
  VxlanDeviceSpec spec = good_spec();
  spec.vni = 0;
  common::Result<EnsuredDevice> result = run(table_.ensure_device(spec));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, std::error_code(EINVAL, std::system_category()));
  EXPECT_NE(result.error().message.find("device hostgw.vxlan: VNI 0"), std::string::npos) << result.error().message;
  EXPECT_EQ(table_.device_count(), 0u);
}

TEST_F(FakeOverlayTableTest, EntriesAddReplaceRemoveAndDumpSorted) {
  const std::uint32_t index = ensure(good_spec()).index;
  auto results = apply(index, {{ChangeKind::add, neighbour("10.244.9.0", "203.0.113.9")},
                               {ChangeKind::add, neighbour("10.244.3.0", "203.0.113.3")},
                               {ChangeKind::add, fdb("203.0.113.9")},
                               {ChangeKind::add, fdb("203.0.113.3")}});
  ASSERT_EQ(results.size(), 4u);
  for (const auto& r : results) EXPECT_TRUE(r.ok()) << r.message;
  OverlayDump d = dump(index);
  EXPECT_EQ(d.neighbours, (std::vector<NeighbourEntry>{neighbour("10.244.3.0", "203.0.113.3"),
                                                       neighbour("10.244.9.0", "203.0.113.9")}));
  EXPECT_EQ(d.fdb, (std::vector<FdbEntry>{fdb("203.0.113.3"), fdb("203.0.113.9")}));

  // Replace: same neighbour address, new MAC; same FDB MAC, new destination.
  NeighbourEntry moved = neighbour("10.244.9.0", "203.0.113.99");
  FdbEntry redirected{fdb("203.0.113.9").mac, IpAddress::parse("203.0.113.10")};
  results = apply(index, {{ChangeKind::replace, moved}, {ChangeKind::replace, redirected}});
  EXPECT_TRUE(results[0].ok());
  EXPECT_TRUE(results[1].ok());
  d = dump(index);
  EXPECT_EQ(d.neighbours[1], moved);
  EXPECT_EQ(d.fdb[1], redirected);
  EXPECT_EQ(d.fdb.size(), 2u);

  // Remove: an FDB remove must name the current destination, like the kernel.
  results = apply(index, {{ChangeKind::remove, fdb("203.0.113.9")},
                          {ChangeKind::remove, redirected},
                          {ChangeKind::remove, moved},
                          {ChangeKind::remove, moved}});
  EXPECT_EQ(results[0].error, ENOENT);
  EXPECT_TRUE(results[1].ok());
  EXPECT_TRUE(results[2].ok());
  EXPECT_EQ(results[3].error, ENOENT) << "a failed message never stops the others";
  d = dump(index);
  EXPECT_EQ(d.neighbours, std::vector<NeighbourEntry>{neighbour("10.244.3.0", "203.0.113.3")});
  EXPECT_EQ(d.fdb, std::vector<FdbEntry>{fdb("203.0.113.3")});
  EXPECT_EQ(table_.writes(), 10u);
  EXPECT_EQ(table_.apply_calls(), 3u);
}

TEST_F(FakeOverlayTableTest, UnknownDeviceAndIpv6DestinationAreRefusedIpv6NeighboursKept) {
  const std::uint32_t index = ensure(good_spec()).index;
  auto results = apply(index + 100, {{ChangeKind::add, fdb("203.0.113.9")}});
  EXPECT_EQ(results[0].error, ENODEV);
  results = apply(index, {{ChangeKind::add, FdbEntry{fdb("203.0.113.9").mac, IpAddress::parse("2001:db8:2::1")}}});
  EXPECT_EQ(results[0].error, EINVAL);
  EXPECT_NE(results[0].message.find("2001:db8:2::1"), std::string::npos);
  EXPECT_NE(results[0].message.find("IPv4 only"), std::string::npos) << results[0].message;
  EXPECT_TRUE(dump(index).fdb.empty());
  // A dual-stack peer's IPv6 VTEP address maps to its (IPv4-derived) MAC.
  const NeighbourEntry v6{IpAddress::parse("2001:db8:9::"), fdb("203.0.113.9").mac};
  results = apply(index, {{ChangeKind::add, v6}});
  EXPECT_TRUE(results[0].ok()) << results[0].message;
  EXPECT_EQ(dump(index).neighbours, std::vector<NeighbourEntry>{v6});
  results = apply(index, {{ChangeKind::remove, v6}});
  EXPECT_TRUE(results[0].ok()) << results[0].message;
  EXPECT_TRUE(dump(index).neighbours.empty());
}

TEST_F(FakeOverlayTableTest, InjectedFailuresAreConsumedOnce) {
  const std::uint32_t index = ensure(good_spec()).index;
  table_.fail_next(fdb("203.0.113.9"), ENOBUFS, "injected");
  auto results =
      apply(index, {{ChangeKind::add, neighbour("10.244.9.0", "203.0.113.9")}, {ChangeKind::add, fdb("203.0.113.9")}});
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].error, ENOBUFS);
  EXPECT_EQ(results[1].message, "injected");
  EXPECT_TRUE(apply(index, {{ChangeKind::add, fdb("203.0.113.9")}})[0].ok());

  table_.fail_next_dump(std::error_code(EIO, std::system_category()));
  common::Result<OverlayDump> dumped = run(table_.dump(index));
  ASSERT_FALSE(dumped);
  EXPECT_EQ(dumped.error().code.value(), EIO);
  EXPECT_EQ(dumped.error().message,
            "dump of overlay entries on link " + std::to_string(index) + ": " + dumped.error().code.message());
  EXPECT_TRUE(run(table_.dump(index)));

  table_.fail_next_ensure(std::error_code(EPERM, std::system_category()));
  common::Result<EnsuredDevice> failed = run(table_.ensure_device(good_spec()));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code.value(), EPERM);
  EXPECT_EQ(failed.error().message, "device hostgw.vxlan: creating the vxlan device: " + failed.error().code.message());
  table_.fail_next_ensure(std::error_code(EPERM, std::system_category()), "adding the VTEP address 10.244.1.0/32");
  failed = run(table_.ensure_device(good_spec()));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message,
            "device hostgw.vxlan: adding the VTEP address 10.244.1.0/32: " + failed.error().code.message());
  EXPECT_TRUE(run(table_.ensure_device(good_spec())));

  table_.fail_next_delete(std::error_code(EBUSY, std::system_category()));
  common::Result<void> deleted = run(table_.delete_device(std::string(kVxlanDeviceName)));
  ASSERT_FALSE(deleted);
  EXPECT_EQ(deleted.error().code.value(), EBUSY);
  EXPECT_EQ(deleted.error().message, "device hostgw.vxlan: deleting it: " + deleted.error().code.message());
  EXPECT_NE(table_.device(index), nullptr);
}

TEST_F(FakeOverlayTableTest, DeleteAndExternalRemoval) {
  const std::uint32_t index = ensure(good_spec()).index;
  ASSERT_TRUE(apply(index, {{ChangeKind::add, neighbour("10.244.9.0", "203.0.113.9")}})[0].ok());
  EXPECT_TRUE(table_.remove_externally(index, neighbour("10.244.9.0", "203.0.113.9")));
  EXPECT_FALSE(table_.remove_externally(index, neighbour("10.244.9.0", "203.0.113.9")));
  EXPECT_TRUE(dump(index).neighbours.empty());

  EXPECT_TRUE(table_.remove_device_externally(std::string(kVxlanDeviceName)));
  EXPECT_FALSE(run(table_.device_index(std::string(kVxlanDeviceName))));
  EnsuredDevice again = ensure(good_spec());
  EXPECT_TRUE(again.created);

  EXPECT_TRUE(run(table_.delete_device(std::string(kVxlanDeviceName))));
  EXPECT_EQ(table_.device_count(), 0u);
  EXPECT_TRUE(run(table_.delete_device(std::string(kVxlanDeviceName)))) << "deleting nothing is not an error";
}

}  // namespace
}  // namespace hostgw::routing
