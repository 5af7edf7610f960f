#include "controller/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <variant>

namespace hostgw::controller {

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {
  std::sort(bounds_.begin(), bounds_.end());
}

void Histogram::observe(double value) {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);  // first bound >= value
  ++counts_[static_cast<std::size_t>(it - bounds_.begin())];
  ++count_;
  sum_ += value;
}

void Histogram::assign(const std::vector<std::uint64_t>& cumulative, std::uint64_t count, double sum) {
  std::uint64_t previous = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    std::uint64_t at = i < cumulative.size() ? std::max(cumulative[i], previous) : previous;
    counts_[i] = at - previous;
    previous = at;
  }
  counts_[bounds_.size()] = count > previous ? count - previous : 0;
  count_ = std::max(count, previous);
  sum_ = sum;
}

std::vector<std::uint64_t> Histogram::cumulative_counts() const {
  std::vector<std::uint64_t> out(counts_.size());
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) out[i] = total += counts_[i];
  return out;
}

std::vector<double> duration_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

std::string format_metric_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<long long>(value));
  }
  char buffer[64];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

std::string escape_help(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

enum Type { kCounter = 0, kGauge = 1, kHistogram = 2 };
constexpr const char* kTypeNames[] = {"counter", "gauge", "histogram"};

std::string render_labels(const Labels& labels, const std::pair<std::string, std::string>* extra = nullptr) {
  if (labels.empty() && !extra) return {};
  std::string out = "{";
  bool first = true;
  auto add = [&](const std::pair<std::string, std::string>& pair) {
    if (!first) out += ',';
    first = false;
    out += pair.first;
    out += "=\"";
    out += escape_label_value(pair.second);
    out += '"';
  };
  for (const auto& pair : labels) add(pair);
  if (extra) add(*extra);
  out += '}';
  return out;
}

}  // namespace

struct MetricsRegistry::Family {
  std::string name;
  std::string help;
  int type = kCounter;
  std::map<Labels, std::variant<std::unique_ptr<Counter>, std::unique_ptr<Gauge>, std::unique_ptr<Histogram>>> series;
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Family& MetricsRegistry::family(std::string_view name, std::string_view help, int type) {
  auto it = by_name_.find(name);
  if (it != by_name_.end()) {
    if (it->second->type != type)
      throw std::logic_error("metric " + std::string(name) + " registered as " + kTypeNames[it->second->type] +
                             " and as " + kTypeNames[type]);
    return *it->second;
  }
  auto family = std::make_unique<Family>();
  family->name = std::string(name);
  family->help = std::string(help);
  family->type = type;
  Family& ref = *family;
  families_.push_back(std::move(family));
  by_name_.emplace(ref.name, &ref);
  return ref;
}

Counter& MetricsRegistry::counter(std::string_view name, std::string_view help, const Labels& labels) {
  auto& series = family(name, help, kCounter).series[labels];
  if (series.index() != 0 || !std::get<0>(series)) series = std::make_unique<Counter>();
  return *std::get<0>(series);
}

Gauge& MetricsRegistry::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  auto& series = family(name, help, kGauge).series[labels];
  if (series.index() != 1) series = std::make_unique<Gauge>();
  return *std::get<1>(series);
}

Histogram& MetricsRegistry::histogram(std::string_view name, std::string_view help, const std::vector<double>& bounds,
                                      const Labels& labels) {
  auto& series = family(name, help, kHistogram).series[labels];
  if (series.index() != 2) series = std::make_unique<Histogram>(bounds);
  return *std::get<2>(series);
}

void MetricsRegistry::add_collector(std::function<void()> collector) {
  collectors_.push_back(std::move(collector));
}

