// The fake kube-apiserver: Beast + TLS on its own io_context and thread.
//
// One coroutine per connection reads requests and answers them; a watch turns
// the connection into a chunked event stream that follows the NodeStore's
// history with its own cursor, so a slow client only ever delays itself. The
// store is shared with the test thread under its mutex; after every write it
// posts one wake-up to this loop, which wakes the waiting watches and cuts off
// those that fell more than max_watch_lag events behind.

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <charconv>
#include <deque>
#include <future>
#include <random>
#include <set>
#include <thread>

#include "common/log.hpp"
#include "fake-apiserver/fake_apiserver.hpp"
#include "gzip.hpp"
#include "json_util.hpp"
#include "node_store.hpp"

namespace hostgw::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using net::awaitable;
using net::use_awaitable;
constexpr auto kTuple = net::as_tuple(use_awaitable);

namespace {

constexpr std::chrono::seconds kHandshakeTimeout{10};
constexpr std::chrono::seconds kWriteTimeout{120};
constexpr std::size_t kBodyLimit = 64 * 1024 * 1024;
constexpr std::size_t kMaxRequestsKept = 100000;
constexpr std::size_t kWatchBatch = 1000;      // events per chunk
constexpr std::size_t kListWriteBatch = 1000;  // initial ADDED events per chunk

constexpr std::string_view kVersionJson =
    R"({"major":"1","minor":"29","gitVersion":"v1.29.4-fake","gitCommit":"0000000000000000000000000000000000000000",)"
    R"("gitTreeState":"clean","buildDate":"2026-01-01T00:00:00Z","goVersion":"go1.21.9","compiler":"gc",)"
    R"("platform":"linux/amd64"})";
constexpr std::string_view kApiGroupListJson = R"({"kind":"APIGroupList","apiVersion":"v1","groups":[]})";
constexpr std::string_view kApiResourceListJson =
    R"({"kind":"APIResourceList","groupVersion":"v1","resources":[)"
    R"({"name":"nodes","singularName":"node","namespaced":false,"kind":"Node","verbs":["create","delete",)"
    R"("get","list","patch","update","watch"],"shortNames":["no"],"storageVersionHash":"XwShjMxG9Fs="},)"
    R"({"name":"nodes/status","singularName":"","namespaced":false,"kind":"Node","verbs":["get","patch","update"]}]})";

// Just enough OpenAPI v3 for kubectl: its field-validation probe looks for a
// PATCH operation on Nodes that takes the fieldValidation query parameter, and
// then leaves validation to the server (which accepts every field).
constexpr std::string_view kOpenApiV3RootJson =
    R"({"paths":{"api/v1":{"serverRelativeURL":"/openapi/v3/api/v1?hash=FAKE0000000000000000000000000000"}}})";
constexpr std::string_view kOpenApiV3CoreJson =
    R"({"openapi":"3.0.0","info":{"title":"Kubernetes","version":"v1.29.4-fake"},"paths":{)"
    R"("/api/v1/nodes/{name}":{"patch":{"operationId":"patchCoreV1Node","parameters":[)"
    R"({"name":"fieldValidation","in":"query","schema":{"type":"string","uniqueItems":true}}],)"
    R"("responses":{"200":{"description":"OK"}},"x-kubernetes-action":"patch",)"
    R"("x-kubernetes-group-version-kind":{"group":"","kind":"Node","version":"v1"}}},)"
    R"("/api/v1/nodes":{"post":{"operationId":"createCoreV1Node","parameters":[)"
    R"({"name":"fieldValidation","in":"query","schema":{"type":"string","uniqueItems":true}}],)"
    R"("responses":{"201":{"description":"Created"}},"x-kubernetes-action":"post",)"
    R"("x-kubernetes-group-version-kind":{"group":"","kind":"Node","version":"v1"}}}},)"
    R"("components":{"schemas":{}}})";

bool is_discovery_path(std::string_view path) {
  return path == "/version" || path == "/api" || path == "/apis" || path == "/api/v1" || path == "/healthz" ||
         path == "/livez" || path == "/readyz" || path.starts_with("/openapi");
}

std::string_view header(const http::request<http::string_body>& req, http::field field) {
  auto it = req.find(field);
  return it == req.end() ? std::string_view{} : std::string_view(it->value().data(), it->value().size());
}

std::string common_name(X509* cert) {
  X509_NAME* subject = X509_get_subject_name(cert);
  int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index < 0) return {};
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                     static_cast<std::size_t>(ASN1_STRING_length(data)));
}

void append_event(std::string& out, std::string_view type, std::string_view object) {
  out += R"({"type":")";
  out += type;
  out += R"(","object":)";
  out += object;
  out += "}\n";
}

std::string bookmark_object(std::uint64_t rv, bool initial_events_end) {
  std::string object = R"({"kind":"Node","apiVersion":"v1","metadata":{"resourceVersion":")" + std::to_string(rv) + "\"";
  if (initial_events_end) object += R"(,"annotations":{"k8s.io/initial-events-end":"true"})";
  object += "}}";
  return object;
}

// Query parameters of one request (decoded).
struct Query {
  std::vector<std::pair<std::string, std::string>> params;
  const std::string* find(std::string_view key) const {
    for (const auto& [k, v] : params)
      if (k == key) return &v;
    return nullptr;
  }
  std::string get(std::string_view key) const {
    const std::string* v = find(key);
    return v ? *v : std::string();
  }
  bool flag(std::string_view key) const {
    const std::string* v = find(key);
    return v && (*v == "1" || *v == "true" || v->empty());
  }
};

// An error answered as a Status object.
struct ApiError {
  int code;
  std::string reason;
  std::string message;
  std::string name;
};

std::optional<long long> parse_integer(std::string_view text) {
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

long long integer_param(const Query& query, std::string_view key, long long fallback, long long min, long long max) {
  const std::string* text = query.find(key);
  if (!text || text->empty()) return fallback;
  auto value = parse_integer(*text);
  if (!value || *value < min || *value > max)
    throw ApiError{400, "BadRequest",
                   "invalid " + std::string(key) + " \"" + *text + "\": must be an integer from " +
                       std::to_string(min) + " to " + std::to_string(max),
                   {}};
  return *value;
}

}  // namespace

