#pragma once

// FakeApiServer: an in-process stand-in for kube-apiserver, serving the Node
// resource (`/api/v1/nodes`) over HTTPS with the real server's semantics:
// paged LIST with continue tokens, WATCH from a resourceVersion with bookmarks
// and 410 Expired, create/replace/patch/delete, discovery for kubectl, bearer
// token and client-certificate authentication, gzip.
//
// It owns its own io_context and thread; every public method is thread-safe
// and may be called from the test's thread while clients are connected. Node
// objects are serialised once per change and kept as JSON text, so large LISTs
// and watch fan-out cost a copy, not a re-encode. A watch client that falls too
// far behind is disconnected (like kube-apiserver's cache watcher); it never
// slows the others down.
//
// Test support only: never used by the kube-hostgw binary. Beast stays out of
// this header (pimpl) so that tests including it compile quickly.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace hostgw::testing {

// A throwaway PKI generated at run time with the OpenSSL API (no openssl CLI).
// Keys are ECDSA P-256, PEM (PKCS#8); certificates are valid from one hour ago
// for ten years.
struct TestPki {
  std::string ca_pem;                           // CA certificate
  std::string server_cert_pem, server_key_pem;  // signed by the CA, SANs as given (IPs and DNS names)
  std::string client_cert_pem, client_key_pem;  // signed by the CA, CN = client_cn (client-cert auth)
};
// `server_sans`: IP addresses (v4 or v6) and DNS names; each becomes a
// subjectAltName of the matching type. Throws std::runtime_error on failure.
TestPki make_test_pki(const std::vector<std::string>& server_sans, const std::string& client_cn = "kube-hostgw");

struct NodeSpec {
  std::string name;
  std::vector<std::string> pod_cidrs;  // spec.podCIDRs (spec.podCIDR = first)
  std::vector<std::string> internal_ips, external_ips;
  bool realistic = true;  // ~8 KB: labels, annotations, conditions, images, managedFields
};
// A full v1 Node object as a kubelet registers it (no resourceVersion: the
// server assigns one). With realistic = false: only the fields above plus
// kind/apiVersion/metadata.name/labels (a few hundred bytes).
std::string make_node_json(const NodeSpec& spec);

// Bulk node generation for benchmarks and scale tests.
struct GenerateOptions {
  std::size_t count = 0;
  std::size_t first_index = 0;             // node i is named name_prefix + (first_index + i)
  std::string name_prefix = "node-";
  std::string pod_cidr_base = "10.244.0.0/16";  // IPv4; node i gets the i-th block of pod_cidr_size
  unsigned pod_cidr_size = 0;              // prefix length per node; 0 = largest that fits count+first_index
  std::string node_ip_base = "100.64.0.0/16";   // IPv4; node i gets base + 1 + index
  // 0: one address per node, as above. Otherwise only this many addresses are
  // used: node 0 keeps base + 1 and the others take base + 2 .. base + count in
  // turn (thousands of nodes behind the few addresses of a documentation /24).
  std::size_t node_ip_count = 0;
  bool realistic = true;
};
// The NodeSpecs GenerateOptions describes. Throws std::invalid_argument when
// the blocks or addresses do not fit the given bases.
std::vector<NodeSpec> make_node_specs(const GenerateOptions& options);

struct FakeApiServerOptions {
  std::string listen_address = "127.0.0.1";
  std::uint16_t port = 0;         // 0 = ephemeral
  std::string cert_pem, key_pem;  // server identity
  std::string client_ca_pem;      // if set, client certificates signed by it authenticate
  // Accepted bearer tokens. With no tokens and no client_ca_pem every request
  // is accepted (anonymous); otherwise unauthenticated API requests get 401.
  std::vector<std::string> tokens;
  std::size_t history_limit = 10000;  // watch events kept; a watch from an older RV gets ERROR 410
  std::chrono::milliseconds bookmark_interval{60000};
  bool gzip = true;  // gzip responses when the client sends Accept-Encoding: gzip
  // Responses smaller than this are not gzipped (kube-apiserver: 128 KiB).
  std::size_t gzip_min_bytes = 128 * 1024;
  // A watch client more than this many events behind the newest event is
  // disconnected (0 = history_limit). Its next watch from its last RV may get 410.
  std::size_t max_watch_lag = 0;
  // Idle keep-alive connections are closed after this long.
  std::chrono::milliseconds idle_timeout{90000};
};

