#include "k8s-client/node_watcher.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/url.hpp>
#include <deque>

#include "common/log.hpp"
#include "k8s-client/json_framer.hpp"
#include "k8s-client/node_list_stream.hpp"

namespace hostgw::k8s {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

// kube-apiserver's answer to a WATCH from a resourceVersion it has not reached (504
// "Too large resource version", e.g. after a restart on a restored store): like
// client-go, relist (consistently) instead of retrying the same resourceVersion forever.
bool too_large_resource_version(int code, std::string_view text) {
  return code == 504 && (text.find("Too large resource version") != std::string_view::npos ||
                         text.find("ResourceVersionTooLarge") != std::string_view::npos);
}

std::string describe_delay(std::chrono::milliseconds delay) {
  return std::to_string(delay.count() / 1000) + "." + std::to_string(delay.count() % 1000 / 100) + "s";
}

}  // namespace

NodeWatcher::NodeWatcher(ApiClient& client, NodeWatcherOptions options, Handler handler)
    : client_(client),
      options_(std::move(options)),
      handler_(std::move(handler)),
      backoff_(options_.backoff, options_.seed),
      random_(options_.seed ^ 0x9e3779b97f4a7c15ull) {
  if (options_.max_watch_timeout < options_.min_watch_timeout) options_.max_watch_timeout = options_.min_watch_timeout;
}

std::string NodeWatcher::list_target(bool first, const std::string& continue_token) const {
  boost::urls::url url("/api/v1/nodes");
  auto params = url.params();
  if (options_.page_size > 0) params.append({"limit", std::to_string(options_.page_size)});
  if (!continue_token.empty()) {
    params.append({"continue", continue_token});
  } else if (first) {
    // Served from the API server's watch cache: cheap, possibly slightly stale,
    // which the following WATCH corrects.
    params.append({"resourceVersion", "0"});
  }
  // Relists (after 410) omit resourceVersion: a consistent read, never older
  // than what this watcher has already seen.
  return std::string(url.buffer());
}

std::string NodeWatcher::watch_target() {
  std::uniform_int_distribution<std::int64_t> timeout(options_.min_watch_timeout.count(),
                                                      options_.max_watch_timeout.count());
  boost::urls::url url("/api/v1/nodes");
  auto params = url.params();
  params.append({"watch", "1"});
  params.append({"resourceVersion", resource_version_});
  params.append({"allowWatchBookmarks", "true"});
  params.append({"timeoutSeconds", std::to_string(timeout(random_))});
  return std::string(url.buffer());
}

asio::awaitable<void> NodeWatcher::sleep(std::chrono::milliseconds delay) {
  asio::steady_timer timer(co_await asio::this_coro::executor, delay);
  co_await timer.async_wait(asio::use_awaitable);
}

// One LIST page: requested with `continue_token` ("" for the first), parsed
// into `page` as its bytes arrive.
struct NodeWatcher::PageFetch {
  PageFetch(std::string token, const NodeJsonLimits& limits) : continue_token(std::move(token)), parser(page, limits) {}
  std::string continue_token;
  NodeListPage page;
  NodeListStreamParser parser;
  ApiResponse response;
  bool done = false;
};

struct NodeWatcher::ListRun {
  explicit ListRun(const asio::any_io_executor& executor, bool first_list)
      : news(executor, asio::steady_timer::time_point::max()), first(first_list) {}
  std::deque<PageFetch> pages;  // in page order; a deque keeps references stable
  // Never expires: its waits end when cancel() announces news (a page's
  // continue token read, a page done, a failure).
  asio::steady_timer news;
  bool first;
  bool abort = false;  // a page failed: the others stop reading, no more are requested
  const PageFetch* failure = nullptr;  // the page that failed first (the others may be cut short by it)
};

asio::awaitable<void> NodeWatcher::fetch_pages(ListRun& run, PageFetch& page, const PageFetch* previous) {
  co_await (fetch_page(run, page) && fetch_next(run, page, previous));
}