struct Connection {
  Connection(tcp::socket socket, ssl::context& context) : stream(std::move(socket), context) {}
  beast::ssl_stream<beast::tcp_stream> stream;
  bool closed = false;
  // Set while the connection serves a watch.
  bool watching = false;
  bool writing = false;
  std::uint64_t delivered_rv = 0;
  net::steady_timer* wake = nullptr;
  std::string peer_user;  // CN of a verified client certificate

  void close_abruptly() {
    if (closed) return;
    closed = true;
    boost::system::error_code ignored;
    auto& socket = beast::get_lowest_layer(stream).socket();
    socket.set_option(net::socket_base::linger(true, 0), ignored);  // RST, like a dropped connection
    socket.close(ignored);
    if (wake) wake->cancel();
  }
};

class FakeApiServer::Impl {
 public:
  explicit Impl(FakeApiServerOptions options);
  ~Impl();

  template <typename F>
  auto run_on_io(F&& f) -> decltype(f()) {
    if (io_.get_executor().running_in_this_thread()) return f();
    std::packaged_task<decltype(f())()> task(std::forward<F>(f));
    auto result = task.get_future();
    net::post(io_, [&task] { task(); });
    return result.get();
  }

  void listen();  // io thread
  void stop_listening_and_close();  // io thread
  void drop_all();  // io thread
  void wake_watchers();  // io thread
  void record(const http::request<http::string_body>& req, int status);

  awaitable<void> accept_loop(std::shared_ptr<tcp::acceptor> acceptor);
  awaitable<void> session(std::shared_ptr<Connection> conn);
  awaitable<bool> handle(Connection& conn, http::request<http::string_body>& req);
  awaitable<bool> dispatch(Connection& conn, http::request<http::string_body>& req, const std::string& path,
                           const Query& query, bool authenticated);
  awaitable<bool> respond(Connection& conn, const http::request<http::string_body>& req, http::status status,
                          std::string body, std::string_view content_type = "application/json",
                          int retry_after = 0);
  // Static text; a named local keeps GCC 12 away from temporaries across co_await.
  awaitable<bool> respond_text(Connection& conn, const http::request<http::string_body>& req, std::string_view text,
                               std::string_view content_type = "application/json") {
    std::string body(text);
    co_return co_await respond(conn, req, http::status::ok, std::move(body), content_type);
  }
  awaitable<bool> respond_error(Connection& conn, const http::request<http::string_body>& req, const ApiError& e,
                                int retry_after = 0);
  awaitable<bool> serve_list(Connection& conn, const http::request<http::string_body>& req, const Query& query);
  awaitable<bool> serve_watch(Connection& conn, const http::request<http::string_body>& req, const Query& query);
  awaitable<bool> write_chunk(Connection& conn, const std::string& data);
  awaitable<bool> serve_admin(Connection& conn, const http::request<http::string_body>& req, std::string_view path,
                              const Query& query);

  FakeApiServerOptions options_;
  std::size_t max_watch_lag_;
  NodeStore store_;
  ssl::context ssl_{ssl::context::tls_server};
  bool authentication_enabled_ = false;

  mutable std::mutex mutex_;  // guards tokens_, failures, injected faults and requests_
  std::vector<std::string> tokens_;
  int fail_status_ = 0, fail_count_ = 0, fail_retry_after_ = 0;
  int cut_watch_count_ = 0;
  std::size_t cut_after_bytes_ = 0;
  std::chrono::steady_clock::time_point stall_until_{}, expire_watches_until_{};

  // Bytes of `chunk` to send before cutting the watch, if a cut is due (always
  // inside the chunk's first event).
  std::optional<std::size_t> take_watch_cut(const std::string& chunk) {
    std::lock_guard lock(mutex_);
    if (cut_watch_count_ <= 0) return std::nullopt;
    --cut_watch_count_;
    const std::size_t first = std::min(chunk.find('\n'), chunk.size());
    std::size_t bytes = cut_after_bytes_ ? std::min(cut_after_bytes_, first - 1) : first / 2;
    return std::max<std::size_t>(bytes, 1);
  }
  std::chrono::steady_clock::time_point stall_until() const {
    std::lock_guard lock(mutex_);
    return stall_until_;
  }
  bool watches_expired() const {
    std::lock_guard lock(mutex_);
    return std::chrono::steady_clock::now() < expire_watches_until_;
  }
  std::deque<Request> requests_;

  std::atomic<bool> wake_pending_{false};
  std::atomic<std::size_t> open_connections_{0};
  std::atomic<int> running_loops_{0};  // accept loops and sessions alive
  tcp::endpoint endpoint_;             // the bound address, port included
  // io thread only:
  std::shared_ptr<tcp::acceptor> acceptor_;
  std::set<std::shared_ptr<Connection>> connections_;

  // Last, so that it is destroyed first: coroutine frames it still holds refer to the members above.
  net::io_context io_{1};
  net::executor_work_guard<net::io_context::executor_type> work_{io_.get_executor()};
  std::thread thread_;
};

FakeApiServer::Impl::Impl(FakeApiServerOptions options)
    : options_(std::move(options)),
      max_watch_lag_(options_.max_watch_lag ? options_.max_watch_lag : options_.history_limit),
      store_(options_.history_limit),
      tokens_(options_.tokens) {
  if (options_.cert_pem.empty() || options_.key_pem.empty())
    throw std::runtime_error("FakeApiServer: cert_pem and key_pem are required (see make_test_pki)");
  boost::system::error_code ec;
  ssl_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  ssl_.use_certificate_chain(net::buffer(options_.cert_pem), ec);
  if (ec) throw std::runtime_error("FakeApiServer: server certificate: " + ec.message());
  ssl_.use_private_key(net::buffer(options_.key_pem), ssl::context::pem, ec);
  if (ec) throw std::runtime_error("FakeApiServer: server key: " + ec.message());
  if (!options_.client_ca_pem.empty()) {
    ssl_.add_certificate_authority(net::buffer(options_.client_ca_pem), ec);
    if (ec) throw std::runtime_error("FakeApiServer: client CA: " + ec.message());
    // Tell clients which CA we accept (Go's TLS only sends a certificate that matches).
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(options_.client_ca_pem.data(), static_cast<int>(options_.client_ca_pem.size())), BIO_free);
    while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
      SSL_CTX_add_client_CA(ssl_.native_handle(), ca);
      X509_free(ca);
    }
    ERR_clear_error();
    // Verify a certificate if one is sent; no certificate is fine (token auth).
    ssl_.set_verify_mode(ssl::verify_peer);
  }
  authentication_enabled_ = !options_.tokens.empty() || !options_.client_ca_pem.empty();

  boost::system::error_code address_ec;
  auto address = net::ip::make_address(options_.listen_address, address_ec);
  if (address_ec)
    throw std::runtime_error("FakeApiServer: listen_address \"" + options_.listen_address +
                             "\" is not an IP address");
  endpoint_ = tcp::endpoint(address, options_.port);

  store_.set_on_change([this] {
    if (!wake_pending_.exchange(true)) net::post(io_, [this] { wake_watchers(); });
  });
  thread_ = std::thread([this] { io_.run(); });
  try {
    run_on_io([this] { listen(); });
  } catch (...) {
    work_.reset();
    io_.stop();
    thread_.join();
    throw;
  }
}

