// fake-apiserver: the fake kube-apiserver as a standalone program, for e2e
// scripts (inside a network namespace) and benchmarks.
//
//   fake-apiserver --listen ADDR --port P --cert FILE --key FILE [--client-ca FILE]
//                  --token TOKEN... [--history N] [--bookmark-interval-ms N] [--nodes-file FILE.json]
//                  [--state-file FILE.json]
//   fake-apiserver pki --out DIR --san IP_OR_NAME... [--client-cn NAME]

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <signal.h>
#include <sys/stat.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "fake-apiserver/fake_apiserver.hpp"

namespace po = boost::program_options;
using namespace hostgw::testing;

namespace {

std::string read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(std::string(what) + " " + path + ": cannot open for reading");
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_file(const std::string& path, const std::string& data, mode_t mode) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out || !(out << data) || !out.flush()) throw std::runtime_error(path + ": cannot write");
  out.close();
  ::chmod(path.c_str(), mode);
}

int pki_main(int argc, char** argv) {
  po::options_description desc("fake-apiserver pki: writes ca.crt, server.crt, server.key, client.crt, client.key");
  std::string out_dir, client_cn;
  std::vector<std::string> sans;
  desc.add_options()("help,h", "show this help")("out", po::value(&out_dir)->required(), "output directory")(
      "san", po::value(&sans)->multitoken()->required(), "server subjectAltName: IP address or DNS name (repeatable)")(
      "client-cn", po::value(&client_cn)->default_value("kube-hostgw"), "client certificate common name");
  po::variables_map vm;
  po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  po::notify(vm);
  ::mkdir(out_dir.c_str(), 0755);
  const TestPki pki = make_test_pki(sans, client_cn);
  write_file(out_dir + "/ca.crt", pki.ca_pem, 0644);
  write_file(out_dir + "/server.crt", pki.server_cert_pem, 0644);
  write_file(out_dir + "/server.key", pki.server_key_pem, 0600);
  write_file(out_dir + "/client.crt", pki.client_cert_pem, 0644);
  write_file(out_dir + "/client.key", pki.client_key_pem, 0600);
  std::cout << "fake-apiserver: wrote ca.crt server.crt server.key client.crt client.key to " << out_dir << std::endl;
  return 0;
}

// A JSON array of Node objects or a NodeList, as one JSON text per node.
std::vector<std::string> load_nodes(const std::string& path) {
  const std::string text = read_file(path, "--nodes-file");
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError())
    throw std::runtime_error("--nodes-file " + path + ": not valid JSON: " +
                             rapidjson::GetParseError_En(doc.GetParseError()) + " at offset " +
                             std::to_string(doc.GetErrorOffset()));
  const rapidjson::Value* items = nullptr;
  if (doc.IsArray()) {
    items = &doc;
  } else if (doc.IsObject() && doc.HasMember("items") && doc["items"].IsArray()) {
    items = &doc["items"];
  } else {
    throw std::runtime_error("--nodes-file " + path + ": expected a JSON array of Nodes or a NodeList with \"items\"");
  }
  std::vector<std::string> nodes;
  for (const auto& item : items->GetArray()) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    item.Accept(writer);
    nodes.emplace_back(buffer.GetString(), buffer.GetSize());
  }
  return nodes;
}

