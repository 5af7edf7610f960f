#pragma once

// Target: one kind of state kube-hostgw owns on the node (the routes, the
// VXLAN overlay's device and entries, the masquerade table, the CNI file).
// A target reads what it holds, turns the desired state into changes with the
// one per-key diff (key_diff.hpp), and applies a batch of changes with one
// result per change. It never retries, logs a change or counts one: the
// Applier does that for every target alike. controller/README.md says how to
// add one.

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "controller/desired_state.hpp"
#include "controller/metrics.hpp"
#include "routing/nexthop.hpp"
#include "routing/overlay_table.hpp"
#include "routing/route_table.hpp"

namespace hostgw::controller {

// One item of the masquerade table (MasqueradeTarget): an element of one of
// its sets (`set` and `element` as nft reads them), or, with `set` empty, the
// whole table (added or replaced with every element of the desired state,
// removed when masquerading is off).
struct MasqueradeItem {
  std::string set;
  std::string element;
  bool is_table() const { return set.empty(); }
  friend auto operator<=>(const MasqueradeItem&, const MasqueradeItem&) = default;
};

// The CNI conflist file (CniTarget) with the content it should hold.
struct CniFileItem {
  std::string content;
  friend auto operator<=>(const CniFileItem&, const CniFileItem&) = default;
};

// Everything a target can own, one alternative per kind of item (ordered, so
// that a change can key the Applier's retry table).
using Item = std::variant<routing::Route, routing::NeighbourEntry, routing::FdbEntry, MasqueradeItem, CniFileItem,
                          routing::Nexthop>;

// The routes and nexthop targets hand a large batch to the kernel in slices
// of this many changes, one after the other and in the batch's order: what is
// encoded, sent and answered at once stays small (a first pass of 5000 routes
// held the whole batch in four forms at once, ~1.2 MB), and the kernel answers
// each slice within the send, so the waits between slices cost nothing.
inline constexpr std::size_t kApplySlice = 1024;

struct ItemChange {
  routing::ChangeKind kind = routing::ChangeKind::add;
  Item item;
  k8s::NodeName node;    // the node it belongs to, for the log; empty: unknown
  std::string previous;  // a replace: what it replaces, for the log; empty: not known

  friend bool operator==(const ItemChange&, const ItemChange&) = default;
};

// The kernel's (or the file system's) answer to one change.
struct ItemResult {
  int error = 0;        // 0 or a positive errno
  std::string message;  // the kernel's extended ACK, if any
  bool ok() const { return error == 0; }
};

// What one pass or step changes in one target: creations and replacements
// (`upserts`), and removals.
struct Delta {
  std::vector<ItemChange> upserts;
  std::vector<ItemChange> removals;
  bool empty() const { return upserts.empty() && removals.empty(); }
};

// How a target's changes are ordered against the other targets' (Applier):
enum class TargetRole : std::uint8_t {
  // Other targets' items go through it (the overlay: routes via hostgw.vxlan).
  // Its upserts are applied before every leaf's batch, its removals after.
  carrier,
  // Nothing depends on it: one batch, removals first (they free keys).
  leaf,
};

// What a target tells the others during a pass (filled by read()).
struct Bindings {
  // The ifindex of hostgw.vxlan when it exists and is as wanted: the overlay
  // routes (RoutePath::overlay) are bound to it, and left out without it.
  std::optional<std::uint32_t> overlay_device;
  // With nexthop objects (NexthopTarget): destination -> the nexthop id its
  // route goes through (RTA_NH_ID); a destination not in it is a plain route.
  const std::map<routing::IpPrefix, std::uint32_t>* nexthops = nullptr;
};

// A target that could not be read or prepared: it sits the pass out (no
// delta) and the Applier retries it with backoff.
struct TargetProblem {
  std::string step;   // "ensure device"
  std::string error;  // what the kernel said
};

// How the Applier logs and counts a target's changes.
struct TargetInfo {
  std::string_view name;      // "routes", "overlay"
  std::string_view noun;      // "Route": "Route added", "Route change failed"
  std::string_view plural;    // "Routes": the summary line "Routes changed"
  std::string_view item_key;  // the log key naming the item: route="..."
  TargetRole role = TargetRole::leaf;
  // A removal answered with this errno found the item gone: what was wanted.
  int gone_errno = 0;
  // The line a TargetProblem is logged with: "VXLAN overlay not in place".
  std::string_view problem_line;
  // kube_hostgw_..._changes_total{op,result} of this target.
  Counter& (ControllerMetrics::*changes)(routing::ChangeKind, bool) = nullptr;
  // Whether refused changes also count in kube_hostgw_netlink_errors_total.
  bool counts_netlink_errors = false;
};

class Target {
 public:
  virtual ~Target() = default;
  virtual const TargetInfo& info() const = 0;

  // --- full pass (Applier::pass) ---
  // Reads what the target holds now. A carrier first puts in place what holds
  // its items (the overlay: the device, when `desired` wants one) and notes in
  // `bindings` what later targets need.
  virtual boost::asio::awaitable<std::optional<TargetProblem>> read(const DesiredState& desired,
                                                                    const KernelFacts& facts, Bindings& bindings) = 0;
  // The changes from what read() saw to `desired` (diff_key() over every key).
  virtual Delta diff(const DesiredState& desired, const Bindings& bindings) = 0;
  // After every removal of the pass: a carrier removes its container when no
  // item needs it any more (the overlay: the device without peers).
  virtual boost::asio::awaitable<std::optional<TargetProblem>> finish() { co_return std::nullopt; }
  // The pass is over: `applied` are its changes that succeeded; `clean`, no
  // change failed and none waits for a retry. A target with an incremental
  // model rebuilds it from its read plus `applied` when clean, else drops it.
  virtual void after_pass(const std::vector<ItemChange>& applied, bool clean) = 0;

  // --- incremental step (Applier::step) ---
  // The changes that follow one node's new share (`update`), against the model
  // of the last clean full pass (diff_key() over that node's keys only);
  // nullopt: only a full pass can say. On success the model assumes they
  // succeed; a failed change drops the model (after_step).
  virtual std::optional<Delta> plan_update(const NodeUpdate& update, const DesiredModel& model) = 0;
  virtual void after_step(bool clean) = 0;

  // --- both ---
  // One batch; one result per change, in order. A failed change never stops the others.
  // `batch` outlives the call (a first pass's is ~0.7 MB at 5000 nodes: not copied).
  virtual boost::asio::awaitable<std::vector<ItemResult>> apply(const std::vector<ItemChange>& batch) = 0;
  // The item as the log names it: "10.244.2.0/24 via 198.51.100.12 dev eth0".
  virtual std::string describe(const Item& item) const = 0;
};

}  // namespace hostgw::controller
