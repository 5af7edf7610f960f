// kube-hostgw: the node daemon. Parses the flags and hands over to the
// controller (controller/daemon.hpp); nothing else lives here.

#include <iostream>

#include "controller/daemon.hpp"
#include "controller/options.hpp"
#include "controller/version_info.hpp"

int main(int argc, char** argv) {
  using namespace hostgw::controller;
  Options options;
  try {
    options = parse_options(argc, argv, current_environment());
  } catch (const OptionsError& error) {
    std::cerr << "kube-hostgw: error: " << error.what() << "\n";
    return 2;
  }
  if (options.show_help) {
    std::cout << help_text(current_help_width());
    return 0;
  }
  if (options.show_version) {
    std::cout << version_line() << "\n";
    return 0;
  }
  return run_kube_hostgw(options);
}
