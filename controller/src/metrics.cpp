#include "controller/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <variant>

#include "k8s-client/api_client.hpp"
#include "k8s-client/node_watcher.hpp"
#include "kube-hostgw/version.hpp"

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

// Finer at the low end: an isolated event is applied in about a millisecond.
std::vector<double> event_apply_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5};
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
  // Shortest round-trip digits in %g style, as Prometheus' own clients write them
  // (0.0005, not the shorter 5e-04 plain to_chars picks): an le label is matched as text.
  char buffer[64];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::general);
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

void MetricsRegistry::declare_counter(std::string_view name, std::string_view help) {
  family(name, help, kCounter);
}

void MetricsRegistry::declare_histogram(std::string_view name, std::string_view help) {
  family(name, help, kHistogram);
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

namespace {

// Every family of the daemon: name and help text, in the order /metrics lists them.
struct Spec {
  std::string_view name;
  std::string_view help;
};
constexpr Spec kNodes{"kube_hostgw_nodes", "Nodes in the cluster view (from the API server)."};
constexpr Spec kRoutesDesired{"kube_hostgw_routes_desired", "Routes the current node set asks for."};
constexpr Spec kRoutesInstalled{"kube_hostgw_routes_installed",
                                "Routes with kube-hostgw's protocol in its table after the last pass."};
constexpr Spec kPasses{"kube_hostgw_reconcile_passes_total", "Reconcile passes run."};
constexpr Spec kPassFailures{"kube_hostgw_reconcile_failures_total",
                             "Reconcile passes that could not read the kernel's routes or links."};
constexpr Spec kPassDuration{"kube_hostgw_reconcile_duration_seconds",
                             "Duration of a reconcile pass (read, compute, apply)."};
constexpr Spec kEventApply{"kube_hostgw_node_event_apply_seconds",
                           "From the arrival of a Node watch event to the kernel's acknowledgement of the changes it "
                           "caused (steps and passes that changed something)."};
constexpr Spec kReady{"kube_hostgw_ready", "1 once the first complete node list has been applied."};
constexpr Spec kLastSync{"kube_hostgw_last_sync_timestamp_seconds",
                         "Unix time of the last reconcile pass that completed."};
constexpr Spec kRoutesInBackoff{"kube_hostgw_routes_in_backoff",
                                "Route changes the kernel refused, waiting for a retry."};
constexpr Spec kOverlayPeers{"kube_hostgw_overlay_peers", "Peers on other subnets routed through the VXLAN device."};
constexpr Spec kOverlayCreations{
    "kube_hostgw_overlay_device_creations_total",
    "Times the VXLAN device was created (at start, or after it was deleted by someone else)."};
constexpr Spec kNexthopObjects{
    "kube_hostgw_nexthop_objects",
    "1 when routes to other nodes go through kernel nexthop objects (--nexthop-objects), else 0."};
constexpr Spec kNexthopChanges{"kube_hostgw_nexthop_changes_total",
                               "Nexthop object changes sent to the kernel, by operation and result."};
constexpr Spec kSkipped{"kube_hostgw_nodes_skipped", "Nodes (per address family) not routed, by reason."};
constexpr Spec kRouteChanges{"kube_hostgw_route_changes_total",
                             "Route changes sent to the kernel, by operation and result."};
constexpr Spec kNetlinkErrors{"kube_hostgw_netlink_errors_total", "Route changes the kernel refused, by errno."};
constexpr Spec kTriggers{"kube_hostgw_reconcile_triggers_total",
                         "Reasons a reconcile pass was asked for (coalesced: many triggers, few passes)."};
constexpr Spec kOverlayChanges{"kube_hostgw_overlay_entry_changes_total",
                               "Neighbour/FDB entry changes on the VXLAN device, by operation and result."};
constexpr Spec kMasqueradeChanges{
    "kube_hostgw_masquerade_changes_total",
    "Changes to the nftables table inet kube-hostgw (element: a set element; table: the whole table), by "
    "operation and result."};
constexpr Spec kCniConfChanges{"kube_hostgw_cni_conf_changes_total",
                               "Writes of the CNI conflist 10-kube-hostgw.conflist, by operation and result."};
constexpr Spec kRoutesAdopted{
    "kube_hostgw_routes_adopted_total",
    "Routes of an --adopt-protocol taken over, by their protocol and operation (replace: rewritten in place "
    "to --route-protocol; delete: deleted, no node backs them)."};
constexpr Spec kIpForwarding{"kube_hostgw_ip_forwarding",
                             "The host's IP forwarding sysctl per family: 1 on, 0 off, -1 unknown (read only)."};
constexpr Spec kBuildInfo{"kube_hostgw_build_info", "Always 1; the labels say which build runs."};
constexpr Spec kApiRequests{"kube_hostgw_api_requests_total",
                            "Requests to the API server, by HTTP status (0: no response)."};
constexpr Spec kApiDuration{"kube_hostgw_api_request_duration_seconds",
                            "API server request latency, from sending the request to the response header."};
constexpr Spec kNodeLists{"kube_hostgw_node_lists_total", "Complete LISTs of the nodes."};
constexpr Spec kNodeRelists{"kube_hostgw_node_relists_total",
                            "LISTs after the first one (watch expired with 410, or errors)."};
constexpr Spec kWatchRestarts{"kube_hostgw_watch_restarts_total", "WATCH requests after the first one."};
constexpr Spec kWatchEvents{"kube_hostgw_watch_events_total", "ADDED/MODIFIED/DELETED node events received."};
constexpr Spec kWatchBookmarks{"kube_hostgw_watch_bookmarks_total", "BOOKMARK events received."};
constexpr Spec kWatchErrors{"kube_hostgw_watch_errors_total", "Failed LIST pages, WATCH requests and broken streams."};
constexpr Spec kMalformedNodes{"kube_hostgw_malformed_nodes_total",
                               "Node objects skipped because they could not be parsed."};
constexpr Spec kKernelEvents{"kube_hostgw_kernel_events_total", "Netlink route/link/address events read."};
constexpr Spec kKernelRelevant{"kube_hostgw_kernel_relevant_events_total",
                               "Kernel events that asked for a reconcile pass."};
constexpr Spec kNetlinkOverruns{"kube_hostgw_netlink_overruns_total",
                                "Kernel events lost (ENOBUFS); each forces a full pass."};

Labels op_result(routing::ChangeKind kind, bool ok) {
  return {{"op", std::string(routing::to_string(kind))}, {"result", ok ? "ok" : "error"}};
}

// The families whose series come later (labels known on first use, or mirrored at scrape time).
void declare_later_families(MetricsRegistry& registry) {
  for (const Spec* spec : {&kRouteChanges, &kNexthopChanges, &kNetlinkErrors, &kTriggers, &kOverlayChanges,
                           &kMasqueradeChanges, &kCniConfChanges, &kRoutesAdopted, &kApiRequests})
    registry.declare_counter(spec->name, spec->help);
  registry.declare_histogram(kApiDuration.name, kApiDuration.help);
  for (const Spec* spec : {&kNodeLists, &kNodeRelists, &kWatchRestarts, &kWatchEvents, &kWatchBookmarks, &kWatchErrors,
                           &kMalformedNodes, &kKernelEvents, &kKernelRelevant, &kNetlinkOverruns})
    registry.declare_counter(spec->name, spec->help);
}

}  // namespace

ControllerMetrics::ControllerMetrics(MetricsRegistry& registry)
    : nodes(registry.gauge(kNodes.name, kNodes.help)),
      routes_desired(registry.gauge(kRoutesDesired.name, kRoutesDesired.help)),
      routes_installed(registry.gauge(kRoutesInstalled.name, kRoutesInstalled.help)),
      passes(registry.counter(kPasses.name, kPasses.help)),
      pass_failures(registry.counter(kPassFailures.name, kPassFailures.help)),
      pass_duration(registry.histogram(kPassDuration.name, kPassDuration.help, duration_buckets())),
      event_apply(registry.histogram(kEventApply.name, kEventApply.help, event_apply_buckets())),
      ready(registry.gauge(kReady.name, kReady.help)),
      last_sync(registry.gauge(kLastSync.name, kLastSync.help)),
      routes_in_backoff(registry.gauge(kRoutesInBackoff.name, kRoutesInBackoff.help)),
      overlay_peers(registry.gauge(kOverlayPeers.name, kOverlayPeers.help)),
      overlay_device_creations(registry.counter(kOverlayCreations.name, kOverlayCreations.help)),
      nexthop_objects(registry.gauge(kNexthopObjects.name, kNexthopObjects.help)),
      registry_(registry) {
  for (SkipReason reason : kAllSkipReasons) skipped(reason);
  // -1 until the first pass reads the sysctls.
  for (auto family : {routing::Family::v4, routing::Family::v6}) ip_forwarding(family).set(-1);
  registry.gauge(kBuildInfo.name, kBuildInfo.help, {{"version", kVersion}}).set(1);
  declare_later_families(registry);
}

Gauge& ControllerMetrics::skipped(SkipReason reason) {
  return registry_.gauge(kSkipped.name, kSkipped.help, {{"reason", std::string(to_string(reason))}});
}

Counter& ControllerMetrics::route_changes(routing::ChangeKind kind, bool ok) {
  return registry_.counter(kRouteChanges.name, kRouteChanges.help, op_result(kind, ok));
}

Counter& ControllerMetrics::nexthop_changes(routing::ChangeKind kind, bool ok) {
  return registry_.counter(kNexthopChanges.name, kNexthopChanges.help, op_result(kind, ok));
}

Counter& ControllerMetrics::netlink_errors(int error) {
  return registry_.counter(kNetlinkErrors.name, kNetlinkErrors.help, {{"errno", errno_name(error)}});
}

Counter& ControllerMetrics::triggers(std::string_view source) {
  return registry_.counter(kTriggers.name, kTriggers.help, {{"source", std::string(source)}});
}

Counter& ControllerMetrics::overlay_entry_changes(routing::ChangeKind kind, bool ok) {
  return registry_.counter(kOverlayChanges.name, kOverlayChanges.help, op_result(kind, ok));
}

Counter& ControllerMetrics::masquerade_changes(routing::ChangeKind kind, bool ok) {
  return registry_.counter(kMasqueradeChanges.name, kMasqueradeChanges.help, op_result(kind, ok));
}

Counter& ControllerMetrics::cni_conf_changes(routing::ChangeKind kind, bool ok) {
  return registry_.counter(kCniConfChanges.name, kCniConfChanges.help, op_result(kind, ok));
}

Counter& ControllerMetrics::routes_adopted(std::string_view protocol, routing::ChangeKind kind) {
  return registry_.counter(kRoutesAdopted.name, kRoutesAdopted.help,
                           {{"protocol", std::string(protocol)}, {"op", std::string(routing::to_string(kind))}});
}

Gauge& ControllerMetrics::ip_forwarding(routing::Family family) {
  return registry_.gauge(kIpForwarding.name, kIpForwarding.help,
                         {{"family", family == routing::Family::v4 ? "ipv4" : "ipv6"}});
}

void mirror_api_stats(MetricsRegistry& registry, const k8s::ApiStats& stats) {
  for (const auto& [code, count] : stats.requests_by_code) {
    registry.counter(kApiRequests.name, kApiRequests.help, {{"code", std::to_string(code)}})
        .set_total(static_cast<double>(count));
  }
  std::vector<double> bounds(k8s::ApiStats::kLatencyBuckets.begin(), k8s::ApiStats::kLatencyBuckets.end());
  registry.histogram(kApiDuration.name, kApiDuration.help, bounds)
      .assign(std::vector<std::uint64_t>(stats.latency_buckets.begin(), stats.latency_buckets.end()),
              stats.latency_count, stats.latency_sum_seconds);
}

void mirror_watch_stats(MetricsRegistry& registry, const k8s::WatchStats& stats) {
  auto mirror = [&](const Spec& spec, std::uint64_t value) {
    registry.counter(spec.name, spec.help).set_total(static_cast<double>(value));
  };
  mirror(kNodeLists, stats.lists);
  mirror(kNodeRelists, stats.relists);
  mirror(kWatchRestarts, stats.watch_restarts);
  mirror(kWatchEvents, stats.events);
  mirror(kWatchBookmarks, stats.bookmarks);
  mirror(kWatchErrors, stats.errors);
  mirror(kMalformedNodes, stats.malformed_objects);
}

void mirror_kernel_monitor(MetricsRegistry& registry, std::uint64_t messages, std::uint64_t relevant,
                           std::uint64_t overruns) {
  registry.counter(kKernelEvents.name, kKernelEvents.help).set_total(static_cast<double>(messages));
  registry.counter(kKernelRelevant.name, kKernelRelevant.help).set_total(static_cast<double>(relevant));
  registry.counter(kNetlinkOverruns.name, kNetlinkOverruns.help).set_total(static_cast<double>(overruns));
}

}  // namespace hostgw::controller
