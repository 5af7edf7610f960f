#pragma once

// IP address and prefix values for IPv4 and IPv6.
//
// Both are small regular types (copyable, comparable, hashable through
// to_string) with strict parsers: text that is not exactly the canonical form
// a Kubernetes object or a kernel dump would carry is refused with a message
// saying what is wrong. They never touch the network or the kernel.

#include <array>
#include <bit>
#include <compare>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace hostgw::routing {

enum class Family : std::uint8_t { v4 = 4, v6 = 6 };

// "IPv4" or "IPv6".
std::string_view to_string(Family family);

// Thrown by the throwing parsers (used at start-up, for flags).
class ParseError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

class IpAddress {
 public:
  static constexpr std::size_t kMaxBytes = 16;

  // The IPv4 address 0.0.0.0.
  IpAddress() = default;

  // Strict parse of dotted-quad IPv4 (no leading zeros, no fewer than four
  // parts) or RFC 4291 IPv6 text (with an optional embedded IPv4 tail; no zone
  // index). On failure returns nullopt and, if `error` is given, stores a
  // message such as `"010.1.1.1": leading zero in IPv4 part 1`.
  static std::optional<IpAddress> try_parse(std::string_view text, std::string* error = nullptr);
  // Same, but throws ParseError with that message.
  static IpAddress parse(std::string_view text);

  // From network-order bytes: 4 for IPv4, 16 for IPv6.
  static IpAddress v4(const std::array<std::uint8_t, 4>& bytes);
  static IpAddress v6(const std::array<std::uint8_t, 16>& bytes);
  // nullopt unless `size` is 4 or 16.
  static std::optional<IpAddress> from_bytes(const void* data, std::size_t size);

  Family family() const { return family_; }
  bool is_v4() const { return family_ == Family::v4; }
  bool is_v6() const { return family_ == Family::v6; }
  // 4 or 16.
  std::size_t size() const { return is_v4() ? 4 : 16; }
  // Network-order bytes; only the first size() are meaningful.
  const std::uint8_t* data() const { return bytes_.data(); }
  // Total number of bits: 32 or 128.
  unsigned bit_width() const { return is_v4() ? 32u : 128u; }
  bool bit(unsigned index) const;

  bool is_unspecified() const;
  bool is_loopback() const;
  bool is_multicast() const;
  bool is_link_local() const;

  // Canonical text: dotted quad, or RFC 5952 IPv6 (lower case, longest run of
  // zero groups compressed).
  std::string to_string() const;

  // IPv4 sorts before IPv6; within a family, numeric order. The bytes are
  // compared as two big-endian 64-bit words: the defaulted comparison of the
  // array called memcmp for every key a route map or a sort compares (13 % of
  // the samples in a perf profile of a 5000-node start).
  friend std::strong_ordering operator<=>(const IpAddress& a, const IpAddress& b) noexcept {
    if (a.family_ != b.family_) return a.family_ <=> b.family_;
    if (const auto high = a.word(0) <=> b.word(0); high != 0) return high;
    return a.word(1) <=> b.word(1);
  }
  friend bool operator==(const IpAddress& a, const IpAddress& b) noexcept {
    return a.family_ == b.family_ && a.word(0) == b.word(0) && a.word(1) == b.word(1);
  }

 private:
  IpAddress(Family family, const std::uint8_t* bytes);
  // Bytes 8*i .. 8*i+7 as a number (network order: the first byte is the highest).
  std::uint64_t word(std::size_t i) const noexcept {
    std::uint64_t value;
    std::memcpy(&value, bytes_.data() + 8 * i, sizeof value);
    if constexpr (std::endian::native == std::endian::little) value = __builtin_bswap64(value);
    return value;
  }

  Family family_ = Family::v4;
  std::array<std::uint8_t, kMaxBytes> bytes_{};
};

class IpPrefix {
 public:
  // 0.0.0.0/0.
  IpPrefix() = default;
  // Throws ParseError if `address` has bits set past `length` or `length` is
  // too long for the family.
  IpPrefix(const IpAddress& address, unsigned length);

  // Strict parse of `address/length`. Host bits set (`10.244.1.1/24`) is an
  // error, not silently masked: a podCIDR written that way is a typo.
  static std::optional<IpPrefix> try_parse(std::string_view text, std::string* error = nullptr);
  static IpPrefix parse(std::string_view text);
  // The prefix of `length` bits containing `address` (host bits cleared).
  static IpPrefix containing(const IpAddress& address, unsigned length);

  const IpAddress& address() const { return address_; }
  unsigned length() const { return length_; }
  Family family() const { return address_.family(); }
  bool is_default() const { return length_ == 0; }

  bool contains(const IpAddress& address) const;
  // True if every address of `other` is in this prefix.
  bool contains(const IpPrefix& other) const;
  // True if the two share at least one address (one contains the other).
  bool overlaps(const IpPrefix& other) const;

  std::string to_string() const;

  friend auto operator<=>(const IpPrefix&, const IpPrefix&) = default;
  friend bool operator==(const IpPrefix&, const IpPrefix&) = default;

 private:
  IpAddress address_;
  std::uint8_t length_ = 0;
};

}  // namespace hostgw::routing