class FakeApiServer {
 public:
  // Starts listening (throws std::runtime_error if it cannot: bad address,
  // port in use, bad certificate or key).
  explicit FakeApiServer(FakeApiServerOptions options);
  ~FakeApiServer();  // stops, closes every connection
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  std::uint16_t port() const;
  std::string url() const;  // "https://127.0.0.1:PORT" (IPv6 in brackets)

  // The node store. Each call is one event in the watch history; returns the
  // new resourceVersion. Throws std::invalid_argument for JSON that is not a
  // Node with a valid name, std::runtime_error for a duplicate (create) or a
  // missing node (replace, delete, touch).
  std::string create_node(const std::string& node_json);
  std::string replace_node(const std::string& node_json);
  std::string delete_node(const std::string& name);
  std::string touch_node(const std::string& name);  // heartbeat: only resourceVersion/conditions change
  // Creates options.count generated nodes (one event each); returns the last resourceVersion.
  std::string generate_nodes(const GenerateOptions& options);
  std::vector<std::string> node_names() const;  // sorted
  // The stored JSON of one node (with its resourceVersion); empty if absent.
  std::string node_json(const std::string& name) const;
  std::string resource_version() const;  // the newest resourceVersion

  void compact();  // drop all history and continue tokens: watches from older RVs → ERROR 410 Expired
  // The next `count` API requests (after authentication; not /admin) are answered
  // with `http_status`, a Status body and, if retry_after_seconds > 0, Retry-After.
  void fail_next(int http_status, int count, int retry_after_seconds = 0);
  void drop_connections();  // abruptly close every open connection (mid-stream)
  void set_tokens(std::vector<std::string> tokens);
  void add_token(const std::string& token);     // accepted from now on (no-op if already)
  void remove_token(const std::string& token);  // revoked: requests carrying it get 401

  // Fault injection (e2e fault scenarios).
  // The next `count` watch writes of change events (not the initial ADDED events, not
  // bookmarks) send only the first `after_bytes` bytes of the chunk (0: half of it, at
  // least 1 byte, always short of a whole event), then close the connection: the
  // client sees half a JSON object and then the end of the stream.
  void cut_next_watch_events(int count, std::size_t after_bytes = 0);
  // For `duration` from now, new connections are accepted and then left without a
  // word (no TLS handshake) until the stall ends; then they are served normally.
  // A zero duration ends a stall at once.
  void stall_handshakes(std::chrono::milliseconds duration);
  // For `duration` from now, every WATCH from a resourceVersion is answered with
  // one ERROR event carrying a 410 Expired Status (a "410 storm").
  void expire_watches(std::chrono::milliseconds duration);

  // The whole store as a NodeList with metadata.resourceVersion (for --state-file),
  // and its inverse for a freshly started, empty server (throws std::invalid_argument
  // for a malformed state, std::runtime_error if the server already has nodes).
  std::string state_json() const;
  void restore_state(const std::string& state_json);
  void stop();     // stop listening and close every connection; data is kept
  void restart();  // listen again on the same port (no-op if listening)

  struct Request {
    std::string method, target, authorization, user_agent;
    int status;
  };
  // Every request seen, in order (the newest 100000). A watch is recorded when
  // its response header is sent.
  std::vector<Request> requests() const;
  void clear_requests();
  // Number of connections open right now (for assertions about drops).
  std::size_t open_connections() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hostgw::testing
