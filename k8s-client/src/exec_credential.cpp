#include "k8s-client/exec_credential.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/buffer.hpp>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/base64.hpp"

extern char** environ;

namespace hostgw::k8s {

namespace {

std::string member_string(const rapidjson::Value& object, const char* name, bool& wrong_type) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || it->value.IsNull()) return {};
  if (!it->value.IsString()) {
    wrong_type = true;
    return {};
  }
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

int digits(std::string_view text, std::size_t pos, std::size_t count) {
  if (pos + count > text.size()) return -1;
  int value = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
  if (text.size() < 20) return std::nullopt;
  int year = digits(text, 0, 4), month = digits(text, 5, 2), day = digits(text, 8, 2);
  int hour = digits(text, 11, 2), minute = digits(text, 14, 2), second = digits(text, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 ||
      minute > 59 || second < 0 || second > 60)
    return std::nullopt;
  if (text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != 't' && text[10] != ' ') ||
      text[13] != ':' || text[16] != ':')
    return std::nullopt;
  std::size_t pos = 19;
  std::chrono::nanoseconds fraction{0};
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::int64_t scale = 100000000;
    std::size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      fraction += std::chrono::nanoseconds((text[pos] - '0') * scale);
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  if (pos >= text.size()) return std::nullopt;
  int offset_minutes = 0;
  if (text[pos] == 'Z' || text[pos] == 'z') {
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    int oh = digits(text, pos + 1, 2), om = digits(text, pos + 4, 2);
    if (oh < 0 || om < 0 || pos + 3 >= text.size() || text[pos + 3] != ':') return std::nullopt;
    offset_minutes = (oh * 60 + om) * (text[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  std::chrono::year_month_day date{std::chrono::year(year), std::chrono::month(month), std::chrono::day(day)};
  if (!date.ok()) return std::nullopt;
  auto time = std::chrono::sys_days(date) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
              std::chrono::seconds(second) - std::chrono::minutes(offset_minutes);
  return std::chrono::time_point_cast<std::chrono::system_clock::duration>(time + fraction);
}

ExecCredentialResult parse_exec_credential(std::string_view json, const ExecConfig& exec) {
  auto fail = [&](const std::string& what) -> ExecCredentialResult {
    return common::Error{std::make_error_code(std::errc::bad_message), exec.where + ": plugin output " + what};
  };
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return fail("is not a JSON object (an ExecCredential was expected)");
  bool wrong = false;
  std::string kind = member_string(doc, "kind", wrong);
  std::string api_version = member_string(doc, "apiVersion", wrong);
  if (kind != "ExecCredential") return fail("has kind \"" + kind + "\", expected ExecCredential");
  if (api_version != exec.api_version)
    return fail("has apiVersion \"" + api_version + "\", expected \"" + exec.api_version + "\" as configured");
  auto status = doc.FindMember("status");
  if (status == doc.MemberEnd() || !status->value.IsObject()) return fail("has no status");
  ExecCredential credential;
  credential.token = member_string(status->value, "token", wrong);
  credential.client_certificate_pem = member_string(status->value, "clientCertificateData", wrong);
  credential.client_key_pem = member_string(status->value, "clientKeyData", wrong);
  std::string expiration = member_string(status->value, "expirationTimestamp", wrong);
  if (wrong) return fail("has a status field that is not a string");
  if (credential.client_certificate_pem.empty() != credential.client_key_pem.empty())
    return fail("has only one of status.clientCertificateData and status.clientKeyData");
  if (credential.token.empty() && credential.client_certificate_pem.empty())
    return fail("has neither status.token nor status.clientCertificateData/clientKeyData");
  if (!expiration.empty()) {
    credential.expiration = parse_rfc3339(expiration);
    if (!credential.expiration) return fail("has status.expirationTimestamp \"" + expiration + "\", not RFC 3339");
  }
  return credential;
}

std::string exec_info_json(const ExecConfig& exec, const ClusterConfig& cluster) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("apiVersion");
  w.String(exec.api_version.c_str());
  w.Key("kind");
  w.String("ExecCredential");
  w.Key("spec");
  w.StartObject();
  w.Key("interactive");
  w.Bool(false);
  if (exec.provide_cluster_info) {
    w.Key("cluster");
    w.StartObject();
    w.Key("server");
    w.String(cluster.server.c_str());
    if (!cluster.tls_server_name.empty()) {
      w.Key("tls-server-name");
      w.String(cluster.tls_server_name.c_str());
    }
    w.Key("insecure-skip-tls-verify");
    w.Bool(cluster.insecure_skip_tls_verify);
    if (!cluster.ca_pem.empty()) {
      // certificate-authority-data is base64 of the PEM bytes.
      const std::string encoded = common::base64_encode(cluster.ca_pem);
      w.Key("certificate-authority-data");
      w.String(encoded.c_str());
    }
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  return buffer.GetString();
}

namespace {

namespace asio = boost::asio;

constexpr std::size_t kMaxPluginOutput = 1024 * 1024;

// Starts the plugin with stdout on a pipe (returned in `out`) and stdin on
// /dev/null. Empty, or why it could not start.
std::string spawn_plugin(const ExecConfig& exec, const std::string& exec_info, pid_t& pid, int& out) {
  // Everything the child needs is prepared before posix_spawn.
  std::vector<std::string> args{exec.command};
  args.insert(args.end(), exec.args.begin(), exec.args.end());
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    bool overridden = entry.rfind("KUBERNETES_EXEC_INFO=", 0) == 0;
    for (const auto& [name, value] : exec.env) overridden = overridden || entry.rfind(name + "=", 0) == 0;
    if (!overridden) env.emplace_back(entry);
  }
  for (const auto& [name, value] : exec.env) env.push_back(name + "=" + value);
  env.push_back("KUBERNETES_EXEC_INFO=" + exec_info);
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  int spawn_error = ::posix_spawnp(&pid, exec.command.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (spawn_error != 0) {
    ::close(fds[0]);
    return "cannot run command \"" + exec.command + "\": " + std::strerror(spawn_error);
  }
  out = fds[0];
  return {};
}

// What the plugin printed, read until it closes stdout, the deadline, or
// more than kMaxPluginOutput bytes.
struct PluginOutput {
  std::string text;
  bool timed_out = false;
  bool too_much = false;
};

asio::awaitable<PluginOutput> read_plugin_output(int fd, std::chrono::steady_clock::time_point until) {
  using namespace boost::asio::experimental::awaitable_operators;
  auto executor = co_await asio::this_coro::executor;
  asio::posix::stream_descriptor out(executor, fd);
  asio::steady_timer deadline(executor);
  deadline.expires_at(until);
  PluginOutput result;
  char buffer[4096];
  for (;;) {
    auto step = co_await (out.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable)) ||
                          deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (step.index() == 1) {
      result.timed_out = true;
      break;
    }
    auto [ec, n] = std::get<0>(step);
    result.text.append(buffer, n);
    if (result.text.size() > kMaxPluginOutput) {
      result.too_much = true;
      break;
    }
    if (ec) break;  // EOF (or a read error): the plugin closed stdout
  }
  co_return result;
}

// Reaps the child: it gets until `until` to exit after closing stdout, and is
// killed at once if its output was cut short. Returns the wait status;
// `output.timed_out` is set when it had to be killed for time.
asio::awaitable<int> reap_plugin(pid_t pid, std::chrono::steady_clock::time_point until, PluginOutput& output) {
  auto executor = co_await asio::this_coro::executor;
  int status = 0;
  for (;;) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) break;
    if (output.timed_out || output.too_much || std::chrono::steady_clock::now() >= until) {
      output.timed_out = output.timed_out || !output.too_much;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    asio::steady_timer poll(executor, std::chrono::milliseconds(5));
    co_await poll.async_wait(asio::use_awaitable);
  }
  co_return status;
}

// Empty if the plugin ran to a successful exit; else what went wrong.
std::string plugin_problem(const ExecConfig& exec, const PluginOutput& output, int status,
                           std::chrono::milliseconds timeout) {
  const std::string command = "command \"" + exec.command + "\"";
  if (output.timed_out)
    return command + " did not finish within " + std::to_string(timeout.count()) + " ms and was killed";
  if (output.too_much) return command + " printed more than 1 MiB";
  if (WIFSIGNALED(status)) return command + " was killed by signal " + std::to_string(WTERMSIG(status));
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    std::string message = command + " exited with status " + std::to_string(WEXITSTATUS(status));
    if (WEXITSTATUS(status) == 127) message += " (command not found?)";
    return message;
  }
  return {};
}

}  // namespace

boost::asio::awaitable<ExecCredentialResult> run_exec_plugin(const ExecConfig& exec, std::string exec_info,
                                                             std::chrono::milliseconds timeout) {
  auto fail = [&](std::errc code, const std::string& what) -> ExecCredentialResult {
    std::string message = exec.where + ": " + what;
    if (!exec.install_hint.empty()) message += " (" + exec.install_hint + ")";
    return common::Error{std::make_error_code(code), std::move(message)};
  };
  pid_t pid = 0;
  int fd = -1;
  if (std::string problem = spawn_plugin(exec, exec_info, pid, fd); !problem.empty())
    co_return fail(std::errc::no_such_file_or_directory, problem);
  const auto until = std::chrono::steady_clock::now() + timeout;
  PluginOutput output = co_await read_plugin_output(fd, until);
  const int status = co_await reap_plugin(pid, until, output);
  if (std::string problem = plugin_problem(exec, output, status, timeout); !problem.empty())
    co_return fail(output.timed_out ? std::errc::timed_out : std::errc::io_error, problem);
  co_return parse_exec_credential(output.text, exec);
}

}  // namespace hostgw::k8s
