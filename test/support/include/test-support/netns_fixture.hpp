#pragma once

// A network namespace owned by one test: created with `ip netns add`, entered
// with setns() on the calling thread (sockets created afterwards live in it),
// left and deleted on destruction, whatever happened in between. The
// machine's own namespace is never changed: every `ip` command that changes
// something runs with `-n <name>`, and the fixture refuses to continue if
// entering the namespace failed.

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

namespace hostgw::testing {

struct CommandResult {
  int status = -1;  // exit status, -1 if it could not run
  std::string output;
};

// Runs a shell command, capturing stdout and stderr.
inline CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> chunk;
  std::size_t got;
  while ((got = fread(chunk.data(), 1, chunk.size(), pipe)) > 0) result.output.append(chunk.data(), got);
  int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Moves the calling thread into /run/netns/NAME (sockets and children created
// afterwards live there). Throws std::runtime_error naming the step if that
// fails: nothing may run in the wrong namespace.
inline void enter_netns(const std::string& name) {
  const std::string path = "/run/netns/" + name;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw std::runtime_error("network namespace " + name + ": cannot open " + path + ": " + std::strerror(errno));
  if (::setns(fd, CLONE_NEWNET) != 0) {
    const int error = errno;
    ::close(fd);
    throw std::runtime_error("network namespace " + name + ": setns failed: " + std::strerror(error));
  }
  ::close(fd);
}

class ScopedNetns {
 public:
  // Creates and enters "khg-rt-<pid>-<n>". Throws std::runtime_error with the
  // failing command's output; on failure nothing is left behind.
  ScopedNetns() {
    static std::atomic<int> counter{0};
    name_ = "khg-rt-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
    original_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (original_ < 0) throw std::runtime_error("cannot open /proc/thread-self/ns/net");
    CommandResult added = run_command("ip netns add " + name_);
    if (added.status != 0) {
      close(original_);
      throw std::runtime_error("ip netns add " + name_ + " failed: " + added.output);
    }
    created_ = true;
    try {
      enter_netns(name_);
    } catch (...) {
      cleanup();  // the destructor does not run for a throwing constructor
      throw;
    }
    entered_ = true;
    try {
      must("link set lo up");
    } catch (...) {
      cleanup();  // the destructor does not run for a throwing constructor
      throw;
    }
  }
  ~ScopedNetns() { cleanup(); }
  ScopedNetns(const ScopedNetns&) = delete;
  ScopedNetns& operator=(const ScopedNetns&) = delete;

  const std::string& name() const { return name_; }

  // `ip -n <name> <arguments>`: always inside this namespace.
  CommandResult ip(const std::string& arguments) const { return run_command("ip -n " + name_ + " " + arguments); }
  // Same, throwing with the output if the command fails.
  std::string must(const std::string& arguments) const {
    CommandResult result = ip(arguments);
    if (result.status != 0) throw std::runtime_error("ip -n " + name_ + " " + arguments + ": " + result.output);
    return result.output;
  }
  // `ip netns exec <name> <command>`.
  CommandResult exec(const std::string& command) const { return run_command("ip netns exec " + name_ + " " + command); }

  // A veth pair v0/v1, both up, with the node addresses of the tests on v0.
  void add_veth_with_addresses() const {
    must("link add v0 type veth peer name v1");
    must("link set v0 up");
    must("link set v1 up");
    must("addr add 198.51.100.1/24 dev v0");
    must("addr add 2001:db8:1::1/64 dev v0 nodad");
    // Carrier comes up asynchronously (linkwatch); wait for it so that tests
    // starting a change monitor now do not see it arrive later.
    for (int i = 0; i < 200; ++i) {
      if (must("-o link show v0").find("LOWER_UP") != std::string::npos &&
          must("-o link show v1").find("LOWER_UP") != std::string::npos)
        return;
      ::usleep(10000);
    }
    throw std::runtime_error("veth v0/v1 in " + name_ + " did not get a carrier within 2 s");
  }

 private:
  void cleanup() {
    if (entered_) {
      // Back to where the thread was before anything else happens.
      if (setns(original_, CLONE_NEWNET) != 0) std::perror("setns back to the original network namespace");
      entered_ = false;
    }
    if (original_ >= 0) {
      close(original_);
      original_ = -1;
    }
    if (created_) {
      run_command("ip netns del " + name_);
      created_ = false;
    }
  }

  std::string name_;
  int original_ = -1;
  bool created_ = false;
  bool entered_ = false;
};

}  // namespace hostgw::testing
