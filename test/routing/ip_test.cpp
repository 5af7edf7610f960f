#include "routing/ip.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <random>
#include <set>
#include <vector>

namespace hostgw::routing {
namespace {

// ---- IpAddress: inputs that parse, and their canonical text ----

struct GoodAddress {
  const char* text;
  Family family;
  const char* canonical;
};

void PrintTo(const GoodAddress& c, std::ostream* os) { *os << '"' << c.text << '"'; }

class GoodAddressTest : public ::testing::TestWithParam<GoodAddress> {};

TEST_P(GoodAddressTest, ParsesAndPrintsCanonically) {
  const GoodAddress& c = GetParam();
  std::string error;
  auto address = IpAddress::try_parse(c.text, &error);
  ASSERT_TRUE(address) << c.text << ": " << error;
  EXPECT_EQ(address->family(), c.family);
  EXPECT_EQ(address->to_string(), c.canonical);
  // The canonical text parses back to the same value.
  EXPECT_EQ(IpAddress::parse(address->to_string()), *address);
}

INSTANTIATE_TEST_SUITE_P(
    Addresses, GoodAddressTest,
    ::testing::Values(GoodAddress{"198.51.100.11", Family::v4, "198.51.100.11"},
                      GoodAddress{"0.0.0.0", Family::v4, "0.0.0.0"},
                      GoodAddress{"255.255.255.255", Family::v4, "255.255.255.255"},
                      GoodAddress{"10.0.0.0", Family::v4, "10.0.0.0"},
                      GoodAddress{"::", Family::v6, "::"},
                      GoodAddress{"::1", Family::v6, "::1"},
                      GoodAddress{"2001:db8::1", Family::v6, "2001:db8::1"},
                      GoodAddress{"2001:DB8:0:0:0:0:0:1", Family::v6, "2001:db8::1"},
                      GoodAddress{"2001:db8:0:0:1:0:0:1", Family::v6, "2001:db8::1:0:0:1"},
                      GoodAddress{"2001:0db8:0000:0001:0000:0000:0000:0000", Family::v6, "2001:db8:0:1::"},
                      GoodAddress{"fe80::", Family::v6, "fe80::"},
                      GoodAddress{"2001:db8:1:2:3:4:5:6", Family::v6, "2001:db8:1:2:3:4:5:6"},
                      GoodAddress{"2001:db8::1:2:3:4:5", Family::v6, "2001:db8:0:1:2:3:4:5"},
                      GoodAddress{"::ffff:198.51.100.1", Family::v6, "::ffff:c633:6401"},
                      GoodAddress{"1:0:1:0:0:0:0:1", Family::v6, "1:0:1::1"}));

// ---- IpAddress: inputs that must be refused, with the reason ----

struct BadInput {
  const char* text;
  const char* reason;  // a piece of the error message
};

void PrintTo(const BadInput& c, std::ostream* os) { *os << '"' << c.text << '"'; }

class BadAddressTest : public ::testing::TestWithParam<BadInput> {};

TEST_P(BadAddressTest, IsRefusedWithAReason) {
  const BadInput& c = GetParam();
  std::string error;
  EXPECT_FALSE(IpAddress::try_parse(c.text, &error)) << c.text;
  EXPECT_NE(error.find(c.reason), std::string::npos) << "error for \"" << c.text << "\" was: " << error;
  EXPECT_THROW(IpAddress::parse(c.text), ParseError);
}

INSTANTIATE_TEST_SUITE_P(
    Addresses, BadAddressTest,
    ::testing::Values(BadInput{"", "empty address"},
                      BadInput{" 10.0.0.1", "whitespace"},
                      BadInput{"10.0.0.1 ", "whitespace"},
                      BadInput{"10.0.0.1\n", "whitespace"},
                      BadInput{"010.1.1.1", "leading zero in IPv4 part 1"},
                      BadInput{"10.1.1.01", "leading zero in IPv4 part 4"},
                      BadInput{"256.1.1.1", "part 1 is larger than 255"},
                      BadInput{"1.2.3.1000", "part 4 is larger than 255"},
                      BadInput{"1.2.3", "has 3 parts, needs 4"},
                      BadInput{"1.2.3.4.5", "more than 4 parts"},
                      BadInput{"1..3.4", "part 2 is empty"},
                      BadInput{"1.2.3.", "part 4 is empty"},
                      BadInput{"1.2.3.x", "part 4 is empty or not a decimal"},
                      BadInput{"-1.2.3.4", "part 1 is empty"},
                      BadInput{"garbage", "part 1 is empty"},
                      BadInput{"1:2:3:4:5:6:7", "7 groups, needs 8"},
                      BadInput{"1:2:3:4:5:6:7:8:9", "more than 8 groups"},
                      BadInput{"1::2::3", "more than one '::'"},
                      BadInput{":1:2:3:4:5:6:7", "starts with a single ':'"},
                      BadInput{"1:2:3:4:5:6:7:", "ends with a single ':'"},
                      BadInput{"12345::", "more than 4 hex digits"},
                      BadInput{"2001:db8::g", "unexpected character 'g'"},
                      BadInput{"fe80::1%eth0", "zone index"},
                      BadInput{"1:2:3:4:5:6:7::8", "too many groups"},
                      BadInput{"::ffff:1.2.3", "in embedded IPv4 part"}));

TEST(IpAddressTest, ErrorQuotesTheInputAndEscapesControlCharacters) {
  std::string error;
  EXPECT_FALSE(IpAddress::try_parse("1.2.3.4\x01", &error));
  EXPECT_EQ(error.rfind("\"1.2.3.4\\x01\": ", 0), 0u) << error;
}

TEST(IpAddressTest, ClassifiesSpecialAddresses) {
  EXPECT_TRUE(IpAddress::parse("127.0.0.5").is_loopback());
  EXPECT_TRUE(IpAddress::parse("::1").is_loopback());
  EXPECT_FALSE(IpAddress::parse("::2").is_loopback());
  EXPECT_TRUE(IpAddress::parse("224.0.0.1").is_multicast());
  EXPECT_TRUE(IpAddress::parse("ff02::1").is_multicast());
  EXPECT_TRUE(IpAddress::parse("169.254.3.4").is_link_local());
  EXPECT_TRUE(IpAddress::parse("fe80::1").is_link_local());
  EXPECT_FALSE(IpAddress::parse("fec0::1").is_link_local());
  EXPECT_TRUE(IpAddress::parse("0.0.0.0").is_unspecified());
  EXPECT_TRUE(IpAddress::parse("::").is_unspecified());
  EXPECT_FALSE(IpAddress::parse("198.51.100.1").is_unspecified());
}

TEST(IpAddressTest, OrdersV4BeforeV6ThenNumerically) {
  std::vector<IpAddress> sorted = {IpAddress::parse("2001:db8::1"), IpAddress::parse("198.51.100.20"),
                                   IpAddress::parse("198.51.100.3"), IpAddress::parse("::1")};
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::string> text;
  for (const auto& a : sorted) text.push_back(a.to_string());
  EXPECT_EQ(text, (std::vector<std::string>{"198.51.100.3", "198.51.100.20", "::1", "2001:db8::1"}));
}

// The comparison reads the bytes as two 64-bit words: it must agree with the
// byte-by-byte order everywhere, the boundary between the words included.
TEST(IpAddressTest, OrderIsTheByteOrderAcrossBothWords) {
  std::mt19937 random(20261203);
  std::vector<std::array<std::uint8_t, 16>> bytes;
  for (int i = 0; i < 200; ++i) {
    std::array<std::uint8_t, 16> b{};
    for (auto& byte : b) byte = static_cast<std::uint8_t>(random() % 3 == 0 ? random() : (i % 2) * 0xff);
    bytes.push_back(b);
  }
  auto near = bytes[0];  // differs from bytes[0] only in byte 7, then only in byte 8
  near[7] ^= 0x80;
  bytes.push_back(near);
  near = bytes[0];
  near[8] ^= 0x01;
  bytes.push_back(near);
  for (const auto& x : bytes) {
    for (const auto& y : bytes) {
      const IpAddress a = *IpAddress::from_bytes(x.data(), 16);
      const IpAddress b = *IpAddress::from_bytes(y.data(), 16);
      const bool less = std::lexicographical_compare(x.begin(), x.end(), y.begin(), y.end());
      ASSERT_EQ(a < b, less) << a.to_string() << " vs " << b.to_string();
      ASSERT_EQ(a == b, x == y) << a.to_string() << " vs " << b.to_string();
    }
  }
  const IpAddress v4 = IpAddress::parse("255.255.255.255");
  EXPECT_LT(v4, IpAddress::parse("::"));
  EXPECT_LT(IpAddress::parse("198.51.100.255"), IpAddress::parse("198.51.101.0"));
}

TEST(IpAddressTest, FromBytesChecksTheSize) {
  std::uint8_t bytes[16] = {198, 51, 100, 7};
  EXPECT_EQ(IpAddress::from_bytes(bytes, 4)->to_string(), "198.51.100.7");
  EXPECT_TRUE(IpAddress::from_bytes(bytes, 16)->is_v6());
  EXPECT_FALSE(IpAddress::from_bytes(bytes, 5));
}

// ---- IpPrefix ----

struct GoodPrefix {
  const char* text;
  unsigned length;
  const char* canonical;
};

void PrintTo(const GoodPrefix& c, std::ostream* os) { *os << '"' << c.text << '"'; }

class GoodPrefixTest : public ::testing::TestWithParam<GoodPrefix> {};

TEST_P(GoodPrefixTest, ParsesAndRoundTrips) {
  const GoodPrefix& c = GetParam();
  std::string error;
  auto prefix = IpPrefix::try_parse(c.text, &error);
  ASSERT_TRUE(prefix) << c.text << ": " << error;
  EXPECT_EQ(prefix->length(), c.length);
  EXPECT_EQ(prefix->to_string(), c.canonical);
  EXPECT_EQ(IpPrefix::parse(prefix->to_string()), *prefix);
}

INSTANTIATE_TEST_SUITE_P(Prefixes, GoodPrefixTest,
                         ::testing::Values(GoodPrefix{"10.244.1.0/24", 24, "10.244.1.0/24"},
                                           GoodPrefix{"10.244.0.0/16", 16, "10.244.0.0/16"},
                                           GoodPrefix{"0.0.0.0/0", 0, "0.0.0.0/0"},
                                           GoodPrefix{"198.51.100.7/32", 32, "198.51.100.7/32"},
                                           GoodPrefix{"2001:db8:1::/64", 64, "2001:db8:1::/64"},
                                           GoodPrefix{"2001:DB8:0:0::/48", 48, "2001:db8::/48"},
                                           GoodPrefix{"::/0", 0, "::/0"},
                                           GoodPrefix{"2001:db8::1/128", 128, "2001:db8::1/128"},
                                           GoodPrefix{"10.244.1.128/25", 25, "10.244.1.128/25"}));

class BadPrefixTest : public ::testing::TestWithParam<BadInput> {};

TEST_P(BadPrefixTest, IsRefusedWithAReason) {
  const BadInput& c = GetParam();
  std::string error;
  EXPECT_FALSE(IpPrefix::try_parse(c.text, &error)) << c.text;
  EXPECT_NE(error.find(c.reason), std::string::npos) << "error for \"" << c.text << "\" was: " << error;
  EXPECT_THROW(IpPrefix::parse(c.text), ParseError);
}

INSTANTIATE_TEST_SUITE_P(
    Prefixes, BadPrefixTest,
    ::testing::Values(BadInput{"", "empty prefix"},
                      BadInput{"10.244.1.0/33", "prefix length 33 is longer than 32 bits of an IPv4 address"},
                      BadInput{"10.244.1.1/24", "host bits are set after the first 24 (did you mean 10.244.1.0/24?)"},
                      BadInput{"::ffff:0:0/200", "prefix length 200 is longer than 128"},
                      BadInput{"2001:db8::1/64", "did you mean 2001:db8::/64?"},
                      BadInput{"10.244.1.0", "missing '/length'"},
                      BadInput{"10.244.1.0/", "prefix length is empty"},
                      BadInput{"10.244.1.0/024", "leading zero in prefix length"},
                      BadInput{"10.244.1.0/2x", "not a decimal number"},
                      BadInput{"10.244.1.0/-1", "not a decimal number"},
                      BadInput{"10.244.1.0/24 ", "not a decimal number"},
                      BadInput{" 10.244.1.0/24", "whitespace"},
                      BadInput{"010.244.1.0/24", "leading zero in IPv4 part 1"},
                      BadInput{"garbage/8", "bad address"},
                      BadInput{"10.244.1.0/99999999999", "not a decimal number"}));

TEST(IpPrefixTest, ContainsAddresses) {
  auto prefix = IpPrefix::parse("10.244.0.0/16");
  EXPECT_TRUE(prefix.contains(IpAddress::parse("10.244.0.0")));
  EXPECT_TRUE(prefix.contains(IpAddress::parse("10.244.255.255")));
  EXPECT_FALSE(prefix.contains(IpAddress::parse("10.245.0.0")));
  EXPECT_FALSE(prefix.contains(IpAddress::parse("2001:db8::1"))) << "other family";
  EXPECT_TRUE(IpPrefix::parse("0.0.0.0/0").contains(IpAddress::parse("203.0.113.9")));
  EXPECT_FALSE(IpPrefix::parse("0.0.0.0/0").contains(IpAddress::parse("::1")));
  EXPECT_TRUE(IpPrefix::parse("2001:db8::/32").contains(IpAddress::parse("2001:db8:ffff::1")));
}

struct OverlapCase {
  const char* a;
  const char* b;
  bool a_contains_b;
  bool overlaps;
};

void PrintTo(const OverlapCase& c, std::ostream* os) { *os << c.a << " vs " << c.b; }

class OverlapTest : public ::testing::TestWithParam<OverlapCase> {};

TEST_P(OverlapTest, ContainsAndOverlaps) {
  const OverlapCase& c = GetParam();
  auto a = IpPrefix::parse(c.a), b = IpPrefix::parse(c.b);
  EXPECT_EQ(a.contains(b), c.a_contains_b) << c.a << " contains " << c.b;
  EXPECT_EQ(a.overlaps(b), c.overlaps) << c.a << " overlaps " << c.b;
  EXPECT_EQ(b.overlaps(a), c.overlaps) << "overlaps is symmetric";
}

INSTANTIATE_TEST_SUITE_P(Prefixes, OverlapTest,
                         ::testing::Values(OverlapCase{"10.244.0.0/16", "10.244.3.0/24", true, true},
                                           OverlapCase{"10.244.3.0/24", "10.244.0.0/16", false, true},
                                           OverlapCase{"10.244.3.0/24", "10.244.3.0/24", true, true},
                                           OverlapCase{"10.244.3.0/24", "10.244.4.0/24", false, false},
                                           OverlapCase{"10.244.2.0/23", "10.244.3.0/24", true, true},
                                           OverlapCase{"0.0.0.0/0", "198.51.100.0/24", true, true},
                                           OverlapCase{"0.0.0.0/0", "2001:db8::/32", false, false},
                                           OverlapCase{"2001:db8::/32", "2001:db8:5::/64", true, true},
                                           OverlapCase{"2001:db8:5::/64", "2001:db8:6::/64", false, false}));

TEST(IpPrefixTest, ContainingMasksHostBits) {
  EXPECT_EQ(IpPrefix::containing(IpAddress::parse("198.51.100.77"), 24).to_string(), "198.51.100.0/24");
  EXPECT_EQ(IpPrefix::containing(IpAddress::parse("10.244.1.200"), 25).to_string(), "10.244.1.128/25");
  EXPECT_EQ(IpPrefix::containing(IpAddress::parse("2001:db8::abcd"), 112).to_string(), "2001:db8::/112");
  EXPECT_EQ(IpPrefix::containing(IpAddress::parse("10.1.2.3"), 99).to_string(), "10.1.2.3/32");
}

TEST(IpPrefixTest, ConstructorRefusesHostBitsAndLongLengths) {
  EXPECT_THROW(IpPrefix(IpAddress::parse("10.244.1.1"), 24), ParseError);
  EXPECT_THROW(IpPrefix(IpAddress::parse("10.244.1.0"), 33), ParseError);
  EXPECT_NO_THROW(IpPrefix(IpAddress::parse("10.244.1.0"), 24));
}

TEST(IpPrefixTest, DefaultRouteIsRecognised) {
  EXPECT_TRUE(IpPrefix::parse("0.0.0.0/0").is_default());
  EXPECT_TRUE(IpPrefix::parse("::/0").is_default());
  EXPECT_FALSE(IpPrefix::parse("0.0.0.0/1").is_default());
}

TEST(IpPrefixTest, OrderingIsTotalAndDistinguishesLengths) {
  std::set<IpPrefix> set = {IpPrefix::parse("10.244.0.0/16"), IpPrefix::parse("10.244.0.0/24"),
                            IpPrefix::parse("10.244.0.0/16"), IpPrefix::parse("2001:db8::/64")};
  EXPECT_EQ(set.size(), 3u);
  EXPECT_LT(IpPrefix::parse("10.244.0.0/16"), IpPrefix::parse("10.244.0.0/24"));
  EXPECT_LT(IpPrefix::parse("10.244.0.0/24"), IpPrefix::parse("2001:db8::/64"));
}

}  // namespace
}  // namespace hostgw::routing