FakeApiServer::Impl::~Impl() {
  run_on_io([this] { stop_listening_and_close(); });
  // Let every session and accept loop see its closed socket and finish (bounded).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (running_loops_.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  work_.reset();
  io_.stop();
  thread_.join();
  store_.set_on_change(nullptr);
}

void FakeApiServer::Impl::listen() {
  if (acceptor_) return;
  auto acceptor = std::make_shared<tcp::acceptor>(io_);
  boost::system::error_code ec;
  acceptor->open(endpoint_.protocol(), ec);
  if (!ec) acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint_, ec);
  if (!ec) acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("FakeApiServer: cannot listen on " + options_.listen_address + " port " +
                             std::to_string(endpoint_.port()) + ": " + ec.message());
  endpoint_ = acceptor->local_endpoint();
  acceptor_ = acceptor;
  ++running_loops_;
  net::co_spawn(io_, accept_loop(acceptor), net::detached);
}

void FakeApiServer::Impl::stop_listening_and_close() {
  if (acceptor_) {
    boost::system::error_code ignored;
    acceptor_->close(ignored);
    acceptor_.reset();
  }
  drop_all();
}

void FakeApiServer::Impl::drop_all() {
  auto connections = connections_;  // close_abruptly() may end sessions that erase themselves
  for (const auto& conn : connections) conn->close_abruptly();
}

void FakeApiServer::Impl::wake_watchers() {
  wake_pending_ = false;
  const std::uint64_t newest = store_.resource_version();
  auto connections = connections_;
  for (const auto& conn : connections) {
    if (!conn->watching) continue;
    if (conn->writing && newest > conn->delivered_rv && newest - conn->delivered_rv > max_watch_lag_) {
      KHG_LOG(warning) << "Watch client too far behind, disconnecting" << log::kv("delivered", conn->delivered_rv)
                       << log::kv("newest", newest);
      conn->close_abruptly();
    } else if (conn->wake) {
      conn->wake->cancel();
    }
  }
}

void FakeApiServer::Impl::record(const http::request<http::string_body>& req, int status) {
  Request r{std::string(req.method_string()), std::string(req.target()),
            std::string(header(req, http::field::authorization)), std::string(header(req, http::field::user_agent)),
            status};
  std::lock_guard lock(mutex_);
  requests_.push_back(std::move(r));
  if (requests_.size() > kMaxRequestsKept) requests_.pop_front();
}

awaitable<void> FakeApiServer::Impl::accept_loop(std::shared_ptr<tcp::acceptor> acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor->async_accept(kTuple);
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor->is_open()) break;
      continue;  // e.g. EMFILE: keep serving the connections we have
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto conn = std::make_shared<Connection>(std::move(socket), ssl_);
    connections_.insert(conn);
    ++open_connections_;
    ++running_loops_;
    net::co_spawn(io_, session(conn), net::detached);
  }
  --running_loops_;
}

awaitable<void> FakeApiServer::Impl::session(std::shared_ptr<Connection> conn) {
  struct Cleanup {
    Impl* self;
    std::shared_ptr<Connection> conn;
    ~Cleanup() {
      self->connections_.erase(conn);
      --self->open_connections_;
      --self->running_loops_;
    }
  } cleanup{this, conn};
  auto& stream = conn->stream;
  {
    // An injected stall: the TCP connection is accepted, then nothing is said until it ends.
    net::steady_timer stall(io_);
    for (auto until = stall_until(); !conn->closed && std::chrono::steady_clock::now() < until;
         until = stall_until()) {
      conn->wake = &stall;
      stall.expires_at(until);
      auto [stall_ec] = co_await stall.async_wait(kTuple);
      (void)stall_ec;
      conn->wake = nullptr;
    }
    if (conn->closed) co_return;
  }
  beast::get_lowest_layer(stream).expires_after(kHandshakeTimeout);
  auto [handshake_ec] = co_await stream.async_handshake(ssl::stream_base::server, kTuple);
  if (handshake_ec) {
    KHG_VLOG(1) << "TLS handshake failed" << log::kv("error", handshake_ec.message());
    co_return;
  }
  if (X509* peer = SSL_get0_peer_certificate(stream.native_handle());
      peer && SSL_get_verify_result(stream.native_handle()) == X509_V_OK && !options_.client_ca_pem.empty())
    conn->peer_user = common_name(peer);

  beast::flat_buffer buffer;
  for (;;) {
    beast::get_lowest_layer(stream).expires_after(options_.idle_timeout);
    http::request_parser<http::string_body> parser;
    parser.body_limit(kBodyLimit);
    auto [read_ec, bytes] = co_await http::async_read(stream, buffer, parser, kTuple);
    (void)bytes;
    if (read_ec || conn->closed) break;
    bool keep_alive = false;
    try {
      keep_alive = co_await handle(*conn, parser.get());
    } catch (const std::exception& e) {
      // A bug or an allocation failure: drop this connection, keep the server.
      KHG_LOG(error) << "Request failed" << log::kv("target", std::string(parser.get().target()))
                     << log::kv("error", e.what());
      keep_alive = false;
    }
    if (!keep_alive || conn->closed) break;
  }
  if (!conn->closed) {
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
    // stream_truncated and friends are expected from clients that just close.
    auto [shutdown_ec] = co_await stream.async_shutdown(kTuple);
    (void)shutdown_ec;
    boost::system::error_code ignored;
    beast::get_lowest_layer(stream).socket().close(ignored);
    conn->closed = true;
  }
}

