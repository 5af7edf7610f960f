// The kube-hostgw binary run as a new user would: configuration errors end it
// at once with status 1 and a hint, bad flags with status 2, before any
// netlink socket is opened.
//
// Every run is a child process whose netlink sockets are refused by a seccomp
// filter (socket(AF_NETLINK) fails with EPERM), and which, when the test runs
// as root, is in a network namespace of its own that dies with it. So a binary
// that opened netlink before checking its configuration says "Cannot open the
// netlink sockets" (and this test fails), and nothing can ever reach the
// machine's own routes.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "kube-hostgw/version.hpp"

namespace {

constexpr const char* kBinary = KHG_HOSTGW_BINARY;
constexpr const char* kNoNetlinkMessage = "Cannot open the netlink sockets";

#if defined(__x86_64__)
constexpr std::uint32_t kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr std::uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
#else
#error "kube_hostgw_test: add this architecture's AUDIT_ARCH for the seccomp filter"
#endif

// In the child, before exec: socket(AF_NETLINK, ...) fails with EPERM from now on.
bool refuse_netlink_sockets() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 3),
      // The domain: the low 32 bits of the first argument (little endian).
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_NETLINK, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0;
}

struct ChildResult {
  int exit_code = -1;  // -1: killed by a signal or not started
  bool timed_out = false;
  std::string out;
  std::string err;
};

// Runs kube-hostgw with exactly `args` and `environment`, for at most 10 s.
ChildResult run_hostgw(const std::vector<std::string>& args, const std::vector<std::string>& environment) {
  ChildResult result;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) return result;
  std::vector<const char*> argv{kBinary};
  for (const auto& arg : args) argv.push_back(arg.c_str());
  argv.push_back(nullptr);
  std::vector<const char*> envp;
  for (const auto& variable : environment) envp.push_back(variable.c_str());
  envp.push_back(nullptr);
  const bool root = geteuid() == 0;

  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    // As root: a network namespace of its own, gone when the child exits.
    if (root && unshare(CLONE_NEWNET) != 0) _exit(120);
    if (!refuse_netlink_sockets()) _exit(121);
    execve(kBinary, const_cast<char* const*>(argv.data()), const_cast<char* const*>(envp.data()));
    _exit(122);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (pid < 0) return result;

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    if (poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buffer[4096];
      ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& fd : fds) {
    if (fd.fd >= 0) close(fd.fd);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/khg-binary-test-XXXXXX";
    path_ = mkdtemp(pattern);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string write(const std::string& name, const std::string& text) const {
    std::string file = path_ + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(file).parent_path());
    std::ofstream(file) << text;
    return file;
  }

 private:
  std::string path_;
};

// An environment with nothing Kubernetes in it: HOME is an empty folder.
std::vector<std::string> clean_environment(const TempDir& home) {
  return {"HOME=" + home.path(), "PATH=/usr/bin:/bin"};
}

const std::vector<std::string> kFlags = {"--node-name",   "n1",        "--cluster-cidr",
                                         "10.244.0.0/16", "--dry-run", "--healthz-bind-address="};

std::vector<std::string> with_flags(std::vector<std::string> args) {
  args.insert(args.end(), kFlags.begin(), kFlags.end());
  return args;
}

// What every configuration error run must show.
void expect_config_exit(const ChildResult& result, const std::string& error, const std::string& hint) {
  EXPECT_FALSE(result.timed_out) << "still running after 10 s: it retries instead of exiting\n" << result.err;
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_NE(result.err.find("\"Cannot load the API server configuration; exiting\" error=\"" + error),
            std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("hint=\"" + hint), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find(kNoNetlinkMessage), std::string::npos) << "netlink opened first:\n" << result.err;
  EXPECT_EQ(result.out, "");
}

