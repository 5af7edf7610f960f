#pragma once

// Logging in klog's text format, the format every Kubernetes component writes:
//
//   I1127 12:00:00.000000   12345 reconciler.cpp:88] "Route added" node="node-b" route="10.244.2.0/24 via
//   198.51.100.12"
//
// Structured: a quoted message, then key="value" pairs. One line per event,
// written whole with one write(2) so lines from several processes never mix.
// Secrets (tokens, keys) must never be passed to it.
//
//   KHG_LOG(info) << "Route added" << kv("node", name) << kv("route", route.to_string());
//   KHG_VLOG(2) << "Watch event" << kv("type", "MODIFIED");

#include <functional>
#include <sstream>
#include <string>
#include <string_view>

namespace hostgw::log {

enum class Severity { info, warning, error };

// -v: lines logged with KHG_VLOG(n) are written when n <= verbosity. Default 0.
void set_verbosity(int verbosity);
int verbosity();

// Where lines go (each without its trailing newline). Default: stderr.
// Tests install a sink to capture lines; pass nullptr to restore stderr.
using Sink = std::function<void(std::string_view line)>;
void set_sink(Sink sink);

struct KeyValue {
  std::string_view key;
  std::string value;
};

template <typename T>
KeyValue kv(std::string_view key, const T& value) {
  if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    return {key, std::string(std::string_view(value))};
  } else {
    std::ostringstream out;
    out << value;
    return {key, out.str()};
  }
}

// One log line; written when destroyed. The first streamed value is the
// message; later KeyValues become key="value" pairs (quoted and escaped).
class Line {
 public:
  Line(Severity severity, const char* file, int line);
  ~Line();
  Line(const Line&) = delete;
  Line& operator=(const Line&) = delete;

  Line& operator<<(const KeyValue& pair);
  Line& operator<<(std::string_view text);
  Line& operator<<(const char* text) { return *this << std::string_view(text); }
  Line& operator<<(const std::string& text) { return *this << std::string_view(text); }
  template <typename T>
  Line& operator<<(const T& value) {
    std::ostringstream out;
    out << value;
    return *this << std::string_view(out.str());
  }

 private:
  std::string message_;
  std::string pairs_;
  Severity severity_;
  const char* file_;
  int line_;
};

// Escapes a value for key="value" output (quotes, backslashes, control characters).
std::string quote(std::string_view value);

}  // namespace hostgw::log

#define KHG_LOG(severity) ::hostgw::log::Line(::hostgw::log::Severity::severity, __FILE__, __LINE__)
#define KHG_VLOG(level)                       \
  if (::hostgw::log::verbosity() < (level)) { \
  } else                                      \
    KHG_LOG(info)
