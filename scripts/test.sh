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
#
# Extra stages after the main suites (on by default for a full run, i.e. without
# ctest arguments; off when arguments are given unless set explicitly):
#   KHG_CI_SANITIZE=1|0        unit + integration suites built with ASan+UBSan in
#                              build-asan (skipped when KHG_SANITIZE=1 already did that);
#                              builds only their targets (khg_suite_targets), then, as
#                              root, one e2e scenario with the sanitized kube-hostgw
#   KHG_CI_SANITIZE_E2E=NAME|off  that scenario (default pods_ping; test/e2e/sanitized_e2e.sh
#                              fails on any ASan/UBSan/LSan report)
#   KHG_CI_FUZZ_SECONDS=N|off  libFuzzer smoke run, N seconds per target after a corpus
#                              replay (scripts/fuzz.sh, clang, build-fuzz); 0 = replay only
#   KHG_CI_IMAGE=1|0           the container image: podman builds the Dockerfile (Release)
#                              from base images made with mmdebstrap, then the image is
#                              checked and one e2e scenario runs with its binary
#                              (scripts/image-test.sh, needs root; off by default outside CI)
# The last line is "Summary: N passed, N failed" over every stage (CI reads it).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
start=$(date +%s)

if [[ $(id -u) -eq 0 ]]; then
  scripts/setup-deps.sh
else
  scripts/setup-deps.sh || echo "test.sh: continuing without root; missing packages will fail the build" >&2
fi

# ccache: key objects by paths relative to the checkout, so a fresh clone in another
# folder (CI) reuses what an earlier build on this machine compiled.
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1

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
build_start=$(date +%s)
cmake --build "$build_dir" -j "$jobs"
echo "test.sh: main build took $(( $(date +%s) - build_start )) s"

if [[ $(id -u) -ne 0 ]]; then
  echo "test.sh: not root: the netns suites will report themselves skipped (they need root to create network namespaces)" >&2
fi

full_run=1
(($# == 0)) || full_run=0
ci_sanitize=${KHG_CI_SANITIZE:-$full_run}
[[ "${KHG_SANITIZE:-0}" == 1 ]] && ci_sanitize=0
ci_fuzz=${KHG_CI_FUZZ_SECONDS:-}
[[ -n "$ci_fuzz" ]] || { ((full_run)) && ci_fuzz=10 || ci_fuzz=off; }

total_passed=0
total_failed=0
log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT
# Adds the counts of ctest's "N% tests passed, F tests failed out of T" line.
count_ctest() {
  local line
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$1" | tail -1)
  if [[ -z "$line" ]]; then
    total_failed=$((total_failed + 1))  # the stage did not even get to run its tests
    return
  fi
  local failed_n total_n
  failed_n=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  total_n=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
  total_passed=$((total_passed + total_n - failed_n))
  total_failed=$((total_failed + failed_n))
}

set +e
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" --timeout 600 "$@" 2>&1 | tee "$log_dir/main.log"
status=${PIPESTATUS[0]}
set -e
count_ctest "$log_dir/main.log"
echo "test.sh: main suites finished after $(( $(date +%s) - start )) s (exit $status)"

if [[ "$ci_sanitize" == 1 ]]; then
  stage_start=$(date +%s)
  set +e
  (
    set -e
    if [[ ! -f build-asan/CMakeCache.txt ]]; then
      # Debug (-O0): the sanitizers find the same bugs, and the Beast/coroutine
      # translation units compile several times faster than at -O2 on 2 cores.
      cmake -S . -B build-asan "${generator[@]}" -DCMAKE_BUILD_TYPE=Debug -DKHG_SANITIZE=ON
    else
      cmake -S . -B build-asan -DKHG_SANITIZE=ON >/dev/null
    fi
    asan_build_start=$(date +%s)
    # Only what the suites and the sanitized e2e scenario run (not netns-only tests, benches).
    cmake --build build-asan -j "$jobs" --target khg_suite_targets
    echo "test.sh: sanitized build took $(( $(date +%s) - asan_build_start )) s"
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
      ctest --test-dir build-asan --output-on-failure -j "$jobs" --timeout 900 -L 'unit|integration'
  ) 2>&1 | tee "$log_dir/asan.log"
  stage_status=${PIPESTATUS[0]}
  set -e
  count_ctest "$log_dir/asan.log"
  ((stage_status == 0)) || status=1
  sanitize_e2e=${KHG_CI_SANITIZE_E2E:-pods_ping}
  if [[ "$sanitize_e2e" != off && $(id -u) -eq 0 && -x build-asan/bin/kube-hostgw ]]; then
    e2e_start=$(date +%s)
    set +e
    ASAN_BUILD_DIR="$root/build-asan" KHG_FAKE_APISERVER="$root/$build_dir/bin/fake-apiserver" \
      test/e2e/sanitized_e2e.sh "$sanitize_e2e" 2>&1 | tee "$log_dir/asan-e2e.log"
    e2e_status=${PIPESTATUS[0]}
    set -e
    if ((e2e_status == 0)); then
      total_passed=$((total_passed + 1))
    else
      total_failed=$((total_failed + 1))
      status=1
    fi
    echo "test.sh: sanitized e2e ($sanitize_e2e) took $(( $(date +%s) - e2e_start )) s (exit $e2e_status)"
  elif [[ "$sanitize_e2e" != off ]]; then
    echo "test.sh: sanitized e2e skipped: it needs root and build-asan/bin/kube-hostgw" >&2
  fi
  echo "test.sh: sanitized suites (ASan+UBSan) took $(( $(date +%s) - stage_start )) s (exit $stage_status)"
fi

if [[ "$ci_fuzz" != off ]]; then
  stage_start=$(date +%s)
  set +e
  scripts/fuzz.sh "$ci_fuzz" 2>&1 | tee "$log_dir/fuzz.log"
  stage_status=${PIPESTATUS[0]}
  set -e
  line=$(grep -E '^fuzz: [0-9]+ passed, [0-9]+ failed' "$log_dir/fuzz.log" | tail -1)
  if [[ -n "$line" ]]; then
    total_passed=$((total_passed + $(sed -E 's/^fuzz: ([0-9]+) passed.*/\1/' <<<"$line")))
    total_failed=$((total_failed + $(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")))
  else
    total_failed=$((total_failed + 1))  # the fuzz targets did not build
  fi
  ((stage_status == 0)) || status=1
  echo "test.sh: fuzz smoke run ($ci_fuzz s per target) took $(( $(date +%s) - stage_start )) s (exit $stage_status)"
fi

if [[ "${KHG_CI_IMAGE:-0}" == 1 ]]; then
  stage_start=$(date +%s)
  set +e
  KHG_FAKE_APISERVER="$root/$build_dir/bin/fake-apiserver" scripts/image-test.sh 2>&1 | tee "$log_dir/image.log"
  stage_status=${PIPESTATUS[0]}
  set -e
  line=$(grep -E '^image: [0-9]+ passed, [0-9]+ failed' "$log_dir/image.log" | tail -1)
  if [[ -n "$line" ]]; then
    total_passed=$((total_passed + $(sed -E 's/^image: ([0-9]+) passed.*/\1/' <<<"$line")))
    total_failed=$((total_failed + $(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")))
  elif ((stage_status != 77)); then
    total_failed=$((total_failed + 1))
  fi
  ((stage_status == 0 || stage_status == 77)) || status=1
  echo "test.sh: image stage took $(( $(date +%s) - stage_start )) s (exit $stage_status)"
fi

echo "test.sh: finished in $(( $(date +%s) - start )) s (exit $status)"
echo "Summary: $total_passed passed, $total_failed failed"
exit $status