TEST(KubeHostgwBinaryTest, MissingKubeconfigFlagExitsAtOnce) {
  TempDir home;
  const auto started = std::chrono::steady_clock::now();
  ChildResult result = run_hostgw(with_flags({"--kubeconfig", "/nonexistent/kubeconfig"}), clean_environment(home));
  expect_config_exit(result, "kubeconfig /nonexistent/kubeconfig: No such file or directory",
                     "fix the file, or pass a working one with --kubeconfig (kubectl --kubeconfig "
                     "/nonexistent/kubeconfig config view shows what it holds)");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST(KubeHostgwBinaryTest, NoConfigurationAtAllOutsideAPodExitsAtOnce) {
  TempDir home;
  ChildResult result = run_hostgw(kFlags, clean_environment(home));
  expect_config_exit(result,
                     "no Kubernetes configuration: not running in a pod (KUBERNETES_SERVICE_HOST/PORT unset), "
                     "$KUBECONFIG unset, and " +
                         home.path() + "/.kube/config does not exist",
                     "pass --kubeconfig FILE (outside a cluster), or run kube-hostgw as the DaemonSet");
}

TEST(KubeHostgwBinaryTest, InvalidKubeconfigFromTheEnvironmentExitsAtOnce) {
  TempDir home;
  std::string file = home.write("bad.yaml", "clusters: [unclosed\n");
  auto environment = clean_environment(home);
  environment.push_back("KUBECONFIG=" + file);
  ChildResult result = run_hostgw(kFlags, environment);
  expect_config_exit(result, "kubeconfig " + file + ": not valid YAML",
                     "fix it, or point $KUBECONFIG (or --kubeconfig) at a working kubeconfig");

  // $KUBECONFIG naming only files that do not exist.
  environment.back() = "KUBECONFIG=" + home.path() + "/none:" + home.path() + "/neither";
  result = run_hostgw(kFlags, environment);
  expect_config_exit(result, "no Kubernetes configuration: none of the files in $KUBECONFIG",
                     "fix it, or point $KUBECONFIG");
}

TEST(KubeHostgwBinaryTest, InvalidHomeKubeconfigExitsAtOnce) {
  TempDir home;
  home.write(".kube/config",
             "current-context: c\nclusters: [{name: k, cluster: {}}]\ncontexts: [{name: c, context: {cluster: k}}]\n");
  ChildResult result = run_hostgw(kFlags, clean_environment(home));
  expect_config_exit(result, "kubeconfig " + home.path() + "/.kube/config: cluster \\\"k\\\": server is missing",
                     "fix it, or pass a working kubeconfig with --kubeconfig");
}

TEST(KubeHostgwBinaryTest, UnreadableKubeconfigExitsAtOnce) {
  TempDir home;
  // A folder cannot be read as a file, not even by root (a chmod 000 file can).
  std::filesystem::create_directories(home.path() + "/folder");
  ChildResult result = run_hostgw(with_flags({"--kubeconfig", home.path() + "/folder"}), clean_environment(home));
  expect_config_exit(result, "kubeconfig " + home.path() + "/folder: is a folder, not a file", "fix the file");

  if (geteuid() != 0) {
    std::string file = home.write("secret", "apiVersion: v1\n");
    chmod(file.c_str(), 0);
    result = run_hostgw(with_flags({"--kubeconfig", file}), clean_environment(home));
    expect_config_exit(result, "kubeconfig " + file + ": Permission denied", "fix the file");
  }
}

// The TLS material is checked before netlink too: a certificate authority that
// looks like PEM but is not a certificate.
TEST(KubeHostgwBinaryTest, BadCertificateAuthorityExitsAtOnce) {
  TempDir home;
  std::string ca =
      home.write("ca.crt", "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");
  std::string file = home.write("kubeconfig",
                                "current-context: c\nclusters: [{name: k, cluster: {server: "
                                "\"https://198.51.100.1:6443\", certificate-authority: " +
                                    ca + "}}]\ncontexts: [{name: c, context: {cluster: k}}]\n");
  ChildResult result = run_hostgw(with_flags({"--kubeconfig", file}), clean_environment(home));
  expect_config_exit(result, "kubeconfig " + file + ", context \\\"c\\\": ", "fix the configuration it names");
}

// Inside a pod whose service account token is not mounted yet, the error may
// heal: the binary goes on (here, to the refused netlink socket) instead of
// exiting on the configuration.
TEST(KubeHostgwBinaryTest, InAPodWithoutTokenYetItGoesOn) {
  if (std::filesystem::exists("/var/run/secrets/kubernetes.io/serviceaccount"))
    GTEST_SKIP() << "this machine has a service account folder: the case needs it absent";
  TempDir home;
  auto environment = clean_environment(home);
  environment.push_back("KUBERNETES_SERVICE_HOST=198.51.100.1");
  environment.push_back("KUBERNETES_SERVICE_PORT=443");
  ChildResult result = run_hostgw(kFlags, environment);
  EXPECT_FALSE(result.timed_out) << result.err;
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_EQ(result.err.find("Cannot load the API server configuration; exiting"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find(kNoNetlinkMessage), std::string::npos)
      << "it should have gone on to the netlink sockets (refused here):\n"
      << result.err;
}

TEST(KubeHostgwBinaryTest, StartLineNamesVersionAndNode) {
  TempDir home;
  ChildResult result = run_hostgw(with_flags({"--kubeconfig", "/nonexistent/kubeconfig"}), clean_environment(home));
  std::string first_line = result.err.substr(0, result.err.find('\n'));
  EXPECT_NE(first_line.find(std::string("\"Starting kube-hostgw\" version=\"") + hostgw::kVersion + "\" node=\"n1\""),
            std::string::npos)
      << first_line;
}

TEST(KubeHostgwBinaryTest, MissingClusterCidrExitsWithUsageError) {
  TempDir home;
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--kubeconfig", "/nonexistent", "--node-name", "n1"},
        std::vector<std::string>{"--kubeconfig", "/nonexistent", "--node-name", "n1", "--dry-run"}}) {
    ChildResult result = run_hostgw(args, clean_environment(home));
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_EQ(result.err.rfind("kube-hostgw: error: --cluster-cidr: required: the pod network of the cluster, e.g. "
                               "--cluster-cidr=10.244.0.0/16",
                               0),
              0u)
        << result.err;
    EXPECT_EQ(result.err.find("Starting kube-hostgw"), std::string::npos) << "must stop before starting";
  }
}