awaitable<bool> FakeApiServer::Impl::respond(Connection& conn, const http::request<http::string_body>& req,
                                             http::status status, std::string body, std::string_view content_type,
                                             int retry_after) {
  http::response<http::string_body> res{status, req.version()};
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-cache, private");
  res.set("Audit-Id", random_uuid());
  if (retry_after > 0) res.set(http::field::retry_after, std::to_string(retry_after));
  if (options_.gzip && body.size() >= options_.gzip_min_bytes &&
      header(req, http::field::accept_encoding).find("gzip") != std::string_view::npos) {
    body = gzip_compress(body);
    res.set(http::field::content_encoding, "gzip");
    res.set(http::field::vary, "Accept-Encoding");
  }
  res.body() = std::move(body);
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  record(req, static_cast<int>(status));
  beast::get_lowest_layer(conn.stream).expires_after(kWriteTimeout);
  auto [ec, bytes] = co_await http::async_write(conn.stream, res, kTuple);
  (void)bytes;
  co_return !ec && req.keep_alive();
}

awaitable<bool> FakeApiServer::Impl::respond_error(Connection& conn, const http::request<http::string_body>& req,
                                                   const ApiError& e, int retry_after) {
  std::string body = status_json(e.code, e.reason, e.message, e.name, e.name.empty() ? "" : "nodes");
  co_return co_await respond(conn, req, static_cast<http::status>(e.code), std::move(body), "application/json",
                             retry_after);
}

awaitable<bool> FakeApiServer::Impl::handle(Connection& conn, http::request<http::string_body>& req) {
  auto parsed = boost::urls::parse_origin_form(req.target());
  if (!parsed) {
    const ApiError bad_target{
        400, "BadRequest", "request target \"" + std::string(req.target()) + "\" is not a valid URL", {}};
    co_return co_await respond_error(conn, req, bad_target);
  }
  std::string path = parsed->path();
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  Query query;
  for (auto param : parsed->params()) query.params.emplace_back(param.key, param.value);

  // Authentication: a client certificate from client_ca, or a bearer token.
  const std::string_view authorization = header(req, http::field::authorization);
  bool authenticated = !authentication_enabled_ || !conn.peer_user.empty();
  bool bad_credentials = false;
  if (!authorization.empty()) {
    std::lock_guard lock(mutex_);
    const bool bearer = authorization.size() > 7 && (authorization.substr(0, 7) == "Bearer " ||
                                                     authorization.substr(0, 7) == "bearer ");
    const std::string_view token = bearer ? authorization.substr(7) : std::string_view{};
    const bool valid = bearer && std::find(tokens_.begin(), tokens_.end(), token) != tokens_.end();
    if (valid) authenticated = true;
    // A wrong token is refused even where anonymous access would do, like kube-apiserver.
    if (!valid && authentication_enabled_ && conn.peer_user.empty()) bad_credentials = true;
  }
  if (bad_credentials || (!authenticated && !is_discovery_path(path))) {
    const ApiError unauthorized{401, "Unauthorized", "Unauthorized", {}};
    co_return co_await respond_error(conn, req, unauthorized);
  }

  std::optional<ApiError> error;
  try {
    co_return co_await dispatch(conn, req, path, query, authenticated);
  } catch (const ApiError& e) {
    error = e;
  } catch (const StoreError& e) {
    error = ApiError{e.code(), e.reason(), e.what(), e.name()};
  } catch (const std::invalid_argument& e) {
    error = ApiError{400, "BadRequest", e.what(), {}};
  }
  co_return co_await respond_error(conn, req, *error);
}

