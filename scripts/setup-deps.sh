#!/usr/bin/env bash
# Installs every Debian package kube-hostgw needs to build, test and run the demo.
# Idempotent: when everything is already installed it only runs dpkg-query and exits.
# Must run as root on Debian 12 (bookworm).
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build ccache pkg-config git
  # libraries: Boost 1.81, not the default libboost-dev (1.74, which conflicts and lacks
  # the coroutine support the code uses)
  libboost1.81-dev libboost-program-options1.81-dev libboost-url1.81-dev
  libssl-dev rapidjson-dev libyaml-cpp-dev libmnl-dev zlib1g-dev
  # egress masquerade: nftables' own library (docs/masquerade.md); nft for tests and debugging
  libnftables-dev nftables
  libgtest-dev libgmock-dev
  # tests, demo and benchmarks
  iproute2 iputils-ping procps curl openssl jq kmod
  # the pod network e2e: Debian's standard CNI plugins (bridge, host-local, portmap) in /usr/lib/cni
  containernetworking-plugins
  # fuzzing (scripts/fuzz.sh, the CI fuzz smoke run): clang 14 and its libFuzzer/sanitizer runtimes
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "setup-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "setup-deps: missing packages: ${missing[*]}" >&2
  echo "setup-deps: run this script as root (or: sudo $0)" >&2
  exit 1
fi

# libboost-dev (1.74) conflicts with the 1.81 packages; remove it if present.
if dpkg-query -W -f='${Status}' libboost-dev 2>/dev/null | grep -q "install ok installed"; then
  echo "setup-deps: removing libboost-dev (1.74), which conflicts with Boost 1.81"
  DEBIAN_FRONTEND=noninteractive apt-get remove -y libboost-dev
fi

echo "setup-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup-deps: done"
