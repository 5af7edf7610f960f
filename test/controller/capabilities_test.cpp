#include "controller/capabilities.hpp"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace hostgw::controller {
namespace {

struct Sets {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
};

Sets current_sets() {
  Sets sets;
  EXPECT_EQ(syscall(SYS_capget, &sets.header, sets.data), 0);
  return sets;
}

bool net_admin_in(std::uint32_t word) { return (word & (1u << CAP_NET_ADMIN)) != 0; }

// Runs `body` in a child process (capability changes must not leak into the
// test process) and returns its exit status: 0 when every check held.
int in_child(int (*body)()) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

TEST(RaiseNetAdminTest, ReportsTheCurrentStateWithoutChangingOtherCapabilities) {
  Sets before = current_sets();
  NetAdminResult result = raise_net_admin();
  Sets after = current_sets();
  if (net_admin_in(before.data[0].effective)) {
    EXPECT_EQ(result.state, NetAdminState::effective);
  } else if (net_admin_in(before.data[0].permitted)) {
    EXPECT_EQ(result.state, NetAdminState::raised);
  } else {
    EXPECT_EQ(result.state, NetAdminState::not_permitted);
    EXPECT_NE(result.message.find("allowPrivilegeEscalation"), std::string::npos) << result.message;
  }
  // Only NET_ADMIN's effective bit may have changed.
  EXPECT_EQ(after.data[0].permitted, before.data[0].permitted);
  EXPECT_EQ(after.data[0].effective & ~(1u << CAP_NET_ADMIN), before.data[0].effective & ~(1u << CAP_NET_ADMIN));
  EXPECT_EQ(after.data[1].effective, before.data[1].effective);
}

TEST(RaiseNetAdminTest, RaisesAPermittedOnlyCapability) {
  if (!net_admin_in(current_sets().data[0].permitted)) {
    GTEST_SKIP() << "needs CAP_NET_ADMIN in the permitted set (run as root; CI does)";
  }
  EXPECT_EQ(in_child(+[]() -> int {
              Sets sets = current_sets();
              sets.data[0].effective &= ~(1u << CAP_NET_ADMIN);  // permitted only, like the image's file capability
              if (syscall(SYS_capset, &sets.header, sets.data) != 0) return 1;
              if (net_admin_in(current_sets().data[0].effective)) return 2;
              if (raise_net_admin().state != NetAdminState::raised) return 3;
              if (!net_admin_in(current_sets().data[0].effective)) return 4;
              // A second call finds it effective.
              return raise_net_admin().state == NetAdminState::effective ? 0 : 5;
            }),
            0);
}

TEST(RaiseNetAdminTest, NeverAddsACapabilityThatIsNotPermitted) {
  if (!net_admin_in(current_sets().data[0].permitted)) {
    GTEST_SKIP() << "needs CAP_NET_ADMIN in the permitted set to drop it (run as root; CI does)";
  }
  EXPECT_EQ(in_child(+[]() -> int {
              Sets sets = current_sets();
              sets.data[0].effective &= ~(1u << CAP_NET_ADMIN);
              sets.data[0].permitted &= ~(1u << CAP_NET_ADMIN);
              if (syscall(SYS_capset, &sets.header, sets.data) != 0) return 1;
              NetAdminResult result = raise_net_admin();
              if (result.state != NetAdminState::not_permitted) return 2;
              if (result.message.empty()) return 3;
              Sets after = current_sets();
              return net_admin_in(after.data[0].effective) || net_admin_in(after.data[0].permitted) ? 4 : 0;
            }),
            0);
}

}  // namespace
}  // namespace hostgw::controller