awaitable<bool> FakeApiServer::Impl::dispatch(Connection& conn, http::request<http::string_body>& req,
                                              const std::string& path, const Query& query, bool authenticated) {
  {
    if (path.starts_with("/admin/")) {
      if (!authenticated) throw ApiError{401, "Unauthorized", "Unauthorized", {}};
      co_return co_await serve_admin(conn, req, path, query);
    }
    {
      std::unique_lock lock(mutex_);
      if (fail_count_ > 0) {
        --fail_count_;
        const int status = fail_status_, retry_after = fail_retry_after_, left = fail_count_;
        lock.unlock();
        const ApiError injected{status, std::string(status_reason(status)),
                                "fake-apiserver: injected failure (" + std::to_string(left) + " more to come)", {}};
        co_return co_await respond_error(conn, req, injected, retry_after);
      }
    }
    const auto method = req.method();
    if (path == "/version") co_return co_await respond_text(conn, req, kVersionJson);
    if (path == "/healthz" || path == "/livez" || path == "/readyz")
      co_return co_await respond_text(conn, req, "ok", "text/plain; charset=utf-8");
    if (path == "/api") {
      std::string body = R"({"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":)"
                         R"("0.0.0.0/0","serverAddress":)" +
                         json_quote(std::string(header(req, http::field::host))) + "}]}";
      co_return co_await respond(conn, req, http::status::ok, std::move(body));
    }
    if (path == "/openapi/v3") co_return co_await respond_text(conn, req, kOpenApiV3RootJson);
    if (path == "/openapi/v3/api/v1")
      co_return co_await respond_text(conn, req, kOpenApiV3CoreJson);
    if (path == "/apis") co_return co_await respond_text(conn, req, kApiGroupListJson);
    if (path == "/api/v1") co_return co_await respond_text(conn, req, kApiResourceListJson);

    if (path == "/api/v1/nodes") {
      if (query.find("labelSelector") && !query.get("labelSelector").empty())
        throw ApiError{400, "BadRequest", "fake-apiserver does not support labelSelector", {}};
      if (query.find("dryRun")) throw ApiError{400, "BadRequest", "fake-apiserver does not support dryRun", {}};
      if (method == http::verb::get) {
        if (query.flag("watch")) co_return co_await serve_watch(conn, req, query);
        co_return co_await serve_list(conn, req, query);
      }
      if (method == http::verb::post) {
        auto written = store_.create(req.body());
        co_return co_await respond(conn, req, http::status::created, *written.json);
      }
      throw ApiError{405, "MethodNotAllowed",
                     std::string(req.method_string()) + " is not supported on /api/v1/nodes (GET, POST)", {}};
    }
    static constexpr std::string_view kNodesPrefix = "/api/v1/nodes/";
    if (path.starts_with(kNodesPrefix)) {
      std::string_view rest = std::string_view(path).substr(kNodesPrefix.size());
      Subresource subresource = Subresource::none;
      std::string name(rest);
      if (auto slash = rest.find('/'); slash != std::string_view::npos) {
        if (rest.substr(slash + 1) != "status")
          throw ApiError{404, "NotFound", "the server could not find the requested resource", {}};
        subresource = Subresource::status;
        name = std::string(rest.substr(0, slash));
      }
      if (query.find("dryRun")) throw ApiError{400, "BadRequest", "fake-apiserver does not support dryRun", {}};
      switch (method) {
        case http::verb::get: {
          auto stored = store_.get(name);
          if (!stored) throw ApiError{404, "NotFound", "nodes \"" + name + "\" not found", name};
          co_return co_await respond(conn, req, http::status::ok, *stored);
        }
        case http::verb::put: {
          auto written = store_.replace(req.body(), name, subresource, true);
          co_return co_await respond(conn, req, http::status::ok, *written.json);
        }
        case http::verb::patch: {
          const std::string_view type = header(req, http::field::content_type);
          PatchType patch_type;
          if (type.starts_with("application/merge-patch+json"))
            patch_type = PatchType::merge;
          else if (type.starts_with("application/strategic-merge-patch+json"))
            patch_type = PatchType::strategic;
          else
            throw ApiError{415, "UnsupportedMediaType",
                           "the patch Content-Type \"" + std::string(type) +
                               "\" is not supported by fake-apiserver (use application/merge-patch+json or "
                               "application/strategic-merge-patch+json)",
                           {}};
          auto written = store_.patch(name, req.body(), patch_type, subresource);
          co_return co_await respond(conn, req, http::status::ok, *written.json);
        }
        case http::verb::delete_: {
          if (subresource != Subresource::none)
            throw ApiError{405, "MethodNotAllowed", "DELETE is not supported on nodes/status", {}};
          auto deleted = store_.remove(name);
          rapidjson::Document doc;
          doc.Parse(deleted.json->data(), deleted.json->size());
          std::string uid;
          if (doc.IsObject() && doc.HasMember("metadata") && doc["metadata"].HasMember("uid"))
            uid = doc["metadata"]["uid"].GetString();
          std::string body = status_json(200, "", "", name, "nodes", uid);
          co_return co_await respond(conn, req, http::status::ok, std::move(body));
        }
        default:
          throw ApiError{405, "MethodNotAllowed",
                         std::string(req.method_string()) + " is not supported on " + path, {}};
      }
    }
    throw ApiError{404, "NotFound", "the server could not find the requested resource", {}};
  }
}
namespace {

// fieldSelector: only metadata.name=NAME (what kubectl sends for `get node X -w`).
std::optional<std::string> name_selector(const Query& query) {
  const std::string selector = query.get("fieldSelector");
  if (selector.empty()) return std::nullopt;
  for (std::string_view prefix : {"metadata.name==", "metadata.name="})
    if (selector.starts_with(prefix)) return selector.substr(prefix.size());
  throw ApiError{400, "BadRequest",
                 "fieldSelector \"" + selector + "\" is not supported by fake-apiserver (only metadata.name=NAME)", {}};
}

}  // namespace

awaitable<bool> FakeApiServer::Impl::serve_list(Connection& conn, const http::request<http::string_body>& req,
                                                const Query& query) {
  const auto limit = static_cast<std::size_t>(integer_param(query, "limit", 0, 0, 1'000'000'000));
  NodeStore::Page page;
  if (auto name = name_selector(query)) {
    page.resource_version = store_.resource_version();
    if (auto stored = store_.get(*name)) page.items.push_back(stored);
  } else {
    page = store_.list(limit, query.get("continue"), query.get("resourceVersion"));
  }
  std::size_t size = 256 + page.continue_token.size();
  for (const auto& item : page.items) size += item->size() + 1;
  std::string body;
  body.reserve(size);
  body += R"({"kind":"NodeList","apiVersion":"v1","metadata":{"resourceVersion":")";
  body += std::to_string(page.resource_version);
  body += '"';
  if (!page.continue_token.empty()) {
    body += R"(,"continue":")";
    body += page.continue_token;
    body += R"(","remainingItemCount":)";
    body += std::to_string(page.remaining_items);
  }
  body += R"(},"items":[)";
  for (std::size_t i = 0; i < page.items.size(); ++i) {
    if (i) body += ',';
    body += *page.items[i];
  }
  body += "]}";
  co_return co_await respond(conn, req, http::status::ok, std::move(body));
}

awaitable<bool> FakeApiServer::Impl::write_chunk(Connection& conn, const std::string& data) {
  beast::get_lowest_layer(conn.stream).expires_after(kWriteTimeout);
  auto [ec, bytes] = co_await net::async_write(conn.stream, http::make_chunk(net::buffer(data)), kTuple);
  (void)bytes;
  beast::get_lowest_layer(conn.stream).expires_never();
  co_return !ec && !conn.closed;
}