std::string MetricsRegistry::render() {
  for (auto& collector : collectors_) collector();
  std::string out;
  for (const auto& family : families_) {
    out += "# HELP " + family->name + " " + escape_help(family->help) + "\n";
    out += "# TYPE " + family->name + " " + kTypeNames[family->type] + "\n";
    for (const auto& [labels, series] : family->series) {
      switch (series.index()) {
        case 0:
          out += family->name + render_labels(labels) + " " + format_metric_value(std::get<0>(series)->value()) + "\n";
          break;
        case 1:
          out += family->name + render_labels(labels) + " " + format_metric_value(std::get<1>(series)->value()) + "\n";
          break;
        case 2: {
          const Histogram& histogram = *std::get<2>(series);
          auto counts = histogram.cumulative_counts();
          for (std::size_t i = 0; i < counts.size(); ++i) {
            std::pair<std::string, std::string> le{
                "le", i < histogram.bounds().size() ? format_metric_value(histogram.bounds()[i]) : "+Inf"};
            out += family->name + "_bucket" + render_labels(labels, &le) + " " + std::to_string(counts[i]) + "\n";
          }
          out += family->name + "_sum" + render_labels(labels) + " " + format_metric_value(histogram.sum()) + "\n";
          out += family->name + "_count" + render_labels(labels) + " " + std::to_string(histogram.count()) + "\n";
          break;
        }
      }
    }
  }
  return out;
}

std::string errno_name(int error) {
  if (const char* name = strerrorname_np(error)) return name;
  // Built in two steps: GCC 12 at -O3 reports a false -Werror=restrict on
  // `"E" + std::to_string(error)` (GCC bug 105329).
  std::string name = "E";
  name += std::to_string(error);
  return name;
}

ControllerMetrics::ControllerMetrics(MetricsRegistry& registry)
    : nodes(registry.gauge("kube_hostgw_nodes", "Nodes in the cluster view (from the API server).")),
      routes_desired(registry.gauge("kube_hostgw_routes_desired", "Routes the current node set asks for.")),
      routes_installed(registry.gauge("kube_hostgw_routes_installed",
                                      "Routes with kube-hostgw's protocol in its table after the last pass.")),
      passes(registry.counter("kube_hostgw_reconcile_passes_total", "Reconcile passes run.")),
      pass_failures(registry.counter("kube_hostgw_reconcile_failures_total",
                                     "Reconcile passes that could not read the kernel's routes or links.")),
      pass_duration(registry.histogram("kube_hostgw_reconcile_duration_seconds",
                                       "Duration of a reconcile pass (read, compute, apply).", duration_buckets())),
      ready(registry.gauge("kube_hostgw_ready", "1 once the first complete node list has been applied.")),
      last_sync(registry.gauge("kube_hostgw_last_sync_timestamp_seconds",
                               "Unix time of the last reconcile pass that completed.")),
      routes_in_backoff(
          registry.gauge("kube_hostgw_routes_in_backoff", "Route changes the kernel refused, waiting for a retry.")),
      overlay_peers(registry.gauge("kube_hostgw_overlay_peers", "Peers on other subnets routed through the VXLAN device.")),
      overlay_device_creations(
          registry.counter("kube_hostgw_overlay_device_creations_total",
                           "Times the VXLAN device was created (at start, or after it was deleted by someone else).")),
      registry_(registry) {
  for (SkipReason reason : kAllSkipReasons) skipped(reason);
}

Gauge& ControllerMetrics::skipped(SkipReason reason) {
  return registry_.gauge("kube_hostgw_nodes_skipped", "Nodes (per address family) not routed, by reason.",
                         {{"reason", std::string(to_string(reason))}});
}

Counter& ControllerMetrics::route_changes(routing::ChangeKind kind, bool ok) {
  return registry_.counter("kube_hostgw_route_changes_total",
                           "Route changes sent to the kernel, by operation and result.",
                           {{"op", std::string(routing::to_string(kind))}, {"result", ok ? "ok" : "error"}});
}

Counter& ControllerMetrics::netlink_errors(int error) {
  return registry_.counter("kube_hostgw_netlink_errors_total", "Route changes the kernel refused, by errno.",
                           {{"errno", errno_name(error)}});
}

Counter& ControllerMetrics::triggers(std::string_view source) {
  return registry_.counter("kube_hostgw_reconcile_triggers_total",
                           "Reasons a reconcile pass was asked for (coalesced: many triggers, few passes).",
                           {{"source", std::string(source)}});
}

Counter& ControllerMetrics::overlay_entry_changes(routing::ChangeKind kind, bool ok) {
  return registry_.counter("kube_hostgw_overlay_entry_changes_total",
                           "Neighbour/FDB entry changes on the VXLAN device, by operation and result.",
                           {{"op", std::string(routing::to_string(kind))}, {"result", ok ? "ok" : "error"}});
}

}  // namespace hostgw::controller
