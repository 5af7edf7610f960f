// Fuzz target: IpAddress / IpPrefix parsing (routing/ip.hpp).
//
// Properties:
//  - try_parse never throws; a refusal always carries a message naming the text;
//  - round trip: parse(t) = v  =>  parse(to_string(v)) == v, and to_string is a
//    fixed point (canonical text parses to itself);
//  - the throwing parse() agrees with try_parse();
//  - values built from raw bytes round-trip through text too, and a prefix built
//    with containing() contains its address and is contained by shorter prefixes.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "routing/ip.hpp"

using hostgw::routing::IpAddress;
using hostgw::routing::IpPrefix;
using hostgw::routing::ParseError;

namespace {

void check_address_text(std::string_view text) {
  std::string error;
  auto address = IpAddress::try_parse(text, &error);
  bool threw = false;
  try {
    (void)IpAddress::parse(text);
  } catch (const ParseError&) {
    threw = true;
  }
  KHG_FUZZ_CHECK(threw == !address.has_value(), "parse() and try_parse() disagree on \"%.*s\"",
                 static_cast<int>(text.size()), text.data());
  if (!address) {
    KHG_FUZZ_CHECK(!error.empty(), "address refused without a message");
    return;
  }
  std::string canonical = address->to_string();
  auto again = IpAddress::try_parse(canonical);
  KHG_FUZZ_CHECK(again.has_value(), "canonical text \"%s\" does not parse", canonical.c_str());
  KHG_FUZZ_CHECK(*again == *address, "\"%s\" does not parse back to the same address", canonical.c_str());
  KHG_FUZZ_CHECK(again->to_string() == canonical, "to_string is not canonical for \"%s\"", canonical.c_str());
  KHG_FUZZ_CHECK(address->size() == (address->is_v4() ? 4u : 16u), "size does not match the family");
}

void check_prefix_text(std::string_view text) {
  std::string error;
  auto prefix = IpPrefix::try_parse(text, &error);
  bool threw = false;
  try {
    (void)IpPrefix::parse(text);
  } catch (const ParseError&) {
    threw = true;
  }
  KHG_FUZZ_CHECK(threw == !prefix.has_value(), "prefix parse() and try_parse() disagree");
  if (!prefix) {
    KHG_FUZZ_CHECK(!error.empty(), "prefix refused without a message");
    return;
  }
  std::string canonical = prefix->to_string();
  auto again = IpPrefix::try_parse(canonical);
  KHG_FUZZ_CHECK(again.has_value() && *again == *prefix, "\"%s\" does not parse back to the same prefix",
                 canonical.c_str());
  KHG_FUZZ_CHECK(prefix->length() <= prefix->address().bit_width(), "length past the family width");
  KHG_FUZZ_CHECK(prefix->contains(prefix->address()), "%s does not contain its own address", canonical.c_str());
  KHG_FUZZ_CHECK(prefix->contains(*prefix) && prefix->overlaps(*prefix), "%s not reflexive", canonical.c_str());
  KHG_FUZZ_CHECK(IpPrefix::containing(prefix->address(), prefix->length()) == *prefix,
                 "containing() changes the already-masked prefix %s", canonical.c_str());
}

void check_bytes(const std::uint8_t* data, std::size_t size) {
  // [0]: family selector and length; then 4 or 16 address bytes.
  if (size < 1) return;
  const bool v6 = (data[0] & 0x80) != 0;
  const std::size_t width = v6 ? 16 : 4;
  if (size < 1 + width) return;
  auto address = IpAddress::from_bytes(data + 1, width);
  KHG_FUZZ_CHECK(address.has_value(), "from_bytes refused %zu bytes", width);
  KHG_FUZZ_CHECK(std::memcmp(address->data(), data + 1, width) == 0, "from_bytes changed the bytes");
  auto text = address->to_string();
  auto parsed = IpAddress::try_parse(text);
  KHG_FUZZ_CHECK(parsed && *parsed == *address, "address from bytes does not round-trip through \"%s\"", text.c_str());

  const unsigned length = (data[0] & 0x7f) % (address->bit_width() + 1);
  IpPrefix prefix = IpPrefix::containing(*address, length);
  KHG_FUZZ_CHECK(prefix.contains(*address), "containing(%s, %u) does not contain it", text.c_str(), length);
  auto prefix_text = prefix.to_string();
  auto prefix_parsed = IpPrefix::try_parse(prefix_text);
  KHG_FUZZ_CHECK(prefix_parsed && *prefix_parsed == prefix, "prefix \"%s\" does not round-trip", prefix_text.c_str());
  if (length > 0) {
    IpPrefix wider = IpPrefix::containing(*address, length - 1);
    KHG_FUZZ_CHECK(wider.contains(prefix) && wider.overlaps(prefix) && prefix.overlaps(wider) && !prefix.contains(wider),
                   "%s and its parent %s disagree", prefix_text.c_str(), wider.to_string().c_str());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  check_address_text(text);
  check_prefix_text(text);
  check_bytes(data, size);
  return 0;
}