int serve_main(int argc, char** argv) {
  po::options_description desc("fake-apiserver: a fake kube-apiserver serving /api/v1/nodes over HTTPS");
  FakeApiServerOptions options;
  std::string cert_file, key_file, client_ca_file, nodes_file, state_file;
  long long bookmark_ms = 60000;
  unsigned port = 0;
  desc.add_options()("help,h", "show this help")(
      "listen", po::value(&options.listen_address)->default_value("127.0.0.1"), "address to listen on")(
      "port", po::value(&port)->default_value(0), "port (0: any free port)")(
      "cert", po::value(&cert_file)->required(), "server certificate (PEM)")(
      "key", po::value(&key_file)->required(), "server private key (PEM)")(
      "client-ca", po::value(&client_ca_file), "accept client certificates signed by this CA (PEM)")(
      "token", po::value(&options.tokens)->multitoken(), "accepted bearer token (repeatable)")(
      "history", po::value(&options.history_limit)->default_value(10000), "watch events kept")(
      "bookmark-interval-ms", po::value(&bookmark_ms)->default_value(60000), "BOOKMARK interval")(
      "nodes-file", po::value(&nodes_file), "initial nodes: a JSON array of Nodes or a NodeList")(
      "state-file", po::value(&state_file),
      "keep the store here across restarts (like etcd): loaded at start when it exists (then --nodes-file is "
      "ignored), rewritten within 20 ms of every change")(
      "no-gzip", "never gzip responses");
  po::variables_map vm;
  po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
  if (vm.count("help")) {
    std::cout << desc << "\n  fake-apiserver pki --out DIR --san IP_OR_NAME... writes a test PKI\n";
    return 0;
  }
  po::notify(vm);
  if (port > 65535) throw std::runtime_error("--port " + std::to_string(port) + ": out of range");
  if (bookmark_ms <= 0) throw std::runtime_error("--bookmark-interval-ms must be positive");
  options.port = static_cast<std::uint16_t>(port);
  options.bookmark_interval = std::chrono::milliseconds(bookmark_ms);
  options.cert_pem = read_file(cert_file, "--cert");
  options.key_pem = read_file(key_file, "--key");
  if (!client_ca_file.empty()) options.client_ca_pem = read_file(client_ca_file, "--client-ca");
  if (vm.count("no-gzip")) options.gzip = false;
  std::vector<std::string> nodes;
  if (!nodes_file.empty()) nodes = load_nodes(nodes_file);

  // Block the signals before the server thread starts, so only sigwait sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  FakeApiServer server(options);
  bool restored = false;
  if (!state_file.empty()) {
    std::ifstream in(state_file, std::ios::binary);
    if (in) {
      std::ostringstream text;
      text << in.rdbuf();
      try {
        server.restore_state(text.str());
      } catch (const std::exception& e) {
        throw std::runtime_error("--state-file " + state_file + ": " + e.what());
      }
      restored = true;
    }
  }
  if (restored) nodes.clear();
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    try {
      server.create_node(nodes[i]);
    } catch (const std::exception& e) {
      throw std::runtime_error("--nodes-file " + nodes_file + ": item " + std::to_string(i) + ": " + e.what());
    }
  }
  std::cout << "fake-apiserver: listening on " << server.url() << std::endl;
  // Saves the store whenever its resourceVersion moved (write to a temporary file, then rename).
  std::string saved_rv;
  auto save_state = [&] {
    if (state_file.empty() || server.resource_version() == saved_rv) return;
    const std::string state = server.state_json();
    const std::string temporary = state_file + ".tmp";
    write_file(temporary, state, 0600);
    if (std::rename(temporary.c_str(), state_file.c_str()) != 0)
      throw std::runtime_error("--state-file " + state_file + ": cannot rename " + temporary);
    saved_rv = server.resource_version();
  };
  save_state();
  int signal = 0;
  const timespec poll{0, 20'000'000};
  for (;;) {
    signal = sigtimedwait(&signals, nullptr, &poll);
    if (signal > 0) break;
    if (errno != EAGAIN && errno != EINTR) throw std::runtime_error("sigtimedwait failed");
    save_state();
  }
  save_state();
  std::cout << "fake-apiserver: " << (signal == SIGTERM ? "SIGTERM" : "SIGINT") << ", stopping" << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc > 1 && std::string_view(argv[1]) == "pki") return pki_main(argc - 1, argv + 1);
    return serve_main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "fake-apiserver: error: " << e.what() << std::endl;
    return 2;
  }
}