awaitable<bool> FakeApiServer::Impl::serve_watch(Connection& conn, const http::request<http::string_body>& req,
                                                 const Query& query) {
  using Clock = std::chrono::steady_clock;
  const std::optional<std::string> only_name = name_selector(query);
  const std::string rv_param = query.get("resourceVersion");
  const bool bookmarks = query.flag("allowWatchBookmarks");
  const bool send_initial_events = query.get("sendInitialEvents") == "true";
  std::optional<std::uint64_t> start_rv;
  if (!rv_param.empty() && rv_param != "0") {
    auto value = parse_integer(rv_param);
    if (!value || *value < 0)
      throw ApiError{400, "BadRequest", "invalid resourceVersion \"" + rv_param + "\": not a number", {}};
    start_rv = static_cast<std::uint64_t>(*value);
    // Like kube-apiserver's watch cache (after its wait for the resourceVersion): a
    // resourceVersion the store has not reached, e.g. from before a restart on a fresh
    // store, is refused rather than silently skipping the events up to it.
    if (*start_rv > store_.resource_version())
      throw ApiError{504, "Timeout",
                     "Too large resource version: " + rv_param + ", current: " +
                         std::to_string(store_.resource_version()),
                     {}};
  }
  if (send_initial_events && !bookmarks)
    throw ApiError{400, "BadRequest", "sendInitialEvents requires allowWatchBookmarks=true", {}};
  // kube-apiserver picks a random timeout between --min-request-timeout and twice that.
  static thread_local std::mt19937 random{std::random_device{}()};
  const long long default_timeout = std::uniform_int_distribution<long long>(1800, 3600)(random);
  const auto timeout = std::chrono::seconds(integer_param(query, "timeoutSeconds", default_timeout, 0, 1LL << 31));

  http::response<http::empty_body> res{http::status::ok, req.version()};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-cache, private");
  res.set("Audit-Id", random_uuid());
  res.chunked(true);
  res.keep_alive(req.keep_alive());
  http::response_serializer<http::empty_body> serializer{res};
  record(req, 200);
  beast::get_lowest_layer(conn.stream).expires_after(kWriteTimeout);
  auto [header_ec, header_bytes] = co_await http::async_write_header(conn.stream, serializer, kTuple);
  (void)header_bytes;
  if (header_ec || conn.closed) co_return false;
  beast::get_lowest_layer(conn.stream).expires_never();

  net::steady_timer wake(io_);
  conn.watching = true;
  conn.wake = &wake;
  struct Reset {
    Connection& conn;
    ~Reset() {
      conn.watching = false;
      conn.writing = false;
      conn.wake = nullptr;
    }
  } reset{conn};
  auto matches = [&](std::string_view name) { return !only_name || *only_name == name; };

  std::string out;
  std::uint64_t cursor = 0;
  if (!start_rv || send_initial_events) {
    // Synthetic ADDED events for everything there is now, then changes after that.
    auto [rv, snapshot] = store_.snapshot();
    cursor = rv;
    conn.delivered_rv = rv;
    conn.writing = true;
    for (std::size_t i = 0; i < snapshot->size(); ++i) {
      const auto& [name, object] = (*snapshot)[i];
      if (!matches(name)) continue;
      append_event(out, "ADDED", *object);
      if ((i + 1) % kListWriteBatch == 0) {
        if (!co_await write_chunk(conn, out)) co_return false;
        out.clear();
      }
    }
    if (send_initial_events) append_event(out, "BOOKMARK", bookmark_object(rv, true));
    if (!out.empty() && !co_await write_chunk(conn, out)) co_return false;
    out.clear();
    conn.writing = false;
  } else {
    cursor = *start_rv;
    conn.delivered_rv = cursor;
    const bool storm = watches_expired();
    if (storm || cursor < store_.oldest_resource_version()) {
      append_event(out, "ERROR",
                   status_json(410, "Expired",
                               "too old resource version: " + std::to_string(cursor) + " (" +
                                   std::to_string(storm ? store_.resource_version() + 1
                                                        : store_.oldest_resource_version()) +
                                   ")"));
      if (co_await write_chunk(conn, out)) {
        beast::get_lowest_layer(conn.stream).expires_after(kWriteTimeout);
        co_await net::async_write(conn.stream, http::make_chunk_last(), kTuple);
      }
      co_return false;
    }
  }

  const auto deadline = Clock::now() + timeout;
  auto next_bookmark = Clock::now() + options_.bookmark_interval;
  std::vector<WatchEvent> events;
  bool keep_alive = req.keep_alive();
  for (;;) {
    events.clear();
    if (!store_.events_after(cursor, events, kWatchBatch)) {
      // Our next events were dropped from history: end the watch, as the watch
      // cache does for a watcher it cannot serve; the client re-watches and gets 410.
      keep_alive = false;
      break;
    }
    out.clear();
    for (const auto& event : events)
      if (matches(event.name)) append_event(out, to_string(event.type), *event.object);
    if (!events.empty()) cursor = events.back().resource_version;
    if (!out.empty()) {
      if (auto cut = take_watch_cut(out)) {
        // Injected fault: half an event, then the end of the connection (FIN, no TLS close_notify).
        KHG_LOG(info) << "Cutting a watch event short" << log::kv("sent", *cut) << log::kv("of", out.size());
        out.resize(*cut);
        if (co_await write_chunk(conn, out)) {
          net::steady_timer pause(io_, std::chrono::milliseconds(100));  // let the client read the half
          co_await pause.async_wait(kTuple);
        }
        if (!conn.closed) {
          conn.closed = true;
          boost::system::error_code ignored;
          auto& socket = beast::get_lowest_layer(conn.stream).socket();
          socket.shutdown(tcp::socket::shutdown_both, ignored);
          socket.close(ignored);
        }
        co_return false;
      }
      // Like the watch cache: events handed to the connection no longer count as
      // lag; what piles up behind a blocked write does.
      conn.delivered_rv = cursor;
      conn.writing = true;
      if (!co_await write_chunk(conn, out)) co_return false;
      conn.writing = false;
      conn.delivered_rv = cursor;
      continue;
    }
    conn.delivered_rv = cursor;
    if (!events.empty()) continue;  // all filtered out; there may be more
    const auto now = Clock::now();
    if (now >= deadline) break;
    if (bookmarks && now >= next_bookmark) {
      append_event(out, "BOOKMARK", bookmark_object(cursor, false));
      next_bookmark = now + options_.bookmark_interval;
      if (!co_await write_chunk(conn, out)) co_return false;
      continue;
    }
    wake.expires_at(bookmarks ? std::min(deadline, next_bookmark) : deadline);
    auto [wait_ec] = co_await wake.async_wait(kTuple);
    (void)wait_ec;  // timeout or a wake-up: both mean "look again"
    if (conn.closed) co_return false;
  }
  beast::get_lowest_layer(conn.stream).expires_after(kWriteTimeout);
  auto [last_ec, last_bytes] = co_await net::async_write(conn.stream, http::make_chunk_last(), kTuple);
  (void)last_bytes;
  co_return !last_ec && keep_alive;
}

