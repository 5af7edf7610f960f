#include "controller/daemon.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <ctime>
#include <malloc.h>
#include <stdexcept>

#include "common/log.hpp"
#include "controller/dry_run_overlay_table.hpp"
#include "controller/dry_run_route_table.hpp"
#include "controller/subnet_file.hpp"
#include "kube-hostgw/version.hpp"

namespace hostgw::controller {

namespace asio = boost::asio;
using log::kv;

namespace {

// A pass running longer than this means the loop is stuck (netlink requests time out after seconds).
constexpr auto kStuckPass = std::chrono::minutes(2);

ReconcilerOptions reconciler_options(const Options& options, const DaemonParts& parts) {
  ReconcilerOptions out;
  out.node_name = options.node_name;
  out.routes.cluster_cidrs = options.cluster_cidrs;
  out.routes.address_types = options.address_types;
  out.routes.table = options.route_table;
  out.routes.protocol = options.route_protocol;
  out.routes.adopt_protocols = options.adopt_protocols;
  out.routes.address_annotations = options.address_annotations;
  out.resync_period = options.resync_period;
  out.routes.cross_subnet = options.cross_subnet;
  out.vxlan_vni = options.vxlan_vni;
  out.vxlan_port = options.vxlan_port;
  out.pod_network.own_pod_cidr_routes = options.own_pod_cidr_routes;
  out.pod_network.masquerade = options.masquerade;
  out.pod_network.no_masquerade_cidrs = options.no_masquerade_cidrs;
  out.pod_network.mtu = options.mtu;
  out.pod_network.cni_ipam_data_dir = options.cni_ipam_data_dir;
  out.cni_conf_dir = options.cni_conf_dir;
  out.dry_run = options.dry_run;
  out.nexthops_supported = parts.nexthops_supported;
  out.use_nexthops = nexthop_objects_used(options.nexthop_objects, parts.nexthops_supported);
  return out;
}

netfilter::MasqueradeTable* masquerade_for(const Options& options, const DaemonParts& parts,
                                           std::unique_ptr<netfilter::MasqueradeTable>& dry_run) {
  if (!parts.masquerade) return nullptr;
  if (!options.dry_run) return parts.masquerade;
  dry_run = std::make_unique<DryRunMasqueradeTable>(*parts.masquerade);
  return dry_run.get();
}

// The overlay table the reconciler uses: none, the real one, or (--dry-run) a logging wrapper.
routing::OverlayTable* overlay_for(const Options& options, const DaemonParts& parts,
                                   std::unique_ptr<routing::OverlayTable>& dry_run) {
  if (!parts.overlay_table) return nullptr;
  if (!options.dry_run) return parts.overlay_table;
  dry_run = std::make_unique<DryRunOverlayTable>(*parts.overlay_table);
  return dry_run.get();
}

routing::RouteTable& table_for(const Options& options, const DaemonParts& parts,
                               std::unique_ptr<routing::RouteTable>& dry_run) {
  if (!parts.route_table) throw std::invalid_argument("Daemon: no route table");
  if (!options.dry_run) return *parts.route_table;
  dry_run = std::make_unique<DryRunRouteTable>(*parts.route_table);
  return *dry_run;
}

}  // namespace

std::string rfc3339_now() {
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

std::string network_available_patch(std::string_view now) {
  std::string time(now);
  return R"({"status":{"conditions":[{"type":"NetworkUnavailable","status":"False","reason":"KubeHostgwReady",)"
         R"("message":"kube-hostgw routes are in place","lastTransitionTime":")" +
         time + R"(","lastHeartbeatTime":")" + time + R"("}]}})";
}

Daemon::Daemon(asio::any_io_executor executor, const Options& options, DaemonParts parts, MetricsRegistry& registry)
    : executor_(executor),
      options_(options),
      parts_(parts),
      metrics_(registry),
      reconciler_(executor, table_for(options, parts, dry_run_table_), reconciler_options(options, parts), metrics_,
                  overlay_for(options, parts, dry_run_overlay_), masquerade_for(options, parts, dry_run_masquerade_)) {
  if (!parts_.nodes) throw std::invalid_argument("Daemon: no node source");
  if (options_.set_node_network_available && !parts_.status_writer)
    throw std::invalid_argument("Daemon: --set-node-network-available without a status writer");
  if (options_.healthz) {
    HealthHandlers handlers;
    handlers.unhealthy = [this]() -> std::optional<std::string> {
      auto started = reconciler_.pass_started();
      if (started && Reconciler::Clock::now() - *started > kStuckPass)
        return "a reconcile pass has run for over 2 minutes";
      return std::nullopt;
    };
    handlers.ready = [this] { return reconciler_.ready(); };
    handlers.metrics = [&registry] { return registry.render(); };
    health_ = std::make_unique<HealthServer>(executor, *options_.healthz, std::move(handlers));
  }
  reconciler_.set_pass_observer([this](const PassReport& report) { on_pass(report); });
}