TEST(KubeHostgwBinaryTest, DurationWithoutUnitExitsWithUsageError) {
  TempDir home;
  ChildResult result =
      run_hostgw(with_flags({"--kubeconfig", "/nonexistent", "--resync-period", "5"}), clean_environment(home));
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_EQ(result.err,
            "kube-hostgw: error: --resync-period: \"5\" has no unit: write 5s for seconds (units: ns, us, ms, s, m, h; "
            "only 0 may go without one)\n");
}

// stdout is a pipe here, so $COLUMNS decides the width.
TEST(KubeHostgwBinaryTest, HelpWrapsToColumns) {
  TempDir home;
  for (int columns : {60, 100}) {
    auto environment = clean_environment(home);
    environment.push_back("COLUMNS=" + std::to_string(columns));
    ChildResult result = run_hostgw({"--help"}, environment);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    std::istringstream lines(result.out);
    std::size_t count = 0, longest = 0;
    for (std::string line; std::getline(lines, line); ++count) {
      bool one_word = line.find(' ', line.find_first_not_of(' ')) == std::string::npos;
      if (!one_word) {
        EXPECT_LE(line.size(), static_cast<std::size_t>(columns)) << line;
      }
      longest = std::max(longest, line.size());
    }
    EXPECT_GT(count, 25u);
    EXPECT_GT(longest, static_cast<std::size_t>(columns) - 15) << "lines should fill the width";
    EXPECT_NE(result.out.find("status 1"), std::string::npos);
  }
  // Without $COLUMNS and without a terminal: 100 columns.
  ChildResult result = run_hostgw({"--help"}, clean_environment(home));
  std::istringstream lines(result.out);
  for (std::string line; std::getline(lines, line);) EXPECT_LE(line.size(), 100u) << line;
}

}  // namespace
