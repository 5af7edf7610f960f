#pragma once

// NodeWatcher: keeps a consumer up to date with the cluster's Node set, with
// client-go reflector semantics:
//
//   LIST /api/v1/nodes (paged, first with resourceVersion=0; each page parsed
//     as it streams, NodeListStreamParser, never buffered whole; the next page
//     requested on a second connection as soon as the current one's continue
//     token is read, so the server prepares it meanwhile)
//     → `resynced` event with the complete set
//     → WATCH from the list's resourceVersion: added / modified / deleted events
//     → the server ends the watch normally: WATCH again from the last seen
//       resourceVersion (BOOKMARKs advance it); no relist
//     → ERROR 410 Expired or HTTP 410: LIST again (→ `resynced`)
//     → connection failures, 429, 5xx: jittered exponential backoff
//       (0.8 s → 30 s, max with Retry-After), then WATCH (or LIST) again.
//
// A malformed Node is logged with its name and what is wrong, counted, and
// skipped; it never ends the watch. One log line per relist / watch restart
// with its reason. Only NodeInfo is kept (the last resourceVersion); the
// consumer owns the node set.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "k8s-client/api_client.hpp"
#include "k8s-client/backoff.hpp"
#include "k8s-client/node_info.hpp"
#include "k8s-client/node_json.hpp"

namespace hostgw::k8s {

struct NodeWatcherOptions {
  std::size_t page_size = 500;  // LIST limit; 0 = one unpaged LIST
  BackoffOptions backoff;
  // A watch that delivers no byte for this long is dead (bookmarks come about every minute).
  std::chrono::milliseconds idle_timeout{90000};
  // timeoutSeconds of each WATCH, drawn uniformly from this range (like client-go).
  std::chrono::seconds min_watch_timeout{300};
  std::chrono::seconds max_watch_timeout{600};
  // A watch that ends normally sooner than this without any event is treated
  // as a failure (backoff), so a misbehaving server cannot cause a hot loop.
  std::chrono::milliseconds min_healthy_watch{1000};
  NodeJsonLimits limits;
  std::uint64_t seed = std::random_device{}();
};

struct WatchStats {
  std::uint64_t lists = 0;           // completed LISTs (all pages)
  std::uint64_t relists = 0;         // LISTs after the first one
  std::uint64_t watch_starts = 0;    // WATCH requests
  std::uint64_t watch_restarts = 0;  // WATCH requests after the first one
  std::uint64_t events = 0;          // ADDED / MODIFIED / DELETED delivered
  std::uint64_t bookmarks = 0;
  std::uint64_t malformed_objects = 0;
  std::uint64_t errors = 0;  // failed LIST pages / WATCH requests / broken streams
};

class NodeWatcher {
 public:
  using Handler = std::function<void(const NodeEvent&)>;

  NodeWatcher(ApiClient& client, NodeWatcherOptions options, Handler handler);

  // list → watch → ... until the coroutine is cancelled or the io_context stops.
  boost::asio::awaitable<void> run();

  const WatchStats& stats() const { return stats_; }
  // The resourceVersion the next WATCH starts from ("" before the first LIST).
  const std::string& resource_version() const { return resource_version_; }
  // True once the first LIST has been delivered.
  bool synced() const { return stats_.lists > 0; }

 private:
  enum class Outcome { ok, gone, failed };
  struct Result {
    Outcome outcome = Outcome::ok;
    std::string reason;
    std::optional<std::chrono::seconds> retry_after;
    bool had_events = false;
  };

  struct PageFetch;  // one LIST page in flight (node_watcher.cpp)
  struct ListRun;    // the pages of one LIST

  boost::asio::awaitable<Result> list(bool first);
  // Reads `page` and meanwhile requests the one after it (fetch_next).
  boost::asio::awaitable<void> fetch_pages(ListRun& run, PageFetch& page, const PageFetch* previous);
  boost::asio::awaitable<void> fetch_page(ListRun& run, PageFetch& page);
  boost::asio::awaitable<void> fetch_next(ListRun& run, PageFetch& page, const PageFetch* previous);
  boost::asio::awaitable<Result> watch();
  // One watch event object: counted, logged, handed to the handler (result.had_events).
  // An ERROR event gives the outcome and reason that end the watch. `object`
  // is parsed in place (the framer's buffer, not needed afterwards).
  std::optional<Result> take_watch_event(std::string& object, Result& result);
  // The same for an event already parsed (by the framer's one-pass taker or take_watch_event).
  std::optional<Result> take_parsed_watch_event(WatchEventParseResult& parsed, Result& result);
  boost::asio::awaitable<void> sleep(std::chrono::milliseconds delay);
  std::string list_target(bool first, const std::string& continue_token) const;
  std::string watch_target();

  ApiClient& client_;
  NodeWatcherOptions options_;
  Handler handler_;
  WatchStats stats_;
  Backoff backoff_;
  std::mt19937_64 random_;
  std::string resource_version_;
  // When the watch stream's current piece arrived (NodeEvent::received).
  std::chrono::steady_clock::time_point piece_arrived_{};
};

}  // namespace hostgw::k8s
