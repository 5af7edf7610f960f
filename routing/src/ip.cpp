#include "routing/ip.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "parse_text.hpp"

namespace hostgw::routing {

namespace {

using detail::hex_value;
using detail::quoted;

template <typename T>
std::optional<T> fail(std::string* error, std::string_view text, std::string_view what) {
  if (error) *error = quoted(text) + ": " + std::string(what);
  return std::nullopt;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Parses a dotted quad into `out`. On failure returns a message (without the
// quoted text) and leaves `out` unspecified.
std::optional<std::string> parse_v4(std::string_view text, std::uint8_t* out) {
  int part = 0;
  std::size_t i = 0;
  while (true) {
    if (part == 4) return "IPv4 address has more than 4 parts";
    std::size_t start = i;
    while (i < text.size() && is_digit(text[i])) ++i;
    std::size_t len = i - start;
    std::string number = std::to_string(part + 1);
    if (len == 0) return "IPv4 part " + number + " is empty or not a decimal number";
    if (len > 1 && text[start] == '0')
      return "leading zero in IPv4 part " + number + " (ambiguous: octal or decimal?)";
    if (len > 3) return "IPv4 part " + number + " is larger than 255";
    unsigned value = 0;
    for (std::size_t k = start; k < i; ++k) value = value * 10 + unsigned(text[k] - '0');
    if (value > 255) return "IPv4 part " + number + " is larger than 255";
    out[part++] = static_cast<std::uint8_t>(value);
    if (i == text.size()) break;
    if (text[i] != '.') return std::string("unexpected character '") + text[i] + "' in IPv4 address";
    ++i;
  }
  if (part != 4) return "IPv4 address has " + std::to_string(part) + " parts, needs 4";
  return std::nullopt;
}

std::optional<std::string> parse_v6(std::string_view text, std::uint8_t* out) {
  // Split on "::" at most once, then parse the groups on either side.
  std::uint16_t head[8] = {}, tail[8] = {};
  int head_count = 0, tail_count = 0;
  bool compressed = false;
  bool embedded_v4 = false;
  std::uint8_t v4_bytes[4] = {};

  std::size_t i = 0;
  if (text.starts_with("::")) {
    compressed = true;
    i = 2;
  } else if (text.starts_with(":")) {
    return "IPv6 address starts with a single ':'";
  }
  while (i < text.size()) {
    std::size_t start = i;
    while (i < text.size() && hex_value(text[i]) >= 0) ++i;
    std::size_t len = i - start;
    if (i < text.size() && text[i] == '.') {
      // Embedded IPv4 tail: must be the last thing.
      if (auto err = parse_v4(text.substr(start), v4_bytes)) return "in embedded IPv4 part: " + *err;
      embedded_v4 = true;
      i = text.size();
      break;
    }
    if (len == 0) {
      if (i < text.size()) return std::string("unexpected character '") + text[i] + "' in IPv6 address";
      return "IPv6 address ends with a single ':'";
    }
    if (len > 4) return "IPv6 group has more than 4 hex digits";
    std::uint16_t value = 0;
    for (std::size_t k = start; k < i; ++k) value = static_cast<std::uint16_t>(value * 16 + hex_value(text[k]));
    int& count = compressed ? tail_count : head_count;
    std::uint16_t* groups = compressed ? tail : head;
    if (count == 8) return "IPv6 address has more than 8 groups";
    groups[count++] = value;
    if (i == text.size()) break;
    if (text[i] != ':') return std::string("unexpected character '") + text[i] + "' in IPv6 address";
    ++i;
    if (i < text.size() && text[i] == ':') {
      if (compressed) return "IPv6 address has more than one '::'";
      compressed = true;
      ++i;
    } else if (i == text.size()) {
      return "IPv6 address ends with a single ':'";
    }
  }
  int groups_total = head_count + tail_count + (embedded_v4 ? 2 : 0);
  if (compressed) {
    if (groups_total > 7) return "IPv6 address with '::' has too many groups";
  } else if (groups_total != 8) {
    return "IPv6 address has " + std::to_string(groups_total) + " groups, needs 8";
  }
  std::memset(out, 0, 16);
  for (int g = 0; g < head_count; ++g) {
    out[2 * g] = static_cast<std::uint8_t>(head[g] >> 8);
    out[2 * g + 1] = static_cast<std::uint8_t>(head[g]);
  }
  int tail_bytes = 2 * tail_count + (embedded_v4 ? 4 : 0);
  int pos = 16 - tail_bytes;
  for (int g = 0; g < tail_count; ++g) {
    out[pos++] = static_cast<std::uint8_t>(tail[g] >> 8);
    out[pos++] = static_cast<std::uint8_t>(tail[g]);
  }
  if (embedded_v4) std::memcpy(out + 12, v4_bytes, 4);
  return std::nullopt;
}

}  // namespace

std::string_view to_string(Family family) { return family == Family::v4 ? "IPv4" : "IPv6"; }

IpAddress::IpAddress(Family family, const std::uint8_t* bytes) : family_(family) {
  std::memcpy(bytes_.data(), bytes, family == Family::v4 ? 4 : 16);
}

IpAddress IpAddress::v4(const std::array<std::uint8_t, 4>& bytes) { return IpAddress(Family::v4, bytes.data()); }
IpAddress IpAddress::v6(const std::array<std::uint8_t, 16>& bytes) { return IpAddress(Family::v6, bytes.data()); }

std::optional<IpAddress> IpAddress::from_bytes(const void* data, std::size_t size) {
  if (size == 4) return IpAddress(Family::v4, static_cast<const std::uint8_t*>(data));
  if (size == 16) return IpAddress(Family::v6, static_cast<const std::uint8_t*>(data));
  return std::nullopt;
}

std::optional<IpAddress> IpAddress::try_parse(std::string_view text, std::string* error) {
  if (text.empty()) return fail<IpAddress>(error, text, "empty address");
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
      return fail<IpAddress>(error, text, "whitespace in address");
  }
  std::uint8_t bytes[16];
  if (text.find(':') != std::string_view::npos) {
    if (text.find('%') != std::string_view::npos)
      return fail<IpAddress>(error, text, "IPv6 zone index ('%') is not allowed");
    if (auto err = parse_v6(text, bytes)) return fail<IpAddress>(error, text, *err);
    return IpAddress(Family::v6, bytes);
  }
  if (auto err = parse_v4(text, bytes)) return fail<IpAddress>(error, text, *err);
  return IpAddress(Family::v4, bytes);
}

IpAddress IpAddress::parse(std::string_view text) {
  std::string error;
  auto address = try_parse(text, &error);
  if (!address) throw ParseError("invalid IP address " + error);
  return *address;
}

bool IpAddress::bit(unsigned index) const { return (bytes_[index / 8] >> (7 - index % 8)) & 1; }

bool IpAddress::is_unspecified() const {
  return std::all_of(bytes_.begin(), bytes_.begin() + static_cast<long>(size()), [](auto b) { return b == 0; });
}

bool IpAddress::is_loopback() const {
  if (is_v4()) return bytes_[0] == 127;
  static constexpr std::uint8_t kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return std::memcmp(bytes_.data(), kLoopback, 16) == 0;
}

bool IpAddress::is_multicast() const {
  if (is_v4()) return (bytes_[0] & 0xf0) == 0xe0;
  return bytes_[0] == 0xff;
}

bool IpAddress::is_link_local() const {
  if (is_v4()) return bytes_[0] == 169 && bytes_[1] == 254;
  return bytes_[0] == 0xfe && (bytes_[1] & 0xc0) == 0x80;
}

std::string IpAddress::to_string() const {
  char buf[64];
  if (is_v4()) {
    auto n = std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", bytes_[0], bytes_[1], bytes_[2], bytes_[3]);
    return std::string(buf, static_cast<std::size_t>(n));
  }
  std::uint16_t groups[8];
  for (int g = 0; g < 8; ++g) groups[g] = static_cast<std::uint16_t>(bytes_[2 * g] << 8 | bytes_[2 * g + 1]);
  // RFC 5952: compress the longest run (at least two) of zero groups, the first if tied.
  int best_start = -1, best_len = 0;
  for (int g = 0; g < 8;) {
    if (groups[g] != 0) {
      ++g;
      continue;
    }
    int start = g;
    while (g < 8 && groups[g] == 0) ++g;
    if (g - start > best_len) {
      best_start = start;
      best_len = g - start;
    }
  }
  if (best_len < 2) best_start = -1;
  std::string out;
  for (int g = 0; g < 8; ++g) {
    if (g == best_start) {
      out += "::";
      g += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    auto n = std::snprintf(buf, sizeof buf, "%x", groups[g]);
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

namespace {
bool host_bits_clear(const IpAddress& address, unsigned length) {
  for (unsigned i = length; i < address.bit_width(); ++i)
    if (address.bit(i)) return false;
  return true;
}

IpAddress masked(const IpAddress& address, unsigned length) {
  std::uint8_t bytes[16];
  std::memcpy(bytes, address.data(), address.size());
  for (unsigned i = 0; i < address.size(); ++i) {
    unsigned first_bit = i * 8;
    if (first_bit >= length) {
      bytes[i] = 0;
    } else if (first_bit + 8 > length) {
      bytes[i] &= static_cast<std::uint8_t>(0xff << (8 - (length - first_bit)));
    }
  }
  return *IpAddress::from_bytes(bytes, address.size());
}
}  // namespace

IpPrefix::IpPrefix(const IpAddress& address, unsigned length) : address_(address) {
  if (length > address.bit_width())
    throw ParseError("prefix length " + std::to_string(length) + " is longer than " +
                     std::to_string(address.bit_width()) + " for " + address.to_string());
  if (!host_bits_clear(address, length))
    throw ParseError(address.to_string() + "/" + std::to_string(length) + ": host bits are set");
  length_ = static_cast<std::uint8_t>(length);
}

IpPrefix IpPrefix::containing(const IpAddress& address, unsigned length) {
  length = std::min(length, address.bit_width());
  return IpPrefix(masked(address, length), length);
}

std::optional<IpPrefix> IpPrefix::try_parse(std::string_view text, std::string* error) {
  if (text.empty()) return fail<IpPrefix>(error, text, "empty prefix");
  auto slash = text.find('/');
  if (slash == std::string_view::npos)
    return fail<IpPrefix>(error, text, "missing '/length' (a prefix is written like 10.244.1.0/24)");
  std::string address_error;
  auto address = IpAddress::try_parse(text.substr(0, slash), &address_error);
  if (!address) return fail<IpPrefix>(error, text, "bad address " + address_error);
  std::string_view len_text = text.substr(slash + 1);
  if (len_text.empty()) return fail<IpPrefix>(error, text, "prefix length is empty");
  if (len_text.size() > 1 && len_text[0] == '0') return fail<IpPrefix>(error, text, "leading zero in prefix length");
  unsigned length = 0;
  auto [ptr, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), length);
  if (ec != std::errc() || ptr != len_text.data() + len_text.size() || len_text.size() > 3)
    return fail<IpPrefix>(error, text, "prefix length is not a decimal number");
  if (length > address->bit_width())
    return fail<IpPrefix>(error, text,
                          "prefix length " + std::to_string(length) + " is longer than " +
                              std::to_string(address->bit_width()) + " bits of an " +
                              std::string(routing::to_string(address->family())) + " address");
  if (!host_bits_clear(*address, length))
    return fail<IpPrefix>(error, text,
                          "host bits are set after the first " + std::to_string(length) + " (did you mean " +
                              containing(*address, length).to_string() + "?)");
  IpPrefix prefix;
  prefix.address_ = *address;
  prefix.length_ = static_cast<std::uint8_t>(length);
  return prefix;
}

IpPrefix IpPrefix::parse(std::string_view text) {
  std::string error;
  auto prefix = try_parse(text, &error);
  if (!prefix) throw ParseError("invalid IP prefix " + error);
  return *prefix;
}

bool IpPrefix::contains(const IpAddress& address) const {
  if (address.family() != family()) return false;
  for (unsigned i = 0; i < length_; ++i)
    if (address.bit(i) != address_.bit(i)) return false;
  return true;
}

bool IpPrefix::contains(const IpPrefix& other) const {
  return other.family() == family() && other.length_ >= length_ && contains(other.address_);
}

bool IpPrefix::overlaps(const IpPrefix& other) const { return contains(other) || other.contains(*this); }

std::string IpPrefix::to_string() const { return address_.to_string() + "/" + std::to_string(length_); }

}  // namespace hostgw::routing