awaitable<bool> FakeApiServer::Impl::serve_admin(Connection& conn, const http::request<http::string_body>& req,
                                                 std::string_view path, const Query& query) {
  if (req.method() != http::verb::post)
    throw ApiError{405, "MethodNotAllowed", std::string(path) + " takes POST", {}};
  auto ok = [](const std::string& message) { return status_json(200, "", message); };
  if (path == "/admin/compact") {
    store_.compact();
    std::string body = ok("compacted at resourceVersion " + std::to_string(store_.resource_version()));
    co_return co_await respond(conn, req, http::status::ok, std::move(body));
  }
  if (path == "/admin/fail") {
    const int status = static_cast<int>(integer_param(query, "status", 503, 100, 599));
    const int count = static_cast<int>(integer_param(query, "count", 1, 0, 1'000'000));
    const int retry_after = static_cast<int>(integer_param(query, "retryAfter", 0, 0, 86400));
    {
      std::lock_guard lock(mutex_);
      fail_status_ = status;
      fail_count_ = count;
      fail_retry_after_ = retry_after;
    }
    std::string body = ok("the next " + std::to_string(count) + " requests fail with " + std::to_string(status));
    co_return co_await respond(conn, req, http::status::ok, std::move(body));
  }
  if (path == "/admin/drop-connections") {
    http::request<http::string_body> closing = req;
    closing.keep_alive(false);
    std::string body = ok("dropping every connection");
    co_await respond(conn, closing, http::status::ok, std::move(body));
    drop_all();
    co_return false;
  }
  if (path == "/admin/generate") {
    GenerateOptions options;
    options.count = static_cast<std::size_t>(integer_param(query, "count", 0, 0, 1'000'000));
    options.first_index = static_cast<std::size_t>(integer_param(query, "start", 0, 0, 1'000'000));
    if (query.find("prefix")) options.name_prefix = query.get("prefix");
    if (query.find("podCIDRBase")) options.pod_cidr_base = query.get("podCIDRBase");
    options.pod_cidr_size = static_cast<unsigned>(integer_param(query, "podCIDRSize", 0, 0, 32));
    if (query.find("nodeIPBase")) options.node_ip_base = query.get("nodeIPBase");
    if (query.find("realistic")) options.realistic = query.flag("realistic");
    std::vector<std::string> objects;
    objects.reserve(options.count);
    for (const auto& spec : make_node_specs(options)) objects.push_back(make_node_json(spec));
    const auto rv = store_.create_many(objects);
    std::string body =
        R"({"resourceVersion":")" + std::to_string(rv) + R"(","count":)" + std::to_string(options.count) + "}";
    co_return co_await respond(conn, req, http::status::ok, std::move(body));
  }
  if (path == "/admin/tokens") {
    std::size_t count = 0;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [key, value] : query.params) {
        if (value.empty()) throw ApiError{400, "BadRequest", "/admin/tokens: empty " + key, {}};
        if (key == "add" && std::find(tokens_.begin(), tokens_.end(), value) == tokens_.end())
          tokens_.push_back(value);
        else if (key == "remove")
          std::erase(tokens_, value);
        else if (key != "add")
          throw ApiError{400, "BadRequest", "/admin/tokens takes add=TOKEN and remove=TOKEN, not " + key, {}};
      }
      count = tokens_.size();
    }
    // Never echo tokens back.
    std::string body = ok(std::to_string(count) + " tokens accepted");
    co_return co_await respond(conn, req, http::status::ok, std::move(body));
  }
  if (path == "/admin/cut-watch") {
    const int count = static_cast<int>(integer_param(query, "count", 1, 0, 1'000'000));
    const auto after = static_cast<std::size_t>(integer_param(query, "after", 0, 0, 1'000'000'000));
    {
      std::lock_guard lock(mutex_);
      cut_watch_count_ = count;
      cut_after_bytes_ = after;
    }
    std::string body = ok("the next " + std::to_string(count) + " watch event writes are cut short");
    co_return co_await respond(conn, req, http::status::ok, std::move(body));
  }
  if (path == "/admin/stall" || path == "/admin/expire-watches") {
    const auto seconds = integer_param(query, "seconds", 0, 0, 86400);
    const auto ms = integer_param(query, "ms", seconds * 1000, 0, 86'400'000);
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    {
      std::lock_guard lock(mutex_);
      (path == "/admin/stall" ? stall_until_ : expire_watches_until_) = until;
    }
    std::string body = ok(std::string(path == "/admin/stall" ? "new connections get no TLS handshake"
                                                             : "every watch from a resourceVersion gets 410") +
                          " for " + std::to_string(ms) + " ms");
    if (!query.flag("drop")) co_return co_await respond(conn, req, http::status::ok, std::move(body));
    // drop=true: and every open connection is cut, so that the clients reconnect into the fault.
    http::request<http::string_body> closing = req;
    closing.keep_alive(false);
    co_await respond(conn, closing, http::status::ok, std::move(body));
    drop_all();
    co_return false;
  }
  if (path == "/admin/touch") {
    std::uint64_t rv = 0;
    if (query.flag("all")) {
      for (const auto& name : store_.names()) rv = store_.touch(name).resource_version;
    } else {
      const std::string name = query.get("name");
      if (name.empty()) throw ApiError{400, "BadRequest", "/admin/touch needs ?name=NODE or ?all=true", {}};
      rv = store_.touch(name).resource_version;
    }
    std::string body = R"({"resourceVersion":")" + std::to_string(rv) + "\"}";
    co_return co_await respond(conn, req, http::status::ok, std::move(body));
  }
  throw ApiError{404, "NotFound", "unknown admin endpoint " + std::string(path), {}};
}

// ---- public API ----------------------------------------------------------

namespace {
// The C++ API throws std::invalid_argument for bad input, std::runtime_error otherwise.
template <typename F>
auto translate_errors(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const StoreError& e) {
    if (e.code() == 400 || e.code() == 422) throw std::invalid_argument(std::string("FakeApiServer: ") + e.what());
    throw std::runtime_error(std::string("FakeApiServer: ") + e.what());
  }
}
}  // namespace

