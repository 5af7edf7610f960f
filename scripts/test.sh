#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every suite.
#
#   scripts/test.sh              all suites (netns suites need root; CI runs as root)
#   scripts/test.sh -L unit      only the suites with that ctest label
#
# Environment:
#   BUILD_DIR   build folder (default: build)
#   KHG_SANITIZE=1  build with ASan+UBSan into build-asan and run the suites there
#   JOBS        parallel build/test jobs (default: nproc)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
start=$(date +%s)

if [[ $(id -u) -eq 0 ]]; then
  scripts/setup-deps.sh
else
  scripts/setup-deps.sh || echo "test.sh: continuing without root; missing packages will fail the build" >&2
fi

jobs=${JOBS:-$(nproc)}
build_dir=${BUILD_DIR:-build}
cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [[ "${KHG_SANITIZE:-0}" == 1 ]]; then
  build_dir=${BUILD_DIR:-build-asan}
  cmake_args+=(-DKHG_SANITIZE=ON)
fi
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S . -B "$build_dir" "${generator[@]}" "${cmake_args[@]}"
else
  cmake -S . -B "$build_dir" "${cmake_args[@]}" >/dev/null
fi
cmake --build "$build_dir" -j "$jobs"

if [[ $(id -u) -ne 0 ]]; then
  echo "test.sh: not root: the netns suites will report themselves skipped (they need root to create network namespaces)" >&2
fi

set +e
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" --timeout 600 "$@"
status=$?
set -e
echo "test.sh: finished in $(( $(date +%s) - start )) s (exit $status)"
exit $status