Daemon::~Daemon() {
  stop();
}

void Daemon::spawn(asio::awaitable<void> task, const char* name) {
  auto& signal = cancels_.emplace_back(std::make_unique<asio::cancellation_signal>());
  asio::co_spawn(executor_, std::move(task),
                 asio::bind_cancellation_slot(signal->slot(), [this, name](std::exception_ptr error) {
                   if (!error || stopped_) return;
                   try {
                     std::rethrow_exception(error);
                   } catch (const std::exception& e) {
                     KHG_LOG(error) << "Task ended with an error" << kv("task", name) << kv("error", e.what());
                   }
                 }));
}

void Daemon::start() {
  if (started_) return;
  started_ = true;
  KHG_LOG(info) << "Starting the controller" << kv("node", options_.node_name) << kv("table", options_.route_table)
                << kv("protocol", static_cast<int>(options_.route_protocol))
                << kv("dry_run", options_.dry_run ? "true" : "false")
                << kv("nexthop_objects",
                      nexthop_objects_used(options_.nexthop_objects, parts_.nexthops_supported) ? "on" : "off")
                << kv("cross_subnet", parts_.overlay_table ? to_string(options_.cross_subnet) : "skip")
                << kv("vxlan_vni", options_.vxlan_vni) << kv("vxlan_port", options_.vxlan_port)
                << kv("masquerade", options_.masquerade && parts_.masquerade ? "true" : "false")
                << kv("cni_conf_dir", options_.cni_conf_dir.empty() ? std::string("none") : options_.cni_conf_dir)
                << kv("own_pod_cidr_route", options_.own_pod_cidr_routes ? "true" : "false")
                << kv("healthz", options_.healthz ? options_.healthz->to_string() : std::string("disabled"));
  spawn(reconciler_.run(), "reconciler");
  if (parts_.change_monitor) spawn(reconciler_.watch_kernel(*parts_.change_monitor), "kernel monitor");
  if (parts_.nft_monitor && parts_.masquerade) spawn(watch_nftables(), "nftables monitor");
  spawn(parts_.nodes->run([this](const k8s::NodeEvent& event) { reconciler_.on_node_event(event); }), "node watcher");
  if (health_) spawn(health_->run(), "health server");
}

void Daemon::stop() {
  if (stopped_) return;
  stopped_ = true;
  reconciler_.stop();
  if (health_) health_->stop();
  for (auto& signal : cancels_) signal->emit(asio::cancellation_type::terminal);
}

void Daemon::on_pass(const PassReport& report) {
  // A full pass (and before it, the first list or a relist) is the most the
  // process ever holds at once (pages, the complete node list, the desired and
  // the dumped routes): give the free pages back to the kernel after the
  // first, and then at most every kTrimInterval (a trim costs a few ms and the
  // next pass faults the pages in again, too much at a short resync period).
  constexpr std::chrono::seconds kTrimInterval{60};
  const auto now = std::chrono::steady_clock::now();
  if (report.first_sync || !last_trim_ || now - *last_trim_ >= kTrimInterval) {
    malloc_trim(0);
    last_trim_ = now;
  }
  write_subnet_file(report);
  check_forwarding(report);
  if (options_.set_node_network_available && !network_patch_started_ && report.self) {
    network_patch_started_ = true;
    spawn(patch_network_available(), "node condition");
  }
}