asio::awaitable<void> NodeWatcher::fetch_page(ListRun& run, PageFetch& page) {
  auto fail = [&run, &page] {
    if (run.failure == nullptr) run.failure = &page;
    run.abort = true;
  };
  auto on_body = [&run, &page, &fail](std::string_view data) {
    if (run.abort) return false;
    const bool had_token = !page.page.continue_token.empty();
    if (!page.parser.feed(data)) fail();
    if (run.abort || (!had_token && !page.page.continue_token.empty())) run.news.cancel();
    return !run.abort;
  };
  page.response = co_await client_.get(list_target(run.first, page.continue_token), on_body);
  page.done = true;
  if (page.response.error) fail();
  run.news.cancel();
}

// As soon as `page`'s continue token is known (kube-apiserver sends metadata
// before items) and the page before it is done, requests the next page on
// another connection: the server prepares it while `page` still streams. So
// at most two pages are in flight, and the bytes of each are parsed as they
// come, never buffered. A token that only comes at the end of its page makes
// this the plain one-page-after-another LIST.
asio::awaitable<void> NodeWatcher::fetch_next(ListRun& run, PageFetch& page, const PageFetch* previous) {
  for (;;) {
    if (run.abort) co_return;
    const bool has_token = !page.page.continue_token.empty();
    if (page.done && !has_token) co_return;  // the last page
    if (has_token && (previous == nullptr || previous->done)) break;
    auto [ec] = co_await run.news.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;  // operation_aborted: there is news (or the LIST itself is cancelled)
    if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none) co_return;
  }
  PageFetch& next = run.pages.emplace_back(page.page.continue_token, options_.limits);
  co_await fetch_pages(run, next, &page);
}

asio::awaitable<NodeWatcher::Result> NodeWatcher::list(bool first) {
  ListRun run(co_await asio::this_coro::executor, first);
  run.pages.emplace_back(std::string(), options_.limits);
  co_await fetch_pages(run, run.pages.front(), nullptr);

  auto failed = [this](std::string reason) {
    ++stats_.errors;
    return Result{Outcome::failed, "LIST /api/v1/nodes: " + reason, std::nullopt, false};
  };
  // The page that failed first is the LIST's failure (the one in flight with it was cut short by it).
  if (const PageFetch* page = run.failure) {
    if (page->parser.failed()) co_return failed(page->parser.error());  // the client stopped reading there
    ++stats_.errors;
    Result result;
    result.outcome = page->response.status == 410 ? Outcome::gone : Outcome::failed;
    result.reason = page->response.error_message;
    result.retry_after = page->response.retry_after;
    co_return result;
  }
  std::size_t malformed = 0;
  std::size_t node_count = 0;
  for (std::size_t i = 0; i < run.pages.size(); ++i) {
    PageFetch& page = run.pages[i];
    if (!page.parser.finish()) co_return failed(page.parser.error());
    const bool last = i + 1 == run.pages.size();
    if (last ? !page.page.continue_token.empty() : page.page.continue_token != run.pages[i + 1].continue_token)
      co_return failed("page " + std::to_string(i + 1) + " changed its metadata.continue after the next page was requested");
    for (const std::string& problem : page.page.malformed) {
      ++stats_.malformed_objects;
      ++malformed;
      KHG_LOG(warning) << "Skipping malformed node in LIST" << log::kv("error", problem);
    }
    node_count += page.page.nodes.size();
  }
  NodeListPage& page = run.pages.back().page;  // its resourceVersion is the list's
  if (page.resource_version.empty())
    co_return failed("the NodeList has no metadata.resourceVersion");
  std::vector<NodeInfo> nodes = std::move(run.pages.front().page.nodes);
  nodes.reserve(node_count);
  for (std::size_t i = 1; i < run.pages.size(); ++i) {
    std::vector<NodeInfo>& more = run.pages[i].page.nodes;
    std::move(more.begin(), more.end(), std::back_inserter(nodes));
    std::vector<NodeInfo>().swap(more);
  }
  const std::size_t pages = run.pages.size();
  resource_version_ = page.resource_version;
  ++stats_.lists;
  if (stats_.lists > 1) ++stats_.relists;
  KHG_LOG(info) << "Listed nodes" << log::kv("nodes", nodes.size()) << log::kv("pages", pages)
                << log::kv("malformed", malformed) << log::kv("resourceVersion", resource_version_);
  NodeEvent event;
  event.type = NodeEvent::Type::resynced;
  event.nodes = std::move(nodes);
  handler_(event);
  co_return Result{};
}

