#pragma once

// Typed reads of the parsed command line for options.cpp and
// migration_flags.cpp: each failure is an OptionsError naming the flag.
// Internal to the controller library.

#include <boost/program_options.hpp>
#include <charconv>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/text.hpp"
#include "controller/options.hpp"

namespace hostgw::controller {

template <typename T>
std::optional<T> parse_number(std::string_view text) {
  T value{};
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

using common::quoted;  // common/text.hpp

class Flags {
 public:
  explicit Flags(const boost::program_options::variables_map& values) : values_(values) {}

  bool given(const char* name) const { return values_.count(name) > 0; }
  bool on(const char* name) const { return values_[name].as<bool>(); }

  std::optional<std::string> text(const char* name) const {
    if (!given(name)) return std::nullopt;
    return values_[name].as<std::string>();
  }

  // A path or name that may not be empty when given.
  std::optional<std::string> non_empty(const char* name, const char* what) const {
    auto value = text(name);
    if (value && value->empty()) throw OptionsError(flag(name) + ": empty " + what);
    return value;
  }

  // The items of a repeatable, comma-separated list flag ("a,b" and repeated flags alike), in order.
  std::vector<std::string> items(const char* name) const {
    std::vector<std::string> out;
    if (!given(name)) return out;
    for (const auto& list : values_[name].as<std::vector<std::string>>()) {
      std::string_view rest = list;
      while (true) {
        auto comma = rest.find(',');
        out.emplace_back(rest.substr(0, comma));
        if (comma == std::string_view::npos) break;
        rest = rest.substr(comma + 1);
      }
    }
    return out;
  }

  // A list of prefixes (no default route).
  std::vector<routing::IpPrefix> prefixes(const char* name) const {
    std::vector<routing::IpPrefix> out;
    for (const auto& item : items(name)) {
      std::string error;
      auto prefix = routing::IpPrefix::try_parse(item, &error);
      if (!prefix) throw OptionsError(flag(name) + ": " + error);
      if (prefix->is_default()) throw OptionsError(flag(name) + ": " + quoted(item) + " is a default route");
      out.push_back(*prefix);
    }
    return out;
  }

  void duration(const char* name, std::chrono::milliseconds& into) const {
    if (auto value = text(name)) {
      std::string error;
      auto duration = parse_duration(*value, &error);
      if (!duration) throw OptionsError(flag(name) + ": " + error);
      into = *duration;
    }
  }

  // An unsigned number in [low, high]; `what` completes "is not <what>" in the error.
  template <typename T>
  std::optional<T> number(const char* name, T low, T high, std::string_view what) const {
    auto value = text(name);
    if (!value) return std::nullopt;
    auto number = parse_number<T>(*value);
    if (!number || *number < low || *number > high)
      throw OptionsError(flag(name) + ": " + quoted(*value) + " is not " + std::string(what));
    return number;
  }

  static std::string flag(const char* name) { return std::string("--") + name; }

 private:
  const boost::program_options::variables_map& values_;
};

}  // namespace hostgw::controller