void Daemon::check_forwarding(const PassReport& report) {
  const ForwardingState state = read_forwarding(parts_.sysctl_net_root);
  metrics_.ip_forwarding(routing::Family::v4).set(forwarding_gauge(state.ipv4));
  metrics_.ip_forwarding(routing::Family::v6).set(forwarding_gauge(state.ipv6));
  bool need_ipv4 = false;
  bool need_ipv6 = false;
  if (report.self) {
    for (const auto& cidr : parse_pod_cidrs(*report.self)) {
      need_ipv4 = need_ipv4 || cidr.family() == routing::Family::v4;
      need_ipv6 = need_ipv6 || cidr.family() == routing::Family::v6;
    }
  }
  for (const auto& line : forwarding_.update(state, need_ipv4, need_ipv6)) {
    auto colon = line.find(": ");
    std::string_view severity = std::string_view(line).substr(0, colon);
    std::string text = colon == std::string::npos ? line : line.substr(colon + 2);
    if (severity == "error") {
      KHG_LOG(error) << "IP forwarding" << kv("problem", text);
    } else if (severity == "warning") {
      KHG_LOG(warning) << "IP forwarding" << kv("problem", text);
    } else {
      KHG_LOG(info) << "IP forwarding" << kv("status", text);
    }
  }
}

void Daemon::write_subnet_file(const PassReport& report) {
  {
    if (options_.subnet_file.empty()) return;
    std::string problem;
    std::optional<std::string> content;
    if (!report.self) {
      problem = "this node is not in the node list";
    } else {
      SubnetEnv env;
      env.cluster_cidrs = options_.cluster_cidrs;
      env.pod_cidrs = parse_pod_cidrs(*report.self);
      env.mtu = options_.mtu.value_or(node_link_mtu(report.self, *report.connected));
      // Our masquerade covers egress: flannel's CNI plugin must not add its own.
      env.ipmasq = options_.masquerade && parts_.masquerade;
      content = render_subnet_env(env, &problem);
    }
    if (!content) {
      if (subnet_state_ != "problem: " + problem) {
        subnet_state_ = "problem: " + problem;
        KHG_LOG(warning) << "Subnet file not written" << kv("path", options_.subnet_file) << kv("reason", problem);
      }
    } else {
      WriteResult result = options_.dry_run ? WriteResult{} : write_file_if_changed(options_.subnet_file, *content);
      if (result.error) {
        if (subnet_state_ != "error: " + result.message) {
          subnet_state_ = "error: " + result.message;
          KHG_LOG(error) << "Subnet file not written" << kv("path", options_.subnet_file)
                         << kv("error", result.message);
        }
      } else if (subnet_state_ != *content) {
        subnet_state_ = *content;
        if (result.changed) ++subnet_file_writes_;
        KHG_LOG(info) << (result.changed
                              ? "Subnet file written"
                              : (options_.dry_run ? "Dry run: subnet file would be written" : "Subnet file up to date"))
                      << kv("path", options_.subnet_file) << kv("content", *content);
      }
    }
  }
}

asio::awaitable<void> Daemon::watch_nftables() {
  while (!stopped_) {
    netfilter::NftChangeNotice notice = co_await parts_.nft_monitor->next_change();
    if (stopped_) break;
    // Our table changed by someone else (or events were lost): a full pass
    // reads it and puts it back.
    KHG_LOG(info) << "Masquerade table changed by someone else" << kv("what", notice.what)
                  << kv("resync", notice.resync_needed ? "1" : "0");
    reconciler_.request_pass("nftables");
  }
}

asio::awaitable<void> Daemon::patch_network_available() {
  if (options_.dry_run) {
    KHG_LOG(info) << "Dry run: NetworkUnavailable would be set to False" << kv("node", options_.node_name);
    co_return;
  }
  asio::steady_timer timer(executor_);
  for (unsigned attempt = 1; !stopped_; ++attempt) {
    const auto delay = retry_delay(attempt, std::chrono::seconds(1), std::chrono::minutes(1));
    std::error_code error =
        co_await parts_.status_writer->patch_node_status(options_.node_name, network_available_patch(rfc3339_now()));
    if (!error) {
      network_available_patched_ = true;
      KHG_LOG(info) << "Node condition set" << kv("node", options_.node_name)
                    << kv("condition", "NetworkUnavailable=False") << kv("reason", "KubeHostgwReady");
      co_return;
    }
    KHG_LOG(warning) << "Could not set the node condition" << kv("node", options_.node_name)
                     << kv("error", error.message()) << kv("attempt", attempt) << kv("retry_in_ms", delay.count())
                     << kv("hint", "needs RBAC: patch nodes/status");
    timer.expires_after(delay);
    co_await timer.async_wait(asio::use_awaitable);
  }
}

}  // namespace hostgw::controller