std::optional<NodeWatcher::Result> NodeWatcher::take_watch_event(std::string& object, Result& result) {
  WatchEventParseResult parsed = parse_watch_event_in_place(object, options_.limits);
  return take_parsed_watch_event(parsed, result);
}

std::optional<NodeWatcher::Result> NodeWatcher::take_parsed_watch_event(WatchEventParseResult& parsed,
                                                                        Result& result) {
  if (!parsed.ok()) {
    ++stats_.malformed_objects;
    KHG_LOG(warning) << "Skipping malformed watch event" << log::kv("node", parsed.node_name)
                     << log::kv("error", parsed.error);
    return std::nullopt;
  }
  WatchEvent& event = *parsed.event;
  switch (event.type) {
    case WatchEvent::Type::bookmark:
      ++stats_.bookmarks;
      resource_version_ = std::move(event.node.resource_version);
      return std::nullopt;
    case WatchEvent::Type::error: {
      Result stop;
      stop.outcome = event.status.code == 410 || too_large_resource_version(event.status.code, event.status.message)
                         ? Outcome::gone
                         : Outcome::failed;
      stop.reason = "watch ERROR event: " + std::to_string(event.status.code) + " " + event.status.reason +
                    (event.status.message.empty() ? "" : ": " + event.status.message);
      return stop;
    }
    default:
      break;
  }
  ++stats_.events;
  result.had_events = true;
  if (!event.node.resource_version.empty()) resource_version_ = event.node.resource_version;
  NodeEvent out;
  out.type = event.type == WatchEvent::Type::added      ? NodeEvent::Type::added
             : event.type == WatchEvent::Type::modified ? NodeEvent::Type::modified
                                                        : NodeEvent::Type::deleted;
  out.node = std::move(event.node);
  out.received = piece_arrived_;
  handler_(out);
  return std::nullopt;
}

asio::awaitable<NodeWatcher::Result> NodeWatcher::watch() {
  Result result;
  JsonObjectFramer framer(options_.limits.max_object_bytes);
  bool stop = false;
  std::string stop_reason;
  Outcome stop_outcome = Outcome::ok;
  auto end_watch = [&](Outcome outcome, std::string reason) {
    stop = true;
    stop_outcome = outcome;
    stop_reason = std::move(reason);
  };

  // std::functions made once, not at every read.
  const JsonObjectFramer::FrameHandler on_frame = [&](const JsonObjectFramer::Frame& frame) {
    if (stop) return;
    if (frame.too_large) {
      ++stats_.malformed_objects;
      KHG_LOG(warning) << "Skipping oversized watch event"
                       << log::kv("bytes", frame.size) << log::kv("limit", options_.limits.max_object_bytes);
      return;
    }
    if (std::optional<Result> ended = take_watch_event(*frame.buffer, result))
      end_watch(ended->outcome, std::move(ended->reason));
  };

  // Events lying whole in one read (a lone heartbeat always; in a burst,
  // those a 16 KiB TLS record does not cut) are parsed where they lie, in one
  // pass; the others go through the framer's buffer.
  const JsonObjectFramer::WholeObjectTaker take_whole = [&](char* begin, char* end) -> std::size_t {
    if (stop) return 0;
    WatchEventParseResult parsed;
    const std::size_t size = parse_leading_watch_event_in_place(begin, end, parsed, options_.limits);
    if (size == 0) return 0;
    if (std::optional<Result> ended = take_parsed_watch_event(parsed, result))
      end_watch(ended->outcome, std::move(ended->reason));
    return size;
  };

  auto on_data = [&](std::string_view data) {
    piece_arrived_ = std::chrono::steady_clock::now();
    if (!framer.feed(data, on_frame, take_whole)) end_watch(Outcome::failed, framer.error());
    return !stop;
  };

  ++stats_.watch_starts;
  if (stats_.watch_starts > 1) ++stats_.watch_restarts;
  ApiResponse response = co_await client_.get_stream(watch_target(), options_.idle_timeout, on_data);
  if (stop) {
    if (stop_outcome != Outcome::ok) ++stats_.errors;
    result.outcome = stop_outcome;
    result.reason = stop_reason;
    co_return result;
  }
  if (response.error) {
    ++stats_.errors;
    result.outcome = response.status == 410 || too_large_resource_version(response.status, response.body)
                         ? Outcome::gone
                         : Outcome::failed;
    result.reason = response.error_message;
    result.retry_after = response.retry_after;
    co_return result;
  }
  if (framer.in_object()) {
    ++stats_.errors;
    result.outcome = Outcome::failed;
    result.reason = "watch stream ended inside an object";
    co_return result;
  }
  result.reason = "the server ended the watch";
  co_return result;
}

