#pragma once

// NodeStore: the fake API server's data — Node objects as serialised JSON
// text, a bounded history of watch events, and list snapshots behind continue
// tokens. Pure (no sockets, no threads of its own) and guarded by one mutex, so
// the test thread and the server thread can both use it.
//
// Every write is one event and bumps the single resourceVersion counter by
// one, like an etcd revision. Objects are serialised once per write; LISTs and
// watch events share that text through shared_ptr.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hostgw::testing {

// A request the store refuses, with the HTTP status and Status reason the
// API server answers with.
class StoreError : public std::runtime_error {
 public:
  StoreError(int code, std::string reason, const std::string& message, std::string name = {})
      : std::runtime_error(message), code_(code), reason_(std::move(reason)), name_(std::move(name)) {}
  int code() const { return code_; }
  const std::string& reason() const { return reason_; }
  const std::string& name() const { return name_; }

 private:
  int code_;
  std::string reason_;
  std::string name_;
};

using JsonText = std::shared_ptr<const std::string>;

enum class EventType { added, modified, deleted };
std::string_view to_string(EventType type);  // "ADDED", "MODIFIED", "DELETED"

struct WatchEvent {
  std::uint64_t resource_version = 0;
  std::string name;
  EventType type = EventType::added;
  JsonText object;
};

// The result of a write: the new resourceVersion (the current one for a
// write that changed nothing) and the stored object text.
struct Written {
  std::uint64_t resource_version = 0;
  JsonText json;
};

enum class PatchType { merge, strategic };
enum class Subresource { none, status };

class NodeStore {
 public:
  static constexpr std::uint64_t kInitialResourceVersion = 1000;
  static constexpr std::size_t kMaxSnapshots = 16;

  explicit NodeStore(std::size_t history_limit);

  // Called after every write, outside the lock.
  void set_on_change(std::function<void()> callback);

  // Writes. Each returns the stored object text (with its new resourceVersion).
  // Throw StoreError: 400 (not JSON / not a Node), 422 (invalid name,
  // inconsistent podCIDR/podCIDRs), 409 (exists / resourceVersion conflict),
  // 404 (no such node).
  Written create(std::string_view json);
  // `path_name`: the name in the URL; must match the body's (empty: body decides).
  // With Subresource::none the stored status is kept, with ::status only the status changes
  // (kube-apiserver's node strategies); `keep_status = false` replaces everything (test API).
  Written replace(std::string_view json, std::string_view path_name, Subresource subresource, bool keep_status);
  Written patch(std::string_view name, std::string_view patch_json, PatchType type, Subresource subresource);
  // Returns the deleted object as of the deletion (its resourceVersion is the deletion's).
  Written remove(std::string_view name);
  Written touch(std::string_view name);
  // Creates many nodes (one event each, watchers woken once). Stops at the
  // first bad or duplicate node; the ones before it stay created.
  std::uint64_t create_many(const std::vector<std::string>& objects);

  JsonText get(std::string_view name) const;  // null if absent
  std::vector<std::string> names() const;
  std::uint64_t resource_version() const;

  struct Page {
    std::uint64_t resource_version = 0;
    std::vector<JsonText> items;
    std::string continue_token;      // empty when this is the last page
    std::size_t remaining_items = 0;  // after this page
  };
  // limit 0 = everything. `resource_version_param` is the request's
  // resourceVersion ("" / "0" / a number). Throws StoreError 410 Expired for a
  // continue token whose snapshot is gone, 400 for a malformed one or a bad RV,
  // 504 for a resourceVersion newer than the store.
  Page list(std::size_t limit, std::string_view continue_token, std::string_view resource_version_param);

  // Watch support. A watch from `after` can be served iff after >= oldest_resource_version().
  std::uint64_t oldest_resource_version() const;
  // Appends events with resourceVersion > after (at most max_events) to `out`.
  // Returns false (and appends nothing) if events after `after` were dropped from history.
  bool events_after(std::uint64_t after, std::vector<WatchEvent>& out, std::size_t max_events) const;
  // Every node now (name, object), sorted by name, and the resourceVersion they are current at.
  using Snapshot = std::shared_ptr<const std::vector<std::pair<std::string, JsonText>>>;
  std::pair<std::uint64_t, Snapshot> snapshot();

  // Drops all history and every list snapshot (continue tokens expire).
  void compact();

  // Loads a saved state into an empty store, like a restarted kube-apiserver on the
  // same etcd: the objects keep their text (and metadata.resourceVersion), the
  // counter continues from `resource_version`, and the history starts there (a
  // watch from an older resourceVersion gets 410). Throws StoreError 400 for an
  // object that is not a Node, one newer than `resource_version` or a duplicate,
  // 409 if the store is not empty.
  void restore(std::uint64_t resource_version, const std::vector<std::string>& objects);

 private:
  struct Stored {
    std::uint64_t resource_version;
    JsonText json;
  };
  std::uint64_t commit_locked(const std::string& name, EventType type, JsonText json);
  Snapshot current_snapshot_locked();
  void notify();

  const std::size_t history_limit_;
  mutable std::mutex mutex_;
  std::map<std::string, Stored, std::less<>> nodes_;
  std::deque<WatchEvent> history_;
  std::uint64_t resource_version_ = kInitialResourceVersion;
  std::uint64_t oldest_resource_version_ = kInitialResourceVersion;
  Snapshot cached_snapshot_;  // of nodes_ at resource_version_, rebuilt lazily
  std::deque<std::pair<std::uint64_t, Snapshot>> snapshots_;  // behind continue tokens
  std::function<void()> on_change_;
};

}  // namespace hostgw::testing
