#!/usr/bin/env bash
# Installs the Debian packages kube-hostgw needs. Idempotent: when everything is already
# installed it only runs dpkg-query and exits. Must run as root on Debian 12 (bookworm).
#
#   scripts/setup-deps.sh            build, test and run the demo (what scripts/test.sh needs)
#   scripts/setup-deps.sh --build    only what building the kube-hostgw binary needs (the
#                                    Dockerfile's build stage: no test tools, no clang)
#   scripts/setup-deps.sh --image    also what the image stage of the tests needs
#                                    (scripts/image-test.sh: podman, mmdebstrap)
#   scripts/setup-deps.sh --bench    also what scripts/bench.sh needs (valgrind, gnuplot)
#   scripts/setup-deps.sh --bench --image   both (groups add up; --build adds nothing)
set -euo pipefail

build_packages=(
  # toolchain
  g++ cmake ninja-build ccache pkg-config
  # libraries: Boost 1.81, not the default libboost-dev (1.74, which conflicts and lacks
  # the coroutine support the code uses)
  libboost1.81-dev libboost-program-options1.81-dev libboost-url1.81-dev
  libssl-dev rapidjson-dev libyaml-cpp-dev libmnl-dev zlib1g-dev
  # egress masquerade: nftables' own library (docs/masquerade.md)
  libnftables-dev
)
test_packages=(
  git libgtest-dev libgmock-dev nftables
  # tests, demo and benchmarks
  iproute2 iputils-ping procps curl openssl jq kmod
  # the pod network e2e: Debian's standard CNI plugins (bridge, host-local, portmap) in /usr/lib/cni
  containernetworking-plugins
  # fuzzing (scripts/fuzz.sh, the CI fuzz smoke run): clang 14 and its libFuzzer/sanitizer runtimes
  clang libclang-rt-14-dev
)
bench_packages=(
  # scripts/bench.sh: instruction counts (callgrind) and the growth chart (SVG)
  valgrind gnuplot-nox
)
image_packages=(
  # scripts/image-test.sh: base images made from Debian packages, built and run with podman
  podman mmdebstrap
)

# One group or several (--bench --image); --build alone is the build stage's set.
packages=("${build_packages[@]}")
(($#)) || packages+=("${test_packages[@]}")
for arg in "$@"; do
  case $arg in
    --build) ;;
    --bench) packages+=("${test_packages[@]}" "${bench_packages[@]}") ;;
    --image) packages+=("${test_packages[@]}" "${image_packages[@]}") ;;
    *)
      echo "setup-deps: unknown argument '$arg' (use --build, --image, --bench, several of them, or nothing)" >&2
      exit 2
      ;;
  esac
done
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | awk '!seen[$0]++')

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