asio::awaitable<void> NodeWatcher::run() {
  bool need_list = true;
  bool first_list = true;
  int list_failures = 0;
  int quick_gones = 0;  // watches in a row refused with 410 at once, without events
  for (;;) {
    if (need_list) {
      Result result = co_await list(first_list);
      if (result.outcome != Outcome::ok) {
        auto delay = backoff_.next_delay(Backoff::Clock::now());
        if (result.retry_after) delay = std::max<std::chrono::milliseconds>(delay, *result.retry_after);
        if (result.outcome == Outcome::gone) {
          // The continue token expired mid-list: start over, consistently, at
          // once the first time (backoff if it keeps happening).
          first_list = false;
          if (list_failures == 0) delay = std::chrono::milliseconds(0);
        }
        ++list_failures;
        KHG_LOG(warning) << "Node LIST failed; listing again" << log::kv("reason", result.reason)
                         << log::kv("delay", describe_delay(delay));
        co_await sleep(delay);
        continue;
      }
      need_list = false;
      first_list = false;
      list_failures = 0;
    }

    auto started = Backoff::Clock::now();
    Result result = co_await watch();
    auto lasted = Backoff::Clock::now() - started;
    const bool quick_gone =
        result.outcome == Outcome::gone && !result.had_events && lasted < options_.min_healthy_watch;
    quick_gones = quick_gone ? quick_gones + 1 : 0;
    switch (result.outcome) {
      case Outcome::gone: {
        need_list = true;
        if (quick_gones < 2) {
          KHG_LOG(info) << "Relisting nodes" << log::kv("reason", result.reason)
                        << log::kv("resourceVersion", resource_version_);
          continue;
        }
        // The fresh list's resourceVersion was refused too: a server answering every
        // watch with 410 must not turn this into a LIST loop; back off like other failures.
        auto delay = backoff_.next_delay(Backoff::Clock::now());
        KHG_LOG(warning) << "Relisting nodes after a backoff: the watch from a fresh list was refused again"
                         << log::kv("reason", result.reason) << log::kv("resourceVersion", resource_version_)
                         << log::kv("delay", describe_delay(delay));
        co_await sleep(delay);
        continue;
      }
      case Outcome::ok:
        if (result.had_events || lasted >= options_.min_healthy_watch) {
          KHG_LOG(info) << "Restarting node watch" << log::kv("reason", result.reason)
                        << log::kv("resourceVersion", resource_version_);
          continue;
        }
        result.reason = "the server ended the watch at once without events";
        [[fallthrough]];
      case Outcome::failed: {
        auto delay = backoff_.next_delay(Backoff::Clock::now());
        if (result.retry_after) delay = std::max<std::chrono::milliseconds>(delay, *result.retry_after);
        KHG_LOG(warning) << "Restarting node watch after a failure" << log::kv("reason", result.reason)
                         << log::kv("resourceVersion", resource_version_) << log::kv("delay", describe_delay(delay));
        co_await sleep(delay);
        continue;
      }
    }
  }
}

}  // namespace hostgw::k8s
