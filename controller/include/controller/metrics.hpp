#pragma once

// A small Prometheus metrics registry (text exposition format 0.0.4) and the
// controller's own metrics on top of it. One thread: no atomics, no locks.
//
//   MetricsRegistry registry;
//   auto& passes = registry.counter("kube_hostgw_reconcile_passes_total", "Reconcile passes run.");
//   passes.inc();
//   registry.render();   // "# HELP ...\n# TYPE ... counter\nkube_hostgw_reconcile_passes_total 1\n"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controller/desired_routes.hpp"
#include "routing/route_table.hpp"

namespace hostgw::k8s {
struct ApiStats;
struct WatchStats;
}  // namespace hostgw::k8s

namespace hostgw::controller {

// Label name/value pairs, in the order they are rendered.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  // Negative increments are ignored: a counter only goes up.
  void inc(double amount = 1) {
    if (amount > 0) value_ += amount;
  }
  double value() const { return value_; }
  // Mirrors a monotonic count kept elsewhere (a client's stats); never lowers it.
  void set_total(double total) {
    if (total > value_) value_ = total;
  }

 private:
  double value_ = 0;
};

class Gauge {
 public:
  void set(double value) { value_ = value; }
  double value() const { return value_; }

 private:
  double value_ = 0;
};

class Histogram {
 public:
  // `bounds`: upper bounds of the buckets, ascending (+Inf is implicit).
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // Mirrors a histogram kept elsewhere: `cumulative[i]` observations <= bounds()[i]
  // (one entry per bound), `count` in all, summing to `sum`.
  void assign(const std::vector<std::uint64_t>& cumulative, std::uint64_t count, double sum);

  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative count of observations <= bounds()[i]; the last entry is +Inf.
  std::vector<std::uint64_t> cumulative_counts() const;
  std::uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // per bucket, plus one for +Inf
  std::uint64_t count_ = 0;
  double sum_ = 0;
};

// Buckets for durations in seconds: 1 ms .. 30 s.
std::vector<double> duration_buckets();

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Each returns the series `name{labels}`, creating the family on first use.
  // References stay valid for the registry's lifetime. Using one name with two
  // types is a programming error (std::logic_error).
  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, const std::vector<double>& bounds,
                       const Labels& labels = {});

  // Declares a family without any series yet: render() lists its HELP and
  // TYPE from the start, so a scrape shows every family the daemon has.
  void declare_counter(std::string_view name, std::string_view help);
  void declare_histogram(std::string_view name, std::string_view help);

  // Called at the start of every render(), e.g. to copy a client's stats into gauges.
  void add_collector(std::function<void()> collector);

  // Text exposition format 0.0.4: HELP and TYPE per family, families in
  // registration order, series sorted by labels.
  std::string render();

  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  struct Family;
  Family& family(std::string_view name, std::string_view help, int type);

  std::vector<std::unique_ptr<Family>> families_;
  std::map<std::string, Family*, std::less<>> by_name_;
  std::vector<std::function<void()>> collectors_;
};

// Formats a sample value the way Prometheus clients do ("3", "0.25", "+Inf", "NaN").
std::string format_metric_value(double value);
// Escapes a label value (backslash, double quote, newline).
std::string escape_label_value(std::string_view value);

// "ENETUNREACH" for ENETUNREACH; "E1234" when the number has no name.
std::string errno_name(int error);

// The controller's metrics, all prefixed kube_hostgw_: every family's name,
// type and help text is defined here (metrics.cpp), and declared when the
// ControllerMetrics is made. docs/operations.md lists each one (a test checks).
class ControllerMetrics {
 public:
  explicit ControllerMetrics(MetricsRegistry& registry);

  Gauge& nodes;                       // kube_hostgw_nodes
  Gauge& routes_desired;              // kube_hostgw_routes_desired
  Gauge& routes_installed;            // kube_hostgw_routes_installed
  Counter& passes;                    // kube_hostgw_reconcile_passes_total
  Counter& pass_failures;             // kube_hostgw_reconcile_failures_total (dump or link lookup failed)
  Histogram& pass_duration;           // kube_hostgw_reconcile_duration_seconds
  Histogram& event_apply;             // kube_hostgw_node_event_apply_seconds
  Gauge& ready;                       // kube_hostgw_ready
  Gauge& last_sync;                   // kube_hostgw_last_sync_timestamp_seconds
  Gauge& routes_in_backoff;           // kube_hostgw_routes_in_backoff
  Gauge& overlay_peers;               // kube_hostgw_overlay_peers
  Counter& overlay_device_creations;  // kube_hostgw_overlay_device_creations_total
  Gauge& nexthop_objects;             // kube_hostgw_nexthop_objects (1: routes go through nexthop objects)

  // kube_hostgw_nodes_skipped{reason}
  Gauge& skipped(SkipReason reason);
  // kube_hostgw_route_changes_total{op,result}
  Counter& route_changes(routing::ChangeKind kind, bool ok);
  // kube_hostgw_netlink_errors_total{errno}
  Counter& netlink_errors(int error);
  // kube_hostgw_reconcile_triggers_total{source}
  Counter& triggers(std::string_view source);
  // kube_hostgw_overlay_entry_changes_total{op,result}
  Counter& overlay_entry_changes(routing::ChangeKind kind, bool ok);
  // kube_hostgw_nexthop_changes_total{op,result}
  Counter& nexthop_changes(routing::ChangeKind kind, bool ok);
  // kube_hostgw_masquerade_changes_total{op,result}
  Counter& masquerade_changes(routing::ChangeKind kind, bool ok);
  // kube_hostgw_cni_conf_changes_total{op,result}
  Counter& cni_conf_changes(routing::ChangeKind kind, bool ok);
  // kube_hostgw_routes_adopted_total{protocol,op}: --adopt-protocol routes taken over
  // (op replace: rewritten in place to our protocol; delete: deleted, no node backs it).
  Counter& routes_adopted(std::string_view protocol, routing::ChangeKind kind);
  // kube_hostgw_ip_forwarding{family}: 1 on, 0 off, -1 unknown
  Gauge& ip_forwarding(routing::Family family);

 private:
  MetricsRegistry& registry_;
};

// Mirrors of statistics kept by the other parts, copied at every scrape
// (MetricsRegistry::add_collector), with their names and help text here too.
// kube_hostgw_api_requests_total{code}, kube_hostgw_api_request_duration_seconds
void mirror_api_stats(MetricsRegistry& registry, const k8s::ApiStats& stats);
// kube_hostgw_node_lists_total, ..._relists_total, watch restarts/events/bookmarks/errors, malformed nodes
void mirror_watch_stats(MetricsRegistry& registry, const k8s::WatchStats& stats);
// kube_hostgw_kernel_events_total, ..._kernel_relevant_events_total, ..._netlink_overruns_total
void mirror_kernel_monitor(MetricsRegistry& registry, std::uint64_t messages, std::uint64_t relevant,
                           std::uint64_t overruns);

}  // namespace hostgw::controller
