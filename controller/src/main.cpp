// kube-hostgw: the node daemon. Flags and the run loop come with the
// controller (see controller/include/controller/); this entry point stays thin.

#include <cstring>
#include <iostream>

#include "controller/version_info.hpp"

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--version") == 0) {
      std::cout << hostgw::controller::version_line() << "\n";
      return 0;
    }
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::cout << "Usage: kube-hostgw [--help] [--version]\n"
                   "Routes pod networks between Kubernetes nodes on one layer-2 network.\n";
      return 0;
    }
  }
  std::cerr << "kube-hostgw: the controller is not implemented yet; try --version\n";
  return 2;
}