FakeApiServer::FakeApiServer(FakeApiServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
FakeApiServer::~FakeApiServer() = default;

std::uint16_t FakeApiServer::port() const { return impl_->endpoint_.port(); }

std::string FakeApiServer::url() const {
  const auto address = impl_->endpoint_.address();
  const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return "https://" + host + ":" + std::to_string(port());
}

std::string FakeApiServer::create_node(const std::string& node_json) {
  return translate_errors([&] { return std::to_string(impl_->store_.create(node_json).resource_version); });
}

std::string FakeApiServer::replace_node(const std::string& node_json) {
  return translate_errors(
      [&] { return std::to_string(impl_->store_.replace(node_json, {}, Subresource::none, false).resource_version); });
}

std::string FakeApiServer::delete_node(const std::string& name) {
  return translate_errors([&] { return std::to_string(impl_->store_.remove(name).resource_version); });
}

std::string FakeApiServer::touch_node(const std::string& name) {
  return translate_errors([&] { return std::to_string(impl_->store_.touch(name).resource_version); });
}

std::string FakeApiServer::generate_nodes(const GenerateOptions& options) {
  std::vector<std::string> objects;
  objects.reserve(options.count);
  for (const auto& spec : make_node_specs(options)) objects.push_back(make_node_json(spec));
  return translate_errors([&] { return std::to_string(impl_->store_.create_many(objects)); });
}

std::vector<std::string> FakeApiServer::node_names() const { return impl_->store_.names(); }

std::string FakeApiServer::node_json(const std::string& name) const {
  auto stored = impl_->store_.get(name);
  return stored ? *stored : std::string();
}

std::string FakeApiServer::resource_version() const { return std::to_string(impl_->store_.resource_version()); }

void FakeApiServer::compact() { impl_->store_.compact(); }

void FakeApiServer::fail_next(int http_status, int count, int retry_after_seconds) {
  if (http_status < 100 || http_status > 599)
    throw std::invalid_argument("FakeApiServer::fail_next: http_status " + std::to_string(http_status) +
                                " is not an HTTP status");
  std::lock_guard lock(impl_->mutex_);
  impl_->fail_status_ = http_status;
  impl_->fail_count_ = std::max(count, 0);
  impl_->fail_retry_after_ = std::max(retry_after_seconds, 0);
}

void FakeApiServer::drop_connections() {
  impl_->run_on_io([this] { impl_->drop_all(); });
}

void FakeApiServer::set_tokens(std::vector<std::string> tokens) {
  std::lock_guard lock(impl_->mutex_);
  impl_->tokens_ = std::move(tokens);
}

void FakeApiServer::add_token(const std::string& token) {
  std::lock_guard lock(impl_->mutex_);
  if (std::find(impl_->tokens_.begin(), impl_->tokens_.end(), token) == impl_->tokens_.end())
    impl_->tokens_.push_back(token);
}

void FakeApiServer::remove_token(const std::string& token) {
  std::lock_guard lock(impl_->mutex_);
  std::erase(impl_->tokens_, token);
}

void FakeApiServer::cut_next_watch_events(int count, std::size_t after_bytes) {
  std::lock_guard lock(impl_->mutex_);
  impl_->cut_watch_count_ = std::max(count, 0);
  impl_->cut_after_bytes_ = after_bytes;
}

void FakeApiServer::stall_handshakes(std::chrono::milliseconds duration) {
  std::lock_guard lock(impl_->mutex_);
  impl_->stall_until_ = std::chrono::steady_clock::now() + std::max(duration, std::chrono::milliseconds(0));
}

void FakeApiServer::expire_watches(std::chrono::milliseconds duration) {
  std::lock_guard lock(impl_->mutex_);
  impl_->expire_watches_until_ = std::chrono::steady_clock::now() + std::max(duration, std::chrono::milliseconds(0));
}

std::string FakeApiServer::state_json() const {
  auto [rv, snapshot] = impl_->store_.snapshot();
  std::size_t size = 128;
  for (const auto& item : *snapshot) size += item.second->size() + 1;
  std::string out;
  out.reserve(size);
  out += R"({"kind":"NodeList","apiVersion":"v1","metadata":{"resourceVersion":")" + std::to_string(rv) +
         R"("},"items":[)";
  for (std::size_t i = 0; i < snapshot->size(); ++i) {
    if (i) out += ',';
    out += *(*snapshot)[i].second;
  }
  out += "]}";
  return out;
}

void FakeApiServer::restore_state(const std::string& state) {
  rapidjson::Document doc;
  doc.Parse(state.data(), state.size());
  if (doc.HasParseError() || !doc.IsObject())
    throw std::invalid_argument("FakeApiServer::restore_state: not a JSON object");
  auto metadata = doc.FindMember("metadata");
  auto items = doc.FindMember("items");
  if (metadata == doc.MemberEnd() || !metadata->value.IsObject() || !metadata->value.HasMember("resourceVersion") ||
      !metadata->value["resourceVersion"].IsString() || items == doc.MemberEnd() || !items->value.IsArray())
    throw std::invalid_argument(
        "FakeApiServer::restore_state: expected a NodeList with metadata.resourceVersion (a string) and items");
  auto rv = parse_integer(metadata->value["resourceVersion"].GetString());
  if (!rv || *rv <= 0)
    throw std::invalid_argument("FakeApiServer::restore_state: metadata.resourceVersion is not a positive number");
  std::vector<std::string> objects;
  for (const auto& item : items->value.GetArray()) objects.push_back(to_json(item));
  translate_errors([&] { impl_->store_.restore(static_cast<std::uint64_t>(*rv), objects); });
}

void FakeApiServer::stop() {
  impl_->run_on_io([this] { impl_->stop_listening_and_close(); });
}

void FakeApiServer::restart() {
  impl_->run_on_io([this] { impl_->listen(); });
}

std::vector<FakeApiServer::Request> FakeApiServer::requests() const {
  std::lock_guard lock(impl_->mutex_);
  return {impl_->requests_.begin(), impl_->requests_.end()};
}

void FakeApiServer::clear_requests() {
  std::lock_guard lock(impl_->mutex_);
  impl_->requests_.clear();
}

std::size_t FakeApiServer::open_connections() const { return impl_->open_connections_.load(); }

}  // namespace hostgw::testing
